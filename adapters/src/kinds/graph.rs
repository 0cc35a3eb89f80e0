//! Graph stores: labelled nodes and directed, labelled edges with properties.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;

use crate::{Result, Value};

/// A node.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Unique id within the entity.
    pub id: String,
    /// The node's label (`person`, `product`).
    pub label: String,
    /// The node's properties.
    pub properties: BTreeMap<String, Value>,
}

/// A directed edge; `(from, label, to)` identifies it.
#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    /// Source node id.
    pub from: String,
    /// Target node id.
    pub to: String,
    /// The edge's label (`knows`, `bought`).
    pub label: String,
    /// The edge's properties (a numeric one can weigh shortest paths).
    pub properties: BTreeMap<String, Value>,
}

/// Which edges to follow from a node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// Edges leaving the node.
    #[default]
    Out,
    /// Edges arriving at the node.
    In,
    /// Both.
    Both,
}

/// Which edges a neighbour, degree or traversal query follows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EdgeFilter {
    /// The direction.
    pub direction: Direction,
    /// Edge labels to follow; empty follows all.
    pub labels: Vec<String>,
}

/// A neighbour of a node and the edge that reaches it.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbor {
    /// The neighbouring node.
    pub node: Node,
    /// The edge between the two.
    pub edge: Edge,
}

/// A breadth-first traversal from one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraverseQuery {
    /// Start node id.
    pub start: String,
    /// Edges to follow.
    pub edges: EdgeFilter,
    /// Maximum number of hops (1 = neighbours).
    pub max_depth: u32,
    /// Return at most this many nodes.
    pub limit: Option<usize>,
}

/// A node reached by a traversal, each node once, at its smallest depth.
#[derive(Clone, Debug, PartialEq)]
pub struct Visit {
    /// The node id.
    pub id: String,
    /// Hops from the start.
    pub depth: u32,
}

/// A shortest-path query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathQuery {
    /// Start node id.
    pub from: String,
    /// End node id.
    pub to: String,
    /// Edges to follow.
    pub edges: EdgeFilter,
    /// Give up beyond this many hops.
    pub max_depth: u32,
    /// A numeric edge property to minimise; `None` counts hops.
    pub weight: Option<String>,
}

/// A path between two nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// Node ids from start to end, both included.
    pub nodes: Vec<String>,
    /// Total weight (hop count when unweighted).
    pub cost: f64,
}

/// Settings of one graph entity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GraphSettings {}

/// A graph store, scoped to one entity.
#[async_trait]
pub trait GraphStore: Send + Sync + fmt::Debug {
    /// Creates or replaces a node.
    async fn upsert_node(&self, node: Node) -> Result<()>;

    /// The node `id`, if it exists.
    async fn get_node(&self, id: &str) -> Result<Option<Node>>;

    /// Removes a node and every edge touching it. Returns whether it existed.
    async fn delete_node(&self, id: &str) -> Result<bool>;

    /// Creates or replaces an edge; both ends must exist ([`StoreError::NotFound`](crate::StoreError::NotFound) otherwise).
    async fn upsert_edge(&self, edge: Edge) -> Result<()>;

    /// Removes the edge `(from, label, to)`. Returns whether it existed.
    async fn delete_edge(&self, from: &str, label: &str, to: &str) -> Result<bool>;

    /// The neighbours of `id` along matching edges, at most `limit`.
    async fn neighbors(
        &self,
        id: &str,
        edges: &EdgeFilter,
        limit: Option<usize>,
    ) -> Result<Vec<Neighbor>>;

    /// Every node within `max_depth` hops of the start (the start excluded).
    async fn traverse(&self, query: &TraverseQuery) -> Result<Vec<Visit>>;

    /// The shortest path, or `None` when there is none within `max_depth`.
    async fn shortest_path(&self, query: &PathQuery) -> Result<Option<Path>>;

    /// The number of matching edges at `id`.
    async fn degree(&self, id: &str, edges: &EdgeFilter) -> Result<u64>;
}
