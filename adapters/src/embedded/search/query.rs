//! A [`SearchQuery`] run against one searcher: the query string and filters as one tantivy
//! query, top-k with BM25 scores and the total count, stored fields and snippets.

use std::ops::Bound;

use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::query::Weight;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, EmptyQuery, Occur, Query, RangeQuery, TermQuery,
    TermSetQuery,
};
use tantivy::schema::IndexRecordOption;
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Searcher, SegmentOrdinal, SegmentReader, TantivyDocument, TantivyError, Term};

use super::map_error;
use super::schema::Fields;
use super::text::text_query;
use crate::kinds::search::fields::{finite, wrong_type};
use crate::kinds::search::{SearchFieldKind, SearchFilter, SearchHit, SearchQuery, SearchResults};
use crate::{Result, StoreError, Value};

/// Runs `query` on `searcher`.
pub(super) fn run(
    fields: &Fields,
    analyzer: &TextAnalyzer,
    searcher: &Searcher,
    query: &SearchQuery,
) -> Result<SearchResults> {
    let text = text_query(fields, analyzer, &query.text)?;
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(query.filters.len() + 1);
    clauses.push((
        Occur::Must,
        text.as_ref()
            .map_or_else(|| Box::new(AllQuery) as _, |q| q.box_clone()),
    ));
    for filter in &query.filters {
        // Filters restrict without scoring: a constant 0 adds nothing to the text's BM25 score.
        clauses.push((
            Occur::Must,
            Box::new(ConstScoreQuery::new(filter_query(fields, filter)?, 0.0)),
        ));
    }
    let combined: Box<dyn Query> = if clauses.len() == 1 {
        clauses.remove(0).1
    } else {
        Box::new(BooleanQuery::new(clauses))
    };

    // TopDocs reserves room for its limit: never ask for more than there are documents.
    let alive = usize::try_from(searcher.num_docs()).unwrap_or(usize::MAX);
    let limit = query.limit.min(alive.saturating_sub(query.offset));
    let (total, top) = if limit == 0 {
        (
            searcher
                .search(&combined, &Checked(Count))
                .map_err(map_error)?,
            Vec::new(),
        )
    } else {
        let top_docs = TopDocs::with_limit(limit).and_offset(query.offset);
        let (top, total) = searcher
            .search(&combined, &Checked((top_docs, Count)))
            .map_err(map_error)?;
        (total, top)
    };

    let snippets = match (&text, query.snippets) {
        (Some(text), true) => fields
            .named_text_fields()
            .map(|(name, field)| {
                SnippetGenerator::create(searcher, &**text, field)
                    .map(|generator| (name.to_owned(), generator))
                    .map_err(map_error)
            })
            .collect::<Result<Vec<_>>>()?,
        _ => Vec::new(),
    };

    let mut hits = Vec::with_capacity(top.len());
    for (score, address) in top {
        crate::work::checkpoint()?;
        let document: TantivyDocument = searcher.doc(address).map_err(map_error)?;
        let mut hit = SearchHit {
            id: fields.stored_id(&document)?,
            score,
            fields: fields.stored(&document),
            snippets: Default::default(),
        };
        for (name, generator) in &snippets {
            let snippet = generator.snippet_from_doc(&document);
            if !snippet.highlighted().is_empty() {
                hit.snippets.insert(name.clone(), snippet.to_html());
            }
        }
        hits.push(hit);
    }
    Ok(SearchResults {
        total: total as u64,
        hits,
    })
}

/// A collector that stops between segments once its call was abandoned
/// ([`crate::work::checkpoint`]); the searcher collects segments one after another on this
/// thread.
struct Checked<C>(C);

impl<C: Collector> Collector for Checked<C> {
    type Fruit = C::Fruit;
    type Child = C::Child;

    fn for_segment(
        &self,
        ordinal: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<C::Child> {
        self.0.for_segment(ordinal, segment)
    }

    fn requires_scoring(&self) -> bool {
        self.0.requires_scoring()
    }

    fn merge_fruits(
        &self,
        fruits: Vec<<C::Child as SegmentCollector>::Fruit>,
    ) -> tantivy::Result<C::Fruit> {
        self.0.merge_fruits(fruits)
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        ordinal: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<<C::Child as SegmentCollector>::Fruit> {
        if crate::work::cancelled() {
            return Err(TantivyError::InternalError(
                "the search was abandoned".to_owned(),
            ));
        }
        self.0.collect_segment(weight, ordinal, segment)
    }
}

/// One filter as a tantivy query over a keyword or numeric field.
fn filter_query(fields: &Fields, filter: &SearchFilter) -> Result<Box<dyn Query>> {
    match filter {
        SearchFilter::In {
            field: name,
            values,
        } => {
            let (field, kind) = fields.get(name)?;
            let terms = values
                .iter()
                .map(|value| match (kind, value) {
                    (SearchFieldKind::Keyword, Value::Text(text)) => {
                        Ok(Term::from_field_text(field, text))
                    }
                    (SearchFieldKind::Integer, Value::Int(n)) => {
                        Ok(Term::from_field_i64(field, *n))
                    }
                    (SearchFieldKind::Float, _) => {
                        Ok(Term::from_field_f64(field, finite(name, value)?))
                    }
                    (SearchFieldKind::Text, _) => Err(text_filter(name)),
                    _ => Err(wrong_type(name, kind, value)),
                })
                .collect::<Result<Vec<_>>>()?;
            if kind == SearchFieldKind::Text {
                return Err(text_filter(name));
            }
            // One value is one posting list: no term-set automaton needed.
            match <[Term; 1]>::try_from(terms) {
                Ok([term]) => Ok(Box::new(TermQuery::new(term, IndexRecordOption::Basic))),
                Err(terms) => Ok(Box::new(TermSetQuery::new(terms))),
            }
        }
        SearchFilter::Range {
            field: name,
            min,
            max,
        } => {
            let (_, kind) = fields.get(name)?;
            for bound in [min, max].into_iter().flatten() {
                if bound.is_nan() {
                    return Err(StoreError::invalid(format!(
                        "range on `{name}` has a NaN bound; use a number or no bound"
                    )));
                }
            }
            match kind {
                SearchFieldKind::Float => Ok(Box::new(RangeQuery::new_f64_bounds(
                    name.clone(),
                    min.map_or(Bound::Unbounded, Bound::Included),
                    max.map_or(Bound::Unbounded, Bound::Included),
                ))),
                SearchFieldKind::Integer => Ok(integer_range(name, *min, *max)),
                SearchFieldKind::Text | SearchFieldKind::Keyword => {
                    Err(StoreError::invalid(format!(
                        "range filter on `{name}`, which is not numeric; ranges apply to integer and float fields"
                    )))
                }
            }
        }
    }
}

/// Float bounds on an integer field, as the integers they admit.
fn integer_range(name: &str, min: Option<f64>, max: Option<f64>) -> Box<dyn Query> {
    // 2^63: the first float above every i64.
    const ABOVE: f64 = 9_223_372_036_854_775_808.0;
    let lower = match min.map(f64::ceil) {
        None => Bound::Unbounded,
        Some(lo) if lo >= ABOVE => return Box::new(EmptyQuery),
        // A float-to-int cast saturates, so bounds below i64::MIN become i64::MIN.
        Some(lo) => Bound::Included(lo as i64),
    };
    let upper = match max.map(f64::floor) {
        None => Bound::Unbounded,
        Some(hi) if hi < -ABOVE => return Box::new(EmptyQuery),
        Some(hi) => Bound::Included(hi as i64),
    };
    Box::new(RangeQuery::new_i64_bounds(name.to_owned(), lower, upper))
}

fn text_filter(name: &str) -> StoreError {
    StoreError::invalid(format!(
        "`{name}` is a text field, which filters cannot match exactly; filter on a keyword field, or search it in the query text"
    ))
}
