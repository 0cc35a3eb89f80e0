//! The checks and stamps every wide-column backend applies the same way: entity shapes, key
//! arity, cell names, and the timestamp and expiry of a write.

use std::collections::{BTreeMap, BTreeSet};

use super::clock::{now_micros, Clock};
use super::record::Stamp;
use super::{WideColumnSettings, WriteOptions};
use crate::{Result, StoreError, Value};

/// Checks that `given` key values fit `columns`: exactly, or at most when `prefix` (a slice
/// bound). `which` is `"partition"` or `"clustering"`, for the message.
pub(crate) fn arity(
    entity: &str,
    which: &str,
    columns: &[String],
    given: usize,
    prefix: bool,
) -> Result<()> {
    let fits = if prefix {
        given <= columns.len()
    } else {
        given == columns.len()
    };
    if fits {
        return Ok(());
    }
    let wanted = if prefix { "at most " } else { "" };
    Err(StoreError::invalid(format!(
        "`{entity}` has {which} key ({}), so a {which} key takes {wanted}{} values; got {given}",
        columns.join(", "),
        columns.len()
    )))
}

/// Checks an entity's declared shape: at least one partition column, distinct non-empty key
/// column names, no zero TTL.
pub(crate) fn check_settings(name: &str, settings: &WideColumnSettings) -> Result<()> {
    if settings.partition_key.is_empty() {
        return Err(StoreError::invalid(format!(
            "wide-column entity `{name}` needs at least one partition key column"
        )));
    }
    let columns = settings
        .partition_key
        .iter()
        .chain(&settings.clustering_key);
    let mut seen = BTreeSet::new();
    for column in columns {
        if column.is_empty() || !seen.insert(column) {
            return Err(StoreError::invalid(format!(
                "wide-column entity `{name}` names key column `{column}` more than once or empty; key columns must be distinct names"
            )));
        }
    }
    if settings.ttl.is_some_and(|ttl| ttl.is_zero()) {
        return Err(StoreError::invalid(format!(
            "wide-column entity `{name}` has a TTL of zero; omit it or give a positive duration"
        )));
    }
    Ok(())
}

/// Checks that an entity is opened with the key columns it was created with.
pub(crate) fn same_keys(
    name: &str,
    stored: &WideColumnSettings,
    asked: &WideColumnSettings,
) -> Result<()> {
    if stored.partition_key == asked.partition_key && stored.clustering_key == asked.clustering_key
    {
        return Ok(());
    }
    Err(StoreError::invalid(format!(
        "wide-column entity `{name}` exists with partition key ({}) and clustering key ({}); it cannot be opened with partition key ({}) and clustering key ({})",
        stored.partition_key.join(", "),
        stored.clustering_key.join(", "),
        asked.partition_key.join(", "),
        asked.clustering_key.join(", "),
    )))
}

/// Checks the cell names of a row: not empty, not a key column.
pub(crate) fn check_cells(
    entity: &str,
    settings: &WideColumnSettings,
    cells: &BTreeMap<String, Value>,
) -> Result<()> {
    for name in cells.keys() {
        if name.is_empty() {
            return Err(StoreError::invalid(format!(
                "a cell of `{entity}` has an empty column name"
            )));
        }
        if settings.partition_key.contains(name) || settings.clustering_key.contains(name) {
            return Err(StoreError::invalid(format!(
                "cell `{name}` of `{entity}` is a key column; give key values in the row's partition and clustering, not in its cells"
            )));
        }
    }
    Ok(())
}

/// The stamp of a write: its explicit timestamp or the store's clock, and the expiry its TTL
/// gives measured from the wall clock now.
pub(crate) fn stamp(options: WriteOptions, clock: &Clock) -> Result<Stamp> {
    let timestamp = options.timestamp.unwrap_or_else(|| clock.next());
    let expires_at =
        match options.ttl {
            None => None,
            Some(ttl) if ttl.is_zero() => return Err(StoreError::invalid(
                "a TTL of zero would expire the row at once; omit the TTL or give a positive one",
            )),
            Some(ttl) => Some(
                i64::try_from(ttl.as_micros())
                    .ok()
                    .and_then(|ttl| now_micros().checked_add(ttl))
                    .ok_or_else(|| StoreError::invalid(format!("a TTL of {ttl:?} is too long")))?,
            ),
        };
    Ok(Stamp {
        timestamp,
        expires_at,
    })
}
