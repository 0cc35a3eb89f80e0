//! The accept loop: TCP connections, optionally TLS, served as HTTP/1.1 by hyper with the
//! bounds a listener facing untrusted clients needs.
//!
//! - **Connection cap** (`max_connections`): each connection holds a slot from accept to close.
//!   A connection arriving when every slot is taken is closed at once, never queued: a client
//!   (or a load balancer) learns immediately that this instance is full and can go elsewhere,
//!   where waiting would leave it hanging in the kernel's backlog behind whoever holds the
//!   slots. Refusals are logged as a warning at most every ten seconds.
//! - **Header timeout** (`header_timeout`): once the first byte of a request arrives, the whole
//!   request head (request line and headers) must arrive within it, or the connection is
//!   closed. This defeats clients that trickle headers to hold connections open (slowloris).
//!   With TLS, the handshake must finish within it too.
//! - **Idle timeout** (`idle_timeout`): a connection on which nothing has been read or written
//!   for this long, while none of its requests is being handled, is closed: the keep-alive
//!   limit between requests, and the bound on a client that stops reading its response.
//!   (Request bodies are read by the handlers, within `request_timeout`.)
//!
//!   hyper's own header-read timeout is set too, to `header_timeout + idle_timeout`, counted
//!   from the moment a connection waits for a request: a backstop with the same worst case.
//! - **Graceful shutdown**: when `stop` resolves the listener closes, idle connections close at
//!   once, and requests in flight finish on their connection, which then closes.
//!
//! Only HTTP/1.1 is served (as before, and what the clients of a sidecar speak); HTTP/2's
//! streams would need limits of their own.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

/// How often, at most, refused connections are logged.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);
/// How long the loop pauses after an accept error that is not the client's (such as running
/// out of file descriptors), so that it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// The listener's bounds and TLS (from `[sidecar]`).
#[derive(Clone, Debug)]
pub struct Transport {
    /// Time from a request's first byte to its whole head (and for a TLS handshake).
    pub header_timeout: Duration,
    /// Time without a byte read or written, while no request is handled, before closing.
    pub idle_timeout: Duration,
    /// Connections open at once; more are closed at once.
    pub max_connections: usize,
    /// TLS on every connection, when configured ([`crate::tls::TlsFiles::server_config`]).
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

/// Serves `app` on `listener` until `stop` resolves, then stops accepting and waits for the
/// open connections to finish their requests and close.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    transport: Transport,
    stop: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(transport.max_connections));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(transport.header_timeout + transport.idle_timeout)
        .keep_alive(true);
    let mut refusals = Refusals::default();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) if is_connection_error(&err) => continue,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot accept a connection; pausing");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            refusals.note(transport.max_connections);
            continue;
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %err, "cannot set TCP_NODELAY");
        }
        let connection = Connection {
            http: http.clone(),
            app: app.clone(),
            watcher: graceful.watcher(),
            header_timeout: transport.header_timeout,
            idle_timeout: transport.idle_timeout,
            peer,
        };
        let tls = transport.tls.clone().map(TlsAcceptor::from);
        let handshake_timeout = transport.header_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                None => connection.serve(stream).await,
                Some(acceptor) => {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => connection.serve(stream).await,
                        Ok(Err(err)) => {
                            tracing::info!(%peer, error = %err, "TLS handshake failed")
                        }
                        Err(_) => tracing::info!(
                            %peer,
                            timeout = ?handshake_timeout,
                            "TLS handshake did not finish within header_timeout; closed"
                        ),
                    }
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Errors of one incoming connection, not of the listener: skip it and accept the next.
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Counts connections refused at the cap and logs them now and then.
#[derive(Default)]
struct Refusals {
    since_log: u64,
    logged_at: Option<Instant>,
}

impl Refusals {
    fn note(&mut self, max_connections: usize) {
        self.since_log += 1;
        let due = self
            .logged_at
            .is_none_or(|at| at.elapsed() >= REFUSAL_LOG_EVERY);
        if due {
            tracing::warn!(
                refused = self.since_log,
                max_connections,
                "connections refused: every connection slot is in use; raise `[sidecar] max_connections` if clients legitimately need more"
            );
            self.since_log = 0;
            self.logged_at = Some(Instant::now());
        }
    }
}

/// One accepted connection, ready to serve once its transport (TCP or TLS) is up.
struct Connection {
    http: http1::Builder,
    app: axum::Router,
    watcher: Watcher,
    header_timeout: Duration,
    idle_timeout: Duration,
    peer: SocketAddr,
}

impl Connection {
    async fn serve<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Tracked {
            inner: stream,
            activity: activity.clone(),
        });
        let app = self.app;
        let handling = activity.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let busy = handling.busy();
            let mut app = app.clone();
            async move {
                let response = app.call(request).await;
                drop(busy);
                response
            }
        });
        let connection = self.watcher.watch(self.http.serve_connection(io, service));
        let peer = self.peer;
        tokio::select! {
            result = connection => match result {
                Ok(()) => {}
                Err(err) if err.is_timeout() => tracing::info!(
                    %peer,
                    "no whole request head within header_timeout + idle_timeout; connection closed"
                ),
                Err(err) => tracing::debug!(%peer, error = %err, "connection ended with an error"),
            },
            expired = activity.expired(self.header_timeout, self.idle_timeout) => match expired {
                Expired::Head => tracing::info!(
                    %peer,
                    "the request head did not arrive within header_timeout; connection closed"
                ),
                Expired::Idle => tracing::debug!(
                    %peer,
                    "nothing read or written within idle_timeout; connection closed"
                ),
            },
        }
    }
}

/// Which limit closed a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expired {
    /// A request head started and did not finish within `header_timeout`.
    Head,
    /// Nothing moved within `idle_timeout`.
    Idle,
}

/// What a connection is doing, for its timeouts: when it last moved a byte, whether a request
/// head is arriving (since when), and how many of its requests are being handled.
struct Activity {
    started: Instant,
    /// Milliseconds from `started` to the last byte read or written, or the last request's end.
    last: AtomicU64,
    /// One more than the milliseconds from `started` to the first byte of the request head now
    /// arriving; 0 when none is.
    head_since: AtomicU64,
    handling: AtomicUsize,
    /// Wakes the watchdog when a head starts, so its shorter deadline applies at once.
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Activity {
            started: Instant::now(),
            last: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
            changed: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn at(&self, millis: u64) -> Instant {
        self.started + Duration::from_millis(millis)
    }

    /// Bytes were written.
    fn wrote(&self) {
        self.last.store(self.now(), Ordering::Relaxed);
    }

    /// Bytes were read: outside a request's handling, they start a request head.
    fn read(&self) {
        let now = self.now();
        self.last.store(now, Ordering::Relaxed);
        if self.handling.load(Ordering::Acquire) == 0
            && self
                .head_since
                .compare_exchange(0, now + 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    /// A request's head has arrived and it is being handled until the guard drops.
    fn busy(self: &Arc<Self>) -> Busy {
        self.handling.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(0, Ordering::Release);
        Busy(self.clone())
    }

    /// Resolves when a limit is passed: a head arriving for longer than `header`, or, with no
    /// request being handled, nothing moved for `idle`.
    async fn expired(&self, header: Duration, idle: Duration) -> Expired {
        loop {
            let now = Instant::now();
            let head_since = self.head_since.load(Ordering::Acquire);
            let wake = if self.handling.load(Ordering::Acquire) > 0 {
                now + idle
            } else if head_since > 0 {
                let deadline = self.at(head_since - 1) + header;
                if now >= deadline {
                    return Expired::Head;
                }
                deadline
            } else {
                let deadline = self.at(self.last.load(Ordering::Relaxed)) + idle;
                if now >= deadline {
                    return Expired::Idle;
                }
                deadline
            };
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                () = self.changed.notified() => {}
            }
        }
    }
}

/// A request being handled; its end counts as activity.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.wrote();
        self.0.handling.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A stream that records in its [`Activity`] every read or write that moved bytes.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Duration = Duration::from_secs(2);
    const IDLE: Duration = Duration::from_secs(5);

    fn watch(activity: &Arc<Activity>) -> tokio::task::JoinHandle<(Expired, Instant)> {
        let activity = activity.clone();
        tokio::spawn(async move {
            let expired = activity.expired(HEADER, IDLE).await;
            (expired, Instant::now())
        })
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_closes_after_the_idle_timeout() {
        let activity = Arc::new(Activity::new());
        let opened = Instant::now();
        let (expired, at) = watch(&activity).await.unwrap();
        assert_eq!(expired, Expired::Idle);
        assert_eq!(at - opened, IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_started_late_closes_header_timeout_after_its_first_byte() {
        let activity = Arc::new(Activity::new());
        let watchdog = watch(&activity);
        tokio::time::sleep(Duration::from_secs(4)).await;
        let first_byte = Instant::now();
        activity.read();
        tokio::time::sleep(Duration::from_secs(1)).await;
        activity.read();
        let (expired, at) = watchdog.await.unwrap();
        assert_eq!(expired, Expired::Head);
        assert_eq!(at - first_byte, HEADER);
    }

    #[tokio::test(start_paused = true)]
    async fn a_handled_request_is_never_idle_and_idleness_counts_from_its_end() {
        let activity = Arc::new(Activity::new());
        activity.read();
        let busy = activity.busy();
        let watchdog = watch(&activity);
        tokio::time::sleep(Duration::from_secs(12)).await;
        assert!(
            !watchdog.is_finished(),
            "closed while a request was handled"
        );
        let ended = Instant::now();
        drop(busy);
        let (expired, at) = watchdog.await.unwrap();
        assert_eq!(expired, Expired::Idle);
        assert_eq!(at - ended, IDLE);
    }
}
