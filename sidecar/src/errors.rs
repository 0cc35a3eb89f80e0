//! [`ApiError`]: every failure the API answers with, as JSON `{code, message, field?}` and the
//! status that says who must act (400 the caller's input, 401/403 credentials, 404 a name, 409
//! state, 503 a store or the sidecar is unavailable, 504 a deadline passed).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use polyroute::{RouterError, StoreError};
use serde::Serialize;

/// A failed request: its status and the JSON body the caller reads.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable code (`unknown_entity`, `invalid_body`, …).
    pub code: &'static str,
    /// What went wrong and how to fix it, for people.
    pub message: String,
    /// The request field the error is about (`points[2].fields`, `params`, a header).
    pub field: Option<String>,
}

/// The JSON body of an error response.
#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// This error, about request field `field`.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 400: the request's input is wrong.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404: the named item (key, document, node, row) does not exist.
    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// 409: the write conflicts with the state it found.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// 503 `overloaded`: the sidecar sheds this request rather than queue it.
    pub fn overloaded(limit: usize) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!("{limit} requests are already in progress; retry after a short backoff"),
        )
    }

    /// 504: the request did not finish within `after`; a write may or may not have applied.
    pub fn timeout(after: std::time::Duration) -> Self {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            format!(
                "the request did not finish within {}; a write may or may not have been applied, retry it with the same Idempotency-Key",
                humantime::format_duration(after)
            ),
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let (status, code) = match &error {
            StoreError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            StoreError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            StoreError::InvalidRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            StoreError::Unsupported { .. } => (StatusCode::BAD_REQUEST, "unsupported"),
            StoreError::Unavailable { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
            }
            StoreError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "backend_error"),
        };
        ApiError::new(status, code, error.to_string())
    }
}

impl From<RouterError> for ApiError {
    fn from(error: RouterError) -> Self {
        match error {
            // The router's message lists every routed entity; a caller may not use them all.
            RouterError::UnknownEntity { name, .. } => ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_entity",
                format!("unknown entity `{name}`"),
            )
            .with_field("entity"),
            RouterError::WrongKind { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_entity", error.to_string())
                    .with_field("entity")
            }
            RouterError::Store { source, .. } => ApiError::from(source),
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                other.to_string(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            code: self.code,
            message: &self.message,
            field: self.field.as_deref(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_their_status() {
        let cases = [
            (StoreError::not_found("key k"), StatusCode::NOT_FOUND),
            (StoreError::conflict("dup"), StatusCode::CONFLICT),
            (StoreError::invalid("bad"), StatusCode::BAD_REQUEST),
            (
                StoreError::unavailable("down"),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                StoreError::Timeout {
                    after: std::time::Duration::from_millis(5),
                },
                StatusCode::GATEWAY_TIMEOUT,
            ),
            (
                StoreError::backend("oops"),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (error, status) in cases {
            assert_eq!(ApiError::from(error).status, status);
        }
    }

    #[test]
    fn an_unknown_entity_lists_no_other_entity() {
        let error = ApiError::from(RouterError::UnknownEntity {
            name: "nope".into(),
            known: vec!["secret_payroll".into()],
        });
        assert_eq!(error.status, StatusCode::NOT_FOUND);
        assert!(
            !error.message.contains("secret_payroll"),
            "{}",
            error.message
        );
    }

    #[tokio::test]
    async fn the_body_is_code_message_and_field() {
        let response = ApiError::bad_request("invalid_body", "expected a number")
            .with_field("points[0].timestamp")
            .into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "invalid_body", "message": "expected a number", "field": "points[0].timestamp"})
        );
    }
}
