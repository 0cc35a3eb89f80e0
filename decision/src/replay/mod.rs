//! `--validate`: a synthetic workload derived from the spec, replayed against the embedded
//! backends of the kind chosen for each access and of its alternative, with the measured p50
//! and p99 of each.
//!
//! Scaled down to fit a laptop: each entity gets at most [`ReplayOptions::max_records`]
//! records (payloads capped at [`MAX_PAYLOAD`] bytes), every access runs a number of times
//! proportional to its declared rate (between [`ReplayOptions::min_runs`] and
//! [`ReplayOptions::max_runs`], and stopped after [`ReplayOptions::time_per_access`] once it
//! has [`MIN_SAMPLES`]), one after another
//! from one client. The alternative of an access served by the system of record is the
//! runner-up kind; of an access served by a projection, the system of record itself. The
//! stores run in memory or without fsync, so the numbers compare data structures and access
//! paths, not disks — and embedded engines, not the production servers.

use std::time::{Duration, Instant};

use polyroute_adapters::StoreKind;
use serde::Serialize;

use crate::recommend::{EntityRecommendation, Recommendation};
use crate::spec::{format_latency, Entity, Op, Spec};

mod data;
mod driver;

pub use driver::MAX_REPLAY_DEPTH;

use data::{Data, Picker};
use driver::{Driver, Step};

/// Largest payload a replayed record carries, in bytes.
pub const MAX_PAYLOAD: usize = 1024;

/// Fewest runs of an access before its time is up, however slow it is.
pub const MIN_SAMPLES: usize = 3;

/// How far a replay scales the spec down.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayOptions {
    /// Most records loaded per entity and kind.
    pub max_records: usize,
    /// Fewest runs of each access, unless it is still running at `time_per_access`.
    pub min_runs: usize,
    /// Most runs of each access.
    pub max_runs: usize,
    /// Time after which an access stops (once it has run [`MIN_SAMPLES`] times).
    pub time_per_access: Duration,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            max_records: 20_000,
            min_runs: 30,
            max_runs: 400,
            time_per_access: Duration::from_millis(500),
        }
    }
}

/// Whether a measured kind is the one chosen or its alternative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The kind that serves the access in the recommendation.
    Chosen,
    /// The runner-up (or, for an access a projection serves, the system of record).
    Alternative,
}

/// What one kind did with one access.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// It ran `runs` times.
    Measured {
        /// Runs timed.
        runs: usize,
        /// Median latency.
        p50: Duration,
        /// 99th-percentile latency.
        p99: Duration,
    },
    /// The kind has no way to serve the op here.
    NotServed,
    /// The store failed.
    Failed {
        /// Why.
        error: String,
    },
}

/// One kind's measurement of one access.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measurement {
    /// The kind.
    pub kind: StoreKind,
    /// Chosen or alternative.
    pub role: Role,
    /// What happened.
    pub outcome: Outcome,
}

/// The measurements of one access.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccessReplay {
    /// Its position in the entity's accesses.
    pub index: usize,
    /// Its op.
    pub op: Op,
    /// The chosen kind's, then the alternative's.
    pub measurements: Vec<Measurement>,
}

/// The replay of one entity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntityReplay {
    /// The entity.
    pub entity: String,
    /// Records loaded into each kind.
    pub records: usize,
    /// One per access.
    pub accesses: Vec<AccessReplay>,
}

/// Replays `spec`'s workload against the kinds `recommendation` chose and their alternatives.
pub async fn replay(
    spec: &Spec,
    recommendation: &Recommendation,
    options: &ReplayOptions,
) -> Vec<EntityReplay> {
    let mut out = Vec::new();
    for (entity, placed) in spec.entities.iter().zip(&recommendation.entities) {
        out.push(replay_entity(entity, placed, options).await);
    }
    out
}

/// The kinds measured for access `index`: (kind, role).
fn roles(placed: &EntityRecommendation, index: usize) -> Vec<(StoreKind, Role)> {
    let Some(route) = placed.routes.get(index) else {
        return Vec::new();
    };
    let mut kinds = vec![(route.served_by, Role::Chosen)];
    let alternative = if route.served_by == placed.primary {
        placed.runner_up.as_ref().map(|r| r.kind)
    } else {
        Some(placed.primary)
    };
    if let Some(kind) = alternative.filter(|kind| *kind != route.served_by) {
        kinds.push((kind, Role::Alternative));
    }
    kinds
}

async fn replay_entity(
    entity: &Entity,
    placed: &EntityRecommendation,
    options: &ReplayOptions,
) -> EntityReplay {
    let records = usize::try_from(entity.records)
        .unwrap_or(usize::MAX)
        .min(options.max_records);
    let payload = usize::try_from(entity.record_bytes)
        .unwrap_or(MAX_PAYLOAD)
        .min(MAX_PAYLOAD);
    let data = Data::new(records, payload);
    let total_rate: f64 = entity.accesses.iter().map(|a| a.rate.per_second).sum();

    let mut accesses: Vec<AccessReplay> = entity
        .accesses
        .iter()
        .enumerate()
        .map(|(index, access)| AccessReplay {
            index,
            op: access.op,
            measurements: Vec::new(),
        })
        .collect();
    let mut kinds: Vec<StoreKind> = Vec::new();
    for index in 0..entity.accesses.len() {
        for (kind, _) in roles(placed, index) {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }

    for kind in kinds {
        let driver = Driver::open(kind, data.clone()).await;
        for (index, access) in entity.accesses.iter().enumerate() {
            let Some(role) = roles(placed, index)
                .into_iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, role)| role)
            else {
                continue;
            };
            let outcome = match &driver {
                Err(err) => Outcome::Failed {
                    error: format!("cannot open the embedded {kind} store: {err}"),
                },
                Ok(driver) => {
                    let share = access.rate.per_second / total_rate.max(f64::MIN_POSITIVE);
                    let runs = ((share * options.max_runs as f64 * 2.0).round() as usize)
                        .clamp(options.min_runs, options.max_runs);
                    measure(driver, access, runs, options).await
                }
            };
            if let Some(slot) = accesses.get_mut(index) {
                slot.measurements.push(Measurement {
                    kind,
                    role,
                    outcome,
                });
                slot.measurements
                    .sort_by_key(|m| m.role == Role::Alternative);
            }
        }
    }
    EntityReplay {
        entity: entity.name.clone(),
        records: data.records,
        accesses,
    }
}

async fn measure(
    driver: &Driver,
    access: &crate::spec::Access,
    runs: usize,
    options: &ReplayOptions,
) -> Outcome {
    let mut pick = Picker::new(0x5EED ^ access.op as u64);
    let mut samples = Vec::with_capacity(runs);
    let started = Instant::now();
    for step in 0..runs {
        match driver.run(access, &mut pick, step).await {
            Ok(Step::Timed(took)) => samples.push(took),
            Ok(Step::NotServed) => return Outcome::NotServed,
            Err(err) => {
                return Outcome::Failed {
                    error: err.to_string(),
                }
            }
        }
        if samples.len() >= MIN_SAMPLES && started.elapsed() > options.time_per_access {
            break;
        }
    }
    samples.sort();
    let at = |quantile: f64| {
        let rank = ((quantile * samples.len() as f64).ceil() as usize).max(1);
        samples
            .get(rank.min(samples.len()) - 1)
            .copied()
            .unwrap_or_default()
    };
    Outcome::Measured {
        runs: samples.len(),
        p50: at(0.5),
        p99: at(0.99),
    }
}

/// The replay as a plain-text table: per access, the chosen kind's p50/p99 next to the
/// alternative's.
pub fn render(replays: &[EntityReplay], options: &ReplayOptions) -> String {
    let mut out = format!(
        "MEASURED on embedded stores (at most {} records per entity, one client, closed loop; compare kinds, not servers)\n",
        options.max_records
    );
    let mut rows = Vec::new();
    for entity in replays {
        for access in &entity.accesses {
            let cell = |role: Role| {
                access
                    .measurements
                    .iter()
                    .find(|m| m.role == role)
                    .map_or(("-".to_owned(), "-".to_owned()), |m| {
                        (m.kind.as_str().to_owned(), outcome_text(&m.outcome))
                    })
            };
            let (chosen, chosen_time) = cell(Role::Chosen);
            let (alternative, alternative_time) = cell(Role::Alternative);
            rows.push(vec![
                entity.entity.clone(),
                access.op.name().to_owned(),
                chosen,
                chosen_time,
                alternative,
                alternative_time,
            ]);
        }
    }
    out.push_str(&crate::render::columns(
        &[
            "ENTITY",
            "OP",
            "CHOSEN",
            "P50 / P99",
            "ALTERNATIVE",
            "P50 / P99",
        ],
        &rows,
    ));
    out
}

fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Measured { p50, p99, .. } => {
            format!("{} / {}", format_latency(*p50), format_latency(*p99))
        }
        Outcome::NotServed => "not served".to_owned(),
        Outcome::Failed { error } => format!("failed: {error}"),
    }
}
