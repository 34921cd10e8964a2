//! A small MLflow client over the tracking server's REST API 2.0, so that `credit train` can
//! record a fit (params, per-fold and final metrics, tags, the model and report as artifacts)
//! and register the model as a new version of `credit-default` without a Python runtime.
//!
//! The same client resolves `models:/NAME/VERSION` and `models:/NAME@ALIAS` references
//! (`crate::model_ref`) for `score`, `explain`, `monitor` and `serve`.
//!
//! Artifacts go through the server's artifact proxy (`mlflow server --serve-artifacts`): the
//! client never needs credentials for the artifact store itself. Tracking URIs are `http://` or
//! `https://`, configured like MLflow's own client: `MLFLOW_TRACKING_TOKEN` (bearer token) or
//! `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD` (basic auth), and
//! `MLFLOW_TRACKING_SERVER_CERT_PATH`, a PEM bundle of CAs trusted besides Mozilla's roots (a
//! server with a private CA).

use crate::train_cmd::TrainArgs;
use credit_core::artifact::Metrics;
use credit_core::train::TrainOutcome;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Name of the registered model every `credit train` run adds a version to.
pub const REGISTERED_MODEL: &str = "credit-default";
/// Experiment used when `--mlflow-experiment` is not given.
pub const DEFAULT_EXPERIMENT: &str = "credit-default";
/// Artifact path of the model JSON inside a run (the registered version points at its folder).
pub const MODEL_ARTIFACT: &str = "model/model.json";

/// Why talking to MLflow failed. Training itself succeeded when one of these is returned:
/// the model file and report are already written.
#[derive(Debug, thiserror::Error)]
pub enum MlflowError {
    #[error("MLflow {endpoint}: HTTP {status}: {body}")]
    Api {
        endpoint: String,
        status: u16,
        /// MLflow's `error_code` (e.g. `RESOURCE_ALREADY_EXISTS`), when the body had one.
        code: Option<String>,
        body: String,
    },
    #[error("MLflow {endpoint}: cannot reach the server: {source}")]
    Transport {
        endpoint: String,
        #[source]
        source: Box<ureq::Transport>,
    },
    #[error("MLflow {endpoint}: unexpected answer: {detail}")]
    BadResponse { endpoint: String, detail: String },
    #[error("MLflow tracking URI {0:?} is not supported: use http://HOST:PORT or https://HOST")]
    UnsupportedUri(String),
    #[error("MLFLOW_TRACKING_SERVER_CERT_PATH {path}: {detail}")]
    CaBundle { path: PathBuf, detail: String },
    #[error(
        "run artifact URI {0:?} is not served by the tracking server \
         (start it with `mlflow server --serve-artifacts`)"
    )]
    UnsupportedArtifactUri(String),
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What was recorded, for the caller to print or test.
#[derive(Clone, Debug)]
pub struct LoggedRun {
    pub experiment_id: String,
    pub run_id: String,
    pub artifact_uri: String,
    /// Version number of `credit-default` in the model registry.
    pub registered_version: String,
}

impl std::fmt::Display for LoggedRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "run {} in experiment {} (artifacts {}), registered {REGISTERED_MODEL} version {}",
            self.run_id, self.experiment_id, self.artifact_uri, self.registered_version
        )
    }
}

/// A client bound to one tracking server.
pub struct Client {
    base: String,
    agent: ureq::Agent,
    /// `Authorization` header value sent with every request, from the environment.
    auth: Option<String>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Client {
    /// Checks the URI's scheme and reads the TLS and auth settings; no request is made yet.
    pub fn new(uri: &str) -> Result<Client, MlflowError> {
        Client::with_timeout(uri, Duration::from_secs(120))
    }

    /// As [`Client::new`], with `timeout` for each whole request (connect, send, read), so a
    /// caller holding a lock (a service reloading its model) waits a bounded time.
    pub fn with_timeout(uri: &str, timeout: Duration) -> Result<Client, MlflowError> {
        let base = uri.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(MlflowError::UnsupportedUri(uri.to_owned()));
        }
        let mut builder = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10).min(timeout))
            .timeout(timeout);
        if let Some(path) = env_nonempty("MLFLOW_TRACKING_SERVER_CERT_PATH") {
            builder = builder.tls_config(tls_config(Path::new(&path))?);
        }
        Ok(Client {
            base: base.to_owned(),
            agent: builder.build(),
            auth: auth_header(),
        })
    }

    /// The tracking server's base URI (no trailing slash), for messages.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request with the authorization header, when one is configured.
    fn request(&self, method: &str, url: &str) -> ureq::Request {
        let req = self.agent.request(method, url);
        match &self.auth {
            Some(a) => req.set("Authorization", a),
            None => req,
        }
    }

    /// Turns a ureq result into the JSON body or a typed error.
    fn answer(
        endpoint: &str,
        r: Result<ureq::Response, ureq::Error>,
    ) -> Result<Value, MlflowError> {
        match r {
            Ok(resp) => {
                let text = resp.into_string().map_err(|e| MlflowError::BadResponse {
                    endpoint: endpoint.to_owned(),
                    detail: e.to_string(),
                })?;
                if text.trim().is_empty() {
                    return Ok(Value::Object(Default::default()));
                }
                serde_json::from_str(&text).map_err(|e| MlflowError::BadResponse {
                    endpoint: endpoint.to_owned(),
                    detail: format!("{e}: {text:.200}"),
                })
            }
            Err(ureq::Error::Status(status, resp)) => {
                let body = resp.into_string().unwrap_or_default();
                let code = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|v| v.get("error_code")?.as_str().map(str::to_owned));
                Err(MlflowError::Api {
                    endpoint: endpoint.to_owned(),
                    status,
                    code,
                    body,
                })
            }
            Err(ureq::Error::Transport(t)) => Err(MlflowError::Transport {
                endpoint: endpoint.to_owned(),
                source: Box::new(t),
            }),
        }
    }

    /// `POST /api/2.0/mlflow/<endpoint>` with a JSON body.
    pub fn post(&self, endpoint: &str, body: &Value) -> Result<Value, MlflowError> {
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.base);
        let r = self
            .request("POST", &url)
            .set("Content-Type", "application/json")
            .send_string(&body.to_string());
        Self::answer(endpoint, r)
    }

    /// `GET /api/2.0/mlflow/<endpoint>?k=v...`.
    pub fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<Value, MlflowError> {
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.base);
        let mut req = self.request("GET", &url);
        for (k, v) in query {
            req = req.query(k, v);
        }
        Self::answer(endpoint, req.call())
    }

    /// The experiment's id, creating the experiment when it does not exist.
    pub fn experiment_id(&self, name: &str) -> Result<String, MlflowError> {
        let ep = "experiments/get-by-name";
        match self.get(ep, &[("experiment_name", name)]) {
            Ok(v) => return str_at(&v, &["experiment", "experiment_id"], ep),
            Err(MlflowError::Api { status: 404, .. }) => {}
            Err(MlflowError::Api { code: Some(c), .. }) if c == "RESOURCE_DOES_NOT_EXIST" => {}
            Err(e) => return Err(e),
        }
        let ep = "experiments/create";
        match self.post(ep, &json!({ "name": name })) {
            Ok(v) => str_at(&v, &["experiment_id"], ep),
            // Someone else created it between our two calls.
            Err(MlflowError::Api { code: Some(c), .. }) if c == "RESOURCE_ALREADY_EXISTS" => {
                let v = self.get("experiments/get-by-name", &[("experiment_name", name)])?;
                str_at(&v, &["experiment", "experiment_id"], ep)
            }
            Err(e) => Err(e),
        }
    }

    /// Uploads one file into the run's artifacts through the server's artifact proxy.
    pub fn upload(
        &self,
        artifact_uri: &str,
        rel_path: &str,
        bytes: &[u8],
    ) -> Result<(), MlflowError> {
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{}/{}",
            self.base,
            proxy_path(artifact_uri)?,
            rel_path
        );
        let r = self
            .request("PUT", &url)
            .set("Content-Type", "application/octet-stream")
            .send_bytes(bytes);
        Self::answer("mlflow-artifacts/artifacts", r).map(|_| ())
    }
}

impl Client {
    /// Downloads one artifact as text through the server's artifact proxy; `proxy_rel` is the
    /// part after `/api/2.0/mlflow-artifacts/artifacts/` (see [`proxy_path`]).
    pub fn download_text(&self, proxy_rel: &str) -> Result<String, MlflowError> {
        let endpoint = "mlflow-artifacts/artifacts";
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{}",
            self.base,
            proxy_rel.trim_start_matches('/')
        );
        match self.request("GET", &url).call() {
            // ureq caps `into_string` at 10 MB: far above a scorecard, a bound on a bad answer.
            Ok(resp) => resp.into_string().map_err(|e| MlflowError::BadResponse {
                endpoint: format!("{endpoint}/{proxy_rel}"),
                detail: e.to_string(),
            }),
            Err(e) => {
                Self::answer(&format!("{endpoint}/{proxy_rel}"), Err(e)).map(|_| String::new())
            }
        }
    }
}

/// A variable of the environment, unless unset or blank.
fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `Authorization` value from MLflow's variables: a bearer token wins over basic auth.
fn auth_header() -> Option<String> {
    use base64::Engine as _;
    if let Some(token) = env_nonempty("MLFLOW_TRACKING_TOKEN") {
        return Some(format!("Bearer {}", token.trim()));
    }
    let user = env_nonempty("MLFLOW_TRACKING_USERNAME")?;
    let password = std::env::var("MLFLOW_TRACKING_PASSWORD").unwrap_or_default();
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Some(format!("Basic {pair}"))
}

/// TLS trusting Mozilla's roots (as without the variable) and every certificate of `ca_pem`.
fn tls_config(ca_pem: &Path) -> Result<std::sync::Arc<rustls::ClientConfig>, MlflowError> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::CertificateDer;
    let bad = |detail: String| MlflowError::CaBundle {
        path: ca_pem.to_owned(),
        detail,
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let pem = std::fs::read(ca_pem).map_err(|e| bad(e.to_string()))?;
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| bad(format!("not a PEM certificate bundle: {e}")))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
        added += 1;
    }
    if added == 0 {
        return Err(bad("no certificate in the file".into()));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

/// The part of `mlflow-artifacts:/<exp>/<run>/artifacts` (or `mlflow-artifacts://host/...`)
/// that follows the proxy's `/api/2.0/mlflow-artifacts/artifacts/` prefix.
pub fn proxy_path(artifact_uri: &str) -> Result<String, MlflowError> {
    let rest = artifact_uri
        .strip_prefix("mlflow-artifacts:")
        .ok_or_else(|| MlflowError::UnsupportedArtifactUri(artifact_uri.to_owned()))?;
    let path = match rest.strip_prefix("//") {
        // `//host:port/path`: drop the authority.
        Some(auth_and_path) => auth_and_path
            .split_once('/')
            .map_or("", |(_, p)| p)
            .to_owned(),
        None => rest.to_owned(),
    };
    Ok(path.trim_matches('/').to_owned())
}

pub(crate) fn str_at(v: &Value, path: &[&str], endpoint: &str) -> Result<String, MlflowError> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k).ok_or_else(|| MlflowError::BadResponse {
            endpoint: endpoint.to_owned(),
            detail: format!("no {} in {v}", path.join(".")),
        })?;
    }
    match cur {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(MlflowError::BadResponse {
            endpoint: endpoint.to_owned(),
            detail: format!("{} is not a string in {v}", path.join(".")),
        }),
    }
}

/// The source revision the binary was run from: `GIT_COMMIT` / `GITHUB_SHA` when a CI sets
/// them, else `git rev-parse HEAD` in the working directory; `None` outside a checkout.
pub fn git_revision() -> Option<String> {
    for var in ["GIT_COMMIT", "GITHUB_SHA"] {
        if let Ok(v) = std::env::var(var) {
            if !v.trim().is_empty() {
                return Some(v.trim().to_owned());
            }
        }
    }
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let rev = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !rev.is_empty()).then_some(rev)
}

fn param(key: &str, value: impl ToString) -> Value {
    json!({ "key": key, "value": value.to_string() })
}

fn tag(key: &str, value: impl ToString) -> Value {
    json!({ "key": key, "value": value.to_string() })
}

/// The five headline metrics of a set of predictions, with a key prefix.
fn metric_set(prefix: &str, m: &Metrics, step: i64, ts: i64, out: &mut Vec<Value>) {
    for (name, value) in [
        ("auc", m.auc),
        ("gini", m.gini),
        ("ks", m.ks),
        ("brier", m.brier),
        ("log_loss", m.log_loss),
    ] {
        // MLflow stores NaN but JSON cannot carry it; a NaN metric is simply not logged.
        if value.is_finite() {
            out.push(json!({ "key": format!("{prefix}{name}"), "value": value, "timestamp": ts, "step": step }));
        }
    }
}

/// Every file under `dir`, as (path relative to `dir` with `/` separators, absolute path).
fn files_under(dir: &Path) -> Result<Vec<(String, PathBuf)>, MlflowError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| MlflowError::Io {
            path: d.clone(),
            source,
        })?;
        for e in entries {
            let e = e.map_err(|source| MlflowError::Io {
                path: d.clone(),
                source,
            })?;
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((rel, p));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Records a finished `credit train` in MLflow: experiment (created if missing), a run with
/// params, per-fold (`fold_*`, step = fold number) and final (`auc`, `gini`, `ks`, `brier`,
/// `log_loss` of the pooled out-of-fold predictions; `train_*` in-sample) metrics, tags, the model
/// JSON and report files as artifacts, and a new version of the registered model `credit-default`.
/// The run is marked FAILED when a step after its creation fails, so it never stays RUNNING.
pub fn log_training(
    uri: &str,
    experiment: &str,
    args: &TrainArgs,
    outcome: &TrainOutcome,
) -> Result<LoggedRun, MlflowError> {
    let client = Client::new(uri)?;
    let experiment_id = client.experiment_id(experiment)?;
    let a = &outcome.artifact;
    let start = now_ms();
    let mut tags = vec![
        tag(
            "mlflow.runName",
            format!("credit-train-{}", a.model_version),
        ),
        tag("mlflow.source.type", "LOCAL"),
        tag("mlflow.source.name", "credit train"),
        tag("model_id", &a.model_id),
        tag("model_version", &a.model_version),
        tag("model_checksum", a.checksum.as_deref().unwrap_or("")),
        tag("data_sha256", &a.training_data.sha256),
        tag("created_by", &a.created_by),
    ];
    if let Some(rev) = git_revision() {
        tags.push(tag("mlflow.source.git.commit", &rev));
        tags.push(tag("git_revision", rev));
    }
    if let Ok(user) = std::env::var("USER") {
        tags.push(tag("mlflow.user", user));
    }
    let ep = "runs/create";
    let created = client.post(
        ep,
        &json!({
            "experiment_id": experiment_id,
            "run_name": format!("credit-train-{}", a.model_version),
            "start_time": start,
            "tags": tags,
        }),
    )?;
    let run_id = str_at(&created, &["run", "info", "run_id"], ep)?;
    let artifact_uri = str_at(&created, &["run", "info", "artifact_uri"], ep)?;
    match fill_run(&client, &run_id, &artifact_uri, args, outcome) {
        Ok(registered_version) => {
            client.post(
                "runs/update",
                &json!({ "run_id": run_id, "status": "FINISHED", "end_time": now_ms() }),
            )?;
            let run = LoggedRun {
                experiment_id,
                run_id,
                artifact_uri,
                registered_version,
            };
            eprintln!("  mlflow: {run} (experiment {experiment:?})");
            Ok(run)
        }
        Err(e) => {
            // Best effort: the original error is the one worth reporting.
            let _ = client.post(
                "runs/update",
                &json!({ "run_id": run_id, "status": "FAILED", "end_time": now_ms() }),
            );
            Err(e)
        }
    }
}

/// Params, metrics, artifacts and the registry entry of a created run; returns the version.
fn fill_run(
    client: &Client,
    run_id: &str,
    artifact_uri: &str,
    args: &TrainArgs,
    outcome: &TrainOutcome,
) -> Result<String, MlflowError> {
    let a = &outcome.artifact;
    let t = &a.training;
    let params = vec![
        param(
            "data_file",
            args.data.file_name().map_or_else(
                || args.data.display().to_string(),
                |f| f.to_string_lossy().into_owned(),
            ),
        ),
        param("method", &t.method),
        param("max_bins", t.max_bins),
        param("min_bin_count", t.min_bin_count),
        param("l2_alpha", t.l2_alpha),
        param("folds", t.folds),
        param("max_iterations", t.max_iterations),
        param("gradient_tolerance", args.tolerance),
        param("threshold_policy", &a.threshold.policy),
        param("rows", a.training_data.rows),
        param("rows_excluded", a.training_data.rows_excluded),
        param("positives", a.training_data.positives),
    ];
    let ts = now_ms();
    let m = &a.metrics;
    let mut metrics = Vec::new();
    for (i, f) in m.folds.iter().enumerate() {
        let step = i64::try_from(i + 1).unwrap_or(i64::MAX);
        metric_set("fold_", f, step, ts, &mut metrics);
    }
    metric_set("", &m.cv, 0, ts, &mut metrics);
    metric_set("train_", &m.train, 0, ts, &mut metrics);
    for (key, value) in [
        ("cv_auc_mean", m.cv_auc_mean),
        ("cv_auc_std", m.cv_auc_std),
        ("threshold", a.threshold.probability),
        ("threshold_score", a.threshold.score),
    ] {
        if value.is_finite() {
            metrics.push(json!({ "key": key, "value": value, "timestamp": ts, "step": 0 }));
        }
    }
    client.post(
        "runs/log-batch",
        &json!({ "run_id": run_id, "params": params, "metrics": metrics, "tags": [] }),
    )?;

    // The model exactly as written to --out (the bytes the service will load).
    let model_bytes = std::fs::read(&args.out).map_err(|source| MlflowError::Io {
        path: args.out.clone(),
        source,
    })?;
    upload_model(client, run_id, artifact_uri, &model_bytes)?;
    if let Some(dir) = &args.report {
        for (rel, path) in files_under(dir)? {
            let bytes = std::fs::read(&path).map_err(|source| MlflowError::Io {
                path: path.clone(),
                source,
            })?;
            client.upload(artifact_uri, &format!("report/{rel}"), &bytes)?;
        }
    }

    let tags = vec![json!({ "key": "model_version", "value": a.model_version })];
    let description = format!("credit train, model_version {}", a.model_version);
    register_version(
        client,
        REGISTERED_MODEL,
        run_id,
        artifact_uri,
        tags,
        &description,
    )
}

/// Uploads the model into the run's `model/` folder: the artifact bytes and, beside them, the
/// pyfunc flavor's files (so that `mlflow.pyfunc.load_model` accepts the version).
pub fn upload_model(
    client: &Client,
    run_id: &str,
    artifact_uri: &str,
    model_bytes: &[u8],
) -> Result<(), MlflowError> {
    client.upload(artifact_uri, MODEL_ARTIFACT, model_bytes)?;
    for (name, text) in crate::mlflow_flavor::flavor_files(run_id, SystemTime::now()) {
        client.upload(artifact_uri, &format!("model/{name}"), text.as_bytes())?;
    }
    Ok(())
}

/// Gets or creates the registered model `name` and adds a version pointing at the run's
/// `model/` folder; returns the version number.
pub fn register_version(
    client: &Client,
    name: &str,
    run_id: &str,
    artifact_uri: &str,
    tags: Vec<Value>,
    description: &str,
) -> Result<String, MlflowError> {
    match client.post(
        "registered-models/create",
        &json!({
            "name": name,
            "description": "Credit-default scorecard (credit-core artifact JSON)",
        }),
    ) {
        Ok(_) => {}
        Err(MlflowError::Api { code: Some(c), .. }) if c == "RESOURCE_ALREADY_EXISTS" => {}
        Err(e) => return Err(e),
    }
    let source = format!(
        "{}/{}",
        artifact_uri.trim_end_matches('/'),
        MODEL_ARTIFACT
            .rsplit_once('/')
            .map_or(MODEL_ARTIFACT, |(d, _)| d)
    );
    let ep = "model-versions/create";
    let v = client.post(
        ep,
        &json!({ "name": name, "source": source, "run_id": run_id, "tags": tags,
                 "description": description }),
    )?;
    str_at(&v, &["model_version", "version"], ep)
}

/// Points `alias` of the registered model `name` at `version`.
pub fn set_alias(
    client: &Client,
    name: &str,
    alias: &str,
    version: &str,
) -> Result<(), MlflowError> {
    client
        .post(
            "registered-models/alias",
            &json!({ "name": name, "alias": alias, "version": version }),
        )
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_path_strips_scheme_and_authority() {
        assert_eq!(
            proxy_path("mlflow-artifacts:/1/abc/artifacts")
                .ok()
                .as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(
            proxy_path("mlflow-artifacts://127.0.0.1:5000/1/abc/artifacts/")
                .ok()
                .as_deref(),
            Some("1/abc/artifacts")
        );
        assert!(matches!(
            proxy_path("s3://bucket/1/abc"),
            Err(MlflowError::UnsupportedArtifactUri(_))
        ));
    }

    #[test]
    fn a_ca_bundle_must_hold_certificates() {
        let missing = tls_config(Path::new("no/such/ca.pem")).err();
        assert!(
            matches!(&missing, Some(MlflowError::CaBundle { path, .. }) if path.ends_with("ca.pem")),
            "{missing:?}"
        );
        let dir = std::env::temp_dir().join(format!("credit-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = tls_config(&empty).err().map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|m| m.contains("no certificate")),
            "{e:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn http_and_https_tracking_uris_only() {
        assert!(Client::new("http://127.0.0.1:5000/").is_ok());
        assert!(Client::new("https://mlflow.example").is_ok());
        assert!(matches!(
            Client::new("ftp://mlflow.example"),
            Err(MlflowError::UnsupportedUri(_))
        ));
        assert!(matches!(
            Client::new("databricks"),
            Err(MlflowError::UnsupportedUri(_))
        ));
    }
}
