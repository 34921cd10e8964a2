//! The shipper: moves outbox rows to the remote sink in batches, deleting them only after the
//! sink confirmed them. On failure it keeps them, counts the attempt on each row and backs off
//! exponentially by the rows' `attempts` (so a restart does not reset the backoff). A permanent
//! sink error (a 4xx other than 408/429: a missing table, a missing IAM role) moves the rows to
//! `dead_letter` after [`Limits::dead_letter_after`] attempts instead of retrying them forever;
//! a row the sink refuses as invalid goes there at once.

use super::journal::{self, OutboxRow, Settlement};
use super::sinks::{RemoteSink, ShipError, ShipOutcome};
use super::{Limits, LogError};
use crate::serve::metrics::Metrics;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Rows per request to the sink (BigQuery recommends about 500 rows per insertAll).
const BATCH: usize = 500;
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Control of the running shipper thread.
pub struct ShipperHandle {
    thread: std::thread::JoinHandle<u64>,
    stop: Arc<AtomicBool>,
    deadline: Arc<Mutex<Option<Instant>>>,
    wake: mpsc::SyncSender<()>,
}

impl ShipperHandle {
    /// Asks the shipper to empty the outbox by `deadline`, waits for it, returns what is left.
    pub fn finish(self, deadline: Instant) -> u64 {
        if let Ok(mut d) = self.deadline.lock() {
            *d = Some(deadline);
        }
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.wake.try_send(());
        self.thread.join().unwrap_or(0)
    }
}

fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    // 75%..125% of d
    d.mul_f64(0.75 + f64::from(nanos % 1000) / 2000.0)
}

/// The wait before the next attempt at rows that have failed `attempts` times.
pub fn backoff(attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    BACKOFF_MIN
        .saturating_mul(1u32 << doublings)
        .min(BACKOFF_MAX)
}

/// Milliseconds since the epoch in a UUIDv7 decision id (its first 48 bits).
fn decision_time_us(decision_id: &str) -> i64 {
    uuid::Uuid::parse_str(decision_id)
        .ok()
        .and_then(|u| u.get_timestamp())
        .map(|t| {
            let (s, ns) = t.to_unix();
            i64::try_from(s).unwrap_or(0) * 1_000_000 + i64::from(ns / 1000)
        })
        .unwrap_or(0)
}

/// What the shipper thread owns.
struct Shipper {
    conn: rusqlite::Connection,
    sink: Box<dyn RemoteSink>,
    limits: Limits,
    metrics: Arc<Metrics>,
    rt: tokio::runtime::Runtime,
}

impl Shipper {
    /// Sends one batch, within `left` when shutting down; returns the wait before the next.
    fn ship_batch(&mut self, rows: &[OutboxRow], left: Option<Duration>) -> Option<Duration> {
        let sink = &mut self.sink;
        let outcome = match left {
            Some(left) => self
                .rt
                .block_on(async { tokio::time::timeout(left, sink.ship(rows)).await })
                .unwrap_or_else(|_| Err(ShipError::transient("shutdown deadline reached"))),
            None => self.rt.block_on(sink.ship(rows)),
        };
        let settlement = match outcome {
            Ok(o) => self.confirmed(rows, o),
            Err(e) => self.failed(rows, &e),
        };
        let wait = (!settlement.failed.is_empty()).then(|| {
            let worst = rows
                .iter()
                .filter(|r| settlement.failed.iter().any(|(s, _)| *s == r.seq))
                .map(|r| r.attempts + 1)
                .max()
                .unwrap_or(1);
            jitter(backoff(worst))
        });
        if let Err(e) = journal::settle(&mut self.conn, &settlement) {
            // Shipped but not deleted: they will be sent again (the sink's insertId
            // de-duplication, keyed by decision id, is what protects against doubles here).
            tracing::error!(error = %e, "cannot settle shipped rows in the journal");
            return Some(jitter(BACKOFF_MIN));
        }
        self.account(rows, &settlement);
        wait
    }

    /// The sink answered: confirmed rows go, refused rows are dead letters, the rest retry.
    fn confirmed<'a>(&self, rows: &'a [OutboxRow], o: ShipOutcome) -> Settlement<'a> {
        let mut s = Settlement {
            shipped: o.shipped,
            ..Settlement::default()
        };
        for (seq, why) in o.refused {
            if let Some(r) = rows.iter().find(|r| r.seq == seq) {
                tracing::error!(decision_id = %r.decision_id, reason = %why, sink = self.sink.name(), "sink refused a record; kept in the journal's dead_letter table");
                s.dead.push((r, why));
            }
        }
        if !o.retry.is_empty() {
            self.metrics
                .log_ship_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                rows = o.retry.len(),
                sink = self.sink.name(),
                "sink asked to retry some rows"
            );
        }
        s.failed = o
            .retry
            .into_iter()
            .map(|seq| (seq, "the sink asked to retry".to_owned()))
            .collect();
        s
    }

    /// Nothing confirmed: every row's attempt counts; a permanent error gives up on the rows
    /// that have used their attempts.
    fn failed<'a>(&self, rows: &'a [OutboxRow], e: &ShipError) -> Settlement<'a> {
        self.metrics
            .log_ship_failures
            .fetch_add(1, Ordering::Relaxed);
        let mut s = Settlement::default();
        for r in rows {
            if e.permanent && r.attempts + 1 >= self.limits.dead_letter_after {
                s.dead.push((r, e.message.clone()));
            } else {
                s.failed.push((r.seq, e.message.clone()));
            }
        }
        let attempts = rows.iter().map(|r| r.attempts + 1).max().unwrap_or(1);
        if s.dead.is_empty() {
            tracing::warn!(error = %e.message, permanent = e.permanent, attempts, rows = rows.len(), sink = self.sink.name(), retry_in_ms = backoff(attempts).as_millis() as u64, "sink failed; records wait in the journal");
        } else {
            tracing::error!(error = %e.message, rows = s.dead.len(), attempts, sink = self.sink.name(), "sink keeps refusing; records moved to the journal's dead_letter table");
        }
        s
    }

    /// Keeps the gauges of the outbox (rows, bytes, oldest) in step with the journal.
    fn account(&self, rows: &[OutboxRow], s: &Settlement<'_>) {
        let m = &self.metrics;
        let shipped_bytes: i64 = rows
            .iter()
            .filter(|r| s.shipped.contains(&r.seq))
            .map(OutboxRow::bytes)
            .sum();
        m.log_shipped
            .fetch_add(s.shipped.len() as u64, Ordering::Relaxed);
        m.log_dead_letter
            .fetch_add(s.dead.len() as u64, Ordering::Relaxed);
        m.log_dead_letter_held
            .fetch_add(s.dead.len() as i64, Ordering::Relaxed);
        m.log_outbox_pending
            .fetch_sub((s.shipped.len() + s.dead.len()) as i64, Ordering::Relaxed);
        // Dead letters stay in the journal, so they keep their bytes.
        m.log_outbox_bytes
            .fetch_sub(shipped_bytes, Ordering::Relaxed);
        let done = |seq: i64| s.shipped.contains(&seq) || s.dead.iter().any(|(r, _)| r.seq == seq);
        let oldest = rows.iter().find(|r| !done(r.seq));
        match oldest {
            Some(r) => m
                .log_oldest_pending_us
                .store(decision_time_us(&r.decision_id), Ordering::Relaxed),
            // The next read tells; until then the batch after this one is the oldest.
            None => m.log_oldest_pending_us.store(0, Ordering::Relaxed),
        }
    }
}

/// Starts the shipper thread over its own connection to the journal.
pub fn spawn(
    path: PathBuf,
    fsync: bool,
    sink: Box<dyn RemoteSink>,
    wake_rx: mpsc::Receiver<()>,
    limits: Limits,
    metrics: Arc<Metrics>,
) -> Result<ShipperHandle, LogError> {
    let conn = journal::open(&path, fsync)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut shipper = Shipper {
        conn,
        sink,
        limits,
        metrics,
        rt,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let deadline: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    // The writer's wake-up channel is separate; this one lets `finish` interrupt a backoff.
    let (stop_tx, stop_rx) = mpsc::sync_channel::<()>(1);
    let (stop2, deadline2) = (stop.clone(), deadline.clone());
    let thread = std::thread::Builder::new()
        .name("credit-shipper".into())
        .spawn(move || {
            let wait = |d: Duration| {
                // Woken early by shutdown.
                let end = Instant::now() + d;
                while Instant::now() < end && !stop2.load(Ordering::SeqCst) {
                    let left = end.saturating_duration_since(Instant::now());
                    let _ = stop_rx.recv_timeout(left.min(Duration::from_millis(50)));
                }
            };
            let mut read_backoff = BACKOFF_MIN;
            loop {
                let stopping = stop2.load(Ordering::SeqCst);
                let left = if stopping {
                    deadline2
                        .lock()
                        .ok()
                        .and_then(|d| *d)
                        .map(|d| d.saturating_duration_since(Instant::now()))
                } else {
                    None
                };
                if left.is_some_and(|l| l.is_zero()) {
                    break;
                }
                let rows = match journal::read_outbox(&shipper.conn, BATCH) {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(error = %e, "shipper cannot read the journal");
                        wait(jitter(read_backoff));
                        read_backoff = (read_backoff * 2).min(BACKOFF_MAX);
                        continue;
                    }
                };
                read_backoff = BACKOFF_MIN;
                if let Some(first) = rows.first() {
                    shipper
                        .metrics
                        .log_oldest_pending_us
                        .store(decision_time_us(&first.decision_id), Ordering::Relaxed);
                } else {
                    shipper
                        .metrics
                        .log_oldest_pending_us
                        .store(0, Ordering::Relaxed);
                    if stopping {
                        break;
                    }
                    // Idle: sleep until the writer commits something (or a second passes).
                    let _ = wake_rx.recv_timeout(Duration::from_secs(1));
                    continue;
                }
                if let Some(pause) = shipper.ship_batch(&rows, left) {
                    if stopping {
                        // Do not spin against a failing sink during shutdown: what is left is
                        // shipped at the next start.
                        break;
                    }
                    wait(pause);
                }
            }
            let left = journal::count(&shipper.conn, journal::OUTBOX_TABLE).unwrap_or(0);
            if left > 0 {
                tracing::warn!(
                    pending = left,
                    "records left in the journal; they are shipped at the next start"
                );
            }
            left
        })?;
    Ok(ShipperHandle {
        thread,
        stop,
        deadline,
        wake: stop_tx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_attempts_and_is_capped() {
        assert_eq!(backoff(0), BACKOFF_MIN);
        assert_eq!(backoff(1), BACKOFF_MIN);
        assert_eq!(backoff(2), BACKOFF_MIN * 2);
        assert_eq!(backoff(4), BACKOFF_MIN * 8);
        assert_eq!(backoff(60), BACKOFF_MAX);
    }

    #[test]
    fn decision_time_comes_from_the_uuid() {
        let t = uuid::Timestamp::from_unix(uuid::NoContext, 1_700_000_000, 123_000_000);
        let id = uuid::Uuid::new_v7(t).hyphenated().to_string();
        assert_eq!(decision_time_us(&id), 1_700_000_000_123_000);
        assert_eq!(decision_time_us("not-a-uuid"), 0);
    }
}
