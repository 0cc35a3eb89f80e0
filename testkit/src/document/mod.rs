//! The document behaviour suite.
//!
//! Cases compare only documents whose fields hold one JSON type each, plus missing fields and
//! `null`, so they hold for any backend that follows the `DocumentStore` contract.

mod concurrency;
mod crud;
mod filters;
mod queries;

pub use concurrency::*;
pub use crud::*;
pub use filters::*;
pub use queries::*;

use polyroute_adapters::kinds::document::{Document, DocumentStore, Filter, FindQuery};
use polyroute_adapters::StoreError;
use serde_json::Value;

/// Runs each listed case as its own test against the backend made by `$factory`, an async fn
/// returning `Fixture<dyn DocumentStore>`.
/// After a `;`, a bracketed list of attributes is added to every test, such as the
/// `#[cfg_attr(…, ignore = …)]` that skips a server backend's tests when its server is not set.
#[macro_export]
macro_rules! document_suite {
    ($factory:path) => {
        $crate::document_suite!($factory; []);
    };
    ($factory:path; $attrs:tt) => {
        $crate::__suite_cases!(document; $factory().await; $attrs;
            get_missing_returns_none,
            put_then_get_round_trips_every_json_type,
            put_replaces_the_whole_document,
            insert_creates_and_conflicts_on_an_existing_id,
            delete_reports_whether_the_document_existed,
            ids_are_exact,
            unicode_ids_and_values_round_trip_and_match,
            field_names_of_any_text_round_trip,
            large_document_round_trips,
            empty_id_is_invalid,
            overly_nested_document_is_invalid,
            empty_entity_finds_nothing,
            find_all_returns_every_document_in_id_order,
            eq_matches_the_same_type_only,
            ne_matches_other_values_and_missing_fields,
            null_and_missing_fields_differ,
            ranges_on_numbers,
            ranges_on_strings_follow_code_points,
            in_matches_any_listed_value,
            nested_paths_reach_nested_fields,
            and_or_combine_conditions,
            array_and_object_filter_values_are_invalid,
            sort_ascending_puts_missing_first_and_breaks_ties_by_id,
            sort_descending_puts_missing_last,
            sort_by_several_keys,
            skip_and_limit_page_through_results,
            create_index_keeps_results_identical,
            writes_after_create_index_are_found,
            concurrent_writers_on_distinct_ids_all_land,
            concurrent_writers_on_one_id_leave_one_whole_document,
            concurrent_inserts_on_one_id_admit_exactly_one,
        );
    };
}

/// `value`, which must be a JSON object, as a document.
pub fn doc(value: Value) -> Document {
    match value {
        Value::Object(fields) => fields,
        other => panic!("not a JSON object: {other}"),
    }
}

/// Puts every `(id, document)`.
pub async fn seed(store: &dyn DocumentStore, documents: &[(&str, Value)]) {
    for (id, document) in documents {
        store.put(id, doc(document.clone())).await.unwrap();
    }
}

/// The ids `find` returns for `filter` (in id order), after checking `count` agrees.
pub async fn matching(store: &dyn DocumentStore, filter: Filter) -> Vec<String> {
    let found = store.find(&FindQuery::new(filter.clone())).await.unwrap();
    let counted = store.count(&filter).await.unwrap();
    assert_eq!(
        counted,
        found.len() as u64,
        "count and find differ for {filter:?}"
    );
    found.into_iter().map(|d| d.id).collect()
}

/// The ids `query` returns, in order.
pub async fn ids(store: &dyn DocumentStore, query: &FindQuery) -> Vec<String> {
    let found = store.find(query).await.unwrap();
    found.into_iter().map(|d| d.id).collect()
}

/// Asserts `result` failed as an invalid request.
pub fn assert_invalid<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::InvalidRequest { .. }) => {}
        other => panic!("{what}: expected an invalid request, got {other:?}"),
    }
}
