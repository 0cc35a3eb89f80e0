//! Time-series: one series per group (`grp` tag), a float field `n`, points a minute apart.

use std::collections::BTreeMap;
use std::time::Duration;

use polyroute_adapters::kinds::time_series::{
    Aggregate, FieldValue, Point, RangeQuery, TagFilter, TimeSeriesStore, WindowQuery,
};
use polyroute_adapters::StoreError;

use super::{timed, Step};
use crate::replay::data::{Data, Picker, BASE_NS, ROWS_PER_GROUP, STEP_NS};
use crate::spec::{Access, Op};

const MEASUREMENT: &str = "m";

fn point(i: usize, ts: i64, n: f64) -> Point {
    Point {
        measurement: MEASUREMENT.to_owned(),
        tags: BTreeMap::from([("grp".to_owned(), Data::group(i).to_string())]),
        fields: BTreeMap::from([("n".to_owned(), FieldValue::Float(n))]),
        timestamp: ts,
    }
}

pub(super) async fn load(store: &dyn TimeSeriesStore, data: &Data) -> Result<(), StoreError> {
    let mut batch = Vec::new();
    for i in 0..data.records {
        batch.push(point(i, Data::time(i), i as f64));
        if batch.len() >= 1000 {
            store.write(std::mem::take(&mut batch)).await?;
        }
    }
    store.write(batch).await
}

fn range(start: i64, end: i64, tags: TagFilter) -> RangeQuery {
    RangeQuery {
        measurement: MEASUREMENT.to_owned(),
        start,
        end,
        tags,
        fields: Vec::new(),
        limit: None,
    }
}

pub(super) async fn run(
    store: &dyn TimeSeriesStore,
    data: &Data,
    access: &Access,
    pick: &mut Picker,
    step: usize,
) -> Result<Step, StoreError> {
    let i = pick.below(data.records);
    let series = TagFilter::all().eq("grp", &Data::group(i).to_string());
    let end = BASE_NS + ROWS_PER_GROUP as i64 * STEP_NS;
    let window = |every: Duration, group_by: Vec<String>| WindowQuery {
        measurement: MEASUREMENT.to_owned(),
        field: "n".to_owned(),
        start: BASE_NS,
        end,
        every,
        aggregate: Aggregate::Mean,
        group_by,
        tags: TagFilter::all(),
    };
    let took = match access.op {
        Op::Append => timed(store.write(vec![point(i, end + step as i64, step as f64)])).await?,
        Op::Put | Op::Update => {
            timed(store.write(vec![point(i, Data::time(i), step as f64)])).await?
        }
        Op::Get => timed(store.range(&range(Data::time(i), Data::time(i) + 1, series))).await?,
        Op::RangeScan => {
            timed(store.range(&range(BASE_NS, BASE_NS + 20 * STEP_NS, series))).await?
        }
        Op::PartitionScan => timed(store.range(&range(BASE_NS, i64::MAX, series))).await?,
        Op::Filter => {
            // A filter on a tag: every point of the matching series.
            timed(store.range(&range(BASE_NS, i64::MAX, series))).await?
        }
        Op::Latest => timed(store.last(MEASUREMENT, &series)).await?,
        Op::WindowAggregate => {
            timed(store.window(&window(Duration::from_secs(600), vec!["grp".to_owned()]))).await?
        }
        Op::Aggregate => {
            // One window over the whole span, grouped: an ad-hoc group-by.
            let span = Duration::from_nanos((end - BASE_NS).unsigned_abs());
            timed(store.window(&window(span, vec!["grp".to_owned()]))).await?
        }
        Op::Expire | Op::Delete => timed(store.delete_before(BASE_NS - STEP_NS)).await?,
        _ => return Ok(Step::NotServed),
    };
    Ok(Step::Timed(took))
}
