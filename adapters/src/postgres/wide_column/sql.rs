//! The SQL of one wide-column entity, written once when it is opened (slices, whose bounds
//! vary, are written per shape of bound and cached as prepared statements by the pool).
//!
//! Key columns are `p0, p1, …` (partition key) then `c0, c1, …` (clustering key); every
//! statement takes key values as `BYTEA` parameters, batches as arrays of them.

use std::fmt::Write as _;
use std::ops::Bound;

use crate::kinds::document::Order;

/// `visible_until` of a row that never stops being visible.
const FOREVER: i64 = i64::MAX;

/// The statements of one entity.
#[derive(Debug)]
pub(super) struct Sql {
    table: String,
    partition: usize,
    clustering: usize,
    /// Inserts rows that do not exist yet; returns the keys it inserted.
    pub insert: String,
    /// Locks the rows at the given keys, in key order; returns their keys and records.
    pub lock: String,
    /// Locks every row of one partition, in key order; returns their keys and records.
    pub lock_partition: String,
    /// Replaces the state of rows (locked by the caller).
    pub update: String,
    /// The record of one row, if it is visible at the given time.
    pub get: String,
    /// Deletes a batch of rows that are invisible and past the grace.
    pub purge: String,
}

impl Sql {
    /// The statements of the table `table` (qualified, quoted) with `partition` partition key
    /// columns and `clustering` clustering key columns.
    pub fn new(table: &str, partition: usize, clustering: usize) -> Self {
        let keys = key_columns(partition, clustering);
        let list = keys.join(", ");
        let n = keys.len();
        let arrays = (1..=n)
            .map(|i| format!("${i}::bytea[]"))
            .collect::<Vec<_>>()
            .join(", ");
        let join_on = keys
            .iter()
            .map(|k| format!("t.{k} = u.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let qualified = keys
            .iter()
            .map(|k| format!("t.{k}"))
            .collect::<Vec<_>>()
            .join(", ");
        let (v, s, r) = (n + 1, n + 2, n + 3);
        let partition_match = (0..partition)
            .map(|i| format!("p{i} = ${}", i + 1))
            .collect::<Vec<_>>()
            .join(" AND ");
        let row_match = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} = ${}", i + 1))
            .collect::<Vec<_>>()
            .join(" AND ");
        Sql {
            insert: format!(
                "INSERT INTO {table} ({list}, visible_until, settled_at, record) \
                 SELECT * FROM unnest({arrays}, ${v}::bigint[], ${s}::bigint[], ${r}::bytea[]) \
                 ON CONFLICT ({list}) DO NOTHING RETURNING {list}"
            ),
            lock: format!(
                "SELECT {qualified}, t.record FROM {table} t \
                 JOIN unnest({arrays}) AS u ({list}) ON {join_on} \
                 ORDER BY {qualified} FOR UPDATE OF t"
            ),
            lock_partition: format!(
                "SELECT {list}, record FROM {table} WHERE {partition_match} \
                 ORDER BY {list} FOR UPDATE"
            ),
            update: format!(
                "UPDATE {table} t SET visible_until = u.visible_until, \
                 settled_at = u.settled_at, record = u.record \
                 FROM unnest({arrays}, ${v}::bigint[], ${s}::bigint[], ${r}::bytea[]) \
                 AS u ({list}, visible_until, settled_at, record) WHERE {join_on}"
            ),
            get: format!(
                "SELECT record FROM {table} WHERE {row_match} AND visible_until > ${}",
                n + 1
            ),
            purge: format!(
                "DELETE FROM {table} WHERE ({list}) IN (SELECT {list} FROM {table} \
                 WHERE visible_until < {FOREVER} AND visible_until <= $1 AND settled_at <= $2 \
                 LIMIT {} FOR UPDATE SKIP LOCKED)",
                super::PURGE_BATCH
            ),
            table: table.to_owned(),
            partition,
            clustering,
        }
    }

    /// The migration creating the table and the partial index the purge uses: only rows that
    /// can stop being visible are in it.
    pub fn create(&self, purge_index: &str) -> String {
        let table = &self.table;
        let keys = key_columns(self.partition, self.clustering);
        let columns: String = keys
            .iter()
            .map(|k| format!("{k} BYTEA NOT NULL, "))
            .collect();
        format!(
            "CREATE TABLE {table} (
                {columns}
                visible_until BIGINT NOT NULL,
                settled_at BIGINT NOT NULL,
                record BYTEA NOT NULL,
                PRIMARY KEY ({})
            );
            CREATE INDEX \"{purge_index}\" ON {table} (settled_at) WHERE visible_until < {FOREVER};",
            keys.join(", ")
        )
    }

    /// A slice of one partition: parameters are the partition key values, the lower bound's
    /// values (`lower` of them), the upper bound's, the time rows must be visible at, and the
    /// limit (`NULL`: none). A bound of zero values is no bound.
    pub fn slice(&self, lower: Bound<usize>, upper: Bound<usize>, order: Order) -> String {
        let clustering: Vec<String> = (0..self.clustering).map(|i| format!("c{i}")).collect();
        let mut sql = String::from("SELECT ");
        for c in &clustering {
            let _ = write!(sql, "{c}, ");
        }
        let _ = write!(sql, "record FROM {} WHERE ", self.table);
        for i in 0..self.partition {
            let _ = write!(sql, "p{i} = ${} AND ", i + 1);
        }
        let mut next = self.partition + 1;
        for (bound, strict, loose) in [(lower, ">", ">="), (upper, "<", "<=")] {
            let (len, op) = match bound {
                Bound::Included(len) => (len, loose),
                Bound::Excluded(len) => (len, strict),
                Bound::Unbounded => continue,
            };
            if len == 0 {
                continue;
            }
            let params: Vec<String> = (next..next + len).map(|i| format!("${i}")).collect();
            next += len;
            let _ = write!(
                sql,
                "({}) {op} ({}) AND ",
                clustering[..len].join(", "),
                params.join(", ")
            );
        }
        let direction = match order {
            Order::Ascending => "ASC",
            Order::Descending => "DESC",
        };
        let _ = write!(sql, "visible_until > ${next}");
        if !clustering.is_empty() {
            let by: Vec<String> = clustering
                .iter()
                .map(|c| format!("{c} {direction}"))
                .collect();
            let _ = write!(sql, " ORDER BY {}", by.join(", "));
        }
        let _ = write!(sql, " LIMIT ${}", next + 1);
        sql
    }
}

/// The key column names: `p0…` then `c0…`.
fn key_columns(partition: usize, clustering: usize) -> Vec<String> {
    let partition = (0..partition).map(|i| format!("p{i}"));
    partition
        .chain((0..clustering).map(|i| format!("c{i}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_every_key_column_and_number_parameters_in_order() {
        let sql = Sql::new("\"s\".\"wc_events\"", 1, 2);
        assert_eq!(
            sql.insert,
            "INSERT INTO \"s\".\"wc_events\" (p0, c0, c1, visible_until, settled_at, record) \
             SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], $4::bigint[], \
             $5::bigint[], $6::bytea[]) ON CONFLICT (p0, c0, c1) DO NOTHING RETURNING p0, c0, c1"
        );
        assert!(sql
            .get
            .ends_with("p0 = $1 AND c0 = $2 AND c1 = $3 AND visible_until > $4"));
        assert!(sql
            .lock_partition
            .contains("WHERE p0 = $1 ORDER BY p0, c0, c1 FOR UPDATE"));
        assert!(sql
            .create("wc_events_purge")
            .contains("PRIMARY KEY (p0, c0, c1)"));
    }

    #[test]
    fn slices_compare_clustering_prefixes_as_rows() {
        let sql = Sql::new("t", 1, 2);
        assert_eq!(
            sql.slice(Bound::Included(1), Bound::Excluded(2), Order::Descending),
            "SELECT c0, c1, record FROM t WHERE p0 = $1 AND (c0) >= ($2) AND (c0, c1) < ($3, $4) \
             AND visible_until > $5 ORDER BY c0 DESC, c1 DESC LIMIT $6"
        );
        assert_eq!(
            sql.slice(Bound::Unbounded, Bound::Included(0), Order::Ascending),
            "SELECT c0, c1, record FROM t WHERE p0 = $1 AND visible_until > $2 \
             ORDER BY c0 ASC, c1 ASC LIMIT $3"
        );
        let no_clustering = Sql::new("t", 2, 0);
        assert_eq!(
            no_clustering.slice(Bound::Unbounded, Bound::Unbounded, Order::Ascending),
            "SELECT record FROM t WHERE p0 = $1 AND p1 = $2 AND visible_until > $3 LIMIT $4"
        );
    }
}
