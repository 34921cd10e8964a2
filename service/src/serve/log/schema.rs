//! The journal's tables, and the migration of journals written by earlier versions.
//!
//! `PRAGMA user_version` holds the schema version. Version 1 (no `user_version`) keyed records
//! by the caller's request id; version 2 keys them by a server-generated UUIDv7 `decision_id`
//! and keeps the caller's ids as plain correlation columns (`request_id`, `trace_id`), so a
//! reused caller id is an ordinary request. A journal of an earlier version is migrated in one
//! transaction when it is opened: nothing is lost, and its records get decision ids whose time
//! part is the record's own `ts`. Version 3 adds `segment_progress`, how far the loader has put
//! the segment journal's records into the tables: an older build refuses such a journal (newer
//! version) instead of opening it and never loading what its segments still hold.

use super::LogError;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// The schema this build writes.
pub const SCHEMA_VERSION: i64 = 3;
/// The final table of the embedded `sqlite://` sink (the contract's schema).
pub const PREDICTIONS_TABLE: &str = "predictions";
/// Records waiting for a remote sink.
pub const OUTBOX_TABLE: &str = "outbox";
/// Records a sink refused for good, with the reason.
pub const DEAD_LETTER_TABLE: &str = "dead_letter";
/// The columns of one record, in insert order (both `predictions` and `outbox`).
pub const RECORD_COLUMNS: &str = "decision_id, request_id, trace_id, ts, model_version, input, \
     probability, prediction, score, reasons, latency_us";
/// Every outbox column but `seq`: what a copy of rows between journals must carry (the adoption
/// of an orphaned journal). One constant, so a new column cannot be dropped by a copy.
pub const OUTBOX_COPY_COLUMNS: &str = "decision_id, request_id, trace_id, ts, model_version, \
     input, probability, prediction, score, reasons, latency_us, attempts, last_error";
/// Every dead-letter column but `seq`.
pub const DEAD_LETTER_COPY_COLUMNS: &str = "decision_id, request_id, trace_id, ts, \
     model_version, input, probability, prediction, score, reasons, latency_us, attempts, error, \
     failed_at";

const RECORD_DDL: &str = "request_id TEXT, trace_id TEXT, ts TEXT, model_version TEXT, \
     input TEXT /*JSON*/, probability REAL, prediction INTEGER, score REAL, \
     reasons TEXT /*JSON array*/, latency_us INTEGER";

fn predictions_ddl() -> String {
    format!("CREATE TABLE IF NOT EXISTS {PREDICTIONS_TABLE} (decision_id TEXT PRIMARY KEY, {RECORD_DDL})")
}

fn outbox_ddl() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {OUTBOX_TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
         decision_id TEXT NOT NULL UNIQUE, {RECORD_DDL}, \
         attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT)"
    )
}

/// The dead letters keep the outbox's columns, so that an operator can put them back with one
/// `INSERT INTO outbox (...) SELECT ... FROM dead_letter` once the sink is fixed.
fn dead_letter_ddl() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {DEAD_LETTER_TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
         decision_id TEXT, {RECORD_DDL}, attempts INTEGER, error TEXT, failed_at TEXT)"
    )
}

/// One row: the segment and the offset in it up to which the loader has loaded everything
/// (written in the same transaction as the rows; see `loader.rs`).
const PROGRESS_DDL: &str = "CREATE TABLE IF NOT EXISTS segment_progress (\
     id INTEGER PRIMARY KEY CHECK (id = 1), segment INTEGER NOT NULL, offset INTEGER NOT NULL)";
/// One row, rewritten by `/ready`'s write check.
const HEALTH_DDL: &str =
    "CREATE TABLE IF NOT EXISTS health (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at TEXT)";

/// Creates the tables, or migrates those of an earlier version, in one write transaction (so
/// that the writer, the shipper and the checkpointer opening the same file at once agree).
pub fn ensure(conn: &mut Connection) -> Result<(), LogError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    if version > SCHEMA_VERSION {
        return Err(LogError::Sink(format!(
            "the journal has schema version {version}; this build reads up to {SCHEMA_VERSION} \
             (it was written by a newer credit)"
        )));
    }
    register_uuid7(conn)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another connection may have finished the job while this one waited for the lock.
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < SCHEMA_VERSION {
        let migrated = migrate_v1(&tx)?;
        tx.execute_batch(&format!(
            "{}; {}; {}; {HEALTH_DDL}; {PROGRESS_DDL}; PRAGMA user_version = {SCHEMA_VERSION};",
            predictions_ddl(),
            outbox_ddl(),
            dead_letter_ddl()
        ))?;
        if migrated > 0 {
            tracing::info!(
                records = migrated,
                "journal migrated to schema version {SCHEMA_VERSION} (decision ids)"
            );
        }
    }
    tx.commit()?;
    Ok(())
}

/// `credit_uuid7(ms)`: a UUIDv7 whose time part is `ms` since the Unix epoch (now when NULL).
fn register_uuid7(conn: &Connection) -> Result<(), LogError> {
    conn.create_scalar_function("credit_uuid7", 1, FunctionFlags::SQLITE_UTF8, |ctx| {
        let ms: Option<i64> = ctx.get(0)?;
        let id = match ms.and_then(|ms| u64::try_from(ms).ok()) {
            Some(ms) => uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
                uuid::NoContext,
                ms / 1000,
                ((ms % 1000) * 1_000_000) as u32,
            )),
            None => uuid::Uuid::now_v7(),
        };
        Ok(id.hyphenated().to_string())
    })?;
    Ok(())
}

fn columns(tx: &Connection, table: &str) -> Result<Vec<String>, rusqlite::Error> {
    let mut stmt = tx.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = stmt.query_map([], |r| r.get::<_, String>(1))?;
    names.collect()
}

/// Rewrites the version-1 tables present in the file (caller ids as keys); returns the
/// number of records that were carried over.
fn migrate_v1(tx: &Connection) -> Result<u64, rusqlite::Error> {
    let mut moved = 0u64;
    let uuid_of_ts = "credit_uuid7(CAST(unixepoch(ts, 'subsec') * 1000 AS INTEGER))";
    let old_record = "request_id, NULL, ts, model_version, input, probability, prediction, \
                      score, reasons, latency_us";
    let cols = columns(tx, PREDICTIONS_TABLE)?;
    if !cols.is_empty() && !cols.iter().any(|c| c == "decision_id") {
        tx.execute_batch(&format!(
            "ALTER TABLE {PREDICTIONS_TABLE} RENAME TO predictions_v1; {}; \
             INSERT INTO {PREDICTIONS_TABLE} ({RECORD_COLUMNS}) \
               SELECT {uuid_of_ts}, {old_record} FROM predictions_v1 ORDER BY ts, rowid; \
             DROP TABLE predictions_v1;",
            predictions_ddl()
        ))?;
        moved += tx.changes();
    }
    let cols = columns(tx, OUTBOX_TABLE)?;
    if !cols.is_empty() && !cols.iter().any(|c| c == "decision_id") {
        tx.execute_batch(&format!(
            "ALTER TABLE {OUTBOX_TABLE} RENAME TO outbox_v1; {}; \
             INSERT INTO {OUTBOX_TABLE} (seq, {RECORD_COLUMNS}, attempts) \
               SELECT seq, {uuid_of_ts}, {old_record}, attempts FROM outbox_v1 ORDER BY seq; \
             DROP TABLE outbox_v1;",
            outbox_ddl()
        ))?;
        moved += tx.changes();
        // AUTOINCREMENT remembers the highest seq ever used under the old name.
        let _ = tx
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'outbox_v1'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(|s| {
                tx.execute(
                    "UPDATE sqlite_sequence SET seq = max(seq, ?1) WHERE name = 'outbox'",
                    [s],
                )
            })
            .transpose()?;
    }
    let cols = columns(tx, DEAD_LETTER_TABLE)?;
    if !cols.is_empty() && !cols.iter().any(|c| c == "decision_id") {
        tx.execute_batch(&format!(
            "ALTER TABLE {DEAD_LETTER_TABLE} RENAME TO dead_letter_v1; {}; \
             INSERT INTO {DEAD_LETTER_TABLE} (seq, {DEAD_LETTER_COPY_COLUMNS}) \
               SELECT seq, credit_uuid7(CAST(unixepoch(json_extract(record, '$.ts'), 'subsec') * 1000 AS INTEGER)), \
                 request_id, NULL, json_extract(record, '$.ts'), json_extract(record, '$.model_version'), \
                 json_extract(record, '$.input'), json_extract(record, '$.probability'), \
                 json_extract(record, '$.prediction'), json_extract(record, '$.score'), \
                 json_extract(record, '$.reasons'), json_extract(record, '$.latency_us'), \
                 NULL, error, failed_at FROM dead_letter_v1; \
             DROP TABLE dead_letter_v1;",
            dead_letter_ddl()
        ))?;
    }
    Ok(moved)
}
