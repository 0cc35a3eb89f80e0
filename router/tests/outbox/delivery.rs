//! Writes reach every target kind; redeliveries are skipped; reads are routed; sessions read
//! their own writes.

use std::time::Duration;

use polyroute::search::SearchQuery;
use polyroute::{RecordError, Value};
use serde_json::json;

use crate::support::{product, record, setup, TARGETS};

#[tokio::test]
async fn writes_reach_every_target_and_reads_are_routed() {
    let setup = setup(record(false)).await;
    let records = setup.router.records("products").unwrap();
    let outbox = setup.router.outbox("products").unwrap();

    let first = records
        .put("p1", product("Claw hammer", 12.5, 3))
        .await
        .unwrap();
    let second = records
        .put("p2", product("Hand saw", 20.0, 1))
        .await
        .unwrap();
    let third = records
        .put("p1", product("Claw hammer", 11.0, 7))
        .await
        .unwrap();
    assert_eq!((first.seq, second.seq, third.seq), (1, 2, 3));
    assert_eq!(third.row.as_ref().unwrap()["stock"], 7);

    // Not delivered yet: the routed read does not see it, the system of record does.
    assert_eq!(records.get("p1").await.unwrap(), None);
    assert_eq!(
        records.get_from_record("p1").await.unwrap().unwrap()["price"],
        11.0
    );
    let status = outbox.status().await.unwrap();
    assert!(
        status.iter().all(|t| t.pending == 3 && t.cursor == 0),
        "{status:?}"
    );

    let report = outbox.relay_once().await.unwrap();
    assert_eq!(report.applied, 9, "{report:?}");
    assert_eq!(report.dead_lettered, 0);
    let status = outbox.status().await.unwrap();
    assert!(
        status
            .iter()
            .all(|t| t.pending == 0 && t.cursor == 3 && t.lag.is_zero()),
        "{status:?}"
    );

    // The routed get equals the system of record's row.
    let routed = records.get("p1").await.unwrap().unwrap();
    assert_eq!(
        routed,
        records.get_from_record("p1").await.unwrap().unwrap()
    );
    let doc = setup
        .router
        .document("products_docs")
        .unwrap()
        .get("p1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc["_seq"], 3);
    let kv = setup
        .router
        .key_value("products_kv")
        .unwrap()
        .get("p2")
        .await
        .unwrap()
        .unwrap();
    let kv: serde_json::Value = serde_json::from_slice(&kv).unwrap();
    assert_eq!(
        kv,
        json!({"id": "p2", "name": "Hand saw", "category": "tools", "price": 20.0, "stock": 1, "_seq": 2})
    );
    let hits = records.search(&SearchQuery::new("hammer")).await.unwrap();
    assert_eq!(hits.hits.len(), 1);
    assert_eq!(hits.hits[0].id, "p1");
    assert_eq!(hits.hits[0].fields["stock"], Value::Int(7));
    assert_eq!(hits.hits[0].fields["_seq"], Value::Int(3));

    // A delete removes the key everywhere.
    let deleted = records.delete("p1").await.unwrap();
    assert_eq!(deleted.seq, 4);
    outbox.relay_once().await.unwrap();
    assert_eq!(records.get("p1").await.unwrap(), None);
    assert_eq!(records.get_from_record("p1").await.unwrap(), None);
    assert_eq!(
        setup
            .router
            .key_value("products_kv")
            .unwrap()
            .get("p1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        records
            .search(&SearchQuery::new("hammer"))
            .await
            .unwrap()
            .total,
        0
    );
    for target in TARGETS {
        assert_eq!(
            setup.faults.writes(target, "p1"),
            3,
            "{target}: two puts and a delete"
        );
    }
}

#[tokio::test]
async fn a_redelivery_after_a_lost_cursor_has_no_second_effect() {
    let setup = setup(record(false)).await;
    let records = setup.router.records("products").unwrap();
    let outbox = setup.router.outbox("products").unwrap();
    // Ten changes over three keys, ending with a delete of one of them.
    for n in 0..9_i64 {
        let key = format!("k{}", n % 3);
        records
            .put(key.as_str(), product("Widget", 1.0, n))
            .await
            .unwrap();
    }
    records.delete("k0").await.unwrap();
    let first = outbox.relay_once().await.unwrap();
    assert_eq!(first.applied + first.skipped, 30, "{first:?}");
    let writes: Vec<u32> = ["k0", "k1", "k2"]
        .iter()
        .map(|k| setup.faults.writes("products_docs", k))
        .collect();

    // As if the relay had crashed after applying, before moving its cursors.
    setup
        .router
        .relational("products")
        .unwrap()
        .execute(
            "UPDATE polyroute_outbox_cursor SET seq = 0 WHERE entity = $1",
            &["products".into()],
        )
        .await
        .unwrap();
    let again = outbox.relay_once().await.unwrap();
    assert_eq!(again.applied, 0, "{again:?}");
    assert_eq!(again.skipped, 30, "{again:?}");
    let after: Vec<u32> = ["k0", "k1", "k2"]
        .iter()
        .map(|k| setup.faults.writes("products_docs", k))
        .collect();
    assert_eq!(writes, after);
    assert_eq!(records.get("k0").await.unwrap(), None);
    assert_eq!(records.get("k2").await.unwrap().unwrap()["stock"], 8);
}

#[tokio::test]
async fn a_session_reads_its_own_writes() {
    let setup = setup(record(true)).await;
    let records = setup.router.records("products").unwrap();
    let session = records.session();
    session
        .put("s1", product("Spirit level", 9.0, 2))
        .await
        .unwrap();

    // The document target lags: the plain handle misses the row, the session does not.
    assert_eq!(records.get("s1").await.unwrap(), None);
    assert_eq!(
        session.get("s1").await.unwrap().unwrap()["name"],
        "Spirit level"
    );

    // No relay running: a session search waits its deadline (500ms), then says why.
    let err = session
        .search(&SearchQuery::new("level"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RecordError::NotCaughtUp { seq: 1, .. }),
        "{err}"
    );

    // With a relay running, the search waits for it and finds the row.
    let outbox = setup.router.outbox("products").unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let relay = tokio::spawn(async move {
        outbox
            .run(async {
                stopped.await.ok();
            })
            .await;
    });
    session
        .put("s2", product("Spirit level XL", 19.0, 1))
        .await
        .unwrap();
    let hits = session.search(&SearchQuery::new("level")).await.unwrap();
    assert_eq!(hits.total, 2);
    // Caught up: the session's get now reads the routed document.
    assert_eq!(session.get("s2").await.unwrap().unwrap()["price"], 19.0);
    stop.send(()).unwrap();
    relay.await.unwrap();

    // A handle without read-your-writes reads only the routed entity.
    let plain = setup_plain().await;
    let session = plain.router.records("products").unwrap().session();
    session.put("x", product("Rasp", 4.0, 1)).await.unwrap();
    assert_eq!(session.get("x").await.unwrap(), None);
}

async fn setup_plain() -> crate::support::Setup {
    setup(record(false)).await
}

#[tokio::test]
async fn calls_without_a_route_or_with_bad_input_say_what_to_do() {
    let mut settings = record(false);
    settings.routes.search = None;
    settings.routes.get = None;
    let setup = setup(settings).await;
    let records = setup.router.records("products").unwrap();
    let err = records.search(&SearchQuery::new("x")).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("add `routes = { search = \"ENTITY\" }`"),
        "{err}"
    );
    let err = records.put("a", json!([1, 2])).await.unwrap_err();
    assert!(
        matches!(err, RecordError::NotAnObject { found: "an array" }),
        "{err}"
    );
    let err = records
        .put("a", json!({"no such column": 1}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a valid column"), "{err}");
    // Without a get route, get reads the table.
    records.put("a", product("Awl", 3.0, 1)).await.unwrap();
    assert_eq!(records.get("a").await.unwrap().unwrap()["name"], "Awl");
    // Not a record entity / no outbox.
    assert!(setup.router.records("products_docs").is_err());
    let _ = Duration::ZERO;
}
