//! Property tests: whatever the input, no panic; valid rows give probabilities in (0, 1),
//! batch equals single, and the fused fast path agrees with full validation.

use credit_core::{Applicant, RawValue, Scorecard, FEATURES, N_FEATURES};
use proptest::prelude::*;
use std::sync::OnceLock;

/// The shipped model; a build without cells cannot read it and takes the additive one shipped
/// until 1.1.0.
#[cfg(feature = "interactions")]
const MODEL: &str = include_str!("../../models/default.json");
#[cfg(not(feature = "interactions"))]
const MODEL: &str = include_str!("data/additive-1.0.0.json");

fn model() -> &'static Scorecard {
    static M: OnceLock<Scorecard> = OnceLock::new();
    M.get_or_init(|| Scorecard::from_json(MODEL).expect("model"))
}

/// The shipped model with the fixture's interaction cells (scored by the scalar kernel in
/// every path; see `tests/interactions.rs`). Only in a build that scores cells (the
/// `interactions` feature); the others use the shipped model for both cases.
fn cells_model() -> &'static Scorecard {
    static M: OnceLock<Scorecard> = OnceLock::new();
    M.get_or_init(|| {
        let a = credit_core::ModelArtifact::from_json(MODEL).expect("model");
        let text = credit_core::fixture::with_interactions(&a)
            .to_json()
            .expect("writes");
        Scorecard::from_json(&text).expect("cells model")
    })
}

/// Any f64 at all, with the interesting ones over-represented.
fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => (0u32..130).prop_map(f64::from),
        2 => 0.0f64..2.0,
        1 => -1e7f64..1e9,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(96.0),
        1 => Just(98.0),
        1 => Just(-0.0),
        1 => any::<f64>(),
    ]
}

fn valid_row() -> impl Strategy<Value = [f64; N_FEATURES]> {
    (
        0.0f64..100_000.0,
        18u32..=120,
        prop_oneof![0u32..=95, Just(96), Just(98)],
        0.0f64..1e6,
        prop_oneof![Just(f64::NAN), 0.0f64..1e8],
        0u32..=200,
        prop_oneof![0u32..=95, Just(96), Just(98)],
        0u32..=100,
        prop_oneof![0u32..=95, Just(96), Just(98)],
        prop_oneof![Just(f64::NAN), (0u32..=50).prop_map(f64::from)],
    )
        .prop_map(|(a, b, c, d, e, f, g, h, i, j)| {
            [
                a,
                f64::from(b),
                f64::from(c),
                d,
                e,
                f64::from(f),
                f64::from(g),
                f64::from(h),
                f64::from(i),
                j,
            ]
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_row_is_scored_or_refused_never_panics(
        row in prop::array::uniform10(any_value()),
        cells in any::<bool>(),
    ) {
        let m = if cells && credit_core::SCORES_INTERACTIONS { cells_model() } else { model() };
        let fast = m.try_probability(&row);
        let slow = Applicant::from_row(&row);
        prop_assert_eq!(fast.is_some(), slow.is_ok());
        match (fast, slow) {
            (Some(p), Ok(a)) => {
                prop_assert!(p > 0.0 && p < 1.0);
                prop_assert_eq!(p.to_bits(), m.predict(&a).probability.to_bits());
            }
            (None, Err(e)) => prop_assert!(!e.errors.is_empty()),
            _ => unreachable!(),
        }
    }

    #[test]
    fn valid_rows_single_equals_batch(
        rows in prop::collection::vec(valid_row(), 1..40),
        cells in any::<bool>(),
    ) {
        let m = if cells && credit_core::SCORES_INTERACTIONS { cells_model() } else { model() };
        let flat: Vec<f64> = rows.iter().flatten().copied().collect();
        let mut out = vec![0.0; rows.len()];
        let rep = m.predict_proba_rows(&flat, &mut out).unwrap();
        prop_assert_eq!(rep.valid, rows.len());
        // With points too (a different batch path).
        let src = credit_core::RowMajor::new(&flat, rows.len()).unwrap();
        let (mut p2, mut s2) = (vec![0.0; rows.len()], vec![0.0; rows.len()]);
        m.score_batch(&src, &mut p2, Some(&mut s2)).unwrap();
        for (i, (r, p)) in rows.iter().zip(&out).enumerate() {
            let single = m.predict_row(r).unwrap();
            prop_assert!(single.probability > 0.0 && single.probability < 1.0);
            prop_assert!(single.score.is_finite());
            prop_assert_eq!(single.probability.to_bits(), p.to_bits());
            prop_assert_eq!(single.probability.to_bits(), p2[i].to_bits());
            prop_assert_eq!(single.score.to_bits(), s2[i].to_bits());
        }
    }

    #[test]
    fn any_fields_never_panic(
        names in prop::collection::vec(prop_oneof![
            (0usize..N_FEATURES).prop_map(|j| FEATURES[j].name.to_owned()),
            (0usize..N_FEATURES).prop_map(|j| FEATURES[j].alias.unwrap_or(FEATURES[j].name).to_owned()),
            "[a-zA-Z_]{0,12}",
        ], 0..14),
        values in prop::collection::vec(prop_oneof![
            any_value().prop_map(Some),
            Just(None),
        ], 14),
        text in ".{0,40}",
    ) {
        let fields: Vec<(&str, RawValue)> = names.iter().zip(&values).map(|(n, v)| {
            (n.as_str(), match v { Some(x) => RawValue::Float(*x), None => RawValue::Str(&text) })
        }).collect();
        if let Err(e) = Applicant::from_fields(fields) {
            prop_assert!(!e.errors.is_empty());
            for err in &e.errors { prop_assert!(!err.message.is_empty()); }
        }
    }

    #[test]
    fn any_text_never_panics(text in ".{0,200}") {
        let _ = model().predict_json(&text);
    }
}
