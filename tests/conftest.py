"""Shared fixtures for the Python-driven tests of the `credit` CLI (no project code imported)."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# `make` sets this when no Give Me Some Credit data is available and CREDIT_DATA is a synthetic
# stand-in in the same layout (scripts/synth_data.py): what holds only of the real data skips.
SYNTHETIC = os.environ.get("CREDIT_DATA_SYNTHETIC") == "1"
REAL_DATA_ONLY = "needs the Give Me Some Credit data (set CREDIT_DATA; see README, Data): running on synthetic data"


def left_out(test: str, what: str) -> None:
    """Records a real-data-only check that a test left out on the synthetic data (the test itself
    ran): one line in $CREDIT_WORK/skips/<test>.txt, which `make test-summary` lists."""
    line = f"{what}: {REAL_DATA_ONLY}"
    print(line)
    base = os.environ.get("CREDIT_WORK")
    if base:
        d = Path(base) / "skips"
        d.mkdir(parents=True, exist_ok=True)
        with open(d / f"{test}.txt", "a") as f:
            f.write(line + "\n")


def _credit() -> Path:
    return Path(os.environ.get("CREDIT", ROOT / "target" / "release" / "credit"))


@pytest.fixture(scope="session")
def credit() -> Path:
    exe = _credit()
    if not exe.exists():
        pytest.fail(f"{exe} not built; run `make build`")
    return exe


@pytest.fixture(scope="session")
def data_path() -> Path:
    p = Path(os.environ.get("CREDIT_DATA", ROOT.parent / "shared" / "data" / "cs-training.csv.gz"))
    if not p.exists():
        pytest.fail(f"training data not found at {p}; set CREDIT_DATA (see README, Data)")
    return p


@pytest.fixture(scope="session")
def work(tmp_path_factory) -> Path:
    base = os.environ.get("CREDIT_WORK")
    if base:
        d = Path(base) / "pytest-cli"
        d.mkdir(parents=True, exist_ok=True)
        return d
    return tmp_path_factory.mktemp("work")


@pytest.fixture(scope="session")
def sample_csv(data_path: Path, work: Path) -> Path:
    """The first 30,000 rows of the training data, as the Kaggle layout (CRLF, NA)."""
    out = work / "sample.csv"
    with gzip.open(data_path, "rb") as f, open(out, "wb") as g:
        for i, line in enumerate(f):
            if i > 30_000:
                break
            g.write(line)
    return out


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=False, capture_output=True, text=True, **kw)
