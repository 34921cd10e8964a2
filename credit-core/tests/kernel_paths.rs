#![cfg(feature = "interactions")]
//! Models with interaction cells score bit-identically on every batch kernel path this CPU can
//! run (`Scorecard::with_kernel_path`: scalar, and on x86-64 the AVX2 / AVX-512 builds with
//! gathers or scalar loads), and each path equals the single-row answer: probabilities, points,
//! the canonical NaN and a report entry for every invalid row. Random batches mix valid rows
//! with missing values, special codes, bin edges and their neighbours, and invalid values (any
//! bit pattern, fractions of counts, out-of-range numbers), in every layout the vector kernels
//! read (row-major with and without points, columns) and lengths that leave a remainder.

use credit_core::artifact::ModelArtifact;
use credit_core::fixture::{with_interactions, with_pairs, SIXTEEN_PAIRS};
use credit_core::{Columns, KernelPath, Kind, RowMajor, Scorecard, FEATURES, N_FEATURES};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const MODEL: &str = include_str!("../../models/default.json");

/// The shipped model (eight trained pairs), and the same with the fixture's 3, 8, 11 and 16
/// pairs in place of its own (the vector kernel keeps eight pairs' cell indices per 64-bit
/// word: one word, part of one, two, part of the second).
fn cells_models() -> Vec<Scorecard> {
    let base = ModelArtifact::from_json(MODEL).expect("shipped model");
    assert!(!base.interactions.is_empty(), "the shipped model has cells");
    let mut artifacts = vec![base.clone(), with_interactions(&base)];
    for n in [8, 11, 16] {
        artifacts.push(with_pairs(&base, &SIXTEEN_PAIRS[..n]));
    }
    artifacts
        .into_iter()
        .map(|a| Scorecard::new(a).expect("cells model"))
        .collect()
}

/// `m` on every path this CPU runs; on x86-64 as many as its instructions allow (none may be
/// skipped unnoticed).
fn on_every_path(m: &Scorecard) -> Vec<Scorecard> {
    let paths: Vec<Scorecard> = KernelPath::ALL
        .into_iter()
        .filter_map(|p| m.clone().with_kernel_path(p))
        .collect();
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::is_x86_feature_detected!("avx2");
        let avx512 = avx2
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512dq");
        let want = 1 + 2 * usize::from(avx2) + 2 * usize::from(avx512);
        assert_eq!(paths.len(), want, "paths of this CPU");
    }
    paths
}

/// Feature `j`'s values: mostly valid (a whole number in range for a count, any real in range
/// for a real), else a probe, any bit pattern, or a whole number around the range. With NaN
/// among the probes, missing values are frequent in the optional features.
fn value(a: &ModelArtifact, j: usize) -> BoxedStrategy<f64> {
    let spec = &FEATURES[j];
    let (lo, hi) = (spec.min, spec.max.min(1e7));
    let valid = match spec.kind {
        Kind::Count => (lo as i64..=hi as i64).prop_map(|x| x as f64).boxed(),
        Kind::Real => (lo..=hi).boxed(),
    };
    prop_oneof![
        24 => valid,
        4 => proptest::sample::select(credit_core::fixture::probes(a, j)),
        1 => any::<u64>().prop_map(f64::from_bits),
        1 => ((lo - 3.0) as i64..=(hi + 3.0) as i64).prop_map(|x| x as f64),
    ]
    .boxed()
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// What one path makes of `rows`: probabilities and points (row-major), the invalid rows'
/// indices; the probabilities alone row-major and by columns must be the same bits.
fn scored(m: &Scorecard, rows: &[[f64; N_FEATURES]]) -> Result<Outputs, TestCaseError> {
    let n = rows.len();
    let path = m.kernel_path();
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    let src = RowMajor::new(&flat, n).expect("shape");
    let (mut p, mut s, mut p2, mut p3) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let report = m.score_batch(&src, &mut p, Some(&mut s)).expect("batch");
    let report2 = m.score_batch(&src, &mut p2, None).expect("batch");
    let cols: Vec<Vec<f64>> = (0..N_FEATURES)
        .map(|j| rows.iter().map(|r| r[j]).collect())
        .collect();
    let col_refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let cols = Columns::new(&col_refs).expect("columns");
    let report3 = m.score_batch(&cols, &mut p3, None).expect("batch");
    prop_assert_eq!(&report, &report2, "{}", path);
    prop_assert_eq!(&report, &report3, "{}", path);
    prop_assert_eq!(bits(&p), bits(&p2), "{}", path);
    prop_assert_eq!(bits(&p), bits(&p3), "{}", path);
    let invalid = report.invalid.iter().map(|e| e.row).collect();
    Ok(Outputs { p, s, invalid })
}

#[derive(Debug, PartialEq)]
struct Outputs {
    p: Vec<f64>,
    s: Vec<f64>,
    invalid: Vec<usize>,
}

/// Every path of `m` on `rows` against the single-row scalar answer, bit for bit; returns the
/// number of invalid rows.
fn check(paths: &[Scorecard], rows: &[[f64; N_FEATURES]]) -> Result<usize, TestCaseError> {
    let mut want = Outputs {
        p: Vec::new(),
        s: Vec::new(),
        invalid: Vec::new(),
    };
    for (i, row) in rows.iter().enumerate() {
        let Some((p, s)) = paths[0].try_probability_and_score(row) else {
            want.p.push(f64::NAN);
            want.s.push(f64::NAN);
            want.invalid.push(i);
            continue;
        };
        want.p.push(p);
        want.s.push(s);
    }
    for m in paths {
        let got = scored(m, rows)?;
        let path = m.kernel_path();
        prop_assert_eq!(bits(&got.p), bits(&want.p), "{} {:?}", path, rows);
        prop_assert_eq!(bits(&got.s), bits(&want.s), "{} {:?}", path, rows);
        prop_assert_eq!(&got.invalid, &want.invalid, "{}", path);
    }
    Ok(want.invalid.len())
}

#[test]
fn cells_models_score_alike_on_every_path() {
    let base = ModelArtifact::from_json(MODEL).expect("shipped model");
    let row: [BoxedStrategy<f64>; N_FEATURES] = std::array::from_fn(|j| value(&base, j));
    let batch = proptest::collection::vec(row, 0..40);
    for m in cells_models() {
        let paths = on_every_path(&m);
        let pairs = m.artifact().interactions.len();
        let mut runner = TestRunner::new(Config {
            cases: 192,
            failure_persistence: None,
            ..Config::default()
        });
        let (valid, invalid) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
        runner
            .run(&batch, |rows| {
                let bad = check(&paths, &rows)?;
                invalid.set(invalid.get() + bad);
                valid.set(valid.get() + rows.len() - bad);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{pairs} pairs: {e}"));
        // Both verdicts occur often enough to mean something.
        let (valid, invalid) = (valid.get(), invalid.get());
        assert!(
            valid > 500 && invalid > 500,
            "{pairs} pairs: {valid} valid, {invalid} invalid"
        );
    }
}

/// The cells change the answer on (almost) every valid row, so that a path that skipped them
/// would fail the comparison above rather than agree with a scalar kernel that skipped them too.
#[test]
fn cells_change_the_probability() {
    let rows = [
        [0.3, 45.0, 0.0, 0.4, 5000.0, 8.0, 0.0, 1.0, 0.0, 1.0],
        [
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
        ],
    ];
    for m in cells_models() {
        // The same bins without the cells.
        let mut a = m.artifact().clone();
        a.interactions.clear();
        a.format_version = 2;
        let base = Scorecard::new(a).expect("additive");
        for row in &rows {
            let (p, q) = (m.try_probability(row), base.try_probability(row));
            assert!(p.is_some() && p != q, "{p:?} {q:?}");
        }
    }
}
