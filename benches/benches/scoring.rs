//! Criterion benches of credit-core scoring against the README's targets:
//! one applicant (validation + probability ≤ 50 ns; with reasons ≤ 200 ns) and
//! batch throughput (≥ 40 M rows/s on one core).

use credit_core::batch::{Columns, RowMajor};
use credit_core::{Applicant, Scorecard, N_FEATURES};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const MODEL: &str = include_str!("../../models/default.json");

/// Realistic applicants, generated deterministically (values spread over every bin).
fn rows(n: usize) -> Vec<[f64; N_FEATURES]> {
    let mut s: u64 = 42;
    let mut u = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let c = |x: f64, hi: f64| (x * x * x * hi).floor();
            [
                u() * 1.2,
                (21.0 + u() * 70.0).floor(),
                c(u(), 5.0),
                u() * 2.0,
                if u() < 0.2 {
                    f64::NAN
                } else {
                    (u() * 15000.0).round()
                },
                (u() * 25.0).floor(),
                c(u(), 3.0),
                c(u(), 4.0),
                c(u(), 3.0),
                if u() < 0.03 { f64::NAN } else { c(u(), 5.0) },
            ]
        })
        .collect()
}

fn single(c: &mut Criterion) {
    let m = Scorecard::from_json(MODEL).expect("model");
    let data = rows(1024);
    let mut g = c.benchmark_group("single");
    let mut i = 0;
    g.bench_function("validate+probability", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(m.try_probability(black_box(&data[i])))
        })
    });
    g.bench_function("validate+predict with reasons", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let a = Applicant::from_row(black_box(&data[i])).expect("valid");
            black_box(m.predict(&a))
        })
    });
    let json = r#"{"RevolvingUtilizationOfUnsecuredLines": 0.766127, "age": 45, "NumberOfTime30_59DaysPastDueNotWorse": 2, "DebtRatio": 0.802982, "MonthlyIncome": 9120, "NumberOfOpenCreditLinesAndLoans": 13, "NumberOfTimes90DaysLate": 0, "NumberRealEstateLoansOrLines": 6, "NumberOfTime60_89DaysPastDueNotWorse": 0, "NumberOfDependents": 2}"#;
    g.bench_function("parse JSON+validate+predict", |b| {
        b.iter(|| black_box(m.predict_json(black_box(json))))
    });
    g.finish();
}

fn batch(c: &mut Criterion) {
    let m = Scorecard::from_json(MODEL).expect("model");
    let n = 1_000_000;
    let data = rows(n);
    let flat: Vec<f64> = data.iter().flatten().copied().collect();
    let cols: Vec<Vec<f64>> = (0..N_FEATURES)
        .map(|j| data.iter().map(|r| r[j]).collect())
        .collect();
    let col_refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let mut out = vec![0.0; n];
    let mut g = c.benchmark_group("batch");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20);
    g.bench_function(BenchmarkId::new("row-major", n), |b| {
        let src = RowMajor::new(&flat, n).expect("shape");
        b.iter(|| black_box(m.score_batch(&src, &mut out, None).expect("ok")))
    });
    g.bench_function(BenchmarkId::new("columns", n), |b| {
        let src = Columns::new(&col_refs).expect("shape");
        b.iter(|| black_box(m.score_batch(&src, &mut out, None).expect("ok")))
    });
    g.bench_function(BenchmarkId::new("row-major, 2 threads", n), |b| {
        let src = RowMajor::new(&flat, n).expect("shape");
        b.iter(|| black_box(m.score_batch_parallel(&src, 2, &mut out, None).expect("ok")))
    });
    g.finish();
    // The same rows, 10,000 at a time: the input (800 KB) stays in cache, so this is the
    // kernel's own speed; the 1M-row runs above also pay for reading 80 MB from memory.
    let n = 10_000;
    let mut out = vec![0.0; n];
    let mut g = c.benchmark_group("batch in cache");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("row-major", n), |b| {
        let src = RowMajor::new(&flat[..n * N_FEATURES], n).expect("shape");
        b.iter(|| black_box(m.score_batch(&src, &mut out, None).expect("ok")))
    });
    let col_refs: Vec<&[f64]> = cols.iter().map(|c| &c[..n]).collect();
    g.bench_function(BenchmarkId::new("columns", n), |b| {
        let src = Columns::new(&col_refs).expect("shape");
        b.iter(|| black_box(m.score_batch(&src, &mut out, None).expect("ok")))
    });
    g.finish();
}

criterion_group!(benches, single, batch);
criterion_main!(benches);
