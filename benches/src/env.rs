//! Where a run's stores live: the PostgreSQL and Redis servers of the baselines, a scratch
//! schema (or key prefix, or folder) per scenario and size that is removed afterwards, and
//! helpers that connect a store through the registry and open an entity, as an application
//! would through its config.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use polyroute_adapters::kinds::relational::RelationalStore;
use polyroute_adapters::registry::{self, ConnectContext};
use polyroute_adapters::{EntityHandle, EntitySettings, EntitySpec, Store, StoreKind};
use serde_json::{json, Value as Json};

/// The servers of the baselines.
#[derive(Clone, Debug)]
pub struct Servers {
    /// PostgreSQL URL.
    pub postgres: String,
    /// Redis URL.
    pub redis: String,
}

impl Servers {
    /// From `POLYROUTE_BENCH_POSTGRES_URL` and `POLYROUTE_BENCH_REDIS_URL`, defaulting to the
    /// local servers.
    pub fn from_env() -> Self {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        Servers {
            postgres: var(
                "POLYROUTE_BENCH_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
            redis: var("POLYROUTE_BENCH_REDIS_URL", "redis://127.0.0.1:6379"),
        }
    }
}

/// The stores of one scenario at one size: everything they create goes in `schema` (on
/// PostgreSQL), under `prefix` (on Redis) or in `folder` (embedded), and is removed by
/// [`Scratch::clean`].
pub struct Scratch {
    /// The servers.
    pub servers: Servers,
    /// A PostgreSQL schema of its own.
    pub schema: String,
    /// A Redis key prefix of its own.
    pub prefix: String,
    folder: tempfile::TempDir,
    admin: Option<Arc<dyn RelationalStore>>,
}

impl Scratch {
    /// A fresh scratch space named after `scenario` and `size`.
    pub async fn new(servers: &Servers, scenario: &str, size: u64) -> anyhow::Result<Self> {
        let tag = format!(
            "{}_{size}_{}",
            scenario.replace('-', "_"),
            std::process::id()
        );
        let folder = tempfile::Builder::new()
            .prefix("polyroute-bench-")
            .tempdir()
            .context("cannot create a scratch folder")?;
        let mut scratch = Scratch {
            servers: servers.clone(),
            schema: format!("bench_{tag}"),
            prefix: format!("bench:{tag}:"),
            folder,
            admin: None,
        };
        let admin = scratch.relational_on("public", "bench_admin").await?;
        admin
            .execute_script(&format!(
                "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                scratch.schema
            ))
            .await?;
        scratch.admin = Some(admin);
        Ok(scratch)
    }

    /// A folder for an embedded store.
    pub fn folder(&self, name: &str) -> PathBuf {
        self.folder.path().join(name)
    }

    /// Connects a store of `kind` on `backend` with `options`.
    pub async fn connect(
        &self,
        kind: StoreKind,
        backend: &str,
        options: Json,
    ) -> anyhow::Result<Arc<dyn Store>> {
        registry::connect(kind, backend, &options, &ConnectContext::default())
            .await
            .with_context(|| format!("cannot connect the {backend} {kind} store"))
    }

    /// PostgreSQL options for this scratch schema, plus `extra`.
    pub fn postgres(&self, extra: Json) -> Json {
        let mut options = json!({
            "url": self.servers.postgres,
            "schema": self.schema,
            "pool": 4,
            "connect_timeout": "10s",
        });
        if let (Some(options), Some(extra)) = (options.as_object_mut(), extra.as_object()) {
            options.extend(extra.clone());
        }
        options
    }

    /// A relational store on this scratch schema.
    pub async fn relational(&self, entity: &str) -> anyhow::Result<Arc<dyn RelationalStore>> {
        let schema = self.schema.clone();
        self.relational_on(&schema, entity).await
    }

    async fn relational_on(
        &self,
        schema: &str,
        entity: &str,
    ) -> anyhow::Result<Arc<dyn RelationalStore>> {
        let options = json!({"url": self.servers.postgres, "schema": schema, "pool": 2});
        let store = self
            .connect(StoreKind::Relational, "postgres", options)
            .await?;
        match open(
            &*store,
            entity,
            EntitySettings::Relational(Default::default()),
        )
        .await?
        {
            EntityHandle::Relational(handle) => Ok(handle),
            _ => bail!("the relational store opened another kind"),
        }
    }

    /// Removes the scratch schema (the folder goes when the scratch is dropped).
    pub async fn clean(&self) -> anyhow::Result<()> {
        if let Some(admin) = &self.admin {
            admin
                .execute_script(&format!(
                    "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                    self.schema
                ))
                .await?;
        }
        Ok(())
    }
}

/// Opens `entity` with `settings` on `store`.
pub async fn open(
    store: &dyn Store,
    entity: &str,
    settings: EntitySettings,
) -> anyhow::Result<EntityHandle> {
    let spec = EntitySpec::new(entity, settings)?;
    store
        .open(&spec)
        .await
        .with_context(|| format!("cannot open entity `{entity}`"))
}
