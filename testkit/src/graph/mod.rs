//! The graph behaviour suite.
//!
//! Cases rely only on what the `GraphStore` contract fixes (its error kinds, orders and
//! counting rules), so they hold for every backend of the kind. A backend without weighted
//! paths must refuse them as `Unsupported`.

mod bounds;
mod crud;
mod paths;
mod queries;

pub use bounds::*;
pub use crud::*;
pub use paths::*;
pub use queries::*;

use polyroute_adapters::kinds::graph::{Direction, Edge, EdgeFilter, GraphStore, Node};
use polyroute_adapters::{ErrorKind, Result};

/// Runs each listed case as its own test against the backend made by `$factory`, an async fn
/// returning `Fixture<dyn GraphStore>`.
#[macro_export]
macro_rules! graph_suite {
    ($factory:path) => {
        $crate::graph_suite!($factory; []);
    };
    ($factory:path; $attrs:tt) => {
        $crate::__suite_cases!(graph; $factory().await; $attrs;
            get_missing_node_returns_none,
            upsert_then_get_node_round_trips_every_value_type,
            upsert_node_replaces_label_and_properties,
            delete_node_reports_whether_it_existed,
            delete_node_removes_every_incident_edge,
            edge_with_a_missing_end_is_not_found,
            upsert_edge_replaces_its_properties,
            edges_differing_only_in_label_are_distinct,
            delete_edge_reports_whether_it_existed,
            empty_ids_and_labels_are_invalid,
            unicode_and_prefix_like_ids_stay_apart,
            large_properties_round_trip,
            upsert_batch_round_trips_nodes_and_edges,
            upsert_batch_with_an_edge_to_a_missing_node_writes_nothing,
            upsert_batch_edge_may_join_a_node_of_the_same_batch,
            upsert_batch_duplicates_keep_the_last,
            concurrent_writers_all_land,
            concurrent_edge_writes_and_node_delete_leave_no_dangling_edge,
            neighbors_follow_direction_and_labels,
            neighbors_are_ordered_and_limited,
            neighbors_carry_nodes_and_edges,
            both_directions_count_a_self_loop_once,
            degree_counts_matching_edges,
            queries_about_a_missing_node_are_not_found,
            empty_label_in_a_filter_is_invalid,
            node_without_edges_has_no_neighbors,
            traverse_visits_each_node_once_at_its_smallest_depth,
            traverse_follows_direction_and_labels,
            traverse_limit_keeps_the_nearest,
            traverse_pages_visit_every_node_once_in_order,
            traverse_of_depth_zero_is_empty,
            count_reachable_matches_traverse,
            traversals_see_every_committed_write,
            shortest_path_counts_hops,
            shortest_path_follows_direction_labels_and_depth,
            path_to_itself_is_the_node_alone,
            unreachable_node_has_no_path,
            weighted_path_minimises_the_property,
            weighted_path_respects_max_depth_exactly,
            bad_weights_are_invalid_and_name_the_property,
            paths_match_a_reference_on_a_random_graph,
            depth_above_the_entity_limit_is_refused,
            ids_and_labels_at_the_size_limits_round_trip,
            oversized_ids_and_labels_are_refused_and_the_store_keeps_working,
        );
    };
}

#[track_caller]
pub fn assert_error<T: std::fmt::Debug>(result: Result<T>, kind: ErrorKind) -> String {
    match result {
        Ok(value) => panic!("expected a {kind:?} error, got Ok({value:?})"),
        Err(err) => {
            assert_eq!(err.kind(), kind, "unexpected error: {err}");
            err.to_string()
        }
    }
}

/// Upserts nodes `ids` (label `n`) and edges `(from, label, to)`.
pub async fn seed(store: &dyn GraphStore, ids: &[&str], edges: &[(&str, &str, &str)]) {
    for id in ids {
        store.upsert_node(Node::new(*id, "n")).await.unwrap();
    }
    for (from, label, to) in edges {
        store
            .upsert_edge(Edge::new(*from, *label, *to))
            .await
            .unwrap();
    }
}

/// A filter of `direction` and `labels`.
pub fn filter(direction: Direction, labels: &[&str]) -> EdgeFilter {
    labels
        .iter()
        .fold(EdgeFilter::new(direction), |f, label| f.label(*label))
}

/// The ids of `id`'s neighbours along `edges`, in the order returned.
pub async fn neighbor_ids(store: &dyn GraphStore, id: &str, edges: &EdgeFilter) -> Vec<String> {
    store
        .neighbors(id, edges, None)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.node.id)
        .collect()
}
