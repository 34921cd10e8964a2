//! Cyclic boosting of the fitted logits on the residuals (`refine_rounds > 0`), EBM-style.
//!
//! Why: the penalised regression shrinks every step between neighbouring bins (and every cell
//! step) by the same `alpha`, so a sharp step that the data support is smoothed away together
//! with the noise. Boosted stumps on the same features (an additive model) rank better on the
//! sample the penalised fit was compared with (docs/interactions.md). So after the joint fit the
//! logits are refined by a few rounds of cyclic gradient boosting on the residuals of the
//! fitted model: in each round, each feature in turn gets one stump over its ordered bins (the
//! split of its range bins with the largest Newton gain, at least `MIN_LEAF` rows a side; the
//! missing and bureau-code bins a leaf each) and each interaction grid one Newton step per cell,
//! all shrunk by `refine_rate`. The result is added to the fitted logits before the domain
//! repairs, which then act on the refined table exactly as on a fitted one (past-due counts
//! monotone, the age policy, cells monotone along past-due axes); the intercept is re-fitted
//! afterwards. The model stays a points table with the same bins and cells.

use super::{cells, sigmoid, FitInput, Layout, TrainConfig};
use crate::schema::N_FEATURES;
use ndarray::{Array1, ArrayView2};

/// Fewest rows on either side of a stump's split.
const MIN_LEAF: f64 = 200.0;
/// Ridge of a leaf's Newton step: the pair ranking's, so a cell's step here and its gain there agree.
const LEAF_RIDGE: f64 = cells::GAIN_RIDGE;

/// Logit adjustments found by boosting: per feature (all bins, `FeatureCard::all_bins` order)
/// and per grid (row-major cells).
pub(super) struct Refinement {
    pub mains: Vec<Vec<f64>>,
    pub cells: Vec<Vec<f64>>,
}

fn n_all_bins(layout: &Layout, j: usize) -> usize {
    layout.binnings[j].edges.len()
        + 1
        + usize::from(layout.missing_col[j].is_some())
        + usize::from(layout.special_col[j].is_some())
}

/// Boosts the fit `beta`, `intercept` (log-odds of default, design `x`) on `input`'s rows.
pub(super) fn boost(
    input: &FitInput<'_>,
    x: ArrayView2<'_, f64>,
    beta: &Array1<f64>,
    intercept: f64,
    cfg: &TrainConfig,
) -> Refinement {
    let layout = input.layout;
    let n = input.idx.len();
    let y: Vec<f64> = input
        .idx
        .iter()
        .map(|&i| f64::from(input.labels[i]))
        .collect();
    let mut z: Vec<f64> = x.dot(beta).iter().map(|v| v + intercept).collect();
    // Bin of every row on every feature (a row without a bin, impossible for validated rows,
    // takes no part in that feature's stumps).
    let bins: Vec<[Option<usize>; N_FEATURES]> = input
        .idx
        .iter()
        .map(|&i| std::array::from_fn(|j| cells::bin_of(layout, j, input.rows[i][j])))
        .collect();
    let cell_of = |g: &cells::Grid, r: usize| {
        let [a, b] = g.features;
        let (ka, kb) = (bins[r][a]?, bins[r][b]?);
        Some(g.cell(ka, kb))
    };
    let cell_rows: Vec<Vec<Option<usize>>> = input
        .grids
        .iter()
        .map(|g| (0..n).map(|r| cell_of(g, r)).collect())
        .collect();
    let mut mains: Vec<Vec<f64>> = (0..N_FEATURES)
        .map(|j| vec![0.0; n_all_bins(layout, j)])
        .collect();
    let mut cell_adj: Vec<Vec<f64>> = input
        .grids
        .iter()
        .map(|g| vec![0.0; g.n_groups[0] * g.n_groups[1]])
        .collect();
    let rate = cfg.refine_rate;
    for _ in 0..cfg.refine_rounds {
        for j in 0..N_FEATURES {
            let m = mains[j].len();
            let (g, h) = sums(m, &z, &y, (0..n).map(|r| bins[r][j]));
            let step = stump(&g, &h, layout.binnings[j].edges.len() + 1, rate);
            apply(&mut z, (0..n).map(|r| bins[r][j]), &step);
            for (a, s) in mains[j].iter_mut().zip(&step) {
                *a += s;
            }
        }
        for (k, rows_cells) in cell_rows.iter().enumerate() {
            let m = cell_adj[k].len();
            let (g, h) = sums(m, &z, &y, rows_cells.iter().copied());
            let step: Vec<f64> = g
                .iter()
                .zip(&h)
                .map(|(g, h)| rate * g / (h + LEAF_RIDGE))
                .collect();
            apply(&mut z, rows_cells.iter().copied(), &step);
            for (a, s) in cell_adj[k].iter_mut().zip(&step) {
                *a += s;
            }
        }
    }
    Refinement {
        mains,
        cells: cell_adj,
    }
}

/// Per-leaf sums of the gradient `y - p` and curvature `p (1 - p)`.
fn sums(
    m: usize,
    z: &[f64],
    y: &[f64],
    leaf: impl Iterator<Item = Option<usize>>,
) -> (Vec<f64>, Vec<f64>) {
    let (mut g, mut h) = (vec![0.0; m], vec![0.0; m]);
    for (r, k) in leaf.enumerate() {
        if let Some(k) = k {
            let p = sigmoid(z[r]);
            g[k] += y[r] - p;
            h[k] += p * (1.0 - p);
        }
    }
    (g, h)
}

fn apply(z: &mut [f64], leaf: impl Iterator<Item = Option<usize>>, step: &[f64]) {
    for (r, k) in leaf.enumerate() {
        if let Some(k) = k {
            z[r] += step[k];
        }
    }
}

/// One shrunk stump over a feature's bins: the best split of the `n_range` ordered bins (or
/// none), each side one Newton step; the bins after them (missing, codes) a leaf each. The
/// curvature sums stand in for row counts in the leaf-size rule (`MIN_LEAF` rows at a 6%
/// default rate).
fn stump(g: &[f64], h: &[f64], n_range: usize, rate: f64) -> Vec<f64> {
    let leaf = |g: f64, h: f64| g / (h + LEAF_RIDGE);
    let gain = |g: f64, h: f64| g * g / (h + LEAF_RIDGE);
    let min_h = MIN_LEAF * 0.06 * 0.94;
    let (gt, ht): (f64, f64) = (g[..n_range].iter().sum(), h[..n_range].iter().sum());
    let mut best = (gain(gt, ht), n_range);
    let (mut gl, mut hl) = (0.0, 0.0);
    for s in 1..n_range {
        gl += g[s - 1];
        hl += h[s - 1];
        if hl < min_h || ht - hl < min_h {
            continue;
        }
        let v = gain(gl, hl) + gain(gt - gl, ht - hl);
        if v > best.0 {
            best = (v, s);
        }
    }
    let s = best.1;
    let (gl, hl): (f64, f64) = (g[..s].iter().sum(), h[..s].iter().sum());
    let mut out = vec![0.0; g.len()];
    for (k, o) in out.iter_mut().enumerate().take(n_range) {
        *o = if k < s {
            rate * leaf(gl, hl)
        } else {
            rate * leaf(gt - gl, ht - hl)
        };
    }
    for k in n_range..g.len() {
        out[k] = rate * leaf(g[k], h[k]);
    }
    out
}
