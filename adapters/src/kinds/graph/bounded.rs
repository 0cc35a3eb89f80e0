//! The bounds of the graph contract, checked once for every backend: id and label sizes and the
//! entity's depth limit. [`Bounded`] wraps a backend's handle and refuses what is out of bounds
//! before the backend sees it, so no backend can be handed a key its engine cannot store or a
//! traversal deeper than the entity allows.

use std::sync::Arc;

use async_trait::async_trait;

use super::{
    Edge, EdgeFilter, GraphSettings, GraphStore, Neighbor, Node, Path, PathQuery, TraverseQuery,
    Visit, MAX_ID_BYTES, MAX_LABEL_BYTES,
};
use crate::{Result, StoreError};

/// Checks that `id`, the value of request field `field`, is a node id the contract accepts:
/// not empty and at most [`MAX_ID_BYTES`] bytes.
pub fn check_id(field: &str, id: &str) -> Result<()> {
    check_text(field, "node id", id, MAX_ID_BYTES)
}

/// Checks that `label`, the value of request field `field`, is a node or edge label the
/// contract accepts: not empty and at most [`MAX_LABEL_BYTES`] bytes.
pub fn check_label(field: &str, label: &str) -> Result<()> {
    check_text(field, "label", label, MAX_LABEL_BYTES)
}

/// Checks every label of a filter (`labels[i]`).
pub fn check_filter(edges: &EdgeFilter) -> Result<()> {
    for (index, label) in edges.labels.iter().enumerate() {
        if label.is_empty() {
            return Err(StoreError::invalid(format!(
                "`labels[{index}]` is empty: an edge label in a filter must not be empty; leave \
                 `labels` empty to follow every label"
            )));
        }
        check_label(&format!("labels[{index}]"), label)?;
    }
    Ok(())
}

/// A filter's labels sorted and without repeats, for backends to match on; an empty label is
/// refused here too, since a backend may be called without [`Bounded`] in front of it.
pub fn filter_labels(edges: &EdgeFilter) -> Result<Vec<&str>> {
    let mut labels: Vec<&str> = edges.labels.iter().map(String::as_str).collect();
    if labels.iter().any(|label| label.is_empty()) {
        return Err(StoreError::invalid(
            "an edge label in a filter must not be empty; leave `labels` empty to follow every label",
        ));
    }
    labels.sort_unstable();
    labels.dedup();
    Ok(labels)
}

fn check_text(field: &str, what: &str, text: &str, max: usize) -> Result<()> {
    if text.is_empty() {
        return Err(StoreError::invalid(format!(
            "`{field}` is empty: a {what} must not be empty"
        )));
    }
    if text.len() > max {
        return Err(StoreError::invalid(format!(
            "`{field}` is {} bytes long: a {what} may be at most {max} bytes; use a shorter one \
             (such as a hash of the long value)",
            text.len()
        )));
    }
    Ok(())
}

fn check_node(node: &Node) -> Result<()> {
    check_id("id", &node.id)?;
    check_label("label", &node.label)
}

fn check_edge(edge: &Edge) -> Result<()> {
    check_id("from", &edge.from)?;
    check_label("label", &edge.label)?;
    check_id("to", &edge.to)
}

/// A graph handle that checks the contract's bounds, then hands the request to the backend.
///
/// Every graph backend wraps the handle it opens in one, so the bounds hold whatever the
/// backend and whatever reaches it (the router, the sidecar, a test).
#[derive(Debug)]
pub struct Bounded {
    settings: GraphSettings,
    inner: Arc<dyn GraphStore>,
}

impl Bounded {
    /// `inner`, bounded by the entity's `settings`.
    pub fn wrap(settings: &GraphSettings, inner: Arc<dyn GraphStore>) -> Arc<dyn GraphStore> {
        Arc::new(Bounded {
            settings: settings.clone(),
            inner,
        })
    }

    fn check_traverse(&self, query: &TraverseQuery) -> Result<()> {
        check_id("start", &query.start)?;
        check_filter(&query.edges)?;
        self.settings.check_depth(query.max_depth)
    }
}

#[async_trait]
impl GraphStore for Bounded {
    async fn upsert_node(&self, node: Node) -> Result<()> {
        check_node(&node)?;
        self.inner.upsert_node(node).await
    }

    async fn get_node(&self, id: &str) -> Result<Option<Node>> {
        check_id("id", id)?;
        self.inner.get_node(id).await
    }

    async fn delete_node(&self, id: &str) -> Result<bool> {
        check_id("id", id)?;
        self.inner.delete_node(id).await
    }

    async fn upsert_edge(&self, edge: Edge) -> Result<()> {
        check_edge(&edge)?;
        self.inner.upsert_edge(edge).await
    }

    async fn upsert_batch(&self, nodes: Vec<Node>, edges: Vec<Edge>) -> Result<()> {
        for (index, node) in nodes.iter().enumerate() {
            check_node(node).map_err(|err| within(err, "nodes", index))?;
        }
        for (index, edge) in edges.iter().enumerate() {
            check_edge(edge).map_err(|err| within(err, "edges", index))?;
        }
        self.inner.upsert_batch(nodes, edges).await
    }

    async fn delete_edge(&self, from: &str, label: &str, to: &str) -> Result<bool> {
        check_id("from", from)?;
        check_label("label", label)?;
        check_id("to", to)?;
        self.inner.delete_edge(from, label, to).await
    }

    async fn neighbors(
        &self,
        id: &str,
        edges: &EdgeFilter,
        limit: Option<usize>,
    ) -> Result<Vec<Neighbor>> {
        check_id("id", id)?;
        check_filter(edges)?;
        self.inner.neighbors(id, edges, limit).await
    }

    async fn traverse(&self, query: &TraverseQuery) -> Result<Vec<Visit>> {
        self.check_traverse(query)?;
        if query.skip == 0 {
            return self.inner.traverse(query).await;
        }
        let mut visits = self.inner.traverse(&unskipped(query)).await?;
        visits.drain(..query.skip.min(visits.len()));
        Ok(visits)
    }

    async fn count_reachable(&self, query: &TraverseQuery) -> Result<u64> {
        self.check_traverse(query)?;
        if query.skip == 0 {
            return self.inner.count_reachable(query).await;
        }
        let skip = u64::try_from(query.skip).unwrap_or(u64::MAX);
        let count = self.inner.count_reachable(&unskipped(query)).await?;
        Ok(count.saturating_sub(skip))
    }

    async fn shortest_path(&self, query: &PathQuery) -> Result<Option<Path>> {
        check_id("from", &query.from)?;
        check_id("to", &query.to)?;
        check_filter(&query.edges)?;
        if let Some(weight) = &query.weight {
            check_label("weight", weight)?;
        }
        self.settings.check_depth(query.max_depth)?;
        self.inner.shortest_path(query).await
    }

    async fn degree(&self, id: &str, edges: &EdgeFilter) -> Result<u64> {
        check_id("id", id)?;
        check_filter(edges)?;
        self.inner.degree(id, edges).await
    }
}

/// `query` as a backend answers it: from the first visit, up to the end of the page `skip`
/// and `limit` describe (the visits to leave out are dropped after).
fn unskipped(query: &TraverseQuery) -> TraverseQuery {
    let mut whole = query.clone();
    whole.limit = query.limit.map(|limit| limit.saturating_add(query.skip));
    whole.skip = 0;
    whole
}

/// `err` about item `index` of the batch's `list`.
fn within(err: StoreError, list: &str, index: usize) -> StoreError {
    match err {
        StoreError::InvalidRequest { message, .. } => {
            StoreError::invalid(format!("{list}[{index}]: {message}"))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn ids_and_labels_are_bounded_by_bytes() {
        assert!(check_id("id", &"a".repeat(MAX_ID_BYTES)).is_ok());
        let err = check_id("id", &"a".repeat(MAX_ID_BYTES + 1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        let text = err.to_string();
        assert!(text.contains("`id`") && text.contains("1024"), "{text}");
        // Bytes, not characters: 512 two-byte characters fit, 513 do not.
        assert!(check_id("id", &"é".repeat(MAX_ID_BYTES / 2)).is_ok());
        assert!(check_id("id", &"é".repeat(MAX_ID_BYTES / 2 + 1)).is_err());
        assert!(check_label("label", &"l".repeat(MAX_LABEL_BYTES)).is_ok());
        assert!(check_label("label", &"l".repeat(MAX_LABEL_BYTES + 1)).is_err());
        assert!(check_id("id", "").is_err());
        let filter = EdgeFilter::default().label("ok").label("x".repeat(300));
        let text = check_filter(&filter).unwrap_err().to_string();
        assert!(text.contains("labels[1]"), "{text}");
    }

    #[test]
    fn depth_above_the_entity_limit_is_refused_naming_it() {
        let settings = GraphSettings::default();
        assert!(settings
            .check_depth(super::super::DEFAULT_MAX_DEPTH)
            .is_ok());
        let err = settings.check_depth(u32::MAX).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        let text = err.to_string();
        assert!(text.contains("max_depth") && text.contains("10"), "{text}");
        assert!(GraphSettings::with_max_depth(50).check_depth(50).is_ok());
    }
}
