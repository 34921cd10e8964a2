"""Helpers and fixtures for the `credit serve` integration tests: the real binary on a free loopback port,
real HTTP, real SQLite files, and the real BigQuery emulator (PyPI `bqemulator`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CREDIT = Path(os.environ.get("CREDIT", ROOT / "target" / "release" / "credit"))
VECTORS = json.loads((ROOT / "testdata" / "vectors.json").read_text())
MODEL = ROOT / VECTORS["model"]
WORK = Path(os.environ.get("CREDIT_WORK", ROOT / ".work")) / "service-tests"
LAUNCHER = ROOT / "scripts" / "bqemu_launcher.py"
SCHEMA = json.loads((ROOT / "deploy" / "bigquery" / "predictions.schema.json").read_text())

SEED = {
    "RevolvingUtilizationOfUnsecuredLines": 0.766127,
    "age": 45,
    "NumberOfTime30_59DaysPastDueNotWorse": 2,
    "DebtRatio": 0.802982,
    "MonthlyIncome": 9120,
    "NumberOfOpenCreditLinesAndLoans": 13,
    "NumberOfTimes90DaysLate": 0,
    "NumberRealEstateLoansOrLines": 6,
    "NumberOfTime60_89DaysPastDueNotWorse": 0,
    "NumberOfDependents": 2,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException as e:
            last = e
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer in {timeout}s: {last}")


class Server:
    """One `credit serve` process."""

    def __init__(
        self, tmp: Path, *args: str, env: dict[str, str] | None = None, port: int | None = None
    ) -> None:
        self.tmp = tmp
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = list(args)
        self.env = dict(os.environ)
        self.env.pop("CREDIT_ADMIN_TOKEN", None)
        self.env.pop("RUST_LOG", None)
        self.env.update(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = tmp / f"server-{self.port}.log"
        self.runs = 0

    def start(self) -> Server:
        self.runs += 1
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    str(CREDIT),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--model",
                    str(MODEL),
                    *self.args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.tmp,
            )
        wait_http(self.url + "/health", proc=self.proc)
        return self

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        headers = {"content-type": "application/json", **kw.pop("headers", {})}
        data = kw.pop("data", None)
        if data is None:
            data = json.dumps(body)
        return requests.post(
            self.url + path, data=data, headers=headers, timeout=kw.pop("timeout", 30), **kw
        )

    def get(self, path: str, **kw: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=kw.pop("timeout", 30), **kw)

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            raw = raw.strip()
            if raw:
                lines.append(json.loads(raw))
        return lines

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def metric(s: Server, name: str) -> float:
    """The value of the unlabelled series `name` on the server's /metrics."""
    line = next(x for x in s.get("/metrics").text.splitlines() if x.startswith(name + " "))
    return float(line.split()[1])


@pytest.fixture
def workdir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    d = tmp_path_factory.mktemp(request.node.name[:40])
    return d


@pytest.fixture
def make_server(workdir: Path) -> Iterator[Any]:
    servers: list[Server] = []

    def make(
        *args: str, env: dict[str, str] | None = None, port: int | None = None, start: bool = True
    ) -> Server:
        s = Server(workdir, *args, env=env, port=port)
        servers.append(s)
        return s.start() if start else s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A shared server with the default SQLite log, an admin token and no web dir."""
    d = tmp_path_factory.mktemp("shared")
    s = Server(
        d,
        "--log",
        f"sqlite://{d}/predictions.db",
        "--web-dir",
        str(d / "no-web"),
        env={"CREDIT_ADMIN_TOKEN": "s3cret"},
    )
    s.start()
    yield s
    s.stop()


def db_rows(path: Path, table: str = "predictions") -> list[sqlite3.Row]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    con.row_factory = sqlite3.Row
    try:
        return list(con.execute(f"SELECT * FROM {table}"))
    finally:
        con.close()


class BigQueryEmulator:
    """`bqemulator` started through scripts/bqemu_launcher.py (no spatial-extension download)."""

    def __init__(self, tmp: Path, project: str = "test-project", port: int | None = None) -> None:
        self.project = project
        self.port = port or free_port()
        self.grpc_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/bigquery/v2/projects/{project}"
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> BigQueryEmulator:
        env = dict(os.environ, BQEMU_ENABLE_FORMAT_EXTENSIONS="false")
        with open(self.tmp / f"bqemu-{self.port}.log", "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    str(LAUNCHER),
                    "start",
                    "--rest-host",
                    "127.0.0.1",
                    "--rest-port",
                    str(self.port),
                    "--grpc-port",
                    str(self.grpc_port),
                    "--project",
                    self.project,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.tmp,
            )
        wait_http(
            f"http://127.0.0.1:{self.port}/bigquery/v2/projects/{self.project}/datasets",
            timeout=90,
            proc=self.proc,
        )
        return self

    def create_table(self, dataset: str, table: str) -> None:
        r = requests.post(
            f"{self.base}/datasets",
            json={"datasetReference": {"projectId": self.project, "datasetId": dataset}},
            timeout=30,
        )
        assert r.status_code in (200, 409), r.text
        spec = json.loads((ROOT / "deploy" / "bigquery" / "predictions.table.json").read_text())
        spec["tableReference"] = {"projectId": self.project, "datasetId": dataset, "tableId": table}
        r = requests.post(f"{self.base}/datasets/{dataset}/tables", json=spec, timeout=30)
        assert r.status_code in (200, 409), r.text

    def request_ids(self, dataset: str, table: str) -> list[str]:
        r = requests.post(
            f"{self.base}/queries",
            json={
                "query": f"SELECT request_id FROM `{self.project}.{dataset}.{table}`",
                "useLegacySql": False,
                "maxResults": 100000,
            },
            timeout=60,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        return [row["f"][0]["v"] for row in body.get("rows", [])]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
