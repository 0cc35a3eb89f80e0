//! One entity's keys on Redis: each operation is one command (or one pipelined `MULTI`/`EXEC`
//! for batches), so every operation is a single round trip and atomic.

use std::time::Duration;

use ::redis::{cmd, pipe, Cmd};
use async_trait::async_trait;
use bytes::Bytes;

use super::RedisPool;
use crate::kinds::key_value::{check_key, check_keys, KeyValueStore, SetCondition, SetOptions};
use crate::{Result, StoreError};

/// One entity's view of the server: its keys under `prefix`.
pub(super) struct Keys {
    pool: RedisPool,
    prefix: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKeys")
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// A TTL in whole milliseconds for `PX`, rounded up so a sub-millisecond TTL still expires;
/// zero is invalid.
fn ttl_millis(ttl: Option<Duration>) -> Result<Option<u64>> {
    match ttl {
        None => Ok(None),
        Some(ttl) if ttl.is_zero() => Err(StoreError::invalid(
            "ttl must be more than zero; omit it to keep the entry until deleted",
        )),
        Some(ttl) => u64::try_from(ttl.as_nanos().div_ceil(1_000_000))
            .ok()
            .filter(|ms| *ms < i64::MAX as u64 / 2)
            .map(Some)
            .ok_or_else(|| StoreError::invalid(format!("ttl {ttl:?} is too large"))),
    }
}

impl Keys {
    pub(super) fn new(pool: RedisPool, prefix: String) -> Self {
        Keys { pool, prefix }
    }

    fn key(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.prefix.len() + key.len());
        full.push_str(&self.prefix);
        full.push_str(key);
        full
    }

    /// `SET key value [PX ms]`.
    fn set_command(&self, key: &str, value: &[u8], ttl: Option<u64>) -> Cmd {
        let mut command = cmd("SET");
        command.arg(self.key(key)).arg(value);
        if let Some(ms) = ttl {
            command.arg("PX").arg(ms);
        }
        command
    }
}

#[async_trait]
impl KeyValueStore for Keys {
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        check_key(key)?;
        let value: Option<Vec<u8>> = self.pool.query(cmd("GET").arg(self.key(key))).await?;
        Ok(value.map(Bytes::from))
    }

    async fn set(&self, key: &str, value: Bytes, options: SetOptions) -> Result<bool> {
        check_key(key)?;
        let mut command = self.set_command(key, &value, ttl_millis(options.ttl)?);
        match options.condition {
            SetCondition::Always => {}
            SetCondition::IfAbsent => {
                command.arg("NX");
            }
            SetCondition::IfPresent => {
                command.arg("XX");
            }
        }
        // `OK` when written, nil when the condition prevented it.
        let answer: Option<String> = self.pool.query(&command).await?;
        Ok(answer.is_some())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        check_key(key)?;
        let removed: i64 = self.pool.query(cmd("DEL").arg(self.key(key))).await?;
        Ok(removed > 0)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        check_keys(keys.iter().map(String::as_str))?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut command = cmd("MGET");
        for key in keys {
            command.arg(self.key(key));
        }
        let values: Vec<Option<Vec<u8>>> = self.pool.query(&command).await?;
        if values.len() != keys.len() {
            return Err(StoreError::backend(format!(
                "MGET of {} keys answered {} values",
                keys.len(),
                values.len()
            )));
        }
        Ok(values.into_iter().map(|v| v.map(Bytes::from)).collect())
    }

    async fn set_many(&self, entries: Vec<(String, Bytes)>, ttl: Option<Duration>) -> Result<()> {
        check_keys(entries.iter().map(|(key, _)| key.as_str()))?;
        let ttl = ttl_millis(ttl)?;
        if entries.is_empty() {
            return Ok(());
        }
        let mut batch = pipe();
        batch.atomic();
        for (key, value) in &entries {
            batch
                .add_command(self.set_command(key, value, ttl))
                .ignore();
        }
        self.pool.query::<()>(&batch).await
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64> {
        check_key(key)?;
        let result = self
            .pool
            .query(cmd("INCRBY").arg(self.key(key)).arg(delta))
            .await;
        result.map_err(|err| {
            let text = err.to_string();
            if text.contains("overflow") {
                StoreError::invalid(format!(
                    "incrementing `{key}` by {delta} overflows a 64-bit integer"
                ))
            } else if text.contains("not an integer") {
                StoreError::invalid(format!(
                    "`{key}` holds a value that is not a decimal integer, so it cannot be incremented"
                ))
            } else {
                err
            }
        })
    }
}
