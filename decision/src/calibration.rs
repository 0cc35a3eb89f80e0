//! Latency curves measured by this project's own benchmarks, fitted so that a decision can
//! predict how the relational system of record would answer an access at the declared size.
//!
//! The data are the reports `polyroute bench` writes (`docs/benchmarks.json`, small scale, and
//! `docs/benchmarks-headline.json`, the large graph scale), compiled in: a decision made from a
//! given build always reads the same evidence, and regenerating the reports re-calibrates it.
//! Each (scenario, query, side) becomes a [`Curve`] of its closed-loop medians and p99s by size;
//! [`Curve::fit`] fits `latency = a · size^b` to them by least squares on logarithms, the form
//! index lookups (b ≈ 0), scans (b ≈ 1) and joins that fan out (b > 1) all take. A prediction
//! outside the measured sizes extrapolates that trend, and says so ([`Prediction::measured_up_to`]).
//!
//! [`Pattern`] names the access patterns the benchmarks measure, each with the curve of its tuned
//! PostgreSQL baseline and the curve of the store kind built for it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::spec::{format_latency, Access, Op};

/// The small-scale report: every scenario at three sizes.
const SMALL_REPORT: &str = include_str!("../../docs/benchmarks.json");

/// The large-scale report of the graph headline (up to one million people).
const HEADLINE_REPORT: &str = include_str!("../../docs/benchmarks-headline.json");

/// A report as the benchmark runner writes it (only what calibration reads).
#[derive(Deserialize)]
struct Report {
    scenarios: Vec<ScenarioData>,
}

#[derive(Deserialize)]
struct ScenarioData {
    name: String,
    sizes: Vec<SizeData>,
}

#[derive(Deserialize)]
struct SizeData {
    size: u64,
    measurements: Vec<Measured>,
}

#[derive(Deserialize)]
struct Measured {
    query: String,
    side: String,
    mode: serde_json::Value,
    p50_us: f64,
    p99_us: f64,
}

/// A report that cannot be read: the build's benchmark data are damaged.
#[derive(Debug, thiserror::Error)]
#[error("benchmark report {report} cannot be read for calibration: {source}")]
pub struct CalibrationError {
    report: &'static str,
    #[source]
    source: serde_json::Error,
}

/// One measured point: a size and the median and p99 latency there, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Point {
    /// The data size (the scenario's unit: people, records, hosts, …).
    pub size: u64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th-percentile latency, µs.
    pub p99_us: f64,
}

/// Which latency a fit or prediction is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantile {
    /// The median.
    P50,
    /// The 99th percentile.
    P99,
}

impl Point {
    fn latency(&self, quantile: Quantile) -> f64 {
        match quantile {
            Quantile::P50 => self.p50_us,
            Quantile::P99 => self.p99_us,
        }
    }
}

/// `latency = coefficient · size^exponent`, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PowerLaw {
    /// The latency at size 1, µs.
    pub coefficient: f64,
    /// How latency grows with size: 0 flat, 1 linear.
    pub exponent: f64,
}

impl PowerLaw {
    /// The latency at `size`, µs.
    pub fn at(&self, size: f64) -> f64 {
        self.coefficient * size.max(1.0).powf(self.exponent)
    }

    /// The factor latency grows by per 10× data.
    pub fn per_decade(&self) -> f64 {
        10f64.powf(self.exponent)
    }
}

/// The measured points of one query on one side of one scenario, by size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Curve {
    /// The scenario (`friends-within-depth`, `catalog-search`, …).
    pub scenario: String,
    /// The query within it.
    pub query: String,
    /// The side that answered (`postgres-cte`, `embedded`, …).
    pub side: String,
    /// Every closed-loop measurement, by size (a size measured in both reports appears twice).
    pub points: Vec<Point>,
}

impl Curve {
    /// The power law through the points, by least squares on logarithms; `None` with fewer than
    /// two distinct sizes.
    pub fn fit(&self, quantile: Quantile) -> Option<PowerLaw> {
        let logs: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter(|p| p.size > 0 && p.latency(quantile) > 0.0)
            .map(|p| ((p.size as f64).ln(), p.latency(quantile).ln()))
            .collect();
        let n = logs.len() as f64;
        let mean_x = logs.iter().map(|p| p.0).sum::<f64>() / n;
        let mean_y = logs.iter().map(|p| p.1).sum::<f64>() / n;
        let spread: f64 = logs.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
        if logs.len() < 2 || spread <= f64::EPSILON {
            return None;
        }
        let exponent = logs
            .iter()
            .map(|p| (p.0 - mean_x) * (p.1 - mean_y))
            .sum::<f64>()
            / spread;
        Some(PowerLaw {
            coefficient: (mean_y - exponent * mean_x).exp(),
            exponent,
        })
    }

    /// The largest size measured.
    pub fn largest(&self) -> u64 {
        self.points.iter().map(|p| p.size).max().unwrap_or(0)
    }
}

/// Every curve of the compiled-in reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Calibration {
    curves: BTreeMap<(String, String, String), Curve>,
}

impl Calibration {
    /// The curves of this build's benchmark reports. A scenario the headline report holds is
    /// taken from it alone: its sizes are generated alike (the small scale gives its largest
    /// graph fewer links per person to stay quick), so its points lie on one curve.
    pub fn measured() -> Result<Calibration, CalibrationError> {
        let read = |report: &'static str, text: &str| {
            serde_json::from_str::<Report>(text)
                .map_err(|source| CalibrationError { report, source })
        };
        let headline = read("docs/benchmarks-headline.json", HEADLINE_REPORT)?;
        let mut small = read("docs/benchmarks.json", SMALL_REPORT)?;
        small
            .scenarios
            .retain(|s| !headline.scenarios.iter().any(|h| h.name == s.name));
        let mut calibration = Calibration::default();
        calibration.add(small);
        calibration.add(headline);
        Ok(calibration)
    }

    fn add(&mut self, report: Report) {
        for scenario in report.scenarios {
            for size in scenario.sizes {
                for m in size.measurements {
                    if m.mode != "closed" {
                        continue;
                    }
                    let key = (scenario.name.clone(), m.query.clone(), m.side.clone());
                    let curve = self.curves.entry(key).or_insert_with(|| Curve {
                        scenario: scenario.name.clone(),
                        query: m.query.clone(),
                        side: m.side.clone(),
                        points: Vec::new(),
                    });
                    curve.points.push(Point {
                        size: size.size,
                        p50_us: m.p50_us,
                        p99_us: m.p99_us,
                    });
                }
            }
        }
        for curve in self.curves.values_mut() {
            curve.points.sort_by_key(|p| p.size);
        }
    }

    /// The curve of `query` answered by `side` in `scenario`, if measured.
    pub fn curve(&self, scenario: &str, query: &str, side: &str) -> Option<&Curve> {
        self.curves
            .get(&(scenario.to_owned(), query.to_owned(), side.to_owned()))
    }

    /// Every curve, by (scenario, query, side).
    pub fn curves(&self) -> impl Iterator<Item = &Curve> {
        self.curves.values()
    }

    /// What `pattern` is predicted to cost at `size` on the relational baseline and on the
    /// specialised store, from their fitted curves; `None` when either was not measured.
    pub fn predict(&self, pattern: Pattern, size: u64) -> Option<Prediction> {
        let measure = pattern.measure();
        let estimate = |side: &str| -> Option<Estimate> {
            let curve = self.curve(measure.scenario, &measure.query, side)?;
            let median = curve.fit(Quantile::P50)?;
            let p50_us = median.at(size as f64);
            Some(Estimate {
                p50_us,
                // Fitted apart, the two trends can cross when extrapolated far enough.
                p99_us: curve.fit(Quantile::P99)?.at(size as f64).max(p50_us),
                per_decade: median.per_decade(),
            })
        };
        let baseline = self.curve(measure.scenario, &measure.query, measure.baseline)?;
        Some(Prediction {
            pattern,
            size,
            relational: estimate(measure.baseline)?,
            specialised: estimate(measure.specialised)?,
            measured_up_to: baseline.largest(),
            basis: format!(
                "{} `{}`: {} against {}, fitted to {} measured sizes up to {}",
                measure.scenario,
                measure.query,
                measure.baseline,
                measure.specialised,
                baseline.points.len(),
                baseline.largest()
            ),
        })
    }
}

/// An access pattern the benchmarks measure on both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// A point read by key (YCSB C), sized in records.
    Lookup,
    /// People reachable within `depth` hops (2 to 4), sized in people of ~50 links each.
    Traversal {
        /// Hops.
        depth: u32,
    },
    /// Relevance-ranked text search with a filter, sized in documents.
    FullText,
    /// Window aggregates grouped by a tag over every series (TSBS double-groupby-1), sized in
    /// series.
    WindowAggregate,
    /// The newest point of every series (TSBS lastpoint), sized in series.
    Latest,
    /// The newest items of one partition (the newest 100 events of a user), sized in items.
    PartitionScan,
    /// A filter on a nested document path with a top-k sort, sized in documents.
    NestedFilter,
}

/// Where a [`Pattern`] was measured.
struct Measure {
    scenario: &'static str,
    query: String,
    baseline: &'static str,
    specialised: &'static str,
}

impl Pattern {
    /// The measured pattern `access` is an instance of, if the benchmarks measure one: point
    /// reads, traversals, full-text search, window aggregates, latest points, partition scans
    /// and filters on a nested field (a dotted path). Other accesses have no measured curve.
    pub fn of(access: &Access) -> Option<Pattern> {
        Some(match access.op {
            Op::Get | Op::BatchGet => Pattern::Lookup,
            Op::Traverse => Pattern::Traversal {
                depth: access.depth.unwrap_or(2),
            },
            Op::FullText => Pattern::FullText,
            Op::WindowAggregate => Pattern::WindowAggregate,
            Op::Latest => Pattern::Latest,
            Op::PartitionScan => Pattern::PartitionScan,
            Op::Filter if access.fields.iter().any(|f| f.contains('.')) => Pattern::NestedFilter,
            _ => return None,
        })
    }

    fn measure(self) -> Measure {
        let (scenario, query, baseline, specialised) = match self {
            Pattern::Lookup => ("hot-keys", "read (YCSB C)".to_owned(), "postgres", "redis"),
            Pattern::Traversal { depth } => (
                "friends-within-depth",
                format!("reachable within depth {}", depth.clamp(2, 4)),
                "postgres-cte",
                "embedded",
            ),
            Pattern::FullText => (
                "catalog-search",
                "top-10 in a category".to_owned(),
                "postgres-tsvector",
                "embedded",
            ),
            Pattern::WindowAggregate => (
                "tsbs-devops",
                "double-groupby-1".to_owned(),
                "postgres",
                "embedded",
            ),
            Pattern::Latest => (
                "tsbs-devops",
                "lastpoint".to_owned(),
                "postgres",
                "embedded",
            ),
            Pattern::PartitionScan => (
                "event-stream",
                "newest 100 events of a user".to_owned(),
                "postgres",
                "embedded",
            ),
            Pattern::NestedFilter => (
                "nested-filter",
                "20 largest shipped in a city".to_owned(),
                "postgres",
                "embedded",
            ),
        };
        Measure {
            scenario,
            query,
            baseline,
            specialised,
        }
    }
}

/// A predicted latency at one size.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    /// Median, µs.
    pub p50_us: f64,
    /// 99th percentile, µs (never below the median).
    pub p99_us: f64,
    /// How the median grows per 10× data.
    pub per_decade: f64,
}

/// What one pattern is predicted to cost at one size on each side.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// The pattern.
    pub pattern: Pattern,
    /// The size predicted at.
    pub size: u64,
    /// The tuned relational baseline.
    pub relational: Estimate,
    /// The store kind built for the pattern.
    pub specialised: Estimate,
    /// The largest size the baseline was measured at: beyond it the prediction extrapolates.
    pub measured_up_to: u64,
    /// Which benchmark curves the prediction comes from, for the WHY line.
    pub basis: String,
}

impl fmt::Display for Prediction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at {} predicted p99 {} on the relational store against {} ({})",
            self.size,
            latency(self.relational.p99_us),
            latency(self.specialised.p99_us),
            self.basis
        )
    }
}

/// A latency given in µs, as the other outputs print latencies.
fn latency(us: f64) -> String {
    format_latency(Duration::from_secs_f64(us.max(0.0) / 1e6))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(points: &[(u64, f64)]) -> Curve {
        Curve {
            scenario: "s".into(),
            query: "q".into(),
            side: "postgres".into(),
            points: points
                .iter()
                .map(|&(size, us)| Point {
                    size,
                    p50_us: us,
                    p99_us: us * 2.0,
                })
                .collect(),
        }
    }

    #[test]
    fn a_power_law_is_fitted_back_exactly() {
        let law = curve(&[(1_000, 30.0), (10_000, 300.0), (100_000, 3_000.0)])
            .fit(Quantile::P50)
            .unwrap();
        assert!((law.exponent - 1.0).abs() < 1e-9, "{law:?}");
        assert!((law.at(1_000_000.0) - 30_000.0).abs() < 1e-6);
        assert!((law.per_decade() - 10.0).abs() < 1e-9);
        let flat = curve(&[(1_000, 100.0), (100_000, 100.0)])
            .fit(Quantile::P99)
            .unwrap();
        assert!(flat.exponent.abs() < 1e-9 && (flat.at(1e9) - 200.0).abs() < 1e-6);
    }

    #[test]
    fn accesses_map_to_the_patterns_measured() {
        use crate::spec::Rate;
        let access = |op: Op| Access::new(op, Rate::per_second(10.0));
        let mut deep = access(Op::Traverse);
        deep.depth = Some(3);
        assert_eq!(Pattern::of(&deep), Some(Pattern::Traversal { depth: 3 }));
        assert_eq!(Pattern::of(&access(Op::Get)), Some(Pattern::Lookup));
        assert_eq!(Pattern::of(&access(Op::FullText)), Some(Pattern::FullText));
        let mut nested = access(Op::Filter);
        nested.fields = vec!["customer.address.city".into()];
        assert_eq!(Pattern::of(&nested), Some(Pattern::NestedFilter));
        let mut flat = access(Op::Filter);
        flat.fields = vec!["status".into()];
        assert_eq!(Pattern::of(&flat), None);
        assert_eq!(Pattern::of(&access(Op::Transaction)), None);
    }

    #[test]
    fn one_size_fits_nothing() {
        assert_eq!(
            curve(&[(1_000, 30.0), (1_000, 40.0)]).fit(Quantile::P50),
            None
        );
        assert_eq!(curve(&[]).fit(Quantile::P50), None);
    }

    #[test]
    fn the_shipped_reports_calibrate_every_pattern() {
        let calibration = Calibration::measured().unwrap();
        let patterns = [
            Pattern::Lookup,
            Pattern::Traversal { depth: 2 },
            Pattern::Traversal { depth: 3 },
            Pattern::Traversal { depth: 4 },
            Pattern::FullText,
            Pattern::WindowAggregate,
            Pattern::Latest,
            Pattern::PartitionScan,
            Pattern::NestedFilter,
        ];
        for pattern in patterns {
            let largest = calibration.predict(pattern, 1).unwrap().measured_up_to;
            let prediction = calibration.predict(pattern, largest).unwrap();
            assert!(
                prediction.relational.p50_us > 0.0 && prediction.specialised.p50_us > 0.0,
                "{prediction}"
            );
            assert!(prediction.basis.contains("fitted to"), "{prediction}");
        }
        // The headline's deep traversal grows with the graph on the relational side: the
        // evidence a restraint rule reads.
        let deep = calibration
            .predict(Pattern::Traversal { depth: 3 }, 1_000_000)
            .unwrap();
        assert_eq!(deep.measured_up_to, 1_000_000);
        assert!(deep.relational.per_decade > 2.0, "{deep:?}");
        assert!(
            deep.relational.p50_us > 10.0 * deep.specialised.p50_us,
            "{deep:?}"
        );
    }

    #[test]
    fn every_curve_passes_near_its_points() {
        // A fit that strays far from what was measured would predict nonsense: each measured
        // median is within 4× of its curve (the runs are noisy, the trend is not).
        let calibration = Calibration::measured().unwrap();
        for curve in calibration.curves() {
            let Some(law) = curve.fit(Quantile::P50) else {
                continue;
            };
            for point in &curve.points {
                let ratio = law.at(point.size as f64) / point.p50_us;
                assert!(
                    (0.25..=4.0).contains(&ratio),
                    "{} / {} / {} at {}: fit {ratio:.2}× the measured median",
                    curve.scenario,
                    curve.query,
                    curve.side,
                    point.size
                );
            }
        }
    }
}
