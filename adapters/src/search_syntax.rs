//! The query-string syntax the server search backends share: terms all required unless joined
//! by `OR`, `-term` or `NOT` excludes, `"a phrase"`, `field:term` and `field:"a phrase"`,
//! parentheses group. Tokenizing is the same for every backend; each parses the tokens into
//! what its engine takes (`to_tsquery` text, Elasticsearch query DSL).

use crate::{Result, StoreError};

/// One token of a query string.
#[derive(Debug, PartialEq)]
pub(crate) enum Token {
    Open,
    Close,
    Not,
    Or,
    And,
    /// A word, or a phrase when quoted, with the field it is scoped to.
    Operand {
        field: Option<String>,
        text: String,
        phrase: bool,
    },
}

/// The invalid-request error for a query string that does not parse.
pub(crate) fn syntax(text: &str, problem: &str) -> StoreError {
    StoreError::invalid(format!(
        "cannot parse the query `{text}`: {problem}; quote terms with special characters"
    ))
}

/// Splits a query string into tokens.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '-' => {
                chars.next();
                tokens.push(Token::Not);
            }
            '"' => {
                chars.next();
                let phrase: String = chars.by_ref().take_while(|&c| c != '"').collect();
                tokens.push(Token::Operand {
                    field: None,
                    text: phrase,
                    phrase: true,
                });
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                if let Some((field, rest)) = word.split_once(':') {
                    let (text, phrase) = if rest.is_empty() && chars.peek() == Some(&'"') {
                        chars.next();
                        (chars.by_ref().take_while(|&c| c != '"').collect(), true)
                    } else {
                        (rest.to_owned(), false)
                    };
                    if text.is_empty() {
                        return Err(syntax(&word, "a field without a term"));
                    }
                    tokens.push(Token::Operand {
                        field: Some(field.to_owned()),
                        text,
                        phrase,
                    });
                } else if word == "OR" || word == "||" {
                    tokens.push(Token::Or);
                } else if word == "AND" || word == "&&" {
                    tokens.push(Token::And);
                } else if word == "NOT" {
                    tokens.push(Token::Not);
                } else {
                    tokens.push(Token::Operand {
                        field: None,
                        text: word.trim_start_matches('+').to_owned(),
                        phrase: false,
                    });
                }
            }
        }
    }
    Ok(tokens)
}
