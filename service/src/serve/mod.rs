//! `credit serve`: the REST API (axum) in front of the scorecard, with a prediction log that
//! never loses an answered decision (outbox: a local SQLite journal, then a shipper to the sink).
//!
//! Layout: [`config`] (flags and environment), [`state`] (the hot-swappable model and shared
//! handles), [`api`] (handlers), [`artifact`] (the served model's artifact, with its ETag),
//! [`openapi`] (the documented contract), [`log`] (journal and shippers), [`metrics`] (Prometheus
//! text), [`logging`] (Cloud Logging JSON lines),
//! [`web`] (static browser page and the offline `/docs` page), [`timefmt`] (RFC 3339).
//! Numbers in responses and journal records are written with `credit_core::Shown`.

pub mod access;
pub mod api;
pub mod artifact;
pub mod config;
pub mod encoding;
pub mod error;
pub mod listen;
pub mod log;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod reqid;
pub mod state;
pub mod stdout;
pub mod timefmt;
pub mod web;

use config::ServeConfig;
use state::AppState;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Why `credit serve` could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("model {model}: {source}")]
    Model {
        model: String,
        source: state::LoadError,
    },
    #[error("prediction log")]
    Log(#[from] log::LogError),
    #[error("network")]
    Io(#[from] std::io::Error),
}

/// `credit serve` flags; every one also reads the environment variable Cloud Run users set.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (Cloud Run needs 0.0.0.0).
    #[arg(long, default_value = "127.0.0.1", env = "CREDIT_HOST")]
    pub host: String,
    /// Port to listen on (Cloud Run sets PORT).
    #[arg(long, default_value_t = 8080, env = "PORT")]
    pub port: u16,
    /// Model to serve: an artifact file (JSON) or an MLflow registry reference,
    /// `models:/NAME/VERSION` or `models:/NAME@ALIAS`, resolved through `MLFLOW_TRACKING_URI`
    /// (with `MLFLOW_TRACKING_TOKEN`, `MLFLOW_TRACKING_SERVER_CERT_PATH` for https). SIGHUP and
    /// `POST /admin/reload` resolve it again, so moving an alias then reloading promotes a
    /// version. Without it, the shipped model compiled into this binary.
    #[arg(long, env = "CREDIT_MODEL")]
    pub model: Option<crate::model_ref::ModelRef>,
    /// Prediction log sink: `sqlite://PATH`, `jsonl://PATH` or `bigquery://PROJECT/DATASET/TABLE`.
    #[arg(
        long = "log",
        default_value = "sqlite://.work/predictions.db",
        env = "CREDIT_LOG"
    )]
    pub log: String,
    /// `strict`: answer only after the record is committed to the local journal;
    /// `relaxed`: answer first, journal right after (a crash may lose the last few records).
    #[arg(long, default_value = "strict", env = "CREDIT_DURABILITY")]
    pub durability: String,
    /// Directory of the browser page (`index.html`, assets) served at `/` and `/gradio`.
    #[arg(long, default_value = "web/dist", env = "CREDIT_WEB_DIR")]
    pub web_dir: PathBuf,
    /// Most applicants accepted by one `POST /predict/batch`.
    #[arg(long, default_value_t = 1000, env = "CREDIT_MAX_BATCH")]
    pub max_batch: usize,
    /// Log level (`error`, `warn`, `info`, `debug`, or `tracing` directives). It wins over
    /// `RUST_LOG`, which applies when this is not given; the default is `info`.
    #[arg(long, env = "CREDIT_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Journal file used in front of a remote sink (jsonl / bigquery); default: next to the sink
    /// (`PATH.outbox.db`) or `.work/outbox-<table>.db`.
    #[arg(long, env = "CREDIT_JOURNAL")]
    pub journal: Option<PathBuf>,
    /// fsync every group commit (SQLite `synchronous=FULL`): survives power loss, not just a
    /// crash of this process, at the price of one fsync per group.
    #[arg(long, env = "CREDIT_LOG_FSYNC")]
    pub fsync: bool,
    /// Directory shared by instances (a Cloud Run NFS volume) for per-instance journals of a
    /// remote sink: each instance writes `journal-<id>.db` under a lease it renews, and adopts
    /// (ships) the journals of instances that died. Instead of `--journal`.
    #[arg(long, env = "CREDIT_JOURNAL_DIR", conflicts_with = "journal")]
    pub journal_dir: Option<PathBuf>,
    /// Seconds without a lease renewal (every 5 s) after which another instance's journal in
    /// `--journal-dir` counts as orphaned and is adopted.
    #[arg(long, default_value_t = 60, env = "CREDIT_JOURNAL_STALE_AFTER")]
    pub journal_stale_after: u64,
    /// Seconds a client has to send a request head in full (after connecting, or after the
    /// previous answer on a kept-alive connection); then the connection is closed.
    #[arg(long, default_value_t = 30.0, env = "CREDIT_HEADER_TIMEOUT")]
    pub header_timeout: f64,
    /// Seconds a client has to send a request body in full; then the answer is 408.
    #[arg(long, default_value_t = 30.0, env = "CREDIT_BODY_TIMEOUT")]
    pub body_timeout: f64,
    /// Most client connections open at once; past it new ones wait in the kernel's queue. The
    /// default, 4096, is lowered to leave 256 of the process's file descriptors to the journal.
    #[arg(long, default_value_t = 4096, env = "CREDIT_MAX_CONNECTIONS")]
    pub max_connections: usize,
    /// Most records the outbox of a remote sink (jsonl, bigquery) may hold. When it is full,
    /// strict durability answers 503 with `Retry-After`; relaxed durability answers and drops
    /// the record (counted in `credit_log_dropped_total`). The sqlite sink has no outbox.
    #[arg(long, default_value_t = 200_000, env = "CREDIT_MAX_PENDING")]
    pub max_pending: u64,
    /// Most bytes the journal may hold for a remote sink (outbox and dead letters, estimated).
    /// On Cloud Run's in-memory filesystem this is instance memory: keep it well below it.
    #[arg(long, default_value_t = 256 * 1024 * 1024, env = "CREDIT_MAX_PENDING_BYTES")]
    pub max_pending_bytes: u64,
    /// Failed attempts after which a permanent sink error (HTTP 4xx other than 408/429, a path
    /// that cannot be written) moves records to the journal's `dead_letter` table.
    #[arg(long, default_value_t = 5, env = "CREDIT_DEAD_LETTER_AFTER")]
    pub dead_letter_after: u32,
    /// Worker threads of the HTTP runtime (default: one per core).
    #[arg(long, env = "CREDIT_THREADS")]
    pub threads: Option<usize>,
}

/// Time in-flight requests get after SIGTERM before their connections are dropped.
const IN_FLIGHT_GRACE: Duration = Duration::from_secs(5);
/// Time the prediction log gets to commit and ship what is queued (5 + 4 < Cloud Run's 10 s).
const DRAIN_BUDGET: Duration = Duration::from_secs(4);

/// Runs the server until SIGTERM / SIGINT, then drains and returns.
pub fn run(args: &ServeArgs) -> Result<(), ServeError> {
    // Dropped last (after the drain's log lines): writes the buffered access lines.
    let _flush_logs = logging::init(args.log_level.as_deref());
    let config = ServeConfig::from_args(args).map_err(ServeError::Config)?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = config.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.build()?;
    let result = rt.block_on(serve(config));
    // Give detached tasks no more time: everything that matters was drained in `serve`.
    rt.shutdown_timeout(Duration::from_millis(100));
    result
}

/// The service of a configuration without its listener: the model loaded, the prediction log
/// started, the router built. `serve` puts it behind a socket; the fuzz targets and in-process
/// tests call the router directly. Stop the log with [`log::Journal::shutdown`].
pub fn app(config: ServeConfig) -> Result<(axum::Router, AppState, log::Journal), ServeError> {
    let model = state::load_model(&config.model).map_err(|source| ServeError::Model {
        model: config.model.to_string(),
        source,
    })?;
    let metrics = Arc::new(metrics::Metrics::default());
    let journal = log::start(
        &config.log,
        config.fsync,
        config.limits,
        config
            .journal_dir
            .as_deref()
            .map(|d| (d, config.journal_stale_after)),
        metrics.clone(),
    )?;
    let state = AppState::new(config, model, journal.handle(), metrics);
    Ok((api::router(state.clone()), state, journal))
}

async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    let (app, state, journal) = app(config.clone())?;
    let addr: SocketAddr = format!("{}:{}", config.host, config.port)
        .parse()
        .or_else(|_| {
            std::net::ToSocketAddrs::to_socket_addrs(&(config.host.as_str(), config.port))
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| ServeError::Config(format!("bad --host {:?}", config.host)))
        })?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(
        address = %local,
        model_version = %state.model().version,
        model = %state.model().source.describe(),
        log = %config.log.describe(),
        durability = config.durability.as_str(),
        "credit serve listening on http://{local}"
    );
    spawn_sighup(state.clone());
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let signal_state = state.clone();
    let shutdown = async move {
        shutdown_signal().await;
        // From now on /ready says 503 so a load balancer stops sending new work.
        signal_state.set_draining();
        let _ = stop_tx.send(true);
    };
    let server = listen::serve(listener, app, state.clone(), config.client, shutdown);
    tokio::pin!(server);
    tokio::select! {
        () = &mut server => {}
        // A connection that never finishes (a stuck client) must not hold the drain past the
        // budget: after the signal, in-flight requests get IN_FLIGHT_GRACE, then we move on.
        _ = async {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(IN_FLIGHT_GRACE).await;
        } => tracing::warn!("some connections were still open after the grace period; closing them"),
    }
    tracing::info!("stopped accepting; in-flight requests finished, draining the prediction log");
    state.set_draining();
    drop(state);
    // Cloud Run gives 10 s after SIGTERM: in-flight grace + journal drain stay within it.
    let report = journal.shutdown(DRAIN_BUDGET).await;
    tracing::info!(
        journaled = report.journaled,
        pending_remote = report.pending,
        "prediction log drained"
    );
    Ok(())
}

/// Resolves on SIGTERM (Cloud Run) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received: shutting down"),
                    _ = int.recv() => tracing::info!("SIGINT received: shutting down"),
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// SIGHUP resolves the current model reference again (the start-up one, or the last one a
/// `POST /admin/reload` named), like `POST /admin/reload` without a body.
fn spawn_sighup(state: AppState) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; reload only through /admin/reload");
            return;
        };
        while hup.recv().await.is_some() {
            match state.reload(None).await {
                Ok(r) => tracing::info!(
                    model_version = %r.version,
                    previous_version = %r.previous_version,
                    model = %r.source.describe(),
                    "SIGHUP: model reloaded: {}",
                    r.source.describe()
                ),
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: model refused; the old model keeps serving")
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = state;
}
