//! The embedded search backend: one tantivy index per entity, in a directory or in memory.
//!
//! # Layout
//!
//! With `path`, each entity lives in `<path>/<entity>/`: the tantivy index in `index/` and the
//! log of writes not yet committed to it in `wal`. Without `path` every index is in memory and
//! nothing survives the process (`durable: false`).
//!
//! # Schema and analysis
//!
//! Text fields are tokenised on non-alphanumeric characters, lower-cased, and (with
//! `stemming = "english"`) stemmed; tokens longer than 40 bytes are dropped. Keyword fields are
//! indexed as one exact, case-sensitive term and integer and float fields as numbers, all three
//! also as columns for fast filters. Every field is stored and returned with each hit. A hidden
//! field holds the document's id.
//!
//! # Queries
//!
//! The query string is parsed with the syntax every search backend shares (see
//! [`crate::kinds::search`]), in time linear in its length and within the kind's bounds on
//! length, depth and terms; each term or phrase is analysed with the text fields' tokenizer and
//! becomes tantivy term and phrase queries over every text field (or the one it names). Filters
//! are non-scoring clauses, so a hit's score is its BM25 score for the text alone; an empty
//! query string matches every document with score 1.
//!
//! # Writes, visibility and durability
//!
//! Each entity has one writer thread. A write is acknowledged once it is in the
//! entity's log (fsynced with `synchronous = "full"`, handed to the OS with `"normal"`) and
//! applied to the `IndexWriter`. The writer commits at most every `commit_interval` (default
//! 1s) while writes are pending, and on [`refresh`](crate::kinds::search::SearchStore::refresh);
//! every commit makes all acknowledged writes visible to queries and empties the log. So a
//! write is visible at most `commit_interval` (plus one commit) after it is acknowledged, and at
//! once after `refresh()` returns. Opening an entity replays its log and commits it, so
//! acknowledged writes survive a crash: a process crash in both modes, power loss in `"full"`.
//!
//! Dropping an entity's last handle commits its pending writes on the writer thread, which then
//! releases the index lock; opening the entity again waits up to 10s for that lock, so a store
//! can be closed and reopened at once. Another process using the same `path` gets
//! `Unavailable`.
//!
//! # Limits
//!
//! Ids are non-empty; ids and keyword values are at most 32766 bytes (one indexed term, as in
//! Lucene); floats are finite (`-0.0` is indexed as `0.0`). One field holds one value.

mod query;
pub(crate) mod schema;
mod text;
mod wal;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use tantivy::directory::error::LockError;
use tantivy::directory::MmapDirectory;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyError};
use tokio::sync::oneshot;

use self::schema::Fields;
use self::writer::{Command, Writer};
pub use super::sqlite::Synchronous;
use crate::backend::{Backend, BackendDescriptor};
pub use crate::kinds::search::Stemming;
use crate::kinds::search::{
    SearchDocument, SearchQuery, SearchResults, SearchSettings, SearchStore,
};
use crate::store::{is_identifier, wrong_settings, ConnectContext};
use crate::units::{ByteSize, ConfigDuration};
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind,
};

/// Options of an embedded search store (`[stores.NAME]` with `backend = "embedded"`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory holding one sub-directory per entity, relative to the config file's folder;
    /// omitted: every index in memory, lost when the process ends.
    pub path: Option<PathBuf>,
    /// `"full"` (default: every acknowledged write is fsynced to the entity's log) or
    /// `"normal"` (faster; an acknowledged write survives a process crash, not power loss).
    pub synchronous: Option<Synchronous>,
    /// The longest time between an acknowledged write and the commit that makes it visible
    /// (default `1s`). Shorter means fresher results and more, smaller index segments.
    pub commit_interval: Option<ConfigDuration>,
    /// Memory each entity's writer buffers before writing a segment (default `64MiB`, at least
    /// `15MiB`).
    pub memory_budget: Option<ByteSize>,
    /// Reduce words of text fields to their stem: `"none"` (default) or `"english"`, which also
    /// matches `running` to `runs`. Changing it requires rebuilding existing indexes.
    pub stemming: Option<Stemming>,
}

const DEFAULT_MEMORY_BUDGET: u64 = 64 << 20;
const MIN_MEMORY_BUDGET: u64 = 15 << 20;
/// Calls waiting for an entity's writer before callers wait for room.
const QUEUE: usize = 1024;
/// How long opening an entity waits for a previous writer of it (in this process, just
/// dropped, or in another one) to release its lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);

const INFO: StoreInfo = StoreInfo {
    kind: StoreKind::Search,
    backend: "embedded",
    capabilities: Capabilities {
        ttl: false,
        transactions: false,
        ordered_scan: false,
        durable: true,
        secondary_indexes: true,
        atomic_increment: false,
        full_text: true,
        weighted_paths: false,
        batch_writes: true,
        evicts: false,
    },
};

/// An embedded search store: one tantivy index per entity routed to it.
#[derive(Debug)]
pub struct EmbeddedSearch {
    root: Option<PathBuf>,
    sync_full: bool,
    commit_interval: Duration,
    memory_budget: usize,
    tokenizer: &'static str,
    /// Open entities, so opening one twice shares its single writer; held while opening.
    open: tokio::sync::Mutex<HashMap<String, Weak<EntityIndex>>>,
}

impl EmbeddedSearch {
    /// Checks `config` and creates its directory.
    pub async fn open(config: Config, context: &ConnectContext) -> Result<Self> {
        let memory_budget = config.memory_budget.map_or(DEFAULT_MEMORY_BUDGET, |b| b.0);
        if memory_budget < MIN_MEMORY_BUDGET {
            return Err(StoreError::invalid(format!(
                "memory_budget must be at least 15MiB, got {memory_budget} bytes"
            )));
        }
        let root = config.path.as_deref().map(|path| context.resolve(path));
        if let Some(root) = root.clone() {
            tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&root).map_err(|err| StoreError::Unavailable {
                    message: format!("cannot create the search directory {}", root.display()),
                    source: Some(Box::new(err)),
                })
            })
            .await
            .map_err(|err| StoreError::backend_with("search open task failed", err))??;
        }
        Ok(EmbeddedSearch {
            root,
            sync_full: config.synchronous.unwrap_or_default() == Synchronous::Full,
            commit_interval: config
                .commit_interval
                .map_or(Duration::from_secs(1), |d| d.0),
            memory_budget: usize::try_from(memory_budget).unwrap_or(usize::MAX),
            tokenizer: match config.stemming.unwrap_or_default() {
                Stemming::None => "default",
                Stemming::English => "en_stem",
            },
            open: tokio::sync::Mutex::new(HashMap::new()),
        })
    }
}

/// The embedded search backend, as the registry lists it.
pub const BACKEND: BackendDescriptor = BackendDescriptor::of::<EmbeddedSearch>(
    StoreKind::Search,
    "embedded",
    "tantivy indexes with BM25 ranking, one per entity, in a directory or in memory",
);

impl Backend for EmbeddedSearch {
    type Config = Config;

    async fn connect(
        _: StoreKind,
        config: Config,
        context: &ConnectContext,
    ) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(EmbeddedSearch::open(config, context).await?))
    }
}

#[async_trait]
impl Store for EmbeddedSearch {
    fn info(&self) -> StoreInfo {
        let mut info = INFO;
        info.capabilities.durable = self.root.is_some();
        info
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::Search(settings) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        // The name becomes a directory name: check it even if the spec was built by hand.
        if !is_identifier(&entity.name) {
            return Err(StoreError::invalid(format!(
                "entity name `{}` is not an identifier",
                entity.name
            )));
        }
        let mut open = self.open.lock().await;
        if let Some(index) = open.get(&entity.name).and_then(Weak::upgrade) {
            if index.settings != *settings {
                return Err(StoreError::invalid(format!(
                    "search entity `{}` is already open with other fields",
                    entity.name
                )));
            }
            return Ok(EntityHandle::Search(index));
        }
        let options = OpenOptions {
            name: entity.name.clone(),
            settings: settings.clone(),
            dir: self.root.as_ref().map(|root| root.join(&entity.name)),
            sync_full: self.sync_full,
            commit_interval: self.commit_interval,
            memory_budget: self.memory_budget,
            tokenizer: self.tokenizer,
        };
        let index = Arc::new(
            tokio::task::spawn_blocking(move || EntityIndex::open(options))
                .await
                .map_err(|err| StoreError::backend_with("search open task failed", err))??,
        );
        open.retain(|_, index| index.strong_count() > 0);
        open.insert(entity.name.clone(), Arc::downgrade(&index));
        Ok(EntityHandle::Search(index))
    }

    async fn ping(&self) -> Result<()> {
        let Some(root) = self.root.clone() else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || match std::fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(StoreError::unavailable(format!(
                "{} is not a directory",
                root.display()
            ))),
            Err(err) => Err(StoreError::Unavailable {
                message: format!("cannot read the search directory {}", root.display()),
                source: Some(Box::new(err)),
            }),
        })
        .await
        .map_err(|err| StoreError::backend_with("search ping task failed", err))?
    }
}

/// What opening one entity needs.
struct OpenOptions {
    name: String,
    settings: SearchSettings,
    dir: Option<PathBuf>,
    sync_full: bool,
    commit_interval: Duration,
    memory_budget: usize,
    tokenizer: &'static str,
}

/// One entity's index: queries read through `reader`; writes go to its writer thread.
struct EntityIndex {
    name: String,
    settings: SearchSettings,
    fields: Arc<Fields>,
    /// The text fields' analyser, for the query text's operands.
    analyzer: TextAnalyzer,
    reader: IndexReader,
    commands: SyncSender<Command>,
}

impl std::fmt::Debug for EntityIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityIndex")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl EntityIndex {
    /// Opens or creates the index, replays its log and starts its writer. Blocking.
    fn open(options: OpenOptions) -> Result<EntityIndex> {
        let fields = Arc::new(Fields::new(&options.settings, options.tokenizer)?);
        let index = match &options.dir {
            None => Index::create_in_ram(fields.schema.clone()),
            Some(dir) => open_dir(&dir.join("index"), &fields, &options.name)?,
        };
        let writer = acquire_writer(&index, options.memory_budget, &options.name)?;
        if options.dir.is_some() {
            // A process killed mid-commit leaves segment files its meta never listed; the next
            // commit may want the same file names, so clear them before replaying the log.
            writer.garbage_collect_files().wait().map_err(map_error)?;
        }
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(map_error)?;
        let mut state = Writer {
            fields: Arc::clone(&fields),
            writer,
            reader: reader.clone(),
            wal: None,
            commit_interval: options.commit_interval,
            pending: HashMap::new(),
            dirty_since: None,
            failed: None,
        };
        if let Some(dir) = &options.dir {
            let (wal, entries) = wal::Wal::open(&dir.join("wal"), options.sync_full)?;
            for entry in entries {
                match entry {
                    wal::Entry::Index(documents) => {
                        let converted = documents
                            .into_iter()
                            .map(|logged| {
                                let document = SearchDocument::from(logged);
                                Ok((document.id.clone(), fields.to_tantivy(&document)?))
                            })
                            .collect::<Result<Vec<_>>>()?;
                        state.apply_index(converted)?;
                    }
                    wal::Entry::Delete(id) => state.apply_delete(id),
                }
            }
            state.wal = Some(wal);
            state.commit()?;
        }
        let analyzer = index.tokenizers().get(options.tokenizer).ok_or_else(|| {
            StoreError::backend(format!(
                "the search tokenizer `{}` is not registered",
                options.tokenizer
            ))
        })?;
        let (commands, queue) = mpsc::sync_channel(QUEUE);
        std::thread::Builder::new()
            .name(format!("search-{}", options.name))
            .spawn(move || state.run(queue))
            .map_err(|err| StoreError::backend_with("cannot start a search writer thread", err))?;
        Ok(EntityIndex {
            name: options.name,
            settings: options.settings,
            fields,
            analyzer,
            reader,
            commands,
        })
    }

    /// Sends `command` to the writer, waiting off the async workers when its queue is full.
    async fn send<T>(&self, command: Command, answer: oneshot::Receiver<Result<T>>) -> Result<T> {
        match self.commands.try_send(command) {
            Ok(()) => {}
            Err(TrySendError::Full(command)) => {
                let commands = self.commands.clone();
                tokio::task::spawn_blocking(move || commands.send(command).map_err(drop))
                    .await
                    .map_err(|err| StoreError::backend_with("search send task failed", err))?
                    .map_err(|()| stopped())?;
            }
            Err(TrySendError::Disconnected(_)) => return Err(stopped()),
        }
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::backend("the search index writer stopped")
}

/// Opens the index in `dir`, creating it with `fields`' schema if there is none.
fn open_dir(dir: &Path, fields: &Fields, name: &str) -> Result<Index> {
    std::fs::create_dir_all(dir).map_err(|err| StoreError::Unavailable {
        message: format!("cannot create {}", dir.display()),
        source: Some(Box::new(err)),
    })?;
    let directory = MmapDirectory::open(dir).map_err(|err| StoreError::Unavailable {
        message: format!("cannot open {}", dir.display()),
        source: Some(Box::new(err)),
    })?;
    Index::open_or_create(directory, fields.schema.clone()).map_err(|err| match err {
        TantivyError::SchemaError(_) => StoreError::InvalidRequest {
            message: format!(
                "the index of search entity `{name}` in {} was built with other fields; declare the same fields, or move the directory away to rebuild it",
                dir.display()
            ),
            source: Some(Box::new(err)),
        },
        other => map_error(other),
    })
}

/// The index's writer, waiting up to [`LOCK_WAIT`] for a previous writer to let go.
fn acquire_writer(index: &Index, memory_budget: usize, name: &str) -> Result<tantivy::IndexWriter> {
    let start = Instant::now();
    loop {
        match index.writer_with_num_threads(1, memory_budget) {
            Ok(writer) => return Ok(writer),
            Err(TantivyError::LockFailure(LockError::LockBusy, _)) if start.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(TantivyError::LockFailure(LockError::LockBusy, _)) => {
                return Err(StoreError::unavailable(format!(
                    "the index of search entity `{name}` is locked by another writer (another process using the same path?)"
                )))
            }
            Err(err) => return Err(map_error(err)),
        }
    }
}

/// Maps a tantivy error, keeping it as the source.
fn map_error(err: TantivyError) -> StoreError {
    match err {
        TantivyError::IoError(_) | TantivyError::OpenDirectoryError(_) => StoreError::Unavailable {
            message: err.to_string(),
            source: Some(Box::new(err)),
        },
        TantivyError::InvalidArgument(_) | TantivyError::FieldNotFound(_) => {
            StoreError::InvalidRequest {
                message: err.to_string(),
                source: Some(Box::new(err)),
            }
        }
        other => StoreError::backend_with(other.to_string(), other),
    }
}

#[async_trait]
impl SearchStore for EntityIndex {
    async fn index(&self, documents: Vec<SearchDocument>) -> Result<()> {
        crate::kinds::search::check_ids(&documents)?;
        if documents.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::Index(documents, reply), answer).await
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        crate::kinds::search::check_id(id)?;
        let (reply, answer) = oneshot::channel();
        self.send(Command::Delete(id.to_owned(), reply), answer)
            .await
    }

    async fn query(&self, query: &SearchQuery) -> Result<SearchResults> {
        let searcher = self.reader.searcher();
        let (fields, analyzer, query) = (
            Arc::clone(&self.fields),
            self.analyzer.clone(),
            query.clone(),
        );
        crate::work::blocking(move || query::run(&fields, &analyzer, &searcher, &query)).await
    }

    async fn refresh(&self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Refresh(reply), answer).await
    }
}
