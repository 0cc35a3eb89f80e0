//! An entity's access policy keys: `cache` (read-through caching in a key-value store),
//! `hedge` (a second attempt for slow reads) and `timeouts` (deadlines per operation). The
//! parsers read them; the checks, shared with [`RouterBuilder`](crate::RouterBuilder), say what
//! is wrong with them against the entity's kind and the declared stores.

use std::collections::BTreeMap;
use std::time::Duration;

use polyroute_adapters::StoreKind;
use toml::Value;

use super::problem::{ConfigProblem, ProblemKind};
use super::walk::{describe, join, Walker};
use crate::cache::{CachePolicy, MAX_CACHE_JITTER};
use crate::layers::hedge::HedgePolicy;
use crate::ops;
use polyroute_adapters::problem::listing;

const CACHE_KEYS: &[&str] = &["store", "ttl", "jitter", "stale", "negative"];
const HEDGE_KEYS: &[&str] = &["after", "ops"];

/// The kinds whose handles read through a cache.
pub(crate) const CACHED_KINDS: &[StoreKind] = &[StoreKind::KeyValue, StoreKind::Document];

/// Reads `cache = { store, ttl, jitter, stale, negative }` at `path`.
pub(crate) fn parse_cache(
    walker: &mut Walker<'_>,
    path: &str,
    value: &Value,
) -> Option<CachePolicy> {
    let table = walker.table(path, value)?;
    let before = walker.count();
    let mut policy = CachePolicy::on("");
    let mut store = None;
    for (key, value) in table {
        let key_path = join(path, key);
        match key.as_str() {
            "store" => store = walker.string(&key_path, value),
            "ttl" => {
                if let Some(ttl) = walker.duration(&key_path, value) {
                    policy.ttl = ttl;
                }
            }
            "stale" => {
                if let Some(stale) = walker.duration(&key_path, value) {
                    policy.stale = stale;
                }
            }
            "jitter" => {
                if let Some(jitter) = jitter(walker, &key_path, value) {
                    policy.jitter = jitter;
                }
            }
            "negative" => match value {
                Value::Boolean(false) => policy.negative = None,
                // Set below, once `ttl` is known wherever it is written.
                Value::Boolean(true) => {}
                other => policy.negative = walker.duration(&key_path, other),
            },
            _ => walker.unknown_key(path, key, CACHE_KEYS, "in `cache`"),
        }
    }
    // `negative = true` caches absence as long as a value: for `ttl`.
    if let Some(Value::Boolean(true)) = table.get("negative") {
        policy.negative = Some(policy.ttl);
    }
    match store {
        Some(store) => policy.store = store,
        None => {
            if !table.contains_key("store") {
                walker.report_fix(
                    ProblemKind::MissingKey,
                    &join(path, "store"),
                    "a cache needs a `store`",
                    "name the key_value store that holds it, such as `cache = { store = \"redis_cache\" }`",
                );
            }
            return None;
        }
    }
    (walker.count() == before).then_some(policy)
}

fn jitter(walker: &mut Walker<'_>, path: &str, value: &Value) -> Option<f64> {
    let jitter = match value {
        Value::Float(f) => *f,
        Value::Integer(n) => *n as f64,
        other => {
            walker.report_fix(
                ProblemKind::WrongType,
                path,
                format!("expected a number, found {}", describe(other)),
                jitter_fix(),
            );
            return None;
        }
    };
    if let Some(problem) = jitter_problem(path, jitter) {
        walker.push(problem);
        return None;
    }
    Some(jitter)
}

/// The problem with cache `jitter` at `path`, if it is not a fraction from 0 to
/// [`MAX_CACHE_JITTER`].
pub(crate) fn jitter_problem(path: &str, jitter: f64) -> Option<ConfigProblem> {
    (!(0.0..=MAX_CACHE_JITTER).contains(&jitter)).then(|| {
        ConfigProblem::new(
            ProblemKind::InvalidValue,
            path,
            format!("jitter {jitter} is not between 0 and {MAX_CACHE_JITTER}"),
        )
        .with_fix(jitter_fix())
    })
}

fn jitter_fix() -> String {
    format!(
        "write a fraction from 0 to {MAX_CACHE_JITTER}, such as `0.1` for fresh times within ±10% of `ttl`"
    )
}

/// Reads `hedge = { after = "20ms", ops = ["get"] }` at `path`.
pub(crate) fn parse_hedge(
    walker: &mut Walker<'_>,
    path: &str,
    value: &Value,
) -> Option<HedgePolicy> {
    let table = walker.table(path, value)?;
    let before = walker.count();
    let mut after = None;
    let mut ops = None;
    for (key, value) in table {
        let key_path = join(path, key);
        match key.as_str() {
            "after" => after = walker.duration(&key_path, value),
            "ops" => ops = walker.string_list(&key_path, value),
            _ => walker.unknown_key(path, key, HEDGE_KEYS, "in `hedge`"),
        }
    }
    if !table.contains_key("after") {
        walker.report_fix(
            ProblemKind::MissingKey,
            &join(path, "after"),
            "a hedge needs `after`",
            "say how long the first attempt may take before a second is sent, such as `after = \"20ms\"`",
        );
    }
    let after = after?;
    (walker.count() == before).then_some(HedgePolicy { after, ops })
}

/// Reads `timeouts = { get = "20ms", query = "2s" }` at `path`.
pub(crate) fn parse_timeouts(
    walker: &mut Walker<'_>,
    path: &str,
    value: &Value,
) -> Option<BTreeMap<String, Duration>> {
    let table = walker.table(path, value)?;
    let mut timeouts = BTreeMap::new();
    for (op, value) in table {
        if let Some(timeout) = walker.duration(&join(path, op), value) {
            timeouts.insert(op.clone(), timeout);
        }
    }
    // The readable ones, so that their names are checked too; a bad value is reported already.
    Some(timeouts)
}

/// Every problem with caching `entity` (of `kind`, on `own_store`) as `policy` says, given the
/// declared stores and their kinds (`None`: a kind not known).
pub(crate) fn cache_problems(
    entity: &str,
    kind: StoreKind,
    own_store: &str,
    policy: &CachePolicy,
    stores: &[(&str, Option<StoreKind>)],
) -> Vec<ConfigProblem> {
    let path = join(&join("entities", entity), "cache");
    let mut problems = Vec::new();
    if !CACHED_KINDS.contains(&kind) {
        problems.push(
            ConfigProblem::new(
                ProblemKind::KindMismatch,
                &path,
                format!(
                    "entity `{entity}` is {kind}; only key_value and document reads are cached"
                ),
            )
            .with_fix("remove `cache`"),
        );
    }
    let store_path = join(&path, "store");
    let key_value: Vec<&str> = stores
        .iter()
        .filter(|(name, kind)| *kind == Some(StoreKind::KeyValue) && *name != own_store)
        .map(|(name, _)| *name)
        .collect();
    match stores.iter().find(|(name, _)| *name == policy.store) {
        None => problems.push(
            ConfigProblem::new(
                ProblemKind::UnknownStore,
                &store_path,
                format!("unknown store `{}`", policy.store),
            )
            .with_fix(format!(
                "name a declared key_value store: {}",
                listing(&key_value, &policy.store)
            )),
        ),
        Some((name, _)) if *name == own_store => problems.push(
            ConfigProblem::new(
                ProblemKind::InvalidValue,
                &store_path,
                format!("entity `{entity}` is stored in `{own_store}`: a cache in the same store saves nothing"),
            )
            .with_fix(format!(
                "cache it in another key_value store: {}",
                listing(&key_value, "")
            )),
        ),
        Some((name, Some(store_kind))) if *store_kind != StoreKind::KeyValue => problems.push(
            ConfigProblem::new(
                ProblemKind::KindMismatch,
                &store_path,
                format!("store `{name}` is {store_kind}; a cache needs a key_value store"),
            )
            .with_fix(format!(
                "name a key_value store: {}",
                listing(&key_value, "")
            )),
        ),
        Some(_) => {}
    }
    if !polyroute_adapters::kinds::is_identifier(&crate::cache::namespace(entity)) {
        problems.push(
            ConfigProblem::new(
                ProblemKind::InvalidName,
                &path,
                format!(
                    "entity `{entity}`'s cache namespace `{}` is longer than 63 characters",
                    crate::cache::namespace(entity)
                ),
            )
            .with_fix("shorten the entity's name to at most 56 characters, or remove `cache`"),
        );
    }
    problems
}

/// Every problem with hedging `entity` (of `kind`) as `policy` says.
pub(crate) fn hedge_problems(
    entity: &str,
    kind: StoreKind,
    policy: &HedgePolicy,
) -> Vec<ConfigProblem> {
    let path = join(&join("entities", entity), "hedge");
    let reads = ops::reads(kind);
    if reads.is_empty() {
        return vec![ConfigProblem::new(
            ProblemKind::KindMismatch,
            &path,
            format!("entity `{entity}` is {kind}, which has no reads that can be hedged (a query may write)"),
        )
        .with_fix("remove `hedge`")];
    }
    let mut problems = Vec::new();
    if policy.after.is_zero() {
        problems.push(
            ConfigProblem::new(
                ProblemKind::BadDuration,
                join(&path, "after"),
                "a hedge delay of zero is not allowed",
            )
            .with_fix("give a positive duration such as `20ms`"),
        );
    }
    for (index, op) in policy.ops.iter().flatten().enumerate() {
        if !reads.contains(&op.as_str()) {
            let what = if ops::find(kind, op).is_some() {
                format!("`{op}` is not a read of a {kind} entity; only reads are hedged")
            } else {
                format!("a {kind} entity has no operation `{op}`")
            };
            problems.push(
                ConfigProblem::new(
                    ProblemKind::InvalidValue,
                    format!("{}[{index}]", join(&path, "ops")),
                    what,
                )
                .with_fix(format!("reads that can be hedged: {}", listing(reads, op))),
            );
        }
    }
    problems
}

/// Every problem with per-operation `timeouts` of `entity` (of `kind`).
pub(crate) fn timeout_problems<'a>(
    entity: &str,
    kind: StoreKind,
    timeouts: impl IntoIterator<Item = (&'a str, Duration)>,
) -> Vec<ConfigProblem> {
    let path = join(&join("entities", entity), "timeouts");
    let mut problems = Vec::new();
    for (op, timeout) in timeouts {
        let op_path = join(&path, op);
        if ops::find(kind, op).is_none() {
            problems.push(
                ConfigProblem::new(
                    ProblemKind::UnknownKey,
                    &op_path,
                    format!("a {kind} entity has no operation `{op}`"),
                )
                .with_fix(format!(
                    "operations of a {kind} entity: {}",
                    listing(ops::operations(kind), op)
                )),
            );
        } else if timeout.is_zero() {
            problems.push(super::names::zero_timeout(&op_path));
        }
    }
    problems
}
