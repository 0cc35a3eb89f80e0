//! An append-heavy event stream: page views, clicks and purchases of users with a skewed
//! activity, partitioned by user and clustered by time.

use std::collections::BTreeMap;

use polyroute_adapters::kinds::wide_column::WideRow;
use polyroute_adapters::Value;

use crate::rng::{Rng, Zipf};

const KINDS: [&str; 4] = ["page_view", "click", "add_to_cart", "purchase"];

/// Users for `events` events: one per hundred events, at least ten.
pub fn users(events: u64) -> u64 {
    (events / 100).max(10)
}

/// The user id of user `u`.
pub fn user(u: u64) -> String {
    format!("u{u}")
}

/// The event generator: event `n` happens at `n` milliseconds after the epoch of the stream,
/// so every user's events arrive in time order.
pub struct Events {
    rng: Rng,
    users: Zipf,
    count: u64,
}

impl Events {
    /// A stream over `users` users.
    pub fn new(users: u64) -> Self {
        Events {
            rng: Rng::new(0xE7E7),
            users: Zipf::new(users, 0.8),
            count: users,
        }
    }

    /// Event `n` as a row (call in order).
    pub fn event(&mut self, n: u64) -> WideRow {
        let u = crate::rng::scramble(self.users.sample(&mut self.rng), self.count);
        let kind = KINDS[self.rng.below(4) as usize];
        WideRow {
            partition: vec![Value::Text(user(u))],
            clustering: vec![
                Value::Timestamp(1_767_225_600_000_000_000 + n as i64 * 1_000_000),
                Value::Int(n as i64),
            ],
            cells: BTreeMap::from([
                ("kind".to_owned(), Value::Text(kind.to_owned())),
                (
                    "path".to_owned(),
                    Value::Text(format!("/p/{}", self.rng.below(5_000))),
                ),
                ("ms".to_owned(), Value::Int(self.rng.below(3_000) as i64)),
            ]),
        }
    }

    /// A user to read, skewed like the writes.
    pub fn reader(&mut self) -> String {
        user(crate::rng::scramble(
            self.users.sample(&mut self.rng),
            self.count,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_deterministic_and_ordered() {
        let (mut a, mut b) = (Events::new(10), Events::new(10));
        assert_eq!(a.event(0), b.event(0));
        let later = a.event(1);
        assert!(later.clustering[1] == Value::Int(1));
    }
}
