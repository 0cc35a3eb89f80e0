//! The Elasticsearch search backend (cargo feature `elasticsearch`).
//!
//! Each search entity is an index `<index_prefix><entity>` created with explicit, strict
//! mappings from the entity's schema (see [`mappings`]): text fields as `text` with the
//! `standard` (or `english`) analyser, keyword fields as `keyword`, integer fields as `long`,
//! float fields as `double`; a document with another field is refused by the store before it
//! reaches the server, and by the server (`dynamic: strict`) if it did. Writes go through the
//! bulk API, whose per-item results are checked; queries are built in [`query`]; errors are
//! mapped in `error`.
//!
//! # Visibility
//!
//! A write is acknowledged once the primary and in-sync replicas hold it; it becomes
//! searchable at the index's next refresh, within `refresh_interval` (default 1 s), or before
//! the write returns with `wait_for_refresh = true`. [`SearchStore::refresh`] calls the refresh
//! API, which makes every acknowledged write searchable at once. Deletes see acknowledged
//! writes at once (a get by id is real-time).
//!
//! # Limits
//!
//! Pages end at `from + size = 10,000` hits (the default `index.max_result_window`): a page
//! starting past it is refused unless there are no hits there. Snippets analyse the first
//! 999,999 characters of a field. Ids and keyword values are at most 32,766 bytes (Lucene's
//! term limit) and ids at most 512 bytes (Elasticsearch's). A batch whose documents the store
//! validated can still partly fail on the server (a full queue, a lost shard): the error names
//! the failed ids, and the other documents were indexed.

mod config;
mod error;
mod query;

pub use config::Config;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use elasticsearch::auth::Credentials;
use elasticsearch::http::request::JsonBody;
use elasticsearch::http::response::Response;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::http::Url;
use elasticsearch::indices::{IndicesCreateParts, IndicesPutMappingParts, IndicesRefreshParts};
use elasticsearch::params::Refresh;
use elasticsearch::{BulkParts, DeleteParts, Elasticsearch, SearchParts};
use serde_json::{json, Map, Value as Json};

use self::error::{bulk_failure, exception, from_status, map_transport};
use crate::backend::{Backend, BackendDescriptor};
use crate::kinds::search::fields::DeclaredFields;
use crate::kinds::search::{
    SearchDocument, SearchFieldKind, SearchHit, SearchQuery, SearchResults, SearchSettings,
    SearchStore, Stemming,
};
use crate::store::{wrong_settings, ConnectContext};
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind,
};

const INFO: StoreInfo = StoreInfo {
    kind: StoreKind::Search,
    backend: "elasticsearch",
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

/// An Elasticsearch cluster of search indexes; each search entity has its own index.
#[derive(Clone, Debug)]
pub struct ElasticsearchSearch {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    client: Elasticsearch,
    config: Config,
}

impl ElasticsearchSearch {
    /// Connects to the node `config` names and checks it answers within the connect timeout:
    /// a missing node fails as [`StoreError::Unavailable`] naming it.
    pub async fn open(config: Config) -> Result<Self> {
        config.check()?;
        let url = Url::parse(&config.url).map_err(|err| {
            StoreError::invalid(format!(
                "option `url` is not a valid URL ({err}); write it as http://host:9200"
            ))
        })?;
        let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .timeout(config.request_timeout.0);
        if let Some(username) = &config.username {
            builder = builder.auth(Credentials::Basic(
                username.clone(),
                config.password.clone().unwrap_or_default(),
            ));
        }
        if let Some(key) = &config.api_key {
            builder = builder.auth(Credentials::EncodedApiKey(key.clone()));
        }
        let transport = builder.build().map_err(|err| {
            StoreError::backend_with("cannot build the Elasticsearch client", err)
        })?;
        let store = ElasticsearchSearch {
            shared: Arc::new(Shared {
                client: Elasticsearch::new(transport),
                config,
            }),
        };
        let connect_timeout = store.shared.config.connect_timeout.0;
        let node = store.shared.config.url.clone();
        match tokio::time::timeout(connect_timeout, store.ping()).await {
            Ok(Ok(())) => Ok(store),
            Ok(Err(StoreError::Unavailable { message, source })) => Err(StoreError::Unavailable {
                message: format!("cannot reach Elasticsearch at {node}: {message}"),
                source,
            }),
            Ok(Err(StoreError::Timeout { .. })) | Err(_) => Err(StoreError::unavailable(format!(
                "cannot reach Elasticsearch at {node}: no answer within {connect_timeout:?}"
            ))),
            Ok(Err(other)) => Err(other),
        }
    }
}

/// The Elasticsearch backend, as the registry lists it.
pub const BACKENDS: &[BackendDescriptor] = &[BackendDescriptor::of::<ElasticsearchSearch>(
    StoreKind::Search,
    "elasticsearch",
    "an Elasticsearch index per entity with explicit mappings; bulk indexing",
)];

impl Backend for ElasticsearchSearch {
    type Config = Config;

    async fn connect(_: StoreKind, config: Config, _: &ConnectContext) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(ElasticsearchSearch::open(config).await?))
    }
}

#[async_trait]
impl Store for ElasticsearchSearch {
    fn info(&self) -> StoreInfo {
        INFO
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::Search(settings) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        let index = Index::new(self.shared.clone(), &entity.name, settings)?;
        index.create().await?;
        Ok(EntityHandle::Search(Arc::new(index)))
    }

    async fn ping(&self) -> Result<()> {
        let shared = &self.shared;
        let response = shared
            .client
            .ping()
            .send()
            .await
            .map_err(|err| map_transport(err, shared.config.request_timeout.0, "ping"))?;
        checked(response, "ping").await.map(drop)
    }
}

/// Returns a successful response, or maps an error response to its [`StoreError`].
async fn checked(response: Response, what: &str) -> Result<Response> {
    let status = response.status_code();
    if status.is_success() {
        return Ok(response);
    }
    let body: Json = response.json().await.unwrap_or(Json::Null);
    let (ty, reason) = exception(&body);
    Err(from_status(
        status.as_u16(),
        ty,
        &format!("{what}: {reason}"),
    ))
}

/// The mappings of an entity's fields: strict, one explicit type per declared field.
pub(crate) fn mappings(fields: &[(String, SearchFieldKind)], stemming: Stemming) -> Json {
    let analyzer = match stemming {
        Stemming::None => "standard",
        Stemming::English => "english",
    };
    let properties: Map<String, Json> = fields
        .iter()
        .map(|(name, kind)| {
            let mapping = match kind {
                SearchFieldKind::Text => json!({ "type": "text", "analyzer": analyzer }),
                SearchFieldKind::Keyword => json!({ "type": "keyword" }),
                SearchFieldKind::Integer => json!({ "type": "long" }),
                SearchFieldKind::Float => json!({ "type": "double" }),
            };
            (name.clone(), mapping)
        })
        .collect();
    json!({ "dynamic": "strict", "properties": properties })
}

/// One entity's index.
#[derive(Debug)]
struct Index {
    shared: Arc<Shared>,
    /// The index's name.
    name: String,
    fields: DeclaredFields,
}

impl query::Schema for Index {
    fn kind(&self, name: &str) -> Result<SearchFieldKind> {
        self.fields.kind(name)
    }

    fn text_fields(&self) -> &[String] {
        self.fields.text()
    }
}

impl Index {
    fn new(shared: Arc<Shared>, entity: &str, settings: &SearchSettings) -> Result<Self> {
        if entity.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(StoreError::invalid(format!(
                "entity name `{entity}` has upper-case letters, which Elasticsearch index names cannot hold; the elasticsearch backend needs lower-case entity names"
            )));
        }
        let fields = DeclaredFields::new(settings)?;
        Ok(Index {
            name: format!("{}{entity}", shared.config.index_prefix),
            shared,
            fields,
        })
    }

    fn timeout(&self) -> Duration {
        self.shared.config.request_timeout.0
    }

    fn refresh_param(&self) -> Refresh {
        if self.shared.config.wait_for_refresh {
            Refresh::WaitFor
        } else {
            Refresh::False
        }
    }

    /// The body that creates the index.
    fn create_body(&self) -> Json {
        let config = &self.shared.config;
        json!({
            "settings": {
                "index": {
                    "number_of_shards": config.shards,
                    "number_of_replicas": config.replicas,
                    "refresh_interval": config.refresh_interval_setting(),
                }
            },
            "mappings": mappings(self.fields.all(), config.stemming),
        })
    }

    /// Creates the index, or, when it exists, puts the same mappings on it: a no-op when they
    /// agree, new fields added, and an invalid request when a field changed type.
    async fn create(&self) -> Result<()> {
        let client = &self.shared.client;
        let response = client
            .indices()
            .create(IndicesCreateParts::Index(&self.name))
            .body(self.create_body())
            .send()
            .await
            .map_err(|err| map_transport(err, self.timeout(), "create index"))?;
        match checked(response, &format!("create index `{}`", self.name)).await {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict { .. }) => {}
            Err(other) => return Err(other),
        }
        let response = client
            .indices()
            .put_mapping(IndicesPutMappingParts::Index(&[&self.name]))
            .body(mappings(self.fields.all(), self.shared.config.stemming))
            .send()
            .await
            .map_err(|err| map_transport(err, self.timeout(), "update mappings"))?;
        checked(response, &format!("update the mappings of `{}`", self.name))
            .await
            .map(drop)
    }

    /// One search request, stopped by the server at the call's deadline (see
    /// [`query::with_time_limit`]).
    async fn search(&self, mut body: Json) -> Result<Json> {
        let limit = crate::work::time_limit(None);
        if let Some(limit) = limit {
            query::with_time_limit(&mut body, limit);
        }
        let response = self
            .shared
            .client
            .search(SearchParts::Index(&[&self.name]))
            .body(body)
            .send()
            .await
            .map_err(|err| map_transport(err, self.timeout(), "search"))?;
        let response = checked(response, &format!("search `{}`", self.name)).await?;
        let body: Json = response
            .json()
            .await
            .map_err(|err| map_transport(err, self.timeout(), "search"))?;
        query::complete(body, limit.unwrap_or_else(|| self.timeout()))
    }

    /// The hits of a search response.
    fn hits(&self, response: &Json, snippets: bool) -> Result<Vec<SearchHit>> {
        let Some(hits) = response["hits"]["hits"].as_array() else {
            return Err(StoreError::backend(
                "Elasticsearch answered a search without hits",
            ));
        };
        hits.iter()
            .map(|hit| {
                let id = hit["_id"]
                    .as_str()
                    .ok_or_else(|| StoreError::backend("a search hit has no `_id`"))?
                    .to_owned();
                let mut snippet_map = BTreeMap::new();
                if snippets {
                    if let Some(highlight) = hit["highlight"].as_object() {
                        for (field, fragments) in highlight {
                            if let Some(fragment) = fragments[0].as_str() {
                                snippet_map.insert(field.clone(), fragment.to_owned());
                            }
                        }
                    }
                }
                Ok(SearchHit {
                    id,
                    score: hit["_score"].as_f64().unwrap_or(0.0) as f32,
                    fields: self.fields.read_json(&hit["_source"]),
                    snippets: snippet_map,
                })
            })
            .collect()
    }
}

/// The bulk request body of `documents`: an `index` action line (the id a JSON string built
/// by serde_json) and the source line of each, in order, so the last of one id wins.
pub(crate) fn bulk_body(documents: Vec<(String, Json)>) -> Vec<JsonBody<Json>> {
    let mut body = Vec::with_capacity(documents.len() * 2);
    for (id, source) in documents {
        body.push(json!({ "index": { "_id": id } }).into());
        body.push(source.into());
    }
    body
}

/// The ids, statuses, types and reasons of the failed items of a bulk response.
pub(crate) fn failed_items(response: &Json) -> Vec<(String, u16, Option<String>, String)> {
    if response["errors"] != Json::Bool(true) {
        return Vec::new();
    }
    let Some(items) = response["items"].as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let result = item.as_object()?.values().next()?;
            let error = result.get("error")?;
            let id = result["_id"].as_str().unwrap_or("?").to_owned();
            let status = result["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(500);
            let ty = error["type"].as_str().map(str::to_owned);
            let reason = error["reason"].as_str().unwrap_or("").to_owned();
            Some((id, status, ty, reason))
        })
        .collect()
}

#[async_trait]
impl SearchStore for Index {
    async fn index(&self, documents: Vec<SearchDocument>) -> Result<()> {
        crate::kinds::search::check_ids(&documents)?;
        // Validate the whole batch first: an invalid document rejects it before anything is
        // sent.
        let sources = documents
            .iter()
            .map(|document| Ok((document.id.clone(), self.fields.to_json(document)?)))
            .collect::<Result<Vec<_>>>()?;
        if sources.is_empty() {
            return Ok(());
        }
        let response = self
            .shared
            .client
            .bulk(BulkParts::Index(&self.name))
            .body(bulk_body(sources))
            .refresh(self.refresh_param())
            .send()
            .await
            .map_err(|err| map_transport(err, self.timeout(), "bulk index"))?;
        let response = checked(response, &format!("bulk index into `{}`", self.name)).await?;
        let body: Json = response
            .json()
            .await
            .map_err(|err| map_transport(err, self.timeout(), "bulk index"))?;
        let failures = failed_items(&body);
        if failures.is_empty() {
            Ok(())
        } else {
            Err(bulk_failure(&failures))
        }
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        crate::kinds::search::check_id(id)?;
        let response = self
            .shared
            .client
            .delete(DeleteParts::IndexId(&self.name, id))
            .refresh(self.refresh_param())
            .send()
            .await
            .map_err(|err| map_transport(err, self.timeout(), "delete"))?;
        let status = response.status_code().as_u16();
        let body: Json = response.json().await.unwrap_or(Json::Null);
        match (status, body["result"].as_str()) {
            (200, Some("deleted")) => Ok(true),
            (404, Some("not_found")) => Ok(false),
            _ => {
                let (ty, reason) = exception(&body);
                Err(from_status(
                    status,
                    ty,
                    &format!("delete from `{}`: {reason}", self.name),
                ))
            }
        }
    }

    async fn query(&self, query: &SearchQuery) -> Result<SearchResults> {
        let body = query::search_body(self, query)?;
        let past_window = query.limit > 0 && query::page(query.offset, query.limit).is_none();
        let response = self.search(body).await?;
        let total = response["hits"]["total"]["value"].as_u64().ok_or_else(|| {
            StoreError::backend("Elasticsearch answered a search without a total")
        })?;
        if past_window {
            // Only counted: a page wholly past the result window is empty only if the hits
            // end before it.
            if total > u64::try_from(query.offset).unwrap_or(u64::MAX) {
                return Err(StoreError::invalid(format!(
                    "offset {} is past Elasticsearch's result window of {} hits",
                    query.offset,
                    query::MAX_RESULT_WINDOW
                )));
            }
            return Ok(SearchResults {
                total,
                hits: Vec::new(),
            });
        }
        let hits = self.hits(&response, query.snippets)?;
        Ok(SearchResults { total, hits })
    }

    async fn refresh(&self) -> Result<()> {
        let response = self
            .shared
            .client
            .indices()
            .refresh(IndicesRefreshParts::Index(&[&self.name]))
            .send()
            .await
            .map_err(|err| map_transport(err, self.timeout(), "refresh"))?;
        checked(response, &format!("refresh `{}`", self.name))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::search::SearchField;
    use crate::Value;

    fn fields() -> Vec<(String, SearchFieldKind)> {
        vec![
            ("title".to_owned(), SearchFieldKind::Text),
            ("category".to_owned(), SearchFieldKind::Keyword),
            ("price".to_owned(), SearchFieldKind::Float),
            ("stock".to_owned(), SearchFieldKind::Integer),
        ]
    }

    #[test]
    fn mappings_are_explicit_and_strict() {
        assert_eq!(
            mappings(&fields(), Stemming::None),
            json!({
                "dynamic": "strict",
                "properties": {
                    "title": {"type": "text", "analyzer": "standard"},
                    "category": {"type": "keyword"},
                    "price": {"type": "double"},
                    "stock": {"type": "long"},
                }
            })
        );
        let english = mappings(&fields(), Stemming::English);
        assert_eq!(english["properties"]["title"]["analyzer"], "english");
    }

    #[test]
    fn bulk_bodies_pair_actions_and_sources_in_order() {
        let hostile = "id \"with\" quotes \\ and\nnewline {\"index\":{}}";
        let body = bulk_body(vec![
            (hostile.to_owned(), json!({"title": "a \"b\" \\ c"})),
            ("x".to_owned(), json!({"title": "second"})),
        ]);
        assert_eq!(body.len(), 4);
        let lines: Vec<String> = body
            .iter()
            .map(|line| {
                let mut bytes = bytes::BytesMut::new();
                elasticsearch::http::request::Body::write(line, &mut bytes).unwrap();
                String::from_utf8(bytes.to_vec()).unwrap()
            })
            .collect();
        // Each line is one JSON value: a newline in an id is escaped, never a line break
        // (the bulk body puts a newline after each).
        for line in &lines {
            assert!(!line.contains('\n'), "{line}");
            serde_json::from_str::<Json>(line).unwrap();
        }
        let action: Json = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(action, json!({"index": {"_id": hostile}}));
        let source: Json = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(source, json!({"title": "a \"b\" \\ c"}));
    }

    #[test]
    fn failed_bulk_items_are_collected() {
        let response = json!({
            "errors": true,
            "items": [
                {"index": {"_id": "ok", "status": 201, "result": "created"}},
                {"index": {"_id": "bad", "status": 400, "error": {"type": "document_parsing_exception", "reason": "failed to parse field [stock]"}}},
                {"index": {"_id": "busy", "status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "queue full"}}},
            ]
        });
        let failures = failed_items(&response);
        assert_eq!(failures.len(), 2);
        assert_eq!(failures[0].0, "bad");
        assert_eq!(failures[1].1, 429);
        assert!(failed_items(&json!({"errors": false, "items": []})).is_empty());
        let err = bulk_failure(&failures).to_string();
        assert!(err.contains("`bad`") && err.contains("`busy`"), "{err}");
    }

    #[tokio::test]
    async fn documents_are_checked_against_the_schema() {
        let config: Config = serde_json::from_value(json!({"url": "http://127.0.0.1:1"})).unwrap();
        let transport = TransportBuilder::new(SingleNodeConnectionPool::new(
            Url::parse("http://127.0.0.1:1").unwrap(),
        ))
        .build()
        .unwrap();
        let shared = Arc::new(Shared {
            client: Elasticsearch::new(transport),
            config,
        });
        let settings = SearchSettings::with_fields(vec![
            SearchField {
                name: "title".into(),
                kind: SearchFieldKind::Text,
            },
            SearchField {
                name: "price".into(),
                kind: SearchFieldKind::Float,
            },
        ]);
        let index = Index::new(shared.clone(), "products", &settings).unwrap();
        assert_eq!(index.name, "polyroute_products");
        let source = index
            .fields
            .to_json(&SearchDocument::new(
                "p",
                [("title", Value::from("x")), ("price", Value::Int(7))],
            ))
            .unwrap();
        assert_eq!(source, json!({"title": "x", "price": 7.0}));
        assert_eq!(
            index.fields.read_json(&source),
            BTreeMap::from([
                ("title".to_owned(), Value::from("x")),
                ("price".to_owned(), Value::Float(7.0)),
            ])
        );
        for (doc, mention) in [
            (SearchDocument::new("p", [("colour", "red")]), "colour"),
            (
                SearchDocument::new("p", [("price", Value::Float(f64::NAN))]),
                "price",
            ),
            (SearchDocument::new("", [("title", "x")]), "id"),
            (
                SearchDocument::new(&"i".repeat(513), [("title", "x")]),
                "id",
            ),
        ] {
            let err = index.fields.to_json(&doc).unwrap_err().to_string();
            assert!(err.contains(mention), "{err}");
        }
        assert!(Index::new(shared, "Products", &settings).is_err());
    }
}
