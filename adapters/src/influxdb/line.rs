//! Points as InfluxDB line protocol.
//!
//! `measurement[,tag=value…] field=value[,field=value…] timestamp`, with
//!
//! - measurements: commas and spaces escaped with a backslash;
//! - tag keys, tag values and field keys: commas, equals signs and spaces escaped;
//! - string field values: double-quoted, with double quotes and backslashes escaped;
//! - integers suffixed `i`, floats written so they parse back to the same `f64`, booleans
//!   `true`/`false`; timestamps in nanoseconds.
//!
//! Line protocol cannot carry some text at all: a newline or carriage return in a measurement,
//! tag or field key (it ends the line; there is no escape for it), a backslash at the end of a
//! name or tag value or just before a character that needs escaping (the parser would read the
//! pair as an escape), and non-finite floats. Such points are invalid requests naming what is
//! wrong. Inside a quoted string field value InfluxDB's parser does not end the line, so line
//! breaks there are written as they are.

use std::fmt::Write as _;

use crate::kinds::time_series::{FieldValue, Point};
use crate::{Result, StoreError};

/// Which part of a line a piece of text is, for its escaping rules and error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Measurement,
    TagKey,
    TagValue,
    FieldKey,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Measurement => "measurement",
            Part::TagKey => "tag key",
            Part::TagValue => "tag value",
            Part::FieldKey => "field key",
        }
    }

    fn special(self, c: char) -> bool {
        match self {
            Part::Measurement => c == ',' || c == ' ',
            Part::TagKey | Part::TagValue | Part::FieldKey => c == ',' || c == ' ' || c == '=',
        }
    }
}

fn refuse(part: &str, text: &str, why: &str) -> StoreError {
    StoreError::invalid(format!(
        "InfluxDB line protocol cannot carry the {part} {:?}: {why}",
        text
    ))
}

/// Checks text that no part of a line may hold.
fn check_line_breaks(part: &str, text: &str) -> Result<()> {
    if text.contains(['\n', '\r']) {
        return Err(refuse(part, text, "it holds a line break"));
    }
    Ok(())
}

/// Appends `text` escaped as `part`.
pub(crate) fn escape_into(out: &mut String, part: Part, text: &str) -> Result<()> {
    check_line_breaks(part.name(), text)?;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                None => {
                    return Err(refuse(part.name(), text, "it ends with a backslash"));
                }
                Some(&next) if part.special(next) => {
                    return Err(refuse(
                        part.name(),
                        text,
                        "a backslash stands just before a character that must be escaped",
                    ));
                }
                Some(_) => out.push('\\'),
            }
        } else {
            if part.special(c) {
                out.push('\\');
            }
            out.push(c);
        }
    }
    Ok(())
}

/// `text` escaped as `part`.
#[cfg(test)]
fn escape(part: Part, text: &str) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, part, text)?;
    Ok(out)
}

fn push_field_value(out: &mut String, key: &str, value: &FieldValue) -> Result<()> {
    match value {
        FieldValue::Float(v) => {
            if !v.is_finite() {
                return Err(StoreError::invalid(format!(
                    "InfluxDB cannot store the non-finite float {v} of field {key:?}"
                )));
            }
            // `{:?}` writes the shortest text that parses back to the same f64, with an
            // exponent where needed (`1e300`), which line protocol accepts.
            let _ = write!(out, "{v:?}");
        }
        FieldValue::Int(v) => {
            let _ = write!(out, "{v}i");
        }
        FieldValue::Bool(v) => out.push_str(if *v { "true" } else { "false" }),
        FieldValue::Text(text) => {
            out.push('"');
            for c in text.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
    }
    Ok(())
}

/// Appends the line of `point`, measured as `measurement` (the entity's prefixed name), and a
/// newline.
pub(crate) fn push_line(out: &mut String, measurement: &str, point: &Point) -> Result<()> {
    escape_into(out, Part::Measurement, measurement)?;
    for (key, value) in &point.tags {
        out.push(',');
        escape_into(out, Part::TagKey, key)?;
        out.push('=');
        escape_into(out, Part::TagValue, value)?;
    }
    let mut first = true;
    for (key, value) in &point.fields {
        out.push(if first { ' ' } else { ',' });
        first = false;
        escape_into(out, Part::FieldKey, key)?;
        out.push('=');
        push_field_value(out, key, value)?;
    }
    let _ = writeln!(out, " {}", point.timestamp);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::collections::BTreeMap;

    fn point(tags: &[(&str, &str)], fields: &[(&str, FieldValue)]) -> Point {
        Point {
            measurement: "m".into(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect::<BTreeMap<_, _>>(),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).into(), v.clone()))
                .collect(),
            timestamp: -5,
        }
    }

    #[test]
    fn metacharacters_are_escaped_per_part() {
        assert_eq!(escape(Part::Measurement, "a b,c=d").unwrap(), r"a\ b\,c=d");
        assert_eq!(escape(Part::TagKey, "a b,c=d").unwrap(), r"a\ b\,c\=d");
        assert_eq!(escape(Part::TagValue, "x=1, y").unwrap(), r"x\=1\,\ y");
        assert_eq!(escape(Part::FieldKey, "\"q\"").unwrap(), "\"q\"");
        assert_eq!(escape(Part::TagValue, r"a\b\\c").unwrap(), r"a\b\\c");
        assert_eq!(escape(Part::TagValue, "東京 ☀").unwrap(), r"東京\ ☀");
        assert_eq!(escape(Part::TagValue, "nul\0ok").unwrap(), "nul\0ok");
    }

    #[test]
    fn unrepresentable_text_is_refused_naming_the_part() {
        for (part, text) in [
            (Part::Measurement, "a\nb"),
            (Part::TagKey, "a\rb"),
            (Part::TagValue, r"ends\"),
            (Part::TagValue, r"a\,b"),
            (Part::TagKey, r"a\=b"),
            (Part::FieldKey, r"a\ b"),
            (Part::Measurement, r"a\,b"),
        ] {
            let err = escape(part, text).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest);
            assert!(err.to_string().contains(part.name()), "{err}");
        }
        // `=` needs no escape in a measurement, so a backslash may precede it there.
        assert_eq!(escape(Part::Measurement, r"a\=b").unwrap(), r"a\=b");
    }

    #[test]
    fn lines_carry_every_field_type() {
        let p = point(
            &[("host", "web 1"), ("dc", "eu,west")],
            &[
                ("f", FieldValue::Float(0.1)),
                ("i", FieldValue::Int(-7)),
                ("b", FieldValue::Bool(true)),
                ("s", FieldValue::Text("say \"hi\" \\ bye".into())),
                ("big", FieldValue::Float(1e300)),
                ("whole", FieldValue::Float(2.0)),
            ],
        );
        let mut out = String::new();
        push_line(&mut out, "e.cpu load", &p).unwrap();
        assert_eq!(
            out,
            "e.cpu\\ load,dc=eu\\,west,host=web\\ 1 \
             b=true,big=1e300,f=0.1,i=-7i,s=\"say \\\"hi\\\" \\\\ bye\",whole=2.0 -5\n"
        );
    }

    #[test]
    fn newlines_stay_inside_quoted_strings_and_bad_floats_are_refused() {
        let mut out = String::new();
        push_line(
            &mut out,
            "m",
            &point(&[], &[("note", FieldValue::Text("two\nlines\r".into()))]),
        )
        .unwrap();
        assert_eq!(out, "m note=\"two\nlines\r\" -5\n");
        let err = push_line(
            &mut out,
            "m",
            &point(&[], &[("x", FieldValue::Float(f64::NAN))]),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(err.to_string().contains("\"x\""), "{err}");
        let err = push_line(
            &mut out,
            "m",
            &point(&[("dc\n", "x")], &[("x", FieldValue::Int(1))]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("tag key"), "{err}");
    }
}
