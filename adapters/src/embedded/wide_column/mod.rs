//! The embedded wide-column backend: Cassandra's data model on one node, in an ordered
//! log-structured merge tree (`fjall`).
//!
//! # Layout
//!
//! One `fjall` keyspace (a folder) per store; one partition (an LSM tree of its own) per entity,
//! named `t_<entity>`, plus a `meta` partition holding each entity's key columns. A row's key is
//! the kind's order-preserving encoding (`kinds::wide_column::key`) of its partition key values
//! followed by its clustering key values, so a partition is one key prefix, its rows are stored
//! in clustering order, and a slice is one forward or reverse range scan over a snapshot. A
//! row's value is its cells with their write timestamps and expiry
//! (`kinds::wide_column::record`).
//!
//! # Semantics
//!
//! - Writes are upserts merged cell by cell, last write wins by write timestamp (microseconds;
//!   by default the store's clock, which never repeats or goes back within a process). An older
//!   timestamp never overwrites a newer cell; equal timestamps resolve the same way whatever
//!   the arrival order: a deletion wins, then the greater value.
//! - Writing `Null` to a cell deletes that cell.
//! - A TTL applies to the row marker and the cells of that write; a row is visible while its
//!   marker or a cell is unexpired. Expired rows are never returned and are purged from disk
//!   by a sweep every minute (and by [`EmbeddedWideColumn::purge`]).
//! - A delete always removes the row as it is: it is stamped with the store's clock, or just
//!   after the row's newest write if that is later, and keeps shadowing writes stamped at or
//!   before it for `tombstone_grace`. Deleting a partition deletes each of its rows that way.
//! - A batch is atomic: after a crash, all of its rows are there or none, and a slice sees all
//!   of it or none.
//! - The sweep drops whole rows. A deleted or expired cell of a row that is still visible stays
//!   in the row's stored value (invisible) until the row itself is dropped.

mod table;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use fjall::{Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};
use serde::Deserialize;

pub use super::sqlite::Synchronous;
use crate::backend::{Backend, BackendDescriptor};
use crate::kinds::wide_column::clock::Clock;
use crate::store::{is_identifier, wrong_settings, ConnectContext};
use crate::units::{ByteSize, ConfigDuration};
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind,
};
use table::Table;
pub use table::MAX_KEY_BYTES;

/// Options of an embedded wide-column store (`[stores.NAME]` with `backend = "embedded"`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Data folder, relative to the config file's folder; created if missing. Omitted: a
    /// temporary folder removed when the store closes (nothing survives a restart).
    pub path: Option<PathBuf>,
    /// `"full"` (default: every acknowledged write is fsynced, so it survives power loss) or
    /// `"normal"` (faster: an acknowledged write has reached the operating system, so it
    /// survives a process crash but not a power loss).
    pub synchronous: Option<Synchronous>,
    /// Memory for cached blocks of the data files (default `"32MiB"`).
    pub cache_size: Option<ByteSize>,
    /// How long deletions and expired rows keep shadowing writes stamped before them, before
    /// the sweep drops them (default `"1h"`). Writes with explicit timestamps that arrive later
    /// than this after a deletion may reappear.
    pub tombstone_grace: Option<ConfigDuration>,
}

const DEFAULT_CACHE: u64 = 32 * 1024 * 1024;
const DEFAULT_GRACE: Duration = Duration::from_secs(3600);
const SWEEP_EVERY: Duration = Duration::from_secs(60);
const META: &str = "meta";

const INFO: StoreInfo = StoreInfo {
    kind: StoreKind::WideColumn,
    backend: "embedded",
    capabilities: Capabilities {
        ttl: true,
        transactions: false,
        ordered_scan: true,
        durable: true,
        secondary_indexes: false,
        atomic_increment: false,
        full_text: false,
        weighted_paths: false,
        batch_writes: true,
        evicts: false,
    },
};

/// An embedded wide-column store: one `fjall` keyspace; every wide-column entity routed to it
/// is one partition of it.
#[derive(Clone, Debug)]
pub struct EmbeddedWideColumn {
    inner: Arc<Inner>,
}

struct Inner {
    keyspace: Keyspace,
    meta: PartitionHandle,
    tables: Mutex<HashMap<String, Arc<table::Shared>>>,
    /// `None` when the store is not durable (a temporary folder).
    persist: Option<PersistMode>,
    clock: Clock,
    grace: i64,
    /// Dropped with the store, which ends the sweep thread.
    _stop_sweep: mpsc::Sender<()>,
    /// Declared last: the temporary folder goes after the keyspace has closed.
    _temporary: Option<tempfile::TempDir>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("tables", &lock(&self.tables).len())
            .field("durable", &self.persist.is_some())
            .finish_non_exhaustive()
    }
}

impl EmbeddedWideColumn {
    /// Opens (creating if needed) the keyspace `config` describes, and starts its sweep.
    pub async fn open(config: Config, context: &ConnectContext) -> Result<Self> {
        let path = config.path.as_ref().map(|path| context.resolve(path));
        blocking(move || Self::open_blocking(config, path)).await
    }

    fn open_blocking(config: Config, path: Option<PathBuf>) -> Result<Self> {
        let (folder, temporary) = match path {
            Some(path) => (path, None),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("polyroute-wide-column-")
                    .tempdir()
                    .map_err(|err| {
                        StoreError::backend_with("cannot create a temporary folder", err)
                    })?;
                (dir.path().to_owned(), Some(dir))
            }
        };
        let keyspace = fjall::Config::new(&folder)
            .cache_size(config.cache_size.map_or(DEFAULT_CACHE, |size| size.0))
            .manual_journal_persist(true)
            .open()
            .map_err(|err| {
                StoreError::backend_with(
                    format!("cannot open the data folder {}", folder.display()),
                    err,
                )
            })?;
        let meta = keyspace
            .open_partition(META, PartitionCreateOptions::default())
            .map_err(map_error)?;
        let persist = match (&temporary, config.synchronous.unwrap_or_default()) {
            (Some(_), _) => None,
            (None, Synchronous::Full) => Some(PersistMode::SyncAll),
            (None, Synchronous::Normal) => Some(PersistMode::Buffer),
        };
        let grace = config.tombstone_grace.map_or(DEFAULT_GRACE, |d| d.0);
        let (stop_sweep, stopped) = mpsc::channel();
        let inner = Arc::new(Inner {
            keyspace,
            meta,
            tables: Mutex::default(),
            persist,
            clock: Clock::default(),
            grace: i64::try_from(grace.as_micros()).unwrap_or(i64::MAX),
            _stop_sweep: stop_sweep,
            _temporary: temporary,
        });
        spawn_sweep(Arc::downgrade(&inner), stopped)?;
        Ok(EmbeddedWideColumn { inner })
    }

    /// Drops, in every entity opened on this store, the rows that are expired or deleted and
    /// past `tombstone_grace`; returns how many. The store runs this every minute by itself.
    pub async fn purge(&self) -> Result<u64> {
        let inner = self.inner.clone();
        blocking(move || inner.purge()).await
    }
}

impl Inner {
    fn purge(&self) -> Result<u64> {
        let tables: Vec<_> = lock(&self.tables).values().cloned().collect();
        let mut purged = 0;
        for table in tables {
            purged += table.purge(self)?;
        }
        Ok(purged)
    }
}

fn spawn_sweep(inner: Weak<Inner>, stopped: mpsc::Receiver<()>) -> Result<()> {
    std::thread::Builder::new()
        .name("wide-column-sweep".into())
        .spawn(move || {
            // Wakes every interval until the store is dropped (the sender disconnects).
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(SWEEP_EVERY) {
                let Some(inner) = inner.upgrade() else { return };
                if let Err(err) = inner.purge() {
                    tracing::warn!(error = %err, "wide-column sweep failed");
                }
            }
        })
        .map(drop)
        .map_err(|err| StoreError::backend_with("cannot start the sweep thread", err))
}

/// The embedded wide-column backend, as the registry lists it.
pub const BACKEND: BackendDescriptor = BackendDescriptor::of::<EmbeddedWideColumn>(
    StoreKind::WideColumn,
    "embedded",
    "partitions of clustered rows in an ordered LSM tree (fjall), last write wins, TTL",
);

impl Backend for EmbeddedWideColumn {
    type Config = Config;

    async fn connect(
        _: StoreKind,
        config: Config,
        context: &ConnectContext,
    ) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(EmbeddedWideColumn::open(config, context).await?))
    }
}

#[async_trait]
impl Store for EmbeddedWideColumn {
    fn info(&self) -> StoreInfo {
        let mut info = INFO;
        info.capabilities.durable = self.inner.persist.is_some();
        info
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::WideColumn(settings) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        // The name becomes a partition name: check it even if the spec was built by hand.
        if !is_identifier(&entity.name) {
            return Err(StoreError::invalid(format!(
                "entity name `{}` is not an identifier",
                entity.name
            )));
        }
        let (inner, name, settings) = (self.inner.clone(), entity.name.clone(), settings.clone());
        let table = blocking(move || table::Shared::open(inner, name, settings)).await?;
        Ok(EntityHandle::WideColumn(Arc::new(Table::new(
            self.inner.clone(),
            table,
        ))))
    }

    async fn ping(&self) -> Result<()> {
        let inner = self.inner.clone();
        blocking(move || inner.meta.get(b"ping").map(drop).map_err(map_error)).await
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves no half-done state behind: go on.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Maps a `fjall` error, keeping it as the source.
fn map_error(err: fjall::Error) -> StoreError {
    match err {
        fjall::Error::Poisoned => StoreError::Backend {
            message:
                "the store failed to persist a write earlier and refuses writes until reopened"
                    .into(),
            source: Some(Box::new(err)),
        },
        err => StoreError::backend_with("storage engine error", err),
    }
}

/// Runs blocking engine work off the async workers, stopped at its next checkpoint when the
/// call is abandoned ([`crate::work::blocking`]).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    crate::work::blocking(work).await
}
