//! The write-ahead log of one entity: every write and delete is appended (and, with
//! `synchronous = "full"`, fsynced) before it is applied, and replayed on open.
//!
//! A record is `length (u32 LE) | crc32 of payload (u32 LE) | payload`. Replay stops at the first
//! record that is truncated or fails its checksum, the tail a crash mid-append leaves, and cuts
//! the file there so new records follow the last good one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::block::FieldType;
use super::codec::{put_bytes, put_uvarint, put_varint, Corrupt, Decoded, Reader};
use crate::kinds::time_series::{FieldValue, Point};

/// One logged operation.
#[derive(Debug, PartialEq)]
pub(crate) enum Op {
    Write(Vec<Point>),
    DeleteBefore(i64),
}

const WRITE: u8 = 1;
const DELETE_BEFORE: u8 = 2;

impl Op {
    /// The record of this operation, framed and checksummed.
    pub(crate) fn write_record(points: &[Point]) -> Vec<u8> {
        let mut payload = Vec::with_capacity(64 * points.len());
        payload.push(WRITE);
        put_uvarint(&mut payload, points.len() as u64);
        for point in points {
            put_bytes(&mut payload, point.measurement.as_bytes());
            put_uvarint(&mut payload, point.tags.len() as u64);
            for (k, v) in &point.tags {
                put_bytes(&mut payload, k.as_bytes());
                put_bytes(&mut payload, v.as_bytes());
            }
            put_uvarint(&mut payload, point.fields.len() as u64);
            for (name, value) in &point.fields {
                put_bytes(&mut payload, name.as_bytes());
                payload.push(FieldType::of(value) as u8);
                match value {
                    FieldValue::Float(f) => payload.extend_from_slice(&f.to_bits().to_le_bytes()),
                    FieldValue::Int(i) => put_varint(&mut payload, *i),
                    FieldValue::Bool(b) => payload.push(u8::from(*b)),
                    FieldValue::Text(s) => put_bytes(&mut payload, s.as_bytes()),
                }
            }
            put_varint(&mut payload, point.timestamp);
        }
        frame(payload)
    }

    pub(crate) fn delete_record(before: i64) -> Vec<u8> {
        let mut payload = vec![DELETE_BEFORE];
        put_varint(&mut payload, before);
        frame(payload)
    }

    fn decode(payload: &[u8]) -> Decoded<Op> {
        let mut r = Reader::new(payload);
        let op = match r.u8()? {
            WRITE => {
                let n = r.len()?;
                let mut points = Vec::with_capacity(n);
                for _ in 0..n {
                    let measurement = r.string()?;
                    let tags = (0..r.len()?)
                        .map(|_| Ok((r.string()?, r.string()?)))
                        .collect::<Decoded<_>>()?;
                    let fields = (0..r.len()?)
                        .map(|_| {
                            let name = r.string()?;
                            let value = match FieldType::from_byte(r.u8()?)? {
                                FieldType::Float => {
                                    let bytes: [u8; 8] =
                                        r.take(8)?.try_into().map_err(|_| Corrupt)?;
                                    FieldValue::Float(f64::from_bits(u64::from_le_bytes(bytes)))
                                }
                                FieldType::Int => FieldValue::Int(r.varint()?),
                                FieldType::Bool => FieldValue::Bool(r.u8()? != 0),
                                FieldType::Text => FieldValue::Text(r.string()?),
                            };
                            Ok((name, value))
                        })
                        .collect::<Decoded<_>>()?;
                    let timestamp = r.varint()?;
                    points.push(Point {
                        measurement,
                        tags,
                        fields,
                        timestamp,
                    });
                }
                Op::Write(points)
            }
            DELETE_BEFORE => Op::DeleteBefore(r.varint()?),
            _ => return Err(Corrupt),
        };
        if r.is_empty() {
            Ok(op)
        } else {
            Err(Corrupt)
        }
    }
}

pub(crate) fn frame(payload: Vec<u8>) -> Vec<u8> {
    let mut record = Vec::with_capacity(payload.len() + 8);
    record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    record.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    record.extend_from_slice(&payload);
    record
}

/// An open log file, positioned at its end.
#[derive(Debug)]
pub(crate) struct Wal {
    file: File,
    len: u64,
    sync: bool,
}

impl Wal {
    /// Opens (creating) the log at `path` and reads back its operations.
    pub(crate) fn open(path: &Path, sync: bool) -> std::io::Result<(Wal, Vec<Op>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (ops, good) = replay(&bytes);
        if good < bytes.len() {
            file.set_len(good as u64)?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::Start(good as u64))?;
        Ok((
            Wal {
                file,
                len: good as u64,
                sync,
            },
            ops,
        ))
    }

    /// Appends a record; fsyncs it when the store is `synchronous = "full"`.
    pub(crate) fn append(&mut self, record: &[u8]) -> std::io::Result<()> {
        let result = self.file.write_all(record).and_then(|()| {
            if self.sync {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        match result {
            Ok(()) => {
                self.len += record.len() as u64;
                Ok(())
            }
            Err(err) => {
                // Cut a partial record so the next append does not follow garbage.
                let _ = self.file.set_len(self.len);
                let _ = self.file.seek(SeekFrom::Start(self.len));
                Err(err)
            }
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Empties the log once its operations are in segment files.
    pub(crate) fn reset(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        if self.sync {
            self.file.sync_all()?;
        }
        self.len = 0;
        Ok(())
    }
}

/// The operations of the good prefix of `bytes`, and that prefix's length.
pub(crate) fn replay(bytes: &[u8]) -> (Vec<Op>, usize) {
    let mut ops = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + 8) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Ok(op) = Op::decode(payload) else { break };
        ops.push(op);
        at += 8 + len;
    }
    (ops, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(ts: i64) -> Point {
        Point {
            measurement: "cpu".into(),
            tags: [("host".to_owned(), "a".to_owned())].into(),
            fields: [
                ("f".to_owned(), FieldValue::Float(-0.0)),
                ("i".to_owned(), FieldValue::Int(i64::MIN)),
                ("b".to_owned(), FieldValue::Bool(true)),
                ("s".to_owned(), FieldValue::Text("☃".into())),
            ]
            .into(),
            timestamp: ts,
        }
    }

    #[test]
    fn replay_reads_records_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, ops) = Wal::open(&path, true).unwrap();
        assert!(ops.is_empty());
        wal.append(&Op::write_record(&[point(1), point(i64::MAX)]))
            .unwrap();
        wal.append(&Op::delete_record(-7)).unwrap();
        let good = wal.len();
        // A torn third record.
        wal.append(&Op::write_record(&[point(3)])[..10]).unwrap();
        drop(wal);
        let (mut wal, ops) = Wal::open(&path, true).unwrap();
        assert_eq!(
            ops,
            vec![
                Op::Write(vec![point(1), point(i64::MAX)]),
                Op::DeleteBefore(-7)
            ]
        );
        assert_eq!(wal.len(), good);
        wal.append(&Op::write_record(&[point(4)])).unwrap();
        drop(wal);
        let (mut wal, ops) = Wal::open(&path, true).unwrap();
        assert_eq!(ops.len(), 3);
        wal.reset().unwrap();
        drop(wal);
        assert!(Wal::open(&path, true).unwrap().1.is_empty());
    }

    #[test]
    fn a_flipped_bit_ends_replay() {
        let mut bytes = Op::write_record(&[point(1)]);
        bytes.extend(Op::write_record(&[point(2)]));
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let (ops, good) = replay(&bytes);
        assert_eq!(ops.len(), 1);
        assert_eq!(good, Op::write_record(&[point(1)]).len());
    }
}
