//! Sorting, paging and indexes.

use polyroute_adapters::kinds::document::{DocumentStore, FieldPath, Filter, FindQuery, Order};
use serde_json::json;

use super::{doc, ids, matching, seed};
use crate::support::Fixture;

/// Ranks with ties, a null and a missing rank; ids chosen so id order differs from rank order.
async fn seed_ranked(store: &dyn DocumentStore) {
    seed(
        store,
        &[
            ("a", json!({"rank": 3, "group": "x"})),
            ("b", json!({"rank": 1, "group": "y"})),
            ("c", json!({"group": "x"})),
            ("d", json!({"rank": 2, "group": "y"})),
            ("e", json!({"rank": 1, "group": "x"})),
            ("f", json!({"rank": null, "group": "y"})),
            ("g", json!({"rank": 2.5, "group": "x"})),
        ],
    )
    .await;
}

fn sorted(filter: Filter, path: &str, order: Order) -> FindQuery {
    FindQuery::new(filter).sort_by(path, order).unwrap()
}

pub async fn sort_ascending_puts_missing_first_and_breaks_ties_by_id(
    f: Fixture<dyn DocumentStore>,
) {
    let store = f.store;
    assert!(f.capabilities.ordered_scan, "document stores sort results");
    seed_ranked(&*store).await;
    // Missing and null have no rank: they tie, ordered by id.
    let query = sorted(Filter::All, "rank", Order::Ascending);
    assert_eq!(
        ids(&*store, &query).await,
        ["c", "f", "b", "e", "d", "g", "a"]
    );
    let query = sorted(
        Filter::exists("rank", true).unwrap(),
        "rank",
        Order::Ascending,
    );
    assert_eq!(ids(&*store, &query).await, ["f", "b", "e", "d", "g", "a"]);
    let query = sorted(Filter::gt("rank", 1).unwrap(), "rank", Order::Ascending);
    assert_eq!(ids(&*store, &query).await, ["d", "g", "a"]);
    let query = sorted(Filter::All, "group", Order::Ascending);
    assert_eq!(
        ids(&*store, &query).await,
        ["a", "c", "e", "g", "b", "d", "f"]
    );
}

pub async fn sort_descending_puts_missing_last(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    seed_ranked(&*store).await;
    let query = sorted(Filter::All, "rank", Order::Descending);
    assert_eq!(
        ids(&*store, &query).await,
        ["a", "g", "d", "b", "e", "c", "f"]
    );
    let query = sorted(Filter::eq("group", "x").unwrap(), "rank", Order::Descending).limit(2);
    assert_eq!(ids(&*store, &query).await, ["a", "g"]);
}

pub async fn sort_by_several_keys(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    seed_ranked(&*store).await;
    let query = sorted(Filter::All, "group", Order::Descending)
        .sort_by("rank", Order::Ascending)
        .unwrap();
    assert_eq!(
        ids(&*store, &query).await,
        ["f", "b", "d", "c", "e", "g", "a"]
    );
    let query = sorted(Filter::All, "group", Order::Ascending)
        .sort_by("rank", Order::Descending)
        .unwrap();
    assert_eq!(
        ids(&*store, &query).await,
        ["a", "g", "e", "c", "d", "b", "f"]
    );
}

pub async fn skip_and_limit_page_through_results(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    for n in 0..25 {
        store
            .put(
                &format!("doc{n:02}"),
                doc(json!({ "n": n, "even": n % 2 == 0 })),
            )
            .await
            .unwrap();
    }
    let evens = Filter::eq("even", true).unwrap();
    let query = |skip: usize, limit: usize| {
        FindQuery::new(evens.clone())
            .sort_by("n", Order::Descending)
            .unwrap()
            .skip(skip)
            .limit(limit)
    };
    let mut paged = Vec::new();
    for page in 0..4 {
        let ids = ids(&*store, &query(page * 4, 4)).await;
        assert!(ids.len() <= 4);
        paged.extend(ids);
    }
    let expected: Vec<String> = (0..25)
        .rev()
        .filter(|n| n % 2 == 0)
        .map(|n| format!("doc{n:02}"))
        .collect();
    assert_eq!(paged, expected);
    assert_eq!(ids(&*store, &query(0, 2)).await, ["doc24", "doc22"]);
    assert!(ids(&*store, &query(13, 5)).await.is_empty());
    assert!(ids(&*store, &query(0, 0)).await.is_empty());
    let skipped = FindQuery::new(Filter::All).skip(23);
    assert_eq!(ids(&*store, &skipped).await, ["doc23", "doc24"]);
    assert_eq!(store.count(&evens).await.unwrap(), 13);
    assert_eq!(store.count(&Filter::All).await.unwrap(), 25);
}

/// Queries over `n` (number), `s` (string), `t` (bool) and `o.p` (nested) with every operator.
fn probe_queries() -> Vec<FindQuery> {
    let filters = vec![
        Filter::All,
        Filter::eq("n", 7).unwrap(),
        Filter::ne("n", 7).unwrap(),
        Filter::lt("n", 10).unwrap(),
        Filter::lte("n", 10).unwrap(),
        Filter::gt("n", 30).unwrap(),
        Filter::gte("n", 30.5).unwrap(),
        Filter::is_in("n", vec![json!(1), json!(2), json!(39)]).unwrap(),
        Filter::eq("s", "s05").unwrap(),
        Filter::gt("s", "s35").unwrap(),
        Filter::eq("t", true).unwrap(),
        Filter::eq("o.p", json!(null)).unwrap(),
        Filter::exists("o.p", false).unwrap(),
        Filter::gt("o.p", 10)
            .unwrap()
            .and(Filter::eq("t", false).unwrap()),
    ];
    let mut queries: Vec<FindQuery> = filters.into_iter().map(FindQuery::new).collect();
    for path in ["n", "s", "o.p"] {
        for order in [Order::Ascending, Order::Descending] {
            let query = FindQuery::new(Filter::All).sort_by(path, order).unwrap();
            queries.push(query.clone().skip(3).limit(5));
            queries.push(query);
        }
    }
    queries
}

async fn seed_probe(store: &dyn DocumentStore, range: std::ops::Range<i64>) {
    for n in range {
        let nested = match n % 3 {
            0 => json!({"p": n}),
            1 => json!({"p": null}),
            _ => json!({}),
        };
        let document = json!({"n": n, "s": format!("s{n:02}"), "t": n % 4 == 0, "o": nested});
        store
            .put(&format!("id{}", 40 - n), doc(document))
            .await
            .unwrap();
    }
}

/// What each probe query finds, with the count of its filter.
async fn answers(store: &dyn DocumentStore) -> Vec<(Vec<String>, u64)> {
    let mut all = Vec::new();
    for query in probe_queries() {
        let found = ids(store, &query).await;
        let counted = store.count(&query.filter).await.unwrap();
        if query.skip == 0 && query.limit.is_none() {
            assert_eq!(counted, found.len() as u64, "{query:?}");
        }
        all.push((found, counted));
    }
    all
}

pub async fn create_index_keeps_results_identical(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    assert!(
        f.capabilities.secondary_indexes,
        "document stores index fields"
    );
    seed_probe(&*store, 0..40).await;
    let before = answers(&*store).await;
    assert!(before.iter().all(|(ids, _)| !ids.is_empty()));
    for path in ["n", "s", "t", "o.p"] {
        let path = FieldPath::parse(path).unwrap();
        store.create_index(&path).await.unwrap();
        store.create_index(&path).await.unwrap();
    }
    let after = answers(&*store).await;
    for ((query, before), after) in probe_queries().iter().zip(&before).zip(&after) {
        assert_eq!(before, after, "{query:?}");
    }
}

pub async fn writes_after_create_index_are_found(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    seed_probe(&*store, 0..20).await;
    store
        .create_index(&FieldPath::parse("n").unwrap())
        .await
        .unwrap();
    seed_probe(&*store, 20..40).await;
    assert_eq!(
        matching(&*store, Filter::eq("n", 33).unwrap()).await,
        ["id7"]
    );
    assert_eq!(
        matching(&*store, Filter::gte("n", 38).unwrap()).await,
        ["id1", "id2"]
    );
    store.put("id7", doc(json!({"n": -1}))).await.unwrap();
    assert!(matching(&*store, Filter::eq("n", 33).unwrap())
        .await
        .is_empty());
    assert!(store.delete("id1").await.unwrap());
    assert_eq!(
        matching(&*store, Filter::gte("n", 38).unwrap()).await,
        ["id2"]
    );
    assert_eq!(
        matching(&*store, Filter::lt("n", 0).unwrap()).await,
        ["id7"]
    );
}
