//! A store handle that owns a clean-up guard: when the suite case drops its fixture, the guard
//! removes what the test created on the shared server (its schema, its keys).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use polyroute_adapters::kinds::document::{
    Document, DocumentStore, FieldPath, Filter, FindQuery, StoredDocument,
};
use polyroute_adapters::kinds::graph::{
    Edge, EdgeFilter, GraphStore, Neighbor, Node, Path, PathQuery, TraverseQuery, Visit,
};
use polyroute_adapters::kinds::key_value::{KeyValueStore, SetOptions};
use polyroute_adapters::kinds::relational::{
    Dialect, RelationalStore, RelationalTransaction, Rows,
};
use polyroute_adapters::kinds::search::{SearchDocument, SearchQuery, SearchResults, SearchStore};
use polyroute_adapters::kinds::time_series::{
    LastPoint, Point, RangeQuery, SeriesData, TagFilter, TimeSeriesStore, WindowQuery, WindowSeries,
};
use polyroute_adapters::kinds::wide_column::{SliceQuery, WideColumnStore, WideRow, WriteOptions};
use polyroute_adapters::{Result, Value};

/// Runs its clean-up when the last handle holding it is dropped.
pub struct Cleanup(Option<Box<dyn FnOnce() + Send + Sync>>);

impl Cleanup {
    /// Runs `clean` on a thread of its own when dropped: the test's runtime may be shutting down.
    pub fn new(clean: impl FnOnce() + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Cleanup(Some(Box::new(clean))))
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(clean) = self.0.take() {
            // A thread of its own, joined: the clean-up finishes before the test is reported.
            let _ = std::thread::spawn(clean).join();
        }
    }
}

/// `inner` plus the guard that cleans up after it.
pub struct Guarded<T: ?Sized> {
    pub inner: Arc<T>,
    /// Held, not read: dropping the last holder cleans up.
    #[allow(dead_code)]
    pub cleanup: Arc<Cleanup>,
}

impl<T: ?Sized> Guarded<T> {
    pub fn new(inner: Arc<T>, cleanup: Arc<Cleanup>) -> Self {
        Guarded { inner, cleanup }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Guarded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

#[async_trait]
impl KeyValueStore for Guarded<dyn KeyValueStore> {
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: Bytes, options: SetOptions) -> Result<bool> {
        self.inner.set(key, value, options).await
    }
    async fn delete(&self, key: &str) -> Result<bool> {
        self.inner.delete(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        self.inner.get_many(keys).await
    }
    async fn set_many(&self, entries: Vec<(String, Bytes)>, ttl: Option<Duration>) -> Result<()> {
        self.inner.set_many(entries, ttl).await
    }
    async fn increment(&self, key: &str, delta: i64) -> Result<i64> {
        self.inner.increment(key, delta).await
    }
}

#[async_trait]
impl DocumentStore for Guarded<dyn DocumentStore> {
    async fn put(&self, id: &str, document: Document) -> Result<()> {
        self.inner.put(id, document).await
    }
    async fn insert(&self, id: &str, document: Document) -> Result<()> {
        self.inner.insert(id, document).await
    }
    async fn get(&self, id: &str) -> Result<Option<Document>> {
        self.inner.get(id).await
    }
    async fn delete(&self, id: &str) -> Result<bool> {
        self.inner.delete(id).await
    }
    async fn find(&self, query: &FindQuery) -> Result<Vec<StoredDocument>> {
        self.inner.find(query).await
    }
    async fn count(&self, filter: &Filter) -> Result<u64> {
        self.inner.count(filter).await
    }
    async fn create_index(&self, path: &FieldPath) -> Result<()> {
        self.inner.create_index(path).await
    }
}

#[async_trait]
impl RelationalStore for Guarded<dyn RelationalStore> {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        self.inner.query(sql, params).await
    }
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        self.inner.execute(sql, params).await
    }
    async fn check_read_only(&self, sql: &str) -> Result<()> {
        self.inner.check_read_only(sql).await
    }
    async fn query_read_only(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        self.inner.query_read_only(sql, params).await
    }
    async fn query_read_only_at_most(
        &self,
        sql: &str,
        params: &[Value],
        max_rows: usize,
    ) -> Result<Rows> {
        self.inner
            .query_read_only_at_most(sql, params, max_rows)
            .await
    }
    async fn execute_script(&self, sql: &str) -> Result<()> {
        self.inner.execute_script(sql).await
    }
    async fn begin(&self) -> Result<Box<dyn RelationalTransaction>> {
        self.inner.begin().await
    }
}

#[async_trait]
impl TimeSeriesStore for Guarded<dyn TimeSeriesStore> {
    async fn write(&self, points: Vec<Point>) -> Result<()> {
        self.inner.write(points).await
    }
    async fn range(&self, query: &RangeQuery) -> Result<Vec<SeriesData>> {
        self.inner.range(query).await
    }
    async fn window(&self, query: &WindowQuery) -> Result<Vec<WindowSeries>> {
        self.inner.window(query).await
    }
    async fn last(&self, measurement: &str, tags: &TagFilter) -> Result<Vec<LastPoint>> {
        self.inner.last(measurement, tags).await
    }
    async fn delete_before(&self, before: i64) -> Result<u64> {
        self.inner.delete_before(before).await
    }
}

#[async_trait]
impl GraphStore for Guarded<dyn GraphStore> {
    async fn upsert_node(&self, node: Node) -> Result<()> {
        self.inner.upsert_node(node).await
    }
    async fn get_node(&self, id: &str) -> Result<Option<Node>> {
        self.inner.get_node(id).await
    }
    async fn delete_node(&self, id: &str) -> Result<bool> {
        self.inner.delete_node(id).await
    }
    async fn upsert_edge(&self, edge: Edge) -> Result<()> {
        self.inner.upsert_edge(edge).await
    }
    async fn upsert_batch(&self, nodes: Vec<Node>, edges: Vec<Edge>) -> Result<()> {
        self.inner.upsert_batch(nodes, edges).await
    }
    async fn delete_edge(&self, from: &str, label: &str, to: &str) -> Result<bool> {
        self.inner.delete_edge(from, label, to).await
    }
    async fn neighbors(
        &self,
        id: &str,
        edges: &EdgeFilter,
        limit: Option<usize>,
    ) -> Result<Vec<Neighbor>> {
        self.inner.neighbors(id, edges, limit).await
    }
    async fn traverse(&self, query: &TraverseQuery) -> Result<Vec<Visit>> {
        self.inner.traverse(query).await
    }
    async fn count_reachable(&self, query: &TraverseQuery) -> Result<u64> {
        self.inner.count_reachable(query).await
    }
    async fn shortest_path(&self, query: &PathQuery) -> Result<Option<Path>> {
        self.inner.shortest_path(query).await
    }
    async fn degree(&self, id: &str, edges: &EdgeFilter) -> Result<u64> {
        self.inner.degree(id, edges).await
    }
}

#[async_trait]
impl SearchStore for Guarded<dyn SearchStore> {
    async fn index(&self, documents: Vec<SearchDocument>) -> Result<()> {
        self.inner.index(documents).await
    }
    async fn delete(&self, id: &str) -> Result<bool> {
        self.inner.delete(id).await
    }
    async fn query(&self, query: &SearchQuery) -> Result<SearchResults> {
        self.inner.query(query).await
    }
    async fn refresh(&self) -> Result<()> {
        self.inner.refresh().await
    }
}

#[async_trait]
impl WideColumnStore for Guarded<dyn WideColumnStore> {
    async fn put(&self, row: WideRow, options: WriteOptions) -> Result<()> {
        self.inner.put(row, options).await
    }
    async fn put_batch(&self, rows: Vec<WideRow>, options: WriteOptions) -> Result<()> {
        self.inner.put_batch(rows, options).await
    }
    async fn get(&self, partition: &[Value], clustering: &[Value]) -> Result<Option<WideRow>> {
        self.inner.get(partition, clustering).await
    }
    async fn slice(&self, query: &SliceQuery) -> Result<Vec<WideRow>> {
        self.inner.slice(query).await
    }
    async fn delete(&self, partition: &[Value], clustering: &[Value]) -> Result<bool> {
        self.inner.delete(partition, clustering).await
    }
    async fn delete_partition(&self, partition: &[Value]) -> Result<()> {
        self.inner.delete_partition(partition).await
    }
}
