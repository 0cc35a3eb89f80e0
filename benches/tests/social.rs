//! The social-graph scenarios end to end at the tiny scale, against the live PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use polyroute_benches::env::Servers;
use polyroute_benches::{run, RunOptions, Scale};

fn servers() -> Servers {
    let mut servers = Servers::from_env();
    if let Ok(url) = std::env::var("POLYROUTE_TEST_POSTGRES_URL") {
        if !url.is_empty() {
            servers.postgres = url;
        }
    }
    if let Ok(url) = std::env::var("POLYROUTE_TEST_REDIS_URL") {
        if !url.is_empty() {
            servers.redis = url;
        }
    }
    servers
}

async fn run_tiny(name: &str, sides: &[&str]) {
    let options = RunOptions {
        scenarios: vec![name.to_owned()],
        scale: Scale::Tiny,
        ops: Some(5),
        open_rate: None,
        servers: servers(),
    };
    let result = run(&options).await.unwrap();
    assert_eq!(result.scenarios.len(), 1);
    let scenario = &result.scenarios[0];
    assert_eq!(scenario.name, name);
    assert_eq!(scenario.routed, "embedded");
    assert_eq!(scenario.sizes.len(), 3);
    for size in &scenario.sizes {
        assert!(size.checked > 0, "{name} at {}: nothing checked", size.size);
        for side in sides {
            assert!(
                size.measurements.iter().any(|m| m.side == *side),
                "{name} at {}: no measurement of {side}",
                size.size
            );
        }
        assert!(size.measurements.iter().all(|m| m.summary.p50_us > 0.0));
        assert!(!size.loads.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn friends_of_friends_runs_at_tiny_scale() {
    run_tiny("friends-of-friends", &["postgres", "embedded"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn friends_within_depth_runs_at_tiny_scale() {
    run_tiny(
        "friends-within-depth",
        &["postgres-naive", "postgres-cte", "embedded"],
    )
    .await;
}
