"""Fixtures of the lifecycle tests: a real MLflow tracking server, a real `credit serve`, and
subsamples of the training data, all on loopback and under the project's scratch dir."""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
WORK = Path(os.environ.get("CREDIT_WORK", ROOT / ".work"))
CREDIT = Path(os.environ.get("CREDIT", ROOT / "target" / "release" / "credit")).resolve()
DATA = Path(
    os.environ.get("CREDIT_DATA", ROOT.parent / "shared" / "data" / "cs-training.csv.gz")
).resolve()
VENV_BIN = Path(sys.executable).parent
# CREDIT_DATA is a synthetic stand-in (scripts/synth_data.py) when no real data is available.
SYNTHETIC = os.environ.get("CREDIT_DATA_SYNTHETIC") == "1"
REAL_ROWS = 120_000

sys.path.insert(0, str(ROOT / "lifecycle"))

# Offline, ephemeral Prefect with its state under the scratch dir. Set before the flow module
# (and so prefect) is imported by the tests.
os.environ.update(
    {
        "PREFECT_HOME": str(WORK / "prefect-home"),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
)
os.environ.pop("PREFECT_API_URL", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    # Prefect stops its ephemeral API server at exit and logs that at INFO, after pytest has
    # closed the streams its handler writes to ("I/O operation on closed file").
    logging.getLogger("prefect").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A server in its own process group; stop() = SIGTERM to the group, then SIGKILL."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str], cwd: Path) -> None:
        self.log = log
        self._out: IO[bytes] = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )

    def wait_http(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"exited {self.proc.returncode}:\n{self.log.read_text(errors='replace')}"
                )
            try:
                if requests.get(url, timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise TimeoutError(
            f"{url} not ready after {timeout} s:\n{self.log.read_text(errors='replace')}"
        )

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self._out.close()


@pytest.fixture(scope="session")
def workdir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """Scratch dir of the session; removed when every test passed (kept for debugging otherwise)."""
    d = WORK / f"lifecycle-py-{os.getpid()}"
    d.mkdir(parents=True, exist_ok=True)
    yield d
    if request.session.testsfailed == 0:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_server(workdir: Path) -> Iterator[str]:
    d = workdir / "mlflow"
    d.mkdir(exist_ok=True)
    port = free_port()
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    p = Proc(
        [
            str(VENV_BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{d / 'mlflow.db'}",
            "--serve-artifacts",
            "--artifacts-destination",
            str(d / "artifacts"),
            "--workers",
            "1",
        ],
        d / "mlflow.log",
        env,
        d,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        p.wait_http(f"{base}/health", 240)
        yield base
    finally:
        p.stop()


class Service:
    def __init__(self, base: str, token: str, model_path: Path, proc: Proc) -> None:
        self.base, self.token, self.model_path, self.proc = base, token, model_path, proc

    def model_version(self) -> str:
        r = requests.get(f"{self.base}/model", timeout=10)
        r.raise_for_status()
        return str(r.json()["model_version"])


def start_service(workdir: Path, model_path: Path, token: str) -> Service:
    assert CREDIT.exists(), f"{CREDIT} missing: build it (make build) or set CREDIT"
    port = free_port()
    env = dict(os.environ, CREDIT_ADMIN_TOKEN=token)
    env.pop("CREDIT_LOG", None)
    p = Proc(
        [
            str(CREDIT),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--model",
            str(model_path),
            "--log",
            f"jsonl://{workdir / 'predictions.jsonl'}",
        ],
        workdir / "serve.log",
        env,
        workdir,
    )
    base = f"http://127.0.0.1:{port}"
    p.wait_http(f"{base}/ready", 60)
    return Service(base, token, model_path, p)


def read_lines(step: int, limit: int | None = None) -> list[str]:
    """Header + every `step`-th data line of the training data. On the (smaller) synthetic
    stand-in the step shrinks in proportion (rounded down), so that the sample has at least as
    many rows."""
    assert DATA.exists(), f"training data {DATA} not found: set CREDIT_DATA"
    opener = gzip.open if DATA.suffix == ".gz" else open
    with opener(DATA, "rt") as f:  # type: ignore[operator]
        lines = [line for line in f if line.strip()]
    if SYNTHETIC:
        step = max(1, step * (len(lines) - 1) // REAL_ROWS)
    body = lines[1::step]
    return [lines[0]] + (body[:limit] if limit else body)
