//! How a command names its model: a file path, nothing (the shipped model compiled into the
//! binary), or an MLflow model-registry reference, `models:/NAME/VERSION` or
//! `models:/NAME@ALIAS`, resolved through the tracking server in `MLFLOW_TRACKING_URI`.
//!
//! One grammar for every `--model` (score, explain, monitor and its `--baseline-model`, serve)
//! and for `POST /admin/reload`, so that the model promoted in the registry (an alias moved to
//! a new version) is the one every tool reads. Resolution returns the artifact text and where it
//! came from; the caller compiles it with `Scorecard::from_json`, which verifies the checksum
//! whatever the origin, so a registry artifact is trusted exactly as much as a file.

use crate::mlflow::{self, Client, MlflowError};
use serde_json::{json, Value};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Prefix of a model-registry reference.
pub const SCHEME: &str = "models:/";
/// Each request to the tracking server gets at most this long: a reload holds its lock meanwhile.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Artifact file read inside a registered version's folder (what `credit train` uploads).
const MODEL_FILE: &str = "model.json";

/// A model as named on a command line, in `CREDIT_MODEL` or in a reload request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelRef {
    /// The scorecard compiled into this binary (no `--model`).
    Shipped,
    /// An artifact file.
    Path(PathBuf),
    /// A version of a registered model in MLflow's registry.
    Registry { name: String, selector: Selector },
}

/// Which version of a registered model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    Version(u64),
    Alias(String),
}

/// Why a string is not a model reference.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error(
        "empty model reference: give a file path or models:/NAME/VERSION or models:/NAME@ALIAS"
    )]
    Empty,
    #[error("{0:?}: a registry reference starts with models:/ (models:/NAME/VERSION or models:/NAME@ALIAS)")]
    BadScheme(String),
    #[error("{0:?}: no registered model name after models:/")]
    NoName(String),
    #[error("{0:?}: name a version (models:/NAME/VERSION) or an alias (models:/NAME@ALIAS)")]
    NoSelector(String),
    #[error("{reference:?}: version {version:?} is not a positive whole number (stages are not supported; use an alias)")]
    BadVersion { reference: String, version: String },
    #[error("{0:?}: empty alias after @")]
    EmptyAlias(String),
}

impl FromStr for ModelRef {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<ModelRef, ParseError> {
        if s.is_empty() {
            return Err(ParseError::Empty);
        }
        let Some(rest) = s.strip_prefix(SCHEME) else {
            if s.starts_with("models:") {
                return Err(ParseError::BadScheme(s.to_owned()));
            }
            return Ok(ModelRef::Path(PathBuf::from(s)));
        };
        let (name, selector) = if let Some((name, alias)) = rest.split_once('@') {
            if alias.is_empty() {
                return Err(ParseError::EmptyAlias(s.to_owned()));
            }
            (name, Selector::Alias(alias.to_owned()))
        } else if let Some((name, version)) = rest.rsplit_once('/') {
            let bad = || ParseError::BadVersion {
                reference: s.to_owned(),
                version: version.to_owned(),
            };
            let v: u64 = version.parse().map_err(|_| bad())?;
            if v == 0 || !version.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            (name, Selector::Version(v))
        } else if rest.is_empty() {
            return Err(ParseError::NoName(s.to_owned()));
        } else {
            return Err(ParseError::NoSelector(s.to_owned()));
        };
        if name.is_empty() {
            return Err(ParseError::NoName(s.to_owned()));
        }
        Ok(ModelRef::Registry {
            name: name.to_owned(),
            selector,
        })
    }
}

impl fmt::Display for ModelRef {
    /// The reference as a user would type it (`(shipped model)` for the shipped one).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelRef::Shipped => f.write_str(crate::model_file::SHIPPED_LABEL),
            ModelRef::Path(p) => write!(f, "{}", p.display()),
            ModelRef::Registry {
                name,
                selector: Selector::Version(v),
            } => write!(f, "{SCHEME}{name}/{v}"),
            ModelRef::Registry {
                name,
                selector: Selector::Alias(a),
            } => write!(f, "{SCHEME}{name}@{a}"),
        }
    }
}

impl ModelRef {
    /// `--model` as clap gives it: absent is the shipped model.
    pub fn or_shipped(r: Option<&ModelRef>) -> ModelRef {
        r.cloned().unwrap_or(ModelRef::Shipped)
    }
}

/// Where a loaded model came from (`GET /model`'s `source`, messages, logs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Shipped,
    File {
        path: PathBuf,
    },
    Registry {
        /// The reference as configured, e.g. `models:/credit-default@champion`.
        reference: String,
        registered_model: String,
        /// The version the reference resolved to (MLflow's numbering, as a string).
        version: String,
        alias: Option<String>,
        run_id: Option<String>,
        /// The version's `source` URI in the registry.
        source_uri: String,
    },
}

impl Source {
    /// How to name the model in messages: `models:/credit-default@champion (version 7)`, the
    /// file's path, or `(shipped model)`.
    pub fn describe(&self) -> String {
        match self {
            Source::Shipped => crate::model_file::SHIPPED_LABEL.to_owned(),
            Source::File { path } => path.display().to_string(),
            Source::Registry {
                reference, version, ..
            } => format!("{reference} (version {version})"),
        }
    }

    /// The reference that reloads this model (`None` for the shipped model).
    pub fn reference(&self) -> Option<String> {
        match self {
            Source::Shipped => None,
            Source::File { path } => Some(path.display().to_string()),
            Source::Registry { reference, .. } => Some(reference.clone()),
        }
    }

    /// The registry version, for a registry model.
    pub fn registry_version(&self) -> Option<&str> {
        match self {
            Source::Registry { version, .. } => Some(version),
            _ => None,
        }
    }

    /// The `source` object of `GET /model`.
    pub fn to_json(&self) -> Value {
        match self {
            Source::Shipped => json!({ "kind": "shipped" }),
            Source::File { path } => json!({ "kind": "file", "path": path.display().to_string() }),
            Source::Registry {
                reference,
                registered_model,
                version,
                alias,
                run_id,
                source_uri,
            } => json!({
                "kind": "registry",
                "reference": reference,
                "registered_model": registered_model,
                "registry_version": version,
                "alias": alias,
                "run_id": run_id,
                "source_uri": source_uri,
            }),
        }
    }
}

/// A model's artifact text and its origin.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub text: String,
    pub source: Source,
}

/// Why a reference could not be turned into artifact text. Every message names the reference.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Read(#[from] crate::model_file::ReadError),
    #[error("{reference}: MLFLOW_TRACKING_URI is not set (the tracking server that resolves models:/ references)")]
    NoTrackingUri { reference: String },
    #[error("{reference}: no alias '{alias}' on registered model '{name}'")]
    UnknownAlias {
        reference: String,
        name: String,
        alias: String,
    },
    #[error("{reference}: registered model '{name}' has no version {version}")]
    UnknownVersion {
        reference: String,
        name: String,
        version: u64,
    },
    // The MLflow error is part of the message, not a `source`: `{:#}` would print it twice.
    #[error("{reference}: {cause}")]
    Registry {
        reference: String,
        cause: Box<MlflowError>,
    },
    #[error("{reference} (version {version}): cannot download its artifact {what}: {cause}")]
    Download {
        reference: String,
        version: String,
        what: String,
        cause: Box<MlflowError>,
    },
}

/// The artifact text of `r` and where it came from. Blocking I/O (file or HTTP): async callers
/// run it on a blocking thread. Every HTTP request is bounded by [`REQUEST_TIMEOUT`].
pub fn resolve(r: &ModelRef) -> Result<Resolved, ResolveError> {
    match r {
        ModelRef::Shipped => Ok(Resolved {
            text: crate::model_file::read_text(None)?,
            source: Source::Shipped,
        }),
        ModelRef::Path(p) => Ok(Resolved {
            text: crate::model_file::read_text(Some(p))?,
            source: Source::File { path: p.clone() },
        }),
        ModelRef::Registry { name, selector } => resolve_registry(&r.to_string(), name, selector),
    }
}

/// `models:/...`: the version (by number or alias), then its `model.json`.
fn resolve_registry(
    reference: &str,
    name: &str,
    selector: &Selector,
) -> Result<Resolved, ResolveError> {
    let registry = |cause| ResolveError::Registry {
        reference: reference.to_owned(),
        cause: Box::new(cause),
    };
    let uri = std::env::var("MLFLOW_TRACKING_URI")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ResolveError::NoTrackingUri {
            reference: reference.to_owned(),
        })?;
    let client = Client::with_timeout(uri.trim(), REQUEST_TIMEOUT).map_err(registry)?;
    let mv = find_version(&client, reference, name, selector)?;
    let field = |k: &str| {
        mv.get(k)
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|s| !s.is_empty())
    };
    let version = field("version").ok_or_else(|| {
        registry(MlflowError::BadResponse {
            endpoint: "model-versions/get".into(),
            detail: format!("no version in {mv}"),
        })
    })?;
    let run_id = field("run_id");
    let source_uri = field("source").unwrap_or_default();
    let text = download_model(&client, reference, name, &version, &source_uri)?;
    Ok(Resolved {
        text,
        source: Source::Registry {
            reference: reference.to_owned(),
            registered_model: name.to_owned(),
            version,
            alias: match selector {
                Selector::Alias(a) => Some(a.clone()),
                Selector::Version(_) => None,
            },
            run_id,
            source_uri,
        },
    })
}

/// True for MLflow's "no such thing" answers: 404 / `RESOURCE_DOES_NOT_EXIST`, and the
/// `INVALID_PARAMETER_VALUE` ("Registered model alias X not found.") MLflow 3 gives an alias.
fn not_found(e: &MlflowError) -> bool {
    match e {
        MlflowError::Api { status: 404, .. } => true,
        MlflowError::Api {
            code: Some(c),
            body,
            ..
        } => {
            c == "RESOURCE_DOES_NOT_EXIST"
                || (c == "INVALID_PARAMETER_VALUE" && body.contains("not found"))
        }
        _ => false,
    }
}

/// The registry's `model_version` object of the reference.
fn find_version(
    client: &Client,
    reference: &str,
    name: &str,
    selector: &Selector,
) -> Result<Value, ResolveError> {
    let (endpoint, answer) = match selector {
        Selector::Alias(alias) => {
            let ep = "registered-models/alias";
            match client.get(ep, &[("name", name), ("alias", alias)]) {
                Err(e) if not_found(&e) => {
                    return Err(ResolveError::UnknownAlias {
                        reference: reference.to_owned(),
                        name: name.to_owned(),
                        alias: alias.clone(),
                    })
                }
                r => (ep, r),
            }
        }
        Selector::Version(v) => {
            let ep = "model-versions/get";
            match client.get(ep, &[("name", name), ("version", &v.to_string())]) {
                Err(e) if not_found(&e) => {
                    return Err(ResolveError::UnknownVersion {
                        reference: reference.to_owned(),
                        name: name.to_owned(),
                        version: *v,
                    })
                }
                r => (ep, r),
            }
        }
    };
    let registry = |cause| ResolveError::Registry {
        reference: reference.to_owned(),
        cause: Box::new(cause),
    };
    let answer = answer.map_err(registry)?;
    match answer.get("model_version") {
        Some(mv @ Value::Object(_)) => Ok(mv.clone()),
        _ => Err(registry(MlflowError::BadResponse {
            endpoint: endpoint.into(),
            detail: format!("no model_version in {answer}"),
        })),
    }
}

/// The text of the version's `model.json`: through the artifact proxy for a
/// `mlflow-artifacts:` source, through the run's artifact URI for `runs:/`, else through the
/// URI the server gives for downloading the version.
fn download_model(
    client: &Client,
    reference: &str,
    name: &str,
    version: &str,
    source_uri: &str,
) -> Result<String, ResolveError> {
    let failed = |what: &str, cause| ResolveError::Download {
        reference: reference.to_owned(),
        version: version.to_owned(),
        what: what.to_owned(),
        cause: Box::new(cause),
    };
    let folder = match proxy_folder(client, source_uri) {
        Ok(f) => f,
        Err(first) => {
            let ep = "model-versions/get-download-uri";
            let uri = client
                .get(ep, &[("name", name), ("version", version)])
                .ok()
                .and_then(|v| v.get("artifact_uri")?.as_str().map(str::to_owned));
            match uri.map(|u| proxy_folder(client, &u)) {
                Some(Ok(f)) => f,
                _ => return Err(failed(source_uri, first)),
            }
        }
    };
    let rel = if folder.ends_with(".json") {
        folder
    } else {
        format!("{folder}/{MODEL_FILE}")
    };
    client
        .download_text(&rel)
        .map_err(|e| failed(&format!("{source_uri} ({MODEL_FILE})"), e))
}

/// The artifact-proxy path of an artifact URI (`mlflow-artifacts:` or `runs:/RUN/PATH`).
fn proxy_folder(client: &Client, uri: &str) -> Result<String, MlflowError> {
    if let Some(rest) = uri.strip_prefix("runs:/") {
        let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
        let ep = "runs/get";
        let run = client.get(ep, &[("run_id", run_id)])?;
        let base = run
            .pointer("/run/info/artifact_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| MlflowError::BadResponse {
                endpoint: ep.into(),
                detail: format!("no run.info.artifact_uri in {run}"),
            })?;
        let base = mlflow::proxy_path(base)?;
        return Ok(format!("{base}/{}", path.trim_matches('/')));
    }
    mlflow::proxy_path(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(name: &str, selector: Selector) -> ModelRef {
        ModelRef::Registry {
            name: name.into(),
            selector,
        }
    }

    #[test]
    fn parses_versions_aliases_and_paths() {
        assert_eq!(
            "models:/credit-default/7".parse(),
            Ok(reg("credit-default", Selector::Version(7)))
        );
        assert_eq!(
            "models:/credit-default@champion".parse(),
            Ok(reg("credit-default", Selector::Alias("champion".into())))
        );
        assert_eq!(
            "models/default.json".parse(),
            Ok(ModelRef::Path("models/default.json".into()))
        );
        assert_eq!(
            "/abs/model.json".parse(),
            Ok(ModelRef::Path("/abs/model.json".into()))
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "models:/credit-default/12",
            "models:/credit-default@champion",
            "a/b.json",
        ] {
            let r: ModelRef = s.parse().unwrap();
            assert_eq!(r.to_string(), s);
        }
        assert_eq!(
            ModelRef::Shipped.to_string(),
            crate::model_file::SHIPPED_LABEL
        );
    }

    #[test]
    fn refuses_malformed_references() {
        let err = |s: &str| s.parse::<ModelRef>().unwrap_err();
        assert_eq!(err(""), ParseError::Empty);
        assert!(matches!(err("models:/"), ParseError::NoName(_)));
        assert!(matches!(err("models:/@champion"), ParseError::NoName(_)));
        assert!(matches!(err("models:/7"), ParseError::NoSelector(_)));
        assert!(matches!(err("models://7"), ParseError::NoName(_)));
        assert!(matches!(
            err("models:/credit-default"),
            ParseError::NoSelector(_)
        ));
        assert!(matches!(
            err("models:/credit-default@"),
            ParseError::EmptyAlias(_)
        ));
        assert!(matches!(
            err("models:credit-default/1"),
            ParseError::BadScheme(_)
        ));
        for v in ["x", "0", "-1", "+3", "1.5", "Production", ""] {
            let e = err(&format!("models:/credit-default/{v}"));
            assert!(matches!(e, ParseError::BadVersion { .. }), "{v}: {e:?}");
            assert!(e.to_string().contains("credit-default"), "{e}");
        }
    }

    #[test]
    fn sources_describe_and_serialize() {
        let s = Source::Registry {
            reference: "models:/credit-default@champion".into(),
            registered_model: "credit-default".into(),
            version: "7".into(),
            alias: Some("champion".into()),
            run_id: Some("abc".into()),
            source_uri: "mlflow-artifacts:/1/abc/artifacts/model".into(),
        };
        assert_eq!(s.describe(), "models:/credit-default@champion (version 7)");
        let j = s.to_json();
        assert_eq!(j["kind"], "registry");
        assert_eq!(j["registry_version"], "7");
        assert_eq!(j["alias"], "champion");
        assert_eq!(j["run_id"], "abc");
        assert_eq!(Source::Shipped.to_json(), json!({"kind": "shipped"}));
        let f = Source::File {
            path: "m.json".into(),
        };
        assert_eq!(f.to_json(), json!({"kind": "file", "path": "m.json"}));
        assert_eq!(f.registry_version(), None);
    }

    #[test]
    fn files_and_the_shipped_model_resolve_without_a_server() {
        let r = resolve(&ModelRef::Shipped).unwrap();
        assert_eq!(r.text, credit_core::shipped::MODEL_JSON);
        assert_eq!(r.source, Source::Shipped);
        let e = resolve(&ModelRef::Path("no/such/model.json".into())).unwrap_err();
        assert!(e.to_string().contains("no/such/model.json"), "{e}");
    }

    #[test]
    fn registry_reference_without_tracking_uri_says_so() {
        // Only this test touches the variable in this process's unit tests.
        if std::env::var_os("MLFLOW_TRACKING_URI").is_some() {
            return;
        }
        let r: ModelRef = "models:/credit-default@champion".parse().unwrap();
        let e = resolve(&r).unwrap_err();
        assert!(matches!(e, ResolveError::NoTrackingUri { .. }), "{e:?}");
        assert!(e.to_string().contains("MLFLOW_TRACKING_URI"), "{e}");
        assert!(
            e.to_string().contains("models:/credit-default@champion"),
            "{e}"
        );
    }
}
