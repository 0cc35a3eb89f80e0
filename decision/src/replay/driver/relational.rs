//! Relational (SQLite): a `rows` table with indexes on (grp, ts) and attr, a `groups` table to
//! join, and an `edges` table walked by recursive queries.

use polyroute_adapters::kinds::relational::RelationalStore;
use polyroute_adapters::{StoreError, Value};

use super::{depth, timed, Step};
use crate::replay::data::{Data, Picker, BASE_NS, ROWS_PER_GROUP, STEP_NS};
use crate::spec::{Access, Op};

const SCHEMA: &str = "
CREATE TABLE rows (id TEXT PRIMARY KEY, grp INTEGER NOT NULL, ts INTEGER NOT NULL,
                   attr INTEGER NOT NULL, n REAL NOT NULL, body TEXT NOT NULL, payload TEXT NOT NULL);
CREATE INDEX rows_grp_ts ON rows (grp, ts);
CREATE INDEX rows_attr ON rows (attr);
CREATE TABLE groups (grp INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE edges (src INTEGER NOT NULL, dst INTEGER NOT NULL, PRIMARY KEY (src, dst));
";

pub(super) async fn load(store: &dyn RelationalStore, data: &Data) -> Result<(), StoreError> {
    store.execute_script(SCHEMA).await?;
    let mut rows = Vec::new();
    let mut edges = Vec::new();
    for i in 0..data.records {
        // Every value is a number or generated text without quotes: safe to inline.
        rows.push(format!(
            "('{}', {}, {}, {}, {i}, '{}', '{}')",
            Data::id(i),
            Data::group(i),
            Data::time(i),
            Data::attribute(i),
            Data::text(i),
            data.payload
        ));
        for n in data.neighbours(i) {
            edges.push(format!("({i}, {n})"));
        }
        if rows.len() >= 500 || i + 1 == data.records {
            store
                .execute_script(&format!(
                    "INSERT INTO rows VALUES {}; INSERT OR IGNORE INTO edges VALUES {};",
                    rows.join(", "),
                    edges.join(", ")
                ))
                .await?;
            rows.clear();
            edges.clear();
        }
    }
    let groups: Vec<String> = (0..data.groups())
        .map(|g| format!("({g}, 'group {g}')"))
        .collect();
    for chunk in groups.chunks(500) {
        store
            .execute_script(&format!("INSERT INTO groups VALUES {};", chunk.join(", ")))
            .await?;
    }
    Ok(())
}

fn text(value: impl Into<String>) -> Value {
    Value::Text(value.into())
}

pub(super) async fn run(
    store: &dyn RelationalStore,
    data: &Data,
    access: &Access,
    pick: &mut Picker,
    step: usize,
) -> Result<Step, StoreError> {
    let i = pick.below(data.records);
    let id = text(Data::id(i));
    let grp = Value::Int(Data::group(i));
    let insert = "INSERT OR REPLACE INTO rows VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let row = |id: String, ts: i64| {
        vec![
            text(id),
            Value::Int(Data::group(i)),
            Value::Int(ts),
            Value::Int(Data::attribute(i)),
            Value::Float(step as f64),
            text(Data::text(i)),
            text(data.payload.clone()),
        ]
    };
    let end = BASE_NS + ROWS_PER_GROUP as i64 * STEP_NS;
    let took = match access.op {
        Op::Get => timed(store.query("SELECT * FROM rows WHERE id = $1", &[id])).await?,
        Op::Put => timed(store.execute(insert, &row(Data::id(i), Data::time(i)))).await?,
        Op::Append => {
            let fresh = Data::id(data.records + step);
            timed(store.execute(insert, &row(fresh, end + step as i64))).await?
        }
        Op::Update => {
            timed(store.execute(
                "UPDATE rows SET n = n + 1, body = $2 WHERE id = $1",
                &[id, text(Data::text(step))],
            ))
            .await?
        }
        Op::Counter => {
            timed(store.execute("UPDATE rows SET n = n + 1 WHERE id = $1", &[id])).await?
        }
        Op::Delete | Op::Expire => {
            let took = timed(store.execute("DELETE FROM rows WHERE id = $1", &[id])).await?;
            store.execute(insert, &row(Data::id(i), Data::time(i))).await?;
            took
        }
        Op::BatchGet => {
            let ids: Vec<Value> = (0..10).map(|_| text(Data::id(pick.below(data.records)))).collect();
            timed(store.query(
                "SELECT * FROM rows WHERE id IN ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &ids,
            ))
            .await?
        }
        Op::RangeScan => {
            timed(store.query(
                "SELECT * FROM rows WHERE grp = $1 AND ts >= $2 AND ts < $3 ORDER BY ts",
                &[grp, Value::Int(BASE_NS), Value::Int(BASE_NS + 20 * STEP_NS)],
            ))
            .await?
        }
        Op::PartitionScan => {
            timed(store.query("SELECT * FROM rows WHERE grp = $1 ORDER BY ts", &[grp])).await?
        }
        Op::Latest => {
            timed(store.query(
                "SELECT * FROM rows WHERE grp = $1 ORDER BY ts DESC LIMIT 1",
                &[grp],
            ))
            .await?
        }
        Op::WindowAggregate => {
            timed(store.query(
                "SELECT grp, ts / $3 AS w, avg(n) FROM rows WHERE ts >= $1 AND ts < $2 GROUP BY grp, w",
                &[Value::Int(BASE_NS), Value::Int(end), Value::Int(10 * STEP_NS)],
            ))
            .await?
        }
        Op::Aggregate => {
            timed(store.query(
                "SELECT attr % 10 AS bucket, count(*), avg(n) FROM rows GROUP BY bucket",
                &[],
            ))
            .await?
        }
        Op::Join => {
            timed(store.query(
                "SELECT r.id, r.n, g.name FROM rows r JOIN groups g ON g.grp = r.grp WHERE r.attr = $1 LIMIT 50",
                &[Value::Int(Data::attribute(i))],
            ))
            .await?
        }
        Op::Filter => {
            timed(store.query(
                "SELECT * FROM rows WHERE attr = $1 LIMIT 100",
                &[Value::Int(Data::attribute(i))],
            ))
            .await?
        }
        Op::Transaction => {
            let others: Vec<Value> = (0..2).map(|_| text(Data::id(pick.below(data.records)))).collect();
            let fresh = Data::id(data.records + step);
            let started = std::time::Instant::now();
            let mut tx = store.begin().await?;
            tx.execute("UPDATE rows SET n = n - 1 WHERE id = $1", &[id]).await?;
            for other in others {
                tx.execute("UPDATE rows SET n = n + 1 WHERE id = $1", &[other]).await?;
            }
            tx.execute(insert, &row(fresh, end + step as i64)).await?;
            tx.commit().await?;
            started.elapsed()
        }
        Op::Traverse => {
            timed(store.query(
                "WITH RECURSIVE walk(node, d) AS (SELECT $1, 0 UNION SELECT e.dst, w.d + 1 FROM edges e JOIN walk w ON e.src = w.node WHERE w.d < $2) SELECT count(DISTINCT node) FROM walk",
                &[Value::Int(i as i64), Value::Int(i64::from(depth(access)))],
            ))
            .await?
        }
        Op::ShortestPath => {
            let target = pick.below(data.records) as i64;
            timed(store.query(
                "WITH RECURSIVE walk(node, d) AS (SELECT $1, 0 UNION SELECT e.dst, w.d + 1 FROM edges e JOIN walk w ON e.src = w.node WHERE w.d < $2) SELECT min(d) FROM walk WHERE node = $3",
                &[Value::Int(i as i64), Value::Int(i64::from(depth(access))), Value::Int(target)],
            ))
            .await?
        }
        Op::FullText => {
            timed(store.query(
                "SELECT id FROM rows WHERE body LIKE $1 LIMIT 10",
                &[text(format!("%{}%", Data::word(step)))],
            ))
            .await?
        }
    };
    Ok(Step::Timed(took))
}
