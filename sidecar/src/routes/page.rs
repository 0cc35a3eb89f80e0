//! Bounded listings. Every route that lists (documents found, points of a range, rows of a
//! slice, neighbours, visits, rows of a read statement) answers at most `[sidecar]
//! max_results` items, so one read token cannot make the sidecar hold a whole store in memory.
//!
//! The effective limit is the request's `limit`, or `max_results` when it gives none; a larger
//! `limit` is refused naming the field and the bound. The route asks the store for one item
//! more than it answers, to learn whether more exist, and answers a `next` member: `null` when
//! the listing is complete, otherwise an object whose members the caller sets in its next
//! request (the body, or the query string of a GET route) to read the following page. Each
//! kind continues in its own order: after the last clustering key of a slice, from an instant
//! of a range, past the items already read of a find, a traversal or a neighbour list.

use serde_json::{json, Value as JsonValue};

use crate::errors::ApiError;

/// The number of items a listing answers: `requested`, or `max` when absent. A `limit` of 0
/// (which could never page on) or above `max` is a 400 naming `limit`.
pub(crate) fn limit(requested: Option<usize>, max: usize) -> Result<usize, ApiError> {
    match requested {
        None => Ok(max),
        Some(0) => Err(ApiError::bad_request(
            "invalid_limit",
            format!("`limit` must be at least 1 (and at most {max}); omit it to get up to {max}"),
        )
        .with_field("limit")),
        Some(limit) if limit > max => Err(ApiError::bad_request(
            "invalid_limit",
            format!(
                "`limit` {limit} is above this sidecar's `max_results` of {max}: ask for at most \
                 {max} and read on with `next`"
            ),
        )
        .with_field("limit")),
        Some(limit) => Ok(limit),
    }
}

/// How many items to ask the store for to answer `limit`: one more, to learn whether more
/// exist.
pub(crate) fn probe(limit: usize) -> usize {
    limit.saturating_add(1)
}

/// The schema of an answer's `next`: `null`, or an object with `members` (name → schema), to
/// be set in the next request.
pub(crate) fn next_schema(members: &[(&str, JsonValue)], continue_with: &str) -> JsonValue {
    let required: Vec<&str> = members.iter().map(|(name, _)| *name).collect();
    let properties: serde_json::Map<String, JsonValue> = members
        .iter()
        .map(|(name, schema)| ((*name).to_owned(), schema.clone()))
        .collect();
    let mut schema = json!({
        "type": "object",
        "nullable": true,
        "properties": properties,
        "description": format!(
            "null when nothing more matches; otherwise the listing was cut at the request's \
             `limit` (or the sidecar's `max_results`): {continue_with} to read the next page"
        ),
    });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_defaults_to_the_bound_and_may_not_pass_it() {
        assert_eq!(limit(None, 5), Ok(5));
        assert_eq!(limit(Some(3), 5), Ok(3));
        assert_eq!(limit(Some(5), 5), Ok(5));
        for bad in [0, 6, usize::MAX] {
            let error = limit(Some(bad), 5).unwrap_err();
            assert_eq!(error.status, 400);
            assert_eq!(error.field.as_deref(), Some("limit"));
            assert!(error.message.contains('5'), "{}", error.message);
        }
        assert_eq!(probe(usize::MAX), usize::MAX);
    }
}
