//! Outbox propagation: a record entity's changes, written in the same transaction as its rows,
//! delivered to its derived entities by a relay.
//!
//! One module per job: [`sql`] (every statement, per dialect), [`change`] (an outbox entry),
//! [`apply`] (applying one change to one target, idempotently), [`relay`] (delivery to one
//! target: batches, retries, dead letters, parking), [`lease`] (one relay per entity),
//! [`metrics`] (gauges and counters). [`Outbox`] is the handle: `relay_once`, `run`, `status`,
//! `replay`.

use std::future::Future;
use std::time::Duration;

use polyroute_adapters::{Result, Value};

mod apply;
mod change;
mod error;
mod lease;
mod metrics;
mod records;
mod relay;
pub(crate) mod sql;

pub use apply::{applying, Applying, KEY_FIELD, SEQ_FIELD};
pub use change::{Change, Op};
pub use error::{RecordError, RecordResult};
pub use records::{Records, Session, Written};
pub use relay::RelayReport;

pub(crate) use apply::DerivedHandle;
pub(crate) use change::{first_row, key_text, now_ms, seq_value};

use crate::config::Propagation;
use crate::handles::Relational;
use change::first_u64;
use lease::Lease;
use relay::Delivery;

/// Where one derived entity stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetStatus {
    /// The derived entity.
    pub target: String,
    /// The last change delivered (or dead-lettered) to it.
    pub cursor: u64,
    /// Changes after the cursor.
    pub pending: u64,
    /// Age of the oldest pending change (zero when none is).
    pub lag: Duration,
    /// Changes in the dead-letter table (including those marked for replay).
    pub dead_letters: u64,
}

/// The outbox of one record entity: its relay and its state. Get it with
/// [`Router::outbox`](crate::Router::outbox). Each handle is one relay identity: its lease is its own.
#[derive(Debug)]
pub struct Outbox {
    entity: String,
    sor: Relational,
    settings: Propagation,
    targets: Vec<(String, DerivedHandle)>,
    lease: Lease,
}

impl Outbox {
    /// The outbox of `entity`, stored in `sor`, delivering to `targets` (the handles of the
    /// entities `settings.to` names, in that order).
    pub(crate) fn new(
        entity: &str,
        sor: Relational,
        settings: Propagation,
        targets: Vec<(String, DerivedHandle)>,
    ) -> Self {
        Outbox {
            entity: entity.to_owned(),
            lease: Lease::new(entity, settings.lease),
            sor,
            settings,
            targets,
        }
    }

    /// The record entity.
    pub fn entity(&self) -> &str {
        &self.entity
    }

    /// The derived entities, in `propagate.to` order.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.targets.iter().map(|(name, _)| name.as_str())
    }

    /// Delivers everything pending to every target (replays first), if this relay gets the
    /// entity's lease; otherwise does nothing and says so (`lease_busy`). Updates the metrics.
    pub async fn relay_once(&self) -> RecordResult<RelayReport> {
        if !self.lease.acquire(&self.sor).await? {
            return Ok(RelayReport {
                lease_busy: true,
                ..RelayReport::default()
            });
        }
        let mut report = RelayReport::default();
        for (name, target) in &self.targets {
            let delivery = Delivery {
                entity: &self.entity,
                sor: &self.sor,
                settings: &self.settings,
                lease: &self.lease,
                name,
                target,
            };
            report.add(delivery.run().await?);
        }
        self.status().await?;
        Ok(report)
    }

    /// Relays until `shutdown` resolves: a round, then a pause of `poll_interval` (none after
    /// a round that did work). A failed round is logged and tried again after the pause. Gives
    /// the lease up on the way out.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let pause = match self.relay_once().await {
                Ok(report) if report.handled() > 0 => Duration::ZERO,
                Ok(_) => self.settings.poll_interval,
                Err(error) => {
                    tracing::warn!(entity = %self.entity, %error, "outbox relay round failed");
                    self.settings.poll_interval
                }
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        if let Err(error) = self.lease.release(&self.sor).await {
            tracing::warn!(entity = %self.entity, %error, "cannot release the outbox lease");
        }
    }

    /// Per target: cursor, pending changes, lag and dead letters. Sets the gauges.
    pub async fn status(&self) -> RecordResult<Vec<TargetStatus>> {
        let mut out = Vec::with_capacity(self.targets.len());
        for (name, _) in &self.targets {
            let cursor = self.cursor(name).await?;
            let rows = self
                .sor
                .query(sql::PENDING, &[self.text(&self.entity), seq_value(cursor)])
                .await?;
            let pending = first_u64(&rows);
            let oldest = rows
                .rows
                .first()
                .and_then(|row| row.get(1))
                .and_then(Value::as_i64);
            let lag = match oldest {
                Some(created) if pending > 0 => Duration::from_millis(
                    u64::try_from(now_ms().saturating_sub(created)).unwrap_or(0),
                ),
                _ => Duration::ZERO,
            };
            let mut dead_letters = 0;
            for state in ["dead", "replay"] {
                dead_letters += first_u64(
                    &self
                        .sor
                        .query(
                            sql::DEAD_COUNT,
                            &[self.text(&self.entity), self.text(name), self.text(state)],
                        )
                        .await?,
                );
            }
            let status = TargetStatus {
                target: name.clone(),
                cursor,
                pending,
                lag,
                dead_letters,
            };
            metrics::status(&self.entity, &status);
            out.push(status);
        }
        Ok(out)
    }

    /// Marks the dead letters of `target` (every target when `None`) for delivery again; the
    /// next round delivers them in order, before newer changes. Returns how many were marked.
    pub async fn replay(&self, target: Option<&str>) -> RecordResult<u64> {
        if let Some(target) = target {
            self.check_target(target)?;
        }
        let mut marked = 0;
        for (name, _) in &self.targets {
            if target.is_some_and(|wanted| wanted != name) {
                continue;
            }
            marked += self
                .sor
                .execute(sql::REPLAY, &[self.text(&self.entity), self.text(name)])
                .await?;
        }
        Ok(marked)
    }

    /// The last change delivered to `target`.
    pub async fn cursor(&self, target: &str) -> RecordResult<u64> {
        self.check_target(target)?;
        Ok(first_u64(
            &self
                .sor
                .query(sql::CURSOR, &[self.text(&self.entity), self.text(target)])
                .await?,
        ))
    }

    fn check_target(&self, target: &str) -> RecordResult<()> {
        if self.targets.iter().any(|(name, _)| name == target) {
            Ok(())
        } else {
            Err(RecordError::UnknownTarget {
                entity: self.entity.clone(),
                target: target.to_owned(),
                known: self.targets().map(str::to_owned).collect(),
            })
        }
    }

    fn text(&self, text: &str) -> Value {
        Value::Text(text.to_owned())
    }
}

/// Creates the outbox tables on `sor`'s store (if absent) and the rows of `entity` and its
/// `targets`.
pub(crate) async fn install(sor: &Relational, entity: &str, targets: &[String]) -> Result<()> {
    sor.execute_script(&sql::schema(sor.dialect())).await?;
    let entity = Value::Text(entity.to_owned());
    sor.execute(sql::INIT_SEQ, std::slice::from_ref(&entity))
        .await?;
    for target in targets {
        sor.execute(
            sql::INIT_CURSOR,
            &[entity.clone(), Value::Text(target.clone())],
        )
        .await?;
    }
    Ok(())
}
