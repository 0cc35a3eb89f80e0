//! Health, readiness and graceful shutdown.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::harness::{client, json, Sidecar, STORES};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_and_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut sidecar = Sidecar::start_in(dir.path(), STORES, &[]);
    let c = client();
    assert_eq!(
        json(c.get(sidecar.url("/healthz")).send().await.unwrap()).await,
        (200, json!({"status": "ok"}))
    );
    assert_eq!(
        c.get(sidecar.url("/readyz")).send().await.unwrap().status(),
        200
    );

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let c = c.clone();
        let base = sidecar.url("/v1/document/products/docs/");
        let acknowledged = acknowledged.clone();
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let id = format!("w{writer}-{i}");
                let sent = c
                    .put(format!("{base}{id}"))
                    .json(&json!({"writer": writer, "seq": i}))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 200 => {
                        acknowledged.lock().unwrap().push(id)
                    }
                    Ok(response) => {
                        panic!("write {id} answered {} during shutdown", response.status())
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    while acknowledged.lock().unwrap().len() < 200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sidecar.terminate();
    for writer in writers {
        writer.await.unwrap();
    }
    let status = sidecar.wait(Duration::from_secs(20));
    assert!(status.success(), "exit after SIGTERM: {status}");

    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 200);
    let config = std::fs::read_to_string(dir.path().join("polyroute.toml")).unwrap();
    let again = Sidecar::start_in(dir.path(), &config, &[]);
    let (_, count) = json(
        c.post(again.url("/v1/document/products/count"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        count["count"].as_u64().unwrap() >= acknowledged.len() as u64,
        "{count}"
    );
    for id in &acknowledged {
        let status = c
            .get(again.url(&format!("/v1/document/products/docs/{id}")))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "acknowledged write {id} is lost");
    }
}

/// Without `RUST_LOG`, the sidecar logs its own lines at info and its dependencies' (the
/// storage engines' startup and recovery chatter, the HTTP stack) only from warn up.
#[tokio::test]
async fn default_logs_show_polyroute_at_info_and_dependencies_at_warn() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("polyroute.toml");
    std::fs::write(&path, STORES).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_polyroute"))
        .args(["serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("http://"), "first line: {line:?}");

    // Work every engine does: a write and a read of each kind's entity.
    let c = client();
    let (status, _) = json(
        c.put(format!("{base}/v1/document/products/docs/log-probe"))
            .json(&json!({"name": "probe"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = json(
        c.get(format!("{base}/v1/document/products/docs/log-probe"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
    let logs = logs.join().unwrap();

    let info: Vec<&str> = logs.lines().filter(|l| l.contains(" INFO ")).collect();
    assert!(
        !info.is_empty(),
        "the sidecar's own info lines are shown: {logs}"
    );
    for line in info {
        let target = line
            .split(" INFO ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_default();
        assert!(
            target.starts_with("polyroute"),
            "an info line of a dependency is shown by default: {line}"
        );
    }
}
