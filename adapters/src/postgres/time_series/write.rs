//! A write batch, in one transaction: field types, then series, then points.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::encode::{tags_from_json, tags_json, to_json, type_clash, validate, FieldType};
use super::Entity;
use crate::kinds::time_series::Point;
use crate::{Result, StoreError};

type Tags = BTreeMap<String, String>;

impl Entity {
    pub(super) async fn write_batch(&self, points: Vec<Point>) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        // Checked before any round trip: the batch's own types, then the types known here.
        let mut types: Vec<((String, String), FieldType)> = validate(&points)?
            .into_iter()
            .map(|((m, f), kind)| ((m.to_owned(), f.to_owned()), kind))
            .collect();
        for ((measurement, field), kind) in &types {
            if let Some(known) = self.cached_type(measurement, field) {
                if known != *kind {
                    return Err(type_clash(measurement, field, known, *kind));
                }
            }
        }
        types.retain(|((m, f), _)| self.cached_type(m, f).is_none());
        // Sorted, so that concurrent batches take row locks in one order and cannot deadlock.
        types.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        // Points of one series at one instant merge, later fields over earlier ones.
        let mut merged: BTreeMap<(String, Tags), BTreeMap<i64, Map<String, Json>>> =
            BTreeMap::new();
        for point in points {
            let fields = merged
                .entry((point.measurement, point.tags))
                .or_default()
                .entry(point.timestamp)
                .or_default();
            for (name, value) in point.fields {
                fields.insert(name, to_json(value));
            }
        }

        let pool = &self.pool;
        let mut client = pool.get().await?;
        let tx = client.transaction().await.map_err(|e| pool.error(e))?;
        if !types.is_empty() {
            let measurements: Vec<&str> = types.iter().map(|((m, _), _)| m.as_str()).collect();
            let fields: Vec<&str> = types.iter().map(|((_, f), _)| f.as_str()).collect();
            let codes: Vec<&str> = types.iter().map(|(_, kind)| kind.code()).collect();
            let insert = tx
                .prepare_cached(&self.sql.insert_types)
                .await
                .map_err(|e| pool.error(e))?;
            tx.execute(&insert, &[&measurements, &fields, &codes])
                .await
                .map_err(|e| pool.error(e))?;
            let select = tx
                .prepare_cached(&self.sql.select_types)
                .await
                .map_err(|e| pool.error(e))?;
            let rows = tx
                .query(&select, &[&measurements, &fields])
                .await
                .map_err(|e| pool.error(e))?;
            let mut recorded = Vec::with_capacity(rows.len());
            for row in rows {
                let key = (row.get::<_, String>(0), row.get::<_, String>(1));
                let kind = FieldType::from_code(row.get(2))?;
                if let Some((_, written)) = types.iter().find(|(k, _)| *k == key) {
                    if *written != kind {
                        return Err(type_clash(&key.0, &key.1, kind, *written));
                    }
                }
                recorded.push((key, kind));
            }
            // Remembered only once committed; a rolled-back batch may have recorded them.
            types = recorded;
        }

        let measurements: Vec<&str> = merged.keys().map(|(m, _)| m.as_str()).collect();
        let tag_sets: Vec<Json> = merged.keys().map(|(_, t)| tags_json(t)).collect();
        let insert = tx
            .prepare_cached(&self.sql.insert_series)
            .await
            .map_err(|e| pool.error(e))?;
        tx.execute(&insert, &[&measurements, &tag_sets])
            .await
            .map_err(|e| pool.error(e))?;
        let select = tx
            .prepare_cached(&self.sql.select_series)
            .await
            .map_err(|e| pool.error(e))?;
        let rows = tx
            .query(&select, &[&measurements, &tag_sets])
            .await
            .map_err(|e| pool.error(e))?;
        let mut ids: BTreeMap<(String, Tags), i64> = BTreeMap::new();
        for row in rows {
            ids.insert((row.get(1), tags_from_json(row.get(2))?), row.get(0));
        }

        let mut keyed: Vec<(i64, i64, Json)> = Vec::new();
        for (series, points) in merged {
            let id = *ids.get(&series).ok_or_else(|| {
                StoreError::backend(format!(
                    "series `{}` was neither created nor found",
                    series.0
                ))
            })?;
            keyed.extend(points.into_iter().map(|(t, f)| (id, t, Json::Object(f))));
        }
        keyed.sort_unstable_by_key(|(id, t, _)| (*id, *t));
        let series_ids: Vec<i64> = keyed.iter().map(|(id, _, _)| *id).collect();
        let times: Vec<i64> = keyed.iter().map(|(_, t, _)| *t).collect();
        let fields: Vec<Json> = keyed.into_iter().map(|(_, _, f)| f).collect();
        let upsert = tx
            .prepare_cached(&self.sql.upsert_points)
            .await
            .map_err(|e| pool.error(e))?;
        tx.execute(&upsert, &[&series_ids, &times, &fields])
            .await
            .map_err(|e| pool.error(e))?;
        tx.commit().await.map_err(|e| pool.error(e))?;
        self.remember(types);
        Ok(())
    }
}
