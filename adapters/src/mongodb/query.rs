//! The contract's filters and sorts as MongoDB query documents, built in [`filter`] and
//! [`sort`].
//!
//! Documents are stored as `{_id: <id>, body: <document>}`, so a field path `a.b` is
//! `body.a.b`. Paths are [`FieldPath`]s (identifier segments only: never `$`-prefixed, never
//! holding a dot inside a segment) and stored names that are not identifiers are escaped (see
//! [`convert`](super::convert)), so a path can only name what it spells. Every value a filter
//! compares with travels as a BSON value under an explicit operator (`$eq`, `$lt`, `$in`, …):
//! a string such as `"$where"` or `"{\"$gt\": 1}"` is a string to compare, never an operator.
//!
//! Where MongoDB's own semantics differ from the contract, the filter says what the contract
//! means: `null` equals only `null` (MongoDB's `{$eq: null}` also matches a missing field, so
//! `$type: "null"` is used), `Ne` null matches missing and non-null fields, ranges with `null`
//! match only `null` (`<=`, `>=`) or nothing (`<`, `>`), an empty `Or` matches nothing (MongoDB
//! rejects an empty `$or`). Comparisons are already typed in MongoDB (type bracketing: `1`
//! equals `1.0`, never `"1"` or `true`; strings compare by UTF-8 bytes, which is code point
//! order).

use mongodb::bson::{doc, Bson, Document as BsonDocument};
use serde_json::Value as Json;

use super::convert::to_bson;
use crate::kinds::document::{FieldPath, Filter, Order, SortKey};
use crate::{Result, StoreError};

/// The stored field holding the user's document.
pub(super) const BODY: &str = "body";

/// The stored path of `path`: `body.<path>`.
pub(super) fn stored_path(path: &FieldPath) -> String {
    format!("{BODY}.{}", path.as_str())
}

/// A query that matches no document.
fn nothing() -> BsonDocument {
    doc! { "_id": { "$in": [] } }
}

/// The MongoDB query document for `filter`.
pub(super) fn filter(filter: &Filter) -> Result<BsonDocument> {
    Ok(match filter {
        Filter::All => BsonDocument::new(),
        Filter::Eq(path, v) => {
            scalar("eq", path, v)?;
            equals(path, v)
        }
        Filter::Ne(path, v) => {
            scalar("ne", path, v)?;
            if v.is_null() {
                field(path, doc! { "$not": { "$type": "null" } })
            } else {
                field(path, doc! { "$ne": to_bson(v) })
            }
        }
        Filter::Lt(path, v) => range("lt", path, "$lt", v)?,
        Filter::Lte(path, v) => range("lte", path, "$lte", v)?,
        Filter::Gt(path, v) => range("gt", path, "$gt", v)?,
        Filter::Gte(path, v) => range("gte", path, "$gte", v)?,
        Filter::In(path, values) => one_of(path, values)?,
        Filter::Exists(path, present) => field(path, doc! { "$exists": *present }),
        Filter::And(all) => {
            if all.is_empty() {
                BsonDocument::new()
            } else {
                doc! { "$and": all.iter().map(filter_bson).collect::<Result<Vec<_>>>()? }
            }
        }
        Filter::Or(any) => {
            if any.is_empty() {
                nothing()
            } else {
                doc! { "$or": any.iter().map(filter_bson).collect::<Result<Vec<_>>>()? }
            }
        }
    })
}

fn filter_bson(f: &Filter) -> Result<Bson> {
    filter(f).map(Bson::Document)
}

/// `{ "body.<path>": condition }`.
fn field(path: &FieldPath, condition: BsonDocument) -> BsonDocument {
    let mut query = BsonDocument::new();
    query.insert(stored_path(path), condition);
    query
}

/// The field holds `v`: `$eq` for values, `$type: "null"` for `null` (so missing fields do not
/// match).
fn equals(path: &FieldPath, v: &Json) -> BsonDocument {
    if v.is_null() {
        field(path, doc! { "$type": "null" })
    } else {
        field(path, doc! { "$eq": to_bson(v) })
    }
}

/// Checks a filter value is a scalar.
fn scalar(operator: &str, path: &FieldPath, value: &Json) -> Result<()> {
    match value {
        Json::Array(_) | Json::Object(_) => Err(StoreError::invalid(format!(
            "filter `{operator}` on `{path}` compares with {value}: filters compare scalar values only (numbers, strings, booleans, null), not arrays or objects"
        ))),
        _ => Ok(()),
    }
}

/// A range: MongoDB brackets comparisons by type, as the contract does; `null` is handled
/// apart, since MongoDB would also match missing fields.
fn range(name: &str, path: &FieldPath, operator: &str, v: &Json) -> Result<BsonDocument> {
    scalar(name, path, v)?;
    Ok(match (v, operator) {
        (Json::Null, "$lte" | "$gte") => equals(path, v),
        (Json::Null, _) => nothing(),
        _ => {
            let mut condition = BsonDocument::new();
            condition.insert(operator, to_bson(v));
            field(path, condition)
        }
    })
}

/// The field equals one of `values`; `null` among them matches `null` only.
fn one_of(path: &FieldPath, values: &[Json]) -> Result<BsonDocument> {
    for v in values {
        scalar("in", path, v)?;
    }
    let listed: Vec<Bson> = values
        .iter()
        .filter(|v| !v.is_null())
        .map(to_bson)
        .collect();
    let mut parts = Vec::new();
    if !listed.is_empty() {
        parts.push(field(path, doc! { "$in": listed }));
    }
    if values.iter().any(Json::is_null) {
        parts.push(equals(path, &Json::Null));
    }
    Ok(match parts.len() {
        0 => nothing(),
        1 => parts.remove(0),
        _ => doc! { "$or": parts },
    })
}

/// The sort document: each key on its stored path, then `_id`, so ties come out in id order.
/// MongoDB sorts a missing field as `null`, before every other value: missing and `null` tie
/// and come first ascending, last descending, as the contract orders them.
pub(super) fn sort(keys: &[SortKey]) -> BsonDocument {
    let mut sort = BsonDocument::new();
    for key in keys {
        let direction = match key.order {
            Order::Ascending => 1,
            Order::Descending => -1,
        };
        // A path sorted twice keeps its first direction, as later keys only break its ties.
        sort.entry(stored_path(&key.path))
            .or_insert(Bson::Int32(direction));
    }
    sort.entry("_id".to_owned()).or_insert(Bson::Int32(1));
    sort
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(path: &str) -> FieldPath {
        FieldPath::parse(path).unwrap()
    }

    #[test]
    fn every_operator() {
        let cases: Vec<(Filter, BsonDocument)> = vec![
            (Filter::All, doc! {}),
            (Filter::eq("a", 1).unwrap(), doc! {"body.a": {"$eq": 1_i64}}),
            (
                Filter::eq("a", json!(null)).unwrap(),
                doc! {"body.a": {"$type": "null"}},
            ),
            (Filter::ne("a", "x").unwrap(), doc! {"body.a": {"$ne": "x"}}),
            (
                Filter::ne("a", json!(null)).unwrap(),
                doc! {"body.a": {"$not": {"$type": "null"}}},
            ),
            (Filter::lt("a", 1.5).unwrap(), doc! {"body.a": {"$lt": 1.5}}),
            (
                Filter::lte("a", "m").unwrap(),
                doc! {"body.a": {"$lte": "m"}},
            ),
            (
                Filter::gt("a", true).unwrap(),
                doc! {"body.a": {"$gt": true}},
            ),
            (
                Filter::gte("a", -2).unwrap(),
                doc! {"body.a": {"$gte": -2_i64}},
            ),
            (
                Filter::lt("a", json!(null)).unwrap(),
                doc! {"_id": {"$in": []}},
            ),
            (
                Filter::gte("a", json!(null)).unwrap(),
                doc! {"body.a": {"$type": "null"}},
            ),
            (
                Filter::is_in("a", vec![json!(1), json!("1")]).unwrap(),
                doc! {"body.a": {"$in": [1_i64, "1"]}},
            ),
            (
                Filter::is_in("a", vec![json!(1), json!(null)]).unwrap(),
                doc! {"$or": [{"body.a": {"$in": [1_i64]}}, {"body.a": {"$type": "null"}}]},
            ),
            (
                Filter::is_in("a", vec![]).unwrap(),
                doc! {"_id": {"$in": []}},
            ),
            (
                Filter::exists("a", true).unwrap(),
                doc! {"body.a": {"$exists": true}},
            ),
            (
                Filter::exists("a", false).unwrap(),
                doc! {"body.a": {"$exists": false}},
            ),
            (Filter::And(vec![]), doc! {}),
            (Filter::Or(vec![]), doc! {"_id": {"$in": []}}),
            (
                Filter::Or(vec![Filter::eq("a", 1).unwrap(), Filter::All]),
                doc! {"$or": [{"body.a": {"$eq": 1_i64}}, {}]},
            ),
            (
                Filter::And(vec![
                    Filter::eq("a", 1).unwrap(),
                    Filter::exists("b", true).unwrap(),
                ]),
                doc! {"$and": [{"body.a": {"$eq": 1_i64}}, {"body.b": {"$exists": true}}]},
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(filter(&input).unwrap(), expected, "{input:?}");
        }
    }

    #[test]
    fn nested_paths_are_dotted_under_the_body() {
        assert_eq!(
            filter(&Filter::eq("customer.address.city", "Oslo").unwrap()).unwrap(),
            doc! {"body.customer.address.city": {"$eq": "Oslo"}}
        );
    }

    #[test]
    fn hostile_names_cannot_become_operators_or_paths() {
        // Field paths are identifiers: `$`, dots inside names, brackets never parse.
        for bad in ["$where", "a.$gt", "a..b", "$", "a[0]", "a b", ".a"] {
            assert!(FieldPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostile_values_travel_as_bson_values() {
        let hostile = [
            "$where",
            "{\"$gt\": \"\"}",
            "'; db.dropDatabase(); '",
            "quote \" backslash \\ newline \n NUL \0 🦀",
            "this.a == 1 || true",
        ];
        for value in hostile {
            let query = filter(&Filter::eq("a", value).unwrap()).unwrap();
            assert_eq!(query, doc! {"body.a": {"$eq": value}}, "{value:?}");
            let Some(Bson::Document(condition)) = query.get("body.a") else {
                panic!("no condition");
            };
            assert_eq!(condition.get("$eq"), Some(&Bson::String(value.to_owned())));
        }
        let query = filter(&Filter::is_in("a", vec![json!("$ne")]).unwrap()).unwrap();
        assert_eq!(query, doc! {"body.a": {"$in": ["$ne"]}});
    }

    #[test]
    fn arrays_and_objects_are_invalid_values() {
        for f in [
            Filter::eq("a", json!([1])).unwrap(),
            Filter::ne("a", json!({"$gt": 1})).unwrap(),
            Filter::lt("a", json!([])).unwrap(),
            Filter::is_in("a", vec![json!(1), json!({})]).unwrap(),
            Filter::Or(vec![Filter::All, Filter::eq("o", json!({})).unwrap()]),
        ] {
            let err = filter(&f).unwrap_err();
            assert!(matches!(err, StoreError::InvalidRequest { .. }), "{f:?}");
        }
    }

    #[test]
    fn sorts_end_with_the_id() {
        let keys = vec![
            SortKey {
                path: p("group"),
                order: Order::Descending,
            },
            SortKey {
                path: p("a.rank"),
                order: Order::Ascending,
            },
            SortKey {
                path: p("group"),
                order: Order::Ascending,
            },
        ];
        let sorted = sort(&keys);
        let order: Vec<(&str, &Bson)> = sorted.iter().map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(
            order,
            [
                ("body.group", &Bson::Int32(-1)),
                ("body.a.rank", &Bson::Int32(1)),
                ("_id", &Bson::Int32(1)),
            ]
        );
        assert_eq!(sort(&[]), doc! {"_id": 1});
    }
}
