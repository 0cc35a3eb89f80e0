//! Bearer tokens: who is calling, and whether that caller may read or write an entity.
//!
//! Tokens are kept as SHA-256 hashes. A presented token is hashed and compared with every
//! configured hash in constant time, so neither the comparison nor which token matched shows in
//! the response time. With no tokens configured every caller is anonymous and allowed (the
//! config refuses that on a non-loopback address unless `allow_anonymous` says so).

use axum::http::{header, HeaderMap, StatusCode};
use subtle::ConstantTimeEq;

use crate::config::{hash_token, Scope, TokenConfig};
use crate::errors::ApiError;

/// Whether an operation reads or writes its entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads only.
    Read,
    /// Changes data.
    Write,
}

impl Access {
    /// `read` or `write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// The authenticated caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No tokens are configured: everyone may do everything.
    Anonymous,
    /// The configured token at this index.
    Token(usize),
}

/// The configured tokens.
#[derive(Clone, Debug)]
pub struct Auth {
    tokens: Vec<TokenConfig>,
}

impl Auth {
    /// Checks requests against `tokens` (none: no authentication).
    pub fn new(tokens: Vec<TokenConfig>) -> Self {
        Auth { tokens }
    }

    /// The caller's name, for logs, metrics and idempotency records.
    pub fn name(&self, caller: Caller) -> &str {
        match caller {
            Caller::Anonymous => "anonymous",
            Caller::Token(index) => self.tokens.get(index).map_or("unknown", |t| &t.name),
        }
    }

    /// Who presented the `Authorization: Bearer` header of `headers`; 401 when tokens are
    /// configured and it is missing or matches none.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        if self.tokens.is_empty() {
            return Ok(Caller::Anonymous);
        }
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "this sidecar requires a token: send `Authorization: Bearer <token>`",
                )
                .with_field("authorization")
            })?;
        let hash = hash_token(presented);
        let mut matched = None;
        for (index, token) in self.tokens.iter().enumerate() {
            if bool::from(hash.ct_eq(&token.hash)) {
                matched = Some(index);
            }
        }
        matched.map(Caller::Token).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the bearer token matches no configured token",
            )
            .with_field("authorization")
        })
    }

    /// Whether `caller` may `access` `entity`; 403 when the token's scope lacks it.
    pub fn authorize(&self, caller: Caller, entity: &str, access: Access) -> Result<(), ApiError> {
        let Caller::Token(index) = caller else {
            return Ok(());
        };
        let Some(token) = self.tokens.get(index) else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "unknown token",
            ));
        };
        let scope: &Scope = match access {
            Access::Read => &token.read,
            Access::Write => &token.write,
        };
        if scope.allows(entity) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "token `{}` may not {} entity `{entity}`; add it to the token's `{}` list",
                    token.name,
                    access.as_str(),
                    access.as_str()
                ),
            )
            .with_field("entity"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::http::HeaderValue;

    use super::*;

    fn auth() -> Auth {
        Auth::new(vec![TokenConfig {
            name: "app".into(),
            hash: hash_token("token-token-token-1"),
            read: Scope::All,
            write: Scope::Entities(BTreeSet::from(["sessions".to_owned()])),
        }])
    }

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn tokens_authenticate_and_scopes_authorize() {
        let auth = auth();
        let caller = auth
            .authenticate(&headers("Bearer token-token-token-1"))
            .unwrap();
        assert_eq!(caller, Caller::Token(0));
        assert_eq!(auth.name(caller), "app");
        assert!(auth.authorize(caller, "orders", Access::Read).is_ok());
        assert!(auth.authorize(caller, "sessions", Access::Write).is_ok());
        let denied = auth.authorize(caller, "orders", Access::Write).unwrap_err();
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn missing_or_wrong_tokens_are_401() {
        let auth = auth();
        for bad in [
            HeaderMap::new(),
            headers("Bearer nope"),
            headers("Basic abc"),
        ] {
            let error = auth.authenticate(&bad).unwrap_err();
            assert_eq!(error.status, StatusCode::UNAUTHORIZED);
        }
    }

    #[test]
    fn without_tokens_everyone_is_anonymous() {
        let auth = Auth::new(Vec::new());
        let caller = auth.authenticate(&HeaderMap::new()).unwrap();
        assert_eq!(caller, Caller::Anonymous);
        assert!(auth.authorize(caller, "x", Access::Write).is_ok());
    }
}
