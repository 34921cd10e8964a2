#![cfg(feature = "interactions")]
//! Interaction cells (format version 3) on a synthetic model: the additive model shipped until
//! 1.1.0 with three hand-chosen pairs (`credit_core::fixture`). Every number is recomputed here from the
//! artifact's fields alone (bins found as the module docs of `artifact` define them), so a
//! kernel that dropped, misplaced or double-counted a cell would fail.

use credit_core::artifact::{Interaction, ModelArtifact};
use credit_core::fixture::with_interactions;
use credit_core::schema::{AGE, ELDERLY_AGE};
use credit_core::{ModelError, Scorecard, FEATURES, N_FEATURES};
use proptest::prelude::*;
use std::sync::OnceLock;

/// The additive scorecard shipped until model 1.1.0 (format version 2): the base of the
/// fixture's cells models, so that they stay the same across model releases.
const MODEL: &str = include_str!("data/additive-1.0.0.json");

fn additive() -> ModelArtifact {
    ModelArtifact::from_json(MODEL).expect("additive model")
}

/// The cells model as it reads back from its own JSON (checksum and validation passed).
fn cells_artifact() -> ModelArtifact {
    let text = with_interactions(&additive()).to_json().expect("writes");
    ModelArtifact::from_json(&text).expect("the cells model is valid")
}

/// The additive model the cells are added to.
fn additive_model() -> Scorecard {
    Scorecard::from_json(MODEL).expect("additive model")
}

fn cells_model() -> Scorecard {
    Scorecard::new(cells_artifact()).expect("compiles")
}

/// Bin of value `v` of feature `j` (all-bins order), from the artifact's fields only.
fn bin_of(a: &ModelArtifact, j: usize, v: f64) -> usize {
    let card = &a.features[j];
    let n = card.range_bins.len();
    if v.is_nan() {
        return n;
    }
    let specials = n + usize::from(card.missing_bin.is_some());
    if let Some(k) = card.special_bins.iter().position(|s| s.codes.contains(&v)) {
        return specials + k;
    }
    card.edges.partition_point(|&e| e <= v)
}

/// Per pair, the cell of `row`.
fn cells_of(a: &ModelArtifact, row: &[f64; N_FEATURES]) -> Vec<usize> {
    a.interactions
        .iter()
        .map(|x| {
            let j = x
                .features
                .clone()
                .map(|f| FEATURES.iter().position(|s| s.name == f).expect("feature"));
            let r = usize::from(x.groups[0][bin_of(a, j[0], row[j[0]])]);
            let c = usize::from(x.groups[1][bin_of(a, j[1], row[j[1]])]);
            r * x.group_labels[1].len() + c
        })
        .collect()
}

/// Log-odds and score recomputed as the artifact's docs define them.
fn recompute(a: &ModelArtifact, row: &[f64; N_FEATURES]) -> (f64, f64) {
    let mut z = a.intercept;
    let mut points = 0.0;
    for (j, card) in a.features.iter().enumerate() {
        let b = card.all_bins().nth(bin_of(a, j, row[j])).expect("bin");
        z += b.logit;
        points += b.points;
    }
    for (x, cell) in a.interactions.iter().zip(cells_of(a, row)) {
        z += x.cells[cell].logit;
        points += x.cells[cell].points;
    }
    (z, points)
}

/// Rows that visit every group of every pair: each feature's bin edges (and just below them),
/// missing values and special codes, over a fixed base applicant.
fn probe_rows(a: &ModelArtifact) -> Vec<[f64; N_FEATURES]> {
    let base = [0.3, 45.0, 0.0, 0.4, 5000.0, 8.0, 0.0, 1.0, 0.0, 1.0];
    let mut rows = vec![base];
    for (j, card) in a.features.iter().enumerate() {
        let spec = &FEATURES[j];
        let mut values: Vec<f64> = card.edges.iter().flat_map(|&e| [e, e - 1.0]).collect();
        values.extend(spec.special_codes);
        if spec.optional {
            values.push(f64::NAN);
        }
        for v in values {
            let ok = v.is_nan() || spec.is_special(v) || (v >= spec.min && v <= spec.max);
            let whole = !matches!(spec.kind, credit_core::Kind::Count) || v.fract() == 0.0;
            if ok && (v.is_nan() || whole) {
                let mut r = base;
                r[j] = v;
                rows.push(r);
                // And the same value against a second, riskier base for the pair partners.
                let mut r2 = [
                    0.95,
                    30.0,
                    3.0,
                    3.0,
                    f64::NAN,
                    2.0,
                    98.0,
                    0.0,
                    96.0,
                    f64::NAN,
                ];
                r2[j] = v;
                rows.push(r2);
            }
        }
    }
    rows
}

#[test]
fn probability_and_score_equal_the_artifacts_arithmetic() {
    let a = cells_artifact();
    let m = cells_model();
    let rows = probe_rows(&a);
    let mut visited: Vec<std::collections::BTreeSet<usize>> = vec![Default::default(); 3];
    for row in &rows {
        let p = m.predict_row(row).expect("valid row");
        let (z, score) = recompute(&a, row);
        let want = 1.0 / (1.0 + (-z).exp());
        assert!(
            (p.probability - want).abs() <= 1e-12 * want,
            "{row:?}: {} vs {want}",
            p.probability
        );
        assert!((p.log_odds - z).abs() <= 1e-9, "{row:?}");
        assert!((p.score - score).abs() <= 1e-9, "{row:?}");
        for (v, c) in visited.iter_mut().zip(cells_of(&a, row)) {
            v.insert(c);
        }
    }
    // The probes reach every cell's row and column at least; most cells themselves.
    for (x, v) in a.interactions.iter().zip(&visited) {
        assert!(v.len() * 2 > x.cells.len(), "{:?}: {v:?}", x.features);
    }
}

#[test]
fn cells_change_the_answer_and_additive_models_are_unchanged() {
    let cells = cells_model();
    let additive = additive_model();
    let rows = probe_rows(cells.artifact());
    let differ = rows
        .iter()
        .filter(|r| {
            let (a, b) = (
                cells.predict_row(*r).expect("valid"),
                additive.predict_row(*r).expect("valid"),
            );
            a.probability.to_bits() != b.probability.to_bits()
        })
        .count();
    assert!(differ * 2 > rows.len(), "{differ} of {}", rows.len());
    assert!(additive.artifact().interactions.is_empty());
}

/// Batch paths (the vector kernels where the CPU has them, the scalar kernel elsewhere and for
/// the rows a vector step leaves) give a model with cells the single-row answers bit for bit
/// (every path of every CPU: `tests/kernel_paths.rs`).
#[test]
fn batches_equal_single_rows_bit_for_bit() {
    let m = cells_model();
    let rows = probe_rows(m.artifact());
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    let n = rows.len();
    let mut p = vec![0.0; n];
    let mut s = vec![0.0; n];
    let src = credit_core::RowMajor::new(&flat, n).expect("shape");
    let rep = m.score_batch(&src, &mut p, Some(&mut s)).expect("batch");
    assert_eq!(rep.valid, n);
    let mut p_only = vec![0.0; n];
    m.predict_proba_rows(&flat, &mut p_only).expect("batch");
    let cols: Vec<Vec<f64>> = (0..N_FEATURES)
        .map(|j| rows.iter().map(|r| r[j]).collect())
        .collect();
    let col_refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let mut p_cols = vec![0.0; n];
    let columns = credit_core::Columns::new(&col_refs).expect("columns");
    m.score_batch(&columns, &mut p_cols, None).expect("batch");
    for (i, row) in rows.iter().enumerate() {
        let single = m.predict_row(row).expect("valid");
        for got in [p[i], p_only[i], p_cols[i]] {
            assert_eq!(got.to_bits(), single.probability.to_bits(), "row {i}");
        }
        assert_eq!(s[i].to_bits(), single.score.to_bits(), "row {i}");
    }
}

/// The half-each rule: each feature's points lost are its own bin's plus half of each of its
/// pairs' cells' points lost; the top four (largest first, ties by feature order) are the
/// reasons, and age's suppression for 62+ is untouched.
#[test]
fn reasons_split_a_cells_points_lost_half_to_each_feature() {
    // The cells' shares change the chosen reasons for some probes (else the test proves little).
    assert!(reasons_follow_the_half_rule(&cells_artifact()) > 0);
    // Age in a pair: its halves count towards its reason, which stays suppressed from 62 on.
    assert!(reasons_follow_the_half_rule(&with_age_pair(-0.05)) > 0);
}

/// Checks every probe row's reasons against the half-each rule recomputed from the artifact's
/// fields; returns for how many rows the cells' shares changed which reasons are given.
fn reasons_follow_the_half_rule(a: &ModelArtifact) -> usize {
    let m = Scorecard::new(a.clone()).expect("compiles");
    let a = &a;
    let mut split_decides = 0;
    for row in probe_rows(a) {
        let mut lost = [0.0; N_FEATURES];
        for (j, card) in a.features.iter().enumerate() {
            let best = card.all_bins().map(|b| b.points).fold(f64::MIN, f64::max);
            lost[j] = best
                - card
                    .all_bins()
                    .nth(bin_of(a, j, row[j]))
                    .expect("bin")
                    .points;
        }
        let own = lost;
        for (x, cell) in a.interactions.iter().zip(cells_of(a, &row)) {
            let best = x.cells.iter().map(|c| c.points).fold(f64::MIN, f64::max);
            let half = 0.5 * (best - x.cells[cell].points);
            for f in &x.features {
                lost[FEATURES.iter().position(|s| s.name == f).expect("feature")] += half;
            }
        }
        let mut want: Vec<(usize, f64)> = lost
            .iter()
            .copied()
            .enumerate()
            .filter(|&(j, l)| l > 1e-9 && !(j == AGE && row[AGE] >= ELDERLY_AGE))
            .collect();
        want.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        want.truncate(4);
        let got = m.predict_row(&row).expect("valid").reasons;
        let got: Vec<(usize, f64)> = got
            .as_slice()
            .iter()
            .map(|r| (r.feature, r.points_lost))
            .collect();
        assert_eq!(got.len(), want.len(), "{row:?}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.0, w.0, "{row:?}: {got:?} vs {want:?}");
            assert!((g.1 - w.1).abs() < 1e-9, "{row:?}: {got:?} vs {want:?}");
        }
        let mut by_own: Vec<usize> = (0..N_FEATURES).filter(|&j| own[j] > 1e-9).collect();
        by_own.sort_by(|&x, &y| own[y].total_cmp(&own[x]).then(x.cmp(&y)));
        by_own.truncate(4);
        if by_own != want.iter().map(|w| w.0).collect::<Vec<_>>() {
            split_decides += 1;
        }
    }
    split_decides
}

#[test]
fn explain_lists_each_pairs_cell_and_the_points_add_up() {
    let a = cells_artifact();
    let m = cells_model();
    for row in probe_rows(&a).iter().take(40) {
        let app = credit_core::Applicant::from_row(row).expect("valid");
        let e = m.explain(&app);
        assert_eq!(e.interactions.len(), a.interactions.len());
        let mut total: f64 = e.contributions.iter().map(|c| c.points).sum();
        for ((c, x), cell) in e
            .interactions
            .iter()
            .zip(&a.interactions)
            .zip(cells_of(&a, row))
        {
            assert_eq!(c.features[0], x.features[0]);
            assert_eq!(c.features[1], x.features[1]);
            let cols = x.group_labels[1].len();
            assert_eq!(c.groups[0], x.group_labels[0][cell / cols]);
            assert_eq!(c.groups[1], x.group_labels[1][cell % cols]);
            assert_eq!(c.points, x.cells[cell].points);
            assert_eq!(c.logit, x.cells[cell].logit);
            total += c.points;
        }
        assert!((total - e.score).abs() < 1e-9);
        let json = serde_json::to_value(&e).expect("serialises");
        assert_eq!(json["interactions"].as_array().map(Vec::len), Some(3));
    }
    let additive = additive_model();
    let app = credit_core::Applicant::from_row(&probe_rows(&a)[0]).expect("valid");
    assert!(additive.explain(&app).interactions.is_empty());
}

/// The cells model plus the fixture's age × debt ratio pair (`fixture::with_age_pair`).
fn with_age_pair(over: f64) -> ModelArtifact {
    credit_core::fixture::with_age_pair(&cells_artifact(), over)
}

#[test]
fn age_may_be_in_a_pair_only_if_no_elderly_applicant_loses_points_for_age() {
    // On the bound and below it: loads, and by scoring, every probe row's log-odds with an
    // elderly age are at most those with every younger age, the other features held.
    for over in [0.0, -0.05] {
        let a = with_age_pair(over);
        let m = Scorecard::new(a.clone()).expect("Regulation B's bound holds");
        let ages: Vec<f64> = std::iter::once(18.0)
            .chain(a.features[AGE].edges.iter().copied())
            .collect();
        let mut tight = 0.0_f64;
        for row in probe_rows(&a) {
            let z = |age: f64| {
                let mut r = row;
                r[AGE] = age;
                m.predict_row(&r).expect("valid").log_odds
            };
            let worst_elderly = ages
                .iter()
                .filter(|&&v| v >= ELDERLY_AGE)
                .map(|&v| z(v))
                .fold(f64::MIN, f64::max);
            let best_young = ages
                .iter()
                .filter(|&&v| v < ELDERLY_AGE)
                .map(|&v| z(v))
                .fold(f64::MAX, f64::min);
            assert!(worst_elderly <= best_young + 1e-12, "{row:?}");
            tight = tight.max(worst_elderly - best_young);
        }
        // On the bound some row is exactly at it: the check is not looser than the rule.
        if over == 0.0 {
            assert!(tight > -1e-9, "{tight}");
        }
    }
    // Past the bound: refused, and the message says why.
    let e = with_age_pair(0.01)
        .validate()
        .expect_err("an elderly cell costs points");
    assert!(e.to_string().contains("Regulation B"), "{e}");
    // An age group on both sides of 62.
    let mut mixed = with_age_pair(0.0);
    let x = mixed.interactions.last_mut().expect("the age pair");
    let split = x.groups[0]
        .iter()
        .position(|&g| g == 1)
        .expect("an elderly bin");
    x.groups[0][split] = 0;
    let e = mixed.validate().expect_err("a mixed group").to_string();
    assert!(
        e.contains(".groups[0]: an age group holds ages both under and over 62"),
        "{e}"
    );
    // No edge at 62: a bin may straddle it.
    let mut no_edge = with_age_pair(0.0);
    let k = no_edge.features[AGE]
        .edges
        .iter()
        .position(|&e| e == ELDERLY_AGE)
        .expect("62");
    no_edge.features[AGE].edges[k] = 62.5;
    let e = no_edge.validate().expect_err("no edge at 62").to_string();
    assert!(e.contains("needs an age edge at 62"), "{e}");
}

/// A broken copy of the cells model: `f` edits it; the message `validate` gives.
fn refusal(f: impl FnOnce(&mut ModelArtifact)) -> String {
    let mut a = cells_artifact();
    f(&mut a);
    match a.validate() {
        Err(e @ ModelError::Invalid(_)) => e.to_string(),
        other => panic!("expected an Invalid refusal, got {other:?}"),
    }
}

fn x0(a: &mut ModelArtifact) -> &mut Interaction {
    &mut a.interactions[0]
}

#[test]
fn validation_names_the_pair_and_the_field() {
    let p0 = "interactions[0] (\"RevolvingUtilizationOfUnsecuredLines\" × \
              \"NumberOfTime30_59DaysPastDueNotWorse\")";
    let cases: Vec<(String, String)> = vec![
        (
            refusal(|a| a.format_version = 2),
            "interactions: the section needs format_version 3".into(),
        ),
        (
            refusal(|a| x0(a).features[1] = "Income".into()),
            "interactions[0] (\"RevolvingUtilizationOfUnsecuredLines\" × \"Income\").features: \
             not a feature of the schema"
                .into(),
        ),
        (
            refusal(|a| x0(a).features.swap(0, 1)),
            "must be distinct and in schema order".into(),
        ),
        (
            refusal(|a| x0(a).features[1] = x0(a).features[0].clone()),
            "must be distinct and in schema order".into(),
        ),
        (
            refusal(|a| {
                x0(a).groups[0].pop();
            }),
            format!("{p0}.groups[0]: needs one entry per bin of the feature"),
        ),
        (
            refusal(|a| x0(a).groups[1][0] = 7),
            format!("{p0}.groups[1]: groups are not numbered 0..n with none unused"),
        ),
        (
            refusal(|a| x0(a).groups[0][0] = 20),
            format!("{p0}.groups[0]: more than 16 groups (MAX_GROUPS)"),
        ),
        (
            refusal(|a| x0(a).groups[0][0] = 5),
            format!("{p0}.groups[0]: groups are not numbered 0..n with none unused"),
        ),
        (
            refusal(|a| {
                x0(a).group_labels[1].pop();
            }),
            format!("{p0}.group_labels[1]: needs one label per group"),
        ),
        (
            refusal(|a| {
                x0(a).cells.pop();
            }),
            format!("{p0}.cells: needs one cell per pair of groups (rows × columns, row-major)"),
        ),
        (
            refusal(|a| x0(a).cells[5].logit = f64::NAN),
            format!("{p0}.cells: a cell has non-finite points or a logit"),
        ),
        (
            refusal(|a| {
                let f = a.scaling.factor;
                let c = &mut x0(a).cells[5];
                c.logit = 50.5;
                c.points = -f * 50.5;
            }),
            format!(
                "{p0}.cells: a cell has non-finite points or a logit that is not finite or outside ±50"
            ),
        ),
        (
            refusal(|a| x0(a).cells[2].points += 0.01),
            format!("{p0}.cells: a cell's points are not -factor × logit (the scaling's)"),
        ),
        (
            refusal(|a| {
                let dup = a.interactions[1].clone();
                a.interactions.push(dup);
            }),
            "interactions[3] (\"DebtRatio\" × \"MonthlyIncome\").features: the pair appears twice".into(),
        ),
        (
            refusal(|a| {
                let one = a.interactions[0].clone();
                a.interactions = vec![one; 17];
            }),
            "interactions: more than 16 pairs (MAX_INTERACTIONS)".into(),
        ),
        (
            refusal(|a| {
                // Sixteen distinct pairs (no age), each with a cell at the logit bound.
                let names: Vec<&str> = FEATURES
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != AGE)
                    .map(|(_, s)| s.name)
                    .collect();
                let mut pairs = Vec::new();
                for i in 0..names.len() {
                    for k in i + 1..names.len() {
                        pairs.push((i, k));
                    }
                }
                let f = a.scaling.factor;
                let cards = a.features.clone();
                a.interactions = pairs[..16]
                    .iter()
                    .map(|&(i, k)| {
                        let bins = |name: &str| {
                            cards
                                .iter()
                                .find(|c| c.name == name)
                                .map_or(0, |c| c.all_bins().count())
                        };
                        let mut cell = a.features[0].range_bins[0].clone();
                        cell.logit = 50.0;
                        cell.points = -f * 50.0;
                        Interaction {
                            features: [names[i].to_owned(), names[k].to_owned()],
                            groups: [vec![0; bins(names[i])], vec![0; bins(names[k])]],
                            group_labels: [vec!["all".into()], vec!["all".into()]],
                            cells: vec![cell],
                        }
                    })
                    .collect();
            }),
            "the scorer's product of odds could overflow".into(),
        ),
    ];
    for (got, want) in &cases {
        assert!(
            got.contains(want.as_str()),
            "{got}\n  does not contain\n{want}"
        );
    }
    // Each message names the section (and its pair) first.
    for (got, _) in &cases {
        assert!(got.starts_with("model artifact: interactions"), "{got}");
    }
}

#[test]
fn the_fixture_model_passes_both_readers_and_keeps_its_checksum() {
    let text = with_interactions(&additive()).to_json().expect("writes");
    let a = ModelArtifact::from_json(&text).expect("serde reader");
    let b = ModelArtifact::from_json_lite(&text).expect("lite reader");
    assert_eq!(a, b);
    assert_eq!(a.format_version, 3);
    assert_eq!(a.to_json().expect("writes"), text);
}

/// The probe rows' values per feature (edges, just below them, codes, missing), for random
/// rows that mix them.
fn probe_values() -> &'static [Vec<f64>; N_FEATURES] {
    static V: OnceLock<[Vec<f64>; N_FEATURES]> = OnceLock::new();
    V.get_or_init(|| {
        let rows = probe_rows(&cells_artifact());
        std::array::from_fn(|j| {
            let mut v: Vec<f64> = rows.iter().map(|r| r[j]).collect();
            v.sort_by(f64::total_cmp);
            v.dedup_by(|a, b| a.to_bits() == b.to_bits());
            v
        })
    })
}

fn model_and_artifact() -> &'static (Scorecard, ModelArtifact) {
    static M: OnceLock<(Scorecard, ModelArtifact)> = OnceLock::new();
    M.get_or_init(|| (cells_model(), cells_artifact()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Random rows from the probe values: the probability equals the artifact's arithmetic
    /// (1e-12 relative), and a batch of them equals the rows one by one, bit for bit.
    #[test]
    fn random_rows_match_the_arithmetic_and_batch_equals_single(
        picks in prop::collection::vec(prop::array::uniform10(any::<prop::sample::Index>()), 1..24)
    ) {
        let (m, a) = model_and_artifact();
        let values = probe_values();
        let rows: Vec<[f64; N_FEATURES]> = picks
            .iter()
            .map(|p| std::array::from_fn(|j| values[j][p[j].index(values[j].len())]))
            .collect();
        let flat: Vec<f64> = rows.iter().flatten().copied().collect();
        let mut out = vec![0.0; rows.len()];
        let mut score = vec![0.0; rows.len()];
        let src = credit_core::RowMajor::new(&flat, rows.len()).expect("shape");
        m.score_batch(&src, &mut out, Some(&mut score)).expect("batch");
        let mut only = vec![0.0; rows.len()];
        m.predict_proba_rows(&flat, &mut only).expect("batch");
        for (i, row) in rows.iter().enumerate() {
            let p = m.predict_row(row).expect("valid");
            let (z, points) = recompute(a, row);
            let want = 1.0 / (1.0 + (-z).exp());
            prop_assert!((p.probability - want).abs() <= 1e-12 * want, "{:?}", row);
            prop_assert!((p.score - points).abs() <= 1e-9);
            prop_assert_eq!(p.probability.to_bits(), out[i].to_bits());
            prop_assert_eq!(p.probability.to_bits(), only[i].to_bits());
            prop_assert_eq!(p.score.to_bits(), score[i].to_bits());
        }
    }
}
