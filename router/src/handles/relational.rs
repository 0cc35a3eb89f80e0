//! [`Relational`]: the handle of a relational entity, and its [`Transaction`]s.

use std::sync::Arc;

use polyroute_adapters::kinds::relational::{
    Dialect, RelationalStore, RelationalTransaction, Rows,
};
use polyroute_adapters::{Result, Value};

use crate::call::CallContext;

/// A relational entity: parameterised SQL (`$1`, `$2`, …) and transactions.
#[derive(Clone, Debug)]
pub struct Relational {
    store: Arc<dyn RelationalStore>,
    context: CallContext,
}

impl Relational {
    pub(crate) fn new(store: Arc<dyn RelationalStore>, context: CallContext) -> Self {
        Relational { store, context }
    }

    /// Who calls are for, and their deadline.
    pub fn context(&self) -> &CallContext {
        &self.context
    }

    /// The SQL dialect of the backend.
    pub fn dialect(&self) -> Dialect {
        self.store.dialect()
    }

    /// Runs a statement that returns rows.
    pub async fn query(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        self.context
            .call("query", self.store.query(sql, params))
            .await
    }

    /// Runs a statement that must only read: one that would write (or calls a function that
    /// would) fails as an invalid request and changes nothing. The path for code that may
    /// read and not write, such as the sidecar's read statements. Being read-only, it may be
    /// retried like any read; it is counted as a `query`.
    pub async fn query_read_only(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        self.context
            .call_idempotent("query", || self.store.query_read_only(sql, params))
            .await
    }

    /// [`Relational::query_read_only`], reading at most `max_rows` rows (the first ones in the
    /// statement's order; the store reads no further where it can stop midway). Ask for one row
    /// more than you want to learn whether there were more. SQL is not paged generically: to
    /// read a large result, page in the statement (`ORDER BY key LIMIT $n` with the last key
    /// as a parameter). Counted as a `query`.
    pub async fn query_read_only_at_most(
        &self,
        sql: &str,
        params: &[Value],
        max_rows: usize,
    ) -> Result<Rows> {
        self.context
            .call_idempotent("query", || {
                self.store.query_read_only_at_most(sql, params, max_rows)
            })
            .await
    }

    /// Checks, without running it, that `sql` only reads (see
    /// [`RelationalStore::check_read_only`]): for refusing, when it is declared, a statement
    /// that will be run through [`Relational::query_read_only`]. Counted as a `query`.
    pub async fn check_read_only(&self, sql: &str) -> Result<()> {
        self.context
            .call_idempotent("query", || self.store.check_read_only(sql))
            .await
    }

    /// Runs a statement and returns the number of rows it changed.
    pub async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        self.context
            .call("execute", self.store.execute(sql, params))
            .await
    }

    /// Runs several statements without parameters (schema set-up), atomically where the backend
    /// allows.
    pub async fn execute_script(&self, sql: &str) -> Result<()> {
        self.context
            .call("execute_script", self.store.execute_script(sql))
            .await
    }

    /// Starts a transaction; dropping it without [`Transaction::commit`] rolls it back.
    pub async fn begin(&self) -> Result<Transaction> {
        let inner = self.context.call("begin", self.store.begin()).await?;
        Ok(Transaction {
            inner,
            context: self.context.clone(),
        })
    }
}

/// An open transaction; each statement gets the entity's deadline. A statement that times out
/// leaves the transaction unusable: roll back (or drop it) and start again.
#[derive(Debug)]
pub struct Transaction {
    inner: Box<dyn RelationalTransaction>,
    context: CallContext,
}

impl Transaction {
    /// Runs a statement that returns rows, inside the transaction.
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows> {
        self.context
            .call("transaction.query", self.inner.query(sql, params))
            .await
    }

    /// Runs a statement inside the transaction; returns the number of rows it changed.
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        self.context
            .call("transaction.execute", self.inner.execute(sql, params))
            .await
    }

    /// Makes the transaction's statements durable and visible.
    pub async fn commit(self) -> Result<()> {
        self.context.call("commit", self.inner.commit()).await
    }

    /// Discards the transaction's statements.
    pub async fn rollback(self) -> Result<()> {
        self.context.call("rollback", self.inner.rollback()).await
    }
}
