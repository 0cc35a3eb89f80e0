//! Search query text built to exhaust the sidecar: 200 000 opening parentheses or minus signs
//! (which once overflowed the stack of the server backends' parser and aborted the process),
//! nesting just past the kind's depth (which took tantivy's grammar seconds per request), and
//! text that once panicked tantivy's parser. Each is answered at once with a 400 naming the
//! bound, or with results, and the same entity goes on answering plain queries.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{client, json, Sidecar};

/// The answer to a query with `text` on `entity`, which must come within a second.
async fn query(c: &reqwest::Client, s: &Sidecar, entity: &str, text: &str) -> (u16, Value) {
    let started = Instant::now();
    let answer = json(
        c.post(s.url(&format!("/v1/search/{entity}/query")))
            .json(&json!({"text": text, "limit": 5, "snippets": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "a query of {} bytes took {took:?}: {answer:?}",
        text.len()
    );
    answer
}

/// Indexes three documents into `entity` and makes them searchable.
async fn seed(c: &reqwest::Client, s: &Sidecar, entity: &str) {
    let documents = json!({"documents": [
        {"id": "1", "fields": {"title": "red apple pie", "category": "food"}},
        {"id": "2", "fields": {"title": "green apple", "category": "food"}},
        {"id": "3", "fields": {"title": "blue shoes", "category": "wear"}}
    ]});
    let (status, body) = json(
        c.post(s.url(&format!("/v1/search/{entity}/docs")))
            .json(&documents)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = json(
        c.post(s.url(&format!("/v1/search/{entity}/refresh")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// The ids a plain query finds, sorted.
async fn found(c: &reqwest::Client, s: &Sidecar, entity: &str, text: &str) -> Vec<String> {
    let (status, body) = query(c, s, entity, text).await;
    assert_eq!(status, 200, "{text}: {body}");
    let mut ids: Vec<String> = body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Every attack, then plain queries on the same entity.
async fn attacks_are_refused_and_the_entity_keeps_serving(
    c: &reqwest::Client,
    s: &Sidecar,
    entity: &str,
) {
    let deep = |depth: usize| format!("{}apple{}", "(".repeat(depth), ")".repeat(depth));
    let refused: [(String, &str); 5] = [
        ("(".repeat(200_000), "4096 bytes"),
        ("-".repeat(200_000), "4096 bytes"),
        (deep(17), "16 deep"),
        (format!("{}apple", "-".repeat(17)), "16 deep"),
        (
            (0..129)
                .map(|i| format!("w{i}"))
                .collect::<Vec<_>>()
                .join(" "),
            "at most 128",
        ),
    ];
    for (text, bound) in &refused {
        let (status, error) = query(c, s, entity, text).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("invalid_request")),
            "{error}"
        );
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(bound), "{message}");
        assert!(message.len() < 1000, "the text is not echoed: {message}");
    }
    // At the bounds, and on text that once panicked tantivy's parser, an answer, not an error
    // of the server.
    assert_eq!(found(c, s, entity, &deep(16)).await, ["1", "2"]);
    for text in [
        "A + *",
        "title:*",
        "\"",
        "((",
        "-",
        "apple AND",
        "*:*",
        "[1 TO 2]",
    ] {
        let (status, body) = query(c, s, entity, text).await;
        assert!(status == 200 || status == 400, "{text}: {status} {body}");
    }
    // One language on every backend.
    assert_eq!(found(c, s, entity, "apple -pie").await, ["2"]);
    assert_eq!(
        found(c, s, entity, "title:\"apple pie\" OR shoes").await,
        ["1", "3"]
    );
    let (status, error) = query(c, s, entity, "category:food").await;
    assert_eq!(
        status, 400,
        "keyword fields are filtered, not searched: {error}"
    );
    // Dot segments are not document ids.
    let (status, error) = json(
        c.post(s.url(&format!("/v1/search/{entity}/docs")))
            .json(&json!({"documents": [{"id": "..", "fields": {"title": "dots"}}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{error}");
}

const SCHEMA: &str = r#"fields = { title = "text", category = "keyword" }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_search_refuses_runaway_query_text_and_keeps_serving() {
    let config = format!(
        r#"
[stores.text]
kind = "search"
backend = "embedded"

[entities.catalog]
store = "text"
{SCHEMA}
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), &config, &[]);
    let c = client();
    seed(&c, &sidecar, "catalog").await;
    attacks_are_refused_and_the_entity_keeps_serving(&c, &sidecar, "catalog").await;
}

/// The attack as first seen: the PostgreSQL backend's recursive parser, which 200 000 `(`
/// once overflowed, aborting the sidecar.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn postgres_search_refuses_runaway_query_text_and_keeps_serving() {
    let url = std::env::var("POLYROUTE_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| {
            panic!("POLYROUTE_REQUIRE_SERVICES=1 but POLYROUTE_TEST_POSTGRES_URL is not set")
        });
    let schema = format!("search_attacks_{}", std::process::id());
    let config = format!(
        r#"
[stores.pg]
kind = "search"
backend = "postgres"
url = "{url}"
schema = "{schema}"
pool = 2

[stores.sql]
kind = "relational"
backend = "postgres"
url = "{url}"
schema = "{schema}"
pool = 1

[entities.catalog]
store = "pg"
{SCHEMA}

[entities.cleanup]
store = "sql"

[sidecar.queries.cleanup]
drop = {{ sql = "DROP SCHEMA {schema} CASCADE", write = true }}
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), &config, &[]);
    let c = client();
    seed(&c, &sidecar, "catalog").await;
    attacks_are_refused_and_the_entity_keeps_serving(&c, &sidecar, "catalog").await;
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
