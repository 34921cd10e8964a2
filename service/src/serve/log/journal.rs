//! The SQLite journal: schema, the group-committing writer thread, and outbox reads.

use super::{LogError, Msg, Record, Records};
use crate::serve::metrics::Metrics;
use crate::serve::timefmt::rfc3339_micros;
use credit_core::json::push_string;
use credit_core::{Shown, FEATURES, N_FEATURES};
use rusqlite::{params, Connection, ErrorCode, OpenFlags};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The final table of the embedded `sqlite://` sink (the contract's schema).
pub const PREDICTIONS_TABLE: &str = "predictions";
/// Records waiting for a remote sink.
pub const OUTBOX_TABLE: &str = "outbox";
/// Columns shared by both tables, in insert order.
pub const JOURNAL_COLUMNS: &str =
    "request_id, ts, model_version, input, probability, prediction, score, reasons, latency_us";

/// Most records in one transaction (bounds the latency of the first request of a group).
const MAX_GROUP: usize = 2048;
/// Longest the writer waits for requests that are about to submit (see [`super::Arriving`])
/// before it commits without them. Measured with wrk -c32 on two cores: groups grew from ~6-9
/// to ~22 records and p90 fell from ~4.5-6 ms to ~2.6-3.4 ms for ~0.1 ms more p50.
const GATHER_WAIT: Duration = Duration::from_micros(200);
/// How long a failing journal is retried before strict requests get their error (503).
const WRITE_RETRY_BUDGET: Duration = Duration::from_secs(3);

/// Opens (creating) the journal file in WAL mode with the tables.
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
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {PREDICTIONS_TABLE} (
            request_id TEXT PRIMARY KEY, ts TEXT, model_version TEXT, input TEXT /*JSON*/,
            probability REAL, prediction INTEGER, score REAL, reasons TEXT /*JSON array*/,
            latency_us INTEGER);
         CREATE TABLE IF NOT EXISTS {OUTBOX_TABLE} (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL UNIQUE, ts TEXT,
            model_version TEXT, input TEXT, probability REAL, prediction INTEGER, score REAL,
            reasons TEXT, latency_us INTEGER, attempts INTEGER NOT NULL DEFAULT 0);
         CREATE TABLE IF NOT EXISTS dead_letter (
            seq INTEGER PRIMARY KEY, request_id TEXT, record TEXT, error TEXT, failed_at TEXT);"
    ))?;
    Ok(conn)
}

/// Rows in a table.
pub fn count(conn: &Connection, table: &str) -> Result<u64, LogError> {
    let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// Reusable text buffers for one record's columns (no allocation per record once warm).
#[derive(Default)]
struct Buffers {
    input: String,
    reasons: String,
    id: String,
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

fn is_duplicate(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

/// Inserts a group of records in one transaction. A request id already in the table (a caller
/// reusing `X-Request-Id`) gets a `~2`, `~3`, ... suffix so that no answered decision is dropped.
fn write_group(
    conn: &mut Connection,
    table: &str,
    sql: &str,
    group: &[Msg],
    bufs: &mut Buffers,
) -> Result<usize, rusqlite::Error> {
    let tx = conn.transaction()?;
    let mut n = 0;
    {
        let mut stmt = tx.prepare_cached(sql)?;
        let mut ts = [0u8; 27];
        let mut one = |r: &Record| -> Result<(), rusqlite::Error> {
            format_record(r, bufs);
            rfc3339_micros(r.ts_us, &mut ts);
            let ts_str = std::str::from_utf8(&ts).unwrap_or("1970-01-01T00:00:00.000000Z");
            let mut attempt = 1u32;
            loop {
                let id: &str = if attempt == 1 {
                    &r.request_id
                } else {
                    bufs.id.clear();
                    let _ = write!(bufs.id, "{}~{attempt}", r.request_id);
                    &bufs.id
                };
                match stmt.execute(params![
                    id,
                    ts_str,
                    r.model.version,
                    bufs.input,
                    r.probability,
                    r.prediction,
                    r.score,
                    bufs.reasons,
                    i64::try_from(r.latency_us).unwrap_or(i64::MAX),
                ]) {
                    Ok(_) => {
                        if attempt > 1 {
                            tracing::warn!(
                                request_id = %r.request_id,
                                stored_as = %id,
                                table,
                                "request id reused by the caller; record stored under a suffixed id"
                            );
                        }
                        return Ok(());
                    }
                    Err(e) if is_duplicate(&e) && attempt < 1000 => attempt += 1,
                    Err(e) => return Err(e),
                }
            }
        };
        for m in group {
            if let Msg::Write { records, .. } = m {
                match records {
                    Records::One(r) => {
                        one(r)?;
                        n += 1;
                    }
                    Records::Many(v) => {
                        for r in v {
                            one(r)?;
                            n += 1;
                        }
                    }
                }
            }
        }
    }
    tx.commit()?;
    Ok(n)
}

/// Starts the writer thread. It returns the number of records it committed.
pub fn spawn_writer(
    mut conn: Connection,
    table: &'static str,
    mut rx: mpsc::Receiver<Msg>,
    metrics: Arc<Metrics>,
    healthy: Arc<AtomicBool>,
    wake_shipper: Option<std::sync::mpsc::SyncSender<()>>,
    arriving: Arc<AtomicI64>,
) -> Result<std::thread::JoinHandle<u64>, LogError> {
    let sql = format!(
        "INSERT INTO {table} ({JOURNAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    );
    let handle = std::thread::Builder::new()
        .name("credit-journal".into())
        .spawn(move || {
            let mut bufs = Buffers::default();
            let mut group: Vec<Msg> = Vec::with_capacity(256);
            let mut total = 0u64;
            let mut closing = false;
            while !closing {
                let Some(first) = rx.blocking_recv() else {
                    break;
                };
                group.clear();
                let push = |m: Msg, group: &mut Vec<Msg>, closing: &mut bool| -> usize {
                    match m {
                        Msg::Close => {
                            *closing = true;
                            0
                        }
                        Msg::Write { records, ack } => {
                            let n = records.len();
                            group.push(Msg::Write { records, ack });
                            n
                        }
                    }
                };
                let mut n_records = push(first, &mut group, &mut closing);
                // Group commit: take everything that queued up while the last commit ran, and
                // give requests that already hold their body a moment to join (they yield the
                // core to us only when they are done, so yielding is how we let them finish).
                // On Close, keep draining: senders that were already queued get their commit.
                let gather_started = Instant::now();
                loop {
                    if n_records >= MAX_GROUP && !closing {
                        break;
                    }
                    match rx.try_recv() {
                        Ok(m) => n_records += push(m, &mut group, &mut closing),
                        Err(mpsc::error::TryRecvError::Empty)
                            if !closing
                                && arriving.load(Ordering::Acquire) > 0
                                && gather_started.elapsed() < GATHER_WAIT =>
                        {
                            std::thread::yield_now();
                        }
                        Err(_) => break,
                    }
                }
                if closing {
                    rx.close();
                    while let Ok(m) = rx.try_recv() {
                        n_records += push(m, &mut group, &mut closing);
                    }
                }
                metrics
                    .log_queue_depth
                    .fetch_sub(n_records as i64, Ordering::Relaxed);
                if n_records == 0 {
                    continue;
                }
                let started = Instant::now();
                let mut backoff = Duration::from_millis(10);
                let result = loop {
                    match write_group(&mut conn, table, &sql, &group, &mut bufs) {
                        Ok(n) => break Ok(n),
                        Err(e) => {
                            metrics.log_write_failures.fetch_add(1, Ordering::Relaxed);
                            healthy.store(false, Ordering::Relaxed);
                            tracing::error!(error = %e, records = n_records, "journal write failed; retrying");
                            if started.elapsed() > WRITE_RETRY_BUDGET {
                                break Err(e);
                            }
                            std::thread::sleep(backoff);
                            backoff = (backoff * 2).min(Duration::from_millis(500));
                        }
                    }
                };
                let outcome = match result {
                    Ok(n) => {
                        healthy.store(true, Ordering::Relaxed);
                        total += n as u64;
                        metrics
                            .log_records_journaled
                            .fetch_add(n as u64, Ordering::Relaxed);
                        metrics.log_commits.fetch_add(1, Ordering::Relaxed);
                        if let Some(w) = &wake_shipper {
                            metrics
                                .log_outbox_pending
                                .fetch_add(n as i64, Ordering::Relaxed);
                            let _ = w.try_send(());
                        }
                        Ok(())
                    }
                    Err(_) => Err("journal write failed"),
                };
                if outcome.is_err() {
                    let lost: usize = group
                        .iter()
                        .filter(|m| matches!(m, Msg::Write { ack: None, .. }))
                        .map(|m| match m {
                            Msg::Write { records, .. } => records.len(),
                            Msg::Close => 0,
                        })
                        .sum();
                    if lost > 0 {
                        tracing::error!(
                            records = lost,
                            "relaxed-durability records could not be journaled and are lost"
                        );
                    }
                }
                for m in group.drain(..) {
                    if let Msg::Write { ack: Some(ack), .. } = m {
                        let _ = ack.send(outcome);
                    }
                }
            }
            rx.close();
            // Anyone still queued after the close learns that the log is gone.
            while let Ok(m) = rx.try_recv() {
                if let Msg::Write { ack: Some(ack), .. } = m {
                    let _ = ack.send(Err("shutting down"));
                }
            }
            healthy.store(false, Ordering::Relaxed);
            total
        })?;
    Ok(handle)
}

/// One outbox row, as the shipper reads it.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub seq: i64,
    pub request_id: String,
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
}

impl OutboxRow {
    /// The record in the contract's JSON shape.
    pub fn to_json(&self) -> serde_json::Value {
        let input: serde_json::Value =
            serde_json::from_str(&self.input).unwrap_or(serde_json::Value::Null);
        let reasons: serde_json::Value =
            serde_json::from_str(&self.reasons).unwrap_or(serde_json::Value::Array(vec![]));
        serde_json::json!({
            "request_id": self.request_id,
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
}

/// The oldest `limit` outbox rows.
pub fn read_outbox(conn: &Connection, limit: usize) -> Result<Vec<OutboxRow>, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT seq, {JOURNAL_COLUMNS} FROM {OUTBOX_TABLE} ORDER BY seq LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(OutboxRow {
            seq: r.get(0)?,
            request_id: r.get(1)?,
            ts: r.get(2)?,
            model_version: r.get(3)?,
            input: r.get(4)?,
            probability: r.get(5)?,
            prediction: r.get(6)?,
            score: r.get(7)?,
            reasons: r.get(8)?,
            latency_us: r.get(9)?,
        })
    })?;
    rows.collect()
}

/// Removes shipped rows and moves refused ones to `dead_letter`, in one transaction.
pub fn settle(
    conn: &mut Connection,
    shipped: &[i64],
    refused: &[(OutboxRow, String)],
    attempted: &[i64],
) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    {
        let mut del = tx.prepare_cached(&format!("DELETE FROM {OUTBOX_TABLE} WHERE seq = ?1"))?;
        for s in shipped {
            del.execute([s])?;
        }
        let mut dead = tx.prepare_cached(
            "INSERT OR REPLACE INTO dead_letter (seq, request_id, record, error, failed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let now = crate::serve::timefmt::rfc3339_string(crate::serve::timefmt::unix_micros(
            std::time::SystemTime::now(),
        ));
        for (row, why) in refused {
            dead.execute(params![
                row.seq,
                row.request_id,
                row.to_json().to_string(),
                why,
                now
            ])?;
            del.execute([row.seq])?;
        }
        let mut bump = tx.prepare_cached(&format!(
            "UPDATE {OUTBOX_TABLE} SET attempts = attempts + 1 WHERE seq = ?1"
        ))?;
        for s in attempted {
            bump.execute([s])?;
        }
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::log::ModelTag;

    fn record(id: &str) -> Record {
        Record {
            request_id: id.to_owned(),
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

    #[test]
    fn group_commit_and_duplicate_ids() {
        let dir = std::env::temp_dir().join(format!("credit-journal-test-{}", std::process::id()));
        let path = dir.join("j.db");
        let _ = std::fs::remove_file(&path);
        let mut conn = open(&path, false).unwrap();
        let sql = format!(
            "INSERT INTO {PREDICTIONS_TABLE} ({JOURNAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        );
        let group = vec![
            Msg::Write {
                records: Records::One(record("a")),
                ack: None,
            },
            Msg::Write {
                records: Records::Many(vec![record("a"), record("b")]),
                ack: None,
            },
        ];
        let n = write_group(
            &mut conn,
            PREDICTIONS_TABLE,
            &sql,
            &group,
            &mut Buffers::default(),
        )
        .unwrap();
        assert_eq!(n, 3);
        let ids: Vec<String> = conn
            .prepare("SELECT request_id FROM predictions ORDER BY request_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(ids, vec!["a", "a~2", "b"]);
        let (input, reasons, ts): (String, String, String) = conn
            .query_row(
                "SELECT input, reasons, ts FROM predictions WHERE request_id='b'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        let input: serde_json::Value = serde_json::from_str(&input).unwrap();
        assert_eq!(input["age"], 45.0);
        assert!(input["MonthlyIncome"].is_null());
        assert_eq!(reasons, r#"["R04","R01"]"#);
        assert_eq!(ts, "2023-11-14T22:13:20.000000Z");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
