//! [`Router`]: the connected stores and the entities routed to them, handing out typed handles.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use polyroute_adapters::{EntityHandle, EntitySettings, Store, StoreInfo, StoreKind};

use crate::cache::ReadThrough;
use crate::call::CallContext;
use crate::config::{Propagation, RecordSettings};
use crate::error::RouterError;
use crate::handles::{Documents, Graph, KeyValue, Relational, Search, TimeSeries, WideColumn};
use crate::layers::StoreLayers;
use crate::outbox::{DerivedHandle, Outbox, Records};

/// The connected stores of a service and the entities routed to them. Cheap to clone.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let router = polyroute::Router::from_config_path("polyroute.toml").await?;
/// let sessions = router.key_value("sessions")?;
/// sessions.set("s1", "alice").await?;
/// let orders = router.relational("orders")?;
/// let rows = orders.query("SELECT id FROM orders WHERE total > $1", &[100.into()]).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Router {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    stores: BTreeMap<String, ConnectedStore>,
    entities: BTreeMap<String, OpenedEntity>,
    timeout: Duration,
}

/// A connected store and what it said about itself.
#[derive(Debug)]
pub(crate) struct ConnectedStore {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) info: StoreInfo,
    /// The layers of every call to it, shared by the entities routed to it.
    pub(crate) layers: Arc<StoreLayers>,
}

/// An opened entity.
#[derive(Debug)]
pub(crate) struct OpenedEntity {
    pub(crate) store: String,
    pub(crate) handle: EntityHandle,
    pub(crate) settings: EntitySettings,
    pub(crate) context: CallContext,
    /// Its read-through cache, when its config has one.
    pub(crate) cache: Option<ReadThrough>,
    /// Its record settings, when it is a system of record.
    pub(crate) record: Option<RecordSettings>,
}

/// A connected store, as listed by [`Router::stores`].
#[derive(Clone, Copy, Debug)]
pub struct StoreDescription<'a> {
    /// Its name in config.
    pub name: &'a str,
    /// Its kind, backend and capabilities.
    pub info: StoreInfo,
    /// The layers its calls go through: its breaker's state, its calls in flight.
    pub layers: &'a StoreLayers,
}

/// A routed entity, as listed by [`Router::entities`].
#[derive(Clone, Copy, Debug)]
pub struct EntityDescription<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its kind (its store's kind).
    pub kind: StoreKind,
    /// The store it is routed to.
    pub store: &'a str,
    /// The deadline of each call on it.
    pub timeout: Duration,
}

impl Router {
    pub(crate) fn new(
        stores: BTreeMap<String, ConnectedStore>,
        entities: BTreeMap<String, OpenedEntity>,
        timeout: Duration,
    ) -> Self {
        Router {
            inner: Arc::new(Inner {
                stores,
                entities,
                timeout,
            }),
        }
    }

    /// The handle of key-value entity `entity`.
    pub fn key_value(&self, entity: &str) -> Result<KeyValue, RouterError> {
        let opened = self.opened(entity, StoreKind::KeyValue)?;
        match (&opened.handle, &opened.settings) {
            (EntityHandle::KeyValue(store), EntitySettings::KeyValue(settings)) => Ok(
                KeyValue::new(store.clone(), settings.clone(), opened.context.clone())
                    .with_cache(opened.cache.clone()),
            ),
            _ => Err(wrong_kind(entity, opened, StoreKind::KeyValue)),
        }
    }

    /// The handle of relational entity `entity`.
    pub fn relational(&self, entity: &str) -> Result<Relational, RouterError> {
        let opened = self.opened(entity, StoreKind::Relational)?;
        match (&opened.handle, &opened.settings) {
            (EntityHandle::Relational(store), _) => {
                Ok(Relational::new(store.clone(), opened.context.clone()))
            }
            _ => Err(wrong_kind(entity, opened, StoreKind::Relational)),
        }
    }

    /// The handle of document entity `entity`.
    pub fn document(&self, entity: &str) -> Result<Documents, RouterError> {
        let opened = self.opened(entity, StoreKind::Document)?;
        match (&opened.handle, &opened.settings) {
            (EntityHandle::Document(store), EntitySettings::Document(settings)) => Ok(
                Documents::new(store.clone(), settings.clone(), opened.context.clone())
                    .with_cache(opened.cache.clone()),
            ),
            _ => Err(wrong_kind(entity, opened, StoreKind::Document)),
        }
    }

    /// The handle of time-series entity `entity`.
    pub fn time_series(&self, entity: &str) -> Result<TimeSeries, RouterError> {
        let opened = self.opened(entity, StoreKind::TimeSeries)?;
        match (&opened.handle, &opened.settings) {
            (EntityHandle::TimeSeries(store), EntitySettings::TimeSeries(settings)) => Ok(
                TimeSeries::new(store.clone(), settings.clone(), opened.context.clone()),
            ),
            _ => Err(wrong_kind(entity, opened, StoreKind::TimeSeries)),
        }
    }

    /// The handle of graph entity `entity`.
    pub fn graph(&self, entity: &str) -> Result<Graph, RouterError> {
        let opened = self.opened(entity, StoreKind::Graph)?;
        match (&opened.handle, &opened.settings) {
            (EntityHandle::Graph(store), _) => {
                Ok(Graph::new(store.clone(), opened.context.clone()))
            }
            _ => Err(wrong_kind(entity, opened, StoreKind::Graph)),
        }
    }

    /// The handle of wide-column entity `entity`.
    pub fn wide_column(&self, entity: &str) -> Result<WideColumn, RouterError> {
        let opened = self.opened(entity, StoreKind::WideColumn)?;
        match (&opened.handle, &opened.settings) {
            (EntityHandle::WideColumn(store), EntitySettings::WideColumn(settings)) => Ok(
                WideColumn::new(store.clone(), settings.clone(), opened.context.clone()),
            ),
            _ => Err(wrong_kind(entity, opened, StoreKind::WideColumn)),
        }
    }

    /// The handle of search entity `entity`.
    pub fn search(&self, entity: &str) -> Result<Search, RouterError> {
        let opened = self.opened(entity, StoreKind::Search)?;
        match (&opened.handle, &opened.settings) {
            (EntityHandle::Search(store), EntitySettings::Search(settings)) => Ok(Search::new(
                store.clone(),
                settings.clone(),
                opened.context.clone(),
            )),
            _ => Err(wrong_kind(entity, opened, StoreKind::Search)),
        }
    }

    /// The handle of record entity `entity`: writes with their outbox change, routed reads,
    /// read-your-writes sessions.
    pub fn records(&self, entity: &str) -> Result<Records, RouterError> {
        let sor = self.relational(entity)?;
        let record = self.record(entity, false)?;
        let get_route = match &record.routes.get {
            Some(name) => Some((name.clone(), self.outbox_target(name)?)),
            None => None,
        };
        let search_route = match &record.routes.search {
            Some(name) => Some((name.clone(), self.search(name)?)),
            None => None,
        };
        let outbox = match &record.propagate {
            Some(propagation) => Some(self.new_outbox(entity, sor.clone(), propagation.clone())?),
            None => None,
        };
        Ok(Records::new(
            entity,
            sor,
            record.clone(),
            get_route,
            search_route,
            outbox,
        ))
    }

    /// The outbox of record entity `entity` (one with `propagate`): its relay and status.
    /// Each call makes a new relay identity.
    pub fn outbox(&self, entity: &str) -> Result<Outbox, RouterError> {
        let sor = self.relational(entity)?;
        let record = self.record(entity, true)?;
        let propagation = record
            .propagate
            .clone()
            .ok_or_else(|| RouterError::NotRecord {
                entity: entity.to_owned(),
                outbox: true,
            })?;
        self.new_outbox(entity, sor, propagation)
    }

    /// The outbox of `entity`, with the handles of its targets resolved.
    fn new_outbox(
        &self,
        entity: &str,
        sor: Relational,
        settings: Propagation,
    ) -> Result<Outbox, RouterError> {
        let targets = settings
            .to
            .iter()
            .map(|name| Ok((name.clone(), self.outbox_target(name)?)))
            .collect::<Result<Vec<_>, RouterError>>()?;
        Ok(Outbox::new(entity, sor, settings, targets))
    }

    /// The handle through which an outbox delivers to derived entity `name`.
    fn outbox_target(&self, name: &str) -> Result<DerivedHandle, RouterError> {
        let kind = self
            .entities()
            .find(|entity| entity.name == name)
            .map(|entity| entity.kind);
        match kind {
            Some(StoreKind::Document) => Ok(DerivedHandle::Document(self.document(name)?)),
            Some(StoreKind::KeyValue) => Ok(DerivedHandle::KeyValue(self.key_value(name)?)),
            _ => Ok(DerivedHandle::Search(self.search(name)?)),
        }
    }

    /// The record entities that propagate, by name.
    pub fn outboxes(&self) -> impl Iterator<Item = &str> {
        self.inner
            .entities
            .iter()
            .filter(|(_, opened)| {
                opened
                    .record
                    .as_ref()
                    .is_some_and(|r| r.propagate.is_some())
            })
            .map(|(name, _)| name.as_str())
    }

    fn record(&self, entity: &str, outbox: bool) -> Result<&RecordSettings, RouterError> {
        self.opened(entity, StoreKind::Relational)?
            .record
            .as_ref()
            .ok_or_else(|| RouterError::NotRecord {
                entity: entity.to_owned(),
                outbox,
            })
    }

    fn opened(&self, entity: &str, expected: StoreKind) -> Result<&OpenedEntity, RouterError> {
        let opened = self
            .inner
            .entities
            .get(entity)
            .ok_or_else(|| RouterError::UnknownEntity {
                name: entity.to_owned(),
                known: self.inner.entities.keys().cloned().collect(),
            })?;
        if opened.handle.kind() == expected {
            Ok(opened)
        } else {
            Err(wrong_kind(entity, opened, expected))
        }
    }

    /// The read-through cache of `entity`, when it has one (`cache = { ... }`): for code that
    /// reads the entity's system of record itself and wants the same cache the handles use.
    pub fn cache_of(&self, entity: &str) -> Option<ReadThrough> {
        self.inner.entities.get(entity)?.cache.clone()
    }

    /// The connected stores, by name.
    pub fn stores(&self) -> impl Iterator<Item = StoreDescription<'_>> {
        self.inner
            .stores
            .iter()
            .map(|(name, store)| StoreDescription {
                name,
                info: store.info,
                layers: &store.layers,
            })
    }

    /// The routed entities, by name.
    pub fn entities(&self) -> impl Iterator<Item = EntityDescription<'_>> {
        self.inner
            .entities
            .iter()
            .map(|(name, route)| EntityDescription {
                name,
                kind: route.handle.kind(),
                store: &route.store,
                timeout: route.context.timeout(),
            })
    }

    /// One round trip to store `store`, within the policy timeout.
    pub async fn ping(&self, store: &str) -> Result<(), RouterError> {
        let connected = self
            .inner
            .stores
            .get(store)
            .ok_or_else(|| RouterError::UnknownStore {
                name: store.to_owned(),
                known: self.inner.stores.keys().cloned().collect(),
            })?;
        CallContext::for_store(store, connected.info.kind, self.inner.timeout)
            .call("ping", connected.store.ping())
            .await
            .map_err(|source| RouterError::Store {
                store: store.to_owned(),
                source,
            })
    }
}

fn wrong_kind(entity: &str, opened: &OpenedEntity, expected: StoreKind) -> RouterError {
    RouterError::WrongKind {
        entity: entity.to_owned(),
        expected,
        actual: opened.handle.kind(),
        store: opened.store.clone(),
    }
}
