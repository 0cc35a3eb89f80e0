//! Neo4j driver errors as [`StoreError`]s, in this one place, keeping the driver error as the
//! source.

use crate::StoreError;

/// What a Neo4j status code (`Neo.ClientError.Schema.ConstraintValidationFailed`) means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CodeClass {
    Unavailable,
    Conflict,
    Invalid,
    NotFound,
    Backend,
}

/// Classifies a Neo4j status code.
pub(crate) fn classify(code: &str) -> CodeClass {
    let mut parts = code.split('.').skip(1);
    let (class, category, title) = (parts.next(), parts.next(), parts.next());
    match (class, category, title) {
        (_, Some("Schema"), Some("ConstraintValidationFailed"))
        | (_, Some("Transaction"), Some("DeadlockDetected" | "Outdated" | "LockClientStopped")) => {
            CodeClass::Conflict
        }
        (_, Some("Statement"), Some("EntityNotFound")) => CodeClass::NotFound,
        (Some("ClientError"), Some("Security"), _)
        | (Some("ClientError"), Some("Database"), Some("DatabaseNotFound"))
        | (Some("TransientError"), _, _) => CodeClass::Unavailable,
        (Some("ClientError"), Some("Statement" | "Schema" | "Request" | "Procedure"), _) => {
            CodeClass::Invalid
        }
        _ => CodeClass::Backend,
    }
}

/// Maps a driver error.
pub(crate) fn map_error(err: neo4rs::Error) -> StoreError {
    use neo4rs::Error as E;
    let (class, message) = match &err {
        E::Neo4j(server) => (
            classify(server.code()),
            format!("Neo4j: {} ({})", server.message(), server.code()),
        ),
        E::IOError { .. } | E::ConnectionError => (
            CodeClass::Unavailable,
            format!("Neo4j connection failed: {err}"),
        ),
        E::AuthenticationError(_) => (
            CodeClass::Unavailable,
            format!("Neo4j refused the credentials: {err}"),
        ),
        E::UrlParseError(_) | E::UnsupportedScheme(_) | E::InvalidDnsName(_) | E::InvalidConfig => {
            (
                CodeClass::Invalid,
                format!("Neo4j connection options: {err}"),
            )
        }
        E::StringTooLong | E::MapTooBig | E::BytesTooBig | E::ListTooLong => (
            CodeClass::Invalid,
            format!("Neo4j cannot carry the value: {err}"),
        ),
        _ => (CodeClass::Backend, format!("Neo4j client error: {err}")),
    };
    let source = Some(err.into());
    match class {
        CodeClass::Unavailable => StoreError::Unavailable { message, source },
        CodeClass::Conflict => StoreError::Conflict { message, source },
        CodeClass::Invalid => StoreError::InvalidRequest { message, source },
        CodeClass::NotFound => StoreError::NotFound { what: message },
        CodeClass::Backend => StoreError::Backend { message, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn status_codes_map_to_kinds() {
        let cases = [
            (
                "Neo.ClientError.Schema.ConstraintValidationFailed",
                CodeClass::Conflict,
            ),
            (
                "Neo.TransientError.Transaction.DeadlockDetected",
                CodeClass::Conflict,
            ),
            (
                "Neo.TransientError.Transaction.Outdated",
                CodeClass::Conflict,
            ),
            (
                "Neo.ClientError.Statement.EntityNotFound",
                CodeClass::NotFound,
            ),
            (
                "Neo.ClientError.Security.Unauthorized",
                CodeClass::Unavailable,
            ),
            (
                "Neo.ClientError.Database.DatabaseNotFound",
                CodeClass::Unavailable,
            ),
            (
                "Neo.TransientError.General.DatabaseUnavailable",
                CodeClass::Unavailable,
            ),
            ("Neo.ClientError.Statement.SyntaxError", CodeClass::Invalid),
            ("Neo.ClientError.Statement.TypeError", CodeClass::Invalid),
            ("Neo.DatabaseError.General.UnknownError", CodeClass::Backend),
            ("garbage", CodeClass::Backend),
        ];
        for (code, class) in cases {
            assert_eq!(classify(code), class, "{code}");
        }
    }

    #[test]
    fn driver_errors_map_to_kinds_and_keep_the_source() {
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = map_error(neo4rs::Error::IOError { detail: io });
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.source().is_some());
        assert_eq!(
            map_error(neo4rs::Error::ConnectionError).kind(),
            ErrorKind::Unavailable
        );
        assert_eq!(
            map_error(neo4rs::Error::UnsupportedScheme("http".into())).kind(),
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            map_error(neo4rs::Error::StringTooLong).kind(),
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            map_error(neo4rs::Error::ConversionError).kind(),
            ErrorKind::Backend
        );
    }
}
