//! The PostgreSQL graph backend: two tables per entity.
//!
//! - `graph_<entity>_nodes (id BYTEA PRIMARY KEY, label TEXT COLLATE "C", props JSONB)`;
//! - `graph_<entity>_edges (src BYTEA, label TEXT COLLATE "C", dst BYTEA, props JSONB)`, primary
//!   key `(src, label, dst)` (outgoing edges), both ends referencing the nodes table
//!   `ON DELETE CASCADE` (deleting a node removes its edges, and no edge can dangle even under
//!   concurrent writers), and an index on `(dst, label, src)` for incoming edges.
//!
//! Ids are the UTF-8 bytes of the id as `BYTEA`: PostgreSQL text cannot hold U+0000, which is a
//! valid id, and `BYTEA` orders by bytes exactly as the contract asks. Labels are `TEXT` under
//! the `C` collation (byte order). Properties are `jsonb` in the tagged form of [`json`].
//!
//! A batch is one transaction of `INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE`
//! statements, nodes first, a few thousand rows each.
//!
//! Neighbours and degree are one statement each. Traversals and reach counts are breadth-first
//! from Rust, one statement per level fetching the distinct neighbours of the whole frontier;
//! each node enters the frontier once, at its smallest depth, so the work is bounded by the
//! edges within reach and a dense graph costs no more at depth 20 than at depth 2. Shortest
//! paths run the same way over one neighbour query per frontier ([`search`]).

mod json;
mod search;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value as Json;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::config::Config;
use super::migrate::{self, identifier};
use super::pool::PgPool;
use crate::kinds::graph::{
    filter_labels, Bounded, Direction, Edge, EdgeFilter, GraphStore, Neighbor, Node, Path,
    PathQuery, TraverseQuery, Visit,
};
use crate::store::wrong_settings;
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind,
};

/// Rows per statement of a batch: large enough to amortise the round trip, small enough to keep
/// each statement's arrays a few megabytes.
const BATCH_ROWS: usize = 10_000;

/// A PostgreSQL database holding graph entities, two tables each.
#[derive(Clone, Debug)]
pub struct PostgresGraph {
    pool: PgPool,
}

impl PostgresGraph {
    /// Connects the pool and makes sure the schema exists.
    pub async fn open(config: Config) -> Result<Self> {
        Ok(PostgresGraph {
            pool: PgPool::connect(&config).await?,
        })
    }
}

#[async_trait]
impl Store for PostgresGraph {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::Graph,
            backend: "postgres",
            capabilities: Capabilities {
                durable: self.pool.is_durable(),
                weighted_paths: true,
                batch_writes: true,
                ..Capabilities::default()
            },
        }
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::Graph(settings) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        let nodes_name = identifier(&format!("graph_{}_nodes", entity.name));
        let edges_name = identifier(&format!("graph_{}_edges", entity.name));
        let nodes = self.pool.qualified(&nodes_name);
        let edges = self.pool.qualified(&edges_name);
        let incoming = identifier(&format!("{edges_name}_incoming"));
        migrate::apply(
            &self.pool,
            &format!("graph:{}", entity.name),
            &[format!(
                "CREATE TABLE {nodes} (
                    id BYTEA PRIMARY KEY,
                    label TEXT COLLATE \"C\" NOT NULL,
                    props JSONB NOT NULL
                );
                CREATE TABLE {edges} (
                    src BYTEA NOT NULL REFERENCES {nodes} (id) ON DELETE CASCADE,
                    label TEXT COLLATE \"C\" NOT NULL,
                    dst BYTEA NOT NULL REFERENCES {nodes} (id) ON DELETE CASCADE,
                    props JSONB NOT NULL,
                    PRIMARY KEY (src, label, dst)
                );
                CREATE INDEX \"{incoming}\" ON {edges} (dst, label, src);"
            )],
            &[],
        )
        .await?;
        Ok(EntityHandle::Graph(Bounded::wrap(
            settings,
            Arc::new(Graph::new(self.pool.clone(), &nodes, &edges)),
        )))
    }

    async fn ping(&self) -> Result<()> {
        self.pool.ping().await
    }
}

/// Matching edges at `$1` as `(label, other, props, out)` rows: `$2` the labels (empty: all).
/// With both directions a self-loop counts once (its outgoing side).
fn hops(e: &str, direction: Direction) -> String {
    let labels = "(cardinality($2::text[]) = 0 OR label = ANY($2::text[]))";
    let out = format!(
        "SELECT label, dst AS other, props, 0 AS side FROM {e} WHERE src = $1 AND {labels}"
    );
    let inc = format!(
        "SELECT label, src AS other, props, 1 AS side FROM {e} WHERE dst = $1 AND {labels}"
    );
    match direction {
        Direction::Out => out,
        Direction::In => inc,
        Direction::Both => format!("{out} UNION ALL {inc} AND src <> $1"),
    }
}

/// The SQL of one entity, written once.
#[derive(Debug)]
pub(crate) struct Graph {
    pool: PgPool,
    edges: String,
    upsert_node: String,
    get_node: String,
    delete_node: String,
    upsert_edge: String,
    upsert_nodes: String,
    upsert_edges: String,
    delete_edge: String,
    exists: String,
    neighbors: [String; 3],
    degree: [String; 3],
    /// The distinct nodes one matching edge away from any node of `$1` (one BFS level).
    expand: [String; 3],
}

fn index(direction: Direction) -> usize {
    match direction {
        Direction::Out => 0,
        Direction::In => 1,
        Direction::Both => 2,
    }
}

const DIRECTIONS: [Direction; 3] = [Direction::Out, Direction::In, Direction::Both];

impl Graph {
    fn new(pool: PgPool, n: &str, e: &str) -> Self {
        let neighbors = DIRECTIONS.map(|d| {
            format!(
                "SELECT h.label, h.other, h.props, h.side, n.label, n.props \
                 FROM ({}) h JOIN {n} n ON n.id = h.other \
                 ORDER BY h.label, h.other, h.side LIMIT $3",
                hops(e, d)
            )
        });
        let degree = DIRECTIONS.map(|d| {
            format!(
                "SELECT EXISTS (SELECT 1 FROM {n} WHERE id = $1), (SELECT count(*) FROM ({}) h)",
                hops(e, d)
            )
        });
        let expand = DIRECTIONS.map(|d| {
            let step = match d {
                Direction::Out => format!("SELECT src AS a, dst AS b, label FROM {e}"),
                Direction::In => format!("SELECT dst AS a, src AS b, label FROM {e}"),
                Direction::Both => format!(
                    "SELECT src AS a, dst AS b, label FROM {e} \
                     UNION ALL SELECT dst AS a, src AS b, label FROM {e}"
                ),
            };
            format!(
                "SELECT DISTINCT s.b FROM ({step}) s WHERE s.a = ANY($1::bytea[]) \
                 AND (cardinality($2::text[]) = 0 OR s.label = ANY($2::text[]))"
            )
        });
        Graph {
            upsert_node: format!(
                "INSERT INTO {n} (id, label, props) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET label = excluded.label, props = excluded.props"
            ),
            get_node: format!("SELECT label, props FROM {n} WHERE id = $1"),
            delete_node: format!("DELETE FROM {n} WHERE id = $1"),
            upsert_edge: format!(
                "INSERT INTO {e} (src, label, dst, props) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (src, label, dst) DO UPDATE SET props = excluded.props"
            ),
            upsert_nodes: format!(
                "INSERT INTO {n} (id, label, props) \
                 SELECT * FROM unnest($1::bytea[], $2::text[], $3::jsonb[]) \
                 ON CONFLICT (id) DO UPDATE SET label = excluded.label, props = excluded.props"
            ),
            upsert_edges: format!(
                "INSERT INTO {e} (src, label, dst, props) \
                 SELECT * FROM unnest($1::bytea[], $2::text[], $3::bytea[], $4::jsonb[]) \
                 ON CONFLICT (src, label, dst) DO UPDATE SET props = excluded.props"
            ),
            delete_edge: format!("DELETE FROM {e} WHERE src = $1 AND label = $2 AND dst = $3"),
            exists: format!("SELECT 1 FROM {n} WHERE id = $1"),
            neighbors,
            degree,
            expand,
            edges: e.to_owned(),
            pool,
        }
    }

    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, sql).await?;
        client
            .query(&statement, params)
            .await
            .map_err(|e| self.pool.error(e))
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, sql).await?;
        client
            .execute(&statement, params)
            .await
            .map_err(|e| self.pool.error(e))
    }

    /// `NotFound` unless node `id` exists.
    async fn require(&self, id: &str) -> Result<()> {
        if self
            .query(&self.exists, &[&id.as_bytes()])
            .await?
            .is_empty()
        {
            return Err(StoreError::not_found(format!("node `{id}`")));
        }
        Ok(())
    }

    /// The nodes a traversal reaches, with their depths, in (depth, id) order and at most
    /// `query.limit`: breadth-first, one statement per level over the whole frontier. Each
    /// node joins the frontier once, at its smallest depth, so the work is one read of each
    /// reachable node's matching edges, whatever `max_depth` says, and the search ends as soon
    /// as a level adds nothing.
    async fn reach(&self, query: &TraverseQuery, labels: &[&str]) -> Result<Vec<(Vec<u8>, u32)>> {
        let limit = query.limit.unwrap_or(usize::MAX);
        let start = query.start.as_bytes().to_vec();
        let client = self.pool.get().await?;
        let statement = self
            .pool
            .prepare(&client, &self.expand[index(query.edges.direction)])
            .await?;
        let mut seen: HashSet<Vec<u8>> = HashSet::from([start.clone()]);
        let mut frontier = vec![start];
        let mut reached = Vec::new();
        let mut depth = 0;
        while depth < query.max_depth && !frontier.is_empty() && reached.len() < limit {
            depth += 1;
            let rows = client
                .query(&statement, &[&frontier, &labels])
                .await
                .map_err(|e| self.pool.error(e))?;
            let mut next = Vec::with_capacity(rows.len());
            for row in rows {
                let id: Vec<u8> = row.try_get(0).map_err(|e| self.pool.error(e))?;
                if seen.insert(id.clone()) {
                    next.push(id);
                }
            }
            next.sort_unstable();
            reached.extend(next.iter().map(|id| (id.clone(), depth)));
            frontier = next;
        }
        drop(client);
        reached.truncate(limit);
        if reached.is_empty() {
            self.require(&query.start).await?;
        }
        Ok(reached)
    }
}

fn check(what: &str, text: &str) -> Result<()> {
    if text.is_empty() {
        return Err(StoreError::invalid(format!("{what} must not be empty")));
    }
    Ok(())
}

fn check_label(label: &str) -> Result<()> {
    check("a label", label)?;
    if label.contains('\0') {
        return Err(StoreError::invalid(
            "PostgreSQL cannot store the character U+0000 in a label",
        ));
    }
    Ok(())
}

fn text(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes)
        .map_err(|err| StoreError::backend_with("a stored id is not UTF-8", err))
}

fn limit(limit: Option<usize>) -> Option<i64> {
    limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

#[async_trait]
impl GraphStore for Graph {
    async fn upsert_node(&self, node: Node) -> Result<()> {
        check("a node id", &node.id)?;
        check_label(&node.label)?;
        let props = json::encode(&node.properties)?;
        self.execute(
            &self.upsert_node,
            &[&node.id.as_bytes(), &node.label, &props],
        )
        .await?;
        Ok(())
    }

    async fn get_node(&self, id: &str) -> Result<Option<Node>> {
        check("a node id", id)?;
        let rows = self.query(&self.get_node, &[&id.as_bytes()]).await?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        Ok(Some(Node {
            id: id.to_owned(),
            label: row.try_get(0).map_err(|e| self.pool.error(e))?,
            properties: json::decode(row.try_get(1).map_err(|e| self.pool.error(e))?)?,
        }))
    }

    async fn delete_node(&self, id: &str) -> Result<bool> {
        check("a node id", id)?;
        Ok(self.execute(&self.delete_node, &[&id.as_bytes()]).await? > 0)
    }

    async fn upsert_edge(&self, edge: Edge) -> Result<()> {
        check("an edge's `from` node id", &edge.from)?;
        check("an edge's `to` node id", &edge.to)?;
        check_label(&edge.label)?;
        let props = json::encode(&edge.properties)?;
        let params: [&(dyn ToSql + Sync); 4] = [
            &edge.from.as_bytes(),
            &edge.label,
            &edge.to.as_bytes(),
            &props,
        ];
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, &self.upsert_edge).await?;
        match client.execute(&statement, &params).await {
            Ok(_) => Ok(()),
            Err(err) if err.code().is_some_and(|c| c.code() == "23503") => {
                Err(StoreError::not_found(format!(
                    "an end of edge `{}` -[{}]-> `{}`: both nodes must exist",
                    edge.from, edge.label, edge.to
                )))
            }
            Err(err) => Err(self.pool.error(err)),
        }
    }

    async fn upsert_batch(&self, nodes: Vec<Node>, edges: Vec<Edge>) -> Result<()> {
        // Checked and encoded before anything is sent. One statement cannot update a row twice,
        // so a repeated item keeps its last occurrence; rows go in key order, so concurrent
        // batches lock rows in one order and cannot deadlock.
        let mut node_rows: BTreeMap<&[u8], (&str, Json)> = BTreeMap::new();
        for node in &nodes {
            check("a node id", &node.id)?;
            check_label(&node.label)?;
            let props = json::encode(&node.properties)?;
            node_rows.insert(node.id.as_bytes(), (node.label.as_str(), props));
        }
        let mut edge_rows: BTreeMap<(&[u8], &str, &[u8]), Json> = BTreeMap::new();
        for edge in &edges {
            check("an edge's `from` node id", &edge.from)?;
            check("an edge's `to` node id", &edge.to)?;
            check_label(&edge.label)?;
            let props = json::encode(&edge.properties)?;
            edge_rows.insert(
                (
                    edge.from.as_bytes(),
                    edge.label.as_str(),
                    edge.to.as_bytes(),
                ),
                props,
            );
        }
        if node_rows.is_empty() && edge_rows.is_empty() {
            return Ok(());
        }
        let pool = &self.pool;
        let mut client = pool.get().await?;
        let tx = client.transaction().await.map_err(|e| pool.error(e))?;
        let node_rows: Vec<_> = node_rows.into_iter().collect();
        if !node_rows.is_empty() {
            let statement = tx
                .prepare_cached(&self.upsert_nodes)
                .await
                .map_err(|e| pool.error(e))?;
            for chunk in node_rows.chunks(BATCH_ROWS) {
                let ids: Vec<&[u8]> = chunk.iter().map(|(id, _)| *id).collect();
                let labels: Vec<&str> = chunk.iter().map(|(_, (label, _))| *label).collect();
                let props: Vec<&Json> = chunk.iter().map(|(_, (_, props))| props).collect();
                tx.execute(&statement, &[&ids, &labels, &props])
                    .await
                    .map_err(|e| pool.error(e))?;
            }
        }
        let edge_rows: Vec<_> = edge_rows.into_iter().collect();
        if !edge_rows.is_empty() {
            let statement = tx
                .prepare_cached(&self.upsert_edges)
                .await
                .map_err(|e| pool.error(e))?;
            for chunk in edge_rows.chunks(BATCH_ROWS) {
                let srcs: Vec<&[u8]> = chunk.iter().map(|((src, _, _), _)| *src).collect();
                let labels: Vec<&str> = chunk.iter().map(|((_, label, _), _)| *label).collect();
                let dsts: Vec<&[u8]> = chunk.iter().map(|((_, _, dst), _)| *dst).collect();
                let props: Vec<&Json> = chunk.iter().map(|(_, props)| props).collect();
                match tx
                    .execute(&statement, &[&srcs, &labels, &dsts, &props])
                    .await
                {
                    Ok(_) => {}
                    Err(err) if err.code().is_some_and(|c| c.code() == "23503") => {
                        let detail = err
                            .as_db_error()
                            .and_then(|db| db.detail())
                            .unwrap_or("an end of an edge is missing")
                            .to_owned();
                        return Err(StoreError::not_found(format!(
                            "an edge of the batch has an end that is neither stored nor in the \
                             batch ({detail}); nothing was written"
                        )));
                    }
                    Err(err) => return Err(pool.error(err)),
                }
            }
        }
        tx.commit().await.map_err(|e| pool.error(e))
    }

    async fn delete_edge(&self, from: &str, label: &str, to: &str) -> Result<bool> {
        check("an edge's `from` node id", from)?;
        check("an edge's `to` node id", to)?;
        check("a label", label)?;
        let changed = self
            .execute(
                &self.delete_edge,
                &[&from.as_bytes(), &label, &to.as_bytes()],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn neighbors(
        &self,
        id: &str,
        edges: &EdgeFilter,
        limit_to: Option<usize>,
    ) -> Result<Vec<Neighbor>> {
        check("a node id", id)?;
        let labels = filter_labels(edges)?;
        let sql = &self.neighbors[index(edges.direction)];
        let rows = self
            .query(sql, &[&id.as_bytes(), &labels, &limit(limit_to)])
            .await?;
        if rows.is_empty() {
            self.require(id).await?;
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let get = |e| self.pool.error(e);
            let label: String = row.try_get(0).map_err(get)?;
            let other = text(row.try_get(1).map_err(get)?)?;
            let props: Json = row.try_get(2).map_err(get)?;
            let side: i32 = row.try_get(3).map_err(get)?;
            let (from, to) = if side == 0 {
                (id.to_owned(), other.clone())
            } else {
                (other.clone(), id.to_owned())
            };
            out.push(Neighbor {
                node: Node {
                    id: other,
                    label: row.try_get(4).map_err(get)?,
                    properties: json::decode(row.try_get(5).map_err(get)?)?,
                },
                edge: Edge {
                    from,
                    to,
                    label,
                    properties: json::decode(props)?,
                },
            });
        }
        Ok(out)
    }

    async fn traverse(&self, query: &TraverseQuery) -> Result<Vec<Visit>> {
        check("a traversal's start node id", &query.start)?;
        let labels = filter_labels(&query.edges)?;
        self.reach(query, &labels)
            .await?
            .into_iter()
            .map(|(id, depth)| {
                Ok(Visit {
                    id: text(id)?,
                    depth,
                })
            })
            .collect()
    }

    async fn count_reachable(&self, query: &TraverseQuery) -> Result<u64> {
        check("a traversal's start node id", &query.start)?;
        let labels = filter_labels(&query.edges)?;
        Ok(self.reach(query, &labels).await?.len() as u64)
    }

    async fn shortest_path(&self, query: &PathQuery) -> Result<Option<Path>> {
        check("a path's `from` node id", &query.from)?;
        check("a path's `to` node id", &query.to)?;
        let labels = filter_labels(&query.edges)?;
        self.require(&query.from).await?;
        self.require(&query.to).await?;
        if query.from == query.to {
            return Ok(Some(Path {
                nodes: vec![query.from.clone()],
                cost: 0.0,
            }));
        }
        match &query.weight {
            None => self.fewest_hops(query, &labels).await,
            Some(property) => self.lightest(query, &labels, property).await,
        }
    }

    async fn degree(&self, id: &str, edges: &EdgeFilter) -> Result<u64> {
        check("a node id", id)?;
        let labels = filter_labels(edges)?;
        let sql = &self.degree[index(edges.direction)];
        let rows = self.query(sql, &[&id.as_bytes(), &labels]).await?;
        let row = rows
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::backend("a count returned no row"))?;
        let exists: bool = row.try_get(0).map_err(|e| self.pool.error(e))?;
        if !exists {
            return Err(StoreError::not_found(format!("node `{id}`")));
        }
        let count: i64 = row.try_get(1).map_err(|e| self.pool.error(e))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
