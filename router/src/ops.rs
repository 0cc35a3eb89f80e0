//! The operation names each kind's handle passes to the call path: what per-operation
//! `timeouts` and `hedge.ops` in config may name, and which of them are reads that may be
//! hedged (run again, side by side, without changing anything).

use polyroute_adapters::StoreKind;

/// Every operation a handle of `kind` names on the call path.
pub(crate) fn operations(kind: StoreKind) -> &'static [&'static str] {
    match kind {
        StoreKind::KeyValue => &["get", "set", "delete", "get_many", "set_many", "increment"],
        StoreKind::Document => &[
            "put",
            "insert",
            "get",
            "delete",
            "find",
            "count",
            "create_index",
        ],
        StoreKind::Relational => &[
            "query",
            "execute",
            "execute_script",
            "begin",
            "transaction.query",
            "transaction.execute",
            "commit",
            "rollback",
        ],
        StoreKind::Graph => &[
            "upsert_node",
            "get_node",
            "delete_node",
            "upsert_edge",
            "upsert_batch",
            "delete_edge",
            "neighbors",
            "traverse",
            "count_reachable",
            "shortest_path",
            "degree",
        ],
        StoreKind::Search => &["index", "delete", "query", "refresh"],
        StoreKind::TimeSeries => &["write", "range", "window", "last", "delete_before"],
        StoreKind::WideColumn => &[
            "put",
            "put_batch",
            "get",
            "slice",
            "delete",
            "delete_partition",
        ],
    }
}

/// The operations of `kind` that only read and go through the idempotent call path: the ones
/// a hedge may run twice. Relational queries may write, so a relational entity has none.
pub(crate) fn reads(kind: StoreKind) -> &'static [&'static str] {
    match kind {
        StoreKind::KeyValue => &["get", "get_many"],
        StoreKind::Document => &["get", "find", "count"],
        StoreKind::Relational => &[],
        StoreKind::Graph => &[
            "get_node",
            "neighbors",
            "traverse",
            "count_reachable",
            "shortest_path",
            "degree",
        ],
        StoreKind::Search => &["query"],
        StoreKind::TimeSeries => &["range", "window", "last"],
        StoreKind::WideColumn => &["get", "slice"],
    }
}

/// `op` as the `'static` name the handles use, if `kind` has it.
pub(crate) fn find(kind: StoreKind, op: &str) -> Option<&'static str> {
    operations(kind).iter().copied().find(|known| *known == op)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [StoreKind; 7] = [
        StoreKind::KeyValue,
        StoreKind::Document,
        StoreKind::Relational,
        StoreKind::Graph,
        StoreKind::Search,
        StoreKind::TimeSeries,
        StoreKind::WideColumn,
    ];

    #[test]
    fn every_read_is_an_operation_of_its_kind() {
        for kind in KINDS {
            for read in reads(kind) {
                assert_eq!(find(kind, read), Some(*read), "{kind} {read}");
            }
        }
        assert_eq!(find(StoreKind::KeyValue, "query"), None);
    }
}
