//! [`Records`]: the handle of a record entity — writes to the system of record with their
//! outbox change in one transaction, reads routed per access — and its read-your-writes
//! [`Session`]s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use polyroute_adapters::kinds::document::Document;
use polyroute_adapters::kinds::search::{SearchQuery, SearchResults};
use polyroute_adapters::Value;
use serde_json::Value as Json;

use super::{
    first_row, key_text, now_ms, seq_value, sql, DerivedHandle, Op, Outbox, RecordError,
    RecordResult, SEQ_FIELD,
};
use crate::config::RecordSettings;
use crate::handles::{Relational, Search};

/// What a write did: the change's sequence number, and the row after it (`None` after a
/// delete).
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// The change's sequence number in the entity's outbox.
    pub seq: u64,
    /// The row as the system of record returned it (`RETURNING *`), as JSON.
    pub row: Option<Document>,
}

/// A record entity: rows of one table keyed by one column, the system of record of the
/// derived entities it propagates to. Cheap to clone.
///
/// Writes (`put`, `delete`) change the row and append the change to the outbox in one
/// transaction, and return once it commits. Reads go where `routes` sends them: `get` to the
/// derived document or key-value entity (else the table), `search` to the derived search
/// entity. Derived entities lag the table by the relay's delay; a [`Session`] reads its own
/// writes.
#[derive(Clone, Debug)]
pub struct Records {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    entity: String,
    sor: Relational,
    settings: RecordSettings,
    get_route: Option<(String, DerivedHandle)>,
    search_route: Option<(String, Search)>,
    outbox: Option<Outbox>,
}

impl Records {
    pub(crate) fn new(
        entity: &str,
        sor: Relational,
        settings: RecordSettings,
        get_route: Option<(String, DerivedHandle)>,
        search_route: Option<(String, Search)>,
        outbox: Option<Outbox>,
    ) -> Self {
        Records {
            inner: Arc::new(Inner {
                entity: entity.to_owned(),
                sor,
                settings,
                get_route,
                search_route,
                outbox,
            }),
        }
    }

    /// Its record settings.
    pub fn settings(&self) -> &RecordSettings {
        &self.inner.settings
    }

    /// Inserts or updates the row `key` with `fields` (a JSON object of column → value; the
    /// key column is set from `key`), and appends the change to the outbox, in one
    /// transaction. Not retried: run it again yourself if it fails with a passing error (an
    /// upsert lands the same, with one more change).
    pub async fn put(&self, key: impl Into<Value>, fields: Json) -> RecordResult<Written> {
        let key = key.into();
        let Json::Object(fields) = fields else {
            return Err(RecordError::NotAnObject {
                found: json_kind(&fields),
            });
        };
        let settings = &self.inner.settings;
        let columns: Vec<&str> = fields.keys().map(String::as_str).collect();
        let upsert = sql::upsert(
            self.inner.sor.dialect(),
            &settings.table,
            &settings.key,
            &columns,
        )?;
        let mut params = vec![key.clone()];
        params.extend(fields.values().map(|json| Value::from_json(json.clone())));
        let key_text = key_text(&key)?;

        let mut tx = self.inner.sor.begin().await?;
        let seq = next_seq(&mut tx, &self.inner.entity).await?;
        let row = first_row(&tx.query(&upsert, &params).await?)
            .ok_or_else(|| polyroute_adapters::StoreError::backend("the upsert returned no row"))?;
        let body = serde_json::to_string(&row).map_err(|err| {
            polyroute_adapters::StoreError::backend(format!("cannot encode row: {err}"))
        })?;
        append(
            &mut tx,
            &self.inner.entity,
            seq,
            &key_text,
            Op::Put,
            Value::Text(body),
        )
        .await?;
        tx.commit().await?;
        Ok(Written {
            seq,
            row: Some(row),
        })
    }

    /// Deletes the row `key` and appends the change to the outbox, in one transaction (a
    /// change is appended even when there was no row, so derived entities drop the key too).
    pub async fn delete(&self, key: impl Into<Value>) -> RecordResult<Written> {
        let key = key.into();
        let settings = &self.inner.settings;
        let delete = sql::delete(&settings.table, &settings.key)?;
        let key_text = key_text(&key)?;
        let mut tx = self.inner.sor.begin().await?;
        let seq = next_seq(&mut tx, &self.inner.entity).await?;
        tx.execute(&delete, &[key]).await?;
        append(
            &mut tx,
            &self.inner.entity,
            seq,
            &key_text,
            Op::Delete,
            Value::Null,
        )
        .await?;
        tx.commit().await?;
        Ok(Written { seq, row: None })
    }

    /// The row `key`, from `routes.get`'s derived entity (without its `_seq`), or from the
    /// table when `get` is not routed. When the derived entity's store is unavailable (down,
    /// timing out, its breaker open), the read is answered from the table: the derived store
    /// serves reads to take load off the system of record, not to decide whether they work.
    ///
    /// A derived entity with its own `cache = { ... }` reads through that cache.
    pub async fn get(&self, key: impl Into<Value>) -> RecordResult<Option<Document>> {
        let key = key.into();
        let Some((name, target)) = &self.inner.get_route else {
            return self.get_from_record(key).await;
        };
        match self.get_derived(target, &key_text(&key)?).await {
            Err(RecordError::Store(err)) if err.is_retryable() => {
                tracing::debug!(
                    entity = %self.inner.entity,
                    derived = %name,
                    error = %err,
                    "routed read failed; answering from the system of record"
                );
                self.get_from_record(key).await
            }
            found => found,
        }
    }

    /// The row `key` from the system of record itself.
    pub async fn get_from_record(&self, key: impl Into<Value>) -> RecordResult<Option<Document>> {
        let settings = &self.inner.settings;
        let select = sql::select(&settings.table, &settings.key)?;
        Ok(first_row(
            &self.inner.sor.query(&select, &[key.into()]).await?,
        ))
    }

    async fn get_derived(
        &self,
        target: &DerivedHandle,
        key: &str,
    ) -> RecordResult<Option<Document>> {
        let found = match target {
            DerivedHandle::Document(docs) => docs.get(key).await?,
            DerivedHandle::KeyValue(kv) => match kv.get(key).await? {
                None => None,
                Some(bytes) => match serde_json::from_slice::<Json>(&bytes) {
                    Ok(Json::Object(doc)) => Some(doc),
                    _ => {
                        return Err(polyroute_adapters::StoreError::backend(format!(
                            "key `{key}` of a derived key-value entity is not a JSON object"
                        ))
                        .into())
                    }
                },
            },
            DerivedHandle::Search(_) => None,
        };
        Ok(found.map(|mut doc| {
            doc.remove(SEQ_FIELD);
            doc
        }))
    }

    /// Runs `query` on `routes.search`'s derived search entity; refused when none is routed.
    pub async fn search(&self, query: &SearchQuery) -> RecordResult<SearchResults> {
        match &self.inner.search_route {
            Some((_, search)) => Ok(search.query(query).await?),
            None => Err(RecordError::NoRoute {
                entity: self.inner.entity.clone(),
                access: "search",
            }),
        }
    }

    /// A session that reads its own writes (when the entity has `read_your_writes = true`;
    /// otherwise it reads like this handle).
    pub fn session(&self) -> Session {
        Session {
            records: self.clone(),
            high: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// A sequence of calls that sees its own writes. It remembers the highest change it wrote;
/// while a derived entity's cursor is behind it, `get` reads the system of record instead,
/// and `search` waits (at most the entity's timeout) for the relay to deliver it, then
/// searches. Clones share what the session wrote.
#[derive(Clone, Debug)]
pub struct Session {
    records: Records,
    high: Arc<AtomicU64>,
}

impl Session {
    /// The highest change this session wrote (0: none).
    pub fn last_seq(&self) -> u64 {
        self.high.load(Ordering::SeqCst)
    }

    /// [`Records::put`], remembered.
    pub async fn put(&self, key: impl Into<Value>, fields: Json) -> RecordResult<Written> {
        let written = self.records.put(key, fields).await?;
        self.high.fetch_max(written.seq, Ordering::SeqCst);
        Ok(written)
    }

    /// [`Records::delete`], remembered.
    pub async fn delete(&self, key: impl Into<Value>) -> RecordResult<Written> {
        let written = self.records.delete(key).await?;
        self.high.fetch_max(written.seq, Ordering::SeqCst);
        Ok(written)
    }

    /// [`Records::get`], from the system of record while the routed entity lags this
    /// session's writes.
    pub async fn get(&self, key: impl Into<Value>) -> RecordResult<Option<Document>> {
        let inner = &self.records.inner;
        if let (true, Some((name, _)), Some(outbox)) = (
            inner.settings.read_your_writes,
            &inner.get_route,
            &inner.outbox,
        ) {
            if outbox.cursor(name).await? < self.last_seq() {
                return self.records.get_from_record(key).await;
            }
        }
        self.records.get(key).await
    }

    /// [`Records::search`], after the routed search entity has caught up with this
    /// session's writes (waiting at most the entity's timeout).
    pub async fn search(&self, query: &SearchQuery) -> RecordResult<SearchResults> {
        let inner = &self.records.inner;
        if let (true, Some((name, _)), Some(outbox)) = (
            inner.settings.read_your_writes,
            &inner.search_route,
            &inner.outbox,
        ) {
            let wanted = self.last_seq();
            let limit = inner.sor.context().timeout();
            let started = tokio::time::Instant::now();
            let mut pause = Duration::from_millis(5);
            while outbox.cursor(name).await? < wanted {
                if started.elapsed() >= limit {
                    return Err(RecordError::NotCaughtUp {
                        entity: inner.entity.clone(),
                        target: name.clone(),
                        seq: wanted,
                        after: limit,
                    });
                }
                tokio::time::sleep(pause.min(limit.saturating_sub(started.elapsed()))).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
        }
        self.records.search(query).await
    }
}

async fn next_seq(tx: &mut crate::handles::Transaction, entity: &str) -> RecordResult<u64> {
    let rows = tx
        .query(sql::NEXT_SEQ, &[Value::Text(entity.to_owned())])
        .await?;
    rows.rows
        .first()
        .and_then(|row| row.first())
        .and_then(Value::as_i64)
        .and_then(|seq| u64::try_from(seq).ok())
        .ok_or_else(|| {
            polyroute_adapters::StoreError::backend(format!(
                "the outbox has no sequence row for `{entity}`; was the router built from this config?"
            ))
            .into()
        })
}

async fn append(
    tx: &mut crate::handles::Transaction,
    entity: &str,
    seq: u64,
    key: &str,
    op: Op,
    body: Value,
) -> RecordResult<()> {
    tx.execute(
        sql::APPEND,
        &[
            Value::Text(entity.to_owned()),
            seq_value(seq),
            Value::Text(key.to_owned()),
            Value::Text(op.as_str().to_owned()),
            body,
            Value::Int(now_ms()),
        ],
    )
    .await?;
    Ok(())
}

fn json_kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}
