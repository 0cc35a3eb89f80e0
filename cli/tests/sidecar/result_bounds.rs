//! Listings are bounded by `[sidecar] max_results`: without a `limit`, every listing route
//! answers at most that many items and a `next`; following `next` until it is null reads every
//! item once, in order; a `limit` above the bound is a 400 naming `limit`. A named read
//! statement stops at the bound and says it was `truncated`.

use serde_json::{json, Value};

use crate::harness::{client, json, Sidecar, STORES};

/// The bound every test here configures.
const MAX: usize = 5;

/// The embedded stores of every kind, with listings bounded to [`MAX`] items.
fn config() -> String {
    format!("[sidecar]\nmax_results = {MAX}\n{STORES}")
}

/// POSTs `body` to `path` and returns the 200 answer.
async fn post(c: &reqwest::Client, s: &Sidecar, path: &str, body: &Value) -> Value {
    let (status, answer) = json(c.post(s.url(path)).json(body).send().await.unwrap()).await;
    assert_eq!(status, 200, "{path} {body}: {answer}");
    answer
}

/// Reads every page of a POST listing: sends `body`, then `body` with the members of each
/// answer's `next` set, until `next` is null. Returns each page's `items` member.
async fn pages(
    c: &reqwest::Client,
    s: &Sidecar,
    path: &str,
    body: Value,
    items: &str,
) -> Vec<Vec<Value>> {
    let mut body = body;
    let mut pages = Vec::new();
    loop {
        let answer = post(c, s, path, &body).await;
        let page = answer[items].as_array().unwrap().clone();
        assert!(
            page.len() <= MAX,
            "{path}: {} items over the bound",
            page.len()
        );
        pages.push(page);
        match &answer["next"] {
            Value::Null => return pages,
            Value::Object(next) => {
                for (name, value) in next {
                    body[name] = value.clone();
                }
            }
            other => panic!("{path}: `next` is {other}"),
        }
        assert!(pages.len() < 100, "{path}: `next` never ends");
    }
}

/// A `limit` above the bound is refused, naming `limit`.
async fn refuses_a_limit_above_the_bound(request: reqwest::RequestBuilder) {
    let (status, error) = json(request.send().await.unwrap()).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["field"], "limit", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains(&MAX.to_string()),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_find_pages_every_match_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sidecar::start_in(dir.path(), &config(), &[]);
    let c = client();
    for i in 0..12 {
        let (status, body) = json(
            c.put(s.url(&format!("/v1/document/products/docs/p{i:02}")))
                .json(&json!({"category": if i % 4 == 0 { "garden" } else { "home" }, "price": 100 - i}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let query =
        json!({"filter": {"category": "home"}, "sort": [{"field": "price", "order": "asc"}]});
    let pages = pages(
        &c,
        &s,
        "/v1/document/products/find",
        query.clone(),
        "documents",
    )
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![5, 4]);
    let ids: Vec<&str> = pages
        .iter()
        .flatten()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    // Nine home products, cheapest (highest number) first.
    let expected: Vec<String> = (0..12)
        .rev()
        .filter(|i| i % 4 != 0)
        .map(|i| format!("p{i:02}"))
        .collect();
    assert_eq!(ids, expected);
    // A smaller limit pages the same way.
    let mut small = query.clone();
    small["limit"] = json!(2);
    let pages = pages_of(&c, &s, "/v1/document/products/find", small, "documents").await;
    assert_eq!(pages, expected);
    let mut big = query;
    big["limit"] = json!(MAX + 1);
    refuses_a_limit_above_the_bound(c.post(s.url("/v1/document/products/find")).json(&big)).await;
}

/// The ids of every page's items, in order.
async fn pages_of(
    c: &reqwest::Client,
    s: &Sidecar,
    path: &str,
    body: Value,
    items: &str,
) -> Vec<String> {
    pages(c, s, path, body, items)
        .await
        .into_iter()
        .flatten()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_series_range_pages_every_point_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sidecar::start_in(dir.path(), &config(), &[]);
    let c = client();
    // web-1 has a point every 10 ns from 0 to 110, web-2 every 25 ns from 5: the cuts of the
    // two series fall at different instants.
    let mut points = Vec::new();
    for t in (0..120).step_by(10) {
        points.push(json!({"measurement": "cpu", "tags": {"host": "web-1"}, "fields": {"usage": t}, "timestamp": t}));
    }
    for t in (5..120).step_by(25) {
        points.push(json!({"measurement": "cpu", "tags": {"host": "web-2"}, "fields": {"usage": t}, "timestamp": t}));
    }
    post(
        &c,
        &s,
        "/v1/time_series/cpu/points",
        &json!({ "points": points }),
    )
    .await;
    let query = json!({"measurement": "cpu", "start": 0, "end": 1000});
    let pages = pages(&c, &s, "/v1/time_series/cpu/range", query.clone(), "series").await;
    assert!(pages.len() > 2, "{pages:?}");
    let mut read: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
    for series in pages.iter().flatten() {
        let host = series["tags"]["host"].as_str().unwrap().to_owned();
        let timestamps: Vec<i64> = series["timestamps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_i64().unwrap())
            .collect();
        let usage: Vec<i64> = series["fields"]["usage"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(
            timestamps, usage,
            "fields stay aligned with their timestamps"
        );
        read.entry(host).or_default().extend(timestamps);
    }
    assert_eq!(read["web-1"], (0..120).step_by(10).collect::<Vec<i64>>());
    assert_eq!(read["web-2"], (5..120).step_by(25).collect::<Vec<i64>>());
    let mut big = query;
    big["limit"] = json!(MAX + 1);
    refuses_a_limit_above_the_bound(c.post(s.url("/v1/time_series/cpu/range")).json(&big)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wide_column_slice_pages_every_row_once_in_both_orders() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sidecar::start_in(dir.path(), &config(), &[]);
    let c = client();
    let rows: Vec<Value> = (0..12)
        .map(|at| json!({"user_id": 7, "at": at, "page": format!("/p{at}")}))
        .chain([json!({"user_id": 8, "at": 0, "page": "/other"})])
        .collect();
    post(
        &c,
        &s,
        "/v1/wide_column/clicks/rows",
        &json!({ "rows": rows }),
    )
    .await;
    let ats = |pages: Vec<Vec<Value>>| -> Vec<i64> {
        pages
            .iter()
            .flatten()
            .map(|row| row["at"].as_i64().unwrap())
            .collect()
    };
    let ascending = pages(
        &c,
        &s,
        "/v1/wide_column/clicks/slice",
        json!({"partition": [7]}),
        "rows",
    )
    .await;
    assert_eq!(
        ascending.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![5, 5, 2]
    );
    assert_eq!(ats(ascending), (0..12).collect::<Vec<_>>());
    let descending = pages(
        &c,
        &s,
        "/v1/wide_column/clicks/slice",
        json!({"partition": [7], "order": "desc", "start": {"key": [2]}, "limit": 3}),
        "rows",
    )
    .await;
    assert_eq!(ats(descending), (2..12).rev().collect::<Vec<_>>());
    refuses_a_limit_above_the_bound(
        c.post(s.url("/v1/wide_column/clicks/slice"))
            .json(&json!({"partition": [7], "limit": MAX + 1})),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_neighbors_and_traversals_page_every_node_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sidecar::start_in(dir.path(), &config(), &[]);
    let c = client();
    // hub → n00..n11, and each even nNN → mNN.
    let mut nodes = vec![json!({"id": "hub", "label": "n"})];
    let mut edges = Vec::new();
    for i in 0..12 {
        nodes.push(json!({"id": format!("n{i:02}"), "label": "n"}));
        edges.push(json!({"from": "hub", "label": "r", "to": format!("n{i:02}")}));
        if i % 2 == 0 {
            nodes.push(json!({"id": format!("m{i:02}"), "label": "n"}));
            edges.push(json!({"from": format!("n{i:02}"), "label": "r", "to": format!("m{i:02}")}));
        }
    }
    post(
        &c,
        &s,
        "/v1/graph/friends/batch",
        &json!({"nodes": nodes, "edges": edges}),
    )
    .await;

    let mut neighbours = Vec::new();
    let mut skip: Option<u64> = None;
    loop {
        let url = match skip {
            None => s.url("/v1/graph/friends/nodes/hub/neighbors"),
            Some(skip) => s.url(&format!(
                "/v1/graph/friends/nodes/hub/neighbors?skip={skip}"
            )),
        };
        let (status, answer) = json(c.get(url).send().await.unwrap()).await;
        assert_eq!(status, 200, "{answer}");
        let page = answer["neighbors"].as_array().unwrap();
        assert!(page.len() <= MAX, "{answer}");
        neighbours.extend(
            page.iter()
                .map(|n| n["node"]["id"].as_str().unwrap().to_owned()),
        );
        match &answer["next"] {
            Value::Null => break,
            next => skip = Some(next["skip"].as_u64().unwrap()),
        }
        assert!(neighbours.len() < 100, "`next` never ends");
    }
    let expected: Vec<String> = (0..12).map(|i| format!("n{i:02}")).collect();
    assert_eq!(neighbours, expected);
    refuses_a_limit_above_the_bound(c.get(s.url(&format!(
        "/v1/graph/friends/nodes/hub/neighbors?limit={}",
        MAX + 1
    ))))
    .await;

    let query = json!({"start": "hub", "max_depth": 2});
    let visits: Vec<(String, u64)> = pages(
        &c,
        &s,
        "/v1/graph/friends/traverse",
        query.clone(),
        "visits",
    )
    .await
    .into_iter()
    .flatten()
    .map(|v| {
        (
            v["id"].as_str().unwrap().to_owned(),
            v["depth"].as_u64().unwrap(),
        )
    })
    .collect();
    let mut expected: Vec<(String, u64)> = (0..12).map(|i| (format!("n{i:02}"), 1)).collect();
    expected.extend((0..12).step_by(2).map(|i| (format!("m{i:02}"), 2)));
    assert_eq!(visits, expected);
    let mut big = query;
    big["limit"] = json!(MAX + 1);
    refuses_a_limit_above_the_bound(c.post(s.url("/v1/graph/friends/traverse")).json(&big)).await;
}

/// A named read statement answers at most [`MAX`] rows, and says when it had more.
async fn read_statements_stop_at_the_bound(c: &reqwest::Client, s: &Sidecar) {
    for id in 1..=8 {
        let customer = if id <= 7 { "alice" } else { "bob" };
        post(
            c,
            s,
            "/v1/relational/orders/statements/add",
            &json!({"params": [id, customer, 10.0]}),
        )
        .await;
    }
    let answer = post(
        c,
        s,
        "/v1/relational/orders/queries/by_customer",
        &json!({"params": ["alice"]}),
    )
    .await;
    let ids: Vec<i64> = answer["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[0].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5], "{answer}");
    assert_eq!(answer["truncated"], true, "{answer}");
    assert_eq!(answer["next"], Value::Null, "{answer}");
    let answer = post(
        c,
        s,
        "/v1/relational/orders/queries/by_customer",
        &json!({"params": ["bob"]}),
    )
    .await;
    assert_eq!(answer["rows"].as_array().unwrap().len(), 1, "{answer}");
    assert_eq!(answer["truncated"], false, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_read_statements_stop_at_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sidecar::start_in(dir.path(), &config(), &[]);
    read_statements_stop_at_the_bound(&client(), &s).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn postgres_read_statements_stop_at_the_bound() {
    let url = std::env::var("POLYROUTE_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| {
            panic!("POLYROUTE_REQUIRE_SERVICES=1 but POLYROUTE_TEST_POSTGRES_URL is not set")
        });
    let schema = format!("result_bounds_{}", std::process::id());
    let config = format!(
        r#"
[sidecar]
max_results = {MAX}

[stores.db]
kind = "relational"
backend = "postgres"
url = "{url}"
schema = "{schema}"
pool = 2

[entities.orders]
store = "db"

[sidecar.schema]
orders = "CREATE TABLE IF NOT EXISTS orders (id BIGINT PRIMARY KEY, customer TEXT NOT NULL, total DOUBLE PRECISION NOT NULL)"

[sidecar.queries.orders]
by_customer = "SELECT id, total FROM orders WHERE customer = $1 ORDER BY id"
add = {{ sql = "INSERT INTO orders (id, customer, total) VALUES ($1, $2, $3)", write = true }}
many = "SELECT x FROM generate_series(1, 1000000) AS x"
drop = {{ sql = "DROP SCHEMA {schema} CASCADE", write = true }}
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let s = Sidecar::start_in(dir.path(), &config, &[]);
    let c = client();
    read_statements_stop_at_the_bound(&c, &s).await;
    let answer = post(&c, &s, "/v1/relational/orders/queries/many", &json!({})).await;
    assert_eq!(answer["rows"].as_array().unwrap().len(), MAX, "{answer}");
    assert_eq!(answer["truncated"], true, "{answer}");
    post(&c, &s, "/v1/relational/orders/statements/drop", &json!({})).await;
}
