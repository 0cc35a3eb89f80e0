//! The embedded time-series backend: a small columnar engine, in memory or under a data
//! directory.
//!
//! # Layout
//!
//! Each entity has its own directory `<path>/<entity>/` (its own namespace: entities never share
//! series, logs or files) holding a write-ahead log `wal` and one segment file `p<n>.seg` per
//! time partition `n` (points with `t.div_euclid(partition) == n`). `<path>/format.txt` (a
//! name no entity can have) records the partition width the files were written with.
//!
//! # Writes
//!
//! A batch is validated whole (a field keeps one type per measurement), appended to the log
//! (fsynced with `synchronous = "full"`), then applied to the in-memory head of each
//! (series, partition). A head is sealed into compressed columnar blocks of up to 1024 points
//! when it fills, when its series moves on to another partition, and at checkpoints:
//! delta-of-delta timestamps, XOR (Gorilla) floats, delta integers, bit-packed booleans. When
//! the log passes `wal_size`, a checkpoint seals every changed partition and rewrites its
//! segment file (write, fsync, rename), then empties the log. Opening replays the log over the
//! segment files.
//!
//! # Semantics other backends of the kind match
//!
//! - Points of one series with the same timestamp are one point: a later write overwrites the
//!   fields it names and keeps the others (InfluxDB's rule). Late and out-of-order writes are
//!   accepted.
//! - A batch is applied whole or not at all; a point needs a measurement and at least one
//!   field, tags have non-empty names and values.
//! - Results are ordered by tag set (series, groups), points by time.
//! - With a `retention`, points older than now minus it are invisible to every read; whole
//!   partitions past it are dropped as writes arrive.

pub(crate) mod block;
pub(crate) mod chunk;
pub(crate) mod codec;
mod engine;
mod entity;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod segment;
pub(crate) mod series;
pub(crate) mod wal;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::Deserialize;

pub use super::sqlite::Synchronous;
use crate::backend::{Backend, BackendDescriptor};
use crate::kinds::time_series::{
    LastPoint, Point, RangeQuery, SeriesData, TagFilter, TimeSeriesStore, WindowQuery, WindowSeries,
};
use crate::store::{wrong_settings, ConnectContext};
use crate::units::{ByteSize, ConfigDuration};
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind,
};
use chunk::Span;
use entity::{Entity, Options};

/// Options of an embedded time-series store (`[stores.NAME]` with `backend = "embedded"`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Data directory, relative to the config file's folder; each entity gets a subdirectory.
    /// Omitted: in memory only, lost when the process ends.
    pub path: Option<PathBuf>,
    /// `"full"` (default: each acknowledged write is fsynced to the log, surviving power loss)
    /// or `"normal"` (faster: acknowledged writes have reached the OS, surviving a process crash
    /// but not power loss).
    pub synchronous: Option<Synchronous>,
    /// Width of a time partition (default `1h`). Retention and `delete_before` drop whole
    /// partitions, and each is one segment file. Fixed once a data directory is created.
    pub partition: Option<ConfigDuration>,
    /// Log size past which a checkpoint writes changed partitions to segment files and empties
    /// the log (default `16MiB`). Larger means fewer, bigger checkpoints and a longer replay.
    pub wal_size: Option<ByteSize>,
}

const DEFAULT_PARTITION: Duration = Duration::from_secs(3600);
const DEFAULT_WAL_SIZE: u64 = 16 << 20;

fn nanos(duration: Duration, what: &str) -> Result<i64> {
    match i64::try_from(duration.as_nanos()) {
        Ok(0) => Err(StoreError::invalid(format!(
            "{what} must be more than zero"
        ))),
        Ok(n) => Ok(n),
        Err(_) => Err(StoreError::invalid(format!(
            "{what} of {duration:?} is too long; at most 292 years"
        ))),
    }
}

/// An embedded time-series store; each entity routed to it has its own series and files.
#[derive(Clone, Debug)]
pub struct EmbeddedTimeSeries {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: Option<PathBuf>,
    sync: bool,
    width: i64,
    wal_limit: u64,
    entities: tokio::sync::Mutex<HashMap<String, Arc<Entity>>>,
}

impl EmbeddedTimeSeries {
    /// Opens (creating if needed) the store `config` describes. Entities load when opened.
    pub async fn open(config: Config, context: &ConnectContext) -> Result<Self> {
        let width = nanos(
            config.partition.map_or(DEFAULT_PARTITION, |d| d.0),
            "partition",
        )?;
        let wal_limit = config.wal_size.map_or(DEFAULT_WAL_SIZE, |s| s.0);
        let root = config.path.as_deref().map(|p| context.resolve(p));
        if let Some(root) = root.clone() {
            tokio::task::spawn_blocking(move || check_format(&root, width))
                .await
                .map_err(join_error)??;
        }
        Ok(EmbeddedTimeSeries {
            inner: Arc::new(Inner {
                root,
                sync: config.synchronous.unwrap_or_default() == Synchronous::Full,
                width,
                wal_limit,
                entities: tokio::sync::Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// Creates the data directory's `format.txt`, or checks that its partition width is ours.
fn check_format(root: &std::path::Path, width: i64) -> Result<()> {
    let io = |err: std::io::Error| {
        StoreError::backend_with(
            format!("cannot use data directory `{}`", root.display()),
            err,
        )
    };
    std::fs::create_dir_all(root).map_err(io)?;
    let path = root.join("format.txt");
    let expected = format!("polyroute time-series 1\npartition_ns {width}\n");
    match std::fs::read_to_string(&path) {
        Ok(found) if found == expected => Ok(()),
        Ok(found) => {
            let created = found
                .lines()
                .find_map(|line| line.strip_prefix("partition_ns "))
                .unwrap_or("an unknown number of");
            Err(StoreError::invalid(format!(
                "data directory `{}` was created with partitions of {created} ns, not {width} ns; set `partition` to the width it was created with, or use a new directory",
                root.display()
            )))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            segment::write_atomic(&path, expected.as_bytes(), true).map_err(io)?;
            segment::sync_dir(root).map_err(io)
        }
        Err(err) => Err(io(err)),
    }
}

fn join_error(err: tokio::task::JoinError) -> StoreError {
    StoreError::backend_with("a time-series task failed", err)
}

/// Runs blocking engine work off the async workers, stopped at its next checkpoint when the
/// call is abandoned ([`crate::work::blocking`]).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    crate::work::blocking(work).await
}

/// The embedded time-series backend, as the registry lists it.
pub const BACKEND: BackendDescriptor = BackendDescriptor::of::<EmbeddedTimeSeries>(
    StoreKind::TimeSeries,
    "embedded",
    "columnar time partitions with a write-ahead log, under a directory or in memory",
);

impl Backend for EmbeddedTimeSeries {
    type Config = Config;

    async fn connect(
        _: StoreKind,
        config: Config,
        context: &ConnectContext,
    ) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(EmbeddedTimeSeries::open(config, context).await?))
    }
}

#[async_trait]
impl Store for EmbeddedTimeSeries {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::TimeSeries,
            backend: "embedded",
            capabilities: Capabilities {
                ordered_scan: true,
                durable: self.inner.root.is_some(),
                batch_writes: true,
                ..Capabilities::default()
            },
        }
    }

    async fn open(&self, spec: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::TimeSeries(settings) = &spec.settings else {
            return Err(wrong_settings(&self.info(), spec));
        };
        let retention = settings
            .retention
            .map(|r| nanos(r, "retention"))
            .transpose()?;
        let mut entities = self.inner.entities.lock().await;
        let entity = match entities.get(&spec.name) {
            Some(entity) => Arc::clone(entity),
            None => {
                let options = Options {
                    dir: self.inner.root.as_ref().map(|root| root.join(&spec.name)),
                    sync: self.inner.sync,
                    width: self.inner.width,
                    wal_limit: self.inner.wal_limit,
                };
                let entity = Arc::new(blocking(move || Entity::open(options)).await?);
                entities.insert(spec.name.clone(), Arc::clone(&entity));
                entity
            }
        };
        Ok(EntityHandle::TimeSeries(Arc::new(Handle {
            entity,
            retention,
        })))
    }

    /// Takes the entity table's lock, and checks the data directory is there.
    async fn ping(&self) -> Result<()> {
        drop(self.inner.entities.lock().await);
        let Some(root) = self.inner.root.clone() else {
            return Ok(());
        };
        blocking(move || match std::fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(StoreError::unavailable(format!(
                "data directory `{}` is not a directory",
                root.display()
            ))),
            Err(err) => Err(StoreError::Unavailable {
                message: format!("data directory `{}` is unreachable", root.display()),
                source: Some(err.into()),
            }),
        })
        .await
    }
}

/// One entity's handle, with its retention.
#[derive(Debug)]
struct Handle {
    entity: Arc<Entity>,
    /// Retention in nanoseconds.
    retention: Option<i64>,
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl Handle {
    /// The oldest visible timestamp under the retention, if any.
    fn cutoff(&self) -> Option<i64> {
        self.retention.map(|r| now_nanos().saturating_sub(r))
    }

    /// `[start, end)` narrowed to what the retention leaves visible.
    fn span(&self, start: i64, end: i64) -> Option<Span> {
        Span::half_open(start.max(self.cutoff().unwrap_or(i64::MIN)), end)
    }
}

#[async_trait]
impl TimeSeriesStore for Handle {
    async fn write(&self, points: Vec<Point>) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let (entity, cutoff) = (Arc::clone(&self.entity), self.cutoff());
        blocking(move || entity.write(points, cutoff)).await
    }

    async fn range(&self, query: &RangeQuery) -> Result<Vec<SeriesData>> {
        let (entity, query) = (Arc::clone(&self.entity), query.clone());
        let span = self.span(query.start, query.end);
        blocking(move || entity.state().range(&query, span)).await
    }

    async fn window(&self, query: &WindowQuery) -> Result<Vec<WindowSeries>> {
        let every = nanos(query.every, "window width `every`")?;
        let (entity, query) = (Arc::clone(&self.entity), query.clone());
        let span = self.span(query.start, query.end);
        blocking(move || entity.state().window(&query, span, every)).await
    }

    async fn last(&self, measurement: &str, tags: &TagFilter) -> Result<Vec<LastPoint>> {
        let (entity, measurement, tags) = (
            Arc::clone(&self.entity),
            measurement.to_owned(),
            tags.clone(),
        );
        let visible_from = self.cutoff().unwrap_or(i64::MIN);
        blocking(move || entity.state().last(&measurement, &tags, visible_from)).await
    }

    async fn delete_before(&self, before: i64) -> Result<u64> {
        let entity = Arc::clone(&self.entity);
        blocking(move || entity.delete_before(before)).await
    }
}
