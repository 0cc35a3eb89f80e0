//! Browser protections: a web page open on the machine must not be able to use the sidecar.
//!
//! A page can make the browser send requests to `127.0.0.1:7878` (a form or `fetch` without
//! CORS), and through DNS rebinding it can even read the answers: the page's own host name is
//! made to resolve to `127.0.0.1`, so the browser treats the sidecar as the page's origin. Three
//! checks, on every route, close both ways in:
//!
//! - **Origin**: browsers send `Origin` on every cross-origin request and on every request that
//!   is not a `GET` or `HEAD`; a request carrying one is refused with 403 `forbidden_origin`
//!   unless `[sidecar] allowed_origins` lists it (an opaque `null` origin is never listed).
//!   Clients that are not browsers send no `Origin` and are not affected. A listed origin gets
//!   CORS answers (`Access-Control-Allow-Origin`, preflights), so a web application may call the
//!   sidecar on purpose.
//! - **Host** (only when no tokens are configured, where the sidecar cannot tell callers
//!   apart): the request must name the sidecar by IP address or `localhost`, with the port it
//!   listens on. A rebinding page can only send its own host name, so it is refused with 421
//!   `misdirected_host`. With tokens, a page has no token to send.
//! - **Content type**: JSON routes need `Content-Type: application/json` (415 otherwise, see
//!   [`body`](crate::body)), a type a page can send cross-origin only after a CORS preflight,
//!   which the Origin check refuses.

use std::collections::BTreeSet;
use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::SidecarConfig;
use crate::errors::ApiError;
use crate::routes::Shared;

/// The request headers a listed origin may send (answered to a CORS preflight).
const ALLOWED_HEADERS: &str = "authorization, content-type, idempotency-key, x-request-id";
/// The response headers a listed origin may read.
const EXPOSED_HEADERS: &str = "x-request-id, idempotent-replayed, retry-after";
/// The methods the API uses.
const ALLOWED_METHODS: &str = "GET, PUT, POST, DELETE";
/// How long a browser may keep a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

/// What the browser checks need to know: the listed origins, whether the sidecar is
/// anonymous, and the port it listens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserPolicy {
    allowed_origins: BTreeSet<String>,
    check_host: bool,
    port: u16,
}

impl BrowserPolicy {
    /// The policy of `config`, listening on `config.bind`'s port (0: any port is accepted in
    /// `Host`, for a sidecar whose real port is not known).
    pub fn new(config: &SidecarConfig) -> Self {
        BrowserPolicy {
            allowed_origins: config.allowed_origins.clone(),
            check_host: config.tokens.is_empty(),
            port: config.bind.port(),
        }
    }

    /// The listed origin `headers` carry: `Ok(None)` without an `Origin` header, 403 for an
    /// origin that is not listed.
    pub fn origin(&self, headers: &HeaderMap) -> Result<Option<HeaderValue>, ApiError> {
        let Some(value) = headers.get(header::ORIGIN) else {
            return Ok(None);
        };
        let listed = value
            .to_str()
            .ok()
            .and_then(crate::config::normalize_origin)
            .is_some_and(|origin| self.allowed_origins.contains(&origin));
        if listed {
            return Ok(Some(value.clone()));
        }
        let shown = String::from_utf8_lossy(value.as_bytes())
            .chars()
            .take(200)
            .collect::<String>();
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            format!(
                "requests from web pages are refused unless their origin is listed; got `Origin: {shown}`. Add it to `[sidecar] allowed_origins` if that page may call the sidecar"
            ),
        )
        .with_field("origin"))
    }

    /// Whether the request's `Host` (or its URI's authority) may be answered: always with
    /// tokens; otherwise only an IP address or `localhost`, with the listening port or none.
    /// 421 otherwise.
    pub fn host(&self, request: &Request) -> Result<(), ApiError> {
        if !self.check_host {
            return Ok(());
        }
        let authority = match request.uri().authority() {
            Some(authority) => authority.as_str().to_owned(),
            None => match request.headers().get(header::HOST) {
                Some(value) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
                // Browsers always send Host; a client that sends none is not one.
                None => return Ok(()),
            },
        };
        if self.names_this_sidecar(&authority) {
            return Ok(());
        }
        let shown: String = authority.chars().take(200).collect();
        Err(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected_host",
            format!(
                "this sidecar has no tokens, so it answers only requests addressed to it by IP address or `localhost` (such as `127.0.0.1:{port}`), which a web page cannot forge; got `Host: {shown}`. Call it by address, or declare `[[sidecar.tokens]]`",
                port = self.port
            ),
        )
        .with_field("host"))
    }

    fn names_this_sidecar(&self, authority: &str) -> bool {
        let (host, port) = split_authority(authority);
        let port_ok = match port {
            None => true,
            Some(port) => self.port == 0 || port.parse::<u16>().is_ok_and(|p| p == self.port),
        };
        let host_ok = host.eq_ignore_ascii_case("localhost")
            || host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host)
                .parse::<IpAddr>()
                .is_ok();
        port_ok && host_ok
    }
}

/// `host` and `port` of `authority` (`[::1]:7878`, `localhost`, `127.0.0.1:80`).
fn split_authority(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => {
                let (host, rest) = authority.split_at(end + 1);
                (host, rest.strip_prefix(':'))
            }
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

/// The layer in front of every route: the Host and Origin checks, CORS preflights and headers
/// for listed origins.
pub async fn guard(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let policy = &app.browser;
    if let Err(error) = policy.host(&request) {
        return error.into_response();
    }
    let origin = match policy.origin(request.headers()) {
        Ok(origin) => origin,
        Err(error) => return error.into_response(),
    };
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(PREFLIGHT_MAX_AGE),
        );
        response
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;
    use crate::config::{hash_token, Scope, TokenConfig};

    fn policy(tokens: bool) -> BrowserPolicy {
        let mut config = SidecarConfig::default();
        config
            .allowed_origins
            .insert("https://app.example.com".to_owned());
        if tokens {
            config.tokens.push(TokenConfig {
                name: "app".into(),
                hash: hash_token("token-token-token-1"),
                read: Scope::All,
                write: Scope::All,
                ops: false,
            });
        }
        BrowserPolicy::new(&config)
    }

    fn with_host(host: &str) -> Request {
        Request::builder()
            .uri("/healthz")
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap()
    }

    #[test]
    fn an_anonymous_sidecar_answers_only_addresses_and_localhost() {
        let policy = policy(false);
        for ok in [
            "127.0.0.1:7878",
            "localhost:7878",
            "LOCALHOST",
            "[::1]:7878",
            "10.0.0.5:7878",
        ] {
            assert!(policy.host(&with_host(ok)).is_ok(), "{ok}");
        }
        for refused in [
            "evil.example:7878",
            "evil.example",
            "127.0.0.1.nip.io:7878",
            "localhost:8080",
            "[::1]:1",
            "localhost.evil.example:7878",
        ] {
            let error = policy.host(&with_host(refused)).unwrap_err();
            assert_eq!(error.status, StatusCode::MISDIRECTED_REQUEST, "{refused}");
            assert_eq!(error.field.as_deref(), Some("host"));
        }
        assert!(self::policy(true).host(&with_host("evil.example")).is_ok());
    }

    #[test]
    fn only_listed_origins_pass() {
        let policy = policy(true);
        assert_eq!(policy.origin(&HeaderMap::new()).unwrap(), None);
        let mut headers = HeaderMap::new();
        for (origin, ok) in [
            ("https://app.example.com", true),
            ("HTTPS://APP.EXAMPLE.COM:443", true),
            ("https://evil.example", false),
            ("http://app.example.com", false),
            ("null", false),
        ] {
            headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
            match policy.origin(&headers) {
                Ok(listed) => assert!(ok && listed.is_some(), "{origin}"),
                Err(error) => {
                    assert!(!ok, "{origin}");
                    assert_eq!(error.status, StatusCode::FORBIDDEN);
                    assert_eq!(error.code, "forbidden_origin");
                }
            }
        }
    }
}
