//! A timeout stops the work, not only the waiting: a statement that would run for minutes is
//! answered with a 504 at its deadline, and within a second after that the sidecar spends no
//! more CPU on it, the store's only slot (`max_in_flight = 1`) is free again, and on
//! PostgreSQL the server is no longer running it.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{client, json, Sidecar};

/// CPU time the process has used so far, in clock ticks (user + system).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name, in parentheses, may hold spaces: count fields after it.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Runs the named statement `name` of `entity`.
async fn statement(
    c: &reqwest::Client,
    s: &Sidecar,
    entity: &str,
    name: &str,
) -> (u16, serde_json::Value) {
    json(
        c.post(s.url(&format!("/v1/relational/{entity}/queries/{name}")))
            .json(&json!({"params": []}))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// `spin` times out; one second later the store's single slot takes `one` at once.
async fn spin_times_out_and_its_slot_comes_back(c: &reqwest::Client, s: &Sidecar, entity: &str) {
    let started = Instant::now();
    let (status, body) = statement(c, s, entity, "spin").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (504, Some("timeout")),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, body) = statement(c, s, entity, "one").await;
    assert_eq!(status, 200, "the slot is free again: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_sqlite_statement_stops_and_frees_its_slot() {
    let config = r#"
[stores.sql]
kind = "relational"

[entities.reports]
store = "sql"
timeout = "200ms"

[policy]
max_in_flight = 1

[sidecar.queries.reports]
spin = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000000000) SELECT count(*) FROM c"
one = "SELECT 1"
"#;
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), config, &[]);
    let c = client();
    spin_times_out_and_its_slot_comes_back(&c, &sidecar, "reports").await;
    // No CPU is spent on the abandoned statement any more: over half a second the process
    // uses far less than a core (ticks are hundredths of a second).
    let before = cpu_ticks(sidecar.pid());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let spent = cpu_ticks(sidecar.pid()) - before;
    assert!(
        spent < 10,
        "{spent} ticks of CPU in 500ms after the timeout"
    );
}

/// The statement as the server sees it: `pg_sleep` would hold a backend for a minute. After
/// the 504 the sidecar cancels it on the server.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn an_abandoned_postgres_statement_is_cancelled_on_the_server() {
    let url = std::env::var("POLYROUTE_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| {
            panic!("POLYROUTE_REQUIRE_SERVICES=1 but POLYROUTE_TEST_POSTGRES_URL is not set")
        });
    let marker = format!("abandoned_{}", std::process::id());
    let config = format!(
        r#"
[stores.pg]
kind = "relational"
backend = "postgres"
url = "{url}"
pool = 2

[entities.reports]
store = "pg"
timeout = "300ms"

[entities.monitor]
store = "pg"

[policy]
max_in_flight = 1

[sidecar.queries.reports]
spin = "SELECT pg_sleep(60), '{marker}'"
one = "SELECT 1"

[sidecar.queries.monitor]
running = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = 'SELECT pg_sleep(60), ''{marker}'''"
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), &config, &[]);
    let c = client();
    spin_times_out_and_its_slot_comes_back(&c, &sidecar, "reports").await;
    let (status, body) = statement(&c, &sidecar, "monitor", "running").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["rows"][0][0],
        json!(0),
        "the server still runs the statement: {body}"
    );
}
