//! Fitting a fine-binned scorecard with `linfa-logistic` (feature `train`; still no I/O).
//!
//! Each feature is cut into up to `max_bins` quantile bins (whole-number features: one bin per
//! value while a value has enough rows). The bins enter the logistic regression in a cumulative
//! ("thermometer") encoding: column `k` is 1 when the value lies in bin `k` or above, so a
//! coefficient is the *step* between adjacent bins and the L2 penalty smooths the points curve
//! instead of shrinking each bin to zero. Missing values and bureau special codes get one-hot
//! columns of their own. The result is still a plain logistic regression and a points table.
//!
//! After the fit the trainer makes the table honest where the domain demands it: past-due counts
//! are made monotone (more late payments never earn points, by weighted isotonic regression) and
//! Regulation B's age rule is enforced (no age of 62 or more earns fewer points than a younger age).
//!
//! With `interactions > 0` the same regression also fits pairwise interaction cells on a coarse
//! grid (see `train/cells.rs`); the additive model (`interactions = 0`) is unchanged by that option.
//!
//! Cross-validation is out of sample: each fold fits everything data-derived (bin edges, the
//! choice of interaction pairs, their grids, the coefficients) on its training rows only.

mod cells;
mod refine;
pub use cells::PairGain;

use crate::applicant::Applicant;
use crate::artifact::{
    points_for, AgePolicy, Bin, DataFingerprint, FeatureCard, ModelArtifact, ModelMetrics, Scaling,
    ScoreDistribution, SpecialBin, Threshold, TrainingConfigRecord, FORMAT, INTERACTIONS_VERSION,
    MAX_GROUPS, MAX_INTERACTIONS, SCORE_DISTRIBUTION_VERSION,
};
use crate::metrics::{self, calibration};
use crate::schema::{fmt_num, FeatureSpec, Kind, AGE, ELDERLY_AGE, FEATURES, N_FEATURES};
use crate::scorecard::Scorecard;
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2, ArrayView2, Axis};

/// Most bins per feature: a real feature's edges must fit the scorer's table
/// ([`crate::scorecard::MAX_REAL_EDGES`] edges, one bin more).
pub const MAX_BINS: usize = crate::scorecard::MAX_REAL_EDGES + 1;
/// Most ordered groups per axis of a cell grid: the scorer's [`MAX_GROUPS`] less the groups of
/// their own that missing values and bureau codes keep.
pub const MAX_COARSE_GROUPS: usize = MAX_GROUPS - 2;

/// Features whose risk can only grow with the value (more late payments, never better).
pub const MONOTONE_INCREASING_RISK: [usize; 3] = [2, 6, 8];

/// Reason codes and Regulation B style texts, per feature in model order.
pub const REASONS: [(&str, &str); N_FEATURES] = [
    (
        "R01",
        "Proportion of balances to credit limits on revolving accounts is too high",
    ),
    ("R02", "Age of the applicant (length of credit experience)"),
    (
        "R03",
        "Number of times 30-59 days past due in the last two years",
    ),
    ("R04", "Debt obligations are too high relative to income"),
    ("R05", "Income insufficient or not reported"),
    ("R06", "Number of open credit lines and loans"),
    ("R07", "Serious delinquency: times 90 days or more past due"),
    ("R08", "Number of real estate loans or lines"),
    (
        "R09",
        "Number of times 60-89 days past due in the last two years",
    ),
    ("R10", "Number of dependents"),
];

/// Hyper-parameters of a fit.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub max_bins: usize,
    pub min_bin_count: u64,
    pub l2_alpha: f64,
    pub folds: usize,
    pub max_iterations: u64,
    pub gradient_tolerance: f64,
    pub base_score: f64,
    pub base_odds: f64,
    pub pdo: f64,
    pub model_id: String,
    /// Version to stamp; `None` derives one from the fitted content (deterministic).
    pub model_version: Option<String>,
    /// Pairs of features that get interaction cells (0: the additive scorecard).
    pub interactions: usize,
    /// Most coarse groups of range bins per axis of a cell grid (missing and special codes
    /// get one more group each).
    pub coarse_groups: usize,
    /// Value of a set cell column: the L2 penalty on a cell step is `l2_alpha / cell_scale²`.
    pub cell_scale: f64,
    /// Rounds of cyclic boosting of the fitted logits on the residuals before the domain
    /// repairs (0: none; see `train/refine.rs`): per round one shrunk stump per feature over its bins
    /// and one shrunk Newton step per cell.
    pub refine_rounds: usize,
    /// Shrinkage of each boosting step (`refine_rounds > 0`).
    pub refine_rate: f64,
    /// Let `age` be in pairs (see `cells::repair_age`): its age groups split at 62, and every
    /// column of a pair's elderly cells held at or below its most favoured younger cell plus
    /// a share of the age bins' own margin (Regulation B, checked again when a model loads).
    pub age_pairs: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            max_bins: 64,
            min_bin_count: 50,
            l2_alpha: 30.0,
            folds: 5,
            max_iterations: 1000,
            gradient_tolerance: 1.0,
            base_score: 600.0,
            base_odds: 50.0,
            pdo: 20.0,
            model_id: "credit-default".to_owned(),
            model_version: None,
            interactions: 0,
            // Tuned on a 30,000-row sample (3 folds, 24 bins; see docs/interactions.md): coarser
            // grids and a 4x stronger penalty on cell steps generalised best; on 60,000 rows
            // (row-balanced groups) 6 groups per axis did no better than 4.
            coarse_groups: 4,
            cell_scale: 0.5,
            refine_rounds: 0,
            refine_rate: 0.1,
            age_pairs: false,
        }
    }
}

/// Labelled rows in model column order (NaN = missing), with where they came from.
#[derive(Clone, Debug)]
pub struct TrainingSet {
    pub rows: Vec<[f64; N_FEATURES]>,
    pub labels: Vec<u8>,
    /// sha256 of the source bytes (the caller reads the file; the core does no I/O).
    pub sha256: String,
}

/// Progress events, for a progress bar.
#[derive(Clone, Debug)]
pub enum TrainEvent {
    FoldStarted { fold: usize, folds: usize },
    FoldFinished { fold: usize, auc: f64 },
    FinalFitStarted,
    Done,
}

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("labels and rows differ in length ({labels} labels, {rows} rows)")]
    Length { labels: usize, rows: usize },
    #[error("label {0} is not 0 or 1")]
    BadLabel(u8),
    #[error("max_bins is {0}; it must be between 2 and {MAX_BINS} (the scorer's real-feature tables hold {MAX_BINS} bins)")]
    MaxBins(usize),
    #[error("too few usable rows ({rows}) or positives ({positives}) to fit {folds} folds")]
    TooFewRows {
        rows: usize,
        positives: usize,
        folds: usize,
    },
    #[error("logistic regression failed: {0}")]
    Fit(String),
    #[error("fitted model is invalid: {0}")]
    Model(#[from] crate::error::ModelError),
    #[error("the fitted model cannot score {rows} of its own training rows (an internal error)")]
    Unscorable { rows: usize },
    #[error("coarse_groups is {0}; it must be between 2 and {MAX_COARSE_GROUPS} (an axis also keeps a group each for missing values and bureau codes, and the scorer takes at most {MAX_GROUPS} groups per axis)")]
    CoarseGroups(usize),
    #[error("interactions is {0}; the scorer takes at most {MAX_INTERACTIONS} pairs")]
    Interactions(usize),
    #[error("cell_scale is {0}; it must be finite and positive")]
    CellScale(f64),
    #[error("refine_rate is {0}; it must be finite and positive")]
    RefineRate(f64),
}

/// Everything a fit produced: the artifact and the out-of-fold evidence behind its metrics.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    pub artifact: ModelArtifact,
    /// Out-of-fold probability of every used row.
    pub oof: Vec<f64>,
    /// Labels of the used rows (same order as `oof`).
    pub labels: Vec<u8>,
    /// Fold of every used row.
    pub fold_of: Vec<usize>,
    /// Indices (into the input) of the rows that were used.
    pub used_rows: Vec<usize>,
    /// Interaction models: every candidate pair ranked by its estimated gain on all rows (the
    /// final model's choice); empty for the additive model.
    pub pair_gains: Vec<PairGain>,
    /// Interaction models: the pairs each cross-validation fold chose on its training rows.
    pub fold_pairs: Vec<Vec<[String; 2]>>,
}

/// Cut points of one feature.
#[derive(Clone, Debug)]
struct Binning {
    edges: Vec<f64>,
}

/// Greedy equal-frequency binning over distinct values: a new bin starts at a value once the
/// current bin holds `target` rows; the last bin is merged back if it is smaller than `min`.
fn fit_edges(spec: &FeatureSpec, mut values: Vec<f64>, cfg: &TrainConfig) -> Binning {
    values.sort_by(f64::total_cmp);
    let n = values.len() as u64;
    let target = (n / cfg.max_bins.max(1) as u64)
        .max(cfg.min_bin_count)
        .max(1);
    let mut edges = Vec::new();
    let mut current = 0u64;
    let mut i = 0;
    let mut last_bin = 0u64;
    while i < values.len() {
        let v = values[i];
        let mut j = i;
        while j < values.len() && values[j] == v {
            j += 1;
        }
        let count = (j - i) as u64;
        if current >= target && (n - i as u64) >= cfg.min_bin_count {
            edges.push(v);
            current = 0;
        }
        current += count;
        last_bin = current;
        i = j;
    }
    if last_bin < cfg.min_bin_count {
        edges.pop();
    }
    if spec.name == FEATURES[AGE].name && !edges.contains(&ELDERLY_AGE) {
        // Regulation B: a bin boundary exactly at 62, so that no bin mixes 61 and 62.
        edges.push(ELDERLY_AGE);
        edges.sort_by(f64::total_cmp);
    }
    Binning { edges }
}

fn range_label(spec: &FeatureSpec, edges: &[f64], k: usize) -> String {
    span_label(spec, edges, k, k)
}

/// Label of the range bins `k0..=k1` taken together.
fn span_label(spec: &FeatureSpec, edges: &[f64], k0: usize, k1: usize) -> String {
    let lo = if k0 == 0 { None } else { Some(edges[k0 - 1]) };
    let hi = edges.get(k1).copied();
    if spec.kind == Kind::Count {
        let top = hi.map(|h| h - 1.0);
        return match (lo, top) {
            (None, None) => "any".into(),
            (None, Some(t)) if t <= spec.min => fmt_num(spec.min),
            (None, Some(t)) => format!("{}–{}", fmt_num(spec.min), fmt_num(t)),
            (Some(l), None) => format!(">= {}", fmt_num(l)),
            (Some(l), Some(t)) if l == t => fmt_num(l),
            (Some(l), Some(t)) => format!("{}–{}", fmt_num(l), fmt_num(t)),
        };
    }
    match (lo, hi) {
        (None, None) => "any".into(),
        (None, Some(h)) => format!("< {h}"),
        (Some(l), None) => format!(">= {l}"),
        (Some(l), Some(h)) => format!("[{l}, {h})"),
    }
}

/// Column layout of the design matrix.
struct Layout {
    binnings: Vec<Binning>,
    /// Per feature: first thermometer column, number of them, missing column, special column.
    first: Vec<usize>,
    missing_col: Vec<Option<usize>>,
    special_col: Vec<Option<usize>>,
    n_cols: usize,
}

impl Layout {
    fn new(binnings: Vec<Binning>) -> Layout {
        let mut col = 0;
        let mut first = Vec::new();
        let mut missing_col = Vec::new();
        let mut special_col = Vec::new();
        for (spec, b) in FEATURES.iter().zip(&binnings) {
            first.push(col);
            col += b.edges.len();
            missing_col.push(spec.optional.then(|| {
                col += 1;
                col - 1
            }));
            special_col.push((!spec.special_codes.is_empty()).then(|| {
                col += 1;
                col - 1
            }));
        }
        Layout {
            binnings,
            first,
            missing_col,
            special_col,
            n_cols: col,
        }
    }

    fn fill_row(&self, row: &[f64; N_FEATURES], out: &mut [f64]) {
        for (j, spec) in FEATURES.iter().enumerate() {
            let v = row[j];
            if v.is_nan() {
                if let Some(c) = self.missing_col[j] {
                    out[c] = 1.0;
                }
            } else if spec.is_special(v) {
                if let Some(c) = self.special_col[j] {
                    out[c] = 1.0;
                }
            } else {
                let k = self.binnings[j].edges.partition_point(|&e| e <= v);
                for c in 0..k {
                    out[self.first[j] + c] = 1.0;
                }
            }
        }
    }
}

fn design(layout: &Layout, rows: &[[f64; N_FEATURES]], idx: &[usize]) -> Array2<f64> {
    let mut x = Array2::<f64>::zeros((idx.len(), layout.n_cols));
    for (r, &i) in idx.iter().enumerate() {
        if let Some(out) = x.row_mut(r).into_slice() {
            layout.fill_row(&rows[i], out);
        }
    }
    x
}

/// Weighted pool-adjacent-violators: the closest non-decreasing sequence.
fn isotonic_increasing(values: &mut [f64], weights: &[f64]) {
    let mut blocks: Vec<(f64, f64, usize)> = Vec::new(); // (mean, weight, len)
    for (&v, &w) in values.iter().zip(weights) {
        blocks.push((v, w.max(1e-9), 1));
        while blocks.len() > 1 {
            let b = blocks[blocks.len() - 1];
            let a = blocks[blocks.len() - 2];
            if a.0 <= b.0 {
                break;
            }
            let w = a.1 + b.1;
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = ((a.0 * a.1 + b.0 * b.1) / w, w, a.2 + b.2);
        }
    }
    let mut i = 0;
    for (m, _, len) in blocks {
        for v in &mut values[i..i + len] {
            *v = m;
        }
        i += len;
    }
}

/// Label-free quantile bins of every feature, from the rows `idx`.
fn fit_layout(rows: &[[f64; N_FEATURES]], idx: &[usize], cfg: &TrainConfig) -> Layout {
    let binnings: Vec<Binning> = FEATURES
        .iter()
        .enumerate()
        .map(|(j, spec)| {
            let vals: Vec<f64> = idx
                .iter()
                .map(|&i| rows[i][j])
                .filter(|v| !v.is_nan() && !spec.is_special(*v))
                .collect();
            fit_edges(spec, vals, cfg)
        })
        .collect();
    Layout::new(binnings)
}

/// What one fit is about: the rows `idx` of `rows`, encoded by `layout` and, when there are
/// cells, by `grids` (whose columns follow the layout's).
struct FitInput<'a> {
    rows: &'a [[f64; N_FEATURES]],
    labels: &'a [u8],
    idx: &'a [usize],
    layout: &'a Layout,
    grids: &'a [cells::Grid],
    /// Enforce the domain rules after the fit (past-due monotone, Regulation B age, cells
    /// monotone along past-due axes); off only in the test that checks the raw fit.
    policies: bool,
}

/// Fits one scorecard on `input` whose design matrix is `x` (one row per entry of `idx`),
/// optionally warm-started, and returns its artifact (metrics left empty) and the raw
/// coefficients (to warm-start the next fit).
fn fit_one(
    input: &FitInput<'_>,
    x: ArrayView2<'_, f64>,
    warm: Option<&Array1<f64>>,
    cfg: &TrainConfig,
) -> Result<(ModelArtifact, Array1<f64>), TrainError> {
    let FitInput {
        rows,
        labels,
        idx,
        layout,
        grids,
        policies,
    } = *input;
    let y: Array1<bool> = idx.iter().map(|&i| labels[i] == 1).collect();
    let dataset = linfa::DatasetBase::new(x, y);
    let mut params = LogisticRegression::default()
        .alpha(cfg.l2_alpha)
        .max_iterations(cfg.max_iterations)
        .gradient_tolerance(cfg.gradient_tolerance);
    if let Some(w) = warm {
        params = params.initial_params(w.clone());
    }
    let fitted = params
        .fit(&dataset)
        .map_err(|e| TrainError::Fit(e.to_string()))?;
    // linfa models P(class labelled +1), and labels the *more frequent* class +1; flip the
    // signs when that is "no default" so that the coefficients are log-odds of default.
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    let beta: Array1<f64> = fitted.params().mapv(|b| b * sign);
    let intercept = fitted.intercept() * sign;
    let mut raw = fitted.params().to_vec();
    raw.push(fitted.intercept());
    let raw = Array1::from(raw);
    let scaling = Scaling::new(cfg.base_score, cfg.base_odds, cfg.pdo);
    let refinement =
        (policies && cfg.refine_rounds > 0).then(|| refine::boost(input, x, &beta, intercept, cfg));
    let mut adjusted_bins = 0;
    let mains: Vec<MainEffect> = (0..N_FEATURES)
        .map(|j| {
            let extra = refinement.as_ref().map(|r| r.mains[j].as_slice());
            main_effect(input, j, &beta, extra, &mut adjusted_bins)
        })
        .collect();
    let main_logits: Vec<Vec<f64>> = mains.iter().map(|m| m.logits.clone()).collect();
    let cell_fit = cells::CellFit {
        layout,
        rows,
        labels,
        idx,
        beta: &beta,
        scale: cfg.cell_scale,
        scaling: &scaling,
        policies,
        mains: &main_logits,
        grids,
    };
    let interactions: Vec<_> = grids
        .iter()
        .enumerate()
        .map(|(k, g)| {
            let extra = refinement.as_ref().map(|r| r.cells[k].as_slice());
            cells::interaction(g, &cell_fit, extra)
        })
        .collect();
    // The repairs move logits after the intercept was fitted. For the additive model they are
    // (nearly) mean-preserving and its intercept is kept as it always was; cells repaired along
    // past-due axes can be raised a lot (sub-additive late-payment interplay), so a model with
    // cells gets its intercept re-fitted with every repaired logit held fixed: the mean
    // predicted probability on the fitted rows is then the observed rate again.
    let intercept = if policies && (!interactions.is_empty() || refinement.is_some()) {
        refit_intercept(&cell_fit, &interactions, intercept)
    } else {
        intercept
    };
    let age_policy = age_policy(layout, &mains[AGE], &scaling, intercept, adjusted_bins);
    let features: Vec<FeatureCard> = mains
        .iter()
        .enumerate()
        .map(|(j, m)| feature_card(layout, j, m, &scaling, intercept))
        .collect();
    let artifact = ModelArtifact {
        format: FORMAT.to_owned(),
        // Additive models stay at version 2 so that every deployed reader keeps reading them.
        format_version: if interactions.is_empty() {
            SCORE_DISTRIBUTION_VERSION
        } else {
            INTERACTIONS_VERSION
        },
        model_id: cfg.model_id.clone(),
        model_version: String::new(),
        created_by: format!("credit-core {}", crate::VERSION),
        training_data: DataFingerprint {
            sha256: String::new(),
            rows: idx.len() as u64,
            positives: idx.iter().filter(|&&i| labels[i] == 1).count() as u64,
            rows_excluded: 0,
            label: "SeriousDlqin2yrs".to_owned(),
        },
        intercept,
        features,
        scaling,
        threshold: Threshold {
            probability: 0.5,
            score: 0.0,
            policy: "placeholder".into(),
            description: String::new(),
        },
        age_policy,
        training: record(cfg),
        metrics: empty_metrics(),
        score_distribution: None,
        interactions,
        checksum: None,
    };
    Ok((artifact, raw))
}

/// One feature's fitted effect after the domain repairs: the logits of all its bins in
/// `FeatureCard::all_bins` order (range bins, missing, special codes) and the training rows and
/// events per bin.
struct MainEffect {
    logits: Vec<f64>,
    counts: Vec<u64>,
    events: Vec<u64>,
}

/// Feature `j`'s logits from the fitted coefficients `beta`, repaired when `input.policies`:
/// past-due counts made non-decreasing (weighted isotonic regression), and Regulation B's rule
/// that no age of 62 or more gets a higher logit than the lowest younger one (each bin lowered
/// is counted in `adjusted_bins`).
fn main_effect(
    input: &FitInput<'_>,
    j: usize,
    beta: &Array1<f64>,
    extra: Option<&[f64]>,
    adjusted_bins: &mut u32,
) -> MainEffect {
    let layout = input.layout;
    let edges = &layout.binnings[j].edges;
    let n_range = edges.len() + 1;
    // Cumulative sums of thermometer steps give each range bin's logit.
    let mut logits = vec![0.0; n_range];
    for k in 1..n_range {
        logits[k] = logits[k - 1] + beta[layout.first[j] + k - 1];
    }
    if let Some(extra) = extra {
        // The boosted refinement of the range bins, before the repairs.
        for (l, e) in logits.iter_mut().zip(extra) {
            *l += e;
        }
    }
    let n_all = n_range
        + [layout.missing_col[j], layout.special_col[j]]
            .iter()
            .flatten()
            .count();
    let mut counts = vec![0u64; n_all];
    let mut events = vec![0u64; n_all];
    for &i in input.idx {
        if let Some(k) = cells::bin_of(layout, j, input.rows[i][j]) {
            counts[k] += 1;
            events[k] += u64::from(input.labels[i]);
        }
    }
    if input.policies && MONOTONE_INCREASING_RISK.contains(&j) {
        let w: Vec<f64> = counts[..n_range].iter().map(|&c| c as f64).collect();
        isotonic_increasing(&mut logits, &w);
    }
    if j == AGE && input.policies {
        let split = crate::schema::first_elderly_bin(edges);
        // Range bins [split..] start at 62 or later (an edge sits exactly at 62).
        let min_young = logits[..split]
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        for l in logits[split..].iter_mut() {
            if *l > min_young {
                *l = min_young;
                *adjusted_bins += 1;
            }
        }
    }
    logits.extend(layout.missing_col[j].map(|c| beta[c]));
    logits.extend(layout.special_col[j].map(|c| beta[c]));
    if let Some(extra) = extra {
        for (l, e) in logits.iter_mut().zip(extra).skip(n_range) {
            *l += e;
        }
    }
    MainEffect {
        logits,
        counts,
        events,
    }
}

/// The age policy record: what the repaired age logits give in points under `intercept`.
fn age_policy(
    layout: &Layout,
    age: &MainEffect,
    scaling: &Scaling,
    intercept: f64,
    adjusted_bins: u32,
) -> AgePolicy {
    let edges = &layout.binnings[AGE].edges;
    let split = crate::schema::first_elderly_bin(edges);
    let range = &age.logits[..edges.len() + 1];
    let pts = |l: f64| points_for(scaling, intercept, l);
    AgePolicy {
        elderly_age: ELDERLY_AGE,
        enforced: true,
        adjusted_bins,
        min_elderly_points: range[split..]
            .iter()
            .map(|&l| pts(l))
            .fold(f64::INFINITY, f64::min),
        max_younger_points: range[..split]
            .iter()
            .map(|&l| pts(l))
            .fold(f64::NEG_INFINITY, f64::max),
        suppress_reason_for_elderly: true,
    }
}

/// Feature `j`'s card: its bins with labels, logits, points under `intercept` and counts.
fn feature_card(
    layout: &Layout,
    j: usize,
    m: &MainEffect,
    scaling: &Scaling,
    intercept: f64,
) -> FeatureCard {
    let spec = &FEATURES[j];
    let edges = layout.binnings[j].edges.clone();
    let n_range = edges.len() + 1;
    let bin = |label: String, k: usize| Bin {
        label,
        logit: m.logits[k],
        points: points_for(scaling, intercept, m.logits[k]),
        count: m.counts[k],
        events: m.events[k],
        event_rate: if m.counts[k] > 0 {
            m.events[k] as f64 / m.counts[k] as f64
        } else {
            0.0
        },
    };
    let range_bins = (0..n_range)
        .map(|k| bin(range_label(spec, &edges, k), k))
        .collect();
    let missing_bin = layout.missing_col[j].map(|_| bin("missing".into(), n_range));
    let special_at = n_range + usize::from(layout.missing_col[j].is_some());
    let special_bins = layout.special_col[j]
        .map(|_| SpecialBin {
            codes: spec.special_codes.to_vec(),
            bin: bin("bureau code 96/98".into(), special_at),
        })
        .into_iter()
        .collect();
    FeatureCard {
        name: spec.name.to_owned(),
        reason_code: REASONS[j].0.to_owned(),
        reason_text: REASONS[j].1.to_owned(),
        edges,
        range_bins,
        missing_bin,
        special_bins,
    }
}

/// The intercept that makes the mean predicted probability on the fitted rows equal their
/// observed default rate, every bin and cell logit held at its repaired value (Newton's method
/// on the one free parameter, started from the fitted intercept).
fn refit_intercept(
    fit: &cells::CellFit<'_>,
    interactions: &[crate::artifact::Interaction],
    start: f64,
) -> f64 {
    let offsets: Vec<f64> = fit
        .idx
        .iter()
        .map(|&i| cells::row_logit(fit, interactions, &fit.rows[i]))
        .collect();
    let events: f64 = fit.idx.iter().map(|&i| f64::from(fit.labels[i])).sum();
    let mut b = start;
    for _ in 0..100 {
        let (mut g, mut h) = (events, 0.0);
        for z in &offsets {
            let p = sigmoid(z + b);
            g -= p;
            h += p * (1.0 - p);
        }
        if h <= 0.0 {
            break;
        }
        let step = g / h;
        b += step;
        if step.abs() < 1e-12 {
            break;
        }
    }
    b
}

fn record(cfg: &TrainConfig) -> TrainingConfigRecord {
    let mut method =
        "thermometer-encoded fine bins + L2 logistic regression (linfa-logistic, L-BFGS)"
            .to_owned();
    if cfg.interactions > 0 {
        method.push_str(&format!(
            " + up to {} pairwise interaction cell grids fitted jointly (pairs ranked by FAST \
             Newton gain on the fitted rows, {}; range bins in at most {} coarse groups \
             per axis balanced by rows, missing and special codes a group each; thermometer x \
             thermometer coding, cell columns scaled by {}; past-due totals kept monotone, then \
             the intercept re-fitted)",
            cfg.interactions,
            if cfg.age_pairs {
                "age allowed with its groups split at 62 and every elderly cell held at or \
                 below the most favoured younger one of its column (Regulation B)"
            } else {
                "age excluded"
            },
            cfg.coarse_groups,
            cfg.cell_scale
        ));
    }
    if cfg.refine_rounds > 0 {
        method.push_str(&format!(
            " + {} rounds of cyclic boosting (rate {}) of the bin and cell logits on the \
             residuals before the repairs, intercept re-fitted",
            cfg.refine_rounds, cfg.refine_rate
        ));
    }
    TrainingConfigRecord {
        method,
        max_bins: cfg.max_bins as u32,
        min_bin_count: cfg.min_bin_count,
        l2_alpha: cfg.l2_alpha,
        folds: cfg.folds as u32,
        max_iterations: cfg.max_iterations,
        monotone_increasing_risk: MONOTONE_INCREASING_RISK
            .iter()
            .map(|&j| FEATURES[j].name.to_owned())
            .collect(),
    }
}

fn empty_metrics() -> ModelMetrics {
    let m = crate::artifact::Metrics {
        rows: 0,
        positives: 0,
        auc: 0.0,
        gini: 0.0,
        ks: 0.0,
        brier: 0.0,
        log_loss: 0.0,
    };
    ModelMetrics {
        cv: m.clone(),
        cv_auc_mean: 0.0,
        cv_auc_std: 0.0,
        folds: Vec::new(),
        train: m,
        calibration: Vec::new(),
    }
}

/// Stratified fold assignment without randomness: within each class, rows in input order
/// are dealt to folds in turn. Deterministic, and every fold gets the same label rate.
pub fn stratified_folds(labels: &[u8], folds: usize) -> Vec<usize> {
    let mut seen = [0usize; 2];
    labels
        .iter()
        .map(|&y| {
            let c = usize::from(y == 1);
            let f = seen[c] % folds;
            seen[c] += 1;
            f
        })
        .collect()
}

/// One model fitted on the rows `idx` (bins, pairs, grids and coefficients all from them): the
/// artifact (metrics left empty) and, with interactions, every candidate pair ranked by gain.
fn fit_model(
    rows: &[[f64; N_FEATURES]],
    labels: &[u8],
    idx: &[usize],
    cfg: &TrainConfig,
    policies: bool,
) -> Result<(ModelArtifact, Vec<PairGain>), TrainError> {
    let layout = fit_layout(rows, idx, cfg);
    let x = design(&layout, rows, idx);
    let input = FitInput {
        rows,
        labels,
        idx,
        layout: &layout,
        grids: &[],
        policies,
    };
    let (additive, raw) = fit_one(&input, x.view(), None, cfg)?;
    if cfg.interactions == 0 {
        return Ok((additive, Vec::new()));
    }
    // The additive fit's own probabilities on the fitted rows give the residuals that rank pairs:
    // an additive model, so the scorer computes them (the compiled kernel, as deployed).
    let scorer = Scorecard::new(additive)?;
    let p = probabilities(&scorer, rows, idx)?;
    let counts = cells::range_counts(&layout, rows, idx);
    let ranked = cells::rank_pairs(&layout, rows, labels, idx, &p, cfg, &counts);
    let pairs: Vec<[usize; 2]> = ranked.iter().take(cfg.interactions).map(|r| r.0).collect();
    let (art, grids) = fit_with_cells(&input, &x, &pairs, &counts, &raw, cfg)?;
    Ok((art, cells::report(&ranked, &grids)))
}

/// The probability of every row `idx` by `scorer` (a row it cannot score is an internal error).
fn probabilities(
    scorer: &Scorecard,
    rows: &[[f64; N_FEATURES]],
    idx: &[usize],
) -> Result<Vec<f64>, TrainError> {
    let p: Vec<f64> = idx
        .iter()
        .map(|&i| scorer.try_probability(&rows[i]).unwrap_or(f64::NAN))
        .collect();
    match p.iter().filter(|p| p.is_nan()).count() {
        0 => Ok(p),
        rows => Err(TrainError::Unscorable { rows }),
    }
}

/// Fits the main effects jointly with the cells of `pairs` (the design `x_main` of the main
/// effects, the cell columns added here), warm-started from the additive fit's raw coefficients
/// `additive` (linfa's vector, ending with the intercept), the cells at zero. Returns the
/// artifact and the grids.
fn fit_with_cells(
    input: &FitInput<'_>,
    x_main: &Array2<f64>,
    pairs: &[[usize; 2]],
    counts: &[Vec<u64>],
    additive: &Array1<f64>,
    cfg: &TrainConfig,
) -> Result<(ModelArtifact, Vec<cells::Grid>), TrainError> {
    let layout = input.layout;
    let grids = cells::grids(layout, pairs, cfg.coarse_groups, counts, layout.n_cols);
    let x_cells = cells::design(layout, &grids, input.rows, input.idx, cfg.cell_scale);
    let x = ndarray::concatenate(Axis(1), &[x_main.view(), x_cells.view()])
        .map_err(|e| TrainError::Fit(e.to_string()))?;
    drop(x_cells);
    let n = additive.len() - 1;
    let warm: Array1<f64> = additive
        .iter()
        .take(n)
        .copied()
        .chain(std::iter::repeat_n(0.0, cells::n_cols(&grids)))
        .chain(std::iter::once(additive[n]))
        .collect();
    let input = FitInput {
        grids: &grids,
        ..*input
    };
    let (art, _) = fit_one(&input, x.view(), Some(&warm), cfg)?;
    Ok((art, grids))
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Probability and score of a row by a fold model, through the scorer: exactly what deployment
/// computes (cells included), so the cross-validated metrics are those of the deployed model.
fn oof_of(card: &Scorecard, row: &[f64; N_FEATURES]) -> (f64, f64) {
    (
        card.try_probability(row).unwrap_or(f64::NAN),
        card.try_probability_and_score(row)
            .map_or(f64::NAN, |(_, score)| score),
    )
}

/// Checks the arguments and keeps the rows that validate (those refused at scoring time are not
/// used for fitting either): their indices, the rows and the labels.
#[allow(clippy::type_complexity)]
fn usable(
    data: &TrainingSet,
    cfg: &TrainConfig,
) -> Result<(Vec<usize>, Vec<[f64; N_FEATURES]>, Vec<u8>), TrainError> {
    if data.rows.len() != data.labels.len() {
        return Err(TrainError::Length {
            labels: data.labels.len(),
            rows: data.rows.len(),
        });
    }
    if let Some(&bad) = data.labels.iter().find(|&&y| y > 1) {
        return Err(TrainError::BadLabel(bad));
    }
    if !(2..=MAX_BINS).contains(&cfg.max_bins) {
        return Err(TrainError::MaxBins(cfg.max_bins));
    }
    if cfg.interactions > MAX_INTERACTIONS {
        return Err(TrainError::Interactions(cfg.interactions));
    }
    // Checked whatever `interactions` is, as `cell_scale` is: one rule for every front door.
    if !(2..=MAX_COARSE_GROUPS).contains(&cfg.coarse_groups) {
        return Err(TrainError::CoarseGroups(cfg.coarse_groups));
    }
    if !(cfg.cell_scale.is_finite() && cfg.cell_scale > 0.0) {
        return Err(TrainError::CellScale(cfg.cell_scale));
    }
    if !(cfg.refine_rate.is_finite() && cfg.refine_rate > 0.0) {
        return Err(TrainError::RefineRate(cfg.refine_rate));
    }
    let used_rows: Vec<usize> = (0..data.rows.len())
        .filter(|&i| Applicant::from_row(&data.rows[i]).is_ok())
        .collect();
    let labels: Vec<u8> = used_rows.iter().map(|&i| data.labels[i]).collect();
    let positives = labels.iter().filter(|&&y| y == 1).count();
    let folds = cfg.folds.max(2);
    if positives < folds * 5 || labels.len() - positives < folds * 5 {
        return Err(TrainError::TooFewRows {
            rows: labels.len(),
            positives,
            folds,
        });
    }
    let rows: Vec<[f64; N_FEATURES]> = used_rows.iter().map(|&i| data.rows[i]).collect();
    Ok((used_rows, rows, labels))
}

/// Cross-validates, fits the final model on every usable row, and assembles the artifact.
pub fn train(
    data: &TrainingSet,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<TrainOutcome, TrainError> {
    let (used_rows, rows, labels) = usable(data, cfg)?;
    let folds = cfg.folds.max(2);
    let fold_of = stratified_folds(&labels, folds);
    // The final model's bins are label-free quantiles of all usable rows. Each fold refits its
    // own bins (and, with interactions, chooses its own pairs) on its training rows only and
    // starts from scratch, so that nothing the held-out rows could have influenced enters the
    // fold model: the cross-validated metrics are out of sample. (Before, the folds shared the
    // all-rows bins and warm-started from the final fit.)
    let all: Vec<usize> = (0..rows.len()).collect();
    progress(TrainEvent::FinalFitStarted);
    let (mut art, pair_gains) = fit_model(&rows, &labels, &all, cfg, true)?;
    let mut oof = vec![f64::NAN; rows.len()];
    // The score of each row by the fold model that did not see it: Σ points of that model's
    // bins (and cells), computed by the scorer itself for additive models.
    let mut oof_score = vec![f64::NAN; rows.len()];
    let mut fold_metrics = Vec::new();
    let mut fold_pairs = Vec::new();
    for f in 0..folds {
        progress(TrainEvent::FoldStarted { fold: f, folds });
        let train_idx: Vec<usize> = (0..rows.len()).filter(|&i| fold_of[i] != f).collect();
        let (mut fold_art, gains) = fit_model(&rows, &labels, &train_idx, cfg, true)?;
        fold_pairs.push(
            gains
                .into_iter()
                .filter(|g| g.selected)
                .map(|g| g.features)
                .collect(),
        );
        fold_art.model_version = format!("cv-fold-{f}");
        let card = Scorecard::new(fold_art.clone())?;
        let mut p_fold = Vec::new();
        let mut y_fold = Vec::new();
        for i in (0..rows.len()).filter(|&i| fold_of[i] == f) {
            let (p, score) = oof_of(&card, &rows[i]);
            oof[i] = p;
            oof_score[i] = score;
            p_fold.push(p);
            y_fold.push(labels[i]);
        }
        let m = metrics::metrics(&p_fold, &y_fold);
        progress(TrainEvent::FoldFinished {
            fold: f,
            auc: m.auc,
        });
        fold_metrics.push(m);
    }

    // Every training row passed validation, so each must score; a NaN here is a bug, and is
    // reported as one rather than carried into the metrics.
    let unscorable = oof.iter().filter(|p| p.is_nan()).count();
    if unscorable > 0 {
        return Err(TrainError::Unscorable { rows: unscorable });
    }
    let cv = metrics::metrics(&oof, &labels);
    let aucs: Vec<f64> = fold_metrics.iter().map(|m| m.auc).collect();
    let mean = aucs.iter().sum::<f64>() / aucs.len() as f64;
    let std = (aucs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / aucs.len() as f64).sqrt();
    let (_, t) = metrics::ks(&oof, &labels);
    let t = if t.is_finite() {
        t.clamp(1e-6, 1.0 - 1e-6)
    } else {
        0.5
    };
    let threshold_logit = (t / (1.0 - t)).ln();
    art.threshold = Threshold {
        probability: t,
        score: art.scaling.offset - art.scaling.factor * threshold_logit,
        policy: "max_ks_out_of_fold".to_owned(),
        description: format!(
            "prediction = 1 when probability >= {t}: the cut that maximises the Kolmogorov-Smirnov \
             distance (TPR - FPR) of the {folds}-fold out-of-fold predictions"
        ),
    };
    art.training_data = DataFingerprint {
        sha256: data.sha256.clone(),
        rows: data.rows.len() as u64,
        positives: data.labels.iter().filter(|&&y| y == 1).count() as u64,
        rows_excluded: (data.rows.len() - rows.len()) as u64,
        label: "SeriousDlqin2yrs".to_owned(),
    };
    let final_card = Scorecard::new(art.clone())?;
    let p_train: Vec<f64> = rows.iter().map(|r| oof_of(&final_card, r).0).collect();
    art.metrics = ModelMetrics {
        cv,
        cv_auc_mean: mean,
        cv_auc_std: std,
        folds: fold_metrics,
        train: metrics::metrics(&p_train, &labels),
        calibration: calibration(&oof, &labels, 10),
    };
    // The score-PSI baseline of monitoring: what the model gives on rows it did not see.
    art.score_distribution = Some(ScoreDistribution::of_scores(&oof_score, &labels));
    art.model_version = match &cfg.model_version {
        Some(v) => v.clone(),
        None => {
            let sum = art.compute_checksum()?;
            format!("1.0.0+{}", &sum[7..19])
        }
    };
    art.checksum = Some(art.compute_checksum()?);
    progress(TrainEvent::Done);
    Ok(TrainOutcome {
        artifact: art,
        oof,
        labels,
        fold_of,
        used_rows,
        pair_gains,
        fold_pairs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Log-odds and score of a row by the deployed scorer (cells included).
    fn log_odds_and_score(card: &Scorecard, row: &[f64; N_FEATURES]) -> (f64, f64) {
        let p = card.predict(&Applicant::from_row(row).expect("a valid row"));
        (p.log_odds, p.score)
    }

    /// A model the scorer would refuse is refused before any fitting, with the limit named
    /// (the trainer wrote 36-pair models that no front door could load). The core is the one
    /// rule for the cell settings: an out-of-range `coarse_groups` is refused whatever
    /// `interactions` is (the CLI took `--interactions 0 --coarse-groups 64` while the Python
    /// estimator refused it), as `cell_scale` always was.
    #[test]
    fn cell_settings_must_fit_the_scorer() {
        let data = synthetic(400);
        let refused = |cfg: TrainConfig| train(&data, &cfg, &mut |_| {}).unwrap_err();
        let too_many = refused(TrainConfig {
            interactions: MAX_INTERACTIONS + 1,
            ..TrainConfig::default()
        })
        .to_string();
        assert!(too_many.contains("at most 16 pairs"), "{too_many}");
        for interactions in [0, 2] {
            for groups in [0, 1, MAX_COARSE_GROUPS + 1, 64] {
                let e = refused(TrainConfig {
                    interactions,
                    coarse_groups: groups,
                    ..TrainConfig::default()
                });
                assert!(
                    matches!(e, TrainError::CoarseGroups(g) if g == groups),
                    "{interactions}, {groups}: {e:?}"
                );
                assert!(e.to_string().contains("between 2 and 14"), "{e}");
            }
        }
    }

    #[test]
    fn max_bins_must_fit_the_scorer() {
        let data = TrainingSet {
            rows: Vec::new(),
            labels: Vec::new(),
            sha256: String::new(),
        };
        for bad in [0, 1, MAX_BINS + 1, 1000] {
            let cfg = TrainConfig {
                max_bins: bad,
                ..TrainConfig::default()
            };
            let r = train(&data, &cfg, &mut |_| {});
            assert!(
                matches!(r, Err(TrainError::MaxBins(b)) if b == bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn coarse_groups_balance_rows_and_keep_a_heavy_bin_alone() {
        // A past-due count: 0 holds most rows; index-based groups would merge 0 and 1.
        let g = cells::balanced_split(&[9400, 350, 120, 60, 70], 5, 4);
        assert_eq!(g, [0, 1, 2, 3, 3]);
        // Quantile bins: equal groups.
        let g = cells::balanced_split(&[100; 8], 8, 4);
        assert_eq!(g, [0, 0, 1, 1, 2, 2, 3, 3]);
    }

    #[test]
    fn pav_makes_a_sequence_non_decreasing() {
        let mut v = [0.0, 2.0, 1.0, 3.0, 2.5];
        isotonic_increasing(&mut v, &[1.0, 1.0, 1.0, 1.0, 3.0]);
        assert_eq!(v, [0.0, 1.5, 1.5, 2.625, 2.625]);
    }

    #[test]
    fn folds_are_stratified() {
        let labels: Vec<u8> = (0..100).map(|i| u8::from(i % 10 == 0)).collect();
        let f = stratified_folds(&labels, 5);
        for k in 0..5 {
            let pos = (0..100).filter(|&i| f[i] == k && labels[i] == 1).count();
            let all = (0..100).filter(|&i| f[i] == k).count();
            assert_eq!((pos, all), (2, 20));
        }
    }

    /// A seeded stand-in with the real schema's quirks (missing incomes and dependents, the
    /// 96/98 codes) and labels from a logistic model with an interaction between utilisation and
    /// serious delinquency, so that the trainer has a pair worth cells.
    fn synthetic(n: usize) -> TrainingSet {
        synthetic_with(n, 1.5, 0.0, 0.0)
    }

    /// [`synthetic`] with the utilisation × serious-delinquency term scaled by `util_late` and
    /// `late_late` times a sub-additive interplay of late payments (30-59 days late raise the
    /// risk, less so for who was also 90 days late): the kind of cells the past-due repair acts on;
    /// `old_util` times utilisation for applicants of 62 or more: a fitted age × utilisation
    /// grid would then charge elderly applicants with high utilisation for their age.
    fn synthetic_with(n: usize, util_late: f64, late_late: f64, old_util: f64) -> TrainingSet {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut u = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..n {
            let util = u() * 1.3;
            let late = |x: f64| {
                if x < 0.8 {
                    0.0
                } else if x < 0.995 {
                    ((x - 0.8) * 20.0).floor() + 1.0
                } else {
                    98.0
                }
            };
            let r = [
                util,
                (21.0 + u() * 70.0).floor(),
                late(u()),
                u() * 2.0,
                if u() < 0.2 {
                    f64::NAN
                } else {
                    (u() * 15_000.0).floor()
                },
                (u() * 20.0).floor(),
                late(u()),
                (u() * 4.0).floor(),
                late(u()),
                if u() < 0.05 {
                    f64::NAN
                } else {
                    (u() * 4.0).floor()
                },
            ];
            let l90 = if r[6] > 90.0 { 3.0 } else { r[6] };
            let l30 = if r[2] > 90.0 { 3.0 } else { r[2] };
            let z = -3.0 + 1.5 * util + 0.6 * l90 + util_late * util * l90.min(2.0)
                - 0.02 * (r[1] - 50.0)
                + late_late * (0.8 * l30.min(3.0) - 0.5 * l30.min(2.0) * l90.min(2.0))
                + old_util * util * f64::from(u8::from(r[1] >= ELDERLY_AGE));
            labels.push(u8::from(u() < 1.0 / (1.0 + (-z).exp())));
            rows.push(r);
        }
        TrainingSet {
            rows,
            labels,
            sha256: String::new(),
        }
    }

    #[test]
    fn own_log_odds_are_the_design_times_the_coefficients() {
        // The raw fit (no policy repairs): every row's X·w from the design matrix must equal
        // intercept + Σ bin.logit + Σ cell.logit read from the artifact's fields alone, which
        // is what a front door scoring cells computes.
        let data = synthetic(4000);
        let cfg = TrainConfig {
            interactions: 3,
            max_bins: 12,
            ..TrainConfig::default()
        };
        let idx: Vec<usize> = (0..data.rows.len()).collect();
        let (rows, labels) = (&data.rows, &data.labels);
        let layout = fit_layout(rows, &idx, &cfg);
        let pairs = [[0, 6], [2, 8], [4, 9]];
        let counts = cells::range_counts(&layout, rows, &idx);
        let grids = cells::grids(&layout, &pairs, cfg.coarse_groups, &counts, layout.n_cols);
        assert_eq!(grids.len(), 3);
        let x_main = design(&layout, rows, &idx);
        let x_cells = cells::design(&layout, &grids, rows, &idx, 2.0);
        let x = ndarray::concatenate(Axis(1), &[x_main.view(), x_cells.view()]).unwrap();
        let input = FitInput {
            rows,
            labels,
            idx: &idx,
            layout: &layout,
            grids: &grids,
            policies: false,
        };
        let cfg = TrainConfig {
            cell_scale: 2.0,
            ..cfg
        };
        let (art, raw) = fit_one(&input, x.view(), None, &cfg).unwrap();
        assert_eq!(art.format_version, INTERACTIONS_VERSION);
        assert_eq!(art.interactions.len(), 3);
        let n = raw.len() - 1;
        let sign = (art.intercept * raw[n]).signum();
        let card = Scorecard::new(art.clone()).unwrap();
        for (r, row) in rows.iter().enumerate() {
            let z = sign * (x.row(r).dot(&raw.slice(ndarray::s![..n])) + raw[n]);
            let (own, score) = log_odds_and_score(&card, row);
            assert!(
                (z - own).abs() < 1e-9,
                "row {r}: design {z}, artifact {own}"
            );
            let want = art.scaling.offset - art.scaling.factor * own;
            assert!(
                (score - want).abs() < 1e-6,
                "row {r}: score {score}, {want}"
            );
        }
        // Not vacuous: the cells carry weight of their own.
        let largest = art
            .interactions
            .iter()
            .flat_map(|it| &it.cells)
            .map(|c| c.logit.abs())
            .fold(0.0, f64::max);
        assert!(largest > 0.05, "cells carry no signal ({largest})");
    }

    #[test]
    fn interaction_training_excludes_age_and_keeps_past_due_cells_monotone() {
        let data = synthetic(6000);
        let cfg = TrainConfig {
            interactions: MAX_INTERACTIONS,
            max_bins: 10,
            folds: 2,
            ..TrainConfig::default()
        };
        let out = train(&data, &cfg, &mut |_| {}).unwrap();
        let art = &out.artifact;
        assert_eq!(art.format_version, INTERACTIONS_VERSION);
        assert!(art.interactions.len() >= 12);
        assert_eq!(out.pair_gains.len(), 36);
        for it in &art.interactions {
            assert!(
                !it.features.contains(&"age".to_owned()),
                "{:?}",
                it.features
            );
        }
        assert_past_due_never_lowers_log_odds(art, &data.rows);
        // The utilisation × serious-delinquency pair carries the planted interaction.
        let top = &out.pair_gains[0];
        assert_eq!(
            top.features,
            [
                "RevolvingUtilizationOfUnsecuredLines".to_owned(),
                "NumberOfTimes90DaysLate".to_owned()
            ]
        );
        assert!(out.oof.iter().all(|p| p.is_finite()));
    }

    #[test]
    fn age_pairs_never_cost_an_elderly_applicant_points_for_age() {
        // Risk that rises with utilisation only from 62 on: left to itself, the age ×
        // utilisation grid charges the elderly with high utilisation for their age.
        let data = synthetic_with(8000, 0.0, 0.0, 2.5);
        let cfg = TrainConfig {
            interactions: 6,
            max_bins: 10,
            folds: 2,
            age_pairs: true,
            ..TrainConfig::default()
        };
        let out = train(&data, &cfg, &mut |_| {}).unwrap();
        let art = &out.artifact;
        assert_eq!(out.pair_gains.len(), 45);
        let with_age: Vec<_> = art
            .interactions
            .iter()
            .filter(|x| x.features.contains(&"age".to_owned()))
            .collect();
        assert!(!with_age.is_empty(), "{:?}", out.pair_gains);
        assert!(art.training.method.contains("Regulation B"));
        assert_elderly_never_lose(art, &data.rows);
        assert_past_due_never_lowers_log_odds(art, &data.rows);
    }

    /// Regulation B, by scoring: for every row, the log-odds with each elderly age (an age
    /// bin's lower edge from 62 on) are at most those with every younger age (each younger bin's
    /// lower edge, and 18), the other features held.
    fn assert_elderly_never_lose(art: &ModelArtifact, rows: &[[f64; N_FEATURES]]) {
        let card = Scorecard::new(art.clone()).unwrap();
        let edges = &art.features[AGE].edges;
        let ages = std::iter::once(18.0).chain(edges.iter().copied());
        let (elderly, young): (Vec<f64>, Vec<f64>) = ages.partition(|&a| a >= ELDERLY_AGE);
        assert!(!elderly.is_empty() && !young.is_empty());
        for row in rows.iter().take(3000) {
            let z = |age: f64| {
                let mut at = *row;
                at[AGE] = age;
                log_odds_and_score(&card, &at).0
            };
            let worst_elderly = elderly.iter().map(|&a| z(a)).fold(f64::MIN, f64::max);
            let best_young = young.iter().map(|&a| z(a)).fold(f64::MAX, f64::min);
            assert!(
                worst_elderly <= best_young + 1e-9,
                "{worst_elderly} > {best_young} ({row:?})"
            );
        }
    }

    /// For every row and past-due feature: setting the feature to each of its range bins in turn
    /// (its lower edge), the model's log-odds never fall as the count grows, cells included.
    fn assert_past_due_never_lowers_log_odds(art: &ModelArtifact, rows: &[[f64; N_FEATURES]]) {
        let card = Scorecard::new(art.clone()).unwrap();
        for row in rows.iter().take(3000) {
            for &j in &MONOTONE_INCREASING_RISK {
                let mut at = *row;
                let mut last = f64::NEG_INFINITY;
                let values = std::iter::once(0.0).chain(art.features[j].edges.iter().copied());
                for v in values {
                    at[j] = v;
                    let (z, _) = log_odds_and_score(&card, &at);
                    assert!(
                        z >= last - 1e-9,
                        "feature {j} at {v}: {z} < {last} ({row:?})"
                    );
                    last = z;
                }
            }
        }
    }

    /// The model's probability of each of `rows`, from its log-odds as the scorer computes them.
    fn in_sample(art: &ModelArtifact, rows: &[[f64; N_FEATURES]]) -> Vec<f64> {
        let card = Scorecard::new(art.clone()).unwrap();
        rows.iter()
            .map(|r| sigmoid(log_odds_and_score(&card, r).0))
            .collect()
    }

    #[test]
    fn cells_keep_the_mean_prediction_at_the_base_rate_and_past_due_monotone() {
        // Sub-additive late payments: the raw cells fall along past-due axes and the repair
        // raises them; without re-fitting the intercept the model over-predicts.
        let data = synthetic_with(8000, -1.0, 1.0, 0.0);
        let cfg = TrainConfig {
            interactions: 8,
            max_bins: 10,
            folds: 2,
            ..TrainConfig::default()
        };
        let out = train(&data, &cfg, &mut |_| {}).unwrap();
        let art = &out.artifact;
        assert!(!art.interactions.is_empty());
        let p = in_sample(art, &data.rows);
        let mean = p.iter().sum::<f64>() / p.len() as f64;
        let rate = data.labels.iter().map(|&y| f64::from(y)).sum::<f64>() / p.len() as f64;
        assert!(
            (mean - rate).abs() < 1e-9,
            "mean prediction {mean}, rate {rate}"
        );
        assert_past_due_never_lowers_log_odds(art, &data.rows);
    }

    /// Boosted refinement (`refine_rounds`) keeps every rule of the default fit (past-due totals
    /// monotone, the age policy, the mean prediction at the rate, the pairs as asked), with and
    /// without cells, and does what it is for: the refined model fits its training rows better
    /// (lower log loss) than the same fit without it. A bad rate is refused before fitting.
    #[test]
    fn refined_models_keep_the_rules_and_fit_better() {
        let data = synthetic_with(8000, -1.0, 1.0, 0.0);
        for bad in [0.0, -0.1, f64::NAN, f64::INFINITY] {
            let cfg = TrainConfig {
                refine_rate: bad,
                ..TrainConfig::default()
            };
            let e = train(&data, &cfg, &mut |_| {}).unwrap_err();
            assert!(matches!(e, TrainError::RefineRate(_)), "{bad}: {e:?}");
        }
        let rate = data.labels.iter().map(|&y| f64::from(y)).sum::<f64>() / data.rows.len() as f64;
        for interactions in [6, 0] {
            let mut log_loss = Vec::new();
            for refine_rounds in [0, 10] {
                let cfg = TrainConfig {
                    interactions,
                    max_bins: 10,
                    folds: 2,
                    refine_rounds,
                    ..TrainConfig::default()
                };
                let out = train(&data, &cfg, &mut |_| {}).unwrap();
                let art = &out.artifact;
                let case = format!("{interactions} pairs, {refine_rounds} rounds");
                assert_eq!(art.interactions.len(), interactions, "{case}");
                let mut pairs: Vec<_> = art.interactions.iter().map(|it| &it.features).collect();
                pairs.sort();
                pairs.dedup();
                assert_eq!(pairs.len(), interactions, "{case}");
                assert_past_due_never_lowers_log_odds(art, &data.rows);
                let age = &art.features[AGE];
                let split = crate::schema::first_elderly_bin(&age.edges);
                let lowest_young = age.range_bins[..split]
                    .iter()
                    .map(|b| b.logit)
                    .fold(f64::INFINITY, f64::min);
                assert!(
                    age.range_bins[split..]
                        .iter()
                        .all(|b| b.logit <= lowest_young + 1e-12),
                    "{case}"
                );
                let p = in_sample(art, &data.rows);
                let mean = p.iter().sum::<f64>() / p.len() as f64;
                // The additive model keeps its intercept (its repairs hardly move the mean);
                // a refined or cells model re-fits it.
                if interactions > 0 || refine_rounds > 0 {
                    assert!(
                        (mean - rate).abs() < 1e-9,
                        "{case}: mean {mean}, rate {rate}"
                    );
                }
                assert!(out.oof.iter().all(|p| p.is_finite()), "{case}");
                let loss = p
                    .iter()
                    .zip(&data.labels)
                    .map(|(&p, &y)| -if y == 1 { p.ln() } else { (1.0 - p).ln() })
                    .sum::<f64>()
                    / p.len() as f64;
                log_loss.push(loss);
            }
            assert!(
                log_loss[1] < log_loss[0] - 1e-6,
                "{interactions} pairs: log loss {log_loss:?} (plain, refined)"
            );
        }
    }

    #[test]
    fn cell_repair_makes_past_due_axes_non_decreasing() {
        // Axis 0: utilisation (free), axis 1: 90 days late (monotone) — 2 x 3 cells, the last
        // column nominal (special codes) and left alone.
        let grid = cells::Grid {
            features: [0, 6],
            groups: [vec![0, 1], vec![0, 1, 2]],
            n_range: [2, 2],
            n_groups: [2, 3],
            first_col: 0,
        };
        let mut logits = [0.0, -1.0, 5.0, 0.3, 0.1, -4.0];
        cells::make_monotone(
            &grid,
            &mut logits,
            &[1.0, 3.0, 1.0, 1.0, 1.0, 1.0],
            &[vec![0.0; 2], vec![0.0; 2]],
        );
        let want = [-0.75, -0.75, 5.0, 0.2, 0.2, -4.0];
        assert!(
            logits.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{logits:?}"
        );
        // Both axes past-due (30-59 x 60-89): every cell at least its upper and left neighbours.
        let grid = cells::Grid {
            features: [2, 8],
            groups: [vec![0, 1, 2], vec![0, 1, 2]],
            n_range: [3, 3],
            n_groups: [3, 3],
            first_col: 0,
        };
        let mut logits = [0.0, 1.0, -2.0, 0.5, -3.0, 2.0, -1.0, 0.0, 0.2];
        cells::make_monotone(&grid, &mut logits, &[1.0; 9], &[vec![0.0; 3], vec![0.0; 3]]);
        for r in 0..3 {
            for c in 0..3 {
                if r > 0 {
                    assert!(logits[r * 3 + c] >= logits[(r - 1) * 3 + c], "{logits:?}");
                }
                if c > 0 {
                    assert!(logits[r * 3 + c] >= logits[r * 3 + c - 1], "{logits:?}");
                }
            }
        }
    }

    #[test]
    fn edges_are_quantiles_and_62_is_an_edge() {
        let cfg = TrainConfig::default();
        let vals: Vec<f64> = (0..10_000).map(|i| 18.0 + (i % 80) as f64).collect();
        let b = fit_edges(&FEATURES[AGE], vals, &cfg);
        assert!(b.edges.contains(&62.0));
        assert!(b.edges.windows(2).all(|w| w[0] < w[1]));
    }
}
