//! The relay lease: one row per record entity naming the relay that delivers its changes and
//! until when. A relay takes it when it is free or expired, renews it before every batch, and
//! gives it up when it stops; another relay waits. Cursor moves check the lease in the same
//! statement, so a relay that lost it (paused past its expiry) moves nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use polyroute_adapters::{Result, Value};

use super::change::now_ms;
use super::sql;
use crate::handles::Relational;

/// A relay's identity and its lease on one entity.
#[derive(Clone, Debug)]
pub(crate) struct Lease {
    entity: String,
    owner: String,
    length: Duration,
}

impl Lease {
    /// A lease on `entity` for a new owner id (process id, time and a counter: unique per
    /// relay), lasting `length` unless renewed.
    pub(crate) fn new(entity: &str, length: Duration) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let owner = format!(
            "{}-{}-{}",
            std::process::id(),
            now_ms(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Lease {
            entity: entity.to_owned(),
            owner,
            length,
        }
    }

    /// The owner id.
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    /// Takes or renews the lease; whether this relay holds it now.
    pub(crate) async fn acquire(&self, sor: &Relational) -> Result<bool> {
        let now = now_ms();
        let until = now.saturating_add(i64::try_from(self.length.as_millis()).unwrap_or(i64::MAX));
        let changed = sor
            .execute(
                sql::LEASE,
                &[
                    Value::Text(self.entity.clone()),
                    Value::Text(self.owner.clone()),
                    Value::Int(until),
                    Value::Int(now),
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Gives the lease up (if held), so another relay need not wait for it to expire.
    pub(crate) async fn release(&self, sor: &Relational) -> Result<()> {
        sor.execute(
            sql::RELEASE,
            &[
                Value::Text(self.entity.clone()),
                Value::Text(self.owner.clone()),
            ],
        )
        .await
        .map(drop)
    }
}
