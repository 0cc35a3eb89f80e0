//! Options of a Neo4j store (`[stores.NAME]` with `backend = "neo4j"`).

use std::fmt;
use std::num::NonZeroUsize;
use std::time::Duration;

use serde::Deserialize;

use crate::units::ConfigDuration;

/// Options of a Neo4j store.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Bolt URL of the server, such as `bolt://127.0.0.1:7687` or `neo4j://host:7687`
    /// (required).
    pub url: String,
    /// User name (default `neo4j`).
    #[serde(default = "default_user")]
    pub user: String,
    /// Password (default empty, for a server without authentication). Never shown in debug
    /// output or errors.
    #[serde(default)]
    pub password: String,
    /// The database every query runs on (default `neo4j`).
    #[serde(default = "default_database")]
    pub database: String,
    /// Connections in the pool (default 16, at least 1).
    #[serde(default = "default_pool")]
    pub pool: NonZeroUsize,
    /// Rows fetched per round trip of a result stream (default 500, at least 1).
    #[serde(default = "default_fetch_size")]
    pub fetch_size: NonZeroUsize,
    /// How long connecting and the first query may take before connecting fails as unavailable
    /// (default `5s`).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
}

fn default_user() -> String {
    "neo4j".to_owned()
}

fn default_database() -> String {
    "neo4j".to_owned()
}

fn default_pool() -> NonZeroUsize {
    NonZeroUsize::MIN.saturating_add(15)
}

fn default_fetch_size() -> NonZeroUsize {
    NonZeroUsize::MIN.saturating_add(499)
}

fn default_connect_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(5))
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("database", &self.database)
            .field("pool", &self.pool)
            .field("fetch_size", &self.fetch_size)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_fill_everything_but_the_url() {
        let config: Config = serde_json::from_value(json!({"url": "bolt://h:7687"})).unwrap();
        assert_eq!(config.user, "neo4j");
        assert_eq!(config.database, "neo4j");
        assert_eq!(config.pool.get(), 16);
        assert_eq!(config.fetch_size.get(), 500);
        assert_eq!(config.connect_timeout.0, Duration::from_secs(5));
    }

    #[test]
    fn bad_options_are_refused_and_the_password_is_hidden() {
        assert!(serde_json::from_value::<Config>(json!({"url": "x", "pool": 0})).is_err());
        assert!(serde_json::from_value::<Config>(json!({"url": "x", "db": "a"})).is_err());
        assert!(serde_json::from_value::<Config>(json!({})).is_err());
        let config: Config =
            serde_json::from_value(json!({"url": "bolt://h", "password": "s3cret"})).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
