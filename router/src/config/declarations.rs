//! What a [`RouterBuilder`](crate::RouterBuilder) has been told, and every problem that can be
//! seen in it before connecting: the same checks a config load makes, from the same functions,
//! for stores and entities declared in code.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use polyroute_adapters::{EntitySettings, Store, StoreKind};

use super::access::{cache_problems, hedge_problems, jitter_problem, timeout_problems};
use super::fit::kind_problem;
use super::names::{
    entity_name_problem, store_name_problem, unknown_entity, unknown_store, zero_timeout,
};
use super::options::{registry_problems, BackendOptions};
use super::policy::DEFAULT_TIMEOUT;
use super::problem::{ConfigProblem, ProblemKind};
use super::records::{record_problems, Declared, RecordSettings};
use super::walk::join;
use crate::cache::CachePolicy;
use crate::layers::hedge::HedgePolicy;

/// Every store and entity declared so far, in the order they were declared.
#[derive(Debug)]
pub(crate) struct Declarations {
    pub(crate) stores: Vec<(String, StoreSource)>,
    pub(crate) entities: Vec<EntityDecl>,
    pub(crate) entity_timeouts: Vec<(String, Duration)>,
    pub(crate) access: BTreeMap<String, Access>,
    pub(crate) records: Vec<(String, RecordSettings)>,
    /// The per-call deadline of entities without their own.
    pub(crate) timeout: Duration,
}

/// A store: given connected, or to connect through the registry.
#[derive(Debug)]
pub(crate) enum StoreSource {
    Ready(Arc<dyn Store>),
    Declared {
        kind: StoreKind,
        backend: String,
        options: BackendOptions,
    },
}

impl StoreSource {
    pub(crate) fn kind(&self) -> StoreKind {
        match self {
            StoreSource::Ready(store) => store.info().kind,
            StoreSource::Declared { kind, .. } => *kind,
        }
    }
}

/// An entity routed to a store, with settings of the store's kind.
#[derive(Debug)]
pub(crate) struct EntityDecl {
    pub(crate) name: String,
    pub(crate) store: String,
    pub(crate) settings: EntitySettings,
}

/// An entity's access policy: cache, hedge and per-operation deadlines.
#[derive(Debug, Default)]
pub(crate) struct Access {
    pub(crate) cache: Option<CachePolicy>,
    pub(crate) hedge: Option<HedgePolicy>,
    pub(crate) timeouts: Vec<(String, Duration)>,
}

impl Default for Declarations {
    fn default() -> Self {
        Declarations {
            stores: Vec::new(),
            entities: Vec::new(),
            entity_timeouts: Vec::new(),
            access: BTreeMap::new(),
            records: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl Declarations {
    /// Every problem that can be seen before connecting, all at once.
    pub(crate) fn problems(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.timeout.is_zero() {
            problems.push(zero_timeout("policy.timeout"));
        }
        self.store_problems(&mut problems);
        self.entity_problems(&mut problems);
        self.access_problems(&mut problems);
        problems
    }

    fn store_problems(&self, problems: &mut Vec<ConfigProblem>) {
        let mut seen: Vec<&str> = Vec::new();
        for (name, source) in &self.stores {
            let path = join("stores", name);
            problems.extend(
                store_name_problem(&path, name).or_else(|| duplicate(&path, "store", name, &seen)),
            );
            seen.push(name);
            if let StoreSource::Declared {
                kind,
                backend,
                options,
            } = source
            {
                problems.extend(registry_problems(&path, *kind, backend, options));
            }
        }
    }

    fn entity_problems(&self, problems: &mut Vec<ConfigProblem>) {
        let stores: Vec<&str> = self.stores.iter().map(|(name, _)| name.as_str()).collect();
        let mut seen: Vec<&str> = Vec::new();
        for entity in &self.entities {
            let path = join("entities", &entity.name);
            problems.extend(
                entity_name_problem(&path, &entity.name)
                    .or_else(|| duplicate(&path, "entity", &entity.name, &seen)),
            );
            seen.push(&entity.name);
            match self.stores.iter().find(|(name, _)| *name == entity.store) {
                None => problems.push(unknown_store(&join(&path, "store"), &entity.store, &stores)),
                Some((store, source)) => problems.extend(kind_problem(
                    &entity.name,
                    &entity.settings,
                    store,
                    source.kind(),
                )),
            }
        }
        let entities = self.entity_names();
        for (name, _) in &self.records {
            if !entities.contains(&name.as_str()) {
                problems.push(unknown_entity(
                    &join(&join("entities", name), "table"),
                    Some("record settings"),
                    name,
                    &entities,
                ));
            }
        }
        let declared: Vec<Declared<'_>> = self
            .entities
            .iter()
            .map(|entity| Declared {
                name: &entity.name,
                kind: Some(entity.settings.kind()),
                record: self
                    .records
                    .iter()
                    .find(|(name, _)| *name == entity.name)
                    .map(|(_, record)| record),
            })
            .collect();
        problems.extend(record_problems(&declared));
        for (name, timeout) in &self.entity_timeouts {
            let path = join(&join("entities", name), "timeout");
            if !entities.contains(&name.as_str()) {
                problems.push(unknown_entity(&path, Some("timeout set"), name, &entities));
            } else if timeout.is_zero() {
                problems.push(zero_timeout(&path));
            }
        }
    }

    fn access_problems(&self, problems: &mut Vec<ConfigProblem>) {
        let entities = self.entity_names();
        let stores: Vec<(&str, Option<StoreKind>)> = self
            .stores
            .iter()
            .map(|(name, source)| (name.as_str(), Some(source.kind())))
            .collect();
        for (name, access) in &self.access {
            let Some(entity) = self.entities.iter().find(|e| e.name == *name) else {
                problems.push(unknown_entity(
                    &join("entities", name),
                    Some("cache, hedge or per-operation timeouts set"),
                    name,
                    &entities,
                ));
                continue;
            };
            let kind = entity.settings.kind();
            if let Some(cache) = &access.cache {
                problems.extend(cache_problems(name, kind, &entity.store, cache, &stores));
                let path = join(&join(&join("entities", name), "cache"), "jitter");
                problems.extend(jitter_problem(&path, cache.jitter));
            }
            if let Some(hedge) = &access.hedge {
                problems.extend(hedge_problems(name, kind, hedge));
            }
            problems.extend(timeout_problems(
                name,
                kind,
                access
                    .timeouts
                    .iter()
                    .map(|(op, timeout)| (op.as_str(), *timeout)),
            ));
        }
    }

    fn entity_names(&self) -> Vec<&str> {
        self.entities.iter().map(|e| e.name.as_str()).collect()
    }
}

/// `name` at `path`, if an earlier declaration in `seen` took it.
fn duplicate(path: &str, what: &str, name: &str, seen: &[&str]) -> Option<ConfigProblem> {
    seen.contains(&name).then(|| {
        ConfigProblem::new(
            ProblemKind::Duplicate,
            path,
            format!("{what} `{name}` is declared twice"),
        )
    })
}
