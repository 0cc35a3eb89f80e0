//! The InfluxDB 2 time-series backend, over its HTTP API (`/api/v2/write`, `/api/v2/query`,
//! `/api/v2/delete`).
//!
//! All entities of a store share one bucket; an entity's measurements are stored as
//! `<entity>.<measurement>` (entity names are identifiers, so the first `.` ends the prefix and
//! no entity's prefix is another's). Writes are line protocol ([`line`]), reads are Flux built
//! from the typed queries ([`flux`]) and answered as annotated CSV ([`csv`]).
//!
//! The HTTP API is used directly rather than through a client crate: the adapter needs its own
//! line-protocol escaping (refusing what cannot be represented), the `#datatype` annotations to
//! give every field back with its type, the delete API, and the status codes and error bodies
//! mapped in one place ([`error`]).

mod config;
mod csv;
mod error;
mod flux;
mod line;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::json;

pub use config::Config;
use csv::Table;
use error::{map_status, map_transport};

use crate::backend::{Backend, BackendDescriptor};
use crate::kinds::time_series::{
    FieldValue, LastPoint, Point, RangeQuery, SeriesData, TagFilter, TimeSeriesStore, WindowQuery,
    WindowSeries,
};
use crate::store::{wrong_settings, ConnectContext};
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind,
};

/// Columns of Flux results that are not tags.
const NOT_TAGS: &[&str] = &[
    "result",
    "table",
    "_start",
    "_stop",
    "_time",
    "_value",
    "_field",
    "_measurement",
];

/// Tag keys that would collide with the columns of Flux results.
const RESERVED_TAGS: &[&str] = &[
    "result",
    "table",
    "_start",
    "_stop",
    "_time",
    "_value",
    "_field",
    "_measurement",
    "time",
];

/// The HTTP API of one server, bucket and organisation.
struct Client {
    http: reqwest::Client,
    url: String,
    org: String,
    bucket: String,
    token: String,
    batch_size: usize,
    request_timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InfluxDB")
            .field("url", &self.url)
            .field("org", &self.org)
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

impl Client {
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<String> {
        let response = request
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Token {}", self.token),
            )
            .send()
            .await
            .map_err(|err| map_transport(err, &self.url, self.request_timeout))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|err| map_transport(err, &self.url, self.request_timeout))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(map_status(status.as_u16(), &body))
        }
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Sends line protocol; returns once InfluxDB has accepted it.
    async fn write(&self, lines: String) -> Result<()> {
        let request = self
            .http
            .post(self.endpoint("/api/v2/write"))
            .query(&[
                ("org", self.org.as_str()),
                ("bucket", self.bucket.as_str()),
                ("precision", "ns"),
            ])
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(lines);
        self.send(request).await.map(drop)
    }

    /// Runs a Flux query and splits its annotated CSV answer into tables.
    async fn query(&self, flux: &str) -> Result<Vec<Table>> {
        let request = self
            .http
            .post(self.endpoint("/api/v2/query"))
            .query(&[("org", self.org.as_str())])
            .header(reqwest::header::ACCEPT, "application/csv")
            .json(&json!({
                "query": flux,
                "type": "flux",
                "dialect": {
                    "header": true,
                    "delimiter": ",",
                    "annotations": ["datatype", "group"],
                },
            }));
        csv::tables(&self.send(request).await?)
    }

    /// Deletes the points of `predicate` in `[start, stop]`.
    async fn delete(&self, start: i64, stop: i64, predicate: &str) -> Result<()> {
        let request = self
            .http
            .post(self.endpoint("/api/v2/delete"))
            .query(&[("org", self.org.as_str()), ("bucket", self.bucket.as_str())])
            .json(&json!({
                "start": csv::format_time(start),
                "stop": csv::format_time(stop),
                "predicate": predicate,
            }));
        self.send(request).await.map(drop)
    }

    /// Checks the server answers, the token is accepted and the bucket exists.
    async fn check_bucket(&self) -> Result<()> {
        let request = self
            .http
            .get(self.endpoint("/api/v2/buckets"))
            .query(&[("org", self.org.as_str()), ("name", self.bucket.as_str())]);
        let body = self.send(request).await?;
        let found = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|json| json.get("buckets").and_then(|b| b.as_array()).map(Vec::len))
            .unwrap_or(0);
        if found == 0 {
            return Err(StoreError::invalid(format!(
                "InfluxDB has no bucket `{}` in organisation `{}`",
                self.bucket, self.org
            )));
        }
        Ok(())
    }
}

/// An InfluxDB 2 bucket holding time-series entities.
#[derive(Clone, Debug)]
pub struct InfluxTimeSeries {
    client: Arc<Client>,
}

impl InfluxTimeSeries {
    /// Builds the HTTP client and checks, within `connect_timeout`, that the server answers,
    /// accepts the token and has the bucket.
    pub async fn open(config: Config) -> Result<Self> {
        let connect_timeout = config.connect_timeout.0;
        let request_timeout = config.request_timeout.0;
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(request_timeout)
            .build()
            .map_err(|err| StoreError::backend_with("cannot build the HTTP client", err))?;
        let url = config.url.trim_end_matches('/').to_owned();
        let client = Client {
            http,
            url: url.clone(),
            org: config.org,
            bucket: config.bucket,
            token: config.token,
            batch_size: config.batch_size.get(),
            request_timeout,
        };
        match tokio::time::timeout(connect_timeout, client.check_bucket()).await {
            Ok(Ok(())) => {}
            Ok(Err(StoreError::Timeout { after })) => {
                return Err(StoreError::unavailable(format!(
                    "InfluxDB at {url} did not answer within {after:?}"
                )))
            }
            Ok(Err(err)) => return Err(err),
            Err(_) => {
                return Err(StoreError::unavailable(format!(
                    "InfluxDB at {url} did not answer within connect_timeout ({connect_timeout:?})"
                )))
            }
        }
        Ok(InfluxTimeSeries {
            client: Arc::new(client),
        })
    }
}

/// The InfluxDB 2 backend, as the registry lists it.
pub const BACKENDS: &[BackendDescriptor] = &[BackendDescriptor::of::<InfluxTimeSeries>(
    StoreKind::TimeSeries,
    "influxdb",
    "InfluxDB 2 over HTTP: line-protocol writes, Flux reads, the delete API",
)];

impl Backend for InfluxTimeSeries {
    type Config = Config;

    async fn connect(_: StoreKind, config: Config, _: &ConnectContext) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(InfluxTimeSeries::open(config).await?))
    }
}

#[async_trait]
impl Store for InfluxTimeSeries {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::TimeSeries,
            backend: "influxdb",
            capabilities: Capabilities {
                durable: true,
                ordered_scan: true,
                batch_writes: true,
                ..Capabilities::default()
            },
        }
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::TimeSeries(settings) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        Ok(EntityHandle::TimeSeries(Arc::new(InfluxEntity {
            client: Arc::clone(&self.client),
            prefix: format!("{}.", entity.name),
            retention: settings.retention,
        })))
    }

    async fn ping(&self) -> Result<()> {
        let request = self.client.http.get(self.client.endpoint("/ping"));
        self.client.send(request).await.map(drop)
    }
}

/// One entity: its measurement prefix and retention.
#[derive(Debug)]
struct InfluxEntity {
    client: Arc<Client>,
    prefix: String,
    retention: Option<Duration>,
}

fn now_ns() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

fn field_kind(value: &FieldValue) -> &'static str {
    match value {
        FieldValue::Float(_) => "float",
        FieldValue::Int(_) => "integer",
        FieldValue::Bool(_) => "boolean",
        FieldValue::Text(_) => "string",
    }
}

/// The tag set of a table: its group-key columns that are tags, with a value.
fn table_tags(table: &Table, row: &[String]) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    for (i, column) in table.columns.iter().enumerate() {
        if table.group.get(i).copied().unwrap_or(false) && !NOT_TAGS.contains(&column.as_str()) {
            if let Some(value) = row.get(i).filter(|v| !v.is_empty()) {
                tags.insert(column.clone(), value.clone());
            }
        }
    }
    tags
}

fn required(table: &Table, name: &str) -> Result<usize> {
    table.column(name).ok_or_else(|| {
        StoreError::backend(format!(
            "InfluxDB returned a table without a `{name}` column"
        ))
    })
}

fn cell(row: &[String], index: usize) -> &str {
    row.get(index).map(String::as_str).unwrap_or("")
}

/// One raw value: the series' tags, the field, the time and the value.
type RawPoint = (BTreeMap<String, String>, String, i64, FieldValue);

/// Every `(tags, field, time, value)` of raw-point tables.
fn raw_points(tables: &[Table]) -> Result<Vec<RawPoint>> {
    let mut out = Vec::new();
    for table in tables {
        let (time, value, field) = (
            required(table, "_time")?,
            required(table, "_value")?,
            required(table, "_field")?,
        );
        let datatype = table.types.get(value).map(String::as_str).unwrap_or("");
        for row in &table.rows {
            out.push((
                table_tags(table, row),
                cell(row, field).to_owned(),
                csv::parse_time(cell(row, time))?,
                csv::field_value(datatype, cell(row, value))?,
            ));
        }
    }
    Ok(out)
}

/// Window aggregate tables as groups ordered by tag set, windows by start. A window's start is
/// its `_start` rounded down to a multiple of `every`: Flux clamps the first window's `_start` to
/// the range start, and windows are aligned to the epoch.
fn window_series(tables: &[Table], group_by: &[String], every: i64) -> Result<Vec<WindowSeries>> {
    let mut groups: BTreeMap<BTreeMap<String, String>, BTreeMap<i64, f64>> = BTreeMap::new();
    for table in tables {
        let (start, value) = (required(table, "_start")?, required(table, "_value")?);
        for row in &table.rows {
            let mut group = BTreeMap::new();
            for tag in group_by {
                if let Some(v) = table
                    .column(tag)
                    .map(|i| cell(row, i))
                    .filter(|v| !v.is_empty())
                {
                    group.insert(tag.clone(), v.to_owned());
                }
            }
            if cell(row, value).is_empty() {
                continue;
            }
            let window = csv::parse_time(cell(row, start))?.div_euclid(every) * every;
            groups
                .entry(group)
                .or_default()
                .insert(window, csv::parse_float(cell(row, value))?);
        }
    }
    Ok(groups
        .into_iter()
        .map(|(group, windows)| WindowSeries {
            group,
            windows: windows.into_iter().collect(),
        })
        .collect())
}

/// The last value of every field of every series as the newest point of each series: the
/// fields whose last value is at the series' newest timestamp.
fn last_points(tables: &[Table]) -> Result<Vec<LastPoint>> {
    let mut series: BTreeMap<BTreeMap<String, String>, (i64, BTreeMap<String, FieldValue>)> =
        BTreeMap::new();
    for (tags, field, time, value) in raw_points(tables)? {
        let entry = series.entry(tags).or_insert((time, BTreeMap::new()));
        if time > entry.0 {
            *entry = (time, BTreeMap::new());
        }
        if time == entry.0 {
            entry.1.insert(field, value);
        }
    }
    Ok(series
        .into_iter()
        .map(|(tags, (timestamp, fields))| LastPoint {
            tags: Arc::new(tags),
            timestamp,
            fields: Arc::new(fields),
        })
        .collect())
}

impl InfluxEntity {
    fn measurement(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// `[start, end)` narrowed by the retention and to what InfluxDB stores.
    fn window_of(&self, start: i64, end: i64) -> Option<(i64, i64)> {
        let start = match self.retention {
            Some(retention) => {
                let horizon = now_ns()
                    .saturating_sub(i64::try_from(retention.as_nanos()).unwrap_or(i64::MAX));
                start.max(horizon)
            }
            None => start,
        };
        flux::clamp(start, end)
    }

    fn check_points(points: &[Point]) -> Result<()> {
        let mut kinds: HashMap<(&str, &str), &'static str> = HashMap::new();
        for point in points {
            point.check_shape()?;
            if let Some(tag) = point
                .tags
                .keys()
                .find(|k| RESERVED_TAGS.contains(&k.as_str()))
            {
                return Err(StoreError::invalid(format!(
                    "tag key `{tag}` is reserved by InfluxDB and Flux; rename the tag"
                )));
            }
            for (field, value) in &point.fields {
                let kind = field_kind(value);
                let seen = kinds
                    .entry((point.measurement.as_str(), field.as_str()))
                    .or_insert(kind);
                if *seen != kind {
                    return Err(StoreError::invalid(format!(
                        "field `{field}` of `{}` is written as {seen} and as {kind} in one \
                         batch; a field keeps one type per measurement",
                        point.measurement
                    )));
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl TimeSeriesStore for InfluxEntity {
    async fn write(&self, points: Vec<Point>) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        Self::check_points(&points)?;
        // Every line is built (and checked) before anything is sent.
        let mut chunks = Vec::new();
        for chunk in points.chunks(self.client.batch_size) {
            let mut lines = String::new();
            for point in chunk {
                line::push_line(&mut lines, &self.measurement(&point.measurement), point)?;
            }
            chunks.push(lines);
        }
        for lines in chunks {
            self.client.write(lines).await?;
        }
        Ok(())
    }

    async fn range(&self, query: &RangeQuery) -> Result<Vec<SeriesData>> {
        let Some(bounds) = self.window_of(query.start, query.end) else {
            return Ok(Vec::new());
        };
        if query.limit == Some(0) {
            return Ok(Vec::new());
        }
        let flux = flux::range(
            &self.client.bucket,
            &self.measurement(&query.measurement),
            bounds,
            &query.tags,
            &query.fields,
            query.limit,
        );
        let tables = self.client.query(&flux).await?;
        let mut series: BTreeMap<
            BTreeMap<String, String>,
            BTreeMap<i64, BTreeMap<String, FieldValue>>,
        > = BTreeMap::new();
        for (tags, field, time, value) in raw_points(&tables)? {
            series
                .entry(tags)
                .or_default()
                .entry(time)
                .or_default()
                .insert(field, value);
        }
        Ok(series
            .into_iter()
            .map(|(tags, points)| {
                let kept: Vec<(i64, BTreeMap<String, FieldValue>)> = match query.limit {
                    Some(limit) => points.into_iter().take(limit).collect(),
                    None => points.into_iter().collect(),
                };
                let names: std::collections::BTreeSet<String> = kept
                    .iter()
                    .flat_map(|(_, fields)| fields.keys().cloned())
                    .collect();
                let mut data = SeriesData {
                    tags,
                    timestamps: kept.iter().map(|(t, _)| *t).collect(),
                    fields: BTreeMap::new(),
                };
                for name in names {
                    let column = kept
                        .iter()
                        .map(|(_, fields)| fields.get(&name).cloned())
                        .collect();
                    data.fields.insert(name, column);
                }
                data
            })
            .collect())
    }

    async fn window(&self, query: &WindowQuery) -> Result<Vec<WindowSeries>> {
        let every = i64::try_from(query.every.as_nanos()).unwrap_or(i64::MAX);
        if every == 0 {
            return Err(StoreError::invalid(
                "a window's width (`every`) must not be zero",
            ));
        }
        let measurement = self.measurement(&query.measurement);
        let probe = flux::field_type(&self.client.bucket, &measurement, &query.field);
        let tables = self.client.query(&probe).await?;
        if tables.iter().all(|t| t.rows.is_empty()) {
            return Ok(Vec::new());
        }
        for table in &tables {
            let value = required(table, "_value")?;
            let datatype = table.types.get(value).map(String::as_str).unwrap_or("");
            if !matches!(datatype, "double" | "long" | "unsignedLong") {
                return Err(StoreError::invalid(format!(
                    "field `{}` of `{}` holds {datatype} values, which cannot be aggregated",
                    query.field, query.measurement
                )));
            }
        }
        let Some(bounds) = self.window_of(query.start, query.end) else {
            return Ok(Vec::new());
        };
        let flux = flux::window(
            &self.client.bucket,
            &measurement,
            &query.field,
            bounds,
            &query.tags,
            every,
            query.aggregate,
            &query.group_by,
        );
        let tables = self.client.query(&flux).await?;
        window_series(&tables, &query.group_by, every)
    }

    async fn last(&self, measurement: &str, tags: &TagFilter) -> Result<Vec<LastPoint>> {
        let Some(bounds) = self.window_of(i64::MIN, i64::MAX) else {
            return Ok(Vec::new());
        };
        let flux = flux::last(
            &self.client.bucket,
            &self.measurement(measurement),
            bounds,
            tags,
        );
        let tables = self.client.query(&flux).await?;
        last_points(&tables)
    }

    async fn delete_before(&self, before: i64) -> Result<u64> {
        let before = before.min(flux::MAX_TIME.saturating_add(1));
        if before <= flux::MIN_TIME {
            return Ok(0);
        }
        let flux = flux::measurements(&self.client.bucket, &self.prefix);
        let mut measurements = Vec::new();
        for table in self.client.query(&flux).await? {
            let value = required(&table, "_value")?;
            for row in &table.rows {
                let name = cell(row, value);
                if name.starts_with(&self.prefix) {
                    measurements.push(name.to_owned());
                }
            }
        }
        for measurement in measurements {
            self.client
                .delete(
                    flux::MIN_TIME,
                    before - 1,
                    &flux::delete_predicate(&measurement),
                )
                .await?;
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn point(measurement: &str, field: &str, value: FieldValue) -> Point {
        Point {
            measurement: measurement.into(),
            tags: BTreeMap::new(),
            fields: [(field.to_owned(), value)].into(),
            timestamp: 0,
        }
    }

    #[test]
    fn one_batch_keeps_one_type_per_field_and_measurement() {
        let ok = [
            point("m", "v", FieldValue::Int(1)),
            point("m", "v", FieldValue::Int(2)),
            point("n", "v", FieldValue::Text("x".into())),
        ];
        assert!(InfluxEntity::check_points(&ok).is_ok());
        let clash = [
            point("m", "v", FieldValue::Int(1)),
            point("m", "v", FieldValue::Float(2.0)),
        ];
        let err = InfluxEntity::check_points(&clash).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(err.to_string().contains("`v`"), "{err}");
    }

    #[test]
    fn reserved_tags_and_bad_shapes_are_refused() {
        let mut p = point("m", "v", FieldValue::Int(1));
        p.tags.insert("_field".into(), "x".into());
        assert!(InfluxEntity::check_points(&[p]).is_err());
        let empty = point("", "v", FieldValue::Int(1));
        assert!(InfluxEntity::check_points(&[empty]).is_err());
    }

    #[test]
    fn raw_tables_become_points_with_their_types() {
        let text = "#group,false,false,true,true,false,false,true\n\
            #datatype,string,long,string,string,dateTime:RFC3339,long,string\n\
            ,result,table,_field,_measurement,_time,_value,host\n\
            ,_result,0,v,e.cpu,1970-01-01T00:00:00.000000001Z,7,a\n\
            \n\
            #group,false,false,true,true,false,false\n\
            #datatype,string,long,string,string,dateTime:RFC3339,string\n\
            ,result,table,_field,_measurement,_time,_value\n\
            ,_result,1,note,e.cpu,1970-01-01T00:00:00Z,\n";
        let tables = csv::tables(text).unwrap();
        let points = raw_points(&tables).unwrap();
        assert_eq!(points.len(), 2);
        assert_eq!(
            points[0].0,
            BTreeMap::from([("host".to_owned(), "a".to_owned())])
        );
        assert_eq!(points[0].1, "v");
        assert_eq!(points[0].2, 1);
        assert_eq!(points[0].3, FieldValue::Int(7));
        assert!(points[1].0.is_empty());
        assert_eq!(points[1].3, FieldValue::Text(String::new()));
    }

    #[test]
    fn windows_align_to_the_epoch_and_group_by_tags() {
        // Flux clamped the first window's start to the range start (5s).
        let text = "#group,false,false,true,false,false\n\
            #datatype,string,long,string,dateTime:RFC3339,double\n\
            ,result,table,host,_start,_value\n\
            ,_result,0,b,1970-01-01T00:00:05Z,2\n\
            ,_result,1,b,1970-01-01T00:00:10Z,4\n\
            ,_result,2,a,1970-01-01T00:00:10Z,1.5\n\
            \n\
            #group,false,false,false,false\n\
            #datatype,string,long,dateTime:RFC3339,double\n\
            ,result,table,_start,_value\n\
            ,_result,3,1970-01-01T00:00:20Z,7\n";
        let tables = csv::tables(text).unwrap();
        let every = 10_000_000_000;
        let groups = window_series(&tables, &["host".to_owned()], every).unwrap();
        assert_eq!(groups.len(), 3);
        // The group lacking the tag sorts first (the empty tag set).
        assert!(groups[0].group.is_empty());
        assert_eq!(groups[0].windows, vec![(20_000_000_000, 7.0)]);
        assert_eq!(groups[1].group["host"], "a");
        assert_eq!(groups[2].windows, vec![(0, 2.0), (every, 4.0)]);
    }

    #[test]
    fn the_last_point_holds_the_fields_of_the_newest_timestamp() {
        let text = "#group,false,false,true,true,false,false,true\n\
            #datatype,string,long,string,string,dateTime:RFC3339,double,string\n\
            ,result,table,_field,_measurement,_time,_value,host\n\
            ,_result,0,old,e.cpu,1970-01-01T00:00:01Z,1,a\n\
            ,_result,1,v,e.cpu,1970-01-01T00:00:02Z,2,a\n\
            ,_result,2,w,e.cpu,1970-01-01T00:00:02Z,3,a\n\
            ,_result,3,v,e.cpu,1970-01-01T00:00:01Z,9,b\n";
        let last = last_points(&csv::tables(text).unwrap()).unwrap();
        assert_eq!(last.len(), 2);
        assert_eq!(last[0].timestamp, 2_000_000_000);
        assert_eq!(
            *last[0].fields,
            BTreeMap::from([
                ("v".to_owned(), FieldValue::Float(2.0)),
                ("w".to_owned(), FieldValue::Float(3.0)),
            ])
        );
        assert_eq!(last[1].tags["host"], "b");
    }
}
