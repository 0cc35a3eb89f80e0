//! `polyroute check` run as a program, on configs written to a temporary folder.

// The helpers here fail the test the way `#[test]` functions do: by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

fn check(config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polyroute"))
        .arg("check")
        .arg("--config")
        .arg(config)
        .env_remove("ES_URL")
        .env("RUST_LOG", "off")
        .output()
        .expect("the binary runs")
}

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("polyroute.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const GOOD: &str = r#"
[stores.main]
kind = "relational"
path = "data/main.db"

[stores.cache]
kind = "key_value"

[stores.docs]
kind = "document"
path = "data/docs.db"

[entities.orders]
store = "main"

[entities.sessions]
store = "cache"
ttl = "30m"

[entities.products]
store = "docs"
indexes = ["category"]
"#;

#[test]
fn a_good_config_passes() {
    let dir = tempfile::tempdir().unwrap();
    let output = check(&write(dir.path(), GOOD));
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("STORE  KIND"), "{stdout}");
    let main = stdout
        .lines()
        .find(|line| line.starts_with("main "))
        .unwrap_or_default();
    assert!(
        main.contains("relational") && main.contains(" ok "),
        "{stdout}"
    );
    // Each store's circuit breaker, as the router built from the config has it.
    assert!(stdout.contains("BREAKER"), "{stdout}");
    assert!(main.trim_end().ends_with("closed"), "{stdout}");
    assert!(stdout.contains("main: orders"), "{stdout}");
    assert!(stdout.contains("cache: sessions"), "{stdout}");
    assert!(stdout.contains("docs: products"), "{stdout}");
    assert!(
        stdout.contains("ok: 3 stores answered, 3 entities opened"),
        "{stdout}"
    );
    assert!(dir.path().join("data/main.db").exists());
}

#[test]
fn every_mistake_is_printed_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        r#"
[stores.main]
kind = "relational"
pool = "lots"

[stores.cache]
kind = "keyvalue"

[stores.search]
kind = "search"
backend = "elasticsearch"
url = "${ES_URL}"

[entities.orders]
store = "mian"

[entities.sessions]
store = "main"
ttl = "30m"

[policy]
timeout = "fast"
"#,
    );
    let output = check(&config);
    assert_eq!(output.status.code(), Some(2));
    let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
    for path in [
        "stores.main.pool: ",
        "stores.cache.kind: ",
        "stores.search.url: ",
        "entities.orders.store: ",
        "entities.sessions.ttl: ",
        "policy.timeout: ",
    ] {
        assert!(all.contains(path), "`{path}` missing from:\n{all}");
    }
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = check(&dir.path().join("absent.toml"));
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("cannot read config file"), "{stderr}");
    assert!(stderr.contains("absent.toml"), "{stderr}");
}

#[test]
fn a_store_that_cannot_connect_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blocker"), "a file, not a folder").unwrap();
    let config = write(
        dir.path(),
        r#"
[stores.main]
kind = "relational"
path = "blocker/main.db"

[stores.cache]
kind = "key_value"

[entities.orders]
store = "main"

[entities.sessions]
store = "cache"
"#,
    );
    let output = check(&config);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let main = stdout
        .lines()
        .find(|line| line.starts_with("main "))
        .unwrap_or_default();
    assert!(main.contains("cannot connect"), "{stdout}");
    let cache = stdout
        .lines()
        .find(|line| line.starts_with("cache "))
        .unwrap_or_default();
    assert!(cache.contains(" ok "), "{stdout}");
    assert!(
        stdout.contains("orders (not opened: store failed)"),
        "{stdout}"
    );
}

#[test]
fn help_describes_the_check() {
    let output = Command::new(env!("CARGO_BIN_EXE_polyroute"))
        .args(["check", "--help"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = text(&output.stdout);
    assert!(help.contains("--config <FILE>"), "{help}");
    assert!(help.contains("Exit status"), "{help}");
}

/// A Redis store that cannot be reached is reported as unavailable, with a non-zero exit, and
/// `check` returns instead of hanging: whether the port refuses connections or a peer accepts
/// them and never answers.
#[cfg(feature = "redis")]
mod redis_down {
    use std::net::TcpListener;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use super::{text, write};

    fn config(url: &str) -> String {
        format!(
            r#"
[stores.cache]
kind = "key_value"
backend = "redis"
url = "{url}"
connect_timeout = "1s"
response_timeout = "1s"

[stores.main]
kind = "relational"

[entities.sessions]
store = "cache"

[entities.orders]
store = "main"
"#
        )
    }

    /// Runs `check`, killing it if it has not finished after a generous deadline, so a hang
    /// fails the test instead of stalling the suite.
    fn check_with_deadline(config: &std::path::Path) -> std::process::Output {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_polyroute"))
            .arg("check")
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "off")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                child.kill().unwrap();
                panic!("`polyroute check` hung on an unreachable Redis");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().unwrap()
    }

    fn assert_reported_down(output: &std::process::Output) {
        let stdout = text(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stdout}");
        let line = stdout
            .lines()
            .find(|line| line.starts_with("cache"))
            .unwrap_or_else(|| panic!("no row for the Redis store:\n{stdout}"));
        assert!(line.contains("redis"), "{line}");
        assert!(
            line.contains("unavailable") || line.contains("timed out"),
            "{line}"
        );
        assert!(
            stdout.contains("main   relational  embedded  ok"),
            "{stdout}"
        );
    }

    #[test]
    fn a_refused_connection_is_reported_unavailable() {
        // Bind then drop a listener: nothing listens on that port any more.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &config(&format!("redis://127.0.0.1:{port}")));
        assert_reported_down(&check_with_deadline(&path));
    }

    #[test]
    fn a_silent_peer_times_out_instead_of_hanging() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accept connections and hold them open without ever answering.
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &config(&format!("redis://127.0.0.1:{port}")));
        assert_reported_down(&check_with_deadline(&path));
    }
}

/// The quickstart's server config: every store answers on live PostgreSQL and Redis, and with
/// Redis unreachable the check says so and fails.
#[cfg(all(feature = "postgres", feature = "redis"))]
mod quickstart_on_servers {
    use std::path::PathBuf;
    use std::process::{Command, Output};

    use super::text;

    fn url(name: &str) -> String {
        std::env::var(name)
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| panic!("POLYROUTE_REQUIRE_SERVICES=1 but {name} is not set"))
    }

    fn check(redis_url: &str) -> Output {
        let config = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/quickstart/polyroute.postgres.toml");
        Command::new(env!("CARGO_BIN_EXE_polyroute"))
            .arg("check")
            .arg("--config")
            .arg(config)
            .env("POLYROUTE_POSTGRES_URL", url("POLYROUTE_TEST_POSTGRES_URL"))
            .env("POLYROUTE_REDIS_URL", redis_url)
            .env("RUST_LOG", "off")
            .output()
            .unwrap()
    }

    #[test]
    #[cfg_attr(
        not(all(polyroute_postgres_tests, polyroute_redis_tests)),
        ignore = "set POLYROUTE_TEST_POSTGRES_URL and POLYROUTE_TEST_REDIS_URL"
    )]
    fn every_store_answers() {
        let output = check(&url("POLYROUTE_TEST_REDIS_URL"));
        let stdout = text(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{stdout}");
        let ok = stdout
            .lines()
            .filter(|line| line.contains(" postgres ") || line.contains(" redis "))
            .filter(|line| line.contains(" ok "))
            .count();
        assert_eq!(ok, 7, "{stdout}");
        assert!(
            stdout.contains("ok: 7 stores answered, 7 entities opened"),
            "{stdout}"
        );
    }

    #[test]
    #[cfg_attr(
        not(polyroute_postgres_tests),
        ignore = "set POLYROUTE_TEST_POSTGRES_URL"
    )]
    fn redis_down_is_reported_and_fails() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let output = check(&format!("redis://127.0.0.1:{port}"));
        let stdout = text(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stdout}");
        let cache = stdout
            .lines()
            .find(|line| line.starts_with("cache"))
            .unwrap_or_else(|| panic!("no row for the Redis store:\n{stdout}"));
        assert!(cache.contains("unavailable"), "{cache}");
        assert!(stdout.contains("1 of 7 stores failed"), "{stdout}");
    }
}

/// The shop's production routing with only PostgreSQL and Redis up (the servers every test run
/// has) and the five production servers pointed at a closed port: the check still ends, about
/// one connect timeout later, naming each store that cannot be reached.
#[cfg(all(
    feature = "neo4j",
    feature = "scylla",
    feature = "influxdb",
    feature = "mongodb",
    feature = "elasticsearch"
))]
#[test]
fn unreachable_production_servers_are_named_without_a_hang() {
    let config =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shop/polyroute.production.toml");
    // A port nothing listens on: connection refused, at once.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let began = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_polyroute"))
        .args(["check", "--config"])
        .arg(&config)
        .env("RUST_LOG", "off")
        .env("POLYROUTE_NEO4J_URL", format!("bolt://127.0.0.1:{closed}"))
        .env("POLYROUTE_SCYLLA_URL", format!("127.0.0.1:{closed}"))
        .env(
            "POLYROUTE_INFLUXDB_URL",
            format!("http://127.0.0.1:{closed}"),
        )
        .env(
            "POLYROUTE_MONGODB_URL",
            format!("mongodb://127.0.0.1:{closed}"),
        )
        .env(
            "POLYROUTE_ELASTICSEARCH_URL",
            format!("http://127.0.0.1:{closed}"),
        )
        .output()
        .expect("the binary runs");
    let took = began.elapsed();
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    for (store, backend) in [
        ("catalog", "mongodb"),
        ("events", "scylla"),
        ("metrics", "influxdb"),
        ("social", "neo4j"),
        ("text", "elasticsearch"),
    ] {
        let line = stdout
            .lines()
            .find(|line| line.starts_with(store))
            .unwrap_or_else(|| panic!("no line for store {store}:\n{stdout}"));
        assert!(line.contains(backend), "{line}");
        assert!(line.contains("unavailable"), "{line}");
    }
    // Not a performance bound: a guard against hanging on a server that is down. Every store
    // has a 2 s connect timeout and they are tried together.
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
}
