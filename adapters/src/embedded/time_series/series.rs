//! The series index: series ids by measurement and tag set, an inverted index from
//! `tag = value` to series ids, and each measurement's field types.

use std::collections::{BTreeMap, BTreeSet, HashMap};

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
}

/// Every series an entity has seen.
#[derive(Debug, Default)]
pub(crate) struct Index {
    keys: Vec<(String, Tags)>,
    ids: HashMap<String, HashMap<Tags, SeriesId>>,
    measurements: HashMap<String, Measurement>,
}

impl Index {
    /// The id of a series, creating it if new.
    pub(crate) fn intern(&mut self, measurement: &str, tags: &Tags) -> SeriesId {
        if let Some(id) = self.ids.get(measurement).and_then(|m| m.get(tags)) {
            return *id;
        }
        let id = self.keys.len() as SeriesId;
        self.keys.push((measurement.to_owned(), tags.clone()));
        self.ids
            .entry(measurement.to_owned())
            .or_default()
            .insert(tags.clone(), id);
        let entry = self.measurements.entry(measurement.to_owned()).or_default();
        entry.series.insert(id);
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

    pub(crate) fn key(&self, id: SeriesId) -> Option<&(String, Tags)> {
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

    /// The series of `measurement` matching `filter`, in id order: the intersection over the
    /// filter's tags of the union of each tag's accepted values' postings.
    pub(crate) fn select(&self, measurement: &str, filter: &TagFilter) -> Vec<SeriesId> {
        let Some(m) = self.measurements.get(measurement) else {
            return Vec::new();
        };
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
        match selected {
            Some(ids) => ids.into_iter().collect(),
            None => m.series.iter().copied().collect(),
        }
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
