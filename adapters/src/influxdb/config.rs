//! Options of an InfluxDB 2 store (`[stores.NAME]` with `backend = "influxdb"`).

use std::fmt;
use std::num::NonZeroUsize;
use std::time::Duration;

use serde::Deserialize;

use crate::units::ConfigDuration;

/// Options of an InfluxDB 2 store.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Base URL of the server, such as `http://127.0.0.1:8086` (required).
    pub url: String,
    /// The organisation's name (required).
    pub org: String,
    /// The bucket holding every entity of this store (required; it must exist).
    pub bucket: String,
    /// An API token with read and write access to the bucket (required). Never shown in debug
    /// output or errors.
    pub token: String,
    /// Lines per write request (default 5000, InfluxDB's recommended batch). A `write` of more
    /// points sends several requests, one after another, and returns once all are accepted.
    #[serde(default = "default_batch_size")]
    pub batch_size: NonZeroUsize,
    /// How long connecting may take before a call fails as unavailable (default `5s`).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
    /// How long one request may take before it fails as a timeout (default `30s`).
    #[serde(default = "default_request_timeout")]
    pub request_timeout: ConfigDuration,
}

fn default_batch_size() -> NonZeroUsize {
    NonZeroUsize::MIN.saturating_add(4999)
}

fn default_connect_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(5))
}

fn default_request_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(30))
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.url)
            .field("org", &self.org)
            .field("bucket", &self.bucket)
            .field("token", &"<redacted>")
            .field("batch_size", &self.batch_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({"url": "http://h:8086", "org": "o", "bucket": "b", "token": "t0ken-s3cret"})
    }

    #[test]
    fn defaults_and_a_hidden_token() {
        let config: Config = serde_json::from_value(base()).unwrap();
        assert_eq!(config.batch_size.get(), 5000);
        assert_eq!(config.connect_timeout.0, Duration::from_secs(5));
        assert_eq!(config.request_timeout.0, Duration::from_secs(30));
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn bad_options_are_refused() {
        let mut zero = base();
        zero["batch_size"] = json!(0);
        assert!(serde_json::from_value::<Config>(zero).is_err());
        let mut unknown = base();
        unknown["flush"] = json!("1s");
        assert!(serde_json::from_value::<Config>(unknown).is_err());
        assert!(serde_json::from_value::<Config>(json!({"url": "x"})).is_err());
    }
}
