//! Filter operators: which documents each one matches.

use polyroute_adapters::kinds::document::{DocumentStore, Filter, FindQuery};
use serde_json::{json, Value};

use super::{assert_invalid, matching, seed};
use crate::support::Fixture;

/// One document per kind of value in field `v`, plus one without it.
async fn seed_typed(store: &dyn DocumentStore) {
    seed(
        store,
        &[
            ("false", json!({"v": false})),
            ("float_one", json!({"v": 1.0})),
            ("half", json!({"v": 0.5})),
            ("missing", json!({"w": 1})),
            ("neg", json!({"v": -3})),
            ("null", json!({"v": null})),
            ("one", json!({"v": 1})),
            ("ten", json!({"v": 10})),
            ("text_one", json!({"v": "1"})),
            ("text_ten", json!({"v": "10"})),
            ("true", json!({"v": true})),
            ("zero", json!({"v": 0})),
        ],
    )
    .await;
}

pub async fn empty_entity_finds_nothing(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    assert!(matching(&*store, Filter::All).await.is_empty());
    assert!(matching(&*store, Filter::eq("a", 1).unwrap())
        .await
        .is_empty());
    assert!(matching(&*store, Filter::exists("a", false).unwrap())
        .await
        .is_empty());
    store.put("x", super::doc(json!({"a": 2}))).await.unwrap();
    assert!(matching(&*store, Filter::eq("a", 1).unwrap())
        .await
        .is_empty());
}

pub async fn find_all_returns_every_document_in_id_order(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    for id in ["m", "b", "z", "a", "B", "aa"] {
        store
            .put(id, super::doc(json!({ "id": id })))
            .await
            .unwrap();
    }
    // Byte order: upper case before lower case, a prefix before its extensions.
    assert_eq!(
        matching(&*store, Filter::All).await,
        ["B", "a", "aa", "b", "m", "z"]
    );
    let found = store.find(&FindQuery::new(Filter::All)).await.unwrap();
    for stored in found {
        assert_eq!(stored.document["id"], json!(stored.id));
    }
}

pub async fn eq_matches_the_same_type_only(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    seed_typed(&*store).await;
    let eq = |v: Value| Filter::eq("v", v).unwrap();
    assert_eq!(matching(&*store, eq(json!(1))).await, ["float_one", "one"]);
    assert_eq!(
        matching(&*store, eq(json!(1.0))).await,
        ["float_one", "one"]
    );
    assert_eq!(matching(&*store, eq(json!("1"))).await, ["text_one"]);
    assert_eq!(matching(&*store, eq(json!(true))).await, ["true"]);
    assert_eq!(matching(&*store, eq(json!(false))).await, ["false"]);
    assert_eq!(matching(&*store, eq(json!(0))).await, ["zero"]);
    assert_eq!(matching(&*store, eq(json!(0.5))).await, ["half"]);
    assert_eq!(matching(&*store, eq(json!(null))).await, ["null"]);
    assert!(matching(&*store, eq(json!(2))).await.is_empty());
    assert!(matching(&*store, eq(json!(""))).await.is_empty());
}

pub async fn ne_matches_other_values_and_missing_fields(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    seed_typed(&*store).await;
    let all = matching(&*store, Filter::All).await;
    let without = |excluded: &[&str]| -> Vec<String> {
        all.iter()
            .filter(|id| !excluded.contains(&id.as_str()))
            .cloned()
            .collect()
    };
    assert_eq!(
        matching(&*store, Filter::ne("v", 1).unwrap()).await,
        without(&["float_one", "one"])
    );
    assert_eq!(
        matching(&*store, Filter::ne("v", "1").unwrap()).await,
        without(&["text_one"])
    );
    assert_eq!(
        matching(&*store, Filter::ne("v", true).unwrap()).await,
        without(&["true"])
    );
    assert_eq!(
        matching(&*store, Filter::ne("v", Value::Null).unwrap()).await,
        without(&["null"])
    );
    assert_eq!(
        matching(&*store, Filter::ne("absent", 1).unwrap()).await,
        all
    );
}

pub async fn null_and_missing_fields_differ(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    seed(
        &*store,
        &[
            ("missing", json!({})),
            ("null", json!({"x": null})),
            ("one", json!({"x": 1})),
            ("nested_null", json!({"n": {"x": null}})),
        ],
    )
    .await;
    assert_eq!(
        matching(&*store, Filter::eq("x", Value::Null).unwrap()).await,
        ["null"]
    );
    assert_eq!(
        matching(&*store, Filter::exists("x", true).unwrap()).await,
        ["null", "one"]
    );
    assert_eq!(
        matching(&*store, Filter::exists("x", false).unwrap()).await,
        ["missing", "nested_null"]
    );
    assert_eq!(
        matching(&*store, Filter::ne("x", Value::Null).unwrap()).await,
        ["missing", "nested_null", "one"]
    );
    assert_eq!(
        matching(&*store, Filter::ne("x", 1).unwrap()).await,
        ["missing", "nested_null", "null"]
    );
    assert_eq!(
        matching(&*store, Filter::eq("n.x", Value::Null).unwrap()).await,
        ["nested_null"]
    );
    assert_eq!(
        matching(&*store, Filter::exists("n.x", true).unwrap()).await,
        ["nested_null"]
    );
    assert_eq!(
        matching(&*store, Filter::exists("n", true).unwrap()).await,
        ["nested_null"]
    );
}

pub async fn ranges_on_numbers(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    seed_typed(&*store).await;
    let run = |filter: Filter| matching(&*store, filter);
    assert_eq!(
        run(Filter::lt("v", 1).unwrap()).await,
        ["half", "neg", "zero"]
    );
    assert_eq!(
        run(Filter::lte("v", 1).unwrap()).await,
        ["float_one", "half", "neg", "one", "zero"]
    );
    assert_eq!(run(Filter::gt("v", 1).unwrap()).await, ["ten"]);
    assert_eq!(
        run(Filter::gte("v", 1).unwrap()).await,
        ["float_one", "one", "ten"]
    );
    assert_eq!(
        run(Filter::gt("v", 0.25).unwrap()).await,
        run(Filter::gte("v", 0.5).unwrap()).await
    );
    assert_eq!(
        run(Filter::lt("v", -3).unwrap()).await,
        Vec::<String>::new()
    );
    assert_eq!(run(Filter::lte("v", -3).unwrap()).await, ["neg"]);
    assert_eq!(
        run(Filter::gt("v", 1e300).unwrap()).await,
        Vec::<String>::new()
    );
    assert_eq!(
        run(Filter::gt("v", -1e300).unwrap()).await,
        ["float_one", "half", "neg", "one", "ten", "zero"]
    );
    let between = Filter::gt("v", 0)
        .unwrap()
        .and(Filter::lt("v", 10).unwrap());
    assert_eq!(run(between).await, ["float_one", "half", "one"]);
}

pub async fn ranges_on_strings_follow_code_points(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    seed(
        &*store,
        &[
            ("1_empty", json!({"s": ""})),
            ("2_upper", json!({"s": "Zebra"})),
            ("3_apple", json!({"s": "apple"})),
            ("4_applesauce", json!({"s": "applesauce"})),
            ("5_banana", json!({"s": "banana"})),
            ("6_accent", json!({"s": "été"})),
            ("7_cjk", json!({"s": "日本"})),
            ("8_crab", json!({"s": "🦀"})),
            ("9_number", json!({"s": 5})),
        ],
    )
    .await;
    let run = |filter: Filter| matching(&*store, filter);
    assert_eq!(
        run(Filter::lt("s", "apple").unwrap()).await,
        ["1_empty", "2_upper"]
    );
    assert_eq!(
        run(Filter::gte("s", "apple").unwrap()).await,
        [
            "3_apple",
            "4_applesauce",
            "5_banana",
            "6_accent",
            "7_cjk",
            "8_crab"
        ]
    );
    assert_eq!(
        run(Filter::gt("s", "apple")
            .unwrap()
            .and(Filter::lte("s", "banana").unwrap()))
        .await,
        ["4_applesauce", "5_banana"]
    );
    assert_eq!(
        run(Filter::gt("s", "z").unwrap()).await,
        ["6_accent", "7_cjk", "8_crab"]
    );
    assert_eq!(
        run(Filter::gt("s", "日").unwrap()).await,
        ["7_cjk", "8_crab"]
    );
    assert_eq!(run(Filter::gte("s", "").unwrap()).await.len(), 8);
}

pub async fn in_matches_any_listed_value(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    seed_typed(&*store).await;
    let one_of = |values: Vec<Value>| Filter::is_in("v", values).unwrap();
    assert_eq!(
        matching(&*store, one_of(vec![json!(0), json!(10), json!(99)])).await,
        ["ten", "zero"]
    );
    assert_eq!(
        matching(&*store, one_of(vec![json!("1"), json!(true), json!(null)])).await,
        ["null", "text_one", "true"]
    );
    assert_eq!(
        matching(&*store, one_of(vec![json!(1), json!("10")])).await,
        ["float_one", "one", "text_ten"]
    );
    assert_eq!(matching(&*store, one_of(vec![json!(-3)])).await, ["neg"]);
    assert!(matching(&*store, one_of(vec![])).await.is_empty());
    assert!(
        matching(&*store, Filter::is_in("absent", vec![json!(null)]).unwrap())
            .await
            .is_empty()
    );
}

pub async fn nested_paths_reach_nested_fields(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    seed(
        &*store,
        &[
            ("deep", json!({"a": {"b": {"c": 1, "d": "x"}}})),
            ("other", json!({"a": {"b": {"c": 2}}})),
            ("scalar", json!({"a": 5})),
            ("shallow", json!({"a": {"b": 1}})),
            ("flat", json!({"c": 1})),
        ],
    )
    .await;
    assert_eq!(
        matching(&*store, Filter::eq("a.b.c", 1).unwrap()).await,
        ["deep"]
    );
    assert_eq!(
        matching(&*store, Filter::gte("a.b.c", 1).unwrap()).await,
        ["deep", "other"]
    );
    assert_eq!(
        matching(&*store, Filter::eq("a.b", 1).unwrap()).await,
        ["shallow"]
    );
    assert_eq!(
        matching(&*store, Filter::eq("a.b.d", "x").unwrap()).await,
        ["deep"]
    );
    assert_eq!(
        matching(&*store, Filter::exists("a.b", true).unwrap()).await,
        ["deep", "other", "shallow"]
    );
    assert_eq!(
        matching(&*store, Filter::exists("a.b", false).unwrap()).await,
        ["flat", "scalar"]
    );
    assert_eq!(
        matching(&*store, Filter::exists("a.b.c", false).unwrap()).await,
        ["flat", "scalar", "shallow"]
    );
}

pub async fn and_or_combine_conditions(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    seed(
        &*store,
        &[
            ("a", json!({"x": 1, "y": "p"})),
            ("b", json!({"x": 2, "y": "p"})),
            ("c", json!({"x": 1, "y": "q"})),
            ("d", json!({"x": 3})),
        ],
    )
    .await;
    let x = |v: i64| Filter::eq("x", v).unwrap();
    let y = |v: &str| Filter::eq("y", v).unwrap();
    assert_eq!(
        matching(&*store, Filter::And(vec![x(1), y("p")])).await,
        ["a"]
    );
    assert_eq!(
        matching(&*store, Filter::Or(vec![x(2), y("q")])).await,
        ["b", "c"]
    );
    assert_eq!(
        matching(
            &*store,
            Filter::Or(vec![Filter::And(vec![x(1), y("q")]), x(3)])
        )
        .await,
        ["c", "d"]
    );
    assert_eq!(
        matching(
            &*store,
            Filter::And(vec![Filter::Or(vec![x(1), x(2)]), y("p")])
        )
        .await,
        ["a", "b"]
    );
    assert_eq!(
        matching(&*store, Filter::And(vec![Filter::All, x(3)])).await,
        ["d"]
    );
    assert_eq!(
        matching(&*store, Filter::And(vec![])).await,
        ["a", "b", "c", "d"]
    );
    assert!(matching(&*store, Filter::Or(vec![])).await.is_empty());
    assert_eq!(matching(&*store, x(1).and(y("p"))).await, ["a"]);
}

pub async fn array_and_object_filter_values_are_invalid(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    seed(&*store, &[("a", json!({"v": [1], "o": {"k": 1}}))]).await;
    let invalid = [
        Filter::eq("v", json!([1])).unwrap(),
        Filter::eq("o", json!({"k": 1})).unwrap(),
        Filter::ne("v", json!([])).unwrap(),
        Filter::lt("v", json!([2])).unwrap(),
        Filter::gte("o", json!({})).unwrap(),
        Filter::is_in("v", vec![json!(1), json!([1])]).unwrap(),
        Filter::Or(vec![Filter::All, Filter::eq("o", json!({})).unwrap()]),
    ];
    for filter in invalid {
        assert_invalid(
            store.find(&FindQuery::new(filter.clone())).await,
            &format!("find {filter:?}"),
        );
        assert_invalid(store.count(&filter).await, &format!("count {filter:?}"));
    }
}
