"""Fixtures of tests/export: the rows every engine scores and `credit score`'s answers for them
(computed once per session), and a model trained with other bins."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from export_helpers import (
    CELL_ROWS_ID,
    CELLS_MODEL,
    TRAINING_ID,
    CellsCase,
    cell_rows,
    cli_score,
    core_predictions,
    credit,
    data_path,
    run,
    training_rows,
    vector_rows,
    write_csv,
)


@pytest.fixture(scope="session")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = os.environ.get("CREDIT_WORK")
    if base:
        d = Path(base) / "pytest-export"
        d.mkdir(parents=True, exist_ok=True)
        return d
    return tmp_path_factory.mktemp("export")


@pytest.fixture(scope="session", autouse=True)
def built() -> None:
    if not credit().exists():
        pytest.fail(f"{credit()} not built; run `make build`")


@pytest.fixture(scope="session")
def vectors(work: Path) -> tuple[list, dict]:
    """The vector rows and `credit score`'s output for them."""
    rows, _ = vector_rows()
    csv_path = write_csv(work / "vectors.csv", rows)
    return rows, cli_score(csv_path, work / "vectors.scored.csv")


@pytest.fixture(scope="session")
def training(work: Path) -> tuple[list, dict]:
    """Every training row (120,000 on the real data) and `credit score`'s output, scored from the
    data file itself (the CSV as downloaded)."""
    path = data_path()
    if not path.exists():
        pytest.fail(f"training data not found at {path}; set CREDIT_DATA (see README, Data)")
    return training_rows(path), cli_score(path, work / "training.scored.csv")


@pytest.fixture(scope="session")
def sample20k(work: Path) -> Path:
    """The first 20,000 training rows, as a CSV `credit train` reads."""
    sample = work / "sample-20k.csv"
    with gzip.open(data_path(), "rb") as f, open(sample, "wb") as g:
        for i, line in enumerate(f):
            if i > 20_000:
                break
            g.write(line)
    return sample


@pytest.fixture(scope="session")
def model16(work: Path, sample20k: Path) -> Path:
    """A model trained with `--max-bins 16` on the first 20,000 training rows."""
    sample = sample20k
    out = work / "model-16-bins.json"
    r = run([credit(), "train", "--data", sample, "--out", out, "--max-bins", "16", "--quiet"])
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="session")
def model16_rows(work: Path, model16: Path, vectors: tuple[list, dict]) -> tuple[list, dict]:
    """The vector rows and 20,000 training rows, and `credit score`'s output with the 16-bin model."""
    rows = vectors[0] + [(100_000 + i, v) for i, v in training_rows(data_path(), limit=20_000)]
    csv_path = write_csv(work / "model16-rows.csv", rows)
    return rows, cli_score(csv_path, work / "model16-rows.scored.csv", model=model16)


def cells_case(
    name: str, model: Path, work: Path, vectors: tuple[list, dict], training: list
) -> CellsCase:
    rows = vectors[0] + cell_rows(model, CELL_ROWS_ID) + [(TRAINING_ID + i, v) for i, v in training]
    csv_path = write_csv(work / f"cells-{name}-rows.csv", rows)
    cli = cli_score(csv_path, work / f"cells-{name}-rows.scored.csv", model=model)
    return CellsCase(name, model, rows, cli, core_predictions(model, rows))


@pytest.fixture(scope="session")
def cells_fixture(work: Path, vectors: tuple[list, dict], training: tuple[list, dict]) -> CellsCase:
    """testdata/cells-model.json (the core's fixture: the shipped model plus three pairs, each
    feature in at most one) on the vectors, rows reaching every cell, and the first 20,000
    training rows (the additive tests take every row; here the cell rows give the coverage, and
    all 120,000 through four engines cost CI minutes)."""
    return cells_case("fixture", CELLS_MODEL, work, vectors, training[0][:20_000])


@pytest.fixture(scope="session")
def cells_trained(work: Path, sample20k: Path, vectors: tuple[list, dict]) -> CellsCase:
    """A model the trainer fits with four interaction pairs, age allowed (`--interactions 4
    --age-pairs --max-bins 16` on 20,000 rows: age is in two pairs, so its reason, suppressed
    from 62 on, is its own bin's share plus two cells' halves), on the vectors, rows reaching
    every cell and those 20,000 rows."""
    out = work / "model-cells-trained.json"
    r = run(
        [
            credit(),
            "train",
            "--data",
            sample20k,
            "--out",
            out,
            "--max-bins",
            "16",
            "--folds",
            "3",
            "--interactions",
            "4",
            "--age-pairs",
            "--quiet",
        ]
    )
    assert r.returncode == 0, r.stderr
    pairs = [x["features"] for x in json.loads(out.read_text())["interactions"]]
    assert sum("age" in p for p in pairs) >= 2, pairs
    return cells_case("trained", out, work, vectors, training_rows(data_path(), limit=20_000))


@pytest.fixture(params=["fixture", "trained"])
def cells(request: pytest.FixtureRequest) -> CellsCase:
    """Each model with cells in turn."""
    return request.getfixturevalue(f"cells_{request.param}")
