//! Options of an Elasticsearch store (`[stores.NAME]` with `kind = "search"`,
//! `backend = "elasticsearch"`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::kinds::search::Stemming;
use crate::units::ConfigDuration;
use crate::{Result, StoreError};

/// Options of an Elasticsearch store.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The node's URL, such as `http://127.0.0.1:9200` (required). `https://` is refused: this
    /// build has no TLS connector (terminate TLS in a local proxy).
    #[serde(deserialize_with = "http_url")]
    pub url: String,
    /// User name for HTTP basic authentication (with `password`).
    #[serde(default)]
    pub username: Option<String>,
    /// Password for HTTP basic authentication. Never shown in debug output or errors.
    #[serde(default)]
    pub password: Option<String>,
    /// An API key (the base64 `id:key` Elasticsearch returns), instead of a user name and
    /// password. Never shown in debug output or errors.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Prefix of every index name (default `polyroute_`): the index of entity `products` is
    /// `polyroute_products`. Lower-case letters, digits, `_` and `-`, not starting with `_`,
    /// `-` or `+`.
    #[serde(default = "default_index_prefix")]
    pub index_prefix: String,
    /// Primary shards of each index this store creates (default 1).
    #[serde(default = "default_shards")]
    pub shards: u32,
    /// Replicas of each shard of the indexes this store creates (default 1; 0 on a single node
    /// keeps the cluster green).
    #[serde(default = "default_replicas")]
    pub replicas: u32,
    /// How often each index makes new writes searchable (its `refresh_interval`; default `1s`):
    /// the visibility bound of an acknowledged write.
    #[serde(default = "default_refresh_interval")]
    pub refresh_interval: ConfigDuration,
    /// Whether each write waits until it is searchable (`refresh=wait_for`, default `false`):
    /// slower writes, no visibility delay after one returns.
    #[serde(default)]
    pub wait_for_refresh: bool,
    /// How text fields are analysed: `"none"` (default: the `standard` analyser, lower-cased
    /// Unicode words) or `"english"` (also stemmed, the `english` analyser). Changing it
    /// requires recreating existing indexes.
    #[serde(default)]
    pub stemming: Stemming,
    /// How long the first request may take to answer before opening the store fails as
    /// unavailable (default `5s`).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
    /// How long any request may take before it fails as a timeout (default `30s`).
    #[serde(default = "default_request_timeout")]
    pub request_timeout: ConfigDuration,
}

fn http_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let url = String::deserialize(deserializer)?;
    if url.starts_with("https://") {
        return Err(serde::de::Error::custom(
            "https:// needs a TLS connector, which this build of polyroute does not include; use http:// (local node or trusted network), or terminate TLS in a local proxy",
        ));
    }
    if !url.starts_with("http://") {
        return Err(serde::de::Error::custom(
            "the url must start with http://, such as http://127.0.0.1:9200",
        ));
    }
    Ok(url)
}

fn default_index_prefix() -> String {
    "polyroute_".to_owned()
}

fn default_shards() -> u32 {
    1
}

fn default_replicas() -> u32 {
    1
}

fn default_refresh_interval() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(1))
}

fn default_connect_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(5))
}

fn default_request_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(30))
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |secret: &Option<String>| secret.as_ref().map(|_| "<redacted>");
        f.debug_struct("Config")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("api_key", &redacted(&self.api_key))
            .field("index_prefix", &self.index_prefix)
            .field("shards", &self.shards)
            .field("replicas", &self.replicas)
            .field("refresh_interval", &self.refresh_interval)
            .field("wait_for_refresh", &self.wait_for_refresh)
            .field("stemming", &self.stemming)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl Config {
    /// Checks the options serde cannot.
    pub(super) fn check(&self) -> Result<()> {
        let prefix = &self.index_prefix;
        let valid = prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            && !prefix.starts_with(['_', '-', '+'])
            && prefix.len() <= 100;
        if !valid {
            return Err(StoreError::invalid(format!(
                "option `index_prefix`: `{prefix}` is not valid: use at most 100 lower-case letters, digits, `_` and `-`, not starting with `_` or `-`"
            )));
        }
        if self.shards == 0 {
            return Err(StoreError::invalid("option `shards` must be at least 1"));
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(StoreError::invalid(
                "option `password` needs `username` too",
            ));
        }
        if self.username.is_some() && self.api_key.is_some() {
            return Err(StoreError::invalid(
                "options `username` and `api_key` are exclusive: authenticate with one",
            ));
        }
        if url_has_credentials(&self.url) {
            return Err(StoreError::invalid(
                "option `url` must not hold credentials; use `username` and `password`, or `api_key`",
            ));
        }
        Ok(())
    }

    /// The `refresh_interval` index setting.
    pub(super) fn refresh_interval_setting(&self) -> String {
        format!("{}ms", self.refresh_interval.0.as_millis())
    }
}

/// Whether `url` has a `user@` or `user:password@` part.
fn url_has_credentials(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.contains('@')
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
        let config = parse(json!({
            "url": "http://localhost:9200", "username": "elastic", "password": "hunter2"
        }))
        .unwrap();
        assert_eq!(config.index_prefix, "polyroute_");
        assert_eq!((config.shards, config.replicas), (1, 1));
        assert_eq!(config.refresh_interval_setting(), "1000ms");
        assert_eq!(config.connect_timeout.0, Duration::from_secs(5));
        assert!(!config.wait_for_refresh);
        assert!(config.check().is_ok());
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn bad_options_are_explained() {
        let err = parse(json!({"url": "https://h:9200"})).unwrap_err();
        assert!(err.contains("TLS"), "{err}");
        let err = parse(json!({"url": "h:9200"})).unwrap_err();
        assert!(err.contains("http://"), "{err}");
        let err = parse(json!({"url": "http://h", "shard": 2})).unwrap_err();
        assert!(err.contains("shard"), "{err}");
        let err = parse(json!({"url": "http://h", "stemming": "french"})).unwrap_err();
        assert!(err.contains("english"), "{err}");
        for prefix in ["Upper", "_x", "-x", "a b", "a*"] {
            let config = parse(json!({"url": "http://h", "index_prefix": prefix})).unwrap();
            let err = config.check().unwrap_err().to_string();
            assert!(err.contains("index_prefix"), "{prefix}: {err}");
        }
        let config = parse(json!({"url": "http://u:hunter2@h:9200"})).unwrap();
        let err = config.check().unwrap_err().to_string();
        assert!(err.contains("url") && !err.contains("hunter2"), "{err}");
        let config = parse(json!({"url": "http://h", "password": "p"})).unwrap();
        assert!(config.check().unwrap_err().to_string().contains("username"));
    }
}
