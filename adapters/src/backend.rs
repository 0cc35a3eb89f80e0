//! What a backend gives the registry: the [`Backend`] trait (its options type, the checks serde
//! cannot express, how it connects) and the [`BackendDescriptor`]s built from it, one per kind
//! the backend serves. A backend module lists its descriptors in one `BACKENDS` constant; the
//! registry's table holds one line per backend module and needs nothing else.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::store::ConnectContext;
use crate::{Result, Store, StoreError, StoreKind};

/// One backend: how its options are read and checked, and how it connects.
///
/// Implemented once per backend module, on its store type, or on a unit type when one
/// connection serves several kinds (PostgreSQL).
pub trait Backend: 'static {
    /// The backend's options, read from a store's table (without `kind` and `backend`).
    /// Unknown options should be refused (`#[serde(deny_unknown_fields)]`).
    type Config: DeserializeOwned + Send + 'static;

    /// Rules across options that the options type cannot state (a certificate needs its key,
    /// say), checked whenever a config is validated; the message names the options and the fix.
    fn check(config: &Self::Config) -> std::result::Result<(), String> {
        let _ = config;
        Ok(())
    }

    /// Connects a store of `kind`: opens files or pools, and checks the backend answers.
    fn connect(
        kind: StoreKind,
        config: Self::Config,
        context: &ConnectContext,
    ) -> impl Future<Output = Result<Arc<dyn Store>>> + Send;
}

/// A connect in progress, as the registry holds it.
pub type Connecting = Pin<Box<dyn Future<Output = Result<Arc<dyn Store>>> + Send>>;

/// A backend of one kind, as the registry lists it: its kind, its name in config, one line on
/// what it is, and its option reader and connector.
#[derive(Clone, Copy)]
pub struct BackendDescriptor {
    /// The kind it serves.
    pub kind: StoreKind,
    /// Its name in config.
    pub name: &'static str,
    /// One line on what it is.
    pub summary: &'static str,
    validate: fn(&serde_json::Value) -> std::result::Result<(), OptionProblem>,
    connect: fn(StoreKind, &serde_json::Value, &ConnectContext) -> Connecting,
}

impl BackendDescriptor {
    /// The descriptor of backend `B` serving `kind` under `name`.
    pub const fn of<B: Backend>(
        kind: StoreKind,
        name: &'static str,
        summary: &'static str,
    ) -> Self {
        BackendDescriptor {
            kind,
            name,
            summary,
            validate: validate_with::<B>,
            connect: connect_with::<B>,
        }
    }

    /// Checks `options` without connecting.
    pub(crate) fn validate(
        &self,
        options: &serde_json::Value,
    ) -> std::result::Result<(), OptionProblem> {
        (self.validate)(options)
    }

    /// Reads `options` and connects.
    pub(crate) fn connect(
        &self,
        options: &serde_json::Value,
        context: &ConnectContext,
    ) -> Connecting {
        (self.connect)(self.kind, options, context)
    }
}

impl fmt::Debug for BackendDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendDescriptor")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

/// Descriptors are told apart by kind and name: the registry never holds two alike.
impl PartialEq for BackendDescriptor {
    fn eq(&self, other: &Self) -> bool {
        (self.kind, self.name) == (other.kind, other.name)
    }
}

impl Eq for BackendDescriptor {}

/// One problem with a store's backend options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionProblem {
    /// The option's path inside the store's table (`pool`, `tls.ca`), or empty for the table.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for OptionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// `B`'s options read from `options` and checked, or the first problem with its path.
fn read<B: Backend>(options: &serde_json::Value) -> std::result::Result<B::Config, OptionProblem> {
    let config: B::Config = serde_path_to_error::deserialize(options).map_err(|err| {
        let field = err.path().to_string();
        let field = if field == "." { String::new() } else { field };
        OptionProblem {
            field,
            message: err.into_inner().to_string(),
        }
    })?;
    B::check(&config).map_err(|message| OptionProblem {
        field: String::new(),
        message,
    })?;
    Ok(config)
}

fn validate_with<B: Backend>(
    options: &serde_json::Value,
) -> std::result::Result<(), OptionProblem> {
    read::<B>(options).map(drop)
}

fn connect_with<B: Backend>(
    kind: StoreKind,
    options: &serde_json::Value,
    context: &ConnectContext,
) -> Connecting {
    let config = read::<B>(options);
    let context = context.clone();
    Box::pin(async move {
        let config = config.map_err(|problem| StoreError::invalid(problem.to_string()))?;
        B::connect(kind, config, &context).await
    })
}
