//! A store going down and coming back: a Redis key-value store reached through a TCP proxy the
//! test cuts and restores, so the outage is a real lost connection to a real Redis.

#[cfg(feature = "redis")]
pub(crate) mod redis_outage {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use serde_json::json;
    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::JoinHandle;

    use crate::harness::{client, json, Sidecar};

    /// A TCP proxy on a fixed local port to Redis; `stop` closes it and every connection.
    pub(crate) struct Proxy {
        accept: JoinHandle<()>,
        connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    }

    impl Proxy {
        pub(crate) async fn start(port: u16, upstream: String) -> Proxy {
            let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
            let connections = Arc::new(Mutex::new(Vec::new()));
            let held = connections.clone();
            let accept = tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let upstream = upstream.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    held.lock().unwrap().push(task);
                }
            });
            Proxy {
                accept,
                connections,
            }
        }

        pub(crate) async fn stop(self) {
            self.accept.abort();
            let _ = self.accept.await;
            for task in self.connections.lock().unwrap().drain(..) {
                task.abort();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) fn redis_address() -> String {
        let url = std::env::var("POLYROUTE_TEST_REDIS_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| {
                panic!("POLYROUTE_REQUIRE_SERVICES=1 but POLYROUTE_TEST_REDIS_URL is not set")
            });
        let rest = url.trim_start_matches("redis://");
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        rest.split('/').next().unwrap().to_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(polyroute_redis_tests), ignore = "set POLYROUTE_TEST_REDIS_URL")]
    async fn readiness_flips_calls_fail_with_503_and_both_recover() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let proxy = Proxy::start(port, redis_address()).await;
        let prefix = format!("sidecar-test-{}:", std::process::id());
        let config = format!(
            r#"
[stores.cache]
kind = "key_value"
backend = "redis"
url = "redis://127.0.0.1:{port}"
key_prefix = "{prefix}"
connect_timeout = "1s"
response_timeout = "1s"

[stores.db]
kind = "relational"

[entities.sessions]
store = "cache"

[entities.orders]
store = "db"
"#
        );
        let dir = tempfile::tempdir().unwrap();
        let sidecar = Sidecar::start_in(dir.path(), &config, &[]);
        let c = client();
        let key = sidecar.url("/v1/key_value/sessions/keys/k");
        assert_eq!(
            c.put(&key)
                .json(&json!({"value": "v", "ttl": "5m"}))
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

        proxy.stop().await;
        let (status, error) = json(c.get(&key).send().await.unwrap()).await;
        assert!(
            matches!(
                (status, error["code"].as_str()),
                (503, Some("store_unavailable")) | (504, Some("timeout"))
            ),
            "{status} {error}"
        );
        // readiness is checked at most once a second: the outage shows within two
        let deadline = Instant::now() + Duration::from_secs(5);
        let (status, ready) = loop {
            let (status, ready) = json(c.get(sidecar.url("/readyz")).send().await.unwrap()).await;
            if status != 200 || Instant::now() > deadline {
                break (status, ready);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(status, 503, "{ready}");
        assert_eq!(ready["stores"]["cache"]["up"], false);
        assert_eq!(ready["stores"]["db"]["up"], true);
        let metrics = c
            .get(sidecar.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("polyroute_sidecar_store_up{store=\"cache\"} 0"),
            "{metrics}"
        );
        // the other entities keep working
        assert_eq!(
            c.get(sidecar.url("/v1/relational/orders/queries"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );

        let _proxy = Proxy::start(port, redis_address()).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if c.get(sidecar.url("/readyz")).send().await.unwrap().status() == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "readiness did not recover");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (status, value) = json(c.get(&key).send().await.unwrap()).await;
        assert_eq!((status, value["value"].as_str()), (200, Some("v")));
        assert_eq!(c.delete(&key).send().await.unwrap().status(), 200);
    }
}
