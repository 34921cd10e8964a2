//! Criterion benches of credit-core scoring against the README's targets:
//! one applicant (validation + probability ≤ 50 ns; with reasons ≤ 200 ns) and
//! batch throughput (≥ 40 M rows/s on one core), and each batch kernel path against the memory
//! floor (reading the same rows), the target being 1.5 times the floor on every CPU.
//!
//! The shipped model has eight trained interaction pairs (since 1.1.0). The `cells` group puts
//! it side by side with the additive model shipped until then, the same with the fixture's three
//! and eight pairs, and the floor, in one run.
//!
//! `CREDIT_KERNEL_PATH` (scalar, avx2-gather, avx2-loads, avx512-gather, avx512-loads) forces
//! the path of the `single`, `batch` and `cells` groups, e.g. to see what a Zen core would run.

use credit_core::artifact::ModelArtifact;
use credit_core::batch::{Columns, RowMajor};
use credit_core::fixture::{with_eight_interactions, with_interactions};
use credit_core::{Applicant, KernelPath, Scorecard, N_FEATURES};
use criterion::measurement::WallTime;
use criterion::{
    black_box, criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use std::time::{Duration, Instant};

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

/// The shipped model on the path `CREDIT_KERNEL_PATH` names, else on this CPU's own.
fn model() -> Scorecard {
    on_path(Scorecard::from_json(MODEL).expect("model"))
}

/// `m` on the path `CREDIT_KERNEL_PATH` names, else on this CPU's own.
fn on_path(m: Scorecard) -> Scorecard {
    let Ok(name) = std::env::var("CREDIT_KERNEL_PATH") else {
        return m;
    };
    let path: KernelPath = name
        .parse()
        .unwrap_or_else(|e| panic!("CREDIT_KERNEL_PATH: {e}"));
    m.with_kernel_path(path)
        .unwrap_or_else(|| panic!("CREDIT_KERNEL_PATH: this CPU cannot run {path}"))
}

fn single(c: &mut Criterion) {
    let m = model();
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
    let m = model();
    eprintln!("batch: kernel path {}", m.kernel_path());
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

/// The memory floor: every value of `data` read once, summed in sixteen independent lanes so
/// that the additions keep up with memory (one chain would be bound by the add latency).
fn sum(data: &[f64]) -> f64 {
    let (chunks, rest) = data.as_chunks::<16>();
    let mut acc = [0.0; 16];
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().sum::<f64>() + rest.iter().sum::<f64>()
}

/// Times `iters` runs of `f` for criterion and keeps the time per run in `log`.
fn timed(iters: u64, log: &mut Vec<Duration>, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    let took = start.elapsed();
    log.push(took / u32::try_from(iters.max(1)).unwrap_or(u32::MAX));
    took
}

/// Benches `f` as `name` (over `n` rows) in group `g` and keeps its per-run times in `times`,
/// for `report`.
fn logged(
    g: &mut BenchmarkGroup<'_, WallTime>,
    times: &mut Vec<(String, Vec<Duration>)>,
    name: &str,
    n: usize,
    mut f: impl FnMut(),
) {
    let mut log = Vec::new();
    g.bench_function(BenchmarkId::new(name, n), |b| {
        b.iter_custom(|iters| timed(iters, &mut log, &mut f))
    });
    times.push((name.into(), log));
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// One million rows, row-major, probabilities only, on every kernel path this CPU can run,
/// and the floor: the time it takes to read the same 80 MB. Prints each path's ratio to the
/// floor (medians of the per-run times of this run, warm-up included).
fn paths(c: &mut Criterion) {
    let n = 1_000_000;
    let flat: Vec<f64> = rows(n).iter().flatten().copied().collect();
    let src = RowMajor::new(&flat, n).expect("shape");
    let mut out = vec![0.0; n];
    let mut g = c.benchmark_group("kernel paths");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20);
    let mut times: Vec<(String, Vec<Duration>)> = Vec::new();
    logged(&mut g, &mut times, "floor (read the rows)", n, || {
        black_box(sum(black_box(&flat)));
    });
    let base = Scorecard::from_json(MODEL).expect("model");
    for path in KernelPath::ALL {
        let Some(m) = base.clone().with_kernel_path(path) else {
            eprintln!("kernel paths: {path} skipped (this CPU lacks its instructions)");
            continue;
        };
        logged(&mut g, &mut times, path.name(), n, || {
            black_box(m.score_batch(&src, &mut out, None).expect("ok"));
        });
    }
    g.finish();
    let chosen = Scorecard::from_json(MODEL).expect("model").kernel_path();
    report(
        &format!("kernel paths (this CPU's own path: {chosen})"),
        times,
    );
}

/// Prints each entry's median time per million rows and its ratio to the first's (the floor).
fn report(title: &str, times: Vec<(String, Vec<Duration>)>) {
    // Nothing ran (a filter left the group out).
    if times.iter().all(|(_, log)| log.is_empty()) {
        return;
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\n{title}, 1M rows row-major (load {})", load.trim());
    let mut floor = None;
    for (name, log) in times {
        let t = median(log);
        let floor = *floor.get_or_insert(t);
        let ratio = t.as_secs_f64() / floor.as_secs_f64().max(1e-12);
        println!(
            "  {name:<24} {:>7.2} ms  {ratio:>5.2}x floor",
            t.as_secs_f64() * 1e3
        );
    }
}

/// The additive scorecard shipped until 1.1.0: the base of the fixture's cells models.
const ADDITIVE: &str = include_str!("../../credit-core/tests/data/additive-1.0.0.json");

/// The additive model, the same with the fixture's three and eight interaction pairs, and the
/// shipped model (eight trained pairs), each on the path `CREDIT_KERNEL_PATH` names (else this
/// CPU's own).
fn cell_models() -> [(&'static str, Scorecard); 4] {
    let base = ModelArtifact::from_json(ADDITIVE).expect("model");
    let compile = |a: ModelArtifact| on_path(Scorecard::new(a).expect("model"));
    [
        ("additive", compile(base.clone())),
        ("cells, 3 pairs", compile(with_interactions(&base))),
        ("cells, 8 pairs", compile(with_eight_interactions(&base))),
        ("shipped, 8 trained pairs", model()),
    ]
}

/// Interaction cells against the additive model: one applicant (validation + probability),
/// then one million rows row-major (probabilities; for eight pairs also with points) next to
/// the floor, with each one's ratio to the floor printed at the end.
fn cells(c: &mut Criterion) {
    let models = cell_models();
    eprintln!("cells: kernel path {}", models[0].1.kernel_path());
    let data = rows(1024);
    let mut g = c.benchmark_group("cells single");
    for (name, m) in &models {
        let mut i = 0;
        g.bench_function(BenchmarkId::new("validate+probability", name), |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                black_box(m.try_probability(black_box(&data[i])))
            })
        });
    }
    g.finish();
    let n = 1_000_000;
    let flat: Vec<f64> = rows(n).iter().flatten().copied().collect();
    let src = RowMajor::new(&flat, n).expect("shape");
    let (mut out, mut points) = (vec![0.0; n], vec![0.0; n]);
    let mut g = c.benchmark_group("cells batch");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20);
    let mut times: Vec<(String, Vec<Duration>)> = Vec::new();
    logged(&mut g, &mut times, "floor (read the rows)", n, || {
        black_box(sum(black_box(&flat)));
    });
    for (name, m) in &models {
        logged(&mut g, &mut times, name, n, || {
            black_box(m.score_batch(&src, &mut out, None).expect("ok"));
        });
    }
    let (name, m) = (format!("{} + points", models[2].0), &models[2].1);
    logged(&mut g, &mut times, &name, n, || {
        let s = Some(points.as_mut_slice());
        black_box(m.score_batch(&src, &mut out, s).expect("ok"));
    });
    g.finish();
    let path = models[0].1.kernel_path();
    report(&format!("cells (kernel path {path})"), times);
}

criterion_group!(benches, single, batch, paths, cells);
criterion_main!(benches);
