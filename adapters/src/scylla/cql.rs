//! The CQL text of every statement the backend sends, built in one place.
//!
//! Only identifiers this module has validated (the keyspace, table names derived from entity
//! names) and fixed keywords are written into statement text; every value (keys, cells,
//! timestamps, TTLs, limits) is a bind marker `?`. The keyspace's replication map is the one
//! exception, since CQL cannot bind values in DDL: it is built from a fixed strategy name,
//! integers and a validated, quoted datacenter name.

use crate::kinds::document::Order;
use crate::{Result, StoreError};

/// The longest keyspace or table name Cassandra accepts.
pub const MAX_NAME: usize = 48;

/// The table recording each entity's key columns.
pub const SHAPES_TABLE: &str = "polyroute_wide_column_shapes";

/// Checks a keyspace or table name: 1 to 48 ASCII letters, digits or underscores, starting
/// with a letter (Cassandra's rule for names it stores), so it can be quoted safely.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    if first_ok && name.len() <= MAX_NAME && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Ok(());
    }
    Err(StoreError::invalid(format!(
        "{what} `{}` is not a valid CQL name: use 1 to {MAX_NAME} ASCII letters, digits or underscores, starting with a letter",
        name.escape_debug()
    )))
}

/// A validated name in double quotes (its case is kept).
fn quoted(name: &str) -> String {
    // `check_name` allows no `"`, so nothing needs doubling; doubled anyway for safety.
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A CQL string literal: single quotes, with embedded quotes doubled.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// How the keyspace replicates its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replication {
    /// `SimpleStrategy` with this factor: one datacenter, for development and tests.
    Simple(u32),
    /// `NetworkTopologyStrategy` with this factor in `datacenter`, or in every datacenter when
    /// `None`.
    NetworkTopology {
        /// Replicas per datacenter.
        factor: u32,
        /// The one datacenter to replicate to, if given.
        datacenter: Option<String>,
    },
}

/// `CREATE KEYSPACE IF NOT EXISTS` for `keyspace` (validated by the caller).
pub fn create_keyspace(keyspace: &str, replication: &Replication) -> String {
    let map = match replication {
        Replication::Simple(factor) => {
            format!("{{'class': 'SimpleStrategy', 'replication_factor': {factor}}}")
        }
        Replication::NetworkTopology {
            factor,
            datacenter: None,
        } => format!("{{'class': 'NetworkTopologyStrategy', 'replication_factor': {factor}}}"),
        Replication::NetworkTopology {
            factor,
            datacenter: Some(dc),
        } => format!(
            "{{'class': 'NetworkTopologyStrategy', {}: {factor}}}",
            literal(dc)
        ),
    };
    format!(
        "CREATE KEYSPACE IF NOT EXISTS {} WITH replication = {map}",
        quoted(keyspace)
    )
}

/// The statements about the table recording entity shapes.
pub struct Shapes {
    /// Creates the table.
    pub create: String,
    /// Reads one entity's shape.
    pub select: String,
    /// Records one entity's shape, at a fixed write timestamp so that racing first openers
    /// converge on one shape (the greater encoding) whatever order they land in.
    pub insert: String,
}

impl Shapes {
    /// The statements of the shapes table in `keyspace` (validated by the caller).
    pub fn new(keyspace: &str) -> Self {
        let table = format!("{}.{}", quoted(keyspace), quoted(SHAPES_TABLE));
        Shapes {
            create: format!(
                "CREATE TABLE IF NOT EXISTS {table} (entity text PRIMARY KEY, shape blob)"
            ),
            select: format!("SELECT shape FROM {table} WHERE entity = ?"),
            insert: format!("INSERT INTO {table} (entity, shape) VALUES (?, ?) USING TIMESTAMP 1"),
        }
    }
}

/// The statements of one entity's table: `pk` (the encoded partition key), `ck` (the encoded
/// clustering key, absent when the entity has none), `ts` (the newest write timestamp) and
/// `cells` (a map from cell name to encoded value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    table: String,
    clustered: bool,
}

/// Which bounds a slice has on the clustering key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceShape {
    /// `ck >= ?`.
    pub lower: bool,
    /// `ck < ?`.
    pub upper: bool,
    /// The order rows come back in.
    pub order: Order,
}

impl Table {
    /// The statements of the table for `entity` in `keyspace`, with or without a clustering
    /// key. Fails when the derived table name is not a valid CQL name.
    pub fn new(keyspace: &str, entity: &str, clustered: bool) -> Result<Self> {
        check_name("keyspace", keyspace)?;
        let name = format!("wc_{entity}");
        check_name("table name (`wc_` and the entity name)", &name)?;
        Ok(Table {
            table: format!("{}.{}", quoted(keyspace), quoted(&name)),
            clustered,
        })
    }

    fn key_match(&self) -> &'static str {
        if self.clustered {
            "pk = ? AND ck = ?"
        } else {
            "pk = ?"
        }
    }

    /// `CREATE TABLE IF NOT EXISTS`: key columns are blobs holding the order-preserving
    /// encoding, so the table's clustering order is the contract's.
    pub fn create(&self) -> String {
        if self.clustered {
            format!(
                "CREATE TABLE IF NOT EXISTS {} (pk blob, ck blob, ts bigint, cells map<text, blob>, \
                 PRIMARY KEY ((pk), ck)) WITH CLUSTERING ORDER BY (ck ASC)",
                self.table
            )
        } else {
            format!(
                "CREATE TABLE IF NOT EXISTS {} (pk blob, ts bigint, cells map<text, blob>, \
                 PRIMARY KEY ((pk)))",
                self.table
            )
        }
    }

    /// Writes the row marker and `ts`: binds the key, the write timestamp (as `ts`'s value),
    /// the write timestamp and the TTL in seconds (0: none).
    pub fn insert_marker(&self) -> String {
        if self.clustered {
            format!(
                "INSERT INTO {} (pk, ck, ts) VALUES (?, ?, ?) USING TIMESTAMP ? AND TTL ?",
                self.table
            )
        } else {
            format!(
                "INSERT INTO {} (pk, ts) VALUES (?, ?) USING TIMESTAMP ? AND TTL ?",
                self.table
            )
        }
    }

    /// Adds cells: binds the write timestamp, the TTL, the map of cells and the key.
    pub fn add_cells(&self) -> String {
        format!(
            "UPDATE {} USING TIMESTAMP ? AND TTL ? SET cells = cells + ? WHERE {}",
            self.table,
            self.key_match()
        )
    }

    /// Deletes cells: binds the write timestamp, the set of cell names and the key.
    pub fn remove_cells(&self) -> String {
        format!(
            "UPDATE {} USING TIMESTAMP ? SET cells = cells - ? WHERE {}",
            self.table,
            self.key_match()
        )
    }

    /// One row: binds the key. Every regular column is selected, so a row is returned
    /// whenever anything in it is live.
    pub fn get(&self) -> String {
        format!(
            "SELECT ts, cells FROM {} WHERE {}",
            self.table,
            self.key_match()
        )
    }

    /// A slice of a clustered table: binds the partition key, the lower bound if any, the
    /// upper bound if any, and the limit.
    pub fn slice(&self, shape: SliceShape) -> String {
        let mut cql = format!("SELECT ck, ts, cells FROM {} WHERE pk = ?", self.table);
        if shape.lower {
            cql.push_str(" AND ck >= ?");
        }
        if shape.upper {
            cql.push_str(" AND ck < ?");
        }
        cql.push_str(match shape.order {
            Order::Ascending => " ORDER BY ck ASC",
            Order::Descending => " ORDER BY ck DESC",
        });
        cql.push_str(" LIMIT ?");
        cql
    }

    /// Removes one row: binds the deletion timestamp and the key.
    pub fn delete(&self) -> String {
        format!(
            "DELETE FROM {} USING TIMESTAMP ? WHERE {}",
            self.table,
            self.key_match()
        )
    }

    /// Removes a partition: binds the deletion timestamp and the partition key.
    pub fn delete_partition(&self) -> String {
        format!("DELETE FROM {} USING TIMESTAMP ? WHERE pk = ?", self.table)
    }

    /// The newest write timestamp in a partition: binds the partition key.
    pub fn newest_in_partition(&self) -> String {
        format!("SELECT max(ts) FROM {} WHERE pk = ?", self.table)
    }

    /// Whether the table has a clustering key.
    pub fn clustered(&self) -> bool {
        self.clustered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events() -> Table {
        Table::new("ks", "events", true).unwrap()
    }

    #[test]
    fn names_are_checked_strictly() {
        for good in ["a", "Events", "wc_1", &"x".repeat(48)] {
            assert!(check_name("keyspace", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1abc",
            "_x",
            "a-b",
            "a b",
            "a\"b",
            "a'b",
            "a;DROP KEYSPACE x",
            "a\\b",
            "a\nb",
            "a\0b",
            "é",
            "a.b",
            &"x".repeat(49),
        ] {
            let err = check_name("keyspace", bad).unwrap_err();
            assert!(matches!(err, StoreError::InvalidRequest { .. }), "{bad:?}");
            assert!(err.to_string().contains("keyspace"), "{err}");
        }
    }

    #[test]
    fn hostile_entity_names_never_reach_statement_text() {
        for bad in [
            "x\"; DROP TABLE t; --",
            "x' OR '1'='1",
            "a\nb",
            "a\0b",
            "日本",
            &"x".repeat(46),
        ] {
            let err = Table::new("ks", bad, true).unwrap_err();
            assert!(matches!(err, StoreError::InvalidRequest { .. }), "{bad:?}");
        }
        assert!(Table::new("bad ks", "events", true).is_err());
        assert!(Table::new("ks", &"x".repeat(45), true).is_ok());
    }

    #[test]
    fn table_statements_bind_every_value() {
        let t = events();
        assert_eq!(
            t.create(),
            "CREATE TABLE IF NOT EXISTS \"ks\".\"wc_events\" (pk blob, ck blob, ts bigint, \
             cells map<text, blob>, PRIMARY KEY ((pk), ck)) WITH CLUSTERING ORDER BY (ck ASC)"
        );
        assert_eq!(
            t.insert_marker(),
            "INSERT INTO \"ks\".\"wc_events\" (pk, ck, ts) VALUES (?, ?, ?) \
             USING TIMESTAMP ? AND TTL ?"
        );
        assert_eq!(
            t.add_cells(),
            "UPDATE \"ks\".\"wc_events\" USING TIMESTAMP ? AND TTL ? SET cells = cells + ? \
             WHERE pk = ? AND ck = ?"
        );
        assert_eq!(
            t.remove_cells(),
            "UPDATE \"ks\".\"wc_events\" USING TIMESTAMP ? SET cells = cells - ? \
             WHERE pk = ? AND ck = ?"
        );
        assert_eq!(
            t.get(),
            "SELECT ts, cells FROM \"ks\".\"wc_events\" WHERE pk = ? AND ck = ?"
        );
        assert_eq!(
            t.delete(),
            "DELETE FROM \"ks\".\"wc_events\" USING TIMESTAMP ? WHERE pk = ? AND ck = ?"
        );
        assert_eq!(
            t.delete_partition(),
            "DELETE FROM \"ks\".\"wc_events\" USING TIMESTAMP ? WHERE pk = ?"
        );
        assert_eq!(
            t.newest_in_partition(),
            "SELECT max(ts) FROM \"ks\".\"wc_events\" WHERE pk = ?"
        );
        assert!(t.clustered());
    }

    #[test]
    fn unclustered_tables_have_no_ck() {
        let t = Table::new("ks", "pairs", false).unwrap();
        assert_eq!(
            t.create(),
            "CREATE TABLE IF NOT EXISTS \"ks\".\"wc_pairs\" (pk blob, ts bigint, \
             cells map<text, blob>, PRIMARY KEY ((pk)))"
        );
        assert_eq!(
            t.insert_marker(),
            "INSERT INTO \"ks\".\"wc_pairs\" (pk, ts) VALUES (?, ?) USING TIMESTAMP ? AND TTL ?"
        );
        for statement in [t.add_cells(), t.remove_cells(), t.get(), t.delete()] {
            assert!(statement.ends_with("WHERE pk = ?"), "{statement}");
            assert!(!statement.contains("ck"), "{statement}");
        }
    }

    #[test]
    fn slices_choose_bounds_and_order() {
        let t = events();
        let shape = |lower, upper, order| SliceShape {
            lower,
            upper,
            order,
        };
        assert_eq!(
            t.slice(shape(false, false, Order::Ascending)),
            "SELECT ck, ts, cells FROM \"ks\".\"wc_events\" WHERE pk = ? ORDER BY ck ASC LIMIT ?"
        );
        assert_eq!(
            t.slice(shape(true, true, Order::Descending)),
            "SELECT ck, ts, cells FROM \"ks\".\"wc_events\" WHERE pk = ? AND ck >= ? \
             AND ck < ? ORDER BY ck DESC LIMIT ?"
        );
        assert_eq!(
            t.slice(shape(false, true, Order::Ascending)),
            "SELECT ck, ts, cells FROM \"ks\".\"wc_events\" WHERE pk = ? AND ck < ? \
             ORDER BY ck ASC LIMIT ?"
        );
    }

    #[test]
    fn keyspace_replication_is_built_from_checked_parts() {
        assert_eq!(
            create_keyspace("ks", &Replication::Simple(1)),
            "CREATE KEYSPACE IF NOT EXISTS \"ks\" WITH replication = \
             {'class': 'SimpleStrategy', 'replication_factor': 1}"
        );
        assert_eq!(
            create_keyspace(
                "ks",
                &Replication::NetworkTopology {
                    factor: 3,
                    datacenter: None
                }
            ),
            "CREATE KEYSPACE IF NOT EXISTS \"ks\" WITH replication = \
             {'class': 'NetworkTopologyStrategy', 'replication_factor': 3}"
        );
        // A datacenter name is a string literal, its quotes doubled.
        assert_eq!(
            create_keyspace(
                "ks",
                &Replication::NetworkTopology {
                    factor: 2,
                    datacenter: Some("dc'1".into())
                }
            ),
            "CREATE KEYSPACE IF NOT EXISTS \"ks\" WITH replication = \
             {'class': 'NetworkTopologyStrategy', 'dc''1': 2}"
        );
    }

    #[test]
    fn shapes_statements_bind_the_entity() {
        let shapes = Shapes::new("ks");
        assert_eq!(
            shapes.select,
            "SELECT shape FROM \"ks\".\"polyroute_wide_column_shapes\" WHERE entity = ?"
        );
        assert!(shapes.insert.contains("VALUES (?, ?) USING TIMESTAMP 1"));
        assert!(shapes
            .create
            .starts_with("CREATE TABLE IF NOT EXISTS \"ks\".\"polyroute_wide_column_shapes\""));
    }
}
