//! Markdown tables of a run, and the generated part of the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::measure::Mode;
use crate::{RunResult, ScenarioResult};

/// A latency in microseconds, in the unit that reads best, with three significant digits
/// below 100 µs so that sub-microsecond medians do not all read "1 µs".
pub fn latency(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{:.2} s", us / 1_000_000.0)
    } else if us >= 1_000.0 {
        format!("{:.2} ms", us / 1_000.0)
    } else if us >= 100.0 {
        format!("{us:.0} µs")
    } else if us >= 10.0 {
        format!("{us:.1} µs")
    } else {
        format!("{us:.2} µs")
    }
}

/// A divisor that is never zero: medians are recorded in microseconds with fractions.
fn nonzero(us: f64) -> f64 {
    us.max(1e-3)
}

/// The median of `side` for `query` at `size`, closed loop.
fn median(scenario: &ScenarioResult, size: u64, query: &str, side: &str) -> Option<f64> {
    let at = scenario.sizes.iter().find(|s| s.size == size)?;
    at.measurements
        .iter()
        .find(|m| m.query == query && m.side == side && m.mode == Mode::Closed)
        .map(|m| m.summary.p50_us)
}

/// One table per scenario: every query, size and side, with the ratio of its median to the
/// routed store's.
pub fn tables(result: &RunResult) -> String {
    let mut out = String::new();
    for scenario in &result.scenarios {
        let _ = writeln!(out, "### {} — {}\n", scenario.name, scenario.title);
        out.push_str(&scenario_table(scenario));
        out.push('\n');
    }
    out
}

fn scenario_table(scenario: &ScenarioResult) -> String {
    let mut out = format!(
        "| query | {} | side | mode | p50 | p99 | p99.9 | ops/s | p50 ÷ {} |\n|---|---:|---|---|---:|---:|---:|---:|---:|\n",
        scenario.unit, scenario.routed
    );
    for size in &scenario.sizes {
        for m in &size.measurements {
            let ratio = median(scenario, size.size, &m.query, &scenario.routed)
                .filter(|_| m.mode == Mode::Closed)
                .map_or("".to_owned(), |routed| {
                    format!("{:.1}×", m.summary.p50_us / nonzero(routed))
                });
            let mode = match m.mode {
                Mode::Closed => "closed".to_owned(),
                Mode::Open { rate } => format!("open {rate:.0}/s"),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {mode} | {} | {} | {} | {:.0} | {ratio} |",
                m.query,
                size.size,
                m.side,
                latency(m.summary.p50_us),
                latency(m.summary.p99_us),
                latency(m.summary.p999_us),
                m.summary.throughput,
            );
        }
    }
    out
}

fn load_table(scenario: &ScenarioResult) -> String {
    let mut out = format!(
        "| {} | side | load time | items/s |\n|---:|---|---:|---:|\n",
        scenario.unit
    );
    for size in &scenario.sizes {
        for load in &size.loads {
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} s | {:.0} |",
                size.size, load.side, load.seconds, load.rate
            );
        }
    }
    out
}

/// How the ratio of each side to the routed store moves from the smallest size to the
/// largest, per query: the sentence the discussion is checked against.
fn trends(scenario: &ScenarioResult) -> String {
    let (Some(first), Some(last)) = (scenario.sizes.first(), scenario.sizes.last()) else {
        return String::new();
    };
    let mut pairs: BTreeMap<(String, String), ()> = BTreeMap::new();
    for m in &last.measurements {
        if m.side != scenario.routed && m.mode == Mode::Closed {
            pairs.insert((m.query.clone(), m.side.clone()), ());
        }
    }
    let mut out = String::new();
    for (query, side) in pairs.keys() {
        let ratio = |size: u64| {
            Some(
                median(scenario, size, query, side)?
                    / nonzero(median(scenario, size, query, &scenario.routed)?),
            )
        };
        if let (Some(a), Some(b)) = (ratio(first.size), ratio(last.size)) {
            let _ = writeln!(
                out,
                "- {query}: {side} takes {a:.1}× the {} median at {} {unit}, {b:.1}× at {} {unit}.",
                scenario.routed,
                first.size,
                last.size,
                unit = scenario.unit
            );
        }
    }
    out
}

/// How each side's median grows per 10× data, per query: the smallest size's median, the
/// largest's, and the factor per decade between them (1.0 is flat, 10.0 is linear).
fn growth(scenario: &ScenarioResult) -> String {
    let (Some(first), Some(last)) = (scenario.sizes.first(), scenario.sizes.last()) else {
        return String::new();
    };
    let decades = (last.size as f64 / first.size.max(1) as f64).log10();
    if decades <= 0.0 {
        return String::new();
    }
    let mut out = format!(
        "\nCost growth (median at {} and at {} {}, and the factor per 10× data):\n\n| query | side | at {} | at {} | per 10× |\n|---|---|---:|---:|---:|\n",
        first.size, last.size, scenario.unit, first.size, last.size
    );
    for m in &last.measurements {
        if m.mode != Mode::Closed {
            continue;
        }
        let Some(small) = median(scenario, first.size, &m.query, &m.side) else {
            continue;
        };
        let factor = (m.summary.p50_us / nonzero(small)).powf(1.0 / decades);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {factor:.1}× |",
            m.query,
            m.side,
            latency(small),
            latency(m.summary.p50_us)
        );
    }
    out
}

/// The generated part of the report: the machine, then per scenario its table, plot, load
/// times, trends and notes.
pub fn section(result: &RunResult, plots: &[(String, String)]) -> String {
    let m = &result.machine;
    let names: Vec<&str> = result.scenarios.iter().map(|s| s.name.as_str()).collect();
    let selection = if names.len() == crate::scenarios::all().len() {
        "all".to_owned()
    } else {
        names.join(" ")
    };
    let mut out = format!(
        "_Generated by `polyroute bench {selection} --scale {}` on {}: {} ({} cores, {} GiB), PostgreSQL {}; up to {} timed requests per query and side (fewer once one has taken {} s) after a warm-up, one client, closed loop unless marked open._\n\n",
        serde_json::to_value(result.scale).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        m.date,
        m.cpu,
        m.cores,
        m.memory_gib,
        m.postgres,
        result.ops,
        result.scale.budget().as_secs()
    );
    for scenario in &result.scenarios {
        let _ = writeln!(out, "### {} — {}\n", scenario.name, scenario.title);
        let sizes: Vec<String> = scenario.sizes.iter().map(|s| s.size.to_string()).collect();
        let checked: u64 = scenario.sizes.iter().map(|s| s.checked).sum();
        let _ = writeln!(
            out,
            "Sizes: {} {}. Answers cross-checked before timing: {checked} queries, all equal.\n",
            sizes.join(", "),
            scenario.unit
        );
        out.push_str(&scenario_table(scenario));
        if let Some((_, path)) = plots.iter().find(|(name, _)| *name == scenario.name) {
            let _ = writeln!(
                out,
                "\n![{} median latency by size]({path})\n",
                scenario.name
            );
        }
        out.push_str(&trends(scenario));
        out.push_str(&growth(scenario));
        out.push_str("\nLoad:\n\n");
        out.push_str(&load_table(scenario));
        for size in &scenario.sizes {
            for note in &size.notes {
                let _ = writeln!(out, "\n- At {} {}: {note}", size.size, scenario.unit);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_read_in_their_unit() {
        assert_eq!(latency(812.4), "812 µs");
        assert_eq!(latency(41.26), "41.3 µs");
        assert_eq!(latency(0.624), "0.62 µs");
        assert_eq!(latency(12_345.0), "12.35 ms");
        assert_eq!(latency(1_520_000.0), "1.52 s");
    }
}
