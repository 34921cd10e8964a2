"""`credit export --to sql --dialect duckdb` run on DuckDB (PyPI `duckdb`): every training row and
every shared vector give what `credit score` gives."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from export_helpers import (
    FEATURES,
    UNREPRESENTABLE_CODES,
    VECTORS,
    CellsCase,
    bin_of,
    cells_reached,
    check_cells,
    cli_score,
    compare,
    export_sql,
    vector_rows,
    write_csv,
)


def arrow_table(rows: list) -> pa.Table:
    cols = {"id": pa.array([i for i, _ in rows], pa.int64())}
    for j, name in enumerate(FEATURES):
        cols[name] = pa.array([v[j] for _, v in rows], pa.float64())
    return pa.table(cols)


def run_duckdb(sql: str, rows: list) -> list[tuple]:
    con = duckdb.connect()
    try:
        applicants = arrow_table(rows)
        con.register("applicants", applicants)
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_vectors_equal_credit_score(vectors: tuple[list, dict]) -> None:
    rows, cli = vectors
    c = compare(run_duckdb(export_sql("duckdb", "applicants"), rows), cli)
    # The vectors cover both outcomes, and the valid ones score bit for bit like the core.
    assert c.scored >= len(VECTORS["valid"]) and c.refused >= len(VECTORS["invalid_rows"]) + 10
    assert c.bit_identical == c.scored, c


def test_vectors_expected_outputs(vectors: tuple[list, dict]) -> None:
    """The same rows checked against the vectors' own expected outputs (probability, score,
    reasons; error fields and codes), not only against the CLI."""
    rows, _ = vectors
    out = {r[0]: r for r in run_duckdb(export_sql("duckdb", "applicants"), rows)}
    valid = VECTORS["valid"]
    for i, v in enumerate(valid):
        _, p, pred, score, *reasons, errors = out[i]
        want = v["expected"]
        assert abs(p - want["probability"]) <= 1e-12, v["name"]
        assert pred == want["prediction"] and abs(score - want["score"]) <= 1e-9, v["name"]
        assert [r for r in reasons if r] == want["reasons"], v["name"]
        assert errors is None
    k = len(valid)
    for v in VECTORS["invalid_rows"]:
        errors = json.loads(out[k][-1])
        assert [(e["field"], e["code"]) for e in errors] == [
            (e["field"], e["code"]) for e in v["errors"]
        ], v["name"]
        assert out[k][1] is None
        k += 1


def test_only_type_errors_cannot_be_put_in_a_table() -> None:
    """The vectors a numeric table cannot hold are exactly the type and unknown-field errors (the
    README says so): every other shared vector is in the table above."""
    _, left_out = vector_rows()
    assert left_out, "expected some vectors with strings, booleans or unknown fields"
    for v in left_out:
        assert {e["code"] for e in v["errors"]} & UNREPRESENTABLE_CODES, v["name"]


def test_all_training_rows_equal_credit_score(training: tuple[list, dict]) -> None:
    rows, cli = training
    c = compare(run_duckdb(export_sql("duckdb", "applicants"), rows), cli)
    assert c.rows == len(rows) and c.scored > 0.99 * len(rows)
    # DuckDB computes in binary64 like the core: not only within 1e-12, the same bits.
    assert c.bit_identical == c.scored, c
    print(f"duckdb: {c}")


def test_model_with_16_bins(model16: Path, model16_rows: tuple[list, dict]) -> None:
    """A model of another shape (16 bins per feature, other edges): the export follows it."""
    shipped = json.loads(
        (Path(__file__).resolve().parents[2] / "models" / "default.json").read_text()
    )
    other = json.loads(model16.read_text())
    assert [len(f["edges"]) for f in other["features"]] != [
        len(f["edges"]) for f in shipped["features"]
    ]
    assert max(len(f["range_bins"]) for f in other["features"]) <= 16
    rows, cli = model16_rows
    sql = export_sql("duckdb", "applicants", model=model16)
    assert other["checksum"] in sql.splitlines()[0]
    c = compare(run_duckdb(sql, rows), cli)
    assert c.scored > 20_000 * 0.99


@pytest.mark.parametrize("table", ["applicants", '"applicants"', "(SELECT * FROM applicants)"])
def test_table_may_be_quoted_or_a_subquery(table: str, vectors: tuple[list, dict]) -> None:
    rows, cli = vectors
    compare(run_duckdb(export_sql("duckdb", table), rows), cli)


def test_documented_spelling_difference(tmp_path: Path) -> None:
    """The README's one difference: DuckDB pads a negative exponent (`-1e-07`), the CLI does not
    (`-1e-7`); field, code, message and every other byte agree."""
    row = [0.5, 45.0, 0.0, -1e-7, 9120.0, 13.0, 0.0, 6.0, 0.0, 2.0]
    cli = cli_score(write_csv(tmp_path / "v.csv", [(0, row)]), tmp_path / "out.csv")
    (got,) = run_duckdb(export_sql("duckdb", "applicants"), [(0, row)])
    want = cli["0"]["errors"]
    assert '"value":-1e-7}' in want
    assert got[-1] == want.replace("-1e-7", "-1e-07")


def test_model_with_cells(cells: CellsCase) -> None:
    """A model with interaction cells: every row (vectors, rows reaching every cell, training
    rows) gives `credit score`'s answer, the probability and score bit for bit the core's."""
    sql = export_sql("duckdb", "applicants", model=cells.model)
    assert (
        "paired AS" in sql
        and json.loads(cells.model.read_text())["checksum"] in sql.splitlines()[0]
    )
    c = check_cells(run_duckdb(sql, cells.rows), cells)
    print(f"duckdb, cells {cells.name}: {c}")


def test_cell_rows_reach_every_cell_ties_and_the_age_rule(cells: CellsCase) -> None:
    """What the cells tests of every engine rely on: their rows reach every cell of every pair,
    include reasons whose points lost tie (ranked by feature order), and elderly applicants
    whose age bin loses points (so the age rule decides whether age is a reason)."""
    reached, total = cells_reached(cells.model, cells.rows)
    assert len(reached) == total, (len(reached), total)
    scored = [(i, v, cells.core[str(i)]) for i, v in cells.rows if cells.core[str(i)] is not None]
    ties = [
        i
        for i, _, p in scored
        if any(a.points_lost == b.points_lost for a, b in zip(p.reasons, p.reasons[1:]))
    ]
    assert ties, "no row whose reasons tie"
    card = json.loads(cells.model.read_text())
    age = card["features"][1]
    points = [b["points"] for b in age["range_bins"]]
    elderly = [(v, p) for _, v, p in scored if v[1] >= 62]
    losing = [p for v, p in elderly if max(points) - points[bin_of(age, v[1])] > 1e-9]
    assert losing, "no elderly row whose age bin loses points"
    assert all("R02" not in [r.code for r in p.reasons] for _, p in elderly)
    young = [p for _, v, p in scored if v[1] < 62]
    assert any("R02" in [r.code for r in p.reasons] for p in young)
    print(
        f"cells {cells.name}: {len(reached)} cells, {len(ties)} rows with tied reasons, {len(losing)} elderly losing"
    )
