//! The training report for a credit-risk analyst: `metrics.json`, `oof.csv` (out-of-fold
//! predictions, so anyone can recompute the metrics) and `index.html`, a self-contained page
//! (inline SVG, no scripts, no CDN) with ROC, KS, score distributions, calibration and each
//! feature's points curve.

use anyhow::Result;
use credit_core::metrics::roc_curve;
use credit_core::train::TrainOutcome;
use credit_core::FEATURES;
use std::fmt::Write as _;
use std::path::Path;

const W: f64 = 420.0;
const H: f64 = 300.0;
const PAD: f64 = 40.0;

/// A minimal line/bar chart on fixed axes, written as SVG.
struct Chart {
    svg: String,
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Chart {
    fn new(title: &str, x: (f64, f64), y: (f64, f64), xlabel: &str, ylabel: &str) -> Chart {
        let mut svg = String::new();
        let _ = write!(
            svg,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{title}"><rect width="100%" height="100%" fill="#fff"/><text x="{}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{title}</text>"##,
            W / 2.0
        );
        let mut c = Chart {
            svg,
            x0: x.0,
            x1: x.1,
            y0: y.0,
            y1: y.1,
        };
        c.axes(xlabel, ylabel);
        c
    }

    fn px(&self, x: f64) -> f64 {
        PAD + (x - self.x0) / (self.x1 - self.x0) * (W - 2.0 * PAD)
    }

    fn py(&self, y: f64) -> f64 {
        H - PAD - (y - self.y0) / (self.y1 - self.y0) * (H - 2.0 * PAD)
    }

    fn axes(&mut self, xlabel: &str, ylabel: &str) {
        let (l, r, t, b) = (PAD, W - PAD, PAD, H - PAD);
        let _ = write!(
            self.svg,
            r##"<path d="M{l} {t}V{b}H{r}" stroke="#333" fill="none"/><text x="{}" y="{}" text-anchor="middle" font-size="11">{xlabel}</text><text x="12" y="{}" text-anchor="middle" font-size="11" transform="rotate(-90 12 {})">{ylabel}</text>"##,
            (l + r) / 2.0,
            H - 8.0,
            (t + b) / 2.0,
            (t + b) / 2.0
        );
        for k in 0..=4 {
            let fx = self.x0 + (self.x1 - self.x0) * f64::from(k) / 4.0;
            let fy = self.y0 + (self.y1 - self.y0) * f64::from(k) / 4.0;
            let _ = write!(
                self.svg,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9">{}</text><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="9">{}</text>"##,
                self.px(fx),
                b + 12.0,
                tick(fx),
                l - 3.0,
                self.py(fy) + 3.0,
                tick(fy)
            );
        }
    }

    fn line(&mut self, pts: &[(f64, f64)], color: &str, label: Option<(&str, usize)>) {
        if pts.is_empty() {
            return;
        }
        let mut d = String::new();
        for (i, (x, y)) in pts.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1} {:.1}",
                if i == 0 { "M" } else { "L" },
                self.px(*x),
                self.py(*y)
            );
        }
        let _ = write!(
            self.svg,
            r##"<path d="{d}" stroke="{color}" stroke-width="1.6" fill="none"/>"##
        );
        if let Some((text, row)) = label {
            let y = PAD + 14.0 * row as f64;
            let _ = write!(
                self.svg,
                r##"<rect x="{}" y="{}" width="10" height="3" fill="{color}"/><text x="{}" y="{}" font-size="10">{text}</text>"##,
                W - PAD - 120.0,
                y - 3.0,
                W - PAD - 106.0,
                y
            );
        }
    }

    fn dots(&mut self, pts: &[(f64, f64)], color: &str) {
        for (x, y) in pts {
            let _ = write!(
                self.svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"/>"##,
                self.px(*x),
                self.py(*y)
            );
        }
    }

    fn finish(mut self) -> String {
        self.svg.push_str("</svg>");
        self.svg
    }
}

fn tick(v: f64) -> String {
    if v.abs() >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Thins a curve to at most `n` points (keeps the ends).
fn thin<T: Copy>(v: &[T], n: usize) -> Vec<T> {
    if v.len() <= n {
        return v.to_vec();
    }
    let step = v.len() as f64 / n as f64;
    let mut out: Vec<T> = (0..n).map(|i| v[(i as f64 * step) as usize]).collect();
    if let Some(last) = v.last() {
        out.push(*last);
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
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

pub fn write(dir: &Path, outcome: &TrainOutcome) -> Result<()> {
    std::fs::create_dir_all(dir)?;
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
    std::fs::write(
        dir.join("metrics.json"),
        serde_json::to_string_pretty(&metrics)? + "\n",
    )?;
    write_oof(&dir.join("oof.csv"), outcome)?;

    let (p, y) = (&outcome.oof, &outcome.labels);
    let roc = roc_curve(p, y);
    let m = &art.metrics;
    let mut charts = Vec::new();

    let mut c = Chart::new(
        "ROC (out of fold)",
        (0.0, 1.0),
        (0.0, 1.0),
        "false positive rate",
        "true positive rate",
    );
    c.line(&[(0.0, 0.0), (1.0, 1.0)], "#bbb", None);
    let pts: Vec<(f64, f64)> = thin(&roc, 400).iter().map(|r| (r.fpr, r.tpr)).collect();
    c.line(&pts, "#1f77b4", Some((&format!("AUC {:.4}", m.cv.auc), 8)));
    charts.push(c.finish());

    // KS: cumulative share of goods and bads by score (points).
    let s = &art.scaling;
    let score = |p: f64| s.offset - s.factor * (p / (1.0 - p)).ln();
    let mut scored: Vec<(f64, u8)> = p.iter().zip(y).map(|(&p, &y)| (score(p), y)).collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (n_bad, n_all) = (
        scored.iter().filter(|x| x.1 == 1).count() as f64,
        scored.len() as f64,
    );
    let (lo, hi) = (
        scored.first().map_or(300.0, |x| x.0).floor(),
        scored.last().map_or(800.0, |x| x.0).ceil(),
    );
    let (mut cb, mut cg) = (0.0, 0.0);
    let mut bad_curve = Vec::new();
    let mut good_curve = Vec::new();
    for (k, (sc, lab)) in scored.iter().enumerate() {
        if *lab == 1 {
            cb += 1.0;
        } else {
            cg += 1.0;
        }
        if k % 200 == 0 || k + 1 == scored.len() {
            bad_curve.push((*sc, cb / n_bad));
            good_curve.push((*sc, cg / (n_all - n_bad)));
        }
    }
    let mut c = Chart::new(
        "KS: cumulative share by score",
        (lo, hi),
        (0.0, 1.0),
        "score (points)",
        "cumulative share",
    );
    c.line(&bad_curve, "#d62728", Some(("defaults", 8)));
    c.line(&good_curve, "#2ca02c", Some(("non-defaults", 9)));
    c.line(
        &[(art.threshold.score, 0.0), (art.threshold.score, 1.0)],
        "#999",
        Some((&format!("KS {:.3}", m.cv.ks), 10)),
    );
    charts.push(c.finish());

    // Score distribution by class (share per 10-point band).
    let bands = ((hi - lo) / 10.0).ceil().max(1.0) as usize;
    let mut hb = vec![0.0; bands + 1];
    let mut hg = vec![0.0; bands + 1];
    for (sc, lab) in &scored {
        let b = (((sc - lo) / 10.0) as usize).min(bands);
        if *lab == 1 {
            hb[b] += 1.0 / n_bad;
        } else {
            hg[b] += 1.0 / (n_all - n_bad);
        }
    }
    let top = hb.iter().chain(&hg).copied().fold(0.0, f64::max) * 1.1;
    let mut c = Chart::new(
        "Score distribution by class",
        (lo, hi),
        (0.0, top.max(0.01)),
        "score (points)",
        "share of class",
    );
    let to_pts = |h: &[f64]| -> Vec<(f64, f64)> {
        h.iter()
            .enumerate()
            .map(|(i, v)| (lo + 10.0 * i as f64 + 5.0, *v))
            .collect()
    };
    c.line(&to_pts(&hb), "#d62728", Some(("defaults", 8)));
    c.line(&to_pts(&hg), "#2ca02c", Some(("non-defaults", 9)));
    charts.push(c.finish());

    let cal_max = m
        .calibration
        .iter()
        .map(|b| b.mean_predicted.max(b.observed_rate))
        .fold(0.0, f64::max)
        * 1.1;
    let mut c = Chart::new(
        "Calibration (deciles, out of fold)",
        (0.0, cal_max),
        (0.0, cal_max),
        "mean predicted",
        "observed default rate",
    );
    c.line(&[(0.0, 0.0), (cal_max, cal_max)], "#bbb", None);
    let cal: Vec<(f64, f64)> = m
        .calibration
        .iter()
        .map(|b| (b.mean_predicted, b.observed_rate))
        .collect();
    c.line(&cal, "#1f77b4", None);
    c.dots(&cal, "#1f77b4");
    charts.push(c.finish());

    let mut feature_charts = Vec::new();
    for (j, card) in art.features.iter().enumerate() {
        let pts: Vec<(f64, f64)> = card
            .range_bins
            .iter()
            .enumerate()
            .map(|(k, b)| (k as f64, b.points))
            .collect();
        let all: Vec<f64> = card.all_bins().map(|b| b.points).collect();
        let (pmin, pmax) = all
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let mut c = Chart::new(
            &format!("{} points by bin", FEATURES[j].name),
            (0.0, (card.range_bins.len().max(2) - 1) as f64),
            ((pmin - 5.0).floor(), (pmax + 5.0).ceil()),
            "bin (low to high value)",
            "points",
        );
        c.line(&pts, "#1f77b4", None);
        let mut table = String::new();
        for b in card.all_bins() {
            let _ = write!(
                table,
                "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.1}</td></tr>",
                esc(&b.label),
                b.count,
                b.event_rate,
                b.points
            );
        }
        feature_charts.push(format!(
            "<section><h3>{} <small>({})</small></h3>{}<details><summary>bins</summary><table><tr><th>bin</th><th>rows</th><th>default rate</th><th>points</th></tr>{}</table></details></section>",
            esc(FEATURES[j].name),
            esc(&card.reason_code),
            c.finish(),
            table
        ));
    }
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
    let html = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Scorecard report {ver}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}.grid{{display:flex;flex-wrap:wrap;gap:12px}}svg{{max-width:100%;height:auto;border:1px solid #eee}}table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:2px 8px;text-align:right}}section{{display:inline-block;vertical-align:top;margin:6px}}</style></head><body>
<h1>Scorecard {ver}</h1>
<p>Trained on {rows} rows ({pos} defaults, {excl} excluded as invalid), data sha256 <code>{sha}</code>.
Method: {method}; {bins} max bins, L2 alpha {alpha}.</p>
<h2>Out-of-fold metrics ({k}-fold stratified CV)</h2>
<table><tr><th>AUC</th><th>Gini</th><th>KS</th><th>Brier</th><th>log loss</th><th>mean fold AUC</th></tr>
<tr><td>{auc:.5}</td><td>{gini:.5}</td><td>{ks:.4}</td><td>{brier:.5}</td><td>{ll:.5}</td><td>{mean:.5} ± {std:.5}</td></tr></table>
<h3>Folds</h3><table><tr><th>fold</th><th>rows</th><th>AUC</th><th>KS</th><th>Brier</th><th>log loss</th></tr>{folds}</table>
<p>Decision threshold: probability ≥ {thr:.5} (score ≤ {thr_score:.1}); policy <code>{policy}</code>: {desc}</p>
<p>Regulation B: age points at 62+ are at least those of every younger band (min elderly {me:.2} ≥ max younger {my:.2}; {adj} bins adjusted); age is never a reason for applicants aged 62 or more.</p>
<div class="grid">{charts}</div>
<h2>Points per feature</h2>{features}
</body></html>
"#,
        ver = esc(&art.model_version),
        rows = art.training_data.rows,
        pos = art.training_data.positives,
        excl = art.training_data.rows_excluded,
        sha = art.training_data.sha256,
        method = esc(&art.training.method),
        bins = art.training.max_bins,
        alpha = art.training.l2_alpha,
        k = art.training.folds,
        auc = m.cv.auc,
        gini = m.cv.gini,
        ks = m.cv.ks,
        brier = m.cv.brier,
        ll = m.cv.log_loss,
        mean = m.cv_auc_mean,
        std = m.cv_auc_std,
        thr = art.threshold.probability,
        thr_score = art.threshold.score,
        policy = esc(&art.threshold.policy),
        desc = esc(&art.threshold.description),
        me = art.age_policy.min_elderly_points,
        my = art.age_policy.max_younger_points,
        adj = art.age_policy.adjusted_bins,
        charts = charts.join("\n"),
        features = feature_charts.join("\n"),
    );
    std::fs::write(dir.join("index.html"), html)?;
    Ok(())
}
