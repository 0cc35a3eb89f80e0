//! Search: one document per record with its text, attribute (keyword) and group (integer).

use polyroute_adapters::kinds::search::{SearchDocument, SearchFilter, SearchQuery, SearchStore};
use polyroute_adapters::{StoreError, Value};

use super::{timed, Step};
use crate::replay::data::{Data, Picker};
use crate::spec::{Access, Op};

fn document(i: usize, id: String) -> SearchDocument {
    SearchDocument::new(
        &id,
        [
            ("body", Value::Text(Data::text(i))),
            ("attr", Value::Text(Data::attribute(i).to_string())),
            ("grp", Value::Int(Data::group(i))),
        ],
    )
}

pub(super) async fn load(store: &dyn SearchStore, data: &Data) -> Result<(), StoreError> {
    let mut batch = Vec::new();
    for i in 0..data.records {
        batch.push(document(i, Data::id(i)));
        if batch.len() >= 1000 {
            store.index(std::mem::take(&mut batch)).await?;
        }
    }
    store.index(batch).await?;
    store.refresh().await
}

pub(super) async fn run(
    store: &dyn SearchStore,
    data: &Data,
    access: &Access,
    pick: &mut Picker,
    step: usize,
) -> Result<Step, StoreError> {
    let i = pick.below(data.records);
    let took = match access.op {
        Op::FullText => {
            let query = SearchQuery::new(&format!("{} {}", Data::word(step), Data::word(step / 7)));
            timed(store.query(&query)).await?
        }
        Op::Filter => {
            let mut query = SearchQuery::new(Data::word(step));
            query.filters.push(SearchFilter::one_of(
                "attr",
                [Value::Text(Data::attribute(i).to_string())],
            ));
            timed(store.query(&query)).await?
        }
        Op::Put | Op::Update | Op::Append => {
            timed(store.index(vec![document(i, Data::id(i))])).await?
        }
        Op::Delete => {
            let took = timed(store.delete(&Data::id(i))).await?;
            store.index(vec![document(i, Data::id(i))]).await?;
            took
        }
        _ => return Ok(Step::NotServed),
    };
    Ok(Step::Timed(took))
}
