//! Retries, dead letters parked per key, replay in order, and the relay lease.

use std::time::Duration;

use crate::support::{product, record, setup};

#[tokio::test]
async fn passing_failures_are_retried() {
    let setup = setup(record(false)).await;
    let records = setup.router.records("products").unwrap();
    let outbox = setup.router.outbox("products").unwrap();
    setup.faults.fail("products_docs", "a", 2, true);
    records.put("a", product("Chisel", 8.0, 2)).await.unwrap();
    let report = outbox.relay_once().await.unwrap();
    assert_eq!(report.failures, 2, "{report:?}");
    assert_eq!(report.dead_lettered, 0, "{report:?}");
    assert_eq!(records.get("a").await.unwrap().unwrap()["name"], "Chisel");
}

#[tokio::test]
async fn a_routed_read_falls_back_to_the_table_when_the_derived_store_is_down() {
    let setup = setup(record(false)).await;
    let records = setup.router.records("products").unwrap();
    records.put("a", product("Rasp", 9.0, 1)).await.unwrap();
    records.put("b", product("Awl", 3.0, 7)).await.unwrap();
    setup
        .router
        .outbox("products")
        .unwrap()
        .relay_once()
        .await
        .unwrap();
    setup.faults.fail_reads("products_docs", "a");
    let row = records.get("a").await.unwrap().expect("the table has it");
    assert_eq!(row["name"], "Rasp");
    assert_eq!(records.get("b").await.unwrap().unwrap()["name"], "Awl");
    // The derived entity really is failing: read directly, it says so.
    let err = setup
        .router
        .document("products_docs")
        .unwrap()
        .get("a")
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn a_failing_change_is_dead_lettered_and_parks_its_key_only() {
    let setup = setup(record(false)).await;
    let records = setup.router.records("products").unwrap();
    let outbox = setup.router.outbox("products").unwrap();
    setup.faults.fail("products_docs", "b", 100, false);
    records.put("a", product("Plane", 30.0, 1)).await.unwrap(); // 1
    records.put("b", product("Mallet", 10.0, 1)).await.unwrap(); // 2: refused
    records.put("b", product("Mallet", 11.0, 2)).await.unwrap(); // 3: parked behind 2
    records.put("c", product("File", 5.0, 4)).await.unwrap(); // 4
    records.put("b", product("Mallet", 12.0, 3)).await.unwrap(); // 5: parked
    let report = outbox.relay_once().await.unwrap();
    assert_eq!(report.dead_lettered, 1, "{report:?}");
    assert_eq!(report.parked, 2, "{report:?}");
    // A refusal is not retried.
    assert_eq!(report.failures, 1, "{report:?}");

    // Other keys went on; `b` is not in the document target, but reached the others.
    assert!(records.get("a").await.unwrap().is_some());
    assert!(records.get("c").await.unwrap().is_some());
    assert_eq!(records.get("b").await.unwrap(), None);
    assert!(setup
        .router
        .key_value("products_kv")
        .unwrap()
        .get("b")
        .await
        .unwrap()
        .is_some());
    let status = outbox.status().await.unwrap();
    let docs = status.iter().find(|t| t.target == "products_docs").unwrap();
    assert_eq!(
        (docs.pending, docs.dead_letters, docs.cursor),
        (0, 3, 5),
        "{status:?}"
    );
    assert!(status
        .iter()
        .filter(|t| t.target != "products_docs")
        .all(|t| t.dead_letters == 0));

    // Later changes of `b` keep parking behind it.
    records.put("b", product("Mallet", 13.0, 4)).await.unwrap(); // 6
    let report = outbox.relay_once().await.unwrap();
    assert_eq!(report.parked, 1, "{report:?}");

    // Fixed: a replay delivers them in order and the key ends at its last change.
    setup.faults.fail("products_docs", "b", 0, false);
    assert_eq!(outbox.replay(Some("products_docs")).await.unwrap(), 4);
    let report = outbox.relay_once().await.unwrap();
    assert_eq!(report.replayed, 4, "{report:?}");
    assert_eq!(report.dead_lettered + report.parked, 0, "{report:?}");
    let b = records.get("b").await.unwrap().unwrap();
    assert_eq!(b, records.get_from_record("b").await.unwrap().unwrap());
    assert_eq!(b["price"], 13.0);
    let doc = setup
        .router
        .document("products_docs")
        .unwrap()
        .get("b")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc["_seq"], 6);
    // Replayed in order: 2, 3, 5, then 6 lands last.
    assert_eq!(setup.faults.writes("products_docs", "b"), 4);
    assert!(outbox
        .status()
        .await
        .unwrap()
        .iter()
        .all(|t| t.dead_letters == 0));
    assert!(outbox.replay(Some("nope")).await.is_err());
}

#[tokio::test]
async fn a_replay_that_fails_again_stays_dead_and_keeps_parking() {
    let setup = setup(record(false)).await;
    let records = setup.router.records("products").unwrap();
    let outbox = setup.router.outbox("products").unwrap();
    setup.faults.fail("products_kv", "z", 100, false);
    records.put("z", product("Vise", 40.0, 1)).await.unwrap();
    records.put("z", product("Vise", 41.0, 1)).await.unwrap();
    outbox.relay_once().await.unwrap();
    assert_eq!(outbox.replay(None).await.unwrap(), 2);
    let report = outbox.relay_once().await.unwrap();
    assert_eq!(
        (report.dead_lettered, report.parked, report.replayed),
        (1, 1, 0),
        "{report:?}"
    );
    let kv = outbox
        .status()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.target == "products_kv")
        .unwrap();
    assert_eq!(kv.dead_letters, 2);
}

#[tokio::test]
async fn one_relay_at_a_time() {
    let setup = setup(record(false)).await;
    let records = setup.router.records("products").unwrap();
    let first = setup.router.outbox("products").unwrap();
    let second = setup.router.outbox("products").unwrap();
    records.put("a", product("Drill", 80.0, 1)).await.unwrap();
    assert!(!first.relay_once().await.unwrap().lease_busy);
    records.put("b", product("Bit", 2.0, 9)).await.unwrap();
    let busy = second.relay_once().await.unwrap();
    assert!(busy.lease_busy);
    assert_eq!(busy.handled(), 0);
    // The first relay's lease (300ms) runs out unless renewed; then the second takes over.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let report = second.relay_once().await.unwrap();
    assert!(!report.lease_busy);
    assert_eq!(report.applied, 3);
    // The first relay lost its lease: it may not deliver (nor move a cursor) now.
    assert!(first.relay_once().await.unwrap().lease_busy);

    // A relay that stops gives its lease up at once.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(async move {
        second
            .run(async {
                stopped.await.ok();
            })
            .await;
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(first.relay_once().await.unwrap().lease_busy);
    stop.send(()).unwrap();
    runner.await.unwrap();
    assert!(!first.relay_once().await.unwrap().lease_busy);
}
