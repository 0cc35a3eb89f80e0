//! `[sidecar]`: where the sidecar listens, who may call it (bearer tokens with per-entity read
//! and write scopes), its limits, and the named queries of relational entities.
//!
//! ```toml
//! [sidecar]
//! bind = "127.0.0.1:7878"          # loopback by default
//! max_body = "1MiB"
//! request_timeout = "10s"
//! max_concurrency = 256            # more in flight: 503 at once
//! header_timeout = "10s"           # a request head must arrive within it
//! idle_timeout = "60s"             # nothing read or written for this long: closed
//! max_connections = 1024           # more open at once: closed at once
//! max_results = 10000              # items a listing answers at most; more: `next` pages on
//! allowed_origins = ["https://app.example.com"]   # web pages that may call; others: 403
//!
//! [sidecar.tls]                    # optional: HTTPS (files relative to the config file)
//! cert = "tls/server.pem"
//! key = "tls/server.key"
//! client_ca = "tls/clients-ca.pem" # optional: clients must present a certificate it signed
//!
//! [[sidecar.tokens]]
//! name = "app"
//! token = "${APP_TOKEN}"           # or sha256 = "<hex of the token's SHA-256>"
//! read = ["*"]
//! write = ["sessions", "orders"]
//!
//! [[sidecar.tokens]]
//! name = "prometheus"
//! token = "${METRICS_TOKEN}"
//! ops = true                       # /metrics and the details of /readyz
//!
//! [sidecar.queries.orders]
//! by_customer = "SELECT id, total FROM orders WHERE customer = $1"
//! add = { sql = "INSERT INTO orders (customer, total) VALUES ($1, $2)", write = true }
//!
//! [sidecar.schema]
//! orders = "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, customer TEXT, total REAL)"
//! ```
//!
//! The section is read from the router's config (which passes it through, interpolated), and
//! every problem is reported at once with its path and a fix.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use polyroute::backend::units::{parse_byte_size, parse_duration};
use polyroute::config::{ConfigError, ConfigProblem, ProblemKind};
use polyroute::{Config, StoreKind};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::tls::TlsFiles;

/// The default listen address: loopback only, so nothing off the machine (or pod) can call in.
pub const DEFAULT_BIND: &str = "127.0.0.1:7878";
/// The default bound on the items one listing answers (`max_results`).
pub const DEFAULT_MAX_RESULTS: usize = 10_000;
/// The default bound on the bytes kept for idempotent retries (`idempotency_max_bytes`).
pub const DEFAULT_IDEMPOTENCY_MAX_BYTES: u64 = 64 << 20;

const KEYS: &[&str] = &[
    "bind",
    "max_body",
    "request_timeout",
    "max_concurrency",
    "header_timeout",
    "idle_timeout",
    "max_connections",
    "max_results",
    "tls",
    "shutdown_grace",
    "idempotency_ttl",
    "idempotency_capacity",
    "idempotency_max_bytes",
    "allow_anonymous",
    "allowed_origins",
    "tokens",
    "queries",
    "schema",
];
const TOKEN_KEYS: &[&str] = &["name", "token", "sha256", "read", "write", "ops"];
const QUERY_KEYS: &[&str] = &["sql", "write"];
const TLS_KEYS: &[&str] = &["cert", "key", "client_ca"];
/// The smallest `idempotency_max_bytes`: room for a useful number of answers.
const MIN_IDEMPOTENCY_BYTES: u64 = 64 << 10;
/// Tokens shorter than this are refused: they can be guessed.
const MIN_TOKEN_LEN: usize = 16;

/// The checked `[sidecar]` section (defaults when it is absent).
#[derive(Clone, Debug, PartialEq)]
pub struct SidecarConfig {
    /// Where to listen.
    pub bind: SocketAddr,
    /// The largest request body accepted, in bytes.
    pub max_body: usize,
    /// The deadline of a whole request.
    pub request_timeout: Duration,
    /// Requests in flight at once; more are refused with 503 at once.
    pub max_concurrency: usize,
    /// Time a connection waiting for a request has to deliver its whole head (from the
    /// connection's start or the previous response's end); also bounds a TLS handshake.
    pub header_timeout: Duration,
    /// A connection on which nothing is read or written for this long, while none of its
    /// requests is being handled, is closed.
    pub idle_timeout: Duration,
    /// Connections open at once; one more is closed at once.
    pub max_connections: usize,
    /// The most items one answer of a listing route holds (documents found, points per series
    /// of a range, rows of a slice, neighbours, visits, rows of a read statement): the
    /// `limit` of a request that gives none, and the largest `limit` accepted. A listing cut
    /// short answers a `next` to read on from.
    pub max_results: usize,
    /// TLS on the listener (`[sidecar.tls]`), paths resolved against the config's folder.
    pub tls: Option<TlsFiles>,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// How long the answer to a write with an `Idempotency-Key` is kept for retries.
    pub idempotency_ttl: Duration,
    /// How many such answers are kept at most.
    pub idempotency_capacity: u64,
    /// How many bytes such answers (bodies and keys) may take at most, together.
    pub idempotency_max_bytes: u64,
    /// Serve without tokens on a non-loopback address (never the default).
    pub allow_anonymous: bool,
    /// Browser origins (`https://app.example.com`) allowed to call the sidecar; a request with
    /// any other `Origin` header is refused. Lower case, without a default port.
    pub allowed_origins: BTreeSet<String>,
    /// The accepted bearer tokens; empty: no authentication (loopback only, unless allowed).
    pub tokens: Vec<TokenConfig>,
    /// Named queries by relational entity, then by name.
    pub queries: BTreeMap<String, BTreeMap<String, NamedQuery>>,
    /// Statements run once at startup on each relational entity (idempotent DDL).
    pub schema: BTreeMap<String, String>,
}

/// One bearer token: its name (for logs and metrics), its hash and what it may touch.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenConfig {
    /// Its name.
    pub name: String,
    /// The SHA-256 of the token; the token itself is not kept.
    pub hash: [u8; 32],
    /// Entities it may read.
    pub read: Scope,
    /// Entities it may write.
    pub write: Scope,
    /// Whether it may read `/metrics` and the details of `/readyz` (`ops = true`).
    pub ops: bool,
}

impl std::fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenConfig")
            .field("name", &self.name)
            .field("read", &self.read)
            .field("write", &self.write)
            .field("ops", &self.ops)
            .finish_non_exhaustive()
    }
}

/// The entities a token may read or write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every entity (`["*"]`).
    All,
    /// These entities only (possibly none).
    Entities(BTreeSet<String>),
}

impl Scope {
    /// Whether `entity` is in scope.
    pub fn allows(&self, entity: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Entities(names) => names.contains(entity),
        }
    }
}

/// A named, parameterised statement of a relational entity: clients name it and pass `$1…$n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedQuery {
    /// The statement.
    pub sql: String,
    /// Whether it writes (run with `execute`, needs write scope) or reads (`query`).
    pub write: bool,
    /// How many parameters it takes: the highest `$n` in the statement.
    pub params: usize,
}

/// The SHA-256 of `token`.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Default for SidecarConfig {
    fn default() -> Self {
        SidecarConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 7878)),
            max_body: 1 << 20,
            request_timeout: Duration::from_secs(10),
            max_concurrency: 256,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_results: DEFAULT_MAX_RESULTS,
            tls: None,
            shutdown_grace: Duration::from_secs(30),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            idempotency_capacity: 100_000,
            idempotency_max_bytes: DEFAULT_IDEMPOTENCY_MAX_BYTES,
            allow_anonymous: false,
            allowed_origins: BTreeSet::new(),
            tokens: Vec::new(),
            queries: BTreeMap::new(),
            schema: BTreeMap::new(),
        }
    }
}

impl SidecarConfig {
    /// Reads `[sidecar]` of `config`, checking entity names against its entities.
    pub fn from_config(config: &Config) -> Result<SidecarConfig, ConfigError> {
        let entities: BTreeMap<&str, Option<StoreKind>> = config
            .entities()
            .iter()
            .map(|(name, entity)| {
                let kind = config.stores().get(&entity.store).map(|store| store.kind());
                (name.as_str(), kind)
            })
            .collect();
        let mut reader = Reader {
            problems: Vec::new(),
            entities,
        };
        let mut parsed = reader.section(config.section("sidecar"));
        if let Some(tls) = &mut parsed.tls {
            reader.load_tls(tls, config.base_dir());
        }
        if reader.problems.is_empty() {
            Ok(parsed)
        } else {
            Err(ConfigError::Invalid(reader.problems))
        }
    }
}

struct Reader<'a> {
    problems: Vec<ConfigProblem>,
    entities: BTreeMap<&'a str, Option<StoreKind>>,
}

impl Reader<'_> {
    fn report(&mut self, kind: ProblemKind, path: &str, message: String, fix: &str) {
        self.problems
            .push(ConfigProblem::new(kind, path, message).with_fix(fix));
    }

    fn section(&mut self, value: Option<&Json>) -> SidecarConfig {
        let mut out = SidecarConfig::default();
        let Some(value) = value else { return out };
        let Some(table) = value.as_object() else {
            self.report(
                ProblemKind::WrongType,
                "sidecar",
                "expected a table".into(),
                "write `[sidecar]` with keys under it",
            );
            return out;
        };
        for (key, value) in table {
            let path = format!("sidecar.{key}");
            match key.as_str() {
                "bind" => {
                    if let Some(text) = self.string(&path, value) {
                        match text.parse::<SocketAddr>() {
                            Ok(addr) => out.bind = addr,
                            Err(_) => self.report(
                                ProblemKind::InvalidValue,
                                &path,
                                format!("`{text}` is not an address and port"),
                                "write an IP address and port, such as `127.0.0.1:7878` (or `0.0.0.0:7878` to listen on every interface)",
                            ),
                        }
                    }
                }
                "max_body" => {
                    if let Some(text) = self.string(&path, value) {
                        match parse_byte_size(&text) {
                            Ok(0) | Err(_) => self.report(
                                ProblemKind::InvalidValue,
                                &path,
                                format!("`{text}` is not a positive size"),
                                "write a size such as `1MiB` or `65536`",
                            ),
                            Ok(bytes) => {
                                out.max_body = usize::try_from(bytes).unwrap_or(usize::MAX)
                            }
                        }
                    }
                }
                "request_timeout" => {
                    if let Some(d) = self.duration(&path, value) {
                        out.request_timeout = d;
                    }
                }
                "shutdown_grace" => {
                    if let Some(d) = self.duration(&path, value) {
                        out.shutdown_grace = d;
                    }
                }
                "idempotency_ttl" => {
                    if let Some(d) = self.duration(&path, value) {
                        out.idempotency_ttl = d;
                    }
                }
                "max_concurrency" => {
                    if let Some(n) = self.positive(&path, value) {
                        out.max_concurrency = usize::try_from(n).unwrap_or(usize::MAX);
                    }
                }
                "header_timeout" => {
                    if let Some(d) = self.duration(&path, value) {
                        out.header_timeout = d;
                    }
                }
                "idle_timeout" => {
                    if let Some(d) = self.duration(&path, value) {
                        out.idle_timeout = d;
                    }
                }
                "max_connections" => {
                    if let Some(n) = self.positive(&path, value) {
                        out.max_connections = usize::try_from(n).unwrap_or(usize::MAX);
                    }
                }
                "max_results" => match value.as_u64() {
                    Some(n) if n > 0 => out.max_results = usize::try_from(n).unwrap_or(usize::MAX),
                    _ => self.report(
                        ProblemKind::InvalidValue,
                        &path,
                        format!("expected a whole number above zero, not {value}"),
                        "write the most items one answer may hold, such as `10000` (the \
                         default); callers read longer listings page by page with `next`",
                    ),
                },
                "tls" => out.tls = self.tls(value),
                "idempotency_capacity" => {
                    if let Some(n) = self.positive(&path, value) {
                        out.idempotency_capacity = n;
                    }
                }
                "idempotency_max_bytes" => {
                    if let Some(text) = self.string(&path, value) {
                        match parse_byte_size(&text) {
                            Ok(bytes) if bytes >= MIN_IDEMPOTENCY_BYTES => {
                                out.idempotency_max_bytes = bytes
                            }
                            _ => self.report(
                                ProblemKind::InvalidValue,
                                &path,
                                format!("`{text}` is not a size of at least 64KiB"),
                                "write a size such as `64MiB`; it bounds the memory kept for idempotent retries",
                            ),
                        }
                    }
                }
                "allowed_origins" => out.allowed_origins = self.origins(&path, value),
                "allow_anonymous" => match value.as_bool() {
                    Some(b) => out.allow_anonymous = b,
                    None => self.report(
                        ProblemKind::WrongType,
                        &path,
                        "expected a boolean".into(),
                        "write `true` or `false`",
                    ),
                },
                "tokens" => out.tokens = self.tokens(value),
                "queries" => out.queries = self.queries(value),
                "schema" => out.schema = self.schema(value),
                other => self.report(
                    ProblemKind::UnknownKey,
                    &path,
                    format!("unknown key `{other}` in `[sidecar]`"),
                    &format!("allowed keys: {}", KEYS.join(", ")),
                ),
            }
        }
        if let Err(exposed) = crate::exposure::check(&out, out.bind) {
            self.report(
                ProblemKind::InvalidValue,
                "sidecar.bind",
                exposed.problem(),
                crate::exposure::FIX,
            );
        }
        out
    }

    fn tls(&mut self, value: &Json) -> Option<TlsFiles> {
        let Some(table) = value.as_object() else {
            self.report(
                ProblemKind::WrongType,
                "sidecar.tls",
                "expected a table".into(),
                "write `[sidecar.tls]` with `cert` and `key` (and optionally `client_ca`) under it",
            );
            return None;
        };
        for key in table.keys() {
            if !TLS_KEYS.contains(&key.as_str()) {
                self.report(
                    ProblemKind::UnknownKey,
                    &format!("sidecar.tls.{key}"),
                    format!("unknown key `{key}` in `[sidecar.tls]`"),
                    &format!("allowed keys: {}", TLS_KEYS.join(", ")),
                );
            }
        }
        let mut file = |key: &str, fix: &str| -> Option<PathBuf> {
            let path = format!("sidecar.tls.{key}");
            match table.get(key) {
                Some(value) => self.string(&path, value).map(PathBuf::from),
                None => {
                    self.report(
                        ProblemKind::MissingKey,
                        &path,
                        format!("`[sidecar.tls]` has no `{key}`"),
                        fix,
                    );
                    None
                }
            }
        };
        let cert = file(
            "cert",
            "add `cert = \"server.pem\"`: the server certificate chain in PEM",
        );
        let key = file(
            "key",
            "add `key = \"server.key\"`: the certificate's private key in PEM",
        );
        let client_ca = match table.get("client_ca") {
            Some(value) => Some(PathBuf::from(self.string("sidecar.tls.client_ca", value)?)),
            None => None,
        };
        Some(TlsFiles {
            cert: cert?,
            key: key?,
            client_ca,
        })
    }

    /// Resolves the TLS files against `base` and loads them, so that a missing or bad file is
    /// reported with the rest of the config.
    fn load_tls(&mut self, tls: &mut TlsFiles, base: &std::path::Path) {
        tls.cert = base.join(&tls.cert);
        tls.key = base.join(&tls.key);
        if let Some(ca) = &mut tls.client_ca {
            *ca = base.join(&*ca);
        }
        if let Err(problems) = tls.server_config() {
            for problem in problems {
                self.report(
                    ProblemKind::InvalidValue,
                    problem.key,
                    format!("`{}`: {}", problem.path.display(), problem.problem),
                    problem.fix,
                );
            }
        }
    }

    fn string(&mut self, path: &str, value: &Json) -> Option<String> {
        match value.as_str() {
            Some(text) => Some(text.to_owned()),
            None => {
                self.report(
                    ProblemKind::WrongType,
                    path,
                    "expected a string".into(),
                    "write the value in quotes",
                );
                None
            }
        }
    }

    fn duration(&mut self, path: &str, value: &Json) -> Option<Duration> {
        let text = self.string(path, value)?;
        match parse_duration(&text) {
            Ok(d) if !d.is_zero() => Some(d),
            _ => {
                self.report(
                    ProblemKind::BadDuration,
                    path,
                    format!("`{text}` is not a positive duration"),
                    "write a number and a unit, such as `250ms`, `30s` or `5m`",
                );
                None
            }
        }
    }

    fn positive(&mut self, path: &str, value: &Json) -> Option<u64> {
        match value.as_u64() {
            Some(n) if n > 0 => Some(n),
            _ => {
                self.report(
                    ProblemKind::InvalidValue,
                    path,
                    "expected a positive integer".into(),
                    "write a whole number above zero, such as `256`",
                );
                None
            }
        }
    }

    fn entity(&mut self, path: &str, name: &str, kind: Option<StoreKind>) -> bool {
        match self.entities.get(name) {
            None => {
                let known: Vec<&str> = self.entities.keys().copied().collect();
                self.report(
                    ProblemKind::UnknownEntity,
                    path,
                    format!("unknown entity `{name}`"),
                    &format!("declared entities: {}", known.join(", ")),
                );
                false
            }
            Some(actual) => match (kind, actual) {
                (Some(want), Some(actual)) if want != *actual => {
                    self.report(
                        ProblemKind::KindMismatch,
                        path,
                        format!("entity `{name}` is {actual}, not {want}"),
                        "named queries and schema statements are for relational entities only",
                    );
                    false
                }
                _ => true,
            },
        }
    }

    fn tokens(&mut self, value: &Json) -> Vec<TokenConfig> {
        let Some(items) = value.as_array() else {
            self.report(
                ProblemKind::WrongType,
                "sidecar.tokens",
                "expected a list of tables".into(),
                "write each token as a `[[sidecar.tokens]]` table",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut names = BTreeSet::new();
        for (index, item) in items.iter().enumerate() {
            let path = format!("sidecar.tokens[{index}]");
            if let Some(token) = self.token(&path, item) {
                if !names.insert(token.name.clone()) {
                    self.report(
                        ProblemKind::Duplicate,
                        &format!("{path}.name"),
                        format!("token name `{}` is used twice", token.name),
                        "give each token its own name",
                    );
                } else if out.iter().any(|t: &TokenConfig| t.hash == token.hash) {
                    self.report(
                        ProblemKind::Duplicate,
                        &path,
                        format!(
                            "token `{}` has the same secret as another token",
                            token.name
                        ),
                        "give each token its own secret",
                    );
                } else {
                    out.push(token);
                }
            }
        }
        out
    }

    fn token(&mut self, path: &str, value: &Json) -> Option<TokenConfig> {
        let Some(table) = value.as_object() else {
            self.report(
                ProblemKind::WrongType,
                path,
                "expected a table".into(),
                "write `[[sidecar.tokens]]` with `name`, `token` or `sha256`, `read` and `write`",
            );
            return None;
        };
        let before = self.problems.len();
        for key in table.keys() {
            if !TOKEN_KEYS.contains(&key.as_str()) {
                self.report(
                    ProblemKind::UnknownKey,
                    &format!("{path}.{key}"),
                    format!("unknown key `{key}` in a token"),
                    &format!("allowed keys: {}", TOKEN_KEYS.join(", ")),
                );
            }
        }
        let name = match table.get("name") {
            Some(value) => self.string(&format!("{path}.name"), value),
            None => {
                self.report(
                    ProblemKind::MissingKey,
                    &format!("{path}.name"),
                    "a token has no `name`".into(),
                    "add `name = \"...\"`; it names the caller in logs and metrics",
                );
                None
            }
        };
        let hash = match (table.get("token"), table.get("sha256")) {
            (Some(token), None) => {
                let token = self.string(&format!("{path}.token"), token)?;
                if token.len() < MIN_TOKEN_LEN {
                    self.report(
                        ProblemKind::InvalidValue,
                        &format!("{path}.token"),
                        format!("the token is shorter than {MIN_TOKEN_LEN} characters"),
                        "use a long random secret, such as the output of `openssl rand -hex 32`, read from the environment with `${NAME}`",
                    );
                    None
                } else {
                    Some(hash_token(&token))
                }
            }
            (None, Some(hex)) => {
                let hex = self.string(&format!("{path}.sha256"), hex)?;
                let parsed = decode_hex(&hex);
                if parsed.is_none() {
                    self.report(
                        ProblemKind::InvalidValue,
                        &format!("{path}.sha256"),
                        "expected 64 hexadecimal digits".into(),
                        "write the token's SHA-256 in hex, such as the output of `printf %s \"$TOKEN\" | sha256sum`",
                    );
                }
                parsed
            }
            (Some(_), Some(_)) => {
                self.report(
                    ProblemKind::InvalidValue,
                    path,
                    "a token has both `token` and `sha256`".into(),
                    "keep one of them",
                );
                None
            }
            (None, None) => {
                self.report(
                    ProblemKind::MissingKey,
                    path,
                    "a token has neither `token` nor `sha256`".into(),
                    "add `token = \"${NAME}\"` (read from the environment) or `sha256 = \"<hex>\"`",
                );
                None
            }
        };
        let read = self.scope(path, "read", table.get("read"));
        let write = self.scope(path, "write", table.get("write"));
        let ops = match table.get("ops") {
            None => false,
            Some(Json::Bool(ops)) => *ops,
            Some(_) => {
                self.report(
                    ProblemKind::WrongType,
                    &format!("{path}.ops"),
                    "expected a boolean".into(),
                    "write `ops = true` to let this token read `/metrics` and the details of `/readyz`",
                );
                false
            }
        };
        if self.problems.len() != before {
            return None;
        }
        Some(TokenConfig {
            name: name?,
            hash: hash?,
            read: read?,
            write: write?,
            ops,
        })
    }

    fn origins(&mut self, path: &str, value: &Json) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let Some(items) = value.as_array() else {
            self.report(
                ProblemKind::WrongType,
                path,
                "expected a list of origins".into(),
                "write a list such as `[\"https://app.example.com\"]`",
            );
            return out;
        };
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            let Some(text) = self.string(&item_path, item) else {
                continue;
            };
            match normalize_origin(&text) {
                Some(origin) => {
                    out.insert(origin);
                }
                None => self.report(
                    ProblemKind::InvalidValue,
                    &item_path,
                    format!("`{text}` is not an origin"),
                    "write a scheme, a host and an optional port, as a browser sends it in `Origin`: `https://app.example.com` or `http://localhost:3000`, without a path",
                ),
            }
        }
        out
    }

    fn scope(&mut self, path: &str, key: &str, value: Option<&Json>) -> Option<Scope> {
        let path = format!("{path}.{key}");
        let Some(value) = value else {
            return Some(Scope::Entities(BTreeSet::new()));
        };
        let Some(items) = value.as_array() else {
            self.report(
                ProblemKind::WrongType,
                &path,
                "expected a list of entity names".into(),
                "write a list such as `[\"orders\", \"sessions\"]`, or `[\"*\"]` for every entity",
            );
            return None;
        };
        let mut names = BTreeSet::new();
        let mut all = false;
        let mut ok = true;
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            match item.as_str() {
                Some("*") => all = true,
                Some(name) => {
                    if self.entity(&item_path, name, None) {
                        names.insert(name.to_owned());
                    } else {
                        ok = false;
                    }
                }
                None => {
                    self.report(
                        ProblemKind::WrongType,
                        &item_path,
                        "expected an entity name".into(),
                        "write the entity's name in quotes",
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(if all {
            Scope::All
        } else {
            Scope::Entities(names)
        })
    }

    fn queries(&mut self, value: &Json) -> BTreeMap<String, BTreeMap<String, NamedQuery>> {
        let mut out = BTreeMap::new();
        let Some(table) = value.as_object() else {
            self.report(
                ProblemKind::WrongType,
                "sidecar.queries",
                "expected a table".into(),
                "write `[sidecar.queries.ENTITY]` with `NAME = \"SQL\"` lines",
            );
            return out;
        };
        for (entity, queries) in table {
            let path = format!("sidecar.queries.{entity}");
            if !self.entity(&path, entity, Some(StoreKind::Relational)) {
                continue;
            }
            let Some(queries) = queries.as_object() else {
                self.report(
                    ProblemKind::WrongType,
                    &path,
                    "expected a table of named queries".into(),
                    "write `NAME = \"SQL\"` lines under `[sidecar.queries.ENTITY]`",
                );
                continue;
            };
            let mut named = BTreeMap::new();
            for (name, query) in queries {
                let query_path = format!("{path}.{name}");
                if !polyroute::backend::is_identifier(name) {
                    self.report(
                        ProblemKind::InvalidName,
                        &query_path,
                        format!("`{name}` is not a valid query name"),
                        "use ASCII letters, digits and `_`, starting with a letter",
                    );
                    continue;
                }
                if let Some(query) = self.query(&query_path, query) {
                    named.insert(name.clone(), query);
                }
            }
            out.insert(entity.clone(), named);
        }
        out
    }

    fn query(&mut self, path: &str, value: &Json) -> Option<NamedQuery> {
        let (sql, write) = match value {
            Json::String(sql) => (sql.clone(), false),
            Json::Object(table) => {
                for key in table.keys() {
                    if !QUERY_KEYS.contains(&key.as_str()) {
                        self.report(
                            ProblemKind::UnknownKey,
                            &format!("{path}.{key}"),
                            format!("unknown key `{key}` in a named query"),
                            &format!("allowed keys: {}", QUERY_KEYS.join(", ")),
                        );
                    }
                }
                let sql = match table.get("sql") {
                    Some(sql) => self.string(&format!("{path}.sql"), sql)?,
                    None => {
                        self.report(
                            ProblemKind::MissingKey,
                            &format!("{path}.sql"),
                            "a named query has no `sql`".into(),
                            "add `sql = \"...\"`",
                        );
                        return None;
                    }
                };
                let write = match table.get("write") {
                    None => false,
                    Some(Json::Bool(b)) => *b,
                    Some(_) => {
                        self.report(
                            ProblemKind::WrongType,
                            &format!("{path}.write"),
                            "expected a boolean".into(),
                            "write `true` for statements that change data",
                        );
                        return None;
                    }
                };
                (sql, write)
            }
            _ => {
                self.report(
                    ProblemKind::WrongType,
                    path,
                    "expected SQL text or a table".into(),
                    "write `NAME = \"SELECT ...\"` or `NAME = { sql = \"UPDATE ...\", write = true }`",
                );
                return None;
            }
        };
        if sql.trim().is_empty() {
            self.report(
                ProblemKind::InvalidValue,
                path,
                "the statement is empty".into(),
                "write the SQL statement",
            );
            return None;
        }
        let params = highest_parameter(&sql);
        Some(NamedQuery { sql, write, params })
    }

    fn schema(&mut self, value: &Json) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(table) = value.as_object() else {
            self.report(
                ProblemKind::WrongType,
                "sidecar.schema",
                "expected a table".into(),
                "write `ENTITY = \"CREATE TABLE IF NOT EXISTS ...\"` lines under `[sidecar.schema]`",
            );
            return out;
        };
        for (entity, sql) in table {
            let path = format!("sidecar.schema.{entity}");
            if self.entity(&path, entity, Some(StoreKind::Relational)) {
                if let Some(sql) = self.string(&path, sql) {
                    out.insert(entity.clone(), sql);
                }
            }
        }
        out
    }
}

/// The highest `$n` in `sql`, outside quoted strings and identifiers: how many parameters a
/// call must pass.
pub fn highest_parameter(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut highest = 0;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b'$' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                if let Ok(n) = sql[start..end].parse::<usize>() {
                    highest = highest.max(n);
                }
                i = end.max(i + 1);
                continue;
            }
            None => {}
        }
        i += 1;
    }
    highest
}

/// `text` as a browser writes it in an `Origin` header (`https://app.example.com`,
/// `http://localhost:3000`): scheme and host in lower case, the scheme's default port left out.
/// `None` when it is not an `http` or `https` origin (a path, a query, user info, no host).
pub fn normalize_origin(text: &str) -> Option<String> {
    let lower = text.trim().to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://")?;
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty()
        || authority
            .chars()
            .any(|c| matches!(c, '/' | '?' | '#' | '@' | '*') || c.is_whitespace())
    {
        return None;
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Some(format!("{scheme}://{authority}"))
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (index, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const BASE: &str = r#"
[stores.kv]
kind = "key_value"
[stores.db]
kind = "relational"
[entities.sessions]
store = "kv"
[entities.orders]
store = "db"
"#;

    fn load(extra: &str, env: &[(&str, &str)]) -> Result<SidecarConfig, Vec<String>> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let config = Config::from_toml_str_with_env(&format!("{BASE}{extra}"), ".", &env)
            .map_err(|e| vec![e.to_string()])?;
        SidecarConfig::from_config(&config).map_err(|e| match e {
            ConfigError::Invalid(problems) => problems.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        })
    }

    #[test]
    fn defaults_bind_to_loopback() {
        let config = load("", &[]).unwrap();
        assert_eq!(config.bind.to_string(), DEFAULT_BIND);
        assert!(config.tokens.is_empty());
    }

    #[test]
    fn a_full_section_is_read() {
        let config = load(
            r#"
[sidecar]
bind = "0.0.0.0:9000"
max_body = "64KiB"
request_timeout = "2s"
max_concurrency = 8
[[sidecar.tokens]]
name = "app"
token = "${APP_TOKEN}"
read = ["*"]
write = ["sessions"]
[sidecar.queries.orders]
by_customer = "SELECT id FROM orders WHERE customer = $1 AND note <> '$9'"
add = { sql = "INSERT INTO orders (customer, total) VALUES ($1, $2)", write = true }
[sidecar.schema]
orders = "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY)"
"#,
            &[("APP_TOKEN", "0123456789abcdef0123")],
        )
        .unwrap();
        assert_eq!(config.max_body, 64 * 1024);
        assert_eq!(config.max_concurrency, 8);
        assert_eq!(config.tokens[0].hash, hash_token("0123456789abcdef0123"));
        assert_eq!(config.tokens[0].read, Scope::All);
        assert!(config.tokens[0].write.allows("sessions"));
        assert!(!config.tokens[0].write.allows("orders"));
        let orders = &config.queries["orders"];
        assert_eq!(orders["by_customer"].params, 1);
        assert!(!orders["by_customer"].write);
        assert_eq!(orders["add"].params, 2);
        assert!(orders["add"].write);
    }

    #[test]
    fn max_results_defaults_and_refuses_zero() {
        assert_eq!(load("", &[]).unwrap().max_results, DEFAULT_MAX_RESULTS);
        let config = load("[sidecar]\nmax_results = 5\n", &[]).unwrap();
        assert_eq!(config.max_results, 5);
        for bad in ["0", "-3", "\"many\""] {
            let problems = load(&format!("[sidecar]\nmax_results = {bad}\n"), &[]).unwrap_err();
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(
                problems[0].starts_with("sidecar.max_results") && problems[0].contains("10000"),
                "{problems:?}"
            );
        }
    }

    #[test]
    fn every_mistake_is_reported_with_its_path() {
        let problems = load(
            r#"
[sidecar]
bind = "everywhere"
colour = "red"
request_timeout = "0s"
[[sidecar.tokens]]
name = "short"
token = "abc"
read = ["nope"]
[[sidecar.tokens]]
name = "hashed"
sha256 = "xyz"
[sidecar.queries.sessions]
q = "SELECT 1"
"#,
            &[],
        )
        .unwrap_err();
        let paths: Vec<&str> = problems
            .iter()
            .map(|p| p.split(':').next().unwrap_or(""))
            .collect();
        for expected in [
            "sidecar.bind",
            "sidecar.colour",
            "sidecar.request_timeout",
            "sidecar.tokens[0].token",
            "sidecar.tokens[0].read[0]",
            "sidecar.tokens[1].sha256",
            "sidecar.queries.sessions",
        ] {
            assert!(
                paths.contains(&expected),
                "{expected} missing in {problems:#?}"
            );
        }
    }

    #[test]
    fn an_open_address_without_tokens_is_refused() {
        let problems = load("[sidecar]\nbind = \"0.0.0.0:7878\"\n", &[]).unwrap_err();
        assert!(problems[0].starts_with("sidecar.bind:"), "{problems:?}");
        assert!(problems[0].contains("[[sidecar.tokens]]"), "{problems:?}");
        assert!(load(
            "[sidecar]\nbind = \"0.0.0.0:7878\"\nallow_anonymous = true\n",
            &[]
        )
        .is_ok());
    }

    #[test]
    fn ops_tokens_origins_and_the_idempotency_byte_bound_are_read() {
        let config = load(
            r#"
[sidecar]
allowed_origins = ["https://App.Example.com:443/", "http://localhost:3000"]
idempotency_max_bytes = "8MiB"
[[sidecar.tokens]]
name = "prometheus"
token = "0123456789abcdef0123"
ops = true
"#,
            &[],
        )
        .unwrap();
        assert!(config.tokens[0].ops);
        assert_eq!(config.tokens[0].read, Scope::Entities(BTreeSet::new()));
        assert_eq!(config.idempotency_max_bytes, 8 << 20);
        assert_eq!(
            config.allowed_origins,
            BTreeSet::from([
                "http://localhost:3000".to_owned(),
                "https://app.example.com".to_owned()
            ])
        );
        let defaults = load("", &[]).unwrap();
        assert_eq!(
            defaults.idempotency_max_bytes,
            DEFAULT_IDEMPOTENCY_MAX_BYTES
        );
        assert!(defaults.allowed_origins.is_empty());
    }

    #[test]
    fn bad_origins_ops_and_byte_bounds_are_reported() {
        let problems = load(
            r#"
[sidecar]
allowed_origins = ["*", "https://app.example.com/path", "ftp://files", "null"]
idempotency_max_bytes = "1KiB"
[[sidecar.tokens]]
name = "prometheus"
token = "0123456789abcdef0123"
ops = "yes"
"#,
            &[],
        )
        .unwrap_err();
        for expected in [
            "sidecar.allowed_origins[0]:",
            "sidecar.allowed_origins[1]:",
            "sidecar.allowed_origins[2]:",
            "sidecar.allowed_origins[3]:",
            "sidecar.idempotency_max_bytes:",
            "sidecar.tokens[0].ops:",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(expected)),
                "{expected} missing in {problems:#?}"
            );
        }
    }

    #[test]
    fn parameters_are_counted_outside_quotes() {
        assert_eq!(highest_parameter("SELECT $1, $12, '$40'"), 12);
        assert_eq!(highest_parameter("SELECT 1"), 0);
        assert_eq!(highest_parameter("SELECT $"), 0);
    }

    #[test]
    fn transport_limits_are_read_with_safe_defaults() {
        let defaults = load("", &[]).unwrap();
        assert_eq!(defaults.header_timeout, Duration::from_secs(10));
        assert_eq!(defaults.idle_timeout, Duration::from_secs(60));
        assert_eq!(defaults.max_connections, 1024);
        assert_eq!(defaults.tls, None);
        let set = load(
            "[sidecar]\nheader_timeout = \"2s\"\nidle_timeout = \"5m\"\nmax_connections = 8\n",
            &[],
        )
        .unwrap();
        assert_eq!(set.header_timeout, Duration::from_secs(2));
        assert_eq!(set.idle_timeout, Duration::from_secs(300));
        assert_eq!(set.max_connections, 8);
        let problems = load(
            "[sidecar]\nheader_timeout = \"0s\"\nidle_timeout = 5\nmax_connections = 0\n",
            &[],
        )
        .unwrap_err();
        for path in [
            "sidecar.header_timeout",
            "sidecar.idle_timeout",
            "sidecar.max_connections",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(&format!("{path}:"))),
                "{path} missing in {problems:#?}"
            );
        }
    }

    /// A certificate for localhost and its key, both PEM.
    fn certificate() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn tls_files_are_resolved_and_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = certificate();
        std::fs::write(dir.path().join("server.pem"), &cert).unwrap();
        std::fs::write(dir.path().join("server.key"), &key).unwrap();
        std::fs::write(dir.path().join("ca.pem"), &cert).unwrap();
        let config = Config::from_toml_str_with_env(
            &format!(
                "{BASE}[sidecar.tls]\ncert = \"server.pem\"\nkey = \"server.key\"\nclient_ca = \"ca.pem\"\n"
            ),
            dir.path(),
            &BTreeMap::<String, String>::new(),
        )
        .unwrap();
        let tls = SidecarConfig::from_config(&config).unwrap().tls.unwrap();
        assert_eq!(tls.cert, dir.path().join("server.pem"));
        assert_eq!(tls.client_ca, Some(dir.path().join("ca.pem")));
        assert!(tls.server_config().is_ok());
    }

    #[test]
    fn every_tls_mistake_names_its_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = certificate();
        let (_, other_key) = certificate();
        std::fs::write(dir.path().join("server.pem"), &cert).unwrap();
        std::fs::write(dir.path().join("other.key"), &other_key).unwrap();
        let paths =
            |cert: &str, key: &str| format!("[sidecar.tls]\ncert = \"{cert}\"\nkey = \"{key}\"\n");
        let load_in = |extra: String| -> Vec<String> {
            let config = Config::from_toml_str_with_env(
                &format!("{BASE}{extra}"),
                dir.path(),
                &BTreeMap::<String, String>::new(),
            )
            .unwrap();
            match SidecarConfig::from_config(&config) {
                Ok(_) => Vec::new(),
                Err(err) => err.problems().iter().map(ToString::to_string).collect(),
            }
        };

        let mismatched = load_in(paths("server.pem", "other.key"));
        assert_eq!(mismatched.len(), 1, "{mismatched:#?}");
        assert!(
            mismatched[0].starts_with("sidecar.tls.key:"),
            "{mismatched:?}"
        );
        assert!(mismatched[0].contains("other.key"), "{mismatched:?}");

        let swapped = load_in(paths("other.key", "server.pem"));
        assert!(
            swapped
                .iter()
                .any(|p| p.starts_with("sidecar.tls.cert:")
                    && p.contains("holds no PEM certificate")),
            "{swapped:#?}"
        );
        assert!(
            swapped.iter().any(
                |p| p.starts_with("sidecar.tls.key:") && p.contains("holds no PEM private key")
            ),
            "{swapped:#?}"
        );

        let incomplete = load_in("[sidecar.tls]\ncert = \"server.pem\"\nca = \"x\"\n".into());
        for expected in ["sidecar.tls.key:", "sidecar.tls.ca:"] {
            assert!(
                incomplete.iter().any(|p| p.starts_with(expected)),
                "{expected} missing in {incomplete:#?}"
            );
        }
    }

    #[test]
    fn hashes_are_64_hex_digits() {
        let hash = hash_token("secret-secret-secret");
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(decode_hex(&hex), Some(hash));
        assert_eq!(decode_hex("abc"), None);
    }
}
