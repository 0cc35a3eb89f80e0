//! InfluxDB line protocol: `measurement,tag=v field=1.5,n=3i,ok=true,msg="x" 1700000000000000000`.
//!
//! Escapes follow InfluxDB: `\,`, `\ ` and `\=` in measurement, tag and field names and tag
//! values; `\"` and `\\` inside string field values. Integers end in `i` (or `u`); floats are
//! plain numbers; booleans are `t`, `true`, `f`, `false` (any case); a missing timestamp is the
//! time of the request. Lines that are empty or start with `#` are skipped.

use std::collections::BTreeMap;

use polyroute::time_series::{FieldValue, Point};

/// A precision: what one unit of a line's timestamp is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// Nanoseconds.
    Nanoseconds,
    /// Microseconds.
    Microseconds,
    /// Milliseconds.
    Milliseconds,
    /// Seconds.
    Seconds,
}

impl Precision {
    /// From `ns`, `us`, `ms` or `s`.
    pub fn parse(text: &str) -> Option<Precision> {
        Some(match text {
            "ns" | "n" => Precision::Nanoseconds,
            "us" | "u" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            _ => return None,
        })
    }

    fn nanos(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
        }
    }
}

/// A line that could not be read: its number (from 1) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// The line, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Reads every line of `text`; `now` (ns) stamps lines without a timestamp.
pub fn parse(text: &str, precision: Precision, now: i64) -> Result<Vec<Point>, LineError> {
    let mut points = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let point = parse_line(line, precision, now).map_err(|message| LineError {
            line: index + 1,
            message,
        })?;
        points.push(point);
    }
    Ok(points)
}

/// Splits `text` at unescaped `sep` outside double quotes (when `quotes`), at most once.
fn split_once_unescaped(text: &str, sep: u8, quotes: bool) -> (&str, Option<&str>) {
    let bytes = text.as_bytes();
    let mut in_quotes = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'"' if quotes => in_quotes = !in_quotes,
            b if b == sep && !in_quotes => return (&text[..i], Some(&text[i + 1..])),
            _ => {}
        }
        i += 1;
    }
    (text, None)
}

fn split_all(text: &str, sep: u8, quotes: bool) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let (head, tail) = split_once_unescaped(rest, sep, quotes);
        out.push(head);
        match tail {
            Some(tail) => rest = tail,
            None => return out,
        }
    }
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(next @ (',' | ' ' | '=' | '"' | '\\')) => out.push(next),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_line(line: &str, precision: Precision, now: i64) -> Result<Point, String> {
    let (series, rest) = split_once_unescaped(line, b' ', false);
    let rest = rest.ok_or("no fields: write `measurement field=value`")?;
    let (fields_text, timestamp) = split_once_unescaped(rest.trim_start(), b' ', true);

    let mut parts = split_all(series, b',', false).into_iter();
    let measurement = unescape(parts.next().unwrap_or(""));
    if measurement.is_empty() {
        return Err("the measurement is empty".into());
    }
    let mut tags = BTreeMap::new();
    for tag in parts {
        let (key, value) = split_once_unescaped(tag, b'=', false);
        let value = value.ok_or_else(|| format!("tag `{}` has no `=value`", unescape(key)))?;
        tags.insert(unescape(key), unescape(value));
    }

    let mut fields = BTreeMap::new();
    for field in split_all(fields_text, b',', true) {
        let (key, value) = split_once_unescaped(field, b'=', true);
        let key = unescape(key);
        let value = value.ok_or_else(|| format!("field `{key}` has no `=value`"))?;
        fields.insert(key.clone(), field_value(&key, value)?);
    }

    let timestamp = match timestamp.map(str::trim) {
        None | Some("") => now,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .and_then(|t| t.checked_mul(precision.nanos()))
            .ok_or_else(|| format!("timestamp `{text}` is not an integer in range"))?,
    };
    Ok(Point {
        measurement,
        tags,
        fields,
        timestamp,
    })
}

fn field_value(key: &str, text: &str) -> Result<FieldValue, String> {
    if let Some(inner) = text.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or_else(|| format!("field `{key}`: string value has no closing quote"))?;
        return Ok(FieldValue::Text(unescape(inner)));
    }
    match text {
        "t" | "T" | "true" | "True" | "TRUE" => return Ok(FieldValue::Bool(true)),
        "f" | "F" | "false" | "False" | "FALSE" => return Ok(FieldValue::Bool(false)),
        _ => {}
    }
    if let Some(int) = text.strip_suffix('i').or_else(|| text.strip_suffix('u')) {
        return int
            .parse::<i64>()
            .map(FieldValue::Int)
            .map_err(|_| format!("field `{key}`: `{text}` is not an integer"));
    }
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(FieldValue::Float(x)),
        _ => Err(format!(
            "field `{key}`: `{text}` is not a number, integer (`3i`), boolean or \"string\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_line_is_read() {
        let points = parse(
            "cpu,host=a\\ b,region=eu usage=0.5,count=3i,ok=true,msg=\"hi, \\\"there\\\"\" 1700000000\n# comment\n\n",
            Precision::Seconds,
            0,
        )
        .unwrap();
        assert_eq!(points.len(), 1);
        let p = &points[0];
        assert_eq!(p.measurement, "cpu");
        assert_eq!(p.tags["host"], "a b");
        assert_eq!(p.tags["region"], "eu");
        assert_eq!(p.fields["usage"], FieldValue::Float(0.5));
        assert_eq!(p.fields["count"], FieldValue::Int(3));
        assert_eq!(p.fields["ok"], FieldValue::Bool(true));
        assert_eq!(p.fields["msg"], FieldValue::Text("hi, \"there\"".into()));
        assert_eq!(p.timestamp, 1_700_000_000_000_000_000);
    }

    #[test]
    fn a_missing_timestamp_is_now() {
        let points = parse("m v=1", Precision::Nanoseconds, 42).unwrap();
        assert_eq!(points[0].timestamp, 42);
    }

    #[test]
    fn errors_name_the_line() {
        let error = parse("m v=1\nm\n", Precision::Nanoseconds, 0).unwrap_err();
        assert_eq!(error.line, 2);
        let error = parse("m v=abc", Precision::Nanoseconds, 0).unwrap_err();
        assert!(error.message.contains("field `v`"), "{}", error.message);
        let error = parse("m,host v=1", Precision::Nanoseconds, 0).unwrap_err();
        assert!(error.message.contains("tag `host`"), "{}", error.message);
    }
}
