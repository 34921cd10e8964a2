//! Interaction cells (format version 3) as both writers need them: for each pair, which
//! share of the cell index each bin of its two features contributes, and per cell the three
//! numbers the core uses (odds factor, points, half of the points lost).
//!
//! Why one place: the SQL and the ONNX writer must reproduce the same arithmetic as the core's
//! `cells.rs` (kernel: a row's cell is `group(first) · columns + group(second)`, its odds
//! `exp(-logit)` from the portable `libm::exp`, multiplied after the features' product in pair
//! order; reasons: half of `best cell points − this cell's points` to each feature), and they
//! read the same numbers from here.

use super::ExportError;
use credit_core::artifact::Interaction;
use credit_core::{feature_index, ModelArtifact, FEATURES};

/// One interaction pair, ready to be written.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    /// The two features (schema indices, the first one first in the schema).
    pub features: [usize; 2],
    /// Per axis, per bin of that feature (in `all_bins()` order): its share of the cell index,
    /// `group · columns` for the first feature, `group` for the second.
    pub parts: [Vec<usize>; 2],
    /// Per cell (row-major): `exp(-logit)`, as the core's `Pairs::seal` computes it.
    pub odds: Vec<f64>,
    /// Per cell: its points.
    pub points: Vec<f64>,
    /// Per cell: the share of its points lost that each of the two features gets,
    /// `0.5 · (best − points)` with `best` the grid's most points (the core's `add_losses`).
    pub half_lost: Vec<f64>,
}

impl Pair {
    /// The pair's cell for bins `b0` and `b1` of its two features (`None` past the grid).
    #[cfg(test)]
    pub fn cell(&self, b0: usize, b1: usize) -> Option<usize> {
        let k = self.parts[0].get(b0)? + self.parts[1].get(b1)?;
        (k < self.odds.len()).then_some(k)
    }
}

/// An interaction the writers cannot follow (the loader's validation refuses all of these
/// first; checked again here so that a bad artifact handed to a writer is an error, not a
/// panic or a wrong export).
fn bad(i: usize, x: &Interaction, problem: &str) -> ExportError {
    ExportError::Unsupported(format!(
        "interactions[{i}] ({} × {}): {problem}",
        x.features[0], x.features[1]
    ))
}

/// The schema index of a pair's feature, spelled as the schema spells it (no alias). Age may
/// be in a pair (the loader checked Regulation B's bound); its reason's suppression for the
/// elderly then covers its own bin's share and its cells' halves together, as in the core.
fn feature(i: usize, x: &Interaction, name: &str) -> Result<usize, ExportError> {
    feature_index(name)
        .filter(|&j| FEATURES[j].name == name)
        .ok_or_else(|| bad(i, x, "a feature not in the schema"))
}

/// One pair of the artifact, checked against its features' bins.
fn pair(model: &ModelArtifact, i: usize, x: &Interaction) -> Result<Pair, ExportError> {
    let features = [
        feature(i, x, &x.features[0])?,
        feature(i, x, &x.features[1])?,
    ];
    if features[0] >= features[1] {
        return Err(bad(i, x, "features not distinct and in schema order"));
    }
    let rows = x.group_labels[0].len();
    let columns = x.group_labels[1].len();
    if x.cells.len() != rows * columns {
        return Err(bad(i, x, "not one cell per pair of groups"));
    }
    let mut parts: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    for axis in 0..2 {
        let (groups, scale, n) = match axis {
            0 => (&x.groups[0], columns, rows),
            _ => (&x.groups[1], 1, columns),
        };
        let card = model
            .features
            .get(features[axis])
            .ok_or_else(|| bad(i, x, "the model lacks the feature"))?;
        if groups.len() != card.all_bins().count() {
            return Err(bad(i, x, "not one group per bin of the feature"));
        }
        if groups.iter().any(|&g| usize::from(g) >= n) {
            return Err(bad(i, x, "a group without a label"));
        }
        parts[axis] = groups.iter().map(|&g| usize::from(g) * scale).collect();
    }
    let best = x
        .cells
        .iter()
        .map(|c| c.points)
        .fold(f64::NEG_INFINITY, f64::max);
    Ok(Pair {
        features,
        parts,
        odds: x.cells.iter().map(|c| libm::exp(-c.logit)).collect(),
        points: x.cells.iter().map(|c| c.points).collect(),
        half_lost: x.cells.iter().map(|c| 0.5 * (best - c.points)).collect(),
    })
}

/// The artifact's pairs, in its order (the order the core multiplies and adds them in).
pub fn pairs(model: &ModelArtifact) -> Result<Vec<Pair>, ExportError> {
    model
        .interactions
        .iter()
        .enumerate()
        .map(|(i, x)| pair(model, i, x))
        .collect()
}

/// The pairs feature `j` is in, in pair order: the order in which the core adds their halves
/// to the feature's points lost.
pub fn pairs_of(pairs: &[Pair], j: usize) -> Vec<usize> {
    (0..pairs.len())
        .filter(|&p| pairs[p].features.contains(&j))
        .collect()
}

/// The additive scorecard shipped as 1.0.0 (the shipped model has cells since 1.1.0): the
/// exporters' additive case and the base of the fixture's cells model.
#[cfg(test)]
pub(crate) fn additive_model() -> ModelArtifact {
    ModelArtifact::from_json(include_str!(
        "../../../credit-core/tests/data/additive-1.0.0.json"
    ))
    .expect("additive model")
}

/// The fixture's cells model (the additive model plus three pairs: what
/// `testdata/cells-model.json` holds), read back through the loader so that it carries its
/// checksum, as a loaded model does.
#[cfg(test)]
pub(crate) fn cells_model() -> ModelArtifact {
    let text = credit_core::fixture::with_interactions(&additive_model())
        .to_json()
        .expect("writes");
    ModelArtifact::from_json(&text).expect("the cells model is valid")
}

/// The fixture's cells model plus its age × debt ratio pair (`fixture::with_age_pair`, an
/// elderly cell 0.05 logits inside Regulation B's bound), read back through the loader.
#[cfg(test)]
pub(crate) fn age_pair_model() -> ModelArtifact {
    let text = credit_core::fixture::with_age_pair(&cells_model(), -0.05)
        .to_json()
        .expect("writes");
    ModelArtifact::from_json(&text).expect("the age pair keeps Regulation B's bound")
}

/// The fixture's cells model plus a fourth pair (utilisation × debt ratio, the axes of pairs
/// 0 and 1), so that two features are each in two pairs and their points lost take two
/// halves, added in pair order.
#[cfg(test)]
pub(crate) fn overlapping_model() -> ModelArtifact {
    let mut m = cells_model();
    let (a, b) = (&m.interactions[0], &m.interactions[1]);
    let (rows, columns) = (a.group_labels[0].len(), b.group_labels[0].len());
    let cells = (0..rows * columns)
        .map(|k| {
            let logit = (k % 5) as f64 * 0.07 - 0.13;
            credit_core::artifact::Bin {
                label: format!("cell {k}"),
                logit,
                points: credit_core::artifact::points_for_cell(&m.scaling, logit),
                count: 10,
                events: 1,
                event_rate: 0.1,
            }
        })
        .collect();
    let extra = Interaction {
        features: [a.features[0].clone(), b.features[0].clone()],
        groups: [a.groups[0].clone(), b.groups[0].clone()],
        group_labels: [a.group_labels[0].clone(), b.group_labels[0].clone()],
        cells,
    };
    m.interactions.push(extra);
    m.checksum = None;
    ModelArtifact::from_json(&m.to_json().expect("writes")).expect("a valid model")
}

/// One valid value per bin of feature `j` (a range bin's lower edge, whole for a count; NaN
/// for the missing bin; each bureau code), for tests that must reach every cell.
#[cfg(test)]
pub(crate) fn bin_values(m: &ModelArtifact, j: usize) -> Vec<f64> {
    let (spec, card) = (&FEATURES[j], &m.features[j]);
    let lower = |k: usize| match k {
        0 => spec.min,
        _ => card.edges[k - 1],
    };
    let mut v: Vec<f64> = (0..card.range_bins.len())
        .map(lower)
        .map(|x| match spec.kind {
            credit_core::Kind::Count => x.ceil(),
            credit_core::Kind::Real => x,
        })
        .collect();
    if spec.optional && card.missing_bin.is_some() {
        v.push(f64::NAN);
    }
    for sb in &card.special_bins {
        v.extend(&sb.codes);
    }
    v
}

/// Valid rows that reach every cell of every pair of `m`: each pair's two features over all
/// their bins' values, the other features drawn by a fixed pseudo-random walk over theirs; then
/// rows at ages on both sides of 62 (the age rule).
#[cfg(test)]
pub(crate) fn sample_rows(m: &ModelArtifact) -> Vec<[f64; credit_core::N_FEATURES]> {
    use credit_core::{schema::AGE, N_FEATURES};
    let values: Vec<Vec<f64>> = (0..N_FEATURES).map(|j| bin_values(m, j)).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut random_row = || {
        let mut row = [0.0; N_FEATURES];
        for (x, vs) in row.iter_mut().zip(&values) {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            *x = vs[(state >> 33) as usize % vs.len()];
        }
        row
    };
    let mut rows = Vec::new();
    for pair in pairs(m).expect("pairs") {
        let [a, b] = pair.features;
        for &va in &values[a] {
            for &vb in &values[b] {
                let mut row = random_row();
                (row[a], row[b]) = (va, vb);
                rows.push(row);
            }
        }
    }
    for age in [30.0, 61.0, 62.0, 80.0] {
        for _ in 0..100 {
            let mut row = random_row();
            row[AGE] = age;
            rows.push(row);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exporters' fixture is the file the other languages' tests load.
    #[test]
    fn cells_model_is_the_committed_fixture() {
        let committed = include_str!("../../../testdata/cells-model.json");
        assert_eq!(cells_model(), ModelArtifact::from_json(committed).unwrap());
    }

    #[test]
    fn parts_and_numbers_follow_the_artifact() {
        let m = cells_model();
        let ps = pairs(&m).expect("pairs");
        assert_eq!(ps.len(), m.interactions.len());
        for (p, x) in ps.iter().zip(&m.interactions) {
            let columns = x.group_labels[1].len();
            for (b0, &g0) in x.groups[0].iter().enumerate() {
                for (b1, &g1) in x.groups[1].iter().enumerate() {
                    let want = usize::from(g0) * columns + usize::from(g1);
                    assert_eq!(p.cell(b0, b1), Some(want));
                }
            }
            let best = x.cells.iter().map(|c| c.points).fold(f64::MIN, f64::max);
            for (k, c) in x.cells.iter().enumerate() {
                assert_eq!(p.odds[k].to_bits(), libm::exp(-c.logit).to_bits());
                assert_eq!(p.half_lost[k], 0.5 * (best - c.points));
                assert!(p.half_lost[k] >= 0.0);
            }
            assert!(p.half_lost.contains(&0.0), "the best cell loses nothing");
        }
        assert_eq!(pairs_of(&ps, 0), vec![0]);
        assert_eq!(pairs_of(&ps, 1), Vec::<usize>::new());
        assert_eq!(pairs_of(&ps, 9), vec![2]);
    }

    #[test]
    fn bad_pairs_are_errors_not_panics() {
        let good = cells_model();
        let mut age = good.clone();
        age.interactions[0].features[0] = "age".into();
        let mut short = good.clone();
        short.interactions[1].groups[0].pop();
        let mut cells = good.clone();
        cells.interactions[2].cells.pop();
        let mut order = good.clone();
        order.interactions[0].features.swap(0, 1);
        let mut label = good;
        label.interactions[0].group_labels[1].pop();
        for (m, what) in [
            (age, "one group per bin"),
            (short, "one group per bin"),
            (cells, "one cell per pair"),
            (order, "schema order"),
            (label, ""),
        ] {
            let e = pairs(&m).expect_err(what).to_string();
            assert!(e.contains(what) && e.starts_with("interactions["), "{e}");
        }
    }
}
