//! The SQL of a search: the query text as a bound `tsquery`, filters as bound conditions on
//! field values, and snippets back from `ts_headline`.

use tokio_postgres::types::ToSql;

use super::Index;
use crate::kinds::search::fields::{finite, wrong_type};
use crate::kinds::search::{SearchFieldKind, SearchFilter};
use crate::{Result, StoreError, Value};

/// Mark a matched word in `ts_headline` output until they become `<b>` tags (characters
/// of Unicode's private use area).
const START: char = '\u{E000}';
const STOP: char = '\u{E001}';

/// The SQL expression of a keyword or numeric field's value, as its B-tree index holds it.
pub(super) fn value(field: &str, kind: SearchFieldKind) -> Option<String> {
    match kind {
        SearchFieldKind::Text => None,
        SearchFieldKind::Keyword => Some(format!("(doc->>'{field}')")),
        SearchFieldKind::Integer => Some(format!("((doc->>'{field}')::bigint)")),
        SearchFieldKind::Float => Some(format!("((doc->>'{field}')::float8)")),
    }
}

/// The conditions of a search, with their parameters; the `tsquery` text, if any, is `$1`.
pub(super) struct Where {
    text: bool,
    conditions: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Where {
    pub(super) fn new(tsquery: Option<String>) -> Self {
        let mut filters = Where {
            text: false,
            conditions: Vec::new(),
            params: Vec::new(),
        };
        if let Some(tsquery) = tsquery {
            filters.text = true;
            filters.params.push(Box::new(tsquery));
            filters.conditions.push("tsv @@ q".to_owned());
        }
        filters
    }

    pub(super) fn has_text(&self) -> bool {
        self.text
    }

    pub(super) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|param| &**param as &(dyn ToSql + Sync))
            .collect()
    }

    fn bind(&mut self, param: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(param));
        format!("${}", self.params.len())
    }

    /// Adds `filter`, checked against `index`'s schema as the embedded backend checks it.
    pub(super) fn add(&mut self, index: &Index, filter: &SearchFilter) -> Result<()> {
        match filter {
            SearchFilter::In {
                field: name,
                values,
            } => {
                let kind = index.fields.kind(name)?;
                let Some(column) = value(name, kind) else {
                    return Err(text_filter(name));
                };
                let condition = match kind {
                    SearchFieldKind::Keyword => {
                        let texts = values
                            .iter()
                            .map(|value| match value {
                                Value::Text(text) => Ok(text.clone()),
                                _ => Err(wrong_type(name, kind, value)),
                            })
                            .collect::<Result<Vec<String>>>()?;
                        format!("{column} = ANY({}::text[])", self.bind(texts))
                    }
                    SearchFieldKind::Integer => {
                        let ints = values
                            .iter()
                            .map(|value| match value {
                                Value::Int(n) => Ok(*n),
                                _ => Err(wrong_type(name, kind, value)),
                            })
                            .collect::<Result<Vec<i64>>>()?;
                        format!("{column} = ANY({}::int8[])", self.bind(ints))
                    }
                    _ => {
                        let floats = values
                            .iter()
                            .map(|value| finite(name, value))
                            .collect::<Result<Vec<f64>>>()?;
                        format!("{column} = ANY({}::float8[])", self.bind(floats))
                    }
                };
                self.conditions.push(condition);
            }
            SearchFilter::Range {
                field: name,
                min,
                max,
            } => {
                let kind = index.fields.kind(name)?;
                for bound in [min, max].into_iter().flatten() {
                    if bound.is_nan() {
                        return Err(StoreError::invalid(format!(
                            "range on `{name}` has a NaN bound; use a number or no bound"
                        )));
                    }
                }
                let column = match (kind, value(name, kind)) {
                    (SearchFieldKind::Integer | SearchFieldKind::Float, Some(column)) => column,
                    _ => {
                        return Err(StoreError::invalid(format!(
                            "range filter on `{name}`, which is not numeric; ranges apply to integer and float fields"
                        )))
                    }
                };
                if kind == SearchFieldKind::Float {
                    if let Some(min) = *min {
                        let param = self.bind(min);
                        self.conditions.push(format!("{column} >= {param}"));
                    }
                    if let Some(max) = *max {
                        let param = self.bind(max);
                        self.conditions.push(format!("{column} <= {param}"));
                    }
                } else {
                    self.integer_range(&column, *min, *max);
                }
            }
        }
        Ok(())
    }

    /// Float bounds on an integer field, as the integers they admit.
    fn integer_range(&mut self, column: &str, min: Option<f64>, max: Option<f64>) {
        // 2^63: the first float above every i64.
        const ABOVE: f64 = 9_223_372_036_854_775_808.0;
        if let Some(lo) = min.map(f64::ceil) {
            if lo >= ABOVE {
                self.conditions.push("false".to_owned());
                return;
            }
            // A float-to-int cast saturates: bounds below i64::MIN become i64::MIN.
            let param = self.bind(lo as i64);
            self.conditions.push(format!("{column} >= {param}"));
        }
        if let Some(hi) = max.map(f64::floor) {
            if hi < -ABOVE {
                self.conditions.push("false".to_owned());
                return;
            }
            let param = self.bind(hi as i64);
            self.conditions.push(format!("{column} <= {param}"));
        }
    }

    fn tables_and_conditions(&self, index: &Index) -> String {
        let from = if self.text {
            format!(
                "{}, to_tsquery('{}'::regconfig, $1) AS q",
                index.table, index.language
            )
        } else {
            index.table.clone()
        };
        if self.conditions.is_empty() {
            from
        } else {
            format!("{from} WHERE {}", self.conditions.join(" AND "))
        }
    }
}

/// The page of hits: id, document, score, total, then one headline per text field when
/// snippets are asked for. The limit and offset follow the filters' parameters.
pub(super) fn select(index: &Index, filters: &Where, snippets: bool) -> String {
    let n = filters.params.len();
    let score = if filters.text {
        "ts_rank('{1,1,1,1}', tsv, q)"
    } else {
        "0::real"
    };
    let mut columns = format!("id, doc, {score}, count(*) OVER ()");
    if snippets {
        for field in index.fields.text() {
            columns.push_str(&format!(
                ", ts_headline('{}'::regconfig, {}, q, 'StartSel={START}, StopSel={STOP}')",
                index.language,
                escaped(&format!("coalesce(doc->>'{field}', '')"))
            ));
        }
    }
    format!(
        "SELECT {columns} FROM {} ORDER BY 3 DESC, id LIMIT ${} OFFSET ${}",
        filters.tables_and_conditions(index),
        n + 1,
        n + 2
    )
}

/// How many documents match.
pub(super) fn count(index: &Index, filters: &Where) -> String {
    format!(
        "SELECT count(*) FROM {}",
        filters.tables_and_conditions(index)
    )
}

/// `text` HTML-escaped in SQL. Escaping goes before `ts_headline`, whose parser would drop
/// anything that looks like a tag; the entities it keeps as they are.
fn escaped(text: &str) -> String {
    format!("replace(replace(replace({text}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')")
}

/// A headline of escaped text with its matched words in `<b>`; `None` when nothing matched.
pub(super) fn snippet(headline: &str) -> Option<String> {
    if !headline.contains(START) {
        return None;
    }
    Some(headline.replace(START, "<b>").replace(STOP, "</b>"))
}

fn text_filter(name: &str) -> StoreError {
    StoreError::invalid(format!(
        "`{name}` is a text field, which filters cannot match exactly; filter on a keyword field, or search it in the query text"
    ))
}
