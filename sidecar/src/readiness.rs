//! Readiness: whether every store answers a ping, checked at most once per
//! [`READY_CACHE_FOR`] with at most one round of pings in flight, however often `/readyz` is
//! called.
//!
//! Probes and load balancers poll `/readyz` without credentials; they get `ready` or
//! `not_ready` and nothing more. Each store's state and error (which can carry host names,
//! ports and driver text) go only to operators: a token with `ops = true`, or any caller of a
//! sidecar without tokens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use polyroute::Router;
use serde_json::json;

use crate::metrics::Metrics;

/// How long one round of pings answers `/readyz`.
pub const READY_CACHE_FOR: Duration = Duration::from_secs(1);
/// How long readiness waits for one store's ping.
pub const READY_PING_TIMEOUT: Duration = Duration::from_secs(2);

/// One store's state at the last check.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreState {
    /// The store's name.
    pub name: String,
    /// How long its ping took, or why it failed.
    pub outcome: Result<Duration, String>,
}

/// The result of one round of pings.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Every store, in the router's order.
    pub stores: Vec<StoreState>,
}

impl Report {
    /// Whether every store answered.
    pub fn ready(&self) -> bool {
        self.stores.iter().all(|s| s.outcome.is_ok())
    }

    /// Each store's state and error, for operators.
    pub fn details(&self) -> serde_json::Map<String, serde_json::Value> {
        self.stores
            .iter()
            .map(|store| {
                let entry = match &store.outcome {
                    Ok(elapsed) => json!({ "up": true, "millis": elapsed.as_secs_f64() * 1000.0 }),
                    Err(error) => json!({ "up": false, "error": error }),
                };
                (store.name.clone(), entry)
            })
            .collect()
    }

    /// The names of the stores that did not answer.
    pub fn down(&self) -> Vec<&str> {
        self.stores
            .iter()
            .filter(|s| s.outcome.is_err())
            .map(|s| s.name.as_str())
            .collect()
    }
}

/// The last report and when it was made; its lock is held by the one round of pings in
/// flight, so concurrent calls wait for that round instead of starting their own.
#[derive(Debug, Default)]
pub struct Readiness {
    last: tokio::sync::Mutex<Option<(Instant, Arc<Report>)>>,
}

impl Readiness {
    /// No report yet.
    pub fn new() -> Self {
        Readiness::default()
    }

    /// The report of a round of pings at most [`READY_CACHE_FOR`] old, running one (and
    /// updating each store's `store_up` gauge) when there is none.
    pub async fn check(&self, router: &Router, metrics: &Metrics) -> Arc<Report> {
        let mut last = self.last.lock().await;
        if let Some((at, report)) = last.as_ref() {
            if at.elapsed() < READY_CACHE_FOR {
                return report.clone();
            }
        }
        let report = Arc::new(ping_all(router).await);
        for store in &report.stores {
            metrics.set_store_up(&store.name, store.outcome.is_ok());
        }
        *last = Some((Instant::now(), report.clone()));
        report
    }
}

async fn ping_all(router: &Router) -> Report {
    let names: Vec<String> = router.stores().map(|s| s.name.to_owned()).collect();
    let pings = names.into_iter().map(|name| async move {
        let started = Instant::now();
        let outcome = match tokio::time::timeout(READY_PING_TIMEOUT, router.ping(&name)).await {
            Ok(Ok(())) => Ok(started.elapsed()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {READY_PING_TIMEOUT:?}")),
        };
        StoreState { name, outcome }
    });
    Report {
        stores: futures_util::future::join_all(pings).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Exporter;

    #[tokio::test]
    async fn one_round_of_pings_answers_for_a_second() {
        let config = polyroute::Config::from_toml_str(
            "[stores.kv]\nkind = \"key_value\"\n[entities.sessions]\nstore = \"kv\"\n",
            ".",
        )
        .unwrap();
        let router = Router::connect(config).await.unwrap();
        let metrics = Metrics::new(Default::default(), 1, Exporter::local());
        let readiness = Readiness::new();
        let (a, b, c) = tokio::join!(
            readiness.check(&router, &metrics),
            readiness.check(&router, &metrics),
            readiness.check(&router, &metrics)
        );
        assert!(
            Arc::ptr_eq(&a, &b) && Arc::ptr_eq(&b, &c),
            "more than one round ran"
        );
        assert!(a.ready());
        assert_eq!(a.stores.len(), 1);
        assert!(a.details()["kv"]["up"].as_bool().unwrap());
        tokio::time::sleep(READY_CACHE_FOR + Duration::from_millis(50)).await;
        let later = readiness.check(&router, &metrics).await;
        assert!(!Arc::ptr_eq(&a, &later), "the report was not renewed");
    }

    #[test]
    fn a_down_store_is_named_with_its_error() {
        let report = Report {
            stores: vec![
                StoreState {
                    name: "db".into(),
                    outcome: Ok(Duration::from_millis(1)),
                },
                StoreState {
                    name: "cache".into(),
                    outcome: Err("connection refused".into()),
                },
            ],
        };
        assert!(!report.ready());
        assert_eq!(report.down(), vec!["cache"]);
        assert_eq!(report.details()["cache"]["error"], "connection refused");
    }
}
