//! Request bodies and query strings: [`JsonBody`] reads a JSON body, rejecting a bad one with
//! the path of the field it got wrong (`points[2].fields`) and what was expected; [`QueryArgs`]
//! does the same for query strings. A body over the size limit is 413.
//!
//! Every JSON body of the API is an object: a body that is an array, a string or a number is
//! refused as a whole, and a nested object is never read from an array ([`strict`]), so what
//! the server accepts is what `/openapi.json` describes. Nothing may follow the object.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::errors::ApiError;

mod strict;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// Reads `bytes` as the JSON object `T`, naming the bad field on failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let found = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "the request body is empty; send a JSON object",
            )
            .with_field("body"))
        }
        Some(b'{') => None,
        Some(b'[') => Some("an array"),
        Some(b'"') => Some("a string"),
        Some(b't' | b'f') => Some("a boolean"),
        Some(b'n') => Some("null"),
        Some(b'-' | b'0'..=b'9') => Some("a number"),
        Some(_) => None,
    };
    if let Some(found) = found {
        return Err(ApiError::bad_request(
            "invalid_body",
            format!("the body is {found}; this route takes a JSON object `{{…}}`, described by its requestBody in /openapi.json"),
        )
        .with_field("body"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value =
        serde_path_to_error::deserialize(strict::Strict(&mut deserializer)).map_err(|error| {
            let path = error.path().to_string();
            json_error(error.into_inner(), &path)
        })?;
    deserializer.end().map_err(|error| json_error(error, ""))?;
    Ok(value)
}

/// A serde_json error at `path` as a 400.
fn json_error(inner: serde_json::Error, path: &str) -> ApiError {
    let code = if inner.is_syntax() || inner.is_eof() {
        "malformed_json"
    } else {
        "invalid_body"
    };
    let message = if code == "malformed_json" {
        format!("the body is not valid JSON: {inner}")
    } else {
        format!("{inner}; see /openapi.json for the shape of this request")
    };
    let error = ApiError::bad_request(code, message);
    if path.is_empty() || path == "." {
        error
    } else {
        error.with_field(path)
    }
}

/// Reads the whole body, mapping the size limit to 413.
pub async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::bad_request("invalid_body", rejection.body_text())
            }
        })
}

/// 413: the body is over the configured `max_body`.
pub fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "the request body is larger than the sidecar's `max_body`; send less per request, or raise `[sidecar] max_body`",
    )
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json(request.headers())?;
        let bytes = read_body(request, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// 415 unless `headers` say the body is JSON: `application/json` or `application/…+json`,
/// parameters such as `charset` allowed. A missing type is refused too: a web page can send a
/// body without a type, or as `text/plain`, to another origin without asking first, but
/// `application/json` only after a CORS preflight, which the sidecar refuses to unlisted
/// origins ([`browser`](crate::browser)).
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            let essence = value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            essence == "application/json"
                || essence
                    .strip_prefix("application/")
                    .is_some_and(|subtype| subtype.ends_with("+json") && !subtype.contains('/'))
        })
        .unwrap_or(false);
    if json {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "this route takes JSON; send `Content-Type: application/json`",
        )
        .with_field("content-type"))
    }
}

/// A UTF-8 text body (InfluxDB line protocol).
#[derive(Debug)]
pub struct TextBody(pub String);

impl<S: Send + Sync> FromRequest<S> for TextBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state).await?;
        String::from_utf8(bytes.to_vec())
            .map(TextBody)
            .map_err(|error| {
                ApiError::bad_request(
                    "invalid_body",
                    format!(
                        "the body is not UTF-8 text (invalid byte at offset {})",
                        error.utf8_error().valid_up_to()
                    ),
                )
            })
    }
}

/// A query string of type `T`.
#[derive(Debug)]
pub struct QueryArgs<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryArgs<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer = serde_urlencoded_deserializer(query);
        deserializer.map(QueryArgs)
    }
}

fn serde_urlencoded_deserializer<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| ApiError::bad_request("invalid_query", "the query string is not valid"))?,
    )
    .map(|axum::extract::Query(value)| value)
    .map_err(|rejection| {
        ApiError::bad_request(
            "invalid_query",
            format!(
                "{}; see /openapi.json for this route's parameters",
                rejection.body_text()
            ),
        )
        .with_field("query")
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Shape {
        points: Vec<Point>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Point {
        value: f64,
    }

    #[test]
    fn a_bad_field_is_named() {
        let error =
            parse_json::<Shape>(br#"{"points": [{"value": 1}, {"value": "x"}]}"#).unwrap_err();
        assert_eq!(error.code, "invalid_body");
        assert_eq!(error.field.as_deref(), Some("points[1].value"));
        let error = parse_json::<Shape>(br#"{"points": [{"valu": 1}]}"#).unwrap_err();
        assert!(
            error.message.contains("unknown field `valu`"),
            "{}",
            error.message
        );
    }

    #[test]
    fn json_routes_need_a_json_content_type() {
        let with = |value: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            if let Some(value) = value {
                headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            }
            require_json(&headers)
        };
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            assert!(with(Some(ok)).is_ok(), "{ok}");
        }
        for refused in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("text/plain+json"),
            Some("application/jsonx"),
        ] {
            let error = with(refused).unwrap_err();
            assert_eq!(
                error.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{refused:?}"
            );
        }
    }

    #[test]
    fn malformed_json_is_its_own_code() {
        let error = parse_json::<Shape>(b"{\"points\": [").unwrap_err();
        assert_eq!(error.code, "malformed_json");
        assert_eq!(parse_json::<Shape>(b"").unwrap_err().code, "invalid_body");
    }

    #[test]
    fn only_an_object_is_a_body() {
        for body in [
            &br#"[[{"value": 1}]]"#[..],
            b"  [] ",
            b"\"x\"",
            b"1",
            b"true",
            b"null",
        ] {
            let error = parse_json::<Shape>(body).unwrap_err();
            assert_eq!(error.code, "invalid_body");
            assert_eq!(error.field.as_deref(), Some("body"));
            assert!(
                error.message.contains("takes a JSON object"),
                "{}",
                error.message
            );
        }
        let error = parse_json::<Shape>(br#"{"points": [[1]]}"#).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("points[0]"));
        assert!(parse_json::<Shape>(br#" {"points": [{"value": 1}]} "#).is_ok());
    }

    #[test]
    fn nothing_may_follow_the_object() {
        let error = parse_json::<Shape>(br#"{"points": []} {"points": []}"#).unwrap_err();
        assert_eq!(error.code, "malformed_json");
        assert!(parse_json::<Shape>(br#"{"points": []}x"#).is_err());
    }
}
