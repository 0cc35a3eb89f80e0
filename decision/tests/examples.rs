//! The example workloads: each is a valid spec, its report under docs/decisions/ is what the
//! tool generates today, and its emitted configs are what the router's parser accepts.
//!
//! After changing rules or examples, regenerate the reports with
//! `POLYROUTE_BLESS=1 cargo test -p polyroute-decision --test examples`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;

use polyroute::{Config, ProblemKind};
use polyroute_decision::emit::{emit, production_backend, Backends};
use polyroute_decision::render::{render, Format};
use polyroute_decision::{recommend, Spec};

#[test]
fn there_are_at_least_eight_examples() {
    let names: Vec<String> = support::examples().into_iter().map(|(n, _)| n).collect();
    assert!(names.len() >= 8, "{names:?}");
    for expected in [
        "e-commerce",
        "social-network",
        "iot-telemetry",
        "fraud-detection",
        "content-platform",
        "ad-tech",
        "banking-ledger",
        "chat-service",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing");
    }
}

#[test]
fn reports_under_docs_decisions_are_up_to_date() {
    let bless = std::env::var_os("POLYROUTE_BLESS").is_some();
    let folder = support::root().join("docs/decisions");
    let mut stale = Vec::new();
    for (name, path) in support::examples() {
        let spec = Spec::from_path(&path).unwrap();
        let report = render(&spec, &recommend(&spec), Format::Markdown);
        let target = folder.join(format!("{name}.md"));
        if bless {
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(&target, &report).unwrap();
        } else if std::fs::read_to_string(&target).ok().as_deref() != Some(report.as_str()) {
            stale.push(target.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "out of date (regenerate with POLYROUTE_BLESS=1 cargo test -p polyroute-decision --test examples): {stale:?}"
    );
}

#[test]
fn emitted_embedded_configs_round_trip_through_the_router_parser() {
    for (name, path) in support::examples() {
        let spec = Spec::from_path(&path).unwrap();
        let recommendation = recommend(&spec);
        let text = emit(&spec, &recommendation, Backends::Embedded);
        let config = Config::from_toml_str(&text, "/nonexistent")
            .unwrap_or_else(|err| panic!("{name}: {err}\n{text}"));
        for entity in &recommendation.entities {
            let routed = &config.entities()[&entity.name];
            let store = &config.stores()[&routed.store];
            assert_eq!(store.kind(), entity.primary, "{name}.{}", entity.name);
            assert_eq!(store.backend(), "embedded");
            for kind in entity.projections() {
                let projection = config
                    .entities()
                    .iter()
                    .find(|(n, e)| {
                        n.starts_with(&format!("{}_", entity.name))
                            && config.stores()[&e.store].kind() == kind
                    })
                    .unwrap_or_else(|| panic!("{name}: no {kind} projection of {}", entity.name));
                assert_eq!(projection.1.settings.kind(), kind);
            }
        }
    }
}

#[test]
fn emitted_production_configs_name_the_server_backends() {
    for (name, path) in support::examples() {
        let spec = Spec::from_path(&path).unwrap();
        let recommendation = recommend(&spec);
        let text = emit(&spec, &recommendation, Backends::Production);
        let env: BTreeMap<String, String> = [
            ("POSTGRES_URL", "postgres://app@127.0.0.1:5432/app"),
            ("REDIS_URL", "redis://127.0.0.1:6379/0"),
            ("MONGODB_URL", "mongodb://127.0.0.1:27017/app"),
            ("NEO4J_URL", "bolt://127.0.0.1:7687"),
            ("SCYLLA_URL", "127.0.0.1:9042"),
            ("INFLUXDB_URL", "http://127.0.0.1:8086"),
            ("INFLUXDB_ORG", "app"),
            ("INFLUXDB_BUCKET", "app"),
            ("INFLUXDB_TOKEN", "secret"),
            ("ELASTICSEARCH_URL", "http://127.0.0.1:9200"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        // Every problem left is a backend this build does not have.
        match Config::from_toml_str_with_env(&text, "/nonexistent", &env) {
            Ok(config) => {
                for store in config.stores().values() {
                    assert_eq!(store.backend(), production_backend(store.kind()).0);
                }
            }
            Err(err) => {
                for problem in err.problems() {
                    assert_eq!(
                        problem.kind,
                        ProblemKind::NotCompiled,
                        "{name}: {problem}\n{text}"
                    );
                }
            }
        }
        for line in text.lines().filter(|l| l.starts_with("backend = ")) {
            assert!(
                [
                    "postgres",
                    "redis",
                    "mongodb",
                    "neo4j",
                    "scylla",
                    "influxdb",
                    "elasticsearch"
                ]
                .iter()
                .any(|b| line == format!("backend = \"{b}\"")),
                "{line}"
            );
        }
    }
}
