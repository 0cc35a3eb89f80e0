//! Search routes: index documents, delete one, query (text, filters, top-k with scores and
//! snippets), and refresh (make every acknowledged write searchable now).

use axum::extract::State;
use axum::Json;
use polyroute::search::{SearchDocument, SearchFilter, SearchQuery};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};

use super::{spec, BodyKind, Endpoint, PathArgs, Shared};
use crate::body::JsonBody;
use crate::errors::ApiError;
use crate::openapi::{deleted_flag, object};
use crate::values::{to_json, to_value, to_values};

/// The search routes.
pub fn routes() -> Vec<Endpoint> {
    vec![
        Endpoint::new(
            spec!(Post "/v1/search/{entity}/docs", "search.index", Search, Write,
                BodyKind::json::<IndexBody>(r#"{"documents": [{"id": "p1", "fields": {"name": "Desk lamp", "category": "home", "price": 25.0}}]}"#), &[],
                "Index (add or replace) documents; searchable after the store's commit interval or a refresh")
                .answers(|_| object(&[("indexed", json!({"type": "integer", "minimum": 0}))])),
            index,
        ),
        Endpoint::new(
            spec!(Delete "/v1/search/{entity}/docs/{id}", "search.delete", Search, Write,
                BodyKind::None, &[], "Remove a document from the index (404 when absent)")
                .answers(deleted_flag),
            delete,
        ),
        Endpoint::new(
            spec!(Post "/v1/search/{entity}/query", "search.query", Search, Read,
                BodyKind::json::<QueryBody>(r#"{"text": "lamp", "filters": [{"field": "category", "in": ["home"]}, {"field": "price", "min": 10, "max": 50}], "limit": 10, "offset": 0, "snippets": true}"#), &[],
                "Relevance-ranked hits with scores (and snippets), and the total count")
                .answers(|_| object(&[
                    ("total", json!({"type": "integer", "minimum": 0})),
                    ("hits", json!({"type": "array", "items": {"type": "object", "required": ["id", "score", "fields", "snippets"], "properties": {
                        "id": {"type": "string"},
                        "score": {"type": "number"},
                        "fields": {"type": "object", "additionalProperties": crate::openapi::any_value()},
                        "snippets": {"type": "object", "additionalProperties": {"type": "string"}},
                    }}})),
                ])),
            query,
        ),
        Endpoint::new(
            spec!(Post "/v1/search/{entity}/refresh", "search.refresh", Search, Write,
                BodyKind::None, &[], "Make every acknowledged write searchable now")
                .answers(|_| object(&[("refreshed", json!({"type": "boolean"}))])),
            refresh,
        ),
    ]
}

/// A document to index.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SearchDocument")]
struct DocumentBody {
    /// Its id (replaces a document with this id).
    id: String,
    /// Its fields (values), as declared in the entity's `fields`.
    #[schemars(schema_with = "crate::openapi::values")]
    fields: serde_json::Map<String, JsonValue>,
}

/// Documents to index.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SearchIndex")]
struct IndexBody {
    /// The documents.
    documents: Vec<DocumentBody>,
}

/// A filter: `in` (a list of values), or `min` and/or `max` (a numeric range).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    rename = "SearchFilter",
    extend("oneOf" = [
        { "required": ["in"], "not": { "anyOf": [{ "required": ["min"] }, { "required": ["max"] }] } },
        { "anyOf": [{ "required": ["min"] }, { "required": ["max"] }], "not": { "required": ["in"] } },
    ])
)]
struct FilterBody {
    /// The field.
    field: String,
    /// Match documents whose field has one of these values.
    #[serde(rename = "in", default)]
    #[schemars(schema_with = "crate::openapi::value_list")]
    one_of: Option<Vec<JsonValue>>,
    /// Match documents whose field is at least this.
    #[serde(default)]
    #[schemars(with = "f64")]
    min: Option<f64>,
    /// Match documents whose field is at most this.
    #[serde(default)]
    #[schemars(with = "f64")]
    max: Option<f64>,
}

fn ten() -> usize {
    10
}

/// A search.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SearchQuery")]
struct QueryBody {
    /// Words to match (default: every document, unranked).
    #[serde(default)]
    text: String,
    /// Every filter must match.
    #[serde(default)]
    filters: Vec<FilterBody>,
    /// At most this many hits (default 10).
    #[serde(default = "ten")]
    limit: usize,
    /// Skip this many hits.
    #[serde(default)]
    offset: usize,
    /// Whether hits carry highlighted snippets.
    #[serde(default)]
    snippets: bool,
}

async fn index(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<IndexBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let search = app.router.search(&entity)?;
    let mut documents = Vec::with_capacity(body.documents.len());
    for (index, doc) in body.documents.into_iter().enumerate() {
        let mut fields = std::collections::BTreeMap::new();
        for (name, json) in doc.fields {
            let value = to_value(json, &format!("documents[{index}].fields.{name}"))?;
            fields.insert(name, value);
        }
        documents.push(SearchDocument { id: doc.id, fields });
    }
    let count = documents.len();
    search.index(documents).await?;
    Ok(Json(json!({ "indexed": count })))
}

async fn delete(
    State(app): State<Shared>,
    PathArgs((entity, id)): PathArgs<(String, String)>,
) -> Result<Json<JsonValue>, ApiError> {
    let search = app.router.search(&entity)?;
    if search.delete(&id).await? {
        Ok(Json(json!({ "deleted": true })))
    } else {
        Err(ApiError::not_found(format!("document `{id}` is not in `{entity}`")).with_field("id"))
    }
}

async fn query(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<QueryBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let search = app.router.search(&entity)?;
    let mut filters = Vec::with_capacity(body.filters.len());
    for (index, filter) in body.filters.into_iter().enumerate() {
        let here = format!("filters[{index}]");
        filters.push(match (filter.one_of, filter.min, filter.max) {
            (Some(values), None, None) => SearchFilter::In {
                field: filter.field,
                values: to_values(values, &format!("{here}.in"))?,
            },
            (None, min, max) if min.is_some() || max.is_some() => SearchFilter::Range {
                field: filter.field,
                min,
                max,
            },
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_filter",
                    "a filter has either `in` (a list of values) or `min`/`max` (a numeric range)",
                )
                .with_field(here))
            }
        });
    }
    let query = SearchQuery {
        text: body.text,
        filters,
        limit: body.limit,
        offset: body.offset,
        snippets: body.snippets,
    };
    let results = search.query(&query).await?;
    let hits: Vec<JsonValue> = results
        .hits
        .iter()
        .map(|hit| {
            let fields: serde_json::Map<String, JsonValue> = hit
                .fields
                .iter()
                .map(|(name, value)| (name.clone(), to_json(value)))
                .collect();
            json!({ "id": hit.id, "score": hit.score, "fields": fields, "snippets": hit.snippets })
        })
        .collect();
    Ok(Json(json!({ "total": results.total, "hits": hits })))
}

async fn refresh(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
) -> Result<Json<JsonValue>, ApiError> {
    let search = app.router.search(&entity)?;
    search.refresh().await?;
    Ok(Json(json!({ "refreshed": true })))
}
