//! The model artifact: a versioned, checksummed JSON document that fully describes a scorecard.
//!
//! It is the only thing any front door needs to score. Bin semantics, so that anyone can
//! recompute a score from the JSON alone: for a present, ordinary value `x` of a feature with
//! sorted `edges`, the bin is `range_bins[k]` where `k` is the number of edges `<= x`
//! (Python: `bisect.bisect_right(edges, x)`). A missing value uses `missing_bin`; a special code
//! uses the `special_bins` entry with that code. The log-odds of default is
//! `intercept + Σ bin.logit`; the probability is `1 / (1 + exp(-log_odds))`. Points are
//! `bin.points = -factor * bin.logit + (offset - factor * intercept) / 10`, so the score is
//! `Σ bin.points = offset - factor * log_odds` with `factor = pdo / ln 2` and
//! `offset = base_score - factor * ln(base_odds)`: higher scores mean lower risk.
//!
//! Versions (`format_version`): a change that a reader of the previous version would refuse
//! (every struct is `deny_unknown_fields`, so any new field) bumps the version, and this build
//! keeps reading every older version it knows. An older reader then refuses a newer artifact
//! with a clear `WrongFormatVersion` instead of an "unknown field" complaint.
//!
//! * 1: the original layout.
//! * 2: adds the optional [`ScoreDistribution`] (`score_distribution`), the out-of-fold score
//!   histogram of the training rows over fixed bands: the score-PSI baseline of
//!   `credit monitor`. A version-1 document must not carry it (a version-1 reader would refuse
//!   it), and a version-2 document may omit it. Version-1 artifacts load unchanged and keep
//!   their checksum: an absent section is not serialised, so their canonical JSON is the same.
//! * 3: adds the optional [`Interaction`]s (`interactions`): pairwise interaction cells, a coarse
//!   grid over two features' bins whose points add to the features' points. A document without
//!   cells is still written as version 2 (the lowest version that expresses it), so every older
//!   reader keeps reading additive models; a version-1 or -2 document must not carry cells.
//!   With cells, the log-odds are `intercept + Σ bin.logit + Σ cell.logit` and the score
//!   `Σ bin.points + Σ cell.points` (see [`Interaction`]); a pair with `age` must keep
//!   Regulation B's bound (no applicant of 62 or more gets fewer points from age, cells
//!   included, than a younger one), at most [`MAX_INTERACTIONS`] pairs of at most [`MAX_GROUPS`] groups per axis.
//!   A build without the `interactions` feature (a smaller `.wasm`) reads every version but
//!   refuses a document with cells ([`NO_CELLS_IN_THIS_BUILD`]).

use crate::error::{ModelError, Quoted, Shown};
use crate::schema::{FEATURES, N_FEATURES};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod read;

/// `format` field of every artifact.
pub const FORMAT: &str = "credit-default/scorecard";
/// The artifact layout this build writes (and the newest it reads); see the module docs.
pub const FORMAT_VERSION: u32 = 3;
/// The oldest layout this build still reads.
pub const MIN_FORMAT_VERSION: u32 = 1;
/// The first version that may carry `score_distribution`.
pub const SCORE_DISTRIBUTION_VERSION: u32 = 2;
/// The first version that may carry `interactions`.
pub const INTERACTIONS_VERSION: u32 = 3;

/// Fixed score bands of [`ScoreDistribution`], the same for every model so that histograms of
/// different models and days line up: edges every [`SCORE_BAND_STEP`] points from
/// [`SCORE_BAND_LOW`] to [`SCORE_BAND_HIGH`] (31 edges), plus open-ended bands below the first
/// and from the last edge on (32 bands). Why these: the scaling puts 600 points at 50:1
/// good:bad with 20 points per doubling of the odds, so a band is half a doubling; the shipped
/// model's out-of-fold scores lie between 375 and 656 (99.8% between 429 and 646), which
/// leaves about ten well-filled bands where the old first-day deciles had ten, and room for a
/// retrained model to move without falling off either end.
pub const SCORE_BAND_LOW: f64 = 400.0;
/// Width of a score band, in points.
pub const SCORE_BAND_STEP: f64 = 10.0;
/// The last edge.
pub const SCORE_BAND_HIGH: f64 = 700.0;

/// Largest logit magnitude a bin (or the intercept) may have. An odds ratio of `e^50` is far
/// beyond any credit model; the bound guarantees the scorer's product of eleven odds factors
/// never overflows or underflows (which could turn `inf * 0` into NaN for a valid row). Cells
/// add factors: [`MAX_TOTAL_ABS_LOGIT`] bounds them all together.
pub const MAX_ABS_LOGIT: f64 = 50.0;

/// Most interaction pairs a model may have, and most coarse groups per axis of a pair. Why:
/// the scorer keeps, per pair, a group table over every slot of the kernel (one byte each) and
/// a table of `MAX_GROUPS²` cells (odds, logit, points), so these bound its memory (about 7 KB
/// a pair) and the work per row (one multiplication a pair); a one-byte cell index
/// (`row · columns + column`, at most 255) needs at most 16 groups per axis. The grids are
/// meant to be coarse: a pair with more groups than that would be fitting noise.
pub const MAX_INTERACTIONS: usize = 16;
/// See [`MAX_INTERACTIONS`].
pub const MAX_GROUPS: usize = 16;

/// Bound on the sum of the largest logit magnitudes of the intercept, of each feature's bins
/// and of each pair's cells. The scorer multiplies odds factors `exp(-logit)`; below
/// `ln(f64::MAX) ≈ 709.8` every partial product stays finite and normal, so a valid row never
/// gets an `inf * 0 = NaN` (which would read as "invalid"). An additive model's eleven factors
/// are within it by [`MAX_ABS_LOGIT`] alone (550); cells could pass it.
pub const MAX_TOTAL_ABS_LOGIT: f64 = 700.0;

/// The one error (as [`ModelError::Invalid`]) of a build without the `interactions` feature
/// (about 9 KB smaller in a `.wasm`) for a model that has cells: both
/// readers give it right after the format check, and `Scorecard::new` for an artifact built in
/// code. Such a build scores every additive model exactly as the full build does.
pub const NO_CELLS_IN_THIS_BUILD: &str =
    "interactions: this build of credit-core does not score interaction cells (built without its `interactions` feature)";

/// [`ModelArtifact`]'s fields in declaration order (serde's order; `interactions` is the 15th):
/// the lean reader's schema walk and the no-cells build's pre-check read the same list.
pub(crate) const ARTIFACT_FIELDS: [&str; 16] = [
    "format",
    "format_version",
    "model_id",
    "model_version",
    "created_by",
    "training_data",
    "intercept",
    "features",
    "scaling",
    "threshold",
    "age_policy",
    "training",
    "metrics",
    "score_distribution",
    "interactions",
    "checksum",
];

/// The whole scorecard document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelArtifact {
    pub format: String,
    pub format_version: u32,
    pub model_id: String,
    pub model_version: String,
    /// Which software wrote it (`credit-core <version>`).
    pub created_by: String,
    pub training_data: DataFingerprint,
    pub intercept: f64,
    pub features: Vec<FeatureCard>,
    pub scaling: Scaling,
    pub threshold: Threshold,
    pub age_policy: AgePolicy,
    pub training: TrainingConfigRecord,
    pub metrics: ModelMetrics,
    /// Out-of-fold training score histogram (format version 2 on; absent in older artifacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_distribution: Option<ScoreDistribution>,
    /// Pairwise interaction cells (format version 3 on; absent, i.e. empty, in additive models).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interactions: Vec<Interaction>,
    /// `sha256:<hex>` of the document's canonical JSON with this field removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// Which data the model was fitted on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFingerprint {
    /// sha256 of the uncompressed CSV bytes.
    pub sha256: String,
    pub rows: u64,
    pub positives: u64,
    /// Rows read but not used for fitting because they failed validation (e.g. age 0).
    pub rows_excluded: u64,
    pub label: String,
}

/// One feature of the scorecard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureCard {
    pub name: String,
    /// Stable reason code reported when this feature costs the applicant points.
    pub reason_code: String,
    pub reason_text: String,
    /// Strictly increasing bin edges; `range_bins.len() == edges.len() + 1`.
    pub edges: Vec<f64>,
    pub range_bins: Vec<Bin>,
    /// Present for the optional features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_bin: Option<Bin>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub special_bins: Vec<SpecialBin>,
}

/// One bin: its contribution and its training statistics (the drift-monitoring baseline).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bin {
    pub label: String,
    /// Contribution to the log-odds of default.
    pub logit: f64,
    /// Contribution to the score.
    pub points: f64,
    /// Training rows in the bin.
    pub count: u64,
    /// Defaults among them.
    pub events: u64,
    pub event_rate: f64,
}

/// A pairwise interaction: a coarse grid over two features whose cells add points (and log-odds)
/// on top of the two features' own bins.
///
/// The grid is defined on the features' *bins*, not on raw values, so that a cell is always a
/// union of whole bins: every front door (and the SQL export) first finds each feature's bin as
/// for the additive model, then maps it to its coarse group. For a row whose first feature is in
/// group `r` and second in group `c`, the cell is `cells[r * n_cols + c]` with
/// `n_cols = 1 + max(groups[1])`. The log-odds become
/// `intercept + Σ bin.logit + Σ cell.logit` and the score `Σ bin.points + Σ cell.points`, with
/// `cell.points = -factor * cell.logit` (the offset is already shared among the bins).
///
/// With `age`: Regulation B lets a model use age only if applicants of 62 or more never get a
/// negative factor from it ([`AgePolicy`] for age's own bins), and a cell could take that back.
/// So a pair with age needs an age edge at 62, age groups wholly under or over 62, and the
/// bound that validation checks: the age bins' margin (lowest elderly points less highest
/// younger) plus, per pair with age, its worst column's margin (lowest elderly cell less highest
/// younger cell in a column of the other feature's groups) is not negative. Then no applicant
/// of 62 or more gets fewer points from age than a younger one with the same other features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interaction {
    /// The two features' names, in schema order (the first comes first in the schema).
    pub features: [String; 2],
    /// Per axis, the coarse group of each of that feature's bins, in [`FeatureCard::all_bins`]
    /// order (range bins, then the missing bin, then special bins). Groups are numbered from 0
    /// with none unused.
    pub groups: [Vec<u16>; 2],
    /// Per axis, a label for each coarse group (for explanations and reports).
    pub group_labels: [Vec<String>; 2],
    /// The cells, row-major: first feature's group is the row.
    pub cells: Vec<Bin>,
}

/// A bureau special code and its bin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialBin {
    pub codes: Vec<f64>,
    pub bin: Bin,
}

/// How log-odds become points.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaling {
    pub base_score: f64,
    /// Odds at the base score, written as `odds_direction` says.
    pub base_odds: f64,
    /// Points to double the odds.
    pub pdo: f64,
    /// `"good:bad"`: a higher score means lower risk of default.
    pub odds_direction: String,
    pub factor: f64,
    pub offset: f64,
}

impl Scaling {
    /// Standard scaling: `base_score` points at `base_odds`:1 good:bad, `pdo` points to double.
    pub fn new(base_score: f64, base_odds: f64, pdo: f64) -> Scaling {
        let factor = pdo / std::f64::consts::LN_2;
        Scaling {
            base_score,
            base_odds,
            pdo,
            odds_direction: "good:bad".to_owned(),
            factor,
            offset: base_score - factor * base_odds.ln(),
        }
    }
}

/// The decision rule behind `prediction`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// `prediction = 1` when `probability >= probability_threshold`.
    pub probability: f64,
    /// The score (points) at that probability, for score-based policies.
    pub score: f64,
    /// Machine name of the policy (e.g. `max_ks_out_of_fold`).
    pub policy: String,
    pub description: String,
}

/// Regulation B (12 CFR 1002.6(b)(2)): age may be used only if applicants aged 62 or more
/// never get a negative factor from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgePolicy {
    pub elderly_age: f64,
    /// Whether the trainer enforced `min points(age >= 62) >= max points(age < 62)`.
    pub enforced: bool,
    /// How many elderly bins the trainer had to raise to satisfy it.
    pub adjusted_bins: u32,
    pub min_elderly_points: f64,
    pub max_younger_points: f64,
    /// Age is never reported as a reason for applicants of `elderly_age` or more.
    pub suppress_reason_for_elderly: bool,
}

/// Hyper-parameters of the fit, so that it can be reproduced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfigRecord {
    pub method: String,
    pub max_bins: u32,
    pub min_bin_count: u64,
    pub l2_alpha: f64,
    pub folds: u32,
    pub max_iterations: u64,
    pub monotone_increasing_risk: Vec<String>,
}

/// Quality of the model, measured out of fold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelMetrics {
    /// Metrics of the pooled out-of-fold predictions.
    pub cv: Metrics,
    /// Mean and per-fold AUC.
    pub cv_auc_mean: f64,
    pub cv_auc_std: f64,
    pub folds: Vec<Metrics>,
    /// Of the final model on its own training data (optimistic; for reference only).
    pub train: Metrics,
    pub calibration: Vec<CalibrationBin>,
}

/// The usual binary-classifier metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    pub rows: u64,
    pub positives: u64,
    pub auc: f64,
    pub gini: f64,
    pub ks: f64,
    pub brier: f64,
    pub log_loss: f64,
}

/// How the model scores the rows it was trained on, measured out of fold: every training row
/// scored by the cross-validation model that did not see it (the same scores as the
/// out-of-fold probabilities behind `metrics.cv`), counted per fixed score band. This is the
/// score's training baseline for population stability; the per-feature bin counts cannot give
/// it, because the score depends on the features' joint distribution.
///
/// Band rule, as for feature bins: a score `s` is in band `k` = the number of `edges <= s`, so
/// `counts.len() == edges.len() + 1` and the first and last bands are open-ended. `counts` sum
/// to the rows used for training and `events` (defaults per band) to `metrics.cv.positives`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreDistribution {
    /// Strictly increasing, finite band edges in points (stored so no reader has to guess).
    pub edges: Vec<f64>,
    /// Training rows per band.
    pub counts: Vec<u64>,
    /// Defaults among them.
    pub events: Vec<u64>,
}

impl ScoreDistribution {
    /// The fixed band edges (see [`SCORE_BAND_LOW`]).
    pub fn standard_edges() -> Vec<f64> {
        let n = ((SCORE_BAND_HIGH - SCORE_BAND_LOW) / SCORE_BAND_STEP).round() as usize;
        (0..=n)
            .map(|k| SCORE_BAND_LOW + SCORE_BAND_STEP * k as f64)
            .collect()
    }

    /// Band of a score under `edges` (the number of edges `<= score`).
    pub fn band(edges: &[f64], score: f64) -> usize {
        edges.partition_point(|&e| e <= score)
    }

    /// Counts of `scores` per band of `edges`.
    pub fn count(edges: &[f64], scores: &[f64]) -> Vec<u64> {
        let mut counts = vec![0u64; edges.len() + 1];
        for &s in scores {
            counts[ScoreDistribution::band(edges, s)] += 1;
        }
        counts
    }

    /// The histogram of `scores` with their 0/1 `labels` over the standard bands.
    pub fn of_scores(scores: &[f64], labels: &[u8]) -> ScoreDistribution {
        let edges = ScoreDistribution::standard_edges();
        let mut counts = vec![0u64; edges.len() + 1];
        let mut events = vec![0u64; edges.len() + 1];
        for (&s, &y) in scores.iter().zip(labels) {
            let k = ScoreDistribution::band(&edges, s);
            counts[k] += 1;
            events[k] += u64::from(y == 1);
        }
        ScoreDistribution {
            edges,
            counts,
            events,
        }
    }

    /// Structural checks against the artifact it sits in; messages name the field. They are
    /// fixed texts (no numbers formatted in): each formatted message costs the `.wasm` code.
    fn validate(&self, a: &ModelArtifact) -> Result<(), ModelError> {
        let bad = |problem: &str| Err(ModelError::Invalid(format!("score_distribution.{problem}")));
        if a.format_version < SCORE_DISTRIBUTION_VERSION {
            return bad(
                "*: the section needs format_version 2 or later (version 1 readers refuse it)",
            );
        }
        if self.edges.is_empty() || self.edges.iter().any(|e| !e.is_finite()) {
            return bad("edges: need at least one edge, all finite");
        }
        if self.edges.windows(2).any(|w| w[0] >= w[1]) {
            return bad("edges: not strictly increasing");
        }
        let bands = self.edges.len() + 1;
        if self.counts.len() != bands || self.events.len() != bands {
            return bad("counts, events: need one entry per band (edges + 1 each)");
        }
        if self.events.iter().zip(&self.counts).any(|(e, c)| e > c) {
            return bad("events: more events than rows in a band");
        }
        // Sums in u64 (an overflowing sum is None and matches nothing).
        let sum = |v: &[u64]| v.iter().try_fold(0u64, |a, &c| a.checked_add(c));
        let used = a
            .training_data
            .rows
            .checked_sub(a.training_data.rows_excluded);
        if used.is_none() || sum(&self.counts) != used {
            return bad("counts: do not sum to the used training rows (rows - rows_excluded)");
        }
        if sum(&self.events) != Some(a.metrics.cv.positives) {
            return bad("events: do not sum to metrics.cv.positives");
        }
        Ok(())
    }
}

/// One row of a calibration table (equal-count bins of predicted probability).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationBin {
    pub rows: u64,
    pub mean_predicted: f64,
    pub observed_rate: f64,
    pub min_predicted: f64,
    pub max_predicted: f64,
}

impl FeatureCard {
    /// Every bin of the feature: range bins, then the missing bin, then special bins.
    pub fn all_bins(&self) -> impl Iterator<Item = &Bin> {
        self.range_bins
            .iter()
            .chain(self.missing_bin.iter())
            .chain(self.special_bins.iter().map(|s| &s.bin))
    }
}

impl ModelArtifact {
    /// Parses, checks the checksum and validates an artifact.
    pub fn from_json(text: &str) -> Result<ModelArtifact, ModelError> {
        check_header(text)?;
        crate::cells::check_text(text)?;
        let artifact: ModelArtifact = serde_json::from_str(text)?;
        artifact.verify(ModelArtifact::compute_checksum)
    }

    /// [`ModelArtifact::from_json`] for builds where code size matters (the browser package):
    /// the same artifacts accepted, the same refused with the same [`ModelError`] variants,
    /// without the serde-derive code of the artifact's structs (see `artifact/read.rs` for how
    /// and why). The messages of malformed documents may word the problem differently.
    pub fn from_json_lite(text: &str) -> Result<ModelArtifact, ModelError> {
        let header = read::header(text)?;
        check_format(header.format.as_deref(), header.format_version)?;
        read::parse(text)?.verify(read::checksum)
    }

    /// The steps after parsing, shared by both readers: the checksum, then the structure.
    fn verify(
        self,
        checksum: impl Fn(&ModelArtifact) -> Result<String, ModelError>,
    ) -> Result<ModelArtifact, ModelError> {
        let stored = self.checksum.clone().ok_or(ModelError::MissingChecksum)?;
        let computed = checksum(&self)?;
        if stored != computed {
            return Err(ModelError::ChecksumMismatch { stored, computed });
        }
        self.validate()?;
        Ok(self)
    }

    /// Pretty JSON with a fresh checksum. Deterministic: same artifact, same bytes.
    pub fn to_json(&self) -> Result<String, ModelError> {
        let mut a = self.clone();
        a.checksum = Some(self.compute_checksum()?);
        let mut s = serde_json::to_string_pretty(&a)?;
        s.push('\n');
        Ok(s)
    }

    /// `sha256:<hex>` of the compact JSON of the artifact without its checksum.
    pub fn compute_checksum(&self) -> Result<String, ModelError> {
        let mut a = self.clone();
        a.checksum = None;
        let bytes = serde_json::to_vec(&a)?;
        let digest = Sha256::digest(&bytes);
        let mut hex = String::with_capacity(7 + 64);
        hex.push_str("sha256:");
        for b in digest {
            hex.push_str(&format!("{b:02x}"));
        }
        Ok(hex)
    }

    /// Structural checks: every feature once and in order, sorted edges, finite numbers,
    /// bins where the schema needs them, points consistent with the scaling.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.intercept.is_nan() || self.intercept.abs() > MAX_ABS_LOGIT {
            return Err(ModelError::Invalid(format!(
                "intercept {} is not finite or outside ±{}",
                Shown(self.intercept),
                Shown(MAX_ABS_LOGIT)
            )));
        }
        let s = &self.scaling;
        if !(s.factor.is_finite() && s.offset.is_finite() && s.factor > 0.0) {
            return Err(ModelError::Invalid(
                "scaling factor/offset must be finite, factor > 0".into(),
            ));
        }
        let t = self.threshold.probability;
        if !(t > 0.0 && t < 1.0) {
            return Err(ModelError::Invalid(format!(
                "threshold probability {} is not inside (0, 1)",
                Shown(t)
            )));
        }
        for (j, spec) in FEATURES.iter().enumerate() {
            let Some(card) = self.features.get(j) else {
                return Err(ModelError::MissingFeature(spec.name));
            };
            if card.name != spec.name {
                return Err(
                    match self.features.iter().position(|c| c.name == spec.name) {
                        None => ModelError::MissingFeature(spec.name),
                        Some(_) => ModelError::Invalid(format!(
                            "features out of order: position {j} holds {}, expected {}",
                            Quoted(&card.name),
                            Quoted(spec.name)
                        )),
                    },
                );
            }
            let bad = |problem: String| ModelError::BadFeature {
                feature: spec.name.to_owned(),
                problem,
            };
            if card.edges.iter().any(|e| !e.is_finite()) {
                return Err(bad("an edge is not finite".into()));
            }
            if card.edges.windows(2).any(|w| w[0] >= w[1]) {
                return Err(bad("edges are not strictly increasing".into()));
            }
            if card.range_bins.len() != card.edges.len() + 1 {
                return Err(bad(format!(
                    "{} edges need {} range bins, found {}",
                    card.edges.len(),
                    card.edges.len() + 1,
                    card.range_bins.len()
                )));
            }
            if spec.optional && card.missing_bin.is_none() {
                return Err(bad("optional feature has no missing bin".into()));
            }
            for code in spec.special_codes {
                let n = card
                    .special_bins
                    .iter()
                    .filter(|b| b.codes.contains(code))
                    .count();
                if n != 1 {
                    return Err(bad(format!(
                        "special code {} needs exactly one bin, found {n}",
                        Shown(*code)
                    )));
                }
            }
            for sb in &card.special_bins {
                if sb.codes.iter().any(|c| !spec.is_special(*c)) {
                    return Err(bad(format!(
                        "special bin for unknown codes {}",
                        debug_numbers(&sb.codes)
                    )));
                }
            }
            let share = (s.offset - s.factor * self.intercept) / N_FEATURES as f64;
            for bin in card.all_bins() {
                if !bin.points.is_finite() || bin.logit.is_nan() || bin.logit.abs() > MAX_ABS_LOGIT
                {
                    return Err(bad(format!(
                        "bin {} has non-finite points or a logit that is not finite or outside ±{}",
                        Quoted(&bin.label),
                        Shown(MAX_ABS_LOGIT)
                    )));
                }
                let want = -s.factor * bin.logit + share;
                if (bin.points - want).abs() > 1e-6 * (1.0 + want.abs()) {
                    return Err(bad(format!(
                        "bin {} has {} points, the scaling gives {}",
                        Quoted(&bin.label),
                        Shown(bin.points),
                        Shown(want)
                    )));
                }
            }
        }
        if self.features.len() != N_FEATURES {
            return Err(ModelError::UnexpectedFeature(
                self.features[N_FEATURES].name.clone(),
            ));
        }
        if let Some(d) = &self.score_distribution {
            d.validate(self)?;
        }
        crate::cells::validate(self)
    }
}

/// Looks at the format fields first so that a newer artifact gets a clear error rather than a
/// complaint about some field this build does not know. This pass also checks the whole
/// text's JSON syntax, so malformed text is refused here.
fn check_header(text: &str) -> Result<(), ModelError> {
    #[derive(Deserialize)]
    struct Header {
        format: Option<String>,
        format_version: Option<u32>,
    }
    let header: Header = serde_json::from_str(text)?;
    check_format(header.format.as_deref(), header.format_version)
}

fn check_format(format: Option<&str>, version: Option<u32>) -> Result<(), ModelError> {
    match format {
        Some(FORMAT) => {}
        other => {
            return Err(ModelError::WrongFormat {
                found: other.unwrap_or("<none>").to_owned(),
                expected: FORMAT,
            })
        }
    }
    match version {
        Some(MIN_FORMAT_VERSION..=FORMAT_VERSION) => Ok(()),
        other => Err(ModelError::WrongFormatVersion {
            found: other.unwrap_or(0),
            expected: FORMAT_VERSION,
        }),
    }
}

/// The shortest decimal digits that read back as `v` (finite, not negative) and the power of
/// ten of the first one: `1234.5` is `("12345", 3)`, `0.00012` is `("12", -4)`, zero is
/// `("0", 0)`. The digits are [`Shown`]'s (`Display`'s, the same as `Debug`'s), so that
/// messages need no second float printer in the `.wasm`.
fn shortest_digits(v: f64) -> (String, i64) {
    if v == 0.0 {
        return ("0".to_owned(), 0);
    }
    let (d, e) = crate::error::shortest(v);
    let digits = d.to_string();
    let first = digits.len() as i64 - 1 + i64::from(e);
    (digits, first)
}

/// `{:?}` of a list of numbers, spelled out: the same text as `Debug` for `[f64]` (shortest
/// digits, at least one decimal, exponent form below 1e-4 and from 1e16 on), built on
/// `Display`'s text (written by [`Shown`]), so that this one error message does not link `Debug`'s own float printing
/// into the `.wasm`.
fn debug_numbers(values: &[f64]) -> String {
    let mut out = String::from("[");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let a = v.abs();
        if !v.is_finite() || a == 0.0 || (1e-4..1e16).contains(&a) {
            let shown = Shown(*v).to_string();
            out.push_str(&shown);
            if v.is_finite() && !shown.contains('.') {
                out.push_str(".0");
            }
            continue;
        }
        let (digits, exp) = shortest_digits(a);
        let (first, rest) = digits.split_at(1);
        if v.is_sign_negative() {
            out.push('-');
        }
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push_str(&exp.to_string());
    }
    out.push(']');
    out
}

/// Points of an interaction cell given its logit: `-factor * logit` (the offset is shared
/// among the bins already, see [`Interaction`]).
pub fn points_for_cell(scaling: &Scaling, logit: f64) -> f64 {
    -scaling.factor * logit
}

/// Points of a bin given its logit, under the artifact's scaling.
pub fn points_for(scaling: &Scaling, intercept: f64, logit: f64) -> f64 {
    -scaling.factor * logit + (scaling.offset - scaling.factor * intercept) / N_FEATURES as f64
}
