//! Binary-classifier metrics computed the standard way (AUC with tied ranks, KS, Brier, log
//! loss, calibration), so that they can be checked against scikit-learn.

use crate::artifact::{CalibrationBin, Metrics};

/// Indices sorted by score, ascending; ties keep input order (stable, deterministic).
fn order(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    idx
}

/// Area under the ROC curve (Mann-Whitney U with average ranks for ties).
pub fn auc(scores: &[f64], labels: &[u8]) -> f64 {
    let idx = order(scores);
    let n_pos = labels.iter().filter(|&&y| y == 1).count() as f64;
    let n_neg = labels.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return f64::NAN;
    }
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]].total_cmp(&scores[idx[i]]).is_eq() {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if labels[k] == 1 {
                rank_sum += avg_rank;
            }
        }
        i = j + 1;
    }
    (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// One point of a ROC curve: predicting 1 for scores `>= threshold`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct RocPoint {
    pub threshold: f64,
    pub fpr: f64,
    pub tpr: f64,
}

/// The ROC curve, one point per distinct score (descending thresholds).
pub fn roc_curve(scores: &[f64], labels: &[u8]) -> Vec<RocPoint> {
    let mut idx = order(scores);
    idx.reverse();
    let n_pos = labels.iter().filter(|&&y| y == 1).count() as f64;
    let n_neg = labels.len() as f64 - n_pos;
    let mut out = vec![RocPoint {
        threshold: f64::INFINITY,
        fpr: 0.0,
        tpr: 0.0,
    }];
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let s = scores[idx[i]];
        // `total_cmp`, not `==`: a NaN score must still advance (NaN != NaN would loop forever).
        while i < idx.len() && scores[idx[i]].total_cmp(&s).is_eq() {
            if labels[idx[i]] == 1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        out.push(RocPoint {
            threshold: s,
            fpr: if n_neg > 0.0 { fp / n_neg } else { 0.0 },
            tpr: if n_pos > 0.0 { tp / n_pos } else { 0.0 },
        });
    }
    out
}

/// Kolmogorov-Smirnov statistic and the threshold where it is reached (`>= threshold` → 1).
pub fn ks(scores: &[f64], labels: &[u8]) -> (f64, f64) {
    roc_curve(scores, labels)
        .into_iter()
        .map(|p| (p.tpr - p.fpr, p.threshold))
        .fold((0.0, f64::INFINITY), |best, cur| {
            if cur.0 > best.0 {
                cur
            } else {
                best
            }
        })
}

pub fn brier(p: &[f64], labels: &[u8]) -> f64 {
    p.iter()
        .zip(labels)
        .map(|(&p, &y)| (p - f64::from(y)).powi(2))
        .sum::<f64>()
        / p.len() as f64
}

/// Mean negative log-likelihood, probabilities clipped to `[1e-15, 1 - 1e-15]` as scikit-learn does.
pub fn log_loss(p: &[f64], labels: &[u8]) -> f64 {
    p.iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            if y == 1 {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum::<f64>()
        / p.len() as f64
}

/// All metrics of probabilities `p` against `labels`.
pub fn metrics(p: &[f64], labels: &[u8]) -> Metrics {
    let a = auc(p, labels);
    Metrics {
        rows: p.len() as u64,
        positives: labels.iter().filter(|&&y| y == 1).count() as u64,
        auc: a,
        gini: 2.0 * a - 1.0,
        ks: ks(p, labels).0,
        brier: brier(p, labels),
        log_loss: log_loss(p, labels),
    }
}

/// Calibration table over `bins` equal-count groups of predicted probability.
pub fn calibration(p: &[f64], labels: &[u8], bins: usize) -> Vec<CalibrationBin> {
    let idx = order(p);
    let n = idx.len();
    (0..bins)
        .filter_map(|b| {
            let (lo, hi) = (b * n / bins, (b + 1) * n / bins);
            if lo >= hi {
                return None;
            }
            let part = &idx[lo..hi];
            let rows = part.len() as f64;
            Some(CalibrationBin {
                rows: part.len() as u64,
                mean_predicted: part.iter().map(|&i| p[i]).sum::<f64>() / rows,
                observed_rate: part.iter().map(|&i| f64::from(labels[i])).sum::<f64>() / rows,
                min_predicted: p[part[0]],
                max_predicted: p[part[part.len() - 1]],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_scores_terminate() {
        // A NaN score once made `roc_curve` loop forever, growing its output until out of memory.
        let scores = [0.2, f64::NAN, 0.7, f64::NAN, 0.2];
        let labels = [0, 1, 1, 0, 0];
        let roc = roc_curve(&scores, &labels);
        assert_eq!(roc.len(), 4, "{roc:?}"); // the start point and three distinct scores
        assert!(auc(&scores, &labels).is_finite());
        let _ = ks(&scores, &labels);
        assert_eq!(calibration(&scores, &labels, 2).len(), 2);
    }

    #[test]
    fn auc_with_ties() {
        // sklearn.metrics.roc_auc_score([0,0,1,1,0,1], [0.1,0.4,0.35,0.8,0.4,0.4]) == 0.6666...
        let y = [0, 0, 1, 1, 0, 1];
        let s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4];
        assert!((auc(&s, &y) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(auc(&[0.1, 0.9], &[0, 1]), 1.0);
        assert_eq!(auc(&[0.9, 0.1], &[0, 1]), 0.0);
    }

    #[test]
    fn ks_and_losses() {
        let y = [0, 1];
        let (k, t) = ks(&[0.2, 0.7], &y);
        assert_eq!((k, t), (1.0, 0.7));
        assert!((brier(&[0.2, 0.7], &y) - (0.04 + 0.09) / 2.0).abs() < 1e-15);
        assert!((log_loss(&[0.5, 0.5], &y) - std::f64::consts::LN_2).abs() < 1e-15);
        let c = calibration(&[0.1, 0.2, 0.3, 0.4], &[0, 0, 1, 1], 2);
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].observed_rate, 1.0);
    }
}
