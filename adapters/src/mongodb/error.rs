//! MongoDB driver errors as [`StoreError`]s, in this one place, keeping the driver error as the
//! source.

use std::time::Duration;

use mongodb::error::{Error, ErrorKind, WriteFailure};

use crate::StoreError;

/// Server error codes that mean the server or the replica set is (for now) unable to serve:
/// shutting down, stepping down, no primary, network trouble between members.
const UNAVAILABLE_CODES: &[i32] = &[
    6,     // HostUnreachable
    7,     // HostNotFound
    89,    // NetworkTimeout
    91,    // ShutdownInProgress
    189,   // PrimarySteppedDown
    262,   // ExceededTimeLimit
    9001,  // SocketException
    10107, // NotWritablePrimary
    11600, // InterruptedAtShutdown
    11602, // InterruptedDueToReplStateChange
    13435, // NotPrimaryNoSecondaryOk
    13436, // NotPrimaryOrSecondary
    64,    // WriteConcernFailed (wtimeout)
    100,   // UnsatisfiableWriteConcern
];

/// Server error codes that mean the write lost to another one.
const CONFLICT_CODES: &[i32] = &[
    11000, // DuplicateKey
    11001, // DuplicateKey (legacy)
    112,   // WriteConflict
];

/// `maxTimeMSExpired`: the server stopped a query at the configured `query_timeout`.
const MAX_TIME_EXPIRED: i32 = 50;

/// Server error codes that mean the request is wrong.
const INVALID_CODES: &[i32] = &[
    2,     // BadValue
    9,     // FailedToParse
    14,    // TypeMismatch
    17,    // Unrecognised operator or command
    52,    // DollarPrefixedFieldName
    55,    // InvalidDBRef
    56,    // EmptyFieldName
    57,    // DottedFieldName
    67,    // CannotCreateIndex
    73,    // InvalidNamespace
    85,    // IndexOptionsConflict
    86,    // IndexKeySpecsConflict
    10334, // BSONObjectTooLarge
    15,    // Overflow (nesting too deep)
    13,    // Unauthorized
];

/// The error's text with nothing the connection string held (the driver never repeats a
/// password in its messages; this keeps only the kind's message).
pub(super) fn describe_without_secrets(err: &Error) -> String {
    match &*err.kind {
        ErrorKind::InvalidArgument { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Maps a driver error; `query_timeout` is reported as the deadline of a query the server
/// stopped.
pub(crate) fn map_error(err: Error, query_timeout: Option<Duration>) -> StoreError {
    let message = err.to_string();
    let code = match &*err.kind {
        ErrorKind::Command(command) => Some(command.code),
        ErrorKind::Write(WriteFailure::WriteError(write)) => Some(write.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(concern)) => Some(concern.code),
        _ => None,
    };
    if let Some(code) = code {
        if code == MAX_TIME_EXPIRED {
            if let Some(after) = query_timeout {
                return StoreError::Timeout { after };
            }
        }
        let source = Some(err.into());
        return if CONFLICT_CODES.contains(&code) {
            StoreError::Conflict { message, source }
        } else if UNAVAILABLE_CODES.contains(&code) {
            StoreError::Unavailable { message, source }
        } else if INVALID_CODES.contains(&code) {
            StoreError::InvalidRequest { message, source }
        } else {
            StoreError::Backend { message, source }
        };
    }
    let unavailable = matches!(
        &*err.kind,
        ErrorKind::Io(_)
            | ErrorKind::ServerSelection { .. }
            | ErrorKind::ConnectionPoolCleared { .. }
            | ErrorKind::DnsResolve { .. }
            | ErrorKind::Authentication { .. }
            | ErrorKind::Shutdown
    ) || err.contains_label("RetryableWriteError")
        || err.contains_label("TransientTransactionError");
    let invalid = matches!(
        &*err.kind,
        ErrorKind::InvalidArgument { .. } | ErrorKind::BsonSerialization(_)
    );
    let source = Some(err.into());
    if unavailable {
        StoreError::Unavailable {
            message: format!("MongoDB unreachable: {message}"),
            source,
        }
    } else if invalid {
        StoreError::InvalidRequest { message, source }
    } else {
        StoreError::Backend { message, source }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mongodb::bson::{doc, from_document};
    use mongodb::error::{CommandError, WriteError};

    use super::*;
    use crate::ErrorKind as Kind;

    fn command(code: i32) -> Error {
        let command: CommandError =
            from_document(doc! {"code": code, "codeName": "X", "errmsg": "failed"}).unwrap();
        Error::from(ErrorKind::Command(command))
    }

    fn write(code: i32) -> Error {
        let write: WriteError =
            from_document(doc! {"code": code, "codeName": "X", "errmsg": "E11000 dup"}).unwrap();
        Error::from(ErrorKind::Write(WriteFailure::WriteError(write)))
    }

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(map_error(write(11000), None).kind(), Kind::Conflict);
        assert_eq!(map_error(command(112), None).kind(), Kind::Conflict);
        assert_eq!(map_error(command(10107), None).kind(), Kind::Unavailable);
        assert_eq!(map_error(command(2), None).kind(), Kind::InvalidRequest);
        assert_eq!(map_error(write(10334), None).kind(), Kind::InvalidRequest);
        assert_eq!(map_error(command(8000), None).kind(), Kind::Backend);
        let after = Duration::from_secs(3);
        assert!(matches!(
            map_error(command(50), Some(after)),
            StoreError::Timeout { after: a } if a == after
        ));
        assert_eq!(map_error(command(50), None).kind(), Kind::Backend);
    }

    #[test]
    fn connection_failures_are_unavailable_and_keep_the_source() {
        let io = Error::from(ErrorKind::Io(Arc::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused",
        ))));
        let mapped = map_error(io, None);
        assert_eq!(mapped.kind(), Kind::Unavailable);
        assert!(mapped.is_retryable());
        assert!(std::error::Error::source(&mapped).is_some());
        let custom = map_error(Error::custom("odd"), None);
        assert_eq!(custom.kind(), Kind::Backend);
    }
}
