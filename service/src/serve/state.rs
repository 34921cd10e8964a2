//! Shared state: the model behind an `ArcSwap` (a reload swaps one pointer; requests in flight
//! finish with the model they started with), the journal handle, metrics and configuration.

use super::config::ServeConfig;
use super::log::{JournalHandle, ModelTag};
use super::metrics::Metrics;
use crate::model_ref::{ModelRef, ResolveError, Resolved, Source};
use arc_swap::ArcSwap;
use axum::body::Bytes;
use credit_core::{ModelError, Scorecard, FEATURES, N_FEATURES};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Why a model artifact could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file cannot be read, or the registry cannot resolve or serve the reference.
    #[error(transparent)]
    Unavailable(#[from] ResolveError),
    // `cause`, not `source`: the message already holds it (`{:#}` would print it twice).
    #[error("{model} refused: {cause}")]
    Invalid { model: String, cause: ModelError },
    #[error("the loading task failed: {0}")]
    Task(String),
}

impl LoadError {
    /// HTTP status for `/admin/reload`: 422 when the artifact itself is bad, 409 when it cannot be read.
    pub fn status(&self) -> u16 {
        match self {
            LoadError::Unavailable(_) | LoadError::Task(_) => 409,
            LoadError::Invalid { .. } => 422,
        }
    }
}

/// What a successful reload swapped in.
#[derive(Debug)]
pub struct Reloaded {
    pub version: String,
    pub previous_version: String,
    pub source: Source,
}

/// A model ready to serve, with what the handlers need precomputed.
pub struct LoadedModel {
    pub scorecard: Scorecard,
    pub version: String,
    pub checksum: String,
    pub tag: Arc<ModelTag>,
    /// Reason texts per feature, JSON-escaped once (the hot path writes them verbatim).
    pub reason_json: [String; N_FEATURES],
    /// `GET /model` body.
    pub info_json: String,
    /// The version as a JSON string literal (quoted, escaped).
    pub version_json: String,
    /// The artifact's text exactly as it was read: `GET /model/artifact` serves these bytes, so
    /// the browser page scores with the very model this instance serves.
    pub artifact: Bytes,
    /// Where the artifact came from (`GET /model`'s `source`).
    pub source: Source,
}

/// Resolves (file, shipped, registry), validates (checksum, schema) and compiles a model.
/// Blocking: async callers run it on a blocking thread.
pub fn load_model(model: &ModelRef) -> Result<LoadedModel, LoadError> {
    let Resolved { text, source } = crate::model_ref::resolve(model)?;
    let scorecard = Scorecard::from_json(&text).map_err(|e| LoadError::Invalid {
        model: source.describe(),
        cause: e,
    })?;
    let art = scorecard.artifact();
    let version = scorecard.model_version().to_owned();
    let checksum = art.checksum.clone().unwrap_or_default();
    let reason_codes: [String; N_FEATURES] =
        std::array::from_fn(|j| scorecard.reason_code(j).to_owned());
    let reason_json: [String; N_FEATURES] = std::array::from_fn(|j| {
        let code = serde_json::to_string(scorecard.reason_code(j)).unwrap_or_default();
        let feature = serde_json::to_string(FEATURES[j].name).unwrap_or_default();
        let text = serde_json::to_string(scorecard.reason_text(j)).unwrap_or_default();
        format!("{{\"code\":{code},\"feature\":{feature},\"text\":{text},\"points_lost\":")
    });
    let features: Vec<_> = FEATURES
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "alias": f.alias,
                "description": f.description,
                "range": f.range_text(),
                "min": f.min,
                "max": f.max,
                "kind": f.kind,
                "optional": f.optional,
                "special_codes": f.special_codes,
            })
        })
        .collect();
    let info = json!({
        "model_id": art.model_id,
        "model_version": version,
        "checksum": checksum,
        "threshold": scorecard.threshold(),
        "created_by": art.created_by,
        "metrics": {
            "cv_auc_mean": art.metrics.cv_auc_mean,
            "cv_auc_std": art.metrics.cv_auc_std,
            "cv": art.metrics.cv,
            "train": art.metrics.train,
        },
        "training_data": art.training_data,
        "features": features,
        "source": source.to_json(),
    });
    Ok(LoadedModel {
        tag: Arc::new(ModelTag::new(version.clone(), reason_codes)),
        info_json: info.to_string(),
        version_json: serde_json::to_string(&version).unwrap_or_else(|_| "\"\"".into()),
        reason_json,
        version,
        checksum,
        scorecard,
        artifact: Bytes::from(text),
        source,
    })
}

struct Inner {
    model: ArcSwap<LoadedModel>,
    config: ServeConfig,
    journal: JournalHandle,
    metrics: Arc<Metrics>,
    draining: AtomicBool,
    /// Serializes reloads (two admins reloading at once get a consistent previous_version) and
    /// holds the current model reference: the configured one until a reload names another.
    reload_lock: tokio::sync::Mutex<ModelRef>,
}

/// Cheap to clone; shared by all handlers.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    pub fn new(
        config: ServeConfig,
        model: LoadedModel,
        journal: JournalHandle,
        metrics: Arc<Metrics>,
    ) -> AppState {
        let reference = config.model.clone();
        AppState(Arc::new(Inner {
            model: ArcSwap::from_pointee(model),
            config,
            journal,
            metrics,
            draining: AtomicBool::new(false),
            reload_lock: tokio::sync::Mutex::new(reference),
        }))
    }

    /// The model now (a request keeps this `Arc` to the end, whatever reloads happen).
    pub fn model(&self) -> Arc<LoadedModel> {
        self.0.model.load_full()
    }

    pub fn config(&self) -> &ServeConfig {
        &self.0.config
    }

    pub fn journal(&self) -> &JournalHandle {
        &self.0.journal
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub fn set_draining(&self) {
        self.0.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::SeqCst)
    }

    /// Resolves `model` (or the current reference) and swaps it in; on error the old model and
    /// reference stay. A model given here becomes the current reference, so a later SIGHUP or
    /// bodiless reload re-resolves it rather than the start-up one. The lock is held across the
    /// resolution: bounded, since every registry request has a timeout.
    pub async fn reload(&self, model: Option<ModelRef>) -> Result<Reloaded, LoadError> {
        let mut current = self.0.reload_lock.lock().await;
        let reference = model.unwrap_or_else(|| current.clone());
        let r = reference.clone();
        let loaded = tokio::task::spawn_blocking(move || load_model(&r))
            .await
            .map_err(|e| LoadError::Task(e.to_string()))?;
        match loaded {
            Ok(m) => {
                let source = m.source.clone();
                let version = m.version.clone();
                let old = self.0.model.swap(Arc::new(m));
                *current = reference;
                self.0.metrics.reloads_ok.fetch_add(1, Ordering::Relaxed);
                Ok(Reloaded {
                    version,
                    previous_version: old.version.clone(),
                    source,
                })
            }
            Err(e) => {
                self.0
                    .metrics
                    .reloads_refused
                    .fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }
}
