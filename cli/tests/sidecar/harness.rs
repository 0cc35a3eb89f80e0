//! Starting and stopping the sidecar, and the config every test builds on.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Every kind, embedded, durable where the kind can be (files under the test's folder).
pub const STORES: &str = r#"
[stores.cache]
kind = "key_value"

[stores.db]
kind = "relational"
path = "db.sqlite"

[stores.docs]
kind = "document"
path = "docs.sqlite"

[stores.metrics]
kind = "time_series"

[stores.social]
kind = "graph"

[stores.events]
kind = "wide_column"

[stores.text]
kind = "search"

[entities.sessions]
store = "cache"

[entities.orders]
store = "db"

[entities.products]
store = "docs"
indexes = ["category"]

[entities.cpu]
store = "metrics"

[entities.friends]
store = "social"

[entities.clicks]
store = "events"
partition_key = ["user_id"]
clustering_key = ["at"]

[entities.catalog]
store = "text"
fields = { name = "text", category = "keyword", price = "float" }

[sidecar.schema]
orders = "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, total REAL NOT NULL)"

[sidecar.queries.orders]
by_customer = "SELECT id, total FROM orders WHERE customer = $1 ORDER BY id"
add = { sql = "INSERT INTO orders (id, customer, total) VALUES ($1, $2, $3)", write = true }
"#;

/// The entity of each kind in [`STORES`].
pub fn entity_of(kind: &str) -> &'static str {
    match kind {
        "key_value" => "sessions",
        "relational" => "orders",
        "document" => "products",
        "time_series" => "cpu",
        "graph" => "friends",
        "wide_column" => "clicks",
        "search" => "catalog",
        other => panic!("no entity of kind {other}"),
    }
}

/// A running `polyroute serve`.
pub struct Sidecar {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Sidecar {
    /// Writes `config` (a whole `polyroute.toml`) into `dir` and serves it.
    pub fn start_in(dir: &Path, config: &str, env: &[(&str, &str)]) -> Sidecar {
        let path = dir.join("polyroute.toml");
        std::fs::write(&path, config).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_polyroute"));
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--config"])
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|url| url.starts_with("http://") || url.starts_with("https://"))
            .unwrap_or_else(|| {
                let status = child.wait().unwrap();
                panic!("the sidecar did not start ({status}); first line: {line:?}")
            })
            .to_owned();
        Sidecar {
            child: Some(child),
            base,
        }
    }

    /// `url` under the sidecar.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.base
            .rsplit('/')
            .next()
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no address in {}", self.base))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, failing the test if it takes over `limit`.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                child.kill().unwrap();
                panic!("the sidecar did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A pooled client with keep-alive, as a service would use.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// The JSON body of `response`, with its status.
pub async fn json(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"));
    (status, value)
}

/// A client for a sidecar serving TLS: it trusts only `ca_pem` (no system roots) and, with
/// `identity` (a PEM certificate chain and its private key), presents a client certificate.
pub fn tls_client(ca_pem: &str, identity: Option<&str>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(20));
    if let Some(identity) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// The messages of `error` and of every error under it, joined: what a client shows.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
