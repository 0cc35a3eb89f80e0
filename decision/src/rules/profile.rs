//! How well each store kind serves each op, as data: a fit from 0 (cannot) to 3 (native), and
//! a planning p99 latency on one healthy node in the same region.
//!
//! The latencies are planning figures (order of magnitude, warm cache, moderate load), not
//! measurements: `polyroute decide --validate` measures the embedded engines, and a production
//! benchmark of the chosen servers is what settles a close call.

use polyroute_adapters::StoreKind;

use crate::spec::{Access, Op};

/// Position of a kind in the rows of [`PROFILES`] (the order of [`StoreKind::ALL`]).
pub fn slot(kind: StoreKind) -> usize {
    match kind {
        StoreKind::KeyValue => 0,
        StoreKind::TimeSeries => 1,
        StoreKind::Graph => 2,
        StoreKind::Relational => 3,
        StoreKind::WideColumn => 4,
        StoreKind::Document => 5,
        StoreKind::Search => 6,
    }
}

/// One op's row: fit and planning p99 (milliseconds) per kind, in [`StoreKind::ALL`] order:
/// key_value, time_series, graph, relational, wide_column, document, search.
#[derive(Clone, Copy, Debug)]
pub struct OpProfile {
    /// The op.
    pub op: Op,
    /// 3 native, 2 served well, 1 served poorly or by emulation, 0 not served.
    pub fit: [u8; 7],
    /// Planning p99 in milliseconds; `None` where the kind does not serve the op.
    pub p99_ms: [Option<f64>; 7],
}

const N: Option<f64> = None;

const fn ms(value: f64) -> Option<f64> {
    Some(value)
}

/// The table, one row per op.
pub const PROFILES: [OpProfile; 19] = [
    OpProfile {
        op: Op::Get,
        fit: [3, 1, 2, 2, 2, 2, 1],
        p99_ms: [
            ms(1.0),
            ms(20.0),
            ms(5.0),
            ms(5.0),
            ms(5.0),
            ms(5.0),
            ms(20.0),
        ],
    },
    OpProfile {
        op: Op::Put,
        fit: [3, 1, 2, 2, 2, 2, 1],
        p99_ms: [
            ms(1.0),
            ms(10.0),
            ms(10.0),
            ms(10.0),
            ms(5.0),
            ms(10.0),
            ms(50.0),
        ],
    },
    OpProfile {
        op: Op::Update,
        fit: [2, 1, 2, 3, 2, 3, 1],
        p99_ms: [
            ms(2.0),
            ms(20.0),
            ms(10.0),
            ms(10.0),
            ms(5.0),
            ms(10.0),
            ms(50.0),
        ],
    },
    OpProfile {
        op: Op::Delete,
        fit: [3, 1, 2, 2, 2, 2, 1],
        p99_ms: [
            ms(1.0),
            ms(50.0),
            ms(10.0),
            ms(10.0),
            ms(5.0),
            ms(10.0),
            ms(50.0),
        ],
    },
    OpProfile {
        op: Op::BatchGet,
        fit: [3, 0, 1, 2, 2, 2, 1],
        p99_ms: [ms(2.0), N, ms(10.0), ms(10.0), ms(10.0), ms(10.0), ms(30.0)],
    },
    OpProfile {
        op: Op::Counter,
        fit: [3, 0, 0, 2, 2, 2, 0],
        p99_ms: [ms(1.0), N, N, ms(20.0), ms(10.0), ms(10.0), N],
    },
    OpProfile {
        op: Op::Append,
        fit: [1, 3, 1, 2, 3, 2, 2],
        p99_ms: [
            ms(2.0),
            ms(5.0),
            ms(10.0),
            ms(10.0),
            ms(5.0),
            ms(10.0),
            ms(50.0),
        ],
    },
    OpProfile {
        op: Op::RangeScan,
        fit: [0, 3, 0, 2, 2, 2, 1],
        p99_ms: [N, ms(20.0), N, ms(30.0), ms(20.0), ms(30.0), ms(50.0)],
    },
    OpProfile {
        op: Op::Latest,
        fit: [2, 3, 0, 2, 2, 2, 1],
        p99_ms: [ms(1.0), ms(10.0), N, ms(10.0), ms(10.0), ms(10.0), ms(50.0)],
    },
    OpProfile {
        op: Op::WindowAggregate,
        fit: [0, 3, 0, 2, 1, 1, 2],
        p99_ms: [
            N,
            ms(100.0),
            N,
            ms(500.0),
            ms(1000.0),
            ms(1000.0),
            ms(200.0),
        ],
    },
    OpProfile {
        op: Op::Aggregate,
        fit: [0, 2, 0, 3, 0, 1, 2],
        p99_ms: [N, ms(500.0), N, ms(1000.0), N, ms(2000.0), ms(500.0)],
    },
    OpProfile {
        op: Op::Join,
        fit: [0, 0, 1, 3, 0, 1, 0],
        p99_ms: [N, N, ms(50.0), ms(20.0), N, ms(100.0), N],
    },
    OpProfile {
        op: Op::Transaction,
        fit: [0, 0, 1, 3, 0, 1, 0],
        p99_ms: [N, N, ms(50.0), ms(20.0), N, ms(50.0), N],
    },
    OpProfile {
        op: Op::Filter,
        fit: [0, 1, 1, 3, 0, 3, 2],
        p99_ms: [N, ms(100.0), ms(100.0), ms(20.0), N, ms(20.0), ms(30.0)],
    },
    OpProfile {
        op: Op::Traverse,
        fit: [1, 0, 3, 2, 1, 1, 0],
        p99_ms: [ms(5.0), N, ms(5.0), ms(10.0), ms(10.0), ms(20.0), N],
    },
    OpProfile {
        op: Op::ShortestPath,
        fit: [0, 0, 3, 1, 0, 0, 0],
        p99_ms: [N, N, ms(50.0), ms(500.0), N, N, N],
    },
    OpProfile {
        op: Op::FullText,
        fit: [0, 0, 0, 1, 0, 1, 3],
        p99_ms: [N, N, N, ms(200.0), N, ms(200.0), ms(50.0)],
    },
    OpProfile {
        op: Op::PartitionScan,
        fit: [0, 2, 2, 2, 3, 2, 0],
        p99_ms: [N, ms(30.0), ms(20.0), ms(20.0), ms(10.0), ms(30.0), N],
    },
    OpProfile {
        op: Op::Expire,
        fit: [3, 2, 0, 1, 3, 2, 0],
        p99_ms: [ms(1.0), ms(10.0), N, ms(100.0), ms(5.0), ms(50.0), N],
    },
];

/// The deepest traversal each kind serves well: adjacency in a graph, self-joins in SQL, one
/// lookup of a stored neighbour list elsewhere.
pub fn comfortable_depth(kind: StoreKind) -> u32 {
    match kind {
        StoreKind::Graph => 4,
        StoreKind::Relational => 2,
        StoreKind::KeyValue | StoreKind::WideColumn | StoreKind::Document => 1,
        StoreKind::TimeSeries | StoreKind::Search => 0,
    }
}

fn row(op: Op) -> &'static OpProfile {
    // PROFILES has one row per op, in Op::ALL order (checked by a test).
    let index = Op::ALL.iter().position(|o| *o == op).unwrap_or(0);
    &PROFILES[index]
}

/// How well `kind` serves `access` (0–3). Traversals lose fit past the kind's comfortable depth.
pub fn fit(access: &Access, kind: StoreKind) -> u8 {
    let base = row(access.op).fit[slot(kind)];
    match access.op {
        Op::Traverse | Op::ShortestPath => {
            let depth = access.depth.unwrap_or(1);
            let comfortable = comfortable_depth(kind);
            if depth <= comfortable {
                base
            } else {
                // Each hop past what the kind serves well costs a point of fit.
                let over = u8::try_from(depth - comfortable).unwrap_or(u8::MAX);
                base.saturating_sub(over.max(1))
            }
        }
        _ => base,
    }
}

/// The planning p99 of `access` on `kind` in milliseconds, `None` where the kind does not serve
/// it. Traversals grow with depth: linearly in a graph, quadratically where every hop is a join
/// or a lookup.
pub fn p99_ms(access: &Access, kind: StoreKind) -> Option<f64> {
    let base = row(access.op).p99_ms[slot(kind)]?;
    match access.op {
        Op::Traverse | Op::ShortestPath => {
            let depth = f64::from(access.depth.unwrap_or(1));
            if fit(access, kind) == 0 {
                None
            } else if kind == StoreKind::Graph {
                Some(base * depth)
            } else {
                Some(base * depth * depth)
            }
        }
        _ => Some(base),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Rate;

    #[test]
    fn one_row_per_op_in_order() {
        for (profile, op) in PROFILES.iter().zip(Op::ALL) {
            assert_eq!(profile.op, op);
            for kind in StoreKind::ALL {
                let fit = profile.fit[slot(kind)];
                assert!(fit <= 3);
                // A kind with a latency serves the op; one that cannot has no latency.
                assert_eq!(
                    fit == 0,
                    profile.p99_ms[slot(kind)].is_none(),
                    "{op} on {kind}"
                );
            }
        }
        for (index, kind) in StoreKind::ALL.into_iter().enumerate() {
            assert_eq!(slot(kind), index);
        }
    }

    #[test]
    fn deep_traversals_lose_fit_and_grow_slower() {
        let mut access = Access::new(Op::Traverse, Rate::per_second(10.0));
        access.depth = Some(1);
        assert_eq!(fit(&access, StoreKind::Relational), 2);
        access.depth = Some(3);
        assert_eq!(fit(&access, StoreKind::Relational), 1);
        assert_eq!(fit(&access, StoreKind::Graph), 3);
        assert_eq!(fit(&access, StoreKind::Document), 0);
        assert_eq!(p99_ms(&access, StoreKind::Graph), Some(15.0));
        assert_eq!(p99_ms(&access, StoreKind::Relational), Some(90.0));
        assert_eq!(p99_ms(&access, StoreKind::Document), None);
    }
}
