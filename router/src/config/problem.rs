//! [`ConfigProblem`] and [`ConfigError`]: every mistake in a config, each with the field it is
//! about and how to fix it, as [`polyroute_adapters::problem`] reports them for every reader.

use std::path::PathBuf;

pub use polyroute_adapters::problem::Location;
use polyroute_adapters::problem::{self, Problem};

/// The class of a [`ConfigProblem`], for matching and tests; the message says the details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The file is not valid TOML.
    Syntax,
    /// A key that is not allowed where it is written.
    UnknownKey,
    /// A required key is missing.
    MissingKey,
    /// A value of the wrong type (a number where text is expected, …).
    WrongType,
    /// A value of the right type that is still not acceptable (zero timeout, bad field path, …).
    InvalidValue,
    /// `kind` names no store kind.
    UnknownKind,
    /// `backend` names no backend of that kind.
    UnknownBackend,
    /// `backend` names a backend this build was compiled without.
    NotCompiled,
    /// A backend option is wrong (reported by the backend).
    InvalidOption,
    /// An entity names a store that is not declared.
    UnknownStore,
    /// A timeout is set for an entity that is not declared.
    UnknownEntity,
    /// A setting that does not apply to the kind of the entity's store.
    KindMismatch,
    /// A setting the store's backend cannot honour (see its capabilities).
    Capability,
    /// A value that should be a duration is not one.
    BadDuration,
    /// A store or entity name that is not an identifier.
    InvalidName,
    /// The same store or entity is declared twice.
    Duplicate,
    /// The config routes no entity at all.
    NoEntities,
    /// A `${NAME}` refers to an environment variable that is not set.
    MissingEnvVar,
    /// A `${` that is not a well-formed `${NAME}`.
    BadInterpolation,
}

/// One mistake in a config: the field it is about, what is wrong and how to fix it (the
/// same [`Problem`] every reader of a user's file reports).
pub type ConfigProblem = Problem<ProblemKind>;

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config has mistakes: all of them, one per line in `Display`.
    #[error("{}", problem::lines(.0))]
    Invalid(Vec<ConfigProblem>),
}

impl ConfigError {
    /// The problems found (empty for [`ConfigError::Read`]).
    pub fn problems(&self) -> &[ConfigProblem] {
        match self {
            ConfigError::Invalid(problems) => problems,
            ConfigError::Read { .. } => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_joins_path_message_and_fix() {
        let problem = ConfigProblem::new(
            ProblemKind::UnknownStore,
            "entities.orders.store",
            "unknown store `mian`",
        )
        .with_fix("declared stores: main, cache");
        assert_eq!(
            problem.to_string(),
            "entities.orders.store: unknown store `mian`; declared stores: main, cache"
        );
        let syntax = ConfigProblem {
            location: Some(Location { line: 3, column: 7 }),
            ..ConfigProblem::new(ProblemKind::Syntax, "", "expected `=`")
        };
        assert_eq!(syntax.to_string(), "line 3, column 7: expected `=`");
    }

    #[test]
    fn invalid_lists_one_problem_per_line() {
        let err = ConfigError::Invalid(vec![
            ConfigProblem::new(ProblemKind::MissingKey, "stores.a.kind", "missing"),
            ConfigProblem::new(ProblemKind::BadDuration, "policy.timeout", "bad"),
        ]);
        assert_eq!(
            err.to_string(),
            "stores.a.kind: missing\npolicy.timeout: bad"
        );
        assert_eq!(err.problems().len(), 2);
    }
}
