//! The prediction log, designed as an outbox.
//!
//! Each answered prediction ([`Record`]) is appended to a segment file before its answer
//! leaves (strict durability), so every 200 is on disk first. Without `--fsync` the request
//! handler appends its own record, one write under the segment's lock (appender.rs says why);
//! with `--fsync`, and whenever that fast path steps aside, handlers queue records to one
//! journal writer thread through a bounded channel, which appends whatever has queued up with
//! one write (group commit; with `--fsync` one fdatasync) and only then acknowledges. A loader
//! thread then puts the same records into the journal's SQLite
//! database in large transactions, a few milliseconds later, off the request path (segment.rs
//! and loader.rs say why and how; recovery replays what a crash left unloaded). For the default
//! `sqlite://` sink the journal table *is* the log (`predictions`). For remote sinks
//! (`jsonl://`, `bigquery://`) the journal holds an `outbox` table that a shipper thread drains
//! in batches, with retries and exponential backoff, deleting rows only after the sink
//! confirmed them. A `kill -9` loses nothing that was answered: the next start loads and ships
//! what is left.

pub mod adopt;
mod appender;
pub mod bigquery;
mod checkpoint;
mod journal;
mod loader;
mod queue;
mod schema;
mod segment;
mod shipper;
pub mod sinks;

use super::config::LogTarget;
use super::metrics::Metrics;
use credit_core::{MAX_REASONS, N_FEATURES};
pub use journal::{OUTBOX_COPY_COLUMNS, RECORD_COLUMNS};
use journal::{OUTBOX_TABLE, PREDICTIONS_TABLE};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What could go wrong with the prediction log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("journal database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("journal file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the prediction log is not accepting records ({0})")]
    Unavailable(&'static str),
    /// Another process holds the journal: two servers on one journal would each replay and
    /// load the other's segments (every record twice) and write into the same files.
    #[error(
        "the journal {0} is in use by another running `credit serve`: give each server its own \
         --log file, or let servers share a --journal-dir (each then keeps its own journal)"
    )]
    InUse(String),
    /// The outbox holds as many records (or bytes) as it may: the sink is behind or down.
    #[error(
        "the prediction log's outbox is full ({pending} records, {bytes} bytes wait for the sink)"
    )]
    Full { pending: i64, bytes: i64 },
    #[error("sink: {0}")]
    Sink(String),
    /// A segment of the journal holds something this build cannot read (not a torn tail).
    #[error("journal segment: {0}")]
    Segment(String),
}

/// The identity of the model that made a decision, shared by all its records.
#[derive(Debug)]
pub struct ModelTag {
    pub version: String,
    /// Reason code of each feature (model column order) as a JSON string literal, escaped once
    /// per model instead of once per record.
    pub reason_codes_json: [String; N_FEATURES],
}

impl ModelTag {
    pub fn new(version: String, reason_codes: [String; N_FEATURES]) -> ModelTag {
        let reason_codes_json = std::array::from_fn(|j| {
            let mut s = String::with_capacity(reason_codes[j].len() + 2);
            credit_core::json::push_string(&mut s, &reason_codes[j]);
            s
        });
        ModelTag {
            version,
            reason_codes_json,
        }
    }
}

/// One answered prediction, as handed to the journal (formatting happens in the writer thread,
/// off the request path).
#[derive(Debug, Clone)]
pub struct Record {
    /// Ours: a UUIDv7 (time-ordered, unique), the journal key and BigQuery's `insertId`.
    pub decision_id: uuid::Uuid,
    /// The caller's `X-Request-Id` (or the id we generated): correlation, never unique.
    pub request_id: String,
    /// The W3C / Cloud trace id of the request, when it had one.
    pub trace_id: Option<String>,
    /// Microseconds since the Unix epoch when the request arrived.
    pub ts_us: i64,
    pub model: Arc<ModelTag>,
    /// The validated inputs in model order (NaN = missing).
    pub input: [f64; N_FEATURES],
    pub probability: f64,
    pub prediction: u8,
    pub score: f64,
    /// Feature indices of the reasons, largest loss first.
    pub reasons: [u8; MAX_REASONS],
    pub n_reasons: u8,
    pub latency_us: u64,
}

/// Records of one request (one for `/predict`, many for a batch).
pub(crate) enum Records {
    One(Record),
    Many(Vec<Record>),
}

impl Records {
    fn len(&self) -> usize {
        match self {
            Records::One(_) => 1,
            Records::Many(v) => v.len(),
        }
    }
}

pub(crate) enum Msg {
    Write {
        records: Records,
        /// Present in strict mode: answered after the commit (or the failure).
        ack: Option<oneshot::Sender<Result<(), &'static str>>>,
    },
    /// A real write to the journal, for `/ready`: answered with its outcome.
    Probe(oneshot::Sender<Result<(), String>>),
    /// Drain what is queued, then stop.
    Close,
}

/// How much the outbox may hold for a remote sink before new records are refused (strict
/// durability: 503 with `Retry-After`) or dropped (relaxed: counted). Without a bound, a sink
/// that keeps failing grows the journal until the disk (on Cloud Run: the instance's memory)
/// runs out and every pending record is lost with the instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Records waiting in the outbox (and on their way to it).
    pub max_pending: i64,
    /// Bytes of the outbox and the dead letters (see `journal::record_bytes`).
    pub max_bytes: i64,
    /// Failed attempts after which a permanent sink error moves a record to `dead_letter`.
    pub dead_letter_after: i64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_pending: 200_000,
            max_bytes: 256 * 1024 * 1024,
            dead_letter_after: 5,
        }
    }
}

/// Capacity of the channel to the writer (back-pressure beyond it: senders wait).
const QUEUE: usize = 8192;
/// Records that may wait in the segments for the loader (beyond it the handlers' fast path
/// steps aside and the writer waits: back-pressure). Over a second of load at 50k records a
/// second; it fills only when SQLite stalls.
const LOAD_QUEUE: usize = 65_536;

/// A cheap, cloneable way for handlers to submit records.
#[derive(Clone)]
pub struct JournalHandle {
    tx: mpsc::Sender<Msg>,
    /// The segment, for the handlers' own appends (see `appender.rs`).
    appender: Arc<appender::Appender>,
    metrics: Arc<Metrics>,
    healthy: Arc<AtomicBool>,
    arriving: Arc<AtomicI64>,
    /// Whether another instance took this instance's journal (shared `--journal-dir`).
    lease: Option<adopt::LeaseWatch>,
    /// `Some` for remote sinks: the outbox bound that `submit` enforces.
    limits: Option<Limits>,
    /// The last write check (`/ready`): when, and its outcome.
    last_probe: Arc<std::sync::Mutex<Option<Probed>>>,
}

/// A `/ready` write check: when it ran, and its outcome.
type Probed = (std::time::Instant, Result<(), String>);

/// The outbox as `/ready` reports it.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct OutboxState {
    pub pending: i64,
    pub bytes: i64,
    pub dead_letters: i64,
    /// New records are refused (strict) or dropped (relaxed) until the sink catches up.
    pub full: bool,
}

/// How long a `/ready` write check is reused (load balancers probe often; one write a second is
/// enough to know the journal works).
const PROBE_TTL: Duration = Duration::from_secs(1);
/// How long `/ready` waits for its write check (the writer retries a failing journal for 3 s).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A request that has its body and will submit a record within microseconds (parsing and
/// scoring are all that is left). The writer waits briefly for such requests before it writes,
/// so that they share the group's write instead of each starting a small one: fewer writes (and
/// with `--fsync` fewer fdatasyncs) and fewer wake-ups.
pub struct Arriving(Arc<AtomicI64>);

impl Drop for Arriving {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

impl JournalHandle {
    /// Announces a record that is about to be submitted (see [`Arriving`]); dropped on submit
    /// or when the request ends without a record.
    pub fn arriving(&self) -> Arriving {
        self.arriving.fetch_add(1, Ordering::Release);
        Arriving(self.arriving.clone())
    }

    /// Queues records; with `wait` returns only once they are committed to the journal.
    pub async fn submit_one(
        &self,
        record: Record,
        wait: bool,
        arriving: Arriving,
    ) -> Result<(), LogError> {
        self.submit(Records::One(record), wait, arriving).await
    }

    /// Queues the records of a batch request in one message (one commit, one wait).
    pub async fn submit_many(
        &self,
        records: Vec<Record>,
        wait: bool,
        arriving: Arriving,
    ) -> Result<(), LogError> {
        if records.is_empty() {
            return Ok(());
        }
        self.submit(Records::Many(records), wait, arriving).await
    }

    async fn submit(
        &self,
        records: Records,
        wait: bool,
        arriving: Arriving,
    ) -> Result<(), LogError> {
        let n = records.len() as i64;
        if let Some(limits) = &self.limits {
            let pending = self.metrics.log_outbox_pending.load(Ordering::Relaxed)
                + self.metrics.log_segment_backlog.load(Ordering::Relaxed)
                + self.metrics.log_queue_depth.load(Ordering::Relaxed);
            let bytes = self.metrics.log_outbox_bytes.load(Ordering::Relaxed);
            if pending + n > limits.max_pending || bytes >= limits.max_bytes {
                return Err(LogError::Full { pending, bytes });
            }
        }
        if self.appender.try_append(&records) {
            return Ok(());
        }
        self.metrics.log_queue_depth.fetch_add(n, Ordering::Relaxed);
        let (ack, rx) = if wait {
            let (t, r) = oneshot::channel();
            (Some(t), Some(r))
        } else {
            (None, None)
        };
        let sent = self.tx.send(Msg::Write { records, ack }).await;
        // Queued (or refused): the writer no longer needs to wait for this one.
        drop(arriving);
        if sent.is_err() {
            self.metrics.log_queue_depth.fetch_sub(n, Ordering::Relaxed);
            return Err(LogError::Unavailable("shutting down"));
        }
        match rx {
            None => Ok(()),
            Some(rx) => match rx.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(why)) => Err(LogError::Unavailable(why)),
                Err(_) => Err(LogError::Unavailable("journal writer stopped")),
            },
        }
    }

    /// The journal accepted its last write (and the writer is running).
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed) && !self.tx.is_closed()
    }

    /// Another instance adopted this instance's journal (it found the lease stale): records
    /// written from now on would not be shipped by anyone, so the instance must be replaced.
    pub fn lease_lost(&self) -> bool {
        self.lease.as_ref().is_some_and(adopt::LeaseWatch::is_lost)
    }

    /// The outbox of a remote sink now (`None` for the sqlite sink, which has none).
    pub fn outbox(&self) -> Option<OutboxState> {
        let limits = self.limits?;
        let m = &self.metrics;
        // Written to the segments but not loaded yet: on its way to the outbox.
        let pending = (m.log_outbox_pending.load(Ordering::Relaxed)
            + m.log_segment_backlog.load(Ordering::Relaxed))
        .max(0);
        let bytes = m.log_outbox_bytes.load(Ordering::Relaxed).max(0);
        Some(OutboxState {
            pending,
            bytes,
            dead_letters: m.log_dead_letter_held.load(Ordering::Relaxed).max(0),
            full: pending >= limits.max_pending || bytes >= limits.max_bytes,
        })
    }

    /// Checks that the journal can be written right now, by writing to it: a probe frame through
    /// the writer to the segment (what a request would see), then, through the loader, the
    /// `health` row of the database (a database that cannot be written would otherwise only show
    /// as a growing backlog). Reused for [`PROBE_TTL`].
    pub async fn check_writable(&self) -> Result<(), String> {
        if let Ok(last) = self.last_probe.lock() {
            if let Some((at, r)) = last.as_ref() {
                if at.elapsed() < PROBE_TTL {
                    return r.clone();
                }
            }
        }
        let (t, r) = oneshot::channel();
        let result = if self.tx.try_send(Msg::Probe(t)).is_err() {
            Err("the journal writer is not accepting work (stopped or its queue is full)".into())
        } else {
            match tokio::time::timeout(PROBE_TIMEOUT, r).await {
                Ok(Ok(r)) => r,
                Ok(Err(_)) => Err("the journal writer stopped".into()),
                Err(_) => Err(format!(
                    "a journal write did not complete within {} s",
                    PROBE_TIMEOUT.as_secs()
                )),
            }
        };
        if let Ok(mut last) = self.last_probe.lock() {
            *last = Some((std::time::Instant::now(), result.clone()));
        }
        result
    }
}

/// The running log: the writer and loader threads and, for remote sinks, the shipper thread.
pub struct Journal {
    handle: JournalHandle,
    writer: Option<std::thread::JoinHandle<u64>>,
    loader: Option<std::thread::JoinHandle<loader::LoaderEnd>>,
    /// Tells the loader that the writer has stopped (see `LoaderLinks::closing`).
    loader_closing: Arc<AtomicBool>,
    /// The journal database, whose segment directory goes once everything is loaded.
    path: std::path::PathBuf,
    shipper: Option<shipper::ShipperHandle>,
    checkpointer: Option<checkpoint::Checkpointer>,
    /// This instance's claim on its journal in a shared `--journal-dir`, and the thread that
    /// adopts the journals of dead instances.
    lease: Option<adopt::Lease>,
    /// `<journal>.lock`, held exclusively while the journal is open (see [`lock_journal`]).
    _lock: Option<std::fs::File>,
    adopter: Option<adopt::Adopter>,
}

fn log_adoption(r: &adopt::AdoptReport) {
    if r.journals > 0 {
        tracing::info!(
            journals = r.journals,
            outbox_rows = r.outbox_rows,
            dead_letters = r.dead_letters,
            duplicates = r.duplicates,
            "adopted the journals of instances that stopped; their records are shipped from here"
        );
    }
    for why in &r.failed {
        tracing::warn!(reason = %why, "an orphaned journal could not be adopted (retried later)");
    }
}

/// What was left at shutdown.
#[derive(Debug, Default, Clone, Copy)]
pub struct DrainReport {
    /// Records written to the journal during this run.
    pub journaled: u64,
    /// Records the loader put into the journal's SQLite table during this run (not counting
    /// what an earlier run left in the segments: recovery loads that before serving).
    pub loaded: u64,
    /// Records still waiting for the remote sink (shipped at the next start).
    pub pending: u64,
}

/// Opens the journal (creating directories, file and tables), loads what a crash left in its
/// segments, adopts orphans (shared `--journal-dir`) and starts the threads.
pub fn start(
    target: &LogTarget,
    fsync: bool,
    limits: Limits,
    journal_dir: Option<(&std::path::Path, Duration)>,
    metrics: Arc<Metrics>,
) -> Result<Journal, LogError> {
    let remote = !matches!(target, LogTarget::Sqlite { .. });
    let table = if remote {
        OUTBOX_TABLE
    } else {
        PREDICTIONS_TABLE
    };
    let stale_after = journal_dir.map_or(adopt::DEFAULT_STALE_AFTER, |(_, s)| s);
    let (path, lease) = match journal_dir {
        Some((dir, _)) => {
            let (path, lease) = adopt::instance_journal(dir)?;
            (path, Some(lease))
        }
        None => (target.journal_path().clone(), None),
    };
    // In a --journal-dir each instance has a journal of its own (and the lease protocol).
    let lock = match &lease {
        Some(_) => None,
        None => Some(lock_journal(&path)?),
    };
    let mut conn = journal::open(&path, fsync)?;
    let recovered = recover(&mut conn, &path, table)?;
    if let Some(lease) = &lease {
        let r = adopt::adopt_stale(lease, &mut conn, stale_after)?;
        log_adoption(&r);
    }
    // No automatic checkpoint in the loader either: the checkpointer thread copies, and past
    // the WAL bound the loader finishes the little it left between two loads, so that the WAL
    // starts over, and the file is cut back to the bound (log/checkpoint.rs). Nobody waits for
    // the loader, but the bound keeps the WAL (and every commit over it) small.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "journal_size_limit", checkpoint::WAL_BOUND as i64)?;
    let wal_reset = Arc::new(checkpoint::WalReset::default());
    let checkpointer = checkpoint::Checkpointer::spawn(
        &path,
        checkpoint::CHECKPOINT_EVERY,
        checkpoint::WAL_BOUND,
        wal_reset.clone(),
    )?;
    if remote {
        held_to_metrics(&conn, &metrics)?;
    }
    let (wake_tx, wake_rx) = std::sync::mpsc::sync_channel::<()>(1);
    let shipper = if remote {
        let sink = sinks::build(target)?;
        Some(shipper::spawn(
            path.clone(),
            fsync,
            sink,
            wake_rx,
            limits,
            metrics.clone(),
        )?)
    } else {
        None
    };
    let queue = Arc::new(queue::LoadQueue::new(LOAD_QUEUE));
    let loader_closing = Arc::new(AtomicBool::new(false));
    let dir = segment::dir_of(&path);
    let loader = loader::spawn(
        conn,
        table,
        queue.clone(),
        dir.clone(),
        recovered.next_segment,
        loader::LoaderLinks {
            metrics: metrics.clone(),
            wake_shipper: remote.then_some(wake_tx),
            wal_reset,
            closing: loader_closing.clone(),
        },
    )?;
    let seg = segment::SegmentWriter::create(
        &dir,
        recovered.next_segment,
        segment::SEGMENT_BYTES,
        fsync,
    )?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let healthy = Arc::new(AtomicBool::new(true));
    let arriving = Arc::new(AtomicI64::new(0));
    // Without --fsync the handlers append themselves (appender.rs says why).
    let appender = Arc::new(appender::Appender::new(
        seg,
        queue,
        metrics.clone(),
        healthy.clone(),
        !fsync,
    ));
    let writer = journal::spawn_writer(
        rx,
        journal::WriterLinks {
            metrics: metrics.clone(),
            healthy: healthy.clone(),
            arriving: arriving.clone(),
            appender: appender.clone(),
        },
    )?;
    let adopter = match &lease {
        Some(lease) => Some(spawn_adopter(lease, fsync, stale_after, &metrics)?),
        None => None,
    };
    let lease_watch = lease.as_ref().map(adopt::Lease::watch);
    Ok(Journal {
        _lock: lock,
        lease,
        adopter,
        handle: JournalHandle {
            lease: lease_watch,
            tx,
            appender,
            metrics,
            healthy,
            arriving,
            limits: remote.then_some(limits),
            last_probe: Arc::default(),
        },
        writer: Some(writer),
        loader: Some(loader),
        loader_closing,
        path,
        shipper,
        checkpointer: Some(checkpointer),
    })
}

/// Takes `<db>.lock` (created next to the journal, kept afterwards) with an exclusive `flock`,
/// released by the kernel when the process ends however it ends, so a `kill -9` never leaves
/// the journal locked. A second server on the same file gets [`LogError::InUse`] before it
/// touches the journal (its recovery would load the first one's unloaded segments again).
fn lock_journal(db: &std::path::Path) -> Result<std::fs::File, LogError> {
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::path::PathBuf::from(name))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(LogError::InUse(db.display().to_string())),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Loads what the segments of the journal at `path` hold past the recorded progress (records
/// answered before a crash), before anything else reads or writes the journal.
fn recover(
    conn: &mut rusqlite::Connection,
    path: &std::path::Path,
    table: &str,
) -> Result<loader::Recovered, LogError> {
    let r = loader::recover(conn, path, table)?;
    if r.records > 0 || r.torn_bytes > 0 || r.damaged_bytes > 0 {
        tracing::info!(
            records = r.records,
            torn_bytes = r.torn_bytes,
            damaged_bytes = r.damaged_bytes,
            "loaded the journal segments an earlier run left (records answered before it stopped)"
        );
    }
    Ok(r)
}

/// The outbox and dead letters an earlier run left, into the gauges.
fn held_to_metrics(conn: &rusqlite::Connection, metrics: &Metrics) -> Result<(), LogError> {
    let (pending, dead, bytes) = journal::held(conn)?;
    metrics.log_outbox_pending.store(pending, Ordering::Relaxed);
    metrics.log_outbox_bytes.store(bytes, Ordering::Relaxed);
    metrics.log_dead_letter_held.store(dead, Ordering::Relaxed);
    if dead > 0 {
        tracing::warn!(
            dead_letters = dead,
            "the journal holds records a sink refused (table dead_letter)"
        );
    }
    if pending > 0 {
        tracing::info!(
            pending,
            "journal has records from an earlier run; shipping them first"
        );
    }
    Ok(())
}

fn spawn_adopter(
    lease: &adopt::Lease,
    fsync: bool,
    stale_after: Duration,
    metrics: &Arc<Metrics>,
) -> Result<adopt::Adopter, LogError> {
    let m = metrics.clone();
    adopt::Adopter::spawn(
        lease,
        fsync,
        stale_after,
        adopt::ADOPT_EVERY,
        Box::new(move |r| {
            log_adoption(r);
            m.log_outbox_pending
                .fetch_add(r.outbox_rows as i64, Ordering::Relaxed);
            m.log_outbox_bytes.fetch_add(r.bytes, Ordering::Relaxed);
            m.log_dead_letter_held
                .fetch_add(r.dead_letters as i64, Ordering::Relaxed);
        }),
    )
}

impl Journal {
    pub fn handle(&self) -> JournalHandle {
        self.handle.clone()
    }

    /// Writes what is queued, stops the writer, lets the loader load everything (then removes
    /// the segments), then gives the shipper until `budget` to empty the outbox (what it cannot
    /// ship stays in the journal for the next start).
    pub async fn shutdown(mut self, budget: Duration) -> DrainReport {
        let deadline = std::time::Instant::now() + budget;
        if let Some(a) = self.adopter.take() {
            let _ = tokio::task::spawn_blocking(move || a.finish()).await;
        }
        let _ = self.handle.tx.send(Msg::Close).await;
        let mut report = DrainReport::default();
        if let Some(w) = self.writer.take() {
            report.journaled = tokio::task::spawn_blocking(move || w.join().unwrap_or(0))
                .await
                .unwrap_or(0);
        }
        self.loader_closing.store(true, Ordering::Release);
        if let Some(l) = self.loader.take() {
            let end = tokio::task::spawn_blocking(move || l.join().unwrap_or_default())
                .await
                .unwrap_or_default();
            report.loaded = end.loaded;
            if end.complete {
                if let Err(e) = segment::remove_dir(&self.path) {
                    tracing::warn!(error = %e, "cannot remove the loaded journal segments (removed at the next start)");
                }
            } else {
                tracing::warn!("the journal loader could not load everything; the rest stays in the segments for the next start");
            }
        }
        if let Some(s) = self.shipper.take() {
            report.pending = tokio::task::spawn_blocking(move || s.finish(deadline))
                .await
                .unwrap_or(0);
        }
        if let Some(c) = self.checkpointer.take() {
            let _ = tokio::task::spawn_blocking(move || c.finish()).await;
        }
        if let Some(lease) = self.lease.take() {
            // Every connection to the journal is closed by now (loader, shipper, checkpointer
            // and adopter have stopped), as `Lease::finish` requires.
            drop(self.handle);
            match tokio::task::spawn_blocking(move || lease.finish()).await {
                Ok(Ok(end)) => tracing::info!(?end, "journal lease ended"),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "journal lease could not be ended cleanly; it goes stale and is adopted")
                }
                Err(e) => tracing::warn!(error = %e, "journal lease task failed"),
            }
        }
        report
    }
}
