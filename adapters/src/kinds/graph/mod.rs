//! Graph stores: labelled nodes and directed, labelled edges with properties.
//!
//! # Semantics every backend follows
//!
//! - Node ids, node labels and edge labels are non-empty text (any Unicode, compared exactly);
//!   an empty one is an invalid request. An edge is identified by `(from, label, to)`: two nodes
//!   can be joined by several edges of different labels, and an edge may loop on one node.
//! - Asking about a node that does not exist (neighbours, degree, the start of a traversal,
//!   either end of a path) is [`StoreError::NotFound`](crate::StoreError::NotFound), so "no
//!   such node" is never mistaken for "no edges".
//! - With [`Direction::Both`], each edge counts once: a self-loop is one neighbour and adds one
//!   to the degree.
//! - Orders are fixed, so limits are deterministic: neighbours by (edge label, neighbour id,
//!   out before in); traversal visits by (depth, id). Ids and labels order by their UTF-8 bytes.
//!
//! # Bounds every backend enforces
//!
//! Checked once, by [`Bounded`], before a backend sees the request, so every backend refuses
//! the same requests with the same [`StoreError::InvalidRequest`](crate::StoreError::InvalidRequest):
//!
//! - a node id is at most [`MAX_ID_BYTES`] bytes of UTF-8, a node or edge label at most
//!   [`MAX_LABEL_BYTES`]: an edge's key (both ids and its label) then fits every backend's
//!   key or index entry (an LSM key below 64 KiB once escaped, a PostgreSQL B-tree entry
//!   below 2 704 bytes, a Neo4j index entry);
//! - a traversal, reach count or path asks for at most the entity's
//!   [`max_depth`](GraphSettings::max_depth) hops ([`DEFAULT_MAX_DEPTH`] unless configured).
//!   Deeper requests are refused rather than clamped, so a caller never takes a shallower
//!   answer for the one it asked for.
//!
//! Traversals are breadth-first in every backend: each node is expanded once, at its smallest
//! depth, so the work is bounded by the edges within reach, whatever the depth asked for.

mod bounded;
pub(crate) mod search;

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;

pub use self::bounded::{check_filter, check_id, check_label, filter_labels, Bounded};
use crate::{Result, Value};

/// The longest node id accepted, in bytes of UTF-8. An edge's keys hold two ids and a label;
/// with this bound they fit the smallest key any backend allows (a PostgreSQL B-tree entry).
pub const MAX_ID_BYTES: usize = 1024;

/// The longest node or edge label accepted, in bytes of UTF-8.
pub const MAX_LABEL_BYTES: usize = 256;

/// The deepest traversal, reach count or path an entity answers unless its config sets
/// `max_depth`. Ten hops reach every node of any real social or product graph (their
/// diameters are far smaller), while each hop more can multiply a traversal's work by the
/// average degree.
pub const DEFAULT_MAX_DEPTH: u32 = 10;

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

impl Node {
    /// A node without properties.
    pub fn new(id: impl Into<String>, label: impl Into<String>) -> Self {
        Node {
            id: id.into(),
            label: label.into(),
            properties: BTreeMap::new(),
        }
    }

    /// This node with property `name` set to `value`.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.properties.insert(name.into(), value.into());
        self
    }
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

impl Edge {
    /// An edge without properties.
    pub fn new(from: impl Into<String>, label: impl Into<String>, to: impl Into<String>) -> Self {
        Edge {
            from: from.into(),
            to: to.into(),
            label: label.into(),
            properties: BTreeMap::new(),
        }
    }

    /// This edge with property `name` set to `value`.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.properties.insert(name.into(), value.into());
        self
    }
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

impl EdgeFilter {
    /// Every edge in `direction`.
    pub fn new(direction: Direction) -> Self {
        EdgeFilter {
            direction,
            labels: Vec::new(),
        }
    }

    /// Only edges labelled `label` (adds to the labels already listed).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.labels.push(label.into());
        self
    }
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
    /// Maximum number of hops (1 = neighbours; 0 reaches nothing).
    pub max_depth: u32,
    /// Return at most this many nodes: the first ones in (depth, id) order.
    pub limit: Option<usize>,
    /// Leave out this many nodes first, in (depth, id) order: how a caller reads a traversal
    /// page by page ([`TraverseQuery::next_page`]). Applied by [`Bounded`] for every backend,
    /// so a backend itself always sees 0.
    pub skip: usize,
}

impl TraverseQuery {
    /// A traversal of at most `max_depth` hops from `start` along `edges`, every node at once.
    pub fn new(start: impl Into<String>, edges: EdgeFilter, max_depth: u32) -> Self {
        TraverseQuery {
            start: start.into(),
            edges,
            max_depth,
            limit: None,
            skip: 0,
        }
    }

    /// Returns at most `limit` nodes.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The query of the page after one that returned `returned` nodes: the same traversal,
    /// skipping those too. Visits come in (depth, id) order, so following pages until one
    /// comes back shorter than its `limit` reads every node once, as long as the graph does not
    /// change meanwhile. Each page traverses up to its end again: the work of a page grows with
    /// `skip`, within the reach the entity's `max_depth` already bounds.
    pub fn next_page(&self, returned: usize) -> Self {
        let mut next = self.clone();
        next.skip = self.skip.saturating_add(returned);
        next
    }
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
    /// Only paths of at most this many hops count.
    pub max_depth: u32,
    /// A numeric edge property to minimise (`Int` or `Float`); `None` counts hops. Every edge
    /// the search follows must hold it as a non-negative number: a missing, non-numeric,
    /// negative or NaN weight is an invalid request naming the property and the edge.
    pub weight: Option<String>,
}

/// A path between two nodes; when several are shortest, any one of them.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// Node ids from start to end, both included.
    pub nodes: Vec<String>,
    /// Total weight (hop count when unweighted).
    pub cost: f64,
}

/// Settings of one graph entity.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GraphSettings {
    /// The most hops a traversal, reach count or path query of this entity may ask for
    /// (`max_depth` in the entity's config; [`DEFAULT_MAX_DEPTH`] by default). A query asking
    /// for more is an invalid request naming this limit.
    pub max_depth: u32,
}

impl Default for GraphSettings {
    fn default() -> Self {
        GraphSettings {
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

impl GraphSettings {
    /// Settings allowing queries of up to `max_depth` hops.
    pub fn with_max_depth(max_depth: u32) -> Self {
        GraphSettings { max_depth }
    }

    /// Refuses a `max_depth` above this entity's limit, naming the field and the limit.
    pub fn check_depth(&self, max_depth: u32) -> Result<()> {
        if max_depth > self.max_depth {
            return Err(crate::StoreError::invalid(format!(
                "`max_depth` {max_depth} is above this entity's limit of {} hops: ask for at \
                 most {} (or raise the entity's `max_depth` in the config)",
                self.max_depth, self.max_depth
            )));
        }
        Ok(())
    }
}

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

    /// Creates or replaces many nodes, then many edges, as one batch (loading a graph one call
    /// per item is a round trip per item).
    ///
    /// Every item is checked before any is written: an empty id or label is an invalid request,
    /// and an edge whose end is neither stored nor among `nodes` is
    /// [`StoreError::NotFound`](crate::StoreError::NotFound); either fails the whole batch and
    /// writes nothing. An item given twice is written once, the last one winning. The batch is
    /// atomic where the backend has [`batch_writes`](crate::Capabilities::batch_writes).
    async fn upsert_batch(&self, nodes: Vec<Node>, edges: Vec<Edge>) -> Result<()>;

    /// Removes the edge `(from, label, to)`. Returns whether it existed.
    async fn delete_edge(&self, from: &str, label: &str, to: &str) -> Result<bool>;

    /// The neighbours of `id` along matching edges, at most `limit`.
    async fn neighbors(
        &self,
        id: &str,
        edges: &EdgeFilter,
        limit: Option<usize>,
    ) -> Result<Vec<Neighbor>>;

    /// Every node within `max_depth` hops of the start (the start excluded), each once at its
    /// smallest depth, ordered by (depth, id).
    async fn traverse(&self, query: &TraverseQuery) -> Result<Vec<Visit>>;

    /// How many nodes [`traverse`](GraphStore::traverse) would return (at most `limit`),
    /// without returning them: "how many people within three hops" is one number, and a
    /// backend can count where the data is instead of shipping every id.
    async fn count_reachable(&self, query: &TraverseQuery) -> Result<u64> {
        Ok(self.traverse(query).await?.len() as u64)
    }

    /// The shortest path, or `None` when there is none within `max_depth` hops. From a node to
    /// itself it is that node alone, with cost 0.
    async fn shortest_path(&self, query: &PathQuery) -> Result<Option<Path>>;

    /// The number of matching edges at `id`.
    async fn degree(&self, id: &str, edges: &EdgeFilter) -> Result<u64>;
}
