//! What survives closing the store, a crash, and damaged files.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use polyroute_adapters::kinds::time_series::{
    FieldValue, LastPoint, SeriesData, TagFilter, TimeSeriesStore,
};
use polyroute_adapters::registry::{self, ConnectContext};
use polyroute_adapters::{ErrorKind, StoreKind};
use serde_json::json;

use super::{connect, handle};
use polyroute_testkit::time_series::{everything, point, value, SEC, T0};

/// Every point of `cpu` and `mem`, and the newest point of every series of both.
async fn read_back(
    options: serde_json::Value,
) -> (Vec<SeriesData>, Vec<SeriesData>, Vec<LastPoint>) {
    let store = connect(options).await;
    let ts = handle(&store, "metrics", None).await;
    everything_and_last(&*ts).await
}

async fn everything_and_last(
    ts: &dyn TimeSeriesStore,
) -> (Vec<SeriesData>, Vec<SeriesData>, Vec<LastPoint>) {
    let mut last = ts.last("cpu", &TagFilter::all()).await.unwrap();
    last.extend(ts.last("mem", &TagFilter::all()).await.unwrap());
    (
        everything(ts, "cpu").await,
        everything(ts, "mem").await,
        last,
    )
}

/// Writes, overwrites, late points and a delete, closes the store, and reads it all back:
/// once from the log alone, once from segment files alone, once from both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_written_is_read_back_after_reopening() {
    for wal_size in ["64MiB", "1B", "2KiB"] {
        let dir = tempfile::tempdir().unwrap();
        let options = json!({"path": dir.path(), "wal_size": wal_size, "partition": "10m"});
        let expected = {
            let store = connect(options.clone()).await;
            let ts = handle(&store, "metrics", None).await;
            for batch in 0..20i64 {
                let points = (0..50)
                    .map(|i| {
                        let t = T0 + (batch * 50 + i) * 7 * SEC;
                        value(
                            "cpu",
                            &[("host", if i % 2 == 0 { "a" } else { "b" })],
                            (batch * i) as f64 / 3.0,
                            t,
                        )
                    })
                    .collect();
                ts.write(points).await.unwrap();
            }
            ts.write(vec![
                point(
                    "cpu",
                    &[("host", "a")],
                    &[("v", FieldValue::Float(-1.0))],
                    T0,
                ),
                value("cpu", &[("host", "c")], 0.25, T0 - 86_400 * SEC),
                point(
                    "mem",
                    &[],
                    &[
                        ("used", FieldValue::Int(i64::MAX)),
                        ("ok", FieldValue::Bool(true)),
                        ("s", FieldValue::Text("é".into())),
                    ],
                    T0,
                ),
            ])
            .await
            .unwrap();
            ts.delete_before(T0 - 3_600 * SEC).await.unwrap();
            ts.write(vec![value("cpu", &[("host", "d")], 9.0, T0 + 50 * SEC)])
                .await
                .unwrap();
            let expected = everything_and_last(&*ts).await;
            assert_eq!(expected.0.len(), 3, "wal_size {wal_size}");
            assert_eq!(expected.2.len(), 4, "wal_size {wal_size}");
            expected
        };
        assert_eq!(
            read_back(options.clone()).await,
            expected,
            "wal_size {wal_size}"
        );
        // Opening twice in a row replays the same log onto the same segments.
        assert_eq!(read_back(options).await, expected, "wal_size {wal_size}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_log_tail_is_cut_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let options = json!({"path": dir.path()});
    {
        let store = connect(options.clone()).await;
        let ts = handle(&store, "metrics", None).await;
        ts.write(vec![value("cpu", &[], 1.0, T0)]).await.unwrap();
        ts.write(vec![value("cpu", &[], 2.0, T0 + SEC)])
            .await
            .unwrap();
    }
    let wal = dir.path().join("metrics").join("wal");
    let mut file = std::fs::OpenOptions::new().append(true).open(&wal).unwrap();
    file.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
    drop(file);
    let store = connect(options.clone()).await;
    let ts = handle(&store, "metrics", None).await;
    assert_eq!(
        everything(&*ts, "cpu").await[0].timestamps,
        vec![T0, T0 + SEC]
    );
    ts.write(vec![value("cpu", &[], 3.0, T0 + 2 * SEC)])
        .await
        .unwrap();
    drop((ts, store));
    let (cpu, _, _) = read_back(options).await;
    assert_eq!(cpu[0].timestamps, vec![T0, T0 + SEC, T0 + 2 * SEC]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_segment_file_is_reported_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let options = json!({"path": dir.path(), "wal_size": 1});
    {
        let store = connect(options.clone()).await;
        let ts = handle(&store, "metrics", None).await;
        ts.write(vec![value("cpu", &[], 1.0, T0)]).await.unwrap();
    }
    let segment = std::fs::read_dir(dir.path().join("metrics"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .expect("a checkpoint wrote a segment file");
    let mut bytes = std::fs::read(&segment).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&segment, bytes).unwrap();
    let store = connect(options).await;
    let spec = polyroute_adapters::EntitySpec::new(
        "metrics",
        polyroute_adapters::EntitySettings::TimeSeries(Default::default()),
    )
    .unwrap();
    let err = store.open(&spec).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(err.to_string().contains("corrupt"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_keeps_its_partition_width() {
    let dir = tempfile::tempdir().unwrap();
    connect(json!({"path": dir.path(), "partition": "1h"})).await;
    let err = registry::connect(
        StoreKind::TimeSeries,
        "embedded",
        &json!({"path": dir.path(), "partition": "1d"}),
        &ConnectContext::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert!(err.to_string().contains("partition"), "{err}");
    connect(json!({"path": dir.path()}))
        .await
        .ping()
        .await
        .unwrap();
}

const WRITER_DIR: &str = "POLYROUTE_TS_KILL_WRITER_DIR";
const MAX_WRITES: i64 = 20_000;
const ACKS_BEFORE_KILL: i64 = 300;

/// The child writes one point per call and prints `ack N` once write N returned; the parent
/// kills it with SIGKILL mid-stream and checks every acknowledged point is on disk.
#[test]
fn acknowledged_writes_survive_kill_9() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let Ok(dir) = std::env::var(WRITER_DIR) {
        runtime.block_on(write_until_killed(Path::new(&dir)));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "embedded::time_series::durability::acknowledged_writes_survive_kill_9",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = -1i64;
    while acked + 1 < ACKS_BEFORE_KILL {
        let Some(line) = lines.next() else { break };
        if let Some(n) = line.unwrap().strip_prefix("ack ") {
            acked = n.parse().unwrap();
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Acknowledgements already in the pipe count too.
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("ack ") {
            acked = n.parse().unwrap();
        }
    }
    assert!(
        acked + 1 >= ACKS_BEFORE_KILL,
        "the writer acknowledged only {} writes",
        acked + 1
    );
    assert!(
        acked + 1 < MAX_WRITES,
        "the writer finished before it was killed"
    );
    let cpu = runtime.block_on(async {
        let store =
            connect(json!({"path": dir.path(), "synchronous": "normal", "wal_size": "64KiB"}))
                .await;
        let ts = handle(&store, "metrics", None).await;
        everything(&*ts, "cpu").await
    });
    let stored = cpu.first().map_or(&[][..], |s| &s.timestamps[..]);
    let expected: Vec<i64> = (0..=acked).map(|i| T0 + i * SEC).collect();
    assert!(
        stored.len() >= expected.len(),
        "{} of {} acknowledged writes survived",
        stored.len(),
        expected.len()
    );
    assert_eq!(&stored[..expected.len()], &expected[..]);
}

async fn write_until_killed(dir: &Path) {
    let store = connect(json!({"path": dir, "synchronous": "normal", "wal_size": "64KiB"})).await;
    let ts = handle(&store, "metrics", None).await;
    let mut out = std::io::stdout();
    for i in 0..MAX_WRITES {
        let p = point(
            "cpu",
            &[("host", "a")],
            &[
                ("v", FieldValue::Int(i)),
                ("tag", FieldValue::Text(format!("w{i}"))),
            ],
            T0 + i * SEC,
        );
        ts.write(vec![p]).await.unwrap();
        writeln!(out, "ack {i}").unwrap();
        out.flush().unwrap();
    }
    let _ = ts.last("cpu", &TagFilter::all()).await;
}
