//! Entry points into internal decoders and encoders for the fuzz targets under `fuzz/`.
//!
//! Built only with the `fuzzing` cargo feature, hidden from the docs and not an API: each
//! function is a thin wrapper that lets a fuzz target feed arbitrary bytes (or structured
//! values) to code that files and keys reach, without making that code public. The embedded
//! time-series engine's files have theirs with the engine (its own `fuzzing` module).

use crate::kinds::wide_column::key;
use crate::{Result, Value};

/// Encodes a wide-column row key made of `values`.
pub fn wc_encode_key(values: &[Value]) -> Result<Vec<u8>> {
    let columns: Vec<String> = (0..values.len()).map(|i| format!("c{i}")).collect();
    let mut out = Vec::new();
    key::encode_into(&mut out, &columns, values)?;
    Ok(out)
}

/// Decodes a stored wide-column row key.
pub fn wc_decode_key(bytes: &[u8]) -> Result<Vec<Value>> {
    key::decode(bytes)
}

/// The smallest key after every key that starts with `prefix`.
pub fn wc_prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    key::prefix_end(prefix)
}

/// Tokenizes and parses a query string in the syntax every search backend shares, for an
/// entity with the text fields `name` and `description` and the keyword field `category`; the
/// number of tokens and of characters in their operands.
pub fn search_tokenize(text: &str) -> Result<(usize, usize)> {
    use crate::kinds::search::syntax::{parse, tokenize, Token};
    use crate::kinds::search::SearchFieldKind;
    let text_fields = ["name".to_owned(), "description".to_owned()];
    let kind_of = |name: &str| match name {
        "name" | "description" => Some(SearchFieldKind::Text),
        "category" => Some(SearchFieldKind::Keyword),
        _ => None,
    };
    let _ = parse(text, &text_fields, &kind_of);
    let tokens = tokenize(text)?;
    let chars = tokens
        .iter()
        .map(|token| match token {
            Token::Operand {
                field,
                text,
                phrase,
            } => field.as_ref().map_or(0, String::len) + text.len() + usize::from(*phrase),
            Token::Open | Token::Close | Token::Not | Token::Or | Token::And => 0,
        })
        .sum();
    Ok((tokens.len(), chars))
}
