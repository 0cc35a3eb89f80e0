//! The time-series behaviour suite.
//!
//! Timestamps stay inside the range every time-series database accepts (nanoseconds between
//! the years 1678 and 2262), and cases use measurements, tags and fields of their own, so they
//! hold for any backend that follows the `TimeSeriesStore` contract.

mod last_delete;
mod ranges;
mod windows;
mod writes;

pub use last_delete::*;
pub use ranges::*;
pub use windows::*;
pub use writes::*;

use std::collections::BTreeMap;

use polyroute_adapters::kinds::time_series::{
    FieldValue, Point, RangeQuery, SeriesData, TagFilter, TimeSeriesStore,
};

/// Runs each listed case as its own test against the backend made by `$factory`, an async fn
/// returning `Fixture<dyn TimeSeriesStore>` for a fresh entity without retention;
/// `$retention`, an async fn taking a `Duration` and returning a fresh entity with that
/// retention; and `$pair`, an async fn returning two fixtures for two entities on one store.
#[macro_export]
macro_rules! time_series_suite {
    ($factory:path, $retention:path, $pair:path) => {
        $crate::time_series_suite!($factory, $retention, $pair; []);
    };
    ($factory:path, $retention:path, $pair:path; [$($attr:tt)*]) => {
        $crate::__suite_cases!(time_series; $factory().await; [$($attr)*];
            empty_entity_has_nothing,
            every_field_type_round_trips,
            out_of_order_points_come_back_in_time_order,
            late_points_land_in_old_partitions,
            same_timestamp_overwrites_named_fields_and_keeps_others,
            points_with_different_fields_leave_gaps,
            invalid_point_fails_the_whole_batch,
            field_keeps_one_type_per_measurement,
            empty_batch_is_a_no_op,
            large_batches_round_trip,
            timestamps_before_the_epoch_and_far_ahead,
            unicode_names_and_values_round_trip,
            concurrent_writers_all_land,
            range_is_half_open,
            range_filters_by_tags,
            range_selects_fields,
            limit_caps_points_per_series_oldest_first,
            empty_or_inverted_range_is_empty,
            measurements_are_separate,
            window_aggregates_over_epoch_aligned_windows,
            window_groups_by_tags,
            window_without_group_by_folds_every_series,
            window_respects_range_and_tag_filter,
            window_counts_an_overwritten_point_once,
            window_of_integers_aggregates_as_floats,
            window_of_unknown_field_is_empty,
            window_of_text_field_is_invalid,
            window_of_zero_width_is_invalid,
            last_returns_the_newest_point_of_each_series,
            last_filters_by_tags,
            delete_before_removes_older_points_only,
            delete_before_then_write_again,
        );

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $($attr)*
        async fn retention_hides_points_older_than_it() {
            let fixture = $retention(std::time::Duration::from_secs(3600)).await;
            $crate::time_series::retention_hides_points_older_than_it(fixture).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $($attr)*
        async fn entities_on_one_store_are_isolated() {
            let [first, second] = $pair().await;
            $crate::time_series::entities_on_one_store_are_isolated(first, second).await;
        }
    };
}

/// A base instant: 2023-11-14T22:13:20Z in nanoseconds.
pub const T0: i64 = 1_700_000_000_000_000_000;

/// One second in nanoseconds.
pub const SEC: i64 = 1_000_000_000;

/// Tags from pairs.
pub fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A point of `measurement` with `tags` and `fields` at `timestamp`.
pub fn point(
    measurement: &str,
    tag_pairs: &[(&str, &str)],
    fields: &[(&str, FieldValue)],
    timestamp: i64,
) -> Point {
    Point {
        measurement: measurement.to_owned(),
        tags: tags(tag_pairs),
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        timestamp,
    }
}

/// A point with one float field `v`.
pub fn value(measurement: &str, tag_pairs: &[(&str, &str)], v: f64, timestamp: i64) -> Point {
    point(
        measurement,
        tag_pairs,
        &[("v", FieldValue::Float(v))],
        timestamp,
    )
}

/// A range query over `[start, end)` with every series and field.
pub fn range(measurement: &str, start: i64, end: i64) -> RangeQuery {
    RangeQuery {
        measurement: measurement.to_owned(),
        start,
        end,
        tags: TagFilter::all(),
        fields: Vec::new(),
        limit: None,
    }
}

/// Every stored point of `measurement` inside the supported time range.
pub async fn everything(store: &dyn TimeSeriesStore, measurement: &str) -> Vec<SeriesData> {
    store
        .range(&range(measurement, i64::MIN + 1, i64::MAX - 1))
        .await
        .unwrap()
}

/// The float column `name` of `series`, every row present.
pub fn floats(series: &SeriesData, name: &str) -> Vec<f64> {
    series.fields[name]
        .iter()
        .map(|v| match v {
            Some(FieldValue::Float(f)) => *f,
            other => panic!("expected a float, got {other:?}"),
        })
        .collect()
}
