//! The shipper: moves outbox rows to the remote sink in batches, deleting them only after the
//! sink confirmed them; on failure it keeps them and backs off exponentially (with jitter).

use super::journal::{self, OutboxRow};
use super::sinks::{RemoteSink, ShipOutcome};
use super::LogError;
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

/// Starts the shipper thread over its own connection to the journal.
pub fn spawn(
    path: PathBuf,
    fsync: bool,
    mut sink: Box<dyn RemoteSink>,
    wake_rx: mpsc::Receiver<()>,
    metrics: Arc<Metrics>,
) -> Result<ShipperHandle, LogError> {
    let mut conn = journal::open(&path, fsync)?;
    let stop = Arc::new(AtomicBool::new(false));
    let deadline: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    // The writer's wake-up channel is separate; this one lets `finish` interrupt a backoff.
    let (stop_tx, stop_rx) = mpsc::sync_channel::<()>(1);
    let (stop2, deadline2) = (stop.clone(), deadline.clone());
    let thread = std::thread::Builder::new()
        .name("credit-shipper".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "shipper cannot start its runtime; records stay in the journal");
                    return journal::count(&conn, journal::OUTBOX_TABLE).unwrap_or(0);
                }
            };
            let mut backoff = BACKOFF_MIN;
            let wait = |d: Duration| {
                // Woken early by new records or by shutdown.
                let _ = stop_rx.recv_timeout(d.min(Duration::from_millis(50)));
                let end = Instant::now() + d;
                while Instant::now() < end && !stop2.load(Ordering::SeqCst) {
                    let left = end.saturating_duration_since(Instant::now());
                    let _ = stop_rx.recv_timeout(left.min(Duration::from_millis(50)));
                }
            };
            loop {
                let stopping = stop2.load(Ordering::SeqCst);
                let past_deadline = stopping
                    && deadline2
                        .lock()
                        .ok()
                        .and_then(|d| *d)
                        .is_some_and(|d| Instant::now() >= d);
                if past_deadline {
                    break;
                }
                let rows: Vec<OutboxRow> = match journal::read_outbox(&conn, BATCH) {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(error = %e, "shipper cannot read the journal");
                        wait(jitter(backoff));
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                        continue;
                    }
                };
                if rows.is_empty() {
                    if stopping {
                        break;
                    }
                    // Idle: sleep until the writer commits something (or a second passes).
                    let _ = wake_rx.recv_timeout(Duration::from_secs(1));
                    continue;
                }
                let remaining = if stopping {
                    deadline2
                        .lock()
                        .ok()
                        .and_then(|d| *d)
                        .map(|d| d.saturating_duration_since(Instant::now()))
                } else {
                    None
                };
                let outcome = match remaining {
                    Some(left) => rt
                        .block_on(async {
                            tokio::time::timeout(left, sink.ship(&rows)).await
                        })
                        .unwrap_or_else(|_| Err("shutdown deadline reached".to_owned())),
                    None => rt.block_on(sink.ship(&rows)),
                };
                match outcome {
                    Ok(ShipOutcome {
                        shipped,
                        refused,
                        retry,
                    }) => {
                        let refused_rows: Vec<(OutboxRow, String)> = refused
                            .into_iter()
                            .filter_map(|(seq, why)| {
                                rows.iter().find(|r| r.seq == seq).map(|r| (r.clone(), why))
                            })
                            .collect();
                        if let Err(e) = journal::settle(&mut conn, &shipped, &refused_rows, &retry)
                        {
                            // Shipped but not deleted: they will be sent again (the sink's
                            // insertId de-duplication is what protects against doubles here).
                            tracing::error!(error = %e, "cannot remove shipped rows from the journal");
                        }
                        let done = (shipped.len() + refused_rows.len()) as u64;
                        metrics
                            .log_shipped
                            .fetch_add(shipped.len() as u64, Ordering::Relaxed);
                        metrics
                            .log_dead_letter
                            .fetch_add(refused_rows.len() as u64, Ordering::Relaxed);
                        metrics
                            .log_outbox_pending
                            .fetch_sub(done as i64, Ordering::Relaxed);
                        for (row, why) in &refused_rows {
                            tracing::error!(request_id = %row.request_id, reason = %why, sink = sink.name(), "sink refused a record; kept in the journal's dead_letter table");
                        }
                        if retry.is_empty() {
                            backoff = BACKOFF_MIN;
                        } else {
                            metrics.log_ship_failures.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(rows = retry.len(), sink = sink.name(), "sink asked to retry some rows");
                            wait(jitter(backoff));
                            backoff = (backoff * 2).min(BACKOFF_MAX);
                        }
                        if done > 0 {
                            tracing::debug!(rows = done, sink = sink.name(), "shipped");
                        }
                    }
                    Err(e) => {
                        metrics.log_ship_failures.fetch_add(1, Ordering::Relaxed);
                        let _ = journal::settle(
                            &mut conn,
                            &[],
                            &[],
                            &rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
                        );
                        tracing::warn!(error = %e, rows = rows.len(), sink = sink.name(), retry_in_ms = backoff.as_millis() as u64, "sink unavailable; records wait in the journal");
                        if stopping {
                            // Do not spin against a dead sink during shutdown: what is left is
                            // shipped at the next start.
                            break;
                        }
                        wait(jitter(backoff));
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                    }
                }
            }
            let left = journal::count(&conn, journal::OUTBOX_TABLE).unwrap_or(0);
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
