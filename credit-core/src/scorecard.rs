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

/// Marks a value that fails validation in the bin tables.
pub(crate) const INVALID: u16 = u16::MAX;

/// Reasons reported per applicant (Regulation B asks for the principal reasons, usually four).
pub const MAX_REASONS: usize = 4;

/// One feature's lookup tables, laid out so that scoring a value is a few loads and no branch
/// that depends on the data: every value maps to a *slot*, and every slot has a logit, points
/// and the artifact's bin index. Two extra slots at the end stand for "missing" and "invalid";
/// an invalid value (and a missing required one) has a NaN logit, so a NaN sum *is* the
/// validation verdict.
#[derive(Clone, Debug)]
struct FeatureTable {
    /// Whole-number feature: slot = value - min (direct table). Real feature: slot = number of
    /// `edges` <= value (binary search over `edges`, padded with +inf to a power of two).
    count: bool,
    min: f64,
    max: f64,
    edges: Vec<f64>,
    /// Ordinary slots (values for counts, range bins for reals); `missing = n`, `invalid = n + 1`.
    n: usize,
    logit: Vec<f64>,
    points: Vec<f64>,
    bin: Vec<u16>,
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

/// Number of `edges` that are `<= x` (plain binary search; used when compiling tables).
fn upper_bound(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|&e| e <= x)
}

impl FeatureTable {
    /// The slot of a value: always a valid index into `logit`, `points` and `bin`.
    #[inline(always)]
    fn slot(&self, v: f64) -> usize {
        let missing = self.n;
        let invalid = self.n + 1;
        let ordinary = if self.count {
            let idx = v - self.min;
            // Saturating cast (NaN → 0, out of range → i32::MIN/MAX); the round trip and the
            // bounds check below catch every such case. `i32` converts in one instruction on
            // x86-64, `usize` needs a dozen.
            let i = idx as i32;
            if f64::from(i) == idx && i >= 0 && (i as usize) < self.n {
                i as usize
            } else {
                invalid
            }
        } else {
            // Branchless search over a power-of-two table padded with +inf.
            let e = &self.edges;
            let mut k = 0usize;
            let mut step = e.len() / 2;
            while step > 0 {
                k += if e[k + step - 1] <= v { step } else { 0 };
                step /= 2;
            }
            if v >= self.min && v <= self.max {
                k
            } else {
                invalid
            }
        };
        if v.is_nan() {
            missing
        } else {
            ordinary
        }
    }
}

fn compile_feature(spec: &FeatureSpec, card: &crate::artifact::FeatureCard) -> FeatureTable {
    let n_range = card.range_bins.len();
    // Artifact bin order: range bins, then missing, then specials.
    let missing_bin = card.missing_bin.as_ref().map(|_| n_range);
    let special_base = n_range + usize::from(card.missing_bin.is_some());
    let all: Vec<&crate::artifact::Bin> = card.all_bins().collect();
    let special_of = |v: f64| {
        card.special_bins
            .iter()
            .position(|sb| sb.codes.contains(&v))
            .map(|k| special_base + k)
    };
    // Artifact bin of each ordinary slot.
    let (count, edges, slot_bins): (bool, Vec<f64>, Vec<Option<usize>>) = match spec.kind {
        Kind::Count => {
            let top = spec.special_codes.iter().copied().fold(spec.max, f64::max);
            let len = (top - spec.min) as usize + 1;
            let bins = (0..len)
                .map(|i| {
                    let v = spec.min + i as f64;
                    if spec.is_special(v) {
                        special_of(v)
                    } else if v <= spec.max {
                        Some(upper_bound(&card.edges, v).min(n_range - 1))
                    } else {
                        None
                    }
                })
                .collect();
            (true, Vec::new(), bins)
        }
        Kind::Real => {
            let size = (card.edges.len() + 1).next_power_of_two();
            let mut edges = card.edges.clone();
            edges.resize(size, f64::INFINITY);
            (false, edges, (0..n_range).map(Some).collect())
        }
    };
    let n = slot_bins.len();
    let mut logit = Vec::with_capacity(n + 2);
    let mut points = Vec::with_capacity(n + 2);
    let mut bin = Vec::with_capacity(n + 2);
    let mut push = |b: Option<usize>| match b {
        Some(b) => {
            logit.push(all[b].logit);
            points.push(all[b].points);
            bin.push(b as u16);
        }
        None => {
            logit.push(f64::NAN);
            points.push(f64::NAN);
            bin.push(INVALID);
        }
    };
    for b in &slot_bins {
        push(*b);
    }
    push(if spec.optional { missing_bin } else { None });
    push(None);
    let max_points = all
        .iter()
        .map(|b| b.points)
        .fold(f64::NEG_INFINITY, f64::max);
    FeatureTable {
        count,
        min: spec.min,
        max: spec.max,
        edges,
        n,
        logit,
        points,
        bin,
        labels: all.iter().map(|b| b.label.clone()).collect(),
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

    /// Slots of a row (always valid indices; invalid values land in NaN slots).
    #[inline(always)]
    fn slots(&self, row: &[f64; N_FEATURES]) -> [usize; N_FEATURES] {
        let mut slots = [0usize; N_FEATURES];
        for (j, (s, t)) in slots.iter_mut().zip(&self.tables).enumerate() {
            *s = t.slot(row[j]);
        }
        slots
    }

    #[inline(always)]
    fn log_odds_of(&self, slots: &[usize; N_FEATURES]) -> f64 {
        let mut z = self.intercept;
        for (t, &s) in self.tables.iter().zip(slots) {
            z += t.logit[s];
        }
        z
    }

    #[inline(always)]
    fn score_of(&self, slots: &[usize; N_FEATURES]) -> f64 {
        let mut s = 0.0;
        for (t, &k) in self.tables.iter().zip(slots) {
            s += t.points[k];
        }
        s
    }

    /// Bin index of every feature (artifact order: range bins, then missing, then specials),
    /// `None` if the row is invalid.
    pub fn bin_indices(&self, row: &[f64; N_FEATURES]) -> Option<[u16; N_FEATURES]> {
        let slots = self.slots(row);
        let mut bins = [0u16; N_FEATURES];
        for ((b, t), &s) in bins.iter_mut().zip(&self.tables).zip(&slots) {
            *b = t.bin[s];
            if *b == INVALID {
                return None;
            }
        }
        Some(bins)
    }

    /// Validation and probability in one pass over a numeric row (NaN = missing);
    /// `None` when the row is invalid (see [`Applicant::from_row`] for why).
    #[inline]
    pub fn try_probability(&self, row: &[f64; N_FEATURES]) -> Option<f64> {
        let z = self.log_odds_of(&self.slots(row));
        (!z.is_nan()).then(|| sigmoid(z))
    }

    /// Validation, probability and score in one pass; `None` when the row is invalid.
    #[inline]
    pub fn try_probability_and_score(&self, row: &[f64; N_FEATURES]) -> Option<(f64, f64)> {
        let slots = self.slots(row);
        let z = self.log_odds_of(&slots);
        (!z.is_nan()).then(|| (sigmoid(z), self.score_of(&slots)))
    }

    /// Probability of default of a validated applicant.
    #[inline]
    pub fn probability(&self, a: &Applicant) -> f64 {
        // A validated applicant always lands in valid slots (the tables come from the same schema).
        sigmoid(self.log_odds_of(&self.slots(a.values())))
    }

    /// The full answer for a validated applicant: probability, decision, score, reasons.
    #[inline]
    pub fn predict(&self, a: &Applicant) -> Prediction {
        let row = a.values();
        let bins = self.slots(row);
        let z = self.log_odds_of(&bins);
        if z.is_nan() {
            // Unreachable for an `Applicant` (it passed the same checks); kept total, not panicking.
            return Prediction {
                probability: f64::NAN,
                prediction: 0,
                score: f64::NAN,
                log_odds: f64::NAN,
                reasons: Reasons::EMPTY,
            };
        }
        let probability = sigmoid(z);
        let mut reasons = Reasons::EMPTY;
        for (j, t) in self.tables.iter().enumerate() {
            let lost = t.max_points - t.points[bins[j]];
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
                let s = t.slot(row[j]);
                let b = t.bin[s];
                Contribution {
                    feature: FEATURES[j].name,
                    value: a.get(j),
                    bin: t.labels.get(b as usize).cloned().unwrap_or_default(),
                    points: t.points[s],
                    max_points: t.max_points,
                    logit: t.logit[s],
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
    fn padded_search_matches_partition_point() {
        let edges: Vec<f64> = (0..70).map(|i| i as f64 * 0.5).collect();
        for n in 0..edges.len() {
            let e = &edges[..n];
            let size = (n + 1).next_power_of_two();
            let mut padded = e.to_vec();
            padded.resize(size, f64::INFINITY);
            let t = FeatureTable {
                count: false,
                min: -1e9,
                max: 1e9,
                edges: padded,
                n: n + 1,
                logit: vec![0.0; n + 3],
                points: vec![0.0; n + 3],
                bin: vec![0; n + 3],
                labels: Vec::new(),
                max_points: 0.0,
            };
            for k in -4..150 {
                let x = k as f64 * 0.25;
                assert_eq!(t.slot(x), e.partition_point(|&v| v <= x), "{n} {x}");
            }
            assert_eq!(t.slot(f64::NAN), n + 1);
            assert_eq!(t.slot(f64::INFINITY), n + 2);
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
