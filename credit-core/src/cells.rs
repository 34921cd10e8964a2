//! Interaction cells (format version 3), everything about them that is more than a field of the
//! artifact: their structural validation, the kernel's pair tables, and their part in reasons and
//! explanations. Compiled in with the `interactions` feature (a default one); without it,
//! `cells_off.rs` stands in with the same names and refuses any model that has cells.
//!
//! Why one module: a build for which code size matters more than cells can leave the feature
//! out (it saves about 9 KB of the browser package's `.wasm`, which has it since the package
//! fits its budget with it), and keeping the cells code in one place keeps that switch to one
//! `#[cfg]` pair (in `lib.rs`) instead of one per use. The lean reader's parsing and writing
//! of the section (`artifact/read.rs`) is the one other place that has a `#[cfg]`: it needs
//! that reader's private tree types.

use crate::artifact::{
    points_for_cell, Bin, Interaction, ModelArtifact, INTERACTIONS_VERSION, MAX_ABS_LOGIT,
    MAX_GROUPS, MAX_INTERACTIONS, MAX_TOTAL_ABS_LOGIT,
};
use crate::error::{ModelError, Quoted};
use crate::kernel::{Table, BASE, INVALID, MASK, N, SLOTS};
use crate::schema::{AGE, ELDERLY_AGE, FEATURES, N_FEATURES};
use crate::scorecard::CellContribution;

/// Whether this build scores interaction cells.
pub const SUPPORTED: bool = true;

/// With cells compiled in, every document goes on to the readers' normal checks (see
/// `cells_off.rs` for the build that refuses them here).
#[inline(always)]
pub(crate) fn check_text(_text: &str) -> Result<(), ModelError> {
    Ok(())
}

/// The no-cells build's refusal (`cells_off.rs`); named by the lean reader behind a test that is
/// constant `false` with the feature, so never called here.
pub(crate) fn refused() -> ModelError {
    ModelError::Invalid(crate::artifact::NO_CELLS_IN_THIS_BUILD.into())
}

// ---- validation ---------------------------------------------------------------------------

/// Interaction cells (format version 3): see [`Interaction::check`] for each pair; here
/// the section's version, its size ([`MAX_INTERACTIONS`]), and the bound on all logits
/// together ([`MAX_TOTAL_ABS_LOGIT`]). Fixed texts, like `ScoreDistribution::validate`'s: each
/// number formatted in costs the `.wasm` code.
pub(crate) fn validate(a: &ModelArtifact) -> Result<(), ModelError> {
    let bad = |problem: &str| Err(ModelError::Invalid(format!("interactions: {problem}")));
    if a.interactions.is_empty() {
        return Ok(());
    }
    if a.format_version < INTERACTIONS_VERSION {
        return bad("the section needs format_version 3 or later (older readers refuse it)");
    }
    if a.interactions.len() > MAX_INTERACTIONS {
        return bad("more than 16 pairs (MAX_INTERACTIONS)");
    }
    let largest =
        |bins: &mut dyn Iterator<Item = &Bin>| bins.fold(0.0, |m: f64, b| m.max(b.logit.abs()));
    let mut total = a.intercept.abs();
    for card in &a.features {
        total += largest(&mut card.all_bins());
    }
    for (i, x) in a.interactions.iter().enumerate() {
        x.check(a, &a.interactions[..i])
            .map_err(|(field, problem)| x.invalid(i, field, problem))?;
        total += largest(&mut x.cells.iter());
    }
    if total > MAX_TOTAL_ABS_LOGIT {
        return bad(
            "the intercept's, bins' and cells' largest logit magnitudes sum past 700 \
             (MAX_TOTAL_ABS_LOGIT): the scorer's product of odds could overflow",
        );
    }
    elderly_never_lose(a)
}

/// Regulation B (12 CFR 1002.6(b)(2)(iv)) with age in cells: no applicant of 62 or more may
/// get less from age than the most favoured younger applicant *with the same other features*.
/// Age's part of the points is its bin's plus its pairs' cells, so for every choice of the
/// other features `min over elderly (bin + Σ cells) ≥ max over younger (bin + Σ cells)` must
/// hold. Checked by a sufficient bound that needs no search over applicants: the age bins'
/// margin (`min elderly − max younger`, the age policy's own rule) plus, for each pair with age,
/// its worst column's margin (`min elderly cell − max younger cell` over a column of the other
/// feature's groups) is not negative. The trainer's repair makes exactly this bound hold (it
/// shares the bins' margin among the age pairs), and so must any other writer of artifacts.
/// Needs an age edge at 62 (no bin then holds ages on both sides) and age groups that each
/// hold only younger or only elderly bins.
fn elderly_never_lose(a: &ModelArtifact) -> Result<(), ModelError> {
    let with_age = |x: &Interaction| x.features.iter().any(|f| f == FEATURES[AGE].name);
    let Some(card) = a.features.get(AGE) else {
        return Ok(());
    };
    if !a.interactions.iter().any(with_age) {
        return Ok(());
    }
    if !card.edges.contains(&ELDERLY_AGE) {
        return Err(ModelError::Invalid(
            "interactions: a pair with age needs an age edge at 62 (Regulation B)".into(),
        ));
    }
    let split = crate::schema::first_elderly_bin(&card.edges);
    let (mut lo_elderly, mut hi_young) = (f64::INFINITY, f64::NEG_INFINITY);
    for (k, b) in card.range_bins.iter().enumerate() {
        if k >= split {
            lo_elderly = lo_elderly.min(b.points);
        } else {
            hi_young = hi_young.max(b.points);
        }
    }
    let mut margin = lo_elderly - hi_young;
    for (i, x) in a.interactions.iter().enumerate() {
        if with_age(x) {
            margin += x
                .elderly_margin(split)
                .map_err(|(field, problem)| x.invalid(i, field, problem))?;
        }
    }
    if margin < -1e-6 {
        return Err(ModelError::Invalid(
            "interactions: an applicant of 62 or more could get fewer points from age, through \
             its bins and cells, than a younger one with the same other features (Regulation B)"
                .into(),
        ));
    }
    Ok(())
}

/// What is wrong with a pair: the field and the problem, fixed texts that
/// [`Interaction::invalid`] puts into one message (one formatting call for every check).
type Problem = (&'static str, &'static str);

impl Interaction {
    /// A field-level error of pair `i`: `interactions[i] ("X" × "Y").field: problem`.
    fn invalid(&self, i: usize, field: &str, problem: &str) -> ModelError {
        ModelError::Invalid(format!(
            "interactions[{i}] ({} × {}).{field}: {problem}",
            Quoted(&self.features[0]),
            Quoted(&self.features[1])
        ))
    }

    /// The features: two distinct schema features in schema order. A pair with `age` must also
    /// keep Regulation B's bound, checked for all pairs together ([`elderly_never_lose`]).
    fn feature_indices(&self) -> Result<[usize; 2], Problem> {
        let mut idx = [0; 2];
        for (k, name) in self.features.iter().enumerate() {
            idx[k] = crate::schema::feature_index(name)
                .filter(|&j| FEATURES[j].name == name)
                .ok_or(("features", "not a feature of the schema"))?;
        }
        if idx[0] >= idx[1] {
            return Err((
                "features",
                "the two features must be distinct and in schema order",
            ));
        }
        Ok(idx)
    }

    /// The worst column's `min elderly cell − max younger cell` points of a pair with age (see
    /// [`elderly_never_lose`]), the age bins from `split` on being the elderly ones.
    fn elderly_margin(&self, split: usize) -> Result<f64, Problem> {
        let axis = usize::from(self.features[1] == FEATURES[AGE].name);
        let n = [self.group_labels[0].len(), self.group_labels[1].len()];
        // Per age group: whether its bins are elderly (None: a group without bins). A bin past
        // the range bins (age has none in a valid model) counts as elderly: the stricter side.
        let mut elderly: Vec<Option<bool>> = vec![None; n[axis]];
        for (k, &g) in self.groups[axis].iter().enumerate() {
            let Some(kind) = elderly.get_mut(usize::from(g)) else {
                continue;
            };
            match *kind {
                Some(e) if e != (k >= split) => {
                    return Err((
                        ["groups[0]", "groups[1]"][axis],
                        "an age group holds ages both under and over 62 (Regulation B)",
                    ))
                }
                _ => *kind = Some(k >= split),
            }
        }
        let mut worst = f64::INFINITY;
        for o in 0..n[1 - axis] {
            let (mut lo_elderly, mut hi_young) = (f64::INFINITY, f64::NEG_INFINITY);
            for (g, kind) in elderly.iter().enumerate() {
                let c = if axis == 0 {
                    g * n[1] + o
                } else {
                    o * n[1] + g
                };
                let p = self.cells.get(c).map_or(f64::NAN, |c| c.points);
                match kind {
                    Some(true) => lo_elderly = lo_elderly.min(p),
                    Some(false) => hi_young = hi_young.max(p),
                    None => {}
                }
            }
            let m = lo_elderly - hi_young;
            if m.is_finite() {
                worst = worst.min(m);
            }
        }
        Ok(if worst.is_finite() { worst } else { 0.0 })
    }

    /// Structural checks of one pair of artifact `a` (whose features are already checked),
    /// after the `earlier` pairs: one group per bin, groups numbered from 0 with none unused
    /// and a label each, at most [`MAX_GROUPS`] per axis, one cell per pair of groups, finite
    /// logits within [`MAX_ABS_LOGIT`], points consistent with the scaling, and not the
    /// features of an earlier pair.
    fn check(&self, a: &ModelArtifact, earlier: &[Interaction]) -> Result<(), Problem> {
        let idx = self.feature_indices()?;
        let mut n = [0usize; 2];
        for axis in 0..2 {
            n[axis] = self.check_axis(a, axis, idx[axis])?;
        }
        if self.cells.len() != n[0] * n[1] {
            return Err((
                "cells",
                "needs one cell per pair of groups (rows × columns, row-major)",
            ));
        }
        for cell in &self.cells {
            if cell.logit.is_nan() || cell.logit.abs() > MAX_ABS_LOGIT || !cell.points.is_finite() {
                return Err((
                    "cells",
                    "a cell has non-finite points or a logit that is not finite or outside ±50",
                ));
            }
            let want = points_for_cell(&a.scaling, cell.logit);
            if (cell.points - want).abs() > 1e-6 * (1.0 + want.abs()) {
                return Err((
                    "cells",
                    "a cell's points are not -factor × logit (the scaling's)",
                ));
            }
        }
        if earlier.iter().any(|y| y.features == self.features) {
            return Err(("features", "the pair appears twice"));
        }
        Ok(())
    }

    /// One axis of [`Interaction::check`] (feature `j` of the schema); returns its number
    /// of groups.
    fn check_axis(&self, a: &ModelArtifact, axis: usize, j: usize) -> Result<usize, Problem> {
        let field = ["groups[0]", "groups[1]"][axis];
        let bins = a.features[j].all_bins().count();
        let groups = &self.groups[axis];
        if groups.len() != bins {
            return Err((field, "needs one entry per bin of the feature"));
        }
        let count = groups
            .iter()
            .map(|&g| usize::from(g) + 1)
            .max()
            .unwrap_or(0);
        if count > MAX_GROUPS {
            return Err((field, "more than 16 groups (MAX_GROUPS)"));
        }
        if (0..count).any(|g| !groups.iter().any(|&x| usize::from(x) == g)) {
            return Err((field, "groups are not numbered 0..n with none unused"));
        }
        if self.group_labels[axis].len() != count {
            let field = ["group_labels[0]", "group_labels[1]"][axis];
            return Err((field, "needs one label per group"));
        }
        Ok(count)
    }
}

// ---- the kernel's pair tables -------------------------------------------------------------

/// Cells of a pair's table: [`MAX_GROUPS`] squared, so that a cell index
/// (`row · columns + column`) fits in a byte.
pub(crate) const CELLS: usize = MAX_GROUPS * MAX_GROUPS;

/// One interaction pair, compiled: which cell a row falls in is the sum of two table reads
/// (`part` at each feature's slot), with no search and no branch.
#[derive(Clone, Debug)]
pub(crate) struct Pair {
    /// The two features (model column order).
    pub features: [usize; 2],
    /// Per slot, its share of the cell index: `group · columns` for the first feature's
    /// slots, the group for the second's, 0 for every other slot. An invalid slot also reads
    /// 0: its own NaN odds already make the row NaN.
    pub part: [u8; SLOTS],
    /// Per cell: `exp(-logit)` (filled by [`Pairs::seal`] like the slots' odds), the logit
    /// and the points; NaN past the grid's cells.
    pub odds: [f64; CELLS],
    pub logit: [f64; CELLS],
    pub points: [f64; CELLS],
    /// The most points any cell of the grid gives (for reason codes and explanations).
    pub best: f64,
}

impl Pair {
    /// The cell of a row's slots.
    #[inline(always)]
    pub fn cell(&self, slots: &[usize; N_FEATURES]) -> usize {
        let [a, b] = self.features;
        let r = self.part[slots[a % N_FEATURES] & MASK];
        let c = self.part[slots[b % N_FEATURES] & MASK];
        (usize::from(r) + usize::from(c)) % CELLS
    }
}

/// The kernel's interaction pairs, in artifact order (none in an additive model).
#[derive(Clone, Debug)]
pub(crate) struct Pairs(Vec<Pair>);

impl Pairs {
    pub const fn new() -> Pairs {
        Pairs(Vec::new())
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs, in artifact order (the x86-64 vector kernel lays their tables out its way).
    #[cfg(target_arch = "x86_64")]
    pub fn as_slice(&self) -> &[Pair] {
        &self.0
    }

    /// Derives each cell's odds once the logits are in place (as `Kernel::seal` does for
    /// the slots, with the same portable `libm::exp`).
    pub fn seal(&mut self) {
        for p in &mut self.0 {
            for (o, &l) in p.odds.iter_mut().zip(&p.logit) {
                *o = libm::exp(-l);
            }
        }
    }

    /// The cells' part of a row: `init` times each pair's cell odds, or plus each cell's
    /// logit or points, in pair order. Out of line: the inlined per-row paths keep only a
    /// test for "any pairs" (an additive model's code and speed stay as they were, and the
    /// `.wasm` holds this loop once instead of once per inlined path).
    #[inline(never)]
    pub fn fold(&self, slots: &[usize; N_FEATURES], init: f64, table: Table) -> f64 {
        let mut acc = init;
        for p in &self.0 {
            let k = p.cell(slots);
            match table {
                Table::Odds => acc *= p.odds[k],
                Table::Logit => acc += p.logit[k],
                Table::Points => acc += p.points[k],
            }
        }
        acc
    }

    /// Adds an interaction pair of features `features` (schema order, distinct), given each
    /// slot's artifact bin (`bin`, already filled in): `groups[axis][bin]` is the coarse group
    /// of each artifact bin, `cells` the grid's `(logit, points)`, row-major with `columns`
    /// columns. The artifact's validation bounds the grid (at most [`CELLS`] cells); a bin
    /// without a group, or a grid past the bound, is refused here too rather than read out of
    /// bounds.
    fn add(
        &mut self,
        bin: &[u16; SLOTS],
        features: [usize; 2],
        groups: [&[u16]; 2],
        columns: usize,
        cells: &[(f64, f64)],
    ) -> Option<()> {
        if cells.len() > CELLS || features.iter().any(|&j| j >= N_FEATURES) {
            return None;
        }
        let mut p = Pair {
            features,
            part: [0; SLOTS],
            odds: [f64::NAN; CELLS],
            logit: [f64::NAN; CELLS],
            points: [f64::NAN; CELLS],
            best: cells.iter().map(|c| c.1).fold(f64::NEG_INFINITY, f64::max),
        };
        for (axis, &j) in features.iter().enumerate() {
            let scale = if axis == 0 { columns } else { 1 };
            // The feature's slots (`BASE[j] + N[j] + 2 <= TOTAL <= SLOTS` by the layout).
            let slots = BASE[j]..BASE[j] + N[j] + 2;
            for (part, &b) in p.part[slots.clone()].iter_mut().zip(&bin[slots]) {
                if b != INVALID {
                    let g = usize::from(*groups[axis].get(usize::from(b))?);
                    *part = u8::try_from(g * scale).ok()?;
                }
            }
        }
        for (k, &(logit, points)) in cells.iter().enumerate() {
            p.logit[k] = logit;
            p.points[k] = points;
        }
        self.0.push(p);
        Some(())
    }

    /// Adds the artifact's interaction pairs (after its features' slots are filled in: `bin`).
    pub fn compile(&mut self, a: &ModelArtifact, bin: &[u16; SLOTS]) -> Result<(), ModelError> {
        for (i, x) in a.interactions.iter().enumerate() {
            let refused = || ModelError::Invalid(format!("interactions[{i}]: cannot be compiled"));
            let j0 = crate::schema::feature_index(&x.features[0]).ok_or_else(refused)?;
            let j1 = crate::schema::feature_index(&x.features[1]).ok_or_else(refused)?;
            let cells: Vec<(f64, f64)> = x.cells.iter().map(|c| (c.logit, c.points)).collect();
            let groups = [x.groups[0].as_slice(), x.groups[1].as_slice()];
            self.add(bin, [j0, j1], groups, x.group_labels[1].len(), &cells)
                .ok_or_else(refused)?;
        }
        Ok(())
    }

    // ---- reasons and explanations ---------------------------------------------------------

    /// The cells' half shares of `Scorecard::points_lost` (see the scorecard's module docs),
    /// out of line (see [`Pairs::fold`] for why).
    #[inline(never)]
    pub fn add_losses(&self, slots: &[usize; N_FEATURES], lost: &mut [f64; N_FEATURES]) {
        for p in &self.0 {
            let half = 0.5 * (p.best - p.points[p.cell(slots)]);
            for &j in &p.features {
                if let Some(l) = lost.get_mut(j) {
                    *l += half;
                }
            }
        }
    }

    /// The cell of each interaction pair for `explain`: the groups' labels from the artifact
    /// (`interactions`, the pairs' source), the numbers from the kernel (the ones that scored).
    pub fn contributions(
        &self,
        interactions: &[Interaction],
        bin: &[u16; SLOTS],
        slots: &[usize; N_FEATURES],
    ) -> Vec<CellContribution> {
        self.0
            .iter()
            .zip(interactions)
            .map(|(p, x)| {
                let label = |axis: usize| {
                    let b = bin[slots[p.features[axis]] & MASK];
                    x.groups[axis]
                        .get(usize::from(b))
                        .and_then(|&g| x.group_labels[axis].get(usize::from(g)))
                        .cloned()
                        .unwrap_or_default()
                };
                let cell = p.cell(slots);
                CellContribution {
                    features: [FEATURES[p.features[0]].name, FEATURES[p.features[1]].name],
                    groups: [label(0), label(1)],
                    points: p.points[cell],
                    max_points: p.best,
                    logit: p.logit[cell],
                }
            })
            .collect()
    }
}
