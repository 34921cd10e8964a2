//! Pairwise interaction cells (`credit train --interactions K`, format version 3).
//!
//! Why cells on a coarse grid: the additive scorecard cannot express that, say, a high
//! utilisation is worse for an applicant who was already late. A cell table over two features'
//! *bins* keeps the model a points table that every front door scores with lookups, and a coarse
//! grid (each feature's range bins merged into at most `coarse_groups` contiguous groups,
//! balanced by rows; the missing bin and the special-code bin keep a group of their own) keeps each cell
//! backed by enough rows.
//!
//! How pairs are chosen (on the rows being fitted only, so inside a fold on its training rows):
//! FAST-style ranking. With the fitted additive model's probabilities `p`, each row has gradient
//! `g = y - p` and curvature `h = p (1 - p)`; one Newton step on a lookup table over a grid
//! improves the log-likelihood by about `Σ G² / 2(H + λ)` over its cells. A pair's gain is that of
//! its cell grid minus those of its two margins (plus the grand total, counted twice otherwise):
//! the part only an interaction can capture. The `K` pairs of highest gain are kept. `age` is
//! never a candidate (Regulation B: a cell could make age count against an applicant of 62 or more
//! behind the age policy's back).
//!
//! Grids are balanced by rows, not by bin index (the `0` of a past-due count, over 90% of the
//! rows, must not share a group with `1`).
//!
//! How cells are fitted: jointly with the main effects, in the same penalised logistic
//! regression. A grid's columns are the tensor product of the two axes' codings: along the range
//! groups a thermometer (a coefficient is a step between neighbouring groups), the missing and
//! special groups one-hot. So each coefficient is a mixed difference of neighbouring cells, and
//! the L2 penalty smooths the cell surface as it smooths the bins' points curves; the first range
//! group of each axis is the baseline (its cells are zero before repair), which leaves the
//! margins to the main effects. The columns hold `cell_scale` instead of 1: the penalty on a cell
//! step is then `alpha / cell_scale²`.
//!
//! Past-due counts never earn points as they grow, cells included: the main effects are made
//! non-decreasing first; then along a past-due axis a grid's cells may fall by at most the
//! grid's share of the main effect's rise across each group boundary (the rise divided by the
//! number of grids the feature is in), enforced by weighted isotonic regression on cells plus
//! that slack (alternating passes finished by a running maximum when both axes are past-due).
//! So the total logit never falls as a count grows, while cells can still say that two kinds
//! of late payment add up to less than their sum. Requiring the cells themselves to be
//! non-decreasing (the first version) flattened exactly those cells, which raised the
//! predictions of every late payer: the model over-predicted (mean 0.0714 against 0.0668 on
//! the full data). The repairs move logits after the fit, so a model with cells then gets its
//! intercept re-fitted with every bin and cell held fixed (mean prediction = observed rate).

use super::{isotonic_increasing, span_label, Layout, MONOTONE_INCREASING_RISK};
use crate::artifact::{Bin, Interaction, Scaling};
use crate::schema::{AGE, ELDERLY_AGE, FEATURES, N_FEATURES};
use ndarray::{Array1, Array2};

/// Ridge of the gain estimate: keeps a nearly empty cell from looking informative.
pub(super) const GAIN_RIDGE: f64 = 10.0;

/// One selected pair: its coarse grid and where its columns start in the design matrix.
#[derive(Clone, Debug)]
pub(super) struct Grid {
    /// The two features, `a < b` in schema order.
    pub features: [usize; 2],
    /// Per axis, the coarse group of each bin in `FeatureCard::all_bins` order.
    pub groups: [Vec<u16>; 2],
    /// Per axis, the number of ordered (range) groups; the groups after them are nominal.
    pub n_range: [usize; 2],
    /// Per axis, the number of groups.
    pub n_groups: [usize; 2],
    /// First design column of the grid.
    pub first_col: usize,
}

impl Grid {
    /// The cell (row-major) of the rows whose two features fall in bins `ka` and `kb`.
    pub(super) fn cell(&self, ka: usize, kb: usize) -> usize {
        usize::from(self.groups[0][ka]) * self.n_groups[1] + usize::from(self.groups[1][kb])
    }

    fn n_cols(&self) -> usize {
        (self.n_groups[0] - 1) * (self.n_groups[1] - 1)
    }
}

/// A candidate pair and its estimated gain (in nats of log-likelihood over the fitted rows).
#[derive(Clone, Debug, PartialEq)]
pub struct PairGain {
    pub features: [String; 2],
    pub gain: f64,
    /// Whether the pair got cells in the model.
    pub selected: bool,
}

/// Bin of `v` in `FeatureCard::all_bins` order under the layout's binning of feature `j`.
pub(super) fn bin_of(layout: &Layout, j: usize, v: f64) -> Option<usize> {
    let n_range = layout.binnings[j].edges.len() + 1;
    if v.is_nan() {
        return layout.missing_col[j].map(|_| n_range);
    }
    if FEATURES[j].is_special(v) {
        let after = n_range + usize::from(layout.missing_col[j].is_some());
        return layout.special_col[j].map(|_| after);
    }
    Some(layout.binnings[j].edges.partition_point(|&e| e <= v))
}

/// Coarse groups of feature `j`'s bins: its range bins split into `r = min(n, max_groups)`
/// contiguous groups balanced by rows (`range_counts`: rows per range bin on the fitted rows),
/// then the missing bin and the special bin get a group each. Balancing by rows rather than by
/// bin index matters for counts: the 0 of a past-due count holds over 90% of the rows in one
/// bin, and must not share a group with 1.
/// Returns the groups per bin, the number of range groups and of all groups.
fn coarse_groups(
    layout: &Layout,
    j: usize,
    max_groups: usize,
    range_counts: &[u64],
) -> (Vec<u16>, usize, usize) {
    let edges = &layout.binnings[j].edges;
    let n = edges.len() + 1;
    let counts = &range_counts[..n.min(range_counts.len())];
    let young = crate::schema::first_elderly_bin(edges);
    let (mut groups, r) = if j == AGE && young < n && edges.contains(&ELDERLY_AGE) {
        // Age: the younger bins balanced in all groups but one, the elderly bins (62 and
        // over: an edge sits at 62) one group of their own, so that no cell mixes the two
        // sides of Regulation B's line.
        let r = young.min(max_groups.max(2) - 1);
        let mut groups = balanced_split(&counts[..young.min(counts.len())], young, r);
        groups.resize(n, r as u16);
        (groups, r + 1)
    } else {
        let r = n.min(max_groups.max(1));
        (balanced_split(counts, n, r), r)
    };
    let mut next = r;
    for present in [layout.missing_col[j], layout.special_col[j]] {
        if present.is_some() {
            groups.push(next as u16);
            next += 1;
        }
    }
    (groups, r, next)
}

/// Splits `n` ordered bins with the given row counts into exactly `r <= n` contiguous non-empty
/// groups minimising the sum of squared group sizes (dynamic programming, `O(n² r)`): the
/// groups are as equal in rows as the bins allow, and a bin heavier than a fair share stays
/// alone. Returns the group of every bin.
pub(super) fn balanced_split(counts: &[u64], n: usize, r: usize) -> Vec<u16> {
    let mut prefix = vec![0.0; n + 1];
    for k in 0..n {
        // One extra row per bin so that empty bins still spread out evenly.
        prefix[k + 1] = prefix[k] + counts.get(k).copied().unwrap_or(0) as f64 + 1.0;
    }
    let cost = |a: usize, b: usize| (prefix[b] - prefix[a]).powi(2);
    // best[g][k]: least cost of the first k bins in g groups; from[g][k]: start of the last one.
    let mut best = vec![vec![f64::INFINITY; n + 1]; r + 1];
    let mut from = vec![vec![0usize; n + 1]; r + 1];
    best[0][0] = 0.0;
    for g in 1..=r {
        for k in g..=n {
            for s in g - 1..k {
                let c = best[g - 1][s] + cost(s, k);
                if c < best[g][k] {
                    best[g][k] = c;
                    from[g][k] = s;
                }
            }
        }
    }
    let mut groups = vec![0u16; n];
    let mut k = n;
    for g in (1..=r).rev() {
        let s = from[g][k];
        for v in &mut groups[s..k] {
            *v = (g - 1) as u16;
        }
        k = s;
    }
    groups
}

/// Rows per range bin of every feature on the rows `idx`.
pub(super) fn range_counts(
    layout: &Layout,
    rows: &[[f64; N_FEATURES]],
    idx: &[usize],
) -> Vec<Vec<u64>> {
    (0..N_FEATURES)
        .map(|j| {
            let n = layout.binnings[j].edges.len() + 1;
            let mut counts = vec![0u64; n];
            for &i in idx {
                if let Some(k) = bin_of(layout, j, rows[i][j]).filter(|&k| k < n) {
                    counts[k] += 1;
                }
            }
            counts
        })
        .collect()
}

/// The coding of group `g` on an axis with `n_range` ordered groups out of `n_groups`: a
/// thermometer over the ordered groups (position `k` is 1 when `g > k`), one-hot for the rest.
fn coding(g: usize, n_range: usize, n_groups: usize) -> Vec<f64> {
    let mut u = vec![0.0; n_groups - 1];
    if g < n_range {
        for v in &mut u[..g] {
            *v = 1.0;
        }
    } else {
        u[n_range - 1 + (g - n_range)] = 1.0;
    }
    u
}

/// Candidate pairs: every pair of features, in schema order; without `age` unless `age`.
fn candidates(age: bool) -> Vec<[usize; 2]> {
    let mut out = Vec::new();
    for a in 0..N_FEATURES {
        for b in a + 1..N_FEATURES {
            if age || (a != AGE && b != AGE) {
                out.push([a, b]);
            }
        }
    }
    out
}

/// Newton gain `Σ G² / 2(H + λ)` of a lookup table with the given per-cell sums.
fn newton_gain(g: &[f64], h: &[f64]) -> f64 {
    g.iter()
        .zip(h)
        .map(|(g, h)| g * g / (2.0 * (h + GAIN_RIDGE)))
        .sum()
}

/// FAST-style ranking of every candidate pair on the rows `idx` given the additive model's
/// probability `p[r]` of row `idx[r]`; highest gain first, ties in schema order.
pub(super) fn rank_pairs(
    layout: &Layout,
    rows: &[[f64; N_FEATURES]],
    labels: &[u8],
    idx: &[usize],
    p: &[f64],
    cfg: &super::TrainConfig,
    counts: &[Vec<u64>],
) -> Vec<([usize; 2], f64)> {
    let max_groups = cfg.coarse_groups;
    let coarse: Vec<(Vec<u16>, usize, usize)> = (0..N_FEATURES)
        .map(|j| coarse_groups(layout, j, max_groups, &counts[j]))
        .collect();
    // Group of every row on every axis (a row that has no bin, impossible for validated rows,
    // is left out of the sums).
    let group_of = |j: usize, i: usize| bin_of(layout, j, rows[i][j]).map(|k| coarse[j].0[k]);
    let mut ranked: Vec<([usize; 2], f64)> = candidates(cfg.age_pairs)
        .into_iter()
        .map(|[a, b]| {
            let (na, nb) = (coarse[a].2, coarse[b].2);
            let (mut gc, mut hc) = (vec![0.0; na * nb], vec![0.0; na * nb]);
            for (r, &i) in idx.iter().enumerate() {
                if let (Some(ga), Some(gb)) = (group_of(a, i), group_of(b, i)) {
                    let c = usize::from(ga) * nb + usize::from(gb);
                    gc[c] += f64::from(labels[i]) - p[r];
                    hc[c] += p[r] * (1.0 - p[r]);
                }
            }
            let margin = |by_row: bool| {
                let n = if by_row { na } else { nb };
                let (mut g, mut h) = (vec![0.0; n], vec![0.0; n]);
                for c in 0..na * nb {
                    let k = if by_row { c / nb } else { c % nb };
                    g[k] += gc[c];
                    h[k] += hc[c];
                }
                newton_gain(&g, &h)
            };
            let total = newton_gain(&[gc.iter().sum()], &[hc.iter().sum()]);
            let gain = newton_gain(&gc, &hc) - margin(true) - margin(false) + total;
            ([a, b], gain.max(0.0))
        })
        .collect();
    ranked.sort_by(|x, y| y.1.total_cmp(&x.1));
    ranked
}

/// The grids of the chosen pairs, their columns numbered from `first_col` on.
pub(super) fn grids(
    layout: &Layout,
    pairs: &[[usize; 2]],
    max_groups: usize,
    counts: &[Vec<u64>],
    first_col: usize,
) -> Vec<Grid> {
    let mut col = first_col;
    let mut out = Vec::new();
    for &[a, b] in pairs {
        let (ga, ra, na) = coarse_groups(layout, a, max_groups, &counts[a]);
        let (gb, rb, nb) = coarse_groups(layout, b, max_groups, &counts[b]);
        if na < 2 || nb < 2 {
            continue; // a one-group axis has no interaction to express
        }
        let grid = Grid {
            features: [a, b],
            groups: [ga, gb],
            n_range: [ra, rb],
            n_groups: [na, nb],
            first_col: col,
        };
        col += grid.n_cols();
        out.push(grid);
    }
    out
}

/// Total number of design columns of `grids`.
pub(super) fn n_cols(grids: &[Grid]) -> usize {
    grids.iter().map(Grid::n_cols).sum()
}

/// The cell columns of the rows `idx` (one design row per entry), holding `scale` where set.
pub(super) fn design(
    layout: &Layout,
    grids: &[Grid],
    rows: &[[f64; N_FEATURES]],
    idx: &[usize],
    scale: f64,
) -> Array2<f64> {
    let first = grids.first().map_or(0, |g| g.first_col);
    let mut x = Array2::<f64>::zeros((idx.len(), n_cols(grids)));
    for (r, &i) in idx.iter().enumerate() {
        for grid in grids {
            let [a, b] = grid.features;
            let (Some(ka), Some(kb)) =
                (bin_of(layout, a, rows[i][a]), bin_of(layout, b, rows[i][b]))
            else {
                continue;
            };
            let ua = coding(grid.groups[0][ka].into(), grid.n_range[0], grid.n_groups[0]);
            let ub = coding(grid.groups[1][kb].into(), grid.n_range[1], grid.n_groups[1]);
            let width = grid.n_groups[1] - 1;
            for (k, _) in ua.iter().enumerate().filter(|(_, &v)| v != 0.0) {
                for (l, _) in ub.iter().enumerate().filter(|(_, &v)| v != 0.0) {
                    x[[r, grid.first_col - first + k * width + l]] = scale;
                }
            }
        }
    }
    x
}

/// Cell logits of a grid (row-major) from the fitted coefficients `beta` (log-odds of default).
pub(super) fn cell_logits(grid: &Grid, beta: &Array1<f64>, scale: f64) -> Vec<f64> {
    let [na, nb] = grid.n_groups;
    let width = nb - 1;
    let mut out = vec![0.0; na * nb];
    for r in 0..na {
        let ua = coding(r, grid.n_range[0], na);
        for c in 0..nb {
            let ub = coding(c, grid.n_range[1], nb);
            let mut z = 0.0;
            for (k, &u) in ua.iter().enumerate() {
                for (l, &v) in ub.iter().enumerate() {
                    z += u * v * scale * beta[grid.first_col + k * width + l];
                }
            }
            out[r * nb + c] = z;
        }
    }
    out
}

/// Per range group of `axis`, the cumulative share of the main effect's rise that the grid's
/// cells may give back along that axis: at each boundary between neighbouring groups, the
/// main-effect step across it (non-negative: the main effects are repaired first) divided by the
/// number of grids the feature is in. Zero on an axis that is not past-due.
fn slack(grid: &Grid, axis: usize, fit: &CellFit<'_>) -> Vec<f64> {
    let j = grid.features[axis];
    let n_range = grid.n_range[axis];
    let mut out = vec![0.0; n_range];
    if !MONOTONE_INCREASING_RISK.contains(&j) {
        return out;
    }
    let share = fit
        .grids
        .iter()
        .filter(|g| g.features.contains(&j))
        .count()
        .max(1) as f64;
    let groups = &grid.groups[axis];
    let main = &fit.mains[j];
    let n_bins = fit.layout.binnings[j].edges.len() + 1;
    for g in 1..n_range {
        // First bin of group g and last bin of group g - 1 (groups are contiguous).
        let first = (0..n_bins).find(|&k| usize::from(groups[k]) == g);
        let step = first.map_or(0.0, |k| (main[k] - main[k - 1]).max(0.0));
        out[g] = out[g - 1] + step / share;
    }
    out
}

/// Makes the cells' part of the logit along every past-due axis give back at most the grid's
/// share of the main effect's rise (`slack`, per range group of each axis): with every grid of
/// a past-due feature doing so, the total logit (main effect plus all cells) never falls as
/// the count grows, whatever the other features are, while a cell may still temper the main
/// effect (late payments of two kinds add up to less than the sum of each). Cells plus slack
/// are made non-decreasing by weighted isotonic regression; the nominal groups are left alone,
/// as the special-code bin of the main effect is.
pub(super) fn make_monotone(
    grid: &Grid,
    logits: &mut [f64],
    weights: &[f64],
    slack: &[Vec<f64>; 2],
) {
    let nb = grid.n_groups[1];
    let shift = |c: usize| {
        let (r, k) = (c / nb, c % nb);
        slack[0].get(r).copied().unwrap_or(0.0) + slack[1].get(k).copied().unwrap_or(0.0)
    };
    for (c, l) in logits.iter_mut().enumerate() {
        *l += shift(c);
    }
    make_non_decreasing(grid, logits, weights);
    for (c, l) in logits.iter_mut().enumerate() {
        *l -= shift(c);
    }
}

/// Regulation B in a grid with age (after the past-due repair, which it keeps: see below):
/// in every column of the other feature's groups, each elderly cell's logit is lowered to at
/// most the column's most favoured (lowest) younger cell plus this grid's share of the age
/// bins' margin (the lowest younger bin logit less the highest elderly one, not negative after
/// `main_effect`'s repair; shared equally among the grids with age). Summed over the bins and
/// every grid, an applicant of 62 or more then never has a higher logit from age than a
/// younger one with the same other features: the bound `cells::elderly_never_lose` checks
/// when a model loads. Lowering a cell to the minimum of younger cells that are each
/// non-decreasing (with slack) along a past-due axis leaves that axis non-decreasing.
fn repair_age(grid: &Grid, fit: &CellFit<'_>, logits: &mut [f64]) {
    let Some(axis) = grid.features.iter().position(|&j| j == AGE) else {
        return;
    };
    let edges = &fit.layout.binnings[AGE].edges;
    let young = crate::schema::first_elderly_bin(edges);
    let n_range = edges.len() + 1;
    let main = &fit.mains[AGE];
    if young >= n_range || main.len() < n_range {
        return; // no elderly bin
    }
    let lo_young = main[..young].iter().copied().fold(f64::INFINITY, f64::min);
    let hi_elderly = main[young..n_range]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let with_age = fit
        .grids
        .iter()
        .filter(|g| g.features.contains(&AGE))
        .count();
    let share = (lo_young - hi_elderly).max(0.0) / with_age.max(1) as f64;
    let groups = &grid.groups[axis];
    let is_elderly = |g: usize| (young..n_range).any(|k| usize::from(groups[k]) == g);
    let is_young = |g: usize| (0..young).any(|k| usize::from(groups[k]) == g);
    let n = grid.n_groups;
    let cell = |g: usize, o: usize| {
        if axis == 0 {
            g * n[1] + o
        } else {
            o * n[1] + g
        }
    };
    for o in 0..n[1 - axis] {
        let best_young = (0..n[axis])
            .filter(|&g| is_young(g))
            .map(|g| logits[cell(g, o)])
            .fold(f64::INFINITY, f64::min);
        for g in (0..n[axis]).filter(|&g| is_elderly(g)) {
            let l = &mut logits[cell(g, o)];
            *l = l.min(best_young + share);
        }
    }
}

/// Makes values non-decreasing along every past-due axis over its range groups.
fn make_non_decreasing(grid: &Grid, logits: &mut [f64], weights: &[f64]) {
    let [na, nb] = grid.n_groups;
    let monotone = grid.features.map(|j| MONOTONE_INCREASING_RISK.contains(&j));
    let line = |axis: usize, fixed: usize, k: usize| {
        if axis == 0 {
            k * nb + fixed
        } else {
            fixed * nb + k
        }
    };
    let passes = if monotone[0] && monotone[1] { 10 } else { 1 };
    for _ in 0..passes {
        for axis in (0..2).filter(|&a| monotone[a]) {
            let other = grid.n_groups[1 - axis];
            for fixed in 0..other {
                let cells: Vec<usize> = (0..grid.n_range[axis])
                    .map(|k| line(axis, fixed, k))
                    .collect();
                let mut v: Vec<f64> = cells.iter().map(|&c| logits[c]).collect();
                let w: Vec<f64> = cells.iter().map(|&c| weights[c]).collect();
                isotonic_increasing(&mut v, &w);
                for (&c, v) in cells.iter().zip(v) {
                    logits[c] = v;
                }
            }
        }
    }
    if monotone[0] && monotone[1] {
        // Alternating projections need not meet exactly; a running maximum in row-major
        // order makes every cell at least its upper and left neighbours.
        for r in 0..grid.n_range[0] {
            for c in 0..grid.n_range[1] {
                let up = if r > 0 {
                    logits[(r - 1) * nb + c]
                } else {
                    f64::MIN
                };
                let left = if c > 0 {
                    logits[r * nb + c - 1]
                } else {
                    f64::MIN
                };
                logits[r * nb + c] = logits[r * nb + c].max(up).max(left);
            }
        }
    }
    debug_assert_eq!(logits.len(), na * nb);
}

/// Labels of a feature's coarse groups.
fn group_labels(layout: &Layout, j: usize, groups: &[u16], n_range: usize) -> Vec<String> {
    let edges = &layout.binnings[j].edges;
    let n_bins = edges.len() + 1;
    let mut labels: Vec<String> = (0..n_range)
        .map(|g| {
            let ks: Vec<usize> = (0..n_bins)
                .filter(|&k| usize::from(groups[k]) == g)
                .collect();
            let (k0, k1) = (ks.first().copied(), ks.last().copied());
            span_label(&FEATURES[j], edges, k0.unwrap_or(0), k1.unwrap_or(0))
        })
        .collect();
    if layout.missing_col[j].is_some() {
        labels.push("missing".into());
    }
    if layout.special_col[j].is_some() {
        labels.push("bureau code 96/98".into());
    }
    labels
}

/// What a fit needs to turn a grid's coefficients into an [`Interaction`].
pub(super) struct CellFit<'a> {
    pub layout: &'a Layout,
    pub rows: &'a [[f64; N_FEATURES]],
    pub labels: &'a [u8],
    pub idx: &'a [usize],
    pub beta: &'a Array1<f64>,
    pub scale: f64,
    pub scaling: &'a Scaling,
    /// Apply the past-due monotonicity repair (off only in tests of the raw fit).
    pub policies: bool,
    /// Per feature, the repaired main-effect logits of all bins (`FeatureCard::all_bins` order).
    pub mains: &'a [Vec<f64>],
    /// Every grid of the model (a past-due feature's slack is shared among its grids).
    pub grids: &'a [Grid],
}

/// The artifact section of one fitted grid: cell logits (repaired), points and training counts.
/// `extra`: the boosted refinement of the cell logits (`super::refine`), added before the repair.
pub(super) fn interaction(grid: &Grid, fit: &CellFit<'_>, extra: Option<&[f64]>) -> Interaction {
    let [a, b] = grid.features;
    let [na, nb] = grid.n_groups;
    let mut counts = vec![0u64; na * nb];
    let mut events = vec![0u64; na * nb];
    for &i in fit.idx {
        let ka = bin_of(fit.layout, a, fit.rows[i][a]);
        let kb = bin_of(fit.layout, b, fit.rows[i][b]);
        if let (Some(ka), Some(kb)) = (ka, kb) {
            let c = grid.cell(ka, kb);
            counts[c] += 1;
            events[c] += u64::from(fit.labels[i]);
        }
    }
    let mut logits = cell_logits(grid, fit.beta, fit.scale);
    if let Some(extra) = extra {
        for (l, e) in logits.iter_mut().zip(extra) {
            *l += e;
        }
    }
    if fit.policies {
        let w: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
        let slack = [0, 1].map(|axis| slack(grid, axis, fit));
        make_monotone(grid, &mut logits, &w, &slack);
        repair_age(grid, fit, &mut logits);
    }
    let la = group_labels(fit.layout, a, &grid.groups[0], grid.n_range[0]);
    let lb = group_labels(fit.layout, b, &grid.groups[1], grid.n_range[1]);
    let cells = (0..na * nb)
        .map(|c| Bin {
            label: format!("{} × {}", la[c / nb], lb[c % nb]),
            logit: logits[c],
            points: -fit.scaling.factor * logits[c],
            count: counts[c],
            events: events[c],
            event_rate: if counts[c] > 0 {
                events[c] as f64 / counts[c] as f64
            } else {
                0.0
            },
        })
        .collect();
    Interaction {
        features: [FEATURES[a].name.to_owned(), FEATURES[b].name.to_owned()],
        groups: grid.groups.clone(),
        group_labels: [la, lb],
        cells,
    }
}

/// Sum of a row's repaired main-effect and cell logits under the fit's layout (no intercept).
pub(super) fn row_logit(
    fit: &CellFit<'_>,
    interactions: &[Interaction],
    row: &[f64; N_FEATURES],
) -> f64 {
    let mut bins = [0usize; N_FEATURES];
    let mut z = 0.0;
    for (j, main) in fit.mains.iter().enumerate().take(N_FEATURES) {
        if let Some(k) = bin_of(fit.layout, j, row[j]) {
            z += main[k];
            bins[j] = k;
        }
    }
    for (grid, it) in fit.grids.iter().zip(interactions) {
        let [a, b] = grid.features;
        let r = usize::from(grid.groups[0][bins[a]]);
        let c = usize::from(grid.groups[1][bins[b]]);
        z += it.cells[r * grid.n_groups[1] + c].logit;
    }
    z
}

/// The pairs ranked, as reported (`selected` marks the ones that got cells).
pub(super) fn report(ranked: &[([usize; 2], f64)], chosen: &[Grid]) -> Vec<PairGain> {
    ranked
        .iter()
        .map(|&([a, b], gain)| PairGain {
            features: [FEATURES[a].name.to_owned(), FEATURES[b].name.to_owned()],
            gain,
            selected: chosen.iter().any(|g| g.features == [a, b]),
        })
        .collect()
}
