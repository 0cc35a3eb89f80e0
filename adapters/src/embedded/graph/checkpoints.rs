//! Loading an entity's topology (its checkpoint, then its change log replayed), writing
//! checkpoints in the background, and converting entities stored in the first format.
//!
//! A checkpoint is taken under the topology's lock when its arrays are rebuilt (a few copies;
//! the arrays themselves are shared), then written by one background thread per entity, off
//! every caller's path. While one is being written, newer ones replace each other in a single
//! slot, so a bulk load that rebuilds often writes only the latest. Once a checkpoint file is
//! on disk, one synced commit records it and removes the log records it covers.

use std::fs;
use std::sync::Arc;

use fjall::PartitionCreateOptions;

use super::engine::{log_key, map_error, EntityGraph, Partitions, Shared};
use super::topology::file::{self, Checkpoint};
use super::topology::{log, Graph};
use crate::{Result, StoreError};

/// One entity's checkpoint writer: the newest checkpoint waiting, and whether a thread is
/// writing.
#[derive(Default)]
pub(super) struct Pending {
    next: Option<Checkpoint>,
    writing: bool,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("writing", &self.writing)
            .finish_non_exhaustive()
    }
}

/// The metadata key naming entity `name`'s checkpoint.
fn meta_key(name: &str) -> Vec<u8> {
    format!("checkpoint:{name}").into_bytes()
}

/// The generation of entity `name`'s checkpoint, if it has one.
fn generation(entity: &EntityGraph) -> Result<Option<u64>> {
    let stored = entity
        .engine
        .meta
        .get(meta_key(&entity.name))
        .map_err(map_error)?;
    match stored {
        None => Ok(None),
        Some(bytes) => match <[u8; 8]>::try_from(&*bytes) {
            Ok(bytes) => Ok(Some(u64::from_le_bytes(bytes))),
            Err(_) => Err(StoreError::backend(format!(
                "the checkpoint record of graph `{}` is damaged",
                entity.name
            ))),
        },
    }
}

/// Reads entity `entity`'s topology from storage: its checkpoint, then every change-log record
/// after it. Returns the checkpoint to write as well when the log replayed was long.
pub(super) fn load(entity: &EntityGraph) -> Result<(Graph, Option<Checkpoint>)> {
    let generation = generation(entity)?;
    remove_leftovers(entity, generation);
    let mut graph = match generation {
        None => Graph::default(),
        Some(generation) => Graph::from_checkpoint(file::read(&file::path(
            &entity.engine.checkpoints,
            &entity.name,
            generation,
        ))?)?,
    };
    let snapshot = entity.engine.keyspace.read_tx();
    for item in snapshot.range(&entity.parts.log, log_key(graph.seq() + 1)..) {
        let (key, value) = item.map_err(map_error)?;
        let seq = <[u8; 8]>::try_from(&*key)
            .map(u64::from_be_bytes)
            .map_err(|_| StoreError::backend("a graph change-log key is damaged"))?;
        log::decode(&value, |op| graph.apply(&op))?;
        graph.set_seq(seq);
    }
    let checkpoint = graph.settle();
    Ok((graph, checkpoint))
}

/// Removes checkpoint files of `entity` other than generation `keep`: left by a crash between
/// writing one and recording it, or before the previous one was removed.
fn remove_leftovers(entity: &EntityGraph, keep: Option<u64>) {
    let Ok(files) = fs::read_dir(&entity.engine.checkpoints) else {
        return;
    };
    let prefix = format!("{}.", entity.name);
    for file in files.flatten() {
        let name = file.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Some((number, extension)) = rest.split_once('.') else {
            continue;
        };
        let Ok(number) = number.parse::<u64>() else {
            continue;
        };
        if matches!(extension, "topology" | "partial") && Some(number) != keep {
            let _ = fs::remove_file(file.path());
        }
    }
}

/// Hands `checkpoint` to entity `entity`'s writer thread, starting one if none runs.
pub(super) fn submit(entity: &EntityGraph, checkpoint: Checkpoint) {
    let shared = Arc::clone(&entity.shared);
    {
        let mut pending = lock(&shared);
        pending.next = Some(checkpoint);
        if pending.writing {
            return;
        }
        pending.writing = true;
    }
    let writer = EntityGraph {
        engine: Arc::clone(&entity.engine),
        name: entity.name.clone(),
        parts: entity.parts.clone(),
        shared,
    };
    let spawned = std::thread::Builder::new()
        .name("graph-checkpoint".into())
        .spawn(move || loop {
            let next = {
                let mut pending = lock(&writer.shared);
                match pending.next.take() {
                    Some(next) => next,
                    None => {
                        pending.writing = false;
                        return;
                    }
                }
            };
            if let Err(err) = write(&writer, &next) {
                // The change log still holds everything: the next rebuild tries again.
                tracing::warn!(entity = %writer.name, %err, "cannot write a graph checkpoint");
            }
        });
    if spawned.is_err() {
        lock(&entity.shared).writing = false;
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Pending> {
    shared
        .pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes `checkpoint` as the entity's next generation, records it and cuts the log.
fn write(entity: &EntityGraph, checkpoint: &Checkpoint) -> Result<()> {
    let previous = generation(entity)?;
    let next = previous.map_or(1, |g| g + 1);
    file::write(&entity.engine.checkpoints, &entity.name, next, checkpoint)?;
    let engine = &entity.engine;
    let mut tx = engine.write_synced();
    tx.insert(&engine.meta, meta_key(&entity.name), next.to_le_bytes());
    let covered: Vec<fjall::Slice> = tx
        .range(&entity.parts.log, ..=log_key(checkpoint.seq))
        .map(|item| item.map(|(key, _)| key))
        .collect::<std::result::Result<_, _>>()
        .map_err(map_error)?;
    for key in covered {
        tx.remove(&entity.parts.log, key);
    }
    tx.commit().map_err(map_error)?;
    remove_leftovers(entity, Some(next));
    Ok(())
}

/// Converts entity `entity` from the first format, if it is stored in it: the topology is
/// rebuilt from its `out` partition and written as a checkpoint, the properties of edges that
/// have some copied to `props`, and the old partitions dropped (`out` last, so a crash
/// midway converts again at the next open).
pub(super) fn convert(entity: &EntityGraph) -> Result<()> {
    let engine = &entity.engine;
    let out_name = format!("{}.out", entity.name);
    if !engine.keyspace.partition_exists(&out_name) {
        return Ok(());
    }
    let open = |name: &str| {
        engine
            .keyspace
            .open_partition(name, PartitionCreateOptions::default())
            .map_err(map_error)
    };
    let out = open(&out_name)?;
    let into = open(&format!("{}.in", entity.name))?;
    let Partitions { nodes, props, .. } = &entity.parts;
    let snapshot = engine.keyspace.read_tx();
    let mut graph = Graph::build(
        snapshot.keys(nodes).map(|k| k.map_err(map_error)),
        snapshot.keys(&out).map(|k| k.map_err(map_error)),
    )?;
    let empty = super::codec::encode_edge(&Default::default())?;
    let mut tx = engine.write_synced();
    for item in snapshot.iter(&out) {
        let (key, value) = item.map_err(map_error)?;
        if *value != *empty {
            tx.insert(props, key, value);
        }
    }
    tx.commit().map_err(map_error)?;
    let checkpoint = graph.rebuild();
    write(entity, &checkpoint)?;
    drop(snapshot);
    engine.keyspace.delete_partition(into).map_err(map_error)?;
    engine.keyspace.delete_partition(out).map_err(map_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::time::Duration;

    use fjall::PersistMode;

    use super::*;
    use crate::embedded::graph::engine::Engine;
    use crate::embedded::graph::{codec, keys};
    use crate::kinds::graph::{Direction, Edge, EdgeFilter, Node, TraverseQuery};
    use crate::Value;

    fn open(folder: &Path) -> (Arc<Engine>, EntityGraph) {
        let engine = Arc::new(
            Engine::open(Some(folder.to_owned()), Some(PersistMode::Buffer), 1 << 20).unwrap(),
        );
        let graph = EntityGraph::open(Arc::clone(&engine), "g").unwrap();
        (engine, graph)
    }

    /// Waits for the entity's checkpoint writer to finish, then closes the engine.
    fn close(engine: Arc<Engine>, graph: EntityGraph) {
        while lock(&graph.shared).writing {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(graph);
        let mut engine = engine;
        loop {
            match Arc::try_unwrap(engine) {
                Ok(engine) => return drop(engine),
                Err(still) => engine = still,
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// What the tests compare before and after reopening.
    fn answers(graph: &EntityGraph) -> Vec<u64> {
        let mut answers = Vec::new();
        for start in [0, 7, 123, 2_999] {
            for direction in [Direction::Out, Direction::In, Direction::Both] {
                let query = TraverseQuery {
                    start: format!("n{start}"),
                    edges: EdgeFilter::new(direction),
                    max_depth: 2,
                    limit: None,
                    skip: 0,
                };
                answers.push(graph.count_reachable(&query).unwrap_or(u64::MAX));
                answers.push(graph.degree(&query.start, &query.edges).unwrap_or(u64::MAX));
            }
        }
        answers
    }

    fn log_records(graph: &EntityGraph) -> usize {
        graph
            .engine
            .keyspace
            .read_tx()
            .keys(&graph.parts.log)
            .count()
    }

    #[test]
    fn reopening_reads_the_checkpoint_and_replays_the_log_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("graph");
        let (engine, graph) = open(&folder);
        let nodes: Vec<Node> = (0..3_000)
            .map(|i| Node::new(format!("n{i}"), "n"))
            .collect();
        graph.upsert_batch(&nodes, &[]).unwrap();
        for batch in 0..15u64 {
            let edges: Vec<Edge> = (0..1_000u64)
                .map(|k| {
                    let i = batch * 1_000 + k;
                    Edge::new(
                        format!("n{}", i % 3_000),
                        "k",
                        format!("n{}", (i * 7 + batch) % 3_000),
                    )
                })
                .collect();
            graph.upsert_batch(&[], &edges).unwrap();
        }
        // A tail of single changes after the last checkpoint, one edge with properties.
        graph
            .upsert_edge(&Edge::new("n0", "w", "n1").with("weight", 2.5))
            .unwrap();
        assert!(graph.delete_node("n5").unwrap());
        graph.delete_edge("n7", "k", "n49").unwrap();
        let before = answers(&graph);
        close(engine, graph);
        assert!(
            fs::read_dir(folder.join("topology")).unwrap().count() == 1,
            "one checkpoint file, the older ones removed"
        );
        fs::write(folder.join("topology/g.99.partial"), b"left by a crash").unwrap();

        let (engine, graph) = open(&folder);
        assert!(graph.snapshot().unwrap().graph.seq() > 0);
        assert!(
            log_records(&graph) < 15,
            "the log was cut at the checkpoint"
        );
        assert_eq!(answers(&graph), before);
        let weighted = graph
            .neighbors("n0", &EdgeFilter::new(Direction::Out).label("w"), None)
            .unwrap();
        assert_eq!(
            weighted[0].edge.properties,
            BTreeMap::from([("weight".to_owned(), Value::Float(2.5))])
        );
        assert!(graph.get_node("n5").unwrap().is_none());
        assert!(
            !folder.join("topology/g.99.partial").exists(),
            "leftovers are removed"
        );
        close(engine, graph);
    }

    #[test]
    fn a_damaged_checkpoint_is_refused_not_half_read() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("graph");
        let (engine, graph) = open(&folder);
        let nodes: Vec<Node> = (0..5_000)
            .map(|i| Node::new(format!("n{i}"), "n"))
            .collect();
        graph.upsert_batch(&nodes, &[]).unwrap();
        close(engine, graph);
        let file = fs::read_dir(folder.join("topology"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut bytes = fs::read(&file).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        fs::write(&file, bytes).unwrap();
        let engine = Arc::new(Engine::open(Some(folder), None, 1 << 20).unwrap());
        let err = EntityGraph::open(engine, "g").unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    /// A folder written by a build of the first format: nodes, and each edge twice (`out` by
    /// source, `in` by target) with its properties.
    #[test]
    fn converts_an_entity_of_the_first_format() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("graph");
        {
            let keyspace = fjall::Config::new(&folder).open_transactional().unwrap();
            let part = |name: &str| {
                keyspace
                    .open_partition(name, PartitionCreateOptions::default())
                    .unwrap()
            };
            let (meta, nodes, out, into) =
                (part("$meta"), part("g.nodes"), part("g.out"), part("g.in"));
            let mut tx = keyspace.write_tx();
            tx.insert(&meta, b"format", super::super::engine::FIRST_FORMAT);
            for id in ["a", "b", "c"] {
                tx.insert(
                    &nodes,
                    id,
                    codec::encode_node("n", &BTreeMap::new()).unwrap(),
                );
            }
            let props = BTreeMap::from([("w".to_owned(), Value::Int(3))]);
            for (from, to, props) in [("a", "b", props), ("b", "c", BTreeMap::new())] {
                let value = codec::encode_edge(&props).unwrap();
                tx.insert(&out, keys::encode(&[from, "k", to]), value.clone());
                tx.insert(&into, keys::encode(&[to, "k", from]), value);
            }
            tx.commit().unwrap();
            keyspace.persist(PersistMode::SyncAll).unwrap();
        }
        let (engine, graph) = open(&folder);
        assert!(!engine.keyspace.partition_exists("g.out"));
        assert!(!engine.keyspace.partition_exists("g.in"));
        let out = EdgeFilter::new(Direction::Out);
        let reach = TraverseQuery {
            start: "a".into(),
            edges: out.clone(),
            max_depth: 3,
            limit: None,
            skip: 0,
        };
        assert_eq!(graph.count_reachable(&reach).unwrap(), 2);
        let next = graph.neighbors("a", &out, None).unwrap();
        assert_eq!(next[0].edge.properties.get("w"), Some(&Value::Int(3)));
        assert!(graph.neighbors("b", &out, None).unwrap()[0]
            .edge
            .properties
            .is_empty());
        close(engine, graph);
        // And it opens as the current format from then on.
        let (engine, graph) = open(&folder);
        assert_eq!(graph.count_reachable(&reach).unwrap(), 2);
        close(engine, graph);
    }
}
