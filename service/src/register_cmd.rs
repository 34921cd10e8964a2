//! `credit register`: add an existing artifact (the shipped model, a flow's challenger) to the
//! MLflow registry as a new version of `credit-default`, with the same files `credit train`
//! uploads (`model.json` and the MLflow pyfunc flavor) and the provenance the retraining flow's gate needs: which data (sha256) and which
//! rows of it (a half-open range in the file's row order) the model was fit on.
//!
//! It never moves an alias unless `--alias` is given; with services running, use
//! `credit promote --version N`, which checks that they serve it first.

use crate::mlflow::{
    now_ms, register_version, set_alias, str_at, upload_model, Client, MlflowError,
    DEFAULT_EXPERIMENT, REGISTERED_MODEL,
};
use credit_core::Scorecard;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct RegisterArgs {
    /// The artifact to register (default: the shipped model compiled into this binary).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// MLflow tracking server.
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    pub mlflow_uri: String,
    /// Registered model name.
    #[arg(long, default_value = REGISTERED_MODEL)]
    pub name: String,
    /// Experiment of the run that holds the files.
    #[arg(long, default_value = DEFAULT_EXPERIMENT)]
    pub experiment: String,
    /// Upload into this existing run instead of creating one (e.g. the flow's challenger run).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Rows of the training data the model was fit on, `START:END` (half-open, file order).
    /// Default: `0:N`, every row of the file the artifact says it was trained on (used or
    /// excluded).
    #[arg(long, value_parser = parse_rows)]
    pub train_rows: Option<(u64, u64)>,
    /// Also point this alias at the new version (bootstrap only: no service is checked).
    #[arg(long)]
    pub alias: Option<String>,
    /// Extra version tags, `KEY=VALUE` (repeatable).
    #[arg(long = "tag", value_parser = parse_tag)]
    pub tags: Vec<(String, String)>,
}

fn parse_rows(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected START:END"))?;
    let a: u64 = a.trim().parse().map_err(|e| format!("{s:?}: start: {e}"))?;
    let b: u64 = b.trim().parse().map_err(|e| format!("{s:?}: end: {e}"))?;
    if b <= a {
        return Err(format!("{s:?}: END must be greater than START"));
    }
    Ok((a, b))
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected KEY=VALUE"))?;
    if k.trim().is_empty() {
        return Err(format!("{s:?}: empty key"));
    }
    Ok((k.trim().to_owned(), v.to_owned()))
}

/// Why registering failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Read(#[from] crate::model_file::ReadError),
    #[error("the artifact is refused: {0}")]
    Invalid(#[from] credit_core::ModelError),
    #[error(transparent)]
    Mlflow(#[from] MlflowError),
}

/// The registered version and the run that holds its files.
#[derive(Debug)]
pub struct Registered {
    pub version: String,
    pub run_id: String,
}

fn kv(key: &str, value: impl ToString) -> Value {
    json!({ "key": key, "value": value.to_string() })
}

/// The run to upload into: the given one (its artifact URI), or a new FINISHED run.
fn run_for(
    client: &Client,
    a: &RegisterArgs,
    tags: &[Value],
) -> Result<(String, String), MlflowError> {
    if let Some(id) = &a.run_id {
        let ep = "runs/get";
        let v = client.get(ep, &[("run_id", id)])?;
        return Ok((
            id.clone(),
            str_at(&v, &["run", "info", "artifact_uri"], ep)?,
        ));
    }
    let experiment_id = client.experiment_id(&a.experiment)?;
    let ep = "runs/create";
    let created = client.post(
        ep,
        &json!({ "experiment_id": experiment_id, "run_name": "credit-register",
                 "start_time": now_ms(), "tags": tags }),
    )?;
    let run_id = str_at(&created, &["run", "info", "run_id"], ep)?;
    let uri = str_at(&created, &["run", "info", "artifact_uri"], ep)?;
    client.post(
        "runs/update",
        &json!({ "run_id": run_id, "status": "FINISHED", "end_time": now_ms() }),
    )?;
    Ok((run_id, uri))
}

/// Uploads the artifact into a run and adds a registry version pointing at its `model/` folder.
pub fn register(a: &RegisterArgs) -> Result<Registered, RegisterError> {
    let text = crate::model_file::read_text(a.model.as_deref())?;
    let card = Scorecard::from_json(&text)?;
    let art = card.artifact();
    let (start, end) = a
        .train_rows
        .unwrap_or((0, art.training_data.rows + art.training_data.rows_excluded));
    let mut tags = vec![
        kv("model_version", &art.model_version),
        kv("model_checksum", art.checksum.as_deref().unwrap_or("")),
        kv("train_data_sha256", &art.training_data.sha256),
        kv("train_rows", format!("{start}:{end}")),
        kv("mlflow.source.name", "credit register"),
    ];
    tags.extend(a.tags.iter().map(|(k, v)| kv(k, v)));
    let client = Client::new(&a.mlflow_uri)?;
    let (run_id, artifact_uri) = run_for(&client, a, &tags)?;
    upload_model(&client, &run_id, &artifact_uri, text.as_bytes())?;
    let description = format!("credit register, model_version {}", art.model_version);
    let version = register_version(&client, &a.name, &run_id, &artifact_uri, tags, &description)?;
    if let Some(alias) = &a.alias {
        set_alias(&client, &a.name, alias, &version)?;
    }
    Ok(Registered { version, run_id })
}

/// Prints `{"version": "N", "run_id": "..."}` on stdout (for scripts and the flow).
pub fn run(a: &RegisterArgs) -> Result<(), RegisterError> {
    let r = register(a)?;
    println!("{}", json!({ "version": r.version, "run_id": r.run_id }));
    eprintln!(
        "registered {} version {} (run {}){}",
        a.name,
        r.version,
        r.run_id,
        a.alias
            .as_deref()
            .map(|al| format!(", alias {al}"))
            .unwrap_or_default()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_ranges_are_half_open_and_non_empty() {
        assert_eq!(parse_rows("0:120000"), Ok((0, 120_000)));
        assert!(parse_rows("5:5").is_err());
        assert!(parse_rows("7").is_err());
        assert!(parse_rows("a:9").is_err());
    }

    #[test]
    fn tags_need_a_key() {
        assert_eq!(parse_tag("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_tag("=x").is_err());
        assert!(parse_tag("x").is_err());
    }
}
