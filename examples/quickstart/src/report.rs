//! Times each access and prints what went where.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context;
use polyroute::Router;

/// One access as it is printed.
pub struct Access {
    pub entity: &'static str,
    pub access: &'static str,
    pub result: String,
    pub took: Duration,
}

/// Collects accesses and times each one.
pub struct Report {
    pub router: Router,
    pub accesses: Vec<Access>,
}

impl Report {
    pub async fn time<T, R: Display>(
        &mut self,
        entity: &'static str,
        access: &'static str,
        call: impl Future<Output = polyroute::Result<T>>,
        describe: impl FnOnce(&T) -> R,
    ) -> anyhow::Result<T> {
        let started = Instant::now();
        let value = call.await.with_context(|| format!("{entity}: {access}"))?;
        let took = started.elapsed();
        self.accesses.push(Access {
            entity,
            access,
            result: describe(&value).to_string(),
            took,
        });
        Ok(value)
    }

    pub fn print(&self) {
        let route = |entity: &str| {
            self.router
                .entities()
                .find(|e| e.name == entity)
                .and_then(|e| {
                    self.router.stores().find(|s| s.name == e.store).map(|s| {
                        (
                            e.kind.to_string(),
                            format!("{} ({})", s.name, s.info.backend),
                        )
                    })
                })
                .unwrap_or_default()
        };
        println!(
            "{:<15} {:<11} {:<20} {:<34} {:<42} {:>9}",
            "ENTITY", "KIND", "STORE", "ACCESS", "RESULT", "TOOK"
        );
        for a in &self.accesses {
            let (kind, store) = route(a.entity);
            println!(
                "{:<15} {:<11} {:<20} {:<34} {:<42} {:>9}",
                a.entity,
                kind,
                store,
                a.access,
                a.result,
                format!("{:.1?}", a.took)
            );
        }
    }
}
