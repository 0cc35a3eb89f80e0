//! One entity with its persistence: the in-memory [`State`], the write-ahead log and the
//! segment files of its directory. Every method blocks (file I/O); callers run them on tokio's
//! blocking threads.
//!
//! Lock order: the log's mutex, then the state's lock. Writers and deletes hold the log's
//! mutex from validation to applying, so the log's order is the order of the state's changes
//! and replay rebuilds the same state. Readers take only the state's read lock.

use std::fs;
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};

use super::engine::State;
use super::segment;
use super::wal::{Op, Wal};
use crate::kinds::time_series::Point;
use crate::{Result, StoreError};

/// Where and how an entity keeps its data.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// The entity's directory; `None` keeps it in memory.
    pub(crate) dir: Option<PathBuf>,
    /// Fsync each log append and each checkpoint (`synchronous = "full"`). Without it, files
    /// reach the OS only: they survive a process crash, not power loss.
    pub(crate) sync: bool,
    /// Partition width in nanoseconds.
    pub(crate) width: i64,
    /// Log size that triggers a checkpoint.
    pub(crate) wal_limit: u64,
}

#[derive(Debug)]
pub(crate) struct Entity {
    options: Options,
    wal: Mutex<Option<Wal>>,
    state: RwLock<State>,
}

fn io_error(what: &str, path: &Path, err: std::io::Error) -> StoreError {
    let message = format!("{what} `{}`", path.display());
    if matches!(err.kind(), IoKind::PermissionDenied | IoKind::NotFound) {
        StoreError::Unavailable {
            message,
            source: Some(err.into()),
        }
    } else {
        StoreError::backend_with(message, err)
    }
}

impl Entity {
    /// Opens the entity: loads its segment files, then replays its log on top.
    pub(crate) fn open(options: Options) -> Result<Entity> {
        let mut state = State::new(options.width);
        let Some(dir) = &options.dir else {
            return Ok(Entity {
                options,
                wal: Mutex::new(None),
                state: RwLock::new(state),
            });
        };
        fs::create_dir_all(dir).map_err(|e| io_error("cannot create directory", dir, e))?;
        let entries = fs::read_dir(dir).map_err(|e| io_error("cannot list", dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| io_error("cannot list", dir, e))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".tmp") {
                // A checkpoint's file that was never renamed into place.
                fs::remove_file(&path).map_err(|e| io_error("cannot remove", &path, e))?;
            } else if let Some(number) = segment::number(name) {
                let bytes = fs::read(&path).map_err(|e| io_error("cannot read", &path, e))?;
                let partition = segment::decode(&bytes, &mut state.index).map_err(|err| {
                    StoreError::backend_with(
                        format!("segment file `{}` is corrupt", path.display()),
                        err,
                    )
                })?;
                state.partitions.insert(number, partition);
            }
        }
        state.index_latest()?;
        let wal_path = dir.join("wal");
        let (wal, ops) = Wal::open(&wal_path, options.sync)
            .map_err(|e| io_error("cannot open write-ahead log", &wal_path, e))?;
        for op in ops {
            match op {
                Op::Write(points) => state.apply(points)?,
                Op::DeleteBefore(before) => {
                    state.delete_before(before)?;
                }
            }
        }
        Ok(Entity {
            options,
            wal: Mutex::new(Some(wal)),
            state: RwLock::new(state),
        })
    }

    pub(crate) fn state(&self) -> parking_lot::RwLockReadGuard<'_, State> {
        self.state.read()
    }

    /// Logs, then applies a batch; drops partitions older than `cutoff`.
    pub(crate) fn write(&self, points: Vec<Point>, cutoff: Option<i64>) -> Result<()> {
        let mut wal = self.wal.lock();
        self.state.read().validate(&points)?;
        if let Some(wal) = wal.as_mut() {
            wal.append(&Op::write_record(&points))
                .map_err(|e| self.log_error(e))?;
        }
        {
            let mut state = self.state.write();
            state.apply(points)?;
            if let Some(cutoff) = cutoff {
                state.drop_partitions_before(cutoff);
            }
        }
        if let Some(log) = wal
            .as_mut()
            .filter(|log| log.len() >= self.options.wal_limit)
        {
            self.checkpoint_or_warn(log);
        }
        Ok(())
    }

    /// Logs, then applies a delete, and checkpoints so its partitions' files go now.
    pub(crate) fn delete_before(&self, before: i64) -> Result<u64> {
        let mut wal = self.wal.lock();
        if let Some(wal) = wal.as_mut() {
            wal.append(&Op::delete_record(before))
                .map_err(|e| self.log_error(e))?;
        }
        let removed = self.state.write().delete_before(before)?;
        if let Some(log) = wal.as_mut() {
            self.checkpoint_or_warn(log);
        }
        Ok(removed)
    }

    /// Checkpoints after an operation that is already logged and applied: a failure must not
    /// report that operation as failed. The log keeps it, and the next checkpoint retries.
    fn checkpoint_or_warn(&self, wal: &mut Wal) {
        if let Err(err) = self.checkpoint(wal) {
            tracing::warn!(error = %err, "time-series checkpoint failed; the write-ahead log keeps every write and the next checkpoint retries");
        }
    }

    fn log_error(&self, err: std::io::Error) -> StoreError {
        let dir = self.options.dir.as_deref().unwrap_or(Path::new(""));
        io_error("cannot append to the write-ahead log in", dir, err)
    }

    /// Seals every changed partition into its segment file, removes dropped partitions'
    /// files, then empties the log. On failure the partitions stay marked as changed, and the
    /// log keeps everything, so nothing acknowledged is lost.
    fn checkpoint(&self, wal: &mut Wal) -> Result<()> {
        let Some(dir) = &self.options.dir else {
            return Ok(());
        };
        let (files, dropped) = {
            let mut state = self.state.write();
            state.seal_dirty()?;
            let state = &mut *state;
            let mut files = Vec::new();
            for (number, partition) in state.partitions.iter_mut().filter(|(_, p)| p.dirty) {
                files.push((*number, segment::encode(partition, &state.index)));
                partition.dirty = false;
            }
            let mut dropped = std::mem::take(&mut state.dropped);
            for (number, _) in &files {
                dropped.remove(number);
            }
            (files, dropped)
        };
        let result = (|| {
            for number in &dropped {
                let path = segment::path(dir, *number);
                match fs::remove_file(&path) {
                    Err(err) if err.kind() != IoKind::NotFound => {
                        return Err(io_error("cannot remove", &path, err))
                    }
                    _ => {}
                }
            }
            for (number, bytes) in &files {
                let path = segment::path(dir, *number);
                segment::write_atomic(&path, bytes, self.options.sync)
                    .map_err(|e| io_error("cannot write segment file", &path, e))?;
            }
            if self.options.sync {
                segment::sync_dir(dir).map_err(|e| io_error("cannot sync directory", dir, e))?;
            }
            wal.reset()
                .map_err(|e| io_error("cannot reset the write-ahead log in", dir, e))
        })();
        if result.is_err() {
            let mut state = self.state.write();
            for (number, _) in &files {
                if let Some(partition) = state.partitions.get_mut(number) {
                    partition.dirty = true;
                }
            }
            state.dropped.extend(dropped);
        }
        result
    }
}
