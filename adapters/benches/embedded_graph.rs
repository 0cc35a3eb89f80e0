//! The embedded graph engine on a generated power-law graph: upserts, neighbours, 2- and 3-hop
//! traversals and shortest paths.
//!
//! The graph grows by preferential attachment (each new node links to `LINKS` nodes picked in
//! proportion to their degree), so a few hubs have thousands of edges and most nodes a handful,
//! as in social and citation graphs. Writes use `synchronous = "normal"`: with `"full"` every
//! write waits for an fsync and the disk, not the engine, sets the pace.

// criterion_group! generates an undocumented public function; a benchmark may unwrap.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use polyroute_adapters::embedded::graph::{Config, EmbeddedGraph, Synchronous};
use polyroute_adapters::kinds::graph::{
    Direction, Edge, EdgeFilter, GraphSettings, GraphStore, Node, PathQuery, TraverseQuery,
};
use polyroute_adapters::registry::ConnectContext;
use polyroute_adapters::{EntityHandle, EntitySettings, EntitySpec, Store};
use tokio::runtime::Runtime;

const NODES: usize = 10_000;
const LINKS: usize = 4;

/// A small deterministic generator, so every run measures the same graph.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

fn id(i: usize) -> String {
    format!("n{i}")
}

/// Preferential attachment: every new node links to `LINKS` earlier nodes, each picked as an
/// end of a random existing edge, so well-linked nodes gain links fastest.
fn power_law_edges(rng: &mut Rng) -> Vec<(usize, usize)> {
    let mut edges = Vec::with_capacity(NODES * LINKS);
    let mut ends = vec![0usize, 1];
    edges.push((1, 0));
    for node in 2..NODES {
        for _ in 0..LINKS {
            let target = ends[rng.below(ends.len())];
            if target != node {
                edges.push((node, target));
                ends.extend([node, target]);
            }
        }
    }
    edges
}

fn open(rt: &Runtime, dir: &std::path::Path) -> Arc<dyn GraphStore> {
    rt.block_on(async {
        let config = Config {
            path: Some(dir.join("graph")),
            synchronous: Some(Synchronous::Normal),
            cache_size: None,
        };
        let store = EmbeddedGraph::open(config, &ConnectContext::default())
            .await
            .unwrap();
        let spec =
            EntitySpec::new("bench", EntitySettings::Graph(GraphSettings::default())).unwrap();
        match store.open(&spec).await.unwrap() {
            EntityHandle::Graph(graph) => graph,
            _ => unreachable!("a graph store opens graph handles"),
        }
    })
}

fn load(rt: &Runtime, graph: &dyn GraphStore, edges: &[(usize, usize)], rng: &mut Rng) {
    rt.block_on(async {
        for i in 0..NODES {
            graph
                .upsert_node(Node::new(id(i), "user").with("rank", i as i64))
                .await
                .unwrap();
        }
        for &(from, to) in edges {
            let weight = 1 + rng.below(10) as i64;
            let edge = Edge::new(id(from), "follows", id(to)).with("w", weight);
            graph.upsert_edge(edge).await.unwrap();
        }
    });
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = open(&rt, dir.path());
    let graph: &dyn GraphStore = &*store;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let edges = power_law_edges(&mut rng);
    load(&rt, graph, &edges, &mut rng);
    let (out, both) = (
        &EdgeFilter::new(Direction::Out),
        &EdgeFilter::new(Direction::Both),
    );

    let mut group = c.benchmark_group(format!(
        "embedded_graph/{NODES}_nodes_{}_edges",
        edges.len()
    ));
    group.bench_function("upsert_node", |b| {
        let mut next = NODES;
        b.to_async(&rt).iter(|| {
            next += 1;
            let node = Node::new(id(next), "user").with("rank", 1);
            async move { graph.upsert_node(node).await.unwrap() }
        })
    });
    group.bench_function("upsert_edge", |b| {
        b.to_async(&rt).iter_batched(
            || {
                let (from, to) = (rng.below(NODES), rng.below(NODES));
                Edge::new(id(from), "likes", id(to)).with("w", 1)
            },
            |edge| async move { graph.upsert_edge(edge).await.unwrap() },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("get_node", |b| {
        b.to_async(&rt).iter_batched(
            || id(rng.below(NODES)),
            |node| async move { black_box(graph.get_node(&node).await.unwrap()) },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("neighbors_out", |b| {
        b.to_async(&rt).iter_batched(
            || id(rng.below(NODES)),
            |node| async move { black_box(graph.neighbors(&node, out, None).await.unwrap()) },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("degree_both_of_the_top_hub", |b| {
        b.to_async(&rt)
            .iter(|| async move { black_box(graph.degree(&id(0), both).await.unwrap()) })
    });
    for depth in [2, 3] {
        group.bench_function(format!("traverse_{depth}_hops_out"), |b| {
            b.to_async(&rt).iter_batched(
                || TraverseQuery {
                    start: id(rng.below(NODES)),
                    edges: out.clone(),
                    max_depth: depth,
                    limit: None,
                    skip: 0,
                },
                |query| async move { black_box(graph.traverse(&query).await.unwrap()) },
                BatchSize::SmallInput,
            )
        });
    }
    group.bench_function("traverse_2_hops_both_limit_1000", |b| {
        b.to_async(&rt).iter_batched(
            || TraverseQuery {
                start: id(rng.below(NODES)),
                edges: both.clone(),
                max_depth: 2,
                limit: Some(1000),
                skip: 0,
            },
            |query| async move { black_box(graph.traverse(&query).await.unwrap()) },
            BatchSize::SmallInput,
        )
    });
    for (name, weight) in [
        ("shortest_path_hops", None),
        ("shortest_path_weighted", Some("w")),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_batched(
                || PathQuery {
                    from: id(rng.below(NODES)),
                    to: id(rng.below(NODES)),
                    edges: both.clone(),
                    max_depth: 6,
                    weight: weight.map(str::to_owned),
                },
                |query| async move { black_box(graph.shortest_path(&query).await.unwrap()) },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
