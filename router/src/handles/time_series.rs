//! [`TimeSeries`]: the handle of a time-series entity.

use std::sync::Arc;
use std::time::Duration;

use polyroute_adapters::kinds::time_series::{
    LastPoint, Point, RangeQuery, SeriesData, TagFilter, TimeSeriesSettings, TimeSeriesStore,
    WindowQuery, WindowSeries,
};
use polyroute_adapters::Result;

use crate::call::CallContext;

/// A time-series entity: points with tags, read by range and aggregated by window.
#[derive(Clone, Debug)]
pub struct TimeSeries {
    store: Arc<dyn TimeSeriesStore>,
    settings: TimeSeriesSettings,
    context: CallContext,
}

impl TimeSeries {
    pub(crate) fn new(
        store: Arc<dyn TimeSeriesStore>,
        settings: TimeSeriesSettings,
        context: CallContext,
    ) -> Self {
        TimeSeries {
            store,
            settings,
            context,
        }
    }

    /// Who calls are for, and their deadline.
    pub fn context(&self) -> &CallContext {
        &self.context
    }

    /// How long points are kept (the entity's `retention`), if bounded.
    pub fn retention(&self) -> Option<Duration> {
        self.settings.retention
    }

    /// Writes points; late and out-of-order points are accepted.
    pub async fn write(&self, points: Vec<Point>) -> Result<()> {
        self.context.call("write", self.store.write(points)).await
    }

    /// Writes one point.
    pub async fn write_point(&self, point: Point) -> Result<()> {
        self.write(vec![point]).await
    }

    /// Raw points per series.
    pub async fn range(&self, query: &RangeQuery) -> Result<Vec<SeriesData>> {
        self.context
            .call_idempotent("range", || self.store.range(query))
            .await
    }

    /// Window aggregates per group.
    pub async fn window(&self, query: &WindowQuery) -> Result<Vec<WindowSeries>> {
        self.context
            .call_idempotent("window", || self.store.window(query))
            .await
    }

    /// The newest point of every series of `measurement` matching `tags`.
    pub async fn last(&self, measurement: &str, tags: &TagFilter) -> Result<Vec<LastPoint>> {
        self.context
            .call_idempotent("last", || self.store.last(measurement, tags))
            .await
    }

    /// Deletes every point older than `before` (nanoseconds since the epoch).
    pub async fn delete_before(&self, before: i64) -> Result<u64> {
        self.context
            .call_idempotent("delete_before", || self.store.delete_before(before))
            .await
    }
}
