//! Capacity math: what one node of each store kind is assumed to sustain, an entity's load and
//! data size, and the nodes that load needs.
//!
//! A node is a commodity server: 8 vCPU, 64 GiB of memory, local NVMe. The figures are round,
//! deliberately conservative planning numbers, each with its basis in
//! `docs/decision-framework.md`; they size the first deployment and flag when an entity outgrows
//! one node, they do not replace a benchmark of the real servers.

use polyroute_adapters::StoreKind;
use serde::Serialize;

use crate::rules::profile::slot;
use crate::spec::{Access, Entity};

/// One GiB in bytes.
pub const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// What one node of a kind is assumed to sustain.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct NodeProfile {
    /// The kind.
    pub kind: StoreKind,
    /// The server it stands for.
    pub server: &'static str,
    /// Point reads and short scans per second.
    pub light_reads: f64,
    /// Queries that read or combine many records (aggregates, joins, text, traversals) per
    /// second.
    pub heavy_reads: f64,
    /// Writes per second (records, points or documents).
    pub writes: f64,
    /// Data one node holds comfortably, in bytes (memory for key-value, page cache for graph).
    pub bytes: f64,
    /// Whether adding nodes adds write capacity (partitioning is built in), rather than
    /// needing application-level sharding.
    pub scales_out: bool,
}

/// The assumptions, one per kind, in [`StoreKind::ALL`] order.
pub const PROFILES: [NodeProfile; 7] = [
    NodeProfile {
        kind: StoreKind::KeyValue,
        server: "Redis",
        light_reads: 100_000.0,
        heavy_reads: 1_000.0,
        writes: 100_000.0,
        bytes: 25.0 * GIB,
        scales_out: true,
    },
    NodeProfile {
        kind: StoreKind::TimeSeries,
        server: "InfluxDB",
        light_reads: 5_000.0,
        heavy_reads: 50.0,
        writes: 250_000.0,
        bytes: 2048.0 * GIB,
        scales_out: true,
    },
    NodeProfile {
        kind: StoreKind::Graph,
        server: "Neo4j",
        light_reads: 20_000.0,
        heavy_reads: 500.0,
        writes: 2_000.0,
        bytes: 512.0 * GIB,
        scales_out: false,
    },
    NodeProfile {
        kind: StoreKind::Relational,
        server: "PostgreSQL",
        light_reads: 20_000.0,
        heavy_reads: 200.0,
        writes: 5_000.0,
        bytes: 2048.0 * GIB,
        scales_out: false,
    },
    NodeProfile {
        kind: StoreKind::WideColumn,
        server: "ScyllaDB / Cassandra",
        light_reads: 10_000.0,
        heavy_reads: 100.0,
        writes: 20_000.0,
        bytes: 2048.0 * GIB,
        scales_out: true,
    },
    NodeProfile {
        kind: StoreKind::Document,
        server: "MongoDB",
        light_reads: 20_000.0,
        heavy_reads: 200.0,
        writes: 10_000.0,
        bytes: 2048.0 * GIB,
        scales_out: true,
    },
    NodeProfile {
        kind: StoreKind::Search,
        server: "Elasticsearch",
        light_reads: 2_000.0,
        heavy_reads: 500.0,
        writes: 10_000.0,
        bytes: 1024.0 * GIB,
        scales_out: true,
    },
];

/// The assumptions for `kind`.
pub fn profile(kind: StoreKind) -> &'static NodeProfile {
    &PROFILES[slot(kind)]
}

/// Days of growth counted when an entity keeps its records forever.
pub const GROWTH_HORIZON_DAYS: f64 = 365.0;

/// Most of an entity's data a key-value read cache is assumed to hold (its hot set).
pub const CACHE_SHARE: f64 = 0.1;

/// How long a read cache keeps a value, in seconds: the bound on its staleness, and with the
/// read rate, on its size (it holds at most the records read within this time).
pub const CACHE_TTL_SECS: u64 = 300;

/// What a store must absorb for one entity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Load {
    /// Point reads and short scans per second.
    pub light_reads: f64,
    /// Heavy queries per second.
    pub heavy_reads: f64,
    /// Writes per second.
    pub writes: f64,
    /// Data held, in bytes (before replication and compression).
    pub bytes: f64,
}

impl Load {
    /// The load of `accesses` of `entity`, holding its whole data set.
    pub fn of<'a>(entity: &Entity, accesses: impl IntoIterator<Item = &'a Access>) -> Load {
        let mut load = Load {
            bytes: data_bytes(entity),
            ..Load::default()
        };
        for access in accesses {
            load.add(access);
        }
        load
    }

    /// Adds one access's rate to the matching column.
    pub fn add(&mut self, access: &Access) {
        let rate = access.rate.per_second;
        if access.op.is_write() {
            self.writes += rate;
        } else if access.op.is_heavy() {
            self.heavy_reads += rate;
        } else {
            self.light_reads += rate;
        }
    }
}

/// Projected data size: records × size, plus the growth kept — until the retention when there
/// is one (never less than today's records), one year of growth otherwise.
pub fn data_bytes(entity: &Entity) -> f64 {
    let growth = entity.growth_per_day.unwrap_or(0) as f64;
    let records = entity.records as f64;
    let kept = match entity.retention {
        Some(retention) => {
            let days = retention.as_secs_f64() / 86_400.0;
            records.max(growth * days)
        }
        None => records + growth * GROWTH_HORIZON_DAYS,
    };
    kept * entity.record_bytes as f64
}

/// The nodes a kind needs for a load, and what bounds them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    /// The kind.
    pub kind: StoreKind,
    /// The load.
    pub load: Load,
    /// Nodes for the light reads.
    pub for_light_reads: u64,
    /// Nodes for the heavy reads.
    pub for_heavy_reads: u64,
    /// Nodes for the writes.
    pub for_writes: u64,
    /// Nodes for the data.
    pub for_bytes: u64,
    /// The largest of the four, at least 1 (before replicas for availability).
    pub nodes: u64,
    /// What needs the most nodes: `light reads`, `heavy reads`, `writes` or `data`.
    pub bound_by: &'static str,
}

fn nodes_for(demand: f64, per_node: f64) -> u64 {
    if demand <= 0.0 || per_node <= 0.0 {
        0
    } else {
        // Rounded up; demands are far below u64::MAX, so the cast is exact enough.
        (demand / per_node).ceil() as u64
    }
}

/// The nodes `kind` needs for `load`.
pub fn estimate(kind: StoreKind, load: Load) -> Estimate {
    let node = profile(kind);
    let for_light_reads = nodes_for(load.light_reads, node.light_reads);
    let for_heavy_reads = nodes_for(load.heavy_reads, node.heavy_reads);
    let for_writes = nodes_for(load.writes, node.writes);
    let for_bytes = nodes_for(load.bytes, node.bytes);
    let columns = [
        (for_light_reads, "light reads"),
        (for_heavy_reads, "heavy reads"),
        (for_writes, "writes"),
        (for_bytes, "data"),
    ];
    let (nodes, bound_by) = columns
        .iter()
        .copied()
        .fold((0, "light reads"), |best, column| {
            if column.0 > best.0 {
                column
            } else {
                best
            }
        });
    Estimate {
        kind,
        load,
        for_light_reads,
        for_heavy_reads,
        for_writes,
        for_bytes,
        nodes: nodes.max(1),
        bound_by,
    }
}

/// `bytes` as a short human figure (`1.9 TiB`, `300 MiB`).
pub fn human_bytes(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 100.0 || unit == 0 {
        format!("{value:.0} {}", units[unit])
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// A rate as a short human figure (`12k/s`, `300/s`, `0.5/s`).
pub fn human_rate(per_second: f64) -> String {
    if per_second >= 1_000_000.0 {
        format!("{:.1}M/s", per_second / 1_000_000.0)
    } else if per_second >= 10_000.0 {
        format!("{:.0}k/s", per_second / 1_000.0)
    } else if per_second >= 1_000.0 {
        format!("{:.1}k/s", per_second / 1_000.0)
    } else if per_second >= 10.0 || per_second.fract() == 0.0 {
        format!("{per_second:.0}/s")
    } else {
        format!("{per_second:.2}/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_in_kind_order() {
        for (profile, kind) in PROFILES.iter().zip(StoreKind::ALL) {
            assert_eq!(profile.kind, kind);
        }
    }

    #[test]
    fn nodes_follow_the_largest_demand() {
        let load = Load {
            light_reads: 30_000.0,
            heavy_reads: 10.0,
            writes: 12_000.0,
            bytes: 100.0 * GIB,
        };
        let estimate = estimate(StoreKind::Relational, load);
        assert_eq!(estimate.for_light_reads, 2);
        assert_eq!(estimate.for_writes, 3);
        assert_eq!(estimate.for_bytes, 1);
        assert_eq!(estimate.nodes, 3);
        assert_eq!(estimate.bound_by, "writes");
        let idle = super::estimate(StoreKind::KeyValue, Load::default());
        assert_eq!(idle.nodes, 1);
    }

    #[test]
    fn human_figures() {
        assert_eq!(human_bytes(1536.0), "1.5 KiB");
        assert_eq!(human_bytes(2048.0 * GIB), "2.0 TiB");
        assert_eq!(human_rate(12_500.0), "12k/s");
        assert_eq!(human_rate(1_500.0), "1.5k/s");
        assert_eq!(human_rate(0.5), "0.50/s");
        assert_eq!(human_rate(300.0), "300/s");
    }
}
