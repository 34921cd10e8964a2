"""Fixtures of the install checks (`make test-dist`): every artifact in `dist/` is installed and
used the way its users do, in a scratch directory with no path back into the repository.

Each check gets `outside`, a fresh directory under the system temp dir (never under the repo),
and `clean_env`, the environment with every variable that could reach the repository's code
removed (PYTHONPATH, NODE_PATH, VIRTUAL_ENV, CARGO_TARGET_DIR, the test suite's CREDIT_*). A
failure message names the artifact and what broke.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("CREDIT_DIST", ROOT / "dist")).resolve()
VECTORS_PATH = ROOT / "testdata" / "vectors.json"

# Variables that would let an installed package find the repository instead of itself.
_LEAKY = (
    "PYTHONPATH",
    "PYTHONHOME",
    "NODE_PATH",
    "VIRTUAL_ENV",
    "CARGO_TARGET_DIR",
    "CREDIT_MODEL",
    "CREDIT_DATA",
    "CREDIT_WORK",
    "CREDIT_WEB_DIR",
    "CREDIT_LOG",
    "CREDIT",
)


def artifact(pattern: str) -> Path:
    """The one file in dist/ matching `pattern`; fails naming what is missing."""
    hits = sorted(DIST.glob(pattern))
    if len(hits) != 1:
        pytest.fail(
            f"dist/{pattern}: expected exactly one artifact, found {[h.name for h in hits]}"
            " (run `make dist`)"
        )
    return hits[0]


@pytest.fixture(scope="session")
def dist() -> Path:
    if not DIST.is_dir():
        pytest.fail(f"{DIST} does not exist: run `make dist` first")
    return DIST


@pytest.fixture(scope="session")
def vectors() -> dict:
    return json.loads(VECTORS_PATH.read_text())


@pytest.fixture
def outside():
    """A fresh scratch directory outside the repository, removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix="credit-dist-")).resolve()
    assert ROOT not in d.parents, f"scratch dir {d} is inside the repository"
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    # The repo's own venv must not be first on PATH either: tools come from the system.
    venv_bin = str(ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


def run(cmd, what: str, **kw) -> subprocess.CompletedProcess:
    """Runs `cmd`; on failure, fails the test with `what` (the artifact and the step) and the output."""
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False, **kw)
    if r.returncode != 0:
        pytest.fail(
            f"{what}: exit {r.returncode}\n--- stdout\n{r.stdout[-4000:]}\n--- stderr\n{r.stderr[-4000:]}"
        )
    return r


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(proc: subprocess.Popen, url: str, what: str, timeout_s: float) -> None:
    """Waits until `url`/ready answers 200; fails naming `what` if `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"{what} exited {proc.returncode}:\n{out[-4000:]}")
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not ready after {timeout_s:.0f} s")
        time.sleep(0.1)
