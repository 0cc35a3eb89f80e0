//! The query text, ranking, paging and snippets.

use polyroute_adapters::kinds::search::{SearchDocument, SearchQuery, SearchStore};
use polyroute_adapters::Value;

use super::{found, ids, run, seed, titled};
use crate::support::Fixture;

async fn seed_fruit(store: &dyn SearchStore) {
    seed(
        store,
        vec![
            titled("1", "apple banana"),
            titled("2", "apple cherry"),
            titled("3", "banana cherry"),
            titled("4", "cherry pie with apple"),
        ],
    )
    .await;
}

pub async fn terms_are_all_required_by_default(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed_fruit(&*store).await;
    assert_eq!(found(&*store, "apple cherry").await, ["2", "4"]);
    assert_eq!(found(&*store, "apple AND banana").await, ["1"]);
    assert!(found(&*store, "apple durian").await.is_empty());
}

pub async fn or_and_exclusion(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed_fruit(&*store).await;
    assert_eq!(found(&*store, "banana OR pie").await, ["1", "3", "4"]);
    assert_eq!(found(&*store, "apple -banana").await, ["2", "4"]);
    assert_eq!(found(&*store, "(banana OR pie) -apple").await, ["3"]);
}

pub async fn phrases_match_adjacent_terms(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed_fruit(&*store).await;
    assert_eq!(found(&*store, "\"apple cherry\"").await, ["2"]);
    assert_eq!(
        found(&*store, "\"cherry apple\"").await,
        Vec::<String>::new()
    );
    assert_eq!(found(&*store, "\"pie with apple\"").await, ["4"]);
    // A phrase across fields does not match.
    seed(
        &*store,
        vec![SearchDocument::new(
            "split",
            [("title", "quantum"), ("body", "leap forward")],
        )],
    )
    .await;
    assert!(found(&*store, "\"quantum leap\"").await.is_empty());
    assert_eq!(found(&*store, "quantum leap").await, ["split"]);
}

pub async fn matching_ignores_case(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed(&*store, vec![titled("m", "MiXeD CaSe Words")]).await;
    assert_eq!(found(&*store, "mixed").await, ["m"]);
    assert_eq!(found(&*store, "CASE WORDS").await, ["m"]);
    assert_eq!(found(&*store, "\"Mixed case\"").await, ["m"]);
}

pub async fn better_matches_rank_higher(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    let long_body = format!("{} rust", "unrelated words here ".repeat(40));
    seed(
        &*store,
        vec![
            titled("short", "rust rust guide"),
            SearchDocument::new(
                "long",
                [
                    ("title", Value::from("a guide")),
                    ("body", Value::from(long_body)),
                ],
            ),
            titled("none", "python guide"),
        ],
    )
    .await;
    let results = run(&*store, &SearchQuery::new("rust")).await;
    assert_eq!(results.total, 2);
    assert_eq!(results.hits[0].id, "short");
    assert_eq!(results.hits[1].id, "long");
    assert!(results.hits[0].score > results.hits[1].score, "{results:?}");
    assert!(results.hits[1].score > 0.0);
}

pub async fn empty_text_matches_every_document(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed_fruit(&*store).await;
    for text in ["", "   "] {
        let results = run(&*store, &SearchQuery::new(text)).await;
        assert_eq!(results.total, 4);
        assert_eq!(ids(&results), ["1", "2", "3", "4"]);
    }
}

pub async fn limit_offset_and_total(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    let documents = (0..25)
        .map(|i| titled(&format!("{i:02}"), &"page ".repeat(i + 1)))
        .collect();
    seed(&*store, documents).await;
    let mut seen = Vec::new();
    for offset in [0, 10, 20] {
        let mut query = SearchQuery::new("page");
        query.offset = offset;
        let results = run(&*store, &query).await;
        assert_eq!(results.total, 25);
        assert_eq!(results.hits.len(), if offset == 20 { 5 } else { 10 });
        seen.extend(results.hits.into_iter().map(|hit| hit.id));
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25, "pages overlap or miss hits");

    let mut past_the_end = SearchQuery::new("page");
    past_the_end.offset = 100;
    let results = run(&*store, &past_the_end).await;
    assert_eq!((results.total, results.hits.len()), (25, 0));

    let mut huge = SearchQuery::new("page");
    huge.limit = usize::MAX;
    huge.offset = usize::MAX - 1;
    assert_eq!(run(&*store, &huge).await.hits.len(), 0);
    huge.offset = 0;
    assert_eq!(run(&*store, &huge).await.hits.len(), 25);
}

pub async fn limit_zero_only_counts(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed_fruit(&*store).await;
    let mut query = SearchQuery::new("apple");
    query.limit = 0;
    let results = run(&*store, &query).await;
    assert_eq!(results.total, 3);
    assert!(results.hits.is_empty());
}

pub async fn snippets_highlight_matches_when_asked(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed(
        &*store,
        vec![SearchDocument::new(
            "s",
            [
                ("title", "Fish & chips"),
                ("body", "The best fish in <town> is served at noon."),
            ],
        )],
    )
    .await;
    let mut query = SearchQuery::new("fish");
    let plain = run(&*store, &query).await;
    assert!(plain.hits[0].snippets.is_empty());

    query.snippets = true;
    let results = run(&*store, &query).await;
    let snippets = &results.hits[0].snippets;
    assert_eq!(snippets.len(), 2, "{snippets:?}");
    assert!(snippets["title"].contains("<b>Fish</b>"), "{snippets:?}");
    assert!(snippets["title"].contains("&amp;"), "{snippets:?}");
    assert!(snippets["body"].contains("<b>fish</b>"), "{snippets:?}");
    assert!(snippets["body"].contains("&lt;town&gt;"), "{snippets:?}");

    // Only fields the query matched get a snippet.
    let mut query = SearchQuery::new("noon");
    query.snippets = true;
    let results = run(&*store, &query).await;
    let fields: Vec<&String> = results.hits[0].snippets.keys().collect();
    assert_eq!(fields, ["body"]);
}
