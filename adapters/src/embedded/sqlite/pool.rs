//! A fixed-size pool of SQLite connections.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// How long a call waits for SQLite's write lock, and also for a free connection when every
    /// one is taken (an in-memory database has a single connection, so a call waits here while a
    /// transaction is open). Past it the call fails as unavailable instead of waiting forever.
    pub(crate) busy_timeout: Duration,
    /// `PRAGMA synchronous=FULL` (every commit fsynced) when true, `NORMAL` otherwise.
    pub(crate) sync_full: bool,
}

#[derive(Debug)]
struct Shared {
    idle: Mutex<Vec<Idle>>,
    permits: Arc<Semaphore>,
    options: PoolOptions,
    /// Counts the times planner statistics changed: a connection that loaded them at an older
    /// count reloads them before its next call (SQLite loads them once per connection).
    statistics: AtomicU64,
}

/// An idle connection and the statistics count it loaded.
#[derive(Debug)]
struct Idle {
    conn: Connection,
    statistics: u64,
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
                idle: Mutex::new(vec![Idle {
                    conn: first,
                    statistics: 0,
                }]),
                permits: Arc::new(Semaphore::new(options.size)),
                options,
                statistics: AtomicU64::new(0),
            }),
        };
        Ok(pool)
    }

    /// Whether the database is a file (durable) rather than private memory.
    pub(crate) fn is_durable(&self) -> bool {
        matches!(self.shared.options.location, Location::File(_))
    }

    /// Takes a connection, waiting up to the busy timeout for one to be free.
    pub(crate) async fn get(&self) -> Result<PooledConnection> {
        let wait = self.shared.options.busy_timeout;
        let permit = tokio::time::timeout(wait, self.shared.permits.clone().acquire_owned())
            .await
            .map_err(|_| {
                StoreError::unavailable(format!(
                    "no SQLite connection became free within the busy timeout ({wait:?}): every \
                     connection is held, by open transactions or long statements"
                ))
            })?
            .map_err(|_| StoreError::unavailable("connection pool closed"))?;
        let idle = self.lock_idle().pop();
        let (conn, statistics) = match idle {
            Some(idle) => (idle.conn, idle.statistics),
            // The only connection of an in-memory database holds the data: a new one would be
            // an empty database, so its loss is an error rather than a silent reset.
            None if self.shared.options.location == Location::Memory => {
                return Err(StoreError::backend(
                    "the in-memory SQLite database was lost with its connection",
                ))
            }
            None => {
                // A new connection loads the statistics as they are when it opens.
                let statistics = self.statistics();
                let options = self.shared.options.clone();
                let conn = tokio::task::spawn_blocking(move || connect(&options))
                    .await
                    .map_err(join_error)??;
                (conn, statistics)
            }
        };
        Ok(PooledConnection {
            lease: Some(Lease {
                conn: Some(conn),
                statistics,
                pool: self.clone(),
                permit: Some(permit),
            }),
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

    /// Tells every connection that the planner statistics changed (an `ANALYZE` ran): each
    /// reloads them before its next call, so its plans use them.
    pub(crate) fn statistics_changed(&self) {
        self.shared.statistics.fetch_add(1, Ordering::AcqRel);
    }

    fn statistics(&self) -> u64 {
        self.shared.statistics.load(Ordering::Acquire)
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        // A panic while holding this lock cannot leave the Vec inconsistent: recover it.
        self.shared
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn give_back(&self, conn: Connection, statistics: u64) {
        self.lock_idle().push(Idle { conn, statistics });
    }
}

/// A connection taken from the pool, for as long as the caller holds it (one call, or a whole
/// transaction).
#[derive(Debug)]
pub(crate) struct PooledConnection {
    /// `None` once a call on it was cancelled or its worker failed: the connection then went
    /// back to the pool (rolled back) by itself, and this handle is spent.
    lease: Option<Lease>,
}

impl PooledConnection {
    /// Runs `f` on this connection on a blocking thread.
    ///
    /// If the returned future is dropped before it finishes (a timeout, a cancelled request), the
    /// connection travels with the blocking call and returns to the pool when it ends, rolling
    /// back a transaction left open; this handle cannot be used again.
    pub(crate) async fn run<T, F>(&mut self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let mut lease = self.lease.take().ok_or_else(|| {
            StoreError::backend(
                "an earlier call on this connection was cancelled or failed, and its transaction \
                 was rolled back",
            )
        })?;
        let (lease, result) = crate::work::blocking(move || {
            let result = lease.refresh().and_then(|()| match lease.conn.as_mut() {
                Some(conn) => f(conn),
                None => Err(StoreError::backend("pooled connection already returned")),
            });
            Ok((lease, result))
        })
        .await?;
        self.lease = Some(lease);
        result
    }
}

/// A connection on loan with the permit that counts it. Dropping it, wherever that happens,
/// returns the connection to the pool, after rolling back a transaction the borrower left open;
/// the permit is released only once the connection is back, so a waiter finds it idle.
#[derive(Debug)]
struct Lease {
    conn: Option<Connection>,
    /// The statistics count the connection loaded.
    statistics: u64,
    pool: SqlitePool,
    permit: Option<OwnedSemaphorePermit>,
}

impl Lease {
    /// Reloads the planner statistics if they changed since the connection loaded them
    /// (`ANALYZE sqlite_schema` reads them again and re-plans cached statements).
    fn refresh(&mut self) -> Result<()> {
        let current = self.pool.statistics();
        if self.statistics == current {
            return Ok(());
        }
        if let Some(conn) = &self.conn {
            conn.execute_batch("ANALYZE sqlite_schema")
                .map_err(map_error)?;
        }
        self.statistics = current;
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let permit = self.permit.take();
        let statistics = self.statistics;
        if conn.is_autocommit() {
            self.pool.give_back(conn, statistics);
            drop(permit);
            return;
        }
        // An abandoned transaction: roll it back off the async threads, then return the
        // connection. If that fails the connection is closed (which also rolls back), and a file
        // pool opens a new one on demand.
        let pool = self.pool.clone();
        let rollback = move || {
            if conn.execute_batch("ROLLBACK").is_ok() {
                pool.give_back(conn, statistics);
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
    // Every few thousand virtual-machine steps, a statement whose call was abandoned is
    // interrupted, so a timeout stops the work rather than only the waiting.
    conn.progress_handler(4096, Some(crate::work::cancelled));
    Ok(conn)
}

fn join_error(err: tokio::task::JoinError) -> StoreError {
    StoreError::backend_with("SQLite worker thread failed", err)
}
