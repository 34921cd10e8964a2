//! The loader: fills the SQLite table (`predictions`, or `outbox` for remote sinks) from the
//! segment journal, off the request path.
//!
//! The writer (or a handler, see `appender.rs`) tells the loader where each group it appended
//! lies ([`Batch`]: segment, start, end, through the load queue, `queue.rs`, which joins
//! contiguous ones); the loader reads those bytes back from the segment file (see [`SegmentReader`]) and
//! inserts what has gathered for a few milliseconds in one transaction, and records in the same
//! transaction how far into which segment it has loaded (the one-row table `segment_progress`).
//! Large transactions write far fewer WAL bytes per record than the writer's small group
//! commits did, and SQLite's checkpoints (and the WAL restarts they need) now delay only the
//! loader, which nobody waits for.
//!
//! Exactly once: a record is in the table if and only if the recorded offset is past its frame,
//! because both change in one transaction. [`recover`] (on open, and on the adoption of an
//! orphaned journal) therefore replays every segment from the recorded offset on, never a record
//! twice and never one less; no `INSERT OR IGNORE` is needed, and a real duplicate decision id
//! would still fail loudly on the primary key.
//!
//! Deleting segments: a segment is removed once the loader has committed an offset in a later
//! one. The loader's connection commits with `synchronous=FULL` under `--fsync` (SQLite fsyncs
//! the WAL at each commit, so the rows survive a power cut before the segment goes) and `NORMAL`
//! otherwise, where a committed transaction survives a crash of the process, the same promise
//! the segment's unsynced bytes give; no checkpoint is waited for in either mode.

use super::checkpoint::WalReset;
use super::journal::{record_bytes, RECORD_COLUMNS};
use super::queue::LoadQueue;
use super::segment::{self, Frame, Frames, Row, SegmentReader};
use super::LogError;
use crate::serve::metrics::Metrics;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long the loader gathers groups before a transaction: long enough for large transactions
/// under load, short enough that a record is in the table a few milliseconds after its answer.
const GATHER: Duration = Duration::from_millis(5);
/// Most records in one load transaction (and one chunk of a recovery).
const MAX_LOAD: usize = 8192;
/// Longest pause between attempts when loading fails (the records wait safely in the segment).
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How long a failing load is retried at shutdown before the loader gives up and leaves the
/// rest in the segments for the next start.
const SHUTDOWN_RETRY: Duration = Duration::from_secs(3);

/// A `/ready` write check waiting for its frame to be loaded.
pub type ProbeAck = oneshot::Sender<Result<(), String>>;

/// One group the writer appended: where its frames are in which segment (the loader reads them
/// back from there, see [`SegmentReader`]).
pub struct Batch {
    pub segment: u64,
    pub start: u64,
    pub end: u64,
    pub records: usize,
    pub probes: Vec<ProbeAck>,
}

/// Where loading stands: everything before `offset` in `segment` (and in earlier segments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub segment: u64,
    pub offset: u64,
}

/// Reads the bookkeeping table ((0, 0) when nothing was ever loaded).
pub fn progress(conn: &Connection) -> Result<Progress, rusqlite::Error> {
    let p = conn
        .query_row(
            "SELECT segment, offset FROM segment_progress WHERE id = 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
        )
        .optional()?
        .unwrap_or((0, 0));
    Ok(Progress {
        segment: u64::try_from(p.0).unwrap_or(0),
        offset: u64::try_from(p.1).unwrap_or(0),
    })
}

fn set_progress(tx: &Transaction<'_>, p: Progress) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(
        "INSERT INTO segment_progress (id, segment, offset) VALUES (1, ?1, ?2) \
         ON CONFLICT (id) DO UPDATE SET segment = excluded.segment, offset = excluded.offset",
    )?
    .execute(params![p.segment as i64, p.offset as i64])?;
    Ok(())
}

/// What one load transaction added: records, and their bytes (see `journal::record_bytes`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Loaded {
    pub records: usize,
    pub bytes: i64,
}

fn insert_sql(table: &str) -> String {
    format!(
        "INSERT INTO {table} ({RECORD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    )
}

/// Inserts the records among `frames` (probes are skipped) into `table` within `tx`.
fn insert_frames<'a>(
    tx: &Transaction<'_>,
    table: &str,
    frames: impl Iterator<Item = Result<(usize, Frame<'a>), LogError>>,
) -> Result<Loaded, LogError> {
    let mut stmt = tx.prepare_cached(&insert_sql(table))?;
    let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let mut out = Loaded::default();
    for frame in frames {
        let Frame::Record(r) = frame?.1 else { continue };
        insert_row(&mut stmt, &r, &mut id)?;
        out.records += 1;
        out.bytes += record_bytes(r.text_len());
    }
    Ok(out)
}

fn insert_row(
    stmt: &mut rusqlite::CachedStatement<'_>,
    r: &Row<'_>,
    id: &mut [u8; uuid::fmt::Hyphenated::LENGTH],
) -> Result<(), rusqlite::Error> {
    let id = r.decision_id.hyphenated().encode_lower(id);
    stmt.execute(params![
        &*id,
        r.request_id,
        r.trace_id,
        r.ts,
        r.model_version,
        r.input,
        r.probability,
        r.prediction,
        r.score,
        r.reasons,
        r.latency_us,
    ])?;
    Ok(())
}

/// Loads `batches` in one transaction with the progress they reach (and, if a `/ready` check
/// is among them, its row of the `health` table: the check covers the database too).
pub fn load(
    conn: &mut Connection,
    table: &str,
    batches: &[Batch],
    reader: &mut SegmentReader,
) -> Result<Loaded, LogError> {
    let Some(last) = batches.last() else {
        return Ok(Loaded::default());
    };
    let tx = conn.transaction()?;
    let mut total = Loaded::default();
    for b in batches {
        let bytes = reader.read(b.segment, b.start, b.end)?;
        let mut frames = Frames::new(bytes, 0);
        let got = insert_frames(&tx, table, frames.by_ref())?;
        if frames.torn() {
            return Err(LogError::Segment(format!(
                "segment {} bytes {}..{}: a group the writer wrote failed its check on reading back",
                b.segment, b.start, b.end
            )));
        }
        total.records += got.records;
        total.bytes += got.bytes;
    }
    if batches.iter().any(|b| !b.probes.is_empty()) {
        super::journal::probe(&tx)?;
    }
    let p = Progress {
        segment: last.segment,
        offset: last.end,
    };
    set_progress(&tx, p)?;
    tx.commit()?;
    Ok(total)
}

/// What the loader thread shares with the rest of the log.
pub struct LoaderLinks {
    pub metrics: Arc<Metrics>,
    /// Wakes the shipper after a load (remote sinks only).
    pub wake_shipper: Option<mpsc::SyncSender<()>>,
    /// WAL resets the checkpointer hands over (see [`WalReset`]).
    pub wal_reset: Arc<WalReset>,
    /// Set at shutdown once the writer has stopped: a failing load then gives up after
    /// [`SHUTDOWN_RETRY`] instead of holding the shutdown forever.
    pub closing: Arc<AtomicBool>,
}

/// How the loader thread ended.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoaderEnd {
    pub loaded: u64,
    /// Everything the writer handed over is in the table: the segments may go.
    pub complete: bool,
}

/// Starts the loader thread over `conn`, loading what arrives in `queue` until it is closed
/// and empty; `first` is the oldest segment that may still exist (deleted once loading moved past it).
pub fn spawn(
    conn: Connection,
    table: &'static str,
    queue: Arc<LoadQueue>,
    segments: PathBuf,
    first: u64,
    links: LoaderLinks,
) -> Result<std::thread::JoinHandle<LoaderEnd>, LogError> {
    let mut l = Loader {
        conn,
        table,
        reader: SegmentReader::new(&segments),
        segments,
        oldest: first,
        links,
        end: LoaderEnd::default(),
    };
    let handle = std::thread::Builder::new()
        .name("credit-loader".into())
        .spawn(move || {
            l.run(&queue);
            l.end
        })?;
    Ok(handle)
}

struct Loader {
    conn: Connection,
    table: &'static str,
    reader: SegmentReader,
    segments: PathBuf,
    /// The oldest segment not yet deleted.
    oldest: u64,
    links: LoaderLinks,
    end: LoaderEnd,
}

impl Loader {
    fn run(&mut self, queue: &LoadQueue) {
        let mut batches: Vec<Batch> = Vec::new();
        // `take` sleeps through the gathering time, then takes what came: waking for each
        // group instead (a futex call on each side) cost thousands of wake-ups a second.
        while queue.take(GATHER, MAX_LOAD, &mut batches) {
            if !self.load_with_retry(&mut batches) {
                return;
            }
            self.after_load();
        }
        self.end.complete = true;
    }

    /// Loads `batches` (emptying it), retrying with a back-off: the records are safe in the
    /// segments meanwhile. Returns false when it gave up at shutdown (the next start loads them
    /// from the segments).
    fn load_with_retry(&mut self, batches: &mut Vec<Batch>) -> bool {
        let mut backoff = Duration::from_millis(10);
        let mut failing_since: Option<Instant> = None;
        loop {
            match load(&mut self.conn, self.table, batches, &mut self.reader) {
                Ok(loaded) => {
                    self.account(loaded, batches);
                    for p in batches.drain(..).flat_map(|b| b.probes) {
                        let _ = p.send(Ok(()));
                    }
                    return true;
                }
                Err(e) => {
                    tracing::error!(error = %e, "loading the journal's segments into SQLite failed; retrying");
                    let why = format!("the journal database cannot be written: {e}");
                    for p in batches.iter_mut().flat_map(|b| b.probes.drain(..)) {
                        let _ = p.send(Err(why.clone()));
                    }
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    let closing = self.links.closing.load(Ordering::Acquire);
                    if closing && since.elapsed() > SHUTDOWN_RETRY {
                        return false;
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn account(&mut self, loaded: Loaded, batches: &[Batch]) {
        let m = &self.links.metrics;
        if let Some(w) = &self.links.wake_shipper {
            // Pending first, backlog after: the outbox bound never sees a record in neither.
            m.log_outbox_pending
                .fetch_add(loaded.records as i64, Ordering::Relaxed);
            m.log_outbox_bytes
                .fetch_add(loaded.bytes, Ordering::Relaxed);
            let _ = w.try_send(());
        }
        let handed: usize = batches.iter().map(|b| b.records).sum();
        m.log_segment_backlog
            .fetch_sub(handed as i64, Ordering::Relaxed);
        m.log_loaded
            .fetch_add(loaded.records as u64, Ordering::Relaxed);
        m.log_load_transactions.fetch_add(1, Ordering::Relaxed);
        self.end.loaded += loaded.records as u64;
        if let Some(last) = batches.last() {
            self.delete_before(last.segment);
        }
    }

    /// Deletes the segments before `current`: loading has committed an offset past them.
    fn delete_before(&mut self, current: u64) {
        while self.oldest < current {
            if let Err(e) = segment::remove(&segment::path_of(&self.segments, self.oldest)) {
                tracing::warn!(error = %e, "cannot delete a loaded journal segment (retried)");
                return;
            }
            self.oldest += 1;
        }
    }

    /// Between transactions: the checkpointer's WAL reset, if it asked (log/checkpoint.rs).
    fn after_load(&mut self) {
        if self.links.wal_reset.pending() {
            if let Err(e) = self.links.wal_reset.finish(&self.conn) {
                tracing::warn!(error = %e, "journal checkpoint failed (retried later)");
            }
        }
    }
}

/// What [`recover`] found and did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Records loaded from the segments (answered before a crash, not yet in the table).
    pub records: u64,
    /// Bytes cut off torn segment tails.
    pub torn_bytes: u64,
    /// Unreadable bytes inside segments, skipped (see [`replay`]): their records are lost.
    pub damaged_bytes: u64,
    /// The number the writer's next segment gets (all existing segments are gone by then).
    pub next_segment: u64,
}

/// Replays the segments of the journal `db` into `table` from the recorded progress on: loads
/// every whole record after it (past damaged bytes too), cuts a torn tail off, deletes the
/// segments. Run before the
/// writer starts (and on an orphaned journal before its rows are adopted).
pub fn recover(conn: &mut Connection, db: &Path, table: &str) -> Result<Recovered, LogError> {
    let start = progress(conn)?;
    let dir = segment::dir_of(db);
    let files = segment::list(&dir)?;
    let mut out = Recovered::default();
    let mut last = start.segment;
    for (number, path) in &files {
        last = last.max(*number);
        if *number < start.segment {
            continue;
        }
        let from = if *number == start.segment {
            start.offset
        } else {
            0
        };
        let r = replay(conn, table, *number, path, from, REPLAY_WINDOW)?;
        out.records += r.records;
        out.torn_bytes += r.torn;
        out.damaged_bytes += r.damaged;
    }
    for (_, path) in &files {
        segment::remove(path)?;
    }
    out.next_segment = last + 1;
    Ok(out)
}

/// Bytes of a segment that recovery reads at a time (plus at most one frame carried over).
const REPLAY_WINDOW: usize = 1 << 20;

/// Loads segment `number` from `from` on, reading it `window` bytes at a time (a segment is
/// up to 16 MiB; on Cloud Run's in-memory disk a start-up that read it whole would hold it
/// twice), in chunks of at most [`MAX_LOAD`] records, each committed with its progress.
///
/// Where a frame is short or fails its checksum, whole frames may still follow: then the bytes
/// up to the next whole frame are damage (a page that never reached the disk at a power cut
/// while later ones did, a bad sector), skipped with an error line, and loading goes on after
/// them; the records in them are lost, the ones after are not. Otherwise it is the torn tail
/// (a crash mid-write), cut off.
fn replay(
    conn: &mut Connection,
    table: &str,
    number: u64,
    path: &Path,
    from: u64,
    window: usize,
) -> Result<Replayed, LogError> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut reader = WindowReader {
        pos: from.min(len),
        len,
        buf: Vec::new(),
    };
    let mut out = Replayed::default();
    loop {
        reader.fill(&mut file, window)?;
        let mut frames = Frames::new(&reader.buf, 0);
        let tx = conn.transaction()?;
        let got = insert_frames(&tx, table, frames.by_ref().take(MAX_LOAD))?;
        let used = frames.valid_end();
        if used > 0 {
            let offset = reader.pos + used as u64;
            set_progress(
                &tx,
                Progress {
                    segment: number,
                    offset,
                },
            )?;
            tx.commit()?;
            out.records += got.records as u64;
            reader.consume(used);
        } else if reader.at_end()
            || reader.buf.len() >= segment::MAX_FRAME as usize + segment::HEADER
        {
            // Nothing reads whole from here: damage if whole frames follow, else the torn tail.
            let Some(next) = next_whole_frame(&mut file, reader.pos, len)? else {
                break;
            };
            let bytes = next - reader.pos;
            tracing::error!(segment = %path.display(), offset = reader.pos, bytes, "journal segment damaged: records in these bytes are lost; loading the ones after them");
            out.damaged += bytes;
            reader.skip_to(next);
        }
    }
    let valid = reader.pos;
    out.torn = len - valid;
    if out.torn > 0 {
        tracing::warn!(segment = %path.display(), offset = valid, bytes = out.torn, "journal segment has a torn tail (a crash mid-write); cut off");
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .set_len(valid)?;
    }
    Ok(out)
}

/// What [`replay`] did with one segment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Replayed {
    /// Records loaded.
    records: u64,
    /// Bytes cut off the end (a torn last write).
    torn: u64,
    /// Unreadable bytes skipped inside the segment, with whole frames after them.
    damaged: u64,
}

/// The offset of the first whole frame (checksum valid, record or probe readable) after
/// `from`, if any. Reads the rest of the segment at once: this runs only where a frame is
/// damaged, and a random run of bytes passes as a frame only with a matching CRC-32 and a
/// payload that decodes to the last byte.
fn next_whole_frame(
    file: &mut std::fs::File,
    from: u64,
    len: u64,
) -> Result<Option<u64>, LogError> {
    let Ok(rest) = usize::try_from(len.saturating_sub(from)) else {
        return Ok(None);
    };
    let mut buf = vec![0; rest];
    segment::read_at(file, &mut buf, from)?;
    let found = (1..buf.len()).find(|&k| matches!(Frames::new(&buf, k).next(), Some(Ok(_))));
    Ok(found.map(|k| from + k as u64))
}

/// A segment read a window at a time: `buf` holds the bytes from offset `pos` on that are
/// read and not yet loaded.
struct WindowReader {
    pos: u64,
    len: u64,
    buf: Vec<u8>,
}

impl WindowReader {
    /// Reads up to `window` more bytes after those held.
    fn fill(&mut self, file: &mut std::fs::File, window: usize) -> Result<(), LogError> {
        let at = self.pos + self.buf.len() as u64;
        let want = usize::try_from(self.len - at)
            .unwrap_or(usize::MAX)
            .min(window);
        if want == 0 {
            return Ok(());
        }
        let held = self.buf.len();
        self.buf.resize(held + want, 0);
        segment::read_at(file, &mut self.buf[held..], at)?;
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
        self.pos += n as u64;
    }

    /// Drops what is held and goes on reading at `pos`.
    fn skip_to(&mut self, pos: u64) {
        self.buf.clear();
        self.pos = pos;
    }

    fn at_end(&self) -> bool {
        self.pos + self.buf.len() as u64 >= self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::log::journal::{self, PREDICTIONS_TABLE};
    use crate::serve::log::segment::SegmentWriter;

    struct TempDir(PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn temp(name: &str) -> (TempDir, PathBuf) {
        let dir = std::env::temp_dir().join(format!("credit-loader-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("j.db");
        (TempDir(dir), db)
    }

    fn row(id: &str) -> Row<'_> {
        Row {
            decision_id: uuid::Uuid::now_v7(),
            request_id: id,
            trace_id: None,
            ts: "2023-11-14T22:13:20.000000Z",
            model_version: "9.9.9",
            input: r#"{"age":45}"#,
            probability: 0.25,
            prediction: 0,
            score: 600.5,
            reasons: "[]",
            latency_us: 42,
        }
    }

    /// Appends a group of `n` records named `<tag>-<k>` (and, with `probe`, a probe frame);
    /// returns it as the writer hands it to the loader.
    fn write(w: &mut SegmentWriter, tag: &str, n: usize, probe: bool) -> Batch {
        let mut frames = Vec::new();
        for k in 0..n {
            segment::push_record(&mut frames, &row(&format!("{tag}-{k}")));
        }
        if probe {
            segment::push_probe(&mut frames);
        }
        let (segment, end) = w.append(&frames).unwrap();
        Batch {
            segment,
            start: end - frames.len() as u64,
            end,
            records: n,
            probes: Vec::new(),
        }
    }

    fn ids(conn: &Connection) -> Vec<String> {
        let mut v: Vec<String> = conn
            .prepare("SELECT request_id FROM predictions")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        v.sort();
        v
    }

    fn names(tag: &str, n: usize) -> Vec<String> {
        (0..n).map(|k| format!("{tag}-{k}")).collect()
    }

    /// A crash after groups were written but before (some of) them were loaded, with a torn
    /// frame at the end: recovery loads exactly the written, unloaded records (the loaded group
    /// not again), cuts the torn tail off, deletes the segment; a second recovery loads nothing.
    #[test]
    fn recovery_loads_exactly_what_was_written_and_not_loaded() {
        let (_tmp, db) = temp("unloaded");
        let mut conn = journal::open(&db, false).unwrap();
        let dir = segment::dir_of(&db);
        let mut w = SegmentWriter::create(&dir, 1, segment::SEGMENT_BYTES, false).unwrap();
        let a = write(&mut w, "a", 10, true);
        let _b = write(&mut w, "b", 10, false);
        let _c = write(&mut w, "c", 5, true);
        load(
            &mut conn,
            PREDICTIONS_TABLE,
            &[a],
            &mut SegmentReader::new(&dir),
        )
        .unwrap();
        // The crash: a torn last frame (half of a record), no more loading.
        let mut torn = Vec::new();
        segment::push_record(&mut torn, &row("torn"));
        w.append(&torn[..torn.len() / 2]).unwrap();
        drop((w, conn));
        let mut conn = journal::open(&db, false).unwrap();
        let r = recover(&mut conn, &db, PREDICTIONS_TABLE).unwrap();
        assert_eq!(r.records, 15);
        assert_eq!(r.torn_bytes, (torn.len() / 2) as u64);
        assert_eq!(r.next_segment, 2);
        let mut want = [names("a", 10), names("b", 10), names("c", 5)].concat();
        want.sort();
        assert_eq!(ids(&conn), want);
        assert!(segment::list(&dir).unwrap().is_empty());
        let again = recover(&mut conn, &db, PREDICTIONS_TABLE).unwrap();
        assert_eq!((again.records, again.next_segment), (0, 2));
        assert_eq!(ids(&conn).len(), 25);
    }

    /// Recovery reads a segment a window at a time: windows smaller than a frame, cutting
    /// frames and headers anywhere, load exactly what one read of the whole file loads, with
    /// the torn tail cut at the same offset and the progress at the end of the last frame.
    #[test]
    fn recovery_by_windows_loads_what_a_whole_read_loads() {
        for window in [1, 7, 100, 333, 4096, REPLAY_WINDOW] {
            let (_tmp, db) = temp(&format!("window-{window}"));
            let mut conn = journal::open(&db, false).unwrap();
            let dir = segment::dir_of(&db);
            let mut w = SegmentWriter::create(&dir, 1, segment::SEGMENT_BYTES, false).unwrap();
            let a = write(&mut w, "a", 3, false);
            write(&mut w, "b", 10, true);
            let c = write(&mut w, "c", 5, false);
            let mut torn = Vec::new();
            segment::push_record(&mut torn, &row("torn"));
            w.append(&torn[..torn.len() - 3]).unwrap();
            drop(w);
            let path = segment::path_of(&dir, 1);
            let r = replay(&mut conn, PREDICTIONS_TABLE, 1, &path, a.end, window).unwrap();
            assert_eq!(
                (r.records, r.torn, r.damaged),
                (15, torn.len() as u64 - 3, 0),
                "window {window}"
            );
            assert_eq!(std::fs::metadata(&path).unwrap().len(), c.end);
            assert_eq!(
                progress(&conn).unwrap(),
                Progress {
                    segment: 1,
                    offset: c.end
                },
                "window {window}"
            );
            let mut want = [names("b", 10), names("c", 5)].concat();
            want.sort();
            assert_eq!(ids(&conn), want, "window {window}");
        }
    }

    /// Damage inside a segment, with whole frames after it (a page that never reached the disk
    /// at a power cut while later ones did, or a bad sector), is not a torn tail: recovery
    /// skips the damaged bytes and loads every record after them, whatever the window, and
    /// counts the bytes it could not read. Before, everything from the damage on was cut off.
    #[test]
    fn damage_inside_a_segment_loses_only_the_damaged_frames() {
        for window in [1, 7, 100, 333, 4096, REPLAY_WINDOW] {
            let (_tmp, db) = temp(&format!("damage-{window}"));
            let mut conn = journal::open(&db, false).unwrap();
            let dir = segment::dir_of(&db);
            let mut w = SegmentWriter::create(&dir, 1, segment::SEGMENT_BYTES, false).unwrap();
            // One record per group, so that each frame's place is known.
            let frames: Vec<Batch> = (0..60)
                .map(|k| write(&mut w, &format!("r-{k:02}"), 1, false))
                .collect();
            drop(w);
            let path = segment::path_of(&dir, 1);
            let mut bytes = std::fs::read(&path).unwrap();
            // Frame 7 damaged in its payload, frames 20.. zeroed from mid-frame 20 to mid-frame
            // 23 (a lost page), frame 40's length field damaged.
            let mid = |b: &Batch| ((b.start + b.end) / 2) as usize;
            bytes[mid(&frames[7])] ^= 0x55;
            bytes[mid(&frames[20])..mid(&frames[23])].fill(0);
            bytes[frames[40].start as usize + 2] = 0x7f;
            std::fs::write(&path, &bytes).unwrap();
            let lost = [7, 20, 21, 22, 23, 40];
            // The whole-file window through `recover`, which sums what `replay` found.
            let r = if window == REPLAY_WINDOW {
                let r = recover(&mut conn, &db, PREDICTIONS_TABLE).unwrap();
                assert!(segment::list(&dir).unwrap().is_empty());
                Replayed {
                    records: r.records,
                    torn: r.torn_bytes,
                    damaged: r.damaged_bytes,
                }
            } else {
                replay(&mut conn, PREDICTIONS_TABLE, 1, &path, 0, window).unwrap()
            };
            let damaged: u64 = lost.iter().map(|&k| frames[k].end - frames[k].start).sum();
            assert_eq!(
                (r.records, r.torn, r.damaged),
                (60 - lost.len() as u64, 0, damaged),
                "window {window}"
            );
            let want: Vec<String> = (0..60)
                .filter(|k| !lost.contains(k))
                .map(|k| format!("r-{k:02}-0"))
                .collect();
            assert_eq!(ids(&conn), want, "window {window}");
            assert_eq!(
                progress(&conn).unwrap(),
                Progress {
                    segment: 1,
                    offset: frames[59].end
                },
                "window {window}"
            );
        }
    }

    /// A crash after a load committed but before the segments it finished were deleted: those
    /// segments are deleted without loading a record twice, and a partly loaded one is loaded
    /// from its recorded offset on.
    #[test]
    fn recovery_after_a_load_does_not_load_again() {
        let (_tmp, db) = temp("loaded");
        let mut conn = journal::open(&db, false).unwrap();
        let dir = segment::dir_of(&db);
        // A tiny segment size: every group gets a segment of its own.
        let mut w = SegmentWriter::create(&dir, 1, 1, false).unwrap();
        let a = write(&mut w, "a", 3, false);
        let b = write(&mut w, "b", 4, false);
        let c = write(&mut w, "c", 2, false);
        assert_eq!((a.segment, b.segment, c.segment), (1, 2, 3));
        let _d = write(&mut w, "d", 6, false);
        load(
            &mut conn,
            PREDICTIONS_TABLE,
            &[a, b],
            &mut SegmentReader::new(&dir),
        )
        .unwrap();
        load(
            &mut conn,
            PREDICTIONS_TABLE,
            &[c],
            &mut SegmentReader::new(&dir),
        )
        .unwrap();
        assert_eq!(progress(&conn).unwrap().segment, 3);
        drop((w, conn));
        assert_eq!(segment::list(&dir).unwrap().len(), 4, "nothing deleted");
        let mut conn = journal::open(&db, false).unwrap();
        let r = recover(&mut conn, &db, PREDICTIONS_TABLE).unwrap();
        assert_eq!((r.records, r.torn_bytes, r.next_segment), (6, 0, 5));
        let mut want = [names("a", 3), names("b", 4), names("c", 2), names("d", 6)].concat();
        want.sort();
        assert_eq!(ids(&conn), want);
        assert!(segment::list(&dir).unwrap().is_empty());
    }

    /// The loader thread deletes a segment once it has loaded past it, answers probes after
    /// their load (with the `health` row written), and reports completion when the writer
    /// hangs up.
    #[test]
    fn the_loader_deletes_loaded_segments_and_answers_probes() {
        let (_tmp, db) = temp("thread");
        let conn = journal::open(&db, false).unwrap();
        let dir = segment::dir_of(&db);
        let mut w = SegmentWriter::create(&dir, 1, 1, false).unwrap();
        let metrics = Arc::new(Metrics::default());
        let queue = Arc::new(LoadQueue::new(1000));
        let links = LoaderLinks {
            metrics: metrics.clone(),
            wake_shipper: None,
            wal_reset: Arc::default(),
            closing: Arc::default(),
        };
        let l = spawn(
            conn,
            PREDICTIONS_TABLE,
            queue.clone(),
            dir.clone(),
            1,
            links,
        )
        .unwrap();
        let (ack, checked) = oneshot::channel();
        let mut first = write(&mut w, "a", 3, true);
        first.probes.push(ack);
        metrics.log_segment_backlog.fetch_add(3, Ordering::Relaxed);
        queue.push(first);
        assert_eq!(checked.blocking_recv().unwrap(), Ok(()));
        metrics.log_segment_backlog.fetch_add(2, Ordering::Relaxed);
        queue.push(write(&mut w, "b", 2, false));
        queue.close();
        let end = l.join().unwrap();
        assert!(end.complete);
        assert_eq!(end.loaded, 5);
        assert_eq!(metrics.log_segment_backlog.load(Ordering::Relaxed), 0);
        let left: Vec<u64> = segment::list(&dir).unwrap().iter().map(|s| s.0).collect();
        assert_eq!(left, [2], "the first segment is loaded and gone");
        let conn = journal::open(&db, false).unwrap();
        assert_eq!(ids(&conn).len(), 5);
        let health: i64 = conn
            .query_row("SELECT count(*) FROM health", [], |r| r.get(0))
            .unwrap();
        assert_eq!(health, 1);
    }
}
