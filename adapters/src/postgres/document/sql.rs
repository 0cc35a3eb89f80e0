//! Filters, sorts and indexes as PostgreSQL SQL over a `doc_<entity>` table of
//! `(id TEXT, body JSONB)` rows.
//!
//! A field is read with `body #> '{a,b}'` (JSON `null` stays a JSON value, a missing field is
//! SQL `NULL`); comparisons and sorts use [`value`], that expression with JSON `null` turned into
//! SQL `NULL`, written the same way everywhere so the planner matches it to the B-tree expression
//! index of a declared field. Equality also tests containment (`body @> '{"a":{"b":…}}'`), which
//! the GIN index on `body` answers for any field, declared or not. Field paths are
//! [`FieldPath`]s (identifier segments only), so they are safe to write into the SQL; every value
//! a filter compares with is a bound parameter.

use serde_json::Value as Json;
use tokio_postgres::types::ToSql;

use crate::kinds::document::{FieldPath, Filter, FindQuery, Order};
use crate::{Result, StoreError};

/// A parameter of a document statement.
pub(super) type Param = Box<dyn ToSql + Sync + Send>;

/// SQL text with its `$n` parameters.
#[derive(Default)]
pub(super) struct Sql {
    pub(super) text: String,
    pub(super) params: Vec<Param>,
}

impl Sql {
    fn bind(&mut self, value: Param) -> String {
        self.params.push(value);
        format!("${}", self.params.len())
    }

    fn bind_json(&mut self, value: Json) -> String {
        format!("{}::jsonb", self.bind(Box::new(value)))
    }

    pub(super) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| &**p as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The raw JSON at `path`: SQL `NULL` when missing. A path stops at non-objects: where a
/// segment made of digits follows an array, `#>` would index the array, so such segments are
/// guarded to apply to objects only.
fn raw(path: &FieldPath) -> String {
    let segments: Vec<&str> = path.segments().collect();
    let full = format!("body #> '{{{}}}'", segments.join(","));
    let guards: Vec<String> = (1..segments.len())
        .filter(|&i| segments[i].bytes().all(|b| b.is_ascii_digit()))
        .map(|i| {
            format!(
                "jsonb_typeof(body #> '{{{}}}') = 'object'",
                segments[..i].join(",")
            )
        })
        .collect();
    if guards.is_empty() {
        format!("({full})")
    } else {
        format!("(CASE WHEN {} THEN {full} END)", guards.join(" AND "))
    }
}

/// The comparable value at `path`: JSON `null` and missing are both SQL `NULL`. The indexed
/// expression.
pub(super) fn value(path: &FieldPath) -> String {
    format!("nullif({}, 'null'::jsonb)", raw(path))
}

/// The JSON type at `path` (`'number'`, `'string'`, …), `NULL` when missing.
fn json_type(path: &FieldPath) -> String {
    format!("jsonb_typeof({})", raw(path))
}

/// The string at `path` as text in code point order (for string ranges).
fn text(path: &FieldPath) -> String {
    format!("(({} #>> '{{}}') COLLATE \"C\")", raw(path))
}

/// `{"a": {"b": value}}` for the path `a.b`: what `body @> …` tests.
fn nested(path: &FieldPath, value: &Json) -> Json {
    let segments: Vec<&str> = path.segments().collect();
    segments.iter().rev().fold(value.clone(), |inner, segment| {
        let mut object = serde_json::Map::new();
        object.insert((*segment).to_owned(), inner);
        Json::Object(object)
    })
}

/// `SELECT id, body` of the documents `query` asks for, sorted, skipped and limited.
pub(super) fn select(table: &str, query: &FindQuery) -> Result<Sql> {
    let mut sql = Sql::default();
    let condition = condition(&mut sql, &query.filter)?;
    let mut order: Vec<String> = query
        .sort
        .iter()
        .map(|key| match key.order {
            Order::Ascending => format!("{} ASC NULLS FIRST", value(&key.path)),
            Order::Descending => format!("{} DESC NULLS LAST", value(&key.path)),
        })
        .collect();
    order.push("id ASC".to_owned());
    let limit = sql.bind(Box::new(query.limit.map(to_i64)));
    let offset = sql.bind(Box::new(to_i64(query.skip)));
    sql.text = format!(
        "SELECT id, body FROM {table} WHERE {condition} ORDER BY {} LIMIT {limit}::bigint OFFSET {offset}::bigint",
        order.join(", ")
    );
    Ok(sql)
}

/// `SELECT count(*)` of the documents matching `filter`.
pub(super) fn count(table: &str, filter: &Filter) -> Result<Sql> {
    let mut sql = Sql::default();
    let condition = condition(&mut sql, filter)?;
    sql.text = format!("SELECT count(*) FROM {table} WHERE {condition}");
    Ok(sql)
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Checks a filter value is a scalar and returns its JSON type name as `jsonb_typeof` spells it.
fn scalar_type(operator: &str, path: &FieldPath, value: &Json) -> Result<&'static str> {
    Ok(match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) | Json::Object(_) => {
            return Err(StoreError::invalid(format!(
                "filter `{operator}` on `{path}` compares with {value}: filters compare scalar values only (numbers, strings, booleans, null), not arrays or objects"
            )))
        }
    })
}

/// The SQL condition for `filter`, binding its values into `sql`.
fn condition(sql: &mut Sql, filter: &Filter) -> Result<String> {
    Ok(match filter {
        Filter::All => "TRUE".to_owned(),
        Filter::Eq(path, v) => {
            scalar_type("eq", path, v)?;
            equals(sql, path, v)
        }
        Filter::Ne(path, v) => {
            scalar_type("ne", path, v)?;
            format!("NOT coalesce({}, FALSE)", equals(sql, path, v))
        }
        Filter::Lt(path, v) => range(sql, "lt", path, "<", v)?,
        Filter::Lte(path, v) => range(sql, "lte", path, "<=", v)?,
        Filter::Gt(path, v) => range(sql, "gt", path, ">", v)?,
        Filter::Gte(path, v) => range(sql, "gte", path, ">=", v)?,
        Filter::In(path, values) => one_of(sql, path, values)?,
        Filter::Exists(path, true) => format!("{} IS NOT NULL", raw(path)),
        Filter::Exists(path, false) => format!("{} IS NULL", raw(path)),
        Filter::And(all) => join(sql, all, " AND ", "TRUE")?,
        Filter::Or(any) => join(sql, any, " OR ", "FALSE")?,
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

/// The field holds `v` (a scalar): containment for the GIN index, plus, for non-null values, the
/// same test on the indexed expression for a field's B-tree index. jsonb equality is typed:
/// `1` equals `1.0`, never `true` or `"1"`.
fn equals(sql: &mut Sql, path: &FieldPath, v: &Json) -> String {
    let contains = sql.bind_json(nested(path, v));
    if v.is_null() {
        return format!("(body @> {contains})");
    }
    let param = sql.bind_json(v.clone());
    format!("(body @> {contains} AND {} = {param})", value(path))
}

/// The field compares with `v` by `operator` within `v`'s JSON type: numbers by value, strings
/// by code point, booleans `false < true`; `null` only with itself.
fn range(sql: &mut Sql, name: &str, path: &FieldPath, operator: &str, v: &Json) -> Result<String> {
    Ok(match (scalar_type(name, path, v)?, v) {
        ("null", _) => match operator {
            "<=" | ">=" => equals(sql, path, v),
            _ => "FALSE".to_owned(),
        },
        ("string", Json::String(s)) => {
            let param = sql.bind(Box::new(s.clone()));
            format!(
                "({} = 'string' AND {} {operator} {param}::text)",
                json_type(path),
                text(path)
            )
        }
        (kind, _) => {
            let param = sql.bind_json(v.clone());
            format!(
                "({} {operator} {param} AND {} = '{kind}')",
                value(path),
                json_type(path)
            )
        }
    })
}

/// The field equals one of `values`.
fn one_of(sql: &mut Sql, path: &FieldPath, values: &[Json]) -> Result<String> {
    for v in values {
        scalar_type("in", path, v)?;
    }
    let mut parts = Vec::new();
    if values.iter().any(Json::is_null) {
        parts.push(equals(sql, path, &Json::Null));
    }
    let params: Vec<String> = values
        .iter()
        .filter(|v| !v.is_null())
        .map(|v| sql.bind_json(v.clone()))
        .collect();
    if !params.is_empty() {
        parts.push(format!("{} IN ({})", value(path), params.join(", ")));
    }
    Ok(match parts.len() {
        0 => "FALSE".to_owned(),
        1 => parts.remove(0),
        _ => format!("({})", parts.join(" OR ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_segments_after_the_first_only_reach_into_objects() {
        let plain = FieldPath::parse("a.b").unwrap();
        assert_eq!(raw(&plain), "(body #> '{a,b}')");
        let digits = FieldPath::parse("a.0.c").unwrap();
        assert_eq!(
            raw(&digits),
            "(CASE WHEN jsonb_typeof(body #> '{a}') = 'object' THEN body #> '{a,0,c}' END)"
        );
    }

    #[test]
    fn values_are_bound_never_written_into_the_sql() {
        let filter = Filter::eq("name", "x'); DROP TABLE t; --").unwrap();
        let sql = count("t", &filter).unwrap();
        assert!(!sql.text.contains("DROP"), "{}", sql.text);
        assert_eq!(sql.params.len(), 2);
    }
}
