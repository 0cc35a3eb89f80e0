//! [`Change`]: one entry of the outbox, and the conversions between rows, JSON and `Value`s.

use polyroute_adapters::kinds::document::Document;
use polyroute_adapters::kinds::relational::Rows;
use polyroute_adapters::{Result, StoreError, Value};

/// What a change did to its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// The row was inserted or updated; the change carries it whole.
    Put,
    /// The row was deleted.
    Delete,
}

impl Op {
    /// `put` or `delete`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::Delete => "delete",
        }
    }

    fn parse(text: &str) -> Result<Op> {
        match text {
            "put" => Ok(Op::Put),
            "delete" => Ok(Op::Delete),
            other => Err(StoreError::backend(format!(
                "outbox holds unknown op `{other}`"
            ))),
        }
    }
}

/// One change of a record entity, as the outbox holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// Its sequence number: increasing per entity, in commit order.
    pub seq: u64,
    /// The row's key, as text (the derived records' id).
    pub key: String,
    /// Put or delete.
    pub op: Op,
    /// The row after a put, as a JSON object; `None` for a delete.
    pub row: Option<Document>,
}

impl Change {
    /// Reads changes from `seq, record_key, op, body` rows.
    pub(crate) fn from_rows(rows: &Rows) -> Result<Vec<Change>> {
        rows.rows
            .iter()
            .map(|row| {
                let seq = row
                    .first()
                    .and_then(Value::as_i64)
                    .ok_or_else(|| bad("seq"))?;
                let key = row
                    .get(1)
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("record_key"))?;
                let op = Op::parse(
                    row.get(2)
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("op"))?,
                )?;
                let row = match row.get(3).and_then(Value::as_str) {
                    Some(body) => match serde_json::from_str(body) {
                        Ok(serde_json::Value::Object(map)) => Some(map),
                        _ => return Err(bad("body")),
                    },
                    None => None,
                };
                Ok(Change {
                    seq: u64::try_from(seq).map_err(|_| bad("seq"))?,
                    key: key.to_owned(),
                    op,
                    row,
                })
            })
            .collect()
    }
}

fn bad(column: &str) -> StoreError {
    StoreError::backend(format!("outbox row has a malformed `{column}`"))
}

/// The text form of a key: text as is, integers in decimal.
pub(crate) fn key_text(key: &Value) -> Result<String> {
    match key {
        Value::Text(text) if !text.is_empty() => Ok(text.clone()),
        Value::Int(n) => Ok(n.to_string()),
        other => Err(StoreError::invalid(format!(
            "a record key must be non-empty text or an integer, not {}",
            other.type_name()
        ))),
    }
}

/// The first row of `rows` as a JSON object (`None` when there is none).
pub(crate) fn first_row(rows: &Rows) -> Option<Document> {
    let row = rows.rows.first()?;
    Some(
        rows.columns
            .iter()
            .zip(row)
            .map(|(column, value)| (column.clone(), value.to_json()))
            .collect(),
    )
}

/// An `i64` sequence parameter.
pub(crate) fn seq_value(seq: u64) -> Value {
    Value::Int(i64::try_from(seq).unwrap_or(i64::MAX))
}

/// The first column of the first row as a sequence number (0 when absent or null).
pub(crate) fn first_u64(rows: &Rows) -> u64 {
    rows.rows
        .first()
        .and_then(|row| row.first())
        .and_then(Value::as_i64)
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

/// Unix time in milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_rows_become_changes() {
        let rows = Rows {
            columns: vec![
                "seq".into(),
                "record_key".into(),
                "op".into(),
                "body".into(),
            ],
            rows: vec![
                vec![
                    Value::Int(3),
                    "k1".into(),
                    "put".into(),
                    r#"{"id":"k1","n":2}"#.into(),
                ],
                vec![Value::Int(4), "k1".into(), "delete".into(), Value::Null],
            ],
        };
        let changes = Change::from_rows(&rows).unwrap();
        assert_eq!(changes[0].seq, 3);
        assert_eq!(changes[0].op, Op::Put);
        assert_eq!(changes[0].row.as_ref().unwrap()["n"], 2);
        assert_eq!(changes[1].op, Op::Delete);
        assert!(changes[1].row.is_none());
        let broken = Rows {
            columns: rows.columns.clone(),
            rows: vec![vec![
                Value::Int(1),
                "k".into(),
                "upsert".into(),
                Value::Null,
            ]],
        };
        assert!(Change::from_rows(&broken).is_err());
    }

    #[test]
    fn keys_are_text_or_integers() {
        assert_eq!(key_text(&Value::Int(7)).unwrap(), "7");
        assert_eq!(key_text(&"a".into()).unwrap(), "a");
        assert!(key_text(&Value::Float(1.5)).is_err());
        assert!(key_text(&"".into()).is_err());
    }
}
