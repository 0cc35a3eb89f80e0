//! `polyroute check` run as a program, on configs written to a temporary folder.

// The helpers here fail the test the way `#[test]` functions do: by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
