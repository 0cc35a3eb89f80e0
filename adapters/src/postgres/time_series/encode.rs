//! Points to and from JSONB, tag filters to jsonpath predicates, and batch validation.
//!
//! Field values are JSON: numbers for finite floats and integers, `"NaN"`, `"Infinity"`,
//! `"-Infinity"` and `"-0"` for the floats JSON numbers cannot hold (the spellings `float8` casts accept), booleans and
//! strings. JSON numbers do not say whether they were floats or integers, so values are read
//! back by the type their field is recorded with.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value as Json;

use crate::kinds::time_series::{FieldValue, Point, TagFilter};
use crate::{Result, StoreError};

/// The one type a field of a measurement holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FieldType {
    Float,
    Int,
    Bool,
    Text,
}

impl FieldType {
    pub(super) fn of(value: &FieldValue) -> FieldType {
        match value {
            FieldValue::Float(_) => FieldType::Float,
            FieldValue::Int(_) => FieldType::Int,
            FieldValue::Bool(_) => FieldType::Bool,
            FieldValue::Text(_) => FieldType::Text,
        }
    }

    /// The code stored in the field-type table.
    pub(super) fn code(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Int => "int",
            FieldType::Bool => "bool",
            FieldType::Text => "text",
        }
    }

    pub(super) fn from_code(code: &str) -> Result<FieldType> {
        Ok(match code {
            "float" => FieldType::Float,
            "int" => FieldType::Int,
            "bool" => FieldType::Bool,
            "text" => FieldType::Text,
            other => {
                return Err(StoreError::backend(format!(
                    "unknown field type `{other}` in the field-type table"
                )))
            }
        })
    }

    /// The name in messages.
    pub(super) fn name(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Int => "integer",
            FieldType::Bool => "boolean",
            FieldType::Text => "string",
        }
    }

    pub(super) fn is_numeric(self) -> bool {
        matches!(self, FieldType::Float | FieldType::Int)
    }
}

/// A field value as JSON.
pub(super) fn to_json(value: FieldValue) -> Json {
    match value {
        // JSON numbers (PostgreSQL `numeric`) have no negative zero.
        FieldValue::Float(f) if f == 0.0 && f.is_sign_negative() => Json::from("-0"),
        FieldValue::Float(f) => match serde_json::Number::from_f64(f) {
            Some(n) => Json::Number(n),
            None if f.is_nan() => Json::from("NaN"),
            None if f > 0.0 => Json::from("Infinity"),
            None => Json::from("-Infinity"),
        },
        FieldValue::Int(i) => Json::from(i),
        FieldValue::Bool(b) => Json::Bool(b),
        FieldValue::Text(s) => Json::String(s),
    }
}

/// A stored value of a field of `kind`.
pub(super) fn from_json(value: Json, kind: FieldType) -> Result<FieldValue> {
    let decoded = match (kind, &value) {
        (FieldType::Float, Json::Number(n)) => n.as_f64().map(FieldValue::Float),
        (FieldType::Float, Json::String(s)) => s.parse().ok().map(FieldValue::Float),
        (FieldType::Int, Json::Number(n)) => n.as_i64().map(FieldValue::Int),
        (FieldType::Bool, Json::Bool(b)) => Some(FieldValue::Bool(*b)),
        (FieldType::Text, Json::String(s)) => Some(FieldValue::Text(s.clone())),
        _ => None,
    };
    decoded.ok_or_else(|| {
        StoreError::backend(format!(
            "stored value {value} is not a {} as its field's type says",
            kind.name()
        ))
    })
}

/// Tags as a JSON object.
pub(super) fn tags_json(tags: &BTreeMap<String, String>) -> Json {
    Json::Object(
        tags.iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect(),
    )
}

/// Tags read back.
pub(super) fn tags_from_json(value: Json) -> Result<BTreeMap<String, String>> {
    serde_json::from_value(value)
        .map_err(|err| StoreError::backend_with("stored tags are not an object of strings", err))
}

/// A jsonpath predicate matching the filter, such as
/// `($."host" == "a" || $."host" == "b") && $."dc" == "eu"`; `None` when nothing can match (a
/// tag with no accepted values). Names and values are JSON string literals, escaped.
pub(super) fn tag_predicate(filter: &TagFilter) -> Option<String> {
    let quote = |s: &str| Json::String(s.to_owned()).to_string();
    let mut clauses = Vec::with_capacity(filter.any_of.len());
    for (tag, values) in &filter.any_of {
        if values.is_empty() {
            return None;
        }
        let key = quote(tag);
        let alternatives: Vec<String> = values
            .iter()
            .map(|v| format!("$.{key} == {}", quote(v)))
            .collect();
        clauses.push(format!("({})", alternatives.join(" || ")));
    }
    Some(if clauses.is_empty() {
        "true".to_owned()
    } else {
        clauses.join(" && ")
    })
}

/// Checks a batch's shape and that it gives each field one type; returns those types.
pub(super) fn validate(points: &[Point]) -> Result<HashMap<(&str, &str), FieldType>> {
    let mut types: HashMap<(&str, &str), FieldType> = HashMap::new();
    for point in points {
        point.check_shape()?;
        for (name, value) in &point.fields {
            let kind = FieldType::of(value);
            let known = *types
                .entry((point.measurement.as_str(), name.as_str()))
                .or_insert(kind);
            if known != kind {
                return Err(type_clash(&point.measurement, name, known, kind));
            }
        }
    }
    Ok(types)
}

pub(super) fn type_clash(
    measurement: &str,
    field: &str,
    known: FieldType,
    written: FieldType,
) -> StoreError {
    StoreError::invalid(format!(
        "field `{field}` of `{measurement}` holds {} values; this point writes a {} (a field keeps one type)",
        known.name(),
        written.name()
    ))
}
