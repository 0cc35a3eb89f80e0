//! Stopping the server's work when a call is abandoned.
//!
//! The Bolt protocol lets a transaction carry a time limit, but the driver does not send one, so
//! a call whose deadline passed would leave its statement running on the server until it ends
//! by itself. Instead, every statement a call runs carries one extra parameter,
//! [`CALL_PARAMETER`], whose value names the call ([`Tag`]; Cypher ignores parameters a statement
//! does not use). When the call is dropped outside its polls (the router's deadline passed, or
//! its caller went away; see [`crate::work::in_call`]), [`Running`] looks the call up among the
//! server's transactions by that parameter and terminates them: the server stops the work,
//! and the call's concurrency slot is held until it has.
//!
//! Terminating one's own transactions needs no privilege. Statements run outside a router call
//! carry no tag: nothing would drop them at a deadline.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use neo4rs::{BoltType, Query};

use crate::work::{self, Hold};

/// The parameter naming the call a statement belongs to.
const CALL_PARAMETER: &str = "polyroute_call";

/// The transactions running a statement of one call.
const FIND: &str = "SHOW TRANSACTIONS YIELD transactionId, parameters \
     WHERE parameters.polyroute_call = $call RETURN transactionId";

/// Terminates the transactions listed in `$ids`.
const TERMINATE: &str = "TERMINATE TRANSACTIONS $ids";

/// How often an abandoned call is looked up, and the pause before each look: the statement may
/// still be on its way to the server when the call is dropped.
const LOOKS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(100),
    Duration::from_millis(400),
];

/// The name of one call's statements on the server: unique in this process, and across
/// processes by a random prefix drawn once per process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tag(String);

impl Tag {
    /// A tag for a statement run inside a router call; `None` outside one.
    pub(crate) fn for_current_call() -> Option<Tag> {
        work::in_call().then(Tag::next)
    }

    fn next() -> Tag {
        static PROCESS: OnceLock<u64> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let process = PROCESS.get_or_init(|| {
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        });
        let call = COUNTER.fetch_add(1, Ordering::Relaxed);
        Tag(format!("{process:016x}-{call:x}"))
    }

    /// `query` with this tag as its [`CALL_PARAMETER`].
    pub(crate) fn attach(&self, query: Query) -> Query {
        query.param(CALL_PARAMETER, self.0.as_str())
    }
}

/// A statement of a call in flight on the server: dropped before [`Running::finished`] and
/// outside the call's polls, it terminates the statement's transaction on the server.
pub(crate) struct Running {
    armed: Option<Armed>,
}

/// What terminating an abandoned statement needs.
struct Armed {
    graph: Arc<neo4rs::Graph>,
    tag: Tag,
    hold: Option<Hold>,
}

impl Running {
    /// Tags `query` when it runs inside a router call and arms the guard for it.
    pub(crate) fn start(graph: &Arc<neo4rs::Graph>, query: Query) -> (Running, Query) {
        match Tag::for_current_call() {
            Some(tag) => {
                let query = tag.attach(query);
                let armed = Armed {
                    graph: Arc::clone(graph),
                    tag,
                    hold: work::hold(),
                };
                (Running { armed: Some(armed) }, query)
            }
            None => (Running { armed: None }, query),
        }
    }

    /// The statement ended (with rows or an error): nothing to terminate.
    pub(crate) fn finished(mut self) {
        self.armed = None;
    }

    /// The tag to terminate now, if the statement's call was abandoned.
    fn take_if_abandoned(&mut self) -> Option<Armed> {
        if work::in_call() {
            return None;
        }
        self.armed.take()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(armed) = self.take_if_abandoned() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(terminate(armed));
            }
        }
    }
}

/// Looks up the transactions of an abandoned call and terminates them, holding the call's slot
/// until the server has stopped them (or no look finds them). Best effort: a server that cannot
/// be reached is stopping the work anyway when its connection drops.
async fn terminate(armed: Armed) {
    let Armed { graph, tag, hold } = armed;
    for pause in LOOKS {
        tokio::time::sleep(pause).await;
        let Ok(ids) = running_transactions(&graph, &tag).await else {
            break;
        };
        if !ids.is_empty() {
            let query = neo4rs::query(TERMINATE).param("ids", BoltType::from(ids));
            let _ = graph.run(query).await;
            break;
        }
    }
    drop(hold);
}

/// The ids of the transactions running a statement tagged `tag`.
async fn running_transactions(graph: &neo4rs::Graph, tag: &Tag) -> neo4rs::Result<Vec<String>> {
    let mut rows = graph
        .execute(neo4rs::query(FIND).param("call", tag.0.as_str()))
        .await?;
    let mut ids = Vec::new();
    while let Some(row) = rows.next().await? {
        if let Ok(id) = row.get::<String>("transactionId") {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use crate::work::Deadline;

    /// Polls `F` the way the router polls a call: inside the call's scope for each poll only,
    /// so dropping it happens outside the call.
    struct Polled<F>(Pin<Box<F>>, Option<Hold>);

    impl<F: Future> Future for Polled<F> {
        type Output = F::Output;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            let hold = self.1.clone();
            let deadline = Deadline::In(Duration::from_secs(60));
            work::poll_holding(hold, deadline, || self.0.as_mut().poll(cx))
        }
    }

    #[test]
    fn tags_are_unique_and_only_inside_a_call() {
        assert_eq!(Tag::for_current_call(), None, "no call, no tag");
        let (one, two) = (Tag::next(), Tag::next());
        assert_ne!(one, two);
        assert_eq!(one.0.split('-').next(), two.0.split('-').next());
    }

    #[test]
    fn the_statements_take_the_tag_and_the_ids_as_parameters() {
        assert!(FIND.contains(&format!("parameters.{CALL_PARAMETER} = $call")));
        assert!(TERMINATE.ends_with("$ids"));
    }

    /// The guard decides as the PostgreSQL cancel does: dropped inside the call's poll (the
    /// statement finished or failed while the call goes on) it does nothing; dropped outside,
    /// the call was abandoned.
    #[tokio::test]
    async fn only_a_drop_outside_the_call_is_an_abandon() {
        let inside = Polled(
            Box::pin(async {
                let tag = Tag::for_current_call().expect("a tag inside a call");
                let mut guard = Running {
                    armed: Some(Armed {
                        graph: unreachable_graph().await,
                        tag,
                        hold: None,
                    }),
                };
                guard.take_if_abandoned().is_some()
            }),
            None,
        );
        assert!(!inside.await, "inside the call's poll: not abandoned");

        let mut guard = Running {
            armed: Some(Armed {
                graph: unreachable_graph().await,
                tag: Tag::next(),
                hold: None,
            }),
        };
        assert!(guard.take_if_abandoned().is_some(), "outside: abandoned");
        guard.finished();
    }

    /// A driver handle whose pool connects lazily, to a port nothing listens on.
    async fn unreachable_graph() -> Arc<neo4rs::Graph> {
        let config = neo4rs::ConfigBuilder::default()
            .uri("127.0.0.1:1")
            .user("neo4j")
            .password("")
            .build()
            .unwrap();
        Arc::new(neo4rs::Graph::connect(config).await.unwrap())
    }

    /// Against a live server: a statement that would run for minutes, abandoned after 300 ms,
    /// is no longer running on the server within a few seconds, and the call's hold is released
    /// only after that.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(polyroute_neo4j_tests),
        ignore = "set POLYROUTE_TEST_NEO4J_URL to run the Neo4j tests"
    )]
    async fn an_abandoned_statement_is_terminated_on_the_server() {
        let url = std::env::var("POLYROUTE_TEST_NEO4J_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .expect("POLYROUTE_REQUIRE_SERVICES=all but POLYROUTE_TEST_NEO4J_URL is not set");
        let variable = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let config = neo4rs::ConfigBuilder::default()
            .uri(url.as_str())
            .user(variable("POLYROUTE_TEST_NEO4J_USER", "neo4j").as_str())
            .password(variable("POLYROUTE_TEST_NEO4J_PASSWORD", "").as_str())
            .db(variable("POLYROUTE_TEST_NEO4J_DATABASE", "neo4j").as_str())
            .max_connections(4)
            .build()
            .unwrap();
        let graph = Arc::new(neo4rs::Graph::connect(config).await.unwrap());
        let marker = format!("abandoned-{}-{:?}", std::process::id(), Tag::next());
        let slow = format!(
            "UNWIND range(1, 4000000000) AS x WITH x WHERE x < 0 RETURN count(x) AS n, '{marker}' AS m"
        );
        let hold: Hold = Arc::new(());
        let released = Arc::downgrade(&hold);
        let call = {
            let graph = Arc::clone(&graph);
            Polled(
                Box::pin(async move { super::super::fetch(&graph, neo4rs::query(&slow)).await }),
                Some(hold),
            )
        };
        let abandoned = tokio::time::timeout(Duration::from_millis(300), call).await;
        assert!(abandoned.is_err(), "the statement ran for less than 300 ms");
        let find = neo4rs::query(
            "SHOW TRANSACTIONS YIELD transactionId, currentQuery \
             WHERE currentQuery CONTAINS $marker RETURN transactionId",
        )
        .param("marker", marker.as_str());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let running = super::super::fetch(&graph, find.clone()).await.unwrap();
            if running.is_empty() && released.strong_count() == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still running on the server ({} transactions) or still held",
                running.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
