//! The PostgreSQL relational backend: SQL as written, `$n` parameters, typed rows, transactions.
//!
//! Statements are prepared once per pooled connection and reused. Relational SQL runs with the
//! store's schema as `search_path`, so unqualified table names live there. A transaction owns one
//! pooled connection; dropped without commit, or with a statement cancelled midway, it is rolled
//! back before the connection serves anyone else.
//!
//! [`RelationalStore::query_read_only`] runs its statement inside `BEGIN READ ONLY`, so
//! PostgreSQL itself refuses any write, including one made by a function the statement calls.
//! [`RelationalStore::check_read_only`] prepares the statement (a syntax error or a missing
//! table shows there), requires that it returns rows, and asks PostgreSQL for its plan
//! (`EXPLAIN`, never run, parameters bound as null, inside a read-only transaction that is
//! rolled back): a plan that modifies a table (`INSERT`, `UPDATE`, `DELETE`, `MERGE`, in the
//! statement or one of its `WITH` queries) or locks rows (`FOR UPDATE`) is not a read. A
//! statement PostgreSQL cannot explain (`SHOW`, `CALL`, `SET`, …) cannot be proven and is
//! refused too.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio_postgres::types::ToSql;

use super::config::Config;
use super::convert::{encode_params, Cell};
use super::pool::{PgPool, Session};
use crate::kinds::relational::{
    not_read_only, Dialect, RelationalStore, RelationalTransaction, Rows,
};
use crate::store::wrong_settings;
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
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

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        match entity.settings {
            EntitySettings::Relational(_) => Ok(EntityHandle::Relational(Arc::new(self.clone()))),
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

    async fn check_read_only(&self, sql: &str) -> Result<()> {
        let session = Session::new(self.pool.get().await?);
        let client = session.client()?;
        let proof = self.prove_read_only(client, sql).await;
        // Nothing ran, but planning may have evaluated functions: end the transaction. If that
        // fails, the session's drop rolls back or discards the connection.
        if client.batch_execute("ROLLBACK").await.is_ok() {
            session.finish();
        }
        proof
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
        let session = Session::new(self.pool.get().await?);
        let client = session.client()?;
        client
            .batch_execute("BEGIN READ ONLY")
            .await
            .map_err(|e| self.pool.error(e))?;
        let rows = match self.pool.prepare(client, sql).await {
            // A statement without rows (SET, BEGIN, COMMIT, DDL) would change the session or
            // end the read-only transaction rather than read.
            Ok(statement) if statement.columns().is_empty() => Err(no_rows()),
            Ok(_) if max_rows == usize::MAX => self.pool.query(client, sql, params).await,
            Ok(_) => self.query_at_most(client, sql, params, max_rows).await,
            Err(err) => Err(err),
        };
        let end = if rows.is_ok() { "COMMIT" } else { "ROLLBACK" };
        client
            .batch_execute(end)
            .await
            .map_err(|e| self.pool.error(e))?;
        session.finish();
        rows
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

impl PostgresRelational {
    /// Runs `sql` and reads its first `max_rows` rows as they stream in; the rest are never
    /// decoded or kept (the connection discards them before its next statement).
    async fn query_at_most(
        &self,
        client: &deadpool_postgres::Object,
        sql: &str,
        params: &[Value],
        max_rows: usize,
    ) -> Result<Rows> {
        let statement = self.pool.prepare(client, sql).await?;
        let params = encode_params(params, statement.params())
            .map_err(|err| StoreError::invalid(err.to_string()))?;
        let columns: Vec<String> = statement
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        let stream = client
            .query_raw(&statement, params.iter().map(|p| p as &(dyn ToSql + Sync)))
            .await
            .map_err(|e| self.pool.error(e))?;
        let mut stream = std::pin::pin!(stream);
        let mut rows = Vec::new();
        while rows.len() < max_rows {
            let Some(row) = stream.next().await else {
                break;
            };
            let row = row.map_err(|e| self.pool.error(e))?;
            let mut values = Vec::with_capacity(columns.len());
            for index in 0..columns.len() {
                let Cell(value) = row.try_get(index).map_err(|e| self.pool.error(e))?;
                values.push(value);
            }
            rows.push(values);
        }
        Ok(Rows { columns, rows })
    }

    /// The read-only proof of [`RelationalStore::check_read_only`], in a read-only transaction
    /// it opens on `client` and leaves for the caller to end.
    async fn prove_read_only(&self, client: &deadpool_postgres::Object, sql: &str) -> Result<()> {
        client
            .batch_execute("BEGIN READ ONLY")
            .await
            .map_err(|e| self.pool.error(e))?;
        let statement = self.pool.prepare(client, sql).await?;
        if statement.columns().is_empty() {
            return Err(no_rows());
        }
        // The operator's configured statement, prefixed: the extended protocol runs exactly one
        // statement, so nothing can follow it.
        let explain = format!("EXPLAIN (FORMAT JSON) {sql}");
        let nulls = vec![Value::Null; statement.params().len()];
        let plan = match self.pool.query(client, &explain, &nulls).await {
            Ok(plan) => plan,
            Err(err) => {
                return Err(not_read_only(&format!(
                    "PostgreSQL cannot show its plan, so it cannot be proven to only read \
                     (only SELECT, VALUES, TABLE and WITH queries can): {err}"
                )))
            }
        };
        let change = plan.rows.iter().flatten().find_map(plan_change);
        match change {
            Some(change) => Err(not_read_only(&change)),
            None => Ok(()),
        }
    }
}

/// The refusal of a statement that returns no rows.
fn no_rows() -> StoreError {
    not_read_only(
        "it returns no rows, so it is a write or a utility statement (SET, BEGIN, DDL; a \
         SELECT INTO creates a table)",
    )
}

/// What a plan node (or one below it) does besides reading, if anything.
fn plan_change(node: &Value) -> Option<String> {
    match node {
        Value::Map(fields) => {
            let text = |key: &str| match fields.get(key) {
                Some(Value::Text(text)) => Some(text.as_str()),
                _ => None,
            };
            match text("Node Type") {
                Some("ModifyTable") => {
                    let operation = text("Operation").unwrap_or("modify").to_lowercase();
                    let table = text("Relation Name").unwrap_or("a table");
                    return Some(format!("its plan would {operation} `{table}`"));
                }
                Some("LockRows") => {
                    return Some(
                        "its plan locks rows (FOR UPDATE or FOR SHARE), which a read-only \
                         transaction refuses"
                            .to_owned(),
                    )
                }
                _ => {}
            }
            fields.values().find_map(plan_change)
        }
        Value::List(items) => items.iter().find_map(plan_change),
        _ => None,
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
