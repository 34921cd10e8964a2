"""Shared fixtures: the repository root, the shared test vectors and the model they were made for."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import credit_default as cd
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
# `make` sets CREDIT_DATA: the Give Me Some Credit data, or a synthetic stand-in in the same
# layout (CREDIT_DATA_SYNTHETIC=1) when the real data is not available. The tests here hold on both.


def training_data() -> Path:
    """The training CSV: $CREDIT_DATA (a missing file fails the test), else the real data next to
    the repository; without either (the package's tests run outside `make`) the test skips."""
    given = os.environ.get("CREDIT_DATA")
    if given:
        if not Path(given).exists():
            pytest.fail(f"CREDIT_DATA={given} does not exist (see README, Data)")
        return Path(given).resolve()
    default = (ROOT / "../shared/data/cs-training.csv.gz").resolve()
    if not default.exists():
        pytest.skip(
            "no training data: set CREDIT_DATA (see README, Data), or run through make, which "
            "falls back to a synthetic stand-in"
        )
    return default


# Seed spelling -> Kaggle CSV spelling, for the two features spelled differently.
FEATURE_ALIASES = {
    f["name"]: f["alias"] for f in cd.Model.default().features if f["alias"] is not None
}


def ulps_close(a: float, b: float, ulps: int = 4) -> bool:
    """|a - b| <= ulps * eps * max(|a|, |b|): the tolerance every front door uses."""
    return abs(a - b) <= ulps * np.finfo(np.float64).eps * max(abs(a), abs(b))


def assert_expected(probability: float, score: float, expected: dict[str, Any], name: str) -> None:
    assert ulps_close(probability, expected["probability"]), (name, probability, expected)
    assert abs(score - expected["score"]) <= 1e-9, (name, score, expected)


def row_value(v: Any) -> float:
    """A vectors.json row cell: a number, null (NaN = missing) or "inf" / "-inf"."""
    if v is None:
        return math.nan
    if isinstance(v, str):
        return float(v)
    return float(v)


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    return json.loads((ROOT / "testdata" / "vectors.json").read_text())


@pytest.fixture(scope="session")
def model(vectors: dict[str, Any]) -> cd.Model:
    m = cd.Model.load(ROOT / vectors["model"])
    assert m.version == vectors["model_version"], "testdata/vectors.json is stale for the model"
    return m


@pytest.fixture(scope="session")
def valid_rows(vectors: dict[str, Any]) -> np.ndarray:
    return np.array([[row_value(v) for v in c["row"]] for c in vectors["valid"]], dtype=np.float64)


@pytest.fixture(scope="session")
def seed_applicant(vectors: dict[str, Any]) -> dict[str, Any]:
    return dict(vectors["valid"][0]["input"])


def codes(errors: list[dict[str, Any]], row: int | None = None) -> list[tuple]:
    """(field, code) pairs of a ValidationError's errors (optionally of one row), sorted."""
    out = []
    for e in errors:
        loc = e["loc"]
        if row is not None:
            if loc[0] != row:
                continue
            loc = loc[1:]
        out.append((loc[0] if loc else "", e["type"]))
    return sorted(out)


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Valid applicants (model column order) with labels from a known logistic risk: test data
    for the estimator that does not need the Kaggle file."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, 10))
    x[:, 0] = rng.beta(0.6, 1.2, n) * 1.2  # revolving utilisation
    x[:, 1] = rng.integers(21, 90, n)  # age
    x[:, 2] = rng.poisson(0.3, n)
    x[:, 3] = rng.gamma(1.0, 0.4, n)  # debt ratio
    x[:, 4] = np.where(rng.random(n) < 0.15, np.nan, rng.lognormal(8.5, 0.6, n).round())
    x[:, 5] = rng.integers(0, 30, n)
    x[:, 6] = rng.poisson(0.15, n)
    x[:, 7] = rng.integers(0, 5, n)
    x[:, 8] = rng.poisson(0.1, n)
    x[:, 9] = np.where(rng.random(n) < 0.05, np.nan, rng.integers(0, 5, n))
    z = -3.2 + 2.2 * x[:, 0] - 0.03 * (x[:, 1] - 50) + 0.9 * x[:, 2] + 1.4 * x[:, 6] + 0.8 * x[:, 8]
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    return x, y
