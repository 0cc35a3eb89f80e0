//! The embedded relational backend: SQLite (bundled), in a file or in memory.
//!
//! Statements run on a small connection pool, on tokio's blocking threads. Transactions hold one
//! connection for their whole life and start with `BEGIN IMMEDIATE`, so two writers queue on
//! SQLite's lock (up to `busy_timeout`) instead of failing on a lock upgrade.
//!
//! A call waits for a free connection up to `busy_timeout` too, then fails as
//! [`StoreError::Unavailable`]. An in-memory database has exactly one connection, so while a
//! transaction is open every other call waits for it to end: a task that holds a transaction and
//! calls the store outside it gets that error instead of waiting forever. A call whose future is
//! dropped midway (a timeout, a cancelled request) gives its connection back once SQLite has
//! finished the statement, rolling back the transaction it was part of.
//!
//! [`RelationalStore::query_read_only`] runs a statement only once SQLite has proven it reads
//! and nothing else (module `sqlite::read_only`): a write, `ATTACH`, a transaction statement or
//! a `PRAGMA` given a value is refused before it runs.

use std::sync::Arc;

use async_trait::async_trait;

use super::sqlite::{
    bind_params, map_error, read_rows, read_rows_at_most, PooledConnection, Proven, SqlitePool,
};
pub use super::sqlite::{Config, Synchronous};
use crate::backend::{Backend, BackendDescriptor};
use crate::kinds::relational::{
    not_read_only, Dialect, RelationalStore, RelationalTransaction, Rows,
};
use crate::store::{wrong_settings, ConnectContext};
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind, Value,
};

const INFO: StoreInfo = StoreInfo {
    kind: StoreKind::Relational,
    backend: "embedded",
    capabilities: Capabilities {
        ttl: false,
        transactions: true,
        ordered_scan: true,
        durable: true,
        secondary_indexes: true,
        atomic_increment: true,
        full_text: false,
        weighted_paths: false,
        batch_writes: true,
        evicts: false,
    },
};

/// An embedded SQLite database; every relational entity routed to it shares it.
#[derive(Clone, Debug)]
pub struct EmbeddedRelational {
    pool: SqlitePool,
    /// Statements already proven to only read.
    proven: Proven,
}

impl EmbeddedRelational {
    /// Opens (creating if needed) the database `config` describes.
    pub async fn open(config: Config, context: &ConnectContext) -> Result<Self> {
        Ok(EmbeddedRelational {
            pool: SqlitePool::open(config.pool_options(context)).await?,
            proven: Proven::default(),
        })
    }
}

/// The embedded relational backend, as the registry lists it.
pub const BACKEND: BackendDescriptor = BackendDescriptor::of::<EmbeddedRelational>(
    StoreKind::Relational,
    "embedded",
    "SQLite (bundled), in a file or in memory, pooled",
);

impl Backend for EmbeddedRelational {
    type Config = Config;

    async fn connect(
        _: StoreKind,
        config: Config,
        context: &ConnectContext,
    ) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(EmbeddedRelational::open(config, context).await?))
    }
}

#[async_trait]
impl Store for EmbeddedRelational {
    fn info(&self) -> StoreInfo {
        let mut info = INFO;
        info.capabilities.durable = self.pool.is_durable();
        info
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        match entity.settings {
            EntitySettings::Relational(_) => Ok(EntityHandle::Relational(Arc::new(self.clone()))),
            _ => Err(wrong_settings(&self.info(), entity)),
        }
    }

    async fn ping(&self) -> Result<()> {
        self.pool
            .run(|conn| {
                conn.query_row("SELECT 1", [], |_| Ok(()))
                    .map_err(map_error)
            })
            .await
    }
}

fn run_query(conn: &rusqlite::Connection, sql: &str, params: &[Value]) -> Result<Rows> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_error)?;
    bind_params(&mut stmt, params)?;
    read_rows(&mut stmt)
}

fn run_query_read_only(
    conn: &rusqlite::Connection,
    proven: &Proven,
    sql: &str,
    params: &[Value],
    max_rows: usize,
) -> Result<Rows> {
    proven.ensure(conn, sql)?;
    let mut stmt = conn.prepare_cached(sql).map_err(map_error)?;
    // The proof above is the check; this one costs nothing and guards the cached statement.
    if !stmt.readonly() {
        return Err(not_read_only("SQLite reports that it writes"));
    }
    bind_params(&mut stmt, params)?;
    read_rows_at_most(&mut stmt, max_rows)
}

fn run_execute(conn: &rusqlite::Connection, sql: &str, params: &[Value]) -> Result<u64> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_error)?;
    bind_params(&mut stmt, params)?;
    let before = conn.total_changes();
    let changed = stmt.raw_execute().map_err(map_error)?;
    // SQLite reports the count of the last INSERT, UPDATE or DELETE even after a statement that
    // changed no rows (DDL, say): only trust it when this statement changed something.
    Ok(if conn.total_changes() == before {
        0
    } else {
        changed as u64
    })
}

#[async_trait]
impl RelationalStore for EmbeddedRelational {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        let (sql, params) = (sql.to_owned(), params.to_vec());
        self.pool
            .run(move |conn| run_query(conn, &sql, &params))
            .await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let (sql, params) = (sql.to_owned(), params.to_vec());
        self.pool
            .run(move |conn| run_execute(conn, &sql, &params))
            .await
    }

    async fn check_read_only(&self, sql: &str) -> Result<()> {
        let (sql, proven) = (sql.to_owned(), self.proven.clone());
        self.pool.run(move |conn| proven.ensure(conn, &sql)).await
    }

    async fn query_read_only(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        self.query_read_only_at_most(sql, params, usize::MAX).await
    }

    async fn query_read_only_at_most(
        &self,
        sql: &str,
        params: &[Value],
        max_rows: usize,
    ) -> Result<Rows> {
        let (sql, params, proven) = (sql.to_owned(), params.to_vec(), self.proven.clone());
        self.pool
            .run(move |conn| run_query_read_only(conn, &proven, &sql, &params, max_rows))
            .await
    }

    async fn execute_script(&self, sql: &str) -> Result<()> {
        let sql = format!("BEGIN IMMEDIATE;\n{sql}\n;COMMIT;");
        self.pool
            .run(move |conn| {
                let result = conn.execute_batch(&sql).map_err(map_error);
                if conn.is_autocommit() {
                    return result;
                }
                // Still in the transaction: a statement failed, or the script swallowed the
                // closing COMMIT (an unterminated `/*` comment runs to the end of the text).
                conn.execute_batch("ROLLBACK").map_err(map_error)?;
                result?;
                Err(StoreError::invalid(
                    "the script did not end where expected (an unterminated comment?); nothing \
                     was applied",
                ))
            })
            .await
    }

    async fn begin(&self) -> Result<Box<dyn RelationalTransaction>> {
        let mut conn = self.pool.get().await?;
        conn.run(|conn| conn.execute_batch("BEGIN IMMEDIATE").map_err(map_error))
            .await?;
        Ok(Box::new(EmbeddedTransaction { conn }))
    }
}

/// A transaction on one pooled connection; rolled back by the pool if dropped while open.
#[derive(Debug)]
struct EmbeddedTransaction {
    conn: PooledConnection,
}

#[async_trait]
impl RelationalTransaction for EmbeddedTransaction {
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows> {
        let (sql, params) = (sql.to_owned(), params.to_vec());
        self.conn
            .run(move |conn| run_query(conn, &sql, &params))
            .await
    }

    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let (sql, params) = (sql.to_owned(), params.to_vec());
        self.conn
            .run(move |conn| run_execute(conn, &sql, &params))
            .await
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn
            .run(|conn| {
                if conn.is_autocommit() {
                    return Err(StoreError::invalid(
                        "the transaction was already ended by a COMMIT or ROLLBACK statement",
                    ));
                }
                conn.execute_batch("COMMIT").map_err(map_error)
            })
            .await
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        self.conn
            .run(|conn| {
                if conn.is_autocommit() {
                    return Ok(());
                }
                conn.execute_batch("ROLLBACK").map_err(map_error)
            })
            .await
    }
}
