//! The API's routes, one module per store kind, described by [`EndpointSpec`]s: the one table the
//! server is built from, the auth layer reads (read or write?), the metrics label (`op`) comes
//! from, and `/openapi.json` is generated from — so the document cannot drift from the routes.

use std::sync::Arc;

use axum::handler::Handler;
use axum::routing::{on, MethodFilter, MethodRouter};
use polyroute::StoreKind;
use schemars::{JsonSchema, Schema, SchemaGenerator};

use crate::auth::Access;
use crate::state::AppState;

pub mod document;
pub mod graph;
pub mod key_value;
pub(crate) mod line_protocol;
mod page;
mod params;
pub mod relational;
pub mod search;
pub mod time_series;
pub mod wide_column;

pub use params::PathArgs;

/// The shared state handlers receive.
pub type Shared = Arc<AppState>;

/// An HTTP method the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// GET: reads, no body.
    Get,
    /// PUT: replaces what the path names.
    Put,
    /// POST: writes or queries with a body.
    Post,
    /// DELETE: removes what the path names.
    Delete,
}

impl Verb {
    /// `GET`, `PUT`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Put => "PUT",
            Verb::Post => "POST",
            Verb::Delete => "DELETE",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Put => MethodFilter::PUT,
            Verb::Post => MethodFilter::POST,
            Verb::Delete => MethodFilter::DELETE,
        }
    }
}

/// Describes a body or an answer in the OpenAPI document: a JSON schema, or a `$ref` to one
/// that it adds to the generator's definitions.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`, as `JsonBody<T>` reads it: derived from the same type, so the
/// document says what the server accepts.
pub fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// What a route takes as its body.
#[derive(Clone, Copy, Debug)]
pub enum BodyKind {
    /// No body.
    None,
    /// A JSON object read as the type `schema` describes, with an example.
    Json {
        /// A valid body, shown in the document (and sent by the tests).
        example: &'static str,
        /// The body's schema.
        schema: SchemaFn,
    },
    /// Text (`text/plain`), with an example.
    Text(&'static str),
}

impl BodyKind {
    /// A JSON body read as `T` (the handler's `JsonBody<T>`), with `example`.
    pub fn json<T: JsonSchema>(example: &'static str) -> BodyKind {
        BodyKind::Json {
            example,
            schema: schema_of::<T>,
        }
    }
}

/// One route of the API.
#[derive(Clone, Copy, Debug)]
pub struct EndpointSpec {
    /// Its method.
    pub verb: Verb,
    /// Its path, with `{entity}` and other parameters.
    pub path: &'static str,
    /// Its operation id (`key_value.get`): the `op` label of its metrics.
    pub op: &'static str,
    /// The kind of entity it serves.
    pub kind: StoreKind,
    /// Whether it reads or writes the entity: which token scope it needs.
    pub access: Access,
    /// Its body.
    pub body: BodyKind,
    /// Its query parameters: name and meaning.
    pub query: &'static [(&'static str, &'static str)],
    /// What it does, for the OpenAPI document.
    pub summary: &'static str,
    /// The schema of its success answer (set with [`EndpointSpec::answers`]).
    pub answer: Option<SchemaFn>,
    /// The schema of the type its query string is read into (set with
    /// [`EndpointSpec::query_schema`]): each query parameter's schema is its member's.
    pub query_schema: Option<SchemaFn>,
}

impl EndpointSpec {
    /// This route, answering success with a JSON body that `schema` describes.
    pub fn answers(mut self, schema: SchemaFn) -> EndpointSpec {
        self.answer = Some(schema);
        self
    }

    /// This route, reading its query string as the type `schema` describes.
    pub fn query_schema(mut self, schema: SchemaFn) -> EndpointSpec {
        self.query_schema = Some(schema);
        self
    }
}

/// An endpoint of the API: what it is, and its handler.
pub struct Endpoint {
    /// What it is.
    pub spec: EndpointSpec,
    /// Its handler, on its method.
    pub handler: MethodRouter<Shared>,
}

impl Endpoint {
    /// `handler` serving `spec`.
    pub fn new<H, T>(spec: EndpointSpec, handler: H) -> Endpoint
    where
        H: Handler<T, Shared>,
        T: 'static,
    {
        Endpoint {
            spec,
            handler: on(spec.verb.filter(), handler),
        }
    }
}

/// Every route of the API.
pub fn all() -> Vec<Endpoint> {
    let mut routes = Vec::new();
    routes.extend(key_value::routes());
    routes.extend(time_series::routes());
    routes.extend(graph::routes());
    routes.extend(document::routes());
    routes.extend(wide_column::routes());
    routes.extend(search::routes());
    routes.extend(relational::routes());
    routes
}

/// Every route's spec.
pub fn specs() -> Vec<EndpointSpec> {
    all().into_iter().map(|route| route.spec).collect()
}

/// Builds a [`EndpointSpec`] tersely.
macro_rules! spec {
    ($verb:ident $path:literal, $op:literal, $kind:ident, $access:ident, $body:expr, $query:expr, $summary:literal) => {
        $crate::routes::EndpointSpec {
            verb: $crate::routes::Verb::$verb,
            path: $path,
            op: $op,
            kind: polyroute::StoreKind::$kind,
            access: $crate::auth::Access::$access,
            body: $body,
            query: $query,
            summary: $summary,
            answer: None,
            query_schema: None,
        }
    };
}
pub(crate) use spec;

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn routes_are_unique_and_under_their_kind() {
        let specs = specs();
        let mut seen = HashSet::new();
        let mut ops = HashSet::new();
        for spec in &specs {
            assert!(
                seen.insert((spec.verb, spec.path)),
                "{} {} twice",
                spec.verb.as_str(),
                spec.path
            );
            assert!(ops.insert(spec.op), "op {} twice", spec.op);
            let prefix = format!("/v1/{}/{{entity}}", spec.kind.as_str());
            assert!(
                spec.path.starts_with(&prefix),
                "{} not under {prefix}",
                spec.path
            );
            assert!(spec.op.starts_with(spec.kind.as_str()), "{}", spec.op);
            if let BodyKind::Json { example, .. } = spec.body {
                serde_json::from_str::<serde_json::Value>(example)
                    .unwrap_or_else(|e| panic!("{}: example is not JSON: {e}", spec.op));
            }
        }
        for kind in StoreKind::ALL {
            assert!(specs.iter().any(|s| s.kind == kind), "no route for {kind}");
        }
    }
}
