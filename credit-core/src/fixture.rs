//! A synthetic model with interaction cells, for the tests of every layer (core, readers, fuzz
//! target, export). A test needs a model with cells whose every number it can recompute; this
//! builds one from any valid additive artifact (in
//! practice the shipped model) by adding three hand-chosen pairs (eight for the benches and the
//! vector kernels' tests, any list for tests that need more). It is not a fitted model:
//! its cells' logits are arbitrary (but valid) numbers, so its probabilities mean nothing.

use crate::artifact::{points_for_cell, Bin, FeatureCard, Interaction, ModelArtifact};
use crate::schema::{AGE, FEATURES};

/// The pairs, as (first feature, second feature, range groups of each axis): utilisation ×
/// 30–59 days late (the second axis has a special-code group), debt ratio × income (the
/// second has a missing group), 90 days late × dependents (special codes × missing).
const PAIRS: [(usize, usize, [usize; 2]); 3] = [(0, 2, [4, 2]), (3, 4, [3, 3]), (6, 9, [2, 2])];

/// More pairs, for the benches and the vector kernels' tests: the first eight (over every
/// feature but age, never in a pair) are about the size a trained model is expected to have,
/// with three to six groups per axis (missing and special-code groups included); all sixteen
/// are the most an artifact may have (`MAX_INTERACTIONS`), for the tests.
#[doc(hidden)]
pub const SIXTEEN_PAIRS: [(usize, usize, [usize; 2]); 16] = [
    (0, 2, [5, 3]),
    (0, 3, [4, 4]),
    (3, 4, [4, 5]),
    (2, 6, [3, 2]),
    (5, 7, [4, 3]),
    (4, 9, [4, 3]),
    (6, 8, [2, 2]),
    (7, 9, [3, 3]),
    (0, 4, [16, 15]),
    (0, 5, [2, 4]),
    (2, 3, [2, 3]),
    (3, 5, [3, 2]),
    (5, 9, [2, 2]),
    (2, 8, [2, 2]),
    (0, 9, [16, 2]),
    (4, 6, [2, 2]),
];

/// `base` with [`PAIRS`] added as format version 3 (checksum cleared: `to_json` writes a
/// fresh one). Panics if `base` lacks the schema's features (test code only).
#[doc(hidden)]
pub fn with_interactions(base: &ModelArtifact) -> ModelArtifact {
    with_pairs(base, &PAIRS)
}

/// `base` with the first eight of [`SIXTEEN_PAIRS`] added, as [`with_interactions`] does: the
/// model the benches and the vector kernels' tests score (every feature but age is in a pair).
#[doc(hidden)]
pub fn with_eight_interactions(base: &ModelArtifact) -> ModelArtifact {
    with_pairs(base, &SIXTEEN_PAIRS[..8])
}

/// `base` with `pairs` added (first feature, second feature, range groups of each axis; the
/// features in schema order, never age (its groups would straddle 62: see [`with_age_pair`]),
/// no pair twice), as [`with_interactions`] does.
#[doc(hidden)]
pub fn with_pairs(base: &ModelArtifact, pairs: &[(usize, usize, [usize; 2])]) -> ModelArtifact {
    let mut a = base.clone();
    a.format_version = crate::artifact::INTERACTIONS_VERSION;
    a.checksum = None;
    a.interactions = pairs
        .iter()
        .enumerate()
        .map(|(p, &(j0, j1, g))| {
            let (groups0, labels0) = coarse(&a.features[j0], g[0]);
            let (groups1, labels1) = coarse(&a.features[j1], g[1]);
            let (rows, cols) = (labels0.len(), labels1.len());
            let cells = (0..rows * cols)
                .map(|k| {
                    let (r, c) = (k / cols, k % cols);
                    // Both signs, several sizes, no two neighbours equal.
                    let logit = ((r * 7 + c * 3 + p * 5) % 11) as f64 * 0.09 - 0.45;
                    Bin {
                        label: format!("{} × {}", labels0[r], labels1[c]),
                        logit,
                        points: points_for_cell(&a.scaling, logit),
                        count: 100,
                        events: 7,
                        event_rate: 0.07,
                    }
                })
                .collect();
            Interaction {
                features: [FEATURES[j0].name.to_owned(), FEATURES[j1].name.to_owned()],
                groups: [groups0, groups1],
                group_labels: [labels0, labels1],
                cells,
            }
        })
        .collect();
    a
}

/// `base` (valid, with the schema's features) plus an age × debt ratio pair: age's younger bins in one group and its
/// elderly bins (62 on) in another, debt ratio's range bins in two groups and its missing bin
/// a third. Every cell is 0 except the elderly cell of the first debt-ratio column, which is
/// set `over` logits above the age bins' own margin (the lowest younger age logit less the
/// highest elderly one): Regulation B's bound holds for `over <= 0` and fails above.
#[doc(hidden)]
pub fn with_age_pair(base: &ModelArtifact, over: f64) -> ModelArtifact {
    let mut a = base.clone();
    a.format_version = crate::artifact::INTERACTIONS_VERSION;
    a.checksum = None;
    let age = &a.features[AGE];
    let split = crate::schema::first_elderly_bin(&age.edges);
    let (young, elderly) = age.range_bins.split_at(split);
    let lo_young = young.iter().map(|b| b.logit).fold(f64::MAX, f64::min);
    let hi_elderly = elderly.iter().map(|b| b.logit).fold(f64::MIN, f64::max);
    let margin = lo_young - hi_elderly;
    assert!(margin >= 0.0, "the base model keeps the age policy");
    let age_groups: Vec<u16> = (0..age.range_bins.len())
        .map(|k| u16::from(k >= split))
        .collect();
    let debt = &a.features[3];
    let n = debt.range_bins.len();
    let mut debt_groups: Vec<u16> = (0..n).map(|k| u16::from(k >= n / 2)).collect();
    debt_groups.extend(debt.missing_bin.iter().map(|_| 2));
    let columns = 2 + usize::from(debt.missing_bin.is_some());
    let mut cells = Vec::new();
    for r in 0..2 {
        for c in 0..columns {
            let mut cell = a.features[0].range_bins[0].clone();
            cell.label = format!("{r} × {c}");
            cell.logit = if r == 1 && c == 0 { margin + over } else { 0.0 };
            cell.points = -a.scaling.factor * cell.logit;
            cells.push(cell);
        }
    }
    a.interactions.push(Interaction {
        features: [FEATURES[AGE].name.into(), FEATURES[3].name.into()],
        groups: [age_groups, debt_groups],
        group_labels: [
            vec!["under 62".into(), "62 and over".into()],
            (0..columns).map(|c| c.to_string()).collect(),
        ],
        cells,
    });
    a
}

/// A feature's bins in `range_groups` runs of range bins, then a group for the missing bin
/// and one for all special bins (when the feature has them).
fn coarse(card: &FeatureCard, range_groups: usize) -> (Vec<u16>, Vec<String>) {
    let n = card.range_bins.len();
    let g = range_groups.min(n);
    let mut groups: Vec<u16> = (0..n).map(|k| (k * g / n) as u16).collect();
    let mut labels: Vec<String> = (0..g)
        .map(|r| {
            let first = (0..n).find(|&k| k * g / n == r).unwrap_or(0);
            let last = (0..n).rfind(|&k| k * g / n == r).unwrap_or(0);
            format!(
                "{}..{}",
                card.range_bins[first].label, card.range_bins[last].label
            )
        })
        .collect();
    if card.missing_bin.is_some() {
        groups.push(labels.len() as u16);
        labels.push("missing".into());
    }
    if !card.special_bins.is_empty() {
        groups.extend(card.special_bins.iter().map(|_| labels.len() as u16));
        labels.push("special codes".into());
    }
    (groups, labels)
}

/// Values of feature `j` that probe every verdict of a scorer: the model's bin edges and their
/// neighbours, the range ends and one past them, fractions, signed zeros, the special codes,
/// NaN, the infinities and huge numbers. Shared by the kernels' unit tests and the proptest that
/// checks every kernel path against the scalar one (`tests/kernel_paths.rs`).
#[doc(hidden)]
pub fn probes(model: &ModelArtifact, j: usize) -> Vec<f64> {
    let spec = &FEATURES[j];
    let mut v = vec![
        0.0,
        -0.0,
        0.5,
        1.0,
        -1.0,
        spec.min,
        spec.max,
        spec.min - 1.0,
        spec.max + 1.0,
        spec.max.next_up(),
        spec.min.next_down(),
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        1e300,
        4_503_599_627_370_496.0,
        95.0,
        96.0,
        97.0,
        98.0,
        18.0,
        120.0,
        7.25,
    ];
    v.extend(spec.special_codes);
    for &e in &model.features[j].edges {
        v.extend([e, e.next_up(), e.next_down(), e * 0.999, e * 1.001]);
    }
    v
}
