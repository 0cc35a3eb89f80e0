//! `--validate` on the social-network and IoT examples, scaled far down: every access gets
//! numbers from the chosen kind and, where it can serve it, from the alternative.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use polyroute_decision::replay::{replay, Outcome, ReplayOptions, Role};
use polyroute_decision::{recommend, Spec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_produce_positive_latencies_for_the_choice_and_its_alternative() {
    let options = ReplayOptions {
        max_records: 400,
        min_runs: 5,
        max_runs: 20,
        time_per_access: Duration::from_millis(50),
    };
    for name in ["social-network", "iot-telemetry"] {
        let spec = Spec::from_path(support::root().join(format!("examples/workloads/{name}.yaml")))
            .unwrap();
        let recommendation = recommend(&spec);
        let replays = replay(&spec, &recommendation, &options).await;
        assert_eq!(replays.len(), spec.entities.len());
        let mut alternatives = 0;
        for (entity, declared) in replays.iter().zip(&spec.entities) {
            assert_eq!(entity.accesses.len(), declared.accesses.len());
            for access in &entity.accesses {
                let chosen = &access.measurements[0];
                assert_eq!(chosen.role, Role::Chosen);
                for measurement in &access.measurements {
                    match &measurement.outcome {
                        Outcome::Measured { runs, p50, p99 } => {
                            assert!(*runs > 0);
                            assert!(*p50 > Duration::ZERO && p99 >= p50, "{measurement:?}");
                            if measurement.role == Role::Alternative {
                                alternatives += 1;
                            }
                        }
                        Outcome::NotServed => assert_eq!(
                            measurement.role,
                            Role::Alternative,
                            "{name}.{} {}: the chosen kind must serve it",
                            entity.entity,
                            access.op
                        ),
                        Outcome::Failed { error } => {
                            panic!("{name}.{} {}: {error}", entity.entity, access.op)
                        }
                    }
                }
            }
        }
        assert!(alternatives > 0, "{name}: no alternative measured");
    }
}
