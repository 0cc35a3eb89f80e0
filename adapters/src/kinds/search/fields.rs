//! A search entity's declared fields and the rules every search backend checks documents and
//! filters against: field names, value types, the size of an indexed term. The backends that
//! keep a document's fields as JSON (PostgreSQL, Elasticsearch) also convert with
//! [`DeclaredFields`] both ways, so a document means the same on each.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::{SearchDocument, SearchFieldKind, SearchSettings};
use crate::kinds::is_identifier;
use crate::{Result, StoreError, Value};

/// The longest keyword value in bytes: an indexed term longer than this cannot be stored (the
/// limit Lucene and therefore Elasticsearch share).
pub(crate) const MAX_TERM_BYTES: usize = 32_766;

/// How text fields reduce words before indexing them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stemming {
    /// Words are only lower-cased.
    #[default]
    None,
    /// Words are lower-cased and reduced by the English (Porter) stemmer.
    English,
}

/// An entity's fields in declaration order, with their kinds: checked once (identifiers,
/// declared once each) when the entity is opened.
#[derive(Clone, Debug)]
// Only the JSON-storing backends read more than the declaration.
#[cfg_attr(
    not(any(feature = "postgres", feature = "elasticsearch")),
    allow(dead_code)
)]
pub(crate) struct DeclaredFields {
    declared: Vec<(String, SearchFieldKind)>,
    text: Vec<String>,
}

#[cfg_attr(
    not(any(feature = "postgres", feature = "elasticsearch")),
    allow(dead_code)
)]
impl DeclaredFields {
    /// The fields of `settings`; a name that is not an identifier, or declared twice, is an
    /// invalid request naming it.
    pub(crate) fn new(settings: &SearchSettings) -> Result<Self> {
        let mut declared: Vec<(String, SearchFieldKind)> = Vec::new();
        for field in &settings.fields {
            if !is_identifier(&field.name) {
                return Err(StoreError::invalid(format!(
                    "search field name `{}` is not valid: use ASCII letters, digits and `_`, starting with a letter or `_`",
                    field.name
                )));
            }
            if declared.iter().any(|(name, _)| *name == field.name) {
                return Err(StoreError::invalid(format!(
                    "search field `{}` is declared twice",
                    field.name
                )));
            }
            declared.push((field.name.clone(), field.kind));
        }
        let text = declared
            .iter()
            .filter(|(_, kind)| *kind == SearchFieldKind::Text)
            .map(|(name, _)| name.clone())
            .collect();
        Ok(DeclaredFields { declared, text })
    }

    /// Every field with its kind, in declaration order.
    pub(crate) fn all(&self) -> &[(String, SearchFieldKind)] {
        &self.declared
    }

    /// The names of the text fields, in declaration order: what query text searches.
    pub(crate) fn text(&self) -> &[String] {
        &self.text
    }

    /// The kind of field `name`, or an invalid request naming it and the declared fields.
    pub(crate) fn kind(&self, name: &str) -> Result<SearchFieldKind> {
        self.declared
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, kind)| *kind)
            .ok_or_else(|| unknown_field(name, self.declared.iter().map(|(n, _)| n.as_str())))
    }

    /// Checks `document` against the fields and converts them to a JSON object (the id is
    /// not part of it); `Null` values are left out.
    pub(crate) fn to_json(&self, document: &SearchDocument) -> Result<Json> {
        super::check_id(&document.id)?;
        let mut out = Map::new();
        for (name, value) in &document.fields {
            let kind = self.kind(name)?;
            let json = match (kind, value) {
                (_, Value::Null) => continue,
                (SearchFieldKind::Text, Value::Text(text)) => Json::from(text.as_str()),
                (SearchFieldKind::Keyword, Value::Text(text)) => {
                    check_keyword(name, text)?;
                    Json::from(text.as_str())
                }
                (SearchFieldKind::Integer, Value::Int(n)) => Json::from(*n),
                (SearchFieldKind::Float, Value::Int(_) | Value::Float(_)) => {
                    Json::from(finite(name, value)?)
                }
                _ => return Err(wrong_type(name, kind, value)),
            };
            out.insert(name.clone(), json);
        }
        Ok(Json::Object(out))
    }

    /// The declared fields of a stored JSON object, absent or mistyped ones left out.
    pub(crate) fn read_json(&self, stored: &Json) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for (name, kind) in &self.declared {
            let value = match (kind, stored.get(name)) {
                (SearchFieldKind::Text | SearchFieldKind::Keyword, Some(Json::String(text))) => {
                    Value::Text(text.clone())
                }
                (SearchFieldKind::Integer, Some(json)) => match json.as_i64() {
                    Some(n) => Value::Int(n),
                    None => continue,
                },
                (SearchFieldKind::Float, Some(json)) => match json.as_f64() {
                    Some(x) => Value::Float(x),
                    None => continue,
                },
                _ => continue,
            };
            out.insert(name.clone(), value);
        }
        out
    }
}

/// The error for a field the entity does not declare, listing the ones it does.
pub(crate) fn unknown_field<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> StoreError {
    let known: Vec<&str> = known.collect();
    StoreError::invalid(format!(
        "unknown search field `{name}`; the entity's fields are: {}",
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    ))
}

/// Refuses a keyword value too long to be indexed as one term.
pub(crate) fn check_keyword(name: &str, text: &str) -> Result<()> {
    if text.len() > MAX_TERM_BYTES {
        return Err(StoreError::invalid(format!(
            "keyword field `{name}` holds {} bytes; a keyword is at most {MAX_TERM_BYTES} bytes (use a text field for long text)",
            text.len()
        )));
    }
    Ok(())
}

/// `value` (an int or a float) as a finite float, `-0.0` folded into `0.0` so both index as one
/// term.
pub(crate) fn finite(name: &str, value: &Value) -> Result<f64> {
    match value.as_f64() {
        Some(x) if x.is_finite() => Ok(x + 0.0),
        Some(x) => Err(StoreError::invalid(format!(
            "float field `{name}` got {x}; only finite numbers can be indexed"
        ))),
        None => Err(wrong_type(name, SearchFieldKind::Float, value)),
    }
}

/// The error for `value` given to a field of `kind`.
pub(crate) fn wrong_type(name: &str, kind: SearchFieldKind, value: &Value) -> StoreError {
    let expected = match kind {
        SearchFieldKind::Text => "text field `{}` takes text",
        SearchFieldKind::Keyword => "keyword field `{}` takes text",
        SearchFieldKind::Integer => "integer field `{}` takes an int",
        SearchFieldKind::Float => "float field `{}` takes a float or an int",
    };
    StoreError::invalid(format!(
        "{}, got {} {value}",
        expected.replace("{}", name),
        value.type_name()
    ))
}
