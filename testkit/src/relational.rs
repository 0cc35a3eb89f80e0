//! The relational behaviour suite.
//!
//! Cases use only SQL that both SQLite and PostgreSQL accept, choosing a type by
//! [`Dialect`] where the two differ, and each creates its own uniquely named tables, so the
//! cases can run in parallel against one shared server.

use std::sync::Arc;
use std::time::Duration;

use polyroute_adapters::kinds::relational::{Dialect, RelationalStore, Rows};
use polyroute_adapters::{ErrorKind, Result, Value};

use crate::support::{unique, Fixture};

/// Runs each listed case as its own test against the backend made by `$factory`, an async fn
/// returning `Fixture<dyn RelationalStore>`.
/// After a `;`, a bracketed list of attributes is added to every test, such as the
/// `#[cfg_attr(…, ignore = …)]` that skips a server backend's tests when its server is not set.
#[macro_export]
macro_rules! relational_suite {
    ($factory:path) => {
        $crate::relational_suite!($factory; []);
    };
    ($factory:path; $attrs:tt) => {
        $crate::__suite_cases!(relational; $factory().await; $attrs;
            values_of_every_type_round_trip,
            parameters_bind_by_number,
            query_returns_columns_in_select_order,
            empty_result_keeps_its_columns,
            execute_returns_affected_rows,
            execute_script_runs_every_statement,
            failing_script_applies_nothing,
            script_with_an_unterminated_comment_is_rejected,
            commit_makes_writes_visible,
            rollback_discards_writes,
            dropped_transaction_rolls_back,
            statements_in_a_transaction_see_each_other,
            syntax_error_is_invalid_request,
            unique_violation_is_conflict,
            wrong_parameter_count_is_invalid_request,
            failed_statement_in_a_transaction_then_rollback,
            unicode_text_round_trips,
            large_blob_round_trips,
            concurrent_inserts_are_all_kept,
            concurrent_transactions_do_not_lose_updates,
            call_made_during_a_transaction_completes_after_it,
            cancelled_call_leaves_the_store_usable,
            cancelled_statement_in_a_transaction_rolls_it_back,
            reads_are_proven_read_only_and_run_read_only,
            read_only_queries_stop_at_their_row_bound,
            writes_are_not_read_only_and_change_nothing,
        );
    };
}

/// The column type for raw bytes.
fn blob_type(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "BLOB",
        Dialect::Postgres => "BYTEA",
        other => panic!("no blob type known for {other:?}"),
    }
}

/// What a `BOOLEAN` column holding `b` reads back as: SQLite has no boolean type and stores 0 or 1.
fn stored_bool(dialect: Dialect, b: bool) -> Value {
    match dialect {
        Dialect::Sqlite => Value::Int(i64::from(b)),
        Dialect::Postgres => Value::Bool(b),
        other => panic!("no boolean representation known for {other:?}"),
    }
}

/// A query slow enough that a 1 ms deadline always cancels it mid-flight.
const SLOW_QUERY: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                          WHERE x < 1000000) SELECT count(*) AS n FROM c";

/// How long a case keeps retrying a retryable error (the store busy finishing a cancelled call)
/// before failing: generous, since only eventual success matters.
const SETTLE_BOUND: Duration = Duration::from_secs(60);

#[track_caller]
fn assert_error<T: std::fmt::Debug>(result: Result<T>, kind: ErrorKind) {
    match result {
        Ok(value) => panic!("expected a {kind:?} error, got Ok({value:?})"),
        Err(err) => assert_eq!(err.kind(), kind, "unexpected error: {err}"),
    }
}

/// Creates a uniquely named table with `columns` (SQL, `{blob}` standing for the dialect's
/// bytes type) and returns its name.
async fn create_table(store: &dyn RelationalStore, prefix: &str, columns: &str) -> String {
    let name = unique(prefix);
    let columns = columns.replace("{blob}", blob_type(store.dialect()));
    store
        .execute_script(&format!("CREATE TABLE {name} ({columns})"))
        .await
        .unwrap();
    name
}

/// A table of `(id BIGINT PRIMARY KEY, label TEXT)`.
async fn simple_table(store: &dyn RelationalStore) -> String {
    create_table(store, "rel", "id BIGINT PRIMARY KEY, label TEXT").await
}

async fn count(store: &dyn RelationalStore, table: &str) -> i64 {
    let rows = store
        .query(&format!("SELECT count(*) AS n FROM {table}"), &[])
        .await
        .unwrap();
    single_int(&rows)
}

/// Counts rows, retrying while the store reports a retryable error.
async fn count_when_ready(store: &dyn RelationalStore, table: &str) -> i64 {
    let deadline = tokio::time::Instant::now() + SETTLE_BOUND;
    loop {
        match store
            .query(&format!("SELECT count(*) AS n FROM {table}"), &[])
            .await
        {
            Ok(rows) => return single_int(&rows),
            Err(err) if err.is_retryable() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => panic!("store did not recover: {err}"),
        }
    }
}

#[track_caller]
fn single_int(rows: &Rows) -> i64 {
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.rows[0][0]
        .as_i64()
        .unwrap_or_else(|| panic!("not an integer: {rows:?}"))
}

async fn insert(store: &dyn RelationalStore, table: &str, id: i64, label: &str) -> Result<u64> {
    store
        .execute(
            &format!("INSERT INTO {table} (id, label) VALUES ($1, $2)"),
            &[Value::Int(id), label.into()],
        )
        .await
}

pub async fn values_of_every_type_round_trip(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let dialect = store.dialect();
    let table = create_table(
        store,
        "rel_types",
        "id BIGINT PRIMARY KEY, flag BOOLEAN, n BIGINT, x DOUBLE PRECISION, s TEXT, b {blob}",
    )
    .await;
    let insert =
        format!("INSERT INTO {table} (id, flag, n, x, s, b) VALUES ($1, $2, $3, $4, $5, $6)");
    let rows_in = [
        [
            Value::Int(1),
            Value::Bool(true),
            Value::Int(i64::MAX),
            Value::Float(0.1),
            Value::Text("plain".into()),
            Value::Bytes(vec![0, 1, 2, 127, 128, 255]),
        ],
        [
            Value::Int(2),
            Value::Bool(false),
            Value::Int(i64::MIN),
            Value::Float(-1.25e300),
            Value::Text(String::new()),
            Value::Bytes(Vec::new()),
        ],
        [
            Value::Int(3),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ],
    ];
    for row in &rows_in {
        assert_eq!(store.execute(&insert, row).await.unwrap(), 1);
    }
    let rows = store
        .query(
            &format!("SELECT id, flag, n, x, s, b FROM {table} ORDER BY id"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.columns, ["id", "flag", "n", "x", "s", "b"]);
    let expected: Vec<Vec<Value>> = rows_in
        .iter()
        .map(|row| {
            row.iter()
                .map(|value| match value {
                    Value::Bool(b) => stored_bool(dialect, *b),
                    other => other.clone(),
                })
                .collect()
        })
        .collect();
    assert_eq!(rows.rows, expected);
    // Values compare by parameter too, typed as the column is.
    let rows = store
        .query(
            &format!("SELECT id FROM {table} WHERE n = $1 AND x = $2 AND b = $3"),
            &[
                Value::Int(i64::MIN),
                Value::Float(-1.25e300),
                Value::Bytes(Vec::new()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Int(2)]]);
    let rows = store
        .query(&format!("SELECT id FROM {table} WHERE s IS NULL"), &[])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Int(3)]]);
}

pub async fn parameters_bind_by_number(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = create_table(store, "rel_params", "id BIGINT PRIMARY KEY, a TEXT, b TEXT").await;
    store
        .execute(
            &format!("INSERT INTO {table} (a, id, b) VALUES ($2, $1, $2)"),
            &[Value::Int(7), "twice".into()],
        )
        .await
        .unwrap();
    let rows = store
        .query(
            &format!("SELECT id, a, b FROM {table} WHERE a = $1 AND id = $2"),
            &["twice".into(), Value::Int(7)],
        )
        .await
        .unwrap();
    assert_eq!(
        rows.rows,
        vec![vec![Value::Int(7), "twice".into(), "twice".into()]]
    );
}

pub async fn query_returns_columns_in_select_order(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    insert(store, &table, 1, "one").await.unwrap();
    insert(store, &table, 2, "two").await.unwrap();
    let rows = store
        .query(
            &format!("SELECT label, id, id * 10 AS tenfold FROM {table} ORDER BY id DESC"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.columns, ["label", "id", "tenfold"]);
    assert_eq!(
        rows.rows,
        vec![
            vec!["two".into(), Value::Int(2), Value::Int(20)],
            vec!["one".into(), Value::Int(1), Value::Int(10)],
        ]
    );
    assert_eq!(rows.get(1, "tenfold"), Some(&Value::Int(10)));
    assert_eq!(rows.get(0, "missing"), None);
}

pub async fn empty_result_keeps_its_columns(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    let rows = store
        .query(&format!("SELECT id, label FROM {table}"), &[])
        .await
        .unwrap();
    assert!(rows.is_empty());
    assert_eq!(rows.columns, ["id", "label"]);
    insert(store, &table, 1, "one").await.unwrap();
    let rows = store
        .query(
            &format!("SELECT id, label FROM {table} WHERE id = $1"),
            &[Value::Int(2)],
        )
        .await
        .unwrap();
    assert!(rows.is_empty());
    assert_eq!(rows.columns, ["id", "label"]);
}

pub async fn execute_returns_affected_rows(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    let inserted = store
        .execute(
            &format!("INSERT INTO {table} (id, label) VALUES (1, 'a'), (2, 'b'), (3, 'c')"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 3);
    let updated = store
        .execute(
            &format!("UPDATE {table} SET label = $1 WHERE id >= $2"),
            &["z".into(), Value::Int(2)],
        )
        .await
        .unwrap();
    assert_eq!(updated, 2);
    let none = store
        .execute(
            &format!("UPDATE {table} SET label = 'q' WHERE id > 100"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(none, 0);
    // Statements that change no rows report 0, whatever ran before them.
    store
        .execute(&format!("DELETE FROM {table} WHERE id = 1"), &[])
        .await
        .unwrap();
    let index = format!("{table}_label");
    let ddl = store
        .execute(&format!("CREATE INDEX {index} ON {table} (label)"), &[])
        .await
        .unwrap();
    assert_eq!(ddl, 0);
    let deleted = store
        .execute(&format!("DELETE FROM {table}"), &[])
        .await
        .unwrap();
    assert_eq!(deleted, 2);
}

pub async fn execute_script_runs_every_statement(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let (parents, children) = (unique("rel_parents"), unique("rel_children"));
    store
        .execute_script(&format!(
            "-- schema and seed data
            CREATE TABLE {parents} (id BIGINT PRIMARY KEY, name TEXT NOT NULL);
            CREATE TABLE {children} (
                id BIGINT PRIMARY KEY,
                parent BIGINT NOT NULL REFERENCES {parents} (id)
            );
            CREATE INDEX {children}_parent ON {children} (parent);
            INSERT INTO {parents} (id, name) VALUES (1, 'first; with a semicolon');
            INSERT INTO {children} (id, parent) VALUES (10, 1), (11, 1);
            -- a trailing comment"
        ))
        .await
        .unwrap();
    assert_eq!(count(store, &parents).await, 1);
    assert_eq!(count(store, &children).await, 2);
    let rows = store
        .query(&format!("SELECT name FROM {parents}"), &[])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec!["first; with a semicolon".into()]]);
}

pub async fn failing_script_applies_nothing(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = unique("rel_script");
    let missing = unique("rel_missing");
    let result = store
        .execute_script(&format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY);
             INSERT INTO {table} (id) VALUES (1);
             INSERT INTO {missing} (id) VALUES (1);"
        ))
        .await;
    assert_error(result, ErrorKind::InvalidRequest);
    assert_error(
        store.query(&format!("SELECT id FROM {table}"), &[]).await,
        ErrorKind::InvalidRequest,
    );
    // The store is usable afterwards, and the same script without its bad line applies.
    store
        .execute_script(&format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY);
             INSERT INTO {table} (id) VALUES (1);"
        ))
        .await
        .unwrap();
    assert_eq!(count(store, &table).await, 1);
}

pub async fn script_with_an_unterminated_comment_is_rejected(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = unique("rel_comment");
    let result = store
        .execute_script(&format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY);
             INSERT INTO {table} (id) VALUES (1);
             /* this comment never ends"
        ))
        .await;
    assert_error(result, ErrorKind::InvalidRequest);
    assert_error(
        store.query(&format!("SELECT id FROM {table}"), &[]).await,
        ErrorKind::InvalidRequest,
    );
}

pub async fn commit_makes_writes_visible(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    let mut tx = store.begin().await.unwrap();
    for id in 1..=3 {
        let changed = tx
            .execute(
                &format!("INSERT INTO {table} (id, label) VALUES ($1, $2)"),
                &[Value::Int(id), "in tx".into()],
            )
            .await
            .unwrap();
        assert_eq!(changed, 1);
    }
    tx.commit().await.unwrap();
    assert_eq!(count(store, &table).await, 3);
}

pub async fn rollback_discards_writes(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    insert(store, &table, 1, "before").await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.execute(
        &format!("INSERT INTO {table} (id, label) VALUES (2, 'discarded')"),
        &[],
    )
    .await
    .unwrap();
    tx.execute(&format!("UPDATE {table} SET label = 'changed'"), &[])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let rows = store
        .query(&format!("SELECT id, label FROM {table}"), &[])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Int(1), "before".into()]]);
}

pub async fn dropped_transaction_rolls_back(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    let mut tx = store.begin().await.unwrap();
    tx.execute(
        &format!("INSERT INTO {table} (id, label) VALUES (1, 'abandoned')"),
        &[],
    )
    .await
    .unwrap();
    drop(tx);
    assert_eq!(count(store, &table).await, 0);
    // The connection it held is usable again, by plain calls and by transactions.
    insert(store, &table, 2, "after").await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.execute(
        &format!("INSERT INTO {table} (id, label) VALUES (3, 'committed')"),
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let rows = store
        .query(&format!("SELECT id FROM {table} ORDER BY id"), &[])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Int(2)], vec![Value::Int(3)]]);
}

pub async fn statements_in_a_transaction_see_each_other(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    let mut tx = store.begin().await.unwrap();
    tx.execute(
        &format!("INSERT INTO {table} (id, label) VALUES (1, 'new')"),
        &[],
    )
    .await
    .unwrap();
    let rows = tx
        .query(&format!("SELECT label FROM {table} WHERE id = 1"), &[])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec!["new".into()]]);
    let changed = tx
        .execute(
            &format!("UPDATE {table} SET label = $1 WHERE id = 1"),
            &["updated".into()],
        )
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let rows = tx
        .query(&format!("SELECT label FROM {table}"), &[])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec!["updated".into()]]);
    tx.commit().await.unwrap();
    let rows = store
        .query(&format!("SELECT label FROM {table}"), &[])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec!["updated".into()]]);
}

pub async fn syntax_error_is_invalid_request(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    assert_error(store.query("SELEC 1", &[]).await, ErrorKind::InvalidRequest);
    assert_error(
        store
            .execute(&format!("INSERT INTO {table} (id, label) VALUES"), &[])
            .await,
        ErrorKind::InvalidRequest,
    );
    assert_error(
        store.execute_script("CREATE TABLE (id BIGINT)").await,
        ErrorKind::InvalidRequest,
    );
    let mut tx = store.begin().await.unwrap();
    assert_error(
        tx.query("SELECT FROM WHERE", &[]).await,
        ErrorKind::InvalidRequest,
    );
    tx.rollback().await.unwrap();
    // The failed statements left the store usable.
    insert(store, &table, 1, "fine").await.unwrap();
    assert_eq!(count(store, &table).await, 1);
}

pub async fn unique_violation_is_conflict(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    insert(store, &table, 1, "original").await.unwrap();
    assert_error(
        insert(store, &table, 1, "duplicate").await,
        ErrorKind::Conflict,
    );
    let index = format!("{table}_label_unique");
    store
        .execute_script(&format!("CREATE UNIQUE INDEX {index} ON {table} (label)"))
        .await
        .unwrap();
    assert_error(
        insert(store, &table, 2, "original").await,
        ErrorKind::Conflict,
    );
    let rows = store
        .query(&format!("SELECT id, label FROM {table}"), &[])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Int(1), "original".into()]]);
}

pub async fn wrong_parameter_count_is_invalid_request(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    let sql = format!("INSERT INTO {table} (id, label) VALUES ($1, $2)");
    assert_error(
        store.execute(&sql, &[Value::Int(1)]).await,
        ErrorKind::InvalidRequest,
    );
    assert_error(
        store
            .execute(&sql, &[Value::Int(1), "a".into(), "extra".into()])
            .await,
        ErrorKind::InvalidRequest,
    );
    let select = format!("SELECT id FROM {table} WHERE id = $1");
    assert_error(store.query(&select, &[]).await, ErrorKind::InvalidRequest);
    assert_error(
        store.query(&select, &[Value::Int(1), Value::Int(2)]).await,
        ErrorKind::InvalidRequest,
    );
    let mut tx = store.begin().await.unwrap();
    assert_error(tx.execute(&sql, &[]).await, ErrorKind::InvalidRequest);
    tx.rollback().await.unwrap();
    assert_eq!(count(store, &table).await, 0);
}

pub async fn failed_statement_in_a_transaction_then_rollback(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    let mut tx = store.begin().await.unwrap();
    tx.execute(
        &format!("INSERT INTO {table} (id, label) VALUES (1, 'first')"),
        &[],
    )
    .await
    .unwrap();
    assert_error(
        tx.execute(
            &format!("INSERT INTO {table} (id, label) VALUES (1, 'again')"),
            &[],
        )
        .await,
        ErrorKind::Conflict,
    );
    tx.rollback().await.unwrap();
    assert_eq!(count(store, &table).await, 0);
    insert(store, &table, 1, "after").await.unwrap();
    assert_eq!(count(store, &table).await, 1);
}

pub async fn unicode_text_round_trips(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    let texts = [
        "naïve café",
        "Привет, мир",
        "日本語のテキスト",
        "emoji 🦀🚀 and a ZWJ 👩‍💻",
        "e\u{301} (combining) vs é (precomposed)",
        "quotes ' \" and backslash \\",
    ];
    for (id, text) in (1..).zip(texts) {
        insert(store, &table, id, text).await.unwrap();
    }
    let rows = store
        .query(&format!("SELECT label FROM {table} ORDER BY id"), &[])
        .await
        .unwrap();
    let expected: Vec<Vec<Value>> = texts.iter().map(|t| vec![(*t).into()]).collect();
    assert_eq!(rows.rows, expected);
    let rows = store
        .query(
            &format!("SELECT id FROM {table} WHERE label = $1"),
            &["日本語のテキスト".into()],
        )
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Int(3)]]);
}

pub async fn large_blob_round_trips(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = create_table(
        store,
        "rel_blob",
        "id BIGINT PRIMARY KEY, data {blob}, note TEXT",
    )
    .await;
    let blob: Vec<u8> = (0..1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let text = "λ".repeat(128 * 1024);
    store
        .execute(
            &format!("INSERT INTO {table} (id, data, note) VALUES ($1, $2, $3)"),
            &[
                Value::Int(1),
                Value::Bytes(blob.clone()),
                text.clone().into(),
            ],
        )
        .await
        .unwrap();
    let rows = store
        .query(&format!("SELECT data, note FROM {table}"), &[])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Bytes(blob), Value::Text(text)]]);
}

pub async fn concurrent_inserts_are_all_kept(f: Fixture<dyn RelationalStore>) {
    const TASKS: i64 = 8;
    const EACH: i64 = 50;
    let table = simple_table(&*f.store).await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = Arc::clone(&f.store);
            let table = table.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    let id = task * EACH + i;
                    let changed = insert(&*store, &table, id, &format!("task {task}"))
                        .await
                        .unwrap();
                    assert_eq!(changed, 1);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let rows = f
        .store
        .query(&format!("SELECT id FROM {table} ORDER BY id"), &[])
        .await
        .unwrap();
    let ids: Vec<i64> = rows.rows.iter().filter_map(|row| row[0].as_i64()).collect();
    assert_eq!(ids, (0..TASKS * EACH).collect::<Vec<_>>());
}

pub async fn concurrent_transactions_do_not_lose_updates(f: Fixture<dyn RelationalStore>) {
    const TASKS: i64 = 8;
    const EACH: i64 = 10;
    let table = create_table(
        &*f.store,
        "rel_counter",
        "id BIGINT PRIMARY KEY, n BIGINT NOT NULL",
    )
    .await;
    f.store
        .execute(&format!("INSERT INTO {table} (id, n) VALUES (1, 0)"), &[])
        .await
        .unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = Arc::clone(&f.store);
            let table = table.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..EACH {
                    let mut tx = store.begin().await.unwrap();
                    let changed = tx
                        .execute(&format!("UPDATE {table} SET n = n + 1 WHERE id = 1"), &[])
                        .await
                        .unwrap();
                    assert_eq!(changed, 1);
                    let rows = tx
                        .query(&format!("SELECT n FROM {table} WHERE id = 1"), &[])
                        .await
                        .unwrap();
                    seen.push(single_int(&rows));
                    tx.commit().await.unwrap();
                }
                seen
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.extend(task.await.unwrap());
    }
    // Each transaction saw its own increment on top of every earlier one: no value twice.
    seen.sort_unstable();
    assert_eq!(seen, (1..=TASKS * EACH).collect::<Vec<_>>());
    let rows = f
        .store
        .query(&format!("SELECT n FROM {table} WHERE id = 1"), &[])
        .await
        .unwrap();
    assert_eq!(single_int(&rows), TASKS * EACH);
}

pub async fn call_made_during_a_transaction_completes_after_it(f: Fixture<dyn RelationalStore>) {
    let table = simple_table(&*f.store).await;
    let mut tx = f.store.begin().await.unwrap();
    tx.execute(
        &format!("INSERT INTO {table} (id, label) VALUES (1, 'in tx')"),
        &[],
    )
    .await
    .unwrap();
    // Depending on the backend this call runs beside the transaction (and sees none of it) or
    // waits for its connection; either way it must finish once the transaction has.
    let outside = {
        let store = Arc::clone(&f.store);
        let table = table.clone();
        tokio::spawn(async move { count(&*store, &table).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    tx.commit().await.unwrap();
    let seen = outside.await.unwrap();
    assert!(seen == 0 || seen == 1, "saw {seen} rows");
    assert_eq!(count(&*f.store, &table).await, 1);
}

pub async fn cancelled_call_leaves_the_store_usable(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    insert(store, &table, 1, "kept").await.unwrap();
    let cancelled =
        tokio::time::timeout(Duration::from_millis(1), store.query(SLOW_QUERY, &[])).await;
    assert!(cancelled.is_err(), "the slow query finished: {cancelled:?}");
    assert_eq!(count_when_ready(store, &table).await, 1);
    insert(store, &table, 2, "after").await.unwrap();
    assert_eq!(count(store, &table).await, 2);
    // The slow query itself still works when given the time.
    let rows = store.query(SLOW_QUERY, &[]).await.unwrap();
    assert_eq!(single_int(&rows), 1_000_000);
}

pub async fn cancelled_statement_in_a_transaction_rolls_it_back(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    insert(store, &table, 1, "before").await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.execute(
        &format!("INSERT INTO {table} (id, label) VALUES (2, 'in tx')"),
        &[],
    )
    .await
    .unwrap();
    let cancelled = tokio::time::timeout(Duration::from_millis(1), tx.query(SLOW_QUERY, &[])).await;
    assert!(cancelled.is_err(), "the slow query finished: {cancelled:?}");
    drop(tx);
    assert_eq!(count_when_ready(store, &table).await, 1);
    let mut tx = store.begin().await.unwrap();
    tx.execute(
        &format!("INSERT INTO {table} (id, label) VALUES (3, 'committed')"),
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(store, &table).await, 2);
}

pub async fn reads_are_proven_read_only_and_run_read_only(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    insert(store, &table, 1, "one").await.unwrap();
    insert(store, &table, 2, "two").await.unwrap();
    for sql in [
        format!("SELECT id, label FROM {table} WHERE id = $1"),
        format!(
            "WITH picked AS (SELECT id FROM {table} WHERE id >= $1) \
             SELECT count(*) AS n FROM picked"
        ),
        format!("SELECT t.id FROM {table} t JOIN {table} u ON u.id = t.id WHERE t.id < $1 + 1"),
    ] {
        store
            .check_read_only(&sql)
            .await
            .unwrap_or_else(|err| panic!("`{sql}` is a read: {err}"));
        let read = store.query_read_only(&sql, &[Value::Int(1)]).await.unwrap();
        assert_eq!(
            read,
            store.query(&sql, &[Value::Int(1)]).await.unwrap(),
            "{sql}"
        );
    }
    let rows = store
        .query_read_only(
            &format!("SELECT label FROM {table} WHERE id = $1"),
            &[2.into()],
        )
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::from("two")]]);
    // A statement that does not parse is an invalid request, not a proof.
    assert_error(
        store.check_read_only("SELEKT 1").await,
        ErrorKind::InvalidRequest,
    );
    assert_error(
        store.check_read_only("SELECT * FROM no_such_table").await,
        ErrorKind::InvalidRequest,
    );
}

pub async fn read_only_queries_stop_at_their_row_bound(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    for id in 1..=5 {
        insert(store, &table, id, "row").await.unwrap();
    }
    let sql = format!("SELECT id FROM {table} WHERE id >= $1 ORDER BY id");
    let ids = |rows: Rows| -> Vec<i64> {
        rows.rows
            .iter()
            .map(|row| row[0].as_i64().unwrap_or(-1))
            .collect()
    };
    for (max, expected) in [
        (0, vec![]),
        (2, vec![1, 2]),
        (5, vec![1, 2, 3, 4, 5]),
        (6, vec![1, 2, 3, 4, 5]),
    ] {
        let rows = store
            .query_read_only_at_most(&sql, &[Value::Int(1)], max)
            .await
            .unwrap();
        assert_eq!(rows.columns, vec!["id".to_owned()]);
        assert_eq!(ids(rows), expected, "at most {max}");
    }
    // Only the first rows of a large result are kept.
    let large = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                 WHERE x < 1000000) SELECT x FROM c";
    let rows = store.query_read_only_at_most(large, &[], 3).await.unwrap();
    assert_eq!(rows.len(), 3);
    // The store is usable after a read it stopped midway.
    assert_eq!(count(store, &table).await, 5);
    // A write is still refused.
    assert_error(
        store
            .query_read_only_at_most(&format!("DELETE FROM {table} RETURNING id"), &[], 1)
            .await,
        ErrorKind::InvalidRequest,
    );
    assert_eq!(count(store, &table).await, 5);
}

pub async fn writes_are_not_read_only_and_change_nothing(f: Fixture<dyn RelationalStore>) {
    let store = &*f.store;
    let table = simple_table(store).await;
    let other = simple_table(store).await;
    insert(store, &table, 1, "one").await.unwrap();
    let mut writes = vec![
        format!("DELETE FROM {table}"),
        format!("DELETE FROM {table} WHERE id = $1 RETURNING id"),
        format!("INSERT INTO {table} (id, label) VALUES (9, 'nine') RETURNING id"),
        format!("UPDATE {table} SET label = 'changed' RETURNING id"),
        format!("DROP TABLE {other}"),
        format!("CREATE TABLE {other}_copy (id BIGINT)"),
        "BEGIN".to_owned(),
    ];
    match store.dialect() {
        Dialect::Sqlite => writes.extend([
            "ATTACH DATABASE ':memory:' AS elsewhere".to_owned(),
            "PRAGMA foreign_keys = OFF".to_owned(),
            "PRAGMA query_only = 0".to_owned(),
            "VACUUM".to_owned(),
        ]),
        Dialect::Postgres => writes.extend([
            format!("WITH gone AS (DELETE FROM {table} RETURNING id) SELECT id FROM gone"),
            format!(
                "WITH moved AS (UPDATE {table} SET label = 'x' RETURNING id) \
                 SELECT count(*) FROM moved"
            ),
            format!("SELECT id INTO {other}_into FROM {table}"),
            format!("SELECT id FROM {table} FOR UPDATE"),
            "SET search_path = public".to_owned(),
        ]),
        other => panic!("no write statements known for {other:?}"),
    }
    for sql in &writes {
        let err = store
            .check_read_only(sql)
            .await
            .expect_err(&format!("`{sql}` writes but was proven read-only"));
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{sql}: {err}");
        assert!(err.to_string().contains("only read"), "{sql}: {err}");
        let params: Vec<Value> = if sql.contains("$1") {
            vec![Value::Int(1)]
        } else {
            Vec::new()
        };
        assert_error(
            store.query_read_only(sql, &params).await,
            ErrorKind::InvalidRequest,
        );
    }
    // Nothing ran: the row, the other table and the store's ability to write are intact.
    let rows = store
        .query(&format!("SELECT id, label FROM {table}"), &[])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Int(1), Value::from("one")]]);
    assert_eq!(count(store, &other).await, 0);
    insert(store, &table, 2, "two").await.unwrap();
    assert_eq!(count(store, &table).await, 2);
}
