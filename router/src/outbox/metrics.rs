//! The outbox's metrics, through the `metrics` facade (labels `entity` and `target`):
//! `polyroute_outbox_pending` (gauge: changes not yet delivered), `polyroute_outbox_lag_seconds`
//! (gauge: age of the oldest of them), `polyroute_outbox_delivered_total` (counter),
//! `polyroute_outbox_failures_total` (counter: failed attempts), `polyroute_outbox_dead_letters`
//! (gauge).

use super::TargetStatus;

/// Counts deliveries (applied or found already there) to `target`.
pub(crate) fn delivered(entity: &str, target: &str, count: u64) {
    if count > 0 {
        metrics::counter!("polyroute_outbox_delivered_total", "entity" => entity.to_owned(), "target" => target.to_owned())
            .increment(count);
    }
}

/// Counts failed attempts to apply a change to `target`.
pub(crate) fn failures(entity: &str, target: &str, count: u64) {
    if count > 0 {
        metrics::counter!("polyroute_outbox_failures_total", "entity" => entity.to_owned(), "target" => target.to_owned())
            .increment(count);
    }
}

/// Sets the gauges of one target from its status.
pub(crate) fn status(entity: &str, status: &TargetStatus) {
    let (entity, target) = (entity.to_owned(), status.target.clone());
    metrics::gauge!("polyroute_outbox_pending", "entity" => entity.clone(), "target" => target.clone())
        .set(status.pending as f64);
    metrics::gauge!("polyroute_outbox_lag_seconds", "entity" => entity.clone(), "target" => target.clone())
        .set(status.lag.as_secs_f64());
    metrics::gauge!("polyroute_outbox_dead_letters", "entity" => entity, "target" => target)
        .set(status.dead_letters as f64);
}
