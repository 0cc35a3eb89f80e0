//! Document routes: put (create or replace), insert (409 when present), get, delete, find
//! (filter, sort, skip, limit), count, and create index.
//!
//! Filters are JSON in MongoDB's style: `{"status": "paid", "total": {"$gte": 10},
//! "$or": [{"a": 1}, {"b": {"$exists": true}}]}` — a plain value is equality; the operators are
//! `$eq $ne $lt $lte $gt $gte $in $exists`; keys are dotted field paths.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use polyroute::document::{FieldPath, Filter, FindQuery, Order, SortKey};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};

use super::{spec, BodyKind, Endpoint, PathArgs, Shared};
use crate::body::JsonBody;
use crate::errors::ApiError;
use crate::openapi::{deleted_flag, object, written_flag};

/// The document routes.
pub fn routes() -> Vec<Endpoint> {
    vec![
        Endpoint::new(
            spec!(Put "/v1/document/{entity}/docs/{id}", "document.put", Document, Write,
                BodyKind::json::<DocumentObject>(r#"{"name": "Lamp", "category": "home", "price": 25.0, "tags": ["light"]}"#), &[],
                "Create or replace a document (the body is the document)")
                .answers(written_flag),
            put,
        ),
        Endpoint::new(
            spec!(Post "/v1/document/{entity}/docs", "document.insert", Document, Write,
                BodyKind::json::<InsertBody>(r#"{"id": "p1", "document": {"name": "Lamp", "price": 25.0}}"#), &[],
                "Insert a new document: 201, or 409 when the id exists")
                .answers(|_| object(&[("id", json!({"type": "string"}))])),
            insert,
        ),
        Endpoint::new(
            spec!(Get "/v1/document/{entity}/docs/{id}", "document.get", Document, Read,
                BodyKind::None, &[], "Read a document (404 when absent)")
                .answers(|_| schemars::json_schema!({"type": "object", "required": ["id", "document"], "properties": {"id": {"type": "string"}, "document": {"type": "object", "additionalProperties": {}}}})),
            get,
        ),
        Endpoint::new(
            spec!(Delete "/v1/document/{entity}/docs/{id}", "document.delete", Document, Write,
                BodyKind::None, &[], "Delete a document (404 when absent)")
                .answers(deleted_flag),
            delete,
        ),
        Endpoint::new(
            spec!(Post "/v1/document/{entity}/find", "document.find", Document, Read,
                BodyKind::json::<FindBody>(r#"{"filter": {"category": "home", "price": {"$lt": 50}}, "sort": [{"field": "price", "order": "desc"}], "skip": 0, "limit": 20}"#), &[],
                "Documents matching a filter, sorted (then by id) and paged: at most `limit` (default and most: the sidecar's `max_results`), and a `next` to read on from")
                .answers(|_| object(&[
                    ("documents", json!({"type": "array", "items": {"type": "object", "required": ["id", "document"], "properties": {"id": {"type": "string"}, "document": {"type": "object", "additionalProperties": {}}}}})),
                    ("next", super::page::next_schema(&[("skip", json!({"type": "integer", "minimum": 0}))], "send the same request with this `skip`")),
                ])),
            find,
        ),
        Endpoint::new(
            spec!(Post "/v1/document/{entity}/count", "document.count", Document, Read,
                BodyKind::json::<CountBody>(r#"{"filter": {"category": "home"}}"#), &[],
                "How many documents match a filter")
                .answers(|_| object(&[("count", json!({"type": "integer", "minimum": 0}))])),
            count,
        ),
        Endpoint::new(
            spec!(Post "/v1/document/{entity}/indexes", "document.create_index", Document, Write,
                BodyKind::json::<IndexBody>(r#"{"field": "customer.id"}"#), &[],
                "Create a secondary index on a field path (idempotent)")
                .answers(|_| object(&[("created", json!({"type": "boolean"}))])),
            create_index,
        ),
    ]
}

/// A document: any JSON object (what `document.put` reads its body as).
type DocumentObject = serde_json::Map<String, JsonValue>;

/// The pattern of a field path ([`FieldPath::parse`]): dot-separated names of letters, digits
/// and `_`.
const FIELD_PATH_PATTERN: &str = "^[A-Za-z0-9_]+(\\.[A-Za-z0-9_]+)*$";

/// A field path such as `customer.address.city`.
fn field_path(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "pattern": FIELD_PATH_PATTERN})
}

/// A filter in MongoDB's style: field paths to a value (equality) or an object of operators
/// (`$eq $ne $lt $lte $gt $gte $in $exists`), and `$and`/`$or` lists of filters.
fn filter_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "description": "keys are field paths (dot-separated names of letters, digits and _) mapped to a value (equality) or to an object of operators ($eq $ne $lt $lte $gt $gte $in $exists); $and and $or take lists of filters",
        "properties": {
            "$and": {"type": "array", "items": {"type": "object", "additionalProperties": {}}},
            "$or": {"type": "array", "items": {"type": "object", "additionalProperties": {}}},
        },
        "additionalProperties": {},
    })
}

/// A new document and its id.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DocumentInsert")]
struct InsertBody {
    /// Its id (409 when taken).
    id: String,
    /// The document.
    document: serde_json::Map<String, JsonValue>,
}

/// A sort order.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "DocumentOrder")]
enum OrderBody {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// One sort key.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DocumentSortKey")]
struct SortBody {
    /// The field path to sort by.
    #[schemars(schema_with = "field_path")]
    field: String,
    /// `asc` (default) or `desc`.
    #[serde(default)]
    order: Option<OrderBody>,
}

/// A query: filter, sort, page.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DocumentFind")]
struct FindBody {
    /// Which documents (default: all).
    #[serde(default)]
    #[schemars(schema_with = "filter_schema")]
    filter: serde_json::Map<String, JsonValue>,
    /// Sort keys, most significant first.
    #[serde(default)]
    sort: Vec<SortBody>,
    /// Skip this many matches (the `skip` of an answer's `next` reads the next page).
    #[serde(default)]
    skip: usize,
    /// At most this many documents (default and most: the sidecar's `max_results`).
    #[serde(default)]
    #[schemars(range(min = 1))]
    limit: Option<usize>,
}

/// Which documents to count.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DocumentCount")]
struct CountBody {
    /// Which documents (default: all).
    #[serde(default)]
    #[schemars(schema_with = "filter_schema")]
    filter: serde_json::Map<String, JsonValue>,
}

/// A field to index.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DocumentIndex")]
struct IndexBody {
    /// Its path.
    #[schemars(schema_with = "field_path")]
    field: String,
}

fn path(text: &str, field: &str) -> Result<FieldPath, ApiError> {
    FieldPath::parse(text).map_err(|error| ApiError::from(error).with_field(field))
}

/// A MongoDB-style filter object as a [`Filter`]; `field` is its place in the body.
pub fn parse_filter(
    map: serde_json::Map<String, JsonValue>,
    field: &str,
) -> Result<Filter, ApiError> {
    let mut all = Filter::All;
    for (key, value) in map {
        let here = format!("{field}.{key}");
        let next = match key.as_str() {
            "$and" | "$or" => {
                let JsonValue::Array(items) = value else {
                    return Err(ApiError::bad_request("invalid_filter", format!("`{key}` takes a list of filters")).with_field(here));
                };
                let mut filters = Vec::with_capacity(items.len());
                for (index, item) in items.into_iter().enumerate() {
                    let JsonValue::Object(item) = item else {
                        return Err(ApiError::bad_request("invalid_filter", "expected a filter object").with_field(format!("{here}[{index}]")));
                    };
                    filters.push(parse_filter(item, &format!("{here}[{index}]"))?);
                }
                if key == "$and" {
                    Filter::And(filters)
                } else {
                    Filter::Or(filters)
                }
            }
            other if other.starts_with('$') => {
                return Err(ApiError::bad_request(
                    "invalid_filter",
                    format!("unknown operator `{other}` at the top of a filter; use `$and`, `$or`, or a field path"),
                )
                .with_field(here))
            }
            _ => {
                let fp = path(&key, &here)?;
                match value {
                    JsonValue::Object(ops) if ops.keys().any(|k| k.starts_with('$')) => {
                        let mut each = Vec::with_capacity(ops.len());
                        for (op, operand) in ops {
                            let at = format!("{here}.{op}");
                            each.push(operator(&fp, &op, operand, &at)?);
                        }
                        if each.len() == 1 {
                            each.remove(0)
                        } else {
                            Filter::And(each)
                        }
                    }
                    other => Filter::Eq(fp, other),
                }
            }
        };
        all = all.and(next);
    }
    Ok(all)
}

fn operator(fp: &FieldPath, op: &str, operand: JsonValue, field: &str) -> Result<Filter, ApiError> {
    let fp = fp.clone();
    Ok(match op {
        "$eq" => Filter::Eq(fp, operand),
        "$ne" => Filter::Ne(fp, operand),
        "$lt" => Filter::Lt(fp, operand),
        "$lte" => Filter::Lte(fp, operand),
        "$gt" => Filter::Gt(fp, operand),
        "$gte" => Filter::Gte(fp, operand),
        "$in" => match operand {
            JsonValue::Array(values) => Filter::In(fp, values),
            _ => {
                return Err(
                    ApiError::bad_request("invalid_filter", "`$in` takes a list of values")
                        .with_field(field),
                )
            }
        },
        "$exists" => match operand {
            JsonValue::Bool(present) => Filter::Exists(fp, present),
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_filter",
                    "`$exists` takes true or false",
                )
                .with_field(field))
            }
        },
        other => {
            return Err(ApiError::bad_request(
                "invalid_filter",
                format!(
                "unknown operator `{other}`; use $eq, $ne, $lt, $lte, $gt, $gte, $in or $exists"
            ),
            )
            .with_field(field))
        }
    })
}

async fn put(
    State(app): State<Shared>,
    PathArgs((entity, id)): PathArgs<(String, String)>,
    JsonBody(document): JsonBody<DocumentObject>,
) -> Result<Json<JsonValue>, ApiError> {
    let docs = app.router.document(&entity)?;
    docs.put(&id, JsonValue::Object(document)).await?;
    Ok(Json(json!({ "written": true })))
}

async fn insert(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<InsertBody>,
) -> Result<(StatusCode, Json<JsonValue>), ApiError> {
    let docs = app.router.document(&entity)?;
    docs.insert(&body.id, JsonValue::Object(body.document))
        .await
        .map_err(|error| ApiError::from(error).with_field("id"))?;
    Ok((StatusCode::CREATED, Json(json!({ "id": body.id }))))
}

async fn get(
    State(app): State<Shared>,
    PathArgs((entity, id)): PathArgs<(String, String)>,
) -> Result<Json<JsonValue>, ApiError> {
    let docs = app.router.document(&entity)?;
    match docs.get(&id).await? {
        Some(document) => Ok(Json(json!({ "id": id, "document": document }))),
        None => Err(
            ApiError::not_found(format!("document `{id}` is not in `{entity}`")).with_field("id"),
        ),
    }
}

async fn delete(
    State(app): State<Shared>,
    PathArgs((entity, id)): PathArgs<(String, String)>,
) -> Result<Json<JsonValue>, ApiError> {
    let docs = app.router.document(&entity)?;
    if docs.delete(&id).await? {
        Ok(Json(json!({ "deleted": true })))
    } else {
        Err(ApiError::not_found(format!("document `{id}` is not in `{entity}`")).with_field("id"))
    }
}

async fn find(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<FindBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let docs = app.router.document(&entity)?;
    let mut sort = Vec::with_capacity(body.sort.len());
    for (index, key) in body.sort.into_iter().enumerate() {
        sort.push(SortKey {
            path: path(&key.field, &format!("sort[{index}].field"))?,
            order: match key.order {
                None | Some(OrderBody::Asc) => Order::Ascending,
                Some(OrderBody::Desc) => Order::Descending,
            },
        });
    }
    let limit = super::page::limit(body.limit, app.config.max_results)?;
    let query = FindQuery {
        filter: parse_filter(body.filter, "filter")?,
        sort,
        skip: body.skip,
        limit: Some(super::page::probe(limit)),
    };
    let mut found = docs.find(&query).await?;
    let next = (found.len() > limit).then(|| {
        found.truncate(limit);
        json!({ "skip": query.next_page(limit).skip })
    });
    let found: Vec<JsonValue> = found
        .into_iter()
        .map(|stored| json!({ "id": stored.id, "document": stored.document }))
        .collect();
    Ok(Json(json!({ "documents": found, "next": next })))
}

async fn count(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<CountBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let docs = app.router.document(&entity)?;
    let count = docs.count(&parse_filter(body.filter, "filter")?).await?;
    Ok(Json(json!({ "count": count })))
}

async fn create_index(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<IndexBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let docs = app.router.document(&entity)?;
    path(&body.field, "field")?;
    docs.create_index(&body.field)
        .await
        .map_err(|error| ApiError::from(error).with_field("field"))?;
    Ok(Json(json!({ "created": true })))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn filter(value: JsonValue) -> Result<Filter, ApiError> {
        match value {
            JsonValue::Object(map) => parse_filter(map, "filter"),
            _ => unreachable!(),
        }
    }

    #[test]
    fn mongo_style_filters_compile() {
        let f = filter(json!({"status": "paid", "total": {"$gte": 10, "$lt": 100}})).unwrap();
        let Filter::And(parts) = f else {
            panic!("{f:?}")
        };
        assert_eq!(parts.len(), 2);
        let f = filter(json!({"$or": [{"a": 1}, {"b": {"$exists": false}}]})).unwrap();
        assert!(matches!(f, Filter::Or(ref v) if v.len() == 2));
        assert_eq!(filter(json!({})).unwrap(), Filter::All);
    }

    #[test]
    fn bad_filters_name_the_field() {
        let error = filter(json!({"total": {"$near": 1}})).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("filter.total.$near"));
        let error = filter(json!({"bad path": 1})).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("filter.bad path"));
        let error = filter(json!({"$or": 1})).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("filter.$or"));
    }
}
