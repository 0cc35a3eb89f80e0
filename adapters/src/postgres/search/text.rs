//! The query string as `to_tsquery` input: terms all required unless joined by `OR`, `-term`
//! excludes, `"a phrase"` matches adjacent terms within one field, `field:term` searches one
//! text field, parentheses group.
//!
//! Each term or phrase becomes one quoted `to_tsquery` operand, so PostgreSQL lower-cases (and
//! stems) it exactly as it analysed the documents. Fields are told apart by the weight each
//! text field's words carry in the entity's `tsvector` (`A` for the first text field, `B` for
//! the second, …), which keeps phrases from matching across two fields.

use crate::kinds::search::fields::DeclaredFields;
use crate::kinds::search::syntax::{parse, Node};
use crate::Result;

/// The weights of text fields, in declaration order.
pub(super) const WEIGHTS: [char; 4] = ['A', 'B', 'C', 'D'];

/// Translates `text` for an entity with `fields` (whose text fields' declaration order is their
/// weights' order). Returns `None` when the query has no terms at all.
pub(super) fn translate(text: &str, fields: &DeclaredFields) -> Result<Option<String>> {
    let kind_of = |name: &str| fields.kind(name).ok();
    let text_fields = fields.text();
    Ok(parse(text, text_fields, &kind_of)?.map(|node| render(&node, text_fields)))
}

/// The `to_tsquery` text of a parsed query.
fn render(node: &Node, text_fields: &[String]) -> String {
    let group = |children: &[Node], operator: &str| {
        let parts: Vec<String> = children.iter().map(|n| render(n, text_fields)).collect();
        format!("({})", parts.join(operator))
    };
    match node {
        Node::And(children) => group(children, " & "),
        Node::Or(children) => group(children, " | "),
        Node::Not(inner) => format!("!{}", render(inner, text_fields)),
        Node::Operand {
            field: Some(name),
            text,
            ..
        } => {
            let weight = text_fields
                .iter()
                .zip(WEIGHTS)
                .find(|(field, _)| *field == name)
                .map_or('A', |(_, weight)| weight);
            format!("{}:{weight}", quote(text))
        }
        // A phrase holds within one field: one weighted alternative per field.
        Node::Operand {
            field: None,
            text,
            phrase: true,
        } if text.split_whitespace().nth(1).is_some() => {
            let quoted = quote(text);
            let alternatives: Vec<String> = WEIGHTS
                .iter()
                .take(text_fields.len())
                .map(|weight| format!("{quoted}:{weight}"))
                .collect();
            format!("({})", alternatives.join(" | "))
        }
        Node::Operand { text, .. } => quote(text),
    }
}

/// `text` as one quoted `to_tsquery` operand.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kinds::search::{SearchField, SearchFieldKind, SearchSettings};

    fn fields() -> DeclaredFields {
        let field = |name: &str, kind| SearchField {
            name: name.to_owned(),
            kind,
        };
        DeclaredFields::new(&SearchSettings::with_fields(vec![
            field("title", SearchFieldKind::Text),
            field("body", SearchFieldKind::Text),
            field("category", SearchFieldKind::Keyword),
        ]))
        .unwrap()
    }

    fn translate(text: &str) -> Result<Option<String>> {
        super::translate(text, &fields())
    }

    #[test]
    fn translates_the_syntax() {
        let t = |text| translate(text).unwrap();
        assert_eq!(t("a b").unwrap(), "('a' & 'b')");
        assert_eq!(t("(a OR b) -c").unwrap(), "(('a' | 'b') & !'c')");
        assert_eq!(t("\"a b\"").unwrap(), "('a b':A | 'a b':B)");
        assert_eq!(t("body:x").unwrap(), "'x':B");
        assert_eq!(t("it's").unwrap(), "'it''s'");
        assert_eq!(t("   "), None);
    }

    #[test]
    fn rejects_what_it_cannot_parse() {
        for text in [
            "colour:red",
            "category:x",
            "title:",
            "(a",
            "a)",
            "a OR",
            "OR b",
            "()",
        ] {
            assert!(translate(text).is_err(), "{text}");
        }
    }
}
