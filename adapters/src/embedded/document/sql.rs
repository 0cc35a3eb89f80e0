//! Filters, sorts and indexes as SQLite SQL over a `doc_<entity>` table of `(id, body)` rows.
//!
//! A field is read with `json_extract(body, '$.a.b')`, written into the SQL as the same text
//! everywhere (filters, sorts, index definitions), so SQLite matches a filter or sort to the
//! expression index on that field. Field paths are [`FieldPath`]s (identifier segments only),
//! so they are safe to write into the SQL; every value a filter compares with is a bound `$n`
//! parameter.
//!
//! `json_extract` maps JSON `true`/`false` to 1/0, `null` and missing fields both to SQL `NULL`,
//! and arrays and objects to their JSON text, so each comparison keeps the indexable
//! `json_extract(...)` term and adds a `json_type(...)` guard that tells these apart.

use serde_json::Value as Json;

use crate::kinds::document::{FieldPath, Filter, FindQuery, Order};
use crate::{Result, StoreError, Value};

/// The table holding an entity's documents (the entity name is an identifier).
pub(super) fn table(entity: &str) -> String {
    format!("\"doc_{entity}\"")
}

/// The statement creating the entity's table.
pub(super) fn create_table(entity: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (id TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL)",
        table(entity)
    )
}

/// The statement creating the expression index on `path`. The index also holds the id, so
/// equality matches come out in id order and sorts on the field break ties without sorting.
/// Its name joins entity and path with `:`, which neither can contain, so names never collide.
pub(super) fn create_index(entity: &str, path: &FieldPath) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS \"doc_{entity}:{path}\" ON {} ({}, id)",
        table(entity),
        extract(path)
    )
}

/// The value at `path`, as SQL: the indexed expression.
fn extract(path: &FieldPath) -> String {
    format!("json_extract(body, '$.{path}')")
}

/// The JSON type at `path` (`'null'`, `'true'`, `'integer'`, `'text'`, …), or `NULL` if missing.
fn json_type(path: &FieldPath) -> String {
    format!("json_type(body, '$.{path}')")
}

/// SQL text with its `$n` parameters.
#[derive(Debug, Default)]
pub(super) struct Sql {
    pub(super) text: String,
    pub(super) params: Vec<Value>,
}

impl Sql {
    fn bind(&mut self, value: Value) -> String {
        self.params.push(value);
        format!("${}", self.params.len())
    }
}

/// `SELECT id, body` of the documents `query` asks for, sorted, skipped and limited.
pub(super) fn select(entity: &str, query: &FindQuery) -> Result<Sql> {
    let mut sql = Sql::default();
    let condition = condition(&mut sql, &query.filter)?;
    let mut order: Vec<String> = query
        .sort
        .iter()
        .map(|key| {
            let direction = match key.order {
                Order::Ascending => "ASC",
                Order::Descending => "DESC",
            };
            format!("{} {direction}", extract(&key.path))
        })
        .collect();
    order.push("id ASC".to_owned());
    let limit = sql.bind(Value::Int(query.limit.map_or(-1, to_i64)));
    let offset = sql.bind(Value::Int(to_i64(query.skip)));
    sql.text = format!(
        "SELECT id, body FROM {} WHERE {condition} ORDER BY {} LIMIT {limit} OFFSET {offset}",
        table(entity),
        order.join(", ")
    );
    Ok(sql)
}

/// `SELECT count(*)` of the documents matching `filter`.
pub(super) fn count(entity: &str, filter: &Filter) -> Result<Sql> {
    let mut sql = Sql::default();
    let condition = condition(&mut sql, filter)?;
    sql.text = format!("SELECT count(*) FROM {} WHERE {condition}", table(entity));
    Ok(sql)
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A filter value, classified by the JSON type it compares with.
enum Scalar {
    Null,
    Bool(bool),
    Number(Value),
    Text(String),
}

impl Scalar {
    fn of(operator: &str, path: &FieldPath, value: &Json) -> Result<Scalar> {
        Ok(match value {
            Json::Null => Scalar::Null,
            Json::Bool(b) => Scalar::Bool(*b),
            Json::Number(n) => Scalar::Number(match n.as_i64() {
                Some(i) => Value::Int(i),
                // Beyond i64 (large u64) or fractional: SQLite reads such JSON numbers as REAL.
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            }),
            Json::String(s) => Scalar::Text(s.clone()),
            Json::Array(_) | Json::Object(_) => {
                return Err(StoreError::invalid(format!(
                    "filter `{operator}` on `{path}` compares with {value}: filters compare scalar values only (numbers, strings, booleans, null), not arrays or objects"
                )))
            }
        })
    }

    /// The `json_type` values of this scalar's type.
    fn types(&self) -> &'static str {
        match self {
            Scalar::Null => "('null')",
            Scalar::Bool(_) => "('true', 'false')",
            Scalar::Number(_) => "('integer', 'real')",
            Scalar::Text(_) => "('text')",
        }
    }

    /// The parameter this scalar binds as (`json_extract` reads booleans as 1 and 0).
    fn param(&self) -> Value {
        match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Int(i64::from(*b)),
            Scalar::Number(n) => n.clone(),
            Scalar::Text(s) => Value::Text(s.clone()),
        }
    }

    /// The SQL bounds of this scalar's type in SQLite's order (NULL < numbers < text < blobs),
    /// as `(lowest, highest)` with whether each is inclusive.
    fn type_range(&self) -> ((&'static str, bool), (&'static str, bool)) {
        match self {
            // -9e999 is -infinity, below every number; '' is the least text, above them all.
            Scalar::Number(_) => (("-9e999", true), ("''", false)),
            Scalar::Bool(_) => (("0", true), ("1", true)),
            // x'' is the least blob; json_extract never returns blobs. (Null has no range: it
            // is handled before any range is built.)
            Scalar::Text(_) | Scalar::Null => (("''", true), ("x''", false)),
        }
    }
}

/// The SQL condition for `filter`, binding its values into `sql`.
fn condition(sql: &mut Sql, filter: &Filter) -> Result<String> {
    Ok(match filter {
        Filter::All => "1".to_owned(),
        Filter::Eq(path, value) => equals(sql, path, &Scalar::of("eq", path, value)?),
        Filter::Ne(path, value) => {
            let equal = equals(sql, path, &Scalar::of("ne", path, value)?);
            format!("NOT coalesce({equal}, 0)")
        }
        Filter::Lt(path, value) => range(sql, path, "<", &Scalar::of("lt", path, value)?),
        Filter::Lte(path, value) => range(sql, path, "<=", &Scalar::of("lte", path, value)?),
        Filter::Gt(path, value) => range(sql, path, ">", &Scalar::of("gt", path, value)?),
        Filter::Gte(path, value) => range(sql, path, ">=", &Scalar::of("gte", path, value)?),
        Filter::In(path, values) => one_of(sql, path, values)?,
        Filter::Exists(path, true) => format!("{} IS NOT NULL", json_type(path)),
        Filter::Exists(path, false) => format!("{} IS NULL", json_type(path)),
        Filter::And(all) => join(sql, all, " AND ", "1")?,
        Filter::Or(any) => join(sql, any, " OR ", "0")?,
    })
}

fn join(sql: &mut Sql, filters: &[Filter], operator: &str, empty: &str) -> Result<String> {
    if filters.is_empty() {
        return Ok(empty.to_owned());
    }
    let parts = filters
        .iter()
        .map(|f| condition(sql, f))
        .collect::<Result<Vec<_>>>()?;
    Ok(format!("({})", parts.join(operator)))
}

/// The field holds `scalar`: same JSON type, same value.
fn equals(sql: &mut Sql, path: &FieldPath, scalar: &Scalar) -> String {
    let (extract, json_type) = (extract(path), json_type(path));
    match scalar {
        Scalar::Null => format!("({extract} IS NULL AND {json_type} = 'null')"),
        _ => {
            let param = sql.bind(scalar.param());
            format!(
                "({extract} = {param} AND {json_type} IN {})",
                scalar.types()
            )
        }
    }
}

/// The field compares with `scalar` by `operator`, within the scalar's JSON type. The other end
/// of the type's range bounds the comparison too, so the index range read is exactly that type's
/// values (and the planner knows it is a bounded range).
fn range(sql: &mut Sql, path: &FieldPath, operator: &str, scalar: &Scalar) -> String {
    if let Scalar::Null = scalar {
        // Null is ordered only with itself: null <= null, never null < null.
        return match operator {
            "<=" | ">=" => equals(sql, path, scalar),
            _ => "0".to_owned(),
        };
    }
    let param = sql.bind(scalar.param());
    let ((low, low_inclusive), (high, high_inclusive)) = scalar.type_range();
    let bound = if operator.starts_with('<') {
        format!("{} {low}", if low_inclusive { ">=" } else { ">" })
    } else {
        format!("{} {high}", if high_inclusive { "<=" } else { "<" })
    };
    let (extract, json_type) = (extract(path), json_type(path));
    format!(
        "({extract} {operator} {param} AND {extract} {bound} AND {json_type} IN {})",
        scalar.types()
    )
}

/// The field equals one of `values`: one indexable `IN` list per JSON type present.
fn one_of(sql: &mut Sql, path: &FieldPath, values: &[Json]) -> Result<String> {
    let scalars = values
        .iter()
        .map(|value| Scalar::of("in", path, value))
        .collect::<Result<Vec<_>>>()?;
    let mut parts = Vec::new();
    if scalars.iter().any(|s| matches!(s, Scalar::Null)) {
        parts.push(equals(sql, path, &Scalar::Null));
    }
    let groups: [fn(&Scalar) -> bool; 3] = [
        |s| matches!(s, Scalar::Bool(_)),
        |s| matches!(s, Scalar::Number(_)),
        |s| matches!(s, Scalar::Text(_)),
    ];
    for in_group in groups {
        let members: Vec<&Scalar> = scalars.iter().filter(|s| in_group(s)).collect();
        let Some(first) = members.first() else {
            continue;
        };
        let params: Vec<String> = members.iter().map(|s| sql.bind(s.param())).collect();
        parts.push(format!(
            "({} IN ({}) AND {} IN {})",
            extract(path),
            params.join(", "),
            json_type(path),
            first.types()
        ));
    }
    Ok(match parts.len() {
        0 => "0".to_owned(),
        1 => parts.remove(0),
        _ => format!("({})", parts.join(" OR ")),
    })
}
