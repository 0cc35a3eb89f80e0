//! The one error type every backend returns.
//!
//! Each backend maps its driver's errors into [`StoreError`] in one place, keeping the driver
//! error as the `source`, so the layers above (retry, circuit breaker, metrics) can act on the
//! *kind* of failure without knowing which backend produced it.

use std::time::Duration;

/// A boxed driver error kept as the source of a [`StoreError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Shorthand for results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why a store operation failed.
///
/// Only [`StoreError::Unavailable`] and [`StoreError::Timeout`] are retryable: the others
/// would fail again with the same input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The addressed item (key, row, document, node, …) does not exist.
    #[error("not found: {what}")]
    NotFound {
        /// What was looked up, for the message.
        what: String,
    },
    /// The write conflicts with existing state (duplicate id, unique constraint, lost race).
    #[error("conflict: {message}")]
    Conflict {
        /// What conflicted.
        message: String,
        /// The driver error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The request itself is wrong (bad query, wrong type, invalid name); retrying cannot help.
    #[error("invalid request: {message}")]
    InvalidRequest {
        /// What is wrong and, where possible, how to fix it.
        message: String,
        /// The driver error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The backend cannot perform this operation at all (see its [`Capabilities`](crate::Capabilities)).
    #[error("{backend} does not support {operation}")]
    Unsupported {
        /// The operation that was asked for.
        operation: &'static str,
        /// The backend that refused it.
        backend: &'static str,
    },
    /// The store could not be reached or is overloaded; the same call may succeed later.
    #[error("store unavailable: {message}")]
    Unavailable {
        /// What failed.
        message: String,
        /// The driver error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The call did not finish within its deadline; it may or may not have taken effect.
    #[error("timed out after {after:?}")]
    Timeout {
        /// The deadline that passed.
        after: Duration,
    },
    /// Any other backend failure (corruption, internal error, bug).
    #[error("backend error: {message}")]
    Backend {
        /// What failed.
        message: String,
        /// The driver error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

/// The kind of a [`StoreError`], without its details: for metrics labels and matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`StoreError::NotFound`].
    NotFound,
    /// See [`StoreError::Conflict`].
    Conflict,
    /// See [`StoreError::InvalidRequest`].
    InvalidRequest,
    /// See [`StoreError::Unsupported`].
    Unsupported,
    /// See [`StoreError::Unavailable`].
    Unavailable,
    /// See [`StoreError::Timeout`].
    Timeout,
    /// See [`StoreError::Backend`].
    Backend,
}

impl ErrorKind {
    /// A short, stable, lower-case name (for metrics labels and JSON error codes).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Backend => "backend",
        }
    }
}

impl StoreError {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::NotFound { .. } => ErrorKind::NotFound,
            StoreError::Conflict { .. } => ErrorKind::Conflict,
            StoreError::InvalidRequest { .. } => ErrorKind::InvalidRequest,
            StoreError::Unsupported { .. } => ErrorKind::Unsupported,
            StoreError::Unavailable { .. } => ErrorKind::Unavailable,
            StoreError::Timeout { .. } => ErrorKind::Timeout,
            StoreError::Backend { .. } => ErrorKind::Backend,
        }
    }

    /// Whether the same call may succeed if tried again (the store was unreachable or slow).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable { .. } | StoreError::Timeout { .. }
        )
    }

    /// A [`StoreError::NotFound`] for `what`.
    pub fn not_found(what: impl Into<String>) -> Self {
        StoreError::NotFound { what: what.into() }
    }

    /// A [`StoreError::Conflict`] without a driver source.
    pub fn conflict(message: impl Into<String>) -> Self {
        StoreError::Conflict {
            message: message.into(),
            source: None,
        }
    }

    /// A [`StoreError::InvalidRequest`] without a driver source.
    pub fn invalid(message: impl Into<String>) -> Self {
        StoreError::InvalidRequest {
            message: message.into(),
            source: None,
        }
    }

    /// A [`StoreError::Unavailable`] without a driver source.
    pub fn unavailable(message: impl Into<String>) -> Self {
        StoreError::Unavailable {
            message: message.into(),
            source: None,
        }
    }

    /// A [`StoreError::Backend`] without a driver source.
    pub fn backend(message: impl Into<String>) -> Self {
        StoreError::Backend {
            message: message.into(),
            source: None,
        }
    }

    /// A [`StoreError::Backend`] that keeps `source` as its cause.
    pub fn backend_with(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StoreError::Backend {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailable_and_timeout_are_retryable() {
        assert!(StoreError::unavailable("down").is_retryable());
        assert!(StoreError::Timeout {
            after: Duration::from_millis(5)
        }
        .is_retryable());
        assert!(!StoreError::not_found("k").is_retryable());
        assert!(!StoreError::conflict("dup").is_retryable());
        assert!(!StoreError::invalid("bad").is_retryable());
        assert!(!StoreError::backend("boom").is_retryable());
        assert!(!StoreError::Unsupported {
            operation: "ttl",
            backend: "x"
        }
        .is_retryable());
    }

    #[test]
    fn kinds_have_stable_names() {
        assert_eq!(StoreError::not_found("k").kind().as_str(), "not_found");
        assert_eq!(
            StoreError::Timeout {
                after: Duration::from_secs(1)
            }
            .kind()
            .as_str(),
            "timeout"
        );
    }
}
