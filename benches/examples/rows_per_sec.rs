//! Quick throughput probe (not a benchmark of record; `cargo bench` is): scores 1M rows once.
//! Under callgrind it counts instructions per row, which the machine's load does not change;
//! `CREDIT_KERNEL_PATH` (e.g. `avx2-loads`) picks the batch kernel, as in the benches.
use credit_core::batch::RowMajor;
use credit_core::{KernelPath, Scorecard};
fn main() {
    let m = Scorecard::from_json(include_str!("../../models/default.json")).expect("model");
    let m = match std::env::var("CREDIT_KERNEL_PATH") {
        Ok(name) => {
            let path: KernelPath = name.parse().unwrap_or_else(|e| panic!("{e}"));
            m.with_kernel_path(path)
                .unwrap_or_else(|| panic!("this CPU cannot run {path}"))
        }
        Err(_) => m,
    };
    eprintln!("kernel path {}", m.kernel_path());
    let n = 1_000_000;
    let mut flat = Vec::with_capacity(n * 10);
    for i in 0..n {
        let f = (i % 97) as f64;
        flat.extend_from_slice(&[
            f / 97.0,
            20.0 + (i % 80) as f64,
            (i % 3) as f64,
            f / 50.0,
            1000.0 + f * 100.0,
            (i % 25) as f64,
            0.0,
            (i % 4) as f64,
            0.0,
            (i % 3) as f64,
        ]);
    }
    let src = RowMajor::new(&flat, n).expect("shape");
    let mut out = vec![0.0; n];
    if std::env::var_os("SKIP_SCORING").is_some() {
        println!("{}", flat.len());
        return;
    }
    let t = std::time::Instant::now();
    let r = m.score_batch(&src, &mut out, None).expect("ok");
    let dt = t.elapsed();
    // Read the output, or the optimiser may drop the stores (and the sigmoid) altogether.
    let checksum: f64 = std::hint::black_box(&out).iter().sum();
    println!(
        "{} valid (sum of p {checksum:.3}), {:.1} M rows/s, {:.1} ns/row",
        r.valid,
        n as f64 / dt.as_secs_f64() / 1e6,
        dt.as_nanos() as f64 / n as f64
    );
}
