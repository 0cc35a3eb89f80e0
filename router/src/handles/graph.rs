//! [`Graph`]: the handle of a graph entity.

use std::sync::Arc;

use polyroute_adapters::kinds::graph::{
    Edge, EdgeFilter, GraphStore, Neighbor, Node, Path, PathQuery, TraverseQuery, Visit,
};
use polyroute_adapters::Result;

use crate::call::CallContext;

/// A graph entity: labelled nodes and directed, labelled edges.
#[derive(Clone, Debug)]
pub struct Graph {
    store: Arc<dyn GraphStore>,
    context: CallContext,
}

impl Graph {
    pub(crate) fn new(store: Arc<dyn GraphStore>, context: CallContext) -> Self {
        Graph { store, context }
    }

    /// Who calls are for, and their deadline.
    pub fn context(&self) -> &CallContext {
        &self.context
    }

    /// Creates or replaces a node.
    pub async fn upsert_node(&self, node: Node) -> Result<()> {
        self.context
            .call("upsert_node", self.store.upsert_node(node))
            .await
    }

    /// Node `id`, if it exists.
    pub async fn get_node(&self, id: &str) -> Result<Option<Node>> {
        self.context
            .call_idempotent("get_node", || self.store.get_node(id))
            .await
    }

    /// Removes a node and its edges. Returns whether it existed.
    pub async fn delete_node(&self, id: &str) -> Result<bool> {
        self.context
            .call_idempotent("delete_node", || self.store.delete_node(id))
            .await
    }

    /// Creates or replaces an edge between two existing nodes.
    pub async fn upsert_edge(&self, edge: Edge) -> Result<()> {
        self.context
            .call("upsert_edge", self.store.upsert_edge(edge))
            .await
    }

    /// Creates or replaces many nodes, then many edges, checked first and written as one batch
    /// (atomic where the store has batch writes); an edge may join nodes of the same batch.
    pub async fn upsert_batch(&self, nodes: Vec<Node>, edges: Vec<Edge>) -> Result<()> {
        self.context
            .call("upsert_batch", self.store.upsert_batch(nodes, edges))
            .await
    }

    /// Removes the edge `(from, label, to)`. Returns whether it existed.
    pub async fn delete_edge(&self, from: &str, label: &str, to: &str) -> Result<bool> {
        self.context
            .call_idempotent("delete_edge", || self.store.delete_edge(from, label, to))
            .await
    }

    /// The neighbours of `id` along matching edges, at most `limit`.
    pub async fn neighbors(
        &self,
        id: &str,
        edges: &EdgeFilter,
        limit: Option<usize>,
    ) -> Result<Vec<Neighbor>> {
        self.context
            .call_idempotent("neighbors", || self.store.neighbors(id, edges, limit))
            .await
    }

    /// A page of the neighbours of `id`: at most `limit` of them, after the first `skip` in the
    /// neighbours' order (edge label, neighbour id, out before in). Following pages (`skip`
    /// plus what the last page returned) until one comes back shorter than `limit` reads every
    /// neighbour once, as long as the edges do not change meanwhile. The store reads the
    /// neighbours it skips, so a page's cost grows with `skip`.
    pub async fn neighbors_page(
        &self,
        id: &str,
        edges: &EdgeFilter,
        skip: usize,
        limit: Option<usize>,
    ) -> Result<Vec<Neighbor>> {
        if skip == 0 {
            return self.neighbors(id, edges, limit).await;
        }
        let through = limit.map(|limit| limit.saturating_add(skip));
        let mut found = self.neighbors(id, edges, through).await?;
        found.drain(..skip.min(found.len()));
        Ok(found)
    }

    /// Every node within the query's depth of its start (after its `skip` first ones, at most
    /// its `limit`; [`TraverseQuery::next_page`] builds the query of the next page).
    pub async fn traverse(&self, query: &TraverseQuery) -> Result<Vec<Visit>> {
        self.context
            .call_idempotent("traverse", || self.store.traverse(query))
            .await
    }

    /// How many nodes [`Graph::traverse`] would return, without returning them.
    pub async fn count_reachable(&self, query: &TraverseQuery) -> Result<u64> {
        self.context
            .call_idempotent("count_reachable", || self.store.count_reachable(query))
            .await
    }

    /// The shortest path, if one exists within the query's depth.
    pub async fn shortest_path(&self, query: &PathQuery) -> Result<Option<Path>> {
        self.context
            .call_idempotent("shortest_path", || self.store.shortest_path(query))
            .await
    }

    /// The number of matching edges at `id`.
    pub async fn degree(&self, id: &str, edges: &EdgeFilter) -> Result<u64> {
        self.context
            .call_idempotent("degree", || self.store.degree(id, edges))
            .await
    }
}
