#![no_main]
//! libFuzzer entry point; the checks live in `credit_fuzz::score_csv` (replayed on stable by
//! `tests/replay.rs`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| credit_fuzz::score_csv::run(data));
