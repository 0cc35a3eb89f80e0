//! `polyroute decide` run as a program: every example's emitted embedded config passes
//! `polyroute check`, spec mistakes exit 2 with all of them listed, and `--validate` prints
//! measured latencies.

// The helpers here fail the test the way `#[test]` functions do: by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn polyroute(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polyroute"))
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn examples() -> Vec<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/workloads");
    let mut found: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    found.sort();
    found
}

#[test]
fn every_example_emits_a_config_that_check_accepts() {
    let examples = examples();
    assert!(examples.len() >= 8, "{examples:?}");
    for spec in examples {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("polyroute.toml");
        let decided = polyroute(&[
            "decide".as_ref(),
            spec.as_os_str(),
            "--emit-config".as_ref(),
            config.as_os_str(),
        ]);
        assert_eq!(
            decided.status.code(),
            Some(0),
            "{}: {}",
            spec.display(),
            text(&decided.stderr)
        );
        let checked = polyroute(&["check".as_ref(), "--config".as_ref(), config.as_os_str()]);
        let stdout = text(&checked.stdout);
        assert_eq!(
            checked.status.code(),
            Some(0),
            "{}:\n{stdout}\n{}\n{}",
            spec.display(),
            text(&checked.stderr),
            std::fs::read_to_string(&config).unwrap()
        );
        assert!(stdout.contains("ok: "), "{stdout}");
    }
}

#[test]
fn every_format_prints() {
    let spec = examples()
        .into_iter()
        .find(|p| p.ends_with("e-commerce.yaml"))
        .unwrap();
    for (format, expected) in [
        ("table", "ENTITY"),
        ("markdown", "# Storage design: shop"),
        ("mermaid", "flowchart LR"),
        ("json", "\"entities\""),
    ] {
        let output = polyroute(&[
            "decide".as_ref(),
            spec.as_os_str(),
            "--format".as_ref(),
            format.as_ref(),
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert!(text(&output.stdout).contains(expected), "{format}");
    }
    let json = polyroute(&[
        "decide".as_ref(),
        spec.as_os_str(),
        "--format=json".as_ref(),
    ]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["entities"][0]["name"], "customers");
}

#[test]
fn spec_mistakes_exit_2_with_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.yaml");
    std::fs::write(
        &spec,
        "name: bad\nentities:\n  - name: orders\n    records: -3\n    record_bytes: 100\n    accesses:\n      - { op: teleport, rate: 5/s }\n      - { op: get, rate: 300/x }\n",
    )
    .unwrap();
    let output = polyroute(&["decide".as_ref(), spec.as_os_str()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("3 problems"), "{stderr}");
    for path in [
        "entities.orders.records",
        "entities.orders.accesses[0].op",
        "entities.orders.accesses[1].rate",
    ] {
        assert!(stderr.contains(path), "{path} missing from:\n{stderr}");
    }
    assert!(output.stdout.is_empty());
    let missing = polyroute(&["decide".as_ref(), dir.path().join("none.yaml").as_os_str()]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn validate_prints_measured_latencies_next_to_each_choice() {
    let spec = examples()
        .into_iter()
        .find(|p| p.ends_with("iot-telemetry.yaml"))
        .unwrap();
    let output = polyroute(&[
        "decide".as_ref(),
        spec.as_os_str(),
        "--validate".as_ref(),
        "--validate-records".as_ref(),
        "500".as_ref(),
    ]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    let table = stdout.split("MEASURED").nth(1).expect("a MEASURED section");
    assert!(
        table.contains("CHOSEN") && table.contains("ALTERNATIVE"),
        "{table}"
    );
    let readings = table
        .lines()
        .find(|line| line.starts_with("readings") && line.contains("append"))
        .unwrap_or_else(|| panic!("{table}"));
    // The chosen kind and its alternative each show "p50 / p99" with a unit.
    assert_eq!(readings.matches(" / ").count(), 2, "{readings}");
    assert!(
        readings.contains("time_series") && readings.contains("wide_column"),
        "{readings}"
    );
}
