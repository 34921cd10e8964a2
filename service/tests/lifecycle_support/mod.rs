//! Helpers shared by the lifecycle (MLflow) and monitor tests: paths, the training data, free
//! ports, and a child process that is stopped with its whole process group.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A fresh scratch directory under `.work/` (or `$CREDIT_WORK`).
pub fn work_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("CREDIT_WORK")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".work"));
    let dir = base.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The training CSV (`$CREDIT_DATA`, else `../shared/data/cs-training.csv.gz` next to the repo).
pub fn data_path() -> PathBuf {
    let p = std::env::var_os("CREDIT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/data/cs-training.csv.gz"));
    assert!(
        p.exists(),
        "training data {} not found: set CREDIT_DATA",
        p.display()
    );
    p
}

/// Whether `$CREDIT_DATA` is the synthetic stand-in (`scripts/synth_data.py`) that `make` uses
/// when no Give Me Some Credit data is available (`CREDIT_DATA_SYNTHETIC=1`).
pub fn synthetic() -> bool {
    std::env::var_os("CREDIT_DATA_SYNTHETIC").is_some_and(|v| v == "1")
}

/// Data rows of the real training file; samples of the smaller synthetic one scale to it.
pub const REAL_ROWS: usize = 120_000;

/// Why a check is left out on the synthetic stand-in.
pub const REAL_DATA_ONLY: &str =
    "needs the Give Me Some Credit data (set CREDIT_DATA; see README, Data): running on synthetic data";

/// Records a real-data-only check that `test` left out on the synthetic data (Rust tests cannot
/// skip, so the test runs the rest): printed, and one line in `$CREDIT_WORK/skips/<test>.txt`
/// for `make test-summary`.
pub fn left_out(test: &str, what: &str) {
    use std::io::Write;
    let line = format!("{what}: {REAL_DATA_ONLY}");
    eprintln!("{test}: {line}");
    if let Some(base) = std::env::var_os("CREDIT_WORK") {
        let dir = PathBuf::from(base).join("skips");
        std::fs::create_dir_all(&dir).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{test}.txt")))
            .unwrap();
        writeln!(f, "{line}").unwrap();
    }
}

/// Header and data lines of the training CSV (plain or gzip).
pub fn data_lines() -> (String, Vec<String>) {
    let path = data_path();
    let file = std::fs::File::open(&path).unwrap();
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut lines = BufReader::new(reader).lines().map(|l| l.unwrap());
    let header = lines.next().unwrap();
    (header, lines.filter(|l| !l.trim().is_empty()).collect())
}

/// Every `step`-th line of the training data, written as a plain CSV. On the (smaller)
/// synthetic stand-in the step shrinks in proportion, so that the sample has about as many rows.
pub fn subsample(dir: &Path, step: usize) -> PathBuf {
    let (header, lines) = data_lines();
    let step = if synthetic() {
        (step * lines.len() / REAL_ROWS).max(1)
    } else {
        step
    };
    let mut out = header + "\n";
    for l in lines.iter().step_by(step) {
        out.push_str(l);
        out.push('\n');
    }
    let p = dir.join("train-sample.csv");
    std::fs::write(&p, out).unwrap();
    p
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process started in its own process group; dropped = SIGTERM to the group, then
/// SIGKILL if it lingers (MLflow's workers outlive a killed parent otherwise).
pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Server {
    pub fn spawn(mut cmd: Command, port: u16, log: PathBuf) -> Server {
        use std::os::unix::process::CommandExt;
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        cmd.stdout(out).stderr(err).process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    /// Waits until `GET path` answers 200.
    pub fn wait_ready(&mut self, path: &str, timeout: Duration) {
        let start = Instant::now();
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(5))
            .build();
        loop {
            if let Ok(r) = agent.get(&format!("{}{path}", self.base)).call() {
                if r.status() == 200 {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "server exited ({status}) before it was ready:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < timeout,
                "server not ready after {timeout:?}:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// The `mlflow` command: `MLFLOW_BIN`, else the project venv's.
pub fn mlflow_bin() -> PathBuf {
    std::env::var_os("MLFLOW_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/mlflow"))
}

/// A real MLflow tracking server (SQLite store, artifact proxy) on a free loopback port.
pub fn start_mlflow(dir: &Path) -> Server {
    let port = free_port();
    let mut cmd = Command::new(mlflow_bin());
    cmd.args(["server", "--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
        .arg("--serve-artifacts")
        .arg("--artifacts-destination")
        .arg(dir.join("artifacts"))
        .args(["--workers", "1"])
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        .current_dir(dir);
    let mut s = Server::spawn(cmd, port, dir.join("mlflow.log"));
    s.wait_ready("/health", Duration::from_secs(240));
    s
}
