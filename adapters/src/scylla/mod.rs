//! The ScyllaDB / Cassandra wide-column backend (cargo feature `scylla`).
//!
//! One keyspace per store (created with `CREATE KEYSPACE IF NOT EXISTS` and the configured
//! replication), one table per entity, `wc_<entity>`:
//!
//! ```cql
//! CREATE TABLE wc_events (pk blob, ck blob, ts bigint, cells map<text, blob>,
//!                         PRIMARY KEY ((pk), ck)) WITH CLUSTERING ORDER BY (ck ASC)
//! ```
//!
//! - `pk` is the order-preserving encoding of the partition key's values and `ck` that of the
//!   clustering key's (the encoding the embedded engine uses). The contract allows a key
//!   column to hold values of any keyable type, ordered by type then value, text by code
//!   point, floats in total order: no typed CQL column gives that order, but CQL orders blobs
//!   bytewise, and the encoding's byte order is the contract's. A prefix of a clustering key
//!   encodes to a byte prefix, so every slice bound is one `ck >= ?` or `ck < ?`.
//! - `cells` maps cell names to encoded values. Each map entry is a cell of its own in
//!   Cassandra's storage, with its own write timestamp and TTL, so the server merges cells
//!   last-write-wins exactly as the contract says: the newer timestamp wins; on equal
//!   timestamps a deletion wins, then the greater value bytes. The values are stored as the
//!   kind's ordered bytes (`kinds::wide_column::order`), whose byte order is the contract's
//!   `cell_order` (`128` over `127`, `"b"` over `"aa"`), so the server's tie-break is the one
//!   every backend applies; cells stored as `postcard` by earlier versions still read back. A
//!   null cell value is a `cells = cells - {name}` tombstone at the write's timestamp.
//! - The row marker (`INSERT` of the key) makes a row without cells exist, and carries the
//!   write's TTL, so a row is visible while its marker or a cell is live.
//! - `ts` is the newest write timestamp of the row (each write sets it to its own timestamp,
//!   so last-write-wins keeps the greatest): deletes read it to stamp the tombstone after a
//!   row written with a future timestamp.
//!
//! A write is one `UNLOGGED` batch of its row's statements, which share a partition and are
//! therefore one mutation, applied atomically and in isolation. `put_batch` sends one such
//! batch per partition (split at 10 000 rows or about 512 KiB; a larger row is sent statement
//! by statement): rows of one partition land together, a batch over several partitions is not
//! atomic (so `batch_writes` is not claimed). Every statement is prepared once per text
//! and marked idempotent (every write carries an explicit timestamp, so a retry writes the
//! same cells again).

mod cql;
mod error;
mod wide_column;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::client::PoolSize;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency, SerialConsistency, Statement};
use serde::Deserialize;

use crate::backend::{Backend, BackendDescriptor};
use crate::kinds::wide_column::clock::Clock;
use crate::kinds::wide_column::rules;
use crate::store::{wrong_settings, ConnectContext};
pub use crate::tls::TlsMode;
use crate::tls::{ClientTls, PemFile};
use crate::units::ConfigDuration;
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind,
};
pub use cql::MAX_NAME;

/// Options of a ScyllaDB / Cassandra store (`[stores.NAME]` with `backend = "scylla"`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Contact points, comma-separated `host:port` (required), such as
    /// `"10.0.0.1:9042,10.0.0.2:9042"`; the driver discovers the other nodes.
    pub url: Nodes,
    /// User name for password authentication (default: none).
    pub username: Option<String>,
    /// Password for password authentication; never shown in debug output or errors.
    pub password: Option<String>,
    /// The keyspace holding the entities' tables (default `"polyroute"`): 1 to 48 ASCII
    /// letters, digits or underscores, starting with a letter. Created if missing.
    #[serde(default = "default_keyspace")]
    pub keyspace: Name,
    /// The keyspace's replication strategy when it is created: `"simple"` (default,
    /// `SimpleStrategy`, one datacenter) or `"network_topology"` (`NetworkTopologyStrategy`:
    /// `replication_factor` replicas in `local_datacenter`, or in every datacenter if unset).
    #[serde(default)]
    pub replication_strategy: Strategy,
    /// Replicas of each row (default 1; 3 in production). Between 1 and 32.
    #[serde(default = "default_factor")]
    pub replication_factor: Factor,
    /// The datacenter this process runs in: requests go to its nodes first (token-aware
    /// within it) and never to other datacenters. Default: none, every node is local.
    pub local_datacenter: Option<Datacenter>,
    /// Consistency of reads (default `"local_quorum"`): `one`, `two`, `three`, `quorum`,
    /// `all`, `local_quorum`, `each_quorum` or `local_one`.
    #[serde(default = "default_read")]
    pub read_consistency: ReadConsistency,
    /// Consistency of writes and deletes (default `"local_quorum"`): the read levels or `any`.
    #[serde(default = "default_consistency")]
    pub write_consistency: Level,
    /// How long connecting may take, per connection and in all (default `"5s"`); a server
    /// that does not answer within it fails the connect as unavailable.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
    /// How long a request may wait for its answer before failing as a timeout (default
    /// `"10s"`).
    #[serde(default = "default_request_timeout")]
    pub request_timeout: ConfigDuration,
    /// Rows fetched per page of a slice (default 1000, at least 1).
    #[serde(default = "default_page_size")]
    pub page_size: PageSize,
    /// Connections per node (per shard on ScyllaDB; default 1).
    #[serde(default = "default_connections")]
    pub connections: Connections,
    /// Transport security (default `"disable"`): `"require"`, `"verify-ca"` or `"verify-full"`,
    /// as for PostgreSQL (see [`TlsMode`]). The driver connects to the addresses the nodes
    /// announce, so under `"verify-full"` each node's certificate must list its IP address.
    #[serde(default)]
    pub tls: TlsMode,
    /// The CA certificate(s), PEM, that sign the nodes' certificates (default: the system's
    /// trust store). Relative to the config file's folder.
    pub ca_file: Option<PathBuf>,
    /// The client's certificate chain (PEM), for nodes that authenticate clients by
    /// certificate (`require_client_auth: true`); with `client_key`.
    pub client_cert: Option<PathBuf>,
    /// The private key (PEM) of `client_cert`.
    pub client_key: Option<PathBuf>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("keyspace", &self.keyspace)
            .field("replication_strategy", &self.replication_strategy)
            .field("replication_factor", &self.replication_factor)
            .field("local_datacenter", &self.local_datacenter)
            .field("read_consistency", &self.read_consistency)
            .field("write_consistency", &self.write_consistency)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("page_size", &self.page_size)
            .field("connections", &self.connections)
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .field("client_cert", &self.client_cert)
            .field("client_key", &self.client_key)
            .finish()
    }
}

fn default_keyspace() -> Name {
    Name("polyroute".into())
}

fn default_factor() -> Factor {
    Factor(1)
}

fn default_consistency() -> Level {
    Level::LocalQuorum
}

fn default_read() -> ReadConsistency {
    ReadConsistency(Level::LocalQuorum)
}

fn default_connect_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(5))
}

fn default_request_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(10))
}

fn default_page_size() -> PageSize {
    PageSize(1000)
}

fn default_connections() -> Connections {
    Connections(1)
}

/// Contact points: a non-empty list of `host:port` or `host`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Nodes(pub Vec<String>);

impl TryFrom<String> for Nodes {
    type Error = String;

    fn try_from(text: String) -> std::result::Result<Self, String> {
        let nodes: Vec<String> = text.split(',').map(|n| n.trim().to_owned()).collect();
        for node in &nodes {
            if node.is_empty()
                || node.contains(|c: char| c.is_whitespace() || c.is_control() || c == '/')
            {
                return Err(format!(
                    "`{}` is not a list of contact points; write comma-separated host:port, such as `127.0.0.1:9042`",
                    text.escape_debug()
                ));
            }
        }
        Ok(Nodes(nodes))
    }
}

impl fmt::Display for Nodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

/// A keyspace name, checked like every name this backend writes into statements.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Name(pub String);

impl TryFrom<String> for Name {
    type Error = String;

    fn try_from(name: String) -> std::result::Result<Self, String> {
        cql::check_name("keyspace", &name).map_err(|e| e.to_string())?;
        Ok(Name(name))
    }
}

/// A datacenter name: letters, digits, `_`, `-` and `.`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Datacenter(pub String);

impl TryFrom<String> for Datacenter {
    type Error = String;

    fn try_from(name: String) -> std::result::Result<Self, String> {
        let ok = !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if ok {
            Ok(Datacenter(name))
        } else {
            Err(format!(
                "`{}` is not a datacenter name; use ASCII letters, digits, `_`, `-` or `.`",
                name.escape_debug()
            ))
        }
    }
}

/// A replication factor, 1 to 32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u32")]
pub struct Factor(pub u32);

impl TryFrom<u32> for Factor {
    type Error = String;

    fn try_from(factor: u32) -> std::result::Result<Self, String> {
        if (1..=32).contains(&factor) {
            Ok(Factor(factor))
        } else {
            Err(format!(
                "a replication factor of {factor} is out of range; use 1 to 32"
            ))
        }
    }
}

/// Rows per page, at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u32")]
pub struct PageSize(pub i32);

impl TryFrom<u32> for PageSize {
    type Error = String;

    fn try_from(size: u32) -> std::result::Result<Self, String> {
        match i32::try_from(size) {
            Ok(size) if size >= 1 => Ok(PageSize(size)),
            _ => Err(format!(
                "a page size of {size} is out of range; use 1 or more"
            )),
        }
    }
}

/// Connections per node or shard, 1 to 64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u32")]
pub struct Connections(pub usize);

impl TryFrom<u32> for Connections {
    type Error = String;

    fn try_from(count: u32) -> std::result::Result<Self, String> {
        if (1..=64).contains(&count) {
            Ok(Connections(count as usize))
        } else {
            Err(format!("{count} connections is out of range; use 1 to 64"))
        }
    }
}

/// A keyspace replication strategy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// `SimpleStrategy`.
    #[default]
    Simple,
    /// `NetworkTopologyStrategy`.
    NetworkTopology,
}

/// A consistency level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// `ANY` (writes only).
    Any,
    /// `ONE`.
    One,
    /// `TWO`.
    Two,
    /// `THREE`.
    Three,
    /// `QUORUM`.
    Quorum,
    /// `ALL`.
    All,
    /// `LOCAL_QUORUM`.
    LocalQuorum,
    /// `EACH_QUORUM`.
    EachQuorum,
    /// `LOCAL_ONE`.
    LocalOne,
}

impl From<Level> for Consistency {
    fn from(level: Level) -> Consistency {
        match level {
            Level::Any => Consistency::Any,
            Level::One => Consistency::One,
            Level::Two => Consistency::Two,
            Level::Three => Consistency::Three,
            Level::Quorum => Consistency::Quorum,
            Level::All => Consistency::All,
            Level::LocalQuorum => Consistency::LocalQuorum,
            Level::EachQuorum => Consistency::EachQuorum,
            Level::LocalOne => Consistency::LocalOne,
        }
    }
}

/// A consistency level for reads: any level but `any`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Level")]
pub struct ReadConsistency(pub Level);

impl TryFrom<Level> for ReadConsistency {
    type Error = &'static str;

    fn try_from(level: Level) -> std::result::Result<Self, &'static str> {
        if level == Level::Any {
            Err("`any` is a write consistency; reads need at least `one`")
        } else {
            Ok(ReadConsistency(level))
        }
    }
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

    /// The TLS client configuration, `None` with `tls = "disable"`. Reads the files now, so a
    /// missing or malformed one fails the connect naming its option.
    fn client_tls(&self) -> Result<Option<Arc<rustls::ClientConfig>>> {
        let ca_file = self
            .ca_file
            .as_ref()
            .map(|path| PemFile::new("ca_file", path));
        let Some(verify) = self.tls.verify(ca_file.is_some()) else {
            return Ok(None);
        };
        let identity = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => Some((
                PemFile::new("client_cert", cert),
                PemFile::new("client_key", key),
            )),
            _ => None,
        };
        ClientTls {
            verify,
            ca_file,
            identity,
        }
        .client_config(&[])
        .map(Some)
    }

    fn replication(&self) -> cql::Replication {
        let factor = self.replication_factor.0;
        match self.replication_strategy {
            Strategy::Simple => cql::Replication::Simple(factor),
            Strategy::NetworkTopology => cql::Replication::NetworkTopology {
                factor,
                datacenter: self.local_datacenter.as_ref().map(|dc| dc.0.clone()),
            },
        }
    }
}

/// Whether a statement reads or writes, which chooses its consistency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

/// The connected session and what every entity shares: prepared statements by text, the
/// consistency levels, the clock of writes without timestamps.
pub(crate) struct Shared {
    session: Session,
    keyspace: String,
    read: Consistency,
    write: Consistency,
    page_size: i32,
    request_timeout: Duration,
    prepared: Mutex<HashMap<String, PreparedStatement>>,
    clock: Clock,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("keyspace", &self.keyspace)
            .field("read", &self.read)
            .field("write", &self.write)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The prepared statement of `cql`, prepared on first use with the consistency of its
    /// access, and marked idempotent (every write of this backend carries its timestamp).
    pub(crate) async fn prepared(&self, cql: &str, access: Access) -> Result<PreparedStatement> {
        if let Some(prepared) = self.prepared.lock().get(cql) {
            return Ok(prepared.clone());
        }
        let mut statement = Statement::new(cql);
        let consistency = self.consistency(access);
        statement.set_consistency(consistency);
        statement.set_is_idempotent(true);
        statement.set_page_size(self.page_size);
        let mut prepared = self
            .session
            .prepare(statement)
            .await
            .map_err(|e| error::prepare(e, "preparing a statement", self.request_timeout))?;
        prepared.set_consistency(consistency);
        prepared.set_is_idempotent(true);
        prepared.set_page_size(self.page_size);
        self.prepared
            .lock()
            .insert(cql.to_owned(), prepared.clone());
        Ok(prepared)
    }

    pub(crate) fn consistency(&self, access: Access) -> Consistency {
        match access {
            Access::Read => self.read,
            Access::Write => self.write,
        }
    }

    /// Runs DDL (not prepared: it runs once per open and binds nothing).
    async fn ddl(&self, cql: &str) -> Result<()> {
        let mut statement = Statement::new(cql);
        statement.set_consistency(self.write);
        self.session
            .query_unpaged(statement, ())
            .await
            .map_err(|e| error::execution(e, "creating the schema", self.request_timeout))?;
        Ok(())
    }
}

/// A ScyllaDB or Cassandra keyspace holding wide-column entities, one table each.
#[derive(Clone, Debug)]
pub struct ScyllaWideColumn {
    shared: Arc<Shared>,
}

impl ScyllaWideColumn {
    /// Connects (failing as unavailable within `connect_timeout` when no node answers),
    /// creates the keyspace if missing and the table recording entity shapes.
    pub async fn open(config: Config) -> Result<Self> {
        let nodes = config.url.to_string();
        let connect_timeout = config.connect_timeout.0;
        let request_timeout = config.request_timeout.0;
        let mut policy = DefaultPolicy::builder()
            .token_aware(true)
            .permit_dc_failover(false);
        if let Some(dc) = &config.local_datacenter {
            policy = policy.prefer_datacenter(dc.0.clone());
        }
        let profile = ExecutionProfile::builder()
            .load_balancing_policy(policy.build())
            .request_timeout(Some(request_timeout))
            .consistency(config.write_consistency.into())
            .serial_consistency(Some(SerialConsistency::LocalSerial))
            .build();
        let connections = std::num::NonZeroUsize::new(config.connections.0)
            .unwrap_or(std::num::NonZeroUsize::MIN);
        let mut builder = SessionBuilder::new()
            .known_nodes(&config.url.0)
            .connection_timeout(connect_timeout)
            .hostname_resolution_timeout(Some(connect_timeout))
            .pool_size(PoolSize::PerShard(connections))
            .keyspaces_to_fetch([config.keyspace.0.clone()])
            .default_execution_profile_handle(profile.into_handle());
        if let Some(user) = &config.username {
            builder = builder.user(user, config.password.clone().unwrap_or_default());
        }
        if let Some(tls) = config.client_tls()? {
            builder = builder.tls_context(Some(tls));
        }
        // The driver's own timeouts bound each connection; this bounds the whole connect
        // (hostname resolution, connections, the first metadata fetch).
        let bound = connect_timeout.saturating_mul(2);
        let session = tokio::time::timeout(bound, builder.build())
            .await
            .map_err(|_| {
                StoreError::unavailable(format!(
                    "cannot connect to Scylla/Cassandra at {nodes}: no answer within {bound:?}"
                ))
            })?
            .map_err(|e| error::new_session(e, &nodes))?;
        let shared = Shared {
            session,
            keyspace: config.keyspace.0.clone(),
            read: config.read_consistency.0.into(),
            write: config.write_consistency.into(),
            page_size: config.page_size.0,
            request_timeout,
            prepared: Mutex::default(),
            clock: Clock::default(),
        };
        shared
            .ddl(&cql::create_keyspace(
                &config.keyspace.0,
                &config.replication(),
            ))
            .await?;
        shared
            .ddl(&cql::Shapes::new(&config.keyspace.0).create)
            .await?;
        Ok(ScyllaWideColumn {
            shared: Arc::new(shared),
        })
    }
}

const INFO: StoreInfo = StoreInfo {
    kind: StoreKind::WideColumn,
    backend: "scylla",
    capabilities: Capabilities {
        ttl: true,
        transactions: false,
        ordered_scan: true,
        durable: true,
        secondary_indexes: false,
        atomic_increment: false,
        full_text: false,
        weighted_paths: false,
        batch_writes: false,
        evicts: false,
    },
};

/// The ScyllaDB / Cassandra backend, as the registry lists it.
pub const BACKENDS: &[BackendDescriptor] = &[BackendDescriptor::of::<ScyllaWideColumn>(
    StoreKind::WideColumn,
    "scylla",
    "ScyllaDB or Cassandra: a table per entity, cells merged last-write-wins",
)];

impl Backend for ScyllaWideColumn {
    type Config = Config;

    /// The pairing rules of the TLS options: files need TLS on, a certificate needs its key.
    fn check(config: &Config) -> std::result::Result<(), String> {
        crate::tls::check_files(
            config.tls != TlsMode::Disable,
            "set tls = \"verify-full\"",
            config.ca_file.as_deref(),
            config.client_cert.as_deref(),
            config.client_key.as_deref(),
        )
    }

    async fn connect(
        _: StoreKind,
        config: Config,
        context: &ConnectContext,
    ) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(
            ScyllaWideColumn::open(config.resolve_paths(context)).await?,
        ))
    }
}

#[async_trait::async_trait]
impl Store for ScyllaWideColumn {
    fn info(&self) -> StoreInfo {
        INFO
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::WideColumn(settings) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        rules::check_settings(&entity.name, settings)?;
        let shared = &self.shared;
        let cql = cql::Table::new(
            &shared.keyspace,
            &entity.name,
            !settings.clustering_key.is_empty(),
        )?;
        wide_column::check_shape(shared, &entity.name, settings).await?;
        shared.ddl(&cql.create()).await?;
        Ok(EntityHandle::WideColumn(Arc::new(wide_column::Table::new(
            shared.clone(),
            entity.name.clone(),
            settings.clone(),
            cql,
        ))))
    }

    async fn ping(&self) -> Result<()> {
        let prepared = self
            .shared
            .prepared("SELECT release_version FROM system.local", Access::Read)
            .await?;
        self.shared
            .session
            .execute_unpaged(&prepared, ())
            .await
            .map_err(|e| error::execution(e, "pinging", self.shared.request_timeout))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(options: serde_json::Value) -> std::result::Result<Config, String> {
        serde_path_to_error::deserialize(options).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_documented_ones() {
        let config = parse(json!({"url": "127.0.0.1:9042"})).unwrap();
        assert_eq!(config.url.0, ["127.0.0.1:9042"]);
        assert_eq!(config.keyspace.0, "polyroute");
        assert_eq!(config.replication(), cql::Replication::Simple(1));
        assert_eq!(config.read_consistency.0, Level::LocalQuorum);
        assert_eq!(config.write_consistency, Level::LocalQuorum);
        assert_eq!(config.connect_timeout.0, Duration::from_secs(5));
        assert_eq!(config.request_timeout.0, Duration::from_secs(10));
        assert_eq!(config.page_size.0, 1000);
        assert_eq!(config.connections.0, 1);
        assert!(config.local_datacenter.is_none());
    }

    #[test]
    fn every_option_is_read() {
        let config = parse(json!({
            "url": "a:9042, b:9042",
            "username": "u",
            "password": "secret",
            "keyspace": "App_1",
            "replication_strategy": "network_topology",
            "replication_factor": 3,
            "local_datacenter": "eu-west.1",
            "read_consistency": "local_one",
            "write_consistency": "each_quorum",
            "connect_timeout": "2s",
            "request_timeout": "500ms",
            "page_size": 50,
            "connections": 2,
        }))
        .unwrap();
        assert_eq!(config.url.0, ["a:9042", "b:9042"]);
        assert_eq!(
            config.replication(),
            cql::Replication::NetworkTopology {
                factor: 3,
                datacenter: Some("eu-west.1".into())
            }
        );
        assert_eq!(config.read_consistency.0, Level::LocalOne);
        assert_eq!(
            Consistency::from(config.write_consistency),
            Consistency::EachQuorum
        );
        let debug = format!("{config:?}");
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn bad_options_are_rejected_naming_the_field() {
        for (options, field) in [
            (json!({}), "url"),
            (json!({"url": ""}), "url"),
            (json!({"url": "scylla://h:9042"}), "url"),
            (json!({"url": "a:1,,b:2"}), "url"),
            (json!({"url": "h", "keyspace": "x\"; DROP"}), "keyspace"),
            (json!({"url": "h", "keyspace": "9lives"}), "keyspace"),
            (
                json!({"url": "h", "replication_factor": 0}),
                "replication_factor",
            ),
            (
                json!({"url": "h", "replication_strategy": "everywhere"}),
                "replication_strategy",
            ),
            (
                json!({"url": "h", "local_datacenter": "dc'1"}),
                "local_datacenter",
            ),
            (
                json!({"url": "h", "read_consistency": "any"}),
                "read_consistency",
            ),
            (
                json!({"url": "h", "write_consistency": "most"}),
                "write_consistency",
            ),
            (
                json!({"url": "h", "connect_timeout": "soon"}),
                "connect_timeout",
            ),
            (json!({"url": "h", "page_size": 0}), "page_size"),
            (json!({"url": "h", "connections": 0}), "connections"),
            (json!({"url": "h", "pool": 3}), "pool"),
        ] {
            let err = parse(options.clone()).unwrap_err();
            assert!(err.contains(field), "{options}: {err}");
        }
    }
}
