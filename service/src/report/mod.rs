//! The training report for a credit-risk analyst: `metrics.json`, `oof.csv` (out-of-fold
//! predictions, so anyone can recompute the metrics) and `index.html`, a self-contained page
//! (inline SVG, no scripts, no CDN) with ROC, KS, score distributions, calibration, each
//! feature's points curve and, for a model with interaction cells, the candidate pairs' gains
//! and a heat map per selected pair.
//!
//! One module per part of the page, so that each drawing function fits on a screen: `chart`
//! (the SVG line-chart helper), `charts` (the four summary charts), `features` (points per
//! feature), `cells` (the interaction section) and `page` (the HTML around them).

use anyhow::Result;
use credit_core::train::TrainOutcome;
use std::path::Path;

mod cells;
mod chart;
mod charts;
mod features;
mod page;
#[cfg(test)]
mod tests;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The rows of a table of bins or cells (label, rows, default rate, points): the feature
/// sections and the cells' sections show their `Bin`s alike.
fn bin_rows<'a>(bins: impl IntoIterator<Item = &'a credit_core::artifact::Bin>) -> String {
    use std::fmt::Write as _;
    let mut table = String::new();
    for b in bins {
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.1}</td></tr>",
            esc(&b.label),
            b.count,
            b.event_rate,
            b.points
        );
    }
    table
}

/// Out-of-fold predictions: the data row (0-based, in file order), its fold, label and
/// probability, so that anyone can recompute the metrics or fit another learner on the same folds.
pub fn write_oof(path: &Path, outcome: &TrainOutcome) -> Result<()> {
    let mut oof = csv::Writer::from_path(path)?;
    oof.write_record(["row", "fold", "label", "probability"])?;
    for (k, &i) in outcome.used_rows.iter().enumerate() {
        oof.write_record([
            i.to_string(),
            outcome.fold_of[k].to_string(),
            outcome.labels[k].to_string(),
            format!("{:?}", outcome.oof[k]),
        ])?;
    }
    oof.flush()?;
    Ok(())
}

/// The interaction section of `metrics.json`: every candidate pair with its estimated gain (nats
/// of log-likelihood on all rows, FAST Newton estimate) and whether the final model kept it, and
/// the pairs each fold chose on its own training rows. None (no section) for an additive model.
fn interactions_json(outcome: &TrainOutcome) -> Option<serde_json::Value> {
    if outcome.pair_gains.is_empty() {
        return None;
    }
    let pairs: Vec<_> = outcome
        .pair_gains
        .iter()
        .map(
            |g| serde_json::json!({"features": g.features, "gain": g.gain, "selected": g.selected}),
        )
        .collect();
    Some(serde_json::json!({"pairs": pairs, "fold_pairs": outcome.fold_pairs}))
}

/// `metrics.json`: the artifact's metrics and policies, plus the interaction section for a
/// model with cells.
fn metrics_json(outcome: &TrainOutcome) -> serde_json::Value {
    let art = &outcome.artifact;
    let mut metrics = serde_json::json!({
        "model_version": art.model_version,
        "training_data": art.training_data,
        "threshold": art.threshold,
        "age_policy": art.age_policy,
        "metrics": art.metrics,
    });
    if let (Some(obj), Some(section)) = (metrics.as_object_mut(), interactions_json(outcome)) {
        obj.insert("interactions".into(), section);
    }
    metrics
}

/// The page: summary charts, points per feature and, for a model with cells, their section.
fn index_html(outcome: &TrainOutcome) -> String {
    let art = &outcome.artifact;
    page::html(
        art,
        &charts::summary(outcome),
        &features::sections(art),
        &cells::section(outcome),
    )
}

/// Writes `metrics.json`, `oof.csv` and `index.html` into `dir` (created if missing).
pub fn write(dir: &Path, outcome: &TrainOutcome) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("metrics.json"),
        serde_json::to_string_pretty(&metrics_json(outcome))? + "\n",
    )?;
    write_oof(&dir.join("oof.csv"), outcome)?;
    std::fs::write(dir.join("index.html"), index_html(outcome))?;
    Ok(())
}
