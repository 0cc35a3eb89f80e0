//! The query text as a tantivy query: parsed with the syntax every search backend shares
//! ([`crate::kinds::search::syntax`]), then each operand analysed with the entity's tokenizer.
//!
//! A term searches every text field (or the one it names) and needs all of its analysed words
//! in one field; a phrase needs them adjacent and in order in one field. Terms score by BM25.
//! A negation on its own matches every document without the negated text. Building is linear
//! in the parsed tree, whose size and depth the shared parser bounds.

use tantivy::query::{AllQuery, BooleanQuery, EmptyQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::Term;

use super::schema::Fields;
use crate::kinds::search::syntax::{parse, Node};
use crate::{Result, StoreError};

/// The query text over the text fields, or `None` when it is blank (every document matches).
pub(super) fn text_query(
    fields: &Fields,
    analyzer: &TextAnalyzer,
    text: &str,
) -> Result<Option<Box<dyn Query>>> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let text_fields = fields.text_field_names();
    if text_fields.is_empty() {
        return Err(StoreError::invalid(
            "this entity has no text fields to search; query with empty text and filters, or declare a text field",
        ));
    }
    let kind_of = |name: &str| fields.get(name).ok().map(|(_, kind)| kind);
    let Some(node) = parse(text, &text_fields, &kind_of)? else {
        // Text with no word left matches nothing.
        return Ok(Some(Box::new(EmptyQuery)));
    };
    let mut builder = Builder {
        fields,
        analyzer: analyzer.clone(),
    };
    Ok(Some(builder.node(&node)))
}

struct Builder<'a> {
    fields: &'a Fields,
    analyzer: TextAnalyzer,
}

impl Builder<'_> {
    fn node(&mut self, node: &Node) -> Box<dyn Query> {
        match node {
            Node::And(children) => {
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = children
                    .iter()
                    .map(|child| match child {
                        Node::Not(inner) => (Occur::MustNot, self.node(inner)),
                        other => (Occur::Must, self.node(other)),
                    })
                    .collect();
                if clauses.iter().all(|(occur, _)| *occur == Occur::MustNot) {
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                Box::new(BooleanQuery::new(clauses))
            }
            Node::Or(children) => Box::new(BooleanQuery::new(
                children
                    .iter()
                    .map(|child| (Occur::Should, self.node(child)))
                    .collect(),
            )),
            Node::Not(inner) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, self.node(inner)),
            ])),
            Node::Operand {
                field,
                text,
                phrase,
            } => {
                let targets: Vec<Field> = match field {
                    Some(name) => self
                        .fields
                        .get(name)
                        .map(|(field, _)| vec![field])
                        .unwrap_or_default(),
                    None => self.fields.text_fields(),
                };
                let mut alternatives: Vec<Box<dyn Query>> = targets
                    .into_iter()
                    .map(|field| self.operand(field, text, *phrase))
                    .collect();
                match alternatives.len() {
                    0 => Box::new(EmptyQuery),
                    1 => alternatives.remove(0),
                    _ => Box::new(BooleanQuery::new(
                        alternatives
                            .into_iter()
                            .map(|query| (Occur::Should, query))
                            .collect(),
                    )),
                }
            }
        }
    }

    /// One term or phrase in one field: its analysed words, all required, adjacent and in
    /// order for a phrase. Text that analyses to no word matches nothing.
    fn operand(&mut self, field: Field, text: &str, phrase: bool) -> Box<dyn Query> {
        let mut terms: Vec<(usize, Term)> = Vec::new();
        self.analyzer.token_stream(text).process(&mut |token| {
            terms.push((token.position, Term::from_field_text(field, &token.text)));
        });
        let term_query = |term: Term| -> Box<dyn Query> {
            Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
        };
        match terms.len() {
            0 => Box::new(EmptyQuery),
            1 => term_query(terms.remove(0).1),
            _ if phrase => Box::new(PhraseQuery::new_with_offset(terms)),
            _ => Box::new(BooleanQuery::new(
                terms
                    .into_iter()
                    .map(|(_, term)| (Occur::Must, term_query(term)))
                    .collect(),
            )),
        }
    }
}
