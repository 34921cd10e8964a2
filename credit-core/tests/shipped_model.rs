//! Tests against the shipped model and the shared test vectors. The shipped model has
//! interaction cells: a build without them refuses it (`cells_artifact.rs` tests that).
#![cfg(feature = "interactions")]

use credit_core::artifact::ModelArtifact;
use credit_core::batch::Columns;
use credit_core::schema::{AGE, ELDERLY_AGE};
use credit_core::{Applicant, ErrorCode, ModelError, Scorecard, FEATURES, N_FEATURES};
use ndarray::Array2;
use serde_json::Value;

const MODEL: &str = include_str!("../../models/default.json");
const VECTORS: &str = include_str!("../../testdata/vectors.json");

fn model() -> Scorecard {
    Scorecard::from_json(MODEL).expect("shipped model loads")
}

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("vectors parse")
}

fn row_of(v: &Value) -> [f64; N_FEATURES] {
    let mut r = [f64::NAN; N_FEATURES];
    for (j, x) in v.as_array().expect("row array").iter().enumerate() {
        r[j] = match x {
            Value::Null => f64::NAN,
            Value::String(s) if s == "inf" => f64::INFINITY,
            Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
            other => other.as_f64().expect("number"),
        };
    }
    r
}

fn codes(e: &credit_core::ValidationErrors) -> Vec<(String, String)> {
    e.errors
        .iter()
        .map(|e| (e.field.clone(), e.code.as_str().to_owned()))
        .collect()
}

fn expected_codes(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or_default().to_owned(),
                e["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn vectors_belong_to_the_shipped_model() {
    let v = vectors();
    let m = model();
    assert_eq!(v["model_version"].as_str(), Some(m.model_version()));
    assert_eq!(
        v["model_checksum"].as_str(),
        m.artifact().checksum.as_deref()
    );
}

#[test]
fn valid_vectors_match_exactly_through_every_core_path() {
    let v = vectors();
    let m = model();
    let cases = v["valid"].as_array().expect("valid");
    assert!(cases.len() >= 50);
    let mut rows = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap_or_default();
        let exp = &case["expected"];
        let text = serde_json::to_string(&case["input"]).expect("json");
        let by_text = m.predict_json(&text).expect(name);
        let by_value = m.predict(&Applicant::from_json_value(&case["input"]).expect(name));
        let row = row_of(&case["row"]);
        let by_row = m.predict_row(&row).expect(name);
        for p in [by_text, by_value, by_row] {
            assert_eq!(
                p.probability,
                exp["probability"].as_f64().expect("p"),
                "{name}"
            );
            assert_eq!(p.score, exp["score"].as_f64().expect("s"), "{name}");
            assert_eq!(
                u64::from(p.prediction),
                exp["prediction"].as_u64().expect("d"),
                "{name}"
            );
            let reasons: Vec<&str> = p
                .reasons
                .as_slice()
                .iter()
                .map(|r| m.reason_code(r.feature))
                .collect();
            let want: Vec<&str> = exp["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(reasons, want, "{name}");
        }
        rows.push(row);
    }
    // Batch paths: row-major, columns, ndarray (C and Fortran order), parallel — bit-identical.
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    let n = rows.len();
    let want: Vec<f64> = cases
        .iter()
        .map(|c| c["expected"]["probability"].as_f64().expect("p"))
        .collect();
    let mut out = vec![0.0; n];
    let rep = m.predict_proba_rows(&flat, &mut out).expect("shape");
    assert_eq!((rep.valid, rep.invalid.len()), (n, 0));
    assert_eq!(out, want);
    let cols: Vec<Vec<f64>> = (0..N_FEATURES)
        .map(|j| rows.iter().map(|r| r[j]).collect())
        .collect();
    let col_refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let mut out2 = vec![0.0; n];
    let mut score = vec![0.0; n];
    m.score_batch(
        &Columns::new(&col_refs).expect("cols"),
        &mut out2,
        Some(&mut score),
    )
    .expect("shape");
    assert_eq!(out2, want);
    let want_score: Vec<f64> = cases
        .iter()
        .map(|c| c["expected"]["score"].as_f64().expect("s"))
        .collect();
    assert_eq!(score, want_score);
    let arr = Array2::from_shape_vec((n, N_FEATURES), flat.clone()).expect("arr");
    let mut out3 = vec![0.0; n];
    m.predict_proba_array(arr.view(), &mut out3).expect("shape");
    assert_eq!(out3, want);
    let fortran = arr.t().to_owned();
    let mut out4 = vec![0.0; n];
    m.predict_proba_array(fortran.t(), &mut out4)
        .expect("shape");
    assert_eq!(out4, want);
}

#[test]
fn invalid_vectors_give_the_listed_errors() {
    let v = vectors();
    let m = model();
    for case in v["invalid"].as_array().expect("invalid") {
        let name = case["name"].as_str().unwrap_or_default();
        let e = Applicant::from_json_value(&case["input"]).expect_err(name);
        assert_eq!(codes(&e), expected_codes(&case["errors"]), "{name}");
        let text = serde_json::to_string(&case["input"]).expect("json");
        let e2 = m.predict_json(&text).expect_err(name);
        assert_eq!(codes(&e2), expected_codes(&case["errors"]), "{name}");
    }
    let rows: Vec<[f64; N_FEATURES]> = v["invalid_rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|c| row_of(&c["row"]))
        .collect();
    for (case, row) in v["invalid_rows"]
        .as_array()
        .expect("rows")
        .iter()
        .zip(&rows)
    {
        let name = case["name"].as_str().unwrap_or_default();
        let e = Applicant::from_row(row).expect_err(name);
        assert_eq!(codes(&e), expected_codes(&case["errors"]), "{name}");
    }
    // In a batch, invalid rows are reported per row and never abort the others.
    let mut flat: Vec<f64> = Vec::new();
    for r in &rows {
        flat.extend_from_slice(r);
        flat.extend_from_slice(&[0.5, 40.0, 0.0, 0.3, 5000.0, 5.0, 0.0, 1.0, 0.0, 0.0]);
    }
    let mut out = vec![0.0; rows.len() * 2];
    let rep = m.predict_proba_rows(&flat, &mut out).expect("shape");
    assert_eq!(rep.valid, rows.len());
    let bad: Vec<usize> = rep.invalid.iter().map(|r| r.row).collect();
    assert_eq!(bad, (0..rows.len()).map(|i| 2 * i).collect::<Vec<_>>());
    for (i, p) in out.iter().enumerate() {
        assert_eq!(p.is_nan(), i % 2 == 0);
    }
    for case in v["invalid_json"].as_array().expect("json") {
        let name = case["name"].as_str().unwrap_or_default();
        let e = m
            .predict_json(case["text"].as_str().expect("text"))
            .expect_err(name);
        assert_eq!(codes(&e), expected_codes(&case["errors"]), "{name}");
    }
}

#[test]
fn regulation_b_elderly_never_get_fewer_age_points() {
    let m = model();
    let a = m.artifact();
    assert!(a.age_policy.enforced);
    let age = &a.features[AGE];
    let elderly_from = age
        .edges
        .iter()
        .position(|&e| e == ELDERLY_AGE)
        .expect("edge at 62")
        + 1;
    let max_young = age.range_bins[..elderly_from]
        .iter()
        .map(|b| b.points)
        .fold(f64::NEG_INFINITY, f64::max);
    for b in &age.range_bins[elderly_from..] {
        assert!(
            b.points >= max_young,
            "bin {} has {} < {}",
            b.label,
            b.points,
            max_young
        );
    }
    // And every whole age, scored: the total score at 62..=120 at least the best of 18..=61 with
    // every other feature held (so cells with age count too), on a base row and, for each pair
    // with age, on rows where the pair's other feature takes a value in each of its bins (every
    // 62+ cell is reached); age never a reason at 62+.
    let base = [0.9, 40.0, 1.0, 0.9, 1000.0, 2.0, 1.0, 0.0, 1.0, 2.0];
    let mut rows = vec![base];
    for x in &a.interactions {
        let Some(other) = x.features.iter().find(|f| *f != "age") else {
            continue;
        };
        if x.features.iter().any(|f| f == "age") {
            let j = FEATURES
                .iter()
                .position(|s| s.name == other)
                .expect("feature");
            for v in credit_core::fixture::probes(a, j) {
                let mut r = base;
                r[j] = v;
                rows.extend(Applicant::from_row(&r).ok().map(|_| r));
            }
        }
    }
    for row in &rows {
        let score = |age: f64| {
            let mut r = *row;
            r[AGE] = age;
            m.predict_row(&r).expect("valid")
        };
        let best_young = (18..62)
            .map(|x| score(f64::from(x)).score)
            .fold(f64::NEG_INFINITY, f64::max);
        for x in 62..=120 {
            let p = score(f64::from(x));
            assert!(p.score >= best_young - 1e-9, "age {x}: {row:?}");
            assert!(p.reasons.as_slice().iter().all(|r| r.feature != AGE));
        }
    }
}

#[test]
fn past_due_points_never_rise_with_more_late_payments() {
    let m = model();
    for j in [2usize, 6, 8] {
        let mut prev = f64::INFINITY;
        for k in 0..=95 {
            let mut r = [0.3, 45.0, 0.0, 0.3, 5000.0, 6.0, 0.0, 1.0, 0.0, 0.0];
            r[j] = f64::from(k);
            let pts = m
                .explain(&Applicant::from_row(&r).expect("valid"))
                .contributions[j]
                .points;
            assert!(pts <= prev + 1e-9, "{} at {k}", FEATURES[j].name);
            prev = pts;
        }
    }
}

/// With interaction cells, the whole score (a feature's bin and every cell it is in) never
/// rises as a past-due count grows, whatever the other features: checked from profiles that
/// reach every group of the other axes of the shipped pairs.
#[test]
fn past_due_score_never_rises_with_more_late_payments_cells_included() {
    let m = model();
    let bases = [
        [0.02, 30.0, 0.0, 0.1, 9000.0, 3.0, 0.0, 0.0, 0.0, 0.0],
        [0.3, 45.0, 1.0, 0.3, 5000.0, 6.0, 0.0, 1.0, 0.0, 2.0],
        [0.7, 55.0, 2.0, 0.9, f64::NAN, 10.0, 1.0, 2.0, 1.0, f64::NAN],
        [1.1, 70.0, 4.0, 3.5, 1500.0, 20.0, 3.0, 4.0, 2.0, 1.0],
        [0.95, 25.0, 0.0, 4000.0, f64::NAN, 1.0, 0.0, 0.0, 0.0, 5.0],
    ];
    for j in [2usize, 6, 8] {
        for base in bases {
            let mut prev = f64::INFINITY;
            for k in 0..=95 {
                let mut r = base;
                r[j] = f64::from(k);
                let score = m.predict_row(&r).expect("valid").score;
                assert!(
                    score <= prev + 1e-9,
                    "{} at {k} from {base:?}",
                    FEATURES[j].name
                );
                prev = score;
            }
        }
    }
}

#[test]
fn loading_refuses_broken_artifacts() {
    let good: ModelArtifact = serde_json::from_str(MODEL).expect("parse");
    // Tampering without fixing the checksum.
    let tampered = MODEL.replacen("\"intercept\": ", "\"intercept\": 1", 1);
    assert!(matches!(
        ModelArtifact::from_json(&tampered),
        Err(ModelError::ChecksumMismatch { .. }) | Err(ModelError::Json(_))
    ));
    let reload = |a: &ModelArtifact| a.to_json().and_then(|t| ModelArtifact::from_json(&t));
    let mut v = good.clone();
    v.format_version = credit_core::artifact::FORMAT_VERSION + 1;
    assert!(matches!(
        reload(&v),
        Err(ModelError::WrongFormatVersion { found, .. }) if found == credit_core::artifact::FORMAT_VERSION + 1
    ));
    let mut f = good.clone();
    f.format = "something-else".into();
    assert!(matches!(reload(&f), Err(ModelError::WrongFormat { .. })));
    let mut unsorted = good.clone();
    unsorted.features[0].edges.swap(0, 1);
    let err = reload(&unsorted).expect_err("unsorted");
    assert!(err.to_string().contains("strictly increasing"), "{err}");
    let mut nan = good.clone();
    nan.features[3].range_bins[2].points = f64::NAN;
    // NaN cannot even be written as JSON; build the text by hand.
    assert!(nan.to_json().is_err() || reload(&nan).is_err());
    let mut text_nan: Value = serde_json::from_str(MODEL).expect("parse");
    text_nan["features"][3]["range_bins"][2]["logit"] = Value::String("NaN".into());
    assert!(ModelArtifact::from_json(&text_nan.to_string()).is_err());
    let mut missing = good.clone();
    missing.features.remove(4);
    let err = reload(&missing).expect_err("missing feature");
    assert!(err.to_string().contains("MonthlyIncome"), "{err}");
    let mut wrong_points = good.clone();
    wrong_points.features[1].range_bins[0].points += 5.0;
    assert!(reload(&wrong_points).is_err());
    let mut no_sum = good.clone();
    no_sum.checksum = None;
    let text = serde_json::to_string(&no_sum).expect("json");
    assert!(matches!(
        ModelArtifact::from_json(&text),
        Err(ModelError::MissingChecksum)
    ));
    assert!(reload(&good).is_ok());
    assert!(ModelArtifact::from_json("{\"format\": ").is_err());
}

#[test]
fn artifact_round_trips_byte_for_byte() {
    let a = ModelArtifact::from_json(MODEL).expect("load");
    assert_eq!(a.to_json().expect("json"), MODEL);
}

#[test]
fn seed_example_answers() {
    let m = model();
    let p = m
        .predict_json(
            r#"{"RevolvingUtilizationOfUnsecuredLines": 0.766127, "age": 45,
        "NumberOfTime30_59DaysPastDueNotWorse": 2, "DebtRatio": 0.802982, "MonthlyIncome": 9120,
        "NumberOfOpenCreditLinesAndLoans": 13, "NumberOfTimes90DaysLate": 0,
        "NumberRealEstateLoansOrLines": 6, "NumberOfTime60_89DaysPastDueNotWorse": 0,
        "NumberOfDependents": 2}"#,
        )
        .expect("valid");
    assert!(p.probability > 0.0 && p.probability < 1.0);
    assert_eq!(p.prediction, u8::from(p.probability >= m.threshold()));
    assert!(!p.reasons.is_empty() && p.reasons.len() <= 4);
    let _ = ErrorCode::Missing;
}

#[test]
fn parallel_batch_equals_serial_batch() {
    let m = model();
    let n = 10_001;
    let mut flat = Vec::with_capacity(n * N_FEATURES);
    for i in 0..n {
        let f = (i % 89) as f64;
        let bad = if i % 997 == 0 {
            f64::NAN
        } else {
            30.0 + (i % 60) as f64
        };
        flat.extend_from_slice(&[
            f / 80.0,
            bad,
            (i % 3) as f64,
            f / 40.0,
            900.0 * f,
            (i % 20) as f64,
            0.0,
            1.0,
            0.0,
            f64::NAN,
        ]);
    }
    let src = credit_core::RowMajor::new(&flat, n).expect("shape");
    let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
    let (mut sa, mut sb) = (vec![0.0; n], vec![0.0; n]);
    let ra = m.score_batch(&src, &mut a, Some(&mut sa)).expect("serial");
    for threads in [2, 3, 8] {
        let rb = m
            .score_batch_parallel(&src, threads, &mut b, Some(&mut sb))
            .expect("parallel");
        assert_eq!(ra.valid, rb.valid);
        let rows_a: Vec<usize> = ra.invalid.iter().map(|r| r.row).collect();
        let mut rows_b: Vec<usize> = rb.invalid.iter().map(|r| r.row).collect();
        rows_b.sort_unstable();
        assert_eq!(rows_a, rows_b);
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
        assert!(sa.iter().zip(&sb).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
    assert_eq!(ra.invalid.len(), 11);
    let mut short = vec![0.0; n - 1];
    assert!(m.score_batch(&src, &mut short, None).is_err());
    assert!(m.score_batch_parallel(&src, 2, &mut short, None).is_err());
}

/// The crate's own copy (what `credit_core::shipped` compiles in, and what a packaged crate, the
/// Python sdist and the Node addon build from) is byte for byte the repository's shipped model.
#[test]
fn crate_copy_of_the_shipped_model_is_identical() {
    let copy = include_str!("../model/default.json");
    assert!(
        copy == MODEL,
        "credit-core/model/default.json differs from models/default.json: copy it (docs/model-release.md)"
    );
}
