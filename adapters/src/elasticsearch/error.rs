//! Elasticsearch errors as [`StoreError`]s, in this one place: transport failures, error
//! responses (status code and exception type) and per-item bulk failures.

use std::time::Duration;

use serde_json::Value as Json;

use crate::StoreError;

/// Maps a transport error (the request got no HTTP answer, or its answer could not be read).
/// `request_timeout` is the deadline of a request that timed out.
pub(super) fn map_transport(
    err: elasticsearch::Error,
    request_timeout: Duration,
    what: &str,
) -> StoreError {
    if err.is_timeout() {
        return StoreError::Timeout {
            after: request_timeout,
        };
    }
    if let Some(status) = err.status_code() {
        return from_status(status.as_u16(), None, &format!("{what}: {err}"));
    }
    if err.is_json() {
        return StoreError::backend_with(
            format!("{what}: Elasticsearch answered with unreadable JSON"),
            err,
        );
    }
    StoreError::Unavailable {
        message: format!("{what}: Elasticsearch unreachable: {err}"),
        source: Some(err.into()),
    }
}

/// The `error.type` and `error.reason` of an error response body, if it has them.
pub(super) fn exception(body: &Json) -> (Option<&str>, String) {
    let error = &body["error"];
    let ty = error["type"].as_str();
    let mut reason = error["reason"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| error.as_str().map(str::to_owned))
        .unwrap_or_default();
    // A search's own reason is generic: the first shard failure says what was wrong.
    if let Some(cause) = error["root_cause"][0]["reason"].as_str() {
        if !reason.contains(cause) {
            reason = format!("{reason} ({cause})");
        }
    }
    if let Some(cause) = error["caused_by"]["reason"].as_str() {
        if !reason.contains(cause) {
            reason = format!("{reason}: {cause}");
        }
    }
    (ty, reason)
}

/// Maps an error response: its status code and, when the body had one, its exception type.
pub(super) fn from_status(status: u16, ty: Option<&str>, reason: &str) -> StoreError {
    let message = match ty {
        Some(ty) => format!("{ty}: {reason} (HTTP {status})"),
        None => format!("{reason} (HTTP {status})"),
    };
    match (status, ty) {
        (_, Some("version_conflict_engine_exception" | "resource_already_exists_exception"))
        | (409, _) => StoreError::conflict(message),
        (_, Some("index_not_found_exception")) => StoreError::not_found(message),
        (_, Some("es_rejected_execution_exception" | "circuit_breaking_exception"))
        | (408 | 429 | 502 | 503 | 504, _) => StoreError::unavailable(message),
        (401 | 403, _) => {
            StoreError::unavailable(format!("Elasticsearch refused the credentials: {message}"))
        }
        (404, _) => StoreError::not_found(message),
        (400 | 413, _) => StoreError::invalid(message),
        _ => StoreError::backend(message),
    }
}

/// The error of a bulk request some of whose items failed, naming them (at most ten).
pub(super) fn bulk_failure(failures: &[(String, u16, Option<String>, String)]) -> StoreError {
    let named: Vec<String> = failures
        .iter()
        .take(10)
        .map(|(id, status, ty, reason)| {
            format!(
                "`{id}` ({}: {reason}, HTTP {status})",
                ty.as_deref().unwrap_or("error")
            )
        })
        .collect();
    let more = failures.len().saturating_sub(10);
    let mut message = format!(
        "{} of the batch's documents were not indexed: {}",
        failures.len(),
        named.join("; ")
    );
    if more > 0 {
        message.push_str(&format!("; and {more} more"));
    }
    message.push_str("; the others were");
    // Retryable only when every failure was transient; invalid when one was refused as malformed.
    let retryable = failures.iter().all(|(_, status, ty, _)| {
        matches!(status, 429 | 503) || ty.as_deref() == Some("es_rejected_execution_exception")
    });
    let invalid = failures.iter().any(|(_, status, _, _)| *status == 400);
    if retryable {
        StoreError::unavailable(message)
    } else if invalid {
        StoreError::invalid(message)
    } else {
        StoreError::backend(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use serde_json::json;

    #[test]
    fn statuses_and_exception_types_map_to_kinds() {
        let kind = |status, ty| from_status(status, ty, "x").kind();
        assert_eq!(
            kind(409, Some("version_conflict_engine_exception")),
            ErrorKind::Conflict
        );
        assert_eq!(
            kind(400, Some("resource_already_exists_exception")),
            ErrorKind::Conflict
        );
        assert_eq!(
            kind(404, Some("index_not_found_exception")),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(400, Some("parsing_exception")),
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            kind(400, Some("search_phase_execution_exception")),
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            kind(429, Some("es_rejected_execution_exception")),
            ErrorKind::Unavailable
        );
        assert_eq!(kind(503, None), ErrorKind::Unavailable);
        assert_eq!(
            kind(401, Some("security_exception")),
            ErrorKind::Unavailable
        );
        assert_eq!(kind(413, None), ErrorKind::InvalidRequest);
        assert_eq!(
            kind(500, Some("null_pointer_exception")),
            ErrorKind::Backend
        );
    }

    #[test]
    fn exceptions_are_read_from_error_bodies() {
        let body = json!({
            "error": {
                "root_cause": [{"type": "query_shard_exception", "reason": "failed to create query"}],
                "type": "search_phase_execution_exception",
                "reason": "all shards failed",
            },
            "status": 400
        });
        let (ty, reason) = exception(&body);
        assert_eq!(ty, Some("search_phase_execution_exception"));
        assert_eq!(reason, "all shards failed (failed to create query)");
        let plain = json!({"error": "plain text"});
        let (ty, reason) = exception(&plain);
        assert_eq!((ty, reason.as_str()), (None, "plain text"));
    }

    #[test]
    fn bulk_failures_name_the_failed_ids() {
        let failures = vec![
            (
                "a\"1".to_owned(),
                400,
                Some("document_parsing_exception".to_owned()),
                "bad".to_owned(),
            ),
            ("b".to_owned(), 400, None, "worse".to_owned()),
        ];
        let err = bulk_failure(&failures);
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        let text = err.to_string();
        assert!(text.contains("`a\"1`") && text.contains("`b`"), "{text}");
        let busy = vec![(
            "c".to_owned(),
            429,
            Some("es_rejected_execution_exception".to_owned()),
            "queue full".to_owned(),
        )];
        assert!(bulk_failure(&busy).is_retryable());
        let many: Vec<_> = (0..15)
            .map(|i| (format!("d{i}"), 500, None, "x".to_owned()))
            .collect();
        let text = bulk_failure(&many).to_string();
        assert!(text.contains("and 5 more"), "{text}");
        assert_eq!(bulk_failure(&many).kind(), ErrorKind::Backend);
    }

    #[test]
    fn transport_failures_are_unavailable_and_keep_the_source() {
        let io = elasticsearch::Error::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused",
        ));
        let mapped = map_transport(io, Duration::from_secs(1), "search");
        assert_eq!(mapped.kind(), ErrorKind::Unavailable);
        assert!(std::error::Error::source(&mapped).is_some());
        let json = serde_json::from_str::<Json>("{").unwrap_err();
        let mapped = map_transport(
            elasticsearch::Error::from(json),
            Duration::from_secs(1),
            "x",
        );
        assert_eq!(mapped.kind(), ErrorKind::Backend);
    }
}
