"""`credit export`'s command line: what it writes where, and the mistakes it refuses (exit 2, a
message naming the problem, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from export_helpers import ROOT, credit, run

SHIPPED = json.loads((ROOT / "models" / "default.json").read_text())


@pytest.mark.parametrize("dialect", ["duckdb", "bigquery", "postgres", "spark"])
def test_header_names_model_checksum_and_dialect(dialect: str, tmp_path: Path) -> None:
    out = tmp_path / "q.sql"
    r = run([credit(), "export", "--to", "sql", "--dialect", dialect, "-o", out])
    assert r.returncode == 0 and r.stdout == "", r.stderr
    text = out.read_text()
    first = text.splitlines()[0]
    assert SHIPPED["checksum"] in first and f"version {SHIPPED['model_version']}" in first, first
    assert f"dialect {dialect}" in first
    # -o writes exactly what standard output gets.
    assert run([credit(), "export", "--to", "sql", "--dialect", dialect]).stdout == text


def test_model_file_and_env(tmp_path: Path) -> None:
    model = tmp_path / "m.json"
    model.write_text((ROOT / "models" / "default.json").read_text())
    a = run([credit(), "export", "--to", "sql", "--dialect", "duckdb", "--model", model]).stdout
    b = run(
        [credit(), "export", "--to", "sql", "--dialect", "duckdb"],
        env={"CREDIT_MODEL": str(model), "PATH": "/usr/bin:/bin"},
    ).stdout
    assert a and a == b


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "sql"], "--dialect"),
        (["--to", "onnx", "--dialect", "duckdb", "-o", "x.onnx"], "--dialect applies to --to sql"),
        (["--to", "onnx"], "-o FILE"),
        (["--to", "sql", "--dialect", "duckdb", "--float32"], "--float32"),
        (["--to", "sql", "--dialect", "duckdb", "--table", "t; DROP TABLE t"], "--table"),
        (["--to", "sql", "--dialect", "duckdb", "--table", ""], "--table"),
        (["--to", "sql", "--dialect", "oracle"], "oracle"),
        (
            ["--to", "sql", "--dialect", "duckdb", "--model", "no-such-model.json"],
            "no-such-model.json",
        ),
        (
            ["--to", "sql", "--dialect", "duckdb", "--model", "models:/credit-default@champion"],
            "MLFLOW_TRACKING_URI",
        ),
    ],
)
def test_refusals(args: list[str], message: str, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin"}  # no CREDIT_MODEL, no MLFLOW_TRACKING_URI
    r = run([credit(), "export", *args], cwd=tmp_path, env=env)
    assert r.returncode == 2, (r.returncode, r.stdout[:200], r.stderr)
    assert message in r.stderr, r.stderr
    assert r.stdout == "" and list(tmp_path.iterdir()) == []


def test_corrupt_model_is_refused(tmp_path: Path) -> None:
    bad = json.loads((ROOT / "models" / "default.json").read_text())
    bad["features"][0]["edges"][0] += 1e-3  # checksum no longer matches
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    r = run([credit(), "export", "--to", "sql", "--dialect", "duckdb", "--model", path])
    assert r.returncode == 2 and "checksum" in r.stderr, r.stderr
