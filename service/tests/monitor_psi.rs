//! `credit monitor` on prediction logs written here (SQLite with the serve contract's table, and
//! JSON lines): a log of applicants drawn from the training data is stable (exit 0); a log whose
//! second day has shifted incomes, debt ratios, ages and utilisations drifts (exit 1); a missing
//! or unsupported log is an error (exit 2). The PSI of one feature is recomputed here from the
//! artifact JSON alone, independently of the core's drift code.
//!
//! The baseline is the shipped model, trained on the Give Me Some Credit data. On the synthetic
//! stand-in (`CREDIT_DATA_SYNTHETIC=1`) it is a model `credit train` fits to that data here:
//! the log's applicants must come from the population the baseline was trained on.

mod lifecycle_support;

use credit_core::{Applicant, FEATURES};
use lifecycle_support::*;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Valid applicants from the training data, as canonical-name JSON objects.
fn applicants() -> Vec<Map<String, Value>> {
    let (header, lines) = data_lines();
    let cols: Vec<&str> = header.split(',').map(|c| c.trim_matches('"')).collect();
    let idx: Vec<usize> = FEATURES
        .iter()
        .map(|f| {
            cols.iter()
                .position(|c| *c == f.name || Some(*c) == f.alias)
                .unwrap_or_else(|| panic!("no column {} in {header}", f.name))
        })
        .collect();
    let mut out = Vec::new();
    for l in &lines {
        let cells: Vec<&str> = l.split(',').collect();
        let mut m = Map::new();
        for (f, &c) in FEATURES.iter().zip(&idx) {
            let v = match cells[c].trim() {
                "NA" | "" => Value::Null,
                s => json!(s.parse::<f64>().unwrap()),
            };
            m.insert(f.name.to_owned(), v);
        }
        if Applicant::from_json_value(&Value::Object(m.clone())).is_ok() {
            out.push(m);
        }
    }
    out
}

/// A deterministic pseudo-random sample (64-bit LCG), with replacement.
fn sample(pool: &[Map<String, Value>], n: usize, seed: u64) -> Vec<Map<String, Value>> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            pool[(s >> 33) as usize % pool.len()].clone()
        })
        .collect()
}

/// Poorer, more indebted, younger, more utilised applicants.
fn shift(a: &Map<String, Value>) -> Map<String, Value> {
    let mut m = a.clone();
    let scale = |m: &mut Map<String, Value>, k: &str, f: &dyn Fn(f64) -> f64| {
        if let Some(v) = m.get(k).and_then(Value::as_f64) {
            m.insert(k.to_owned(), json!(f(v)));
        }
    };
    scale(&mut m, "MonthlyIncome", &|v| (v * 0.3).round());
    scale(&mut m, "DebtRatio", &|v| v * 4.0 + 0.5);
    scale(&mut m, "age", &|v| (v - 15.0).max(18.0));
    scale(&mut m, "RevolvingUtilizationOfUnsecuredLines", &|v| {
        v * 1.5 + 0.4
    });
    assert!(Applicant::from_json_value(&Value::Object(m.clone())).is_ok());
    m
}

/// Log records in the serve contract's shape; `days[i]` are the applicants of day i.
fn records(days: &[Vec<Map<String, Value>>]) -> Vec<Value> {
    let mut out = Vec::new();
    for (d, apps) in days.iter().enumerate() {
        for (i, a) in apps.iter().enumerate() {
            out.push(json!({
                "request_id": format!("req-{d}-{i}"),
                "ts": format!("2026-03-{:02}T{:02}:{:02}:00Z", d + 1, (i / 60) % 24, i % 60),
                "model_version": "test",
                "input": a,
                "probability": 0.1,
                "prediction": 0,
                "score": 600.0,
                "reasons": ["R01"],
                "latency_us": 10,
            }));
        }
    }
    out
}

fn write_sqlite(path: &Path, recs: &[Value]) {
    let _ = std::fs::remove_file(path);
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch(
        "CREATE TABLE predictions(request_id TEXT PRIMARY KEY, ts TEXT, model_version TEXT,
         input TEXT, probability REAL, prediction INTEGER, score REAL, reasons TEXT,
         latency_us INTEGER)",
    )
    .unwrap();
    let tx = conn.transaction().unwrap();
    for r in recs {
        tx.execute(
            "INSERT INTO predictions VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![
                r["request_id"].as_str(),
                r["ts"].as_str(),
                r["model_version"].as_str(),
                r["input"].to_string(),
                r["probability"].as_f64(),
                r["prediction"].as_i64(),
                r["score"].as_f64(),
                r["reasons"].to_string(),
                r["latency_us"].as_i64(),
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

fn write_jsonl(path: &Path, recs: &[Value]) {
    let text: String = recs.iter().map(|r| r.to_string() + "\n").collect();
    std::fs::write(path, text).unwrap();
}

/// The model whose training data the logs are drawn from (see the module comment).
fn baseline_model(dir: &Path) -> PathBuf {
    if !synthetic() {
        return root().join("models/default.json");
    }
    let path = dir.join("synthetic-model.json");
    let out = Command::new(env!("CARGO_BIN_EXE_credit"))
        .arg("train")
        .arg("--data")
        .arg(data_path())
        .arg("--out")
        .arg(&path)
        .args([
            "--folds",
            "2",
            "--quiet",
            "--model-version",
            "0.0.1-synthetic",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "credit train: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    left_out(
        "monitor_psi",
        "applicants of the training data are stable against the shipped model (the baseline here is a model trained on the synthetic data)",
    );
    path
}

/// Runs `credit monitor` against `model`; returns exit code, stdout and the JSON report.
fn monitor(
    model: &Path,
    log: &str,
    dir: &Path,
    name: &str,
) -> (Option<i32>, String, Option<Value>) {
    monitor_with(model, log, dir, name, &[])
}

fn monitor_with(
    model: &Path,
    log: &str,
    dir: &Path,
    name: &str,
    extra: &[&str],
) -> (Option<i32>, String, Option<Value>) {
    let json_path = dir.join(format!("{name}.json"));
    let out = Command::new(env!("CARGO_BIN_EXE_credit"))
        .args(["monitor", "--log", log])
        .args(extra)
        .arg("--model")
        .arg(model)
        .arg("--html")
        .arg(dir.join(format!("{name}.html")))
        .arg("--json")
        .arg(&json_path)
        .output()
        .unwrap();
    let report = std::fs::read_to_string(&json_path)
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap());
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text, report)
}

/// PSI of `age` computed from the artifact JSON alone: bin = number of edges <= x.
fn independent_age_psi(artifact: &Value, ages: &[f64]) -> f64 {
    let f = artifact["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "age")
        .unwrap();
    let edges: Vec<f64> = f["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_f64().unwrap())
        .collect();
    let expected: Vec<f64> = f["range_bins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_f64().unwrap())
        .collect();
    let mut actual = vec![0.0; expected.len()];
    for &x in ages {
        actual[edges.iter().filter(|&&e| e <= x).count()] += 1.0;
    }
    let te: f64 = expected.iter().sum();
    let ta: f64 = actual.iter().sum();
    expected
        .iter()
        .zip(&actual)
        .map(|(e, a)| {
            let pe = (e / te).max(1e-4);
            let pa = (a / ta).max(1e-4);
            (pa - pe) * (pa / pe).ln()
        })
        .sum()
}

/// Scores of `apps` by the model in `path` (the core scorer; the binning of the score into
/// bands is what [`independent_score_psi`] checks).
fn rescore(path: &Path, apps: &[Map<String, Value>]) -> Vec<f64> {
    let model = credit_core::Scorecard::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
    apps.iter()
        .map(|a| {
            let a = Applicant::from_json_value(&Value::Object(a.clone())).unwrap();
            model.predict(&a).score
        })
        .collect()
}

/// Score PSI against the artifact's `score_distribution`, from the JSON alone: band = number of
/// edges <= score, the same 1e-4 floor for empty bands as the features.
fn independent_score_psi(artifact: &Value, scores: &[f64]) -> f64 {
    let d = &artifact["score_distribution"];
    let edges: Vec<f64> = d["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_f64().unwrap())
        .collect();
    let expected: Vec<f64> = d["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_f64().unwrap())
        .collect();
    assert_eq!(expected.len(), edges.len() + 1);
    let mut actual = vec![0.0; expected.len()];
    for &s in scores {
        actual[edges.iter().filter(|&&e| e <= s).count()] += 1.0;
    }
    let te: f64 = expected.iter().sum();
    let ta: f64 = actual.iter().sum();
    expected
        .iter()
        .zip(&actual)
        .map(|(e, a)| {
            let pe = (e / te).max(1e-4);
            let pa = (a / ta).max(1e-4);
            (pa - pe) * (pa / pe).ln()
        })
        .sum()
}

/// A copy of the artifact at `path` as a format-version-1 artifact without the training score
/// distribution (what every artifact written before it existed looks like), and so without
/// interaction cells (which need version 3).
fn without_score_distribution(path: &Path, dir: &Path) -> PathBuf {
    let mut a =
        credit_core::ModelArtifact::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(
        a.score_distribution.is_some(),
        "the baseline model has the section"
    );
    a.score_distribution = None;
    a.interactions.clear();
    a.format_version = 1;
    let out = dir.join("no-score-distribution.json");
    std::fs::write(&out, a.to_json().unwrap()).unwrap();
    out
}

fn day_psi(report: &Value, day: usize, key: &str) -> f64 {
    let d = &report["days"][day];
    if key == "score" {
        d["score_psi"].as_f64().unwrap()
    } else {
        d["features"][key].as_f64().unwrap()
    }
}

#[test]
fn stable_log_passes_shifted_log_drifts_and_bad_logs_are_errors() {
    let dir = work_dir("monitor");
    let pool = applicants();
    assert!(pool.len() > 10_000);
    let model = baseline_model(&dir);
    let artifact: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();

    // Stable: three days drawn from the training population.
    let stable_days: Vec<_> = (0..3).map(|d| sample(&pool, 2000, 11 + d)).collect();
    let stable = records(&stable_days);
    let db = dir.join("stable.db");
    write_sqlite(&db, &stable);
    let (code, text, report) = monitor(
        &model,
        &format!("sqlite://{}", db.display()),
        &dir,
        "stable",
    );
    assert_eq!(code, Some(0), "{text}");
    let report = report.unwrap();
    assert_eq!(report["drift"], false);
    assert_eq!(report["days"].as_array().unwrap().len(), 3);
    // The score baseline is the artifact's out-of-fold training distribution, not day 1.
    assert_eq!(report["score_baseline"], "training_out_of_fold");
    assert_eq!(report["score_baseline_missing"], Value::Null);
    assert_eq!(report["score_baseline_day"], Value::Null);
    assert!(!text.contains("score baseline missing"), "{text}");
    for d in 0..3 {
        assert_eq!(report["days"][d]["rows"], 2000);
        for f in FEATURES.iter() {
            let p = day_psi(&report, d, f.name);
            assert!((0.0..0.1).contains(&p), "day {d} {}: PSI {p}", f.name);
        }
        // Near 0 (sampling noise of 2000 rows over 32 bands, and in-sample vs out-of-fold
        // scores), and not 0 by construction on the first day as the old baseline was.
        let p = day_psi(&report, d, "score");
        assert!(p > 0.0 && p < 0.05, "day {d} score PSI {p}");
    }
    // The monitor's score PSI of day 2 equals one computed from the artifact JSON alone.
    let scores = rescore(&model, &stable_days[1]);
    let mine = independent_score_psi(&artifact, &scores);
    assert!((day_psi(&report, 1, "score") - mine).abs() < 1e-9);
    // The monitor's age PSI equals one computed from the artifact JSON alone.
    let ages: Vec<f64> = stable_days[1]
        .iter()
        .map(|a| a["age"].as_f64().unwrap())
        .collect();
    let mine = independent_age_psi(&artifact, &ages);
    assert!((day_psi(&report, 1, "age") - mine).abs() < 1e-9);
    assert!(
        text.contains("2026-03-03") && text.contains("stable"),
        "{text}"
    );
    let html = std::fs::read_to_string(dir.join("stable.html")).unwrap();
    assert!(html.contains("<svg") && !html.contains("<script") && !html.contains("https://"));

    // Drift: day 1 as trained, day 2 shifted.
    let normal = sample(&pool, 2000, 99);
    let shifted: Vec<_> = sample(&pool, 2000, 100).iter().map(shift).collect();
    let drift = records(&[normal, shifted]);
    let db = dir.join("shifted.db");
    write_sqlite(&db, &drift);
    let (code, text, report) = monitor(
        &model,
        &format!("sqlite://{}", db.display()),
        &dir,
        "shifted",
    );
    assert_eq!(code, Some(1), "{text}");
    let report = report.unwrap();
    assert_eq!(report["drift"], true);
    assert_eq!(report["days"][0]["drift"], false);
    assert_eq!(report["days"][1]["drift"], true);
    for f in [
        "MonthlyIncome",
        "DebtRatio",
        "age",
        "RevolvingUtilizationOfUnsecuredLines",
    ] {
        assert!(
            day_psi(&report, 1, f) > 0.25,
            "{f}: {}",
            day_psi(&report, 1, f)
        );
    }
    // Untouched features stay stable; the score moves away from its training distribution.
    assert!(day_psi(&report, 1, "NumberOfDependents") < 0.1);
    assert!(day_psi(&report, 0, "score") < 0.05);
    assert!(day_psi(&report, 1, "score") > 0.25);
    assert!(text.contains("DRIFT"), "{text}");

    // The same records as JSON lines give the same numbers.
    let jl = dir.join("shifted.jsonl");
    write_jsonl(&jl, &drift);
    let (code, _, report2) = monitor(
        &model,
        &format!("jsonl://{}", jl.display()),
        &dir,
        "shifted-jl",
    );
    assert_eq!(code, Some(1));
    assert_eq!(report2.unwrap()["days"], report["days"]);

    // An explicit baseline artifact (here the same model) gives the same table; a higher
    // threshold turns the same log into a pass.
    let base = model.clone();
    let (code, _, report3) = monitor_with(
        &model,
        &format!("jsonl://{}", jl.display()),
        &dir,
        "shifted-base",
        &["--baseline-model", base.to_str().unwrap()],
    );
    assert_eq!(code, Some(1));
    let report3 = report3.unwrap();
    assert_eq!(report3["days"], report["days"]);
    assert_eq!(report3["baseline_model_version"], artifact["model_version"]);
    let (code, _, _) = monitor_with(
        &model,
        &format!("jsonl://{}", jl.display()),
        &dir,
        "shifted-lenient",
        &["--psi-threshold", "100"],
    );
    assert_eq!(code, Some(0));
    // Too few rows per day: shown, but not gated.
    let (code, _, report4) = monitor_with(
        &model,
        &format!("jsonl://{}", jl.display()),
        &dir,
        "shifted-few",
        &["--min-rows", "5000"],
    );
    assert_eq!(code, Some(0));
    assert_eq!(report4.unwrap()["days"][1]["gated"], false);

    // An artifact written before `score_distribution` existed: the score baseline is reported
    // missing in every output and the score falls back to the first day's deciles.
    let old_model = without_score_distribution(&model, &dir);
    let (code, text, report5) = monitor(
        &old_model,
        &format!("jsonl://{}", jl.display()),
        &dir,
        "old-artifact",
    );
    assert_eq!(code, Some(1), "{text}");
    let report5 = report5.unwrap();
    let missing = "score baseline missing: the model artifact has no training score distribution \
                   (retrain with this version)";
    assert!(text.contains(missing), "{text}");
    assert!(text.contains("score vs first day"), "{text}");
    assert_eq!(report5["score_baseline_missing"], missing);
    assert_eq!(report5["score_baseline"], "first_day_deciles");
    assert_eq!(report5["score_baseline_day"], "2026-03-01");
    assert!(day_psi(&report5, 0, "score").abs() < 1e-12);
    let html = std::fs::read_to_string(dir.join("old-artifact.html")).unwrap();
    assert!(
        html.contains(missing),
        "no missing-baseline note in the HTML"
    );
    // The features' PSI does not depend on the score baseline.
    assert_eq!(
        report5["days"][1]["features"],
        report["days"][1]["features"]
    );

    // Errors: a missing log, an unsupported sink, an empty log.
    let (code, text, _) = monitor(
        &model,
        &format!("sqlite://{}", dir.join("nope.db").display()),
        &dir,
        "missing",
    );
    assert_eq!(code, Some(2), "{text}");
    let (code, _, _) = monitor(&model, "bigquery://p/d/t", &dir, "bq");
    assert_eq!(code, Some(2));
    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let (code, text, _) = monitor(
        &model,
        &format!("jsonl://{}", empty.display()),
        &dir,
        "empty",
    );
    assert_eq!(code, Some(0), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
