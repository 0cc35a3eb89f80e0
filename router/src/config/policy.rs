//! `[policy]`: defaults that apply to every call.

use std::time::Duration;

use toml::Value;

use super::walk::{join, Walker};
use super::Policy;

const POLICY_KEYS: &[&str] = &["timeout"];

/// Reads the `[policy]` table (absent: the defaults).
pub(crate) fn parse_policy(walker: &mut Walker<'_>, value: Option<&Value>) -> Policy {
    let mut policy = Policy::default();
    let Some(table) = value.and_then(|value| walker.table("policy", value)) else {
        return policy;
    };
    for (key, value) in table {
        match key.as_str() {
            "timeout" => {
                if let Some(timeout) = walker.duration(&join("policy", key), value) {
                    policy.timeout = timeout;
                }
            }
            _ => walker.unknown_key("policy", key, POLICY_KEYS, "in `[policy]`"),
        }
    }
    policy
}

/// The call timeout when `[policy]` sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
