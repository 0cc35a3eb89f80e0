//! The recommendation as text: an aligned table for the terminal, a one-page Markdown design
//! doc, stable JSON for tools, and a Mermaid diagram of entities and stores.

use std::fmt;
use std::str::FromStr;

use crate::recommend::Recommendation;
use crate::spec::Spec;

mod json;
mod markdown;
mod mermaid;
mod table;

pub use json::{to_json, JsonEntity, JsonReport};

/// An output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a terminal (the default).
    #[default]
    Table,
    /// A one-page design doc: context, decision per entity, alternatives, risks.
    Markdown,
    /// Stable JSON: `{"entities":[{"name", "primary", "routes", "rules", "runner_up", "warnings", …}]}`.
    Json,
    /// A Mermaid flowchart of entities and the stores that serve them.
    Mermaid,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 4] = [
        Format::Table,
        Format::Markdown,
        Format::Json,
        Format::Mermaid,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Markdown => "markdown",
            Format::Json => "json",
            Format::Mermaid => "mermaid",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|format| format.name() == text)
            .ok_or_else(|| {
                format!("unknown format `{text}`; expected one of: table, markdown, json, mermaid")
            })
    }
}

/// `recommendation` (made from `spec`) in `format`.
pub fn render(spec: &Spec, recommendation: &Recommendation, format: Format) -> String {
    match format {
        Format::Table => table::render(recommendation),
        Format::Markdown => markdown::render(spec, recommendation),
        Format::Json => to_json(recommendation),
        Format::Mermaid => mermaid::render(recommendation),
    }
}

/// `rows` under `headers`, each column as wide as its widest cell, two spaces apart.
pub(crate) fn columns(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            line.push_str(cell);
            line.push_str(&" ".repeat(width.saturating_sub(cell.chars().count()) + 2));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_by_name() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>(), Ok(format));
        }
        assert!("yaml".parse::<Format>().is_err());
    }

    #[test]
    fn columns_are_aligned() {
        let text = columns(
            &["A", "B"],
            &[
                vec!["long cell".into(), "x".into()],
                vec!["y".into(), "z".into()],
            ],
        );
        assert_eq!(text, "A          B\nlong cell  x\ny          z\n");
    }
}
