//! Who can reach the sidecar and what they learn: each attack run against the real binary.
//!
//! - `--bind` beyond loopback without tokens is refused before anything listens;
//! - a web page on the same machine cannot write (no JSON content type, foreign `Origin`) nor
//!   read through DNS rebinding (foreign `Host`);
//! - probes learn up or down, not store errors; `/metrics` needs an `ops` token;
//! - an unknown entity's error names only entities the caller may use;
//! - idempotency records tell requests apart by query string and are bounded in bytes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{client, json, Sidecar, STORES};

const APP_TOKEN: &str = "app-token-0123456789abcdef";
const READER_TOKEN: &str = "reader-token-0123456789abcdef";
const OPS_TOKEN: &str = "ops-token-0123456789abcdef";

/// [`STORES`] with three tokens: `app` reads everything and writes sessions, `reader` reads
/// sessions only, `monitor` is an ops token that may touch no entity.
fn with_tokens(extra: &str) -> String {
    format!(
        r#"{STORES}
[sidecar]
{extra}

[[sidecar.tokens]]
name = "app"
token = "${{APP_TOKEN}}"
read = ["*"]
write = ["sessions"]

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

const TOKENS: &[(&str, &str)] = &[
    ("APP_TOKEN", APP_TOKEN),
    ("READER_TOKEN", READER_TOKEN),
    ("OPS_TOKEN", OPS_TOKEN),
];

/// Runs `polyroute serve` with `args` on `config`, expecting it to exit within 30 seconds;
/// returns its exit code and standard error.
fn serve_expecting_exit(config: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("polyroute.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_polyroute"))
        .arg("serve")
        .args(args)
        .arg("--config")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("`polyroute serve {args:?}` kept running: it is serving");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code(), stderr)
}

#[test]
fn an_open_bind_without_tokens_exits_naming_the_fix() {
    for open in ["0.0.0.0:0", "[::]:0"] {
        let (code, stderr) = serve_expecting_exit(STORES, &["--bind", open]);
        assert_eq!(code, Some(2), "{open}: {stderr}");
        assert!(stderr.contains("--bind"), "{stderr}");
        assert!(stderr.contains("[[sidecar.tokens]]"), "{stderr}");
        assert!(stderr.contains("allow_anonymous = true"), "{stderr}");
    }
    // The Dockerfile's documented command, with tokens: it serves.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("polyroute.toml");
    std::fs::write(&path, with_tokens("")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_polyroute"))
        .args(["serve", "--bind", "0.0.0.0:0", "--config"])
        .arg(&path)
        .envs(TOKENS.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.contains("listening on http://0.0.0.0:"), "{line}");
}

#[tokio::test]
async fn json_routes_refuse_bodies_without_a_json_content_type() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), STORES, &[]);
    let c = client();
    let key = sidecar.url("/v1/key_value/sessions/keys/k");
    // What a page's form or `fetch` without preflight can send: no type, or text/plain.
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = c.put(&key).body(r#"{"value": "from a web page"}"#);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let (status, error) = json(request.send().await.unwrap()).await;
        assert_eq!(
            (status, error["code"].as_str(), error["field"].as_str()),
            (415, Some("unsupported_media_type"), Some("content-type")),
            "{content_type:?}"
        );
    }
    let (status, _) = json(c.get(&key).send().await.unwrap()).await;
    assert_eq!(status, 404, "a refused write was applied");
    let (status, _) = json(
        c.put(&key)
            .json(&json!({"value": "v"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_foreign_origin_is_refused_and_a_listed_one_served() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{STORES}\n[sidecar]\nallowed_origins = [\"https://app.example.com\"]\n");
    let sidecar = Sidecar::start_in(dir.path(), &config, &[]);
    let c = client();
    let key = sidecar.url("/v1/key_value/sessions/keys/k");
    for origin in ["https://evil.example", "null", "http://app.example.com"] {
        let (status, error) = json(
            c.put(&key)
                .header("origin", origin)
                .json(&json!({"value": "evil"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, error["code"].as_str(), error["field"].as_str()),
            (403, Some("forbidden_origin"), Some("origin")),
            "{origin}"
        );
    }
    // line protocol takes text/plain: the Origin check is what keeps pages out
    let (status, error) = json(
        c.post(sidecar.url("/v1/time_series/cpu/lines"))
            .header("origin", "https://evil.example")
            .header("content-type", "text/plain")
            .body("cpu usage=1 1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("forbidden_origin"))
    );
    // every route, the operational ones too
    for path in ["/readyz", "/healthz", "/metrics", "/openapi.json"] {
        let response = c
            .get(sidecar.url(path))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }
    let (status, _) = json(c.get(&key).send().await.unwrap()).await;
    assert_eq!(status, 404, "a refused write was applied");

    let preflight = c
        .request(reqwest::Method::OPTIONS, &key)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("PUT"));
    let response = c
        .put(&key)
        .header("origin", "https://app.example.com")
        .json(&json!({"value": "listed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(json(response).await.0, 200);
    let refused = c
        .request(reqwest::Method::OPTIONS, &key)
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

/// Sends `GET path` with `Host: host` over a raw connection (as a rebinding page's browser
/// would) and returns the status line and body.
fn get_with_host(sidecar: &Sidecar, path: &str, host: &str) -> String {
    let addr = sidecar.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[tokio::test]
async fn an_anonymous_sidecar_refuses_foreign_host_names() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), STORES, &[]);
    let c = client();
    let (status, _) = json(
        c.put(sidecar.url("/v1/key_value/sessions/keys/secret"))
            .json(&json!({"value": "s3cret"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let port = sidecar.base.rsplit(':').next().unwrap().to_owned();
    for host in [
        format!("rebind.evil.example:{port}"),
        "rebind.evil.example".to_owned(),
        format!("127.0.0.1.nip.io:{port}"),
        format!("localhost:{}", port.parse::<u32>().unwrap() + 1),
    ] {
        for path in ["/v1/key_value/sessions/keys/secret", "/readyz"] {
            let answer = get_with_host(&sidecar, path, &host);
            assert!(
                answer.starts_with("HTTP/1.1 421"),
                "{host} {path}: {answer}"
            );
            assert!(answer.contains("\"misdirected_host\""), "{answer}");
            assert!(!answer.contains("s3cret"), "{answer}");
        }
    }
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let answer = get_with_host(&sidecar, "/v1/key_value/sessions/keys/secret", &host);
        assert!(answer.starts_with("HTTP/1.1 200"), "{host}: {answer}");
        assert!(answer.contains("s3cret"), "{answer}");
    }
}

#[tokio::test]
async fn with_tokens_the_host_name_is_free_and_the_token_decides() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), &with_tokens(""), TOKENS);
    let answer = get_with_host(
        &sidecar,
        "/v1/key_value/sessions/keys/a",
        "sidecar.internal",
    );
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

#[tokio::test]
async fn metrics_and_readiness_details_need_the_ops_token() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), &with_tokens(""), TOKENS);
    let c = client();
    let metrics = sidecar.url("/metrics");
    let (status, error) = json(c.get(&metrics).send().await.unwrap()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (status, error) = json(c.get(&metrics).bearer_auth(APP_TOKEN).send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (403, Some("forbidden")));
    assert!(
        error["message"].as_str().unwrap().contains("ops = true"),
        "{error}"
    );
    let response = c.get(&metrics).bearer_auth(OPS_TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("polyroute_sidecar_request_slots"));

    // probes: up or down, nothing about the stores; operators: each store
    let (status, ready) = json(c.get(sidecar.url("/readyz")).send().await.unwrap()).await;
    assert_eq!((status, ready), (200, json!({"status": "ready"})));
    let (status, ready) = json(
        c.get(sidecar.url("/readyz"))
            .bearer_auth(APP_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, ready), (200, json!({"status": "ready"})));
    let (status, ready) = json(
        c.get(sidecar.url("/readyz"))
            .bearer_auth(OPS_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ready["stores"]["cache"]["up"], true, "{ready}");
    // /healthz stays open for liveness probes
    assert_eq!(
        c.get(sidecar.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn an_unknown_entity_names_only_what_the_caller_may_use() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), &with_tokens(""), TOKENS);
    let c = client();
    let url = sidecar.url("/v1/key_value/nobody/keys/a");
    for (token, may_use, may_not) in [
        (
            READER_TOKEN,
            &["sessions"][..],
            &["orders", "products", "catalog"][..],
        ),
        (OPS_TOKEN, &[][..], &["sessions", "orders"][..]),
        (APP_TOKEN, &["sessions", "orders", "products"][..], &[][..]),
    ] {
        let (status, error) = json(c.get(&url).bearer_auth(token).send().await.unwrap()).await;
        assert!(matches!(status, 403 | 404), "{status} {error}");
        let message = error["message"].as_str().unwrap();
        for name in may_not {
            assert!(!message.contains(name), "{token}: {message}");
        }
        if status == 404 {
            for name in may_use {
                assert!(message.contains(name), "{token}: {message}");
            }
        }
    }
}

#[tokio::test]
async fn an_idempotency_key_replays_only_the_same_query_string() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), STORES, &[]);
    let c = client();
    let send = |precision: &str| {
        c.post(sidecar.url(&format!("/v1/time_series/cpu/lines?precision={precision}")))
            .header("idempotency-key", "lines-1")
            .header("content-type", "text/plain")
            .body("cpu,host=a usage=1 1700000000")
            .send()
    };
    let (status, _) = json(send("s").await.unwrap()).await;
    assert_eq!(status, 200);
    let retry = send("s").await.unwrap();
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let other = send("ms").await.unwrap();
    assert!(other.headers().get("idempotent-replayed").is_none());
    let (status, error) = json(other).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("idempotency_key_reused"))
    );
}

#[tokio::test]
async fn idempotency_records_are_bounded_in_bytes() {
    let dir = tempfile::tempdir().unwrap();
    // 64 KiB holds a few hundred small answers, whatever the count bound.
    let config = format!(
        "{STORES}\n[sidecar]\nidempotency_max_bytes = \"64KiB\"\nidempotency_capacity = 1000000\n"
    );
    let sidecar = Sidecar::start_in(dir.path(), &config, &[]);
    let c = client();
    let increment = |key: String, counter: &str| {
        c.post(sidecar.url(&format!("/v1/key_value/sessions/keys/{counter}/increment")))
            .header("idempotency-key", key)
            .json(&json!({"delta": 1}))
            .send()
    };
    let (_, first) = json(increment("first".into(), "kept").await.unwrap()).await;
    assert_eq!(first, json!({"value": 1}));
    let retry = increment("first".into(), "kept").await.unwrap();
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    for n in 0..1000 {
        let (status, _) = json(increment(format!("filler-{n}"), "filler").await.unwrap()).await;
        assert_eq!(status, 200);
    }
    // The first record was the least recently used: evicted, so the retry runs again.
    let late = increment("first".into(), "kept").await.unwrap();
    assert!(late.headers().get("idempotent-replayed").is_none());
    assert_eq!(json(late).await, (200, json!({"value": 2})));
}

/// A store that is down: a probe learns `not_ready` and nothing else; the ops token sees the
/// store and its error. It needs Redis (`POLYROUTE_TEST_REDIS_URL`, set by `scripts/test`) and
/// fails without it rather than passing unrun.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_learns_nothing_of_a_down_store_but_the_ops_token_does() {
    use crate::store_down::redis_outage::{redis_address, Proxy};

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxy = Proxy::start(port, redis_address()).await;
    let config = format!(
        r#"
[stores.cache]
kind = "key_value"
backend = "redis"
url = "redis://127.0.0.1:{port}"
key_prefix = "exposure-test-{pid}:"
connect_timeout = "1s"
response_timeout = "1s"

[entities.sessions]
store = "cache"

[sidecar]
[[sidecar.tokens]]
name = "app"
token = "${{APP_TOKEN}}"
read = ["*"]

[[sidecar.tokens]]
name = "monitor"
token = "${{OPS_TOKEN}}"
ops = true
"#,
        pid = std::process::id()
    );
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), &config, TOKENS);
    let c = client();
    let readyz = sidecar.url("/readyz");
    assert_eq!(c.get(&readyz).send().await.unwrap().status(), 200);
    proxy.stop().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let (status, text) = loop {
        let response = c.get(&readyz).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        if status != 200 || Instant::now() > deadline {
            break (status, text);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 503, "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["code"], "not_ready", "{text}");
    assert!(body.get("stores").is_none(), "{text}");
    for secret in [
        port.to_string().as_str(),
        "cache",
        "127.0.0.1",
        "refused",
        "redis",
    ] {
        assert!(!text.contains(secret), "`{secret}` in {text}");
    }
    let (status, details) = json(c.get(&readyz).bearer_auth(OPS_TOKEN).send().await.unwrap()).await;
    assert_eq!(status, 503);
    assert_eq!(details["stores"]["cache"]["up"], false, "{details}");
    assert!(details["stores"]["cache"]["error"].is_string(), "{details}");
    let (status, _) = json(c.get(&readyz).bearer_auth(APP_TOKEN).send().await.unwrap()).await;
    assert_eq!(status, 503);
}
