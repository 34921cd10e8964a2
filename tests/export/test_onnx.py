"""`credit export --to onnx` run by ONNX Runtime gives what `credit score` gives.

On every shared test vector (valid and invalid) and on the 120,000 training rows: the
probability to 1e-12 (in practice bit for bit), the score to the CLI's two decimals and, through
the Python package, to 1e-9; NaN exactly where the core refuses the row. Also: `onnx.checker`'s
full check, the `--float32` model within its documented tolerance, and the export of a model
trained with other bins (`--max-bins 16`).

    CREDIT=target/release/credit CREDIT_DATA=... python -m pytest -q tests/export/test_onnx.py
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from export_helpers import CELL_ROWS_ID, ROOT, TRAINING_ID, CellsCase, run

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pd = pytest.importorskip("pandas")

MODEL = ROOT / "models" / "default.json"
VECTORS = json.loads((ROOT / "testdata" / "vectors.json").read_text())
ORDER: list[str] = VECTORS["feature_order"]
# The documented precision of `--float32`: one float32 rounding of each output.
FLOAT32_REL = 2.0**-24


def export(credit: Path, out: Path, model: Path = MODEL, *extra: str) -> Path:
    r = run([credit, "export", "--model", model, "--to", "onnx", *extra, "-o", out])
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def onnx64(credit, tmp_path_factory) -> Path:
    return export(credit, tmp_path_factory.mktemp("onnx") / "model.onnx")


@pytest.fixture(scope="module")
def onnx32(credit, tmp_path_factory) -> Path:
    return export(credit, tmp_path_factory.mktemp("onnx32") / "model32.onnx", MODEL, "--float32")


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def infer(path: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, s = session(path).run(None, {"X": x})
    return p, s


def kaggle(name: str, columns) -> str:
    """The CSV spelling of a feature (two Kaggle names have hyphens)."""
    if name in columns:
        return name
    return name.replace("30_59", "30-59").replace("60_89", "60-89")


def training_matrix(data_path: Path, nrows: int | None = None) -> np.ndarray:
    df = pd.read_csv(data_path, index_col=0, nrows=nrows)
    return df[[kaggle(c, df.columns) for c in ORDER]].to_numpy(dtype=np.float64)


def cell(v) -> float | None:
    """A vector's value as a float, None if X (a float matrix) cannot hold it."""
    if v is None:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return None
    if isinstance(v, str):
        return float(v) if v in ("inf", "-inf", "NaN") else None
    return float(v)


def vector_rows() -> tuple[list[str], np.ndarray, list[str]]:
    """Every shared vector that a float matrix can express: names, rows, and the names left
    out (strings, booleans, objects and unknown fields, which only a mapping can carry)."""
    names, rows, left = [], [], []
    for v in VECTORS["valid"]:
        names.append(v["name"])
        rows.append([cell(x) for x in v["row"]])
    for v in VECTORS["invalid"]:
        inp = v["input"]
        vals = [cell(inp.get(f)) for f in ORDER]
        if any(k not in ORDER for k in inp) or any(x is None for x in vals):
            left.append(v["name"])
            continue
        names.append(v["name"])
        rows.append(vals)
    for v in VECTORS["invalid_rows"]:
        names.append(v["name"])
        rows.append([cell(x) for x in v["row"]])
    return names, np.array(rows, dtype=np.float64), left


def write_csv(path: Path, x: np.ndarray) -> None:
    """Rows for `credit score`: an id column, the features, NA for NaN, repr for the rest."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", *ORDER])
        for i, row in enumerate(x):
            w.writerow([i, *("NA" if math.isnan(v) else repr(float(v)) for v in row)])


def cli_score(
    credit: Path, src: Path, out: Path, model: Path = MODEL
) -> tuple[np.ndarray, list[str]]:
    """`credit score` probabilities (NaN for refused rows) and score strings."""
    r = run([credit, "score", "--model", model, src, "-o", out, "--quiet"])
    assert r.returncode == 0, r.stderr
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    p = np.array([float(r["probability"]) if r["probability"] else math.nan for r in rows])
    return p, [r["score"] for r in rows]


def assert_same_as_cli(p: np.ndarray, s: np.ndarray, cli_p: np.ndarray, cli_s: list[str]) -> None:
    refused = np.isnan(cli_p)
    np.testing.assert_array_equal(
        np.isnan(p), refused, "ONNX NaN exactly where credit score refuses"
    )
    np.testing.assert_array_equal(
        np.isnan(s), refused, "score NaN exactly where credit score refuses"
    )
    assert np.max(np.abs(p[~refused] - cli_p[~refused]), initial=0.0) <= 1e-12
    # `credit score` prints the score with two decimals: the same rounding of the ONNX score
    # gives the same text.
    mine = ["" if math.isnan(v) else f"{v:.2f}" for v in s]
    bad = [(i, a, b) for i, (a, b) in enumerate(zip(mine, cli_s)) if a != b]
    assert not bad, f"score differs from credit score: {bad[:5]}"


def test_checker_and_metadata(onnx64, onnx32):
    for path, elem in ((onnx64, onnx.TensorProto.DOUBLE), (onnx32, onnx.TensorProto.FLOAT)):
        m = onnx.load(str(path))
        onnx.checker.check_model(m, full_check=True)
        assert [(o.domain, o.version) for o in m.opset_import] == [("", 13)]
        meta = {p.key: p.value for p in m.metadata_props}
        assert meta["feature_order"].split(",") == ORDER
        assert meta["model_version"] == VECTORS["model_version"]
        assert meta["model_checksum"] == VECTORS["model_checksum"]
        assert m.producer_name == "credit-default"
        (x,) = m.graph.input
        assert x.name == "X" and x.type.tensor_type.elem_type == elem
        dims = [d.dim_param or d.dim_value for d in x.type.tensor_type.shape.dim]
        assert dims == ["N", 10]
        assert [o.name for o in m.graph.output] == ["probability", "score"]
        assert {o.type.tensor_type.elem_type for o in m.graph.output} == {elem}


def test_every_vector(credit, onnx64, tmp_path):
    names, x, left = vector_rows()
    # Only what a float matrix cannot carry is left out (strings, booleans, objects, unknown keys).
    assert sorted(left) == sorted(
        [
            "age as a string",
            "boolean for a number",
            "object for a number",
            "array for a number",
            "typo MonthlyIncom",
            "extra field",
            "several errors at once",
        ]
    )
    p, s = infer(onnx64, x)
    n_valid = len(VECTORS["valid"])
    want_p = np.array([v["expected"]["probability"] for v in VECTORS["valid"]])
    want_s = np.array([v["expected"]["score"] for v in VECTORS["valid"]])
    assert np.max(np.abs(p[:n_valid] - want_p)) <= 1e-12
    assert np.max(np.abs(s[:n_valid] - want_s)) <= 1e-9
    refused = [n for n, v in zip(names[n_valid:], p[n_valid:]) if not math.isnan(v)]
    assert not refused, f"invalid vectors scored by ONNX: {refused}"
    assert np.isnan(s[n_valid:]).all()
    src = tmp_path / "vectors.csv"
    write_csv(src, x)
    assert_same_as_cli(p, s, *cli_score(credit, src, tmp_path / "scored.csv"))


def test_training_rows(credit, data_path, onnx64, tmp_path):
    x = training_matrix(data_path)
    assert len(x) >= 100_000 or os.environ.get("CREDIT_DATA_SYNTHETIC") == "1"
    p, s = infer(onnx64, x)
    cli_p, cli_s = cli_score(credit, data_path, tmp_path / "scored.csv")
    assert len(cli_p) == len(x)
    assert_same_as_cli(p, s, cli_p, cli_s)
    # The full-precision score through the Python package (same core; `make test-export` builds
    # and installs it first).
    import credit_default as cd

    core_s = cd.Model.load(str(MODEL)).score(x, errors="nan")
    np.testing.assert_array_equal(np.isnan(core_s), np.isnan(s))
    assert np.nanmax(np.abs(core_s - s)) <= 1e-9


def test_float32_within_documented_tolerance(data_path, onnx64, onnx32):
    """Same bins as the core on the training rows and vectors; each output within one
    float32 rounding (relative 2^-24) of the float64 model, which equals the core."""
    x = np.vstack([training_matrix(data_path), vector_rows()[1]])
    p, s = infer(onnx64, x)
    p32, s32 = infer(onnx32, x.astype(np.float32))
    assert p32.dtype == np.float32 and s32.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(p32), np.isnan(p))
    ok = ~np.isnan(p)
    assert np.max(np.abs(p32[ok] - p[ok]) / p[ok]) <= FLOAT32_REL
    assert np.max(np.abs(s32[ok] - s[ok]) / np.abs(s[ok])) <= FLOAT32_REL


def test_other_bins_match(credit, data_path, tmp_path):
    """A model trained with --max-bins 16 on a 20,000-row sample: the exporter must not assume
    the shipped model's shape."""
    sample = tmp_path / "sample.csv"
    pd.read_csv(data_path, index_col=0, nrows=20_000).to_csv(sample)
    model = tmp_path / "bins16.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    r = run(
        [credit, "train", "--data", sample, "--out", model, "--max-bins", "16", "--quiet"], env=env
    )
    assert r.returncode == 0, r.stderr
    card = json.loads(model.read_text())
    assert card["training"]["max_bins"] == 16
    assert card["features"][0]["edges"] != json.loads(MODEL.read_text())["features"][0]["edges"]
    path = export(credit, tmp_path / "bins16.onnx", model)
    m = onnx.load(str(path))
    onnx.checker.check_model(m, full_check=True)
    assert {p.key: p.value for p in m.metadata_props}["model_checksum"] == card["checksum"]
    x = np.vstack([training_matrix(sample), vector_rows()[1]])
    p, s = infer(path, x)
    src = tmp_path / "rows.csv"
    write_csv(src, x)
    assert_same_as_cli(p, s, *cli_score(credit, src, tmp_path / "scored.csv", model))


def test_refuses_a_tampered_model(credit, tmp_path):
    card = json.loads(MODEL.read_text())
    card["model_version"] = "9.9.9"
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(card))
    r = run([credit, "export", "--model", bad, "--to", "onnx", "-o", tmp_path / "x.onnx"])
    assert r.returncode != 0
    assert "checksum" in r.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_model_with_cells(credit, cells: CellsCase, tmp_path):
    """A model with interaction cells: on the vectors, rows reaching every cell and training
    rows, ONNX Runtime gives the core's probability and score bit for bit (float64), NaN exactly
    where `credit score` refuses; `--float32` stays within its documented tolerance on the rows
    away from bin edges (the vectors and training rows: the cell rows sit on edges by design)."""
    path = export(credit, tmp_path / "cells.onnx", cells.model)
    m = onnx.load(str(path))
    onnx.checker.check_model(m, full_check=True)
    assert {p.key: p.value for p in m.metadata_props}["interactions"].count(" cells)") == len(
        json.loads(cells.model.read_text())["interactions"]
    )
    x = np.array(
        [[math.nan if v is None else v for v in vals] for _, vals in cells.rows], dtype=np.float64
    )
    p, s = infer(path, x)
    ids = [str(i) for i, _ in cells.rows]
    cli_p = np.array(
        [
            float(cells.cli[i]["probability"]) if cells.cli[i]["probability"] else math.nan
            for i in ids
        ]
    )
    assert_same_as_cli(p, s, cli_p, [cells.cli[i]["score"] for i in ids])
    core = [cells.core[i] for i in ids]
    ok = np.array([c is not None for c in core])
    np.testing.assert_array_equal(ok, ~np.isnan(cli_p))
    np.testing.assert_array_equal(p[ok], [c.probability for c in core if c is not None])
    np.testing.assert_array_equal(s[ok], [c.score for c in core if c is not None])
    path32 = export(credit, tmp_path / "cells32.onnx", cells.model, "--float32")
    off_edges = np.array([not CELL_ROWS_ID <= int(i) < TRAINING_ID for i in ids])
    with np.errstate(
        over="ignore"
    ):  # the vectors' 1e300 becomes inf in float32 (refused either way)
        x32 = x[off_edges].astype(np.float32)
    p32, s32 = infer(path32, x32)
    p64, s64 = p[off_edges], s[off_edges]
    np.testing.assert_array_equal(np.isnan(p32), np.isnan(p64))
    good = ~np.isnan(p64)
    assert np.max(np.abs(p32[good] - p64[good]) / p64[good]) <= FLOAT32_REL
    assert np.max(np.abs(s32[good] - s64[good]) / np.abs(s64[good])) <= FLOAT32_REL
