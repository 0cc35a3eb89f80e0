//! Tokens and scopes, bad input, size and concurrency limits, deadlines, idempotent retries.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;

use crate::harness::{client, json, Sidecar, STORES};

const APP_TOKEN: &str = "app-token-0123456789abcdef";
const READER_TOKEN: &str = "reader-token-0123456789abcdef";
const OPS_TOKEN: &str = "ops-token-0123456789abcdef";

fn config(extra: &str) -> String {
    format!(
        r#"{STORES}
[sidecar]
max_body = "2KiB"
request_timeout = "1s"
max_concurrency = 2
{extra}

[[sidecar.tokens]]
name = "app"
token = "${{APP_TOKEN}}"
read = ["*"]
write = ["sessions", "orders"]

[[sidecar.tokens]]
name = "reader"
token = "${{READER_TOKEN}}"
read = ["sessions"]

[[sidecar.tokens]]
name = "monitor"
token = "${{OPS_TOKEN}}"
ops = true
"#
    )
}

fn start(dir: &std::path::Path) -> Sidecar {
    Sidecar::start_in(
        dir,
        &config(""),
        &[
            ("APP_TOKEN", APP_TOKEN),
            ("READER_TOKEN", READER_TOKEN),
            ("OPS_TOKEN", OPS_TOKEN),
        ],
    )
}

#[tokio::test]
async fn tokens_are_required_and_scopes_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = start(dir.path());
    let c = client();
    let url = sidecar.url("/v1/key_value/sessions/keys/k");
    let body = json!({"value": "v"});

    let (status, error) = json(c.put(&url).json(&body).send().await.unwrap()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (status, error) = json(
        c.put(&url)
            .bearer_auth("wrong-token-0123456789")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (401, Some("invalid_token"))
    );

    let (status, _) = json(
        c.put(&url)
            .bearer_auth(APP_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = json(c.get(&url).bearer_auth(READER_TOKEN).send().await.unwrap()).await;
    assert_eq!(status, 200);
    // reader may not write sessions, nor read anything else; app may not write products
    let (status, error) = json(
        c.put(&url)
            .bearer_auth(READER_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str(), error["field"].as_str()),
        (403, Some("forbidden"), Some("entity"))
    );
    let (status, _) = json(
        c.get(sidecar.url("/v1/document/products/docs/x"))
            .bearer_auth(READER_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = json(
        c.put(sidecar.url("/v1/document/products/docs/x"))
            .bearer_auth(APP_TOKEN)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    // named read statements need read scope, write statements write scope
    let (status, _) = json(
        c.post(sidecar.url("/v1/relational/orders/statements/add"))
            .bearer_auth(READER_TOKEN)
            .json(&json!({"params": [1, "a", 1.0]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);

    // probes need no token; /metrics needs the ops token
    assert_eq!(
        c.get(sidecar.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(sidecar.url("/readyz")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        c.get(sidecar.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(sidecar.url("/metrics"))
            .bearer_auth(OPS_TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn bad_input_is_answered_with_the_field_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = start(dir.path());
    let c = client();
    let post = |path: &str| c.post(sidecar.url(path)).bearer_auth(APP_TOKEN);

    let (status, error) = json(
        post("/v1/key_value/sessions/set_many")
            .header("content-type", "application/json")
            .body("{\"entries\": [")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("malformed_json"))
    );
    let (status, error) = json(
        post("/v1/key_value/sessions/set_many")
            .json(&json!({"entries": [{"key": "a", "valu": "x"}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["field"].as_str()),
        (400, Some("entries[0].valu"))
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `valu`"),
        "{error}"
    );
    let (status, error) = json(
        post("/v1/key_value/sessions/set_many")
            .json(&json!({"entries": [{"key": "a", "value": "x".repeat(4096)}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (413, Some("body_too_large"))
    );
    let (status, error) = json(
        post("/v1/key_value/nobody/get_many")
            .json(&json!({"keys": ["a"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str(), error["field"].as_str()),
        (404, Some("unknown_entity"), Some("entity"))
    );
    let (status, error) = json(
        post("/v1/document/sessions/find")
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("unknown_entity"))
    );
    let (status, error) = json(
        post("/v1/relational/orders/queries/by_customer")
            .json(&json!({"params": []}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str(), error["field"].as_str()),
        (400, Some("invalid_params"), Some("params"))
    );
    let (status, error) = json(
        post("/v1/relational/orders/queries/drop_everything")
            .json(&json!({"params": []}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, error["field"].as_str()), (404, Some("name")));
    let (status, error) = json(
        post("/v1/time_series/cpu/lines")
            .body("cpu usage=oops")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str(), error["field"].as_str()),
        (403, Some("forbidden"), Some("entity"))
    );
    let (status, error) = json(
        post("/v1/document/products/find")
            .json(&json!({"filter": {"price": {"$near": 1}}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["field"].as_str()),
        (400, Some("filter.price.$near"))
    );
    let (status, error) = json(
        post("/v1/key_value/sessions/get_many")
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
}

#[tokio::test]
async fn a_retried_write_with_the_same_key_is_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = start(dir.path());
    let c = client();
    let url = sidecar.url("/v1/key_value/sessions/keys/counter/increment");
    let send = |key: &str, delta: i64| {
        c.post(&url)
            .bearer_auth(APP_TOKEN)
            .header("idempotency-key", key)
            .json(&json!({"delta": delta}))
            .send()
    };
    let first = send("k-1", 5).await.unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    assert_eq!(json(first).await, (200, json!({"value": 5})));
    let retry = send("k-1", 5).await.unwrap();
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(json(retry).await, (200, json!({"value": 5})));
    let (status, error) = json(send("k-1", 7).await.unwrap()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("idempotency_key_reused"))
    );
    assert_eq!(
        json(send("k-2", 1).await.unwrap()).await.1,
        json!({"value": 6})
    );
    // concurrent retries of one write still apply it once (two: the config's request slots)
    let (a, b) = tokio::join!(send("k-3", 10), send("k-3", 10));
    for response in [a, b] {
        assert_eq!(json(response.unwrap()).await, (200, json!({"value": 16})));
    }
    let (_, value) = json(
        c.get(sidecar.url("/v1/key_value/sessions/keys/counter"))
            .bearer_auth(APP_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(value["value"], "16");
    let metrics = c
        .get(sidecar.url("/metrics"))
        .bearer_auth(OPS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("polyroute_sidecar_idempotent_replays_total 2"),
        "{metrics}"
    );
}

/// A request whose body never arrives holds its slot: with both slots held the next request is
/// shed at once with 503, and each held request ends with 504 at the request deadline.
#[tokio::test]
async fn excess_requests_are_shed_and_stalled_ones_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = start(dir.path());
    let c = client();
    let addr = sidecar.base.trim_start_matches("http://").to_owned();
    let stall = || {
        let mut stream = TcpStream::connect(&addr).unwrap();
        write!(
            stream,
            "POST /v1/key_value/sessions/get_many HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {APP_TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"keys\""
        )
        .unwrap();
        stream
    };
    let held = [stall(), stall()];
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let (status, error) = json(
        c.get(sidecar.url("/v1/key_value/sessions/keys/a"))
            .bearer_auth(APP_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, error["code"].as_str()), (503, Some("overloaded")));
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "shedding waited {:?}",
        started.elapsed()
    );
    for mut stream in held {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut answer = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stream, &mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
        assert!(answer.contains("\"timeout\""), "{answer}");
    }
    let (status, _) = json(
        c.get(sidecar.url("/v1/key_value/sessions/keys/a"))
            .bearer_auth(APP_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    let metrics = c
        .get(sidecar.url("/metrics"))
        .bearer_auth(OPS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("polyroute_sidecar_shed_total 1"),
        "{metrics}"
    );
}

#[test]
fn a_config_mistake_in_the_sidecar_section_exits_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("polyroute.toml");
    std::fs::write(&path, config("colour = \"red\"")).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_polyroute"))
        .args(["serve", "--config"])
        .arg(&path)
        .env("APP_TOKEN", "short")
        .env("READER_TOKEN", READER_TOKEN)
        .env("OPS_TOKEN", OPS_TOKEN)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("sidecar.colour: unknown key `colour`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("sidecar.tokens[0].token: the token is shorter"),
        "{stderr}"
    );
}

/// The Kubernetes example's config is a valid config for the router and the sidecar.
#[cfg(feature = "postgres")]
#[test]
fn the_kubernetes_example_config_is_valid() {
    let manifest = include_str!("../../../examples/k8s/configmap.yaml");
    let toml: String = manifest
        .split_once("polyroute.toml: |\n")
        .unwrap()
        .1
        .lines()
        .map(|line| format!("{}\n", line.strip_prefix("    ").unwrap_or(line)))
        .collect();
    let env = std::collections::BTreeMap::from([
        ("APP_TOKEN".to_owned(), APP_TOKEN.to_owned()),
        ("METRICS_TOKEN".to_owned(), OPS_TOKEN.to_owned()),
        (
            "POSTGRES_URL".to_owned(),
            "postgres://u:p@127.0.0.1:5432/test".to_owned(),
        ),
    ]);
    let config = polyroute::Config::from_toml_str_with_env(&toml, ".", &env).unwrap();
    let sidecar = polyroute_sidecar::SidecarConfig::from_config(&config).unwrap();
    assert_eq!(sidecar.tokens.len(), 2);
    assert!(sidecar.tokens[1].ops);
    assert_eq!(sidecar.queries["orders"]["add"].params, 3);
}
