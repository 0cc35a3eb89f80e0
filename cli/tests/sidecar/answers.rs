//! Correct answers: a read token can never change data through a named statement, and
//! wide-column writes keep last-write-wins with the timestamps an HTTP client sends.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::harness::{client, json, Sidecar, STORES};

const APP_TOKEN: &str = "app-token-0123456789abcdef";
const READER_TOKEN: &str = "reader-token-0123456789abcdef";

/// [`STORES`] plus `queries` (more lines of `[sidecar.queries.orders]`, the table `STORES`
/// ends with), an app token that writes and a reader that may read every entity.
fn config(queries: &str) -> String {
    format!(
        r#"{STORES}{queries}

[[sidecar.tokens]]
name = "app"
token = "${{APP_TOKEN}}"
read = ["*"]
write = ["*"]

[[sidecar.tokens]]
name = "reader"
token = "${{READER_TOKEN}}"
read = ["*"]
"#
    )
}

const TOKENS: [(&str, &str); 2] = [("APP_TOKEN", APP_TOKEN), ("READER_TOKEN", READER_TOKEN)];

fn start(dir: &Path, queries: &str) -> Sidecar {
    Sidecar::start_in(dir, &config(queries), &TOKENS)
}

/// Runs `polyroute serve` on `config` in `dir`, expecting it to refuse to start; returns its
/// exit code and standard error.
fn refused_start(dir: &Path, config: &str) -> (Option<i32>, String) {
    let path = dir.join("polyroute.toml");
    std::fs::write(&path, config).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_polyroute"));
    command
        .args(["serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(&path)
        .env("RUST_LOG", "off");
    for (name, value) in TOKENS {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains("listening"),
        "the sidecar started: {stdout}"
    );
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn post(sidecar: &Sidecar, token: &str, path: &str, body: serde_json::Value) -> (u16, Value) {
    json(
        client()
            .post(sidecar.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn orders_of(sidecar: &Sidecar, customer: &str) -> Value {
    let (status, body) = post(
        sidecar,
        READER_TOKEN,
        "/v1/relational/orders/queries/by_customer",
        json!({"params": [customer]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["rows"].clone()
}

#[tokio::test]
async fn a_read_statement_that_writes_is_refused_at_startup_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let sidecar = start(dir.path(), "");
        let (status, body) = post(
            &sidecar,
            APP_TOKEN,
            "/v1/relational/orders/statements/add",
            json!({"params": [1, "ann", 12.5]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    // Each would run with the reader's token if the sidecar accepted it as a read.
    for (statement, why) in [
        (
            "DELETE FROM orders WHERE customer = $1",
            "deletes from `orders`",
        ),
        (
            "DELETE FROM orders WHERE customer = $1 RETURNING id",
            "deletes from `orders`",
        ),
        (
            "UPDATE orders SET total = 0 RETURNING id",
            "updates `orders`",
        ),
        ("ATTACH DATABASE 'other.sqlite' AS other", "ATTACH"),
        ("PRAGMA query_only = 0", "PRAGMA query_only"),
    ] {
        let (code, stderr) =
            refused_start(dir.path(), &config(&format!("purge = {statement:?}\n")));
        assert_eq!(code, Some(2), "a config mistake: {statement}");
        assert!(
            stderr.contains("sidecar.queries.orders.purge: the statement does not only read"),
            "{statement}: {stderr}"
        );
        assert!(stderr.contains(why), "{statement}: {stderr}");
        assert!(
            stderr.contains("write = true") && stderr.contains("/statements/purge"),
            "the fix is named: {stderr}"
        );
    }
    assert!(!dir.path().join("other.sqlite").exists(), "ATTACH ran");
    // The row is still there: nothing of the refused statements ran.
    let sidecar = start(dir.path(), "");
    assert_eq!(orders_of(&sidecar, "ann").await, json!([[1, 12.5]]));
}

#[tokio::test]
async fn the_same_statement_declared_as_a_write_needs_a_write_token() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = start(
        dir.path(),
        "purge = { sql = \"DELETE FROM orders WHERE customer = $1\", write = true }\n",
    );
    let (status, _) = post(
        &sidecar,
        APP_TOKEN,
        "/v1/relational/orders/statements/add",
        json!({"params": [1, "ann", 12.5]}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = post(
        &sidecar,
        READER_TOKEN,
        "/v1/relational/orders/statements/purge",
        json!({"params": ["ann"]}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(orders_of(&sidecar, "ann").await, json!([[1, 12.5]]));
    let (status, body) = post(
        &sidecar,
        APP_TOKEN,
        "/v1/relational/orders/statements/purge",
        json!({"params": ["ann"]}),
    )
    .await;
    assert_eq!((status, &body["affected"]), (200, &json!(1)), "{body}");
    assert_eq!(orders_of(&sidecar, "ann").await, json!([]));
}

fn now_ns() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_nanos()).unwrap()
}

/// `at` (nanoseconds since the epoch) as RFC 3339 text.
fn rfc3339(at_ns: i64) -> String {
    // The civil date of a day count (Howard Hinnant's algorithm), so the test needs no date
    // crate.
    let since = Duration::from_nanos(u64::try_from(at_ns).unwrap());
    let secs = since.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_nanos()
    )
}

#[test]
fn rfc3339_text_is_what_the_sidecar_parses() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
    assert_eq!(
        rfc3339(1_714_564_800_500_000_000),
        "2024-05-01T12:00:00.500000000Z"
    );
}

/// Writes `page` to row `(user, at = 1)` of `clicks`, stamped `timestamp` if given.
async fn click(sidecar: &Sidecar, user: i64, page: &str, timestamp: Option<Value>) {
    let mut body = json!({"rows": [{"user_id": user, "at": 1, "page": page}]});
    if let Some(timestamp) = timestamp {
        body["timestamp"] = timestamp;
    }
    let (status, answer) = post(sidecar, APP_TOKEN, "/v1/wide_column/clicks/rows", body).await;
    assert_eq!(status, 200, "{answer}");
}

async fn delete_click(sidecar: &Sidecar, user: i64) {
    let body = json!({"partition": [user], "clustering": [1]});
    let (status, answer) = post(sidecar, APP_TOKEN, "/v1/wide_column/clicks/delete", body).await;
    assert_eq!(status, 200, "{answer}");
}

/// The page of row `(user, 1)`, or `None` when the row is absent.
async fn page(sidecar: &Sidecar, user: i64) -> Option<String> {
    let body = json!({"partition": [user], "clustering": [1]});
    let (status, answer) = post(sidecar, READER_TOKEN, "/v1/wide_column/clicks/get", body).await;
    match status {
        200 => Some(answer["row"]["page"].as_str().unwrap().to_owned()),
        404 => None,
        other => panic!("get answered {other}: {answer}"),
    }
}

#[tokio::test]
async fn a_row_deleted_then_rewritten_without_a_timestamp_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = start(dir.path(), "");
    // Written with the client's "now" in nanoseconds, then with RFC 3339 text.
    for (user, stamp) in [(1, json!(now_ns())), (2, json!(rfc3339(now_ns())))] {
        click(&sidecar, user, "/first", Some(stamp)).await;
        assert_eq!(page(&sidecar, user).await.as_deref(), Some("/first"));
        delete_click(&sidecar, user).await;
        assert_eq!(page(&sidecar, user).await, None);
        // An acknowledged write after the delete must be visible.
        click(&sidecar, user, "/again", None).await;
        assert_eq!(
            page(&sidecar, user).await.as_deref(),
            Some("/again"),
            "user {user}"
        );
    }
}

#[tokio::test]
async fn a_rewrite_stamped_before_a_delete_does_not_resurrect_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = start(dir.path(), "");
    let minute_ago = now_ns() - 60_000_000_000;
    for (user, stamp) in [(1, json!(minute_ago)), (2, json!(rfc3339(minute_ago)))] {
        click(&sidecar, user, "/live", None).await;
        delete_click(&sidecar, user).await;
        // A late write stamped a minute ago: the delete (now) is newer.
        click(&sidecar, user, "/stale", Some(stamp)).await;
        assert_eq!(page(&sidecar, user).await, None, "user {user}");
    }
}

#[tokio::test]
async fn explicit_stamps_compare_with_the_store_clock_in_one_unit() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = start(dir.path(), "");
    let hour = 3_600_000_000_000i64;

    // An hour ago, as nanoseconds or as text, loses to a write made now without a stamp.
    for (user, stamp) in [
        (1, json!(now_ns() - hour)),
        (2, json!(rfc3339(now_ns() - hour))),
    ] {
        click(&sidecar, user, "/now", None).await;
        click(&sidecar, user, "/hour-ago", Some(stamp)).await;
        assert_eq!(
            page(&sidecar, user).await.as_deref(),
            Some("/now"),
            "user {user}"
        );
    }

    // An hour ahead beats a write made now; two hours ahead beats that; the two forms agree.
    click(&sidecar, 3, "/in-an-hour", Some(json!(now_ns() + hour))).await;
    click(&sidecar, 3, "/now", None).await;
    assert_eq!(page(&sidecar, 3).await.as_deref(), Some("/in-an-hour"));
    click(
        &sidecar,
        3,
        "/in-two-hours",
        Some(json!(rfc3339(now_ns() + 2 * hour))),
    )
    .await;
    assert_eq!(page(&sidecar, 3).await.as_deref(), Some("/in-two-hours"));
    click(
        &sidecar,
        3,
        "/in-ninety-minutes",
        Some(json!(now_ns() + hour * 3 / 2)),
    )
    .await;
    assert_eq!(page(&sidecar, 3).await.as_deref(), Some("/in-two-hours"));

    // Nanoseconds and text name the same instant: equal stamps tie, and the greater value wins
    // whatever the order, as in Cassandra ("/b" over "/aa").
    let at = 1_714_564_800_123_456_789i64;
    click(&sidecar, 4, "/b", Some(json!(at))).await;
    click(&sidecar, 4, "/aa", Some(json!(rfc3339(at)))).await;
    assert_eq!(page(&sidecar, 4).await.as_deref(), Some("/b"));
    click(&sidecar, 5, "/aa", Some(json!(at))).await;
    click(
        &sidecar,
        5,
        "/b",
        Some(json!("2024-05-01T12:00:00.123456789Z")),
    )
    .await;
    assert_eq!(page(&sidecar, 5).await.as_deref(), Some("/b"));
    // Kept to the microsecond: 789 ns later is the same write timestamp, a microsecond later
    // is newer.
    click(&sidecar, 5, "/a", Some(json!(at - 789 + 999))).await;
    assert_eq!(page(&sidecar, 5).await.as_deref(), Some("/b"));
    click(&sidecar, 5, "/a", Some(json!(at + 1_000))).await;
    assert_eq!(page(&sidecar, 5).await.as_deref(), Some("/a"));
}

/// Against a live PostgreSQL: a read statement whose plan only reads but calls a function that
/// deletes passes the startup check, and is refused when it runs, deleting nothing; a
/// `WITH … DELETE … RETURNING` read is refused at startup.
#[cfg(feature = "postgres")]
mod postgres {
    use super::*;

    fn url() -> String {
        std::env::var("POLYROUTE_TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| {
                panic!("POLYROUTE_REQUIRE_SERVICES=1 but POLYROUTE_TEST_POSTGRES_URL is not set")
            })
    }

    fn pg_config(schema: &str, queries: &str) -> String {
        let url = url();
        format!(
            r#"
[stores.pg]
kind = "relational"
backend = "postgres"
url = "{url}"
schema = "{schema}"

[entities.ledger]
store = "pg"

[sidecar.schema]
ledger = """
CREATE TABLE IF NOT EXISTS ledger (id bigint PRIMARY KEY, note text NOT NULL);
CREATE OR REPLACE FUNCTION purge_ledger() RETURNS bigint LANGUAGE sql VOLATILE
  AS 'DELETE FROM ledger RETURNING 1';
"""

[sidecar.queries.ledger]
add = {{ sql = "INSERT INTO ledger (id, note) VALUES ($1, $2)", write = true }}
all = "SELECT id, note FROM ledger ORDER BY id"
{queries}

[[sidecar.tokens]]
name = "app"
token = "${{APP_TOKEN}}"
read = ["*"]
write = ["*"]

[[sidecar.tokens]]
name = "reader"
token = "${{READER_TOKEN}}"
read = ["*"]
"#
        )
    }

    fn schema() -> String {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("answers_{}_{nanos}", std::process::id())
    }

    #[tokio::test]
    #[cfg_attr(
        not(polyroute_postgres_tests),
        ignore = "set POLYROUTE_TEST_POSTGRES_URL"
    )]
    async fn a_read_that_writes_through_a_function_is_refused_when_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        let schema = schema();
        let sidecar = Sidecar::start_in(
            dir.path(),
            &pg_config(&schema, "sneaky = \"SELECT purge_ledger() AS gone\""),
            &TOKENS,
        );
        let (status, body) = post(
            &sidecar,
            APP_TOKEN,
            "/v1/relational/ledger/statements/add",
            json!({"params": [1, "kept"]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = post(
            &sidecar,
            READER_TOKEN,
            "/v1/relational/ledger/queries/sneaky",
            json!({"params": []}),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("read-only transaction"),
            "{body}"
        );
        let (status, body) = post(
            &sidecar,
            READER_TOKEN,
            "/v1/relational/ledger/queries/all",
            json!({"params": []}),
        )
        .await;
        assert_eq!(
            (status, &body["rows"]),
            (200, &json!([[1, "kept"]])),
            "{body}"
        );
    }

    #[test]
    #[cfg_attr(
        not(polyroute_postgres_tests),
        ignore = "set POLYROUTE_TEST_POSTGRES_URL"
    )]
    fn a_read_with_a_deleting_cte_is_refused_at_startup() {
        let dir = tempfile::tempdir().unwrap();
        let schema = schema();
        let (code, stderr) = refused_start(
            dir.path(),
            &pg_config(
                &schema,
                "sneaky = \"WITH gone AS (DELETE FROM ledger RETURNING id) SELECT id FROM gone\"",
            ),
        );
        assert_eq!(code, Some(2), "a config mistake");
        assert!(
            stderr.contains("sidecar.queries.ledger.sneaky: the statement does not only read"),
            "{stderr}"
        );
        assert!(stderr.contains("delete `ledger`"), "{stderr}");
    }
}
