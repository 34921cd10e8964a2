//! Background WAL checkpoints of the journal, off the writer's path.

use super::LogError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Lowers the calling thread's scheduling priority (nice +10). Background maintenance then
/// yields the CPU to request handling and to the journal writer, which every strict-durability
/// answer waits for; on a two-core machine an equal-priority checkpoint shows up in the p99.
pub fn background_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority has no memory-safety preconditions. On Linux, PRIO_PROCESS with
    // who = 0 applies to the calling thread only, and raising one's own nice value is always
    // permitted. Failure only means the thread keeps its priority.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// Moves WAL content into the database file from its own thread, so that the checkpoint the
/// writer runs inside a group commit (SQLite's automatic one) has little left to copy.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Checkpointer {
    /// Starts PASSIVE checkpoints of `path` every `every` (they never block the writer).
    pub fn spawn(path: &Path, every: Duration) -> Result<Checkpointer, LogError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("credit-checkpoint".into())
            .spawn(move || {
                background_priority();
                let checkpoint = |mode: &str| {
                    if let Err(e) =
                        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "journal checkpoint failed (retried later)");
                    }
                };
                let mut waited = Duration::ZERO;
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                    waited += Duration::from_millis(50);
                    if waited >= every {
                        waited = Duration::ZERO;
                        checkpoint("PASSIVE");
                    }
                }
                checkpoint("TRUNCATE");
            })?;
        Ok(Checkpointer { stop, thread })
    }

    /// Final checkpoint (truncating the WAL) and stop.
    pub fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
