//! The wide-column behaviour suite.
//!
//! Every case gets a fresh entity of the shape it asks for. Most use [`events`]: rows of a user
//! ordered by `(at, seq)`, the shape of "the newest events of a user".

mod concurrency;
mod rows;
mod slices;
mod time;

pub use concurrency::*;
pub use rows::*;
pub use slices::*;
pub use time::*;

use std::collections::BTreeMap;

use polyroute_adapters::kinds::wide_column::{
    SliceQuery, WideColumnSettings, WideColumnStore, WideRow, WriteOptions,
};
use polyroute_adapters::{StoreError, Value};

/// Runs each listed case as its own test against the backend made by `$factory`, an async fn
/// from `WideColumnSettings` to `Fixture<dyn WideColumnStore>` (a fresh entity of that shape),
/// and the isolation case against `$pair`, which opens two entities of one shape on one store.
#[macro_export]
macro_rules! wide_column_suite {
    ($factory:path, $pair:path) => {
        $crate::wide_column_suite!($factory, $pair; []);
    };
    ($factory:path, $pair:path; [$($attr:tt)*]) => {
        $crate::__suite_cases!(wide_column; |settings| $factory(settings); [$($attr)*];
            get_missing_returns_none,
            put_then_get_round_trips_every_cell_type,
            put_upserts_and_keeps_cells_not_given,
            null_cell_deletes_the_cell,
            row_without_cells_exists,
            delete_reports_whether_the_row_existed,
            delete_partition_removes_only_that_partition,
            put_batch_writes_every_row,
            invalid_row_fails_the_whole_batch,
            key_arity_mismatch_is_invalid,
            unkeyable_key_values_are_invalid_and_name_the_column,
            cell_named_like_a_key_column_is_invalid,
            unicode_keys_and_cell_names_round_trip,
            large_cell_round_trips,
            composite_partition_key_without_clustering_key,
            slice_of_an_empty_partition_is_empty,
            slice_returns_the_partition_in_clustering_order,
            slice_descending_with_limit_returns_the_newest,
            slice_bounds_are_inclusive_or_exclusive,
            slice_prefix_bounds_cover_whole_groups,
            slice_stays_inside_its_partition,
            text_and_bytes_cluster_by_code_point_with_prefixes_first,
            floats_and_timestamps_cluster_numerically,
            slice_bound_longer_than_the_clustering_key_is_invalid,
            older_timestamp_never_overwrites_a_newer_cell,
            equal_timestamps_resolve_the_same_in_any_order,
            equal_timestamps_keep_the_greater_value_in_cassandra_order,
            writes_without_timestamps_apply_in_call_order,
            delete_shadows_late_writes_stamped_before_it,
            delete_removes_a_row_written_with_a_future_timestamp,
            rows_expire_after_their_ttl,
            ttl_expires_only_what_its_write_wrote,
            zero_ttl_is_invalid,
            concurrent_writers_on_distinct_rows_all_land,
            concurrent_writers_on_one_row_merge_their_cells,
            readers_see_whole_batches,
        );

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $($attr)*
        async fn entities_on_one_store_are_isolated() {
            let [first, second] = $pair($crate::wide_column::events()).await;
            $crate::wide_column::entities_on_one_store_are_isolated(first, second).await;
        }
    };
}

/// The factory a case receives: a fresh entity of the given shape.
pub trait Factory: Fn(WideColumnSettings) -> Self::Future {
    /// What the factory returns.
    type Future: std::future::Future<Output = crate::support::Fixture<dyn WideColumnStore>>;
}

impl<F, Fut> Factory for F
where
    F: Fn(WideColumnSettings) -> Fut,
    Fut: std::future::Future<Output = crate::support::Fixture<dyn WideColumnStore>>,
{
    type Future = Fut;
}

/// Rows of a `user`, ordered by `(at, seq)`.
pub fn events() -> WideColumnSettings {
    WideColumnSettings::new(vec!["user".into()], vec!["at".into(), "seq".into()])
}

/// A row of any shape.
pub fn row(partition: Vec<Value>, clustering: Vec<Value>, pairs: &[(&str, Value)]) -> WideRow {
    WideRow {
        partition,
        clustering,
        cells: cells(pairs),
    }
}

/// Cells from pairs.
pub fn cells(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect()
}

/// An event row of [`events`].
pub fn event(user: &str, at: i64, seq: i64, cells: &[(&str, Value)]) -> WideRow {
    row(vec![user.into()], vec![at.into(), seq.into()], cells)
}

/// Writes `row` with default options.
pub async fn put(store: &dyn WideColumnStore, row: WideRow) {
    store.put(row, WriteOptions::default()).await.unwrap();
}

/// Writes `row` stamped `timestamp`.
pub async fn put_at(store: &dyn WideColumnStore, row: WideRow, timestamp: i64) {
    let options = WriteOptions {
        timestamp: Some(timestamp),
        ..WriteOptions::default()
    };
    store.put(row, options).await.unwrap();
}

/// The clustering keys `query` returns, in order.
pub async fn keys(store: &dyn WideColumnStore, query: SliceQuery) -> Vec<Vec<Value>> {
    let rows = store.slice(&query).await.unwrap();
    rows.into_iter().map(|row| row.clustering).collect()
}

/// `(at, seq)` clustering keys.
pub fn at_seq(pairs: &[(i64, i64)]) -> Vec<Vec<Value>> {
    pairs
        .iter()
        .map(|(at, seq)| vec![Value::Int(*at), Value::Int(*seq)])
        .collect()
}

/// The cells of the row at `(partition, clustering)`, which must exist.
pub async fn cells_of(
    store: &dyn WideColumnStore,
    partition: &[Value],
    clustering: &[Value],
) -> BTreeMap<String, Value> {
    match store.get(partition, clustering).await.unwrap() {
        Some(row) => row.cells,
        None => panic!("no row at {partition:?} {clustering:?}"),
    }
}

/// Asserts `result` failed as an invalid request whose message contains `needle`.
pub fn assert_invalid<T: std::fmt::Debug>(result: Result<T, StoreError>, needle: &str) {
    match result {
        Err(err @ StoreError::InvalidRequest { .. }) => {
            assert!(
                err.to_string().contains(needle),
                "`{err}` does not mention `{needle}`"
            );
        }
        other => panic!("expected an invalid request mentioning `{needle}`, got {other:?}"),
    }
}
