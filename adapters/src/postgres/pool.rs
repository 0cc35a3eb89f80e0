//! The connection pool every PostgreSQL store kind runs on, and the statements they share:
//! cached preparation, typed parameters, rows as [`Value`]s.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::types::ToSql;
use tokio_postgres::{CancelToken, NoTls, Statement};

use super::config::{Config, TlsMode};
use super::convert::{encode_params, Cell};
use super::error::{map_error, map_pool_error};
use super::migrate;
use super::tls::MakeRustls;
use crate::kinds::relational::Rows;
use crate::{Result, StoreError, Value};

/// Prepared statements kept per connection before the cache is emptied: ad-hoc SQL must not grow
/// it without bound, while an application's fixed set of statements stays prepared.
const STATEMENT_CACHE_LIMIT: usize = 512;

/// A pool of connections to one database and schema.
#[derive(Clone)]
pub(crate) struct PgPool {
    pool: Pool,
    shared: Arc<Shared>,
}

struct Shared {
    schema: String,
    durable: bool,
    statement_timeout: Option<Duration>,
    /// Connections are plain TCP (`tls = "disable"`).
    plain: bool,
    /// The TLS connector of this pool's connections (and of their cancel requests).
    tls: Option<MakeRustls>,
}

impl std::fmt::Debug for PgPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgPool")
            .field("schema", &self.shared.schema)
            .field("size", &status.size)
            .field("max_size", &status.max_size)
            .finish()
    }
}

impl PgPool {
    /// Builds the pool, opens one connection and makes sure the schema exists.
    pub(crate) async fn connect(config: &Config) -> Result<Self> {
        let driver = config.driver_config()?;
        let manager_config = ManagerConfig {
            // A connection is checked (`is_closed`) when taken from the pool; transactions
            // give theirs back only once ended, so no statement is needed on recycling.
            recycling_method: RecyclingMethod::Fast,
        };
        let tls = config.client_tls()?.map(MakeRustls::new);
        let manager = match &tls {
            Some(tls) => Manager::from_config(driver, tls.clone(), manager_config),
            None => Manager::from_config(driver, NoTls, manager_config),
        };
        let wait = config.connect_timeout.0;
        let pool = Pool::builder(manager)
            .max_size(config.pool)
            .timeouts(Timeouts {
                wait: Some(wait),
                create: Some(wait),
                recycle: Some(wait),
            })
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|err| StoreError::backend_with("cannot build the PostgreSQL pool", err))?;
        let pool = PgPool {
            pool,
            shared: Arc::new(Shared {
                schema: config.schema.clone(),
                durable: config.durable(),
                statement_timeout: config.statement_timeout.map(|d| d.0),
                plain: config.tls == TlsMode::Disable,
                tls,
            }),
        };
        let mut client = pool.get().await?;
        migrate::ensure_schema(&mut client, &pool).await?;
        Ok(pool)
    }

    /// Whether an acknowledged commit survives a server crash (`synchronous_commit` is not off).
    pub(crate) fn is_durable(&self) -> bool {
        self.shared.durable
    }

    /// The schema holding this store's tables.
    pub(crate) fn schema(&self) -> &str {
        &self.shared.schema
    }

    /// `name` qualified by the schema, quoted: both are identifiers.
    pub(crate) fn qualified(&self, name: &str) -> String {
        format!("\"{}\".\"{}\"", self.shared.schema, name)
    }

    /// A pooled connection, waiting at most `connect_timeout`. Taken inside a call and dropped
    /// when that call is abandoned, it cancels the statement it may be running (see
    /// [`PgConn`]).
    pub(crate) async fn get(&self) -> Result<PgConn> {
        let object =
            self.pool.get().await.map_err(|err| {
                map_pool_error(err, self.shared.statement_timeout, self.shared.plain)
            })?;
        let token = crate::work::in_call().then(|| object.cancel_token());
        Ok(PgConn {
            object,
            cancel: CancelOnAbandon {
                token,
                tls: self.shared.tls.clone(),
            },
        })
    }

    /// Maps a driver error of a call on this pool.
    pub(crate) fn error(&self, err: tokio_postgres::Error) -> StoreError {
        map_error(err, self.shared.statement_timeout)
    }

    /// One round trip.
    pub(crate) async fn ping(&self) -> Result<()> {
        let client = self.get().await?;
        client.simple_query("").await.map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Prepares `sql` on `client`, reusing the connection's prepared statement if it has one.
    pub(crate) async fn prepare(&self, client: &Object, sql: &str) -> Result<Statement> {
        if client.statement_cache.size() >= STATEMENT_CACHE_LIMIT {
            client.statement_cache.clear();
        }
        client.prepare_cached(sql).await.map_err(|e| self.error(e))
    }

    /// Runs `sql` with `params` on `client` and reads every row.
    pub(crate) async fn query(&self, client: &Object, sql: &str, params: &[Value]) -> Result<Rows> {
        let statement = self.prepare(client, sql).await?;
        let params = encode_params(params, statement.params())
            .map_err(|err| StoreError::invalid(err.to_string()))?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let rows = client
            .query(&statement, &refs)
            .await
            .map_err(|e| self.error(e))?;
        let columns: Vec<String> = statement
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(columns.len());
            for index in 0..columns.len() {
                let Cell(value) = row.try_get(index).map_err(|e| self.error(e))?;
                values.push(value);
            }
            out.push(values);
        }
        Ok(Rows { columns, rows: out })
    }

    /// Runs `sql` with `params` on `client` and returns the number of rows it changed.
    pub(crate) async fn execute(
        &self,
        client: &Object,
        sql: &str,
        params: &[Value],
    ) -> Result<u64> {
        let statement = self.prepare(client, sql).await?;
        let params = encode_params(params, statement.params())
            .map_err(|err| StoreError::invalid(err.to_string()))?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        client
            .execute(&statement, &refs)
            .await
            .map_err(|e| self.error(e))
    }
}

/// A pooled connection that stops its statement when its call is abandoned.
///
/// A call's future dropped mid-statement (its deadline passed, its caller went away) would
/// leave the statement running on the server, holding a backend and locks until it ends. So a
/// connection taken inside a call ([`crate::work`]) and dropped outside the call's polls — which
/// is how an abandoned call's state is dropped; a finished call drops it inside its last poll
/// — sends the server a cancel request for whatever the connection is running, then goes back
/// to the pool.
pub(crate) struct PgConn {
    object: Object,
    cancel: CancelOnAbandon,
}

impl PgConn {
    /// The pooled connection itself, no longer cancelled on drop (its new owner handles that).
    pub(crate) fn into_object(self) -> Object {
        let PgConn { object, mut cancel } = self;
        cancel.token = None;
        object
    }
}

impl std::ops::Deref for PgConn {
    type Target = Object;

    fn deref(&self) -> &Object {
        &self.object
    }
}

impl std::ops::DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut Object {
        &mut self.object
    }
}

/// The cancel request of a connection taken inside a call, sent if it is dropped outside one.
struct CancelOnAbandon {
    token: Option<CancelToken>,
    tls: Option<MakeRustls>,
}

impl CancelOnAbandon {
    /// The cancel request to send now, if the connection's call was abandoned.
    fn take_if_abandoned(&mut self) -> Option<(CancelToken, Option<MakeRustls>)> {
        let token = self.token.take()?;
        (!crate::work::in_call()).then(|| (token, self.tls.take()))
    }
}

impl Drop for CancelOnAbandon {
    fn drop(&mut self) {
        if let Some((token, tls)) = self.take_if_abandoned() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(cancel(token, tls));
            }
        }
    }
}

/// Asks the server to cancel whatever the connection of `token` is running.
async fn cancel(token: CancelToken, tls: Option<MakeRustls>) {
    let _ = match tls {
        Some(tls) => token.cancel_query(tls).await,
        None => token.cancel_query(NoTls).await,
    };
}

/// A connection whose session may be inside a transaction: unless [`Session::finish`]ed, it is
/// rolled back before it returns to the pool (or closed, outside a runtime), so a dropped
/// transaction or a call cancelled midway never leaks its state into the next user's calls.
/// When the call it was taken in was abandoned, the statement it may be running is cancelled
/// first (see [`PgConn`]).
pub(crate) struct Session {
    client: Option<PgConn>,
}

impl Session {
    pub(crate) fn new(client: PgConn) -> Self {
        Session {
            client: Some(client),
        }
    }

    pub(crate) fn client(&self) -> Result<&Object> {
        self.client
            .as_deref()
            .ok_or_else(|| StoreError::backend("the transaction's connection is gone"))
    }

    /// Marks the session clean (committed or rolled back): its connection goes back as is.
    pub(crate) fn finish(mut self) {
        self.client.take().map(PgConn::into_object);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let Some(mut conn) = self.client.take() else {
            return;
        };
        let abandoned = conn.cancel.take_if_abandoned();
        let client = conn.into_object();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Some((token, tls)) = abandoned {
                        cancel(token, tls).await;
                    }
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        // Unknown state: never give this connection to anyone else.
                        drop(Object::take(client));
                    }
                });
            }
            Err(_) => drop(Object::take(client)),
        }
    }
}
