//! `[policy]`: defaults that apply to every call: the deadline, and the layers every store's
//! calls go through (retries, circuit breaker, concurrency limit).

use std::time::Duration;

use toml::Value;

use super::problem::ProblemKind;
use super::walk::{join, Walker};
use super::Policy;
use crate::layers::breaker::BreakerPolicy;
use crate::layers::retry::RetryPolicy;

const POLICY_KEYS: &[&str] = &["timeout", "retry", "breaker", "max_in_flight"];
const RETRY_KEYS: &[&str] = &[
    "attempts",
    "backoff",
    "max_backoff",
    "budget",
    "budget_floor",
];
const BREAKER_KEYS: &[&str] = &["failures", "open_for"];

/// Reads the `[policy]` table (absent: the defaults).
pub(crate) fn parse_policy(walker: &mut Walker<'_>, value: Option<&Value>) -> Policy {
    let mut policy = Policy::default();
    let Some(table) = value.and_then(|value| walker.table("policy", value)) else {
        return policy;
    };
    for (key, value) in table {
        let path = join("policy", key);
        match key.as_str() {
            "timeout" => {
                if let Some(timeout) = walker.duration(&path, value) {
                    policy.timeout = timeout;
                }
            }
            "retry" => policy.layers.retry = parse_retry(walker, &path, value),
            "breaker" => policy.layers.breaker = parse_breaker(walker, &path, value),
            "max_in_flight" => {
                policy.layers.max_in_flight = count(walker, &path, value, 1).map(|n| n as usize);
            }
            _ => walker.unknown_key("policy", key, POLICY_KEYS, "in `[policy]`"),
        }
    }
    policy
}

/// `retry = false`, or `retry = { attempts, backoff, max_backoff, budget, budget_floor }`.
fn parse_retry(walker: &mut Walker<'_>, path: &str, value: &Value) -> Option<RetryPolicy> {
    let mut retry = RetryPolicy::default();
    let table = match value {
        Value::Boolean(false) => return None,
        Value::Boolean(true) => return Some(retry),
        other => walker.table(path, other)?,
    };
    for (key, value) in table {
        let path = join(path, key);
        match key.as_str() {
            "attempts" => {
                if let Some(n) = count(walker, &path, value, 1) {
                    retry.attempts = u32::try_from(n).unwrap_or(u32::MAX);
                }
            }
            "backoff" => {
                if let Some(base) = walker.duration(&path, value) {
                    retry.base = base;
                }
            }
            "max_backoff" => {
                if let Some(cap) = walker.duration(&path, value) {
                    retry.cap = cap;
                }
            }
            "budget" => {
                if let Some(ratio) = ratio(walker, &path, value) {
                    retry.budget_ratio = ratio;
                }
            }
            "budget_floor" => {
                if let Some(n) = count(walker, &path, value, 0) {
                    retry.budget_floor_per_second = u32::try_from(n).unwrap_or(u32::MAX);
                }
            }
            _ => walker.unknown_key(
                "policy.retry",
                key,
                RETRY_KEYS,
                "in `retry` (or write `retry = false` to turn retries off)",
            ),
        }
    }
    if retry.cap < retry.base {
        walker.report_fix(
            ProblemKind::InvalidValue,
            &join(path, "max_backoff"),
            format!(
                "`max_backoff` ({:?}) is shorter than `backoff` ({:?})",
                retry.cap, retry.base
            ),
            "make `max_backoff` at least `backoff`",
        );
    }
    Some(retry)
}

/// `breaker = false`, or `breaker = { failures, open_for }`.
fn parse_breaker(walker: &mut Walker<'_>, path: &str, value: &Value) -> Option<BreakerPolicy> {
    let mut breaker = BreakerPolicy::default();
    let table = match value {
        Value::Boolean(false) => return None,
        Value::Boolean(true) => return Some(breaker),
        other => walker.table(path, other)?,
    };
    for (key, value) in table {
        let path = join(path, key);
        match key.as_str() {
            "failures" => {
                if let Some(n) = count(walker, &path, value, 1) {
                    breaker.failures = u32::try_from(n).unwrap_or(u32::MAX);
                }
            }
            "open_for" => {
                if let Some(open_for) = walker.duration(&path, value) {
                    breaker.open_for = open_for;
                }
            }
            _ => walker.unknown_key(
                "policy.breaker",
                key,
                BREAKER_KEYS,
                "in `breaker` (or write `breaker = false` to turn the breaker off)",
            ),
        }
    }
    Some(breaker)
}

/// `value` as a whole number of at least `least`.
fn count(walker: &mut Walker<'_>, path: &str, value: &Value, least: i64) -> Option<u64> {
    match value {
        Value::Integer(n) if *n >= least => u64::try_from(*n).ok(),
        Value::Integer(n) => {
            walker.report_fix(
                ProblemKind::InvalidValue,
                path,
                format!("{n} is too small here"),
                format!("write a whole number of at least {least}"),
            );
            None
        }
        other => {
            walker.report_fix(
                ProblemKind::WrongType,
                path,
                format!(
                    "expected a whole number, found {}",
                    super::walk::describe(other)
                ),
                format!("write a whole number of at least {least}, without quotes"),
            );
            None
        }
    }
}

/// `value` as a fraction between 0 and 1 (integers 0 and 1 allowed).
fn ratio(walker: &mut Walker<'_>, path: &str, value: &Value) -> Option<f64> {
    let ratio = match value {
        Value::Float(f) => *f,
        Value::Integer(n) => *n as f64,
        other => {
            walker.report_fix(
                ProblemKind::WrongType,
                path,
                format!("expected a number, found {}", super::walk::describe(other)),
                "write the share of extra calls retries may add, such as `0.1` for 10%",
            );
            return None;
        }
    };
    if !(0.0..=1.0).contains(&ratio) {
        walker.report_fix(
            ProblemKind::InvalidValue,
            path,
            format!("{ratio} is not between 0 and 1"),
            "write the share of extra calls retries may add, such as `0.1` for 10%",
        );
        return None;
    }
    Some(ratio)
}

/// The call timeout when `[policy]` sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
