//! The server's connections: accept, serve each with hyper (HTTP/1.1 only), and the time limits
//! a client gets.
//!
//! Why not `axum::serve`: it sets no timer, so a client that sends half a request head and then
//! nothing, or keeps a connection open without sending its next request, held the connection
//! (a socket, a task) for ever; a few thousand such clients exhaust the process's file
//! descriptors and nobody else gets in. Here hyper's header read timeout closes a connection
//! whose request head (the first, or a kept-alive connection's next) is not complete within
//! [`Limits::header`]; `api::read_body` bounds the body the same way (408); and at most
//! [`connection_cap`] connections are open at once. HTTP/2 without TLS
//! (prior knowledge) is not served: nothing here uses it (Cloud Run speaks HTTP/1.1 to the
//! container unless told otherwise), and hyper has no timer that would close an idle HTTP/2
//! connection.

use super::state::AppState;
use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// What clients may take: time to send a request, and connections at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// To send a request head in full, counted from when the connection waits for one (after
    /// accepting it, or after the previous answer on a kept-alive connection).
    pub header: Duration,
    /// To send the body in full, counted from when the handler starts reading it.
    pub body: Duration,
    /// Connections open at once (see [`connection_cap`] for what the server makes of it).
    pub connections: usize,
}

/// File descriptors kept for the journal (segments, SQLite and its WAL, the adoption of other
/// journals) however many clients connect.
const FDS_KEPT: u64 = 256;

/// The connection cap: `wanted`, lowered so that [`FDS_KEPT`] of the process's file descriptors
/// stay free for the journal (a flood of connections must not stop it from opening its next
/// segment). On Linux the soft limit is first raised to the hard one, as Go's runtime does: a
/// soft limit of 1024 is a default of old, not a decision about this server.
pub fn connection_cap(wanted: usize) -> usize {
    match fd_limit() {
        Some(fds) => {
            let free = usize::try_from(fds.saturating_sub(FDS_KEPT)).unwrap_or(usize::MAX);
            wanted.min(free.max(16))
        }
        None => wanted,
    }
}

/// The soft limit on open files, after raising it to the hard limit (Linux).
#[cfg(target_os = "linux")]
fn fd_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the one struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    Some(lim.rlim_cur)
}

#[cfg(not(target_os = "linux"))]
fn fd_limit() -> Option<u64> {
    None
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and waits for
/// the open connections to finish their requests (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    state: AppState,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header);
    let graceful = GracefulShutdown::new();
    let cap = connection_cap(limits.connections);
    let slots = Arc::new(Semaphore::new(cap));
    tracing::debug!(max_connections = cap, "connection cap");
    tokio::pin!(shutdown);
    loop {
        // A slot first, then the connection: at the cap, new clients wait in the kernel's
        // accept queue instead of costing a file descriptor each.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    on_accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            tower_service::Service::call(&mut app.clone(), req.map(Body::new))
        });
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        let state = state.clone();
        tokio::spawn(async move {
            let metrics = state.metrics();
            metrics.connections_open.fetch_add(1, Relaxed);
            if let Err(e) = conn.await {
                if timed_out(e.as_ref()) {
                    metrics.connections_timed_out.fetch_add(1, Relaxed);
                }
                tracing::trace!(error = %e, "connection ended with an error");
            }
            metrics.connections_open.fetch_sub(1, Relaxed);
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Whether a connection ended because a request head did not arrive in time.
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<hyper::Error>()
        .is_some_and(hyper::Error::is_timeout)
}

/// A failed accept: the peer's own problem is ignored; anything else (out of file descriptors,
/// say) is logged and retried after a second, when connections may have closed.
async fn on_accept_error(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
