//! Options of a PostgreSQL store (`[stores.NAME]` with `backend = "postgres"`), shared by every
//! kind it serves.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::store::is_identifier;
use crate::units::ConfigDuration;
use crate::{Result, StoreError};

/// Options of a PostgreSQL store.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Connection URL, such as `postgres://user:password@host:5432/db` (required). Never shown in
    /// debug output or errors, as it may hold a password.
    pub url: String,
    /// Connections in the pool (default 16).
    #[serde(default = "default_pool")]
    pub pool: usize,
    /// How long opening a connection, or waiting for a free pooled one, may take before the call
    /// fails as unavailable (default `5s`).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
    /// The server-side `statement_timeout` of every connection: a statement running longer is
    /// cancelled by the server and fails as a timeout. Omitted: the server's setting.
    #[serde(default)]
    pub statement_timeout: Option<ConfigDuration>,
    /// The schema holding this store's tables, created if missing (default `public`). It is also
    /// the `search_path` of relational SQL.
    #[serde(default = "default_schema")]
    pub schema: String,
    /// Transport security: `"disable"` (default). `"require"` is refused: this build has no
    /// TLS connector.
    #[serde(default)]
    pub tls: TlsMode,
    /// PostgreSQL's `synchronous_commit` for this store's sessions: `"on"` (default: a commit is
    /// acknowledged once its WAL is flushed to disk), `"off"` (much faster writes; a server crash
    /// may lose the commits of its last ~0.6 s, never corrupting anything; the store then reports
    /// itself as not durable), or `"local"`, `"remote_write"`, `"remote_apply"` (replication
    /// levels, as PostgreSQL defines them).
    #[serde(default)]
    pub synchronous_commit: SynchronousCommit,
    /// How often a key-value entity deletes its expired rows, a time-series entity with a
    /// retention its points past it, and a wide-column entity its expired and deleted rows past
    /// `tombstone_grace` (default `1m`). Reads ignore such rows whenever they are purged.
    #[serde(default = "default_purge_interval")]
    pub purge_interval: ConfigDuration,
    /// How long a wide-column deletion or expiry keeps shadowing writes stamped before it, before
    /// the purge drops the row (default `1h`). Writes with explicit timestamps that arrive later
    /// than this after a deletion may reappear.
    #[serde(default = "default_tombstone_grace")]
    pub tombstone_grace: ConfigDuration,
    /// How search entities reduce the words of text fields: `"none"` (default: only
    /// lower-cased, the `simple` text search configuration) or `"english"` (also stemmed, the
    /// `english` configuration). Changing it requires recreating existing search entities.
    #[serde(default)]
    pub stemming: crate::embedded::search::Stemming,
}

fn default_pool() -> usize {
    16
}

fn default_connect_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(5))
}

fn default_schema() -> String {
    "public".to_owned()
}

fn default_tombstone_grace() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(3600))
}

fn default_purge_interval() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(60))
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("url", &"<redacted>")
            .field("pool", &self.pool)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("schema", &self.schema)
            .field("tls", &self.tls)
            .field("synchronous_commit", &self.synchronous_commit)
            .field("purge_interval", &self.purge_interval)
            .field("tombstone_grace", &self.tombstone_grace)
            .field("stemming", &self.stemming)
            .finish()
    }
}

/// PostgreSQL's `synchronous_commit` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SynchronousCommit {
    /// Wait for the WAL flush (and synchronous standbys) before acknowledging a commit.
    #[default]
    On,
    /// Acknowledge before the WAL flush.
    Off,
    /// Wait for the local WAL flush only.
    Local,
    /// Wait for synchronous standbys to write (not flush) the WAL.
    RemoteWrite,
    /// Wait for synchronous standbys to apply the WAL.
    RemoteApply,
}

impl SynchronousCommit {
    fn as_str(self) -> &'static str {
        match self {
            SynchronousCommit::On => "on",
            SynchronousCommit::Off => "off",
            SynchronousCommit::Local => "local",
            SynchronousCommit::RemoteWrite => "remote_write",
            SynchronousCommit::RemoteApply => "remote_apply",
        }
    }
}

/// Transport security of the connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP (for a local server or a trusted network).
    #[default]
    Disable,
}

impl<'de> Deserialize<'de> for TlsMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "disable" => Ok(TlsMode::Disable),
            "require" | "verify-ca" | "verify-full" | "prefer" => Err(serde::de::Error::custom(format!(
                "tls = \"{text}\" needs a TLS connector, which this build of polyroute does not include; use tls = \"disable\" (local server or trusted network), or terminate TLS in a local proxy"
            ))),
            other => Err(serde::de::Error::custom(format!(
                "unknown tls mode `{other}`; expected \"disable\""
            ))),
        }
    }
}

impl Config {
    /// Whether an acknowledged commit survives a server crash.
    pub(super) fn durable(&self) -> bool {
        self.synchronous_commit != SynchronousCommit::Off
    }

    /// The driver's connection settings: the URL plus the timeouts and session options.
    pub(super) fn driver_config(&self) -> Result<tokio_postgres::Config> {
        if !is_identifier(&self.schema) {
            return Err(StoreError::invalid(format!(
                "schema `{}` is not valid: use ASCII letters, digits and `_`, starting with a letter or `_`",
                self.schema
            )));
        }
        if self.pool == 0 {
            return Err(StoreError::invalid("pool must be at least 1 connection"));
        }
        // The parser's messages name the option at fault, never the URL or its password.
        let mut config = tokio_postgres::Config::from_str(&self.url).map_err(|err| {
            StoreError::InvalidRequest {
                message: format!(
                    "option `url` is not a valid PostgreSQL URL ({err}); write it as postgres://user:password@host:5432/database"
                ),
                source: None,
            }
        })?;
        config.connect_timeout(self.connect_timeout.0);
        config.keepalives(true);
        if config.get_application_name().is_none() {
            config.application_name("polyroute");
        }
        let mut options = config.get_options().unwrap_or_default().to_owned();
        // Identifiers cannot hold spaces or quotes, so the value needs no escaping.
        options.push_str(&format!(" -c search_path=\"{}\"", self.schema));
        if let Some(timeout) = self.statement_timeout {
            options.push_str(&format!(" -c statement_timeout={}", timeout.0.as_millis()));
        }
        if self.synchronous_commit != SynchronousCommit::On {
            options.push_str(&format!(
                " -c synchronous_commit={}",
                self.synchronous_commit.as_str()
            ));
        }
        config.options(options.trim_start());
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(options: serde_json::Value) -> std::result::Result<Config, String> {
        serde_json::from_value(options).map_err(|err| err.to_string())
    }

    #[test]
    fn defaults_and_secrets() {
        let config = parse(json!({"url": "postgres://u:hunter2@localhost/db"})).unwrap();
        assert_eq!(config.pool, 16);
        assert_eq!(config.schema, "public");
        assert_eq!(config.tls, TlsMode::Disable);
        assert!(!format!("{config:?}").contains("hunter2"));
        let driver = config.driver_config().unwrap();
        assert_eq!(driver.get_connect_timeout(), Some(&Duration::from_secs(5)));
        assert!(driver.get_options().unwrap().contains("search_path"));
    }

    #[test]
    fn bad_options_are_explained() {
        let err = parse(json!({"url": "postgres://h/db", "tls": "require"})).unwrap_err();
        assert!(err.contains("TLS connector"), "{err}");
        let err = parse(json!({"pool": 4})).unwrap_err();
        assert!(err.contains("url"), "{err}");
        let config = parse(json!({"url": "postgres://h/db", "schema": "bad-name"})).unwrap();
        assert!(config.driver_config().is_err());
        let config = parse(json!({"url": "postgres://u:hunter2@h:notaport/db"})).unwrap();
        let err = config.driver_config().unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }
}
