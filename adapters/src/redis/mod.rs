//! The Redis key-value backend (cargo feature `redis`).
//!
//! An entity's key `k` is the Redis key `{key_prefix}{entity}:{k}`: the entity is an identifier,
//! so it cannot contain the `:` separator and two entities never share a key. Values are stored
//! as Redis strings, byte for byte; counters as decimal text, which `INCRBY` reads and writes.
//!
//! Connections are multiplexed (many calls in flight on one connection), pooled with deadpool,
//! and every connection is opened with a connect timeout and answers within a response timeout,
//! so an unreachable or stalled server fails calls as unavailable or timed out, never hangs them.
//!
//! A `rediss://` URL connects over TLS (rustls), verifying the server's certificate against
//! `ca_file` or the system's trust store and its name against the URL's host; `#insecure` is
//! refused when the config is read.

mod key_value;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{
    AsyncConnectionConfig, Client, ClientTlsConfig, ConnectionAddr, ConnectionInfo,
    IntoConnectionInfo, RedisError, TlsCertificates,
};
use async_trait::async_trait;
use deadpool::managed::{self, Metrics, Object, Pool, PoolError, RecycleResult, Timeouts};
use deadpool::Runtime;
use serde::Deserialize;

use crate::backend::{Backend, BackendDescriptor};
use crate::kinds::key_value::KeyValueStore;
use crate::store::{wrong_settings, ConnectContext};
use crate::tls::PemFile;
use crate::units::ConfigDuration;
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind,
};

/// Options of a Redis store (`[stores.NAME]` with `backend = "redis"`), checked as a whole
/// when the config is read.
#[derive(Clone, Deserialize)]
#[serde(try_from = "Options")]
pub struct Config {
    /// Connection URL, such as `redis://:password@host:6379/0`, or `rediss://…` for TLS
    /// (required). Never shown in debug output or errors.
    pub url: String,
    /// Connections in the pool (default 4); each carries many concurrent calls.
    pub pool: usize,
    /// Written before every key (default empty), to share one Redis between applications.
    pub key_prefix: String,
    /// How long opening a connection, or waiting for a pooled one, may take (default `5s`).
    pub connect_timeout: ConfigDuration,
    /// How long a command may wait for its answer before failing as a timeout (default `5s`).
    pub response_timeout: ConfigDuration,
    /// With a `rediss://` URL: the CA certificates (PEM) to verify the server with, instead of
    /// the system's trust store.
    pub ca_file: Option<PathBuf>,
    /// With a `rediss://` URL: the client's certificate chain (PEM), for servers that
    /// authenticate clients by certificate (`tls-auth-clients yes`); with `client_key`.
    pub client_cert: Option<PathBuf>,
    /// The private key (PEM) of `client_cert`.
    pub client_key: Option<PathBuf>,
}

/// The options as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    url: String,
    #[serde(default = "default_pool")]
    pool: usize,
    #[serde(default)]
    key_prefix: String,
    #[serde(default = "default_timeout")]
    connect_timeout: ConfigDuration,
    #[serde(default = "default_timeout")]
    response_timeout: ConfigDuration,
    #[serde(default)]
    ca_file: Option<PathBuf>,
    #[serde(default)]
    client_cert: Option<PathBuf>,
    #[serde(default)]
    client_key: Option<PathBuf>,
}

impl TryFrom<Options> for Config {
    type Error = String;

    fn try_from(options: Options) -> std::result::Result<Self, String> {
        let info = connection_info(&options.url)?;
        let tls = match info.addr {
            ConnectionAddr::TcpTls { insecure: true, .. } => {
                return Err(
                    "`url` ends in `#insecure`, which turns certificate verification off; remove it, and set `ca_file` to the CA that signed the server's certificate".to_owned(),
                )
            }
            ConnectionAddr::TcpTls { .. } => true,
            _ => false,
        };
        crate::tls::check_files(
            tls,
            "write the URL as rediss://",
            options.ca_file.as_deref(),
            options.client_cert.as_deref(),
            options.client_key.as_deref(),
        )?;
        Ok(Config {
            url: options.url,
            pool: options.pool,
            key_prefix: options.key_prefix,
            connect_timeout: options.connect_timeout,
            response_timeout: options.response_timeout,
            ca_file: options.ca_file,
            client_cert: options.client_cert,
            client_key: options.client_key,
        })
    }
}

/// The URL read by the client; the message never repeats it (it may hold a password).
fn connection_info(url: &str) -> std::result::Result<ConnectionInfo, String> {
    url.into_connection_info().map_err(|err| {
        format!(
            "`url` is not a valid Redis URL ({}); write it as redis://:password@host:6379/0, or rediss://… for TLS",
            err.detail().unwrap_or("unparseable")
        )
    })
}

impl Config {
    /// The options' relative file names resolved against the config file's folder.
    pub(crate) fn resolve_paths(mut self, context: &ConnectContext) -> Self {
        crate::tls::resolve_files(
            context,
            [
                &mut self.ca_file,
                &mut self.client_cert,
                &mut self.client_key,
            ],
        );
        self
    }

    /// The client for the URL: with TLS (`rediss://`), trusting `ca_file` (else the system's
    /// trust store) and presenting `client_cert`. Reads and checks the files now, so a missing
    /// or malformed one fails naming its option.
    fn client(&self) -> Result<Client> {
        let info = connection_info(&self.url).map_err(StoreError::invalid)?;
        if !matches!(info.addr, ConnectionAddr::TcpTls { .. }) {
            return Client::open(info).map_err(|err| StoreError::invalid(err.to_string()));
        }
        let root_cert = match &self.ca_file {
            Some(path) => Some(checked_pem(PemFile::new("ca_file", path), |f| {
                f.certificates().map(drop)
            })?),
            None => None,
        };
        let client_tls = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => Some(ClientTlsConfig {
                client_cert: checked_pem(PemFile::new("client_cert", cert), |f| {
                    f.certificates().map(drop)
                })?,
                client_key: checked_pem(PemFile::new("client_key", key), |f| {
                    f.private_key().map(drop)
                })?,
            }),
            _ => None,
        };
        // The client builds its rustls configuration with the process's default crypto
        // provider, which rustls cannot pick once two are compiled in (ScyllaDB's driver brings
        // aws-lc-rs): make it ring (what this crate's TLS uses) unless the program chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Client::build_with_tls(
            info,
            TlsCertificates {
                client_tls,
                root_cert,
            },
        )
        .map_err(|err| StoreError::invalid(format!("cannot set up TLS to Redis: {err}")))
    }
}

/// The bytes of `file`, once `check` found what it must hold.
fn checked_pem(file: PemFile, check: impl Fn(&PemFile) -> Result<()>) -> Result<Vec<u8>> {
    check(&file)?;
    file.read()
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
            .field("ca_file", &self.ca_file)
            .field("client_cert", &self.client_cert)
            .field("client_key", &self.client_key)
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
    if err.is_io_error() {
        if let Some(tls) = crate::tls::explain_any(&err, "ca_file") {
            return StoreError::Unavailable {
                message: format!("Redis connection failed: {tls}"),
                source: Some(Box::new(err)),
            };
        }
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
        let client = config.client()?;
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

/// The Redis backend, as the registry lists it.
pub const BACKENDS: &[BackendDescriptor] = &[BackendDescriptor::of::<RedisKeyValue>(
    StoreKind::KeyValue,
    "redis",
    "Redis, pooled, with native TTLs and pipelined batches",
)];

impl Backend for RedisKeyValue {
    type Config = Config;

    async fn connect(
        _: StoreKind,
        config: Config,
        context: &ConnectContext,
    ) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(
            RedisKeyValue::open(config.resolve_paths(context)).await?,
        ))
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

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::KeyValue(_) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        let handle: Arc<dyn KeyValueStore> = Arc::new(key_value::Keys::new(
            self.pool.clone(),
            format!("{}{}:", self.key_prefix, entity.name),
        ));
        Ok(EntityHandle::KeyValue(handle))
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

    fn refused(options: serde_json::Value) -> String {
        match serde_json::from_value::<Config>(options.clone()) {
            Ok(_) => panic!("{options} was accepted"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn tls_urls_and_files_are_checked_when_the_config_is_read() {
        let config: Config = serde_json::from_value(json!({
            "url": "rediss://:pw@cache.example:6380/0",
            "ca_file": "ca.pem", "client_cert": "c.pem", "client_key": "k.pem"
        }))
        .unwrap();
        let config = config.resolve_paths(&ConnectContext {
            base_dir: "/etc/app".into(),
            ..Default::default()
        });
        assert_eq!(config.ca_file, Some(PathBuf::from("/etc/app/ca.pem")));

        let err = refused(json!({"url": "rediss://h:6380/#insecure"}));
        assert!(
            err.contains("#insecure") && err.contains("ca_file"),
            "{err}"
        );
        let err = refused(json!({"url": "redis://h", "ca_file": "ca.pem"}));
        assert!(
            err.contains("ca_file") && err.contains("rediss://"),
            "{err}"
        );
        let err = refused(json!({"url": "rediss://h", "client_key": "k.pem"}));
        assert!(err.contains("client_cert"), "{err}");
        let err = refused(json!({"url": "http://:hunter2@h"}));
        assert!(
            err.contains("not a valid Redis URL") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_missing_ca_file_fails_the_open_naming_it() {
        let config: Config = serde_json::from_value(json!({
            "url": "rediss://127.0.0.1:1", "ca_file": "/nonexistent/ca.pem"
        }))
        .unwrap();
        let err = RedisKeyValue::open(config).await.unwrap_err().to_string();
        assert!(
            err.contains("`ca_file`") && err.contains("/nonexistent/ca.pem"),
            "{err}"
        );
    }
}
