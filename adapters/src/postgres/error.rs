//! PostgreSQL errors as [`StoreError`]s: SQLSTATE classes to kinds, in this one place, keeping
//! the driver error as the source.

use std::error::Error as _;
use std::time::Duration;

use tokio_postgres::error::SqlState;

use super::convert::BindError;
use crate::StoreError;

/// Maps a driver error. `statement_timeout` is reported as the deadline of a statement the
/// server cancelled.
pub(crate) fn map_error(
    err: tokio_postgres::Error,
    statement_timeout: Option<Duration>,
) -> StoreError {
    if let Some(bind) = err.source().and_then(|s| s.downcast_ref::<BindError>()) {
        return StoreError::invalid(bind.to_string());
    }
    let Some(db) = err.as_db_error() else {
        // No SQLSTATE: the TLS handshake failed, the connection broke or timed out, or a value
        // could not be decoded.
        if let Some(message) = crate::tls::explain(&err, "ca_file") {
            return StoreError::Unavailable {
                message: format!("PostgreSQL connection failed: {message}"),
                source: Some(err.into()),
            };
        }
        return if err.is_closed() || err.source().is_some_and(|s| s.is::<std::io::Error>()) {
            StoreError::Unavailable {
                message: format!("PostgreSQL connection failed: {err}"),
                source: Some(err.into()),
            }
        } else {
            StoreError::Backend {
                message: format!("PostgreSQL client error: {err}"),
                source: Some(err.into()),
            }
        };
    };
    let code = db.code().clone();
    let mut message = db.message().to_owned();
    if let Some(detail) = db.detail() {
        message = format!("{message} ({detail})");
    }
    if let Some(hint) = db.hint() {
        message = format!("{message}; {hint}");
    }
    let class = &code.code()[..2.min(code.code().len())];
    if code == SqlState::QUERY_CANCELED {
        if let Some(after) = statement_timeout {
            return StoreError::Timeout { after };
        }
    }
    let source = Some(err.into());
    if code == SqlState::UNIQUE_VIOLATION
        || code == SqlState::EXCLUSION_VIOLATION
        || code == SqlState::T_R_SERIALIZATION_FAILURE
        || code == SqlState::T_R_DEADLOCK_DETECTED
    {
        return StoreError::Conflict { message, source };
    }
    match class {
        // Connection exceptions, insufficient resources, operator intervention (shutdown,
        // cancel), system errors: the same call may succeed later.
        "08" | "53" | "57" | "58" => StoreError::Unavailable { message, source },
        // Data exceptions, integrity violations, invalid transaction state, syntax or access
        // rule violations, unsupported features: the request itself is wrong.
        "0A" | "22" | "23" | "25" | "26" | "2B" | "34" | "3D" | "3F" | "42" | "44" => {
            StoreError::InvalidRequest { message, source }
        }
        "28" => StoreError::Unavailable {
            message: format!("PostgreSQL refused the credentials: {message}"),
            source,
        },
        _ => StoreError::Backend { message, source },
    }
}

/// Maps a pool error: waiting too long or failing to connect is unavailability. `plain` says
/// the store connects without TLS, which a server that accepts only TLS refuses: the message
/// then says how to turn it on.
pub(crate) fn map_pool_error(
    err: deadpool_postgres::PoolError,
    statement_timeout: Option<Duration>,
    plain: bool,
) -> StoreError {
    use deadpool_postgres::PoolError;
    match err {
        PoolError::Backend(err)
            if plain
                && err.code() == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION) =>
        {
            let refused = err
                .as_db_error()
                .map_or_else(|| err.to_string(), |db| db.message().to_owned());
            StoreError::Unavailable {
                message: format!(
                    "PostgreSQL refused the connection: {refused}; the store connects without TLS (tls = \"disable\"): if the server accepts only TLS connections (`hostssl` in pg_hba.conf), set tls = \"verify-full\" and `ca_file`"
                ),
                source: Some(err.into()),
            }
        }
        PoolError::Backend(err) => match map_error(err, statement_timeout) {
            StoreError::Backend { message, source } => StoreError::Unavailable { message, source },
            other => other,
        },
        PoolError::Timeout(kind) => StoreError::Unavailable {
            message: format!(
                "no PostgreSQL connection within connect_timeout ({kind:?}); the server is unreachable or the pool is exhausted"
            ),
            source: Some(Box::new(PoolError::Timeout(kind))),
        },
        other => StoreError::Unavailable {
            message: format!("PostgreSQL pool: {other}"),
            source: Some(Box::new(other)),
        },
    }
}
