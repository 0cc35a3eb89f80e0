//! Graph requests built to exhaust the sidecar: a traversal of 4 294 967 295 hops and ids far
//! past any key size. Each is refused with a 400 naming the field, and the same graph store
//! goes on taking writes and answering reads at once.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{client, json, Sidecar};

/// The depth a `u32` tops out at: the largest `max_depth` a request can carry.
const DEEPEST: u64 = 4_294_967_295;

/// The answer to `request` within `limit`, or the test fails.
async fn within(
    limit: Duration,
    request: reqwest::RequestBuilder,
) -> (u16, serde_json::Value, Duration) {
    let started = Instant::now();
    let (status, body) = json(request.send().await.unwrap()).await;
    let took = started.elapsed();
    assert!(
        took < limit,
        "answered in {took:?}, over {limit:?}: {status} {body}"
    );
    (status, body, took)
}

/// Loads a small graph into `entity`: a → b → c, a → c.
async fn seed(c: &reqwest::Client, s: &Sidecar, entity: &str) {
    let batch = json!({
        "nodes": [{"id": "a", "label": "n"}, {"id": "b", "label": "n"}, {"id": "c", "label": "n"}],
        "edges": [
            {"from": "a", "label": "r", "to": "b"},
            {"from": "b", "label": "r", "to": "c"},
            {"from": "a", "label": "r", "to": "c"}
        ]
    });
    let (status, body) = json(
        c.post(s.url(&format!("/v1/graph/{entity}/batch")))
            .json(&batch)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// The store still writes and reads: a new node, an edge to it, and a traversal that sees both,
/// each answered within a second.
async fn still_serves(c: &reqwest::Client, s: &Sidecar, entity: &str, id: &str) {
    let second = Duration::from_secs(1);
    let (status, body, _) = within(
        second,
        c.put(s.url(&format!("/v1/graph/{entity}/nodes/{id}")))
            .json(&json!({"label": "n"})),
    )
    .await;
    assert_eq!(status, 200, "a write after the attack: {body}");
    let (status, body, _) = within(
        second,
        c.post(s.url(&format!("/v1/graph/{entity}/edges")))
            .json(&json!({"from": "c", "label": "r", "to": id})),
    )
    .await;
    assert_eq!(status, 200, "an edge after the attack: {body}");
    let (status, body, _) =
        within(second, c.get(s.url(&format!("/v1/graph/{entity}/nodes/a")))).await;
    assert_eq!((status, &body["label"]), (200, &json!("n")), "{body}");
    let (status, body, _) = within(
        second,
        c.post(s.url(&format!("/v1/graph/{entity}/traverse")))
            .json(&json!({"start": "a", "max_depth": 3})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["visits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["b", "c", id]);
}

/// A traversal and a path of 4 294 967 295 hops are refused at once, naming `max_depth` and
/// the entity's limit, whether the limit is the default or the entity's own.
async fn deepest_requests_are_refused(c: &reqwest::Client, s: &Sidecar, entity: &str, limit: u32) {
    let second = Duration::from_secs(1);
    for (route, body) in [
        ("traverse", json!({"start": "a", "max_depth": DEEPEST})),
        ("traverse", json!({"start": "a", "max_depth": limit + 1})),
        (
            "shortest_path",
            json!({"from": "a", "to": "c", "max_depth": DEEPEST}),
        ),
    ] {
        let (status, error, _) = within(
            second,
            c.post(s.url(&format!("/v1/graph/{entity}/{route}")))
                .json(&body),
        )
        .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("invalid_request")),
            "{route} {body}: {error}"
        );
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("max_depth"), "{message}");
        assert!(message.contains(&limit.to_string()), "{message}");
    }
    let (status, body, _) = within(
        second,
        c.post(s.url(&format!("/v1/graph/{entity}/traverse")))
            .json(&json!({"start": "a", "max_depth": limit})),
    )
    .await;
    assert_eq!(status, 200, "a traversal at the limit: {body}");
}

/// A 70 000-byte id or label in each write route that carries one in its body is refused
/// with a 400 naming the field; nothing lands.
async fn huge_ids_are_refused(c: &reqwest::Client, s: &Sidecar, entity: &str) {
    let second = Duration::from_secs(1);
    let huge = "x".repeat(70_000);
    let writes: [(&str, Value, &str); 4] = [
        (
            "batch",
            json!({"nodes": [{"id": huge, "label": "n"}]}),
            "nodes[0]",
        ),
        (
            "batch",
            json!({"nodes": [{"id": "d", "label": "n"}], "edges": [{"from": "a", "label": huge, "to": "d"}]}),
            "edges[0]",
        ),
        (
            "edges",
            json!({"from": "a", "label": huge, "to": "b"}),
            "`label`",
        ),
        (
            "edges",
            json!({"from": huge, "label": "r", "to": "b"}),
            "`from`",
        ),
    ];
    for (route, body, field) in writes {
        let (status, error, _) = within(
            second,
            c.post(s.url(&format!("/v1/graph/{entity}/{route}")))
                .json(&body),
        )
        .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("invalid_request")),
            "{route}: {error}"
        );
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(field), "{message}");
        assert!(message.len() < 1000, "the id is not echoed: {message}");
    }
    let (status, _, _) = within(second, c.get(s.url(&format!("/v1/graph/{entity}/nodes/d")))).await;
    assert_eq!(status, 404, "nothing of the refused batch landed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_graph_refuses_runaway_depth_and_huge_ids_and_keeps_serving() {
    let config = r#"
[stores.social]
kind = "graph"
path = "graph"

[entities.friends]
store = "social"

[entities.roads]
store = "social"
max_depth = 3
"#;
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), config, &[]);
    let c = client();
    for entity in ["friends", "roads"] {
        seed(&c, &sidecar, entity).await;
    }
    deepest_requests_are_refused(&c, &sidecar, "friends", 10).await;
    deepest_requests_are_refused(&c, &sidecar, "roads", 3).await;
    huge_ids_are_refused(&c, &sidecar, "friends").await;
    // The same store, through both entities, takes writes as before.
    still_serves(&c, &sidecar, "friends", "e").await;
    still_serves(&c, &sidecar, "roads", "e").await;
}

/// The attack as first seen: deep traversals against PostgreSQL. The default limit refuses
/// 4 294 967 295 hops; an entity whose operator allows a million hops still answers a dense
/// graph at once, several requests at a time, because each node is expanded once; and a
/// plain read is not kept waiting behind them.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn postgres_graph_refuses_runaway_depth_and_deep_traversals_stay_cheap() {
    let url = std::env::var("POLYROUTE_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| {
            panic!("POLYROUTE_REQUIRE_SERVICES=1 but POLYROUTE_TEST_POSTGRES_URL is not set")
        });
    let schema = format!("graph_attacks_{}", std::process::id());
    let config = format!(
        r#"
[stores.pg]
kind = "graph"
backend = "postgres"
url = "{url}"
schema = "{schema}"
pool = 4

[stores.sql]
kind = "relational"
backend = "postgres"
url = "{url}"
schema = "{schema}"
pool = 1

[entities.friends]
store = "pg"

[entities.web]
store = "pg"
max_depth = 1000000

[entities.cleanup]
store = "sql"

[sidecar.queries.cleanup]
drop = {{ sql = "DROP SCHEMA {schema} CASCADE", write = true }}
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), &config, &[]);
    let c = client();
    seed(&c, &sidecar, "friends").await;
    deepest_requests_are_refused(&c, &sidecar, "friends", 10).await;
    huge_ids_are_refused(&c, &sidecar, "friends").await;
    still_serves(&c, &sidecar, "friends", "e").await;

    // A complete graph of 30 nodes, and eight traversals of a million hops at once, twice the
    // store's pool.
    let ids: Vec<String> = (0..30).map(|i| format!("n{i:02}")).collect();
    let nodes: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "label": "page"}))
        .collect();
    let mut edges = Vec::new();
    for a in &ids {
        for b in &ids {
            if a != b {
                edges.push(json!({"from": a, "label": "link", "to": b}));
            }
        }
    }
    let (status, body) = json(
        c.post(sidecar.url("/v1/graph/web/batch"))
            .json(&json!({"nodes": nodes, "edges": edges}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let started = Instant::now();
    let deep = (0..8).map(|_| {
        c.post(sidecar.url("/v1/graph/web/traverse"))
            .json(&json!({"start": "n00", "direction": "both", "max_depth": 1_000_000}))
            .send()
    });
    let read = within(
        Duration::from_secs(1),
        c.get(sidecar.url("/v1/graph/friends/nodes/a")),
    );
    let (answers, (status, _, _)) = tokio::join!(futures_util::future::join_all(deep), read);
    assert_eq!(status, 200, "a plain read beside the deep traversals");
    for answer in answers {
        let (status, body) = json(answer.unwrap()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["visits"].as_array().unwrap().len(), 29);
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "eight deep traversals took {took:?}"
    );

    let (status, body) = json(
        c.post(sidecar.url("/v1/relational/cleanup/statements/drop"))
            .json(&json!({"params": []}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
