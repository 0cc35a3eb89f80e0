//! The single writer of one search entity: a dedicated thread that owns its tantivy
//! `IndexWriter` and its log.
//!
//! Calls queue on a bounded channel. The thread takes every queued call at once, checks and
//! logs the writes in one append (one fsync with `synchronous = "full"`), applies them to the
//! `IndexWriter`, and only then acknowledges them. It commits at most every `commit_interval`
//! while writes are pending, on `refresh()`, and when the last handle is dropped; each commit
//! reloads the reader, which is when writes become visible to queries, and empties the log.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tantivy::collector::Count;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::{IndexReader, IndexWriter, TantivyDocument};
use tokio::sync::oneshot;

use super::map_error;
use super::schema::Fields;
use super::wal::{encode, Entry, LoggedDocument, Wal};
use crate::kinds::search::check_id;
use crate::kinds::search::SearchDocument;
use crate::{Result, StoreError};

/// Calls taken from the queue and logged together, at most.
const MAX_BATCH: usize = 256;

/// A call to the writer, with where to send its answer.
pub(super) enum Command {
    /// Add or replace documents.
    Index(Vec<SearchDocument>, oneshot::Sender<Result<()>>),
    /// Delete one document; answers whether it existed.
    Delete(String, oneshot::Sender<Result<bool>>),
    /// Commit and reload the reader.
    Refresh(oneshot::Sender<Result<()>>),
}

/// Everything the writer thread owns.
pub(super) struct Writer {
    pub(super) fields: Arc<Fields>,
    pub(super) writer: IndexWriter,
    pub(super) reader: IndexReader,
    /// `None` for an index in memory.
    pub(super) wal: Option<Wal>,
    pub(super) commit_interval: Duration,
    /// Ids written since the last commit, and whether each exists now.
    pub(super) pending: HashMap<String, bool>,
    /// When the oldest uncommitted write was applied.
    pub(super) dirty_since: Option<Instant>,
    /// Set when a commit failed: the writer refuses every call from then on.
    pub(super) failed: Option<String>,
}

/// One call's writes, checked and ready to apply.
enum Planned {
    Index(Vec<(String, TantivyDocument)>, oneshot::Sender<Result<()>>),
    Delete(String, bool, oneshot::Sender<Result<bool>>),
    Refresh(oneshot::Sender<Result<()>>),
}

impl Writer {
    /// Serves `commands` until every sender is gone, then commits what is pending.
    pub(super) fn run(mut self, commands: Receiver<Command>) {
        loop {
            let first = match self.dirty_since {
                Some(since) => {
                    let wait =
                        (since + self.commit_interval).saturating_duration_since(Instant::now());
                    match commands.recv_timeout(wait) {
                        Ok(command) => command,
                        Err(RecvTimeoutError::Timeout) => {
                            if let Err(err) = self.commit() {
                                tracing::error!(error = %err, "search index commit failed");
                            }
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => match commands.recv() {
                    Ok(command) => command,
                    Err(_) => break,
                },
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match commands.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            self.serve(batch);
        }
        if let Err(err) = self.commit() {
            tracing::error!(error = %err, "search index commit on close failed");
        }
        if let Err(err) = self.writer.wait_merging_threads() {
            tracing::error!(error = %err, "search index merge on close failed");
        }
    }

    /// Checks, logs, applies and answers one batch of calls.
    fn serve(&mut self, batch: Vec<Command>) {
        if let Some(reason) = &self.failed {
            let err = || {
                StoreError::unavailable(format!(
                    "the search index writer stopped after an error ({reason}); reopen the store, which replays acknowledged writes from its log"
                ))
            };
            for command in batch {
                match command {
                    Command::Index(_, reply) | Command::Refresh(reply) => {
                        drop(reply.send(Err(err())))
                    }
                    Command::Delete(_, reply) => drop(reply.send(Err(err()))),
                }
            }
            return;
        }
        let mut log = Vec::new();
        let mut planned = Vec::with_capacity(batch.len());
        // Deletes answer from the state after the writes before them in this batch.
        let mut overlay: HashMap<String, bool> = HashMap::new();
        for command in batch {
            match command {
                Command::Index(documents, reply) => match self.plan_index(&documents, &mut log) {
                    Ok(converted) => {
                        for (id, _) in &converted {
                            overlay.insert(id.clone(), true);
                        }
                        planned.push(Planned::Index(converted, reply));
                    }
                    Err(err) => drop(reply.send(Err(err))),
                },
                Command::Delete(id, reply) => {
                    let planned_delete = check_id(&id)
                        .and_then(|()| self.exists(&id, &overlay))
                        .and_then(|existed| match self.wal {
                            Some(_) => {
                                encode(&Entry::Delete(id.clone()), &mut log).map(|()| existed)
                            }
                            None => Ok(existed),
                        });
                    match planned_delete {
                        Ok(existed) => {
                            overlay.insert(id.clone(), false);
                            planned.push(Planned::Delete(id, existed, reply));
                        }
                        Err(err) => drop(reply.send(Err(err))),
                    }
                }
                Command::Refresh(reply) => planned.push(Planned::Refresh(reply)),
            }
        }

        if let (Some(wal), false) = (&mut self.wal, log.is_empty()) {
            if let Err(err) = wal.append(&log) {
                let message = format!("cannot write the search log: {err}");
                for plan in planned {
                    match plan {
                        Planned::Index(_, reply) | Planned::Refresh(reply) => {
                            drop(reply.send(Err(StoreError::unavailable(message.clone()))));
                        }
                        Planned::Delete(_, _, reply) => {
                            drop(reply.send(Err(StoreError::unavailable(message.clone()))));
                        }
                    }
                }
                return;
            }
        }

        for plan in planned {
            match plan {
                Planned::Index(documents, reply) => {
                    let result = self.apply_index(documents);
                    drop(reply.send(result));
                }
                Planned::Delete(id, existed, reply) => {
                    self.writer.delete_term(self.fields.id_term(&id));
                    self.touch(id, false);
                    drop(reply.send(Ok(existed)));
                }
                Planned::Refresh(reply) => drop(reply.send(self.commit())),
            }
        }
    }

    /// Converts a call's documents, appending its log record to `log`; nothing on error.
    fn plan_index(
        &self,
        documents: &[SearchDocument],
        log: &mut Vec<u8>,
    ) -> Result<Vec<(String, TantivyDocument)>> {
        let converted = documents
            .iter()
            .map(|document| Ok((document.id.clone(), self.fields.to_tantivy(document)?)))
            .collect::<Result<Vec<_>>>()?;
        if self.wal.is_some() {
            let logged = documents.iter().map(LoggedDocument::from).collect();
            encode(&Entry::Index(logged), log)?;
        }
        Ok(converted)
    }

    /// Replaces each document: a delete of its id, then the add, so the add survives it.
    pub(super) fn apply_index(&mut self, documents: Vec<(String, TantivyDocument)>) -> Result<()> {
        for (id, document) in documents {
            self.writer.delete_term(self.fields.id_term(&id));
            self.writer.add_document(document).map_err(map_error)?;
            self.touch(id, true);
        }
        Ok(())
    }

    /// Applies a delete read back from the log.
    pub(super) fn apply_delete(&mut self, id: String) {
        self.writer.delete_term(self.fields.id_term(&id));
        self.touch(id, false);
    }

    fn touch(&mut self, id: String, exists: bool) {
        self.pending.insert(id, exists);
        self.dirty_since.get_or_insert_with(Instant::now);
    }

    /// Whether `id` exists after the writes applied or planned so far.
    fn exists(&self, id: &str, overlay: &HashMap<String, bool>) -> Result<bool> {
        if let Some(exists) = overlay.get(id).or_else(|| self.pending.get(id)) {
            return Ok(*exists);
        }
        let query = TermQuery::new(self.fields.id_term(id), IndexRecordOption::Basic);
        let count = self
            .reader
            .searcher()
            .search(&query, &Count)
            .map_err(map_error)?;
        Ok(count > 0)
    }

    /// Commits pending writes, makes them visible and empties the log.
    pub(super) fn commit(&mut self) -> Result<()> {
        if self.dirty_since.is_some() {
            if let Err(err) = self.writer.commit() {
                self.failed = Some(err.to_string());
                // No more commits: the writes stay in the log for the next open to replay.
                self.dirty_since = None;
                return Err(map_error(err));
            }
            self.pending.clear();
            self.dirty_since = None;
            if let Some(wal) = &mut self.wal {
                if let Err(err) = wal.clear() {
                    // The entries are committed; replaying them again is harmless.
                    tracing::warn!(error = %err, "cannot empty the search log after a commit");
                }
            }
        }
        self.reader.reload().map_err(map_error)
    }
}
