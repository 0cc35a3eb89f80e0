//! Segment files: one immutable file per time partition, `p<number>.seg`, holding every series'
//! sealed blocks. A checkpoint writes a changed partition's new file beside the old one and
//! renames it over it, so a crash leaves either file whole, never a mix.
//!
//! Layout: `MAGIC | series count | per series: measurement, tags, block count, blocks | crc32`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::block::Block;
use super::chunk::Chunk;
use super::codec::{put_bytes, put_uvarint, Corrupt, Decoded, Reader};
use super::engine::Partition;
use super::series::{Index, Tags};

const MAGIC: &[u8; 8] = b"PRTSSEG1";

/// The file of partition `number` in `dir`.
pub(crate) fn path(dir: &Path, number: i64) -> PathBuf {
    dir.join(format!("p{number}.seg"))
}

/// The partition number of a segment file name, if it is one.
pub(crate) fn number(name: &str) -> Option<i64> {
    name.strip_prefix('p')?.strip_suffix(".seg")?.parse().ok()
}

/// Encodes a sealed partition.
pub(crate) fn encode(partition: &Partition, index: &Index) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    let chunks: Vec<_> = partition
        .chunks
        .iter()
        .filter(|(_, c)| !c.blocks().is_empty())
        .filter_map(|(id, c)| Some((index.key(*id)?, c)))
        .collect();
    put_uvarint(&mut out, chunks.len() as u64);
    for ((measurement, tags), chunk) in chunks {
        put_bytes(&mut out, measurement.as_bytes());
        put_uvarint(&mut out, tags.len() as u64);
        for (k, v) in tags.iter() {
            put_bytes(&mut out, k.as_bytes());
            put_bytes(&mut out, v.as_bytes());
        }
        put_uvarint(&mut out, chunk.blocks().len() as u64);
        for block in chunk.blocks() {
            block.write(&mut out);
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a partition file, interning its series into `index`.
pub(crate) fn decode(bytes: &[u8], index: &mut Index) -> Decoded<Partition> {
    let (body, crc) = bytes.split_at(bytes.len().checked_sub(4).ok_or(Corrupt)?);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err(Corrupt);
    }
    let mut r = Reader::new(body);
    if r.take(MAGIC.len())? != MAGIC {
        return Err(Corrupt);
    }
    let mut partition = Partition::default();
    for _ in 0..r.len()? {
        let measurement = r.string()?;
        let tags: Tags = (0..r.len()?)
            .map(|_| Ok((r.string()?, r.string()?)))
            .collect::<Decoded<BTreeMap<_, _>>>()?;
        let blocks = (0..r.len()?)
            .map(|_| Block::read(&mut r))
            .collect::<Decoded<Vec<_>>>()?;
        let id = index.intern(&measurement, &tags);
        for block in &blocks {
            for name in block.field_names() {
                if let Some(kind) = block.field_type(name) {
                    index.set_field_type(&measurement, name, kind);
                }
            }
        }
        partition.chunks.insert(id, Chunk::from_blocks(blocks));
    }
    if !r.is_empty() {
        return Err(Corrupt);
    }
    Ok(partition)
}

/// Writes `bytes` as the file at `target`, atomically: a temporary file, renamed. With `sync`
/// the file is fsynced before the rename, so it survives power loss too.
pub(crate) fn write_atomic(target: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let tmp = target.with_extension("tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    if sync {
        file.sync_all()?;
    }
    drop(file);
    fs::rename(&tmp, target)
}

/// Fsyncs a directory, so renames and removals in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
