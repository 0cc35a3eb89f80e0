//! InfluxDB errors as [`StoreError`]s, in this one place: transport failures from the HTTP
//! client, and the API's status codes with its JSON error bodies.

use std::time::Duration;

use crate::StoreError;

/// Maps a transport error (no HTTP response).
pub(crate) fn map_transport(err: reqwest::Error, url: &str, timeout: Duration) -> StoreError {
    if err.is_timeout() {
        return StoreError::Timeout { after: timeout };
    }
    if err.is_connect() || err.is_request() {
        return StoreError::Unavailable {
            message: format!("cannot reach InfluxDB at {url}: {err}"),
            source: Some(err.into()),
        };
    }
    StoreError::Backend {
        message: format!("InfluxDB request failed: {err}"),
        source: Some(err.into()),
    }
}

/// The message of an API error body (`{"code": …, "message": …}`), else the body itself.
pub(crate) fn body_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|json| {
            json.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| body.trim().to_owned())
}

/// Maps an HTTP error status and its body.
pub(crate) fn map_status(status: u16, body: &str) -> StoreError {
    let message = format!("InfluxDB answered {status}: {}", body_message(body));
    match status {
        // Line protocol errors, type conflicts (422 or a 400 "partial write"), bad Flux.
        400 | 413 | 422 => {
            if message.contains("field type conflict") {
                StoreError::invalid(format!(
                    "{message} (a field keeps one type per measurement)"
                ))
            } else {
                StoreError::invalid(message)
            }
        }
        404 => StoreError::InvalidRequest {
            message: format!("{message} (does the bucket or organisation exist?)"),
            source: None,
        },
        401 | 403 => StoreError::Unavailable {
            message: format!("{message} (check the token)"),
            source: None,
        },
        408 | 429 | 500..=599 => StoreError::Unavailable {
            message,
            source: None,
        },
        409 => StoreError::conflict(message),
        _ => StoreError::backend(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn statuses_map_to_kinds() {
        let conflict = r#"{"code":"unprocessable entity","message":"failure writing points to database: partial write: field type conflict: input field \"v\" on measurement \"e.cpu\" is type integer, already exists as type float dropped=1"}"#;
        let err = map_status(422, conflict);
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(err.to_string().contains("\"v\""), "{err}");
        assert_eq!(map_status(400, "{}").kind(), ErrorKind::InvalidRequest);
        assert_eq!(map_status(401, "").kind(), ErrorKind::Unavailable);
        assert_eq!(map_status(404, "").kind(), ErrorKind::InvalidRequest);
        assert_eq!(map_status(429, "").kind(), ErrorKind::Unavailable);
        assert_eq!(map_status(503, "").kind(), ErrorKind::Unavailable);
        assert_eq!(map_status(409, "").kind(), ErrorKind::Conflict);
        assert_eq!(map_status(418, "").kind(), ErrorKind::Backend);
    }

    #[test]
    fn bodies_give_their_message() {
        assert_eq!(body_message(r#"{"code":"invalid","message":"bad"}"#), "bad");
        assert_eq!(body_message(" plain \n"), "plain");
    }
}
