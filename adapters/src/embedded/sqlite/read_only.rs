//! Proving that a statement only reads, before it runs.
//!
//! SQLite knows what a prepared statement does. Two of its answers are combined:
//!
//! - `sqlite3_stmt_readonly`: false for anything that writes the database files (`INSERT`,
//!   `UPDATE`, `DELETE`, `… RETURNING`, DDL, `VACUUM`, `PRAGMA journal_mode = …`,
//!   `PRAGMA user_version = …`);
//! - an authorizer that, while the statement is prepared, allows only reading: `SELECT`,
//!   reading columns, calling functions, recursive CTEs and `PRAGMA`s without a value. It
//!   refuses what `sqlite3_stmt_readonly` lets through because it changes the connection
//!   rather than the files: `ATTACH` and `DETACH`, `BEGIN`/`COMMIT`/`SAVEPOINT`, and every
//!   `PRAGMA name = value` (`query_only`, `locking_mode`, `foreign_keys`, …), which would
//!   change a pooled connection for every later caller.
//!
//! The proof depends only on the statement's text, so a statement proven once is remembered
//! ([`Proven`]) and later runs cost a set lookup and SQLite's cached statement.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::Connection;

use super::map_error;
use crate::kinds::relational::not_read_only;
use crate::Result;

/// Statements remembered as proven before the set is emptied: ad-hoc SQL must not grow it
/// without bound, while an application's fixed statements stay proven.
const PROVEN_LIMIT: usize = 512;

/// Statement texts already proven read-only; shared by every connection of a pool.
#[derive(Clone, Debug, Default)]
pub(crate) struct Proven {
    texts: Arc<Mutex<HashSet<String>>>,
}

impl Proven {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // A set of strings cannot be left half-changed by a panic: recover it.
        self.texts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Proves `sql` read-only on `conn` unless it was proven before.
    pub(crate) fn ensure(&self, conn: &Connection, sql: &str) -> Result<()> {
        if self.lock().contains(sql) {
            return Ok(());
        }
        prove(conn, sql)?;
        let mut texts = self.lock();
        if texts.len() >= PROVEN_LIMIT {
            texts.clear();
        }
        texts.insert(sql.to_owned());
        Ok(())
    }
}

/// Why `action` is not a read, or `None` when it is one.
fn refusal(action: &AuthAction<'_>) -> Option<String> {
    match action {
        AuthAction::Select
        | AuthAction::Read { .. }
        | AuthAction::Function { .. }
        | AuthAction::Recursive => None,
        AuthAction::Pragma {
            pragma_value: None, ..
        } => None,
        AuthAction::Pragma {
            pragma_name,
            pragma_value: Some(value),
        } => Some(format!(
            "`PRAGMA {pragma_name} = {value}` changes the connection (a PRAGMA given a value or \
             argument is refused; read table details with a SELECT on `pragma_{pragma_name}(…)`)"
        )),
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => {
            Some("ATTACH and DETACH change the connection's databases".to_owned())
        }
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => {
            Some("it begins or ends a transaction or savepoint".to_owned())
        }
        AuthAction::Insert { table_name } => Some(format!("it inserts into `{table_name}`")),
        AuthAction::Update { table_name, .. } => Some(format!("it updates `{table_name}`")),
        AuthAction::Delete { table_name } => Some(format!("it deletes from `{table_name}`")),
        other => Some(format!("it is not a read ({other:?})")),
    }
}

/// Prepares `sql` under a read-only authorizer and checks SQLite calls it read-only.
pub(crate) fn prove(conn: &Connection, sql: &str) -> Result<()> {
    let refused: Arc<Mutex<Option<String>>> = Arc::default();
    let note = Arc::clone(&refused);
    conn.authorizer(Some(move |context: AuthContext<'_>| {
        match refusal(&context.action) {
            None => Authorization::Allow,
            Some(reason) => {
                let mut first = note.lock().unwrap_or_else(PoisonError::into_inner);
                first.get_or_insert(reason);
                Authorization::Deny
            }
        }
    }));
    // Not the statement cache: a cached statement is not prepared again, so the authorizer
    // would not see it. Every statement of the text is prepared (none runs), so text after the
    // first statement is seen and refused rather than silently ignored.
    let prepared = statements_read_only(conn, sql);
    conn.authorizer(None::<fn(AuthContext<'_>) -> Authorization>);
    let reason = refused
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    match (reason, prepared) {
        (Some(reason), _) => Err(not_read_only(&reason)),
        (None, Ok(flags)) if flags == [true] => Ok(()),
        (None, Ok(flags)) if flags.len() > 1 => Err(not_read_only(
            "it holds more than one statement; a read is exactly one",
        )),
        (None, Ok(flags)) if flags.is_empty() => Err(not_read_only(
            "it holds no statement (only blanks or comments)",
        )),
        (None, Ok(_)) => Err(not_read_only("SQLite reports that it writes")),
        (None, Err(err)) => Err(map_error(err)),
    }
}

/// Prepares each statement of `sql` in turn and says, for each, whether SQLite calls it
/// read-only.
fn statements_read_only(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<bool>> {
    let mut batch = rusqlite::Batch::new(conn, sql);
    let mut flags = Vec::new();
    while let Some(statement) = batch.next()? {
        flags.push(statement.readonly());
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, label TEXT)")
            .unwrap();
        conn
    }

    #[test]
    fn reads_are_proven() {
        let conn = db();
        for sql in [
            "SELECT id, label FROM t WHERE id = $1",
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3) \
             SELECT x FROM c",
            "SELECT count(*), upper(label) FROM t GROUP BY label",
            "SELECT name FROM pragma_table_info('t')",
            "PRAGMA user_version",
            "VALUES (1)",
        ] {
            prove(&conn, sql).unwrap_or_else(|err| panic!("{sql}: {err}"));
        }
    }

    #[test]
    fn writes_and_connection_changes_are_refused() {
        let conn = db();
        for (sql, why) in [
            ("DELETE FROM t", "deletes from `t`"),
            ("DELETE FROM t RETURNING id", "deletes from `t`"),
            ("INSERT INTO t (label) VALUES ('x')", "inserts into `t`"),
            ("UPDATE t SET label = 'x'", "updates `t`"),
            ("CREATE TABLE u (x)", "only read"),
            ("DROP TABLE t", "only read"),
            ("ATTACH DATABASE ':memory:' AS other", "ATTACH"),
            ("BEGIN", "transaction"),
            ("PRAGMA query_only = 0", "PRAGMA query_only"),
            ("PRAGMA locking_mode = EXCLUSIVE", "PRAGMA locking_mode"),
            ("PRAGMA journal_mode = DELETE", "PRAGMA journal_mode"),
            ("VACUUM", "only read"),
            ("SELECT 1; SELECT 2", "more than one statement"),
            ("SELECT 1; DELETE FROM t", "deletes from `t`"),
        ] {
            let err = prove(&conn, sql).expect_err(sql);
            assert_eq!(err.kind(), crate::ErrorKind::InvalidRequest, "{sql}: {err}");
            assert!(err.to_string().contains(why), "{sql}: {err}");
        }
        // Nothing ran, and the authorizer is gone: writes work again on this connection.
        conn.execute("INSERT INTO t (label) VALUES ('kept')", [])
            .unwrap();
    }

    #[test]
    fn errors_are_reported_as_such() {
        let conn = db();
        let err = prove(&conn, "SELECT * FROM missing").unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        let err = prove(&conn, "-- nothing").unwrap_err();
        assert!(err.to_string().contains("no statement"), "{err}");
    }
}
