//! The PostgreSQL relational backend: the relational suite, every column type it reads,
//! server-side statement timeouts.

use polyroute_adapters::kinds::relational::{RelationalSettings, RelationalStore};
use polyroute_adapters::{EntityHandle, EntitySettings, ErrorKind, StoreKind, Value};
use serde_json::json;

use super::{gated, Schema};
use polyroute_testkit::relational_suite;
use polyroute_testkit::support::{self, unique, Fixture};

async fn open(extra: serde_json::Value) -> Fixture<dyn RelationalStore> {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::Relational, extra).await;
    let settings = EntitySettings::Relational(RelationalSettings::default());
    let EntityHandle::Relational(handle) = support::open(&*store, &unique("rel"), settings).await
    else {
        panic!("postgres relational store opened a handle of another kind");
    };
    Fixture {
        store: handle,
        capabilities: store.info().capabilities,
        guard: Some(Box::new(schema.cleanup.clone())),
    }
}

async fn fixture() -> Fixture<dyn RelationalStore> {
    open(json!({})).await
}

gated!(relational_suite!(fixture));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn postgres_types_read_as_values() {
    // The case keeps what it made (a schema, a directory) until it ends.
    let case = fixture().await;
    let db = case.store;
    let rows = db
        .query(
            "SELECT 7::int2 AS a, 8::int4 AS b, 1.5::float4 AS c, 12.50::numeric AS d, \
             -0.001::numeric AS e, 'x'::varchar AS f, \
             '2024-01-02 03:04:05.123456+00'::timestamptz AS g, \
             '1970-01-01 00:00:01'::timestamp AS h, '2000-01-02'::date AS i, \
             '{\"k\": [1, \"two\", null]}'::jsonb AS j, '[true]'::json AS k, \
             'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS l, ARRAY[1, NULL, 3]::int8[] AS m, \
             '{}'::text[] AS n, sum(x) AS o FROM (VALUES (1::bigint), (2)) AS v (x)",
            &[],
        )
        .await
        .unwrap();
    let mut map = std::collections::BTreeMap::new();
    map.insert(
        "k".to_owned(),
        Value::List(vec![Value::Int(1), "two".into(), Value::Null]),
    );
    assert_eq!(
        rows.rows,
        vec![vec![
            Value::Int(7),
            Value::Int(8),
            Value::Float(1.5),
            Value::Text("12.50".into()),
            Value::Text("-0.001".into()),
            Value::Text("x".into()),
            Value::Timestamp(1_704_164_645_123_456_000),
            Value::Timestamp(1_000_000_000),
            Value::Timestamp(946_771_200_000_000_000),
            Value::Map(map),
            Value::List(vec![Value::Bool(true)]),
            Value::Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()),
            Value::List(vec![Value::Int(1), Value::Null, Value::Int(3)]),
            Value::List(vec![]),
            Value::Text("3".into()),
        ]]
    );
    let err = db.query("SELECT interval '1 day'", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert!(err.to_string().contains("interval"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn values_bind_to_postgres_types() {
    // The case keeps what it made (a schema, a directory) until it ends.
    let case = fixture().await;
    let db = case.store;
    let table = unique("rel_bind");
    db.execute_script(&format!(
        "CREATE TABLE {table} (a int2, b int4, c numeric, d timestamptz, e jsonb, f uuid, g real)"
    ))
    .await
    .unwrap();
    let mut map = std::collections::BTreeMap::new();
    map.insert("n".to_owned(), Value::Float(0.5));
    let changed = db
        .execute(
            &format!("INSERT INTO {table} VALUES ($1, $2, $3, $4, $5, $6, $7)"),
            &[
                Value::Int(-3),
                Value::Int(70_000),
                Value::Float(-2.25),
                Value::Timestamp(1_704_164_645_123_456_789),
                Value::Map(map.clone()),
                "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11".into(),
                Value::Int(2),
            ],
        )
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let rows = db
        .query(&format!("SELECT * FROM {table}"), &[])
        .await
        .unwrap();
    assert_eq!(
        rows.rows,
        vec![vec![
            Value::Int(-3),
            Value::Int(70_000),
            Value::Text("-2.25".into()),
            // Microsecond precision: the nanoseconds are rounded down.
            Value::Timestamp(1_704_164_645_123_456_000),
            Value::Map(map),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into(),
            Value::Float(2.0),
        ]]
    );
    let err = db
        .execute(
            &format!("INSERT INTO {table} (a) VALUES ($1)"),
            &[Value::Int(70_000)],
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert!(err.to_string().contains("$1"), "{err}");
    let err = db
        .execute(
            &format!("INSERT INTO {table} (b) VALUES ($1)"),
            &["text".into()],
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn statement_timeout_cancels_on_the_server() {
    // The case keeps what it made (a schema, a directory) until it ends.
    let case = open(json!({"statement_timeout": "50ms"})).await;
    let db = case.store;
    let err = db.query("SELECT pg_sleep(5)", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    let rows = db.query("SELECT 1 AS one", &[]).await.unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Int(1)]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn commit_after_a_failed_statement_is_refused() {
    // The case keeps what it made (a schema, a directory) until it ends.
    let case = fixture().await;
    let db = case.store;
    let table = unique("rel_abort");
    db.execute_script(&format!("CREATE TABLE {table} (id bigint PRIMARY KEY)"))
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.execute(&format!("INSERT INTO {table} VALUES (1)"), &[])
        .await
        .unwrap();
    let err = tx
        .execute(&format!("INSERT INTO {table} VALUES (1)"), &[])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let err = tx.commit().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    let rows = db
        .query(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Int(0)]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn a_read_calling_a_function_that_writes_is_refused_when_it_runs() {
    // The case keeps what it made (a schema, a directory) until it ends.
    let case = fixture().await;
    let db = case.store;
    let table = unique("rel_volatile");
    let purge = unique("purge");
    db.execute_script(&format!(
        "CREATE TABLE {table} (id bigint PRIMARY KEY); \
         INSERT INTO {table} VALUES (1), (2); \
         CREATE SEQUENCE {table}_seq; \
         CREATE FUNCTION {purge}() RETURNS bigint LANGUAGE sql VOLATILE \
           AS 'DELETE FROM {table} RETURNING 1';"
    ))
    .await
    .unwrap();
    // A SELECT whose plan only reads: no proof can see inside the function.
    let sql = format!("SELECT {purge}() AS gone");
    db.check_read_only(&sql).await.unwrap();
    // Run read-only, PostgreSQL refuses the function's DELETE, and nothing is deleted.
    let err = db.query_read_only(&sql, &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert!(err.to_string().contains("read-only transaction"), "{err}");
    let err = db
        .query_read_only(&format!("SELECT nextval('{table}_seq')"), &[])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    let rows = db
        .query(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Int(2)]]);
    // The connection is back to normal: the same call outside the read-only path writes.
    db.query(&sql, &[]).await.unwrap();
    let rows = db
        .query(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Int(0)]]);
}
