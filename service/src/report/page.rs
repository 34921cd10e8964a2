//! The page around the charts: head and style, what the model was trained on, the out-of-fold
//! metrics with the per-fold table, the decision and age policies, then the charts, the
//! feature sections and (for a model with cells) the interaction section, in that order.

use super::esc;
use credit_core::artifact::ModelArtifact;
use std::fmt::Write as _;

/// The whole `index.html`. `cells` is empty for an additive model, whose page is then exactly
/// the page of the reports written before the interaction section existed.
pub(super) fn html(
    art: &ModelArtifact,
    charts: &[String],
    features: &[String],
    cells: &str,
) -> String {
    let mut html = head(art);
    html.push_str(&training(art));
    html.push_str(&metrics(art));
    html.push_str(&policies(art));
    let _ = write!(
        html,
        "<div class=\"grid\">{}</div>\n<h2>Points per feature</h2>{}{cells}\n</body></html>\n",
        charts.join("\n"),
        features.join("\n")
    );
    html
}

fn head(art: &ModelArtifact) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Scorecard report {ver}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}.grid{{display:flex;flex-wrap:wrap;gap:12px}}svg{{max-width:100%;height:auto;border:1px solid #eee}}table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:2px 8px;text-align:right}}section{{display:inline-block;vertical-align:top;margin:6px}}</style></head><body>
<h1>Scorecard {ver}</h1>
"#,
        ver = esc(&art.model_version),
    )
}

fn training(art: &ModelArtifact) -> String {
    format!(
        "<p>Trained on {rows} rows ({pos} defaults, {excl} excluded as invalid), data sha256 <code>{sha}</code>.\nMethod: {method}; {bins} max bins, L2 alpha {alpha}.</p>\n",
        rows = art.training_data.rows,
        pos = art.training_data.positives,
        excl = art.training_data.rows_excluded,
        sha = art.training_data.sha256,
        method = esc(&art.training.method),
        bins = art.training.max_bins,
        alpha = art.training.l2_alpha,
    )
}

/// The pooled out-of-fold metrics and one row per fold.
fn metrics(art: &ModelArtifact) -> String {
    let m = &art.metrics;
    let folds: String = m
        .folds
        .iter()
        .enumerate()
        .map(|(i, f)| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{:.5}</td><td>{:.4}</td><td>{:.5}</td><td>{:.5}</td></tr>",
                i + 1,
                f.rows,
                f.auc,
                f.ks,
                f.brier,
                f.log_loss
            )
        })
        .collect();
    format!(
        r#"<h2>Out-of-fold metrics ({k}-fold stratified CV)</h2>
<table><tr><th>AUC</th><th>Gini</th><th>KS</th><th>Brier</th><th>log loss</th><th>mean fold AUC</th></tr>
<tr><td>{auc:.5}</td><td>{gini:.5}</td><td>{ks:.4}</td><td>{brier:.5}</td><td>{ll:.5}</td><td>{mean:.5} ± {std:.5}</td></tr></table>
<h3>Folds</h3><table><tr><th>fold</th><th>rows</th><th>AUC</th><th>KS</th><th>Brier</th><th>log loss</th></tr>{folds}</table>
"#,
        k = art.training.folds,
        auc = m.cv.auc,
        gini = m.cv.gini,
        ks = m.cv.ks,
        brier = m.cv.brier,
        ll = m.cv.log_loss,
        mean = m.cv_auc_mean,
        std = m.cv_auc_std,
    )
}

/// The decision threshold and the Regulation B age policy.
fn policies(art: &ModelArtifact) -> String {
    format!(
        r#"<p>Decision threshold: probability ≥ {thr:.5} (score ≤ {thr_score:.1}); policy <code>{policy}</code>: {desc}</p>
<p>Regulation B: age points at 62+ are at least those of every younger band (min elderly {me:.2} ≥ max younger {my:.2}; {adj} bins adjusted); age is never a reason for applicants aged 62 or more.</p>
"#,
        thr = art.threshold.probability,
        thr_score = art.threshold.score,
        policy = esc(&art.threshold.policy),
        desc = esc(&art.threshold.description),
        me = art.age_policy.min_elderly_points,
        my = art.age_policy.max_younger_points,
        adj = art.age_policy.adjusted_bins,
    )
}
