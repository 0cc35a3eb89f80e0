//! The write-ahead log of one search entity: every acknowledged write since the last tantivy
//! commit, so that a crash between the two loses nothing.
//!
//! The file is a sequence of records `[payload length: u32 LE][CRC-32 of payload: u32 LE]
//! [payload]`, each payload one JSON-encoded [`Entry`]. A record is written whole before its
//! write is acknowledged; a torn or corrupt tail (only possible on power loss with
//! `synchronous = "normal"`, for writes that were never acknowledged) ends the log and is cut
//! off when it is opened. After each tantivy commit the log is emptied.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::kinds::search::SearchDocument;
use crate::{Result, StoreError, Value};

const HEADER: usize = 8;

/// One logged write.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Entry {
    /// Documents indexed by one call.
    Index(Vec<LoggedDocument>),
    /// A document deleted by id.
    Delete(String),
}

/// A [`SearchDocument`] as logged.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct LoggedDocument {
    id: String,
    fields: BTreeMap<String, Value>,
}

impl From<&SearchDocument> for LoggedDocument {
    fn from(document: &SearchDocument) -> Self {
        LoggedDocument {
            id: document.id.clone(),
            fields: document.fields.clone(),
        }
    }
}

impl From<LoggedDocument> for SearchDocument {
    fn from(document: LoggedDocument) -> Self {
        SearchDocument {
            id: document.id,
            fields: document.fields,
        }
    }
}

/// An open log file, positioned at its end.
#[derive(Debug)]
pub(super) struct Wal {
    file: File,
    len: u64,
    sync: bool,
    /// A failed append could not be cut back: later records would follow a torn one and be
    /// lost on replay, so nothing more is appended.
    broken: bool,
}

impl Wal {
    /// Opens (creating) the log at `path` and reads its entries; `sync` fsyncs every append.
    pub(super) fn open(path: &Path, sync: bool) -> Result<(Wal, Vec<Entry>)> {
        let fail = |err: io::Error| {
            StoreError::backend_with(
                format!("cannot open the search log {}", path.display()),
                err,
            )
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(fail)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(fail)?;
        let (entries, valid) = decode(&bytes);
        if valid < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                dropped = bytes.len() - valid,
                "search log ends in an incomplete record, which was never acknowledged; cutting it off"
            );
            file.set_len(valid as u64).map_err(fail)?;
        }
        file.seek(SeekFrom::Start(valid as u64)).map_err(fail)?;
        if sync {
            file.sync_all().map_err(fail)?;
            if let Some(parent) = path.parent() {
                sync_dir(parent).map_err(fail)?;
            }
        }
        let wal = Wal {
            file,
            len: valid as u64,
            sync,
            broken: false,
        };
        Ok((wal, entries))
    }

    /// Appends `records` (made by [`encode`]) and, with `sync`, fsyncs them. On failure the log
    /// is cut back to where it was, so a half-written record never precedes later ones.
    pub(super) fn append(&mut self, records: &[u8]) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "an earlier write to the log failed and could not be undone",
            ));
        }
        let written = self.file.write_all(records).and_then(|()| {
            if self.sync {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        match written {
            Ok(()) => {
                self.len += records.len() as u64;
                Ok(())
            }
            Err(err) => {
                let undone = self
                    .file
                    .set_len(self.len)
                    .and_then(|()| self.file.seek(SeekFrom::Start(self.len)));
                self.broken = undone.is_err();
                Err(err)
            }
        }
    }

    /// Empties the log: everything in it is committed to the index.
    pub(super) fn clear(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.len = 0;
        self.broken = false;
        if self.sync {
            self.file.sync_data()?;
        }
        Ok(())
    }
}

/// Appends `entry` as one record to `out`.
pub(super) fn encode(entry: &Entry, out: &mut Vec<u8>) -> Result<()> {
    let payload = serde_json::to_vec(entry)
        .map_err(|err| StoreError::backend_with("cannot encode a search log record", err))?;
    let len = u32::try_from(payload.len()).map_err(|_| {
        StoreError::invalid(format!(
            "one write of {} bytes is too large; split it into batches under 4 GiB",
            payload.len()
        ))
    })?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(())
}

/// The entries of the valid prefix of `bytes`, and that prefix's length.
fn decode(bytes: &[u8]) -> (Vec<Entry>, usize) {
    let mut entries = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + HEADER) {
        let [a, b, c, d, e, f, g, h] = header else {
            break;
        };
        let len = u32::from_le_bytes([*a, *b, *c, *d]) as usize;
        let crc = u32::from_le_bytes([*e, *f, *g, *h]);
        let Some(payload) = bytes.get(at + HEADER..at + HEADER + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Ok(entry) = serde_json::from_slice(payload) else {
            break;
        };
        entries.push(entry);
        at += HEADER + len;
    }
    (entries, at)
}

/// Makes a new file's directory entry durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delete(id: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&Entry::Delete(id.to_owned()), &mut out).unwrap();
        out
    }

    #[test]
    fn reopening_reads_back_every_record_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        {
            let (mut wal, entries) = Wal::open(&path, true).unwrap();
            assert!(entries.is_empty());
            wal.append(&delete("a")).unwrap();
            wal.append(&delete("b")).unwrap();
        }
        let whole = std::fs::metadata(&path).unwrap().len();
        // A torn record: its header and half its payload.
        let torn = delete("c");
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&torn[..torn.len() - 3]).unwrap();
        drop(file);

        let (mut wal, entries) = Wal::open(&path, false).unwrap();
        let ids: Vec<String> = entries
            .into_iter()
            .map(|entry| match entry {
                Entry::Delete(id) => id,
                Entry::Index(_) => panic!("unexpected entry"),
            })
            .collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
        wal.append(&delete("d")).unwrap();
        wal.clear().unwrap();
        wal.append(&delete("e")).unwrap();
        drop(wal);
        let (_, entries) = Wal::open(&path, false).unwrap();
        assert!(matches!(&entries[..], [Entry::Delete(id)] if id == "e"));
    }

    #[test]
    fn a_corrupt_record_ends_the_log() {
        let mut bytes = delete("a");
        let first = bytes.len();
        bytes.extend(delete("b"));
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        let (entries, valid) = decode(&bytes);
        assert_eq!(entries.len(), 1);
        assert_eq!(valid, first);
    }
}
