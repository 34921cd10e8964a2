"""The PySpark example as a real `spark-submit` job on a standalone cluster started here (one
master, two workers, one core each), with `credit_default` shipped to the executors as a packed
environment (`--archives`), as the example's docstring tells a user to do. 1,000,000 rows are
scored equal to the single-machine result bit for bit, and both workers ran executors.

The workers' own environment has no `credit_default` (PYSPARK_PYTHON is removed from it): the
only way the executors can import the package is the shipped archive."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import credit_default as cd
import numpy as np
import pytest
from conftest import ROOT

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pyspark = pytest.importorskip("pyspark")

from test_spark import N, assert_equals_single_machine, portfolio, single_machine  # noqa: F401  (the same 1,000,000-row portfolio)

SPARK_BIN = Path(pyspark.__file__).parent / "bin"
JOB = ROOT / "examples" / "spark" / "score_portfolio.py"
WORKERS = 2
# Executors must not find credit_default through the test's own interpreter.
PYTHON_ENV_VARS = ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "PYTHONPATH", "VIRTUAL_ENV")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spark_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PYTHON_ENV_VARS}
    env.update(
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_HOME=str(SPARK_BIN.parent),
        SPARK_LOG_DIR=str(work / "logs"),
        SPARK_NO_DAEMONIZE="1",
    )
    return env


def master_state(ui_port: int) -> dict:
    """The master's state from its UI's `/json/` page. While the master starts, that path can
    still be answered by the HTML status page (its JSON handler is not attached yet): that
    raises ValueError like any other not-JSON answer, and the caller waits."""
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as r:
        body = r.read()
    try:
        return json.loads(body)
    except ValueError as e:
        raise ValueError(f"not JSON from the master's /json/: {body[:120]!r}") from e


def wait_for_workers(
    ui_port: int, procs: list[subprocess.Popen[bytes]], logs: Path, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                tails = "\n".join(f.read_text()[-2000:] for f in sorted(logs.glob("*.log")))
                pytest.fail(f"a Spark daemon exited with {p.returncode}:\n{tails}")
        try:
            state = master_state(ui_port)
            if state.get("aliveworkers", 0) >= WORKERS:
                return
            last = f"aliveworkers={state.get('aliveworkers')}"
        except (OSError, ValueError) as e:
            last = str(e)
        time.sleep(0.5)
    pytest.fail(f"the master did not see {WORKERS} workers within {timeout:.0f} s (last: {last})")


def test_wait_for_workers_waits_through_the_html_page_a_starting_master_serves() -> None:
    """CI once failed here: a starting master answered `/json/` with its HTML page and the
    fixture died on a JSONDecodeError instead of asking again."""
    answers = [
        b"<!DOCTYPE html><html>starting</html>",
        b'{"aliveworkers": 1}',
        json.dumps({"aliveworkers": WORKERS}).encode(),
    ]
    asked: list[str] = []

    class Master(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = answers[min(len(asked), len(answers)) - 1]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Master) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            wait_for_workers(server.server_address[1], [], Path("."), timeout=20)
        finally:
            server.shutdown()
    assert asked == ["/json/"] * 3


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A standalone master and two workers on loopback, stopped (all of them) at the end."""
    if shutil.which("java") is None:
        pytest.skip("no Java runtime: a standalone Spark cluster needs one (Java 17)")
    work = tmp_path_factory.mktemp("spark-cluster")
    (work / "logs").mkdir()
    env = spark_env(work)
    port, ui = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def daemon(name: str, *args: str) -> None:
        log = open(work / "logs" / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        procs.append(
            subprocess.Popen(
                [str(SPARK_BIN / "spark-class"), *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    master = f"spark://127.0.0.1:{port}"
    daemon(
        "master",
        "org.apache.spark.deploy.master.Master",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--webui-port",
        str(ui),
    )
    worker_dirs = []
    for k in range(WORKERS):
        d = work / f"worker-{k}"
        d.mkdir()
        worker_dirs.append(d)
        daemon(
            f"worker-{k}",
            "org.apache.spark.deploy.worker.Worker",
            "--host",
            "127.0.0.1",
            "--cores",
            "1",
            "--memory",
            "1g",
            "--webui-port",
            str(free_port()),
            "--work-dir",
            str(d),
            master,
        )
    try:
        wait_for_workers(ui, procs, work / "logs")
        yield {"master": master, "ui": ui, "work": work, "worker_dirs": worker_dirs, "env": env}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def wheel() -> Path:
    work = Path(os.environ.get("CREDIT_WORK", ROOT / ".work"))
    found = sorted((work / "wheels").glob("credit_default-*.whl"))
    if not found:
        pytest.fail(f"no credit_default wheel in {work / 'wheels'}: run `make python` first")
    return found[-1]


@pytest.fixture(scope="module")
def packed_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The executors' environment as a user builds it: a fresh venv with the wheel, numpy and
    pyarrow (the test's own versions), packed by venv-pack. The interpreter's shared library
    stays outside the archive: the nodes need the same Python installed (venv-pack's rule)."""
    d = tmp_path_factory.mktemp("packed-env")
    env_dir = d / "env"
    # --copies: Spark refuses to unpack a symbolic link that points outside the archive, and a
    # venv's bin/python is one (to the base interpreter).
    subprocess.run([sys.executable, "-m", "venv", "--copies", str(env_dir)], check=True)
    pip = [str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run(
        [*pip, str(wheel()), f"numpy=={np.__version__}", f"pyarrow=={pa.__version__}", "venv-pack"],
        check=True,
    )
    archive = d / "env.tar.gz"
    pack = [str(env_dir / "bin" / "venv-pack"), "-p", str(env_dir), "-o", str(archive)]
    subprocess.run([*pack, "-q", "--compress-level", "1"], check=True)
    return archive


def submit(cluster: dict[str, object], archive: Path, input_dir: Path, output: Path) -> str:
    argv = [
        str(SPARK_BIN / "spark-submit"),
        "--master",
        str(cluster["master"]),
        "--archives",
        f"{archive}#environment",
        "--conf",
        "spark.pyspark.python=./environment/bin/python",
        "--conf",
        f"spark.pyspark.driver.python={sys.executable}",
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.driver.bindAddress=127.0.0.1",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.executor.memory=768m",
        "--conf",
        "spark.sql.files.maxPartitionBytes=8m",
        str(JOB),
        "--input",
        str(input_dir),
        "--output",
        str(output),
        "--key",
        "id",
    ]
    done = subprocess.run(
        argv, check=False, env=cluster["env"], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return done.stdout


def test_spark_submit_on_a_standalone_cluster(
    cluster: dict[str, object],
    packed_env: Path,
    portfolio: Path,  # noqa: F811 (the fixture imported from test_spark)
    tmp_path: Path,
) -> None:
    output = tmp_path / "scored.parquet"
    stdout = submit(cluster, packed_env, portfolio, output)

    local = single_machine(cd.Model.default(), portfolio)
    invalid = N - local.valid
    assert 0 < invalid < N // 100
    assert f"scored {local.valid} valid and {invalid} invalid rows" in stdout, stdout
    assert_equals_single_machine(pq.read_table(output), local)

    # Both workers ran an executor of the job (the standalone worker keeps each executor's
    # directory, with the unpacked archive in it).
    for d in cluster["worker_dirs"]:
        executors = list(Path(d).glob("app-*/*/environment"))
        assert executors, f"worker {d.name} ran no executor with the shipped environment"
