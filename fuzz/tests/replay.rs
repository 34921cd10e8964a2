//! Replays the committed fuzz inputs (`regressions/<target>/*`: the inputs that once found a
//! bug, and a few seeds) through the fuzz targets' own checks, on stable Rust and without
//! libFuzzer, so that `make test` keeps every fixed bug fixed.
//!
//! Each file is run on its own and a failure names the file; every directory must hold at least
//! one input, so that a mistyped path cannot make the replay pass by running nothing.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    files
}

/// Runs `check` on every input of `target`; panics listing the inputs that failed.
fn replay(target: &str, check: fn(&[u8])) {
    let files = inputs(target);
    let mut failed = Vec::new();
    for f in &files {
        let data = std::fs::read(f).expect("an input file reads");
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            failed.push(f.strip_prefix(root).unwrap_or(f).display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} {target} inputs fail:\n  {}",
        failed.len(),
        files.len(),
        failed.join("\n  ")
    );
    eprintln!("{target}: {} inputs replayed", files.len());
}

#[test]
fn applicant_json() {
    replay("applicant_json", credit_fuzz::applicant_json::run);
}

#[test]
fn artifact_readers() {
    replay("artifact_readers", credit_fuzz::artifact_readers::run);
}

#[test]
fn score_csv() {
    replay("score_csv", credit_fuzz::score_csv::run);
}

#[test]
fn predict_http() {
    replay("predict_http", credit_fuzz::predict_http::run);
}
