//! A recorder of the `metrics` counters the router emits, for the cache and hedge tests.

use std::collections::BTreeMap;
use std::sync::Mutex;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// The counters recorded on this thread while it lives (tests run on one thread).
pub struct Counters {
    snapshotter: Snapshotter,
    totals: Mutex<BTreeMap<String, u64>>,
    _recorder: &'static DebuggingRecorder,
    _guard: metrics::LocalRecorderGuard<'static>,
}

impl Counters {
    pub fn install() -> Counters {
        let recorder: &'static DebuggingRecorder = Box::leak(Box::new(DebuggingRecorder::new()));
        let snapshotter = recorder.snapshotter();
        let guard = metrics::set_default_local_recorder(recorder);
        Counters {
            snapshotter,
            totals: Mutex::new(BTreeMap::new()),
            _recorder: recorder,
            _guard: guard,
        }
    }

    /// The total of counter `name` with exactly `labels` (as `key=value`, in any order).
    pub fn get(&self, name: &str, labels: &[&str]) -> u64 {
        let mut totals = self.totals.lock().unwrap();
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            if let DebugValue::Counter(n) = value {
                let key = key.key();
                let mut parts: Vec<String> = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                parts.sort();
                *totals
                    .entry(format!("{}{{{}}}", key.name(), parts.join(",")))
                    .or_default() += n;
            }
        }
        let mut wanted: Vec<&str> = labels.to_vec();
        wanted.sort_unstable();
        totals
            .get(&format!("{name}{{{}}}", wanted.join(",")))
            .copied()
            .unwrap_or(0)
    }
}
