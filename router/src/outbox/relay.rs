//! Delivery to one derived entity: replays first, then the changes after its cursor, in
//! sequence order, in batches; each change applied with bounded retries, dead-lettered when it
//! keeps failing, and every later change of a dead-lettered key parked behind it.

use std::collections::BTreeMap;
use std::time::Duration;

use polyroute_adapters::{Result, StoreError, Value};

use super::apply::{decide, Decision, DerivedHandle};
use super::change::{first_u64, now_ms, seq_value, Change, Op};
use super::error::{RecordError, RecordResult};
use super::lease::Lease;
use super::{metrics, sql};
use crate::config::Propagation;
use crate::handles::Relational;

/// What one relay round did, summed over targets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayReport {
    /// Changes written to a target.
    pub applied: u64,
    /// Changes a target already held (redeliveries) or that a later delete made moot.
    pub skipped: u64,
    /// Changes that kept failing and went to the dead letters.
    pub dead_lettered: u64,
    /// Changes dead-lettered because an earlier change of their key is.
    pub parked: u64,
    /// Failed attempts (each retried or dead-lettered).
    pub failures: u64,
    /// Dead letters delivered by a replay.
    pub replayed: u64,
    /// The round did nothing because another relay holds the entity's lease.
    pub lease_busy: bool,
}

impl RelayReport {
    /// Changes that left the pending set (applied, skipped, dead-lettered or parked).
    pub fn handled(&self) -> u64 {
        self.applied + self.skipped + self.dead_lettered + self.parked
    }

    pub(crate) fn add(&mut self, other: RelayReport) {
        self.applied += other.applied;
        self.skipped += other.skipped;
        self.dead_lettered += other.dead_lettered;
        self.parked += other.parked;
        self.failures += other.failures;
        self.replayed += other.replayed;
        self.lease_busy |= other.lease_busy;
    }
}

/// Everything the delivery to one target needs.
pub(crate) struct Delivery<'a> {
    pub(crate) entity: &'a str,
    pub(crate) sor: &'a Relational,
    pub(crate) settings: &'a Propagation,
    pub(crate) lease: &'a Lease,
    pub(crate) name: &'a str,
    pub(crate) target: &'a DerivedHandle,
}

/// The outcome of trying one change.
enum Outcome {
    Applied,
    Skipped,
    Failed { attempts: u32, error: StoreError },
}

impl Delivery<'_> {
    fn ids(&self) -> [Value; 2] {
        [
            Value::Text(self.entity.to_owned()),
            Value::Text(self.name.to_owned()),
        ]
    }

    /// Delivers what is pending: replays, then batches until the cursor reaches the end.
    pub(crate) async fn run(&self) -> RecordResult<RelayReport> {
        let mut report = RelayReport::default();
        self.target.refresh().await?;
        report.add(self.replays().await?);
        loop {
            if !self.lease.acquire(self.sor).await? {
                return Err(RecordError::LeaseLost {
                    entity: self.entity.to_owned(),
                });
            }
            let (batch, full) = self.batch().await?;
            report.add(batch);
            if !full {
                break;
            }
        }
        metrics::delivered(self.entity, self.name, report.applied + report.skipped);
        metrics::failures(self.entity, self.name, report.failures);
        Ok(report)
    }

    /// Dead letters marked for replay, in order; a key that fails again parks its later ones.
    async fn replays(&self) -> RecordResult<RelayReport> {
        let mut report = RelayReport::default();
        let [entity, target] = self.ids();
        let rows = self
            .sor
            .query(sql::REPLAYS, &[entity.clone(), target.clone()])
            .await?;
        let mut failed: BTreeMap<String, u64> = BTreeMap::new();
        let mut applied: BTreeMap<String, Option<u64>> = BTreeMap::new();
        for row in &rows.rows {
            let Some(seq) = row.first().and_then(Value::as_i64) else {
                continue;
            };
            let found = self
                .sor
                .query(sql::CHANGE, &[entity.clone(), Value::Int(seq)])
                .await?;
            let Some(change) = Change::from_rows(&found)?.into_iter().next() else {
                // The change itself is gone: nothing left to deliver.
                self.sor
                    .execute(
                        sql::UNDEAD,
                        &[entity.clone(), target.clone(), Value::Int(seq)],
                    )
                    .await?;
                continue;
            };
            if let Some(first) = failed.get(&change.key) {
                self.dead_letter(
                    &change,
                    0,
                    &format!("parked behind change {first} of the same key"),
                )
                .await?;
                report.parked += 1;
                continue;
            }
            match self
                .attempt(&change, &mut applied, &mut report.failures)
                .await?
            {
                Outcome::Failed { attempts, error } => {
                    self.dead_letter(&change, attempts, &error.to_string())
                        .await?;
                    failed.insert(change.key.clone(), change.seq);
                    report.dead_lettered += 1;
                }
                outcome => {
                    self.sor
                        .execute(
                            sql::UNDEAD,
                            &[entity.clone(), target.clone(), Value::Int(seq)],
                        )
                        .await?;
                    report.replayed += 1;
                    if matches!(outcome, Outcome::Applied) {
                        report.applied += 1;
                    } else {
                        report.skipped += 1;
                    }
                }
            }
        }
        if !rows.rows.is_empty() {
            self.target.refresh().await?;
        }
        Ok(report)
    }

    /// One batch after the cursor; whether it was full (more may be pending).
    async fn batch(&self) -> RecordResult<(RelayReport, bool)> {
        let mut report = RelayReport::default();
        let [entity, target] = self.ids();
        let cursor = first_u64(
            &self
                .sor
                .query(sql::CURSOR, &[entity.clone(), target.clone()])
                .await?,
        );
        let limit = i64::try_from(self.settings.batch).unwrap_or(i64::MAX);
        let rows = self
            .sor
            .query(
                sql::CHANGES_AFTER,
                &[entity.clone(), seq_value(cursor), Value::Int(limit)],
            )
            .await?;
        let changes = Change::from_rows(&rows)?;
        let Some(last) = changes.last().map(|change| change.seq) else {
            return Ok((report, false));
        };
        let mut parked = self.parked_keys().await?;
        let mut applied: BTreeMap<String, Option<u64>> = BTreeMap::new();
        for change in &changes {
            if let Some(first) = parked.get(&change.key) {
                self.dead_letter(
                    change,
                    0,
                    &format!("parked behind change {first} of the same key"),
                )
                .await?;
                report.parked += 1;
                continue;
            }
            match self
                .attempt(change, &mut applied, &mut report.failures)
                .await?
            {
                Outcome::Applied => report.applied += 1,
                Outcome::Skipped => report.skipped += 1,
                Outcome::Failed { attempts, error } => {
                    self.dead_letter(change, attempts, &error.to_string())
                        .await?;
                    parked.insert(change.key.clone(), change.seq);
                    report.dead_lettered += 1;
                }
            }
        }
        // Visible before the cursor says delivered: read-your-writes relies on it.
        self.target.refresh().await?;
        let moved = self
            .sor
            .execute(
                sql::ADVANCE,
                &[
                    entity,
                    target,
                    seq_value(last),
                    Value::Text(self.lease.owner().to_owned()),
                ],
            )
            .await?;
        if moved == 0 {
            return Err(RecordError::LeaseLost {
                entity: self.entity.to_owned(),
            });
        }
        Ok((report, changes.len() >= self.settings.batch))
    }

    /// The keys with dead letters on this target, each with its first dead change.
    async fn parked_keys(&self) -> Result<BTreeMap<String, u64>> {
        let [entity, target] = self.ids();
        let rows = self.sor.query(sql::DEAD_KEYS, &[entity, target]).await?;
        Ok(rows
            .rows
            .iter()
            .filter_map(|row| {
                let key = row.first()?.as_str()?.to_owned();
                let seq = u64::try_from(row.get(1)?.as_i64()?).ok()?;
                Some((key, seq))
            })
            .collect())
    }

    /// Applies `change` unless already there, retrying passing failures with doubling pauses
    /// up to `attempts` in all. `applied` holds what this round wrote per key, which the
    /// target's reads may not show yet; `failures` counts failed attempts.
    async fn attempt(
        &self,
        change: &Change,
        applied: &mut BTreeMap<String, Option<u64>>,
        failures: &mut u64,
    ) -> Result<Outcome> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.try_once(change, applied).await {
                Ok(outcome) => return Ok(outcome),
                Err(error) => {
                    *failures += 1;
                    if attempts >= self.settings.attempts || !error.is_retryable() {
                        return Ok(Outcome::Failed { attempts, error });
                    }
                    tokio::time::sleep(backoff(self.settings.backoff, attempts)).await;
                }
            }
        }
    }

    async fn try_once(
        &self,
        change: &Change,
        applied: &mut BTreeMap<String, Option<u64>>,
    ) -> Result<Outcome> {
        let held = match applied.get(&change.key) {
            Some(held) => *held,
            None => self.target.held(&change.key).await?,
        };
        let deleted_later = if change.op == Op::Put && held.is_none() {
            let rows = self
                .sor
                .query(
                    sql::DELETED_LATER,
                    &[
                        Value::Text(self.entity.to_owned()),
                        Value::Text(change.key.clone()),
                        seq_value(change.seq),
                    ],
                )
                .await?;
            !rows.is_empty()
        } else {
            false
        };
        match decide(change.op, change.seq, held, deleted_later) {
            Decision::Skip => Ok(Outcome::Skipped),
            Decision::Apply => {
                self.target.apply(self.name, self.entity, change).await?;
                let now = (change.op == Op::Put).then_some(change.seq);
                applied.insert(change.key.clone(), now);
                Ok(Outcome::Applied)
            }
        }
    }

    async fn dead_letter(&self, change: &Change, attempts: u32, error: &str) -> Result<()> {
        let [entity, target] = self.ids();
        self.sor
            .execute(
                sql::DEAD_LETTER,
                &[
                    entity,
                    target,
                    seq_value(change.seq),
                    Value::Text(change.key.clone()),
                    Value::Int(i64::from(attempts)),
                    Value::Text(error.to_owned()),
                    Value::Int(now_ms()),
                ],
            )
            .await
            .map(drop)
    }
}

/// The pause before retry `n` (1-based): `base · 2ⁿ⁻¹`, at most 64 times `base`.
pub(crate) fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1 << attempt.saturating_sub(1).min(6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_bounded() {
        let base = Duration::from_millis(10);
        assert_eq!(backoff(base, 1), Duration::from_millis(10));
        assert_eq!(backoff(base, 2), Duration::from_millis(20));
        assert_eq!(backoff(base, 4), Duration::from_millis(80));
        assert_eq!(backoff(base, 40), Duration::from_millis(640));
    }
}
