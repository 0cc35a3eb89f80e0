//! Idempotency keys: a write sent with an `Idempotency-Key` header is applied once; a retry with
//! the same key (same caller, method and path) gets the first answer again, marked with
//! `idempotent-replayed: true`, and a retry that reuses the key for another request (another
//! query string or body) gets 409.
//!
//! Answers are kept in memory for `idempotency_ttl`, up to `idempotency_capacity` of them and
//! `idempotency_max_bytes` in all: each answer weighs its bytes (body, keys and a fixed
//! overhead), but at least `idempotency_max_bytes / idempotency_capacity`, so one bound on the
//! total weight keeps both the count and the bytes; the least recently used answers go first.
//! Concurrent requests with one key run the write once: the others wait for its answer. Only
//! answers that settle the outcome are kept (2xx and 4xx but 408/429); after a 5xx or a timeout
//! the write may not have happened, so a retry runs it again.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::errors::ApiError;

/// The request header that carries the key.
pub const HEADER: &str = "idempotency-key";
/// The response header set on a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
const MAX_KEY_LEN: usize = 255;
/// What one kept answer costs beyond its body and keys (the fingerprint, status, content type
/// and the cache's bookkeeping), in bytes, for the byte bound.
const ENTRY_OVERHEAD: usize = 160;

/// What identifies one write: the caller, the method and path it wrote to, and its key.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct RecordKey {
    /// The caller's name.
    pub caller: String,
    /// `PUT /v1/…`.
    pub target: String,
    /// The client's key.
    pub key: String,
}

/// The first answer to a write.
#[derive(Debug)]
struct Recorded {
    fingerprint: [u8; 32],
    status: StatusCode,
    content_type: Option<HeaderValue>,
    body: Bytes,
}

/// The kept answers.
#[derive(Clone)]
pub struct Idempotency {
    cache: moka::future::Cache<RecordKey, Arc<Recorded>>,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency")
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

/// How a write with a key was answered.
#[derive(Debug)]
pub enum Answer {
    /// It ran now.
    Fresh(Response),
    /// An earlier run's answer was replayed.
    Replayed(Response),
}

impl Idempotency {
    /// Keeps answers for `ttl`, at most `capacity` of them and `max_bytes` in all.
    pub fn new(ttl: Duration, capacity: u64, max_bytes: u64) -> Self {
        let capacity = capacity.max(1);
        let max_bytes = max_bytes.max(1);
        let least = u32::try_from(max_bytes / capacity)
            .unwrap_or(u32::MAX)
            .max(1);
        Idempotency {
            cache: moka::future::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(move |key: &RecordKey, recorded: &Arc<Recorded>| {
                    let bytes = recorded.body.len()
                        + recorded.content_type.as_ref().map_or(0, HeaderValue::len)
                        + key.caller.len()
                        + key.target.len()
                        + key.key.len()
                        + ENTRY_OVERHEAD;
                    u32::try_from(bytes).unwrap_or(u32::MAX).max(least)
                })
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .time_to_live(ttl)
                .build(),
        }
    }

    /// What tells a retry from a reuse of its key for another request: the SHA-256 of the
    /// request's query string (`None` and empty alike) and body, each length-prefixed so that
    /// no two different pairs hash the same input.
    pub fn fingerprint(query: Option<&str>, body: &[u8]) -> [u8; 32] {
        let query = query.unwrap_or("").as_bytes();
        let mut hasher = Sha256::new();
        hasher.update((query.len() as u64).to_be_bytes());
        hasher.update(query);
        hasher.update((body.len() as u64).to_be_bytes());
        hasher.update(body);
        hasher.finalize().into()
    }

    /// How many answers are kept now (after pending evictions are applied).
    pub async fn len(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }

    /// Whether no answer is kept now.
    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }

    /// The weight of the kept answers now, in bytes (after pending evictions are applied).
    pub async fn weighed_bytes(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.weighted_size()
    }

    /// The key of `headers`, if any; 400 when it is empty, too long or not visible ASCII.
    pub fn key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
        let Some(value) = headers.get(HEADER) else {
            return Ok(None);
        };
        match value.to_str() {
            Ok(text)
                if !text.is_empty()
                    && text.len() <= MAX_KEY_LEN
                    && text.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Ok(Some(text.to_owned()))
            }
            _ => Err(ApiError::bad_request(
                "invalid_idempotency_key",
                format!("an Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters, such as a UUID"),
            )
            .with_field(HEADER)),
        }
    }

    /// Runs `write` once for `key`, or replays its recorded answer; `fingerprint` (see
    /// [`Idempotency::fingerprint`]) tells a retry from a reuse of the key.
    pub async fn run<F, Fut>(&self, key: RecordKey, fingerprint: [u8; 32], write: F) -> Answer
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Response>,
    {
        let mut ran = false;
        let mut uncached: Option<Response> = None;
        let recorded = self
            .cache
            .optionally_get_with(key, async {
                ran = true;
                let response = write().await;
                let status = response.status();
                let settles = status.is_success()
                    || (status.is_client_error()
                        && status != StatusCode::REQUEST_TIMEOUT
                        && status != StatusCode::TOO_MANY_REQUESTS);
                if !settles {
                    uncached = Some(response);
                    return None;
                }
                let (parts, body) = response.into_parts();
                match axum::body::to_bytes(body, usize::MAX).await {
                    Ok(bytes) => Some(Arc::new(Recorded {
                        fingerprint,
                        status,
                        content_type: parts.headers.get(header::CONTENT_TYPE).cloned(),
                        body: bytes,
                    })),
                    Err(error) => {
                        uncached = Some(
                            ApiError::new(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                "internal",
                                format!("cannot read the answer to record it: {error}"),
                            )
                            .into_response(),
                        );
                        None
                    }
                }
            })
            .await;
        if let Some(response) = uncached {
            return Answer::Fresh(response);
        }
        match recorded {
            Some(recorded) if ran => Answer::Fresh(replay(&recorded, false)),
            Some(recorded) if recorded.fingerprint != fingerprint => Answer::Fresh(
                ApiError::conflict(
                    "idempotency_key_reused",
                    "this Idempotency-Key was already used for a different request (query string or body); use a new key for a new write",
                )
                .with_field(HEADER)
                .into_response(),
            ),
            Some(recorded) => Answer::Replayed(replay(&recorded, true)),
            None => Answer::Fresh(
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "retry",
                    "a concurrent request with this Idempotency-Key did not finish; retry",
                )
                .into_response(),
            ),
        }
    }
}

fn replay(recorded: &Recorded, replayed: bool) -> Response {
    let mut response = Response::new(Body::from(recorded.body.clone()));
    *response.status_mut() = recorded.status;
    if let Some(content_type) = &recorded.content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type.clone());
    }
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn fp(query: Option<&str>, body: &[u8]) -> [u8; 32] {
        Idempotency::fingerprint(query, body)
    }

    fn key(k: &str) -> RecordKey {
        RecordKey {
            caller: "app".into(),
            target: "PUT /v1/x".into(),
            key: k.into(),
        }
    }

    #[tokio::test]
    async fn a_retry_is_answered_without_running_again() {
        let idem = Idempotency::new(Duration::from_secs(60), 100, 1 << 20);
        let runs = AtomicUsize::new(0);
        let write = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            (StatusCode::CREATED, "done").into_response()
        };
        let first = idem.run(key("k"), fp(None, b"body"), write).await;
        assert!(matches!(first, Answer::Fresh(ref r) if r.status() == StatusCode::CREATED));
        let second = idem.run(key("k"), fp(None, b"body"), write).await;
        let Answer::Replayed(response) = second else {
            panic!("not replayed")
        };
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[REPLAYED_HEADER], "true");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let reused = idem.run(key("k"), fp(None, b"other"), write).await;
        assert!(matches!(reused, Answer::Fresh(ref r) if r.status() == StatusCode::CONFLICT));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn failures_that_may_not_have_applied_run_again() {
        let idem = Idempotency::new(Duration::from_secs(60), 100, 1 << 20);
        let runs = AtomicUsize::new(0);
        let write = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        };
        idem.run(key("k"), fp(None, b""), write).await;
        idem.run(key("k"), fp(None, b""), write).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_query_string_is_part_of_the_request() {
        assert_eq!(fp(None, b"x"), fp(Some(""), b"x"));
        assert_ne!(
            fp(Some("precision=s"), b"x"),
            fp(Some("precision=ms"), b"x")
        );
        assert_ne!(fp(Some("a"), b"b"), fp(Some("ab"), b""));
    }

    #[tokio::test]
    async fn a_retry_with_another_query_string_is_not_replayed() {
        let idem = Idempotency::new(Duration::from_secs(60), 100, 1 << 20);
        let write = || async { (StatusCode::OK, "done").into_response() };
        idem.run(key("k"), fp(Some("precision=s"), b"cpu v=1 1"), write)
            .await;
        let other = idem
            .run(key("k"), fp(Some("precision=ms"), b"cpu v=1 1"), write)
            .await;
        assert!(matches!(other, Answer::Fresh(ref r) if r.status() == StatusCode::CONFLICT));
    }

    #[tokio::test]
    async fn kept_answers_are_bounded_by_bytes_and_by_count() {
        // 64 KiB for up to 1000 answers: 30 answers of 4 KiB cannot all be kept.
        let idem = Idempotency::new(Duration::from_secs(60), 1000, 64 << 10);
        let big = || async { (StatusCode::OK, vec![b'x'; 4096]).into_response() };
        for n in 0..30 {
            idem.run(key(&format!("k{n}")), fp(None, b""), big).await;
        }
        let kept = idem.len().await;
        assert!((1..=16).contains(&kept), "{kept} answers kept");
        assert!(idem.weighed_bytes().await <= 64 << 10);
        // Small answers weigh at least 64 KiB / 4: at most 4 are kept.
        let idem = Idempotency::new(Duration::from_secs(60), 4, 64 << 10);
        let small = || async { (StatusCode::OK, "ok").into_response() };
        for n in 0..10 {
            idem.run(key(&format!("k{n}")), fp(None, b""), small).await;
        }
        assert!(idem.len().await <= 4);
    }

    #[test]
    fn keys_must_be_visible_ascii() {
        let mut headers = HeaderMap::new();
        assert_eq!(Idempotency::key(&headers).unwrap(), None);
        headers.insert(HEADER, HeaderValue::from_static("abc-123"));
        assert_eq!(
            Idempotency::key(&headers).unwrap().as_deref(),
            Some("abc-123")
        );
        headers.insert(HEADER, HeaderValue::from_static("a b"));
        assert!(Idempotency::key(&headers).is_err());
    }
}
