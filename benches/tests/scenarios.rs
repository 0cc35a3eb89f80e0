//! Every scenario at the tiny scale, against the live servers: data loaded into every side,
//! answers cross-checked (a mismatch fails the run), every query timed on every side, and a
//! report written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use polyroute_benches::env::Servers;
use polyroute_benches::scenarios::Scenario;
use polyroute_benches::{report, run, RunOptions, Scale};

fn servers() -> Servers {
    let mut servers = Servers::from_env();
    if let Some(url) = std::env::var("POLYROUTE_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        servers.postgres = url;
    }
    if let Some(url) = std::env::var("POLYROUTE_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        servers.redis = url;
    }
    servers
}

async fn tiny(scenario: &dyn Scenario) {
    let options = RunOptions {
        scenarios: vec![scenario.name().to_owned()],
        scale: Scale::Tiny,
        open_rate: Some(2_000.0),
        ops: Some(10),
        servers: servers(),
    };
    let result = run(&options).await.unwrap();
    let [ran] = result.scenarios.as_slice() else {
        panic!("one scenario asked, {} ran", result.scenarios.len());
    };
    assert_eq!(ran.sizes.len(), 3);
    for size in &ran.sizes {
        assert!(
            size.checked > 0,
            "{} at {}: nothing cross-checked",
            ran.name,
            size.size
        );
        assert!(!size.loads.is_empty());
        let routed = size
            .measurements
            .iter()
            .filter(|m| m.side == ran.routed)
            .count();
        assert!(routed > 0, "{}: the routed side was not timed", ran.name);
        let sides: std::collections::BTreeSet<&str> =
            size.measurements.iter().map(|m| m.side.as_str()).collect();
        assert!(sides.len() >= 2, "{}: only {sides:?} timed", ran.name);
        for m in &size.measurements {
            assert!(m.summary.ops >= 5, "{m:?}");
            assert!(
                m.summary.p50_us > 0.0 && m.summary.p50_us <= m.summary.max_us,
                "{m:?}"
            );
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let markdown = dir.path().join("benchmarks.md");
    std::fs::write(
        &markdown,
        "# Kept\n\n<!-- results:begin -->\nold\n<!-- results:end -->\n\nKept too.\n",
    )
    .unwrap();
    report::write(&result, &markdown, &dir.path().join("benchmarks.json")).unwrap();
    let text = std::fs::read_to_string(&markdown).unwrap();
    assert!(
        text.starts_with("# Kept") && text.ends_with("Kept too.\n"),
        "{text}"
    );
    assert!(!text.contains("\nold\n"));
    assert!(text.contains(&format!("### {}", ran.name)));
    let plot = dir
        .path()
        .join("benchmarks")
        .join(format!("{}.svg", ran.name));
    assert!(std::fs::read_to_string(plot).unwrap().contains("<svg"));
}

macro_rules! scenarios {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(all(polyroute_postgres_tests, polyroute_redis_tests)),
                ignore = "set POLYROUTE_TEST_POSTGRES_URL and POLYROUTE_TEST_REDIS_URL"
            )]
            async fn $test() {
                let all = polyroute_benches::scenarios::all();
                let scenario = all.iter().find(|s| s.name() == $name).expect($name);
                tiny(&**scenario).await;
            }
        )*
    };
}

scenarios! {
    hot_keys => "hot-keys",
    tsbs_devops => "tsbs-devops",
    catalog_search => "catalog-search",
    event_stream => "event-stream",
    nested_filter => "nested-filter",
}

#[test]
fn every_scenario_is_tested_and_scales_grow_tenfold() {
    let tested = [
        "hot-keys",
        "tsbs-devops",
        "catalog-search",
        "event-stream",
        "nested-filter",
    ];
    for scenario in polyroute_benches::scenarios::all() {
        assert!(
            tested.contains(&scenario.name()) || scenario.name().starts_with("friends-"),
            "{} has no tiny-scale test",
            scenario.name()
        );
        for scale in [Scale::Tiny, Scale::Small, Scale::Medium, Scale::Large] {
            let sizes = scenario.sizes(scale);
            assert!(sizes.len() >= 3, "{}", scenario.name());
            assert!(
                sizes.windows(2).all(|w| w[1] == w[0] * 10),
                "{}: {sizes:?}",
                scenario.name()
            );
        }
    }
}

#[test]
fn unknown_scenarios_are_refused_by_name() {
    let err = polyroute_benches::select(&["hot-key".to_owned()])
        .err()
        .unwrap();
    assert!(err.to_string().contains("hot-keys"), "{err}");
}
