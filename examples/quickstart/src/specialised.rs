//! The accesses a general-purpose store serves badly: host metrics aggregated by window
//! (time-series), products bought together (graph), click streams read newest-first
//! (wide-column) and relevance-ranked product text (search).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use polyroute::graph::{Direction, Edge, EdgeFilter, Node, PathQuery, TraverseQuery};
use polyroute::search::{SearchDocument, SearchFilter, SearchQuery};
use polyroute::time_series::{Aggregate, FieldValue, Point, TagFilter, WindowQuery};
use polyroute::wide_column::{SliceQuery, WideRow};
use polyroute::{Router, Value};

use crate::report::Report;

const SECOND_NS: i64 = 1_000_000_000;

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Host metrics: ten minutes of CPU samples every 10 s from two hosts, then the per-minute peak
/// of each host and each host's latest sample.
pub async fn cpu(router: &Router, report: &mut Report) -> anyhow::Result<()> {
    let cpu = router.time_series("cpu")?;
    let end = now_ns();
    let start = end - 600 * SECOND_NS;
    let mut points = Vec::new();
    for (h, host) in ["web-1", "web-2"].into_iter().enumerate() {
        for i in 0..60i64 {
            let load = 20.0 + 15.0 * h as f64 + (i % 12) as f64 * 4.0;
            points.push(Point {
                measurement: "cpu".to_owned(),
                tags: BTreeMap::from([("host".to_owned(), host.to_owned())]),
                fields: BTreeMap::from([
                    ("usage_user".to_owned(), FieldValue::Float(load)),
                    ("usage_system".to_owned(), FieldValue::Float(load / 4.0)),
                ]),
                timestamp: start + i * 10 * SECOND_NS,
            });
        }
    }
    let count = points.len();
    report
        .time("cpu", "write 10 min of samples", cpu.write(points), |_| {
            format!("{count} points")
        })
        .await?;
    let peaks = WindowQuery {
        measurement: "cpu".to_owned(),
        field: "usage_user".to_owned(),
        start,
        end,
        every: Duration::from_secs(60),
        aggregate: Aggregate::Max,
        group_by: vec!["host".to_owned()],
        tags: TagFilter::all(),
    };
    report
        .time(
            "cpu",
            "per-minute peak by host",
            cpu.window(&peaks),
            |groups| {
                let windows: usize = groups.iter().map(|g| g.windows.len()).sum();
                format!(
                    "{} hosts x {} windows",
                    groups.len(),
                    windows / groups.len().max(1)
                )
            },
        )
        .await?;
    report
        .time(
            "cpu",
            "latest sample per host",
            cpu.last("cpu", &TagFilter::all()),
            |last| format!("{} hosts", last.len()),
        )
        .await?;
    Ok(())
}

/// Click streams: one partition per user, clustered by time; the newest events are one ordered
/// read of one partition.
pub async fn clicks(router: &Router, report: &mut Report) -> anyhow::Result<()> {
    let clicks = router.wide_column("clicks")?;
    let now = now_ns();
    let pages = ["/", "/keyboards", "/p/KB-101", "/cart", "/checkout"];
    let rows: Vec<WideRow> = (0..50i64)
        .map(|i| WideRow {
            partition: vec![Value::Int(7)],
            clustering: vec![Value::Timestamp(now - (50 - i) * SECOND_NS)],
            cells: BTreeMap::from([(
                "page".to_owned(),
                Value::from(pages[usize::try_from(i).unwrap_or(0) % pages.len()]),
            )]),
        })
        .collect();
    report
        .time(
            "clicks",
            "append 50 events (batch)",
            clicks.put_batch(rows),
            |_| "ok",
        )
        .await?;
    let newest = SliceQuery::partition(vec![Value::Int(7)])
        .from(Bound::Unbounded)
        .descending()
        .limit(5);
    report
        .time(
            "clicks",
            "newest 5 events of user 7",
            clicks.slice(&newest),
            |rows| {
                rows.first()
                    .and_then(|row| row.cells.get("page"))
                    .map_or("none".to_owned(), |page| {
                        format!("{} rows, last {page}", rows.len())
                    })
            },
        )
        .await?;
    Ok(())
}

/// Products bought together: who else bought what, two hops out, and how two products connect.
pub async fn also_bought(router: &Router, report: &mut Report) -> anyhow::Result<()> {
    let graph = router.graph("also_bought")?;
    let products = ["KB-101", "KB-102", "KB-103", "MS-220", "MN-900", "CB-010"];
    let pairs = [
        ("KB-101", "MS-220", 41),
        ("KB-101", "CB-010", 12),
        ("MS-220", "MN-900", 9),
        ("KB-103", "MS-220", 5),
        ("KB-102", "CB-010", 17),
        ("CB-010", "MN-900", 3),
    ];
    let started = std::time::Instant::now();
    for id in products {
        graph.upsert_node(Node::new(id, "product")).await?;
    }
    for (a, b, times) in pairs {
        graph
            .upsert_edge(Edge::new(a, "bought_with", b).with("times", Value::Int(times)))
            .await?;
    }
    report.accesses.push(crate::report::Access {
        entity: "also_bought",
        access: "upsert 6 products, 6 edges",
        result: "ok".to_owned(),
        took: started.elapsed(),
    });
    let edges = EdgeFilter::new(Direction::Both).label("bought_with");
    let reach = TraverseQuery {
        start: "KB-101".to_owned(),
        edges: edges.clone(),
        max_depth: 2,
        limit: Some(20),
        skip: 0,
    };
    report
        .time(
            "also_bought",
            "2 hops from KB-101",
            graph.traverse(&reach),
            |visits| format!("{} products", visits.len()),
        )
        .await?;
    let path = PathQuery {
        from: "KB-103".to_owned(),
        to: "CB-010".to_owned(),
        edges,
        max_depth: 4,
        weight: None,
    };
    report
        .time(
            "also_bought",
            "shortest path KB-103 to CB-010",
            graph.shortest_path(&path),
            |found| {
                found
                    .as_ref()
                    .map_or("none".to_owned(), |p| p.nodes.join(" > "))
            },
        )
        .await?;
    Ok(())
}

/// Product text: relevance-ranked search with a price filter.
pub async fn product_search(router: &Router, report: &mut Report) -> anyhow::Result<()> {
    let search = router.search("product_search")?;
    let catalog = [
        (
            "KB-101",
            "Mechanical keyboard",
            "Hot-swap keyboard with brown switches",
            "keyboard",
            89.0,
        ),
        (
            "KB-102",
            "Compact keyboard",
            "Tenkeyless wireless keyboard for travel",
            "keyboard",
            59.0,
        ),
        (
            "KB-103",
            "Split keyboard",
            "Ergonomic split keyboard with tenting",
            "keyboard",
            189.0,
        ),
        (
            "MS-220",
            "Trackball",
            "Thumb trackball, wireless, quiet buttons",
            "mouse",
            24.5,
        ),
        (
            "MN-900",
            "27 inch monitor",
            "IPS monitor with USB-C and a keyboard hub",
            "monitor",
            279.0,
        ),
    ];
    let documents: Vec<SearchDocument> = catalog
        .iter()
        .map(|(id, name, description, category, price)| {
            SearchDocument::new(
                id,
                [
                    ("name", Value::from(*name)),
                    ("description", Value::from(*description)),
                    ("category", Value::from(*category)),
                    ("price", Value::Float(*price)),
                ],
            )
        })
        .collect();
    report
        .time(
            "product_search",
            "index 5 products",
            search.index(documents),
            |_| "ok",
        )
        .await?;
    report
        .time(
            "product_search",
            "make writes visible",
            search.refresh(),
            |_| "ok",
        )
        .await?;
    let mut query = SearchQuery::new("wireless keyboard");
    query
        .filters
        .push(SearchFilter::range("price", None, Some(100.0)));
    report
        .time(
            "product_search",
            "\"wireless keyboard\" under 100",
            search.query(&query),
            |results| {
                results
                    .hits
                    .iter()
                    .map(|hit| format!("{} ({:.2})", hit.id, hit.score))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        )
        .await?;
    Ok(())
}
