//! Idempotency keys: a write sent with an `Idempotency-Key` header is applied once; a retry with
//! the same key (same caller, method and path) gets the first answer again, marked with
//! `idempotent-replayed: true`, and a retry that reuses the key for another body gets 409.
//!
//! Answers are kept in memory for `idempotency_ttl`, up to `idempotency_capacity` of them.
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
    /// Keeps answers for `ttl`, at most `capacity` of them.
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        Idempotency {
            cache: moka::future::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
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

    /// Runs `write` once for `key`, or replays its recorded answer; `body` is the request body,
    /// whose hash tells a retry from a reuse of the key.
    pub async fn run<F, Fut>(&self, key: RecordKey, body: &[u8], write: F) -> Answer
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Response>,
    {
        let fingerprint: [u8; 32] = Sha256::digest(body).into();
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
                    "this Idempotency-Key was already used for a different request body; use a new key for a new write",
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

    fn key(k: &str) -> RecordKey {
        RecordKey {
            caller: "app".into(),
            target: "PUT /v1/x".into(),
            key: k.into(),
        }
    }

    #[tokio::test]
    async fn a_retry_is_answered_without_running_again() {
        let idem = Idempotency::new(Duration::from_secs(60), 100);
        let runs = AtomicUsize::new(0);
        let write = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            (StatusCode::CREATED, "done").into_response()
        };
        let first = idem.run(key("k"), b"body", write).await;
        assert!(matches!(first, Answer::Fresh(ref r) if r.status() == StatusCode::CREATED));
        let second = idem.run(key("k"), b"body", write).await;
        let Answer::Replayed(response) = second else {
            panic!("not replayed")
        };
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[REPLAYED_HEADER], "true");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let reused = idem.run(key("k"), b"other", write).await;
        assert!(matches!(reused, Answer::Fresh(ref r) if r.status() == StatusCode::CONFLICT));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn failures_that_may_not_have_applied_run_again() {
        let idem = Idempotency::new(Duration::from_secs(60), 100);
        let runs = AtomicUsize::new(0);
        let write = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        };
        idem.run(key("k"), b"", write).await;
        idem.run(key("k"), b"", write).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
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
