//! Relational stores: SQL with positional parameters, typed rows, and transactions.

use std::fmt;

use async_trait::async_trait;

use crate::{Result, StoreError, Value};

/// The SQL dialect a relational backend speaks, so callers can choose their statements.
///
/// Parameters are written `$1`, `$2`, … in every dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// SQLite 3.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The result of a query: column names and rows of values in column order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// One `Vec` per row, each with one value per column.
    pub rows: Vec<Vec<Value>>,
}

impl Rows {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The position of `column`, if the result has it.
    pub fn column_index(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == column)
    }

    /// The value of `column` in row `row`, if both exist.
    pub fn get(&self, row: usize, column: &str) -> Option<&Value> {
        let index = self.column_index(column)?;
        self.rows.get(row)?.get(index)
    }
}

/// The error every backend gives for a statement that is not a read where only reads may run
/// ([`RelationalStore::check_read_only`], [`RelationalStore::query_read_only`]): an invalid
/// request saying why (`reason`) and what to do instead.
pub fn not_read_only(reason: &str) -> StoreError {
    StoreError::invalid(format!(
        "the statement does not only read: {reason}; run it as a write statement"
    ))
}

/// Settings of one relational entity. Relational entities name their tables in SQL, so there
/// is nothing to configure yet; the type exists so every kind opens the same way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelationalSettings {}

/// A relational store: a database that runs parameterised SQL.
///
/// Statements take their values only as parameters (`$1`, `$2`, …), never spliced into the text.
#[async_trait]
pub trait RelationalStore: Send + Sync + fmt::Debug {
    /// The dialect this backend speaks.
    fn dialect(&self) -> Dialect;

    /// Runs a statement that returns rows.
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Rows>;

    /// Runs a statement and returns the number of rows it changed.
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64>;

    /// Checks, without running it, that `sql` only reads: `Ok` when the store proves it,
    /// [`StoreError::InvalidRequest`](crate::StoreError::InvalidRequest) saying what it would
    /// change otherwise (a syntax error or a missing table is reported the same way).
    ///
    /// Used before a statement is offered to callers that may only read, so a statement that
    /// writes is refused when it is declared, not when it has run. What a store can prove
    /// differs: SQLite proves every statement it accepts (it knows what a prepared statement
    /// touches); PostgreSQL proves the statement's plan changes and locks no rows, but a
    /// function it calls may still try to write, which [`query_read_only`] then refuses.
    ///
    /// [`query_read_only`]: RelationalStore::query_read_only
    async fn check_read_only(&self, sql: &str) -> Result<()>;

    /// Runs a statement that must only read, in a way that cannot change anything: a statement
    /// (or a function it calls) that would write fails as
    /// [`StoreError::InvalidRequest`](crate::StoreError::InvalidRequest) and changes nothing.
    /// The path for callers allowed to read and not to write.
    async fn query_read_only(&self, sql: &str, params: &[Value]) -> Result<Rows>;

    /// [`query_read_only`](RelationalStore::query_read_only), reading at most `max_rows` rows:
    /// the first ones in the statement's order, the rest never read. A caller learns whether
    /// there were more by asking for one row more than it wants.
    ///
    /// SQL cannot be paged generically (only the statement knows its order): a caller that
    /// needs every row pages in SQL (`ORDER BY … LIMIT $n`, with the last key as a
    /// parameter). The default reads every row and drops the extra ones; backends that can
    /// stop reading midway (SQLite and PostgreSQL both do) override it.
    async fn query_read_only_at_most(
        &self,
        sql: &str,
        params: &[Value],
        max_rows: usize,
    ) -> Result<Rows> {
        let mut rows = self.query_read_only(sql, params).await?;
        rows.rows.truncate(max_rows);
        Ok(rows)
    }

    /// Runs several statements without parameters (schema set-up, migrations), atomically where
    /// the backend allows DDL in transactions.
    async fn execute_script(&self, sql: &str) -> Result<()>;

    /// Starts a transaction. Dropping it without [`RelationalTransaction::commit`] rolls it back.
    async fn begin(&self) -> Result<Box<dyn RelationalTransaction>>;
}

/// An open transaction: every statement sees the ones before it, and none is visible to others
/// until [`commit`](RelationalTransaction::commit).
#[async_trait]
pub trait RelationalTransaction: Send + fmt::Debug {
    /// Runs a statement that returns rows, inside the transaction.
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows>;

    /// Runs a statement inside the transaction and returns the number of rows it changed.
    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64>;

    /// Makes every statement of the transaction durable and visible.
    async fn commit(self: Box<Self>) -> Result<()>;

    /// Discards every statement of the transaction.
    async fn rollback(self: Box<Self>) -> Result<()>;
}
