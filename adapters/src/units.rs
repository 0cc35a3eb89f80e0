//! Human-friendly units in config: durations (`250ms`, `30m`, `1h 30m`) and byte sizes
//! (`64MiB`, `1GB`, or a plain number of bytes).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Parses a duration such as `250ms`, `30s`, `5m`, `1h 30m` or `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|err| {
        format!("`{text}` is not a duration ({err}); write a number and a unit, such as `250ms`, `30s`, `5m`, `1h` or `7d`")
    })
}

/// Parses a byte size such as `512`, `64KiB`, `64MiB`, `2GiB`, `10MB` (decimal) or `1GB`.
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => 0,
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|_| multiplier > 0)
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| {
            format!("`{text}` is not a byte size; write a whole number with an optional unit B, KB, MB, GB, KiB, MiB or GiB, such as `64MiB`")
        })
}

/// A duration written as text in config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text)
            .map(ConfigDuration)
            .map_err(de::Error::custom)
    }
}

/// A byte size written as a number or text in config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;

        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte size such as 67108864 or \"64MiB\"")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a byte size cannot be negative"))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                parse_byte_size(v).map(ByteSize).map_err(E::custom)
            }
        }

        deserializer.deserialize_any(SizeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        let err = parse_duration("fast").unwrap_err();
        assert!(err.contains("250ms"), "{err}");
        assert!(parse_duration("10").is_err());
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("512"), Ok(512));
        assert_eq!(parse_byte_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_byte_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_byte_size("2 KiB"), Ok(2048));
        assert!(parse_byte_size("lots").is_err());
        assert!(parse_byte_size("5XB").is_err());
        assert!(parse_byte_size("-5").is_err());
        assert!(parse_byte_size("99999999999999999999GiB").is_err());
    }

    #[test]
    fn deserialize_from_json() {
        let size: ByteSize = serde_json::from_value(serde_json::json!("1KiB")).unwrap();
        assert_eq!(size, ByteSize(1024));
        let size: ByteSize = serde_json::from_value(serde_json::json!(10)).unwrap();
        assert_eq!(size, ByteSize(10));
        let d: ConfigDuration = serde_json::from_value(serde_json::json!("2s")).unwrap();
        assert_eq!(d.0, Duration::from_secs(2));
        assert!(serde_json::from_value::<ConfigDuration>(serde_json::json!(5)).is_err());
    }
}
