//! Bearer tokens: who is calling, and whether that caller may read or write an entity.
//!
//! Tokens are kept as SHA-256 hashes. A presented token is hashed and compared with every
//! configured hash in constant time, so neither the comparison nor which token matched shows in
//! the response time. With no tokens configured every caller is anonymous and allowed (the
//! sidecar refuses that on a non-loopback address unless `allow_anonymous` says so, see
//! [`exposure`](crate::exposure)).
//!
//! Operations has a scope of its own: with tokens configured, `/metrics` and the details of
//! `/readyz` (each store's state and error) need a token with `ops = true`.

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

    /// Whether no tokens are configured, so every caller is anonymous.
    pub fn is_anonymous(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Whether `caller` may see what operators see: every caller when no tokens are
    /// configured, otherwise tokens with `ops = true`.
    pub fn is_ops(&self, caller: Caller) -> bool {
        match caller {
            Caller::Anonymous => true,
            Caller::Token(index) => self.tokens.get(index).is_some_and(|t| t.ops),
        }
    }

    /// The caller of `headers` if it may see what operators see; 401 without a valid token,
    /// 403 with a token lacking `ops = true`.
    pub fn require_ops(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let caller = self.authenticate(headers)?;
        if self.is_ops(caller) {
            Ok(caller)
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "token `{}` may not read operational details; set `ops = true` on a token for monitoring",
                    self.name(caller)
                ),
            )
            .with_field("authorization"))
        }
    }

    /// Whether `caller` may read or write `entity`: the entities an error may name to it.
    pub fn may_see(&self, caller: Caller, entity: &str) -> bool {
        match caller {
            Caller::Anonymous => true,
            Caller::Token(index) => self
                .tokens
                .get(index)
                .is_some_and(|t| t.read.allows(entity) || t.write.allows(entity)),
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
        Auth::new(vec![
            TokenConfig {
                name: "app".into(),
                hash: hash_token("token-token-token-1"),
                read: Scope::All,
                write: Scope::Entities(BTreeSet::from(["sessions".to_owned()])),
                ops: false,
            },
            TokenConfig {
                name: "monitor".into(),
                hash: hash_token("token-token-token-2"),
                read: Scope::Entities(BTreeSet::new()),
                write: Scope::Entities(BTreeSet::from(["sessions".to_owned()])),
                ops: true,
            },
        ])
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
        assert!(auth.is_ops(caller) && auth.may_see(caller, "x"));
        assert!(auth.require_ops(&HeaderMap::new()).is_ok());
    }

    #[test]
    fn operational_details_need_an_ops_token() {
        let auth = auth();
        let missing = auth.require_ops(&HeaderMap::new()).unwrap_err();
        assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
        let app = auth
            .require_ops(&headers("Bearer token-token-token-1"))
            .unwrap_err();
        assert_eq!(app.status, StatusCode::FORBIDDEN);
        assert!(app.message.contains("ops = true"), "{}", app.message);
        let monitor = auth
            .require_ops(&headers("Bearer token-token-token-2"))
            .unwrap();
        assert_eq!(monitor, Caller::Token(1));
    }

    #[test]
    fn a_token_sees_only_the_entities_in_its_scopes() {
        let auth = auth();
        assert!(auth.may_see(Caller::Token(0), "orders"));
        assert!(auth.may_see(Caller::Token(1), "sessions"));
        assert!(!auth.may_see(Caller::Token(1), "orders"));
    }
}
