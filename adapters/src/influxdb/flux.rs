//! Flux queries built from the typed queries.
//!
//! Every user value (bucket, measurement, tag names and values, field names) enters the query
//! text only through [`string`], which writes it as a Flux string literal: backslashes, double
//! quotes and the `${` of string interpolation are escaped, and control characters are written
//! as escapes. Timestamps are integers converted with `time(v:)`, durations integer
//! nanoseconds.

use std::fmt::Write as _;

use crate::kinds::time_series::{Aggregate, TagFilter};

/// The earliest and latest instants InfluxDB stores (its `MinNanoTime` and `MaxNanoTime`).
pub(crate) const MIN_TIME: i64 = -9_223_372_036_854_775_806;
/// See [`MIN_TIME`].
pub(crate) const MAX_TIME: i64 = 9_223_372_036_854_775_806;

/// `text` as a Flux string literal.
pub(crate) fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                // Flux strings take `\x` byte escapes of the UTF-8 encoding.
                let mut buf = [0u8; 4];
                for byte in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A time range clamped to what InfluxDB stores: `None` when it is empty.
pub(crate) fn clamp(start: i64, end: i64) -> Option<(i64, i64)> {
    let start = start.max(MIN_TIME);
    let end = end.min(MAX_TIME.saturating_add(1));
    (start < end).then_some((start, end))
}

/// `from(bucket) |> range(…) |> filter(measurement)` plus the tag filter.
fn source(bucket: &str, measurement: &str, start: i64, end: i64, tags: &TagFilter) -> String {
    let mut q = format!(
        "from(bucket: {})\n  |> range(start: time(v: {start}), stop: time(v: {end}))\n  \
         |> filter(fn: (r) => r._measurement == {})\n",
        string(bucket),
        string(measurement)
    );
    if !tags.any_of.is_empty() {
        let conditions: Vec<String> = tags
            .any_of
            .iter()
            .map(|(tag, values)| {
                if values.is_empty() {
                    return "false".to_owned();
                }
                let alternatives: Vec<String> = values
                    .iter()
                    .map(|v| format!("r[{}] == {}", string(tag), string(v)))
                    .collect();
                format!("({})", alternatives.join(" or "))
            })
            .collect();
        let _ = writeln!(q, "  |> filter(fn: (r) => {})", conditions.join(" and "));
    }
    q
}

fn field_filter(fields: &[String]) -> String {
    if fields.is_empty() {
        return String::new();
    }
    let alternatives: Vec<String> = fields
        .iter()
        .map(|f| format!("r._field == {}", string(f)))
        .collect();
    format!("  |> filter(fn: (r) => {})\n", alternatives.join(" or "))
}

/// Raw points: one table per series and field, at most `limit` rows each (the caller merges
/// the fields of a series and keeps its first `limit` timestamps).
pub(crate) fn range(
    bucket: &str,
    measurement: &str,
    (start, end): (i64, i64),
    tags: &TagFilter,
    fields: &[String],
    limit: Option<usize>,
) -> String {
    let mut q = source(bucket, measurement, start, end, tags);
    q.push_str(&field_filter(fields));
    q.push_str("  |> drop(columns: [\"_start\", \"_stop\"])\n");
    match limit {
        Some(n) => format!("{q}  |> limit(n: {})\n", n.min(i64::MAX as usize)),
        None => q,
    }
}

/// The first value of `field` in `measurement`, one row per series, to learn its type.
pub(crate) fn field_type(bucket: &str, measurement: &str, field: &str) -> String {
    let mut q = source(bucket, measurement, MIN_TIME, MAX_TIME, &TagFilter::all());
    q.push_str(&field_filter(&[field.to_owned()]));
    q.push_str("  |> first()\n  |> limit(n: 1)\n");
    q
}

fn aggregate_call(aggregate: Aggregate) -> &'static str {
    match aggregate {
        Aggregate::Mean => "mean()",
        Aggregate::Min => "min()",
        Aggregate::Max => "max()",
        Aggregate::Sum => "sum()",
        Aggregate::Count => "count()",
        Aggregate::First => "first()",
        Aggregate::Last => "last()",
    }
}

/// Window aggregates of a numeric field, grouped by `group_by`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn window(
    bucket: &str,
    measurement: &str,
    field: &str,
    (start, end): (i64, i64),
    tags: &TagFilter,
    every_ns: i64,
    aggregate: Aggregate,
    group_by: &[String],
) -> String {
    let mut q = source(bucket, measurement, start, end, tags);
    q.push_str(&field_filter(&[field.to_owned()]));
    let columns: Vec<String> = group_by.iter().map(|g| string(g)).collect();
    let _ = write!(
        q,
        "  |> toFloat()\n  |> group(columns: [{}])\n  |> sort(columns: [\"_time\"])\n  \
         |> window(every: {every_ns}ns)\n  |> {}\n  |> keep(columns: [\"_start\", \"_value\"{}])\n",
        columns.join(", "),
        aggregate_call(aggregate),
        columns.iter().map(|c| format!(", {c}")).collect::<String>()
    );
    q
}

/// The last value of every field of every matching series.
pub(crate) fn last(
    bucket: &str,
    measurement: &str,
    (start, end): (i64, i64),
    tags: &TagFilter,
) -> String {
    let mut q = source(bucket, measurement, start, end, tags);
    q.push_str("  |> last()\n  |> drop(columns: [\"_start\", \"_stop\"])\n");
    q
}

/// The measurements of `bucket` starting with `prefix` (with points at any time: the delete
/// that follows bounds the time).
pub(crate) fn measurements(bucket: &str, prefix: &str) -> String {
    format!(
        "import \"influxdata/influxdb/schema\"\nimport \"strings\"\n\
         schema.tagValues(bucket: {}, tag: \"_measurement\", \
         predicate: (r) => strings.hasPrefix(v: r._measurement, prefix: {}), \
         start: time(v: {MIN_TIME}))\n",
        string(bucket),
        string(prefix)
    )
}

/// The predicate of the delete API selecting one measurement: its string syntax escapes
/// backslashes and double quotes with a backslash.
pub(crate) fn delete_predicate(measurement: &str) -> String {
    let mut out = String::from("_measurement=\"");
    for c in measurement.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_escape_everything_flux_interprets() {
        assert_eq!(string("plain"), "\"plain\"");
        assert_eq!(string(r#"a"b"#), r#""a\"b""#);
        assert_eq!(string(r"a\b"), r#""a\\b""#);
        assert_eq!(string("${secret}"), r#""\${secret}""#);
        assert_eq!(string("$ {ok} $x"), r#""$ {ok} $x""#);
        assert_eq!(string("a\nb\r\tc"), r#""a\nb\r\tc""#);
        assert_eq!(string("nul\0"), r#""nul\x00""#);
        assert_eq!(string("東京 ☀"), "\"東京 ☀\"");
        // A literal that tries to close itself and inject a call stays one literal.
        let hostile = r#"") |> drop() //"#;
        let lit = string(hostile);
        assert_eq!(lit, r#""\") |> drop() //""#);
        assert_eq!(unquote(&lit), hostile);
        for nasty in [r#"\"#, r#"\\""#, "${${", "\"${x}\\", "\u{7}\u{1b}"] {
            assert_eq!(unquote(&string(nasty)), nasty);
        }
    }

    /// Reads a literal back the way Flux does, to show the escaping loses nothing.
    fn unquote(lit: &str) -> String {
        let inner = &lit[1..lit.len() - 1];
        let mut out = Vec::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            match chars.next() {
                Some('n') => out.push(b'\n'),
                Some('r') => out.push(b'\r'),
                Some('t') => out.push(b'\t'),
                Some('x') => {
                    let hex: String = chars.by_ref().take(2).collect();
                    out.push(u8::from_str_radix(&hex, 16).unwrap());
                }
                Some(c @ ('\\' | '"' | '$')) => out.push(c as u8),
                other => panic!("unexpected escape {other:?}"),
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn hostile_values_stay_inside_literals() {
        let tags = TagFilter::all()
            .eq("host\"", "a\") or true //")
            .eq("host\"", "${x}");
        let q = range(
            "b\"",
            "e.cpu\"",
            (0, 10),
            &tags,
            &["f\\".to_owned()],
            Some(3),
        );
        assert!(q.contains(r#"from(bucket: "b\"")"#), "{q}");
        assert!(q.contains(r#"r._measurement == "e.cpu\"""#), "{q}");
        assert!(
            q.contains(r#"(r["host\""] == "a\") or true //" or r["host\""] == "\${x}")"#),
            "{q}"
        );
        assert!(q.contains(r#"r._field == "f\\""#), "{q}");
        assert!(
            q.contains("range(start: time(v: 0), stop: time(v: 10))"),
            "{q}"
        );
        assert!(q.ends_with("  |> limit(n: 3)\n"), "{q}");
        assert!(q.contains("drop(columns: [\"_start\", \"_stop\"])"), "{q}");
    }

    #[test]
    fn an_empty_value_list_matches_nothing() {
        let mut tags = TagFilter::all();
        tags.any_of.insert("host".into(), Vec::new());
        let q = range("b", "m", (0, 1), &tags, &[], None);
        assert!(q.contains("filter(fn: (r) => false)"), "{q}");
    }

    #[test]
    fn windows_group_and_aggregate() {
        let q = window(
            "b",
            "e.cpu",
            "v",
            (0, 100),
            &TagFilter::all(),
            10_000_000_000,
            Aggregate::Mean,
            &["host".to_owned(), "d\"c".to_owned()],
        );
        assert!(q.contains("group(columns: [\"host\", \"d\\\"c\"])"), "{q}");
        assert!(q.contains("window(every: 10000000000ns)"), "{q}");
        assert!(q.contains("|> mean()"), "{q}");
        assert!(q.contains("|> toFloat()"), "{q}");
        let folded = window(
            "b",
            "m",
            "v",
            (0, 1),
            &TagFilter::all(),
            1,
            Aggregate::Count,
            &[],
        );
        assert!(folded.contains("group(columns: [])"), "{folded}");
        assert!(
            folded.contains("keep(columns: [\"_start\", \"_value\"])"),
            "{folded}"
        );
    }

    #[test]
    fn ranges_are_clamped_to_what_influxdb_stores() {
        assert_eq!(clamp(i64::MIN, i64::MAX), Some((MIN_TIME, MAX_TIME + 1)));
        assert_eq!(clamp(5, 5), None);
        assert_eq!(clamp(6, 5), None);
        assert_eq!(clamp(-1, 1), Some((-1, 1)));
    }

    #[test]
    fn delete_predicates_escape_quotes() {
        assert_eq!(delete_predicate("e.cpu"), r#"_measurement="e.cpu""#);
        assert_eq!(
            delete_predicate(r#"e.a" OR _measurement="b\"#),
            r#"_measurement="e.a\" OR _measurement=\"b\\""#
        );
        let q = measurements("b\"", "e.");
        assert!(q.contains("prefix: \"e.\""), "{q}");
        assert!(q.contains("bucket: \"b\\\"\""), "{q}");
    }
}
