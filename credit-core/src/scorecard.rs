//! The compiled scorecard: artifact tables laid out for fast lookups, and single-applicant scoring.
//!
//! Counts (age, past-due counts, ...) are looked up in a direct table indexed by value; the three
//! real-valued features use a branchless binary search over their edges. Validation is fused
//! into the lookup (an invalid value maps to [`INVALID`]), so the fast path checks and scores in
//! one pass; only a row that fails takes the slow path that writes the error messages.

use crate::applicant::Applicant;
use crate::artifact::ModelArtifact;
use crate::error::{ModelError, ValidationErrors};
use crate::schema::{FeatureSpec, Kind, AGE, ELDERLY_AGE, FEATURES, N_FEATURES};
use serde::Serialize;

/// Marks a value that fails validation in the lookup tables.
pub(crate) const INVALID: u16 = u16::MAX;

/// Reasons reported per applicant (Regulation B asks for the principal reasons, usually four).
pub const MAX_REASONS: usize = 4;

#[derive(Clone, Debug)]
enum Lookup {
    /// Whole-number feature: `table[v - min]` is the bin (or [`INVALID`]).
    Table { min: f64, table: Vec<u16> },
    /// Real feature: bin = number of edges `<= v`, for `min <= v <= max`.
    Edges { min: f64, max: f64, edges: Vec<f64> },
}

#[derive(Clone, Debug)]
struct FeatureTable {
    lookup: Lookup,
    /// Bin of a missing value ([`INVALID`] for required features).
    missing: u16,
    /// Per bin: contribution to the log-odds, and points. Range bins, then missing, then specials.
    logits: Vec<f64>,
    points: Vec<f64>,
    labels: Vec<String>,
    /// The most points this feature can earn (for reason codes).
    max_points: f64,
}

/// A validated model ready to score. Cheap to share across threads (`Send + Sync`, immutable).
#[derive(Clone, Debug)]
pub struct Scorecard {
    artifact: ModelArtifact,
    intercept: f64,
    threshold: f64,
    suppress_elderly_age_reason: bool,
    tables: Vec<FeatureTable>,
}

/// One reason: a feature that cost the applicant points.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Reason {
    /// Feature index (model column order).
    pub feature: usize,
    /// Points below the best this feature could have earned.
    pub points_lost: f64,
}

/// Up to [`MAX_REASONS`] reasons, largest loss first. Fixed size: scoring does not allocate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reasons {
    len: usize,
    items: [Reason; MAX_REASONS],
}

impl Reasons {
    const EMPTY: Reasons = Reasons {
        len: 0,
        items: [Reason {
            feature: 0,
            points_lost: 0.0,
        }; MAX_REASONS],
    };

    pub fn as_slice(&self) -> &[Reason] {
        &self.items[..self.len]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts keeping the order (largest loss first; ties by feature order).
    #[inline]
    fn offer(&mut self, r: Reason) {
        let mut pos = self.len;
        while pos > 0 && self.items[pos - 1].points_lost < r.points_lost {
            pos -= 1;
        }
        if pos >= MAX_REASONS {
            return;
        }
        let end = if self.len < MAX_REASONS {
            self.len
        } else {
            MAX_REASONS - 1
        };
        let mut k = end;
        while k > pos {
            self.items[k] = self.items[k - 1];
            k -= 1;
        }
        self.items[pos] = r;
        if self.len < MAX_REASONS {
            self.len += 1;
        }
    }
}

/// The answer for one applicant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// Probability of serious delinquency within two years.
    pub probability: f64,
    /// 1 when `probability >= threshold` (the seed API's `prediction`).
    pub prediction: u8,
    /// Score in points (higher = lower risk).
    pub score: f64,
    /// Log-odds of default.
    pub log_odds: f64,
    pub reasons: Reasons,
}

/// One feature's part in a decision, for `explain`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Contribution {
    pub feature: &'static str,
    /// The value used (`None` when missing).
    pub value: Option<f64>,
    pub bin: String,
    pub points: f64,
    pub max_points: f64,
    pub logit: f64,
}

/// A reason with its code and text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReasonDetail {
    pub code: String,
    pub feature: &'static str,
    pub text: String,
    pub points_lost: f64,
}

/// Everything about one decision, for humans.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    pub model_version: String,
    pub probability: f64,
    pub prediction: u8,
    pub score: f64,
    pub threshold: f64,
    pub log_odds: f64,
    pub base_points: f64,
    pub contributions: Vec<Contribution>,
    pub reasons: Vec<ReasonDetail>,
}

/// Logistic function, written once so every path (and every front door) computes it the same way.
#[inline(always)]
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Number of `edges` that are `<= x` (branchless binary search).
#[inline(always)]
fn upper_bound(edges: &[f64], x: f64) -> usize {
    let mut size = edges.len();
    if size == 0 {
        return 0;
    }
    let mut base = 0usize;
    while size > 1 {
        let half = size / 2;
        let mid = base + half;
        base = if edges[mid] <= x { mid } else { base };
        size -= half;
    }
    base + usize::from(edges[base] <= x)
}

impl FeatureTable {
    #[inline(always)]
    fn bin(&self, v: f64) -> u16 {
        if v.is_nan() {
            return self.missing;
        }
        match &self.lookup {
            Lookup::Table { min, table } => {
                let idx = v - min;
                // Also refuses ±inf and negative offsets; `as usize` then cannot saturate wrongly.
                if !(idx >= 0.0 && idx < table.len() as f64) {
                    return INVALID;
                }
                let i = idx as usize;
                if i as f64 != idx {
                    return INVALID;
                }
                table[i]
            }
            Lookup::Edges { min, max, edges } => {
                if !(v >= *min && v <= *max) {
                    return INVALID;
                }
                upper_bound(edges, v) as u16
            }
        }
    }
}

fn compile_feature(spec: &FeatureSpec, card: &crate::artifact::FeatureCard) -> FeatureTable {
    let n_range = card.range_bins.len();
    let mut logits: Vec<f64> = card.range_bins.iter().map(|b| b.logit).collect();
    let mut points: Vec<f64> = card.range_bins.iter().map(|b| b.points).collect();
    let mut labels: Vec<String> = card.range_bins.iter().map(|b| b.label.clone()).collect();
    let missing = match &card.missing_bin {
        Some(b) if spec.optional => {
            logits.push(b.logit);
            points.push(b.points);
            labels.push(b.label.clone());
            (logits.len() - 1) as u16
        }
        _ => INVALID,
    };
    let mut special_index = Vec::new();
    for sb in &card.special_bins {
        logits.push(sb.bin.logit);
        points.push(sb.bin.points);
        labels.push(sb.bin.label.clone());
        special_index.push((sb.codes.clone(), (logits.len() - 1) as u16));
    }
    let lookup = match spec.kind {
        Kind::Count => {
            let top = spec.special_codes.iter().copied().fold(spec.max, f64::max);
            let len = (top - spec.min) as usize + 1;
            let table = (0..len)
                .map(|i| {
                    let v = spec.min + i as f64;
                    if spec.is_special(v) {
                        special_index
                            .iter()
                            .find(|(codes, _)| codes.contains(&v))
                            .map_or(INVALID, |(_, b)| *b)
                    } else if v <= spec.max {
                        upper_bound(&card.edges, v).min(n_range - 1) as u16
                    } else {
                        INVALID
                    }
                })
                .collect();
            Lookup::Table {
                min: spec.min,
                table,
            }
        }
        Kind::Real => Lookup::Edges {
            min: spec.min,
            max: spec.max,
            edges: card.edges.clone(),
        },
    };
    let max_points = points.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    FeatureTable {
        lookup,
        missing,
        logits,
        points,
        labels,
        max_points,
    }
}

impl Scorecard {
    /// Compiles a validated artifact.
    pub fn new(artifact: ModelArtifact) -> Result<Scorecard, ModelError> {
        artifact.validate()?;
        if FEATURES
            .iter()
            .zip(&artifact.features)
            .any(|(s, c)| c.all_bins().count() >= INVALID as usize || s.name != c.name)
        {
            return Err(ModelError::Invalid("too many bins".into()));
        }
        let tables = FEATURES
            .iter()
            .zip(&artifact.features)
            .map(|(s, c)| compile_feature(s, c))
            .collect();
        Ok(Scorecard {
            intercept: artifact.intercept,
            threshold: artifact.threshold.probability,
            suppress_elderly_age_reason: artifact.age_policy.suppress_reason_for_elderly,
            tables,
            artifact,
        })
    }

    /// Parses, verifies (format, checksum, structure) and compiles an artifact.
    pub fn from_json(text: &str) -> Result<Scorecard, ModelError> {
        Scorecard::new(ModelArtifact::from_json(text)?)
    }

    pub fn artifact(&self) -> &ModelArtifact {
        &self.artifact
    }

    pub fn model_version(&self) -> &str {
        &self.artifact.model_version
    }

    /// Probability at or above which `prediction` is 1.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Reason code of a feature (model column order).
    pub fn reason_code(&self, feature: usize) -> &str {
        &self.artifact.features[feature].reason_code
    }

    pub fn reason_text(&self, feature: usize) -> &str {
        &self.artifact.features[feature].reason_text
    }

    /// Bins of a row, or `None` when any value fails validation.
    #[inline(always)]
    fn bins(&self, row: &[f64; N_FEATURES]) -> Option<[u16; N_FEATURES]> {
        let mut bins = [0u16; N_FEATURES];
        let mut bad = false;
        for j in 0..N_FEATURES {
            let b = self.tables[j].bin(row[j]);
            bad |= b == INVALID;
            bins[j] = b;
        }
        (!bad).then_some(bins)
    }

    /// Bin index of every feature (range bins, then missing, then specials), `None` if invalid.
    pub fn bin_indices(&self, row: &[f64; N_FEATURES]) -> Option<[u16; N_FEATURES]> {
        self.bins(row)
    }

    #[inline(always)]
    fn log_odds_of(&self, bins: &[u16; N_FEATURES]) -> f64 {
        let mut z = self.intercept;
        for (t, &b) in self.tables.iter().zip(bins) {
            z += t.logits[b as usize];
        }
        z
    }

    #[inline(always)]
    fn score_of(&self, bins: &[u16; N_FEATURES]) -> f64 {
        let mut s = 0.0;
        for (t, &b) in self.tables.iter().zip(bins) {
            s += t.points[b as usize];
        }
        s
    }

    /// Validation and probability in one pass over a numeric row (NaN = missing);
    /// `None` when the row is invalid (see [`Applicant::from_row`] for why).
    #[inline]
    pub fn try_probability(&self, row: &[f64; N_FEATURES]) -> Option<f64> {
        self.bins(row).map(|b| sigmoid(self.log_odds_of(&b)))
    }

    /// Validation, probability and score in one pass; `None` when the row is invalid.
    #[inline]
    pub fn try_probability_and_score(&self, row: &[f64; N_FEATURES]) -> Option<(f64, f64)> {
        self.bins(row)
            .map(|b| (sigmoid(self.log_odds_of(&b)), self.score_of(&b)))
    }

    /// Probability of default of a validated applicant.
    #[inline]
    pub fn probability(&self, a: &Applicant) -> f64 {
        match self.bins(a.values()) {
            Some(b) => sigmoid(self.log_odds_of(&b)),
            // A validated applicant always has bins; the tables come from the same schema.
            None => f64::NAN,
        }
    }

    /// The full answer for a validated applicant: probability, decision, score, reasons.
    #[inline]
    pub fn predict(&self, a: &Applicant) -> Prediction {
        let row = a.values();
        let Some(bins) = self.bins(row) else {
            // Unreachable for an `Applicant` (it passed the same checks); kept total, not panicking.
            return Prediction {
                probability: f64::NAN,
                prediction: 0,
                score: f64::NAN,
                log_odds: f64::NAN,
                reasons: Reasons::EMPTY,
            };
        };
        let z = self.log_odds_of(&bins);
        let probability = sigmoid(z);
        let mut reasons = Reasons::EMPTY;
        for (j, t) in self.tables.iter().enumerate() {
            let lost = t.max_points - t.points[bins[j] as usize];
            if lost > 1e-9 {
                if j == AGE && self.suppress_elderly_age_reason && row[AGE] >= ELDERLY_AGE {
                    continue;
                }
                reasons.offer(Reason {
                    feature: j,
                    points_lost: lost,
                });
            }
        }
        Prediction {
            probability,
            prediction: u8::from(probability >= self.threshold),
            score: self.score_of(&bins),
            log_odds: z,
            reasons,
        }
    }

    /// Validates and scores JSON text.
    pub fn predict_json(&self, text: &str) -> Result<Prediction, ValidationErrors> {
        Applicant::from_json(text).map(|a| self.predict(&a))
    }

    /// Validates and scores a numeric row (NaN = missing).
    pub fn predict_row(&self, row: &[f64]) -> Result<Prediction, ValidationErrors> {
        Applicant::from_row(row).map(|a| self.predict(&a))
    }

    /// Reasons with their codes and texts.
    pub fn reason_details(&self, p: &Prediction) -> Vec<ReasonDetail> {
        p.reasons
            .as_slice()
            .iter()
            .map(|r| ReasonDetail {
                code: self.reason_code(r.feature).to_owned(),
                feature: FEATURES[r.feature].name,
                text: self.reason_text(r.feature).to_owned(),
                points_lost: r.points_lost,
            })
            .collect()
    }

    /// Points per feature, the bin each value fell in, and the reasons.
    pub fn explain(&self, a: &Applicant) -> Explanation {
        let p = self.predict(a);
        let row = a.values();
        let contributions = self
            .tables
            .iter()
            .enumerate()
            .map(|(j, t)| {
                let b = t.bin(row[j]);
                let b = if b == INVALID { 0 } else { b as usize };
                Contribution {
                    feature: FEATURES[j].name,
                    value: a.get(j),
                    bin: t.labels[b].clone(),
                    points: t.points[b],
                    max_points: t.max_points,
                    logit: t.logits[b],
                }
            })
            .collect();
        let s = &self.artifact.scaling;
        Explanation {
            model_version: self.artifact.model_version.clone(),
            probability: p.probability,
            prediction: p.prediction,
            score: p.score,
            threshold: self.threshold,
            log_odds: p.log_odds,
            base_points: s.offset - s.factor * self.intercept,
            contributions,
            reasons: self.reason_details(&p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_bound_matches_partition_point() {
        let edges: Vec<f64> = (0..63).map(|i| i as f64 * 0.5).collect();
        for k in -4..140 {
            let x = k as f64 * 0.25;
            for n in 0..edges.len() {
                let e = &edges[..n];
                assert_eq!(upper_bound(e, x), e.partition_point(|&v| v <= x), "{n} {x}");
            }
        }
    }

    #[test]
    fn reasons_keep_the_largest_four_in_order() {
        let mut r = Reasons::EMPTY;
        for (f, l) in [
            (0, 1.0),
            (1, 5.0),
            (2, 3.0),
            (3, 5.0),
            (4, 0.5),
            (5, 4.0),
            (6, 9.0),
        ] {
            r.offer(Reason {
                feature: f,
                points_lost: l,
            });
        }
        let got: Vec<usize> = r.as_slice().iter().map(|x| x.feature).collect();
        assert_eq!(got, vec![6, 1, 3, 5]);
    }
}
