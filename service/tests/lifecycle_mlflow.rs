//! `credit train --mlflow-uri` against a real MLflow tracking server on loopback: the run, its
//! params, per-fold and final metrics, tags, artifact bytes and the registered model version are
//! read back through MLflow's REST API and compared with the artifact `credit train` wrote.
//!
//! Needs the `mlflow` command (`make test-lifecycle` installs it into the project venv and runs
//! this test with `--ignored`); `MLFLOW_BIN` overrides where it is looked for.

mod lifecycle_support;

use lifecycle_support::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

fn get(base: &str, endpoint: &str, query: &[(&str, &str)]) -> Value {
    let mut req = ureq::get(&format!("{base}/api/2.0/mlflow/{endpoint}"));
    for (k, v) in query {
        req = req.query(k, v);
    }
    let text = req
        .call()
        .unwrap_or_else(|e| panic!("GET {endpoint}: {e}"))
        .into_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn post(base: &str, endpoint: &str, body: Value) -> Value {
    let text = ureq::post(&format!("{base}/api/2.0/mlflow/{endpoint}"))
        .set("Content-Type", "application/json")
        .send_string(&body.to_string())
        .unwrap_or_else(|e| panic!("POST {endpoint}: {e}"))
        .into_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn kv<'a>(list: &'a Value, key: &str) -> Option<&'a str> {
    list.as_array()?
        .iter()
        .find(|e| e["key"] == key)?
        .get("value")?
        .as_str()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

fn train(data: &Path, out: &Path, report: &Path, uri: &str, version: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_credit"))
        .arg("train")
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .arg("--report")
        .arg(report)
        .args(["--folds", "2", "--max-bins", "16", "--quiet"])
        .args(["--model-version", version])
        .args(["--mlflow-uri", uri, "--mlflow-experiment", "lifecycle-test"])
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap()
}

#[test]
#[ignore = "needs an MLflow server (mlflow in the venv): make test-lifecycle"]
fn train_logs_run_metrics_artifacts_and_registers_a_version() {
    let dir = work_dir("lifecycle-mlflow");
    let data = subsample(&dir, 15);
    let server = start_mlflow(&dir);
    let base = server.base.clone();

    let model_path = dir.join("model.json");
    let report = dir.join("report");
    let out = train(&data, &model_path, &report, &base, "9.1.0-test");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "credit train failed: {stderr}");
    assert!(stderr.contains("mlflow: run "), "{stderr}");

    let model_bytes = std::fs::read(&model_path).unwrap();
    let artifact: Value = serde_json::from_slice(&model_bytes).unwrap();
    assert_eq!(artifact["model_version"], "9.1.0-test");

    // The experiment exists and holds exactly one run.
    let exp = get(
        &base,
        "experiments/get-by-name",
        &[("experiment_name", "lifecycle-test")],
    );
    let exp_id = exp["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let runs = post(&base, "runs/search", json!({"experiment_ids": [exp_id]}));
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run_id = runs[0]["info"]["run_id"].as_str().unwrap().to_owned();
    let run = get(&base, "runs/get", &[("run_id", &run_id)])["run"].clone();
    assert_eq!(run["info"]["status"], "FINISHED");

    // Params and tags.
    let params = &run["data"]["params"];
    assert_eq!(kv(params, "folds"), Some("2"));
    assert_eq!(kv(params, "max_bins"), Some("16"));
    assert_eq!(kv(params, "data_file"), Some("train-sample.csv"));
    assert_eq!(
        kv(params, "rows"),
        Some(artifact["training_data"]["rows"].to_string().as_str())
    );
    let tags = &run["data"]["tags"];
    assert_eq!(
        kv(tags, "data_sha256"),
        artifact["training_data"]["sha256"].as_str()
    );
    assert_eq!(kv(tags, "model_version"), Some("9.1.0-test"));
    assert_eq!(kv(tags, "model_checksum"), artifact["checksum"].as_str());

    // Final metrics = the artifact's pooled out-of-fold metrics.
    let metrics = run["data"]["metrics"].as_array().unwrap();
    let metric = |k: &str| {
        metrics
            .iter()
            .find(|m| m["key"] == k)
            .unwrap_or_else(|| panic!("no metric {k} in {metrics:?}"))["value"]
            .as_f64()
            .unwrap()
    };
    for k in ["auc", "gini", "ks", "brier", "log_loss"] {
        let expected = artifact["metrics"]["cv"][k].as_f64().unwrap();
        assert!(
            close(metric(k), expected),
            "{k}: {} vs {expected}",
            metric(k)
        );
        let expected = artifact["metrics"]["train"][k].as_f64().unwrap();
        assert!(close(metric(&format!("train_{k}")), expected), "train_{k}");
    }
    assert!(close(
        metric("cv_auc_mean"),
        artifact["metrics"]["cv_auc_mean"].as_f64().unwrap()
    ));
    // Per-fold metrics: one step per fold.
    for k in ["auc", "ks", "brier"] {
        let key = format!("fold_{k}");
        let hist = get(
            &base,
            "metrics/get-history",
            &[("run_id", &run_id), ("metric_key", &key)],
        );
        let mut hist = hist["metrics"].as_array().unwrap().clone();
        hist.sort_by_key(|m| m["step"].as_i64().unwrap());
        let folds = artifact["metrics"]["folds"].as_array().unwrap();
        assert_eq!(hist.len(), folds.len(), "{key}");
        for (h, f) in hist.iter().zip(folds) {
            assert!(
                close(h["value"].as_f64().unwrap(), f[k].as_f64().unwrap()),
                "{key}"
            );
        }
    }

    // Artifact bytes: the model exactly as written, and the report.
    let artifact_uri = run["info"]["artifact_uri"].as_str().unwrap();
    let proxy = artifact_uri
        .trim_start_matches("mlflow-artifacts:")
        .trim_matches('/');
    let mut got = Vec::new();
    std::io::Read::read_to_end(
        &mut ureq::get(&format!(
            "{base}/api/2.0/mlflow-artifacts/artifacts/{proxy}/model/model.json"
        ))
        .call()
        .unwrap()
        .into_reader(),
        &mut got,
    )
    .unwrap();
    assert_eq!(got, model_bytes);
    let listed = get(
        &base,
        "artifacts/list",
        &[("run_id", &run_id), ("path", "report")],
    );
    let files: Vec<&str> = listed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"report/metrics.json"), "{files:?}");

    // Registered model version pointing at the run's model folder.
    let v = get(
        &base,
        "model-versions/get",
        &[("name", "credit-default"), ("version", "1")],
    )["model_version"]
        .clone();
    assert_eq!(v["run_id"], run_id.as_str());
    assert_eq!(v["source"], format!("{artifact_uri}/model").as_str());
    assert_eq!(kv(&v["tags"], "model_version"), Some("9.1.0-test"));

    // A second training run reuses the experiment and adds version 2.
    let out = train(
        &data,
        &dir.join("model2.json"),
        &dir.join("report2"),
        &base,
        "9.2.0-test",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = post(&base, "runs/search", json!({"experiment_ids": [exp_id]}));
    assert_eq!(runs["runs"].as_array().unwrap().len(), 2);
    let v2 = get(
        &base,
        "model-versions/get",
        &[("name", "credit-default"), ("version", "2")],
    )["model_version"]
        .clone();
    assert_eq!(kv(&v2["tags"], "model_version"), Some("9.2.0-test"));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An unreachable tracking server is an error (exit 2) but the local files are still written.
#[test]
fn unreachable_tracking_server_fails_after_writing_local_files() {
    let dir = work_dir("lifecycle-nomlflow");
    let data = subsample(&dir, 30);
    let port = free_port();
    let out = train(
        &data,
        &dir.join("model.json"),
        &dir.join("report"),
        &format!("http://127.0.0.1:{port}"),
        "0.0.1-test",
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("MLflow"));
    assert!(dir.join("model.json").exists());
    assert!(dir.join("report/metrics.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
