"""The PySpark example on local[2]: 1,000,000 rows scored with mapInArrow equal the
single-machine scores bit for bit (invalid rows: null and valid = false)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import credit_default as cd
import numpy as np
import pytest
from conftest import ROOT, synthetic

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("pyspark")

sys.path.insert(0, str(ROOT / "examples" / "spark"))
import score_portfolio

N = 1_000_000


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    x, _ = synthetic(N, seed=7)
    x[::997, 1] = 12.0  # some applicants too young: invalid rows
    x[::1009, 3] = np.nan  # some debt ratios missing: invalid rows
    names = [f["alias"] or f["name"] for f in cd.Model.default().features]  # Kaggle spelling
    d = tmp_path_factory.mktemp("portfolio")
    parts = np.array_split(np.arange(N), 4)
    for k, idx in enumerate(parts):
        cols = {"id": pa.array(idx.astype(np.int64))}
        cols.update({n: pa.array(x[idx, j]) for j, n in enumerate(names)})
        pq.write_table(pa.table(cols), d / f"part-{k}.parquet")
    return d


def single_machine(model: cd.Model, portfolio: Path):  # type: ignore[no-untyped-def]
    """The portfolio scored by the package on this machine, in id order."""
    table = pa.concat_tables(pq.read_table(p) for p in sorted(portfolio.glob("*.parquet")))
    return model.score_batch(table)


def assert_equals_single_machine(out, local) -> None:  # type: ignore[no-untyped-def]
    """Spark's output (an Arrow table) holds every id once and, row by row, the single-machine
    scores: null (invalid row) becomes NaN here; every valid row is bit-identical."""
    assert out.num_rows == N
    out = out.sort_by("id")
    assert np.array_equal(out.column("id").to_numpy(), np.arange(N))
    valid = out.column("valid").to_numpy(zero_copy_only=False)
    assert np.array_equal(valid, ~np.isnan(local.probability))
    proba = out.column("probability").to_numpy(zero_copy_only=False).astype(np.float64)
    score = out.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
    assert np.array_equal(proba, local.probability, equal_nan=True)
    assert np.array_equal(score, local.score, equal_nan=True)


def test_map_in_arrow_equals_single_machine(portfolio: Path) -> None:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    model = cd.Model.default()
    spark = score_portfolio.local_session("local[2]")
    try:
        df = spark.read.parquet(str(portfolio))
        out = score_portfolio.score_frame(df, model.to_json(), key="id").toArrow()
    finally:
        spark.stop()
    local = single_machine(model, portfolio)
    assert local.rows == N and 0 < N - local.valid < N // 100
    assert_equals_single_machine(out, local)
