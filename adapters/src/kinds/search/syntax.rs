//! The query-string syntax every search backend shares: terms all required unless joined by
//! `OR`, `-term` or `NOT` excludes, `"a phrase"`, `field:term` and `field:"a phrase"`,
//! parentheses group. Tokenizing and parsing are the same for every backend, and linear in the
//! text: [`parse`] checks the kind's bounds first and counts its depth as it recurses. Each
//! backend turns the [`Node`] tree into what its engine takes (a tantivy query, `to_tsquery`
//! text, Elasticsearch query DSL).

use super::{check_query_text, SearchFieldKind, MAX_QUERY_DEPTH, MAX_QUERY_TERMS};
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

/// The invalid-request error for query text nested deeper than [`MAX_QUERY_DEPTH`].
pub(crate) fn too_deep() -> StoreError {
    StoreError::invalid(format!(
        "the query nests groups and negations more than {MAX_QUERY_DEPTH} deep; flatten its groups"
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

/// The parsed query text, the same tree for every backend.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    /// Every child holds.
    And(Vec<Node>),
    /// At least one child holds.
    Or(Vec<Node>),
    /// The child does not hold.
    Not(Box<Node>),
    /// A word (or several, as one term) or a phrase, in every text field or in one.
    Operand {
        /// The text field it is scoped to, if any.
        field: Option<String>,
        /// The words.
        text: String,
        /// Whether the words must be adjacent and in order.
        phrase: bool,
    },
}

/// Parses query text for an entity whose text fields are `text_fields` and whose fields have
/// the kinds `kind_of` tells. Returns `None` when the text holds no word at all.
///
/// The text is checked against the kind's bounds ([`check_query_text`]) before it is
/// tokenized, and the parser counts its depth, so no query text can make it recurse deeper
/// than [`MAX_QUERY_DEPTH`] levels.
pub(crate) fn parse(
    text: &str,
    text_fields: &[String],
    kind_of: &dyn Fn(&str) -> Option<SearchFieldKind>,
) -> Result<Option<Node>> {
    check_query_text(text)?;
    let tokens = tokenize(text)?;
    let terms = tokens
        .iter()
        .filter(|token| matches!(token, Token::Operand { .. }))
        .count();
    if terms > MAX_QUERY_TERMS {
        return Err(StoreError::invalid(format!(
            "the query has {terms} terms: a search query may have at most {MAX_QUERY_TERMS}; \
             search for fewer terms, or filter on keyword fields instead"
        )));
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        depth: 0,
        text,
        text_fields,
        kind_of,
    };
    let node = parser.or()?;
    if parser.at < parser.tokens.len() {
        return Err(syntax(text, "an unmatched `)`"));
    }
    Ok(node)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    /// How many groups and negations enclose the token at `at`.
    depth: usize,
    text: &'a str,
    text_fields: &'a [String],
    kind_of: &'a dyn Fn(&str) -> Option<SearchFieldKind>,
}

impl Parser<'_> {
    fn or(&mut self) -> Result<Option<Node>> {
        let mut parts = vec![self.and()?];
        while self.tokens.get(self.at) == Some(&Token::Or) {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(join(parts, Node::Or))
    }

    fn and(&mut self) -> Result<Option<Node>> {
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
        Ok(join(parts, Node::And))
    }

    /// Enters one more level of nesting, refusing to go past [`MAX_QUERY_DEPTH`].
    fn descend(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_QUERY_DEPTH {
            return Err(too_deep());
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Option<Node>> {
        if self.tokens.get(self.at) == Some(&Token::Not) {
            self.at += 1;
            self.descend()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(inner.map(|inner| Node::Not(Box::new(inner))));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Option<Node>> {
        let Some(token) = self.tokens.get(self.at) else {
            return Err(syntax(self.text, "a term is missing at the end"));
        };
        self.at += 1;
        match token {
            Token::Open => {
                self.descend()?;
                let inner = self.or()?;
                self.depth -= 1;
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
            } => {
                if let Some(name) = field {
                    self.check_field(name)?;
                }
                // Punctuation alone analyses to nothing: it adds no condition.
                if !text.chars().any(char::is_alphanumeric) {
                    return Ok(None);
                }
                Ok(Some(Node::Operand {
                    field: field.clone(),
                    text: text.clone(),
                    phrase: *phrase,
                }))
            }
            _ => Err(syntax(self.text, "an operator where a term belongs")),
        }
    }

    /// Only text fields can be searched by the query text.
    fn check_field(&self, name: &str) -> Result<()> {
        match (self.kind_of)(name) {
            Some(SearchFieldKind::Text) => Ok(()),
            Some(_) => Err(StoreError::invalid(format!(
                "cannot parse the query `{}`: `{name}` is not a text field; filter on it instead",
                self.text
            ))),
            None => Err(StoreError::invalid(format!(
                "cannot parse the query `{}`: unknown search field `{name}`; the text fields are: {}",
                self.text,
                if self.text_fields.is_empty() {
                    "none".to_owned()
                } else {
                    self.text_fields.join(", ")
                }
            ))),
        }
    }
}

fn join(parts: Vec<Option<Node>>, combine: fn(Vec<Node>) -> Node) -> Option<Node> {
    let mut parts: Vec<Node> = parts.into_iter().flatten().collect();
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(combine(parts)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_catalog(text: &str) -> Result<Option<Node>> {
        let text_fields = ["title".to_owned(), "body".to_owned()];
        let kind_of = |name: &str| match name {
            "title" | "body" => Some(SearchFieldKind::Text),
            "category" => Some(SearchFieldKind::Keyword),
            _ => None,
        };
        parse(text, &text_fields, &kind_of)
    }

    fn term(text: &str) -> Node {
        Node::Operand {
            field: None,
            text: text.to_owned(),
            phrase: false,
        }
    }

    #[test]
    fn parses_the_shared_language() {
        assert_eq!(
            parse_catalog("(a OR b) -c").unwrap(),
            Some(Node::And(vec![
                Node::Or(vec![term("a"), term("b")]),
                Node::Not(Box::new(term("c"))),
            ]))
        );
        assert_eq!(
            parse_catalog("title:\"x y\"").unwrap(),
            Some(Node::Operand {
                field: Some("title".to_owned()),
                text: "x y".to_owned(),
                phrase: true,
            })
        );
        assert_eq!(parse_catalog("!!! ...").unwrap(), None);
        for bad in [
            "colour:red",
            "category:x",
            "title:",
            "(a",
            "a)",
            "a OR",
            "()",
        ] {
            assert!(parse_catalog(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bounds_hold_before_and_during_parsing() {
        let nested = |depth: usize| format!("{}a{}", "(".repeat(depth), ")".repeat(depth));
        assert!(parse_catalog(&nested(MAX_QUERY_DEPTH)).unwrap().is_some());
        let too_deep = parse_catalog(&nested(MAX_QUERY_DEPTH + 1)).unwrap_err();
        assert!(too_deep.to_string().contains("16 deep"), "{too_deep}");
        // Negations nest too, whether or not parentheses come with them.
        let negations = format!("{}a", "-".repeat(MAX_QUERY_DEPTH + 1));
        assert!(parse_catalog(&negations).is_err());
        let mixed = format!("{}a{}", "-(".repeat(9), ")".repeat(9));
        assert!(parse_catalog(&mixed).is_err());
        // Parentheses inside a phrase are words, not groups.
        let quoted = format!("\"{}\"", "(".repeat(100));
        assert_eq!(parse_catalog(&quoted).unwrap(), None);
        for long in ["(".repeat(200_000), "-".repeat(200_000), "a ".repeat(2049)] {
            let error = parse_catalog(&long).unwrap_err();
            assert!(error.to_string().contains("4096 bytes"), "{error}");
        }
        let many: Vec<String> = (0..=MAX_QUERY_TERMS).map(|i| format!("w{i}")).collect();
        let error = parse_catalog(&many.join(" ")).unwrap_err();
        assert!(error.to_string().contains("at most 128"), "{error}");
        assert!(parse_catalog(&many[1..].join(" ")).is_ok());
    }
}
