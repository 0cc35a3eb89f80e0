//! Versioned, idempotent schema changes, safe when several processes start at once.
//!
//! Each component (one entity's tables, such as `kv:sessions`) has an ordered list of steps;
//! `polyroute_migrations` records which versions of which component were applied. Every run
//! happens in one transaction holding a transaction-scoped advisory lock on the schema, so two
//! processes opening the same entity at the same moment apply each step exactly once: the second
//! waits, then finds the steps recorded and applies nothing.

use deadpool_postgres::Object;

use super::pool::PgPool;
use crate::Result;

/// The first key of the advisory lock (`"poly"`); the second is a hash of the schema name.
const LOCK_CLASS: i32 = 0x706f_6c79;

/// The table recording applied steps.
pub(crate) const MIGRATIONS_TABLE: &str = "polyroute_migrations";

async fn lock(pool: &PgPool, tx: &deadpool_postgres::Transaction<'_>) -> Result<()> {
    // Waiting for another process's changes, or building an index on a large table, may take
    // longer than any call: schema changes run without the store's statement timeout.
    tx.batch_execute("SET LOCAL statement_timeout = 0")
        .await
        .map_err(|e| pool.error(e))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&LOCK_CLASS, &pool.schema()],
    )
    .await
    .map_err(|e| pool.error(e))?;
    Ok(())
}

/// Creates the store's schema if it is missing. Creating needs the CREATE privilege on the
/// database, so an existing schema is looked up first.
pub(crate) async fn ensure_schema(client: &mut Object, pool: &PgPool) -> Result<()> {
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_namespace WHERE nspname = $1",
            &[&pool.schema()],
        )
        .await
        .map_err(|e| pool.error(e))?
        .is_some();
    if exists {
        return Ok(());
    }
    let tx = client.transaction().await.map_err(|e| pool.error(e))?;
    lock(pool, &tx).await?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{}\"",
        pool.schema()
    ))
    .await
    .map_err(|e| pool.error(e))?;
    tx.commit().await.map_err(|e| pool.error(e))
}

/// Applies the steps of `component` not yet recorded, then runs `always` (idempotent statements
/// such as `CREATE INDEX IF NOT EXISTS` for declared fields), all in one locked transaction.
pub(crate) async fn apply(
    pool: &PgPool,
    component: &str,
    steps: &[String],
    always: &[String],
) -> Result<()> {
    let mut client = pool.get().await?;
    let tx = begin(&mut client, pool).await?;
    run(&tx, pool, component, steps, always).await?;
    tx.commit().await.map_err(|e| pool.error(e))
}

/// Starts a transaction holding the schema's migration lock: what runs in it until commit is
/// never interleaved with another process's migrations of the same schema.
pub(crate) async fn begin<'a>(
    client: &'a mut Object,
    pool: &PgPool,
) -> Result<deadpool_postgres::Transaction<'a>> {
    let tx = client.transaction().await.map_err(|e| pool.error(e))?;
    lock(pool, &tx).await?;
    Ok(tx)
}

/// The body of [`apply`], inside a transaction from [`begin`]: for callers that check or record
/// more in the same locked transaction.
pub(crate) async fn run(
    tx: &deadpool_postgres::Transaction<'_>,
    pool: &PgPool,
    component: &str,
    steps: &[String],
    always: &[String],
) -> Result<()> {
    let table = pool.qualified(MIGRATIONS_TABLE);
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            component TEXT NOT NULL,
            version INTEGER NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (component, version)
        )"
    ))
    .await
    .map_err(|e| pool.error(e))?;
    let applied: i32 = tx
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {table} WHERE component = $1"),
            &[&component],
        )
        .await
        .map_err(|e| pool.error(e))?
        .get(0);
    let insert = format!("INSERT INTO {table} (component, version) VALUES ($1, $2)");
    for (version, step) in (1..).zip(steps) {
        if version <= applied {
            continue;
        }
        tx.batch_execute(step).await.map_err(|e| pool.error(e))?;
        tx.execute(&insert, &[&component, &version])
            .await
            .map_err(|e| pool.error(e))?;
    }
    for statement in always {
        tx.batch_execute(statement)
            .await
            .map_err(|e| pool.error(e))?;
    }
    Ok(())
}

/// A PostgreSQL identifier for `name`: itself when it fits the 63-byte limit, else a prefix and
/// a hash of the whole, so long names never collide by truncation.
pub(crate) fn identifier(name: &str) -> String {
    if name.len() <= 63 {
        return name.to_owned();
    }
    // FNV-1a: stable across builds and platforms.
    let hash = name.bytes().fold(0x811c_9dc5u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    let mut cut = 54;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash:08x}", &name[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_identifiers_are_shortened_without_collisions() {
        assert_eq!(identifier("kv_orders"), "kv_orders");
        let a = identifier(&format!("doc_{}:x", "e".repeat(63)));
        let b = identifier(&format!("doc_{}:y", "e".repeat(63)));
        assert_ne!(a, b);
        assert_eq!(a.len(), 63);
    }
}
