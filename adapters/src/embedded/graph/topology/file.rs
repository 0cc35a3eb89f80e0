//! Checkpoints: an entity's whole topology in one file, so opening it reads arrays back instead
//! of rebuilding them, and its change log can be cut.
//!
//! A checkpoint holds the node and label names in number order, which nodes are alive, and both
//! directions' compressed sparse rows, as of one change-log position. It is written to a
//! temporary name, flushed to disk, renamed into place and the folder flushed, and only then
//! recorded in the store's metadata (with the log records it covers removed in the same
//! commit): a crash at any point leaves either the previous checkpoint and the whole log, or
//! the new one and the rest. Files that no metadata names are leftovers of such a crash and
//! removed at open.
//!
//! Layout, integers little-endian: magic, log position, names (count, then length-prefixed
//! UTF-8), labels (the same), alive bits (64 per word), the `out` and `in` rows (row count,
//! offsets, link count, other ends, label mode and labels), then a CRC-32 of everything before
//! it, so a damaged file is refused, never half read.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::csr::{BaseLabels, Csr};
use crate::{Result, StoreError};

const MAGIC: &[u8; 8] = b"PRGRAPH1";

/// What a checkpoint holds, ready to write: names already encoded, so taking one under the
/// topology's lock is a few copies.
pub(in crate::embedded::graph) struct Checkpoint {
    /// The last change-log position it includes.
    pub seq: u64,
    pub nodes: Names,
    pub labels: Names,
    /// One bit per node number.
    pub alive: Vec<u64>,
    pub out: Arc<Csr>,
    pub into: Arc<Csr>,
}

/// Names in number order, encoded: count, then each as a length and bytes.
#[derive(Default)]
pub(in crate::embedded::graph) struct Names {
    pub count: u64,
    pub bytes: Vec<u8>,
}

impl Names {
    /// Encodes `names`.
    pub(in crate::embedded::graph) fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut encoded = Names::default();
        for name in names {
            encoded.count += 1;
            encoded
                .bytes
                .extend_from_slice(&(name.len() as u32).to_le_bytes());
            encoded.bytes.extend_from_slice(name.as_bytes());
        }
        encoded
    }
}

/// A checkpoint read back.
pub(in crate::embedded::graph) struct Loaded {
    pub seq: u64,
    pub nodes: Vec<Box<str>>,
    pub labels: Vec<Box<str>>,
    pub alive: Vec<bool>,
    pub out: Csr,
    pub into: Csr,
}

/// The file of checkpoint `generation` of entity `entity` in `folder`.
pub(in crate::embedded::graph) fn path(folder: &Path, entity: &str, generation: u64) -> PathBuf {
    folder.join(format!("{entity}.{generation}.topology"))
}

fn io_error(what: &str, path: &Path, err: std::io::Error) -> StoreError {
    StoreError::backend_with(
        format!("cannot {what} graph checkpoint {}", path.display()),
        err,
    )
}

/// A writer that keeps the CRC-32 of what passes through it.
struct Summed<W: Write> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for Summed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.crc.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn put_u32s(out: &mut impl Write, values: &[u32]) -> std::io::Result<()> {
    for chunk in values.chunks(1 << 14) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
        out.write_all(&bytes)?;
    }
    Ok(())
}

fn put_csr(out: &mut impl Write, csr: &Csr) -> std::io::Result<()> {
    out.write_all(&(csr.offsets.len() as u64).to_le_bytes())?;
    for chunk in csr.offsets.chunks(1 << 13) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
        out.write_all(&bytes)?;
    }
    out.write_all(&(csr.others.len() as u64).to_le_bytes())?;
    put_u32s(out, &csr.others)?;
    match &csr.labels {
        BaseLabels::Uniform(label) => {
            out.write_all(&[0])?;
            out.write_all(&label.to_le_bytes())
        }
        BaseLabels::PerLink(labels) => {
            out.write_all(&[1])?;
            put_u32s(out, labels)
        }
    }
}

/// Writes `checkpoint` as generation `generation` of `entity`, durably, and returns its path.
pub(in crate::embedded::graph) fn write(
    folder: &Path,
    entity: &str,
    generation: u64,
    checkpoint: &Checkpoint,
) -> Result<PathBuf> {
    let target = path(folder, entity, generation);
    let temporary = target.with_extension("partial");
    let written = (|| -> std::io::Result<()> {
        fs::create_dir_all(folder)?;
        let file = fs::File::create(&temporary)?;
        let mut out = Summed {
            inner: BufWriter::with_capacity(1 << 20, file),
            crc: crc32fast::Hasher::new(),
        };
        out.write_all(MAGIC)?;
        out.write_all(&checkpoint.seq.to_le_bytes())?;
        for names in [&checkpoint.nodes, &checkpoint.labels] {
            out.write_all(&names.count.to_le_bytes())?;
            out.write_all(&names.bytes)?;
        }
        out.write_all(&(checkpoint.alive.len() as u64).to_le_bytes())?;
        for word in &checkpoint.alive {
            out.write_all(&word.to_le_bytes())?;
        }
        put_csr(&mut out, &checkpoint.out)?;
        put_csr(&mut out, &checkpoint.into)?;
        let crc = out.crc.clone().finalize();
        let mut inner = out.inner;
        inner.write_all(&crc.to_le_bytes())?;
        let file = inner.into_inner().map_err(|err| err.into_error())?;
        file.sync_all()?;
        fs::rename(&temporary, &target)?;
        fs::File::open(folder)?.sync_all()
    })();
    written.map_err(|err| io_error("write", &target, err))?;
    Ok(target)
}

/// Reads a checkpoint back, checking it whole.
pub(in crate::embedded::graph) fn read(path: &Path) -> Result<Loaded> {
    let bytes = fs::read(path).map_err(|err| io_error("read", path, err))?;
    let damaged = || {
        StoreError::backend(format!(
            "graph checkpoint {} is damaged; the graph cannot be opened from it",
            path.display()
        ))
    };
    let (body, crc) = bytes.split_last_chunk::<4>().ok_or_else(damaged)?;
    if crc32fast::hash(body) != u32::from_le_bytes(*crc) {
        return Err(damaged());
    }
    let mut input = Reader(body);
    if input.take(8).ok_or_else(damaged)? != MAGIC {
        return Err(damaged());
    }
    let parse = |input: &mut Reader<'_>| -> Option<Loaded> {
        let seq = input.u64()?;
        let nodes = input.names()?;
        let labels = input.names()?;
        let words = usize::try_from(input.u64()?).ok()?;
        let bits: Vec<u64> = input.array(words, u64::from_le_bytes)?;
        let alive = (0..nodes.len())
            .map(|n| bits.get(n / 64).is_some_and(|w| w & (1 << (n % 64)) != 0))
            .collect();
        let out = input.csr()?;
        let into = input.csr()?;
        // Every link must name a node and a label that exist, and rows only nodes that do.
        let fits = |csr: &Csr| {
            csr.offsets.len() <= nodes.len() + 1
                && csr.others.iter().all(|&n| (n as usize) < nodes.len())
                && match &csr.labels {
                    BaseLabels::Uniform(label) => {
                        csr.others.is_empty() || (*label as usize) < labels.len()
                    }
                    BaseLabels::PerLink(all) => all.iter().all(|&l| (l as usize) < labels.len()),
                }
        };
        if !(fits(&out) && fits(&into)) {
            return None;
        }
        input.0.is_empty().then_some(Loaded {
            seq,
            nodes,
            labels,
            alive,
            out,
            into,
        })
    };
    parse(&mut input).ok_or_else(damaged)
}

/// A cursor over a checkpoint's bytes; `None` when they run out or do not parse.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, len: usize) -> Option<&[u8]> {
        if self.0.len() < len {
            return None;
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(head)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn array<T, const N: usize>(&mut self, len: usize, from: fn([u8; N]) -> T) -> Option<Vec<T>> {
        let bytes = self.take(len.checked_mul(N)?)?;
        Some(
            bytes
                .chunks_exact(N)
                .map(|chunk| from(chunk.try_into().unwrap_or([0; N])))
                .collect(),
        )
    }

    fn names(&mut self) -> Option<Vec<Box<str>>> {
        let count = usize::try_from(self.u64()?).ok()?;
        let mut names = Vec::with_capacity(count.min(self.0.len() / 4));
        for _ in 0..count {
            let len = self.u32()? as usize;
            names.push(std::str::from_utf8(self.take(len)?).ok()?.into());
        }
        Some(names)
    }

    fn csr(&mut self) -> Option<Csr> {
        let rows = usize::try_from(self.u64()?).ok()?;
        let offsets = self.array(rows, u64::from_le_bytes)?;
        let links = usize::try_from(self.u64()?).ok()?;
        let others = self.array(links, u32::from_le_bytes)?;
        let labels = match self.take(1)? {
            [0] => BaseLabels::Uniform(self.u32()?),
            [1] => BaseLabels::PerLink(self.array(links, u32::from_le_bytes)?),
            _ => return None,
        };
        // Offsets must rise from 0 to the link count, so every row is a valid slice.
        let valid = offsets.first() == Some(&0)
            && offsets.last() == Some(&(links as u64))
            && offsets.windows(2).all(|w| w[0] <= w[1]);
        valid.then_some(Csr {
            offsets,
            others,
            labels,
        })
    }
}
