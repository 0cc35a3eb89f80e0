//! Primary-stage rules: which kind should be each entity's system of record.

use polyroute_adapters::StoreKind;

use super::profile::{fit, p99_ms};
use super::{Check, Facts, Rule, RuleKind, Vote, PRIMARY_CANDIDATES};
use crate::capacity::{estimate, human_bytes, human_rate, profile};
use crate::spec::{format_duration, Consistency, Durability, Op};

/// Total rate of point lookups above which ephemeral, expiring data is "hot".
pub const HOT_LOOKUPS_PER_SECOND: f64 = 1_000.0;

/// Ops addressed by key only: what a key-value store can serve.
pub const KEYED_OPS: [Op; 8] = [
    Op::Get,
    Op::Put,
    Op::Update,
    Op::Delete,
    Op::BatchGet,
    Op::Counter,
    Op::Latest,
    Op::Expire,
];

pub const TXN_MULTI_ENTITY_RELATIONAL: Rule = Rule {
    id: "txn-multi-entity-relational",
    statement: "A strongly consistent transaction that spans several entities needs a relational system of record for every entity in it.",
    evidence: "Multi-statement ACID transactions across tables are the relational engine's core guarantee (PostgreSQL docs, 'Transaction Isolation'). Cassandra and ScyllaDB lightweight transactions are compare-and-set within one partition (Cassandra docs, 'Lightweight transactions'); Redis MULTI/EXEC has no rollback (Redis docs, 'Transactions'); MongoDB has multi-document transactions since 4.0, and its manual notes they incur a greater performance cost than single-document writes and should not replace schema design (MongoDB manual, 'Production Considerations').",
    kind: RuleKind::Hard,
    check: Check::Primary(txn_multi_entity_relational),
};

fn txn_multi_entity_relational(facts: &Facts<'_>) -> Option<Vote> {
    let (owner, index, members) = facts.transactions.iter().find(|(owner, _, members)| {
        members.len() > 1
            && facts
                .spec
                .entity(owner)
                .is_some_and(|e| e.consistency == Consistency::Strong)
    })?;
    let rate = facts
        .spec
        .entity(owner)
        .and_then(|e| e.accesses.get(*index))
        .map_or(String::new(), |a| format!(" at {}", a.rate));
    Some(Vote::Require {
        kind: StoreKind::Relational,
        detail: format!(
            "the `transaction` of `{owner}`{rate} spans {}",
            members.join(", ")
        ),
    })
}

pub const MULTI_REGION_EVENTUAL_WIDE_COLUMN: Rule = Rule {
    id: "multi-region-eventual-wide-column",
    statement: "Durable data written in several regions with eventual consistency fits a wide-column store replicated to every region.",
    evidence: "Cassandra and ScyllaDB replicate a keyspace to several datacenters and accept writes in each at local quorum (Cassandra docs, 'Data replication', NetworkTopologyStrategy and LOCAL_QUORUM), resolving concurrent writes by timestamp, last write wins, as in Dynamo (DeCandia et al., SOSP 2007). PostgreSQL and Neo4j accept writes on one leader only (PostgreSQL docs, 'High Availability, Load Balancing, and Replication'; Neo4j Operations Manual, 'Clustering').",
    kind: RuleKind::Hard,
    check: Check::Primary(multi_region_eventual_wide_column),
};

fn multi_region_eventual_wide_column(facts: &Facts<'_>) -> Option<Vote> {
    let entity = facts.entity;
    (entity.regions > 1
        && entity.consistency == Consistency::Eventual
        && entity.durability == Durability::Durable)
        .then(|| Vote::Require {
            kind: StoreKind::WideColumn,
            detail: format!(
                "written in {} regions, eventually consistent, durable",
                entity.regions
            ),
        })
}

pub const EPHEMERAL_TTL_KEY_VALUE: Rule = Rule {
    id: "ephemeral-ttl-key-value",
    statement: "Ephemeral, expiring data read by key at a high rate belongs in an in-memory key-value store.",
    evidence: "An in-memory key-value store answers lookups by key in well under a millisecond and expires keys natively (Redis docs, 'EXPIRE' and 'Redis benchmark', which shows on the order of 100k GET/SET per second per instance); YCSB workload C, reads by key only, is the pattern these stores are built for (Cooper et al., 'Benchmarking Cloud Serving Systems with YCSB', SoCC 2010). Data that may be lost needs no disk on its write path.",
    kind: RuleKind::Hard,
    check: Check::Primary(ephemeral_ttl_key_value),
};

fn ephemeral_ttl_key_value(facts: &Facts<'_>) -> Option<Vote> {
    let entity = facts.entity;
    if entity.durability != Durability::Ephemeral {
        return None;
    }
    let ttl = entity
        .accesses
        .iter()
        .find_map(|a| a.ttl)
        .or(entity.retention)?;
    if !entity.accesses.iter().all(|a| KEYED_OPS.contains(&a.op)) {
        return None;
    }
    let lookups: f64 = entity
        .accesses
        .iter()
        .filter(|a| matches!(a.op, Op::Get | Op::BatchGet | Op::Latest))
        .map(|a| a.rate.per_second)
        .sum();
    (lookups >= HOT_LOOKUPS_PER_SECOND).then(|| Vote::Require {
        kind: StoreKind::KeyValue,
        detail: format!(
            "ephemeral, expiring after {}, every access by key, {} lookups",
            format_duration(ttl),
            human_rate(lookups)
        ),
    })
}

/// The fit rules' shared check: each access of `ops` adds its share × fit to every candidate.
fn fit_vote(facts: &Facts<'_>, ops: &[Op]) -> Option<Vote> {
    let mut deltas: Vec<(StoreKind, f64)> = PRIMARY_CANDIDATES.iter().map(|k| (*k, 0.0)).collect();
    let mut named = Vec::new();
    for (index, access) in facts.entity.accesses.iter().enumerate() {
        if !ops.contains(&access.op) {
            continue;
        }
        named.push(format!(
            "`{}` {}",
            access.op,
            human_rate(access.rate.per_second)
        ));
        let share = facts.share(index);
        for (kind, delta) in &mut deltas {
            *delta += share * f64::from(fit(access, *kind));
        }
    }
    if named.is_empty() {
        return None;
    }
    let mut ranked: Vec<&(StoreKind, f64)> = deltas.iter().filter(|(_, d)| *d > 0.0).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let best: Vec<String> = ranked
        .iter()
        .take(3)
        .map(|(kind, delta)| format!("{kind} +{delta:.2}"))
        .collect();
    Some(Vote::Score {
        detail: format!("{}: {}", named.join(", "), best.join(", ")),
        deltas,
    })
}

pub const FIT_KEYED: Rule = Rule {
    id: "fit-keyed",
    statement: "Reads and writes by key (get, put, update, delete, batch_get, counter) fit key-value first, then any store with a primary key.",
    evidence: "YCSB measures exactly these single-key operations (Cooper et al., SoCC 2010); key-value stores serve them natively and atomically increment counters (Redis docs, 'INCR'); relational primary keys, wide-column partition keys and document ids serve them through a primary index.",
    kind: RuleKind::Scored,
    check: Check::Primary(|facts| {
        fit_vote(
            facts,
            &[Op::Get, Op::Put, Op::Update, Op::Delete, Op::BatchGet, Op::Counter],
        )
    }),
};

pub const FIT_TIME_ORDERED: Rule = Rule {
    id: "fit-time-ordered",
    statement: "Time-ordered appends, time ranges, latest values and window aggregates fit a time-series store, then wide-column tables clustered by time.",
    evidence: "Time-series engines store points in time-partitioned compressed columns (Gorilla, Pelkonen et al., VLDB 2015: delta-of-delta timestamps and XOR floats; InfluxDB docs, 'Storage engine'), so appends are sequential and window aggregates read only the columns they fold; the Time Series Benchmark Suite (TSBS) compares engines on these very queries (last point, windowed max, group-by over time). Wide-column tables clustered by time serve appends and ranges well (Cassandra docs, 'TimeWindowCompactionStrategy').",
    kind: RuleKind::Scored,
    check: Check::Primary(|facts| {
        fit_vote(
            facts,
            &[Op::Append, Op::RangeScan, Op::Latest, Op::WindowAggregate],
        )
    }),
};

pub const FIT_RELATIONAL_QUERY: Rule = Rule {
    id: "fit-relational-query",
    statement: "Joins, transactions and ad-hoc group-by fit a relational store.",
    evidence: "SQL engines are built and benchmarked for these: TPC-C for transactions, TPC-H for ad-hoc aggregation and joins. Document stores join through $lookup and aggregate through pipelines at a higher cost (MongoDB manual, 'Aggregation'); Cassandra has no joins and its data-modelling guide tells you to denormalise per query.",
    kind: RuleKind::Scored,
    check: Check::Primary(|facts| fit_vote(facts, &[Op::Join, Op::Transaction, Op::Aggregate])),
};

pub const FIT_SECONDARY_FILTER: Rule = Rule {
    id: "fit-secondary-filter",
    statement: "Queries on secondary attributes fit relational and document stores, whose secondary indexes serve them.",
    evidence: "B-tree and expression indexes on non-key attributes serve equality and range filters in PostgreSQL (docs, 'Indexes') and MongoDB (manual, 'Indexes'). Cassandra secondary indexes are discouraged for high-cardinality columns and filtering otherwise needs ALLOW FILTERING (Cassandra docs); key-value stores have no secondary access.",
    kind: RuleKind::Scored,
    check: Check::Primary(|facts| fit_vote(facts, &[Op::Filter])),
};

pub const FIT_RELATIONSHIPS: Rule = Rule {
    id: "fit-relationships",
    statement: "Traversals and shortest paths fit a graph store; one or two hops are still fine as SQL joins.",
    evidence: "A graph store keeps adjacency with each node, so a hop is a lookup, not a join; the LDBC Social Network Benchmark's Interactive workload (Erling et al., SIGMOD 2015) is built on 1–3-hop traversals and shortest paths. In SQL each hop is a self-join or a step of a recursive CTE (PostgreSQL docs, 'WITH Queries'), whose intermediate results grow with degree^depth.",
    kind: RuleKind::Scored,
    check: Check::Primary(|facts| fit_vote(facts, &[Op::Traverse, Op::ShortestPath])),
};

pub const FIT_PARTITION: Rule = Rule {
    id: "fit-partition",
    statement: "Reading every row of one partition in order fits a wide-column store.",
    evidence: "Wide-column stores keep a partition's rows together, sorted by clustering key, so a partition read is one sequential read (Cassandra docs, 'Data modeling': one table per query, partition key = the query's key; ScyllaDB docs, 'Data modeling'). Time-series series and graph adjacency lists have the same shape.",
    kind: RuleKind::Scored,
    check: Check::Primary(|facts| fit_vote(facts, &[Op::PartitionScan])),
};

pub const FIT_EXPIRY: Rule = Rule {
    id: "fit-expiry",
    statement: "Records that expire on their own fit stores with native TTL: key-value and wide-column, then document TTL indexes and time-series retention.",
    evidence: "Redis (EXPIRE), Cassandra and ScyllaDB (per-write TTL) and MongoDB (TTL indexes, removed by a background task every 60 s) expire records natively; time-series engines drop whole partitions past the retention. PostgreSQL has no TTL: expiry is a scheduled DELETE and VACUUM, or dropping partitions (PostgreSQL docs, 'Table Partitioning').",
    kind: RuleKind::Scored,
    check: Check::Primary(|facts| fit_vote(facts, &[Op::Expire])),
};

pub const FLEXIBLE_SCHEMA_DOCUMENT: Rule = Rule {
    id: "flexible-schema-document",
    statement: "Records whose fields vary fit a document store; PostgreSQL JSONB is a close second.",
    evidence: "Document stores keep each record's own structure without migrations and index nested fields (MongoDB manual, 'Data Modeling'); PostgreSQL's JSONB with GIN and expression indexes covers much of the same ground (PostgreSQL docs, 'JSON Types'); wide-column rows may leave columns empty.",
    kind: RuleKind::Scored,
    check: Check::Primary(|facts| {
        (facts.entity.schema == crate::spec::Schema::Flexible).then(|| Vote::Score {
            deltas: vec![
                (StoreKind::Document, 0.75),
                (StoreKind::Relational, 0.25),
                (StoreKind::WideColumn, 0.25),
            ],
            detail: "schema: flexible".to_owned(),
        })
    }),
};

pub const EPHEMERAL_IN_MEMORY: Rule = Rule {
    id: "ephemeral-in-memory",
    statement: "Data that may be lost belongs in memory, with no disk on its write path.",
    evidence: "An in-memory store answers without touching disk, and persistence can be switched off entirely for such data (Redis docs, 'Persistence').",
    kind: RuleKind::Scored,
    check: Check::Primary(|facts| {
        (facts.entity.durability == Durability::Ephemeral).then(|| Vote::Score {
            deltas: vec![(StoreKind::KeyValue, 0.75)],
            detail: "durability: ephemeral".to_owned(),
        })
    }),
};

pub const DURABLE_OFF_MEMORY: Rule = Rule {
    id: "durable-off-memory",
    statement: "Durable data read and written mostly by key still does not belong in an in-memory key-value store as its system of record.",
    evidence: "Redis persistence trades durability for speed: with AOF and `appendfsync everysec`, the recommended setting, up to a second of acknowledged writes can be lost on a crash, and RDB snapshots lose more (Redis docs, 'Persistence'); memory also costs far more per GiB than disk.",
    kind: RuleKind::Scored,
    check: Check::Primary(durable_off_memory),
};

fn durable_off_memory(facts: &Facts<'_>) -> Option<Vote> {
    if facts.entity.durability != Durability::Durable {
        return None;
    }
    let keyed: f64 = facts
        .entity
        .accesses
        .iter()
        .enumerate()
        .filter(|(_, a)| KEYED_OPS.contains(&a.op))
        .map(|(index, _)| facts.share(index))
        .sum();
    (keyed >= 0.5).then(|| Vote::Score {
        deltas: vec![(StoreKind::KeyValue, -1.0)],
        detail: format!("durable, {:.0}% of the access weight by key", keyed * 100.0),
    })
}

pub const RETENTION_BY_PARTITION: Rule = Rule {
    id: "retention-by-partition",
    statement: "Data kept for a limited time fits stores that drop whole time partitions or expire rows natively, not row-by-row deletes.",
    evidence: "PostgreSQL's docs recommend partitioning for bulk deletes, which then avoid VACUUM overhead (PostgreSQL docs, 'Table Partitioning'); InfluxDB retention policies drop whole shard groups, and Cassandra's TimeWindowCompactionStrategy drops whole expired SSTables (Cassandra docs).",
    kind: RuleKind::Scored,
    check: Check::Primary(|facts| {
        facts.entity.retention.map(|retention| Vote::Score {
            deltas: vec![
                (StoreKind::TimeSeries, 0.5),
                (StoreKind::WideColumn, 0.5),
                (StoreKind::KeyValue, 0.25),
                (StoreKind::Relational, -0.25),
            ],
            detail: format!("retention: {}", format_duration(retention)),
        })
    }),
};

pub const SCALE_OUT_SIZE: Rule = Rule {
    id: "scale-out-size",
    statement: "Data larger than one node fits kinds that partition across nodes; single-leader kinds then need sharding, and in-memory data costs RAM.",
    evidence: "PostgreSQL and Neo4j keep a whole database on every cluster member (a primary and replicas; Neo4j Operations Manual, 'Clustering'), so data beyond one node means sharding by the application or an extension such as Citus. Wide-column, document (sharded clusters) and search stores partition data by design (Cassandra docs, 'Dynamo'; MongoDB manual, 'Sharding'; Elasticsearch docs, 'Scalability and resilience'). Key-value data lives in RAM.",
    kind: RuleKind::Scored,
    check: Check::Primary(scale_out_size),
};

fn scale_out_size(facts: &Facts<'_>) -> Option<Vote> {
    let mut deltas = Vec::new();
    let mut named = Vec::new();
    for kind in PRIMARY_CANDIDATES {
        let nodes = estimate(kind, facts.load).for_bytes;
        if nodes <= 1 {
            continue;
        }
        let node = profile(kind);
        let penalty = if !node.scales_out {
            -1.0
        } else if kind == StoreKind::KeyValue {
            -0.75
        } else {
            continue;
        };
        deltas.push((kind, penalty));
        named.push(format!(
            "{kind} needs {nodes} nodes of {}",
            human_bytes(node.bytes)
        ));
    }
    (!deltas.is_empty()).then(|| Vote::Score {
        detail: format!(
            "{} of data: {}",
            human_bytes(facts.load.bytes),
            named.join(", ")
        ),
        deltas,
    })
}

pub const SCALE_OUT_WRITES: Rule = Rule {
    id: "scale-out-writes",
    statement: "A write rate beyond one node's capacity fits kinds that scale writes out; a single-leader kind would need sharding.",
    evidence: "A single-leader store writes at one node's speed: PostgreSQL standbys are read-only (PostgreSQL docs, 'Hot Standby') and Neo4j routes writes to one leader per database. Cassandra scaled writes linearly past a million per second on 288 nodes in Netflix's 2011 benchmark ('Benchmarking Cassandra Scalability on AWS', Netflix Tech Blog).",
    kind: RuleKind::Scored,
    check: Check::Primary(scale_out_writes),
};

fn scale_out_writes(facts: &Facts<'_>) -> Option<Vote> {
    let mut deltas = Vec::new();
    let mut named = Vec::new();
    for kind in PRIMARY_CANDIDATES {
        let node = profile(kind);
        let nodes = estimate(kind, facts.load).for_writes;
        if node.scales_out || nodes <= 1 {
            continue;
        }
        deltas.push((kind, -1.5));
        named.push(format!("{kind} takes {} per node", human_rate(node.writes)));
    }
    (!deltas.is_empty()).then(|| Vote::Score {
        detail: format!(
            "{} writes: {}",
            human_rate(facts.load.writes),
            named.join(", ")
        ),
        deltas,
    })
}

pub const LATENCY_TARGET: Rule = Rule {
    id: "latency-target",
    statement: "A kind whose latency model misses an access's p99 target loses score in proportion to that access's weight (reads a cache can serve excepted).",
    evidence: "The planning p99 of each op on each kind (docs/decision-framework.md, 'Latency model'): order-of-magnitude figures for one healthy node in the same region, with a warm cache. Measure the real thing with `polyroute decide --validate` and a benchmark of the chosen servers.",
    kind: RuleKind::Scored,
    check: Check::Primary(latency_target),
};

fn latency_target(facts: &Facts<'_>) -> Option<Vote> {
    let mut deltas: Vec<(StoreKind, f64)> = Vec::new();
    let mut named = Vec::new();
    for (index, access) in facts.entity.accesses.iter().enumerate() {
        let Some(target) = access.p99 else { continue };
        if super::route::cacheable(facts, access) {
            // A read cache in front of any primary meets it (`hot-read-cache`).
            continue;
        }
        let target_ms = target.as_secs_f64() * 1000.0;
        let mut missed = Vec::new();
        for kind in PRIMARY_CANDIDATES {
            let model = p99_ms(access, kind);
            if model.is_none_or(|model| model > target_ms) {
                let penalty = -2.0 * facts.share(index);
                match deltas.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, delta)) => *delta += penalty,
                    None => deltas.push((kind, penalty)),
                }
                if model.is_some() {
                    missed.push(kind.as_str());
                }
            }
        }
        if !missed.is_empty() {
            named.push(format!(
                "`{}` p99 {}: missed by {}",
                access.op,
                format_duration(target),
                missed.join(", ")
            ));
        }
    }
    (!named.is_empty()).then(|| Vote::Score {
        detail: named.join("; "),
        deltas,
    })
}
