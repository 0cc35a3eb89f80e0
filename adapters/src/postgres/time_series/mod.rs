//! The PostgreSQL time-series backend: three tables per entity.
//!
//! - `ts_<entity>_series (series_id BIGSERIAL, measurement, tags JSONB)`, unique on
//!   `(measurement, tags)`, with a GIN index (`jsonb_path_ops`) on `tags` for tag filters, which
//!   are jsonpath predicates;
//! - `ts_<entity>_fields (measurement, field, type)`: the one type each field holds;
//! - `ts_<entity>_points (series_id, time BIGINT, fields JSONB)`, keyed `(series_id, time)`
//!   with a BRIN index on `time` for deletes and retention (points arrive roughly in time
//!   order, so block ranges stay narrow).
//!
//! A write batch is one transaction: field types are recorded (or checked against those
//! recorded), series created, then points upserted in key order, merging the fields of a point
//! written again at the same instant (`fields || excluded.fields`). Range and last reads scan
//! the primary key per series; window aggregates run in SQL, floor-dividing nanoseconds to
//! epoch-aligned windows. With a retention, reads hide older points and a task deletes them
//! every `purge_interval`.

mod encode;
mod sql;
mod write;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::Value as Json;

use super::config::Config;
use super::migrate;
use super::pool::PgPool;
use super::purge::spawn_purge;
use crate::kinds::time_series::{
    LastPoint, Point, RangeQuery, SeriesData, TagFilter, TimeSeriesStore, WindowQuery, WindowSeries,
};
use crate::store::wrong_settings;
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind,
};
use encode::{from_json, tag_predicate, tags_from_json, FieldType};
use sql::{Sql, PURGE_BATCH};

/// A PostgreSQL database holding time-series entities, three tables each.
#[derive(Clone, Debug)]
pub struct PostgresTimeSeries {
    pool: PgPool,
    purge_interval: Duration,
}

impl PostgresTimeSeries {
    /// Connects the pool and makes sure the schema exists.
    pub async fn open(config: Config) -> Result<Self> {
        Ok(PostgresTimeSeries {
            pool: PgPool::connect(&config).await?,
            purge_interval: config.purge_interval.0,
        })
    }
}

fn nanos(duration: Duration, what: &str) -> Result<i64> {
    match i64::try_from(duration.as_nanos()) {
        Ok(0) => Err(StoreError::invalid(format!(
            "{what} must be more than zero"
        ))),
        Ok(n) => Ok(n),
        Err(_) => Err(StoreError::invalid(format!(
            "{what} of {duration:?} is too long; at most 292 years"
        ))),
    }
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[async_trait]
impl Store for PostgresTimeSeries {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::TimeSeries,
            backend: "postgres",
            capabilities: Capabilities {
                ordered_scan: true,
                durable: self.pool.is_durable(),
                batch_writes: true,
                ..Capabilities::default()
            },
        }
    }

    async fn open(&self, spec: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::TimeSeries(settings) = &spec.settings else {
            return Err(wrong_settings(&self.info(), spec));
        };
        let retention = settings
            .retention
            .map(|r| nanos(r, "retention"))
            .transpose()?;
        let sql = Sql::new(&self.pool, &spec.name);
        migrate::apply(
            &self.pool,
            &format!("ts:{}", spec.name),
            std::slice::from_ref(&sql.create),
            &[],
        )
        .await?;
        let handle = Arc::new(Entity {
            pool: self.pool.clone(),
            sql,
            retention,
            types: RwLock::new(HashMap::new()),
        });
        if retention.is_some() {
            spawn_purge(
                Arc::downgrade(&handle),
                self.purge_interval,
                "deleting time-series points past the retention",
                |entity| async move { entity.purge().await },
            );
        }
        Ok(EntityHandle::TimeSeries(handle))
    }

    async fn ping(&self) -> Result<()> {
        self.pool.ping().await
    }
}

/// Field types by measurement and field, as recorded; a recorded type never changes.
type Types = HashMap<(String, String), FieldType>;

/// One entity's handle.
#[derive(Debug)]
struct Entity {
    pool: PgPool,
    sql: Sql,
    /// Retention in nanoseconds.
    retention: Option<i64>,
    /// Recorded field types seen so far.
    types: RwLock<Types>,
}

impl Entity {
    /// The oldest visible timestamp.
    fn visible_from(&self) -> i64 {
        self.retention
            .map_or(i64::MIN, |r| now_nanos().saturating_sub(r))
    }

    fn cached_type(&self, measurement: &str, field: &str) -> Option<FieldType> {
        let types = self.types.read().unwrap_or_else(|e| e.into_inner());
        types
            .get(&(measurement.to_owned(), field.to_owned()))
            .copied()
    }

    fn remember(&self, found: impl IntoIterator<Item = ((String, String), FieldType)>) {
        let mut types = self.types.write().unwrap_or_else(|e| e.into_inner());
        types.extend(found);
    }

    /// Loads the recorded types of `measurement` unless every one of `fields` is known.
    async fn load_types<'a>(
        &self,
        measurement: &str,
        fields: impl IntoIterator<Item = &'a str>,
    ) -> Result<()> {
        if fields
            .into_iter()
            .all(|f| self.cached_type(measurement, f).is_some())
        {
            return Ok(());
        }
        let client = self.pool.get().await?;
        let statement = self
            .pool
            .prepare(&client, &self.sql.measurement_types)
            .await?;
        let rows = client
            .query(&statement, &[&measurement])
            .await
            .map_err(|e| self.pool.error(e))?;
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            let code: &str = row.get(1);
            found.push((
                (measurement.to_owned(), row.get::<_, String>(0)),
                FieldType::from_code(code)?,
            ));
        }
        self.remember(found);
        Ok(())
    }

    /// Stored fields as values, keeping those `wanted` (all when empty).
    fn decode_fields(
        &self,
        measurement: &str,
        fields: Json,
        wanted: &[String],
    ) -> Result<BTreeMap<String, crate::kinds::time_series::FieldValue>> {
        let Json::Object(fields) = fields else {
            return Err(StoreError::backend("stored fields are not a JSON object"));
        };
        let mut out = BTreeMap::new();
        for (name, value) in fields {
            if !wanted.is_empty() && !wanted.contains(&name) {
                continue;
            }
            let kind = self.cached_type(measurement, &name).ok_or_else(|| {
                StoreError::backend(format!(
                    "field `{name}` of `{measurement}` has no recorded type"
                ))
            })?;
            out.insert(name, from_json(value, kind)?);
        }
        Ok(out)
    }

    async fn purge(&self) -> Result<()> {
        let cutoff = self.visible_from();
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, &self.sql.purge).await?;
        while client
            .execute(&statement, &[&cutoff])
            .await
            .map_err(|e| self.pool.error(e))?
            == PURGE_BATCH
        {}
        Ok(())
    }
}

/// Field names in stored field objects.
fn field_names(rows: &[tokio_postgres::Row], column: usize) -> Vec<String> {
    let mut names: Vec<String> = rows
        .iter()
        .filter_map(|row| match row.try_get::<_, Json>(column) {
            Ok(Json::Object(fields)) => Some(fields.keys().cloned().collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

#[async_trait]
impl TimeSeriesStore for Entity {
    async fn write(&self, points: Vec<Point>) -> Result<()> {
        self.write_batch(points).await
    }

    async fn range(&self, query: &RangeQuery) -> Result<Vec<SeriesData>> {
        let start = query.start.max(self.visible_from());
        if start >= query.end || query.limit == Some(0) {
            return Ok(Vec::new());
        }
        let Some(predicate) = tag_predicate(&query.tags) else {
            return Ok(Vec::new());
        };
        let limit = query.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows = {
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, &self.sql.range).await?;
            client
                .query(
                    &statement,
                    &[
                        &query.measurement,
                        &predicate,
                        &start,
                        &query.end,
                        &query.fields,
                        &limit,
                    ],
                )
                .await
                .map_err(|e| self.pool.error(e))?
        };
        let names = field_names(&rows, 3);
        self.load_types(&query.measurement, names.iter().map(String::as_str))
            .await?;
        let mut out: Vec<SeriesData> = Vec::new();
        let mut current: Option<i64> = None;
        for row in rows {
            let id: i64 = row.get(0);
            if current != Some(id) {
                current = Some(id);
                out.push(SeriesData {
                    tags: tags_from_json(row.get(1))?,
                    ..SeriesData::default()
                });
            }
            let Some(series) = out.last_mut() else {
                continue;
            };
            let at = series.timestamps.len();
            series.timestamps.push(row.get(2));
            let fields = self.decode_fields(&query.measurement, row.get(3), &query.fields)?;
            for (name, value) in fields {
                let column = series.fields.entry(name).or_default();
                column.resize(at, None);
                column.push(Some(value));
            }
        }
        for series in &mut out {
            let n = series.timestamps.len();
            for column in series.fields.values_mut() {
                column.resize(n, None);
            }
        }
        out.sort_by(|a, b| a.tags.cmp(&b.tags));
        Ok(out)
    }

    async fn window(&self, query: &WindowQuery) -> Result<Vec<WindowSeries>> {
        let every = nanos(query.every, "window width `every`")?;
        self.load_types(&query.measurement, [query.field.as_str()])
            .await?;
        match self.cached_type(&query.measurement, &query.field) {
            None => return Ok(Vec::new()),
            Some(kind) if !kind.is_numeric() => {
                return Err(StoreError::invalid(format!(
                    "field `{}` of `{}` holds {} values; window aggregates need a float or integer field",
                    query.field,
                    query.measurement,
                    kind.name()
                )))
            }
            Some(_) => {}
        }
        let start = query.start.max(self.visible_from());
        if start >= query.end {
            return Ok(Vec::new());
        }
        let Some(predicate) = tag_predicate(&query.tags) else {
            return Ok(Vec::new());
        };
        let client = self.pool.get().await?;
        let statement = self
            .pool
            .prepare(&client, &self.sql.window(query.aggregate))
            .await?;
        let rows = client
            .query(
                &statement,
                &[
                    &query.measurement,
                    &predicate,
                    &start,
                    &query.end,
                    &query.group_by,
                    &every,
                    &query.field,
                ],
            )
            .await
            .map_err(|e| self.pool.error(e))?;
        let mut groups: BTreeMap<BTreeMap<String, String>, Vec<(i64, f64)>> = BTreeMap::new();
        for row in rows {
            let group = tags_from_json(row.get(0))?;
            let value: Option<f64> = row.get(2);
            if let Some(value) = value {
                groups.entry(group).or_default().push((row.get(1), value));
            }
        }
        Ok(groups
            .into_iter()
            .map(|(group, windows)| WindowSeries { group, windows })
            .collect())
    }

    async fn last(&self, measurement: &str, tags: &TagFilter) -> Result<Vec<LastPoint>> {
        let Some(predicate) = tag_predicate(tags) else {
            return Ok(Vec::new());
        };
        let visible_from = self.visible_from();
        let rows = {
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, &self.sql.last).await?;
            client
                .query(&statement, &[&measurement, &predicate, &visible_from])
                .await
                .map_err(|e| self.pool.error(e))?
        };
        let names = field_names(&rows, 2);
        self.load_types(measurement, names.iter().map(String::as_str))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(LastPoint {
                tags: Arc::new(tags_from_json(row.get(0))?),
                timestamp: row.get(1),
                fields: Arc::new(self.decode_fields(measurement, row.get(2), &[])?),
            });
        }
        out.sort_by(|a, b| a.tags.cmp(&b.tags));
        Ok(out)
    }

    async fn delete_before(&self, before: i64) -> Result<u64> {
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, &self.sql.delete_before).await?;
        client
            .execute(&statement, &[&before])
            .await
            .map_err(|e| self.pool.error(e))
    }
}
