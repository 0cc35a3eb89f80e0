//! The workload spec: a service's entities, how big they are, what guarantees they need and how
//! they are accessed — read from YAML and checked, every problem reported at once.
//!
//! ```yaml
//! name: shop
//! entities:
//!   - name: orders
//!     records: 50_000_000
//!     record_bytes: 2048
//!     accesses:
//!       - op: transaction
//!         rate: 300/s
//!         p99: 50ms
//!         entities: [orders, payments]
//! ```
//!
//! `docs/decision-framework.md` is the reference of every field and op.

use std::path::Path;
use std::time::Duration;

use polyroute_adapters::StoreKind;
use serde::Serialize;

mod op;
mod problem;
mod read;
mod values;

pub use op::{Op, OpField};
pub use problem::{Problem, ProblemKind, SpecError};
pub use values::{format_duration, format_latency, parse_duration, parse_rate, Rate};

/// A checked workload spec.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spec {
    /// The service's name.
    pub name: String,
    /// What the service does, when given.
    pub description: Option<String>,
    /// Its entities, in the order written.
    pub entities: Vec<Entity>,
}

/// Whether an entity's data must survive a crash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// Losing acknowledged writes is not acceptable (the default).
    #[default]
    Durable,
    /// The data can be rebuilt or lost (sessions, caches, presence).
    Ephemeral,
}

/// What readers of an entity may see.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Consistency {
    /// Every read sees every acknowledged write (the default).
    #[default]
    Strong,
    /// Reads may briefly miss recent writes.
    Eventual,
}

/// How regular an entity's records are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Schema {
    /// Every record has the same fields (the default).
    #[default]
    Fixed,
    /// Records vary: optional, nested or per-record fields.
    Flexible,
}

/// How many records of each side a relation links.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// One to one.
    OneToOne,
    /// One of this entity to many of the other.
    OneToMany,
    /// Many of this entity to one of the other.
    ManyToOne,
    /// Many to many.
    ManyToMany,
}

impl RelationKind {
    /// Every relation kind.
    pub const ALL: [RelationKind; 4] = [
        RelationKind::OneToOne,
        RelationKind::OneToMany,
        RelationKind::ManyToOne,
        RelationKind::ManyToMany,
    ];

    /// Its name in the spec.
    pub fn name(self) -> &'static str {
        match self {
            RelationKind::OneToOne => "one_to_one",
            RelationKind::OneToMany => "one_to_many",
            RelationKind::ManyToOne => "many_to_one",
            RelationKind::ManyToMany => "many_to_many",
        }
    }
}

/// A link from an entity to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Relation {
    /// The other entity.
    pub to: String,
    /// How many of each side.
    pub kind: RelationKind,
}

/// One kind of data of the service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entity {
    /// Its name, an identifier, unique in the spec.
    pub name: String,
    /// What it is, when given.
    pub description: Option<String>,
    /// Approximate number of records today.
    pub records: u64,
    /// Average size of one record in bytes.
    pub record_bytes: u64,
    /// Records added per day, when given.
    pub growth_per_day: Option<u64>,
    /// How long records are kept, when they are not kept forever.
    pub retention: Option<Duration>,
    /// Whether its data must survive a crash.
    pub durability: Durability,
    /// What its readers may see.
    pub consistency: Consistency,
    /// How many regions write it.
    pub regions: u32,
    /// How regular its records are.
    pub schema: Schema,
    /// Its links to other entities.
    pub relations: Vec<Relation>,
    /// How it is read and written.
    pub accesses: Vec<Access>,
    /// The store kind the spec pins it to (an existing system of record), when given.
    pub primary: Option<StoreKind>,
    /// The fields that identify a record (the partition key of a wide-column table).
    pub key: Vec<String>,
    /// The fields records are ordered by within a key (the clustering key).
    pub order_by: Vec<String>,
}

impl Entity {
    /// Whether any access is `op`.
    pub fn has(&self, op: Op) -> bool {
        self.accesses.iter().any(|access| access.op == op)
    }
}

/// One way an entity is accessed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Access {
    /// What it does.
    pub op: Op,
    /// How often.
    pub rate: Rate,
    /// Its latency target at the 99th percentile, when given.
    pub p99: Option<Duration>,
    /// `range`: the time span read.
    pub range: Option<Duration>,
    /// `every`: the window width.
    pub every: Option<Duration>,
    /// `group_by`: the fields grouped by.
    pub group_by: Vec<String>,
    /// `entities`: the other entities it touches.
    pub entities: Vec<String>,
    /// `fields`: the fields filtered or searched.
    pub fields: Vec<String>,
    /// `depth`: how many hops.
    pub depth: Option<u32>,
    /// `ttl`: how long records live.
    pub ttl: Option<Duration>,
}

impl Access {
    /// An access doing `op` at `rate`, with no op-specific fields.
    pub fn new(op: Op, rate: Rate) -> Access {
        Access {
            op,
            rate,
            p99: None,
            range: None,
            every: None,
            group_by: Vec::new(),
            entities: Vec::new(),
            fields: Vec::new(),
            depth: None,
            ttl: None,
        }
    }
}

impl Spec {
    /// Reads and checks the spec at `path`.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Spec, SpecError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_owned(),
            source,
        })?;
        Spec::from_yaml_str(&text)
    }

    /// Checks spec `text`, reporting every problem at once.
    pub fn from_yaml_str(text: &str) -> Result<Spec, SpecError> {
        read::read(text)
    }

    /// The entity named `name`.
    pub fn entity(&self, name: &str) -> Option<&Entity> {
        self.entities.iter().find(|entity| entity.name == name)
    }
}
