//! Route-stage rules: which kind serves each access, when it is not the system of record.
//!
//! Only reads are routed: every write goes to the system of record, and projections are fed
//! from it.

use polyroute_adapters::StoreKind;

use super::profile::{comfortable_depth, fit, p99_ms};
use super::{Check, Facts, Rule, RuleKind, Serve};
use crate::capacity::{estimate, human_rate, profile, Load};
use crate::spec::{format_duration, Op};

pub const FULL_TEXT_SEARCH_PROJECTION: Rule = Rule {
    id: "full-text-search-projection",
    statement: "Full-text search is served by a search index fed from the system of record, never by the system of record itself.",
    evidence: "Search engines rank by BM25 over an inverted index with analyzers, per-field boosts and highlighting (Elasticsearch docs, 'Similarity module'; Apache Lucene). PostgreSQL's ranking functions use no corpus-wide statistics (PostgreSQL docs, 'Ranking Search Results'), and LIKE scans every row. A search index is near-real-time (Elasticsearch refreshes every second by default, docs 'Near real-time search') and has no multi-document transactions, so it is a projection, not a system of record.",
    kind: RuleKind::Hard,
    check: Check::Route(|facts, primary, index| {
        let access = facts.entity.accesses.get(index)?;
        (access.op == Op::FullText && primary != StoreKind::Search).then(|| Serve {
            kind: StoreKind::Search,
            detail: format!("`full_text` on {}", access.fields.join(", ")),
        })
    }),
};

pub const DEEP_TRAVERSE_GRAPH_PROJECTION: Rule = Rule {
    id: "deep-traverse-graph-projection",
    statement: "A traversal or path search deeper than the system of record handles well is served by a graph projection.",
    evidence: "Each hop in SQL is a self-join or a recursive-CTE step whose intermediate result grows with degree^depth (PostgreSQL docs, 'WITH Queries'), and a document or wide-column store can only fetch a stored neighbour list per call; a graph store follows adjacency directly. LDBC SNB Interactive (Erling et al., SIGMOD 2015) exercises exactly these 2–3-hop queries and shortest paths.",
    kind: RuleKind::Hard,
    check: Check::Route(|facts, primary, index| {
        let access = facts.entity.accesses.get(index)?;
        let depth = access.depth?;
        (matches!(access.op, Op::Traverse | Op::ShortestPath)
            && primary != StoreKind::Graph
            && depth > comfortable_depth(primary))
        .then(|| Serve {
            kind: StoreKind::Graph,
            detail: format!(
                "`{}` to depth {depth}; {primary} handles {} well",
                access.op,
                match comfortable_depth(primary) {
                    0 => "no hop".to_owned(),
                    1 => "1 hop".to_owned(),
                    n => format!("{n} hops"),
                }
            ),
        })
    }),
};

pub const HOT_READ_CACHE: Rule = Rule {
    id: "hot-read-cache",
    statement: "Point reads that need more than one node of the system of record, or a p99 it cannot meet, and outnumber the writes, are served by a key-value cache.",
    evidence: "A cache-aside or read-through cache answers hot keys from memory ('Scaling Memcache at Facebook', Nishtala et al., NSDI 2013; Redis docs, 'Client-side caching'). It pays off when reads outnumber writes; otherwise it mostly invalidates.",
    kind: RuleKind::Scored,
    check: Check::Route(hot_read_cache),
};

/// Whether a read cache could serve `access`: a point read that outnumbers the entity's writes.
pub(super) fn cacheable(facts: &Facts<'_>, access: &crate::spec::Access) -> bool {
    matches!(access.op, Op::Get | Op::BatchGet | Op::Latest)
        && access.rate.per_second >= facts.load.writes
}

fn hot_read_cache(facts: &Facts<'_>, primary: StoreKind, index: usize) -> Option<Serve> {
    let access = facts.entity.accesses.get(index)?;
    if !cacheable(facts, access) || primary == StoreKind::KeyValue {
        return None;
    }
    let rate = access.rate.per_second;
    let per_node = profile(primary).light_reads;
    if rate > per_node {
        return Some(Serve {
            kind: StoreKind::KeyValue,
            detail: format!(
                "`{}` {} is above one {primary} node's {} reads",
                access.op,
                human_rate(rate),
                human_rate(per_node)
            ),
        });
    }
    let target = access.p99?;
    let model = p99_ms(access, primary)?;
    let target_ms = target.as_secs_f64() * 1000.0;
    (model > target_ms).then(|| Serve {
        kind: StoreKind::KeyValue,
        detail: format!(
            "`{}` p99 {} is below {primary}'s {model:.0} ms",
            access.op,
            format_duration(target)
        ),
    })
}

pub const POORLY_SERVED_PROJECTION: Rule = Rule {
    id: "poorly-served-projection",
    statement: "A read the system of record serves poorly (fit 1 or less) is served by a projection in the kind that fits it best and can take the entity's writes.",
    evidence: "Polyglot persistence: each access pattern served by a store built for it, fed from the system of record (Sadalage and Fowler, 'NoSQL Distilled', 2012; the read models of CQRS). The projection must ingest every write of the entity, so kinds that would need sharding for that write rate or size are passed over.",
    kind: RuleKind::Scored,
    check: Check::Route(poorly_served_projection),
};

fn poorly_served_projection(facts: &Facts<'_>, primary: StoreKind, index: usize) -> Option<Serve> {
    let access = facts.entity.accesses.get(index)?;
    if access.op.is_write() {
        return None;
    }
    let own = fit(access, primary);
    if own > 1 {
        return None;
    }
    let ingest = Load {
        writes: facts.load.writes,
        bytes: facts.load.bytes,
        ..Load::default()
    };
    let mut best: Option<(StoreKind, f64)> = None;
    for kind in StoreKind::ALL {
        if kind == primary || kind == StoreKind::KeyValue {
            continue;
        }
        let kind_fit = fit(access, kind);
        if kind_fit < 2 {
            continue;
        }
        let needs = estimate(kind, ingest);
        let sharding = !profile(kind).scales_out && needs.nodes > 1;
        let score = f64::from(kind_fit) - if sharding { 1.5 } else { 0.0 };
        if best.is_none_or(|(_, top)| score > top) {
            best = Some((kind, score));
        }
    }
    let (kind, score) = best?;
    (score > f64::from(own)).then(|| Serve {
        kind,
        detail: format!(
            "{primary} serves `{}` at fit {own} of 3; {kind} at {}",
            access.op,
            fit(access, kind)
        ),
    })
}
