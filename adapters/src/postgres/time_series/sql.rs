//! The tables of one time-series entity and the statements on them, written once per handle.
//! Every value is a bound parameter; the only text spliced in is quoted table names.

use crate::kinds::time_series::Aggregate;

use super::super::migrate::identifier;
use super::super::pool::PgPool;

/// Points deleted per retention statement, so a purge never holds many row locks at once.
pub(super) const PURGE_BATCH: u64 = 10_000;

/// Statements of one entity.
#[derive(Debug)]
pub(super) struct Sql {
    /// The migration creating the tables.
    pub(super) create: String,
    pub(super) insert_types: String,
    pub(super) select_types: String,
    pub(super) measurement_types: String,
    pub(super) insert_series: String,
    pub(super) select_series: String,
    pub(super) upsert_points: String,
    pub(super) range: String,
    pub(super) last: String,
    pub(super) delete_before: String,
    pub(super) purge: String,
    /// The window statement up to its aggregate expression; see [`Sql::window`].
    points: String,
    series: String,
}

impl Sql {
    pub(super) fn new(pool: &PgPool, entity: &str) -> Sql {
        let base = format!("ts_{entity}");
        let name = |suffix: &str| identifier(&format!("{base}_{suffix}"));
        let (series, types, points) = (
            pool.qualified(&name("series")),
            pool.qualified(&name("fields")),
            pool.qualified(&name("points")),
        );
        let (tags_index, time_index) = (name("series_tags"), name("points_time"));
        // Points reference series without a foreign key: series are never deleted, and a
        // key check per ingested point costs more than it guards.
        let create = format!(
            "CREATE TABLE {series} (
                series_id BIGSERIAL PRIMARY KEY,
                measurement TEXT NOT NULL,
                tags JSONB NOT NULL,
                UNIQUE (measurement, tags)
            );
            CREATE INDEX \"{tags_index}\" ON {series} USING GIN (tags jsonb_path_ops);
            CREATE TABLE {types} (
                measurement TEXT NOT NULL,
                field TEXT NOT NULL,
                type TEXT NOT NULL CHECK (type IN ('float', 'int', 'bool', 'text')),
                PRIMARY KEY (measurement, field)
            );
            CREATE TABLE {points} (
                series_id BIGINT NOT NULL,
                time BIGINT NOT NULL,
                fields JSONB NOT NULL,
                PRIMARY KEY (series_id, time)
            );
            CREATE INDEX \"{time_index}\" ON {points} USING BRIN (time);"
        );
        // `$2` is a jsonpath predicate over the tags, built from a tag filter.
        let selected = "s.measurement = $1 AND s.tags @@ $2::text::jsonpath";
        Sql {
            create,
            insert_types: format!(
                "INSERT INTO {types} (measurement, field, type) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) \
                 ON CONFLICT (measurement, field) DO NOTHING"
            ),
            select_types: format!(
                "SELECT t.measurement, t.field, t.type FROM {types} t \
                 JOIN unnest($1::text[], $2::text[]) AS u (measurement, field) \
                 ON t.measurement = u.measurement AND t.field = u.field"
            ),
            measurement_types: format!("SELECT field, type FROM {types} WHERE measurement = $1"),
            insert_series: format!(
                "INSERT INTO {series} (measurement, tags) \
                 SELECT * FROM unnest($1::text[], $2::jsonb[]) \
                 ON CONFLICT (measurement, tags) DO NOTHING"
            ),
            select_series: format!(
                "SELECT s.series_id, s.measurement, s.tags FROM {series} s \
                 JOIN unnest($1::text[], $2::jsonb[]) AS u (measurement, tags) \
                 ON s.measurement = u.measurement AND s.tags = u.tags"
            ),
            upsert_points: format!(
                "INSERT INTO {points} AS p (series_id, time, fields) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::jsonb[]) \
                 ON CONFLICT (series_id, time) DO UPDATE SET fields = p.fields || excluded.fields"
            ),
            // Per series, its oldest points in the range: one primary-key range scan each.
            range: format!(
                "SELECT s.series_id, s.tags, p.time, p.fields FROM {series} s \
                 CROSS JOIN LATERAL (SELECT time, fields FROM {points} \
                   WHERE series_id = s.series_id AND time >= $3 AND time < $4 \
                     AND (cardinality($5::text[]) = 0 OR fields ?| $5) \
                   ORDER BY time LIMIT $6) p \
                 WHERE {selected} ORDER BY s.series_id, p.time"
            ),
            // Per series, a backward primary-key scan that stops at its newest visible point.
            last: format!(
                "SELECT s.tags, p.time, p.fields FROM {series} s \
                 CROSS JOIN LATERAL (SELECT time, fields FROM {points} \
                   WHERE series_id = s.series_id AND time >= $3 \
                   ORDER BY time DESC LIMIT 1) p \
                 WHERE {selected}"
            ),
            delete_before: format!("DELETE FROM {points} WHERE time < $1"),
            purge: format!(
                "DELETE FROM {points} WHERE (series_id, time) IN (SELECT series_id, time \
                 FROM {points} WHERE time < $1 LIMIT {PURGE_BATCH} FOR UPDATE SKIP LOCKED)"
            ),
            points,
            series,
        }
    }

    /// Window aggregates: `$1` measurement, `$2` tag predicate, `[$3, $4)` the range, `$5` the
    /// group-by tags, `$6` the width in nanoseconds, `$7` the field. Windows start at the floor
    /// of a timestamp to a multiple of the width, in integer arithmetic.
    pub(super) fn window(&self, aggregate: Aggregate) -> String {
        let value = match aggregate {
            Aggregate::Mean => "avg(w.v)",
            Aggregate::Min => "min(w.v)",
            Aggregate::Max => "max(w.v)",
            Aggregate::Sum => "sum(w.v)",
            Aggregate::Count => "count(w.v)::float8",
            Aggregate::First => "(array_agg(w.v ORDER BY p.time, p.series_id))[1]",
            Aggregate::Last => "(array_agg(w.v ORDER BY p.time DESC, p.series_id DESC))[1]",
        };
        let (series, points) = (&self.series, &self.points);
        format!(
            "WITH sel AS (
                SELECT s.series_id, (SELECT coalesce(jsonb_object_agg(key, value), '{{}}'::jsonb)
                    FROM jsonb_each(s.tags) WHERE key = ANY($5::text[])) AS grp
                FROM {series} s WHERE s.measurement = $1 AND s.tags @@ $2::text::jsonpath
            )
            SELECT sel.grp, w.start, {value} FROM sel
            JOIN {points} p ON p.series_id = sel.series_id
            CROSS JOIN LATERAL (SELECT p.time % $6::bigint AS r) m
            CROSS JOIN LATERAL (SELECT
                p.time - CASE WHEN m.r < 0 THEN m.r + $6::bigint ELSE m.r END AS start,
                (p.fields ->> $7::text)::float8 AS v) w
            WHERE p.time >= $3 AND p.time < $4 AND p.fields ? $7::text
            GROUP BY sel.grp, w.start
            ORDER BY w.start"
        )
    }
}
