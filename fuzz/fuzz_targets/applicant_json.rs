#![no_main]
//! libFuzzer entry point; the checks live in `credit_fuzz::applicant_json` (replayed on stable by
//! `tests/replay.rs`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| credit_fuzz::applicant_json::run(data));
