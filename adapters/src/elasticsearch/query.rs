//! A [`SearchQuery`] as an Elasticsearch search body, built in [`search_body`].
//!
//! The query string is parsed here (terms all required unless joined by `OR`, `-term`
//! excludes, `"a phrase"` matches adjacent terms within one field, `field:term` searches one
//! text field, parentheses group; anything else is an invalid request) into a `bool` query
//! whose leaves are `multi_match` queries over the text fields (a term: every analysed word of
//! it required, in the best field; a phrase: `type: "phrase"`, so it holds within one field) or
//! `match`/`match_phrase` on one field. Filters are `terms` and `range` clauses in the `bool`'s
//! `filter` context, so they restrict hits without changing scores.
//!
//! Every value the user gives — words, phrases, keyword values, numbers — is a JSON string or
//! number built with `serde_json`, never spliced into text: a `match` query analyses its text
//! and does not parse Lucene's query syntax, so `*`, `?`, `:`, `\`, `~`, `^`, `[`, `{`, `/` and
//! quotes are just characters the analyser drops or keeps.

use serde_json::{json, Map, Value as Json};

use crate::kinds::search::syntax::{self, Node};
use crate::kinds::search::{SearchFieldKind, SearchFilter, SearchQuery};
use crate::{Result, StoreError, Value};

/// Elasticsearch's default `index.max_result_window`: `from + size` may not exceed it.
pub(super) const MAX_RESULT_WINDOW: usize = 10_000;

/// The tags around matched words in snippets.
const PRE_TAG: &str = "<b>";
const POST_TAG: &str = "</b>";

/// What [`search_body`] needs to know about an entity's schema.
pub(super) trait Schema {
    /// The kind of field `name`, or an invalid request naming it.
    fn kind(&self, name: &str) -> Result<SearchFieldKind>;
    /// The text fields, in declaration order.
    fn text_fields(&self) -> &[String];
}

/// Parses the query text with the syntax every search backend shares; `None` when it holds
/// no word at all. Field names are checked against `schema`: only text fields can be searched.
pub(super) fn parse(text: &str, schema: &dyn Schema) -> Result<Option<Node>> {
    let kind_of = |name: &str| schema.kind(name).ok();
    syntax::parse(text, schema.text_fields(), &kind_of)
}

/// The query DSL of a parsed query text, over `text_fields`.
pub(super) fn text_query(node: &Node, text_fields: &[String]) -> Json {
    match node {
        Node::Operand {
            field: Some(field),
            text,
            phrase,
        } => {
            let mut inner = Map::new();
            if *phrase {
                inner.insert(field.clone(), json!({ "query": text }));
                json!({ "match_phrase": inner })
            } else {
                inner.insert(field.clone(), json!({ "query": text, "operator": "and" }));
                json!({ "match": inner })
            }
        }
        Node::Operand {
            field: None,
            text,
            phrase,
        } => {
            if *phrase {
                json!({ "multi_match": {
                    "query": text, "fields": text_fields, "type": "phrase"
                }})
            } else {
                json!({ "multi_match": {
                    "query": text, "fields": text_fields, "type": "best_fields", "operator": "and"
                }})
            }
        }
        Node::And(children) => {
            let (excluded, required): (Vec<&Node>, Vec<&Node>) =
                children.iter().partition(|n| matches!(n, Node::Not(_)));
            let must: Vec<Json> = required
                .iter()
                .map(|n| text_query(n, text_fields))
                .collect();
            let must_not: Vec<Json> = excluded
                .iter()
                .filter_map(|n| match n {
                    Node::Not(inner) => Some(text_query(inner, text_fields)),
                    _ => None,
                })
                .collect();
            json!({ "bool": { "must": must, "must_not": must_not } })
        }
        Node::Or(children) => {
            let should: Vec<Json> = children
                .iter()
                .map(|n| text_query(n, text_fields))
                .collect();
            json!({ "bool": { "should": should, "minimum_should_match": 1 } })
        }
        Node::Not(inner) => {
            json!({ "bool": { "must_not": [text_query(inner, text_fields)] } })
        }
    }
}

/// A filter as a `filter`-context clause, its values checked against the field's kind.
pub(super) fn filter_clause(schema: &dyn Schema, filter: &SearchFilter) -> Result<Json> {
    Ok(match filter {
        SearchFilter::In { field, values } => {
            let kind = schema.kind(field)?;
            let values = values
                .iter()
                .map(|value| match (kind, value) {
                    (SearchFieldKind::Keyword, Value::Text(text)) => Ok(Json::from(text.as_str())),
                    (SearchFieldKind::Integer, Value::Int(n)) => Ok(Json::from(*n)),
                    (SearchFieldKind::Float, Value::Int(_) | Value::Float(_)) => {
                        finite(field, value).map(Json::from)
                    }
                    (SearchFieldKind::Text, _) => Err(StoreError::invalid(format!(
                        "`{field}` is a text field, which filters cannot match exactly; filter on a keyword field, or search it in the query text"
                    ))),
                    _ => Err(wrong_type(field, kind, value)),
                })
                .collect::<Result<Vec<Json>>>()?;
            if values.is_empty() {
                return Ok(json!({ "match_none": {} }));
            }
            let mut terms = Map::new();
            terms.insert(field.clone(), Json::Array(values));
            json!({ "terms": terms })
        }
        SearchFilter::Range { field, min, max } => {
            let kind = schema.kind(field)?;
            for bound in [min, max].into_iter().flatten() {
                if bound.is_nan() {
                    return Err(StoreError::invalid(format!(
                        "range on `{field}` has a NaN bound; use a number or no bound"
                    )));
                }
            }
            let mut range = Map::new();
            match kind {
                SearchFieldKind::Float => {
                    if let Some(min) = min {
                        range.insert("gte".to_owned(), float_bound(*min));
                    }
                    if let Some(max) = max {
                        range.insert("lte".to_owned(), float_bound(*max));
                    }
                }
                SearchFieldKind::Integer => {
                    // Fractional bounds admit the integers between them: round inwards. A
                    // float-to-int cast saturates, so bounds past the i64 range clamp to it,
                    // except a lower bound above every i64 (or an upper one below): nothing.
                    const ABOVE: f64 = 9_223_372_036_854_775_808.0; // 2^63
                    if let Some(min) = min.map(f64::ceil) {
                        if min >= ABOVE {
                            return Ok(json!({ "match_none": {} }));
                        }
                        range.insert("gte".to_owned(), Json::from(min as i64));
                    }
                    if let Some(max) = max.map(f64::floor) {
                        if max < -ABOVE {
                            return Ok(json!({ "match_none": {} }));
                        }
                        range.insert("lte".to_owned(), Json::from(max as i64));
                    }
                }
                _ => {
                    return Err(StoreError::invalid(format!(
                        "range filter on `{field}`, which is not numeric; ranges apply to integer and float fields"
                    )))
                }
            }
            if range.is_empty() {
                // No bound: no restriction.
                return Ok(json!({ "match_all": {} }));
            }
            let mut clause = Map::new();
            clause.insert(field.clone(), Json::Object(range));
            json!({ "range": clause })
        }
    })
}

/// A float bound as JSON; infinite bounds become the largest finite doubles.
fn float_bound(x: f64) -> Json {
    Json::from(x.clamp(f64::MIN, f64::MAX))
}

fn finite(name: &str, value: &Value) -> Result<f64> {
    crate::kinds::search::fields::finite(name, value)
}

fn wrong_type(name: &str, kind: SearchFieldKind, value: &Value) -> StoreError {
    crate::kinds::search::fields::wrong_type(name, kind, value)
}

/// The page to ask for: `from` and `size` within the result window. `None` when the page lies
/// wholly past the window (the caller then only counts).
pub(super) fn page(offset: usize, limit: usize) -> Option<(usize, usize)> {
    if limit == 0 || offset >= MAX_RESULT_WINDOW {
        return None;
    }
    Some((offset, limit.min(MAX_RESULT_WINDOW - offset)))
}

/// The search body of `query`: the text and filters as one `bool` query, the page, the total
/// counted exactly, and highlighting when snippets are asked for.
pub(super) fn search_body(schema: &dyn Schema, query: &SearchQuery) -> Result<Json> {
    let text = if query.text.trim().is_empty() {
        None
    } else if schema.text_fields().is_empty() {
        return Err(StoreError::invalid(
            "this entity has no text fields to search; query with empty text and filters, or declare a text field",
        ));
    } else {
        // A query with no word left matches nothing.
        Some(parse(&query.text, schema)?)
    };
    let filters = query
        .filters
        .iter()
        .map(|f| filter_clause(schema, f))
        .collect::<Result<Vec<Json>>>()?;
    let must = match &text {
        None => json!({ "match_all": {} }),
        Some(None) => json!({ "match_none": {} }),
        Some(Some(node)) => text_query(node, schema.text_fields()),
    };
    let (from, size) = page(query.offset, query.limit).unwrap_or((0, 0));
    let mut body = json!({
        "query": { "bool": { "must": [must], "filter": filters } },
        "from": from,
        "size": size,
        "track_total_hits": true,
    });
    if query.snippets && matches!(text, Some(Some(_))) {
        let fields: Map<String, Json> = schema
            .text_fields()
            .iter()
            .map(|field| (field.clone(), json!({})))
            .collect();
        body["highlight"] = json!({
            "type": "unified",
            "encoder": "html",
            "pre_tags": [PRE_TAG],
            "post_tags": [POST_TAG],
            "require_field_match": true,
            "number_of_fragments": 1,
            "fragment_size": 150,
            "no_match_size": 0,
            // Analyse at most the first 999,999 characters of a long field for snippets
            // instead of failing (the index's limit is 1,000,000).
            "max_analyzed_offset": 999_999,
            "fields": fields,
        });
    }
    Ok(body)
}

/// Asks the server to stop searching after `limit`: Elasticsearch's search `timeout`.
pub(super) fn with_time_limit(body: &mut Json, limit: std::time::Duration) {
    body["timeout"] = Json::from(format!("{}ms", limit.as_millis().max(1)));
}

/// The search response, or a timeout when the server stopped early: a search cut short by its
/// `timeout` answers with the hits found so far and `timed_out: true`, which must never pass
/// for the whole answer.
pub(super) fn complete(response: Json, limit: std::time::Duration) -> Result<Json> {
    if response["timed_out"] == Json::Bool(true) {
        return Err(StoreError::Timeout { after: limit });
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Catalog {
        text: Vec<String>,
    }

    impl Schema for Catalog {
        fn kind(&self, name: &str) -> Result<SearchFieldKind> {
            match name {
                "title" | "body" => Ok(SearchFieldKind::Text),
                "category" => Ok(SearchFieldKind::Keyword),
                "price" => Ok(SearchFieldKind::Float),
                "stock" => Ok(SearchFieldKind::Integer),
                other => Err(StoreError::invalid(format!(
                    "unknown search field `{other}`"
                ))),
            }
        }
        fn text_fields(&self) -> &[String] {
            &self.text
        }
    }

    fn catalog() -> Catalog {
        Catalog {
            text: vec!["title".to_owned(), "body".to_owned()],
        }
    }

    fn dsl(text: &str) -> Json {
        let schema = catalog();
        let node = parse(text, &schema).unwrap().unwrap();
        text_query(&node, schema.text_fields())
    }

    fn term(text: &str) -> Json {
        json!({"multi_match": {"query": text, "fields": ["title", "body"], "type": "best_fields", "operator": "and"}})
    }

    #[test]
    fn terms_are_required_or_alternatives_or_excluded() {
        assert_eq!(dsl("apple"), term("apple"));
        assert_eq!(
            dsl("apple cherry"),
            json!({"bool": {"must": [term("apple"), term("cherry")], "must_not": []}})
        );
        assert_eq!(dsl("apple AND cherry"), dsl("apple cherry"));
        assert_eq!(
            dsl("banana OR pie"),
            json!({"bool": {"should": [term("banana"), term("pie")], "minimum_should_match": 1}})
        );
        assert_eq!(
            dsl("(banana OR pie) -apple"),
            json!({"bool": {
                "must": [{"bool": {"should": [term("banana"), term("pie")], "minimum_should_match": 1}}],
                "must_not": [term("apple")]
            }})
        );
        assert_eq!(
            dsl("-apple"),
            json!({"bool": {"must_not": [term("apple")]}})
        );
    }

    #[test]
    fn phrases_and_field_scoped_terms() {
        assert_eq!(
            dsl("\"pie with apple\""),
            json!({"multi_match": {"query": "pie with apple", "fields": ["title", "body"], "type": "phrase"}})
        );
        assert_eq!(
            dsl("title:shoe"),
            json!({"match": {"title": {"query": "shoe", "operator": "and"}}})
        );
        assert_eq!(
            dsl("body:\"leap forward\""),
            json!({"match_phrase": {"body": {"query": "leap forward"}}})
        );
    }

    #[test]
    fn syntax_errors_and_unknown_fields_are_invalid() {
        let schema = catalog();
        for text in [
            "colour:red",
            "title:",
            "(a",
            "a)",
            "a OR",
            "OR b",
            "()",
            "category:x",
            "price:3",
        ] {
            let err = parse(text, &schema).unwrap_err();
            assert!(matches!(err, StoreError::InvalidRequest { .. }), "{text}");
        }
        assert_eq!(parse("   ", &schema).unwrap(), None);
        assert_eq!(parse("!!! ...", &schema).unwrap(), None);
    }

    #[test]
    fn lucene_metacharacters_travel_as_plain_json_strings() {
        // A match query analyses its text; it has no query syntax to inject into. The words
        // reach Elasticsearch as JSON strings, escaped by serde_json.
        let hostile = [
            "title:*",
            "a* b? c~2 d^3",
            "[1 TO 9] {a TO z}",
            "/reg.ex/",
            "back\\slash",
            "it's",
            "\\\"",
            "a&&b||c",
            "<script>",
            "café 日本 🦀",
        ];
        for text in hostile {
            let mut query = SearchQuery::new(text);
            query.limit = 5;
            let Ok(body) = search_body(&catalog(), &query) else {
                continue;
            };
            let serialized = serde_json::to_string(&body).unwrap();
            let back: Json = serde_json::from_str(&serialized).unwrap();
            assert_eq!(back, body, "{text}");
            assert!(!serialized.contains("query_string"), "{serialized}");
        }
        assert_eq!(dsl("back\\slash"), term("back\\slash"),);
        let serialized = serde_json::to_string(&dsl("a\\\"b")).unwrap();
        assert!(serialized.contains(r#""query":"a\\""#), "{serialized}");
        assert_eq!(
            dsl("a* b?"),
            json!({"bool": {"must": [term("a*"), term("b?")], "must_not": []}})
        );
    }

    #[test]
    fn filters_are_typed_clauses() {
        let schema = catalog();
        let clause = |f: SearchFilter| filter_clause(&schema, &f);
        assert_eq!(
            clause(SearchFilter::one_of(
                "category",
                ["home", "\"quoted\" \\ *"]
            ))
            .unwrap(),
            json!({"terms": {"category": ["home", "\"quoted\" \\ *"]}})
        );
        assert_eq!(
            clause(SearchFilter::one_of("stock", [1i64, 2])).unwrap(),
            json!({"terms": {"stock": [1, 2]}})
        );
        assert_eq!(
            clause(SearchFilter::one_of(
                "price",
                [Value::Int(7), Value::Float(9.5)]
            ))
            .unwrap(),
            json!({"terms": {"price": [7.0, 9.5]}})
        );
        assert_eq!(
            clause(SearchFilter::one_of("category", Vec::<Value>::new())).unwrap(),
            json!({"match_none": {}})
        );
        assert_eq!(
            clause(SearchFilter::range("price", Some(9.99), Some(120.0))).unwrap(),
            json!({"range": {"price": {"gte": 9.99, "lte": 120.0}}})
        );
        assert_eq!(
            clause(SearchFilter::range("stock", Some(-1.5), Some(4.5))).unwrap(),
            json!({"range": {"stock": {"gte": -1, "lte": 4}}})
        );
        assert_eq!(
            clause(SearchFilter::range("price", None, None)).unwrap(),
            json!({"match_all": {}})
        );
        assert_eq!(
            clause(SearchFilter::range("stock", Some(1e300), None)).unwrap(),
            json!({"match_none": {}})
        );
        assert_eq!(
            clause(SearchFilter::range("stock", Some(-1e300), Some(1e300))).unwrap(),
            json!({"range": {"stock": {"gte": i64::MIN, "lte": i64::MAX}}})
        );
        for (filter, field) in [
            (SearchFilter::one_of("colour", ["red"]), "colour"),
            (SearchFilter::one_of("title", ["x"]), "title"),
            (SearchFilter::range("category", Some(1.0), None), "category"),
            (SearchFilter::one_of("stock", ["3"]), "stock"),
            (SearchFilter::one_of("category", [3i64]), "category"),
            (SearchFilter::range("price", Some(f64::NAN), None), "price"),
        ] {
            let err = clause(filter).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
    }

    #[test]
    fn bodies_page_count_and_highlight() {
        let mut query = SearchQuery::new("fish");
        query.filters = vec![SearchFilter::one_of("category", ["food"])];
        query.offset = 20;
        query.limit = 10;
        query.snippets = true;
        let body = search_body(&catalog(), &query).unwrap();
        assert_eq!(body["from"], 20);
        assert_eq!(body["size"], 10);
        assert_eq!(body["track_total_hits"], true);
        assert_eq!(body["query"]["bool"]["must"][0], term("fish"));
        assert_eq!(
            body["query"]["bool"]["filter"][0],
            json!({"terms": {"category": ["food"]}})
        );
        assert_eq!(body["highlight"]["encoder"], "html");
        assert_eq!(body["highlight"]["pre_tags"], json!(["<b>"]));
        assert!(body["highlight"]["fields"].get("body").is_some());

        let body = search_body(&catalog(), &SearchQuery::new("")).unwrap();
        assert_eq!(body["query"]["bool"]["must"][0], json!({"match_all": {}}));
        assert!(body.get("highlight").is_none());
        let body = search_body(&catalog(), &SearchQuery::new("...")).unwrap();
        assert_eq!(body["query"]["bool"]["must"][0], json!({"match_none": {}}));

        assert_eq!(page(0, usize::MAX), Some((0, MAX_RESULT_WINDOW)));
        assert_eq!(page(usize::MAX - 1, usize::MAX), None);
        assert_eq!(page(9_990, 100), Some((9_990, 10)));
        assert_eq!(page(0, 0), None);
    }

    #[test]
    fn searches_carry_the_time_limit_and_partial_answers_are_timeouts() {
        let mut body = json!({"query": {"match_all": {}}});
        with_time_limit(&mut body, std::time::Duration::from_millis(250));
        assert_eq!(body["timeout"], json!("250ms"));
        let limit = std::time::Duration::from_millis(250);
        let whole = json!({"timed_out": false, "hits": {"hits": []}});
        assert_eq!(complete(whole.clone(), limit).unwrap(), whole);
        let partial = json!({"timed_out": true, "hits": {"hits": []}});
        assert!(matches!(
            complete(partial, limit),
            Err(StoreError::Timeout { .. })
        ));
    }
}
