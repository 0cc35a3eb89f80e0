//! Crash test of outbox propagation: at least 100 crash points, each a child process (this
//! test binary, re-run with `POLYROUTE_CRASH_ROLE` set) killed with SIGKILL at a random
//! moment. Children alternate: a writer (puts and deletes random keys through `records`,
//! printing `ACK <seq> <key> <op>` once each call returned), a relay, and one doing both. The
//! relay's target stores are wrapped so that every change applied is appended (fsynced) to a
//! journal as `<target> <key> <seq>` after the store write succeeded. At the end the parent
//! relays to completion in-process and checks that no acknowledged change is lost and none
//! was applied twice. Seeded: `POLYROUTE_CRASH_SEED=N` replays a run.

// The helpers here fail the test the way `#[test]` functions do: by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/products.rs"]
mod products;

use std::collections::{BTreeMap, HashMap};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use polyroute::backend::registry::{self, ConnectContext};
use polyroute::search::{SearchFieldKind, SearchFilter, SearchQuery};
use polyroute::{Propagation, Router, StoreKind, Value};
use polyroute_testkit::hooked::{Hook, Hooked};
use serde_json::json;

const ROLE: &str = "POLYROUTE_CRASH_ROLE";
const DIR: &str = "POLYROUTE_CRASH_DIR";
const CHILD_SEED: &str = "POLYROUTE_CRASH_CHILD_SEED";
const KEYS: u64 = 12;
const TARGETS: [&str; 2] = ["products_docs", "products_search"];

/// SplitMix64: a small seeded generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Appends `<target> <key> <seq>` for every write the relay applies, fsynced.
#[derive(Debug)]
struct Journal {
    file: Mutex<std::fs::File>,
}

impl Hook for Journal {
    fn after(&self, entity: &str, key: &str) {
        let seq =
            polyroute::outbox::applying().map_or_else(|| "?".to_owned(), |a| a.seq.to_string());
        let mut file = self.file.lock().unwrap();
        file.write_all(format!("{entity} {key} {seq}\n").as_bytes())
            .unwrap();
        file.sync_data().unwrap();
    }
}

async fn router(dir: &Path) -> Router {
    let journal = Arc::new(Journal {
        file: Mutex::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("journal.txt"))
                .unwrap(),
        ),
    });
    let context = ConnectContext::default();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let main = registry::connect(
        StoreKind::Relational,
        "embedded",
        &json!({"path": path("main.db")}),
        &context,
    )
    .await
    .unwrap();
    let docs = registry::connect(
        StoreKind::Document,
        "embedded",
        &json!({"path": path("docs.db")}),
        &context,
    )
    .await
    .unwrap();
    let search = registry::connect(
        StoreKind::Search,
        "embedded",
        &json!({"path": path("search")}),
        &context,
    )
    .await
    .unwrap();
    let mut propagation = Propagation::to(TARGETS.iter().map(|t| (*t).to_owned()).collect());
    propagation.lease = Duration::from_millis(200);
    propagation.poll_interval = Duration::from_millis(5);
    propagation.batch = 8;
    propagation.backoff = Duration::from_millis(2);
    let fields = products::search_fields(&[
        ("name", SearchFieldKind::Text),
        ("price", SearchFieldKind::Float),
        ("stock", SearchFieldKind::Integer),
    ]);
    let router = products::builder(
        main,
        Hooked::wrap(docs, journal.clone()),
        Hooked::wrap(search, journal),
        fields,
        products::record(propagation),
    )
    .build()
    .await
    .unwrap();
    router
        .relational("products")
        .unwrap()
        .execute_script("CREATE TABLE IF NOT EXISTS products (id TEXT PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL, stock INTEGER NOT NULL)")
        .await
        .unwrap();
    router
}

fn say(line: &str) {
    // One write per line (shorter than PIPE_BUF, so never torn), flushed at once.
    let mut out = std::io::stdout().lock();
    out.write_all(format!("{line}\n").as_bytes()).unwrap();
    out.flush().unwrap();
}

async fn write_forever(router: Router, mut rng: Rng) {
    let records = router.records("products").unwrap();
    loop {
        let key = format!("k{}", rng.below(KEYS));
        if rng.below(100) < 85 {
            let n = rng.below(1000);
            let fields = json!({"name": format!("item {n}"), "price": n as f64 / 4.0, "stock": n});
            let written = records.put(key.as_str(), fields).await.unwrap();
            say(&format!("ACK {} {key} put", written.seq));
        } else {
            let written = records.delete(key.as_str()).await.unwrap();
            say(&format!("ACK {} {key} delete", written.seq));
        }
    }
}

async fn relay_forever(router: Router) {
    let outbox = router.outbox("products").unwrap();
    loop {
        match outbox.relay_once().await {
            Ok(report) => say(&format!("RELAY {} {}", report.applied, report.skipped)),
            Err(err) => say(&format!("RELAYERR {err}")),
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn child(role: &str) {
    let dir = PathBuf::from(std::env::var(DIR).unwrap());
    let seed: u64 = std::env::var(CHILD_SEED).unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let router = router(&dir).await;
        say("READY");
        match role {
            "writer" => write_forever(router, Rng(seed)).await,
            "relay" => relay_forever(router).await,
            _ => {
                tokio::spawn(relay_forever(router.clone()));
                write_forever(router, Rng(seed)).await;
            }
        }
    });
}

#[derive(Default)]
struct Totals {
    acks: Vec<(u64, String, String)>,
    skipped: u64,
}

fn run_child(dir: &Path, role: &str, seed: u64, kill_after: Duration, totals: &mut Totals) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(ROLE, role)
        .env(DIR, dir)
        .env(CHILD_SEED, seed.to_string())
        .env("RUST_LOG", "off")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let ready_by = Instant::now() + Duration::from_secs(30);
    let mut lines = Vec::new();
    loop {
        let line = lines_rx
            .recv_timeout(ready_by.saturating_duration_since(Instant::now()))
            .expect("child did not start");
        if line == "READY" {
            break;
        }
        lines.push(line);
    }
    std::thread::sleep(kill_after);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    lines.extend(lines_rx.try_iter());
    for line in lines {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts.as_slice() {
            ["ACK", seq, key, op] => {
                totals
                    .acks
                    .push((seq.parse().unwrap(), (*key).to_owned(), (*op).to_owned()))
            }
            ["RELAY", _, skipped] => totals.skipped += skipped.parse::<u64>().unwrap(),
            _ => {}
        }
    }
}

fn parent() {
    let seed: u64 = std::env::var("POLYROUTE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let points: u64 = std::env::var("POLYROUTE_CRASH_POINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(102);
    println!("outbox crash test: seed {seed} (POLYROUTE_CRASH_SEED={seed} replays it), {points} crash points");
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed);
    let mut totals = Totals::default();
    let started = Instant::now();
    for point in 0..points {
        let role = ["writer", "relay", "both"][(point % 3) as usize];
        let kill_after = Duration::from_millis(10 + rng.below(250));
        run_child(dir.path(), role, rng.next(), kill_after, &mut totals);
    }
    println!("{points} children killed in {:.1?}", started.elapsed());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let failures = runtime.block_on(check(dir.path(), points, &mut totals));
    if failures > 0 {
        eprintln!("outbox crash test FAILED (seed {seed})");
        std::process::exit(1);
    }
    println!("outbox crash test passed");
}

async fn check(dir: &Path, points: u64, totals: &mut Totals) -> u64 {
    let router = router(dir).await;
    let outbox = router.outbox("products").unwrap();
    // Relay to completion: wait out a killed relay's lease.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let report = outbox.relay_once().await.unwrap();
        totals.skipped += report.skipped;
        let status = outbox.status().await.unwrap();
        if !report.lease_busy && status.iter().all(|t| t.pending == 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the relay did not finish: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = outbox.status().await.unwrap();
    let dead: u64 = status.iter().map(|t| t.dead_letters).sum();

    let sor = router.relational("products").unwrap();
    let changes = sor
        .query("SELECT seq, record_key, op FROM polyroute_outbox WHERE entity = 'products' ORDER BY seq", &[])
        .await
        .unwrap();
    let mut outbox_changes: BTreeMap<u64, (String, String)> = BTreeMap::new();
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    for row in &changes.rows {
        let seq = row[0].as_i64().unwrap() as u64;
        let key = row[1].as_str().unwrap().to_owned();
        last.insert(key.clone(), seq);
        outbox_changes.insert(seq, (key, row[2].as_str().unwrap().to_owned()));
    }
    let records = router.records("products").unwrap();
    let docs = router.document("products_docs").unwrap();
    let search = router.search("products_search").unwrap();

    let mut lost = 0;
    for (seq, key, op) in &totals.acks {
        // An acknowledged change is in the system of record's outbox, as acknowledged.
        if outbox_changes.get(seq) != Some(&(key.clone(), op.clone())) {
            eprintln!("lost: acknowledged change {seq} ({key} {op}) is not in the outbox");
            lost += 1;
        }
    }
    let acked_keys: HashMap<&str, u64> =
        totals
            .acks
            .iter()
            .fold(HashMap::new(), |mut acc, (seq, key, _)| {
                let high = acc.entry(key.as_str()).or_insert(0);
                *high = (*high).max(*seq);
                acc
            });
    for (key, final_seq) in &last {
        let row = records.get_from_record(key.as_str()).await.unwrap();
        let acked = acked_keys.get(key.as_str()).copied().unwrap_or(0);
        // Document target.
        let doc = docs.get(key).await.unwrap();
        let doc_seq = doc.as_ref().map(|d| d["_seq"].as_u64().unwrap());
        let doc_state = doc.map(|mut d| {
            d.remove("_seq");
            d
        });
        // Search target.
        let mut query = SearchQuery::new("");
        query
            .filters
            .push(SearchFilter::one_of("_key", [key.as_str()]));
        let hit = search.query(&query).await.unwrap().hits.into_iter().next();
        let hit_seq = hit
            .as_ref()
            .map(|h| h.fields["_seq"].as_i64().unwrap() as u64);
        for (target, held, same) in [
            ("products_docs", doc_seq, doc_state == row),
            (
                "products_search",
                hit_seq,
                match (&hit, &row) {
                    (None, None) => true,
                    (Some(hit), Some(row)) => {
                        hit.fields["name"] == Value::Text(row["name"].as_str().unwrap().to_owned())
                            && hit.fields["stock"] == Value::Int(row["stock"].as_i64().unwrap())
                            && hit.fields["price"] == Value::Float(row["price"].as_f64().unwrap())
                    }
                    _ => false,
                },
            ),
        ] {
            let deleted = row.is_none();
            let missing = if deleted {
                held.is_some()
            } else {
                held != Some(*final_seq) || held.unwrap_or(0) < acked
            };
            if missing || !same {
                eprintln!("lost: {target} {key}: holds {held:?}, final change {final_seq}, acknowledged up to {acked}, state matches: {same}");
                lost += 1;
            }
        }
    }

    let journal = std::fs::read_to_string(dir.join("journal.txt")).unwrap_or_default();
    let mut seen: HashMap<&str, u32> = HashMap::new();
    for line in journal.lines() {
        *seen.entry(line).or_default() += 1;
    }
    let delivered = journal.lines().count();
    let doubly: u64 = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(line, n)| {
            eprintln!("doubly applied: {line} ({n} times)");
            u64::from(*n - 1)
        })
        .sum();
    let unknown = journal.lines().filter(|line| line.ends_with(" ?")).count();
    println!(
        "crash points: {points}, acknowledged: {}, delivered: {delivered}, redeliveries skipped: {}, lost: {lost}, doubly applied: {doubly}",
        totals.acks.len(),
        totals.skipped
    );
    println!(
        "changes in the outbox: {}, keys: {}, dead letters: {dead}",
        outbox_changes.len(),
        last.len()
    );
    let mut failures = lost + doubly + dead + unknown as u64;
    if totals.acks.is_empty() || delivered == 0 {
        eprintln!("the children acknowledged or delivered nothing: the test proved nothing");
        failures += 1;
    }
    failures
}

fn main() {
    match std::env::var(ROLE) {
        Ok(role) => child(&role),
        Err(_) => parent(),
    }
}
