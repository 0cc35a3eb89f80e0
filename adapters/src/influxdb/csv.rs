//! Flux's annotated CSV: records, tables with their `#datatype` and `#group` annotations, and
//! RFC 3339 timestamps to and from nanoseconds.

use crate::kinds::time_series::FieldValue;
use crate::{Result, StoreError};

/// Splits CSV text into records (RFC 4180: quoted cells may hold commas, doubled quotes and
/// line breaks). Empty lines come back as empty records: they separate Flux tables.
pub(crate) fn records(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut record = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut line_has_content = false;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cell.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cell.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                line_has_content = true;
            }
            ',' => {
                record.push(std::mem::take(&mut cell));
                line_has_content = true;
            }
            '\r' => {}
            '\n' => {
                if line_has_content || !cell.is_empty() {
                    record.push(std::mem::take(&mut cell));
                }
                out.push(std::mem::take(&mut record));
                line_has_content = false;
            }
            c => {
                cell.push(c);
                line_has_content = true;
            }
        }
    }
    if line_has_content || !cell.is_empty() {
        record.push(cell);
        out.push(record);
    }
    out
}

/// One table of a Flux result: its columns and rows.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Each column's `#datatype`.
    pub types: Vec<String>,
    /// Whether each column is in the group key.
    pub group: Vec<bool>,
    /// The rows, cells aligned with `columns`.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The index of column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// Splits a Flux CSV response into tables (rows with the same `table` number, in order). A
/// result that reports an error is a backend error carrying its message.
pub(crate) fn tables(text: &str) -> Result<Vec<Table>> {
    let mut out: Vec<Table> = Vec::new();
    let mut types: Vec<String> = Vec::new();
    let mut group: Vec<bool> = Vec::new();
    let mut header: Option<Vec<String>> = None;
    let mut current_table: Option<String> = None;
    for record in records(text) {
        if record.is_empty() || record.iter().all(String::is_empty) {
            // A blank line: new annotations and header follow.
            header = None;
            types.clear();
            group.clear();
            continue;
        }
        match record[0].as_str() {
            "#datatype" => {
                types = record[1..].to_vec();
                continue;
            }
            "#group" => {
                group = record[1..].iter().map(|g| g == "true").collect();
                continue;
            }
            s if s.starts_with('#') => continue,
            _ => {}
        }
        let Some(columns) = &header else {
            let columns: Vec<String> = record[1..].to_vec();
            if columns.first().map(String::as_str) == Some("error") {
                header = Some(columns);
                continue;
            }
            header = Some(columns);
            current_table = None;
            continue;
        };
        let row: Vec<String> = record[1..].to_vec();
        if columns.first().map(String::as_str) == Some("error") {
            return Err(StoreError::backend(format!(
                "InfluxDB query failed: {}",
                row.first().map(String::as_str).unwrap_or("unknown error")
            )));
        }
        let table_id = columns
            .iter()
            .position(|c| c == "table")
            .and_then(|i| row.get(i))
            .cloned()
            .unwrap_or_default();
        if current_table.as_ref() != Some(&table_id) {
            current_table = Some(table_id);
            out.push(Table {
                columns: columns.clone(),
                types: types.clone(),
                group: group.clone(),
                rows: Vec::new(),
            });
        }
        if let Some(table) = out.last_mut() {
            table.rows.push(row);
        }
    }
    Ok(out)
}

fn unreadable(what: &str, text: &str) -> StoreError {
    StoreError::backend(format!("InfluxDB returned an unreadable {what}: {text:?}"))
}

/// A `_value` cell of `datatype` as a field value.
pub(crate) fn field_value(datatype: &str, text: &str) -> Result<FieldValue> {
    Ok(match datatype {
        "double" => FieldValue::Float(parse_float(text)?),
        "long" => FieldValue::Int(text.parse().map_err(|_| unreadable("integer", text))?),
        "unsignedLong" => FieldValue::Int(text.parse().map_err(|_| unreadable("integer", text))?),
        "boolean" => FieldValue::Bool(match text {
            "true" => true,
            "false" => false,
            _ => return Err(unreadable("boolean", text)),
        }),
        "string" => FieldValue::Text(text.to_owned()),
        other => return Err(unreadable("field type", other)),
    })
}

/// A float cell (`NaN`, `+Inf`, `-Inf` included).
pub(crate) fn parse_float(text: &str) -> Result<f64> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => text.parse().map_err(|_| unreadable("float", text)),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Parses an RFC 3339 UTC timestamp (`2023-11-14T22:13:20.5Z`, or with a `±hh:mm` offset) to
/// nanoseconds since the epoch.
pub(crate) fn parse_time(text: &str) -> Result<i64> {
    let bad = || unreadable("timestamp", text);
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |range: std::ops::Range<usize>| -> Result<i64> {
        text.get(range).and_then(|s| s.parse().ok()).ok_or_else(bad)
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    let mut nanos: i128 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return Err(bad());
        }
        let value: i128 = frac[..digits].parse().map_err(|_| bad())?;
        nanos = value * 10_i128.pow(9 - digits as u32);
        rest = &frac[digits..];
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let hours: i64 = rest[1..3].parse().map_err(|_| bad())?;
            let minutes: i64 = rest[4..6].parse().map_err(|_| bad())?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return Err(bad()),
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    let total = i128::from(seconds) * NANOS_PER_SEC + nanos;
    i64::try_from(total).map_err(|_| bad())
}

/// Formats nanoseconds since the epoch as RFC 3339 UTC with nine fractional digits.
pub(crate) fn format_time(ns: i64) -> String {
    let seconds = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let days = seconds.div_euclid(86_400);
    let in_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_handle_quotes_commas_and_line_breaks() {
        let text = "a,\"b,c\",\"say \"\"hi\"\"\"\r\n,\"two\nlines\",\n\nx\n";
        assert_eq!(
            records(text),
            vec![
                vec!["a".to_owned(), "b,c".into(), "say \"hi\"".into()],
                vec!["".to_owned(), "two\nlines".into(), "".into()],
                vec![],
                vec!["x".to_owned()],
            ]
        );
    }

    #[test]
    fn tables_follow_annotations_and_table_numbers() {
        let text = "#group,false,false,true,false,false\r\n\
            #datatype,string,long,string,dateTime:RFC3339,double\r\n\
            ,result,table,host,_time,_value\r\n\
            ,_result,0,a,2023-11-14T22:13:20Z,1.5\r\n\
            ,_result,0,a,2023-11-14T22:13:21Z,2\r\n\
            ,_result,1,b,2023-11-14T22:13:20Z,3\r\n\
            \r\n\
            #group,false,false,true,false,false\r\n\
            #datatype,string,long,string,dateTime:RFC3339,string\r\n\
            ,result,table,host,_time,_value\r\n\
            ,_result,2,a,2023-11-14T22:13:20Z,\"x,y\"\r\n\r\n";
        let tables = tables(text).unwrap();
        assert_eq!(tables.len(), 3);
        assert_eq!(tables[0].rows.len(), 2);
        assert_eq!(tables[0].types[4], "double");
        assert_eq!(tables[0].group, vec![false, false, true, false, false]);
        assert_eq!(tables[1].rows[0][2], "b");
        assert_eq!(tables[2].types[4], "string");
        assert_eq!(tables[2].rows[0][4], "x,y");
        assert_eq!(tables[2].column("_value"), Some(4));
    }

    #[test]
    fn error_tables_are_errors() {
        let text = "#datatype,string,string\n,error,reference\n,\"boom, it broke\",\n";
        let err = tables(text).unwrap_err();
        assert!(err.to_string().contains("boom, it broke"), "{err}");
        assert!(tables("").unwrap().is_empty());
    }

    #[test]
    fn field_values_follow_their_datatype() {
        assert_eq!(
            field_value("double", "-0.5").unwrap(),
            FieldValue::Float(-0.5)
        );
        assert_eq!(
            field_value("double", "+Inf").unwrap(),
            FieldValue::Float(f64::INFINITY)
        );
        assert_eq!(field_value("long", "-9").unwrap(), FieldValue::Int(-9));
        assert_eq!(
            field_value("boolean", "true").unwrap(),
            FieldValue::Bool(true)
        );
        assert_eq!(
            field_value("string", "").unwrap(),
            FieldValue::Text(String::new())
        );
        assert!(field_value("boolean", "yes").is_err());
        assert!(field_value("duration", "1s").is_err());
    }

    #[test]
    fn timestamps_round_trip_across_the_whole_range() {
        for ns in [
            -9_223_372_036_854_775_806,
            -9_223_372_036_000_000_000,
            -1_000_000_001,
            -1,
            0,
            1,
            1_700_000_000_000_000_000,
            9_223_372_036_000_000_000,
            9_223_372_036_854_775_806,
        ] {
            let text = format_time(ns);
            assert_eq!(parse_time(&text).unwrap(), ns, "{text}");
        }
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(format_time(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(
            format_time(-9_223_372_036_854_775_806),
            "1677-09-21T00:12:43.145224194Z"
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000_000_000
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20.5Z").unwrap(),
            1_700_000_000_500_000_000
        );
        assert_eq!(
            parse_time("2023-11-14T23:13:20+01:00").unwrap(),
            1_700_000_000_000_000_000
        );
        for bad in [
            "",
            "2023-11-14",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13:20.Z",
            "x023-11-14T22:13:20Z",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
