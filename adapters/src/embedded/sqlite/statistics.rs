//! Keeps SQLite's planner statistics of one table current, so the planner picks the index that
//! narrows a query most.
//!
//! Without statistics SQLite rates every index alike: on `city = ? AND status = ?` it may
//! walk the `status` index (a fifth of the rows) instead of the `city` one (one row in two
//! hundred), and read forty times more documents than it needs. `ANALYZE` fixes that, but
//! statistics go stale as a table grows, and a sampled `ANALYZE` (`PRAGMA analysis_limit`)
//! reads only the first rows of each index, which tells nothing about a low-cardinality field.
//!
//! So a table is analysed in full whenever it has taken as many writes as it had rows at its
//! last analysis (at least [`MIN_WRITES`]): the cost stays proportional to the writes, about a
//! microsecond per write amortised, and the statistics are never more than a doubling old. The
//! analysis runs in the background on its own pooled connection; a write never waits for it.
//! When an index of the table has no statistics yet (a database written before, or by another
//! program, or an index created since) and the table has rows enough to matter, it is analysed
//! at once: when the table is opened, and when an index is created.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};

use super::{map_error, SqlitePool};
use crate::Result;

/// Writes a table takes before its first analysis, and at least between two.
pub(crate) const MIN_WRITES: u64 = 256;

/// The statistics of one table: how many rows it had when last analysed, and the writes since.
#[derive(Debug)]
pub(crate) struct Statistics {
    /// The pool whose connections plan with the statistics.
    pool: SqlitePool,
    /// The table's name as SQL (quoted).
    table: String,
    /// The table's name as `sqlite_stat1` holds it (unquoted).
    name: String,
    analysed_rows: AtomicU64,
    writes: AtomicU64,
    running: AtomicBool,
}

impl Statistics {
    /// Reads the statistics of table `name` (an identifier) on `conn`, a connection of `pool`,
    /// analysing the table now if one of its indexes has none (see
    /// [`analyse_if_incomplete`](Self::analyse_if_incomplete)).
    pub(crate) fn load(conn: &Connection, pool: &SqlitePool, name: &str) -> Result<Statistics> {
        let stats = Statistics {
            pool: pool.clone(),
            table: format!("\"{name}\""),
            name: name.to_owned(),
            analysed_rows: AtomicU64::new(analysed_rows(conn, name)?.unwrap_or(0)),
            writes: AtomicU64::new(0),
            running: AtomicBool::new(false),
        };
        stats.analyse_if_incomplete(conn)?;
        Ok(stats)
    }

    /// Analyses the table now if an index of it has no statistics (the table was never
    /// analysed, or the index is new) and it holds at least [`MIN_WRITES`] rows; a smaller
    /// table is analysed once its writes reach that many.
    pub(crate) fn analyse_if_incomplete(&self, conn: &Connection) -> Result<()> {
        if !unanalysed_index(conn, &self.name)? {
            return Ok(());
        }
        let rows: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {}", self.table), [], |row| {
                row.get(0)
            })
            .map_err(map_error)?;
        if u64::try_from(rows).unwrap_or(0) < MIN_WRITES {
            return Ok(());
        }
        self.analyse(conn)
    }

    /// Counts `writes` to the table; when it has grown enough since its last analysis, starts
    /// one in the background on a connection of the pool.
    pub(crate) fn wrote(self: &Arc<Self>, writes: u64) {
        let total = self.writes.fetch_add(writes, Ordering::Relaxed) + writes;
        if total < self.analysed_rows.load(Ordering::Relaxed).max(MIN_WRITES) {
            return;
        }
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let (stats, pool) = (Arc::clone(self), self.pool.clone());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.running.store(false, Ordering::Release);
            return;
        };
        runtime.spawn(async move {
            let done = {
                let stats = Arc::clone(&stats);
                pool.run(move |conn| stats.analyse(conn)).await
            };
            if let Err(err) = done {
                // Stale statistics slow queries down but answer them right: note it, go on.
                tracing::warn!(table = %stats.name, error = %err, "cannot analyse table");
            }
            stats.running.store(false, Ordering::Release);
        });
    }

    /// Analyses the table in full now on `conn`, a connection of the pool, and starts counting
    /// writes afresh; every connection of the pool plans with the new statistics from its next
    /// call.
    pub(crate) fn analyse(&self, conn: &Connection) -> Result<()> {
        let writes = self.writes.load(Ordering::Relaxed);
        // A limit left by another statement would sample only each index's first rows.
        conn.execute_batch(&format!(
            "PRAGMA analysis_limit = 0; ANALYZE {}",
            self.table
        ))
        .map_err(map_error)?;
        let rows = analysed_rows(conn, &self.name)?.unwrap_or(0);
        self.analysed_rows.store(rows, Ordering::Relaxed);
        self.writes.fetch_sub(writes, Ordering::Relaxed);
        self.pool.statistics_changed();
        Ok(())
    }
}

/// Whether `sqlite_stat1` exists (the first `ANALYZE` of the database creates it).
fn has_stat_table(conn: &Connection) -> Result<bool> {
    conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE name = 'sqlite_stat1'",
        [],
        |row| row.get(0),
    )
    .map_err(map_error)
}

/// Whether some index of table `name` (its primary key's included) has no statistics.
fn unanalysed_index(conn: &Connection, name: &str) -> Result<bool> {
    if !has_stat_table(conn)? {
        return Ok(true);
    }
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema AS s WHERE s.type = 'index' \
         AND s.tbl_name = ?1 AND NOT EXISTS (SELECT 1 FROM sqlite_stat1 AS t WHERE t.idx = s.name))",
        [name],
        |row| row.get(0),
    )
    .map_err(map_error)
}

/// The row count `sqlite_stat1` holds for table `name`, if it was ever analysed.
fn analysed_rows(conn: &Connection, name: &str) -> Result<Option<u64>> {
    if !has_stat_table(conn)? {
        return Ok(None);
    }
    let stat: Option<String> = conn
        .query_row(
            "SELECT stat FROM sqlite_stat1 WHERE tbl = ?1 LIMIT 1",
            [name],
            |row| row.get(0),
        )
        .optional()
        .map_err(map_error)?;
    Ok(stat.map(|stat| {
        stat.split(' ')
            .next()
            .and_then(|rows| rows.parse().ok())
            .unwrap_or(0)
    }))
}
