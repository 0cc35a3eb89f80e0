//! The query string as `to_tsquery` input: terms all required unless joined by `OR`, `-term`
//! excludes, `"a phrase"` matches adjacent terms within one field, `field:term` searches one
//! text field, parentheses group.
//!
//! Each term or phrase becomes one quoted `to_tsquery` operand, so PostgreSQL lower-cases (and
//! stems) it exactly as it analysed the documents. Fields are told apart by the weight each
//! text field's words carry in the entity's `tsvector` (`A` for the first text field, `B` for
//! the second, …), which keeps phrases from matching across two fields.

use crate::search_syntax::{syntax, tokenize, Token};
use crate::{Result, StoreError};

/// The weights of text fields, in declaration order.
pub(super) const WEIGHTS: [char; 4] = ['A', 'B', 'C', 'D'];

/// Translates `text` for an entity whose text fields are `fields`, in declaration order.
/// Returns `None` when the query has no terms at all.
pub(super) fn translate(text: &str, fields: &[String]) -> Result<Option<String>> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        fields,
        text,
    };
    let out = parser.or()?;
    if parser.at < parser.tokens.len() {
        return Err(syntax(text, "an unmatched `)`"));
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    fields: &'a [String],
    text: &'a str,
}

impl Parser<'_> {
    fn or(&mut self) -> Result<Option<String>> {
        let mut parts = vec![self.and()?];
        while self.tokens.get(self.at) == Some(&Token::Or) {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(join(parts, " | "))
    }

    fn and(&mut self) -> Result<Option<String>> {
        let mut parts = Vec::new();
        loop {
            match self.tokens.get(self.at) {
                None | Some(Token::Close | Token::Or) => break,
                Some(Token::And) => self.at += 1,
                Some(_) => parts.push(self.unary()?),
            }
        }
        if parts.is_empty() && !self.tokens.is_empty() {
            return Err(syntax(self.text, "an operator without a term on one side"));
        }
        Ok(join(parts, " & "))
    }

    fn unary(&mut self) -> Result<Option<String>> {
        if self.tokens.get(self.at) == Some(&Token::Not) {
            self.at += 1;
            return Ok(self.unary()?.map(|inner| format!("!{inner}")));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Option<String>> {
        let Some(token) = self.tokens.get(self.at) else {
            return Err(syntax(self.text, "a term is missing at the end"));
        };
        self.at += 1;
        match token {
            Token::Open => {
                let inner = self.or()?;
                if self.tokens.get(self.at) != Some(&Token::Close) {
                    return Err(syntax(self.text, "an unclosed `(`"));
                }
                self.at += 1;
                Ok(inner)
            }
            Token::Operand {
                field,
                text,
                phrase,
            } => self.operand(field.as_deref(), text, *phrase),
            _ => Err(syntax(self.text, "an operator where a term belongs")),
        }
    }

    fn operand(&self, field: Option<&str>, text: &str, phrase: bool) -> Result<Option<String>> {
        if !text.chars().any(char::is_alphanumeric) {
            return Ok(None);
        }
        let quoted = quote(text);
        match field {
            Some(name) => {
                let weight = self.weight(name)?;
                Ok(Some(format!("{quoted}:{weight}")))
            }
            // A phrase holds within one field: one weighted alternative per field.
            None if phrase && text.split_whitespace().nth(1).is_some() => {
                let alternatives: Vec<String> = WEIGHTS
                    .iter()
                    .take(self.fields.len())
                    .map(|weight| format!("{quoted}:{weight}"))
                    .collect();
                Ok(Some(format!("({})", alternatives.join(" | "))))
            }
            None => Ok(Some(quoted)),
        }
    }

    fn weight(&self, name: &str) -> Result<char> {
        self.fields
            .iter()
            .zip(WEIGHTS)
            .find(|(field, _)| *field == name)
            .map(|(_, weight)| weight)
            .ok_or_else(|| {
                StoreError::invalid(format!(
                    "cannot parse the query `{}`: unknown search field `{name}`; the text fields are: {}",
                    self.text,
                    self.fields.join(", ")
                ))
            })
    }
}

fn join(parts: Vec<Option<String>>, operator: &str) -> Option<String> {
    let parts: Vec<String> = parts.into_iter().flatten().collect();
    match parts.len() {
        0 => None,
        1 => parts.into_iter().next(),
        _ => Some(format!("({})", parts.join(operator))),
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

    fn fields() -> Vec<String> {
        vec!["title".to_owned(), "body".to_owned()]
    }

    #[test]
    fn translates_the_syntax() {
        let t = |text| translate(text, &fields()).unwrap();
        assert_eq!(t("a b").unwrap(), "('a' & 'b')");
        assert_eq!(t("(a OR b) -c").unwrap(), "(('a' | 'b') & !'c')");
        assert_eq!(t("\"a b\"").unwrap(), "('a b':A | 'a b':B)");
        assert_eq!(t("body:x").unwrap(), "'x':B");
        assert_eq!(t("it's").unwrap(), "'it''s'");
        assert_eq!(t("   "), None);
    }

    #[test]
    fn rejects_what_it_cannot_parse() {
        for text in ["colour:red", "title:", "(a", "a)", "a OR", "OR b", "()"] {
            assert!(translate(text, &fields()).is_err(), "{text}");
        }
    }
}
