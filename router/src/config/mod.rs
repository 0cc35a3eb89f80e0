//! `polyroute.toml`: which stores exist and which entity is routed to which store.
//!
//! ```toml
//! [stores.main]                 # a store: `kind` required, `backend` default "embedded",
//! kind = "relational"           # every other key is an option of the backend
//! path = "data/main.db"         # relative paths resolve against this file's folder
//!
//! [stores.cache]
//! kind = "key_value"
//! max_memory = "${CACHE_SIZE}"  # `${NAME}` reads the environment; `$${` is a literal `${`
//!
//! [entities.orders]             # an entity: `store` required, `timeout` optional,
//! store = "main"                # plus the keys of its store's kind
//!
//! [entities.products]           # access policy: read-through cache, hedged reads,
//! store = "docs"                # per-operation deadlines
//! cache = { store = "cache", ttl = "5m", jitter = 0.1, stale = "30s", negative = "10s" }
//! hedge = { after = "20ms", ops = ["get"] }
//! timeouts = { get = "50ms", find = "2s" }
//!
//! [entities.sessions]
//! store = "cache"
//! ttl = "30m"
//!
//! [policy]
//! timeout = "250ms"             # per-call deadline (default 5s); an entity's `timeout` wins
//!
//! [sidecar]                     # passed through unread to the HTTP sidecar (`Config::section`)
//! bind = "127.0.0.1:7878"
//! ```
//!
//! Kind-specific entity keys: key_value `ttl`; document `indexes = ["customer.id"]`;
//! time_series `retention`; wide_column `partition_key`, `clustering_key`, `ttl`; search
//! `fields = { title = "text", category = "keyword", price = "float", stock = "integer" }`;
//! graph `max_depth = 6` (default 10); relational none. A relational entity may be a system of record: `table`, `key`,
//! `routes = { get, search }`, `propagate = { to = [...] }`, `read_your_writes` (see
//! [`RecordSettings`]).
//!
//! Loading checks everything that can be checked without connecting and reports every problem
//! at once, each with the field it is about ([`ConfigError::Invalid`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use polyroute_adapters::registry::ConnectContext;
use polyroute_adapters::{EntitySettings, Store, StoreError, StoreKind};

use crate::cache::CachePolicy;
use crate::layers::hedge::HedgePolicy;
use crate::layers::LayerPolicy;

mod access;
mod declarations;
mod entities;
mod env;
mod fit;
mod names;
mod options;
mod parse;
mod policy;
mod problem;
mod records;
mod sections;
mod settings;
mod stores;
mod walk;

pub use env::{Environment, ProcessEnvironment};
pub use options::BackendOptions;
pub use policy::DEFAULT_TIMEOUT;
pub use problem::{ConfigError, ConfigProblem, Location, ProblemKind};
pub use records::{Propagation, RecordRoutes, RecordSettings, TARGET_KINDS};
pub use sections::{Section, PASS_THROUGH_SECTIONS};
pub use stores::DEFAULT_BACKEND;

pub(crate) use declarations::{Access, Declarations, EntityDecl, StoreSource};
pub(crate) use fit::route_problems;

/// A checked config: every store's backend accepts its options, every entity names a declared
/// store of a kind its settings fit.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    stores: BTreeMap<String, StoreConfig>,
    entities: BTreeMap<String, EntityConfig>,
    policy: Policy,
    sections: BTreeMap<String, Section>,
    base_dir: PathBuf,
}

/// One `[stores.NAME]`.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreConfig {
    kind: StoreKind,
    backend: String,
    options: BackendOptions,
}

impl StoreConfig {
    /// The kind it serves.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// The backend's name (`embedded` unless the config names another).
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// The backend options, with `${NAME}` already replaced.
    pub fn options(&self) -> &BackendOptions {
        &self.options
    }

    /// Connects this store through the backend registry. Secrets from the options are kept
    /// out of the error's message.
    pub async fn connect(&self, context: &ConnectContext) -> Result<Arc<dyn Store>, StoreError> {
        self.options
            .connect(self.kind, &self.backend, context)
            .await
    }
}

/// One `[entities.NAME]`.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityConfig {
    /// The store it is routed to.
    pub store: String,
    /// Its own per-call deadline, overriding `[policy] timeout`.
    pub timeout: Option<Duration>,
    /// Its kind-specific settings.
    pub settings: EntitySettings,
    /// Its read-through cache (`cache = { store = "NAME", ... }`), if any.
    pub cache: Option<CachePolicy>,
    /// Its hedged reads (`hedge = { after = "20ms" }`), if any.
    pub hedge: Option<HedgePolicy>,
    /// Per-operation deadlines (`timeouts = { get = "20ms" }`) overriding `timeout`.
    pub timeouts: BTreeMap<String, Duration>,
    /// Its record settings, when it is a relational entity declared as a system of record.
    pub record: Option<RecordSettings>,
}

/// `[policy]`: defaults for every call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    /// The per-call deadline of entities that set none.
    pub timeout: Duration,
    /// Retries, breaker and concurrency limit of every store.
    pub layers: LayerPolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            timeout: DEFAULT_TIMEOUT,
            layers: LayerPolicy::default(),
        }
    }
}

impl Config {
    /// Reads and checks the file at `path`, with `${NAME}` from the process environment.
    /// Relative backend paths resolve against the file's folder.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        Config::from_path_with_env(path, &ProcessEnvironment)
    }

    /// Like [`Config::from_path`], with `${NAME}` from `env`.
    pub fn from_path_with_env(
        path: impl AsRef<Path>,
        env: &dyn Environment,
    ) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base_dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        parse::parse(&text, base_dir, env)
    }

    /// Checks config `text`, with `${NAME}` from the process environment; relative backend
    /// paths resolve against `base_dir`.
    pub fn from_toml_str(text: &str, base_dir: impl Into<PathBuf>) -> Result<Config, ConfigError> {
        Config::from_toml_str_with_env(text, base_dir, &ProcessEnvironment)
    }

    /// Like [`Config::from_toml_str`], with `${NAME}` from `env`.
    pub fn from_toml_str_with_env(
        text: &str,
        base_dir: impl Into<PathBuf>,
        env: &dyn Environment,
    ) -> Result<Config, ConfigError> {
        parse::parse(text, base_dir.into(), env)
    }

    /// The stores, by name.
    pub fn stores(&self) -> &BTreeMap<String, StoreConfig> {
        &self.stores
    }

    /// The entities, by name.
    pub fn entities(&self) -> &BTreeMap<String, EntityConfig> {
        &self.entities
    }

    /// The `[policy]` section (defaults when absent).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// A top-level section the router passes through unread (one of
    /// [`PASS_THROUGH_SECTIONS`], such as `sidecar`), as JSON with `${NAME}` replaced; `None`
    /// when the file has none. Its owner checks its keys.
    pub fn section(&self, name: &str) -> Option<&serde_json::Value> {
        self.sections.get(name).map(Section::as_json)
    }

    /// The folder relative backend paths resolve against.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// What backends need to connect: the base folder for relative paths.
    pub fn connect_context(&self) -> ConnectContext {
        ConnectContext {
            base_dir: self.base_dir.clone(),
            longest_call: None,
        }
    }
}
