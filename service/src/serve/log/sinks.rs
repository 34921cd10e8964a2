//! Remote sinks behind the journal: JSON lines and BigQuery streaming inserts.

use super::journal::OutboxRow;
use super::LogError;
use crate::serve::config::LogTarget;
use async_trait::async_trait;
use gcp_bigquery_client::error::BQError;
use gcp_bigquery_client::model::table_data_insert_all_request::TableDataInsertAllRequest;
use gcp_bigquery_client::model::table_data_insert_all_response::TableDataInsertAllResponse;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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

/// A place records are shipped to. `Err` means nothing was confirmed: retry the whole batch.
#[async_trait]
pub trait RemoteSink: Send {
    fn name(&self) -> &'static str;
    async fn ship(&mut self, rows: &[OutboxRow]) -> Result<ShipOutcome, String>;
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
            Ok(Box::new(JsonlSink { path: path.clone() }))
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

/// Appends one JSON object per line, fsyncs, then confirms. A crash between the fsync and the
/// journal delete re-sends those lines at the next start (at-least-once; `request_id` is the key).
pub struct JsonlSink {
    path: PathBuf,
}

#[async_trait]
impl RemoteSink for JsonlSink {
    fn name(&self) -> &'static str {
        "jsonl"
    }

    async fn ship(&mut self, rows: &[OutboxRow]) -> Result<ShipOutcome, String> {
        let mut buf = Vec::with_capacity(rows.len() * 512);
        for r in rows {
            serde_json::to_writer(&mut buf, &r.to_json()).map_err(|e| e.to_string())?;
            buf.push(b'\n');
        }
        let path = self.path.clone();
        let write = move || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            f.write_all(&buf)?;
            f.sync_data()
        };
        write().map_err(|e| format!("{}: {e}", self.path.display()))?;
        Ok(ShipOutcome {
            shipped: rows.iter().map(|r| r.seq).collect(),
            ..ShipOutcome::default()
        })
    }
}

/// A token for the BigQuery emulator, which does not check credentials.
#[derive(Clone)]
struct EmulatorToken;

#[async_trait]
impl gcp_bigquery_client::auth::Authenticator for EmulatorToken {
    async fn access_token(&self) -> Result<String, BQError> {
        Ok("emulator-token".to_owned())
    }
}

/// BigQuery streaming inserts (`tabledata.insertAll`) with `insertId` = request id, so that a
/// retried batch is de-duplicated by BigQuery.
pub struct BigQuerySink {
    project: String,
    dataset: String,
    table: String,
    /// `BIGQUERY_API_BASE`: an emulator's `.../bigquery/v2` base (dummy token); `None` means
    /// Google's endpoint with Application Default Credentials (Cloud Run's metadata server,
    /// `GOOGLE_APPLICATION_CREDENTIALS` service-account file, or gcloud user credentials).
    api_base: Option<String>,
    client: Option<gcp_bigquery_client::Client>,
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

/// The insertAll request for a batch of outbox rows.
pub fn insert_all_request(rows: &[OutboxRow]) -> Result<TableDataInsertAllRequest, String> {
    let mut req = TableDataInsertAllRequest::new();
    for r in rows {
        req.add_row(Some(r.request_id.clone()), r.to_json())
            .map_err(|e| e.to_string())?;
    }
    Ok(req)
}

/// Splits an insertAll answer into confirmed, refused (`invalid`) and to-retry rows.
pub fn classify_response(rows: &[OutboxRow], resp: &TableDataInsertAllResponse) -> ShipOutcome {
    let mut out = ShipOutcome::default();
    let errors = resp.insert_errors.as_deref().unwrap_or(&[]);
    for (i, r) in rows.iter().enumerate() {
        let errs: Vec<_> = errors
            .iter()
            .filter(|e| e.index.and_then(|x| usize::try_from(x).ok()) == Some(i))
            .flat_map(|e| e.errors.clone().unwrap_or_default())
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

impl BigQuerySink {
    async fn client(&mut self) -> Result<&gcp_bigquery_client::Client, String> {
        if self.client.is_none() {
            let http = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| e.to_string())?;
            let mut builder = gcp_bigquery_client::client_builder::ClientBuilder::new();
            builder.with_client(http);
            let client = match &self.api_base {
                Some(base) => {
                    builder.with_v2_base_url(v2_base(base));
                    builder
                        .build_from_authenticator(Arc::new(EmulatorToken))
                        .await
                }
                None => builder.build_from_application_default_credentials().await,
            }
            .map_err(|e| format!("BigQuery client: {e}"))?;
            self.client = Some(client);
        }
        self.client
            .as_ref()
            .ok_or_else(|| "BigQuery client unavailable".to_owned())
    }
}

#[async_trait]
impl RemoteSink for BigQuerySink {
    fn name(&self) -> &'static str {
        "bigquery"
    }

    async fn ship(&mut self, rows: &[OutboxRow]) -> Result<ShipOutcome, String> {
        let req = insert_all_request(rows)?;
        let (project, dataset, table) = (
            self.project.clone(),
            self.dataset.clone(),
            self.table.clone(),
        );
        let client = self.client().await?;
        let resp = client
            .tabledata()
            .insert_all(&project, &dataset, &table, req)
            .await
            .map_err(|e| format!("insertAll {project}.{dataset}.{table}: {e}"))?;
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
            request_id: format!("req-{seq}"),
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
        let req = insert_all_request(&[row(1), row(2)]).unwrap();
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
            assert_eq!(r["insertId"], Value::from(format!("req-{}", i + 1)));
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
        let resp: TableDataInsertAllResponse = serde_json::from_value(serde_json::json!({
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
