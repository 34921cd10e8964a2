//! The journal: the group-committing writer thread (to the segment files, see `segment.rs`;
//! without `--fsync` request handlers append their own records, see `appender.rs`, and the
//! writer thread is their fallback), the SQLite database the loader fills from them, and outbox
//! reads.

use super::appender::Appender;
use super::loader::ProbeAck;
use super::segment::{self, Row};
use super::{LogError, Msg, Record, Records};
use crate::serve::metrics::Metrics;
use crate::serve::timefmt::rfc3339_micros;
use credit_core::json::push_string;
use credit_core::{Shown, FEATURES, N_FEATURES};
use rusqlite::{params, Connection, OpenFlags};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub use super::schema::{
    DEAD_LETTER_TABLE, OUTBOX_COPY_COLUMNS, OUTBOX_TABLE, PREDICTIONS_TABLE, RECORD_COLUMNS,
};

/// Most records in one transaction (bounds the latency of the first request of a group).
const MAX_GROUP: usize = 2048;
/// Longest the writer waits for requests that are about to submit (see [`super::Arriving`])
/// before it commits without them. Measured with wrk -c32 on two cores: groups grew from ~6-9
/// to ~22 records and p90 fell from ~4.5-6 ms to ~2.6-3.4 ms for ~0.1 ms more p50.
const GATHER_WAIT: Duration = Duration::from_micros(200);
/// How long a failing journal is retried before strict requests get their error (503).
const WRITE_RETRY_BUDGET: Duration = Duration::from_secs(3);

/// Opens (creating) the journal file in WAL mode with the tables of this version (migrating a
/// journal written by an earlier one, see [`super::schema`]).
pub fn open(path: &Path, fsync: bool) -> Result<Connection, LogError> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(LogError::Sink(format!(
            "{}: SQLite refused WAL mode (got {mode})",
            path.display()
        )));
    }
    // NORMAL in WAL mode: a committed transaction survives a crash of this process (kill -9);
    // FULL also fsyncs each commit, for power loss.
    conn.pragma_update(None, "synchronous", if fsync { "FULL" } else { "NORMAL" })?;
    // The loader appends at the right edge of two B-trees (rowid and decision id, both time
    // ordered), so a small page cache serves it as well as SQLite's default 2 MiB, which was
    // most of the C heap at peak (heaptrack under wrk). A larger transaction (recovery loads
    // 8,192 records) spills dirty pages into the WAL early, which WAL mode allows.
    conn.pragma_update(None, "cache_size", LOG_CACHE_KIB)?;
    let mut conn = conn;
    super::schema::ensure(&mut conn)?;
    Ok(conn)
}

/// SQLite's page cache per journal connection, in KiB (negative: a size, not a page count).
const LOG_CACHE_KIB: i64 = -512;

/// Rows in a table.
pub fn count(conn: &Connection, table: &str) -> Result<u64, LogError> {
    let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// Reusable text buffers for one record's columns (no allocation per record once warm).
#[derive(Default)]
pub struct Buffers {
    input: String,
    reasons: String,
}

/// `{"Name":` / `,"Name":` of each feature, built once (the names are constants).
fn input_keys() -> &'static [String; N_FEATURES] {
    static KEYS: OnceLock<[String; N_FEATURES]> = OnceLock::new();
    KEYS.get_or_init(|| {
        std::array::from_fn(|j| {
            let mut k = String::from(if j == 0 { "{" } else { "," });
            push_string(&mut k, FEATURES[j].name);
            k.push(':');
            k
        })
    })
}

fn format_record(r: &Record, b: &mut Buffers) {
    b.input.clear();
    for (key, &v) in input_keys().iter().zip(r.input.iter()) {
        b.input.push_str(key);
        if v.is_finite() {
            let _ = write!(b.input, "{}", Shown(v));
        } else {
            b.input.push_str("null");
        }
    }
    b.input.push('}');
    b.reasons.clear();
    b.reasons.push('[');
    for (k, &j) in r.reasons[..usize::from(r.n_reasons)].iter().enumerate() {
        if k > 0 {
            b.reasons.push(',');
        }
        b.reasons
            .push_str(&r.model.reason_codes_json[usize::from(j)]);
    }
    b.reasons.push(']');
}

/// What a record costs the journal, roughly: its text columns, its numbers and the decision id's
/// index entry. Bounds the outbox in bytes without asking SQLite after every commit.
pub fn record_bytes(text_len: usize) -> i64 {
    (text_len + 4 * 8 + 2 * uuid::fmt::Hyphenated::LENGTH + 48) as i64
}

/// Appends a record's frame to `out` (the columns formatted as the table stores them).
fn push_record(out: &mut Vec<u8>, r: &Record, bufs: &mut Buffers) {
    format_record(r, bufs);
    let mut ts = [0u8; 27];
    rfc3339_micros(r.ts_us, &mut ts);
    let row = Row {
        decision_id: r.decision_id,
        request_id: &r.request_id,
        trace_id: r.trace_id.as_deref(),
        ts: std::str::from_utf8(&ts).unwrap_or("1970-01-01T00:00:00.000000Z"),
        model_version: &r.model.version,
        input: &bufs.input,
        probability: r.probability,
        prediction: r.prediction,
        score: r.score,
        reasons: &bufs.reasons,
        latency_us: i64::try_from(r.latency_us).unwrap_or(i64::MAX),
    };
    segment::push_record(out, &row);
}

/// Frames a group's records (and a probe frame per `/ready` check) into `out`; returns the
/// number of records. Each record has its own decision id, so none can collide with another:
/// a caller reusing `X-Request-Id` is an ordinary request.
fn encode_group(group: &[Msg], probes: usize, bufs: &mut Buffers, out: &mut Vec<u8>) -> usize {
    let mut n = 0;
    for m in group {
        if let Msg::Write { records, .. } = m {
            n += encode_records(records, bufs, out);
        }
    }
    for _ in 0..probes {
        segment::push_probe(out);
    }
    n
}

/// Frames the records of one request into `out`; returns how many.
pub fn encode_records(records: &Records, bufs: &mut Buffers, out: &mut Vec<u8>) -> usize {
    match records {
        Records::One(r) => push_record(out, r, bufs),
        Records::Many(v) => v.iter().for_each(|r| push_record(out, r, bufs)),
    }
    records.len()
}

/// What the writer thread shares with the rest of the log.
pub struct WriterLinks {
    pub metrics: Arc<Metrics>,
    /// Whether the last write (or probe) succeeded: `/ready`.
    pub healthy: Arc<AtomicBool>,
    /// Requests holding their body that are about to submit (see [`super::Arriving`]).
    pub arriving: Arc<AtomicI64>,
    /// The segment (shared with the handlers' fast path) and, behind it, the load queue: if
    /// SQLite falls far behind, the writer waits for room (back-pressure) instead of holding
    /// an unbounded backlog.
    pub appender: Arc<Appender>,
}

/// Starts the writer thread. It returns the number of records it wrote.
pub fn spawn_writer(
    mut rx: mpsc::Receiver<Msg>,
    links: WriterLinks,
) -> Result<std::thread::JoinHandle<u64>, LogError> {
    let handle = std::thread::Builder::new()
        .name("credit-journal".into())
        .spawn(move || {
            // However this thread ends (a panic too), appends stop and the loader is told
            // that nothing more comes, so that it finishes and the shutdown does not hang.
            let _close = CloseOnExit(links.appender.clone());
            let mut bufs = Buffers::default();
            let mut frames: Vec<u8> = Vec::new();
            let mut group: Vec<Msg> = Vec::with_capacity(256);
            let mut probes: Vec<ProbeAck> = Vec::new();
            let mut total = 0u64;
            let mut closing = false;
            while !closing {
                let Some(first) = rx.blocking_recv() else {
                    break;
                };
                group.clear();
                let n_records = gather(
                    first,
                    &mut rx,
                    &mut group,
                    &mut probes,
                    &mut closing,
                    &links,
                );
                links
                    .metrics
                    .log_queue_depth
                    .fetch_sub(n_records as i64, Ordering::Relaxed);
                if n_records > 0 || !probes.is_empty() {
                    total += write_group(&mut group, &mut probes, &mut bufs, &mut frames, &links);
                }
            }
            // Appends stop before anyone is refused: a handler's fast path then falls back to
            // the closed queue and gets "shutting down" too.
            drop(_close);
            refuse_the_rest(&mut rx);
            links.healthy.store(false, Ordering::Relaxed);
            total
        })?;
    Ok(handle)
}

/// Closes the appender (and so the load queue) when dropped: see [`spawn_writer`].
struct CloseOnExit(Arc<Appender>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Group commit: takes `first` and everything that queued up while the last write ran, and
/// gives requests that already hold their body a moment to join (they yield the core to us only
/// when they are done, so yielding is how we let them finish). On Close, keeps draining:
/// senders that were already queued get their write. Returns the records taken.
fn gather(
    first: Msg,
    rx: &mut mpsc::Receiver<Msg>,
    group: &mut Vec<Msg>,
    probes: &mut Vec<ProbeAck>,
    closing: &mut bool,
    links: &WriterLinks,
) -> usize {
    let mut n_records = take(first, group, probes, closing);
    let gather_started = Instant::now();
    loop {
        if n_records >= MAX_GROUP && !*closing {
            break;
        }
        match rx.try_recv() {
            Ok(m) => n_records += take(m, group, probes, closing),
            Err(mpsc::error::TryRecvError::Empty)
                if !*closing
                    && links.arriving.load(Ordering::Acquire) > 0
                    && gather_started.elapsed() < GATHER_WAIT =>
            {
                std::thread::yield_now();
            }
            Err(_) => break,
        }
    }
    if *closing {
        rx.close();
        while let Ok(m) = rx.try_recv() {
            n_records += take(m, group, probes, closing);
        }
    }
    n_records
}

/// Writes a group to the segment (which queues it for the loader, with the probes, which the
/// loader answers once it has loaded them) and answers its strict requests. Returns the records
/// written.
fn write_group(
    group: &mut Vec<Msg>,
    probes: &mut Vec<ProbeAck>,
    bufs: &mut Buffers,
    frames: &mut Vec<u8>,
    links: &WriterLinks,
) -> u64 {
    frames.clear();
    let n = encode_group(group, probes.len(), bufs, frames);
    links.appender.wait_for_room(n);
    match write_with_retry(frames, n, probes, group, links) {
        Ok(()) => {
            answer(group, Ok(()));
            n as u64
        }
        Err(why) => {
            answer(group, Err(why));
            for p in probes.drain(..) {
                let _ = p.send(Err(format!(
                    "the journal segment cannot be written ({why})"
                )));
            }
            0
        }
    }
}

/// Anyone still queued after the close learns that the log is gone.
fn refuse_the_rest(rx: &mut mpsc::Receiver<Msg>) {
    rx.close();
    while let Ok(m) = rx.try_recv() {
        match m {
            Msg::Write { ack: Some(ack), .. } => {
                let _ = ack.send(Err("shutting down"));
            }
            Msg::Probe(p) => {
                let _ = p.send(Err("shutting down".into()));
            }
            _ => {}
        }
    }
}

/// Files one message of the queue: records into the group, probes aside; returns its records.
fn take(m: Msg, group: &mut Vec<Msg>, probes: &mut Vec<ProbeAck>, closing: &mut bool) -> usize {
    match m {
        Msg::Close => {
            *closing = true;
            0
        }
        Msg::Probe(p) => {
            probes.push(p);
            0
        }
        Msg::Write { records, ack } => {
            let n = records.len();
            group.push(Msg::Write { records, ack });
            n
        }
    }
}

/// Appends the group's frames to the segment, retrying a failing disk for
/// [`WRITE_RETRY_BUDGET`] (the segment's lock is released between attempts); each failed
/// attempt is cut off the file at once, so that no retry or failure leaves a record twice.
fn write_with_retry(
    frames: &[u8],
    records: usize,
    probes: &mut Vec<ProbeAck>,
    group: &[Msg],
    links: &WriterLinks,
) -> Result<(), &'static str> {
    let started = Instant::now();
    let mut backoff = Duration::from_millis(10);
    loop {
        match links.appender.append(frames, records, probes) {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::error!(error = %e, "journal write failed; retrying");
                if started.elapsed() > WRITE_RETRY_BUDGET {
                    count_lost(group, &links.metrics);
                    return Err("journal write failed");
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_millis(500));
            }
        }
    }
}

/// Relaxed-durability records of a group that could not be written: counted as dropped.
fn count_lost(group: &[Msg], metrics: &Metrics) {
    let lost: usize = group
        .iter()
        .map(|m| match m {
            Msg::Write { records, ack: None } => records.len(),
            _ => 0,
        })
        .sum();
    if lost > 0 {
        metrics
            .log_dropped
            .fetch_add(lost as u64, Ordering::Relaxed);
        tracing::error!(
            records = lost,
            "relaxed-durability records could not be journaled and are lost"
        );
    }
}

/// Tells each strict request of the group how its write went.
fn answer(group: &mut Vec<Msg>, outcome: Result<(), &'static str>) {
    for m in group.drain(..) {
        if let Msg::Write { ack: Some(ack), .. } = m {
            let _ = ack.send(outcome);
        }
    }
}

/// A real write to the journal database (one row of the `health` table), for `/ready`.
pub fn probe(conn: &Connection) -> Result<(), rusqlite::Error> {
    let now = crate::serve::timefmt::rfc3339_string(crate::serve::timefmt::unix_micros(
        std::time::SystemTime::now(),
    ));
    conn.execute(
        "INSERT OR REPLACE INTO health (id, checked_at) VALUES (1, ?1)",
        [now],
    )?;
    Ok(())
}

/// One outbox row, as the shipper reads it.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub seq: i64,
    /// Ours: UUIDv7, unique per decision (BigQuery's `insertId`).
    pub decision_id: String,
    /// The caller's `X-Request-Id` (or one we generated): correlation only, not unique.
    pub request_id: String,
    pub trace_id: Option<String>,
    pub ts: String,
    pub model_version: String,
    /// JSON object text.
    pub input: String,
    pub probability: f64,
    pub prediction: i64,
    pub score: f64,
    /// JSON array text.
    pub reasons: String,
    pub latency_us: i64,
    /// Failed attempts to ship it so far (drives the backoff and the dead-letter decision).
    pub attempts: i64,
}

impl OutboxRow {
    /// The record in the contract's JSON shape.
    pub fn to_json(&self) -> serde_json::Value {
        let input: serde_json::Value =
            serde_json::from_str(&self.input).unwrap_or(serde_json::Value::Null);
        let reasons: serde_json::Value =
            serde_json::from_str(&self.reasons).unwrap_or(serde_json::Value::Array(vec![]));
        serde_json::json!({
            "decision_id": self.decision_id,
            "request_id": self.request_id,
            "trace_id": self.trace_id,
            "ts": self.ts,
            "model_version": self.model_version,
            "input": input,
            "probability": self.probability,
            "prediction": self.prediction,
            "score": self.score,
            "reasons": reasons,
            "latency_us": self.latency_us,
        })
    }

    /// Its share of the journal's byte bound (see [`record_bytes`]).
    pub fn bytes(&self) -> i64 {
        record_bytes(
            self.request_id.len()
                + self.trace_id.as_ref().map_or(0, String::len)
                + self.ts.len()
                + self.model_version.len()
                + self.input.len()
                + self.reasons.len(),
        )
    }
}

/// The oldest `limit` outbox rows.
pub fn read_outbox(conn: &Connection, limit: usize) -> Result<Vec<OutboxRow>, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT seq, {RECORD_COLUMNS}, attempts FROM {OUTBOX_TABLE} ORDER BY seq LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(OutboxRow {
            seq: r.get(0)?,
            decision_id: r.get(1)?,
            request_id: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            trace_id: r.get(3)?,
            ts: r.get(4)?,
            model_version: r.get(5)?,
            input: r.get(6)?,
            probability: r.get(7)?,
            prediction: r.get(8)?,
            score: r.get(9)?,
            reasons: r.get(10)?,
            latency_us: r.get(11)?,
            attempts: r.get(12)?,
        })
    })?;
    rows.collect()
}

/// Rows and bytes (see [`record_bytes`]) the journal holds for the remote sink: the outbox and
/// the dead letters (both live on the instance's disk, or its memory on Cloud Run).
pub fn held(conn: &Connection) -> Result<(i64, i64, i64), rusqlite::Error> {
    let text = "coalesce(length(request_id), 0) + coalesce(length(trace_id), 0) \
                + coalesce(length(ts), 0) + coalesce(length(model_version), 0) \
                + coalesce(length(input), 0) + coalesce(length(reasons), 0)";
    let (rows, text_bytes): (i64, i64) = conn.query_row(
        &format!("SELECT count(*), coalesce(sum({text}), 0) FROM {OUTBOX_TABLE}"),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (dead, dead_bytes): (i64, i64) = conn.query_row(
        &format!("SELECT count(*), coalesce(sum({text}), 0) FROM {DEAD_LETTER_TABLE}"),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let bytes = text_bytes + dead_bytes + (rows + dead) * record_bytes(0);
    Ok((rows, dead, bytes))
}

/// What one shipping attempt decided for the rows it read.
#[derive(Debug, Default)]
pub struct Settlement<'a> {
    /// Confirmed by the sink: delete.
    pub shipped: Vec<i64>,
    /// Give up on these: move to `dead_letter` with the reason.
    pub dead: Vec<(&'a OutboxRow, String)>,
    /// Not stored this time: count the attempt and keep the error.
    pub failed: Vec<(i64, String)>,
}

/// Applies a [`Settlement`] in one transaction.
pub fn settle(conn: &mut Connection, s: &Settlement<'_>) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    {
        let mut del = tx.prepare_cached(&format!("DELETE FROM {OUTBOX_TABLE} WHERE seq = ?1"))?;
        for seq in &s.shipped {
            del.execute([seq])?;
        }
        let now = crate::serve::timefmt::rfc3339_string(crate::serve::timefmt::unix_micros(
            std::time::SystemTime::now(),
        ));
        let mut dead = tx.prepare_cached(&format!(
            "INSERT INTO {DEAD_LETTER_TABLE} ({RECORD_COLUMNS}, attempts, error, failed_at) \
             SELECT {RECORD_COLUMNS}, attempts + 1, ?2, ?3 FROM {OUTBOX_TABLE} WHERE seq = ?1"
        ))?;
        for (row, why) in &s.dead {
            dead.execute(params![row.seq, why, now])?;
            del.execute([row.seq])?;
        }
        let mut bump = tx.prepare_cached(&format!(
            "UPDATE {OUTBOX_TABLE} SET attempts = attempts + 1, last_error = ?2 WHERE seq = ?1"
        ))?;
        for (seq, why) in &s.failed {
            bump.execute(params![seq, why])?;
        }
    }
    tx.commit()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::serve::log::loader::Batch;
    use crate::serve::log::ModelTag;

    pub(crate) fn record(id: &str) -> Record {
        Record {
            decision_id: uuid::Uuid::now_v7(),
            request_id: id.to_owned(),
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
            ts_us: 1_700_000_000_000_000,
            model: Arc::new(ModelTag::new(
                "9.9.9".into(),
                std::array::from_fn(|j| format!("R{:02}", j + 1)),
            )),
            input: [0.5, 45.0, 0.0, 0.3, f64::NAN, 5.0, 0.0, 1.0, 0.0, 2.0],
            probability: 0.25,
            prediction: 0,
            score: 600.5,
            reasons: [3, 0, 0, 0],
            n_reasons: 2,
            latency_us: 42,
        }
    }

    fn temp_journal(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("credit-journal-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j.db");
        (dir, path)
    }

    /// A group as the writer frames it and the loader loads it, in one transaction; returns
    /// the records and their bytes (see [`record_bytes`]).
    fn write_group(conn: &mut Connection, table: &str, group: &[Msg]) -> (usize, i64) {
        use std::sync::atomic::AtomicU64;
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let mut frames = Vec::new();
        let n = encode_group(group, 0, &mut Buffers::default(), &mut frames);
        let dir = segment::dir_of(std::path::Path::new(conn.path().unwrap()));
        std::fs::create_dir_all(&dir).unwrap();
        let number = NEXT.fetch_add(1, Ordering::Relaxed);
        std::fs::write(segment::path_of(&dir, number), &frames).unwrap();
        let batch = Batch {
            segment: number,
            start: 0,
            end: frames.len() as u64,
            records: n,
            probes: Vec::new(),
        };
        let mut reader = segment::SegmentReader::new(&dir);
        let loaded = super::super::loader::load(conn, table, &[batch], &mut reader).unwrap();
        assert_eq!(loaded.records, n);
        (loaded.records, loaded.bytes)
    }

    fn strings(conn: &Connection, sql: &str) -> Vec<String> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Group commit, deterministically: 300 records already queued when the writer starts are
    /// written to the segment with one write (one write per record would mean the grouping is
    /// broken), acknowledged, and loaded into the table by the loader.
    /// The HTTP test of the same property depends on scheduling; this one does not.
    #[test]
    fn records_queued_together_share_one_commit() {
        let (dir, path) = temp_journal("group");
        let conn = open(&path, false).unwrap();
        let (tx, rx) = mpsc::channel(1024);
        let mut acks = Vec::new();
        for k in 0..300 {
            let (ack, done) = tokio::sync::oneshot::channel();
            tx.try_send(Msg::Write {
                records: Records::One(record(&format!("r{k}"))),
                ack: Some(ack),
            })
            .unwrap_or_else(|_| panic!("queue full"));
            acks.push(done);
        }
        tx.try_send(Msg::Close)
            .unwrap_or_else(|_| panic!("queue full"));
        let metrics = Arc::new(Metrics::default());
        let queue = Arc::new(super::super::queue::LoadQueue::new(1000));
        let segments = segment::dir_of(&path);
        let loader = super::super::loader::spawn(
            conn,
            PREDICTIONS_TABLE,
            queue.clone(),
            segments.clone(),
            1,
            super::super::loader::LoaderLinks {
                metrics: metrics.clone(),
                wake_shipper: None,
                wal_reset: Arc::default(),
                closing: Arc::default(),
            },
        )
        .unwrap();
        let healthy = Arc::new(AtomicBool::new(true));
        let seg =
            segment::SegmentWriter::create(&segments, 1, segment::SEGMENT_BYTES, false).unwrap();
        let links = WriterLinks {
            metrics: metrics.clone(),
            healthy: healthy.clone(),
            arriving: Arc::new(AtomicI64::new(0)),
            appender: Arc::new(Appender::new(seg, queue, metrics.clone(), healthy, false)),
        };
        let written = spawn_writer(rx, links).unwrap().join().unwrap();
        assert_eq!(written, 300);
        assert_eq!(metrics.log_commits.load(Ordering::Relaxed), 1);
        for done in acks {
            assert_eq!(done.blocking_recv().unwrap(), Ok(()));
        }
        let end = loader.join().unwrap();
        assert!(end.complete);
        assert_eq!(end.loaded, 300);
        assert_eq!(metrics.log_segment_backlog.load(Ordering::Relaxed), 0);
        let conn = open(&path, false).unwrap();
        assert_eq!(count(&conn, PREDICTIONS_TABLE).unwrap(), 300);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// 1,000 records with one caller id (the old key gave up at 999 suffixes and failed the
    /// whole group): each is its own decision, stored once, with the caller's id kept as is.
    #[test]
    fn a_reused_request_id_is_an_ordinary_record() {
        let (dir, path) = temp_journal("reuse");
        let mut conn = open(&path, false).unwrap();
        let group: Vec<Msg> = (0..1000)
            .map(|_| Msg::Write {
                records: Records::One(record("same")),
                ack: None,
            })
            .chain(std::iter::once(Msg::Write {
                records: Records::Many(vec![record("same"), record("b")]),
                ack: None,
            }))
            .collect();
        let (n, bytes) = write_group(&mut conn, PREDICTIONS_TABLE, &group);
        assert_eq!(n, 1002);
        assert!(bytes > 1002 * 300, "{bytes}");
        let same: i64 = conn
            .query_row(
                "SELECT count(*) FROM predictions WHERE request_id = 'same'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(same, 1001);
        let ids = strings(&conn, "SELECT decision_id FROM predictions ORDER BY rowid");
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), 1002);
        for id in &ids {
            let u = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(u.get_version_num(), 7, "{id}");
        }
        let (input, reasons, ts, trace): (String, String, String, String) = conn
            .query_row(
                "SELECT input, reasons, ts, trace_id FROM predictions WHERE request_id='b'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        let input: serde_json::Value = serde_json::from_str(&input).unwrap();
        assert_eq!(input["age"], 45.0);
        assert!(input["MonthlyIncome"].is_null());
        assert_eq!(reasons, r#"["R04","R01"]"#);
        assert_eq!(ts, "2023-11-14T22:13:20.000000Z");
        assert_eq!(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Journals written by the previous version (caller ids as keys, `~N` suffixes, an outbox
    /// with pending rows): opened, migrated, nothing lost, ids of ours added.
    #[test]
    fn migrates_version_1_journals() {
        let fixtures =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/service/fixtures");
        let (dir, path) = temp_journal("migrate");
        std::fs::copy(fixtures.join("journal-v1-predictions.db"), &path).unwrap();
        let conn = open(&path, false).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, super::super::schema::SCHEMA_VERSION);
        let ids = strings(
            &conn,
            "SELECT request_id FROM predictions ORDER BY ts, request_id",
        );
        assert_eq!(
            ids,
            ["v1-a", "v1-b", "v1-a~2", "v1-c", "v1-batch-0", "v1-batch-1"]
        );
        for (id, ts) in conn
            .prepare("SELECT decision_id, ts FROM predictions")
            .unwrap()
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .unwrap()
            .map(Result::unwrap)
        {
            let u = uuid::Uuid::parse_str(&id).unwrap();
            let (secs, _) = u.get_timestamp().unwrap().to_unix();
            // The decision id's time is the record's own.
            assert_eq!(
                crate::serve::timefmt::rfc3339_string(secs as i64 * 1_000_000)[..19],
                ts[..19]
            );
        }
        // Reopening is a no-op.
        drop(conn);
        let conn = open(&path, false).unwrap();
        assert_eq!(count(&conn, PREDICTIONS_TABLE).unwrap(), 6);

        let path2 = dir.join("outbox.db");
        std::fs::copy(fixtures.join("journal-v1-outbox.db"), &path2).unwrap();
        let mut conn = open(&path2, false).unwrap();
        let rows = read_outbox(&conn, 10).unwrap();
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.seq, r.request_id.as_str()))
            .collect();
        assert_eq!(got, [(1, "ob-1"), (2, "ob-2"), (3, "ob-1~2")]);
        assert!(rows
            .iter()
            .all(|r| r.attempts > 0 && r.decision_id.len() == 36));
        // New rows continue after the old sequence, and the columns a copy needs exist.
        let group = vec![Msg::Write {
            records: Records::One(record("new")),
            ack: None,
        }];
        write_group(&mut conn, OUTBOX_TABLE, &group);
        let seqs: Vec<i64> = read_outbox(&conn, 10)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
        conn.execute_batch(&format!(
            "SELECT {OUTBOX_COPY_COLUMNS} FROM outbox; SELECT {} FROM dead_letter",
            super::super::schema::DEAD_LETTER_COPY_COLUMNS
        ))
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A settlement deletes what shipped, moves dead letters with every column and the reason,
    /// and counts attempts on the rest; `held` sees the dead letters' bytes.
    #[test]
    fn settle_moves_dead_letters_and_counts_attempts() {
        let (dir, path) = temp_journal("settle");
        let mut conn = open(&path, false).unwrap();
        let group: Vec<Msg> = (0..3)
            .map(|i| Msg::Write {
                records: Records::One(record(&format!("r{i}"))),
                ack: None,
            })
            .collect();
        let (_, bytes) = write_group(&mut conn, OUTBOX_TABLE, &group);
        let (rows, dead, held_bytes) = held(&conn).unwrap();
        assert_eq!((rows, dead), (3, 0));
        assert_eq!(held_bytes, bytes);
        let read = read_outbox(&conn, 10).unwrap();
        let s = Settlement {
            shipped: vec![read[0].seq],
            dead: vec![(&read[1], "HTTP 403 PERMISSION_DENIED".into())],
            failed: vec![(read[2].seq, "HTTP 503".into())],
        };
        settle(&mut conn, &s).unwrap();
        let left = read_outbox(&conn, 10).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!((left[0].request_id.as_str(), left[0].attempts), ("r2", 1));
        let (id, req, err, attempts, input): (String, String, String, i64, String) = conn
            .query_row(
                "SELECT decision_id, request_id, error, attempts, input FROM dead_letter",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(id, read[1].decision_id);
        assert_eq!(
            (req.as_str(), err.as_str(), attempts),
            ("r1", "HTTP 403 PERMISSION_DENIED", 1)
        );
        assert_eq!(input, read[1].input);
        let (rows, dead, held_bytes) = held(&conn).unwrap();
        assert_eq!((rows, dead), (1, 1));
        assert_eq!(held_bytes, read[1].bytes() + read[2].bytes());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
