//! The series index: series ids by measurement and tag set, an inverted index from
//! `tag = value` to series ids, and each measurement's field types.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use super::block::FieldType;
use crate::kinds::time_series::TagFilter;

/// A series' identity: its measurement and tag set.
pub(crate) type Tags = BTreeMap<String, String>;

/// A series id, local to one entity and one process (files store series keys, not ids).
pub(crate) type SeriesId = u32;

#[derive(Debug, Default)]
struct Measurement {
    series: BTreeSet<SeriesId>,
    postings: HashMap<String, HashMap<String, BTreeSet<SeriesId>>>,
    field_types: HashMap<String, FieldType>,
    /// The series in tag order, built by the first read of every series after a new one:
    /// such reads hand series out in this order without sorting them by their tags each time.
    order: OnceLock<Order>,
}

/// A measurement's series in tag order.
#[derive(Debug)]
struct Order {
    ids: Vec<SeriesId>,
    /// Each series' position in `ids`.
    rank: HashMap<SeriesId, usize>,
}

impl Order {
    fn new(series: &BTreeSet<SeriesId>, keys: &[(String, Arc<Tags>)]) -> Self {
        let mut ids: Vec<SeriesId> = series.iter().copied().collect();
        by_tags(&mut ids, keys);
        let rank = ids.iter().enumerate().map(|(at, id)| (*id, at)).collect();
        Self { ids, rank }
    }
}

/// Sorts series `ids` by their tags.
fn by_tags(ids: &mut [SeriesId], keys: &[(String, Arc<Tags>)]) {
    ids.sort_by(|a, b| {
        keys.get(*a as usize)
            .map(|k| &k.1)
            .cmp(&keys.get(*b as usize).map(|k| &k.1))
    });
}

/// Every series an entity has seen.
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// Each series' measurement and tags; the tags are shared with the last points handed out.
    keys: Vec<(String, Arc<Tags>)>,
    /// Series ids by measurement and tags, sharing the tags of `keys`.
    ids: HashMap<String, HashMap<Arc<Tags>, SeriesId>>,
    measurements: HashMap<String, Measurement>,
}

impl Index {
    /// The id of a series, creating it if new.
    pub(crate) fn intern(&mut self, measurement: &str, tags: &Tags) -> SeriesId {
        if let Some(id) = self.ids.get(measurement).and_then(|m| m.get(tags)) {
            return *id;
        }
        let id = self.keys.len() as SeriesId;
        let shared = Arc::new(tags.clone());
        self.keys
            .push((measurement.to_owned(), Arc::clone(&shared)));
        self.ids
            .entry(measurement.to_owned())
            .or_default()
            .insert(shared, id);
        let entry = self.measurements.entry(measurement.to_owned()).or_default();
        entry.series.insert(id);
        entry.order = OnceLock::new();
        for (tag, value) in tags {
            entry
                .postings
                .entry(tag.clone())
                .or_default()
                .entry(value.clone())
                .or_default()
                .insert(id);
        }
        id
    }

    /// The measurement and tags of series `id`.
    pub(crate) fn key(&self, id: SeriesId) -> Option<&(String, Arc<Tags>)> {
        self.keys.get(id as usize)
    }

    /// The type `field` of `measurement` holds, once anything was written to it.
    pub(crate) fn field_type(&self, measurement: &str, field: &str) -> Option<FieldType> {
        self.measurements
            .get(measurement)?
            .field_types
            .get(field)
            .copied()
    }

    pub(crate) fn set_field_type(&mut self, measurement: &str, field: &str, kind: FieldType) {
        if self.field_type(measurement, field).is_some() {
            return;
        }
        self.measurements
            .entry(measurement.to_owned())
            .or_default()
            .field_types
            .entry(field.to_owned())
            .or_insert(kind);
    }

    /// The series of `measurement` matching `filter`, in the order of their tags: the
    /// intersection over the filter's tags of the union of each tag's accepted values' postings.
    pub(crate) fn select(&self, measurement: &str, filter: &TagFilter) -> Vec<SeriesId> {
        let Some(m) = self.measurements.get(measurement) else {
            return Vec::new();
        };
        if filter.any_of.is_empty() {
            let order = m.order.get_or_init(|| Order::new(&m.series, &self.keys));
            return order.ids.clone();
        }
        let mut selected: Option<BTreeSet<SeriesId>> = None;
        for (tag, values) in &filter.any_of {
            let postings = m.postings.get(tag);
            let mut matching = BTreeSet::new();
            for value in values {
                if let Some(ids) = postings.and_then(|p| p.get(value)) {
                    matching.extend(ids.iter().copied());
                }
            }
            selected = Some(match selected {
                None => matching,
                Some(prev) => prev.intersection(&matching).copied().collect(),
            });
            if selected.as_ref().is_some_and(BTreeSet::is_empty) {
                return Vec::new();
            }
        }
        let mut ids: Vec<SeriesId> = selected.unwrap_or_default().into_iter().collect();
        // A narrow read does not build the whole order (a measurement gaining series between
        // reads would re-sort all of them for each): it uses the order when built, else sorts
        // just what it selected.
        match m.order.get() {
            Some(order) => {
                ids.sort_unstable_by_key(|id| order.rank.get(id).copied().unwrap_or(usize::MAX));
            }
            None => by_tags(&mut ids, &self.keys),
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn select_intersects_tags_and_unions_values() {
        let mut index = Index::default();
        let a = index.intern("cpu", &tags(&[("host", "a"), ("dc", "eu")]));
        let b = index.intern("cpu", &tags(&[("host", "b"), ("dc", "eu")]));
        let c = index.intern("cpu", &tags(&[("host", "c"), ("dc", "us")]));
        let other = index.intern("mem", &tags(&[("host", "a")]));
        assert_eq!(
            index.intern("cpu", &tags(&[("dc", "eu"), ("host", "a")])),
            a
        );
        assert_ne!(other, a);
        // Before any read of every series the order is not built: a narrow read sorts what
        // it selected; after, it reads the order.
        let eu = TagFilter::all().eq("dc", "eu");
        assert_eq!(index.select("cpu", &eu), vec![a, b]);
        assert_eq!(index.select("cpu", &TagFilter::all()), vec![a, b, c]);
        assert_eq!(
            index.select("cpu", &TagFilter::all().eq("dc", "eu")),
            vec![a, b]
        );
        let filter = TagFilter::all().eq("host", "a").eq("host", "c");
        assert_eq!(index.select("cpu", &filter), vec![a, c]);
        let filter = filter.eq("dc", "us");
        assert_eq!(index.select("cpu", &filter), vec![c]);
        assert!(index
            .select("cpu", &TagFilter::all().eq("rack", "1"))
            .is_empty());
        assert!(index.select("disk", &TagFilter::all()).is_empty());
    }
}
