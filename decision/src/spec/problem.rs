//! [`Problem`] and [`SpecError`]: every mistake in a workload spec, each with the field it is
//! about and how to fix it.

use std::path::PathBuf;

/// The class of a [`Problem`], for matching and tests; the message says the details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The file is not valid YAML.
    Syntax,
    /// A key that is not allowed where it is written.
    UnknownKey,
    /// A required key is missing.
    MissingKey,
    /// A value of the wrong type (a list where text is expected, …).
    WrongType,
    /// `op` names no op.
    UnknownOp,
    /// A rate that is not `n/s`, `n/m` or `n/h`, or is not positive.
    BadRate,
    /// A count or size that is not a positive whole number.
    BadCount,
    /// A duration that is not a number and a unit.
    BadDuration,
    /// A name of an entity that is not declared (in `relations`, `entities`).
    UnknownEntity,
    /// The same entity is declared twice.
    Duplicate,
    /// An op-specific field the op requires is missing.
    MissingOpField,
    /// An op-specific field given to an op that does not take it.
    FieldNotForOp,
    /// A value of the right type that is still not acceptable.
    InvalidValue,
}

/// One mistake in a spec: the field it is about (from the top of the file,
/// `entities.orders.accesses[1].rate`; entities by name, or by position when the name is
/// missing), what is wrong and how to fix it (the same [`polyroute_adapters::problem::Problem`]
/// every reader of a user's file reports).
pub type Problem = polyroute_adapters::problem::Problem<ProblemKind>;

/// Why a spec could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read workload spec {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The spec has mistakes: all of them, one per line in `Display`.
    #[error("{}", polyroute_adapters::problem::lines(.0))]
    Invalid(Vec<Problem>),
}

impl SpecError {
    /// The problems found (empty for [`SpecError::Read`]).
    pub fn problems(&self) -> &[Problem] {
        match self {
            SpecError::Invalid(problems) => problems,
            SpecError::Read { .. } => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_joins_path_message_and_fix() {
        let problem = Problem::new(
            ProblemKind::BadRate,
            "entities.orders.accesses[0].rate",
            "`300/x` is not a rate",
        )
        .with_fix("write `300/s`");
        assert_eq!(
            problem.to_string(),
            "entities.orders.accesses[0].rate: `300/x` is not a rate; write `300/s`"
        );
        let err = SpecError::Invalid(vec![problem.clone(), problem]);
        assert_eq!(err.to_string().lines().count(), 2);
    }
}
