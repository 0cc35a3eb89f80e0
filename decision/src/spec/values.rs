//! The small languages of a spec's values: rates (`300/s`), durations (`50ms`, `400d`) and
//! counts (`50_000_000`), and "did you mean" for misspelt names (the one every reader offers).

use std::fmt;
use std::time::Duration;

pub(crate) use polyroute_adapters::problem::listing;
use serde::Serialize;

/// How often an access happens, as written (`300/s`) and per second.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rate {
    /// Calls per second.
    pub per_second: f64,
    /// As written in the spec.
    pub text: String,
}

impl Rate {
    /// A rate of `per_second` calls a second, written `N/s`.
    pub fn per_second(per_second: f64) -> Rate {
        Rate {
            per_second,
            text: format!("{}/s", trim_float(per_second)),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn trim_float(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

/// The fix shown for a rate that cannot be read.
pub const RATE_FIX: &str = "write a positive number of calls per unit: `300/s`, `20/m` or `5/h`";

/// Parses `n/s`, `n/m` or `n/h` (`n` may have `_` separators and a fraction).
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let trimmed = text.trim();
    let Some((number, unit)) = trimmed.split_once('/') else {
        return Err(format!("`{text}` is not a rate: it has no `/unit`"));
    };
    let seconds = match unit.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "`{text}` is not a rate: `{other}` is not a unit (s, m or h)"
            ))
        }
    };
    let count: f64 = number
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{text}` is not a rate: `{number}` is not a number"))?;
    if !count.is_finite() || count <= 0.0 {
        return Err(format!("`{text}` is not a positive rate"));
    }
    Ok(Rate {
        per_second: count / seconds,
        text: trimmed.to_owned(),
    })
}

/// The fix shown for a duration that cannot be read.
pub const DURATION_FIX: &str =
    "write a positive whole number and a unit (ms, s, m, h or d), such as `50ms`, `30m` or `400d`";

/// Parses a duration: a whole number and one unit of `ms`, `s`, `m`, `h` or `d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let millis: u64 = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "" => return Err(format!("`{text}` is not a duration: it has no unit")),
        other => {
            return Err(format!(
                "`{text}` is not a duration: `{other}` is not a unit"
            ))
        }
    };
    let count: u64 = number
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: no whole number before the unit"))?;
    if count == 0 {
        return Err(format!("`{text}` is not a positive duration"));
    }
    count
        .checked_mul(millis)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is too long a duration"))
}

/// A duration in the spec's own notation: the largest unit that divides it.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if millis >= size && millis.is_multiple_of(size) {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

/// A measured or predicted latency in the unit that reads best (`850 µs`, `12.3 ms`, `1.25 s`).
pub fn format_latency(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros >= 1e6 {
        format!("{:.2} s", micros / 1e6)
    } else if micros >= 1000.0 {
        format!("{:.1} ms", micros / 1000.0)
    } else {
        format!("{micros:.0} µs")
    }
}

/// Parses a whole number written with optional `_` separators (`50_000_000`).
pub fn parse_count(text: &str) -> Option<u64> {
    let digits = text.trim().replace('_', "");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("300/s").map(|r| r.per_second), Ok(300.0));
        assert_eq!(parse_rate("120/m").map(|r| r.per_second), Ok(2.0));
        assert_eq!(parse_rate("36/h").map(|r| r.per_second), Ok(0.01));
        assert_eq!(parse_rate("10_000/s").map(|r| r.per_second), Ok(10_000.0));
        assert_eq!(parse_rate("0.5/s").map(|r| r.per_second), Ok(0.5));
        for bad in ["300/x", "300", "/s", "abc/s", "0/s", "-3/s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(
            parse_duration("400d"),
            Ok(Duration::from_secs(400 * 86_400))
        );
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        for bad in ["400q", "d", "5", "0s", "1.5h", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::from_secs(400 * 86_400)), "400d");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(5400)), "90m");
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("50_000_000"), Some(50_000_000));
        assert_eq!(parse_count("-5"), None);
        assert_eq!(parse_count("5k"), None);
    }
}
