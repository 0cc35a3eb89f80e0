//! Options of a PostgreSQL store (`[stores.NAME]` with `backend = "postgres"`), shared by every
//! kind it serves.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::conninfo;
use crate::store::{is_identifier, ConnectContext};
pub use crate::tls::TlsMode;
use crate::tls::{ClientTls, PemFile};
use crate::units::ConfigDuration;
use crate::{Result, StoreError};
use tokio_postgres::config::SslMode;

/// Options of a PostgreSQL store, checked as a whole when the config is read: the URL's TLS
/// parameters and the options must agree.
#[derive(Clone, Deserialize)]
#[serde(try_from = "Options")]
pub struct Config {
    /// Connection URL, such as `postgres://user:password@host:5432/db` (required). Never shown in
    /// debug output or errors, as it may hold a password.
    pub url: String,
    /// Connections in the pool (default 16).
    pub pool: usize,
    /// How long opening a connection, or waiting for a free pooled one, may take before the call
    /// fails as unavailable (default `5s`).
    pub connect_timeout: ConfigDuration,
    /// The server-side `statement_timeout` of every connection: a statement running longer is
    /// cancelled by the server and fails as a timeout. Omitted: the longest deadline any call
    /// to the store gets, when the router says (see
    /// [`ConnectContext::longest_call`](crate::store::ConnectContext)), else the server's
    /// setting. Schema changes at startup are not limited.
    pub statement_timeout: Option<ConfigDuration>,
    /// The schema holding this store's tables, created if missing (default `public`). It is also
    /// the `search_path` of relational SQL.
    pub schema: String,
    /// Transport security, from the `tls` option or else the URL's `sslmode` (default
    /// `"disable"`); see [`TlsMode`].
    pub tls: TlsMode,
    /// The CA certificates (PEM) to verify the server with, instead of the system's trust store
    /// (the option; the URL's `sslrootcert` is read at connect time).
    pub ca_file: Option<PathBuf>,
    /// The client's certificate chain (PEM), for servers that authenticate clients by
    /// certificate; with `client_key`.
    pub client_cert: Option<PathBuf>,
    /// The private key (PEM) of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// PostgreSQL's `synchronous_commit` for this store's sessions: `"on"` (default: a commit is
    /// acknowledged once its WAL is flushed to disk), `"off"` (much faster writes; a server crash
    /// may lose the commits of its last ~0.6 s, never corrupting anything; the store then reports
    /// itself as not durable), or `"local"`, `"remote_write"`, `"remote_apply"` (replication
    /// levels, as PostgreSQL defines them).
    pub synchronous_commit: SynchronousCommit,
    /// How often a key-value entity deletes its expired rows, a time-series entity with a
    /// retention its points past it, and a wide-column entity its expired and deleted rows past
    /// `tombstone_grace` (default `1m`). Reads ignore such rows whenever they are purged.
    pub purge_interval: ConfigDuration,
    /// How long a wide-column deletion or expiry keeps shadowing writes stamped before it, before
    /// the purge drops the row (default `1h`). Writes with explicit timestamps that arrive later
    /// than this after a deletion may reappear.
    pub tombstone_grace: ConfigDuration,
    /// How search entities reduce the words of text fields: `"none"` (default: only
    /// lower-cased, the `simple` text search configuration) or `"english"` (also stemmed, the
    /// `english` configuration). Changing it requires recreating existing search entities.
    pub stemming: crate::kinds::search::Stemming,
}

/// The options as written, before the URL's TLS parameters are reconciled with them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    url: String,
    #[serde(default = "default_pool")]
    pool: usize,
    #[serde(default = "default_connect_timeout")]
    connect_timeout: ConfigDuration,
    #[serde(default)]
    statement_timeout: Option<ConfigDuration>,
    #[serde(default = "default_schema")]
    schema: String,
    #[serde(default)]
    tls: Option<TlsMode>,
    #[serde(default)]
    ca_file: Option<PathBuf>,
    #[serde(default)]
    client_cert: Option<PathBuf>,
    #[serde(default)]
    client_key: Option<PathBuf>,
    #[serde(default)]
    synchronous_commit: SynchronousCommit,
    #[serde(default = "default_purge_interval")]
    purge_interval: ConfigDuration,
    #[serde(default = "default_tombstone_grace")]
    tombstone_grace: ConfigDuration,
    #[serde(default)]
    stemming: crate::kinds::search::Stemming,
}

impl TryFrom<Options> for Config {
    type Error = String;

    fn try_from(options: Options) -> std::result::Result<Self, String> {
        let (_, in_url) = conninfo::split(&options.url);
        let url_mode = in_url
            .sslmode
            .as_deref()
            .map(|mode| TlsMode::parse(mode, "the URL's `sslmode`"))
            .transpose()?;
        let tls = match (options.tls, url_mode) {
            (Some(option), Some(url)) if option != url => {
                return Err(format!(
                    "`tls = \"{}\"` and the URL's `sslmode={}` disagree; set the mode once, in either place",
                    option.as_str(),
                    url.as_str()
                ))
            }
            (option, url) => option.or(url).unwrap_or_default(),
        };
        for (option, value, parameter, in_url) in [
            (
                "ca_file",
                &options.ca_file,
                "sslrootcert",
                &in_url.sslrootcert,
            ),
            (
                "client_cert",
                &options.client_cert,
                "sslcert",
                &in_url.sslcert,
            ),
            ("client_key", &options.client_key, "sslkey", &in_url.sslkey),
        ] {
            if value.is_some() && in_url.is_some() {
                return Err(format!(
                    "`{option}` and the URL's `{parameter}` are both set; name the file once, in either place"
                ));
            }
        }
        let named = |option: &Option<PathBuf>, in_url: &Option<String>| {
            option
                .clone()
                .or_else(|| in_url.as_ref().map(PathBuf::from))
        };
        let ca_file = named(&options.ca_file, &in_url.sslrootcert)
            .filter(|path| path.as_os_str() != SYSTEM_ROOTS);
        let client_cert = named(&options.client_cert, &in_url.sslcert);
        let client_key = named(&options.client_key, &in_url.sslkey);
        crate::tls::check_files(
            tls != TlsMode::Disable,
            "set tls = \"verify-full\" (or sslmode=verify-full in the URL)",
            ca_file.as_deref(),
            client_cert.as_deref(),
            client_key.as_deref(),
        )?;
        Ok(Config {
            url: options.url,
            pool: options.pool,
            connect_timeout: options.connect_timeout,
            statement_timeout: options.statement_timeout,
            schema: options.schema,
            tls,
            ca_file: options.ca_file,
            client_cert: options.client_cert,
            client_key: options.client_key,
            synchronous_commit: options.synchronous_commit,
            purge_interval: options.purge_interval,
            tombstone_grace: options.tombstone_grace,
            stemming: options.stemming,
        })
    }
}

/// libpq's `sslrootcert=system`: the system's trust store, which is also what no CA file means.
const SYSTEM_ROOTS: &str = "system";

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
            .field("ca_file", &self.ca_file)
            .field("client_cert", &self.client_cert)
            .field("client_key", &self.client_key)
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

impl Config {
    /// The default `statement_timeout`: the longest call to the store, unless set.
    pub(crate) fn with_longest_call(mut self, context: &ConnectContext) -> Self {
        if self.statement_timeout.is_none() {
            self.statement_timeout = context.longest_call.map(ConfigDuration);
        }
        self
    }

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

    /// The TLS client configuration, `None` with `tls = "disable"`. Reads the CA, certificate
    /// and key files now (from the options or the URL's `sslrootcert`, `sslcert`, `sslkey`), so
    /// a missing or malformed one fails the connect naming where it was set.
    pub(super) fn client_tls(&self) -> Result<Option<Arc<rustls::ClientConfig>>> {
        let (_, in_url) = conninfo::split(&self.url);
        let file = |option: &'static str,
                    value: &Option<PathBuf>,
                    parameter: &'static str,
                    in_url: Option<String>| {
            match value {
                Some(path) => Some(PemFile::new(option, path)),
                None => in_url.map(|path| PemFile::new(parameter, path)),
            }
        };
        let ca_file = file(
            "ca_file",
            &self.ca_file,
            "sslrootcert (in url)",
            in_url.sslrootcert,
        )
        .filter(|file| file.path.as_os_str() != SYSTEM_ROOTS);
        let Some(verify) = self.tls.verify(ca_file.is_some()) else {
            return Ok(None);
        };
        let cert = file(
            "client_cert",
            &self.client_cert,
            "sslcert (in url)",
            in_url.sslcert,
        );
        let key = file(
            "client_key",
            &self.client_key,
            "sslkey (in url)",
            in_url.sslkey,
        );
        let tls = ClientTls {
            verify,
            ca_file,
            identity: cert.zip(key),
        };
        // PostgreSQL 17 requires this ALPN name for direct TLS; earlier servers ignore it.
        tls.client_config(&[b"postgresql"]).map(Some)
    }

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
        // The driver gets the URL without its TLS parameters, which `tls` and the files
        // already say. The parser's messages name the option at fault, never the URL or its
        // password.
        let (url, _) = conninfo::split(&self.url);
        let mut config = tokio_postgres::Config::from_str(&url).map_err(|err| {
            StoreError::InvalidRequest {
                message: format!(
                    "option `url` is not a valid PostgreSQL URL ({err}); write it as postgres://user:password@host:5432/database"
                ),
                source: None,
            }
        })?;
        // Never the driver's default, `prefer`, which falls back to plain TCP.
        config.ssl_mode(match self.tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        });
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
        let err = parse(json!({"pool": 4})).unwrap_err();
        assert!(err.contains("url"), "{err}");
        let config = parse(json!({"url": "postgres://h/db", "schema": "bad-name"})).unwrap();
        assert!(config.driver_config().is_err());
        let config = parse(json!({"url": "postgres://u:hunter2@h:notaport/db"})).unwrap();
        let err = config.driver_config().unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn tls_modes_come_from_the_option_or_the_url() {
        for (options, mode) in [
            (json!({"url": "postgres://h/db"}), TlsMode::Disable),
            (
                json!({"url": "postgres://h/db", "tls": "require"}),
                TlsMode::Require,
            ),
            (
                json!({"url": "postgres://h/db?sslmode=verify-ca"}),
                TlsMode::VerifyCa,
            ),
            (
                json!({"url": "postgres://h/db?sslmode=verify-full", "tls": "verify-full"}),
                TlsMode::VerifyFull,
            ),
            (json!({"url": "host=h sslmode=require"}), TlsMode::Require),
        ] {
            let config = parse(options.clone()).unwrap();
            assert_eq!(config.tls, mode, "{options}");
            // The driver never gets `prefer`, nor a mode its parser does not know.
            let driver = config.driver_config().unwrap();
            let expected = if mode == TlsMode::Disable {
                SslMode::Disable
            } else {
                SslMode::Require
            };
            assert_eq!(driver.get_ssl_mode(), expected, "{options}");
        }
    }

    #[test]
    fn modes_that_may_downgrade_and_conflicts_are_refused() {
        for (options, words) in [
            (
                json!({"url": "postgres://h/db", "tls": "prefer"}),
                &["tls", "prefer", "verify-full"][..],
            ),
            (
                json!({"url": "postgres://h/db", "tls": "allow"}),
                &["unencrypted"][..],
            ),
            (
                json!({"url": "postgres://h/db?sslmode=prefer"}),
                &["sslmode", "prefer", "verify-full"][..],
            ),
            (
                json!({"url": "host=h sslmode=allow"}),
                &["sslmode", "allow"][..],
            ),
            (
                json!({"url": "postgres://h/db", "tls": "on"}),
                &["unknown TLS mode"][..],
            ),
            (
                json!({"url": "postgres://h/db?sslmode=require", "tls": "verify-full"}),
                &["disagree", "sslmode=require", "verify-full"][..],
            ),
            (
                json!({"url": "postgres://h/db?sslrootcert=a.pem", "tls": "verify-full", "ca_file": "b.pem"}),
                &["ca_file", "sslrootcert"][..],
            ),
            (
                json!({"url": "postgres://h/db", "ca_file": "ca.pem"}),
                &["ca_file", "TLS is off", "verify-full"][..],
            ),
            (
                json!({"url": "postgres://h/db", "tls": "verify-full", "client_cert": "c.pem"}),
                &["client_key"][..],
            ),
        ] {
            let err = parse(options.clone()).unwrap_err();
            for word in words {
                assert!(err.contains(word), "{options}: `{word}` not in: {err}");
            }
        }
    }

    #[test]
    fn client_tls_follows_the_mode_and_names_missing_files() {
        let config = parse(json!({"url": "postgres://h/db"})).unwrap();
        assert!(config.client_tls().unwrap().is_none());
        // `require` without a CA encrypts without checking: no file is read.
        let config = parse(json!({"url": "postgres://h/db", "tls": "require"})).unwrap();
        assert!(config.client_tls().unwrap().is_some());
        let config = parse(json!({
            "url": "postgres://h/db", "tls": "verify-full", "ca_file": "/nonexistent/ca.pem"
        }))
        .unwrap();
        let err = config.client_tls().unwrap_err().to_string();
        assert!(
            err.contains("`ca_file`") && err.contains("/nonexistent/ca.pem"),
            "{err}"
        );
        let config = parse(json!({
            "url": "postgres://h/db?sslmode=verify-ca&sslrootcert=%2Fnonexistent%2Froot.crt"
        }))
        .unwrap();
        let err = config.client_tls().unwrap_err().to_string();
        assert!(
            err.contains("sslrootcert") && err.contains("/nonexistent/root.crt"),
            "{err}"
        );
        // Relative files are found next to the config file.
        let config =
            parse(json!({"url": "postgres://h/db", "tls": "verify-full", "ca_file": "ca.pem"}))
                .unwrap()
                .resolve_paths(&ConnectContext {
                    base_dir: "/etc/app".into(),
                    ..Default::default()
                });
        assert_eq!(config.ca_file, Some(PathBuf::from("/etc/app/ca.pem")));
    }
}
