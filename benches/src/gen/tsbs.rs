//! TSBS's DevOps "cpu-only" use case: every host reports ten CPU fields every 10 s, tagged with
//! its hostname, region, datacenter and service. Values are bounded random walks, as TSBS
//! generates them.

use std::collections::BTreeMap;

use polyroute_adapters::kinds::time_series::{FieldValue, Point};

use crate::rng::Rng;

/// The measurement.
pub const MEASUREMENT: &str = "cpu";

/// The ten fields of a `cpu` point.
pub const FIELDS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];

/// Nanoseconds between two readings of a host.
pub const INTERVAL_NS: i64 = 10_000_000_000;

/// The first reading: 2026-01-01T00:00:00Z, in nanoseconds.
pub const START_NS: i64 = 1_767_225_600_000_000_000;

const REGIONS: [&str; 9] = [
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
];

/// The hostname of host `h`.
pub fn hostname(h: u64) -> String {
    format!("host_{h}")
}

/// The tags of host `h`.
pub fn tags(h: u64) -> BTreeMap<String, String> {
    let region = REGIONS[(h % REGIONS.len() as u64) as usize];
    BTreeMap::from([
        ("hostname".to_owned(), hostname(h)),
        ("region".to_owned(), region.to_owned()),
        (
            "datacenter".to_owned(),
            format!("{region}{}", (b'a' + (h / 9 % 3) as u8) as char),
        ),
        ("service".to_owned(), (h % 20).to_string()),
    ])
}

/// Generates the readings of `hosts` hosts for `steps` intervals, time-major (all hosts' first
/// readings, then their second ones), in chunks of about `chunk` points.
pub struct Readings {
    hosts: u64,
    steps: u64,
    step: u64,
    walks: Vec<[f64; 10]>,
    rngs: Vec<Rng>,
    tags: Vec<BTreeMap<String, String>>,
}

impl Readings {
    /// The readings of `hosts` hosts over `steps` intervals.
    pub fn new(hosts: u64, steps: u64) -> Self {
        let mut rngs: Vec<Rng> = (0..hosts).map(|h| Rng::new(0x7E5B ^ h)).collect();
        let walks = rngs
            .iter_mut()
            .map(|rng| std::array::from_fn(|_| rng.unit() * 100.0))
            .collect();
        Readings {
            hosts,
            steps,
            step: 0,
            walks,
            rngs,
            tags: (0..hosts).map(tags).collect(),
        }
    }

    /// Total points.
    pub fn len(&self) -> u64 {
        self.hosts * self.steps
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next `rows` time steps of every host, or `None` when done.
    pub fn next_chunk(&mut self, rows: u64) -> Option<Vec<Point>> {
        if self.step >= self.steps {
            return None;
        }
        let end = (self.step + rows.max(1)).min(self.steps);
        let mut points = Vec::with_capacity(((end - self.step) * self.hosts) as usize);
        for step in self.step..end {
            let timestamp = START_NS + step as i64 * INTERVAL_NS;
            for h in 0..self.hosts as usize {
                let (walk, rng) = (&mut self.walks[h], &mut self.rngs[h]);
                let mut fields = BTreeMap::new();
                for (value, name) in walk.iter_mut().zip(FIELDS) {
                    *value = (*value + (rng.unit() - 0.5) * 10.0).clamp(0.0, 100.0);
                    fields.insert(name.to_owned(), FieldValue::Float(*value));
                }
                points.push(Point {
                    measurement: MEASUREMENT.to_owned(),
                    tags: self.tags[h].clone(),
                    fields,
                    timestamp,
                });
            }
        }
        self.step = end;
        Some(points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_deterministic_bounded_and_complete() {
        let mut a = Readings::new(3, 10);
        let mut b = Readings::new(3, 10);
        assert_eq!(a.len(), 30);
        let (x, y) = (a.next_chunk(4).unwrap(), b.next_chunk(4).unwrap());
        assert_eq!(x, y);
        assert_eq!(x.len(), 12);
        let mut total = x.len();
        while let Some(chunk) = a.next_chunk(4) {
            total += chunk.len();
            for p in &chunk {
                assert!(p
                    .fields
                    .values()
                    .all(|v| matches!(v, FieldValue::Float(f) if (0.0..=100.0).contains(f))));
            }
        }
        assert_eq!(total, 30);
        assert_eq!(tags(10)["datacenter"], "us-west-1b");
    }
}
