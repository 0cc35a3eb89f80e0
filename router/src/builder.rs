//! [`RouterBuilder`]: declares stores and entities in code (or from a [`Config`]) and builds a
//! [`Router`], checking the same things a config load does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use polyroute_adapters::kinds::key_value::KeyValueSettings;
use polyroute_adapters::registry::ConnectContext;
use polyroute_adapters::{
    EntityHandle, EntitySettings, EntitySpec, Store, StoreError, StoreInfo, StoreKind,
};

use crate::cache::{namespace, CachePolicy, ReadThrough};
use crate::call::{CallContext, Hedge, OpPolicy};
use crate::config::{
    route_problems, Access, BackendOptions, Config, ConfigError, ConfigProblem, Declarations,
    EntityConfig, EntityDecl, RecordSettings, StoreSource,
};
use crate::error::{RouterError, StartupFailure};
use crate::layers::hedge::HedgePolicy;
use crate::layers::{LayerPolicy, StoreLayers};
use crate::ops;
use crate::outbox::{self, KEY_FIELD, SEQ_FIELD};
use crate::router::{ConnectedStore, OpenedEntity, Router};
use polyroute_adapters::kinds::search::{SearchField, SearchFieldKind};

/// Construction: a router is built by a [`RouterBuilder`], from a config or declared in code.
impl Router {
    /// Loads the config at `path` (with `${NAME}` from the process environment), then connects
    /// every store and opens every entity.
    pub async fn from_config_path(path: impl AsRef<Path>) -> Result<Router, RouterError> {
        Router::connect(Config::from_path(path)?).await
    }

    /// Connects every store of `config` and opens every entity.
    pub async fn connect(config: Config) -> Result<Router, RouterError> {
        RouterBuilder::from_config(config).build().await
    }

    /// A builder to declare stores and entities in code.
    pub fn builder() -> RouterBuilder {
        RouterBuilder::new()
    }
}

/// Builds a [`Router`] in code: the same stores, entities and checks as a config file.
///
/// ```no_run
/// # async fn example() -> Result<(), polyroute::RouterError> {
/// use polyroute::key_value::KeyValueSettings;
/// use polyroute::{EntitySettings, RouterBuilder, StoreKind};
/// use std::time::Duration;
///
/// let router = RouterBuilder::new()
///     .store_config("cache", StoreKind::KeyValue, "embedded", serde_json::json!({}))
///     .entity(
///         "sessions",
///         "cache",
///         EntitySettings::KeyValue(KeyValueSettings::with_ttl(Some(Duration::from_secs(1800)))),
///     )
///     .timeout(Duration::from_millis(250))
///     .build()
///     .await?;
/// router.key_value("sessions")?.set("s1", "alice").await.ok();
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct RouterBuilder {
    declared: Declarations,
    layers: LayerPolicy,
    context: ConnectContext,
}

impl Default for RouterBuilder {
    fn default() -> Self {
        RouterBuilder::new()
    }
}

impl RouterBuilder {
    /// An empty builder with the default timeout ([`DEFAULT_TIMEOUT`]).
    pub fn new() -> Self {
        RouterBuilder {
            declared: Declarations::default(),
            layers: LayerPolicy::default(),
            context: ConnectContext::default(),
        }
    }

    /// A builder holding everything `config` declares.
    pub fn from_config(config: Config) -> Self {
        let mut builder = RouterBuilder::new()
            .timeout(config.policy().timeout)
            .layers(config.policy().layers)
            .base_dir(config.base_dir());
        for (name, store) in config.stores() {
            builder.declared.stores.push((
                name.clone(),
                StoreSource::Declared {
                    kind: store.kind(),
                    backend: store.backend().to_owned(),
                    options: store.options().clone(),
                },
            ));
        }
        for (name, entity) in config.entities() {
            builder = builder.entity_config(name, entity);
        }
        builder
    }

    /// Adds an already connected store as `name`.
    pub fn store(mut self, name: impl Into<String>, store: Arc<dyn Store>) -> Self {
        self.declared
            .stores
            .push((name.into(), StoreSource::Ready(store)));
        self
    }

    /// Adds a store to connect through the backend registry at build time: `options` is the
    /// JSON object a config's `[stores.NAME]` table would hold, without `kind` and `backend`.
    pub fn store_config(
        mut self,
        name: impl Into<String>,
        kind: StoreKind,
        backend: impl Into<String>,
        options: serde_json::Value,
    ) -> Self {
        self.declared.stores.push((
            name.into(),
            StoreSource::Declared {
                kind,
                backend: backend.into(),
                options: BackendOptions::new(options),
            },
        ));
        self
    }

    /// Routes entity `name` to `store`, with `settings` of the store's kind.
    pub fn entity(
        mut self,
        name: impl Into<String>,
        store: impl Into<String>,
        settings: EntitySettings,
    ) -> Self {
        self.declared.entities.push(EntityDecl {
            name: name.into(),
            store: store.into(),
            settings,
        });
        self
    }

    /// Routes entity `name` as its `[entities.NAME]` table says: its store and settings, and
    /// its deadlines, cache, hedge and record routes when it has them.
    pub fn entity_config(mut self, name: &str, entity: &EntityConfig) -> Self {
        self = self.entity(name, &entity.store, entity.settings.clone());
        if let Some(timeout) = entity.timeout {
            self = self.entity_timeout(name, timeout);
        }
        if let Some(cache) = &entity.cache {
            self = self.entity_cache(name, cache.clone());
        }
        if let Some(hedge) = &entity.hedge {
            self = self.entity_hedge(name, hedge.clone());
        }
        for (op, timeout) in &entity.timeouts {
            self = self.entity_op_timeout(name, op, *timeout);
        }
        if let Some(record) = &entity.record {
            self = self.record(name, record.clone());
        }
        self
    }

    /// Gives entity `name` its own per-call deadline.
    pub fn entity_timeout(mut self, name: impl Into<String>, timeout: Duration) -> Self {
        self.declared.entity_timeouts.push((name.into(), timeout));
        self
    }

    /// Caches entity `name`'s reads in a key-value store, as `cache = { ... }` in config does.
    pub fn entity_cache(mut self, name: impl Into<String>, cache: CachePolicy) -> Self {
        self.declared.access.entry(name.into()).or_default().cache = Some(cache);
        self
    }

    /// Hedges entity `name`'s reads, as `hedge = { ... }` in config does.
    pub fn entity_hedge(mut self, name: impl Into<String>, hedge: HedgePolicy) -> Self {
        self.declared.access.entry(name.into()).or_default().hedge = Some(hedge);
        self
    }

    /// Gives operation `op` of entity `name` its own deadline, as `timeouts = { op = "…" }` in
    /// config does (`op` is one of the names its handle passes to the call path).
    pub fn entity_op_timeout(
        mut self,
        name: impl Into<String>,
        op: impl Into<String>,
        timeout: Duration,
    ) -> Self {
        self.declared
            .access
            .entry(name.into())
            .or_default()
            .timeouts
            .push((op.into(), timeout));
        self
    }

    /// Makes relational entity `name` a record entity: the system of record of `settings.table`,
    /// with its routes, propagation and read-your-writes.
    pub fn record(mut self, name: impl Into<String>, settings: RecordSettings) -> Self {
        self.declared.records.push((name.into(), settings));
        self
    }

    /// The per-call deadline of entities without their own.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.declared.timeout = timeout;
        self
    }

    /// The layers every store's calls go through (default: [`LayerPolicy::default`], retries
    /// and a breaker, no concurrency limit). Each store gets its own instances.
    pub fn layers(mut self, layers: LayerPolicy) -> Self {
        self.layers = layers;
        self
    }

    /// The folder relative backend paths resolve against (default: the current directory).
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.context = ConnectContext {
            base_dir: dir.into(),
            longest_call: None,
        };
        self
    }

    /// Checks every declaration, connects every declared store, checks each entity against its
    /// store's kind and capabilities, and opens every entity.
    ///
    /// Reports all problems of a stage at once: declaration and capability problems as
    /// [`RouterError::Config`], connection and open failures as [`RouterError::Startup`].
    pub async fn build(self) -> Result<Router, RouterError> {
        invalid(self.declared.problems())?;
        let Declarations {
            stores,
            entities: mut declared,
            entity_timeouts,
            mut access,
            records,
            timeout: default_timeout,
        } = self.declared;
        let timeouts: BTreeMap<String, Duration> = entity_timeouts.into_iter().collect();
        let records: BTreeMap<String, RecordSettings> = records.into_iter().collect();
        derive_search_fields(&mut declared, &records);
        let longest = longest_calls(&declared, &timeouts, &access, default_timeout);
        let (stores, mut failures) =
            connect_all(stores, &self.context, &longest, &self.layers).await;

        let mut routable = Vec::new();
        let mut problems = Vec::new();
        for entity in declared {
            if let Some(store) = stores.get(&entity.store) {
                let found =
                    route_problems(&entity.name, &entity.settings, &entity.store, &store.info);
                if found.is_empty() {
                    routable.push((entity, store.store.clone(), store.info));
                } else {
                    problems.extend(found);
                }
            }
        }
        invalid(problems)?;

        let opened = join_all(
            routable
                .into_iter()
                .map(|(entity, store, info)| async move {
                    let outcome = open(&entity, store.as_ref(), &info).await;
                    (entity, info, outcome)
                }),
        )
        .await;
        let mut entities = BTreeMap::new();
        for (entity, info, outcome) in opened {
            match outcome {
                Ok(handle) => {
                    let timeout = timeouts
                        .get(&entity.name)
                        .copied()
                        .unwrap_or(default_timeout);
                    let access = access.remove(&entity.name).unwrap_or_default();
                    let mut context =
                        CallContext::for_entity(&entity.name, &entity.store, info.kind, timeout)
                            .with_layers(layers_of(&stores, &entity.store));
                    if let Some(ops) = op_policy(info.kind, &access) {
                        context = context.with_ops(ops);
                    }
                    let cache = match access.cache {
                        None => None,
                        Some(policy) => {
                            match open_cache(&entity.name, timeout, policy, &stores).await {
                                Ok(cache) => Some(cache),
                                Err((store, error)) => {
                                    failures.push(StartupFailure {
                                        store,
                                        entity: Some(entity.name),
                                        error,
                                    });
                                    continue;
                                }
                            }
                        }
                    };
                    let record = records.get(&entity.name).cloned();
                    entities.insert(
                        entity.name,
                        OpenedEntity {
                            store: entity.store,
                            handle,
                            settings: entity.settings,
                            context,
                            cache,
                            record,
                        },
                    );
                }
                Err(error) => failures.push(StartupFailure {
                    store: entity.store,
                    entity: Some(entity.name),
                    error,
                }),
            }
        }
        if !failures.is_empty() {
            return Err(RouterError::Startup(failures));
        }
        let router = Router::new(stores, entities, default_timeout);
        install_outboxes(&router, &records).await?;
        Ok(router)
    }
}

/// The per-operation deadlines and hedge of an entity of `kind`, if it sets any (checked
/// already, so every name is one of the kind's operations).
fn op_policy(kind: StoreKind, access: &Access) -> Option<OpPolicy> {
    if access.hedge.is_none() && access.timeouts.is_empty() {
        return None;
    }
    let timeouts = access
        .timeouts
        .iter()
        .filter_map(|(op, timeout)| Some((ops::find(kind, op)?, *timeout)))
        .collect();
    let hedge = access.hedge.as_ref().map(|hedge| Hedge {
        after: hedge.after,
        ops: match &hedge.ops {
            None => ops::reads(kind).to_vec(),
            Some(names) => names
                .iter()
                .filter_map(|op| ops::reads(kind).iter().copied().find(|read| read == op))
                .collect(),
        },
    });
    Some(OpPolicy { timeouts, hedge })
}

/// Opens `entity`'s cache: its namespace in the cache store, called through that store's
/// layers with the entity's deadline. On failure, the store and the error.
async fn open_cache(
    entity: &str,
    timeout: Duration,
    policy: CachePolicy,
    stores: &BTreeMap<String, ConnectedStore>,
) -> Result<ReadThrough, (String, StoreError)> {
    let failed = |error| (policy.store.clone(), error);
    let Some(store) = stores.get(&policy.store) else {
        return Err(failed(StoreError::invalid(format!(
            "cache store `{}` is not connected",
            policy.store
        ))));
    };
    let name = namespace(entity);
    let spec = EntitySpec::new(&name, EntitySettings::KeyValue(KeyValueSettings::default()))
        .map_err(failed)?;
    let handle = match store.store.open(&spec).await.map_err(failed)? {
        EntityHandle::KeyValue(handle) => handle,
        other => {
            return Err(failed(StoreError::invalid(format!(
                "cache store `{}` opened a {} handle, not key_value",
                policy.store,
                other.kind()
            ))))
        }
    };
    let context = CallContext::for_entity(entity, &policy.store, StoreKind::KeyValue, timeout)
        .with_layers(Arc::clone(&store.layers));
    let expires = store.info.capabilities.ttl;
    Ok(ReadThrough::new(entity, handle, context, policy, expires))
}

fn invalid(problems: Vec<ConfigProblem>) -> Result<(), RouterError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RouterError::Config(ConfigError::Invalid(problems)))
    }
}

/// The longest deadline a call to each store gets: the largest timeout, entity-wide or per
/// operation, of the entities it serves.
fn longest_calls(
    entities: &[EntityDecl],
    timeouts: &BTreeMap<String, Duration>,
    access: &BTreeMap<String, Access>,
    default: Duration,
) -> BTreeMap<String, Duration> {
    let mut longest: BTreeMap<String, Duration> = BTreeMap::new();
    for entity in entities {
        let entity_wide = timeouts.get(&entity.name).copied().unwrap_or(default);
        let per_op = access
            .get(&entity.name)
            .into_iter()
            .flat_map(|access| access.timeouts.iter().map(|(_, timeout)| *timeout));
        let most = per_op.fold(entity_wide, Duration::max);
        let entry = longest.entry(entity.store.clone()).or_default();
        *entry = (*entry).max(most);
    }
    longest
}

/// Connects every declared store (concurrently); ready stores are taken as they are. Each
/// learns the longest deadline its calls get (`longest`).
async fn connect_all(
    sources: Vec<(String, StoreSource)>,
    context: &ConnectContext,
    longest: &BTreeMap<String, Duration>,
    policy: &LayerPolicy,
) -> (BTreeMap<String, ConnectedStore>, Vec<StartupFailure>) {
    let connected = join_all(sources.into_iter().map(|(name, source)| async move {
        let outcome = match source {
            StoreSource::Ready(store) => Ok(store),
            StoreSource::Declared {
                kind,
                backend,
                options,
            } => {
                let context = ConnectContext {
                    longest_call: longest.get(&name).copied(),
                    ..context.clone()
                };
                options.connect(kind, &backend, &context).await
            }
        };
        (name, outcome)
    }))
    .await;
    let mut stores = BTreeMap::new();
    let mut failures = Vec::new();
    for (name, outcome) in connected {
        match outcome {
            Ok(store) => {
                let info = store.info();
                let layers = Arc::new(StoreLayers::new(&name, policy));
                stores.insert(
                    name,
                    ConnectedStore {
                        store,
                        info,
                        layers,
                    },
                );
            }
            Err(error) => failures.push(StartupFailure {
                store: name,
                entity: None,
                error,
            }),
        }
    }
    (stores, failures)
}

async fn open(
    entity: &EntityDecl,
    store: &dyn Store,
    info: &StoreInfo,
) -> Result<polyroute_adapters::EntityHandle, StoreError> {
    let spec = EntitySpec::new(&entity.name, entity.settings.clone())?;
    let handle = store.open(&spec).await?;
    if handle.kind() != info.kind {
        return Err(StoreError::backend(format!(
            "backend `{}` opened a {} handle for a {} entity",
            info.backend,
            handle.kind(),
            info.kind
        )));
    }
    Ok(handle)
}

/// The layers of store `name` (a fresh, empty stack if it is not connected, which `build`
/// never asks for).
fn layers_of(stores: &BTreeMap<String, ConnectedStore>, name: &str) -> Arc<StoreLayers> {
    stores.get(name).map_or_else(
        || Arc::new(StoreLayers::none()),
        |store| Arc::clone(&store.layers),
    )
}

/// Gives every search entity that a record entity propagates to the fields the relay needs:
/// `_key` (keyword) and `_seq` (integer).
fn derive_search_fields(entities: &mut [EntityDecl], records: &BTreeMap<String, RecordSettings>) {
    let targets: Vec<&String> = records
        .values()
        .filter_map(|record| record.propagate.as_ref())
        .flat_map(|propagation| &propagation.to)
        .collect();
    for entity in entities.iter_mut() {
        if !targets.contains(&&entity.name) {
            continue;
        }
        if let EntitySettings::Search(search) = &mut entity.settings {
            for (name, kind) in [
                (KEY_FIELD, SearchFieldKind::Keyword),
                (SEQ_FIELD, SearchFieldKind::Integer),
            ] {
                if !search.fields.iter().any(|field| field.name == name) {
                    search.fields.push(SearchField {
                        name: name.to_owned(),
                        kind,
                    });
                }
            }
        }
    }
}

/// Creates the outbox tables and rows of every record entity, one after another (concurrent
/// `CREATE TABLE IF NOT EXISTS` on one database can collide).
async fn install_outboxes(
    router: &Router,
    records: &BTreeMap<String, RecordSettings>,
) -> Result<(), RouterError> {
    let mut failures = Vec::new();
    for (name, record) in records {
        let sor = router.relational(name)?;
        let targets: &[String] = record.propagate.as_ref().map_or(&[], |p| &p.to);
        if let Err(error) = outbox::install(&sor, name, targets).await {
            failures.push(StartupFailure {
                store: sor.context().store().to_owned(),
                entity: Some(name.clone()),
                error,
            });
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(RouterError::Startup(failures))
    }
}
