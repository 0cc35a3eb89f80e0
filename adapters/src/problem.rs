//! [`Problem`]: one mistake in a file a user wrote (a router config, a sidecar config, a
//! workload spec), with the field it is about, what is wrong and how to fix it; and
//! [`closest`]/[`listing`], the "did you mean …?" every reader offers for a misspelt key or
//! name. Written once so that every reader reports the same way: all problems at once, one per
//! line, each `path: message; fix`.
//!
//! Each reader names its own classes of problem (`K`: the config's `ProblemKind`, the spec's).

use std::fmt;

/// A position in a file (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

/// One mistake in a file, of class `K`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem<K> {
    /// Its class, for matching and tests; the message says the details.
    pub kind: K,
    /// The field it is about, dotted from the top of the file (`stores.cache.kind`,
    /// `entities.orders.accesses[1].rate`); empty for the whole file.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something to say.
    pub fix: Option<String>,
    /// Where in the file, when known (syntax errors).
    pub location: Option<Location>,
}

impl<K> Problem<K> {
    /// A problem at `path` without a fix.
    pub fn new(kind: K, path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            kind,
            path: path.into(),
            message: message.into(),
            fix: None,
            location: None,
        }
    }

    /// This problem with `fix` as its remedy.
    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

impl<K> fmt::Display for Problem<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.location, self.path.is_empty()) {
            (_, false) => write!(f, "{}: ", self.path)?,
            (Some(at), true) => write!(f, "line {}, column {}: ", at.line, at.column)?,
            (None, true) => {}
        }
        f.write_str(&self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, "; {fix}")?;
        }
        Ok(())
    }
}

/// `problems`, one per line: how every reader's error displays them.
pub fn lines<K>(problems: &[Problem<K>]) -> String {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// The candidate closest to `word`, if one is close enough to be a likely typo (at most one
/// edit per three characters, and at least one).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// `list` as `a, b, c` (or `none` when empty), with ` (did you mean `x`?)` when `word` looks
/// like a typo of one of them.
pub fn listing(list: &[&str], word: &str) -> String {
    let mut text = if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    };
    if let Some(near) = closest(word, list.iter().copied()) {
        text.push_str(&format!(" (did you mean `{near}`?)"));
    }
    text
}

/// Levenshtein distance, with a transposition of neighbours counting as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut before_previous = previous.clone();
    for i in 1..=a.len() {
        let mut current = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before_previous[j - 2] + 1);
            }
            current[j] = best;
        }
        before_previous = std::mem::replace(&mut previous, current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_joins_path_message_and_fix() {
        let problem = Problem::new("unknown store", "entities.orders.store", "unknown `mian`")
            .with_fix("declared stores: main, cache");
        assert_eq!(
            problem.to_string(),
            "entities.orders.store: unknown `mian`; declared stores: main, cache"
        );
        let syntax = Problem {
            location: Some(Location { line: 3, column: 7 }),
            ..Problem::new("syntax", "", "expected `=`")
        };
        assert_eq!(syntax.to_string(), "line 3, column 7: expected `=`");
        assert_eq!(
            lines(&[problem, syntax]),
            "entities.orders.store: unknown `mian`; declared stores: main, cache\n\
             line 3, column 7: expected `=`"
        );
    }

    #[test]
    fn finds_typos_and_ignores_strangers() {
        assert_eq!(closest("mian", ["main", "cache"]), Some("main"));
        assert_eq!(closest("entites", ["stores", "entities"]), Some("entities"));
        assert_eq!(closest("tll", ["store", "timeout", "ttl"]), Some("ttl"));
        assert_eq!(
            closest("trasnaction", ["transaction", "get"]),
            Some("transaction")
        );
        assert_eq!(closest("zzz", ["main", "cache"]), None);
        assert_eq!(closest("zzz", ["get"]), None);
    }

    #[test]
    fn listing_names_the_candidates() {
        assert_eq!(
            listing(&["main", "cache"], "mian"),
            "main, cache (did you mean `main`?)"
        );
        assert_eq!(
            listing(&["a", "get"], "gte"),
            "a, get (did you mean `get`?)"
        );
        assert_eq!(listing(&[], "x"), "none");
    }
}
