//! Options of a MongoDB store (`[stores.NAME]` with `kind = "document"`, `backend = "mongodb"`).

use std::fmt;
use std::time::Duration;

use mongodb::options::{
    Acknowledgment, ClientOptions, ReadPreference, SelectionCriteria, WriteConcern,
};
use serde::{Deserialize, Deserializer};

use crate::store::is_identifier;
use crate::units::ConfigDuration;
use crate::{Result, StoreError};

/// Options of a MongoDB store.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Connection string, such as `mongodb://user:password@host:27017/?replicaSet=rs0`
    /// (required; `mongodb+srv://` is not supported by this build). Never shown in debug output
    /// or errors, as it may hold a password.
    #[serde(deserialize_with = "mongodb_url")]
    pub url: String,
    /// The database holding this store's collections (default `polyroute`): ASCII letters,
    /// digits and `_`.
    #[serde(default = "default_database")]
    pub database: String,
    /// Connections per server in the driver's pool (default 16).
    #[serde(default = "default_pool")]
    pub pool: u32,
    /// How long opening a connection, or finding a suitable server, may take before a call fails
    /// as unavailable (default `5s`).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
    /// The server-side limit (`maxTimeMS`) of every find and count: one running longer is
    /// stopped by the server and fails as a timeout. Omitted: no limit.
    #[serde(default)]
    pub query_timeout: Option<ConfigDuration>,
    /// When writes are acknowledged (default: by a majority, journalled).
    #[serde(default)]
    pub write_concern: WriteConcernConfig,
    /// Which members serve reads: `"primary"` (default; reads see every acknowledged write),
    /// `"primary_preferred"`, `"secondary"`, `"secondary_preferred"` or `"nearest"` (reads may
    /// lag writes by the replication delay).
    #[serde(default)]
    pub read_preference: ReadPreferenceConfig,
}

/// The write concern of every write.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteConcernConfig {
    /// How many members acknowledge: `"majority"` (default) or a number (`0`: unacknowledged,
    /// refused, since insert conflicts and delete results need an answer).
    #[serde(default)]
    pub w: WriteAcknowledgment,
    /// Whether acknowledging members must have journalled the write (default `true`).
    #[serde(default = "default_journal")]
    pub journal: bool,
    /// How long to wait for the acknowledgements (`wtimeout`). Omitted: no limit.
    #[serde(default)]
    pub timeout: Option<ConfigDuration>,
}

impl Default for WriteConcernConfig {
    fn default() -> Self {
        WriteConcernConfig {
            w: WriteAcknowledgment::Majority,
            journal: true,
            timeout: None,
        }
    }
}

/// The `w` of a write concern.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WriteAcknowledgment {
    /// A majority of the voting members.
    #[default]
    Majority,
    /// This many members (at least 1).
    Nodes(u32),
}

impl<'de> Deserialize<'de> for WriteAcknowledgment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u32),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Text(text) if text == "majority" => Ok(WriteAcknowledgment::Majority),
            Raw::Number(0) => Err(serde::de::Error::custom(
                "w = 0 (unacknowledged writes) is not supported: inserts must report conflicts; use \"majority\" or a number of members of at least 1",
            )),
            Raw::Number(n) => Ok(WriteAcknowledgment::Nodes(n)),
            Raw::Text(other) => Err(serde::de::Error::custom(format!(
                "unknown write acknowledgment `{other}`; expected \"majority\" or a number of members"
            ))),
        }
    }
}

/// Which replica set members serve reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadPreferenceConfig {
    /// The primary only.
    #[default]
    Primary,
    /// The primary, or a secondary when it is unavailable.
    PrimaryPreferred,
    /// Secondaries only.
    Secondary,
    /// A secondary, or the primary when none is available.
    SecondaryPreferred,
    /// The member with the lowest latency.
    Nearest,
}

fn mongodb_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let url = String::deserialize(deserializer)?;
    if url.starts_with("mongodb+srv://") {
        return Err(serde::de::Error::custom(
            "mongodb+srv:// connection strings need DNS SRV lookups, which this build does not include; list the hosts instead: mongodb://host1:27017,host2:27017/?replicaSet=NAME",
        ));
    }
    if !url.starts_with("mongodb://") {
        return Err(serde::de::Error::custom(
            "the url must start with mongodb://, such as mongodb://user:password@host:27017",
        ));
    }
    Ok(url)
}

fn default_database() -> String {
    "polyroute".to_owned()
}

fn default_pool() -> u32 {
    16
}

fn default_journal() -> bool {
    true
}

fn default_connect_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(5))
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("url", &"<redacted>")
            .field("database", &self.database)
            .field("pool", &self.pool)
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .field("write_concern", &self.write_concern)
            .field("read_preference", &self.read_preference)
            .finish()
    }
}

impl Config {
    /// Whether an acknowledged write survives a crash of the members that acknowledged it.
    pub(super) fn durable(&self) -> bool {
        self.write_concern.journal
    }

    /// Checks the options that serde cannot.
    pub(super) fn check(&self) -> Result<()> {
        if !is_identifier(&self.database) {
            return Err(StoreError::invalid(format!(
                "option `database`: `{}` is not valid: use ASCII letters, digits and `_`, starting with a letter or `_`",
                self.database
            )));
        }
        if self.pool == 0 {
            return Err(StoreError::invalid(
                "option `pool` must be at least 1 connection",
            ));
        }
        Ok(())
    }

    /// The write concern of every write.
    pub(super) fn write_concern(&self) -> WriteConcern {
        let w = match self.write_concern.w {
            WriteAcknowledgment::Majority => Acknowledgment::Majority,
            WriteAcknowledgment::Nodes(n) => Acknowledgment::Nodes(n),
        };
        let mut concern = WriteConcern::default();
        concern.w = Some(w);
        concern.journal = Some(self.write_concern.journal);
        concern.w_timeout = self.write_concern.timeout.map(|t| t.0);
        concern
    }

    /// The read preference of every read.
    pub(super) fn selection_criteria(&self) -> SelectionCriteria {
        SelectionCriteria::ReadPreference(match self.read_preference {
            ReadPreferenceConfig::Primary => ReadPreference::Primary,
            ReadPreferenceConfig::PrimaryPreferred => {
                ReadPreference::PrimaryPreferred { options: None }
            }
            ReadPreferenceConfig::Secondary => ReadPreference::Secondary { options: None },
            ReadPreferenceConfig::SecondaryPreferred => {
                ReadPreference::SecondaryPreferred { options: None }
            }
            ReadPreferenceConfig::Nearest => ReadPreference::Nearest { options: None },
        })
    }

    /// The driver's options: the parsed URL plus pool, timeouts, concerns and preference.
    /// Parse errors name the option, never the URL or its password.
    pub(super) async fn client_options(&self) -> Result<ClientOptions> {
        self.check()?;
        let mut options = ClientOptions::parse(&self.url).await.map_err(|err| {
            StoreError::invalid(format!(
                "option `url` is not a valid MongoDB connection string ({}); write it as mongodb://user:password@host:27017",
                super::error::describe_without_secrets(&err)
            ))
        })?;
        options.connect_timeout = Some(self.connect_timeout.0);
        options.server_selection_timeout = Some(self.connect_timeout.0);
        options.max_pool_size = Some(self.pool);
        if options.app_name.is_none() {
            options.app_name = Some("polyroute".to_owned());
        }
        options.write_concern = Some(self.write_concern());
        options.selection_criteria = Some(self.selection_criteria());
        Ok(options)
    }

    /// The servers the URL names, for messages (no credentials).
    pub(super) fn hosts(options: &ClientOptions) -> String {
        options
            .hosts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
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
        let config = parse(json!({"url": "mongodb://u:hunter2@localhost:27017"})).unwrap();
        assert_eq!(config.database, "polyroute");
        assert_eq!(config.pool, 16);
        assert_eq!(config.connect_timeout.0, Duration::from_secs(5));
        assert_eq!(config.read_preference, ReadPreferenceConfig::Primary);
        assert!(config.durable());
        assert!(!format!("{config:?}").contains("hunter2"));
        let concern = config.write_concern();
        assert_eq!(concern.w, Some(Acknowledgment::Majority));
        assert_eq!(concern.journal, Some(true));
    }

    #[tokio::test]
    async fn driver_options_carry_the_timeouts_and_concerns() {
        let config = parse(json!({
            "url": "mongodb://u:hunter2@h1:27017,h2:27018/?replicaSet=rs0",
            "connect_timeout": "2s",
            "pool": 4,
            "write_concern": {"w": 2, "journal": false, "timeout": "3s"},
            "read_preference": "secondary_preferred",
        }))
        .unwrap();
        let options = config.client_options().await.unwrap();
        assert_eq!(options.connect_timeout, Some(Duration::from_secs(2)));
        assert_eq!(
            options.server_selection_timeout,
            Some(Duration::from_secs(2))
        );
        assert_eq!(options.max_pool_size, Some(4));
        let concern = options.write_concern.clone().unwrap();
        assert_eq!(concern.w, Some(Acknowledgment::Nodes(2)));
        assert_eq!(concern.w_timeout, Some(Duration::from_secs(3)));
        assert!(!config.durable());
        assert!(matches!(
            options.selection_criteria,
            Some(SelectionCriteria::ReadPreference(
                ReadPreference::SecondaryPreferred { .. }
            ))
        ));
        assert_eq!(Config::hosts(&options), "h1:27017,h2:27018");
    }

    #[test]
    fn bad_options_are_explained() {
        let err = parse(json!({"url": "postgres://h/db"})).unwrap_err();
        assert!(err.contains("mongodb://"), "{err}");
        let err = parse(json!({"url": "mongodb+srv://cluster.example"})).unwrap_err();
        assert!(err.contains("SRV"), "{err}");
        let err = parse(json!({"url": "mongodb://h", "write_concern": {"w": 0}})).unwrap_err();
        assert!(err.contains("w = 0"), "{err}");
        let err = parse(json!({"url": "mongodb://h", "write_concern": {"w": "all"}})).unwrap_err();
        assert!(err.contains("majority"), "{err}");
        let err = parse(json!({"url": "mongodb://h", "read_preference": "any"})).unwrap_err();
        assert!(err.contains("nearest"), "{err}");
        let err = parse(json!({"url": "mongodb://h", "colection": "x"})).unwrap_err();
        assert!(err.contains("colection"), "{err}");
        let config = parse(json!({"url": "mongodb://h", "database": "bad-name"})).unwrap();
        assert!(config.check().unwrap_err().to_string().contains("database"));
    }

    #[tokio::test]
    async fn url_errors_hide_the_password() {
        let config = parse(json!({"url": "mongodb://u:hunter2@h:notaport"})).unwrap();
        let err = config.client_options().await.unwrap_err().to_string();
        assert!(err.contains("url"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
