//! The Redis key-value backend (cargo feature `redis`).
//!
//! An entity's key `k` is the Redis key `{key_prefix}{entity}:{k}`: the entity is an identifier,
//! so it cannot contain the `:` separator and two entities never share a key. Values are stored
//! as Redis strings, byte for byte; counters as decimal text, which `INCRBY` reads and writes.
//!
//! Connections are multiplexed (many calls in flight on one connection), pooled with deadpool,
//! and every connection is opened with a connect timeout and answers within a response timeout,
//! so an unreachable or stalled server fails calls as unavailable or timed out, never hangs them.

mod key_value;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, RedisError};
use async_trait::async_trait;
use deadpool::managed::{self, Metrics, Object, Pool, PoolError, RecycleResult, Timeouts};
use deadpool::Runtime;
use serde::Deserialize;

use crate::kinds::key_value::KeyValueStore;
use crate::store::wrong_settings;
use crate::units::ConfigDuration;
use crate::{
    Capabilities, EntitySettings, EntitySpec, Result, Store, StoreError, StoreHandle, StoreInfo,
    StoreKind,
};

/// Options of a Redis store (`[stores.NAME]` with `backend = "redis"`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Connection URL, such as `redis://:password@host:6379/0` (required). Never shown in debug
    /// output or errors.
    pub url: String,
    /// Connections in the pool (default 4); each carries many concurrent calls.
    #[serde(default = "default_pool")]
    pub pool: usize,
    /// Written before every key (default empty), to share one Redis between applications.
    #[serde(default)]
    pub key_prefix: String,
    /// How long opening a connection, or waiting for a pooled one, may take (default `5s`).
    #[serde(default = "default_timeout")]
    pub connect_timeout: ConfigDuration,
    /// How long a command may wait for its answer before failing as a timeout (default `5s`).
    #[serde(default = "default_timeout")]
    pub response_timeout: ConfigDuration,
}

fn default_pool() -> usize {
    4
}

fn default_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(5))
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("url", &"<redacted>")
            .field("pool", &self.pool)
            .field("key_prefix", &self.key_prefix)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .finish()
    }
}

/// Opens multiplexed connections with the configured timeouts. Recycling costs nothing: a
/// connection that failed at the transport level is taken out of the pool by the call that saw
/// the failure.
struct Manager {
    client: Client,
    timeouts: AsyncConnectionConfig,
}

impl managed::Manager for Manager {
    type Type = MultiplexedConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<MultiplexedConnection, RedisError> {
        self.client
            .get_multiplexed_async_connection_with_config(&self.timeouts)
            .await
    }

    async fn recycle(
        &self,
        _: &mut MultiplexedConnection,
        _: &Metrics,
    ) -> RecycleResult<RedisError> {
        Ok(())
    }
}

/// A pool of connections to one Redis server.
#[derive(Clone)]
pub(crate) struct RedisPool {
    pool: Pool<Manager>,
    response_timeout: Duration,
}

impl RedisPool {
    async fn connection(&self) -> Result<Object<Manager>> {
        self.pool.get().await.map_err(|err| match err {
            PoolError::Backend(err) => map_error(err, self.response_timeout),
            other => StoreError::Unavailable {
                message: format!("no Redis connection within connect_timeout: {other}"),
                source: Some(Box::new(other)),
            },
        })
    }

    /// Runs `cmd` (a command or a pipeline) on a pooled connection.
    pub(crate) async fn query<T: ::redis::FromRedisValue>(
        &self,
        cmd: &(impl Queryable + ?Sized),
    ) -> Result<T> {
        let mut conn = self.connection().await?;
        match cmd.run(&mut conn).await {
            Ok(value) => Ok(value),
            Err(err) => {
                if err.is_io_error() || err.is_connection_dropped() || err.is_unrecoverable_error()
                {
                    drop(Object::take(conn));
                }
                Err(map_error(err, self.response_timeout))
            }
        }
    }
}

/// A command or a pipeline.
pub(crate) trait Queryable: Sync {
    /// Sends it and reads the answer.
    fn run<T: ::redis::FromRedisValue>(
        &self,
        conn: &mut MultiplexedConnection,
    ) -> impl std::future::Future<Output = ::redis::RedisResult<T>> + Send;
}

impl Queryable for ::redis::Cmd {
    async fn run<T: ::redis::FromRedisValue>(
        &self,
        conn: &mut MultiplexedConnection,
    ) -> ::redis::RedisResult<T> {
        self.query_async(conn).await
    }
}

impl Queryable for ::redis::Pipeline {
    async fn run<T: ::redis::FromRedisValue>(
        &self,
        conn: &mut MultiplexedConnection,
    ) -> ::redis::RedisResult<T> {
        self.query_async(conn).await
    }
}

/// Maps a Redis error, keeping it as the source.
pub(crate) fn map_error(err: RedisError, response_timeout: Duration) -> StoreError {
    if err.is_timeout() {
        return StoreError::Timeout {
            after: response_timeout,
        };
    }
    if err.is_io_error() || err.is_connection_refusal() || err.is_connection_dropped() {
        return StoreError::Unavailable {
            message: format!("Redis connection failed: {err}"),
            source: Some(Box::new(err)),
        };
    }
    match err.code() {
        Some("WRONGTYPE") => StoreError::InvalidRequest {
            message: format!("a key holds another Redis type than a string: {err}"),
            source: Some(Box::new(err)),
        },
        Some("LOADING" | "BUSY" | "TRYAGAIN" | "CLUSTERDOWN" | "MASTERDOWN" | "READONLY") => {
            StoreError::Unavailable {
                message: format!("Redis is not serving: {err}"),
                source: Some(Box::new(err)),
            }
        }
        Some("NOAUTH" | "WRONGPASS") => StoreError::Unavailable {
            message: format!("Redis refused the credentials: {err}"),
            source: Some(Box::new(err)),
        },
        _ => StoreError::Backend {
            message: format!("Redis: {err}"),
            source: Some(Box::new(err)),
        },
    }
}

/// A Redis server holding key-value entities under their prefixes.
#[derive(Clone)]
pub struct RedisKeyValue {
    pool: RedisPool,
    key_prefix: Arc<str>,
}

impl fmt::Debug for RedisKeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.pool.status();
        f.debug_struct("RedisKeyValue")
            .field("key_prefix", &self.key_prefix)
            .field("size", &status.size)
            .field("max_size", &status.max_size)
            .finish()
    }
}

impl RedisKeyValue {
    /// Builds the pool and checks the server answers.
    pub async fn open(config: Config) -> Result<Self> {
        if config.pool == 0 {
            return Err(StoreError::invalid("pool must be at least 1 connection"));
        }
        // The parser's message never repeats the URL (which may hold a password).
        let client = Client::open(config.url.as_str()).map_err(|err| {
            StoreError::invalid(format!(
                "option `url` is not a valid Redis URL ({}); write it as redis://:password@host:6379/0",
                err.detail().unwrap_or("unparseable")
            ))
        })?;
        let (connect, response) = (config.connect_timeout.0, config.response_timeout.0);
        let manager = Manager {
            client,
            timeouts: AsyncConnectionConfig::new()
                .set_connection_timeout(connect)
                .set_response_timeout(response),
        };
        let pool = Pool::builder(manager)
            .max_size(config.pool)
            .timeouts(Timeouts {
                wait: Some(connect),
                create: Some(connect),
                recycle: Some(connect),
            })
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|err| StoreError::backend_with("cannot build the Redis pool", err))?;
        let store = RedisKeyValue {
            pool: RedisPool {
                pool,
                response_timeout: response,
            },
            key_prefix: config.key_prefix.into(),
        };
        store.ping().await?;
        Ok(store)
    }
}

#[async_trait]
impl Store for RedisKeyValue {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::KeyValue,
            backend: "redis",
            capabilities: Capabilities {
                ttl: true,
                atomic_increment: true,
                batch_writes: true,
                // Persistence and eviction are server settings this client cannot see; the
                // default (no persistence guarantee per write) is what is reported.
                durable: false,
                ..Capabilities::default()
            },
        }
    }

    async fn open(&self, entity: &EntitySpec) -> Result<StoreHandle> {
        let EntitySettings::KeyValue(_) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        let handle: Arc<dyn KeyValueStore> = Arc::new(key_value::Keys::new(
            self.pool.clone(),
            format!("{}{}:", self.key_prefix, entity.name),
        ));
        Ok(StoreHandle::KeyValue(handle))
    }

    async fn ping(&self) -> Result<()> {
        let answer: String = self.pool.query(&::redis::cmd("PING")).await?;
        if answer == "PONG" {
            Ok(())
        } else {
            Err(StoreError::backend(format!(
                "Redis answered `{answer}` to PING"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_have_defaults_and_hide_the_url() {
        let config: Config =
            serde_json::from_value(json!({"url": "redis://:hunter2@localhost"})).unwrap();
        assert_eq!(config.pool, 4);
        assert_eq!(config.key_prefix, "");
        assert_eq!(config.response_timeout.0, Duration::from_secs(5));
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(serde_json::from_value::<Config>(json!({"url": "x", "ttl": 1})).is_err());
    }
}
