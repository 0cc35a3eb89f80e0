//! Topology changes as records of the entity's change log.
//!
//! Every write that changes the topology appends one record (a large batch, a few) to the
//! entity's `log` partition, in the same fjall transaction as the node records and edge
//! properties it writes, so the log and the rest commit together. Opening an entity reads the
//! last checkpoint ([`super::file`]) and replays the records after it. Records name nodes and
//! labels by their interned numbers: numbers are handed out in log order (a write that fails
//! to commit hands its numbers back), so a replay gives every name the number it had.
//!
//! A record is a version byte, then operations, each a tag byte and its fields, integers
//! little-endian.

use crate::{Result, StoreError};

/// The record format written today.
const VERSION: u8 = 1;

/// Operations per record: a batch of more is split over several, keeping values small.
pub(in crate::embedded::graph) const OPS_PER_RECORD: usize = 1 << 16;

/// One change to the topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::embedded::graph) enum Op {
    /// A node name was interned (it takes the next number) and the node exists.
    NewNode(Box<str>),
    /// Node `n`, interned before, exists again.
    Node(u32),
    /// Node `n` and every edge touching it are gone.
    Unnode(u32),
    /// A label name was interned; it takes the next number.
    NewLabel(Box<str>),
    /// Edge `(from, label, to)` exists.
    Edge(u32, u32, u32),
    /// Edge `(from, label, to)` is gone.
    Unedge(u32, u32, u32),
}

const NEW_NODE: u8 = 1;
const NODE: u8 = 2;
const UNNODE: u8 = 3;
const NEW_LABEL: u8 = 4;
const EDGE: u8 = 5;
const UNEDGE: u8 = 6;

/// Encodes `ops` as one record.
pub(in crate::embedded::graph) fn encode(ops: &[Op]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + ops.len() * 13);
    bytes.push(VERSION);
    for op in ops {
        match op {
            Op::NewNode(name) | Op::NewLabel(name) => {
                bytes.push(if matches!(op, Op::NewNode(_)) {
                    NEW_NODE
                } else {
                    NEW_LABEL
                });
                bytes.extend_from_slice(&(name.len() as u32).to_le_bytes());
                bytes.extend_from_slice(name.as_bytes());
            }
            Op::Node(n) | Op::Unnode(n) => {
                bytes.push(if matches!(op, Op::Node(_)) {
                    NODE
                } else {
                    UNNODE
                });
                bytes.extend_from_slice(&n.to_le_bytes());
            }
            Op::Edge(from, label, to) | Op::Unedge(from, label, to) => {
                bytes.push(if matches!(op, Op::Edge(..)) {
                    EDGE
                } else {
                    UNEDGE
                });
                for n in [from, label, to] {
                    bytes.extend_from_slice(&n.to_le_bytes());
                }
            }
        }
    }
    bytes
}

/// Reads a record back, calling `apply` with each operation in order.
pub(in crate::embedded::graph) fn decode(
    mut bytes: &[u8],
    mut apply: impl FnMut(Op) -> Result<()>,
) -> Result<()> {
    let damaged = || StoreError::backend("a graph change-log record is damaged");
    match bytes.split_first() {
        Some((&VERSION, rest)) => bytes = rest,
        Some((version, _)) => {
            return Err(StoreError::backend(format!(
                "a graph change-log record has format version {version}; this build reads version {VERSION}"
            )))
        }
        None => return Err(damaged()),
    }
    let u32_at = |bytes: &mut &[u8]| -> Result<u32> {
        let (head, rest) = bytes.split_first_chunk::<4>().ok_or_else(damaged)?;
        *bytes = rest;
        Ok(u32::from_le_bytes(*head))
    };
    while let Some((&tag, rest)) = bytes.split_first() {
        bytes = rest;
        let op = match tag {
            NEW_NODE | NEW_LABEL => {
                let len = u32_at(&mut bytes)? as usize;
                if bytes.len() < len {
                    return Err(damaged());
                }
                let (name, rest) = bytes.split_at(len);
                bytes = rest;
                let name = std::str::from_utf8(name).map_err(|_| damaged())?.into();
                if tag == NEW_NODE {
                    Op::NewNode(name)
                } else {
                    Op::NewLabel(name)
                }
            }
            NODE => Op::Node(u32_at(&mut bytes)?),
            UNNODE => Op::Unnode(u32_at(&mut bytes)?),
            EDGE | UNEDGE => {
                let (from, label, to) = (
                    u32_at(&mut bytes)?,
                    u32_at(&mut bytes)?,
                    u32_at(&mut bytes)?,
                );
                if tag == EDGE {
                    Op::Edge(from, label, to)
                } else {
                    Op::Unedge(from, label, to)
                }
            }
            _ => return Err(damaged()),
        };
        apply(op)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_as_written_and_damage_is_an_error() {
        let ops = vec![
            Op::NewNode("a".into()),
            Op::NewNode("ß".into()),
            Op::NewLabel("knows".into()),
            Op::Edge(0, 0, 1),
            Op::Unedge(0, 0, 1),
            Op::Unnode(1),
            Op::Node(1),
        ];
        let bytes = encode(&ops);
        let mut back = Vec::new();
        decode(&bytes, |op| {
            back.push(op);
            Ok(())
        })
        .unwrap();
        assert_eq!(back, ops);
        for cut in 1..bytes.len() {
            let partial = decode(&bytes[..cut], |_| Ok(()));
            // A cut between two operations is a shorter valid record; any other is damage.
            if let Err(err) = partial {
                assert!(err.to_string().contains("damaged"), "{err}");
            }
        }
        assert!(decode(&[9], |_| Ok(())).is_err());
        assert!(decode(&[VERSION, 77], |_| Ok(())).is_err());
    }
}
