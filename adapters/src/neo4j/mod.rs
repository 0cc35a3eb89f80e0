//! The Neo4j graph backend, over Bolt with the `neo4rs` driver.
//!
//! Each entity is a node label `PrNode_<entity>` and a relationship type `PrEdge_<entity>`, so
//! entities sharing a database never see each other's nodes or edges. A node holds its id
//! (`id`, unique per entity by a constraint created when the entity is opened), the user's label
//! (`label`) and its properties encoded as one byte array (`props`, see [`codec`]). An edge is
//! a `PrEdge_<entity>` relationship holding the user's label (`label`, indexed) and `props`;
//! [`MERGE`] on `(from)-[:PrEdge_<entity> {label}]->(to)` keeps `(from, label, to)` unique.
//!
//! Every user value travels as a query parameter; see [`cypher`].
//!
//! [`MERGE`]: https://neo4j.com/docs/cypher-manual/current/clauses/merge/

mod abandon;
mod codec;
mod config;
mod cypher;
mod error;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use neo4rs::{BoltList, BoltMap, BoltString, BoltType, ConfigBuilder, Query, Row};

pub use config::Config;
use cypher::Statements;
use error::map_error;

use crate::backend::{Backend, BackendDescriptor};
use crate::kinds::graph::{
    Bounded, Edge, EdgeFilter, GraphStore, Neighbor, Node, Path, PathQuery, TraverseQuery, Visit,
};
use crate::store::{wrong_settings, ConnectContext};
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind, Value,
};

const BACKEND: &str = "neo4j";

/// A Neo4j database holding graph entities.
#[derive(Clone)]
pub struct Neo4jGraph {
    graph: Arc<neo4rs::Graph>,
    url: String,
}

impl std::fmt::Debug for Neo4jGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neo4jGraph")
            .field("url", &self.url)
            .finish()
    }
}

impl Neo4jGraph {
    /// Builds the pool and checks the server answers within `connect_timeout`.
    pub async fn open(config: Config) -> Result<Self> {
        let driver_config = ConfigBuilder::default()
            .uri(config.url.as_str())
            .user(config.user.as_str())
            .password(config.password.as_str())
            .db(config.database.as_str())
            .max_connections(config.pool.get())
            .fetch_size(config.fetch_size.get())
            .build()
            .map_err(map_error)?;
        let timeout = config.connect_timeout.0;
        let unreachable = |detail: String| StoreError::Unavailable {
            message: format!("cannot reach Neo4j at {}: {detail}", config.url),
            source: None,
        };
        // For `neo4j+s://` URLs the driver builds its TLS configuration with the process's
        // default crypto provider, which rustls cannot pick once two are compiled in: make it
        // ring (what polyroute's own TLS uses) unless the program chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let connect = async {
            let graph = neo4rs::Graph::connect(driver_config)
                .await
                .map_err(map_error)?;
            let store = Neo4jGraph {
                graph: Arc::new(graph),
                url: config.url.clone(),
            };
            store.ping().await?;
            Ok::<_, StoreError>(store)
        };
        match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(store)) => Ok(store),
            Ok(Err(StoreError::Unavailable { message, source })) => Err(StoreError::Unavailable {
                message: format!("cannot reach Neo4j at {}: {message}", config.url),
                source,
            }),
            Ok(Err(other)) => Err(other),
            Err(_) => Err(unreachable(format!(
                "no answer within connect_timeout ({timeout:?})"
            ))),
        }
    }
}

/// The Neo4j backend, as the registry lists it.
pub const BACKENDS: &[BackendDescriptor] = &[BackendDescriptor::of::<Neo4jGraph>(
    StoreKind::Graph,
    "neo4j",
    "Neo4j over Bolt: a label and relationship type per entity, MERGE upserts",
)];

impl Backend for Neo4jGraph {
    type Config = Config;

    async fn connect(_: StoreKind, config: Config, _: &ConnectContext) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(Neo4jGraph::open(config).await?))
    }
}

#[async_trait]
impl Store for Neo4jGraph {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::Graph,
            backend: BACKEND,
            capabilities: Capabilities {
                durable: true,
                weighted_paths: false,
                batch_writes: true,
                ..Capabilities::default()
            },
        }
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::Graph(settings) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        let statements = Statements::new(&entity.name)?;
        for schema in [&statements.constraint, &statements.edge_index] {
            match self.graph.run(neo4rs::query(schema)).await {
                Ok(()) => {}
                // Another process created the same rule at the same moment.
                Err(neo4rs::Error::Neo4j(err)) if err.code().contains("AlreadyExists") => {}
                Err(err) => return Err(map_error(err)),
            }
        }
        Ok(EntityHandle::Graph(Bounded::wrap(
            settings,
            Arc::new(Neo4jEntity {
                graph: Arc::clone(&self.graph),
                statements,
            }),
        )))
    }

    async fn ping(&self) -> Result<()> {
        fetch(&self.graph, neo4rs::query("RETURN 1 AS one")).await?;
        Ok(())
    }
}

/// Runs `query` (retrying transient failures, as the driver does) and collects its rows; the
/// server stops it when the call is abandoned ([`abandon`]).
async fn fetch(graph: &Arc<neo4rs::Graph>, query: Query) -> Result<Vec<Row>> {
    let (running, query) = abandon::Running::start(graph, query);
    let rows = async {
        let mut stream = graph.execute(query).await.map_err(map_error)?;
        let mut rows = Vec::new();
        while let Some(row) = stream.next().await.map_err(map_error)? {
            rows.push(row);
        }
        Ok(rows)
    }
    .await;
    running.finished();
    rows
}

/// Runs `query` in `txn` (opened on `graph`) and collects its rows; the server stops it when
/// the call is abandoned ([`abandon`]).
async fn fetch_in(
    graph: &Arc<neo4rs::Graph>,
    txn: &mut neo4rs::Txn,
    query: Query,
) -> Result<Vec<Row>> {
    let (running, query) = abandon::Running::start(graph, query);
    let rows = async {
        let mut stream = txn.execute(query).await.map_err(map_error)?;
        let mut rows = Vec::new();
        while let Some(row) = stream.next(txn.handle()).await.map_err(map_error)? {
            rows.push(row);
        }
        Ok(rows)
    }
    .await;
    running.finished();
    rows
}

fn column<'a, T: serde::Deserialize<'a>>(row: &'a Row, name: &str) -> Result<T> {
    row.get::<T>(name).map_err(|err| {
        StoreError::backend_with(format!("Neo4j returned an unreadable `{name}` column"), err)
    })
}

fn props_column(row: &Row, name: &str) -> Result<BTreeMap<String, Value>> {
    match column::<BoltType>(row, name)? {
        BoltType::Bytes(bytes) => codec::decode(&bytes.value),
        BoltType::Null(_) => Ok(BTreeMap::new()),
        other => Err(StoreError::backend(format!(
            "Neo4j returned a `{name}` column that is not bytes: {other:?}"
        ))),
    }
}

fn count_column(row: Option<&Row>, name: &str) -> Result<u64> {
    match row {
        Some(row) => Ok(u64::try_from(column::<i64>(row, name)?).unwrap_or(0)),
        None => Ok(0),
    }
}

fn check_text(what: &str, text: &str) -> Result<()> {
    if text.is_empty() {
        return Err(StoreError::invalid(format!(
            "a graph {what} cannot be empty"
        )));
    }
    Ok(())
}

fn check_node(node: &Node) -> Result<()> {
    check_text("node id", &node.id)?;
    check_text("node label", &node.label)
}

fn check_edge(edge: &Edge) -> Result<()> {
    check_text("edge end", &edge.from)?;
    check_text("edge end", &edge.to)?;
    check_text("edge label", &edge.label)
}

fn check_filter(edges: &EdgeFilter) -> Result<()> {
    for label in &edges.labels {
        check_text("edge label in a filter", label)?;
    }
    Ok(())
}

fn missing(id: &str) -> StoreError {
    StoreError::not_found(format!("graph node `{id}`"))
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn labels_param(edges: &EdgeFilter) -> BoltType {
    BoltType::from(edges.labels.clone())
}

fn bolt_map(entries: impl IntoIterator<Item = (&'static str, BoltType)>) -> BoltType {
    let mut map = BoltMap::new();
    for (key, value) in entries {
        map.put(BoltString::from(key), value);
    }
    BoltType::Map(map)
}

/// One graph entity on the server.
struct Neo4jEntity {
    graph: Arc<neo4rs::Graph>,
    statements: Statements,
}

impl std::fmt::Debug for Neo4jEntity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neo4jEntity")
            .field("label", &self.statements.label)
            .finish_non_exhaustive()
    }
}

impl Neo4jEntity {
    async fn exists(&self, id: &str) -> Result<bool> {
        let query = neo4rs::query(&self.statements.exists()).param("id", id);
        Ok(!fetch(&self.graph, query).await?.is_empty())
    }

    /// The nodes a traversal reaches, in (depth, id) order and at most `query.limit`:
    /// breadth-first, one statement per level ([`Statements::expand`]) over the whole
    /// frontier, each node expanded once at its smallest depth; it stops as soon as a level
    /// adds nothing.
    async fn reach(&self, query: &TraverseQuery) -> Result<Vec<Visit>> {
        let limit = query.limit.unwrap_or(usize::MAX);
        let text = self.statements.expand(query.edges.direction);
        let mut seen: HashSet<String> = HashSet::from([query.start.clone()]);
        let mut frontier = vec![query.start.clone()];
        let mut reached = Vec::new();
        let mut depth = 0;
        while depth < query.max_depth && !frontier.is_empty() && reached.len() < limit {
            depth += 1;
            let cypher = neo4rs::query(&text)
                .param("frontier", BoltType::from(frontier))
                .param("labels", labels_param(&query.edges));
            let mut next = Vec::new();
            for row in fetch(&self.graph, cypher).await? {
                let id: String = column(&row, "id")?;
                if seen.insert(id.clone()) {
                    next.push(id);
                }
            }
            next.sort_unstable();
            reached.extend(next.iter().map(|id| Visit {
                id: id.clone(),
                depth,
            }));
            frontier = next;
        }
        reached.truncate(limit);
        if reached.is_empty() {
            self.require(&query.start).await?;
        }
        Ok(reached)
    }

    async fn require(&self, id: &str) -> Result<()> {
        if self.exists(id).await? {
            Ok(())
        } else {
            Err(missing(id))
        }
    }

    /// Writes a checked batch in one transaction; `Err` leaves the transaction to be rolled
    /// back by the caller.
    async fn write_batch(
        &self,
        txn: &mut neo4rs::Txn,
        nodes: &BTreeMap<&str, &Node>,
        edges: &BTreeMap<(&str, &str, &str), &Edge>,
    ) -> Result<()> {
        let ends: BTreeSet<&str> = edges
            .keys()
            .flat_map(|(from, _, to)| [*from, *to])
            .filter(|id| !nodes.contains_key(id))
            .collect();
        if !ends.is_empty() {
            let ids: Vec<String> = ends.iter().map(|id| (*id).to_owned()).collect();
            let query = neo4rs::query(&self.statements.missing_nodes()).param("ids", ids);
            if let Some(row) = fetch_in(&self.graph, txn, query).await?.first() {
                return Err(missing(&column::<String>(row, "id")?));
            }
        }
        if !nodes.is_empty() {
            let mut rows = Vec::with_capacity(nodes.len());
            for node in nodes.values() {
                rows.push(bolt_map([
                    ("id", BoltType::from(node.id.as_str())),
                    ("label", BoltType::from(node.label.as_str())),
                    ("props", BoltType::from(codec::encode(&node.properties)?)),
                ]));
            }
            let query = neo4rs::query(&self.statements.upsert_nodes())
                .param("rows", BoltType::List(BoltList::from(rows)));
            fetch_in(&self.graph, txn, query).await?;
        }
        if !edges.is_empty() {
            let mut rows = Vec::with_capacity(edges.len());
            for edge in edges.values() {
                rows.push(bolt_map([
                    ("from", BoltType::from(edge.from.as_str())),
                    ("label", BoltType::from(edge.label.as_str())),
                    ("to", BoltType::from(edge.to.as_str())),
                    ("props", BoltType::from(codec::encode(&edge.properties)?)),
                ]));
            }
            let query = neo4rs::query(&self.statements.upsert_edges())
                .param("rows", BoltType::List(BoltList::from(rows)));
            let written =
                count_column(fetch_in(&self.graph, txn, query).await?.first(), "written")?;
            if written != edges.len() as u64 {
                // An end was deleted by a concurrent writer after the check.
                return Err(StoreError::not_found(
                    "an end of an edge in the batch (deleted concurrently)",
                ));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl GraphStore for Neo4jEntity {
    async fn upsert_node(&self, node: Node) -> Result<()> {
        check_node(&node)?;
        let query = neo4rs::query(&self.statements.upsert_node())
            .param("id", node.id)
            .param("label", node.label)
            .param("props", codec::encode(&node.properties)?);
        fetch(&self.graph, query).await.map(drop)
    }

    async fn get_node(&self, id: &str) -> Result<Option<Node>> {
        let query = neo4rs::query(&self.statements.get_node()).param("id", id);
        let rows = fetch(&self.graph, query).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        Ok(Some(Node {
            id: id.to_owned(),
            label: column(row, "label")?,
            properties: props_column(row, "props")?,
        }))
    }

    async fn delete_node(&self, id: &str) -> Result<bool> {
        let query = neo4rs::query(&self.statements.delete_node()).param("id", id);
        let rows = fetch(&self.graph, query).await?;
        Ok(count_column(rows.first(), "deleted")? > 0)
    }

    async fn upsert_edge(&self, edge: Edge) -> Result<()> {
        check_edge(&edge)?;
        let query = neo4rs::query(&self.statements.upsert_edge())
            .param("from", edge.from.as_str())
            .param("label", edge.label.as_str())
            .param("to", edge.to.as_str())
            .param("props", codec::encode(&edge.properties)?);
        let rows = fetch(&self.graph, query).await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::backend("Neo4j returned no row for an edge upsert"))?;
        if !column::<bool>(row, "has_from")? {
            return Err(missing(&edge.from));
        }
        if !column::<bool>(row, "has_to")? {
            return Err(missing(&edge.to));
        }
        Ok(())
    }

    async fn upsert_batch(&self, nodes: Vec<Node>, edges: Vec<Edge>) -> Result<()> {
        for node in &nodes {
            check_node(node)?;
        }
        for edge in &edges {
            check_edge(edge)?;
        }
        if nodes.is_empty() && edges.is_empty() {
            return Ok(());
        }
        // The last of duplicates wins.
        let nodes: BTreeMap<&str, &Node> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
        let edges: BTreeMap<(&str, &str, &str), &Edge> = edges
            .iter()
            .map(|e| ((e.from.as_str(), e.label.as_str(), e.to.as_str()), e))
            .collect();
        let mut txn = self.graph.start_txn().await.map_err(map_error)?;
        match self.write_batch(&mut txn, &nodes, &edges).await {
            Ok(()) => txn.commit().await.map_err(map_error),
            Err(err) => {
                // Best effort: a failed rollback leaves the server to abort the transaction
                // when the connection is reset.
                let _ = txn.rollback().await;
                Err(err)
            }
        }
    }

    async fn delete_edge(&self, from: &str, label: &str, to: &str) -> Result<bool> {
        let query = neo4rs::query(&self.statements.delete_edge())
            .param("from", from)
            .param("label", label)
            .param("to", to);
        let rows = fetch(&self.graph, query).await?;
        Ok(count_column(rows.first(), "deleted")? > 0)
    }

    async fn neighbors(
        &self,
        id: &str,
        edges: &EdgeFilter,
        limit: Option<usize>,
    ) -> Result<Vec<Neighbor>> {
        check_filter(edges)?;
        if limit == Some(0) {
            self.require(id).await?;
            return Ok(Vec::new());
        }
        let mut query = neo4rs::query(&self.statements.neighbors(edges.direction, limit.is_some()))
            .param("id", id)
            .param("labels", labels_param(edges));
        if let Some(limit) = limit {
            query = query.param("limit", limit_param(limit));
        }
        let rows = fetch(&self.graph, query).await?;
        if rows.is_empty() {
            self.require(id).await?;
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let label: String = column(row, "label")?;
            let other: String = column(row, "other")?;
            let side: i64 = column(row, "side")?;
            let (from, to) = if side == 0 {
                (id.to_owned(), other.clone())
            } else {
                (other.clone(), id.to_owned())
            };
            out.push(Neighbor {
                node: Node {
                    id: other,
                    label: column(row, "nlabel")?,
                    properties: props_column(row, "nprops")?,
                },
                edge: Edge {
                    from,
                    to,
                    label,
                    properties: props_column(row, "eprops")?,
                },
            });
        }
        Ok(out)
    }

    async fn traverse(&self, query: &TraverseQuery) -> Result<Vec<Visit>> {
        check_filter(&query.edges)?;
        self.reach(query).await
    }

    async fn count_reachable(&self, query: &TraverseQuery) -> Result<u64> {
        check_filter(&query.edges)?;
        Ok(self.reach(query).await?.len() as u64)
    }

    async fn shortest_path(&self, query: &PathQuery) -> Result<Option<Path>> {
        if query.weight.is_some() {
            return Err(StoreError::Unsupported {
                operation: "weighted shortest paths",
                backend: BACKEND,
            });
        }
        check_filter(&query.edges)?;
        let pair = neo4rs::query(&self.statements.exist_pair())
            .param("from", query.from.as_str())
            .param("to", query.to.as_str());
        let rows = fetch(&self.graph, pair).await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::backend("Neo4j returned no row for an existence check"))?;
        if !column::<bool>(row, "has_from")? {
            return Err(missing(&query.from));
        }
        if !column::<bool>(row, "has_to")? {
            return Err(missing(&query.to));
        }
        if query.from == query.to {
            return Ok(Some(Path {
                nodes: vec![query.from.clone()],
                cost: 0.0,
            }));
        }
        if query.max_depth == 0 {
            return Ok(None);
        }
        let text = self.statements.shortest_path(
            query.edges.direction,
            query.max_depth,
            !query.edges.labels.is_empty(),
        );
        let cypher = neo4rs::query(&text)
            .param("from", query.from.as_str())
            .param("to", query.to.as_str())
            .param("labels", labels_param(&query.edges));
        let rows = fetch(&self.graph, cypher).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let nodes: Vec<String> = column(row, "ids")?;
        let cost = nodes.len().saturating_sub(1) as f64;
        Ok(Some(Path { nodes, cost }))
    }

    async fn degree(&self, id: &str, edges: &EdgeFilter) -> Result<u64> {
        check_filter(edges)?;
        let query = neo4rs::query(&self.statements.degree(edges.direction))
            .param("id", id)
            .param("labels", labels_param(edges));
        let rows = fetch(&self.graph, query).await?;
        match rows.first() {
            Some(row) => count_column(Some(row), "degree"),
            None => Err(missing(id)),
        }
    }
}
