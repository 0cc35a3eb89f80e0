//! The Cypher text of one entity, built once when it is opened.
//!
//! Every id, label, property map and limit travels as a query parameter. Only what Cypher
//! cannot parameterise is written into the text: the entity's node label and relationship type
//! (built from the entity name, validated by [`identifier`] and quoted with backticks), and the
//! maximum depth of a shortest-path pattern (an integer, at most the entity's `max_depth`).

use crate::kinds::graph::Direction;
use crate::{Result, StoreError};

/// The longest entity-derived name accepted (Neo4j allows much longer ones; this keeps them
/// readable).
const MAX_IDENTIFIER: usize = 200;

/// `name` quoted as a Cypher identifier, after checking it is ASCII letters, digits and `_`,
/// not starting with a digit. The backtick quoting (a backtick doubled) is a second line of
/// defence: a checked name never holds one.
pub(crate) fn identifier(name: &str) -> Result<String> {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    if !first_ok
        || name.len() > MAX_IDENTIFIER
        || !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(StoreError::invalid(format!(
            "`{}` cannot name a Neo4j label or type: use ASCII letters, digits and `_`, not \
             starting with a digit, at most {MAX_IDENTIFIER} characters",
            name.escape_debug()
        )));
    }
    Ok(quote(name))
}

/// Backtick-quotes an identifier, doubling any backtick inside.
fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The statements of one entity: nodes labelled `PrNode_<entity>`, relationships typed
/// `PrEdge_<entity>`.
#[derive(Debug, Clone)]
pub(crate) struct Statements {
    /// The node label, quoted.
    pub label: String,
    /// The relationship type, quoted.
    pub rel: String,
    /// The uniqueness constraint on node ids, named after the entity.
    pub constraint: String,
    /// An index on the relationships' `label` property.
    pub edge_index: String,
}

/// The filter on a relationship `r`'s user label: `$labels` empty follows every edge.
const LABELS: &str = "(size($labels) = 0 OR r.label IN $labels)";

impl Statements {
    /// The statements of `entity`.
    pub fn new(entity: &str) -> Result<Self> {
        let label = identifier(&format!("PrNode_{entity}"))?;
        let rel = identifier(&format!("PrEdge_{entity}"))?;
        let constraint_name = identifier(&format!("pr_{entity}_node_id"))?;
        let index_name = identifier(&format!("pr_{entity}_edge_label"))?;
        Ok(Statements {
            constraint: format!(
                "CREATE CONSTRAINT {constraint_name} IF NOT EXISTS \
                 FOR (n:{label}) REQUIRE n.id IS UNIQUE"
            ),
            edge_index: format!(
                "CREATE INDEX {index_name} IF NOT EXISTS FOR ()-[r:{rel}]-() ON (r.label)"
            ),
            label,
            rel,
        })
    }

    /// Creates or replaces node `$id` with `$label` and `$props`.
    pub fn upsert_node(&self) -> String {
        let l = &self.label;
        format!("MERGE (n:{l} {{id: $id}}) SET n.label = $label, n.props = $props")
    }

    /// The node `$id`'s label and properties.
    pub fn get_node(&self) -> String {
        let l = &self.label;
        format!("MATCH (n:{l} {{id: $id}}) RETURN n.label AS label, n.props AS props")
    }

    /// Deletes node `$id` and its edges; one row, `deleted` 0 or 1.
    pub fn delete_node(&self) -> String {
        let l = &self.label;
        format!("MATCH (n:{l} {{id: $id}}) DETACH DELETE n RETURN count(*) AS deleted")
    }

    /// Whether nodes `$from` and `$to` exist (one row, `has_from`, `has_to`).
    pub fn exist_pair(&self) -> String {
        let l = &self.label;
        format!(
            "OPTIONAL MATCH (a:{l} {{id: $from}}) OPTIONAL MATCH (b:{l} {{id: $to}}) \
             RETURN a IS NOT NULL AS has_from, b IS NOT NULL AS has_to"
        )
    }

    /// Creates or replaces edge `($from, $label, $to)` with `$props` when both ends exist;
    /// one row saying which ends exist.
    pub fn upsert_edge(&self) -> String {
        let (l, t) = (&self.label, &self.rel);
        format!(
            "OPTIONAL MATCH (a:{l} {{id: $from}}) OPTIONAL MATCH (b:{l} {{id: $to}}) \
             FOREACH (_ IN CASE WHEN a IS NOT NULL AND b IS NOT NULL THEN [1] ELSE [] END | \
               MERGE (a)-[r:{t} {{label: $label}}]->(b) SET r.props = $props) \
             RETURN a IS NOT NULL AS has_from, b IS NOT NULL AS has_to"
        )
    }

    /// The ids among `$ids` that are not stored nodes.
    pub fn missing_nodes(&self) -> String {
        let l = &self.label;
        format!(
            "UNWIND $ids AS id OPTIONAL MATCH (n:{l} {{id: id}}) \
             WITH id, n WHERE n IS NULL RETURN id"
        )
    }

    /// Upserts every `{id, label, props}` map of `$rows`.
    pub fn upsert_nodes(&self) -> String {
        let l = &self.label;
        format!(
            "UNWIND $rows AS row MERGE (n:{l} {{id: row.id}}) \
             SET n.label = row.label, n.props = row.props"
        )
    }

    /// Upserts every `{from, label, to, props}` map of `$rows` whose ends exist; one row with
    /// the number written.
    pub fn upsert_edges(&self) -> String {
        let (l, t) = (&self.label, &self.rel);
        format!(
            "UNWIND $rows AS row MATCH (a:{l} {{id: row.from}}) MATCH (b:{l} {{id: row.to}}) \
             MERGE (a)-[r:{t} {{label: row.label}}]->(b) SET r.props = row.props \
             RETURN count(*) AS written"
        )
    }

    /// Deletes edge `($from, $label, $to)`; one row, `deleted` 0 or 1.
    pub fn delete_edge(&self) -> String {
        let (l, t) = (&self.label, &self.rel);
        format!(
            "MATCH (:{l} {{id: $from}})-[r:{t} {{label: $label}}]->(:{l} {{id: $to}}) \
             DELETE r RETURN count(*) AS deleted"
        )
    }

    /// Whether node `$id` exists: one row when it does.
    pub fn exists(&self) -> String {
        let l = &self.label;
        format!("MATCH (n:{l} {{id: $id}}) RETURN 1 AS found")
    }

    /// Pattern comprehensions of the hops from `s` in `direction`, mapping each to `body`
    /// (`r` the relationship, `n` the neighbour, `side` 0 out / 1 in). Both directions count a
    /// self-loop once, on its outgoing side.
    fn hops(&self, direction: Direction, body: impl Fn(u8) -> String) -> String {
        let t = &self.rel;
        let out = format!("[(s)-[r:{t}]->(n) WHERE {LABELS} | {}]", body(0));
        let inc = format!("[(s)<-[r:{t}]-(n) WHERE {LABELS} | {}]", body(1));
        match direction {
            Direction::Out => out,
            Direction::In => inc,
            Direction::Both => format!(
                "{out} + [(s)<-[r:{t}]-(n) WHERE n <> s AND {LABELS} | {}]",
                body(1)
            ),
        }
    }

    /// Neighbours of `$id` along edges labelled `$labels`, ordered by (edge label, neighbour
    /// id, out before in), at most `$limit` when `limited`. No rows when the node is missing
    /// or has no such neighbour.
    pub fn neighbors(&self, direction: Direction, limited: bool) -> String {
        let l = &self.label;
        let hops = self.hops(direction, |side| {
            format!(
                "{{label: r.label, other: n.id, side: {side}, eprops: r.props, \
                 nlabel: n.label, nprops: n.props}}"
            )
        });
        let limit = if limited { " LIMIT $limit" } else { "" };
        format!(
            "MATCH (s:{l} {{id: $id}}) UNWIND {hops} AS h \
             RETURN h.label AS label, h.other AS other, h.side AS side, h.eprops AS eprops, \
             h.nlabel AS nlabel, h.nprops AS nprops \
             ORDER BY label, other, side{limit}"
        )
    }

    /// The number of edges labelled `$labels` at `$id`; no row when the node is missing.
    pub fn degree(&self, direction: Direction) -> String {
        let l = &self.label;
        let hops = self.hops(direction, |_| "1".to_owned());
        format!("MATCH (s:{l} {{id: $id}}) RETURN size({hops}) AS degree")
    }

    /// One level of a breadth-first traversal: the distinct ids of the nodes one edge labelled
    /// `$labels` away, in `direction`, from any node whose id is in `$frontier`.
    ///
    /// Traversals run this once per level from Rust, keeping the nodes already seen there, so
    /// each node is expanded once, at its smallest depth. A variable-length pattern
    /// (`[*1..depth]`) would instead enumerate every path, which grows exponentially with the
    /// depth on a dense graph; APOC's BFS procedures are not on every server.
    pub fn expand(&self, direction: Direction) -> String {
        let (l, t) = (&self.label, &self.rel);
        let (left, right) = match direction {
            Direction::Out => ("-", "->"),
            Direction::In => ("<-", "-"),
            Direction::Both => ("-", "-"),
        };
        format!(
            "UNWIND $frontier AS fid MATCH (s:{l} {{id: fid}}){left}[r:{t}]{right}(n:{l}) \
             WHERE {LABELS} RETURN DISTINCT n.id AS id"
        )
    }

    /// The ids along a shortest path of at most `depth` hops from `$from` to `$to` (distinct
    /// nodes), restricted to `$labels` when `filtered`; no row when there is none.
    pub fn shortest_path(&self, direction: Direction, depth: u32, filtered: bool) -> String {
        let (l, t) = (&self.label, &self.rel);
        let (left, right) = match direction {
            Direction::Out => ("-", "->"),
            Direction::In => ("<-", "-"),
            Direction::Both => ("-", "-"),
        };
        let labels = if filtered {
            " WHERE all(r IN relationships(p) WHERE r.label IN $labels)"
        } else {
            ""
        };
        format!(
            "MATCH (a:{l} {{id: $from}}), (b:{l} {{id: $to}}) \
             MATCH p = shortestPath((a){left}[:{t}*1..{depth}]{right}(b)){labels} \
             RETURN [x IN nodes(p) | x.id] AS ids"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn identifiers_are_checked_then_quoted() {
        assert_eq!(identifier("PrNode_users").unwrap(), "`PrNode_users`");
        assert_eq!(identifier("_x9").unwrap(), "`_x9`");
        for hostile in [
            "",
            "9lives",
            "a b",
            "a`b",
            "a`) DETACH DELETE n //",
            "x:Admin",
            "a-b",
            "a\nb",
            "a\0b",
            "é",
            "a{b}",
            "a$b",
            "a'b",
            "a\"b",
            "a\\b",
            &"x".repeat(MAX_IDENTIFIER + 1),
        ] {
            let err = identifier(hostile).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{hostile:?}");
        }
    }

    #[test]
    fn quoting_doubles_backticks() {
        assert_eq!(quote("a`b"), "`a``b`");
        assert_eq!(quote("``"), "``````");
    }

    #[test]
    fn hostile_entity_names_build_no_statements() {
        assert!(Statements::new("x`) MATCH (m) DETACH DELETE m //").is_err());
        assert!(Statements::new("ok_name").is_ok());
    }

    #[test]
    fn user_values_only_travel_as_parameters() {
        let s = Statements::new("roads").unwrap();
        let mut all = vec![
            s.constraint.clone(),
            s.edge_index.clone(),
            s.upsert_node(),
            s.get_node(),
            s.delete_node(),
            s.exist_pair(),
            s.upsert_edge(),
            s.missing_nodes(),
            s.upsert_nodes(),
            s.upsert_edges(),
            s.delete_edge(),
            s.exists(),
        ];
        for d in [Direction::Out, Direction::In, Direction::Both] {
            for flag in [false, true] {
                all.push(s.neighbors(d, flag));
                all.push(s.shortest_path(d, 3, flag));
            }
            all.push(s.degree(d));
            all.push(s.expand(d));
        }
        for text in &all {
            // The only quoted names are the entity's; the rest is fixed text and `$params`.
            let quoted: Vec<&str> = text.split('`').skip(1).step_by(2).collect();
            for name in quoted {
                assert!(
                    name.ends_with("roads")
                        || name == "pr_roads_node_id"
                        || name == "pr_roads_edge_label",
                    "{name} in {text}"
                );
            }
            assert!(!text.contains('\''), "{text}");
            assert!(!text.contains('"'), "{text}");
        }
    }

    #[test]
    fn statements_have_the_expected_shape() {
        let s = Statements::new("roads").unwrap();
        assert_eq!(
            s.constraint,
            "CREATE CONSTRAINT `pr_roads_node_id` IF NOT EXISTS FOR (n:`PrNode_roads`) \
             REQUIRE n.id IS UNIQUE"
        );
        assert!(s
            .upsert_node()
            .starts_with("MERGE (n:`PrNode_roads` {id: $id})"));
        let n = s.neighbors(Direction::Both, false);
        assert!(n.contains("WHERE n <> s AND"), "{n}");
        assert!(n.ends_with("ORDER BY label, other, side"), "{n}");
        let p = s.shortest_path(Direction::Out, 2, false);
        assert!(
            p.contains("shortestPath((a)-[:`PrEdge_roads`*1..2]->(b))"),
            "{p}"
        );
    }

    /// A traversal level follows single hops from the frontier: no variable-length pattern
    /// (which enumerates paths), no depth written into the text, ids and labels as parameters.
    #[test]
    fn a_traversal_level_expands_single_hops_from_the_frontier() {
        let s = Statements::new("roads").unwrap();
        let cases = [
            (
                Direction::Out,
                "(s:`PrNode_roads` {id: fid})-[r:`PrEdge_roads`]->(n:`PrNode_roads`)",
            ),
            (
                Direction::In,
                "(s:`PrNode_roads` {id: fid})<-[r:`PrEdge_roads`]-(n:`PrNode_roads`)",
            ),
            (
                Direction::Both,
                "(s:`PrNode_roads` {id: fid})-[r:`PrEdge_roads`]-(n:`PrNode_roads`)",
            ),
        ];
        for (direction, pattern) in cases {
            let text = s.expand(direction);
            assert!(text.starts_with("UNWIND $frontier AS fid MATCH "), "{text}");
            assert!(text.contains(pattern), "{text}");
            assert!(
                text.contains("WHERE (size($labels) = 0 OR r.label IN $labels)"),
                "{text}"
            );
            assert!(text.ends_with("RETURN DISTINCT n.id AS id"), "{text}");
            assert!(!text.contains('*'), "no variable-length pattern: {text}");
            assert!(!text.contains("relationships("), "{text}");
        }
    }
}
