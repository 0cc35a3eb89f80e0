//! The PostgreSQL relational backend: SQL as written, `$n` parameters, typed rows, transactions.
//!
//! Statements are prepared once per pooled connection and reused. Relational SQL runs with the
//! store's schema as `search_path`, so unqualified table names live there. A transaction owns one
//! pooled connection; dropped without commit, or with a statement cancelled midway, it is rolled
//! back before the connection serves anyone else.

use std::sync::Arc;

use async_trait::async_trait;

use super::config::Config;
use super::pool::{PgPool, Session};
use crate::kinds::relational::{Dialect, RelationalStore, RelationalTransaction, Rows};
use crate::store::wrong_settings;
use crate::{
    Capabilities, EntitySettings, EntitySpec, Result, Store, StoreError, StoreHandle, StoreInfo,
    StoreKind, Value,
};

const INFO: StoreInfo = StoreInfo {
    kind: StoreKind::Relational,
    backend: "postgres",
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

/// A PostgreSQL database; every relational entity routed to it shares its pool.
#[derive(Clone, Debug)]
pub struct PostgresRelational {
    pool: PgPool,
}

impl PostgresRelational {
    /// Connects the pool and makes sure the schema exists.
    pub async fn open(config: Config) -> Result<Self> {
        Ok(PostgresRelational {
            pool: PgPool::connect(&config).await?,
        })
    }
}

#[async_trait]
impl Store for PostgresRelational {
    fn info(&self) -> StoreInfo {
        let mut info = INFO;
        info.capabilities.durable = self.pool.is_durable();
        info
    }

    async fn open(&self, entity: &EntitySpec) -> Result<StoreHandle> {
        match entity.settings {
            EntitySettings::Relational(_) => Ok(StoreHandle::Relational(Arc::new(self.clone()))),
            _ => Err(wrong_settings(&self.info(), entity)),
        }
    }

    async fn ping(&self) -> Result<()> {
        self.pool.ping().await
    }
}

#[async_trait]
impl RelationalStore for PostgresRelational {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        let client = self.pool.get().await?;
        self.pool.query(&client, sql, params).await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let client = self.pool.get().await?;
        self.pool.execute(&client, sql, params).await
    }

    async fn execute_script(&self, sql: &str) -> Result<()> {
        // One simple-protocol message: the server parses the whole text before running any of
        // it, so a syntax error anywhere (an unterminated comment swallowing the COMMIT, say)
        // applies nothing; a statement failing later aborts the transaction.
        let session = Session::new(self.pool.get().await?);
        let script = format!("BEGIN;\n{sql}\n;COMMIT;");
        let result = session.client()?.batch_execute(&script).await;
        match result {
            Ok(()) => {
                session.finish();
                Ok(())
            }
            // The session's drop rolls back whatever is still open.
            Err(err) => Err(self.pool.error(err)),
        }
    }

    async fn begin(&self) -> Result<Box<dyn RelationalTransaction>> {
        let session = Session::new(self.pool.get().await?);
        session
            .client()?
            .batch_execute("BEGIN")
            .await
            .map_err(|e| self.pool.error(e))?;
        Ok(Box::new(PostgresTransaction {
            pool: self.pool.clone(),
            session: Some(session),
            failed: false,
        }))
    }
}

/// A transaction on one pooled connection.
struct PostgresTransaction {
    pool: PgPool,
    session: Option<Session>,
    /// A statement failed on the server, which aborts the whole transaction.
    failed: bool,
}

impl std::fmt::Debug for PostgresTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresTransaction")
            .field("open", &self.session.is_some())
            .finish()
    }
}

impl PostgresTransaction {
    fn session(&self) -> Result<&Session> {
        self.session
            .as_ref()
            .ok_or_else(|| StoreError::invalid("the transaction has ended"))
    }

    /// Notes a failure reported by the server (our own checks, which send nothing, keep the
    /// transaction usable).
    fn track<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(err) = &result {
            if std::error::Error::source(err).is_some() {
                self.failed = true;
            }
        }
        result
    }

    async fn end(mut self: Box<Self>, statement: &str) -> Result<()> {
        let failed = self.failed;
        let committing = statement == "COMMIT";
        let statement = if failed { "ROLLBACK" } else { statement };
        let session = self
            .session
            .take()
            .ok_or_else(|| StoreError::invalid("the transaction has ended"))?;
        session
            .client()?
            .batch_execute(statement)
            .await
            .map_err(|e| self.pool.error(e))?;
        session.finish();
        if failed && committing {
            return Err(StoreError::invalid(
                "a statement of this transaction failed, so PostgreSQL rolled it back; nothing was committed",
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl RelationalTransaction for PostgresTransaction {
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows> {
        let client = self.session()?.client()?;
        let result = self.pool.query(client, sql, params).await;
        self.track(result)
    }

    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let client = self.session()?.client()?;
        let result = self.pool.execute(client, sql, params).await;
        self.track(result)
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.end("COMMIT").await
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.end("ROLLBACK").await
    }
}
