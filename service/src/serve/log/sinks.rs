//! Remote sinks behind the journal: JSON lines and BigQuery streaming inserts.

use super::bigquery::{
    self, CallError, Credentials, InsertAllRequest, InsertAllResponse, InsertRow,
};
use super::journal::OutboxRow;
use super::LogError;
use crate::serve::config::LogTarget;
use async_trait::async_trait;
use std::io::Write as _;
use std::path::PathBuf;

/// What the sink did with a batch.
#[derive(Debug, Default)]
pub struct ShipOutcome {
    /// Confirmed: delete from the journal.
    pub shipped: Vec<i64>,
    /// Refused as invalid (retrying cannot help): move to `dead_letter`.
    pub refused: Vec<(i64, String)>,
    /// Not stored this time (e.g. BigQuery stopped the request because of another row).
    pub retry: Vec<i64>,
}

/// Why a whole batch was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipError {
    pub message: String,
    /// Retrying the same request cannot succeed until someone changes something (a missing
    /// table, a missing permission, a path that is a directory): an HTTP 4xx other than 408 and
    /// 429. Such rows become dead letters after `Limits::dead_letter_after` attempts; transient
    /// errors (network, 5xx, 408, 429) are retried for as long as the outbox has room.
    pub permanent: bool,
}

impl ShipError {
    pub fn transient(message: impl Into<String>) -> ShipError {
        ShipError {
            message: message.into(),
            permanent: false,
        }
    }

    pub fn permanent(message: impl Into<String>) -> ShipError {
        ShipError {
            message: message.into(),
            permanent: true,
        }
    }

    /// By HTTP status: 4xx is permanent except 408 (timeout) and 429 (rate limit).
    pub fn from_status(status: i64, message: impl Into<String>) -> ShipError {
        let permanent = (400..500).contains(&status) && status != 408 && status != 429;
        ShipError {
            message: message.into(),
            permanent,
        }
    }
}

/// A place records are shipped to. `Err` means nothing was confirmed.
#[async_trait]
pub trait RemoteSink: Send {
    fn name(&self) -> &'static str;
    async fn ship(&mut self, rows: &[OutboxRow]) -> Result<ShipOutcome, ShipError>;
}

/// Builds the sink of a remote target.
pub fn build(target: &LogTarget) -> Result<Box<dyn RemoteSink>, LogError> {
    match target {
        LogTarget::Jsonl { path, .. } => {
            if let Some(dir) = path.parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)?;
                }
            }
            Ok(Box::new(JsonlSink {
                path: path.clone(),
                recent: None,
            }))
        }
        LogTarget::BigQuery {
            project,
            dataset,
            table,
            api_base,
            ..
        } => Ok(Box::new(BigQuerySink {
            project: project.clone(),
            dataset: dataset.clone(),
            table: table.clone(),
            api_base: api_base.clone(),
            client: None,
        })),
        LogTarget::Sqlite { .. } => Err(LogError::Sink(
            "the sqlite sink has no shipper (the journal is the log)".into(),
        )),
    }
}

/// Appends one JSON object per line, fsyncs, then confirms: each answered decision appears
/// once. A `kill -9` between the fsync and the journal's delete leaves rows that are in the file
/// and still in the outbox, and one in the middle of a write leaves a torn last line; so before
/// its first write after a start, the sink truncates a torn line and reads the decision ids at
/// the end of the file, and skips (confirms without writing) outbox rows already there.
pub struct JsonlSink {
    path: PathBuf,
    /// Decision ids found at the end of the file at start; `None` until it was read, emptied
    /// once a batch finds none of them (only the first batches after a crash can hold them).
    recent: Option<std::collections::HashSet<String>>,
}

/// How much of the end of the file is read at start: more than one shipping batch (500 rows of
/// under 1 KiB each) could have written.
const JSONL_TAIL: u64 = 2 * 1024 * 1024;

/// Cuts a torn last line (a write interrupted by a crash: never confirmed, so still in the
/// outbox) and returns the decision ids of the complete lines at the end of the file.
pub fn jsonl_tail(path: &std::path::Path) -> std::io::Result<std::collections::HashSet<String>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut ids = std::collections::HashSet::new();
    let mut f = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    let start = len.saturating_sub(JSONL_TAIL);
    f.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::with_capacity((len - start) as usize);
    f.read_to_end(&mut tail)?;
    let complete = tail.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if complete < tail.len() && (complete > 0 || start == 0) {
        tracing::warn!(path = %path.display(), bytes = tail.len() - complete, "removing a torn last line left by a crash (its records are still in the outbox)");
        f.set_len(start + complete as u64)?;
        f.sync_data()?;
    }
    #[derive(serde::Deserialize)]
    struct Id {
        decision_id: Option<String>,
    }
    // The first line of a window that does not start the file may be partial: skip it.
    let lines = tail[..complete]
        .split(|&b| b == b'\n')
        .skip(usize::from(start > 0));
    for line in lines.filter(|l| !l.is_empty()) {
        if let Ok(Id {
            decision_id: Some(id),
        }) = serde_json::from_slice(line)
        {
            ids.insert(id);
        }
    }
    Ok(ids)
}

impl JsonlSink {
    fn io_error(&self, e: &std::io::Error) -> ShipError {
        // A path that is a directory, or that we may not write, stays so until someone acts:
        // permanent. A full disk or an I/O hiccup may pass: transient.
        let permanent = matches!(
            e.kind(),
            std::io::ErrorKind::PermissionDenied
                | std::io::ErrorKind::IsADirectory
                | std::io::ErrorKind::ReadOnlyFilesystem
                | std::io::ErrorKind::NotADirectory
        );
        ShipError {
            message: format!("{}: {e}", self.path.display()),
            permanent,
        }
    }
}

#[async_trait]
impl RemoteSink for JsonlSink {
    fn name(&self) -> &'static str {
        "jsonl"
    }

    async fn ship(&mut self, rows: &[OutboxRow]) -> Result<ShipOutcome, ShipError> {
        if self.recent.is_none() {
            self.recent = Some(jsonl_tail(&self.path).map_err(|e| self.io_error(&e))?);
        }
        let recent = self.recent.get_or_insert_with(Default::default);
        let mut buf = Vec::with_capacity(rows.len() * 512);
        let mut skipped = 0usize;
        for r in rows {
            if recent.contains(&r.decision_id) {
                skipped += 1;
                continue;
            }
            serde_json::to_writer(&mut buf, &r.to_json())
                .map_err(|e| ShipError::transient(e.to_string()))?;
            buf.push(b'\n');
        }
        if skipped > 0 {
            tracing::info!(
                rows = skipped,
                "records already in the file before a crash; not written again"
            );
        } else {
            recent.clear();
        }
        if !buf.is_empty() {
            let path = self.path.clone();
            let write = move || -> std::io::Result<()> {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)?;
                f.write_all(&buf)?;
                f.sync_data()
            };
            write().map_err(|e| self.io_error(&e))?;
        }
        Ok(ShipOutcome {
            shipped: rows.iter().map(|r| r.seq).collect(),
            ..ShipOutcome::default()
        })
    }
}

/// BigQuery streaming inserts (`tabledata.insertAll`) with `insertId` = decision id, so that a
/// retried batch is de-duplicated by BigQuery and two decisions are never taken for one (a
/// caller's request id can repeat; a decision id cannot).
pub struct BigQuerySink {
    project: String,
    dataset: String,
    table: String,
    /// `BIGQUERY_API_BASE`: an emulator's `.../bigquery/v2` base (dummy token); `None` means
    /// Google's endpoint with Application Default Credentials (Cloud Run's metadata server,
    /// `GOOGLE_APPLICATION_CREDENTIALS` service-account file, or gcloud user credentials).
    api_base: Option<String>,
    client: Option<bigquery::Client>,
}

/// The v2 base URL from `BIGQUERY_API_BASE`, accepting `http://host:port`,
/// `http://host:port/bigquery/v2` and `.../bigquery/v2/projects/P`.
pub fn v2_base(api_base: &str) -> String {
    let b = api_base.trim_end_matches('/');
    let b = match b.find("/projects/") {
        Some(i) => &b[..i],
        None => b,
    };
    if b.ends_with("/bigquery/v2") {
        b.to_owned()
    } else {
        format!("{b}/bigquery/v2")
    }
}

/// The insertAll request for a batch of outbox rows (`insertId` = decision id).
pub fn insert_all_request(rows: &[OutboxRow]) -> InsertAllRequest {
    InsertAllRequest {
        skip_invalid_rows: false,
        ignore_unknown_values: false,
        rows: rows
            .iter()
            .map(|r| InsertRow {
                insert_id: r.decision_id.clone(),
                json: r.to_json(),
            })
            .collect(),
    }
}

/// Splits an insertAll answer into confirmed, refused (`invalid`) and to-retry rows.
pub fn classify_response(rows: &[OutboxRow], resp: &InsertAllResponse) -> ShipOutcome {
    let mut out = ShipOutcome::default();
    for (i, r) in rows.iter().enumerate() {
        let errs: Vec<_> = resp
            .insert_errors
            .iter()
            .filter(|e| e.index.and_then(|x| usize::try_from(x).ok()) == Some(i))
            .flat_map(|e| e.errors.iter().cloned())
            .collect();
        if errs.is_empty() {
            out.shipped.push(r.seq);
        } else if errs.iter().any(|e| e.reason.as_deref() == Some("invalid")) {
            let why = errs
                .iter()
                .map(|e| {
                    format!(
                        "{}: {}",
                        e.reason.as_deref().unwrap_or("error"),
                        e.message.as_deref().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            out.refused.push((r.seq, why));
        } else {
            out.retry.push(r.seq);
        }
    }
    out
}

/// An HTTP error by its code (4xx other than 408/429 is permanent); anything else (network, an
/// answer that is not BigQuery's, no token) is transient.
pub fn classify_error(what: &str, e: CallError) -> ShipError {
    match e {
        CallError::Status { code, detail } => {
            ShipError::from_status(code, format!("{what}: HTTP {code} {detail}"))
        }
        CallError::Transport(msg) => ShipError::transient(format!("{what}: {msg}")),
    }
}

impl BigQuerySink {
    async fn client(&mut self) -> Result<&bigquery::Client, ShipError> {
        if self.client.is_none() {
            let (base, credentials) = match &self.api_base {
                Some(base) => (v2_base(base), Credentials::Emulator),
                None => (
                    bigquery::GOOGLE_V2_BASE.to_owned(),
                    Credentials::Adc {
                        file: bigquery::adc_file(),
                        metadata_url: None,
                    },
                ),
            };
            let client = bigquery::Client::new(base, credentials)
                .await
                .map_err(|e| ShipError::transient(format!("BigQuery client: {e}")))?;
            self.client = Some(client);
        }
        self.client
            .as_ref()
            .ok_or_else(|| ShipError::transient("BigQuery client unavailable"))
    }
}

#[async_trait]
impl RemoteSink for BigQuerySink {
    fn name(&self) -> &'static str {
        "bigquery"
    }

    async fn ship(&mut self, rows: &[OutboxRow]) -> Result<ShipOutcome, ShipError> {
        let req = insert_all_request(rows);
        let (project, dataset, table) = (
            self.project.clone(),
            self.dataset.clone(),
            self.table.clone(),
        );
        let client = self.client().await?;
        let resp = client
            .insert_all(&project, &dataset, &table, &req)
            .await
            .map_err(|e| classify_error(&format!("insertAll {project}.{dataset}.{table}"), e))?;
        Ok(classify_response(rows, &resp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn row(seq: i64) -> OutboxRow {
        OutboxRow {
            seq,
            decision_id: format!("0190a8e2-0000-7000-8000-{seq:012}"),
            request_id: format!("req-{seq}"),
            trace_id: None,
            attempts: 0,
            ts: "2026-01-02T03:04:05.123456Z".into(),
            model_version: "1.0.0".into(),
            input: r#"{"RevolvingUtilizationOfUnsecuredLines":0.5,"age":45,"NumberOfTime30_59DaysPastDueNotWorse":0,"DebtRatio":0.3,"MonthlyIncome":null,"NumberOfOpenCreditLinesAndLoans":5,"NumberOfTimes90DaysLate":0,"NumberRealEstateLoansOrLines":1,"NumberOfTime60_89DaysPastDueNotWorse":0,"NumberOfDependents":null}"#.into(),
            probability: 0.1,
            prediction: 0,
            score: 612.25,
            reasons: r#"["R01","R05"]"#.into(),
            latency_us: 120,
        }
    }

    /// The body must follow BigQuery's documented `tabledata.insertAll` request: top-level
    /// `rows` (array of `{insertId: string, json: object}`), `skipInvalidRows`,
    /// `ignoreUnknownValues` booleans and nothing unknown; each row's `json` must match the
    /// shipped table schema (deploy/bigquery/predictions.schema.json): names, types, modes.
    #[test]
    fn insert_all_body_matches_bigquery_documented_format() {
        let req = insert_all_request(&[row(1), row(2)]);
        let body = serde_json::to_value(&req).unwrap();
        let obj = body.as_object().unwrap();
        for k in obj.keys() {
            assert!(
                [
                    "kind",
                    "skipInvalidRows",
                    "ignoreUnknownValues",
                    "templateSuffix",
                    "rows",
                    "traceId"
                ]
                .contains(&k.as_str()),
                "unknown top-level key {k}"
            );
        }
        assert_eq!(obj["skipInvalidRows"], Value::Bool(false));
        assert_eq!(obj["ignoreUnknownValues"], Value::Bool(false));
        let schema: Value = serde_json::from_str(include_str!(
            "../../../../deploy/bigquery/predictions.schema.json"
        ))
        .unwrap();
        let rows = obj["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        for (i, r) in rows.iter().enumerate() {
            let r = r.as_object().unwrap();
            assert_eq!(r.len(), 2, "row has exactly insertId and json");
            // Ours, not the caller's: two decisions with one caller id stay two rows.
            assert_eq!(
                r["insertId"],
                Value::from(format!("0190a8e2-0000-7000-8000-{:012}", i + 1))
            );
            check_against_schema(&r["json"], schema.as_array().unwrap());
        }
    }

    fn check_against_schema(v: &Value, fields: &[Value]) {
        let obj = v.as_object().expect("a row is a JSON object");
        for k in obj.keys() {
            assert!(
                fields.iter().any(|f| f["name"] == k.as_str()),
                "field {k} is not in the table schema"
            );
        }
        for f in fields {
            let name = f["name"].as_str().unwrap();
            let mode = f["mode"].as_str().unwrap_or("NULLABLE");
            let ty = f["type"].as_str().unwrap();
            let val = obj.get(name).unwrap_or(&Value::Null);
            match mode {
                "REQUIRED" => assert!(!val.is_null(), "{name} is REQUIRED"),
                "REPEATED" => {
                    for item in val.as_array().expect("REPEATED is an array") {
                        check_type(name, ty, item, f);
                    }
                    continue;
                }
                _ => {}
            }
            if !val.is_null() {
                check_type(name, ty, val, f);
            }
        }
    }

    fn check_type(name: &str, ty: &str, v: &Value, f: &Value) {
        match ty {
            "STRING" => assert!(v.is_string(), "{name} must be a string"),
            "TIMESTAMP" => {
                let s = v.as_str().expect("TIMESTAMP as a string");
                assert_eq!(s.len(), 27, "{s}");
                assert!(s.ends_with('Z') && s.as_bytes()[10] == b'T', "{s}");
            }
            "FLOAT" | "FLOAT64" => assert!(v.is_number(), "{name} must be a number"),
            "INTEGER" | "INT64" => assert!(v.is_i64() || v.is_u64(), "{name} must be an integer"),
            "RECORD" | "STRUCT" => {
                check_against_schema(v, f["fields"].as_array().unwrap());
            }
            other => panic!("unexpected type {other}"),
        }
    }

    #[test]
    fn classifies_partial_failures() {
        let rows = [row(1), row(2), row(3)];
        let resp: InsertAllResponse = serde_json::from_value(serde_json::json!({
            "kind": "bigquery#tableDataInsertAllResponse",
            "insertErrors": [
                {"index": 1, "errors": [{"reason": "invalid", "message": "no such field"}]},
                {"index": 2, "errors": [{"reason": "stopped", "message": ""}]}
            ]
        }))
        .unwrap();
        let o = classify_response(&rows, &resp);
        assert_eq!(o.shipped, vec![1]);
        assert_eq!(o.refused.len(), 1);
        assert_eq!(o.refused[0].0, 2);
        assert_eq!(o.retry, vec![3]);
    }

    /// After a crash: a torn last line is cut, complete lines' decision ids are known, and rows
    /// already written are confirmed without being written twice.
    #[test]
    fn jsonl_restart_cuts_a_torn_line_and_skips_what_was_written() {
        let dir = std::env::temp_dir().join(format!("credit-jsonl-tail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.jsonl");
        let (a, b, c) = (row(1), row(2), row(3));
        let mut text = String::new();
        for r in [&a, &b] {
            text.push_str(&r.to_json().to_string());
            text.push('\n');
        }
        let torn = c.to_json().to_string();
        text.push_str(&torn[..torn.len() / 2]);
        std::fs::write(&path, &text).unwrap();
        let ids = jsonl_tail(&path).unwrap();
        assert_eq!(ids.len(), 2);
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("}\n"));
        let mut sink = JsonlSink {
            path: path.clone(),
            recent: None,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let out = rt
            .block_on(sink.ship(&[a.clone(), b.clone(), c.clone()]))
            .unwrap();
        assert_eq!(out.shipped, vec![1, 2, 3]);
        let lines: Vec<Value> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let got: Vec<_> = lines.iter().map(|l| l["decision_id"].clone()).collect();
        assert_eq!(
            got,
            [&a, &b, &c].map(|r| Value::from(r.decision_id.clone()))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            v2_base("http://127.0.0.1:9050"),
            "http://127.0.0.1:9050/bigquery/v2"
        );
        assert_eq!(
            v2_base("http://127.0.0.1:9050/bigquery/v2/"),
            "http://127.0.0.1:9050/bigquery/v2"
        );
        assert_eq!(
            v2_base("http://h:1/bigquery/v2/projects/p"),
            "http://h:1/bigquery/v2"
        );
    }
}
