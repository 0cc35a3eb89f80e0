//! A fixed-size pool of SQLite connections.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::map_error;
use crate::{Result, StoreError};

/// Where the database lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// A file, created if missing; durable.
    File(PathBuf),
    /// Private memory, gone with the pool. One connection, since SQLite memory databases are
    /// per connection.
    Memory,
}

/// Pool settings.
#[derive(Clone, Debug)]
pub(crate) struct PoolOptions {
    pub(crate) location: Location,
    pub(crate) size: usize,
    pub(crate) busy_timeout: Duration,
    /// `PRAGMA synchronous=FULL` (every commit fsynced) when true, `NORMAL` otherwise.
    pub(crate) sync_full: bool,
}

#[derive(Debug)]
struct Shared {
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    options: PoolOptions,
}

/// A fixed-size pool; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct SqlitePool {
    shared: Arc<Shared>,
}

impl SqlitePool {
    /// Opens the pool and its first connection, so a bad path fails here and not on first use.
    pub(crate) async fn open(mut options: PoolOptions) -> Result<Self> {
        if options.location == Location::Memory {
            options.size = 1;
        }
        options.size = options.size.max(1);
        if let Location::File(path) = &options.location {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|err| StoreError::Unavailable {
                    message: format!("cannot create folder {}", parent.display()),
                    source: Some(err.into()),
                })?;
            }
        }
        let first = {
            let options = options.clone();
            tokio::task::spawn_blocking(move || connect(&options))
                .await
                .map_err(join_error)??
        };
        let pool = SqlitePool {
            shared: Arc::new(Shared {
                idle: Mutex::new(vec![first]),
                permits: Arc::new(Semaphore::new(options.size)),
                options,
            }),
        };
        Ok(pool)
    }

    /// Takes a connection, waiting for one to be free.
    pub(crate) async fn get(&self) -> Result<PooledConnection> {
        let permit = self
            .shared
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::unavailable("connection pool closed"))?;
        let idle = self.lock_idle().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let options = self.shared.options.clone();
                tokio::task::spawn_blocking(move || connect(&options))
                    .await
                    .map_err(join_error)??
            }
        };
        Ok(PooledConnection {
            conn: Some(conn),
            pool: self.clone(),
            permit: Some(permit),
        })
    }

    /// Runs `f` on a pooled connection on a blocking thread.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        self.get().await?.run(f).await
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A panic while holding this lock cannot leave the Vec inconsistent: recover it.
        self.shared
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn give_back(&self, conn: Connection) {
        self.lock_idle().push(conn);
    }
}

/// A connection taken from the pool; returned to it on drop. A transaction left open (the
/// caller dropped it without commit) is rolled back before the connection is reused.
#[derive(Debug)]
pub(crate) struct PooledConnection {
    conn: Option<Connection>,
    pool: SqlitePool,
    /// Held until the connection is back in the pool, so the pool never exceeds its size.
    permit: Option<OwnedSemaphorePermit>,
}

impl PooledConnection {
    /// Runs `f` on this connection on a blocking thread.
    pub(crate) async fn run<T, F>(&mut self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let mut conn = self
            .conn
            .take()
            .ok_or_else(|| StoreError::backend("connection lost by an earlier failed call"))?;
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let result = f(&mut conn);
            (conn, result)
        })
        .await
        .map_err(join_error)?;
        self.conn = Some(conn);
        result
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if conn.is_autocommit() {
            self.pool.give_back(conn);
            return;
        }
        // An abandoned transaction: roll it back off the async threads, then return the
        // connection. If that fails the connection is dropped and the pool opens a new one.
        let pool = self.pool.clone();
        let permit = self.permit.take();
        let rollback = move || {
            if conn.execute_batch("ROLLBACK").is_ok() {
                pool.give_back(conn);
            }
            drop(permit);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn_blocking(rollback)),
            Err(_) => rollback(),
        }
    }
}

fn connect(options: &PoolOptions) -> Result<Connection> {
    let conn = match &options.location {
        Location::File(path) => Connection::open(path),
        Location::Memory => Connection::open_in_memory(),
    }
    .map_err(|err| StoreError::Unavailable {
        message: format!("cannot open SQLite database {:?}", options.location),
        source: Some(err.into()),
    })?;
    conn.busy_timeout(options.busy_timeout).map_err(map_error)?;
    let sync = if options.sync_full { "FULL" } else { "NORMAL" };
    let pragmas = match options.location {
        Location::File(_) => {
            format!("PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON;")
        }
        Location::Memory => "PRAGMA foreign_keys=ON;".to_owned(),
    };
    conn.execute_batch(&pragmas).map_err(map_error)?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

fn join_error(err: tokio::task::JoinError) -> StoreError {
    StoreError::backend_with("SQLite worker thread failed", err)
}
