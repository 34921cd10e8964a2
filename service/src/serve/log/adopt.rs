//! One journal per instance in a shared directory, and the adoption of the journals of instances
//! that died.
//!
//! Why: on Cloud Run the local disk is memory and goes away with the instance, and the records an
//! instance answered but had not shipped go with it. A journal on a mounted volume (NFS) outlives
//! the instance, but it only helps if some other instance ships what it holds. Two rules shape
//! how that is done:
//!
//! * SQLite must never be opened by two hosts at once. Cloud Run mounts NFS without locking, so
//!   SQLite's locks only exclude connections of the same host; a second host on the same file
//!   would corrupt it. Every instance therefore writes its own file, `journal-<id>.db`, where
//!   `<id>` is a UUIDv7 drawn at each process start.
//! * Ownership has to be visible to the others. The owner rewrites `journal-<id>.lease` (its
//!   clock, in milliseconds since the Unix epoch) every [`HEARTBEAT`]; a lease that has not moved
//!   for the stale limit (default [`DEFAULT_STALE_AFTER`]) belongs to a dead instance.
//!
//! Adoption of a stale journal: the adopter renames the lease to `journal-<id>.claimed-by-<own
//! id>`. A rename of one name succeeds for exactly one caller, so exactly one instance wins, on
//! a local disk and on NFS alike (the NFS server executes the rename). The winner opens the
//! orphan with `journal::open` (which brings it to this build's schema and folds its WAL into
//! the file), copies its `outbox` and `dead_letter` rows into its own journal in one
//! transaction, commits with `synchronous=FULL` (the copy is on stable storage before the
//! original goes away), then deletes the orphan's files, the claim last. Its shipper picks the
//! rows up at its next poll (within a second).
//!
//! Files in the directory:
//!
//! | name | what |
//! |---|---|
//! | `journal-<id>.db`, `-wal`, `-shm` | the journal of instance `<id>` |
//! | `journal-<id>.db.segments/` | its segment files (records written, maybe not yet loaded) |
//! | `journal-<id>.lease` | its heartbeat: 20 digits, ms since the epoch (0: released) |
//! | `journal-<id>.claimed-by-<other>` | its lease, renamed by the instance adopting it |
//!
//! Failure cases and what happens:
//!
//! * The adopter dies while adopting: its claim stays, but its own lease goes stale, so a third
//!   instance takes the claim over (rename again) and adopts the orphan. If the first adopter
//!   had already committed its copy, the rows exist twice (in its journal, adopted in turn
//!   later, and in the third one's); an identical row is recognised and not copied twice when
//!   both copies meet in one journal, otherwise the sink's insert id de-duplicates them. Nothing
//!   is deleted before its copy is committed.
//! * The copy fails (unreadable file, a column the copy lists do not know, a record that
//!   conflicts with a different one of this journal, rows of the `sqlite://` sink's final
//!   table): nothing is committed, the claim is renamed back to the lease, which is still
//!   stale, so the orphan is retried at the next round by whoever gets it first; the error is
//!   reported each time.
//! * The owner was alive after all (stalled for longer than the stale limit): its next heartbeat
//!   finds the lease gone and marks the lease lost ([`Lease::is_lost`]). Rows it commits after
//!   the adopter's copy are in a file the adopter deletes; the owner should stop taking traffic
//!   (fail its health check) so that the instance is replaced. With a 5 s heartbeat and a 60 s
//!   limit, this needs twelve missed heartbeats in a row.

use super::journal::{
    self, DEAD_LETTER_TABLE, OUTBOX_COPY_COLUMNS, OUTBOX_TABLE, PREDICTIONS_TABLE,
};
use super::schema::DEAD_LETTER_COPY_COLUMNS;
use super::{loader, segment, LogError};
use rusqlite::{Connection, ErrorCode, TransactionBehavior};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often the owner renews its lease.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// Age after which a lease is taken for the lease of a dead instance: twelve heartbeats, so that
/// a slow NFS round trip or a paused process does not lose its journal to another instance.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(60);
/// How often a running instance looks for stale journals (besides once at start).
pub const ADOPT_EVERY: Duration = Duration::from_secs(60);

// The copies name their columns through `OUTBOX_COPY_COLUMNS` and `DEAD_LETTER_COPY_COLUMNS`
// (the schema's lists of every column but `seq`), and each adoption first checks both tables of
// both files against them: a column added to the schema but not to a list stops the adoption
// (the orphan stays) instead of being dropped silently.

/// Columns that say how shipping went rather than what was decided: two rows that differ only
/// there are the same record.
const BOOKKEEPING: [&str; 2] = ["attempts", "last_error"];

const PREFIX: &str = "journal-";
const CLAIMED_BY: &str = "claimed-by-";

/// What the lease thread, the adopter and [`Lease::finish`] share.
#[derive(Debug)]
struct Shared {
    id: String,
    dir: PathBuf,
    db: PathBuf,
    lease: PathBuf,
    lost: AtomicBool,
}

/// This instance's claim on its journal: a heartbeat thread that keeps `journal-<id>.lease`
/// fresh. Dropping it stops the heartbeat and leaves every file in place (the lease then goes
/// stale and another instance adopts the journal); [`Lease::finish`] is the clean shutdown.
#[derive(Debug)]
pub struct Lease {
    shared: Arc<Shared>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How [`Lease::finish`] left the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseEnd {
    /// The journal was empty: journal and lease removed.
    Removed,
    /// Rows were left (outbox or dead letters): the files stay and the lease is released (stamp
    /// 0), so the next adoption round of any instance takes them without waiting for the stale
    /// limit.
    Released { rows: u64 },
    /// Another instance had claimed the journal; nothing was touched.
    Lost,
}

/// What one adoption round did.
#[derive(Debug, Default)]
pub struct AdoptReport {
    /// Orphaned journals copied and deleted.
    pub journals: usize,
    /// Outbox rows copied into this instance's journal (add them to the pending-rows gauge).
    pub outbox_rows: u64,
    /// Dead letters copied.
    pub dead_letters: u64,
    /// What the copied rows add to the journal's byte count (`journal::held`): add it to the
    /// outbox-bytes gauge, like `outbox_rows` to the pending one and `dead_letters` to the held
    /// dead letters.
    pub bytes: i64,
    /// Outbox rows already present, identical but for shipping bookkeeping, and not copied twice
    /// (an earlier adopter died after its copy and before its clean-up).
    pub duplicates: u64,
    /// Orphans that could not be adopted this round (they stay for a later one), with the reason.
    pub failed: Vec<String>,
}

impl AdoptReport {
    fn add(&mut self, c: &AdoptReport) {
        self.outbox_rows += c.outbox_rows;
        self.dead_letters += c.dead_letters;
        self.bytes += c.bytes;
        self.duplicates += c.duplicates;
    }
}

/// Picks this process's journal in `dir` and starts renewing its lease.
///
/// The lease file exists before the journal file, so a journal without a lease is never one
/// that is being written. Returns the journal path to open (it does not exist yet).
pub fn instance_journal(dir: &Path) -> Result<(PathBuf, Lease), LogError> {
    start_lease(dir, HEARTBEAT)
}

fn start_lease(dir: &Path, heartbeat: Duration) -> Result<(PathBuf, Lease), LogError> {
    fs::create_dir_all(dir)?;
    let id = uuid::Uuid::now_v7().hyphenated().to_string();
    let shared = Arc::new(Shared {
        db: db_path(dir, &id),
        lease: lease_path(dir, &id),
        dir: dir.to_path_buf(),
        id,
        lost: AtomicBool::new(false),
    });
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&shared.lease)?;
    file.write_all(stamp(now_ms()).as_bytes())?;
    file.sync_data()?;
    drop(file);
    let (stop, rx) = mpsc::channel::<()>();
    let beat = shared.clone();
    let thread = std::thread::Builder::new()
        .name("credit-lease".into())
        .spawn(move || loop {
            match rx.recv_timeout(heartbeat) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // `finish` or drop.
                _ => return,
            }
            match write_stamp(&beat.lease, now_ms()) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    beat.lost.store(true, Ordering::SeqCst);
                    tracing::error!(
                        journal = %beat.db.display(),
                        "journal lease taken by another instance (this one was stalled past the \
                         stale limit); records committed from now on may be lost: replace this instance"
                    );
                    return;
                }
                Err(e) => tracing::warn!(error = %e, lease = %beat.lease.display(), "cannot renew the journal lease; retrying"),
            }
        })?;
    Ok((
        shared.db.clone(),
        Lease {
            shared,
            stop: Some(stop),
            thread: Some(thread),
        },
    ))
}

impl Lease {
    /// This instance's id (the `<id>` of its file names).
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The journal this lease covers.
    pub fn journal_path(&self) -> &Path {
        &self.shared.db
    }

    /// Another instance took the lease: the journal is being (or was) adopted under this
    /// instance's feet. The health check should fail so that the instance is replaced.
    pub fn is_lost(&self) -> bool {
        self.shared.lost.load(Ordering::SeqCst)
    }

    /// A cheap handle for the health check, which runs elsewhere than the owner of the lease.
    pub fn watch(&self) -> LeaseWatch {
        LeaseWatch(self.shared.clone())
    }

    fn stop_heartbeat(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Clean shutdown, once every connection to the journal is closed (after the log's own
    /// shutdown): an empty journal is removed with its lease; one with rows left is released
    /// for immediate adoption by another instance.
    pub fn finish(mut self) -> Result<LeaseEnd, LogError> {
        self.stop_heartbeat();
        let s = &self.shared;
        if self.is_lost() || !s.lease.exists() {
            return Ok(LeaseEnd::Lost);
        }
        if s.db.exists() {
            let rows = {
                // Normally nothing to load (the loader loaded everything at shutdown); if it
                // could not, the rest is loaded now, so it is counted and never deleted unshipped.
                let conn = open_loaded(&s.db)?;
                let mut rows = 0;
                for table in [OUTBOX_TABLE, DEAD_LETTER_TABLE, PREDICTIONS_TABLE] {
                    rows += journal::count(&conn, table)?;
                }
                rows
            };
            if rows > 0 {
                write_stamp(&s.lease, 0)?;
                return Ok(LeaseEnd::Released { rows });
            }
            remove_journal_files(&s.db)?;
        }
        remove_if_exists(&s.lease)?;
        Ok(LeaseEnd::Removed)
    }
}

/// Tells whether the lease was taken by another instance (see [`Lease::is_lost`]).
#[derive(Debug, Clone)]
pub struct LeaseWatch(Arc<Shared>);

impl LeaseWatch {
    pub fn is_lost(&self) -> bool {
        self.0.lost.load(Ordering::SeqCst)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}

/// Adopts every stale journal in the lease's directory into `own`, a connection to this
/// instance's journal. Safe to run on any number of instances at once: each orphan is adopted by
/// exactly one. An orphan that fails is reported in [`AdoptReport::failed`] and left for a later
/// round; `Err` only when the directory cannot be read.
pub fn adopt_stale(
    lease: &Lease,
    own: &mut Connection,
    stale_after: Duration,
) -> Result<AdoptReport, LogError> {
    adopt_as(&lease.shared, own, stale_after)
}

/// A thread that runs [`adopt_stale`] every `every` over its own connection to this instance's
/// journal, and hands each report that adopted something to `on_adopted`.
pub struct Adopter {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Adopter {
    pub fn spawn(
        lease: &Lease,
        fsync: bool,
        stale_after: Duration,
        every: Duration,
        on_adopted: Box<dyn Fn(&AdoptReport) + Send>,
    ) -> Result<Adopter, LogError> {
        let me = lease.shared.clone();
        let mut conn = journal::open(&me.db, fsync)?;
        let (stop, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("credit-adopter".into())
            .spawn(move || loop {
                match rx.recv_timeout(every) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                match adopt_as(&me, &mut conn, stale_after) {
                    Ok(report) if report.journals > 0 => on_adopted(&report),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot look for orphaned journals"),
                }
            })?;
        Ok(Adopter {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the thread (waiting for a round in progress) and closes its connection; call it
    /// before [`Lease::finish`].
    pub fn finish(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Adopter {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn adopt_as(
    me: &Shared,
    own: &mut Connection,
    stale_after: Duration,
) -> Result<AdoptReport, LogError> {
    let mut report = AdoptReport::default();
    for (id, found) in scan(&me.dir)? {
        if id == me.id {
            continue;
        }
        if me.lost.load(Ordering::SeqCst) {
            // Others take this instance for dead and may be taking over its claims.
            report
                .failed
                .push("this instance lost its own lease; not adopting".into());
            break;
        }
        let mine = claim_path(&me.dir, &id, &me.id);
        match claim(me, &id, &found, &mine, stale_after) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                report.failed.push(format!("journal-{id}: claim: {e}"));
                continue;
            }
        }
        match adopt_one(&me.dir, &id, &mine, own) {
            Ok(counts) => {
                report.journals += 1;
                report.add(&counts);
                tracing::info!(
                    journal = %id,
                    outbox_rows = counts.outbox_rows,
                    dead_letters = counts.dead_letters,
                    duplicates = counts.duplicates,
                    "adopted the journal of a stopped instance"
                );
            }
            Err(e) => {
                // Give it back, still stale: the next round (of any instance) tries again.
                let released = fs::rename(&mine, lease_path(&me.dir, &id));
                tracing::error!(journal = %id, error = %e, released = released.is_ok(), "cannot adopt an orphaned journal; it stays for a later round");
                report.failed.push(format!("journal-{id}: {e}"));
            }
        }
    }
    Ok(report)
}

/// The files of one instance id in the directory.
#[derive(Debug, Default)]
struct Found {
    lease: bool,
    db: bool,
    claimed_by: Vec<String>,
}

fn scan(dir: &Path) -> Result<BTreeMap<String, Found>, LogError> {
    let mut found: BTreeMap<String, Found> = BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some((id, kind)) = rest.split_once('.') else {
            continue;
        };
        if !is_id(id) {
            continue;
        }
        let f = found.entry(id.to_owned()).or_default();
        match kind {
            "lease" => f.lease = true,
            "db" => f.db = true,
            _ => {
                if let Some(by) = kind.strip_prefix(CLAIMED_BY).filter(|by| is_id(by)) {
                    f.claimed_by.push(by.to_owned());
                }
            }
        }
    }
    Ok(found)
}

/// Ids are UUIDs: anything else in the directory is not ours.
fn is_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// Tries to make the orphan `id` this instance's by an atomic rename to `mine`; true when won.
fn claim(me: &Shared, id: &str, f: &Found, mine: &Path, stale_after: Duration) -> io::Result<bool> {
    if f.claimed_by.contains(&me.id) {
        // Left by a failed release earlier in this process: still ours.
        return Ok(true);
    }
    let lease = lease_path(&me.dir, id);
    if !f.lease {
        if let Some(by) = f.claimed_by.first() {
            if is_alive(&me.dir, by, stale_after)? {
                return Ok(false);
            }
            // The adopter died mid-way: take its claim over.
            return rename_claim(&claim_path(&me.dir, id, by), mine);
        }
        if !f.db {
            return Ok(false);
        }
        // A journal without lease or claim (a crash between files): give it a released lease,
        // created exclusively so that racing adopters share one name, then claim it as usual.
        let db = db_path(&me.dir, id);
        if written_within(&db, stale_after)? {
            return Ok(false);
        }
        match OpenOptions::new().write(true).create_new(true).open(&lease) {
            Ok(mut file) => file.write_all(stamp(0).as_bytes())?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    if !is_stale(&lease, stale_after)? {
        return Ok(false);
    }
    if !rename_claim(&lease, mine)? {
        return Ok(false);
    }
    // The owner may have renewed between the read and the rename: then it is alive, give it back.
    if !is_stale(mine, stale_after)? {
        fs::rename(mine, &lease)?;
        return Ok(false);
    }
    Ok(true)
}

/// `rename(from, to)`; false when `from` is gone (another instance won). On NFS a retransmitted
/// rename can answer "not found" although it succeeded: then `to` exists and the claim is ours.
fn rename_claim(from: &Path, to: &Path) -> io::Result<bool> {
    match fs::rename(from, to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(to.exists()),
        Err(e) => Err(e),
    }
}

/// The instance `id` renews its lease (it has one, and it is not stale).
fn is_alive(dir: &Path, id: &str, stale_after: Duration) -> io::Result<bool> {
    let lease = lease_path(dir, id);
    Ok(lease.exists() && !is_stale(&lease, stale_after)?)
}

/// The stamp in a lease (or, if it cannot be read as one, the file's modification time) is older
/// than `stale_after`. A missing file counts as not stale (someone else has moved it).
fn is_stale(path: &Path, stale_after: Duration) -> io::Result<bool> {
    let mut text = String::new();
    match fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text)) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    }
    let at = match text.trim().parse::<u64>() {
        Ok(ms) => ms,
        Err(_) => ms_since_epoch(fs::metadata(path)?.modified()?),
    };
    Ok(now_ms().saturating_sub(at) > stale_after.as_millis() as u64)
}

/// The journal, its WAL or a segment changed within `window` (its writer may still be running).
fn written_within(db: &Path, window: Duration) -> io::Result<bool> {
    let now = now_ms();
    let segments = segment::list(&segment::dir_of(db))?
        .into_iter()
        .map(|(_, p)| p);
    for path in [db.to_path_buf(), sidecar(db, "-wal")]
        .into_iter()
        .chain(segments)
    {
        match fs::metadata(&path) {
            Ok(m) => {
                if now.saturating_sub(ms_since_epoch(m.modified()?)) <= window.as_millis() as u64 {
                    return Ok(true);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Copies the claimed orphan `id` into `own`, then deletes its files (the claim last).
fn adopt_one(
    dir: &Path,
    id: &str,
    mine: &Path,
    own: &mut Connection,
) -> Result<AdoptReport, LogError> {
    let db = db_path(dir, id);
    let mut counts = AdoptReport::default();
    if db.exists() {
        // The -shm is only an index of the -wal, rebuilt from it by the next open; the dead
        // host's copy must not be trusted.
        remove_if_exists(&sidecar(&db, "-shm"))?;
        // Brings an older journal to this build's schema and loads what the dead instance had
        // written to its segments but not yet loaded (answered records). Closing the only
        // connection folds the WAL (committed transactions of the dead instance) into the file.
        drop(open_loaded(&db)?);
        counts = copy_into(own, &db)?;
    }
    remove_journal_files(&db)?;
    remove_if_exists(mine)?;
    Ok(counts)
}

/// Copies the orphan's outbox and dead letters into `own` in one transaction, fsynced.
fn copy_into(own: &mut Connection, orphan: &Path) -> Result<AdoptReport, LogError> {
    let path = orphan
        .to_str()
        .ok_or_else(|| LogError::Sink(format!("{}: not a UTF-8 path", orphan.display())))?;
    let sync: i64 = own.query_row("PRAGMA main.synchronous", [], |r| r.get(0))?;
    own.execute("ATTACH DATABASE ?1 AS orphan", [path])?;
    // FULL: the copy is on stable storage before the original is deleted, whatever the
    // instance's own --fsync setting.
    let result = own
        .execute_batch("PRAGMA main.synchronous = FULL")
        .map_err(LogError::from)
        .and_then(|()| copy_tx(own));
    let restored = own.execute_batch(&format!("PRAGMA main.synchronous = {sync}"));
    let detached = own.execute("DETACH DATABASE orphan", []);
    let counts = result?;
    restored?;
    detached?;
    Ok(counts)
}

fn copy_tx(own: &mut Connection) -> Result<AdoptReport, LogError> {
    let mut tx = own.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let finals: i64 = tx.query_row(
        &format!("SELECT count(*) FROM orphan.{PREDICTIONS_TABLE}"),
        [],
        |r| r.get(0),
    )?;
    if finals > 0 {
        return Err(LogError::Sink(format!(
            "it holds {finals} rows of the sqlite:// sink's final table; a journal directory is \
             for remote sinks (jsonl://, bigquery://), so it is left as it is"
        )));
    }
    for schema in ["main", "orphan"] {
        check_columns(&tx, schema, OUTBOX_TABLE, OUTBOX_COPY_COLUMNS)?;
        check_columns(&tx, schema, DEAD_LETTER_TABLE, DEAD_LETTER_COPY_COLUMNS)?;
    }
    // Unqualified names resolve to `main` first: these are this journal's own totals.
    let (_, _, before) = journal::held(&tx)?;
    let mut counts = copy_outbox(&mut tx)?;
    counts.dead_letters = copy_dead_letters(&tx)?;
    let (_, _, after) = journal::held(&tx)?;
    counts.bytes = after - before;
    tx.commit()?;
    Ok(counts)
}

fn column_list(list: &str) -> Vec<&str> {
    list.split(',').map(str::trim).collect()
}

/// The table has exactly `seq` and the listed columns: none would be dropped, none is missing.
fn check_columns(conn: &Connection, schema: &str, table: &str, list: &str) -> Result<(), LogError> {
    let mut stmt = conn.prepare(&format!("PRAGMA {schema}.table_info({table})"))?;
    let have: BTreeSet<String> = stmt
        .query_map([], |r| r.get::<_, String>(1))?
        .collect::<Result<_, _>>()?;
    let want: BTreeSet<String> = column_list(list)
        .into_iter()
        .chain(["seq"])
        .map(str::to_owned)
        .collect();
    if have != want {
        return Err(LogError::Sink(format!(
            "{schema}.{table} has the columns {have:?} but the copy carries {want:?}; refusing to \
             drop or invent a column"
        )));
    }
    Ok(())
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

/// All rows in one statement; if a decision id is already present, row by row: a row identical
/// but for shipping bookkeeping is the same record and is skipped; a different record under the
/// same (server-drawn, UUIDv7) decision id cannot happen by chance, so it stops the adoption and
/// the orphan stays for a human to look at.
fn copy_outbox(tx: &mut rusqlite::Transaction<'_>) -> Result<AdoptReport, LogError> {
    let cols = OUTBOX_COPY_COLUMNS;
    let mut counts = AdoptReport::default();
    {
        let sp = tx.savepoint()?;
        match sp.execute(
            &format!(
                "INSERT INTO main.{OUTBOX_TABLE} ({cols}) \
                 SELECT {cols} FROM orphan.{OUTBOX_TABLE} ORDER BY seq"
            ),
            [],
        ) {
            Ok(n) => {
                sp.commit()?;
                counts.outbox_rows = n as u64;
                return Ok(counts);
            }
            // Dropping the savepoint rolls the partial insert back.
            Err(e) if is_constraint(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let same = column_list(cols)
        .into_iter()
        .filter(|c| !BOOKKEEPING.contains(c))
        .map(|c| format!("m.{c} IS o.{c}"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let seqs: Vec<i64> = tx
        .prepare(&format!(
            "SELECT seq FROM orphan.{OUTBOX_TABLE} ORDER BY seq"
        ))?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut insert = tx.prepare(&format!(
        "INSERT INTO main.{OUTBOX_TABLE} ({cols}) SELECT {cols} FROM orphan.{OUTBOX_TABLE} WHERE seq = ?1"
    ))?;
    let mut identical = tx.prepare(&format!(
        "SELECT EXISTS (SELECT 1 FROM main.{OUTBOX_TABLE} m, orphan.{OUTBOX_TABLE} o \
         WHERE o.seq = ?1 AND {same})"
    ))?;
    for seq in seqs {
        match insert.execute([seq]) {
            Ok(_) => counts.outbox_rows += 1,
            Err(e) if is_constraint(&e) => {
                if !identical.query_row([seq], |r| r.get::<_, bool>(0))? {
                    return Err(LogError::Sink(format!(
                        "outbox row {seq} conflicts with a different record of this journal ({e})"
                    )));
                }
                counts.duplicates += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(counts)
}

/// Dead letters are kept for an operator, never shipped: all of them, in their order, under new
/// seqs of this journal.
fn copy_dead_letters(tx: &rusqlite::Transaction<'_>) -> Result<u64, LogError> {
    let cols = DEAD_LETTER_COPY_COLUMNS;
    let n = tx.execute(
        &format!(
            "INSERT INTO main.{DEAD_LETTER_TABLE} ({cols}) \
             SELECT {cols} FROM orphan.{DEAD_LETTER_TABLE} ORDER BY seq"
        ),
        [],
    )?;
    Ok(n as u64)
}

fn db_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{PREFIX}{id}.db"))
}

fn lease_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{PREFIX}{id}.lease"))
}

fn claim_path(dir: &Path, id: &str, by: &str) -> PathBuf {
    dir.join(format!("{PREFIX}{id}.{CLAIMED_BY}{by}"))
}

/// `journal-x.db` + `-wal` = `journal-x.db-wal` (SQLite's own naming).
fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Opens an instance's journal (migrating its schema) with what its segments still held loaded
/// into its outbox: answered records that its loader had not yet put there.
fn open_loaded(db: &Path) -> Result<Connection, LogError> {
    let mut conn = journal::open(db, false)?;
    loader::recover(&mut conn, db, OUTBOX_TABLE)?;
    Ok(conn)
}

/// The database first: a WAL without its database is never read again. The segments last
/// (only called once they are loaded and the rows copied).
fn remove_journal_files(db: &Path) -> io::Result<()> {
    remove_if_exists(db)?;
    remove_if_exists(&sidecar(db, "-wal"))?;
    remove_if_exists(&sidecar(db, "-shm"))?;
    segment::remove_dir(db)
}

fn ms_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn now_ms() -> u64 {
    ms_since_epoch(SystemTime::now())
}

/// Fixed width, so that a rewrite in place never leaves the tail of a longer stamp behind.
fn stamp(ms: u64) -> String {
    format!("{ms:020}\n")
}

/// Rewrites an existing lease in place; `NotFound` when another instance has renamed it.
fn write_stamp(lease: &Path, ms: u64) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).open(lease)?;
    f.write_all(stamp(ms).as_bytes())?;
    f.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Barrier;

    const HOUR: Duration = Duration::from_secs(3600);

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("credit-adopt-{name}-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// The first copy column is the record's unique key (today `request_id`).
    fn key_column() -> &'static str {
        column_list(OUTBOX_COPY_COLUMNS)[0]
    }

    /// Inserts outbox rows whose every column is derived from `tag` and the row number, through
    /// the copy-column list (so the helper follows the schema).
    fn put_outbox(conn: &Connection, tag: &str, n: usize) {
        let cols = column_list(OUTBOX_COPY_COLUMNS);
        let marks = (1..=cols.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>();
        let sql = format!(
            "INSERT INTO {OUTBOX_TABLE} ({OUTBOX_COPY_COLUMNS}) VALUES ({})",
            marks.join(", ")
        );
        for i in 0..n {
            let values: Vec<rusqlite::types::Value> = cols
                .iter()
                .map(|c| {
                    if BOOKKEEPING.contains(c) {
                        rusqlite::types::Value::Integer(0)
                    } else {
                        rusqlite::types::Value::Text(format!("{tag}-{i}-{c}"))
                    }
                })
                .collect();
            conn.execute(&sql, rusqlite::params_from_iter(values))
                .unwrap();
        }
    }

    fn put_dead_letters(conn: &Connection, tag: &str, n: usize) {
        let cols = column_list(DEAD_LETTER_COPY_COLUMNS);
        let marks = (1..=cols.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>();
        let sql = format!(
            "INSERT INTO {DEAD_LETTER_TABLE} ({DEAD_LETTER_COPY_COLUMNS}) VALUES ({})",
            marks.join(", ")
        );
        for i in 0..n {
            let values: Vec<String> = cols.iter().map(|c| format!("{tag}-{i}-{c}")).collect();
            conn.execute(&sql, rusqlite::params_from_iter(values))
                .unwrap();
        }
    }

    fn keys(conn: &Connection, table: &str, col: &str) -> Vec<String> {
        conn.prepare(&format!("SELECT {col} FROM {table} ORDER BY {col}"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The files of a journal of a dead instance `id`: `n` outbox rows, `m` dead letters, and a
    /// lease stamped `age` ago.
    fn orphan(dir: &Path, id: &str, n: usize, m: usize, age: Duration) {
        let conn = journal::open(&db_path(dir, id), false).unwrap();
        put_outbox(&conn, id, n);
        put_dead_letters(&conn, id, m);
        drop(conn);
        fs::write(
            lease_path(dir, id),
            stamp(now_ms() - age.as_millis() as u64),
        )
        .unwrap();
    }

    fn files(dir: &Path, id: &str) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(id))
            .collect();
        v.sort();
        v
    }

    fn instance(dir: &Path) -> (Lease, Connection) {
        let (path, lease) = instance_journal(dir).unwrap();
        let conn = journal::open(&path, false).unwrap();
        (lease, conn)
    }

    #[test]
    fn racing_adopters_take_each_stale_journal_exactly_once() {
        for round in 0..4 {
            let tmp = TempDir::new("race");
            let ids: Vec<String> = (0..3)
                .map(|i| format!("0000000{round}-0000-0000-0000-00000000000{i}"))
                .collect();
            for id in &ids {
                orphan(&tmp.0, id, 40, 3, HOUR);
            }
            let barrier = Arc::new(Barrier::new(2));
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let dir = tmp.0.clone();
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        let (lease, mut conn) = instance(&dir);
                        barrier.wait();
                        let report = adopt_stale(&lease, &mut conn, DEFAULT_STALE_AFTER).unwrap();
                        assert!(report.failed.is_empty(), "{:?}", report.failed);
                        let outbox = keys(&conn, OUTBOX_TABLE, key_column());
                        let dead = keys(&conn, DEAD_LETTER_TABLE, "request_id");
                        (report, outbox, dead, lease)
                    })
                })
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            let journals: usize = results.iter().map(|r| r.0.journals).sum();
            assert_eq!(journals, 3, "round {round}");
            let outbox: Vec<&String> = results.iter().flat_map(|r| &r.1).collect();
            let unique: BTreeSet<&String> = outbox.iter().copied().collect();
            assert_eq!(outbox.len(), 120, "every row once in total");
            assert_eq!(unique.len(), 120);
            let reported: u64 = results.iter().map(|r| r.0.outbox_rows).sum();
            assert_eq!(reported, 120);
            let bytes: i64 = results.iter().map(|r| r.0.bytes).sum();
            let held: i64 = results
                .iter()
                .map(|r| {
                    let conn = journal::open(r.3.journal_path(), false).unwrap();
                    journal::held(&conn).unwrap().2
                })
                .sum();
            assert_eq!(
                bytes, held,
                "the reported bytes are what the journals now hold"
            );
            let dead: usize = results.iter().map(|r| r.2.len()).sum();
            assert_eq!(dead, 9);
            for id in &ids {
                assert!(files(&tmp.0, id).is_empty(), "{:?}", files(&tmp.0, id));
            }
        }
    }

    #[test]
    fn a_fresh_lease_is_left_alone() {
        let tmp = TempDir::new("fresh");
        let id = "00000000-0000-0000-0000-0000000000aa";
        orphan(&tmp.0, id, 5, 1, Duration::ZERO);
        let (lease, mut conn) = instance(&tmp.0);
        let report = adopt_stale(&lease, &mut conn, DEFAULT_STALE_AFTER).unwrap();
        assert_eq!(report.journals, 0);
        assert!(keys(&conn, OUTBOX_TABLE, key_column()).is_empty());
        assert_eq!(
            files(&tmp.0, id),
            vec![format!("journal-{id}.db"), format!("journal-{id}.lease")]
        );
        // Its own journal is never an orphan, even with a stale-looking lease.
        put_outbox(&conn, "own", 2);
        write_stamp(&lease.shared.lease, 0).unwrap();
        let report = adopt_stale(&lease, &mut conn, DEFAULT_STALE_AFTER).unwrap();
        assert_eq!(report.journals, 0);
        assert!(lease.journal_path().exists());
        assert_eq!(keys(&conn, OUTBOX_TABLE, key_column()).len(), 2);
    }

    #[test]
    fn an_orphan_of_the_version_1_schema_is_migrated_and_adopted() {
        // The tables exactly as the release before decision ids wrote them, frozen here: a
        // journal left by an instance of that release must be adopted by this one.
        let tmp = TempDir::new("schema");
        let id = "00000000-0000-0000-0000-0000000000bb";
        let conn = Connection::open(db_path(&tmp.0, id)).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE predictions (
                request_id TEXT PRIMARY KEY, ts TEXT, model_version TEXT, input TEXT,
                probability REAL, prediction INTEGER, score REAL, reasons TEXT, latency_us INTEGER);
             CREATE TABLE outbox (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL UNIQUE, ts TEXT,
                model_version TEXT, input TEXT, probability REAL, prediction INTEGER, score REAL,
                reasons TEXT, latency_us INTEGER, attempts INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE dead_letter (
                seq INTEGER PRIMARY KEY, request_id TEXT, record TEXT, error TEXT, failed_at TEXT);
             INSERT INTO outbox (request_id, ts, model_version, input, probability, prediction,
                                 score, reasons, latency_us, attempts)
               VALUES ('r-1', '2024-05-01T10:00:00.000000Z', '1.0.0', '{\"age\":45}', 0.25, 0,
                       600.5, '[\"R04\"]', 42, 3),
                      ('r-2', '2024-05-01T10:00:01.000000Z', '1.0.0', '{\"age\":46}', 0.75, 1,
                       500.5, '[\"R01\"]', 43, 0);
             INSERT INTO dead_letter (seq, request_id, record, error, failed_at)
               VALUES (7, 'r-0', '{\"request_id\":\"r-0\"}', 'invalid', '2024-05-01T10:00:02Z');",
        )
        .unwrap();
        drop(conn);
        fs::write(lease_path(&tmp.0, id), stamp(1)).unwrap();
        let (lease, mut conn) = instance(&tmp.0);
        let report = adopt_stale(&lease, &mut conn, DEFAULT_STALE_AFTER).unwrap();
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        assert_eq!(
            (report.journals, report.outbox_rows, report.dead_letters),
            (1, 2, 1)
        );
        assert_eq!(keys(&conn, OUTBOX_TABLE, "request_id"), vec!["r-1", "r-2"]);
        let (p, score, attempts): (f64, f64, i64) = conn
            .query_row(
                "SELECT probability, score, attempts FROM outbox WHERE request_id = 'r-1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((p, score, attempts), (0.25, 600.5, 3));
        assert_eq!(keys(&conn, DEAD_LETTER_TABLE, "request_id"), vec!["r-0"]);
        assert!(files(&tmp.0, id).is_empty());
    }

    #[test]
    fn rows_only_in_the_wal_of_a_killed_instance_are_adopted() {
        let tmp = TempDir::new("wal");
        let live = "00000000-0000-0000-0000-0000000000c0";
        let dead = "00000000-0000-0000-0000-0000000000c1";
        let conn = journal::open(&db_path(&tmp.0, live), false).unwrap();
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0").unwrap();
        put_outbox(&conn, "w", 25);
        assert!(
            fs::metadata(sidecar(&db_path(&tmp.0, live), "-wal"))
                .unwrap()
                .len()
                > 0
        );
        // What kill -9 leaves: the database file and a WAL holding the committed rows.
        fs::copy(db_path(&tmp.0, live), db_path(&tmp.0, dead)).unwrap();
        fs::copy(
            sidecar(&db_path(&tmp.0, live), "-wal"),
            sidecar(&db_path(&tmp.0, dead), "-wal"),
        )
        .unwrap();
        drop(conn);
        remove_journal_files(&db_path(&tmp.0, live)).unwrap();
        fs::write(lease_path(&tmp.0, dead), stamp(0)).unwrap();
        let (lease, mut own) = instance(&tmp.0);
        let report = adopt_stale(&lease, &mut own, DEFAULT_STALE_AFTER).unwrap();
        assert_eq!((report.journals, report.outbox_rows), (1, 25));
        assert!(files(&tmp.0, dead).is_empty());
    }

    #[test]
    fn the_claim_of_a_dead_adopter_is_taken_over_that_of_a_live_one_is_not() {
        let tmp = TempDir::new("claims");
        let orphaned = "00000000-0000-0000-0000-0000000000d0";
        let dead_adopter = "00000000-0000-0000-0000-0000000000d1";
        let busy = "00000000-0000-0000-0000-0000000000d2";
        let live_adopter = "00000000-0000-0000-0000-0000000000d3";
        orphan(&tmp.0, orphaned, 4, 0, HOUR);
        fs::rename(
            lease_path(&tmp.0, orphaned),
            claim_path(&tmp.0, orphaned, dead_adopter),
        )
        .unwrap();
        orphan(&tmp.0, busy, 4, 0, HOUR);
        fs::rename(
            lease_path(&tmp.0, busy),
            claim_path(&tmp.0, busy, live_adopter),
        )
        .unwrap();
        fs::write(lease_path(&tmp.0, live_adopter), stamp(now_ms())).unwrap();
        let (lease, mut own) = instance(&tmp.0);
        let report = adopt_stale(&lease, &mut own, DEFAULT_STALE_AFTER).unwrap();
        assert_eq!((report.journals, report.outbox_rows), (1, 4));
        assert!(files(&tmp.0, orphaned).is_empty());
        assert_eq!(files(&tmp.0, busy).len(), 2, "{:?}", files(&tmp.0, busy));
    }

    #[test]
    fn a_journal_without_lease_is_adopted_once_it_is_quiet() {
        let tmp = TempDir::new("leaseless");
        let id = "00000000-0000-0000-0000-0000000000e0";
        orphan(&tmp.0, id, 3, 0, HOUR);
        fs::remove_file(lease_path(&tmp.0, id)).unwrap();
        let (lease, mut own) = instance(&tmp.0);
        let report = adopt_stale(&lease, &mut own, DEFAULT_STALE_AFTER).unwrap();
        assert_eq!(report.journals, 0, "written just now: maybe still in use");
        let old = SystemTime::now() - HOUR;
        fs::File::options()
            .write(true)
            .open(db_path(&tmp.0, id))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let report = adopt_stale(&lease, &mut own, DEFAULT_STALE_AFTER).unwrap();
        assert_eq!((report.journals, report.outbox_rows), (1, 3));
        assert!(files(&tmp.0, id).is_empty());
    }

    #[test]
    fn a_column_the_copy_does_not_know_stops_the_adoption_and_keeps_the_orphan() {
        let tmp = TempDir::new("columns");
        let id = "00000000-0000-0000-0000-0000000000f0";
        orphan(&tmp.0, id, 3, 1, HOUR);
        let (lease, mut own) = instance(&tmp.0);
        own.execute_batch("ALTER TABLE outbox ADD COLUMN shiny TEXT")
            .unwrap();
        let report = adopt_stale(&lease, &mut own, DEFAULT_STALE_AFTER).unwrap();
        assert_eq!(report.journals, 0);
        assert_eq!(report.failed.len(), 1);
        assert!(report.failed[0].contains("shiny"), "{:?}", report.failed);
        assert!(keys(&own, OUTBOX_TABLE, key_column()).is_empty());
        // Given back as a stale lease, for the next round.
        assert_eq!(
            files(&tmp.0, id),
            vec![format!("journal-{id}.db"), format!("journal-{id}.lease")]
        );
    }

    #[test]
    fn a_record_already_here_is_not_copied_twice() {
        let tmp = TempDir::new("dups");
        let id = "00000000-0000-0000-0000-000000000100";
        orphan(&tmp.0, id, 3, 0, HOUR);
        let (lease, mut own) = instance(&tmp.0);
        // Row 0 is already here (an earlier adopter copied it and died before deleting the
        // orphan), with other shipping bookkeeping.
        put_outbox(&own, id, 1);
        own.execute("UPDATE outbox SET attempts = 5", []).unwrap();
        let report = adopt_stale(&lease, &mut own, DEFAULT_STALE_AFTER).unwrap();
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        assert_eq!(
            (report.journals, report.outbox_rows, report.duplicates),
            (1, 2, 1)
        );
        assert_eq!(keys(&own, OUTBOX_TABLE, key_column()).len(), 3);
        assert!(files(&tmp.0, id).is_empty());
    }

    #[test]
    fn a_different_record_under_a_known_key_stops_the_adoption() {
        let tmp = TempDir::new("conflict");
        let id = "00000000-0000-0000-0000-000000000101";
        orphan(&tmp.0, id, 3, 0, HOUR);
        let (lease, mut own) = instance(&tmp.0);
        put_outbox(&own, id, 2);
        own.execute(
            &format!(
                "UPDATE outbox SET ts = 'something else' WHERE {} LIKE '%-1-%'",
                key_column()
            ),
            [],
        )
        .unwrap();
        let report = adopt_stale(&lease, &mut own, DEFAULT_STALE_AFTER).unwrap();
        assert_eq!(report.journals, 0);
        assert!(
            report.failed[0].contains("conflicts"),
            "{:?}",
            report.failed
        );
        // Nothing half-copied; the orphan is intact and stale, for a later round.
        assert_eq!(keys(&own, OUTBOX_TABLE, key_column()).len(), 2);
        assert_eq!(
            files(&tmp.0, id),
            vec![format!("journal-{id}.db"), format!("journal-{id}.lease")]
        );
    }

    #[test]
    fn finish_removes_an_empty_journal_and_releases_one_with_rows() {
        let tmp = TempDir::new("finish");
        let (lease, conn) = instance(&tmp.0);
        let id = lease.id().to_owned();
        drop(conn);
        assert_eq!(lease.finish().unwrap(), LeaseEnd::Removed);
        assert!(files(&tmp.0, &id).is_empty());

        let (lease, conn) = instance(&tmp.0);
        let id = lease.id().to_owned();
        put_outbox(&conn, "left", 7);
        drop(conn);
        assert_eq!(lease.finish().unwrap(), LeaseEnd::Released { rows: 7 });
        // Released: adopted at once, without waiting for the stale limit.
        let (other, mut own) = instance(&tmp.0);
        let report = adopt_stale(&other, &mut own, DEFAULT_STALE_AFTER).unwrap();
        assert_eq!((report.journals, report.outbox_rows), (1, 7));
        assert!(files(&tmp.0, &id).is_empty());
    }

    #[test]
    fn the_adopter_thread_adopts_in_rounds_and_reports() {
        let tmp = TempDir::new("rounds");
        let (path, lease) = instance_journal(&tmp.0).unwrap();
        let (tx, rx) = mpsc::channel::<(usize, u64, u64)>();
        let adopter = Adopter::spawn(
            &lease,
            false,
            DEFAULT_STALE_AFTER,
            Duration::from_millis(20),
            Box::new(move |r| {
                let _ = tx.send((r.journals, r.outbox_rows, r.dead_letters));
            }),
        )
        .unwrap();
        // An instance dies while this one runs.
        let id = "00000000-0000-0000-0000-000000000400";
        orphan(&tmp.0, id, 6, 2, HOUR);
        let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(got, (1, 6, 2));
        adopter.finish();
        let conn = journal::open(&path, false).unwrap();
        assert_eq!(keys(&conn, OUTBOX_TABLE, key_column()).len(), 6);
        assert!(files(&tmp.0, id).is_empty());
    }

    #[test]
    fn the_owner_notices_when_its_lease_is_taken() {
        let tmp = TempDir::new("lost");
        let (path, lease) = start_lease(&tmp.0, Duration::from_millis(10)).unwrap();
        let watch = lease.watch();
        drop(journal::open(&path, false).unwrap());
        let before = fs::read_to_string(&lease.shared.lease).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_ne!(
            fs::read_to_string(&lease.shared.lease).unwrap(),
            before,
            "renewed"
        );
        fs::rename(
            &lease.shared.lease,
            claim_path(&tmp.0, lease.id(), "00000000-0000-0000-0000-000000000300"),
        )
        .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !lease.is_lost() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(lease.is_lost() && watch.is_lost());
        assert_eq!(lease.finish().unwrap(), LeaseEnd::Lost);
        assert!(path.exists(), "a lost journal is the adopter's to delete");
    }
}
