//! Replay of a time-series write-ahead log: any bytes give the operations of a good prefix and
//! its length, never a panic. Inputs are built as well-framed records (so the record decoder is
//! reached past the checksum) followed by an arbitrary tail; replay must read back exactly the
//! records written with the encoder, stop at the first bad one, and its prefix must replay to
//! the same operations.

#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use polyroute::time_series::{FieldValue, Point};
use polyroute_adapters::embedded::time_series::fuzzing::{
    ts_wal_delete_record, ts_wal_frame, ts_wal_replay, ts_wal_write_record, WalOp,
};

#[derive(Arbitrary, Debug)]
enum Field {
    Float(u64),
    Int(i64),
    Bool(bool),
    Text(String),
}

#[derive(Arbitrary, Debug)]
struct ArbPoint {
    measurement: String,
    tags: Vec<(String, String)>,
    fields: Vec<(String, Field)>,
    timestamp: i64,
}

#[derive(Arbitrary, Debug)]
enum Record {
    /// A record written by the encoder.
    Write(Vec<ArbPoint>),
    /// A delete written by the encoder.
    Delete(i64),
    /// Any payload, framed with a correct length and checksum.
    Framed(Vec<u8>),
    /// Raw bytes.
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    records: Vec<Record>,
    /// Raw bytes: the whole log, replayed on its own first.
    raw: Vec<u8>,
}

fn point(p: ArbPoint) -> Point {
    Point {
        measurement: p.measurement,
        tags: p.tags.into_iter().collect(),
        fields: p
            .fields
            .into_iter()
            .map(|(name, field)| {
                let value = match field {
                    Field::Float(bits) => FieldValue::Float(f64::from_bits(bits)),
                    Field::Int(i) => FieldValue::Int(i),
                    Field::Bool(b) => FieldValue::Bool(b),
                    Field::Text(s) => FieldValue::Text(s),
                };
                (name, value)
            })
            .collect::<BTreeMap<_, _>>(),
        timestamp: p.timestamp,
    }
}

/// Operation equality with floats compared by their bits (NaN payloads must survive).
fn same(a: &WalOp, b: &WalOp) -> bool {
    match (a, b) {
        (WalOp::DeleteBefore(x), WalOp::DeleteBefore(y)) => x == y,
        (WalOp::Write(x), WalOp::Write(y)) => {
            x.len() == y.len()
                && x.iter().zip(y).all(|(p, q)| {
                    p.measurement == q.measurement
                        && p.tags == q.tags
                        && p.timestamp == q.timestamp
                        && p.fields.len() == q.fields.len()
                        && p.fields.iter().zip(&q.fields).all(|((n, v), (m, w))| {
                            n == m
                                && match (v, w) {
                                    (FieldValue::Float(v), FieldValue::Float(w)) => {
                                        v.to_bits() == w.to_bits()
                                    }
                                    _ => v == w,
                                }
                        })
                })
        }
        _ => false,
    }
}

fuzz_target!(|input: Input| {
    let (ops, good) = ts_wal_replay(&input.raw);
    assert!(
        good <= input.raw.len(),
        "the good prefix is longer than the log"
    );
    assert_eq!(
        ts_wal_replay(&input.raw[..good]).1,
        good,
        "the good prefix is not good"
    );
    assert!(ops.len() <= good / 8, "more operations than record headers");

    let mut log = Vec::new();
    // The operations a correct replay must return: those of the encoder's records up to the
    // first record that is not one.
    let mut expected = Vec::new();
    let mut expected_len = Some(0);
    for record in input.records {
        let (bytes, op) = match record {
            Record::Write(points) => {
                let points: Vec<Point> = points.into_iter().map(point).collect();
                (ts_wal_write_record(&points), Some(WalOp::Write(points)))
            }
            Record::Delete(before) => (
                ts_wal_delete_record(before),
                Some(WalOp::DeleteBefore(before)),
            ),
            Record::Framed(payload) => (ts_wal_frame(&payload), None),
            Record::Raw(bytes) => (bytes, None),
        };
        log.extend_from_slice(&bytes);
        match (op, expected_len) {
            (Some(op), Some(len)) => {
                expected.push(op);
                expected_len = Some(len + bytes.len());
            }
            _ => expected_len = None,
        }
    }
    let (ops, good) = ts_wal_replay(&log);
    assert!(good <= log.len());
    assert!(
        ops.len() >= expected.len(),
        "replay lost records the encoder wrote: {} of {}",
        ops.len(),
        expected.len()
    );
    for (got, want) in ops.iter().zip(&expected) {
        assert!(
            same(got, want),
            "replay changed a record: {got:?} != {want:?}"
        );
    }
    if let Some(len) = expected_len {
        assert_eq!(good, len, "a log of encoder records only must replay whole");
        assert_eq!(ops.len(), expected.len());
    }
    let (again, again_good) = ts_wal_replay(&log[..good]);
    assert_eq!(again_good, good, "the good prefix is not good");
    assert_eq!(
        again.len(),
        ops.len(),
        "the good prefix replays differently"
    );
});
