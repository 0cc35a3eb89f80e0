//! The cache surviving its store's outage: documents whose system of record is PostgreSQL,
//! cached in a Redis server this test starts on a free port (the shared Redis is never
//! touched). Reads warm the cache; the test kills the Redis server: reads keep answering,
//! correctly, from PostgreSQL, and the Redis store's breaker opens. The test restarts Redis on
//! the same port: after the breaker's open period a probe closes it and reads hit the cache
//! again. The breaker's state is followed on `polyroute_breaker_state`, the gauge `/metrics`
//! exports, as well as on the router.
//!
//! Needs `POLYROUTE_TEST_POSTGRES_URL` and `redis-server` on the `PATH`; reported as ignored
//! without the URL, and failing without either when `POLYROUTE_REQUIRE_SERVICES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(all(feature = "postgres", feature = "redis"))]
mod redis_outage {
    use std::net::TcpStream;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
    use polyroute::layers::breaker::BreakerState;
    use polyroute::{Config, Router};
    use serde_json::json;

    /// A `redis-server` child process on `port`, killed when dropped.
    struct RedisServer {
        child: Child,
    }

    impl RedisServer {
        fn start(port: u16) -> RedisServer {
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server must be on the PATH");
            let server = RedisServer { child };
            wait_until(
                "redis-server accepts connections",
                Duration::from_secs(10),
                || TcpStream::connect(("127.0.0.1", port)).is_ok(),
            );
            server
        }

        fn kill(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            self.kill();
        }
    }

    fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn postgres_url() -> String {
        std::env::var("POLYROUTE_TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| {
                panic!("POLYROUTE_REQUIRE_SERVICES=1 but POLYROUTE_TEST_POSTGRES_URL is not set")
            })
    }

    /// The cache counters of `products` since the last look; and, for the Redis store, the
    /// `polyroute_breaker_state` gauge as last set and the `polyroute_breaker_transitions_total`
    /// counts so far (what `/metrics` shows). A snapshot zeroes what it reads.
    struct Counts {
        snapshotter: Snapshotter,
        breaker_gauge: std::sync::Mutex<Option<f64>>,
        transitions: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    }

    impl Counts {
        fn take(&self) -> std::collections::BTreeMap<String, u64> {
            let mut out = std::collections::BTreeMap::new();
            for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
                let key = key.key();
                if key.name() == "polyroute_breaker_state"
                    && key
                        .labels()
                        .any(|label| label.key() == "store" && label.value() == "redis_cache")
                {
                    if let DebugValue::Gauge(state) = value {
                        *self.breaker_gauge.lock().unwrap() = Some(state.into_inner());
                    }
                    continue;
                }
                if key.name() == "polyroute_breaker_transitions_total"
                    && key
                        .labels()
                        .any(|label| label.key() == "store" && label.value() == "redis_cache")
                {
                    let to = key
                        .labels()
                        .find(|label| label.key() == "to")
                        .map(|label| label.value().to_owned())
                        .unwrap_or_default();
                    if let DebugValue::Counter(n) = value {
                        *self.transitions.lock().unwrap().entry(to).or_default() += n;
                    }
                    continue;
                }
                if key.name() != "polyroute_cache_requests_total" {
                    continue;
                }
                let result = key
                    .labels()
                    .find(|label| label.key() == "result")
                    .map(|label| label.value().to_owned())
                    .unwrap_or_default();
                match value {
                    DebugValue::Counter(n) if n > 0 => *out.entry(result).or_default() += n,
                    _ => {}
                }
            }
            out
        }
    }

    fn redis_breaker(router: &Router) -> BreakerState {
        router
            .stores()
            .find(|store| store.name == "redis_cache")
            .unwrap()
            .layers
            .breaker_state()
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(polyroute_postgres_tests),
        ignore = "set POLYROUTE_TEST_POSTGRES_URL"
    )]
    async fn reads_answer_through_a_redis_outage_and_the_cache_comes_back() {
        let recorder = DebuggingRecorder::new();
        let counts = Counts {
            snapshotter: recorder.snapshotter(),
            breaker_gauge: std::sync::Mutex::new(None),
            transitions: std::sync::Mutex::new(std::collections::BTreeMap::new()),
        };
        recorder.install().unwrap();

        let port = free_port();
        let mut redis = RedisServer::start(port);
        let schema = format!("cache_outage_{}", std::process::id());
        let text = format!(
            r#"
[stores.db]
kind = "document"
backend = "postgres"
url = "{pg}"
schema = "{schema}"

[stores.sql]
kind = "relational"
backend = "postgres"
url = "{pg}"
schema = "{schema}"

[stores.redis_cache]
kind = "key_value"
backend = "redis"
url = "redis://127.0.0.1:{port}"
connect_timeout = "300ms"
response_timeout = "300ms"

[entities.products]
store = "db"
cache = {{ store = "redis_cache", ttl = "10m" }}

[entities.admin]
store = "sql"

[policy]
timeout = "2s"
retry = {{ attempts = 2, backoff = "5ms", max_backoff = "10ms" }}
breaker = {{ failures = 3, open_for = "200ms" }}
"#,
            pg = postgres_url(),
        );
        let router = Router::connect(Config::from_toml_str(&text, ".").unwrap())
            .await
            .unwrap();
        let products = router.document("products").unwrap();
        let ids: Vec<String> = (0..10).map(|n| format!("p{n}")).collect();
        for (n, id) in ids.iter().enumerate() {
            products
                .put(id, json!({"name": format!("product {n}"), "price": n}))
                .await
                .unwrap();
        }
        let read_all = || async {
            for (n, id) in ids.iter().enumerate() {
                let document = products.get(id).await.unwrap().unwrap();
                assert_eq!(document["price"], n, "{id}");
            }
        };

        // Warm: one miss per document, then hits.
        read_all().await;
        read_all().await;
        let warm = counts.take();
        assert_eq!(warm.get("miss"), Some(&10), "{warm:?}");
        assert_eq!(warm.get("hit"), Some(&10), "{warm:?}");
        assert_eq!(redis_breaker(&router), BreakerState::Closed);

        // Redis goes away mid-run: every read still answers, from PostgreSQL.
        redis.kill();
        let start = Instant::now();
        while redis_breaker(&router) != BreakerState::Open {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the Redis store's breaker did not open: {:?}",
                counts.take()
            );
            read_all().await;
        }
        // A write during the outage lands in PostgreSQL, and reads see it.
        products
            .put(
                "p3",
                json!({"name": "product 3", "price": 3, "on_sale": true}),
            )
            .await
            .unwrap();
        let during = products.get("p3").await.unwrap().unwrap();
        assert_eq!(during["on_sale"], true);
        read_all().await;
        let outage = counts.take();
        assert!(
            outage.get("error").copied().unwrap_or(0) >= 10,
            "{outage:?}"
        );
        assert_eq!(outage.get("hit"), None, "{outage:?}");
        assert_eq!(
            *counts.breaker_gauge.lock().unwrap(),
            Some(2.0),
            "polyroute_breaker_state{{store=\"redis_cache\"}} shows the breaker open"
        );
        let opened = counts.transitions.lock().unwrap().get("open").copied();
        assert!(opened >= Some(1), "transitions: {:?}", counts.transitions);
        let closed = counts.transitions.lock().unwrap().get("closed").copied();
        assert_eq!(closed.unwrap_or(0), 0, "not closed yet");

        // Redis comes back on the same port: after the open period a read probes it, the
        // breaker closes and reads hit the cache again.
        let _redis = RedisServer::start(port);
        let start = Instant::now();
        loop {
            read_all().await;
            let now = counts.take();
            if redis_breaker(&router) == BreakerState::Closed && now.contains_key("hit") {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the cache did not come back: breaker {:?}, counts {now:?}",
                redis_breaker(&router)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        read_all().await;
        let after = counts.take();
        assert_eq!(after.get("hit"), Some(&10), "{after:?}");
        let closed = counts.transitions.lock().unwrap().get("closed").copied();
        assert!(
            closed >= Some(1),
            "polyroute_breaker_transitions_total{{store=\"redis_cache\",to=\"closed\"}}: {:?}",
            counts.transitions
        );
        assert_eq!(products.get("p3").await.unwrap().unwrap()["on_sale"], true);

        router
            .relational("admin")
            .unwrap()
            .execute(&format!("DROP SCHEMA {schema} CASCADE"), &[])
            .await
            .unwrap();
    }
}
