//! [`CachePolicy`]: how long an entity's cached reads stay fresh, how much that is spread, how
//! long a stale entry may still be served, and whether absence is cached.

use std::time::Duration;

/// The fresh time of entries when `ttl` is not given.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// The spread of fresh times when `jitter` is not given: ±10%.
pub const DEFAULT_CACHE_JITTER: f64 = 0.1;

/// The largest `jitter`: a fresh time between half and one and a half times `ttl`.
pub const MAX_CACHE_JITTER: f64 = 0.5;

/// How an entity's reads are cached: `cache = { store = "NAME", ttl = "5m", jitter = 0.1,
/// stale = "30s", negative = false }` in its `[entities.NAME]`.
#[derive(Clone, Debug, PartialEq)]
pub struct CachePolicy {
    /// The key-value store holding the cache (never the entity's own store).
    pub store: String,
    /// How long a cached value is fresh.
    pub ttl: Duration,
    /// Each entry's fresh time is `ttl × (1 ± jitter)`, drawn uniformly, so entries cached
    /// together do not all expire together (0 to [`MAX_CACHE_JITTER`]).
    pub jitter: f64,
    /// Stale-while-revalidate: an entry past its fresh time by less than this is still
    /// answered, at once, while one background load refreshes it. Zero: never served stale.
    pub stale: Duration,
    /// How long absence is cached (`None`: never; a read of a missing key always reaches the
    /// system of record).
    pub negative: Option<Duration>,
}

impl CachePolicy {
    /// The defaults on `store`: fresh for [`DEFAULT_CACHE_TTL`] ± [`DEFAULT_CACHE_JITTER`], never
    /// served stale, absence not cached.
    pub fn on(store: impl Into<String>) -> Self {
        CachePolicy {
            store: store.into(),
            ttl: DEFAULT_CACHE_TTL,
            jitter: DEFAULT_CACHE_JITTER,
            stale: Duration::ZERO,
            negative: None,
        }
    }

    /// The fresh time of a new entry holding a value (`present`) or absence, given a uniform
    /// random number `unit` in `[0, 1)`; `None` when absence is not cached.
    pub(crate) fn fresh_for(&self, present: bool, unit: f64) -> Option<Duration> {
        let base = if present { self.ttl } else { self.negative? };
        let jitter = self.jitter.clamp(0.0, MAX_CACHE_JITTER);
        let factor = 1.0 + jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Some(base.mul_f64(factor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_times_spread_within_the_jitter() {
        let mut policy = CachePolicy::on("cache");
        policy.ttl = Duration::from_secs(100);
        policy.jitter = 0.2;
        assert_eq!(policy.fresh_for(true, 0.0), Some(Duration::from_secs(80)));
        assert_eq!(policy.fresh_for(true, 0.5), Some(Duration::from_secs(100)));
        assert_eq!(policy.fresh_for(true, 1.0), Some(Duration::from_secs(120)));
        assert_eq!(policy.fresh_for(false, 0.5), None);
        policy.negative = Some(Duration::from_secs(10));
        assert_eq!(policy.fresh_for(false, 0.5), Some(Duration::from_secs(10)));
    }
}
