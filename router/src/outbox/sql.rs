//! Every SQL statement of record entities and the outbox, per [`Dialect`].
//!
//! Values are always parameters (`$1…$n`); the only names spliced into the text are the
//! record entity's table and columns, each checked with [`is_identifier`] and double-quoted.
//! Both dialects share the statements (`ON CONFLICT … DO UPDATE`, `RETURNING`); they differ in
//! column types.

use polyroute_adapters::kinds::relational::Dialect;
use polyroute_adapters::store::is_identifier;
use polyroute_adapters::{Result, StoreError};

/// The outbox's tables: per-entity sequence counter, changes, per-target cursor, dead letters
/// and relay leases. Idempotent (`IF NOT EXISTS`).
pub(crate) fn schema(dialect: Dialect) -> String {
    let int = match dialect {
        Dialect::Postgres => "BIGINT",
        _ => "INTEGER",
    };
    format!(
        "CREATE TABLE IF NOT EXISTS polyroute_outbox_seq (\
            entity TEXT PRIMARY KEY, seq {int} NOT NULL);\n\
         CREATE TABLE IF NOT EXISTS polyroute_outbox (\
            entity TEXT NOT NULL, seq {int} NOT NULL, record_key TEXT NOT NULL, \
            op TEXT NOT NULL CHECK (op IN ('put', 'delete')), body TEXT, created_at {int} NOT NULL, \
            PRIMARY KEY (entity, seq));\n\
         CREATE INDEX IF NOT EXISTS polyroute_outbox_by_key ON polyroute_outbox (entity, record_key, seq);\n\
         CREATE TABLE IF NOT EXISTS polyroute_outbox_cursor (\
            entity TEXT NOT NULL, target TEXT NOT NULL, seq {int} NOT NULL, \
            PRIMARY KEY (entity, target));\n\
         CREATE TABLE IF NOT EXISTS polyroute_outbox_dead (\
            entity TEXT NOT NULL, target TEXT NOT NULL, seq {int} NOT NULL, record_key TEXT NOT NULL, \
            attempts {int} NOT NULL, last_error TEXT NOT NULL, failed_at {int} NOT NULL, \
            state TEXT NOT NULL CHECK (state IN ('dead', 'replay')), \
            PRIMARY KEY (entity, target, seq));\n\
         CREATE TABLE IF NOT EXISTS polyroute_outbox_lease (\
            entity TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at {int} NOT NULL);"
    )
}

/// Creates the entity's counter row (`$1` entity) if absent.
pub(crate) const INIT_SEQ: &str =
    "INSERT INTO polyroute_outbox_seq (entity, seq) VALUES ($1, 0) ON CONFLICT (entity) DO NOTHING";

/// Creates a target's cursor row (`$1` entity, `$2` target) if absent.
pub(crate) const INIT_CURSOR: &str = "INSERT INTO polyroute_outbox_cursor (entity, target, seq) \
     VALUES ($1, $2, 0) ON CONFLICT (entity, target) DO NOTHING";

/// Takes the next sequence number of entity `$1`. The row lock it takes serialises the
/// entity's writers until commit, so sequence order is commit order and a relay reading past
/// its cursor never skips a change that commits later.
pub(crate) const NEXT_SEQ: &str =
    "UPDATE polyroute_outbox_seq SET seq = seq + 1 WHERE entity = $1 RETURNING seq";

/// Appends a change: `$1` entity, `$2` seq, `$3` key, `$4` op, `$5` body (JSON or NULL),
/// `$6` created_at (Unix milliseconds).
pub(crate) const APPEND: &str = "INSERT INTO polyroute_outbox \
     (entity, seq, record_key, op, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

/// Changes of entity `$1` after seq `$2`, in order, at most `$3`.
pub(crate) const CHANGES_AFTER: &str = "SELECT seq, record_key, op, body FROM polyroute_outbox \
     WHERE entity = $1 AND seq > $2 ORDER BY seq LIMIT $3";

/// One change: `$1` entity, `$2` seq.
pub(crate) const CHANGE: &str = "SELECT seq, record_key, op, body FROM polyroute_outbox \
     WHERE entity = $1 AND seq = $2";

/// Whether key `$2` of entity `$1` is deleted by a change after seq `$3`.
pub(crate) const DELETED_LATER: &str = "SELECT seq FROM polyroute_outbox \
     WHERE entity = $1 AND record_key = $2 AND seq > $3 AND op = 'delete' LIMIT 1";

/// The cursor of (`$1` entity, `$2` target).
pub(crate) const CURSOR: &str =
    "SELECT seq FROM polyroute_outbox_cursor WHERE entity = $1 AND target = $2";

/// Moves the cursor of (`$1`, `$2`) forward to `$3`, only while relay `$4` holds the lease
/// (a relay that lost it writes nothing).
pub(crate) const ADVANCE: &str = "UPDATE polyroute_outbox_cursor SET seq = $3 \
     WHERE entity = $1 AND target = $2 AND seq < $3 AND EXISTS (SELECT 1 FROM polyroute_outbox_lease \
     WHERE entity = $1 AND owner = $4)";

/// Pending count and oldest creation time after the cursor: `$1` entity, `$2` cursor.
pub(crate) const PENDING: &str = "SELECT COUNT(*), MIN(created_at) FROM polyroute_outbox \
     WHERE entity = $1 AND seq > $2";

/// Dead letters of (`$1`, `$2`) in state `$3`.
pub(crate) const DEAD_COUNT: &str = "SELECT COUNT(*) FROM polyroute_outbox_dead \
     WHERE entity = $1 AND target = $2 AND state = $3";

/// The keys of (`$1`, `$2`) with dead letters, which park their later changes, each with its
/// first dead change.
pub(crate) const DEAD_KEYS: &str = "SELECT record_key, MIN(seq) FROM polyroute_outbox_dead \
     WHERE entity = $1 AND target = $2 GROUP BY record_key";

/// Dead-letters a change: `$1` entity, `$2` target, `$3` seq, `$4` key, `$5` attempts,
/// `$6` last error, `$7` failed_at. A change already there is updated (a redelivery, or a
/// replay that failed again).
pub(crate) const DEAD_LETTER: &str = "INSERT INTO polyroute_outbox_dead \
     (entity, target, seq, record_key, attempts, last_error, failed_at, state) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'dead') ON CONFLICT (entity, target, seq) DO UPDATE SET \
     attempts = polyroute_outbox_dead.attempts + excluded.attempts, last_error = excluded.last_error, \
     failed_at = excluded.failed_at, state = 'dead'";

/// The changes marked for replay on (`$1`, `$2`), in order.
pub(crate) const REPLAYS: &str = "SELECT seq FROM polyroute_outbox_dead \
     WHERE entity = $1 AND target = $2 AND state = 'replay' ORDER BY seq";

/// Removes a delivered dead letter: `$1`, `$2`, `$3` seq.
pub(crate) const UNDEAD: &str =
    "DELETE FROM polyroute_outbox_dead WHERE entity = $1 AND target = $2 AND seq = $3";

/// Marks every dead letter of (`$1`, `$2`) for replay.
pub(crate) const REPLAY: &str = "UPDATE polyroute_outbox_dead SET state = 'replay' \
     WHERE entity = $1 AND target = $2 AND state = 'dead'";

/// Takes or renews the lease of entity `$1` for owner `$2` until `$3`, if it is free, expired
/// (before `$4`, now) or already `$2`'s. One row changed: the lease is held.
pub(crate) const LEASE: &str = "INSERT INTO polyroute_outbox_lease (entity, owner, expires_at) \
     VALUES ($1, $2, $3) ON CONFLICT (entity) DO UPDATE SET owner = excluded.owner, \
     expires_at = excluded.expires_at WHERE polyroute_outbox_lease.owner = excluded.owner \
     OR polyroute_outbox_lease.expires_at < $4";

/// Gives up the lease of entity `$1` held by `$2`.
pub(crate) const RELEASE: &str =
    "DELETE FROM polyroute_outbox_lease WHERE entity = $1 AND owner = $2";

/// `"name"`, after checking `name` is an identifier (so quoting cannot be escaped).
pub(crate) fn quote(name: &str) -> Result<String> {
    if is_identifier(name) {
        Ok(format!("\"{name}\""))
    } else {
        Err(StoreError::invalid(format!(
            "`{name}` is not a valid column or table name; use ASCII letters, digits and `_`"
        )))
    }
}

/// The upsert of one row of `table` keyed by `key`: parameters `$1` the key, then one per
/// column of `columns` in order; returns the whole row.
pub(crate) fn upsert(
    _dialect: Dialect,
    table: &str,
    key: &str,
    columns: &[&str],
) -> Result<String> {
    let table = quote(table)?;
    let key = quote(key)?;
    let mut names = vec![key.clone()];
    let mut params = vec!["$1".to_owned()];
    let mut updates = Vec::new();
    for (index, column) in columns.iter().enumerate() {
        let column = quote(column)?;
        if column == key {
            return Err(StoreError::invalid(format!(
                "the fields repeat the key column {key}; pass the key separately"
            )));
        }
        params.push(format!("${}", index + 2));
        updates.push(format!("{column} = excluded.{column}"));
        names.push(column);
    }
    if updates.is_empty() {
        // Nothing but the key: still return the row when it already exists.
        updates.push(format!("{key} = excluded.{key}"));
    }
    Ok(format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({key}) DO UPDATE SET {} RETURNING *",
        names.join(", "),
        params.join(", "),
        updates.join(", ")
    ))
}

/// Deletes the row of `table` whose `key` is `$1`.
pub(crate) fn delete(table: &str, key: &str) -> Result<String> {
    Ok(format!(
        "DELETE FROM {} WHERE {} = $1",
        quote(table)?,
        quote(key)?
    ))
}

/// Reads the row of `table` whose `key` is `$1`.
pub(crate) fn select(table: &str, key: &str) -> Result<String> {
    Ok(format!(
        "SELECT * FROM {} WHERE {} = $1",
        quote(table)?,
        quote(key)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_quotes_names_and_binds_every_value() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let sql = upsert(dialect, "products", "id", &["name", "price"]).unwrap();
            assert_eq!(
                sql,
                "INSERT INTO \"products\" (\"id\", \"name\", \"price\") VALUES ($1, $2, $3) \
                 ON CONFLICT (\"id\") DO UPDATE SET \"name\" = excluded.\"name\", \
                 \"price\" = excluded.\"price\" RETURNING *"
            );
            let only_key = upsert(dialect, "t", "k", &[]).unwrap();
            assert!(only_key.ends_with("DO UPDATE SET \"k\" = excluded.\"k\" RETURNING *"));
        }
    }

    #[test]
    fn names_that_are_not_identifiers_are_refused() {
        assert!(upsert(Dialect::Sqlite, "t", "id", &["a\" = 1; --"]).is_err());
        assert!(upsert(Dialect::Sqlite, "t; DROP", "id", &[]).is_err());
        assert!(upsert(Dialect::Sqlite, "t", "id", &["id"]).is_err());
        assert!(delete("t", "bad key").is_err());
        assert_eq!(
            select("t", "id").unwrap(),
            "SELECT * FROM \"t\" WHERE \"id\" = $1"
        );
    }

    #[test]
    fn schema_types_follow_the_dialect() {
        let sqlite = schema(Dialect::Sqlite);
        let postgres = schema(Dialect::Postgres);
        assert!(sqlite.contains("seq INTEGER NOT NULL") && !sqlite.contains("BIGINT"));
        assert!(postgres.contains("seq BIGINT NOT NULL") && !postgres.contains("INTEGER"));
        for text in [&sqlite, &postgres] {
            assert_eq!(text.matches("CREATE TABLE IF NOT EXISTS").count(), 5);
        }
    }
}
