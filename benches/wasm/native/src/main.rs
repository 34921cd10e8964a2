//! Native per-row time of `Scorecard::score_batch` over a row-major batch read from a file of
//! little-endian f64 (written by bench.mjs), so that WASM and native score the very same rows.
//! Usage: `credit-bench-wasm-native MODEL ROWS.f64 REPEATS`; prints one JSON line.

use credit_core::{RowMajor, Scorecard, N_FEATURES};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, rows, repeats] = args.as_slice() else {
        return Err("usage: credit-bench-wasm-native MODEL ROWS.f64 REPEATS".into());
    };
    let card = Scorecard::from_json(&std::fs::read_to_string(model)?)?;
    let bytes = std::fs::read(rows)?;
    let data: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect();
    let n = data.len() / N_FEATURES;
    let repeats: usize = repeats.parse()?;
    let src = RowMajor::new(&data, n)?;
    let mut out = vec![0.0; n];
    let mut times = Vec::with_capacity(repeats);
    let mut checksum = 0.0;
    for _ in 0..repeats {
        let t = Instant::now();
        let report = card.score_batch(&src, &mut out, None)?;
        times.push(t.elapsed().as_secs_f64());
        checksum += out.iter().sum::<f64>() + report.valid as f64;
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{{\"rows\": {n}, \"median_s\": {median}, \"ns_per_row\": {}, \"checksum\": {checksum}}}",
        median * 1e9 / n as f64
    );
    Ok(())
}
