use rusqlite::Connection;
use serde_json::{json, Value as Json};

use super::*;
use crate::kinds::document::{DocumentSettings, Order};
use crate::registry;

fn plan(conn: &Connection, sql: &sql::Sql) -> String {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))
        .unwrap();
    bind_params(&mut stmt, &sql.params).unwrap();
    let mut rows = stmt.raw_query();
    let mut lines = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        lines.push(row.get::<_, String>(3).unwrap());
    }
    lines.join("\n")
}

fn path(p: &str) -> FieldPath {
    FieldPath::parse(p).unwrap()
}

fn indexed_table() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute(&sql::create_table("t"), []).unwrap();
    conn.execute(&sql::create_index("t", &path("a.b")), [])
        .unwrap();
    conn
}

#[test]
fn filters_and_sorts_on_an_indexed_field_use_its_index() {
    let conn = indexed_table();
    let find = |filter: Filter| plan(&conn, &sql::select("t", &FindQuery::new(filter)).unwrap());

    let eq = find(Filter::eq("a.b", 7).unwrap());
    assert!(eq.contains("USING INDEX doc_t:a.b (<expr>=?)"), "{eq}");
    let eq_text = find(Filter::eq("a.b", "x").unwrap());
    assert!(
        eq_text.contains("USING INDEX doc_t:a.b (<expr>=?)"),
        "{eq_text}"
    );
    let eq_null = find(Filter::eq("a.b", Json::Null).unwrap());
    assert!(eq_null.contains("USING INDEX doc_t:a.b"), "{eq_null}");
    let one_of = find(Filter::is_in("a.b", vec![json!(1), json!(2)]).unwrap());
    assert!(
        one_of.contains("USING INDEX doc_t:a.b (<expr>=?)"),
        "{one_of}"
    );

    for filter in [
        Filter::gt("a.b", 7).unwrap(),
        Filter::lte("a.b", 7.5).unwrap(),
        Filter::gte("a.b", "m").unwrap(),
        Filter::lt("a.b", "m").unwrap(),
    ] {
        let range = find(filter.clone());
        assert!(
            range.contains("USING INDEX doc_t:a.b (<expr>>? AND <expr><?)"),
            "{filter:?}: {range}"
        );
    }

    let count = plan(
        &conn,
        &sql::count("t", &Filter::gt("a.b", 1).unwrap()).unwrap(),
    );
    assert!(count.contains("USING INDEX doc_t:a.b"), "{count}");

    let sorted = FindQuery::new(Filter::All)
        .sort_by("a.b", Order::Ascending)
        .unwrap()
        .limit(10);
    let sorted = plan(&conn, &sql::select("t", &sorted).unwrap());
    assert!(
        sorted.contains("SCAN doc_t USING INDEX doc_t:a.b"),
        "{sorted}"
    );
    assert!(!sorted.contains("TEMP B-TREE"), "{sorted}");
}

#[test]
fn without_the_index_the_same_filter_scans() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute(&sql::create_table("t"), []).unwrap();
    let eq = sql::select("t", &FindQuery::new(Filter::eq("a.b", 7).unwrap())).unwrap();
    let eq = plan(&conn, &eq);
    assert!(eq.contains("SCAN doc_t"), "{eq}");
    assert!(!eq.contains("doc_t:a.b"), "{eq}");
}

#[test]
fn values_are_bound_never_written_into_the_sql() {
    let filter = Filter::eq("a", "'; DROP TABLE x; --")
        .unwrap()
        .and(Filter::gt("b", 57).unwrap())
        .and(Filter::is_in("c", vec![json!("q"), json!(true)]).unwrap());
    let sql = sql::select("t", &FindQuery::new(filter).skip(3).limit(4)).unwrap();
    assert!(!sql.text.contains("DROP"), "{}", sql.text);
    assert!(!sql.text.contains("57"), "{}", sql.text);
    assert_eq!(
        sql.params,
        vec![
            Value::Text("'; DROP TABLE x; --".into()),
            Value::Int(57),
            Value::Int(1),
            Value::Text("q".into()),
            Value::Int(4),
            Value::Int(3),
        ]
    );
}

async fn memory_store() -> EmbeddedDocument {
    EmbeddedDocument::open(Config::default(), &ConnectContext::default())
        .await
        .unwrap()
}

async fn collection(
    store: &EmbeddedDocument,
    settings: DocumentSettings,
) -> Arc<dyn DocumentStore> {
    let spec = EntitySpec::new("things", EntitySettings::Document(settings)).unwrap();
    match store.open(&spec).await.unwrap() {
        EntityHandle::Document(handle) => handle,
        other => panic!("opened a {:?} handle", other.kind()),
    }
}

fn doc(value: Json) -> Document {
    value.as_object().unwrap().clone()
}

async fn ids(store: &dyn DocumentStore, filter: Filter) -> Vec<String> {
    let found = store.find(&FindQuery::new(filter.clone())).await.unwrap();
    assert_eq!(
        store.count(&filter).await.unwrap(),
        found.len() as u64,
        "{filter:?}"
    );
    found.into_iter().map(|d| d.id).collect()
}

#[tokio::test]
async fn arrays_objects_and_booleans_never_equal_numbers_or_strings() {
    let store = memory_store().await;
    let docs = collection(&store, DocumentSettings::with_indexes(vec![path("v")])).await;
    let values = [
        ("arr", json!([1])),
        ("arr_text", json!(["1"])),
        ("obj", json!({"a": 1})),
        ("one", json!(1)),
        ("text", json!("1")),
        ("text_arr", json!("[1]")),
        ("true", json!(true)),
        ("zero", json!(0)),
        ("false", json!(false)),
    ];
    for (id, v) in &values {
        docs.put(id, doc(json!({ "v": v }))).await.unwrap();
    }
    assert_eq!(ids(&*docs, Filter::eq("v", 1).unwrap()).await, ["one"]);
    assert_eq!(ids(&*docs, Filter::eq("v", "1").unwrap()).await, ["text"]);
    assert_eq!(
        ids(&*docs, Filter::eq("v", "[1]").unwrap()).await,
        ["text_arr"]
    );
    assert_eq!(ids(&*docs, Filter::eq("v", true).unwrap()).await, ["true"]);
    assert_eq!(ids(&*docs, Filter::eq("v", 0).unwrap()).await, ["zero"]);
    assert_eq!(
        ids(&*docs, Filter::gte("v", 0).unwrap()).await,
        ["one", "zero"]
    );
    assert_eq!(
        ids(&*docs, Filter::lt("v", "z").unwrap()).await,
        ["text", "text_arr"]
    );
    assert_eq!(ids(&*docs, Filter::lt("v", true).unwrap()).await, ["false"]);
    assert_eq!(
        ids(&*docs, Filter::gte("v", false).unwrap()).await,
        ["false", "true"]
    );
    let mixed = Filter::is_in("v", vec![json!(0), json!("1"), json!(true)]).unwrap();
    assert_eq!(ids(&*docs, mixed).await, ["text", "true", "zero"]);
}

#[tokio::test]
async fn null_is_ordered_only_with_itself_and_big_numbers_compare() {
    let store = memory_store().await;
    let docs = collection(&store, DocumentSettings::default()).await;
    docs.put("null", doc(json!({"v": null}))).await.unwrap();
    docs.put("missing", doc(json!({}))).await.unwrap();
    docs.put("huge", doc(json!({"v": u64::MAX}))).await.unwrap();
    docs.put("max", doc(json!({"v": i64::MAX}))).await.unwrap();
    assert_eq!(
        ids(&*docs, Filter::lte("v", Json::Null).unwrap()).await,
        ["null"]
    );
    assert_eq!(
        ids(&*docs, Filter::gte("v", Json::Null).unwrap()).await,
        ["null"]
    );
    assert!(ids(&*docs, Filter::lt("v", Json::Null).unwrap())
        .await
        .is_empty());
    assert!(ids(&*docs, Filter::gt("v", Json::Null).unwrap())
        .await
        .is_empty());
    assert_eq!(
        ids(&*docs, Filter::eq("v", u64::MAX).unwrap()).await,
        ["huge"]
    );
    assert_eq!(
        ids(&*docs, Filter::eq("v", i64::MAX).unwrap()).await,
        ["max"]
    );
    assert_eq!(
        ids(&*docs, Filter::gt("v", i64::MAX).unwrap()).await,
        ["huge"]
    );
    assert_eq!(
        docs.get("huge").await.unwrap().unwrap()["v"],
        json!(u64::MAX),
        "stored text is returned as written"
    );
}

#[tokio::test]
async fn paths_stop_at_arrays_and_scalars() {
    let store = memory_store().await;
    let docs = collection(&store, DocumentSettings::default()).await;
    docs.put("array", doc(json!({"a": [{"b": 1}], "n": ["x"]})))
        .await
        .unwrap();
    docs.put("scalar", doc(json!({"a": 5}))).await.unwrap();
    docs.put("object", doc(json!({"a": {"b": 1}, "n": {"0": "x"}})))
        .await
        .unwrap();
    assert_eq!(ids(&*docs, Filter::eq("a.b", 1).unwrap()).await, ["object"]);
    assert_eq!(
        ids(&*docs, Filter::exists("a.b", false).unwrap()).await,
        ["array", "scalar"]
    );
    assert_eq!(
        ids(&*docs, Filter::eq("n.0", "x").unwrap()).await,
        ["object"]
    );
}

#[tokio::test]
async fn sort_order_across_types_is_sqlites() {
    let store = memory_store().await;
    let docs = collection(&store, DocumentSettings::default()).await;
    let values = [
        ("a_text", json!("a")),
        ("b_two", json!(2)),
        ("c_true", json!(true)),
        ("d_half", json!(0.5)),
        ("e_null", json!(null)),
        ("g_one", json!(1)),
        ("h_obj", json!({"x": 1})),
    ];
    for (id, v) in &values {
        docs.put(id, doc(json!({ "v": v }))).await.unwrap();
    }
    docs.put("f_missing", doc(json!({}))).await.unwrap();
    let query = FindQuery::new(Filter::All)
        .sort_by("v", Order::Ascending)
        .unwrap();
    let order: Vec<String> = docs
        .find(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(
        order,
        [
            "e_null",
            "f_missing",
            "d_half",
            "c_true",
            "g_one",
            "b_two",
            "a_text",
            "h_obj"
        ]
    );
}

#[tokio::test]
async fn limits_on_ids_and_depth() {
    let store = memory_store().await;
    let docs = collection(&store, DocumentSettings::default()).await;
    let err = docs.put("", doc(json!({}))).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidRequest { .. }), "{err}");
    let err = docs.insert("", doc(json!({}))).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidRequest { .. }), "{err}");

    let nested = |levels: usize| {
        let mut value = json!(1);
        for i in 1..levels {
            value = if i % 2 == 0 {
                json!([value])
            } else {
                json!({ "n": value })
            };
        }
        doc(json!({ "n": value }))
    };
    let deepest = nested(MAX_DEPTH);
    docs.put("deep", deepest.clone()).await.unwrap();
    assert_eq!(docs.get("deep").await.unwrap(), Some(deepest));
    let err = docs.put("deeper", nested(MAX_DEPTH + 1)).await.unwrap_err();
    assert!(err.to_string().contains("nested more than 100"), "{err}");
    assert_eq!(docs.get("deeper").await.unwrap(), None);
}

#[tokio::test]
async fn open_checks_settings_and_names() {
    let store = memory_store().await;
    let spec = EntitySpec::new(
        "kv",
        EntitySettings::KeyValue(crate::kinds::key_value::KeyValueSettings::default()),
    )
    .unwrap();
    let err = store.open(&spec).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidRequest { .. }), "{err}");
    let spec = EntitySpec {
        name: "x\"; DROP TABLE y; --".into(),
        settings: EntitySettings::Document(DocumentSettings::default()),
    };
    let err = store.open(&spec).await.unwrap_err();
    assert!(err.to_string().contains("not an identifier"), "{err}");
    assert!(!store.info().capabilities.durable);
    store.ping().await.unwrap();
}

#[tokio::test]
async fn options_are_checked_and_paths_resolve_against_the_config_folder() {
    let err =
        registry::validate(StoreKind::Document, "embedded", &json!({"paht": "x.db"})).unwrap_err();
    assert!(err.to_string().contains("unknown field `paht`"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let context = ConnectContext {
        base_dir: dir.path().to_owned(),
        ..Default::default()
    };
    let options =
        json!({"path": "data/docs.db", "pool": 2, "busy_timeout": "1s", "synchronous": "normal"});
    let store = registry::connect(StoreKind::Document, "embedded", &options, &context)
        .await
        .unwrap();
    assert!(store.info().capabilities.durable);
    assert!(store.info().capabilities.secondary_indexes);
    store.ping().await.unwrap();
    assert!(dir.path().join("data/docs.db").exists());
}

#[tokio::test]
async fn floats_match_exactly_as_written() {
    let store = memory_store().await;
    let docs = collection(&store, DocumentSettings::with_indexes(vec![path("f")])).await;
    let floats = [
        0.1,
        1.5e-300,
        6.02e23,
        std::f64::consts::PI,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        5e-324,
        -0.3,
        123_456_789.123_456_79,
        9_007_199_254_740_992.0,
    ];
    for (n, f) in floats.iter().enumerate() {
        docs.put(&format!("f{n:02}"), doc(json!({ "f": f })))
            .await
            .unwrap();
    }
    for (n, f) in floats.iter().enumerate() {
        let id = format!("f{n:02}");
        assert_eq!(
            ids(&*docs, Filter::eq("f", *f).unwrap()).await,
            [id.as_str()],
            "{f:e}"
        );
        assert_eq!(
            docs.get(&id).await.unwrap().unwrap()["f"],
            json!(f),
            "{f:e}"
        );
    }
}

/// Orders where `status` has two values and `city` a hundred: without statistics SQLite rates
/// both indexes alike; with them it must walk the `city` one, on every connection of the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_planner_learns_which_index_narrows_most_as_the_table_grows() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        path: Some(dir.path().join("docs.db")),
        ..Config::default()
    };
    let store = EmbeddedDocument::open(config, &ConnectContext::default())
        .await
        .unwrap();
    let settings = DocumentSettings::with_indexes(vec![path("customer.city"), path("status")]);
    let orders = collection(&store, settings.clone()).await;
    let query = FindQuery::new(
        Filter::eq("customer.city", "c8")
            .unwrap()
            .and(Filter::eq("status", "shipped").unwrap()),
    )
    .sort_by("total", Order::Descending)
    .unwrap()
    .limit(3);
    let select = sql::select("things", &query).unwrap();
    let city = "USING INDEX doc_things:customer.city (<expr>=?)";
    // Three connections plan the query before there are statistics: each loads none.
    let before = plans(&store, &select, 3).await;
    // Without statistics the two indexes look alike to the planner, and it takes the other.
    assert!(
        before
            .iter()
            .all(|p| p.contains("USING INDEX doc_things:status")),
        "{before:?}"
    );

    for n in 0..1_000 {
        let order = json!({
            "customer": {"city": format!("c{}", n % 100)},
            "status": if n % 2 == 0 { "shipped" } else { "paid" },
            "total": n,
        });
        orders.put(&format!("o{n}"), doc(order)).await.unwrap();
    }

    // The analysis runs in the background once the table has grown: wait for its plans.
    let started = std::time::Instant::now();
    loop {
        let plans = plans(&store, &select, 3).await;
        if plans.iter().all(|plan| plan.contains(city)) {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the plans never used the city index: {plans:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let found = orders.find(&query).await.unwrap();
    let ids: Vec<&str> = found.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["o908", "o808", "o708"]);

    // Reopened, the statistics are read back, not recomputed from nothing.
    drop(orders);
    let reopened = EmbeddedDocument::open(
        Config {
            path: Some(dir.path().join("docs.db")),
            ..Config::default()
        },
        &ConnectContext::default(),
    )
    .await
    .unwrap();
    let _orders = collection(&reopened, settings).await;
    let text = plans(&reopened, &select, 1).await;
    assert!(text[0].contains(city), "{text:?}");
}

/// The plans of `select` on `count` connections of the store's pool, all held at once (so
/// they are distinct connections).
async fn plans(store: &EmbeddedDocument, select: &sql::Sql, count: usize) -> Vec<String> {
    let mut held = Vec::new();
    for _ in 0..count {
        held.push(store.pool.get().await.unwrap());
    }
    let mut out = Vec::new();
    for conn in &mut held {
        let select = sql::Sql {
            text: select.text.clone(),
            params: select.params.clone(),
        };
        out.push(conn.run(move |conn| Ok(plan(conn, &select))).await.unwrap());
    }
    out
}

/// An index created on a table that already has rows has statistics when `create_index`
/// returns, so the planner never rates it blindly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_created_on_a_full_table_is_analysed_at_once() {
    let store = memory_store().await;
    let things = collection(&store, DocumentSettings::default()).await;
    for n in 0..300 {
        let thing = json!({"kind": format!("k{}", n % 3)});
        things.put(&format!("t{n}"), doc(thing)).await.unwrap();
    }
    things.create_index(&path("kind")).await.unwrap();
    let analysed: bool = store
        .pool
        .run(|conn| {
            conn.query_row(
                "SELECT count(*) > 0 FROM sqlite_stat1 WHERE idx = 'doc_things:kind'",
                [],
                |row| row.get(0),
            )
            .map_err(map_error)
        })
        .await
        .unwrap();
    assert!(analysed, "the new index has no statistics");
}
