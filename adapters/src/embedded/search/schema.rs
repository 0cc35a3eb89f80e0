//! An entity's schema as a tantivy schema, and documents and stored fields converted both ways.

use std::collections::{BTreeMap, HashMap};

use tantivy::schema::{
    Field, IndexRecordOption, OwnedValue, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED,
    STORED, STRING,
};
use tantivy::{TantivyDocument, Term};

use crate::kinds::search::fields::{
    check_keyword, finite, unknown_field, wrong_type, DeclaredFields,
};
use crate::kinds::search::{check_id, SearchDocument, SearchFieldKind, SearchSettings};
use crate::{Result, StoreError, Value};

/// The hidden field holding each document's id. Field names of an entity are identifiers, so
/// this one can never collide with them.
const ID_FIELD: &str = "$id";

/// One entity's fields, resolved to tantivy fields.
#[derive(Debug)]
pub(super) struct Fields {
    pub(super) schema: Schema,
    pub(super) id: Field,
    by_name: HashMap<String, (Field, SearchFieldKind)>,
    /// Every field in declaration order, for reading stored documents back.
    declared: Vec<(String, Field, SearchFieldKind)>,
}

impl Fields {
    /// The tantivy schema of `settings`; text fields are analysed with `tokenizer`.
    pub(super) fn new(settings: &SearchSettings, tokenizer: &str) -> Result<Fields> {
        let mut builder = Schema::builder();
        let id = builder.add_text_field(ID_FIELD, STRING | STORED);
        let text = TextOptions::default().set_stored().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let mut by_name = HashMap::new();
        let mut declared = Vec::new();
        for (name, kind) in DeclaredFields::new(settings)?.all() {
            let handle = match kind {
                SearchFieldKind::Text => builder.add_text_field(name, text.clone()),
                SearchFieldKind::Keyword => builder.add_text_field(name, STRING | STORED | FAST),
                SearchFieldKind::Integer => builder.add_i64_field(name, INDEXED | STORED | FAST),
                SearchFieldKind::Float => builder.add_f64_field(name, INDEXED | STORED | FAST),
            };
            by_name.insert(name.clone(), (handle, *kind));
            declared.push((name.clone(), handle, *kind));
        }
        Ok(Fields {
            schema: builder.build(),
            id,
            by_name,
            declared,
        })
    }

    /// The field `name` and its kind, or an invalid request naming it and the declared fields.
    pub(super) fn get(&self, name: &str) -> Result<(Field, SearchFieldKind)> {
        self.by_name
            .get(name)
            .copied()
            .ok_or_else(|| unknown_field(name, self.declared.iter().map(|(n, ..)| n.as_str())))
    }

    /// The text fields, searched by the query string.
    pub(super) fn text_fields(&self) -> Vec<Field> {
        self.declared
            .iter()
            .filter(|(_, _, kind)| *kind == SearchFieldKind::Text)
            .map(|(_, field, _)| *field)
            .collect()
    }

    /// The names of the text fields, in declaration order.
    pub(super) fn text_field_names(&self) -> Vec<String> {
        self.named_text_fields()
            .map(|(name, _)| name.to_owned())
            .collect()
    }

    /// The text fields with their names, for snippets.
    pub(super) fn named_text_fields(&self) -> impl Iterator<Item = (&str, Field)> {
        self.declared
            .iter()
            .filter(|(_, _, kind)| *kind == SearchFieldKind::Text)
            .map(|(name, field, _)| (name.as_str(), *field))
    }

    /// The term that finds the document `id`.
    pub(super) fn id_term(&self, id: &str) -> Term {
        Term::from_field_text(self.id, id)
    }

    /// Checks `document` against the schema and converts it.
    pub(super) fn to_tantivy(&self, document: &SearchDocument) -> Result<TantivyDocument> {
        check_id(&document.id)?;
        let mut out = TantivyDocument::default();
        out.add_text(self.id, &document.id);
        for (name, value) in &document.fields {
            let (field, kind) = self.get(name)?;
            let wrong = || wrong_type(name, kind, value);
            match (kind, value) {
                (_, Value::Null) => {}
                (SearchFieldKind::Text, Value::Text(text)) => out.add_text(field, text),
                (SearchFieldKind::Keyword, Value::Text(text)) => {
                    check_keyword(name, text)?;
                    out.add_text(field, text);
                }
                (SearchFieldKind::Integer, Value::Int(n)) => out.add_i64(field, *n),
                (SearchFieldKind::Float, Value::Int(_) | Value::Float(_)) => {
                    out.add_f64(field, finite(name, value)?);
                }
                _ => return Err(wrong()),
            }
        }
        Ok(out)
    }

    /// The stored fields of `document` as values, without the id; absent fields are left out.
    pub(super) fn stored(&self, document: &TantivyDocument) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for (name, field, _) in &self.declared {
            let value = match document.get_first(*field) {
                Some(OwnedValue::Str(text)) => Value::Text(text.clone()),
                Some(OwnedValue::I64(n)) => Value::Int(*n),
                Some(OwnedValue::F64(x)) => Value::Float(*x),
                _ => continue,
            };
            out.insert(name.clone(), value);
        }
        out
    }

    /// The id of a stored document.
    pub(super) fn stored_id(&self, document: &TantivyDocument) -> Result<String> {
        match document.get_first(self.id) {
            Some(OwnedValue::Str(id)) => Ok(id.clone()),
            _ => Err(StoreError::backend("a stored search document has no id")),
        }
    }
}
