//! The four summary charts at the top of the report, one function each: ROC, KS, the score
//! distribution by class and calibration, all from the out-of-fold predictions (so they show
//! how the model ranks and calibrates rows it was not fitted on).

use super::chart::{thin, Chart};
use credit_core::artifact::{ModelArtifact, ModelMetrics};
use credit_core::metrics::roc_curve;
use credit_core::train::TrainOutcome;

/// A curve's points in data units.
type Curve = Vec<(f64, f64)>;

/// The summary charts in page order.
pub(super) fn summary(outcome: &TrainOutcome) -> Vec<String> {
    let art = &outcome.artifact;
    let scored = Scored::new(outcome);
    vec![
        roc(outcome),
        ks(&scored, art),
        score_distribution(&scored),
        calibration(&art.metrics),
    ]
}

/// The out-of-fold predictions as scores (points), sorted, with the class counts and the score
/// range rounded out to whole points: what the KS and distribution charts share.
struct Scored {
    rows: Vec<(f64, u8)>,
    n_bad: f64,
    n_all: f64,
    lo: f64,
    hi: f64,
}

impl Scored {
    fn new(outcome: &TrainOutcome) -> Scored {
        let s = &outcome.artifact.scaling;
        let score = |p: f64| s.offset - s.factor * (p / (1.0 - p)).ln();
        let mut rows: Vec<(f64, u8)> = outcome
            .oof
            .iter()
            .zip(&outcome.labels)
            .map(|(&p, &y)| (score(p), y))
            .collect();
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        Scored {
            n_bad: rows.iter().filter(|x| x.1 == 1).count() as f64,
            n_all: rows.len() as f64,
            lo: rows.first().map_or(300.0, |x| x.0).floor(),
            hi: rows.last().map_or(800.0, |x| x.0).ceil(),
            rows,
        }
    }

    /// Cumulative shares of defaults and of non-defaults up to each score, every 200th row and
    /// the last (enough points for a smooth curve, a small SVG).
    fn cumulative(&self) -> (Curve, Curve) {
        let (mut cb, mut cg) = (0.0, 0.0);
        let mut bad_curve = Vec::new();
        let mut good_curve = Vec::new();
        for (k, (sc, lab)) in self.rows.iter().enumerate() {
            if *lab == 1 {
                cb += 1.0;
            } else {
                cg += 1.0;
            }
            if k % 200 == 0 || k + 1 == self.rows.len() {
                bad_curve.push((*sc, cb / self.n_bad));
                good_curve.push((*sc, cg / (self.n_all - self.n_bad)));
            }
        }
        (bad_curve, good_curve)
    }
}

fn roc(outcome: &TrainOutcome) -> String {
    let roc = roc_curve(&outcome.oof, &outcome.labels);
    let auc = outcome.artifact.metrics.cv.auc;
    let mut c = Chart::new(
        "ROC (out of fold)",
        (0.0, 1.0),
        (0.0, 1.0),
        "false positive rate",
        "true positive rate",
    );
    c.line(&[(0.0, 0.0), (1.0, 1.0)], "#bbb", None);
    let pts: Vec<(f64, f64)> = thin(&roc, 400).iter().map(|r| (r.fpr, r.tpr)).collect();
    c.line(&pts, "#1f77b4", Some((&format!("AUC {auc:.4}"), 8)));
    c.finish()
}

/// KS: cumulative share of goods and bads by score (points), with the decision threshold.
fn ks(scored: &Scored, art: &ModelArtifact) -> String {
    let (bad_curve, good_curve) = scored.cumulative();
    let mut c = Chart::new(
        "KS: cumulative share by score",
        (scored.lo, scored.hi),
        (0.0, 1.0),
        "score (points)",
        "cumulative share",
    );
    c.line(&bad_curve, "#d62728", Some(("defaults", 8)));
    c.line(&good_curve, "#2ca02c", Some(("non-defaults", 9)));
    c.line(
        &[(art.threshold.score, 0.0), (art.threshold.score, 1.0)],
        "#999",
        Some((&format!("KS {:.3}", art.metrics.cv.ks), 10)),
    );
    c.finish()
}

/// Score distribution by class: each class's share per 10-point band.
fn score_distribution(scored: &Scored) -> String {
    let (lo, hi) = (scored.lo, scored.hi);
    let bands = ((hi - lo) / 10.0).ceil().max(1.0) as usize;
    let mut hb = vec![0.0; bands + 1];
    let mut hg = vec![0.0; bands + 1];
    for (sc, lab) in &scored.rows {
        let b = (((sc - lo) / 10.0) as usize).min(bands);
        if *lab == 1 {
            hb[b] += 1.0 / scored.n_bad;
        } else {
            hg[b] += 1.0 / (scored.n_all - scored.n_bad);
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
    c.finish()
}

/// Calibration: observed default rate against mean predicted probability per decile.
fn calibration(m: &ModelMetrics) -> String {
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
    c.finish()
}
