//! Graph routes: upsert/get/delete nodes, upsert/delete edges, batch upserts, neighbours,
//! degree, k-hop traversal and shortest paths (by hops, or weighted by an edge property).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use polyroute::graph::{Direction, Edge, EdgeFilter, Node, PathQuery, TraverseQuery};
use polyroute::Value;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};

use super::{spec, BodyKind, Endpoint, PathArgs, Shared};
use crate::body::{JsonBody, QueryArgs};
use crate::errors::ApiError;
use crate::openapi::{deleted_flag, object, written_flag};
use crate::values::{to_json, to_value};

const FILTER_QUERY: &[(&str, &str)] = &[
    ("direction", "out (default), in or both"),
    (
        "labels",
        "comma-separated edge labels to follow (default: every label)",
    ),
    (
        "limit",
        "at most this many neighbours (default and most: the sidecar's `max_results`)",
    ),
    (
        "skip",
        "leave out this many neighbours first (the `skip` of an answer's `next`)",
    ),
];

/// The graph routes.
pub fn routes() -> Vec<Endpoint> {
    vec![
        Endpoint::new(
            spec!(Put "/v1/graph/{entity}/nodes/{id}", "graph.upsert_node", Graph, Write,
                BodyKind::json::<NodeBody>(r#"{"label": "product", "properties": {"name": "Lamp", "price": 25.0}}"#), &[],
                "Create or replace a node")
                .answers(written_flag),
            upsert_node,
        ),
        Endpoint::new(
            spec!(Get "/v1/graph/{entity}/nodes/{id}", "graph.get_node", Graph, Read,
                BodyKind::None, &[], "Read a node (404 when absent)")
                .answers(|_| schemars::json_schema!({"type": "object", "required": ["id", "label", "properties"], "properties": {"id": {"type": "string"}, "label": {"type": "string"}, "properties": {"type": "object", "additionalProperties": crate::openapi::any_value()}}})),
            get_node,
        ),
        Endpoint::new(
            spec!(Delete "/v1/graph/{entity}/nodes/{id}", "graph.delete_node", Graph, Write,
                BodyKind::None, &[], "Delete a node and its edges (404 when absent)")
                .answers(deleted_flag),
            delete_node,
        ),
        Endpoint::new(
            spec!(Post "/v1/graph/{entity}/edges", "graph.upsert_edge", Graph, Write,
                BodyKind::json::<EdgeBody>(r#"{"from": "p1", "label": "bought_with", "to": "p2", "properties": {"weight": 3}}"#), &[],
                "Create or replace an edge between two existing nodes")
                .answers(written_flag),
            upsert_edge,
        ),
        Endpoint::new(
            spec!(Delete "/v1/graph/{entity}/edges/{from}/{label}/{to}", "graph.delete_edge", Graph, Write,
                BodyKind::None, &[], "Delete an edge (404 when absent)")
                .answers(deleted_flag),
            delete_edge,
        ),
        Endpoint::new(
            spec!(Post "/v1/graph/{entity}/batch", "graph.upsert_batch", Graph, Write,
                BodyKind::json::<BatchBody>(r#"{"nodes": [{"id": "p1", "label": "product"}, {"id": "p2", "label": "product"}], "edges": [{"from": "p1", "label": "bought_with", "to": "p2"}]}"#), &[],
                "Upsert nodes then edges in one batch, checked first")
                .answers(|_| object(&[("nodes", json!({"type": "integer", "minimum": 0})), ("edges", json!({"type": "integer", "minimum": 0}))])),
            upsert_batch,
        ),
        Endpoint::new(
            spec!(Get "/v1/graph/{entity}/nodes/{id}/neighbors", "graph.neighbors", Graph, Read,
                BodyKind::None, FILTER_QUERY, "The nodes one edge away, with the edges, ordered by (edge label, neighbour id, out before in): at most `limit`, and a `next` to read on from")
                .query_schema(super::schema_of::<FilterQuery>)
                .answers(|_| object(&[
                    ("neighbors", json!({"type": "array", "items": {"type": "object", "required": ["node", "edge"], "properties": {"node": {"type": "object", "required": ["id", "label", "properties"], "properties": {"id": {"type": "string"}, "label": {"type": "string"}, "properties": {"type": "object", "additionalProperties": crate::openapi::any_value()}}}, "edge": {"type": "object", "required": ["from", "label", "to", "properties"], "properties": {"from": {"type": "string"}, "label": {"type": "string"}, "to": {"type": "string"}, "properties": {"type": "object", "additionalProperties": crate::openapi::any_value()}}}}}})),
                    ("next", skip_next("repeat the request with `skip` set to this in its query string")),
                ])),
            neighbors,
        ),
        Endpoint::new(
            spec!(Get "/v1/graph/{entity}/nodes/{id}/degree", "graph.degree", Graph, Read,
                BodyKind::None, FILTER_QUERY, "How many edges a node has in the given direction")
                .query_schema(super::schema_of::<FilterQuery>)
                .answers(|_| object(&[("degree", json!({"type": "integer", "minimum": 0}))])),
            degree,
        ),
        Endpoint::new(
            spec!(Post "/v1/graph/{entity}/traverse", "graph.traverse", Graph, Read,
                BodyKind::json::<TraverseBody>(r#"{"start": "p1", "direction": "out", "labels": ["bought_with"], "max_depth": 2, "limit": 100}"#), &[],
                "Nodes reachable within max_depth hops, by depth then id: at most `limit` (default and most: the sidecar's `max_results`), after the first `skip`, and a `next` to read on from")
                .answers(|_| object(&[
                    ("visits", json!({"type": "array", "items": {"type": "object", "required": ["id", "depth"], "properties": {"id": {"type": "string"}, "depth": {"type": "integer", "minimum": 0}}}})),
                    ("next", skip_next("send the same request with this `skip`")),
                ])),
            traverse,
        ),
        Endpoint::new(
            spec!(Post "/v1/graph/{entity}/shortest_path", "graph.shortest_path", Graph, Read,
                BodyKind::json::<PathBody>(r#"{"from": "p1", "to": "p2", "direction": "both", "max_depth": 6, "weight": null}"#), &[],
                "The shortest path (by hops, or by the sum of numeric edge property `weight`); path null when none")
                .answers(|_| object(&[("path", json!({"type": "object", "nullable": true, "required": ["nodes", "cost"], "properties": {"nodes": {"type": "array", "items": {"type": "string"}}, "cost": {"type": "number"}}}))])),
            shortest_path,
        ),
    ]
}

/// The `next` of a listing continued by `skip`.
fn skip_next(continue_with: &str) -> JsonValue {
    super::page::next_schema(
        &[("skip", json!({"type": "integer", "minimum": 0}))],
        continue_with,
    )
}

/// A node's label and properties.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "GraphNode")]
struct NodeBody {
    /// Its label.
    label: String,
    /// Its properties (values).
    #[serde(default)]
    #[schemars(schema_with = "crate::openapi::values")]
    properties: serde_json::Map<String, JsonValue>,
}

/// A node of a batch.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "GraphBatchNode")]
struct BatchNode {
    /// Its id.
    id: String,
    /// Its label.
    label: String,
    /// Its properties (values).
    #[serde(default)]
    #[schemars(schema_with = "crate::openapi::values")]
    properties: serde_json::Map<String, JsonValue>,
}

/// An edge between two existing nodes.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "GraphEdge")]
struct EdgeBody {
    /// The id of the node it leaves.
    from: String,
    /// Its label.
    label: String,
    /// The id of the node it reaches.
    to: String,
    /// Its properties (values).
    #[serde(default)]
    #[schemars(schema_with = "crate::openapi::values")]
    properties: serde_json::Map<String, JsonValue>,
}

/// Nodes then edges, upserted as one batch.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "GraphBatch")]
struct BatchBody {
    /// The nodes.
    #[serde(default)]
    nodes: Vec<BatchNode>,
    /// The edges (their nodes exist, or are in `nodes`).
    #[serde(default)]
    edges: Vec<EdgeBody>,
}

/// Which edges to follow: leaving (`out`), reaching (`in`) or both.
#[derive(Deserialize, JsonSchema, Clone, Copy, Default)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "GraphDirection")]
enum DirectionBody {
    #[default]
    Out,
    In,
    Both,
}

impl From<DirectionBody> for Direction {
    fn from(direction: DirectionBody) -> Self {
        match direction {
            DirectionBody::Out => Direction::Out,
            DirectionBody::In => Direction::In,
            DirectionBody::Both => Direction::Both,
        }
    }
}

/// Which edges to count or follow (a query string).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "GraphEdgeFilter")]
struct FilterQuery {
    #[serde(default)]
    direction: DirectionBody,
    #[serde(default)]
    labels: Option<String>,
    #[serde(default)]
    #[schemars(range(min = 1))]
    limit: Option<usize>,
    #[serde(default)]
    skip: usize,
}

/// A breadth-first traversal.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "GraphTraverse")]
struct TraverseBody {
    /// The id of the node to start from.
    start: String,
    /// Which edges to follow (default `out`).
    #[serde(default)]
    direction: DirectionBody,
    /// Only edges with these labels (default: every label).
    #[serde(default)]
    labels: Vec<String>,
    /// At most this many hops.
    max_depth: u32,
    /// At most this many nodes (default and most: the sidecar's `max_results`).
    #[serde(default)]
    #[schemars(range(min = 1))]
    limit: Option<usize>,
    /// Leave out this many nodes first, in (depth, id) order (the `skip` of an answer's
    /// `next` reads the next page).
    #[serde(default)]
    skip: usize,
}

/// A shortest-path search.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "GraphShortestPath")]
struct PathBody {
    /// The id of the node to start from.
    from: String,
    /// The id of the node to reach.
    to: String,
    /// Which edges to follow (default `out`).
    #[serde(default)]
    direction: DirectionBody,
    /// Only edges with these labels (default: every label).
    #[serde(default)]
    labels: Vec<String>,
    /// At most this many hops.
    max_depth: u32,
    /// The numeric edge property to sum (default: count hops).
    #[serde(default)]
    weight: Option<String>,
}

fn properties(
    map: serde_json::Map<String, JsonValue>,
    field: &str,
) -> Result<BTreeMap<String, Value>, ApiError> {
    map.into_iter()
        .map(|(name, json)| {
            let value = to_value(json, &format!("{field}.{name}"))?;
            Ok((name, value))
        })
        .collect()
}

fn properties_json(properties: &BTreeMap<String, Value>) -> JsonValue {
    JsonValue::Object(
        properties
            .iter()
            .map(|(name, value)| (name.clone(), to_json(value)))
            .collect(),
    )
}

fn node_json(node: &Node) -> JsonValue {
    json!({ "id": node.id, "label": node.label, "properties": properties_json(&node.properties) })
}

fn edge_json(edge: &Edge) -> JsonValue {
    json!({ "from": edge.from, "label": edge.label, "to": edge.to, "properties": properties_json(&edge.properties) })
}

fn edge(body: EdgeBody, field: &str) -> Result<Edge, ApiError> {
    Ok(Edge {
        from: body.from,
        to: body.to,
        label: body.label,
        properties: properties(body.properties, &format!("{field}properties"))?,
    })
}

fn filter(direction: DirectionBody, labels: Vec<String>) -> EdgeFilter {
    EdgeFilter {
        direction: direction.into(),
        labels,
    }
}

fn query_filter(query: &FilterQuery) -> EdgeFilter {
    let labels = query
        .labels
        .as_deref()
        .map(|labels| {
            labels
                .split(',')
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    filter(query.direction, labels)
}

async fn upsert_node(
    State(app): State<Shared>,
    PathArgs((entity, id)): PathArgs<(String, String)>,
    JsonBody(body): JsonBody<NodeBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let graph = app.router.graph(&entity)?;
    let node = Node {
        id,
        label: body.label,
        properties: properties(body.properties, "properties")?,
    };
    graph.upsert_node(node).await?;
    Ok(Json(json!({ "written": true })))
}

async fn get_node(
    State(app): State<Shared>,
    PathArgs((entity, id)): PathArgs<(String, String)>,
) -> Result<Json<JsonValue>, ApiError> {
    let graph = app.router.graph(&entity)?;
    match graph.get_node(&id).await? {
        Some(node) => Ok(Json(node_json(&node))),
        None => {
            Err(ApiError::not_found(format!("node `{id}` is not in `{entity}`")).with_field("id"))
        }
    }
}

async fn delete_node(
    State(app): State<Shared>,
    PathArgs((entity, id)): PathArgs<(String, String)>,
) -> Result<Json<JsonValue>, ApiError> {
    let graph = app.router.graph(&entity)?;
    if graph.delete_node(&id).await? {
        Ok(Json(json!({ "deleted": true })))
    } else {
        Err(ApiError::not_found(format!("node `{id}` is not in `{entity}`")).with_field("id"))
    }
}

async fn upsert_edge(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<EdgeBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let graph = app.router.graph(&entity)?;
    graph.upsert_edge(edge(body, "")?).await?;
    Ok(Json(json!({ "written": true })))
}

async fn delete_edge(
    State(app): State<Shared>,
    PathArgs((entity, from, label, to)): PathArgs<(String, String, String, String)>,
) -> Result<Json<JsonValue>, ApiError> {
    let graph = app.router.graph(&entity)?;
    if graph.delete_edge(&from, &label, &to).await? {
        Ok(Json(json!({ "deleted": true })))
    } else {
        Err(ApiError::not_found(format!(
            "edge `{from}` -[{label}]-> `{to}` is not in `{entity}`"
        )))
    }
}

async fn upsert_batch(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<BatchBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let graph = app.router.graph(&entity)?;
    let mut nodes = Vec::with_capacity(body.nodes.len());
    for (index, node) in body.nodes.into_iter().enumerate() {
        nodes.push(Node {
            id: node.id,
            label: node.label,
            properties: properties(node.properties, &format!("nodes[{index}].properties"))?,
        });
    }
    let mut edges = Vec::with_capacity(body.edges.len());
    for (index, body) in body.edges.into_iter().enumerate() {
        edges.push(edge(body, &format!("edges[{index}]."))?);
    }
    let (n, e) = (nodes.len(), edges.len());
    graph.upsert_batch(nodes, edges).await?;
    Ok(Json(json!({ "nodes": n, "edges": e })))
}

async fn neighbors(
    State(app): State<Shared>,
    PathArgs((entity, id)): PathArgs<(String, String)>,
    QueryArgs(query): QueryArgs<FilterQuery>,
) -> Result<Json<JsonValue>, ApiError> {
    let graph = app.router.graph(&entity)?;
    let limit = super::page::limit(query.limit, app.config.max_results)?;
    let mut found = graph
        .neighbors_page(
            &id,
            &query_filter(&query),
            query.skip,
            Some(super::page::probe(limit)),
        )
        .await?;
    let next = (found.len() > limit).then(|| {
        found.truncate(limit);
        json!({ "skip": query.skip.saturating_add(limit) })
    });
    let items: Vec<JsonValue> = found
        .iter()
        .map(|n| json!({ "node": node_json(&n.node), "edge": edge_json(&n.edge) }))
        .collect();
    Ok(Json(json!({ "neighbors": items, "next": next })))
}

async fn degree(
    State(app): State<Shared>,
    PathArgs((entity, id)): PathArgs<(String, String)>,
    QueryArgs(query): QueryArgs<FilterQuery>,
) -> Result<Json<JsonValue>, ApiError> {
    let graph = app.router.graph(&entity)?;
    let degree = graph.degree(&id, &query_filter(&query)).await?;
    Ok(Json(json!({ "degree": degree })))
}

async fn traverse(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<TraverseBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let graph = app.router.graph(&entity)?;
    let limit = super::page::limit(body.limit, app.config.max_results)?;
    let query = TraverseQuery {
        start: body.start,
        edges: filter(body.direction, body.labels),
        max_depth: body.max_depth,
        limit: Some(super::page::probe(limit)),
        skip: body.skip,
    };
    let mut found = graph.traverse(&query).await?;
    let next = (found.len() > limit).then(|| {
        found.truncate(limit);
        json!({ "skip": query.next_page(limit).skip })
    });
    let visits: Vec<JsonValue> = found
        .iter()
        .map(|v| json!({ "id": v.id, "depth": v.depth }))
        .collect();
    Ok(Json(json!({ "visits": visits, "next": next })))
}

async fn shortest_path(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<PathBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let graph = app.router.graph(&entity)?;
    let query = PathQuery {
        from: body.from,
        to: body.to,
        edges: filter(body.direction, body.labels),
        max_depth: body.max_depth,
        weight: body.weight,
    };
    let path = graph.shortest_path(&query).await?;
    Ok(Json(json!({
        "path": path.map(|p| json!({ "nodes": p.nodes, "cost": p.cost }))
    })))
}
