//! The compiled scorecard: an artifact compiled into the `crate::kernel` layout, and
//! single-applicant scoring (probability, decision, points, reasons, explanations).
//!
//! Reasons stay one code per feature when the model has interaction cells: a feature's points
//! lost are its own bin's (the most its bins can earn less this bin's points) plus, for every
//! pair it is in, half of that pair's cell's points lost (the grid's best cell points less this
//! cell's), the other half going to the pair's other feature. Age may be in a pair (under
//! Regulation B's bound, see [`crate::artifact::Interaction`]): its reason is then its own bin's
//! share plus its cells' halves, and for an applicant of 62 or more the age policy suppresses
//! that whole total.

use crate::applicant::Applicant;
use crate::artifact::ModelArtifact;
use crate::error::{ModelError, ValidationErrors};
pub use crate::kernel::MAX_REAL_EDGES;
use crate::kernel::{Kernel, BASE, INVALID, MASK, N};
use crate::schema::{FeatureSpec, Kind, AGE, ELDERLY_AGE, FEATURES, N_FEATURES};
use serde::Serialize;

/// Reasons reported per applicant (Regulation B asks for the principal reasons, usually four).
pub const MAX_REASONS: usize = 4;

/// A validated model ready to score. Cheap to share across threads (`Send + Sync`, immutable).
#[derive(Clone, Debug)]
pub struct Scorecard {
    artifact: ModelArtifact,
    threshold: f64,
    suppress_elderly_age_reason: bool,
    kernel: Box<Kernel>,
    /// The most points each feature can earn (for reason codes).
    max_points: [f64; N_FEATURES],
    /// Bin labels per feature, artifact bin order (for explanations).
    labels: Vec<Vec<String>>,
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

/// One interaction pair's part in a decision, for `explain`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CellContribution {
    /// The pair's two features (schema order).
    pub features: [&'static str; 2],
    /// The labels of the coarse groups the applicant's two bins fall in.
    pub groups: [String; 2],
    /// The cell's points and logit (added to the features' own).
    pub points: f64,
    /// The most points any cell of the pair's grid gives.
    pub max_points: f64,
    pub logit: f64,
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
    /// The interaction cells the applicant falls in, pair order (empty for an additive model).
    /// Only in a build with the `interactions` feature (a build without it refuses models with
    /// cells, and its `.wasm` saves the field's drop code).
    #[cfg(feature = "interactions")]
    pub interactions: Vec<CellContribution>,
    pub reasons: Vec<ReasonDetail>,
}

/// Number of `edges` that are `<= x` (plain binary search; used when compiling tables).
fn upper_bound(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|&e| e <= x)
}

/// Writes one feature's part of the kernel: its edges and, per slot, logit, points and bin.
fn compile_feature(
    j: usize,
    spec: &FeatureSpec,
    card: &crate::artifact::FeatureCard,
    k: &mut Kernel,
) -> Result<(), ModelError> {
    let n_range = card.range_bins.len();
    // Artifact bin order: range bins, then missing, then specials.
    let missing_bin = card.missing_bin.as_ref().map(|_| n_range);
    let special_base = n_range + usize::from(card.missing_bin.is_some());
    let all: Vec<&crate::artifact::Bin> = card.all_bins().collect();
    if all.len() >= INVALID as usize {
        return Err(ModelError::BadFeature {
            feature: spec.name.to_owned(),
            problem: format!("{} bins is too many", all.len()),
        });
    }
    let special_of = |v: f64| {
        card.special_bins
            .iter()
            .position(|sb| sb.codes.contains(&v))
            .map(|k| special_base + k)
    };
    // Artifact bin of each ordinary slot (`None`: the value is invalid).
    let slot_bins: Vec<Option<usize>> = match spec.kind {
        Kind::Count => (0..N[j])
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
            .collect(),
        Kind::Real => {
            if card.edges.len() > MAX_REAL_EDGES {
                return Err(ModelError::BadFeature {
                    feature: spec.name.to_owned(),
                    problem: format!(
                        "{} edges; a real-valued feature may have at most {MAX_REAL_EDGES}",
                        card.edges.len()
                    ),
                });
            }
            k.set_edges(j, &card.edges);
            (0..n_range).map(Some).collect()
        }
    };
    let missing = if spec.optional { missing_bin } else { None };
    // After the ordinary slots: the invalid slot, then the missing slot (see `kernel::N`).
    let slots = slot_bins.iter().copied().chain([None, missing]).enumerate();
    for (i, b) in slots {
        // Real features use fewer than `N[j]` ordinary slots; the rest stay invalid (unreachable).
        let s = BASE[j]
            + if i < slot_bins.len() {
                i
            } else {
                N[j] + i - slot_bins.len()
            };
        if let Some(b) = b {
            k.logit[s] = all[b].logit;
            k.points[s] = all[b].points;
            k.bin[s] = b as u16;
        }
    }
    Ok(())
}

impl Scorecard {
    /// Compiles a validated artifact.
    pub fn new(artifact: ModelArtifact) -> Result<Scorecard, ModelError> {
        artifact.validate()?;
        let mut kernel = Kernel::empty(artifact.intercept);
        let mut max_points = [f64::NEG_INFINITY; N_FEATURES];
        let mut labels = Vec::with_capacity(N_FEATURES);
        for (j, (spec, card)) in FEATURES.iter().zip(&artifact.features).enumerate() {
            compile_feature(j, spec, card, &mut kernel)?;
            max_points[j] = card
                .all_bins()
                .map(|b| b.points)
                .fold(f64::NEG_INFINITY, f64::max);
            labels.push(card.all_bins().map(|b| b.label.clone()).collect());
        }
        kernel.compile_pairs(&artifact)?;
        kernel.seal();
        Ok(Scorecard {
            threshold: artifact.threshold.probability,
            suppress_elderly_age_reason: artifact.age_policy.suppress_reason_for_elderly,
            kernel,
            max_points,
            labels,
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

    /// Bin index of every feature (artifact order: range bins, then missing, then specials),
    /// `None` if the row is invalid.
    pub fn bin_indices(&self, row: &[f64; N_FEATURES]) -> Option<[u16; N_FEATURES]> {
        let slots = self.kernel.slots(row);
        let mut bins = [0u16; N_FEATURES];
        for (b, &s) in bins.iter_mut().zip(&slots) {
            *b = self.kernel.bin[s];
            if *b == INVALID {
                return None;
            }
        }
        Some(bins)
    }

    /// The compiled tables (for the batch paths: their SIMD kernels, and whether the model has
    /// interaction cells, which the browser's SIMD128 kernel leaves to the scalar kernel).
    #[inline]
    pub(crate) fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// The same scorecard with its batch kernel forced to `path`; `None` when this CPU lacks
    /// the path's instructions. Not a stable API: for the benches and tests that compare the
    /// paths on one machine; users get the path chosen for their CPU when the model loads.
    #[doc(hidden)]
    pub fn with_kernel_path(mut self, path: crate::kernel::KernelPath) -> Option<Scorecard> {
        self.kernel.set_path(path).then_some(self)
    }

    /// The batch kernel this scorecard runs (see [`Scorecard::with_kernel_path`]).
    #[doc(hidden)]
    pub fn kernel_path(&self) -> crate::kernel::KernelPath {
        self.kernel.path()
    }

    /// Validation and probability in one pass over a numeric row (NaN = missing);
    /// `None` when the row is invalid (see [`Applicant::from_row`] for why).
    #[inline]
    pub fn try_probability(&self, row: &[f64; N_FEATURES]) -> Option<f64> {
        let [p] = self.kernel.probabilities(&[*row]);
        (!p.is_nan()).then_some(p)
    }

    /// Probabilities of `R` rows at once (NaN for an invalid row): the batch path's inner step,
    /// bit-identical to [`Scorecard::try_probability`] row by row.
    #[inline]
    pub(crate) fn probabilities<const R: usize>(&self, rows: &[[f64; N_FEATURES]; R]) -> [f64; R] {
        self.kernel.probabilities(rows)
    }

    /// Validation, probability and score in one pass; `None` when the row is invalid.
    #[inline]
    pub fn try_probability_and_score(&self, row: &[f64; N_FEATURES]) -> Option<(f64, f64)> {
        let slots = self.kernel.slots(row);
        let p = self.kernel.probability(&slots);
        (!p.is_nan()).then(|| (p, self.kernel.points(&slots)))
    }

    /// Probability of default of a validated applicant.
    #[inline]
    pub fn probability(&self, a: &Applicant) -> f64 {
        // A validated applicant always lands in valid slots (the tables come from the same schema).
        self.kernel.probability(&self.kernel.slots(a.values()))
    }

    /// The full answer for a validated applicant: probability, decision, score, reasons.
    #[inline]
    pub fn predict(&self, a: &Applicant) -> Prediction {
        self.predict_slots(a).0
    }

    /// [`Scorecard::predict`] and the kernel slots of the applicant's values, which `explain`
    /// needs too. Out of line in the `.wasm`: the browser package's `predict` and `explain`
    /// then share one copy of the unrolled per-feature slot lookups and the scoring instead of
    /// inlining a copy each (2 KB); native builds keep it inlined.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    #[cfg_attr(not(target_arch = "wasm32"), inline)]
    fn predict_slots(&self, a: &Applicant) -> (Prediction, [usize; N_FEATURES]) {
        let row = a.values();
        let bins = self.kernel.slots(row);
        let z = self.kernel.log_odds(&bins);
        if z.is_nan() {
            // Unreachable for an `Applicant` (it passed the same checks); kept total, not panicking.
            let p = Prediction {
                probability: f64::NAN,
                prediction: 0,
                score: f64::NAN,
                log_odds: f64::NAN,
                reasons: Reasons::EMPTY,
            };
            return (p, bins);
        }
        let probability = self.kernel.probability(&bins);
        let mut reasons = Reasons::EMPTY;
        for (j, &lost) in self.points_lost(&bins).iter().enumerate() {
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
        let p = Prediction {
            probability,
            prediction: u8::from(probability >= self.threshold),
            score: self.kernel.points(&bins),
            log_odds: z,
            reasons,
        };
        (p, bins)
    }

    /// Points lost per feature (see the module docs): its own bin's, plus half of each of its
    /// pairs' cell's.
    #[inline]
    fn points_lost(&self, slots: &[usize; N_FEATURES]) -> [f64; N_FEATURES] {
        let mut lost = [0.0; N_FEATURES];
        // An index loop over the constant N_FEATURES: a three-way `zip` stays a call in the
        // size-optimised `.wasm` (about 350 bytes more there, measured).
        for (j, l) in lost.iter_mut().enumerate() {
            *l = self.max_points[j] - self.kernel.points[slots[j] & MASK];
        }
        let pairs = self.kernel.pairs();
        if !pairs.is_empty() {
            pairs.add_losses(slots, &mut lost);
        }
        lost
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
        let (p, slots) = self.predict_slots(a);
        let k = &self.kernel;
        let contributions = slots
            .iter()
            .enumerate()
            .map(|(j, &s)| Contribution {
                feature: FEATURES[j].name,
                value: a.get(j),
                bin: self.labels[j]
                    .get(usize::from(k.bin[s]))
                    .cloned()
                    .unwrap_or_default(),
                points: k.points[s],
                max_points: self.max_points[j],
                logit: k.logit[s],
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
            base_points: s.offset - s.factor * self.artifact.intercept,
            contributions,
            #[cfg(feature = "interactions")]
            interactions: k
                .pairs()
                .contributions(&self.artifact.interactions, &k.bin, &slots),
            reasons: self.reason_details(&p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
