//! The search behaviour suite.
//!
//! Every case runs on an entity with the schema of [`settings`]: two text fields, a keyword, a
//! float and an integer. Cases call `refresh()` before they query, so they hold for any backend
//! whatever its visibility bound, and never depend on the order of hits with equal scores.

mod errors;
mod filters;
mod queries;
mod writes;

pub use errors::*;
pub use filters::*;
pub use queries::*;
pub use writes::*;

use polyroute_adapters::kinds::search::{
    SearchDocument, SearchField, SearchFieldKind, SearchQuery, SearchResults, SearchSettings,
    SearchStore,
};
use polyroute_adapters::{StoreError, Value};

/// Runs each listed case as its own test against the backend made by `$factory`, an async fn
/// taking [`SearchSettings`] and returning `Fixture<dyn SearchStore>` with an entity of them;
/// `$factory; [attributes]` adds the attributes to every test.
#[macro_export]
macro_rules! search_suite {
    ($factory:path) => {
        $crate::search_suite!($factory; []);
    };
    ($factory:path; $attrs:tt) => {
        $crate::__suite_cases!(search; $factory($crate::search::settings()).await; $attrs;
            empty_entity_finds_nothing,
            indexed_documents_are_found_with_their_fields,
            fields_of_every_type_round_trip,
            null_fields_are_absent,
            reindexing_an_id_replaces_the_document,
            the_last_of_one_id_in_a_batch_wins,
            delete_removes_and_reports_whether_it_existed,
            delete_sees_acknowledged_writes_before_refresh,
            many_documents_in_one_batch,
            large_text_is_found,
            unicode_text_and_ids,
            concurrent_writers_all_land,
            empty_batch_is_accepted,
            terms_are_all_required_by_default,
            or_and_exclusion,
            phrases_match_adjacent_terms,
            matching_ignores_case,
            better_matches_rank_higher,
            empty_text_matches_every_document,
            limit_offset_and_total,
            limit_zero_only_counts,
            snippets_highlight_matches_when_asked,
            keyword_filter_matches_listed_values_exactly,
            empty_in_filter_matches_nothing,
            numeric_in_filters,
            float_ranges_are_inclusive,
            integer_ranges_with_fractional_bounds,
            filters_combine_and_do_not_change_scores,
            filters_without_text,
            unknown_field_in_a_document_is_invalid,
            wrong_value_types_are_invalid,
            invalid_batches_index_nothing,
            empty_id_is_invalid,
            non_finite_floats_are_invalid,
            bad_filters_are_invalid,
            query_syntax_errors_are_invalid,
            runaway_query_text_is_invalid,
        );
    };
}

/// The suite's schema: a product catalog.
pub fn settings() -> SearchSettings {
    let field = |name: &str, kind| SearchField {
        name: name.to_owned(),
        kind,
    };
    SearchSettings::with_fields(vec![
        field("title", SearchFieldKind::Text),
        field("body", SearchFieldKind::Text),
        field("category", SearchFieldKind::Keyword),
        field("price", SearchFieldKind::Float),
        field("stock", SearchFieldKind::Integer),
    ])
}

/// A product with every field.
pub fn product(id: &str, title: &str, category: &str, price: f64, stock: i64) -> SearchDocument {
    SearchDocument::new(
        id,
        [
            ("title", Value::from(title)),
            ("category", Value::from(category)),
            ("price", Value::Float(price)),
            ("stock", Value::Int(stock)),
        ],
    )
}

/// A document with only a title.
pub fn titled(id: &str, title: &str) -> SearchDocument {
    SearchDocument::new(id, [("title", title)])
}

/// Indexes `documents` and makes them visible.
pub async fn seed(store: &dyn SearchStore, documents: Vec<SearchDocument>) {
    store.index(documents).await.unwrap();
    store.refresh().await.unwrap();
}

/// Runs `query`, checking the results are consistent: no more hits than asked or than the
/// total, scores in descending order.
pub async fn run(store: &dyn SearchStore, query: &SearchQuery) -> SearchResults {
    let results = store.query(query).await.unwrap();
    assert!(results.hits.len() <= query.limit, "{query:?}: {results:?}");
    assert!(results.hits.len() as u64 <= results.total, "{results:?}");
    for pair in results.hits.windows(2) {
        assert!(
            pair[0].score >= pair[1].score,
            "hits out of order: {results:?}"
        );
    }
    results
}

/// The ids of the hits of `text` (up to 100), sorted.
pub async fn found(store: &dyn SearchStore, text: &str) -> Vec<String> {
    let mut query = SearchQuery::new(text);
    query.limit = 100;
    ids(&run(store, &query).await)
}

/// The ids of `results`' hits, sorted.
pub fn ids(results: &SearchResults) -> Vec<String> {
    let mut ids: Vec<String> = results.hits.iter().map(|hit| hit.id.clone()).collect();
    ids.sort();
    ids
}

/// Asserts `result` is an invalid request whose message mentions `mention`.
pub fn assert_invalid<T: std::fmt::Debug>(result: Result<T, StoreError>, mention: &str) {
    match result {
        Err(StoreError::InvalidRequest { message, .. }) => assert!(
            message.contains(mention),
            "message should mention `{mention}`: {message}"
        ),
        other => panic!("expected an invalid request mentioning `{mention}`, got {other:?}"),
    }
}
