//! WAL checkpoints of the journal, off the writer's path, with a bound on the WAL.
//!
//! In WAL mode a commit appends pages to the `-wal` file; a *checkpoint* copies them back into
//! the database file, and once a checkpoint has copied *all* of the WAL, the next commit starts
//! the WAL over from its beginning. With SQLite's default (`wal_autocheckpoint` = 1000 pages)
//! the connection that commits runs a checkpoint right after its commit, so the journal writer
//! would fsync the WAL, copy pages and fsync the database file every 4 MB while every strict-
//! durability answer waits for its next group commit. Measured on a 2-core machine with ext4,
//! `wrk -c32`: p99 5–6 ms for the strict log against 2–2.5 ms with the journal on tmpfs.
//!
//! So the writer's connection turns the automatic checkpoint off (`log::start`) and the work
//! is split in two:
//!
//! - this module's thread runs a PASSIVE checkpoint every [`CHECKPOINT_EVERY`]: it copies what
//!   the WAL holds without taking any lock the writer needs, so it never delays a commit;
//! - under sustained load a PASSIVE checkpoint never copies *all* of the WAL (a group commit
//!   lands while it copies), so on its own the WAL would grow without limit (measured: 1.6 GB
//!   in 12 s). When the WAL holds more than [`WAL_BOUND`], the thread runs one more PASSIVE at
//!   once, so that little is left, and raises [`WalReset`]; the writer, between two groups,
//!   copies that little itself ([`WalReset::finish`]). Nothing commits while the writer
//!   checkpoints, so its pass reaches the end of the WAL and its next commit starts the WAL
//!   over; `journal_size_limit` (set to the bound) then cuts the file back.
//!
//! Why not let the thread take the write lock itself (a RESTART checkpoint)? Tried: the writer
//! then waits for the copy *and* for a background thread that the scheduler may have put aside
//! while it holds the lock, and SQLite's default busy handler makes a waiting writer sleep 1,
//! 2, 5 ms. Same machine and load: p99 5–10 ms (more with a longer interval), against 3–3.5 ms
//! for this hand-off, whose cost is one short pass by the writer (a few ms: two fsyncs on a
//! busy machine) per bound's worth of records. The strict log before all this: p99 5.8–6.2 ms.
//!
//! A reader that keeps an old snapshot (a long query on the journal) stops any checkpoint
//! short of the WAL's end; the WAL then grows past the bound until the reader has gone, and
//! the thread retries with a back-off and warns.
//!
//! Since the segment journal (segment.rs, loader.rs) the connection that commits is the
//! loader's, off the request path: "the writer" below is the loader, and a WAL reset now delays
//! only the loading of records whose answers have already left.
//!
//! Crash guarantees do not depend on any of this: in WAL mode a committed transaction is in
//! the WAL (with `synchronous` NORMAL, or fsynced with FULL) before the commit returns, a
//! checkpoint fsyncs the WAL before copying and the database file before the WAL may be
//! reused, and a checkpoint cut short by a crash is redone from the WAL when the journal is
//! next opened. Checkpointing only decides *when* pages move, never *whether* a commit counts.

use super::LogError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How often the thread copies WAL pages into the database file (PASSIVE). Often enough that
/// each pass has little to copy (the journal writes ~100 MB/s of WAL at full load on two
/// cores); each pass costs two fsyncs, off the writer's path.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(20);

/// WAL size past which the writer is asked to finish a checkpoint so that the WAL starts over,
/// and the `journal_size_limit` the file is cut back to then. Small is better, not only for
/// memory (on Cloud Run's in-memory filesystem the WAL is instance memory): a large WAL makes
/// every commit slower (measured in one `make bench-http` run, strict log: p99 3.3–3.6 ms with
/// 2–8 MiB, 5 ms with 32 MiB, 44 ms with 128 MiB, 213 ms when the WAL grew to 800 MB). The
/// file can pass the bound by what is written while the checkpointer waits for a core.
pub const WAL_BOUND: u64 = 8 * 1024 * 1024;

/// Longest pause between reset requests after the writer's pass fell short (a reader held the
/// WAL), doubling from [`CHECKPOINT_EVERY`].
const MAX_BACKOFF: Duration = Duration::from_secs(1);

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

/// What a PASSIVE checkpoint reported.
#[derive(Debug, Clone, Copy)]
struct Pass {
    /// Another checkpoint was running: SQLite copied nothing.
    busy: bool,
    /// Frames in the WAL.
    frames: u64,
    /// Frames copied into the database file (of those, by this pass or earlier ones).
    copied: u64,
}

impl Pass {
    /// Whether the pass reached the WAL's end: the next commit starts the WAL over.
    fn complete(self) -> bool {
        !self.busy && self.copied >= self.frames
    }
}

/// `PRAGMA wal_checkpoint(PASSIVE)` on `conn`. PASSIVE never waits for a lock; if another
/// checkpoint runs, SQLite reports busy (and -1 frames) and copies nothing.
fn passive(conn: &Connection) -> Result<Pass, rusqlite::Error> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        let (busy, frames, copied): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        Ok(Pass {
            busy: busy != 0 || frames < 0,
            frames: frames.max(0) as u64,
            copied: copied.max(0) as u64,
        })
    })
}

/// The hand-off of a WAL reset from the checkpointer thread to the journal writer.
///
/// States: idle (the thread checkpoints), wanted (the thread asked and waits), restarting
/// (the writer's pass reached the WAL's end; the thread keeps off until the writer's next
/// commit has started the WAL over: a checkpoint running at that moment holds a lock that
/// makes the commit append to the old WAL instead).
#[derive(Debug, Default)]
pub struct WalReset {
    state: AtomicU8,
    /// Writer passes in a row that fell short of the WAL's end.
    short: AtomicU32,
}

const IDLE: u8 = 0;
const WANTED: u8 = 1;
const RESTARTING: u8 = 2;

impl WalReset {
    /// Whether the writer has something to do after its group (cheap: one atomic load).
    pub fn pending(&self) -> bool {
        self.state.load(Ordering::Acquire) != IDLE
    }

    /// Writer side, after each group that [`pending`](Self::pending) was true for: if asked,
    /// copies what the thread's last pass left, so that the writer's next commit starts the
    /// WAL over (returns whether the pass reached the WAL's end); if its last pass did, that
    /// commit has now happened and the thread may go on.
    pub fn finish(&self, writer: &Connection) -> Result<bool, rusqlite::Error> {
        if self.state.load(Ordering::Acquire) == RESTARTING {
            self.state.store(IDLE, Ordering::Release);
            return Ok(false);
        }
        let outcome = passive(writer);
        let done = matches!(outcome, Ok(p) if p.complete());
        let short = if done {
            0
        } else {
            self.short.load(Ordering::Relaxed) + 1
        };
        self.short.store(short, Ordering::Relaxed);
        self.state
            .store(if done { RESTARTING } else { IDLE }, Ordering::Release);
        outcome.map(|_| done)
    }

    fn request(&self) {
        self.state.store(WANTED, Ordering::Release);
    }
}

/// What one checkpoint pass of the thread found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Bytes of WAL content (frames since the last reset) when the pass ran.
    pub wal_bytes: u64,
    /// Whether the WAL was past the bound and the writer was asked to finish.
    pub reset_requested: bool,
}

/// The checkpointer's connection to a journal.
pub struct Walker {
    conn: Connection,
    /// Size of one WAL frame: a page and its 24-byte frame header.
    frame_bytes: u64,
    bound: u64,
    reset: Arc<WalReset>,
}

impl Walker {
    /// Opens `path` (a journal in WAL mode) for checkpoints, asking for resets through `reset`
    /// past `bound` bytes.
    pub fn open(path: &Path, bound: u64, reset: Arc<WalReset>) -> Result<Walker, LogError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(1))?;
        let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok(Walker {
            conn,
            frame_bytes: page.max(512) as u64 + 24,
            bound,
            reset,
        })
    }

    /// One pass: a PASSIVE checkpoint and, if `may_reset` and the WAL is past the bound, a
    /// second one (so that little is left) and a reset request to the writer. While a request
    /// waits for the writer, or the WAL for the writer's next commit, no pass runs (it would
    /// make the writer's pass find SQLite busy, or that commit miss the reset), and `None` is
    /// returned: the writer is idle then, so nothing is being added to the WAL.
    pub fn round(&self, may_reset: bool) -> Result<Option<Round>, rusqlite::Error> {
        if self.reset.pending() {
            return Ok(None);
        }
        let wal_bytes = passive(&self.conn)?.frames * self.frame_bytes;
        let reset_requested = may_reset && wal_bytes > self.bound;
        if reset_requested {
            passive(&self.conn)?;
            self.reset.request();
        }
        Ok(Some(Round {
            wal_bytes,
            reset_requested,
        }))
    }

    /// Copies everything and empties the WAL file (at stop, when nothing else writes).
    pub fn truncate(&self) -> Result<(), rusqlite::Error> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
    }
}

/// The checkpointer thread.
pub struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Checkpointer {
    /// Starts checkpoint passes of `path` every `every`, asking the writer through `reset` to
    /// finish one whenever the WAL holds more than `bound` bytes (see the module doc).
    pub fn spawn(
        path: &Path,
        every: Duration,
        bound: u64,
        reset: Arc<WalReset>,
    ) -> Result<Checkpointer, LogError> {
        let walker = Walker::open(path, bound, reset.clone())?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("credit-checkpoint".into())
            .spawn(move || {
                background_priority();
                let mut next_request = Instant::now();
                let mut last_warning: Option<Instant> = None;
                // A message or a dropped sender both mean stop.
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    let short = reset.short.load(Ordering::Relaxed);
                    match walker.round(Instant::now() >= next_request) {
                        Ok(Some(r)) if r.reset_requested && short > 0 => {
                            // The writer's last pass fell short: a reader holds the WAL.
                            let backoff = every.saturating_mul(1 << short.min(16)).min(MAX_BACKOFF);
                            next_request = Instant::now() + backoff;
                            let warned_lately =
                                last_warning.is_some_and(|t| t.elapsed() < Duration::from_secs(60));
                            if r.wal_bytes > 2 * bound && !warned_lately {
                                last_warning = Some(Instant::now());
                                tracing::warn!(
                                    wal_bytes = r.wal_bytes,
                                    bound,
                                    "the journal's WAL cannot be reset: a reader holds it (retried)"
                                );
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "journal checkpoint failed (retried later)");
                        }
                    }
                }
                if let Err(e) = walker.truncate() {
                    tracing::warn!(error = %e, "final journal checkpoint failed (redone at the next open)");
                }
            })?;
        Ok(Checkpointer { stop, thread })
    }

    /// Final checkpoint (truncating the WAL) and stop.
    pub fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "credit-checkpoint-test-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j.db");
        (dir, path)
    }

    /// A writer set up as `log::start` sets up the journal writer's connection.
    fn writer(path: &Path, bound: u64) -> Connection {
        let conn = super::super::journal::open(path, false).unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.pragma_update(None, "journal_size_limit", bound as i64)
            .unwrap();
        conn.execute_batch("CREATE TABLE IF NOT EXISTS t (x BLOB NOT NULL)")
            .unwrap();
        conn
    }

    /// Commits `n` rows of 2 KiB, one transaction each.
    fn write(conn: &Connection, n: usize) {
        for _ in 0..n {
            conn.execute("INSERT INTO t (x) VALUES (zeroblob(2048))", [])
                .unwrap();
        }
    }

    fn wal_size(path: &Path) -> u64 {
        std::fs::metadata(format!("{}-wal", path.display()))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    fn rows(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    /// Past the bound the thread asks for a reset; while a reader keeps its snapshot the
    /// writer's pass falls short and the WAL keeps growing; once the reader has gone, the
    /// writer's pass reaches the end, its next commit starts the WAL over and the file is cut
    /// back to the bound. Nothing committed is lost.
    #[test]
    fn a_reset_waits_for_the_reader_and_then_starts_the_wal_over() {
        let bound = 256 * 1024;
        let (dir, path) = temp_db("reset");
        let w = writer(&path, bound);
        write(&w, 10);
        let reset = Arc::new(WalReset::default());
        let walker = Walker::open(&path, bound, reset.clone()).unwrap();
        let round = |w: &Walker| w.round(true).unwrap().expect("no request pending");
        assert!(!round(&walker).reset_requested);
        let mut reader = Connection::open(&path).unwrap();
        let tx = reader.transaction().unwrap();
        assert_eq!(rows(&tx), 10);
        write(&w, 400); // ~1 MiB of frames, 4× the bound
        let held = round(&walker);
        assert!(held.wal_bytes > bound && held.reset_requested, "{held:?}");
        assert!(reset.pending());
        assert_eq!(
            walker.round(true).unwrap(),
            None,
            "no pass while the writer is asked"
        );
        assert!(!reset.finish(&w).unwrap(), "the reader pins the WAL");
        assert!(!reset.pending());
        write(&w, 1);
        assert!(wal_size(&path) > bound, "{}", wal_size(&path));
        tx.commit().unwrap();
        assert!(round(&walker).reset_requested);
        assert!(reset.finish(&w).unwrap());
        assert_eq!(
            walker.round(true).unwrap(),
            None,
            "no pass before the next commit"
        );
        write(&w, 1);
        assert!(!reset.finish(&w).unwrap());
        assert!(!reset.pending());
        assert!(wal_size(&path) <= bound, "{}", wal_size(&path));
        let after = round(&walker);
        assert!(
            after.wal_bytes < bound / 16 && !after.reset_requested,
            "{after:?}"
        );
        assert_eq!(rows(&reader), 412);
        drop((w, walker, reader));
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Under sustained writes, with the writer doing what the journal writer does between
    /// groups, the WAL file stays near the bound and each reset cuts it back to the bound;
    /// without the hand-off (PASSIVE passes alone never reach the end of a WAL that keeps
    /// growing) it grows past any bound. The final TRUNCATE at stop empties it.
    #[test]
    fn the_wal_stays_bounded_under_sustained_writes() {
        let bound = 512 * 1024;
        for hand_off in [true, false] {
            let (dir, path) = temp_db(if hand_off { "sustained" } else { "unbounded" });
            let w = writer(&path, bound);
            let reset = Arc::new(WalReset::default());
            let c =
                Checkpointer::spawn(&path, Duration::from_millis(5), bound, reset.clone()).unwrap();
            let (mut peak, mut n, mut resets, mut cut_back) = (0, 0, 0, 0);
            let mut restarting = false;
            let started = Instant::now();
            while started.elapsed() < Duration::from_millis(1500) {
                // Like the journal writer: a group, then a moment waiting for requests.
                w.execute_batch("BEGIN").unwrap();
                write(&w, 8);
                w.execute_batch("COMMIT").unwrap();
                n += 8;
                let size = wal_size(&path);
                peak = peak.max(size);
                if restarting && size <= bound {
                    cut_back += 1;
                }
                restarting = false;
                if hand_off && size > 4 * bound {
                    // The checkpointer runs at a lower priority (nice +10); on a machine busy
                    // with other work it may not get the CPU for a while, and then nothing
                    // bounds the WAL (it is a soft bound by design). Give it that CPU here, so
                    // that the test checks the hand-off, not the machine's load.
                    let waited = Instant::now();
                    while !reset.pending() && waited.elapsed() < Duration::from_secs(5) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                if hand_off && reset.pending() && reset.finish(&w).unwrap() {
                    resets += 1;
                    restarting = true;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            c.finish();
            assert_eq!(wal_size(&path), 0);
            assert_eq!(rows(&w), n);
            if hand_off {
                assert!(resets > 2, "{resets} resets");
                assert!(
                    cut_back + 1 >= resets,
                    "{cut_back} of {resets} resets cut the file"
                );
                assert!(
                    peak < 8 * bound,
                    "peak WAL {peak} bytes for a {bound}-byte bound"
                );
            } else {
                assert!(
                    peak > 8 * bound,
                    "peak WAL {peak} bytes without the hand-off"
                );
            }
            drop(w);
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
