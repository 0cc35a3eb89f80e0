//! Entry points into the time-series engine's codecs, blocks, segment files and write-ahead
//! log for the fuzz targets under `fuzz/`.
//!
//! Built only with the `fuzzing` cargo feature, hidden from the docs and not an API: each
//! function is a thin wrapper that lets a fuzz target feed arbitrary bytes (or structured
//! values) to code that files reach, without making that code public.

use std::collections::BTreeMap;

use super::block::{Block, Values};
use super::chunk::Span;
use super::codec::{self, Reader};
use super::series::Index;
use super::{segment, wal};
use crate::kinds::time_series::{FieldValue, Point};

/// Decodes `n` delta-of-delta timestamps from `bytes`; `None` when they are corrupt.
pub fn ts_decode_timestamps(bytes: &[u8], n: usize) -> Option<Vec<i64>> {
    codec::decode_timestamps(bytes, n).ok()
}

/// Encodes timestamps as the time-series engine stores them.
pub fn ts_encode_timestamps(values: &[i64]) -> Vec<u8> {
    codec::encode_timestamps(values)
}

/// Decodes `n` delta-encoded integers from `bytes`; `None` when they are corrupt.
pub fn ts_decode_ints(bytes: &[u8], n: usize) -> Option<Vec<i64>> {
    codec::decode_ints(bytes, n).ok()
}

/// Encodes integers as the time-series engine stores them.
pub fn ts_encode_ints(values: &[i64]) -> Vec<u8> {
    codec::encode_ints(values)
}

/// Decodes `n` Gorilla-compressed floats from `bytes`; `None` when they are corrupt.
pub fn ts_decode_floats(bytes: &[u8], n: usize) -> Option<Vec<f64>> {
    codec::decode_floats(bytes, n).ok()
}

/// Encodes floats as the time-series engine stores them.
pub fn ts_encode_floats(values: &[f64]) -> Vec<u8> {
    codec::encode_floats(values)
}

/// Decodes `n` bit-packed booleans from `bytes`; `None` when they are corrupt.
pub fn ts_decode_bools(bytes: &[u8], n: usize) -> Option<Vec<bool>> {
    codec::decode_bools(bytes, n).ok()
}

/// Encodes booleans as the time-series engine stores them.
pub fn ts_encode_bools(values: &[bool]) -> Vec<u8> {
    codec::encode_bools(values)
}

/// Decodes `n` length-prefixed strings from `bytes`; `None` when they are corrupt.
pub fn ts_decode_strings(bytes: &[u8], n: usize) -> Option<Vec<String>> {
    codec::decode_strings(bytes, n).ok()
}

/// Encodes strings as the time-series engine stores them.
pub fn ts_encode_strings(values: &[String]) -> Vec<u8> {
    codec::encode_strings(values)
}

/// Reads one sealed block from `bytes` and decodes its timestamps and every column, as a read
/// of a segment file does; `None` when the block is corrupt.
pub fn ts_decode_block(bytes: &[u8]) -> Option<(Vec<i64>, BTreeMap<String, Values>)> {
    let block = Block::read(&mut Reader::new(bytes)).ok()?;
    let timestamps = block.timestamps().ok()?;
    let names: Vec<String> = block.field_names().map(str::to_owned).collect();
    for name in &names {
        block.numbers(name).ok()?;
    }
    Some((timestamps, block.columns().ok()?))
}

/// Seals rows (timestamps ascending and distinct, each column aligned with them) into a block,
/// writes it to bytes, reads it back and decodes it: the round trip a segment file makes.
/// `None` when there are no rows or the bytes written do not read back.
pub fn ts_block_round_trip(
    timestamps: &[i64],
    fields: &BTreeMap<String, Values>,
) -> Option<(Vec<i64>, BTreeMap<String, Values>)> {
    let block = Block::encode(timestamps, fields)?;
    let mut bytes = Vec::new();
    block.write(&mut bytes);
    ts_decode_block(&bytes)
}

/// Decodes a segment file whose body is `body` (the checksum is appended here, so the body is
/// what gets tested), then reads every series of it the ways queries and checkpoints do:
/// every row, each field as numbers, the newest row, a re-seal and a delete. `None` when the
/// file is corrupt or a read reports it corrupt.
pub fn ts_decode_segment(body: &[u8], cut: i64) -> Option<usize> {
    let mut bytes = body.to_vec();
    bytes.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    let mut index = Index::default();
    let mut partition = segment::decode(&bytes, &mut index).ok()?;
    let mut rows = 0;
    for chunk in partition.chunks.values_mut() {
        let all = chunk.read(&Span::ALL, &[]).ok()?;
        rows += all.timestamps.len();
        let names: Vec<String> = chunk
            .blocks()
            .iter()
            .flat_map(|block| block.field_names().map(str::to_owned))
            .collect();
        for name in &names {
            chunk.read(&Span::ALL, std::slice::from_ref(name)).ok()?;
            chunk.fold(&Span::ALL, name, |_, _| {}).ok()?;
        }
        if let Some(span) = Span::half_open(i64::MIN, cut) {
            chunk.read(&span, &[]).ok()?;
        }
        chunk.last().ok()?;
        chunk.push(cut, BTreeMap::from([("f".to_owned(), FieldValue::Int(1))]));
        chunk.seal().ok()?;
        chunk.delete_before(cut).ok()?;
    }
    Some(rows)
}

/// One operation read back from a time-series write-ahead log.
#[derive(Debug, PartialEq)]
pub enum WalOp {
    /// A batch of points written.
    Write(Vec<Point>),
    /// Points before this timestamp deleted.
    DeleteBefore(i64),
}

/// Replays a write-ahead log held in `bytes`: the operations of its good prefix and that
/// prefix's length, as opening the log does before it cuts the rest.
pub fn ts_wal_replay(bytes: &[u8]) -> (Vec<WalOp>, usize) {
    let (ops, good) = wal::replay(bytes);
    let ops = ops
        .into_iter()
        .map(|op| match op {
            wal::Op::Write(points) => WalOp::Write(points),
            wal::Op::DeleteBefore(t) => WalOp::DeleteBefore(t),
        })
        .collect();
    (ops, good)
}

/// Frames `payload` as one log record (length and checksum), so a fuzz target can reach the
/// record decoder past the checksum.
pub fn ts_wal_frame(payload: &[u8]) -> Vec<u8> {
    wal::frame(payload.to_vec())
}

/// The log record of a write of `points`.
pub fn ts_wal_write_record(points: &[Point]) -> Vec<u8> {
    wal::Op::write_record(points)
}

/// The log record of a delete of the points before `before`.
pub fn ts_wal_delete_record(before: i64) -> Vec<u8> {
    wal::Op::delete_record(before)
}
