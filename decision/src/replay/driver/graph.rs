//! Graph: one node per record, each linked to its neighbours by a `links` edge.

use polyroute_adapters::kinds::graph::{
    Direction, Edge, EdgeFilter, GraphStore, Node, PathQuery, TraverseQuery,
};
use polyroute_adapters::{StoreError, Value};

use super::{depth, timed, Step};
use crate::replay::data::{Data, Picker};
use crate::spec::{Access, Op};

const LABEL: &str = "links";

fn node(i: usize, n: usize) -> Node {
    Node::new(Data::id(i), "record")
        .with("grp", Value::Int(Data::group(i)))
        .with("n", Value::Int(n as i64))
}

pub(super) async fn load(store: &dyn GraphStore, data: &Data) -> Result<(), StoreError> {
    for i in 0..data.records {
        store.upsert_node(node(i, i)).await?;
    }
    for i in 0..data.records {
        for n in data.neighbours(i) {
            store
                .upsert_edge(Edge::new(Data::id(i), LABEL, Data::id(n)))
                .await?;
        }
    }
    Ok(())
}

pub(super) async fn run(
    store: &dyn GraphStore,
    data: &Data,
    access: &Access,
    pick: &mut Picker,
    step: usize,
) -> Result<Step, StoreError> {
    let i = pick.below(data.records);
    let id = Data::id(i);
    let out = EdgeFilter::new(Direction::Out).label(LABEL);
    let took = match access.op {
        Op::Get => timed(store.get_node(&id)).await?,
        Op::Put | Op::Update => timed(store.upsert_node(node(i, step))).await?,
        Op::Delete => {
            let temporary = format!("t{step}");
            store.upsert_node(Node::new(&temporary, "record")).await?;
            timed(store.delete_node(&temporary)).await?
        }
        Op::Append => {
            let target = Data::id(pick.below(data.records));
            timed(store.upsert_edge(Edge::new(id, LABEL, target))).await?
        }
        Op::BatchGet => {
            let started = std::time::Instant::now();
            for _ in 0..10 {
                store.get_node(&Data::id(pick.below(data.records))).await?;
            }
            started.elapsed()
        }
        Op::PartitionScan | Op::Join => timed(store.neighbors(&id, &out, None)).await?,
        Op::Traverse => {
            let query = TraverseQuery {
                start: id,
                edges: out,
                max_depth: depth(access),
                limit: None,
                skip: 0,
            };
            timed(store.traverse(&query)).await?
        }
        Op::ShortestPath => {
            let query = PathQuery {
                from: id,
                to: Data::id(pick.below(data.records)),
                edges: out,
                max_depth: depth(access),
                weight: None,
            };
            timed(store.shortest_path(&query)).await?
        }
        _ => return Ok(Step::NotServed),
    };
    Ok(Step::Timed(took))
}
