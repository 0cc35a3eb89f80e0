//! The one place driver errors become [`StoreError`]s, keeping the driver error as the source.
//!
//! - The server refusing the request itself (syntax, invalid request, already exists,
//!   unauthorized, bad configuration) and values the driver cannot serialize: invalid request.
//! - The server lacking replicas, overloaded, bootstrapping or rate limiting; no connection or
//!   no node in the load-balancing plan; metadata or schema-agreement failures: unavailable.
//! - Read and write timeouts on the server, the driver's client-side request timeout:
//!   timeout.
//! - Everything else (read/write failures, server and protocol errors, undecodable results):
//!   backend error.

use std::time::Duration;

use scylla::errors::{DbError, ExecutionError, NewSessionError, PrepareError, RequestAttemptError};

use crate::{BoxError, StoreError};

/// What a [`DbError`] is, as a store error kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Invalid,
    Unavailable,
    Timeout,
    Backend,
}

fn classify_db(err: &DbError) -> Class {
    match err {
        DbError::SyntaxError
        | DbError::Invalid
        | DbError::AlreadyExists { .. }
        | DbError::FunctionFailure { .. }
        | DbError::AuthenticationError
        | DbError::Unauthorized
        | DbError::ConfigError => Class::Invalid,
        DbError::Unavailable { .. }
        | DbError::Overloaded
        | DbError::IsBootstrapping
        | DbError::RateLimitReached { .. } => Class::Unavailable,
        DbError::ReadTimeout { .. } | DbError::WriteTimeout { .. } => Class::Timeout,
        _ => Class::Backend,
    }
}

fn classify_attempt(err: &RequestAttemptError) -> Class {
    match err {
        RequestAttemptError::DbError(db, _) => classify_db(db),
        RequestAttemptError::SerializationError(_)
        | RequestAttemptError::CqlRequestSerialization(_) => Class::Invalid,
        RequestAttemptError::UnableToAllocStreamId
        | RequestAttemptError::BrokenConnectionError(_) => Class::Unavailable,
        _ => Class::Backend,
    }
}

fn classify_prepare(err: &PrepareError) -> Class {
    match err {
        PrepareError::ConnectionPoolError(_) => Class::Unavailable,
        PrepareError::AllAttemptsFailed { first_attempt } => classify_attempt(first_attempt),
        _ => Class::Backend,
    }
}

fn classify_execution(err: &ExecutionError) -> Class {
    match err {
        ExecutionError::BadQuery(_) => Class::Invalid,
        ExecutionError::EmptyPlan
        | ExecutionError::ConnectionPoolError(_)
        | ExecutionError::UseKeyspaceError(_)
        | ExecutionError::SchemaAgreementError(_)
        | ExecutionError::MetadataError(_) => Class::Unavailable,
        ExecutionError::PrepareError(err) => classify_prepare(err),
        ExecutionError::LastAttemptError(err) => classify_attempt(err),
        ExecutionError::RequestTimeout(_) => Class::Timeout,
        _ => Class::Backend,
    }
}

fn build(class: Class, what: &str, timeout: Duration, source: BoxError) -> StoreError {
    let message = format!("{what}: {source}");
    match class {
        Class::Invalid => StoreError::InvalidRequest {
            message,
            source: Some(source),
        },
        Class::Unavailable => StoreError::Unavailable {
            message,
            source: Some(source),
        },
        Class::Timeout => StoreError::Timeout { after: timeout },
        Class::Backend => StoreError::Backend {
            message,
            source: Some(source),
        },
    }
}

/// A failed execution of a statement or batch; `what` says what was being done, `timeout` is
/// the request timeout reported for server-side timeouts.
pub fn execution(err: ExecutionError, what: &str, timeout: Duration) -> StoreError {
    let timeout = match &err {
        ExecutionError::RequestTimeout(after) => *after,
        _ => timeout,
    };
    build(classify_execution(&err), what, timeout, Box::new(err))
}

/// A failed preparation of a statement.
pub fn prepare(err: PrepareError, what: &str, timeout: Duration) -> StoreError {
    build(classify_prepare(&err), what, timeout, Box::new(err))
}

/// A failed connection: unavailable naming the `nodes` tried (and the option to fix when a TLS
/// handshake failed), or invalid for a configuration the driver refuses.
pub fn new_session(err: NewSessionError, nodes: &str) -> StoreError {
    match err {
        NewSessionError::IllegalConfig(_) | NewSessionError::EmptyKnownNodesList => {
            StoreError::InvalidRequest {
                message: format!("cannot connect to Scylla/Cassandra at {nodes}: {err}"),
                source: Some(Box::new(err)),
            }
        }
        _ => StoreError::Unavailable {
            message: format!(
                "cannot connect to Scylla/Cassandra at {nodes}: {}",
                crate::tls::explain_any(&err, "ca_file").unwrap_or_else(|| err.to_string())
            ),
            source: Some(Box::new(err)),
        },
    }
}

/// A result the driver could not decode into the expected columns: the table is not what
/// this backend created.
pub fn decode(err: impl std::error::Error + Send + Sync + 'static, what: &str) -> StoreError {
    StoreError::backend_with(format!("{what}: unexpected result: {err}"), err)
}

#[cfg(test)]
mod tests {
    use scylla::errors::{BadQuery, ConnectionPoolError, WriteType};
    use scylla::statement::Consistency;

    use super::*;
    use crate::ErrorKind;

    const T: Duration = Duration::from_secs(7);

    fn db(err: DbError) -> ExecutionError {
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(err, "message".into()))
    }

    fn kind(err: ExecutionError) -> ErrorKind {
        execution(err, "writing", T).kind()
    }

    #[test]
    fn server_errors_map_to_their_kinds() {
        assert_eq!(kind(db(DbError::SyntaxError)), ErrorKind::InvalidRequest);
        assert_eq!(kind(db(DbError::Invalid)), ErrorKind::InvalidRequest);
        assert_eq!(kind(db(DbError::Unauthorized)), ErrorKind::InvalidRequest);
        assert_eq!(kind(db(DbError::ConfigError)), ErrorKind::InvalidRequest);
        assert_eq!(
            kind(db(DbError::AlreadyExists {
                keyspace: "ks".into(),
                table: "t".into()
            })),
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            kind(db(DbError::Unavailable {
                consistency: Consistency::Quorum,
                required: 2,
                alive: 1
            })),
            ErrorKind::Unavailable
        );
        assert_eq!(kind(db(DbError::Overloaded)), ErrorKind::Unavailable);
        assert_eq!(kind(db(DbError::IsBootstrapping)), ErrorKind::Unavailable);
        assert_eq!(
            kind(db(DbError::ReadTimeout {
                consistency: Consistency::One,
                received: 0,
                required: 1,
                data_present: false
            })),
            ErrorKind::Timeout
        );
        assert_eq!(
            kind(db(DbError::WriteTimeout {
                consistency: Consistency::One,
                received: 0,
                required: 1,
                write_type: WriteType::Simple
            })),
            ErrorKind::Timeout
        );
        assert_eq!(kind(db(DbError::ServerError)), ErrorKind::Backend);
        assert_eq!(kind(db(DbError::ProtocolError)), ErrorKind::Backend);
        assert_eq!(kind(db(DbError::Other(0x1234))), ErrorKind::Backend);
    }

    #[test]
    fn driver_errors_map_to_their_kinds() {
        assert_eq!(kind(ExecutionError::EmptyPlan), ErrorKind::Unavailable);
        assert_eq!(
            kind(ExecutionError::ConnectionPoolError(
                ConnectionPoolError::Initializing
            )),
            ErrorKind::Unavailable
        );
        assert_eq!(
            kind(ExecutionError::BadQuery(BadQuery::ValuesTooLongForKey(
                70_000, 65_535
            ))),
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            kind(ExecutionError::LastAttemptError(
                RequestAttemptError::UnableToAllocStreamId
            )),
            ErrorKind::Unavailable
        );
        let err = execution(
            ExecutionError::RequestTimeout(Duration::from_millis(1500)),
            "reading",
            T,
        );
        assert!(
            matches!(err, StoreError::Timeout { after } if after == Duration::from_millis(1500))
        );
        let err = execution(
            ExecutionError::PrepareError(PrepareError::AllAttemptsFailed {
                first_attempt: RequestAttemptError::DbError(DbError::SyntaxError, "bad".into()),
            }),
            "preparing",
            T,
        );
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(
            prepare(
                PrepareError::ConnectionPoolError(ConnectionPoolError::Initializing),
                "preparing",
                T
            )
            .kind(),
            ErrorKind::Unavailable
        );
    }

    #[test]
    fn server_timeouts_report_the_request_timeout_and_errors_keep_their_source() {
        let err = execution(
            db(DbError::ReadTimeout {
                consistency: Consistency::One,
                received: 0,
                required: 1,
                data_present: false,
            }),
            "reading",
            T,
        );
        assert!(matches!(err, StoreError::Timeout { after } if after == T));
        let err = execution(db(DbError::Invalid), "writing a row", T);
        assert!(err.to_string().contains("writing a row"), "{err}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn connection_failures_are_unavailable_and_name_the_nodes() {
        let err = new_session(
            NewSessionError::FailedToResolveAnyHostname(vec!["nowhere:9042".into()]),
            "nowhere:9042",
        );
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.to_string().contains("nowhere:9042"), "{err}");
        assert!(err.is_retryable());
        let err = new_session(NewSessionError::EmptyKnownNodesList, "");
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    }
}
