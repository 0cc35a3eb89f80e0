//! `polyroute outbox status|relay|replay` run as a program, on a record entity whose changes a
//! router in this process wrote to its embedded system of record.

// The helpers here fail the test the way `#[test]` functions do: by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polyroute::Router;
use serde_json::json;

const CONFIG: &str = r#"
[stores.main]
kind = "relational"
path = "data/main.db"

[stores.docs]
kind = "document"
path = "data/docs"

[entities.products]
store = "main"
key = "id"
routes = { get = "products_docs" }
propagate = { to = ["products_docs"] }

[entities.products_docs]
store = "docs"
"#;

fn outbox(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polyroute"))
        .arg("outbox")
        .args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "off")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write_config(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let path = dir.join("polyroute.toml");
    std::fs::write(&path, CONFIG).unwrap();
    path
}

/// The status row of `products → products_docs`: its cells, split on whitespace.
fn status_row(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .find(|line| line.contains("products_docs"))
        .unwrap_or_else(|| panic!("no products_docs row in:\n{stdout}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_relay_and_replay_drive_a_record_entitys_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());

    // Writes acknowledged by the system of record; no relay runs in this process.
    {
        let router = Router::from_config_path(&config).await.unwrap();
        router
            .relational("products")
            .unwrap()
            .execute_script("CREATE TABLE products (id TEXT PRIMARY KEY, name TEXT, price REAL)")
            .await
            .unwrap();
        let records = router.records("products").unwrap();
        for (id, name) in [("p1", "lamp"), ("p2", "desk"), ("p3", "chair")] {
            records
                .put(id, json!({ "name": name, "price": 10.5 }))
                .await
                .unwrap();
        }
        records.delete("p3").await.unwrap();
        assert_eq!(records.get("p1").await.unwrap(), None, "not delivered yet");
    }

    let before = outbox(&config, &["status"]);
    let stdout = text(&before.stdout);
    assert_eq!(
        before.status.code(),
        Some(0),
        "{stdout}{}",
        text(&before.stderr)
    );
    let row = status_row(&stdout);
    assert_eq!(row[0], "products", "{stdout}");
    assert!(
        row.contains(&"4".to_owned()),
        "4 changes pending:\n{stdout}"
    );

    let relay = outbox(&config, &["relay", "--until-empty"]);
    assert_eq!(
        relay.status.code(),
        Some(0),
        "{}{}",
        text(&relay.stdout),
        text(&relay.stderr)
    );
    assert!(
        text(&relay.stdout).contains("products: applied"),
        "{}",
        text(&relay.stdout)
    );

    let after = outbox(&config, &["status"]);
    let stdout = text(&after.stdout);
    assert_eq!(after.status.code(), Some(0), "{stdout}");
    let row = status_row(&stdout);
    // entity, target, cursor, pending, lag, dead letters
    assert_eq!(row[2], "4", "the cursor reached the last change:\n{stdout}");
    assert_eq!(row[3], "0", "nothing pending:\n{stdout}");
    assert_eq!(row.last().map(String::as_str), Some("0"), "{stdout}");

    let replay = outbox(&config, &["replay", "--entity", "products"]);
    assert_eq!(
        replay.status.code(),
        Some(0),
        "{}{}",
        text(&replay.stdout),
        text(&replay.stderr)
    );
    let unknown = outbox(&config, &["replay", "--entity", "nope"]);
    assert_ne!(unknown.status.code(), Some(0));
    assert!(
        text(&unknown.stderr).contains("nope"),
        "{}",
        text(&unknown.stderr)
    );

    // The relay's work is in the derived entity, read where `get` is routed.
    let router = Router::from_config_path(&config).await.unwrap();
    let records = router.records("products").unwrap();
    let p1 = records.get("p1").await.unwrap().expect("p1 was delivered");
    assert_eq!(p1.get("name"), Some(&json!("lamp")));
    assert_eq!(records.get("p3").await.unwrap(), None, "p3 was deleted");
}
