//! The record-shaped accesses: orders (relational), sessions (key-value), products (document).

use std::time::Instant;

use polyroute::document::{Filter, FindQuery, Order};
use polyroute::{Router, Value};
use serde_json::json;

use crate::report::{Access, Report};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS customers (
    id    BIGINT PRIMARY KEY,
    name  TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS orders (
    id          BIGINT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    total_cents BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS order_lines (
    order_id    BIGINT NOT NULL REFERENCES orders(id),
    sku         TEXT NOT NULL,
    quantity    BIGINT NOT NULL,
    price_cents BIGINT NOT NULL,
    PRIMARY KEY (order_id, sku)
);
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id);
";

/// Orders: the system of record, written in one transaction and read with a join.
pub async fn orders(router: &Router, report: &mut Report) -> anyhow::Result<()> {
    let orders = router.relational("orders")?;
    report
        .time(
            "orders",
            "create schema (idempotent)",
            orders.execute_script(SCHEMA),
            |_| "ok",
        )
        .await?;
    report
        .time(
            "orders",
            "upsert customer 7",
            orders.execute(
                "INSERT INTO customers (id, name, email) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                &[
                    Value::Int(7),
                    "Ada Lovelace".into(),
                    "ada@example.com".into(),
                ],
            ),
            |n| format!("{n} row"),
        )
        .await?;

    let lines: [(&str, i64, i64); 2] = [("KB-101", 1, 8900), ("MS-220", 2, 2450)];
    let total: i64 = lines.iter().map(|(_, qty, price)| qty * price).sum();
    let started = Instant::now();
    let mut tx = orders.begin().await?;
    let next = tx
        .query("SELECT COALESCE(MAX(id), 0) + 1 AS id FROM orders", &[])
        .await?;
    let order_id = next.get(0, "id").and_then(Value::as_i64).unwrap_or(1);
    tx.execute(
        "INSERT INTO orders (id, customer_id, total_cents) VALUES ($1, $2, $3)",
        &[Value::Int(order_id), Value::Int(7), Value::Int(total)],
    )
    .await?;
    for (sku, quantity, price) in lines {
        tx.execute(
            "INSERT INTO order_lines (order_id, sku, quantity, price_cents) VALUES ($1, $2, $3, $4)",
            &[Value::Int(order_id), sku.into(), Value::Int(quantity), Value::Int(price)],
        )
        .await?;
    }
    tx.commit().await?;
    report.accesses.push(Access {
        entity: "orders",
        access: "place order (transaction)",
        result: format!("order {order_id}, {} lines", lines.len()),
        took: started.elapsed(),
    });

    report
        .time(
            "orders",
            "orders of customer 7 (join)",
            orders.query(
                "SELECT o.id, o.total_cents, COUNT(l.sku) AS lines
                 FROM orders o JOIN order_lines l ON l.order_id = o.id
                 WHERE o.customer_id = $1
                 GROUP BY o.id, o.total_cents ORDER BY o.id",
                &[Value::Int(7)],
            ),
            |rows| format!("{} order(s)", rows.len()),
        )
        .await?;
    Ok(())
}

/// Sessions: small values by key that expire on their own, and a counter.
pub async fn sessions(router: &Router, report: &mut Report) -> anyhow::Result<()> {
    let sessions = router.key_value("sessions")?;
    let session = json!({"user": 7, "cart": ["KB-101"], "locale": "en-GB"}).to_string();
    report
        .time(
            "sessions",
            "create session (ttl from config)",
            sessions.set("s:7f3a", session.into_bytes()),
            |_| {
                format!(
                    "expires in {:?}",
                    sessions.default_ttl().unwrap_or_default()
                )
            },
        )
        .await?;
    report
        .time("sessions", "read session", sessions.get("s:7f3a"), |v| {
            v.as_ref()
                .map_or("missing".to_owned(), |b| format!("{} bytes", b.len()))
        })
        .await?;
    report
        .time(
            "sessions",
            "count page view",
            sessions.increment("views:s:7f3a", 1),
            |n| format!("view {n}"),
        )
        .await?;
    report
        .time(
            "sessions",
            "read 3 sessions at once",
            sessions.get_many(["s:7f3a", "s:gone", "s:none"]),
            |found| format!("{} of 3 found", found.iter().flatten().count()),
        )
        .await?;
    Ok(())
}

/// Products: nested documents with optional fields, filtered and sorted by indexed fields.
pub async fn products(router: &Router, report: &mut Report) -> anyhow::Result<()> {
    let products = router.document("products")?;
    let catalog = [
        (
            "KB-101",
            json!({"name": "Mechanical keyboard", "category": "keyboard", "price": 89.0,
                          "specs": {"layout": "ISO", "switches": "brown"}, "stock": 12}),
        ),
        (
            "KB-102",
            json!({"name": "Compact keyboard", "category": "keyboard", "price": 59.0,
                          "specs": {"layout": "ANSI"}, "stock": 0}),
        ),
        (
            "KB-103",
            json!({"name": "Split keyboard", "category": "keyboard", "price": 189.0,
                          "specs": {"layout": "ISO", "split": true}, "stock": 3}),
        ),
        (
            "MS-220",
            json!({"name": "Trackball", "category": "mouse", "price": 24.5, "stock": 40}),
        ),
        (
            "MN-900",
            json!({"name": "27\" monitor", "category": "monitor", "price": 279.0,
                          "specs": {"panel": "IPS"}, "stock": 5, "discontinued": false}),
        ),
    ];
    let started = Instant::now();
    for (id, product) in catalog.iter().cloned() {
        products.put(id, product).await?;
    }
    report.accesses.push(Access {
        entity: "products",
        access: "put 5 products",
        result: "ok".to_owned(),
        took: started.elapsed(),
    });

    let query =
        FindQuery::new(Filter::eq("category", "keyboard")?.and(Filter::lt("price", 100.0)?))
            .sort_by("price", Order::Ascending)?
            .limit(10);
    report
        .time(
            "products",
            "keyboards under 100, by price",
            products.find(&query),
            |hits| {
                hits.iter()
                    .map(|hit| hit.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        )
        .await?;
    report
        .time(
            "products",
            "count ISO layouts (nested field)",
            products.count(&Filter::eq("specs.layout", "ISO")?),
            |n| format!("{n} products"),
        )
        .await?;
    report
        .time("products", "get KB-103", products.get("KB-103"), |doc| {
            doc.as_ref()
                .and_then(|d| d.get("name"))
                .map_or("missing".to_owned(), ToString::to_string)
        })
        .await?;
    Ok(())
}
