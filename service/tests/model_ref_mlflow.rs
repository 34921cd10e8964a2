//! Model references (`--model FILE` or `models:/NAME/VERSION`, `models:/NAME@ALIAS`) through
//! `credit score`, `explain`, `monitor` and `serve`, against a real MLflow tracking server on
//! loopback (versions registered by `credit train --mlflow-uri`), also behind an https proxy
//! with a private CA and a bearer token. Plus, without MLflow: a model named by
//! `POST /admin/reload` stays the service's model across SIGHUP.
//!
//! The MLflow test needs the `mlflow` command (`make test-lifecycle` runs it with
//! `--include-ignored`; `MLFLOW_BIN` says where it is), `openssl` and `python3`.

mod lifecycle_support;

use lifecycle_support::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const ADMIN: &str = "s3cret";

/// `credit` with no MLflow settings inherited from the caller's environment.
fn credit() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credit"));
    for v in [
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "MLFLOW_TRACKING_SERVER_CERT_PATH",
        "CREDIT_MODEL",
    ] {
        c.env_remove(v);
    }
    c
}

fn run(mut c: Command) -> Output {
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Trains a small model with `model_version` = `version` (the bin count follows the version's
/// major number, so two versions score differently); registers it when `mlflow` is given.
fn train(data: &Path, out: &Path, version: &str, mlflow: Option<&str>) {
    let bins = if version.starts_with('1') { "6" } else { "12" };
    let mut c = credit();
    c.arg("train")
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(["--folds", "2", "--max-bins", bins, "--quiet"])
        .args(["--model-version", version]);
    if let Some(uri) = mlflow {
        c.args(["--mlflow-uri", uri, "--mlflow-experiment", "model-ref-test"]);
    }
    let o = run(c);
    assert!(o.status.success(), "credit train: {}", stderr(&o));
}

/// `credit serve` on a free port with the admin token; `env` adds MLflow settings.
fn serve(dir: &Path, model: &str, env: &[(&str, &str)]) -> Server {
    let port = free_port();
    let mut c = credit();
    c.args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--model", model])
        .arg("--log")
        .arg(format!("sqlite://{}", dir.join("predictions.db").display()))
        .arg("--web-dir")
        .arg(dir)
        .env("CREDIT_ADMIN_TOKEN", ADMIN)
        .envs(env.iter().copied());
    let mut s = Server::spawn(c, port, dir.join(format!("serve-{port}.log")));
    s.wait_ready("/health", Duration::from_secs(60));
    s
}

/// An HTTP call that returns the status and JSON body whatever the status.
fn call(method: &str, url: &str, body: Option<&Value>, token: Option<&str>) -> (u16, Value) {
    let mut req = ureq::request(method, url).timeout(Duration::from_secs(60));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let r = match body {
        Some(b) => req
            .set("Content-Type", "application/json")
            .send_string(&b.to_string()),
        None => req.call(),
    };
    let resp = match r {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn model_info(s: &Server) -> Value {
    let (status, v) = call("GET", &format!("{}/model", s.base), None, None);
    assert_eq!(status, 200, "{v}");
    v
}

fn reload(s: &Server, body: Option<Value>) -> (u16, Value) {
    call(
        "POST",
        &format!("{}/admin/reload", s.base),
        body.as_ref(),
        Some(ADMIN),
    )
}

/// Sends SIGHUP and waits for the service to log the reload's outcome.
fn sighup(s: &Server) {
    let count = |s: &Server| {
        std::fs::read_to_string(&s.log)
            .unwrap_or_default()
            .matches("SIGHUP: model")
            .count()
    };
    let before = count(s);
    let st = Command::new("kill")
        .args(["-HUP", &s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let start = Instant::now();
    while count(s) == before {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no reload logged after SIGHUP"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A reload that names a model makes it the service's model reference: a later SIGHUP (and a
/// bodiless reload) re-reads that model, not the one given at start-up.
#[test]
fn a_model_named_by_reload_stays_across_sighup() {
    let dir = work_dir("model-ref-sighup");
    let data = subsample(&dir, 40);
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    train(&data, &a, "1.0.0-a", None);
    train(&data, &b, "2.0.0-b", None);
    let s = serve(&dir, a.to_str().unwrap(), &[]);
    let m = model_info(&s);
    assert_eq!(m["model_version"], "1.0.0-a");
    assert_eq!(
        m["source"],
        json!({"kind": "file", "path": a.to_str().unwrap()})
    );

    let (status, r) = reload(&s, Some(json!({ "path": b.to_str().unwrap() })));
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["model_version"], "2.0.0-b");
    assert_eq!(r["previous_version"], "1.0.0-a");
    assert_eq!(r["reference"], b.to_str().unwrap());
    assert_eq!(r["registry_version"], Value::Null);
    sighup(&s);
    assert_eq!(model_info(&s)["model_version"], "2.0.0-b");
    assert_eq!(model_info(&s)["source"]["path"], b.to_str().unwrap());

    // `model` is the new spelling; a failed reload leaves the reference alone.
    let (status, _) = reload(&s, Some(json!({ "model": a.to_str().unwrap() })));
    assert_eq!(status, 200);
    let absent = dir.join("absent.json");
    let (status, r) = reload(&s, Some(json!({ "model": absent.to_str().unwrap() })));
    assert_eq!(status, 409, "{r}");
    let (status, r) = reload(&s, None);
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["model_version"], "1.0.0-a");
    let (status, r) = reload(&s, Some(json!({ "model": "models:/credit-default@" })));
    assert_eq!(status, 422, "{r}");
    assert!(r.to_string().contains("empty alias"), "{r}");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

fn mlflow_post(base: &str, endpoint: &str, body: Value) -> Value {
    let (status, v) = call(
        "POST",
        &format!("{base}/api/2.0/mlflow/{endpoint}"),
        Some(&body),
        None,
    );
    assert_eq!(status, 200, "POST {endpoint}: {v}");
    v
}

fn set_champion(base: &str, version: &str) {
    mlflow_post(
        base,
        "registered-models/alias",
        json!({"name": "credit-default", "alias": "champion", "version": version}),
    );
}

/// `credit score` of `input` with `model` under `env`: (exit status, stdout, stderr).
fn score(input: &Path, model: &str, env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut c = credit();
    c.args(["score", "--quiet", "--model", model])
        .arg(input)
        .envs(env.iter().copied());
    let o = run(c);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    (o.status.code(), out, stderr(&o))
}

#[test]
#[ignore = "needs an MLflow server (mlflow in the venv), openssl and python3: make test-lifecycle"]
fn registry_references_in_every_command() {
    let dir = work_dir("model-ref-mlflow");
    let data = subsample(&dir, 40);
    let mlflow = start_mlflow(&dir);
    let base = mlflow.base.clone();
    let (m1, m2) = (dir.join("m1.json"), dir.join("m2.json"));
    train(&data, &m1, "1.0.0-reg", Some(&base));
    train(&data, &m2, "2.0.0-reg", Some(&base));
    set_champion(&base, "2");
    let env = [("MLFLOW_TRACKING_URI", base.as_str())];
    // A few hundred applicants to score: outputs that are quick to compare.
    let text = std::fs::read_to_string(&data).unwrap();
    let head: Vec<&str> = text.lines().take(300).collect();
    let data = dir.join("applicants.csv");
    std::fs::write(&data, head.join("\n") + "\n").unwrap();

    cli_commands(&dir, &data, &m1, &m2, &env);
    let log = served(&dir, &base, &env);
    monitor(&dir, &log, &m1, &m2, &env);
    https(&dir, &base, &data, &m1, &dir.join("train-sample.csv"));
    drop(mlflow);
    let _ = std::fs::remove_dir_all(&dir);
}

/// score and explain: a reference gives exactly the output of its file; errors exit 2.
fn cli_commands(dir: &Path, data: &Path, m1: &Path, m2: &Path, env: &[(&str, &str)]) {
    let by_file2 = score(data, m2.to_str().unwrap(), &[]);
    let by_file1 = score(data, m1.to_str().unwrap(), &[]);
    assert_eq!(by_file2.0, Some(0), "{}", by_file2.2);
    assert!(
        by_file1.1 != by_file2.1,
        "the two models must score differently"
    );
    let champion = score(data, "models:/credit-default@champion", env);
    assert_eq!(champion.0, Some(0), "{}", champion.2);
    assert!(
        champion.1 == by_file2.1,
        "champion output differs from version 2's file"
    );
    assert!(
        champion
            .2
            .contains("models:/credit-default@champion (version 2)"),
        "{}",
        champion.2
    );
    let v1 = score(data, "models:/credit-default/1", env);
    assert!(v1.1 == by_file1.1, "version 1 output differs: {}", v1.2);

    let applicant = applicant_text();
    let explain = |model: &str, env: &[(&str, &str)]| {
        let mut c = credit();
        c.args(["explain", "--json", "--model", model, &applicant])
            .envs(env.iter().copied());
        let o = run(c);
        assert!(o.status.success(), "explain {model}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(
        explain("models:/credit-default@champion", env),
        explain(m2.to_str().unwrap(), &[])
    );

    let nope = score(data, "models:/credit-default@nope", env);
    assert_eq!(nope.0, Some(2), "{}", nope.2);
    assert!(
        nope.2
            .contains("no alias 'nope' on registered model 'credit-default'"),
        "{}",
        nope.2
    );
    let v9 = score(data, "models:/credit-default/9", env);
    assert_eq!(v9.0, Some(2));
    assert!(v9.2.contains("has no version 9"), "{}", v9.2);
    let unset = score(data, "models:/credit-default@champion", &[]);
    assert_eq!(unset.0, Some(2));
    assert!(unset.2.contains("MLFLOW_TRACKING_URI"), "{}", unset.2);
    let down = format!("http://127.0.0.1:{}", free_port());
    let down = score(
        data,
        "models:/credit-default/1",
        &[("MLFLOW_TRACKING_URI", &down)],
    );
    assert_eq!(down.0, Some(2));
    assert!(down.2.contains("cannot reach"), "{}", down.2);
    let bad = score(data, "models:/credit-default/latest", env);
    assert_eq!(bad.0, Some(2), "{}", bad.2);
    let _ = dir;
}

/// Registers version 3 whose model.json no longer matches its checksum.
fn register_corrupt(base: &str, good: &Path) {
    let exp = call(
        "GET",
        &format!("{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=model-ref-test"),
        None,
        None,
    )
    .1;
    let exp_id = exp["experiment"]["experiment_id"].as_str().unwrap();
    let run = mlflow_post(base, "runs/create", json!({"experiment_id": exp_id}));
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap();
    let artifact_uri = run["run"]["info"]["artifact_uri"].as_str().unwrap();
    let mut art: Value = serde_json::from_str(&std::fs::read_to_string(good).unwrap()).unwrap();
    art["intercept"] = json!(art["intercept"].as_f64().unwrap() + 1.0);
    let proxy = artifact_uri
        .trim_start_matches("mlflow-artifacts:")
        .trim_matches('/');
    ureq::put(&format!(
        "{base}/api/2.0/mlflow-artifacts/artifacts/{proxy}/model/model.json"
    ))
    .send_string(&art.to_string())
    .unwrap();
    let v = mlflow_post(
        base,
        "model-versions/create",
        json!({"name": "credit-default", "source": format!("{artifact_uri}/model"), "run_id": run_id}),
    );
    assert_eq!(v["model_version"]["version"], "3");
}

/// serve: source in GET /model, alias move + reload = promotion, SIGHUP keeps the reference,
/// an explicit reference sticks, a corrupt or unknown version is refused. Returns the log.
fn served(dir: &Path, base: &str, env: &[(&str, &str)]) -> PathBuf {
    let s = serve(dir, "models:/credit-default@champion", env);
    let m = model_info(&s);
    assert_eq!(m["model_version"], "2.0.0-reg");
    let src = &m["source"];
    assert_eq!(src["kind"], "registry", "{m}");
    assert_eq!(src["reference"], "models:/credit-default@champion");
    assert_eq!(src["registered_model"], "credit-default");
    assert_eq!(src["registry_version"], "2");
    assert_eq!(src["alias"], "champion");
    let mv = call(
        "GET",
        &format!("{base}/api/2.0/mlflow/model-versions/get?name=credit-default&version=2"),
        None,
        None,
    )
    .1;
    assert_eq!(src["run_id"], mv["model_version"]["run_id"]);
    for _ in 0..20 {
        let (st, _) = call(
            "POST",
            &format!("{}/predict", s.base),
            Some(&serde_json::from_str(&applicant_text()).unwrap()),
            None,
        );
        assert_eq!(st, 200);
    }

    set_champion(base, "1");
    let (status, r) = reload(&s, None);
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["registry_version"], "1");
    assert_eq!(r["reference"], "models:/credit-default@champion");
    assert_eq!(model_info(&s)["model_version"], "1.0.0-reg");
    assert_eq!(model_info(&s)["source"]["registry_version"], "1");

    set_champion(base, "2");
    sighup(&s);
    assert_eq!(model_info(&s)["source"]["registry_version"], "2");

    let (status, r) = reload(&s, Some(json!({"model": "models:/credit-default/1"})));
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["registry_version"], "1");
    sighup(&s);
    let m = model_info(&s);
    assert_eq!(m["model_version"], "1.0.0-reg");
    assert_eq!(m["source"]["reference"], "models:/credit-default/1");
    assert_eq!(m["source"]["alias"], Value::Null);

    register_corrupt(base, &dir.join("m1.json"));
    let (status, r) = reload(&s, Some(json!({"model": "models:/credit-default/3"})));
    assert_eq!(status, 422, "{r}");
    let msg = r["detail"][0]["msg"].as_str().unwrap();
    assert!(msg.contains("checksum"), "{msg}");
    assert!(
        msg.contains("models:/credit-default/3 (version 3)"),
        "{msg}"
    );
    assert_eq!(r["model_version"], "1.0.0-reg");
    let (status, r) = reload(&s, Some(json!({"model": "models:/credit-default@gone"})));
    assert_eq!(status, 409, "{r}");
    assert!(r.to_string().contains("no alias 'gone'"), "{r}");
    sighup(&s);
    assert_eq!(
        model_info(&s)["source"]["reference"],
        "models:/credit-default/1"
    );
    assert_eq!(model_info(&s)["model_version"], "1.0.0-reg");

    // A corrupt version refuses to start the service at all (exit 2, the reason named).
    let mut c = credit();
    c.args(["serve", "--port", &free_port().to_string()])
        .args(["--model", "models:/credit-default/3"])
        .arg("--log")
        .arg(format!("sqlite://{}", dir.join("p3.db").display()))
        .envs(env.iter().copied());
    let o = run(c);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("checksum"), "{}", stderr(&o));
    drop(s);
    dir.join("predictions.db")
}

fn applicant_text() -> String {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("testdata/vectors.json")).unwrap(),
    )
    .unwrap();
    v["valid"][0]["input"].to_string()
}

/// monitor: `--model` and `--baseline-model` references give the report of their files.
fn monitor(dir: &Path, log: &Path, m1: &Path, m2: &Path, env: &[(&str, &str)]) {
    let report = |model: &str, baseline: &str, env: &[(&str, &str)], out: &str| {
        let mut c = credit();
        c.args(["monitor", "--model", model, "--baseline-model", baseline])
            .arg("--log")
            .arg(format!("sqlite://{}", log.display()))
            .arg("--json")
            .arg(dir.join(out))
            .envs(env.iter().copied());
        let o = run(c);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "monitor {model}: {}",
            stderr(&o)
        );
        std::fs::read_to_string(dir.join(out)).unwrap()
    };
    let by_ref = report(
        "models:/credit-default/2",
        "models:/credit-default/1",
        env,
        "ref.json",
    );
    let by_file = report(m2.to_str().unwrap(), m1.to_str().unwrap(), &[], "file.json");
    assert_eq!(by_ref, by_file);
    let v: Value = serde_json::from_str(&by_ref).unwrap();
    assert_eq!(v["model_version"], "2.0.0-reg", "{v}");
    assert_eq!(v["baseline_model_version"], "1.0.0-reg");
}

/// A TLS-terminating proxy (private CA) in front of MLflow that wants a bearer token or basic
/// auth: a reference resolves with `MLFLOW_TRACKING_SERVER_CERT_PATH` and the credentials,
/// and fails (exit 2) without either.
fn https(dir: &Path, base: &str, data: &Path, m1: &Path, train_data: &Path) {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    make_ca_and_cert(&tls);
    let port = free_port();
    std::fs::write(tls.join("proxy.py"), PROXY).unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(tls.join("proxy.py"))
        .args([base, &port.to_string()])
        .arg(tls.join("server.pem"))
        .arg(tls.join("server.key"))
        .args(["tok3n", "ana:pw"]);
    let proxy = Server::spawn(cmd, port, tls.join("proxy.log"));
    wait_port(port, &proxy);
    let url = format!("https://127.0.0.1:{port}");
    let ca = tls.join("ca.pem");
    let ca = ca.to_str().unwrap();
    let expected = score(data, m1.to_str().unwrap(), &[]).1;
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut env = vec![
            ("MLFLOW_TRACKING_URI", url.as_str()),
            ("MLFLOW_TRACKING_SERVER_CERT_PATH", ca),
        ];
        env.extend_from_slice(extra);
        score(data, "models:/credit-default/1", &env)
    };
    let ok = with(&[("MLFLOW_TRACKING_TOKEN", "tok3n")]);
    assert_eq!(ok.0, Some(0), "{}", ok.2);
    assert!(ok.1 == expected, "https output differs");
    let basic = with(&[
        ("MLFLOW_TRACKING_USERNAME", "ana"),
        ("MLFLOW_TRACKING_PASSWORD", "pw"),
    ]);
    assert_eq!(basic.0, Some(0), "{}", basic.2);
    assert!(basic.1 == expected, "basic-auth output differs");
    let no_token = with(&[]);
    assert_eq!(no_token.0, Some(2));
    assert!(no_token.2.contains("401"), "{}", no_token.2);
    let wrong = with(&[("MLFLOW_TRACKING_TOKEN", "wrong")]);
    assert_eq!(wrong.0, Some(2));
    // Without the CA the server's certificate is not trusted.
    let no_ca = score(
        data,
        "models:/credit-default/1",
        &[
            ("MLFLOW_TRACKING_URI", url.as_str()),
            ("MLFLOW_TRACKING_TOKEN", "tok3n"),
        ],
    );
    assert_eq!(no_ca.0, Some(2));
    assert!(no_ca.2.contains("cannot reach"), "{}", no_ca.2);
    train_over_https(dir, train_data, data, &url, ca);
    drop(proxy);
}

/// `credit train --mlflow-uri https://...` through the same proxy (token + CA) registers
/// version 4, which a reference over https then scores exactly as its file.
fn train_over_https(dir: &Path, train_data: &Path, data: &Path, url: &str, ca: &str) {
    let out = dir.join("m4.json");
    let tls_env = [
        ("MLFLOW_TRACKING_TOKEN", "tok3n"),
        ("MLFLOW_TRACKING_SERVER_CERT_PATH", ca),
    ];
    let mut c = credit();
    c.arg("train")
        .arg("--data")
        .arg(train_data)
        .arg("--out")
        .arg(&out)
        .args(["--folds", "2", "--max-bins", "10", "--quiet"])
        .args(["--model-version", "4.0.0-tls"])
        .args(["--mlflow-uri", url, "--mlflow-experiment", "model-ref-test"])
        .envs(tls_env);
    let o = run(c);
    assert!(
        o.status.success(),
        "credit train over https: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("registered credit-default version 4"),
        "{}",
        stderr(&o)
    );
    let mut env = vec![("MLFLOW_TRACKING_URI", url)];
    env.extend(tls_env);
    let by_ref = score(data, "models:/credit-default/4", &env);
    assert_eq!(by_ref.0, Some(0), "{}", by_ref.2);
    assert!(by_ref.1 == score(data, out.to_str().unwrap(), &[]).1);
}

fn wait_port(port: u16, s: &Server) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "proxy not up: {}",
            std::fs::read_to_string(&s.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A CA and a server certificate for 127.0.0.1 signed by it (openssl CLI).
fn make_ca_and_cert(tls: &Path) {
    let sh = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(tls)
            .output()
            .unwrap();
        assert!(o.status.success(), "openssl {args:?}: {}", stderr(&o));
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=credit test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    sh(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    sh(&csr);
    std::fs::write(
        tls.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    sh(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

/// https → http forwarder that answers 401 unless the bearer token or basic auth is right.
const PROXY: &str = r#"
import base64, http.server, ssl, sys, urllib.error, urllib.request
upstream, port, cert, key, token, basic = sys.argv[1:7]
ALLOWED = {"Bearer " + token, "Basic " + base64.b64encode(basic.encode()).decode()}

class Handler(http.server.BaseHTTPRequestHandler):
    def forward(self):
        if self.headers.get("Authorization") not in ALLOWED:
            return self.reply(401, b'{"error_code": "UNAUTHENTICATED"}', "application/json")
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        headers = {"Content-Type": self.headers.get("Content-Type") or "application/json"}
        req = urllib.request.Request(upstream + self.path, data=body, method=self.command, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                self.reply(r.status, r.read(), r.headers.get("Content-Type"))
        except urllib.error.HTTPError as e:
            self.reply(e.code, e.read(), e.headers.get("Content-Type"))

    def reply(self, status, data, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype or "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = forward

httpd = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
httpd.serve_forever()
"#;
