//! Outbox propagation with the system of record on PostgreSQL: puts and deletes reach the
//! derived entities, and the relay recovers without loss when its database connections are
//! killed (`pg_terminate_backend`) while it runs.
#![cfg(feature = "postgres")]
// The helpers here fail the test the way `#[test]` functions do: by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/products.rs"]
mod products;

use std::time::{Duration, Instant};

use polyroute::backend::registry::{self, ConnectContext};
use polyroute::relational::RelationalSettings;
use polyroute::search::{SearchFieldKind, SearchFilter, SearchQuery};
use polyroute::{EntitySettings, Propagation, StoreKind, Value};
use serde_json::json;

fn base_url() -> String {
    std::env::var("POLYROUTE_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| {
            panic!("POLYROUTE_REQUIRE_SERVICES=1 but POLYROUTE_TEST_POSTGRES_URL is not set")
        })
}

fn with_app(url: &str, app: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={app}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn the_relay_recovers_from_killed_connections_without_loss() {
    let tag = format!(
        "outbox_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let app = format!("polyroute_{tag}");
    let context = ConnectContext::default();
    let main = registry::connect(
        StoreKind::Relational,
        "postgres",
        &json!({"url": with_app(&base_url(), &app), "schema": tag, "pool": 4}),
        &context,
    )
    .await
    .unwrap();
    let killer = registry::connect(
        StoreKind::Relational,
        "postgres",
        &json!({"url": base_url(), "pool": 1}),
        &context,
    )
    .await
    .unwrap();
    let docs = registry::connect(StoreKind::Document, "embedded", &json!({}), &context)
        .await
        .unwrap();
    let search = registry::connect(StoreKind::Search, "embedded", &json!({}), &context)
        .await
        .unwrap();

    let mut propagation = Propagation::to(vec!["products_docs".into(), "products_search".into()]);
    propagation.poll_interval = Duration::from_millis(10);
    propagation.batch = 5;
    propagation.backoff = Duration::from_millis(5);
    let fields = products::search_fields(&[
        ("name", SearchFieldKind::Text),
        ("stock", SearchFieldKind::Integer),
    ]);
    let router = products::builder(main, docs, search, fields, products::record(propagation))
        .store("killer", killer)
        .entity(
            "admin",
            "killer",
            EntitySettings::Relational(RelationalSettings::default()),
        )
        .build()
        .await
        .unwrap();
    let sor = router.relational("products").unwrap();
    sor.execute_script(
        "CREATE TABLE products (id TEXT PRIMARY KEY, name TEXT NOT NULL, stock BIGINT NOT NULL)",
    )
    .await
    .unwrap();
    let records = router.records("products").unwrap();
    let admin = router.relational("admin").unwrap();

    let outbox = router.outbox("products").unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let relay = tokio::spawn(async move {
        outbox
            .run(async {
                stopped.await.ok();
            })
            .await;
    });

    let mut killed = 0;
    for n in 0..60_i64 {
        let key = format!("k{}", n % 7);
        // A write that meets a killed connection fails; the upsert or delete is run again
        // (each lands the same), as a service would.
        for attempt in 0.. {
            let outcome = if n % 5 == 4 {
                records.delete(key.as_str()).await.map(drop)
            } else {
                records
                    .put(
                        key.as_str(),
                        json!({"name": format!("item {n}"), "stock": n}),
                    )
                    .await
                    .map(drop)
            };
            match outcome {
                Ok(()) => break,
                Err(err) if attempt < 20 => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let _ = err;
                }
                Err(err) => panic!("write {n} kept failing: {err}"),
            }
        }
        if n % 15 == 7 {
            let rows = admin
                .query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                    &[Value::Text(app.clone())],
                )
                .await
                .unwrap();
            killed += rows.len();
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    assert!(killed > 0, "no relay connection was killed");

    let outbox = router.outbox("products").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match outbox.status().await {
            Ok(status) if status.iter().all(|t| t.pending == 0) => {
                assert!(status.iter().all(|t| t.dead_letters == 0), "{status:?}");
                break;
            }
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "the relay did not catch up after its connections were killed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(()).unwrap();
    relay.await.unwrap();

    let search = router.search("products_search").unwrap();
    let docs = router.document("products_docs").unwrap();
    let last = sor
        .query("SELECT record_key, MAX(seq) FROM polyroute_outbox WHERE entity = 'products' GROUP BY record_key", &[])
        .await
        .unwrap();
    assert_eq!(last.len(), 7);
    for row in &last.rows {
        let key = row[0].as_str().unwrap();
        let seq = row[1].as_i64().unwrap();
        let truth = records.get_from_record(key).await.unwrap();
        let doc = docs.get(key).await.unwrap();
        let mut query = SearchQuery::new("");
        query.filters.push(SearchFilter::one_of("_key", [key]));
        let hit = search.query(&query).await.unwrap().hits.into_iter().next();
        match truth {
            None => assert!(doc.is_none() && hit.is_none(), "{key} was deleted"),
            Some(truth) => {
                let mut doc = doc.unwrap_or_else(|| panic!("{key} missing from documents"));
                assert_eq!(doc.remove("_seq").unwrap().as_i64(), Some(seq));
                assert_eq!(doc, truth);
                let hit = hit.unwrap_or_else(|| panic!("{key} missing from search"));
                assert_eq!(hit.fields["_seq"], Value::Int(seq));
                assert_eq!(
                    hit.fields["stock"],
                    Value::Int(truth["stock"].as_i64().unwrap())
                );
            }
        }
    }
    admin
        .execute_script(&format!("DROP SCHEMA \"{tag}\" CASCADE"))
        .await
        .unwrap();
}
