//! [`Problem`] and [`SpecError`]: every mistake in a workload spec, each with the field it is
//! about and how to fix it.

use std::fmt;
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

/// One mistake in a spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Its class.
    pub kind: ProblemKind,
    /// The field it is about, from the top of the file: `entities.orders.accesses[1].rate`
    /// (entities by name, or by position when the name is missing); empty for the whole file.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something to say.
    pub fix: Option<String>,
}

impl Problem {
    /// A problem at `path` without a fix.
    pub fn new(kind: ProblemKind, path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            kind,
            path: path.into(),
            message: message.into(),
            fix: None,
        }
    }

    /// This problem with `fix` as its remedy.
    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, "; {fix}")?;
        }
        Ok(())
    }
}

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
    #[error("{}", list(.0))]
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

fn list(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    lines.join("\n")
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
