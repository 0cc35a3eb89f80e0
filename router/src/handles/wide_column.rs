//! [`WideColumn`]: the handle of a wide-column entity.

use std::sync::Arc;

use polyroute_adapters::kinds::wide_column::{
    SliceQuery, WideColumnSettings, WideColumnStore, WideRow, WriteOptions,
};
use polyroute_adapters::{Result, Value};

use crate::call::CallContext;

/// A wide-column entity: rows in partitions, ordered by clustering key, with the entity's
/// default TTL applied to writes that set none.
#[derive(Clone, Debug)]
pub struct WideColumn {
    store: Arc<dyn WideColumnStore>,
    settings: WideColumnSettings,
    context: CallContext,
}

impl WideColumn {
    pub(crate) fn new(
        store: Arc<dyn WideColumnStore>,
        settings: WideColumnSettings,
        context: CallContext,
    ) -> Self {
        WideColumn {
            store,
            settings,
            context,
        }
    }

    /// Who calls are for, and their deadline.
    pub fn context(&self) -> &CallContext {
        &self.context
    }

    /// The table shape: partition key, clustering key and default TTL.
    pub fn settings(&self) -> &WideColumnSettings {
        &self.settings
    }

    fn with_default_ttl(&self, mut options: WriteOptions) -> WriteOptions {
        options.ttl = options.ttl.or(self.settings.ttl);
        options
    }

    /// Writes one row (cells not given keep their values), with the default TTL.
    pub async fn put(&self, row: WideRow) -> Result<()> {
        self.put_with(row, WriteOptions::default()).await
    }

    /// Writes one row with `options`; an unset TTL becomes the entity's default.
    pub async fn put_with(&self, row: WideRow, options: WriteOptions) -> Result<()> {
        let options = self.with_default_ttl(options);
        self.context.call("put", self.store.put(row, options)).await
    }

    /// Writes many rows as one batch, with the default TTL.
    pub async fn put_batch(&self, rows: Vec<WideRow>) -> Result<()> {
        self.put_batch_with(rows, WriteOptions::default()).await
    }

    /// Writes many rows as one batch with `options`; an unset TTL becomes the entity's default.
    pub async fn put_batch_with(&self, rows: Vec<WideRow>, options: WriteOptions) -> Result<()> {
        let options = self.with_default_ttl(options);
        self.context
            .call("put_batch", self.store.put_batch(rows, options))
            .await
    }

    /// The row at `(partition, clustering)`, if it exists.
    pub async fn get(&self, partition: &[Value], clustering: &[Value]) -> Result<Option<WideRow>> {
        self.context
            .call_idempotent("get", || self.store.get(partition, clustering))
            .await
    }

    /// Rows of one partition in clustering order.
    pub async fn slice(&self, query: &SliceQuery) -> Result<Vec<WideRow>> {
        self.context
            .call_idempotent("slice", || self.store.slice(query))
            .await
    }

    /// Removes one row.
    pub async fn delete(&self, partition: &[Value], clustering: &[Value]) -> Result<bool> {
        self.context
            .call_idempotent("delete", || self.store.delete(partition, clustering))
            .await
    }

    /// Removes a whole partition.
    pub async fn delete_partition(&self, partition: &[Value]) -> Result<()> {
        self.context
            .call_idempotent("delete_partition", || {
                self.store.delete_partition(partition)
            })
            .await
    }
}
