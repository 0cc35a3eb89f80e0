//! Conversions between polyroute's [`Value`] and SQLite, and the mapping of SQLite errors.

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{ErrorCode, Statement};

use crate::kinds::relational::Rows;
use crate::{Result, StoreError, Value};

/// Binds `params` to `stmt`. Parameters are written `$1`, `$2`, … as in PostgreSQL, and bound by
/// their number whatever order they appear in; `?` placeholders bind in order.
pub(crate) fn bind_params(stmt: &mut Statement<'_>, params: &[Value]) -> Result<()> {
    let expected = stmt.parameter_count();
    let mut highest = 0usize;
    for index in 1..=expected {
        let position = match stmt.parameter_name(index) {
            None => index,
            Some(name) => name
                .strip_prefix('$')
                .or_else(|| name.strip_prefix('?'))
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    StoreError::invalid(format!(
                        "parameter `{name}` is not positional: write parameters as $1, $2, …"
                    ))
                })?,
        };
        highest = highest.max(position);
        let value = params.get(position - 1).ok_or_else(|| {
            StoreError::invalid(format!(
                "the statement uses parameter ${position} but {} were given",
                params.len()
            ))
        })?;
        stmt.raw_bind_parameter(index, to_sql(value)?)
            .map_err(map_error)?;
    }
    if highest != params.len() {
        return Err(StoreError::invalid(format!(
            "the statement uses {highest} parameter(s) but {} were given",
            params.len()
        )));
    }
    Ok(())
}

fn to_sql(value: &Value) -> Result<SqlValue> {
    Ok(match value {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Int(i) => SqlValue::Integer(*i),
        Value::Float(f) => SqlValue::Real(*f),
        Value::Text(s) => SqlValue::Text(s.clone()),
        Value::Bytes(b) => SqlValue::Blob(b.clone()),
        Value::Timestamp(ns) => SqlValue::Integer(*ns),
        Value::List(_) | Value::Map(_) => SqlValue::Text(value.to_json().to_string()),
    })
}

fn from_sql(value: ValueRef<'_>) -> Result<Value> {
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Float(f),
        ValueRef::Text(bytes) => Value::Text(
            std::str::from_utf8(bytes)
                .map_err(|err| {
                    StoreError::backend_with("column holds text that is not UTF-8", err)
                })?
                .to_owned(),
        ),
        ValueRef::Blob(bytes) => Value::Bytes(bytes.to_vec()),
    })
}

/// Runs a bound statement and reads every row into [`Rows`].
pub(crate) fn read_rows(stmt: &mut Statement<'_>) -> Result<Rows> {
    read_rows_at_most(stmt, usize::MAX)
}

/// Runs a bound statement and reads its first `max_rows` rows into [`Rows`]; SQLite computes
/// no row past them (the statement is reset when the rows are dropped).
pub(crate) fn read_rows_at_most(stmt: &mut Statement<'_>, max_rows: usize) -> Result<Rows> {
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let width = columns.len();
    let mut rows = Vec::new();
    let mut raw = stmt.raw_query();
    while rows.len() < max_rows {
        let Some(row) = raw.next().map_err(map_error)? else {
            break;
        };
        let mut values = Vec::with_capacity(width);
        for index in 0..width {
            values.push(from_sql(row.get_ref(index).map_err(map_error)?)?);
        }
        rows.push(values);
    }
    Ok(Rows { columns, rows })
}

/// Maps a SQLite error to the [`StoreError`] kind the layers above act on.
pub(crate) fn map_error(err: rusqlite::Error) -> StoreError {
    match &err {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let message = message.clone().unwrap_or_else(|| failure.to_string());
            match failure.code {
                ErrorCode::ConstraintViolation => StoreError::Conflict {
                    message,
                    source: Some(err.into()),
                },
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Unavailable {
                    message,
                    source: Some(err.into()),
                },
                ErrorCode::Unknown | ErrorCode::TypeMismatch | ErrorCode::ParameterOutOfRange => {
                    StoreError::InvalidRequest {
                        message,
                        source: Some(err.into()),
                    }
                }
                _ => StoreError::Backend {
                    message,
                    source: Some(err.into()),
                },
            }
        }
        rusqlite::Error::SqlInputError { msg, sql, .. } => StoreError::InvalidRequest {
            message: format!("{msg} in `{sql}`"),
            source: Some(err.into()),
        },
        rusqlite::Error::InvalidParameterCount(..)
        | rusqlite::Error::InvalidParameterName(_)
        | rusqlite::Error::MultipleStatement
        | rusqlite::Error::InvalidColumnName(_)
        | rusqlite::Error::InvalidColumnIndex(_) => StoreError::InvalidRequest {
            message: err.to_string(),
            source: Some(err.into()),
        },
        _ => StoreError::Backend {
            message: err.to_string(),
            source: Some(err.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn query(conn: &Connection, sql: &str, params: &[Value]) -> Result<Rows> {
        let mut stmt = conn.prepare(sql).map_err(map_error)?;
        bind_params(&mut stmt, params)?;
        read_rows(&mut stmt)
    }

    #[test]
    fn dollar_parameters_bind_by_number() {
        let conn = Connection::open_in_memory().unwrap();
        let rows = query(
            &conn,
            "SELECT $2 AS b, $1 AS a, $2 AS b2",
            &[Value::Int(1), "two".into()],
        )
        .unwrap();
        assert_eq!(
            rows.rows,
            vec![vec![
                Value::Text("two".into()),
                Value::Int(1),
                Value::Text("two".into())
            ]]
        );
        assert_eq!(rows.columns, vec!["b", "a", "b2"]);
    }

    #[test]
    fn parameter_count_mismatch_is_invalid() {
        let conn = Connection::open_in_memory().unwrap();
        let err = query(&conn, "SELECT $1", &[]).unwrap_err();
        assert!(matches!(err, StoreError::InvalidRequest { .. }), "{err}");
        let err = query(&conn, "SELECT $1", &[Value::Int(1), Value::Int(2)]).unwrap_err();
        assert!(matches!(err, StoreError::InvalidRequest { .. }), "{err}");
        let err = query(&conn, "SELECT :name", &[Value::Int(1)]).unwrap_err();
        assert!(err.to_string().contains("$1"), "{err}");
    }

    #[test]
    fn syntax_errors_are_invalid_requests() {
        let conn = Connection::open_in_memory().unwrap();
        let err = query(&conn, "SELEC 1", &[]).unwrap_err();
        assert!(matches!(err, StoreError::InvalidRequest { .. }), "{err}");
    }
}
