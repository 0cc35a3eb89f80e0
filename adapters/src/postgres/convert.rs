//! [`Value`]s to and from PostgreSQL's binary wire format, by the type the server reports for
//! each parameter and column.
//!
//! | PostgreSQL | read as | written from |
//! |---|---|---|
//! | `boolean` | `Bool` | `Bool` |
//! | `smallint`, `integer`, `bigint`, `oid` | `Int` | `Int` (range-checked) |
//! | `real`, `double precision` | `Float` | `Float`, `Int` |
//! | `numeric` | `Text`, the exact decimal (`"12.50"`, `"NaN"`) | `Int`, `Float`, decimal `Text` |
//! | `text`, `varchar`, `char`, `name`, enums, `citext` | `Text` | `Text` |
//! | `bytea` | `Bytes` | `Bytes` |
//! | `timestamp`, `timestamptz` | `Timestamp` (ns since the epoch, UTC) | `Timestamp` (to µs, rounded down) |
//! | `date` | `Timestamp` at midnight UTC | — |
//! | `json`, `jsonb` | the JSON as `Map`, `List` or a scalar | `Map`, `List` |
//! | `uuid` | `Text` (hyphenated, lower case) | `Text` |
//! | one-dimensional arrays of the above | `List` | — |
//!
//! Anything else is an invalid request naming the type, with the cast that makes it readable.

use std::error::Error;
use std::fmt::{self, Write as _};

use bytes::BytesMut;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, Kind, ToSql, Type};

use crate::Value;

/// Microseconds from the Unix epoch to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// A value that cannot be converted to or from the type PostgreSQL expects: the request's fault.
#[derive(Debug)]
pub(crate) struct BindError(pub(crate) String);

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for BindError {}

type BoxError = Box<dyn Error + Sync + Send>;

/// A parameter already in its binary form (or SQL `NULL`).
#[derive(Debug)]
pub(crate) struct Encoded(Option<Vec<u8>>);

impl ToSql for Encoded {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match &self.0 {
            None => Ok(IsNull::Yes),
            Some(bytes) => {
                out.extend_from_slice(bytes);
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Encodes `values` for a statement whose parameters have `types`, checking the count.
pub(crate) fn encode_params(values: &[Value], types: &[Type]) -> Result<Vec<Encoded>, BindError> {
    if values.len() != types.len() {
        return Err(BindError(format!(
            "the statement has {} parameter(s) but {} value(s) were given",
            types.len(),
            values.len()
        )));
    }
    values
        .iter()
        .zip(types)
        .enumerate()
        .map(|(i, (value, ty))| {
            encode(value, ty).map(Encoded).map_err(|why| {
                BindError(format!(
                    "parameter ${}: cannot bind {} to PostgreSQL type `{}`: {why}",
                    i + 1,
                    value.type_name(),
                    ty.name()
                ))
            })
        })
        .collect()
}

fn encode(value: &Value, ty: &Type) -> Result<Option<Vec<u8>>, String> {
    let cast = || {
        format!(
            "pass a value of the column's type, or cast the parameter in SQL (such as `$1::{}`)",
            ty.name()
        )
    };
    let narrow = |i: i64| format!("{i} is out of range");
    Ok(Some(match (value, ty) {
        (Value::Null, _) => return Ok(None),
        (Value::Bool(b), &Type::BOOL) => vec![u8::from(*b)],
        (Value::Int(i), &Type::INT8) => i.to_be_bytes().to_vec(),
        (Value::Int(i), &Type::INT4) => i32::try_from(*i)
            .map_err(|_| narrow(*i))?
            .to_be_bytes()
            .to_vec(),
        (Value::Int(i), &Type::INT2) => i16::try_from(*i)
            .map_err(|_| narrow(*i))?
            .to_be_bytes()
            .to_vec(),
        (Value::Int(i), &Type::OID) => u32::try_from(*i)
            .map_err(|_| narrow(*i))?
            .to_be_bytes()
            .to_vec(),
        (Value::Int(i), &Type::FLOAT8) => (*i as f64).to_be_bytes().to_vec(),
        (Value::Int(i), &Type::FLOAT4) => (*i as f32).to_be_bytes().to_vec(),
        (Value::Float(x), &Type::FLOAT8) => x.to_be_bytes().to_vec(),
        (Value::Float(x), &Type::FLOAT4) => (*x as f32).to_be_bytes().to_vec(),
        (Value::Int(i), &Type::NUMERIC) => numeric_from_decimal(&i.to_string())?,
        (Value::Float(x), &Type::NUMERIC) if x.is_nan() => numeric_special(0xC000),
        (Value::Float(x), &Type::NUMERIC) if x.is_infinite() => {
            numeric_special(if *x > 0.0 { 0xD000 } else { 0xF000 })
        }
        (Value::Float(x), &Type::NUMERIC) => numeric_from_decimal(&x.to_string())?,
        (Value::Text(s), &Type::NUMERIC) => numeric_from_decimal(s)?,
        (Value::Text(s), &Type::UUID) => parse_uuid(s)?,
        (Value::Text(s), ty) if is_text(ty) => s.as_bytes().to_vec(),
        (Value::Bytes(b), &Type::BYTEA) => b.clone(),
        (Value::Timestamp(ns), &Type::TIMESTAMP | &Type::TIMESTAMPTZ) => {
            (ns.div_euclid(1000) - PG_EPOCH_US).to_be_bytes().to_vec()
        }
        (Value::List(_) | Value::Map(_), &Type::JSON) => value.to_json().to_string().into_bytes(),
        (Value::List(_) | Value::Map(_), &Type::JSONB) => {
            let mut bytes = vec![1];
            bytes.extend(value.to_json().to_string().into_bytes());
            bytes
        }
        _ => return Err(cast()),
    }))
}

fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    ) || matches!(ty.kind(), Kind::Enum(_))
        || ty.name() == "citext"
}

fn parse_uuid(text: &str) -> Result<Vec<u8>, String> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{text}` is not a UUID"));
    }
    (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|err| err.to_string()))
        .collect()
}

fn numeric_special(sign: u16) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0, 0];
    bytes.extend(sign.to_be_bytes());
    bytes.extend([0, 0]);
    bytes
}

/// `numeric`'s binary form of a plain decimal (`-12.5`, `3`, `0.001`).
fn numeric_from_decimal(text: &str) -> Result<Vec<u8>, String> {
    let invalid = || format!("`{text}` is not a decimal number");
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(invalid());
    }
    let int = int.trim_start_matches('0');
    let dscale = u16::try_from(frac.len()).map_err(|_| invalid())?;
    // Base-10000 groups aligned on the decimal point.
    let pad_left = (4 - int.len() % 4) % 4;
    let pad_right = (4 - frac.len() % 4) % 4;
    let all: String = "0".repeat(pad_left) + int + frac + &"0".repeat(pad_right);
    let mut groups: Vec<i16> = all
        .as_bytes()
        .chunks(4)
        .map(|chunk| {
            chunk
                .iter()
                .fold(0i16, |n, digit| n * 10 + i16::from(digit - b'0'))
        })
        .collect();
    let mut weight = i32::try_from((pad_left + int.len()) / 4).map_err(|_| invalid())? - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let ndigits = i16::try_from(groups.len()).map_err(|_| invalid())?;
    let weight = i16::try_from(weight).map_err(|_| invalid())?;
    let sign: u16 = if negative && !groups.is_empty() {
        0x4000
    } else {
        0
    };
    let mut bytes = Vec::with_capacity(8 + 2 * groups.len());
    bytes.extend(ndigits.to_be_bytes());
    bytes.extend(weight.to_be_bytes());
    bytes.extend(sign.to_be_bytes());
    bytes.extend(dscale.to_be_bytes());
    for group in groups {
        bytes.extend(group.to_be_bytes());
    }
    Ok(bytes)
}

/// A column value read into a [`Value`].
pub(crate) struct Cell(pub(crate) Value);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        decode(ty, raw).map(Cell).map_err(|why| {
            Box::new(BindError(format!(
                "cannot read a value of PostgreSQL type `{}`: {why}",
                ty.name()
            ))) as BoxError
        })
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Cell(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn take<const N: usize>(raw: &[u8]) -> Result<[u8; N], String> {
    raw.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", raw.len()))
}

fn decode(ty: &Type, raw: &[u8]) -> Result<Value, String> {
    Ok(match *ty {
        Type::BOOL => Value::Bool(take::<1>(raw)?[0] != 0),
        Type::INT2 => Value::Int(i16::from_be_bytes(take(raw)?).into()),
        Type::INT4 => Value::Int(i32::from_be_bytes(take(raw)?).into()),
        Type::INT8 => Value::Int(i64::from_be_bytes(take(raw)?)),
        Type::OID => Value::Int(u32::from_be_bytes(take(raw)?).into()),
        Type::FLOAT4 => Value::Float(f32::from_be_bytes(take(raw)?).into()),
        Type::FLOAT8 => Value::Float(f64::from_be_bytes(take(raw)?)),
        Type::NUMERIC => Value::Text(numeric_to_decimal(raw)?),
        Type::BYTEA => Value::Bytes(raw.to_vec()),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => {
            let us = i64::from_be_bytes(take(raw)?);
            Value::Timestamp(
                us.checked_add(PG_EPOCH_US)
                    .and_then(|us| us.checked_mul(1000))
                    .ok_or("the timestamp is infinite or beyond the year 2262")?,
            )
        }
        Type::DATE => {
            let days = i64::from(i32::from_be_bytes(take(raw)?));
            Value::Timestamp(
                days.checked_mul(86_400_000_000)
                    .and_then(|us| us.checked_add(PG_EPOCH_US))
                    .and_then(|us| us.checked_mul(1000))
                    .ok_or("the date is infinite or beyond the year 2262")?,
            )
        }
        Type::JSON => json(raw)?,
        Type::JSONB => match raw.split_first() {
            Some((1, text)) => json(text)?,
            _ => return Err("unknown jsonb format version".into()),
        },
        Type::UUID => {
            let b = take::<16>(raw)?;
            let mut text = String::with_capacity(36);
            for (i, byte) in b.iter().enumerate() {
                if matches!(i, 4 | 6 | 8 | 10) {
                    text.push('-');
                }
                let _ = write!(text, "{byte:02x}");
            }
            Value::Text(text)
        }
        ref ty if is_text(ty) => Value::Text(
            std::str::from_utf8(raw)
                .map_err(|err| err.to_string())?
                .to_owned(),
        ),
        ref ty => match ty.kind() {
            Kind::Array(element) => array(element, raw)?,
            Kind::Domain(base) => decode(base, raw)?,
            _ => {
                return Err(
                    "polyroute does not read this type; cast it in SQL, such as `value::text`"
                        .to_owned(),
                )
            }
        },
    })
}

fn json(text: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(text)
        .map(Value::from_json)
        .map_err(|err| err.to_string())
}

/// A one-dimensional array as a list (an empty array has no dimensions).
fn array(element: &Type, raw: &[u8]) -> Result<Value, String> {
    let mut reader = Reader(raw);
    let dimensions = reader.i32()?;
    let _has_nulls = reader.i32()?;
    let _element_oid = reader.i32()?;
    if dimensions == 0 {
        return Ok(Value::List(Vec::new()));
    }
    if dimensions != 1 {
        return Err("only one-dimensional arrays are read".into());
    }
    let len = reader.i32()?;
    let _lower_bound = reader.i32()?;
    let mut items = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    for _ in 0..len {
        let size = reader.i32()?;
        if size < 0 {
            items.push(Value::Null);
        } else {
            let bytes = reader.bytes(usize::try_from(size).map_err(|e| e.to_string())?)?;
            items.push(decode(element, bytes)?);
        }
    }
    Ok(Value::List(items))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated value".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(take(self.bytes(4)?)?))
    }

    fn i16(&mut self) -> Result<i16, String> {
        Ok(i16::from_be_bytes(take(self.bytes(2)?)?))
    }
}

/// `numeric`'s binary form as exact decimal text.
fn numeric_to_decimal(raw: &[u8]) -> Result<String, String> {
    let mut reader = Reader(raw);
    let ndigits = reader.i16()?;
    let weight = i32::from(reader.i16()?);
    let sign = reader.i16()? as u16;
    let dscale = usize::from(reader.i16()? as u16);
    let digits: Vec<i16> = (0..ndigits)
        .map(|_| reader.i16())
        .collect::<Result<_, _>>()?;
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let group = |index: i32| {
        usize::try_from(index)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for index in 0..=weight {
            let _ = if index == 0 {
                write!(text, "{}", group(index))
            } else {
                write!(text, "{:04}", group(index))
            };
        }
    }
    if dscale > 0 {
        let mut fraction = String::new();
        let groups = i32::try_from(dscale.div_ceil(4)).unwrap_or(i32::MAX);
        for k in 1..=groups {
            let _ = write!(fraction, "{:04}", group(weight + k));
        }
        fraction.truncate(dscale);
        text.push('.');
        text.push_str(&fraction);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerics_round_trip_through_their_binary_form() {
        for text in [
            "0",
            "1",
            "-1",
            "12.5",
            "10000",
            "0.0001",
            "123456789.987654321",
            "-0.5",
        ] {
            let bytes = numeric_from_decimal(text).unwrap();
            assert_eq!(numeric_to_decimal(&bytes).unwrap(), text, "{text}");
        }
        assert!(numeric_from_decimal("1e3").is_err());
        assert!(numeric_from_decimal("").is_err());
        assert_eq!(numeric_to_decimal(&numeric_special(0xC000)).unwrap(), "NaN");
    }

    #[test]
    fn uuids_parse_and_print() {
        let text = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        let bytes = parse_uuid(text).unwrap();
        assert_eq!(
            decode(&Type::UUID, &bytes).unwrap(),
            Value::Text(text.into())
        );
        assert!(parse_uuid("nope").is_err());
    }

    #[test]
    fn parameters_are_checked_against_their_types() {
        let err = encode_params(&[Value::Int(1)], &[]).unwrap_err();
        assert!(err.0.contains("0 parameter"), "{err}");
        let err = encode_params(&[Value::Text("x".into())], &[Type::INT8]).unwrap_err();
        assert!(err.0.contains("$1"), "{err}");
        assert!(encode_params(&[Value::Int(1 << 40)], &[Type::INT4]).is_err());
        assert!(encode_params(&[Value::Null], &[Type::INT4]).is_ok());
    }
}
