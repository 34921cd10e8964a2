"""`credit export --to sql --dialect bigquery` through BigQuery's REST API (`jobs.query`) on the
BigQuery emulator the service tests use (PyPI `bqemulator`, started through
scripts/bqemu_launcher.py; GoogleSQL on DuckDB): the shared vectors, a few thousand training
rows, and the README's query over the prediction log's table shape."""

from __future__ import annotations

import json
import math
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from export_helpers import (
    FEATURES,
    ROOT,
    TRAINING_ID,
    CellsCase,
    check_cells,
    cli_score,
    compare,
    export_sql,
    write_csv,
)

sys.path.insert(0, str(ROOT / "tests" / "service"))
from serve_helpers import BigQueryEmulator

DATASET = "credit"


@pytest.fixture(scope="module")
def bq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigQueryEmulator]:
    emu = BigQueryEmulator(tmp_path_factory.mktemp("bqemu")).start()
    try:
        r = requests.post(
            f"{emu.base}/datasets",
            json={"datasetReference": {"projectId": emu.project, "datasetId": DATASET}},
            timeout=30,
        )
        assert r.status_code in (200, 409), r.text
        yield emu
    finally:
        emu.stop()


def query(bq: BigQueryEmulator, sql: str) -> list[tuple]:
    """`jobs.query` (POST /queries, GoogleSQL) and its rows, typed by the answer's schema."""
    r = requests.post(
        f"{bq.base}/queries",
        json={"query": sql, "useLegacySql": False, "maxResults": 100_000},
        timeout=600,
    )
    assert r.status_code == 200, r.text[:2000]
    body = r.json()
    assert body.get("jobComplete") is True and "pageToken" not in body, {
        k: body[k] for k in body if k != "rows"
    }
    fields = body.get("schema", {}).get("fields", [])
    conv = {"INTEGER": int, "INT64": int, "FLOAT": float, "FLOAT64": float, "STRING": str}
    out = []
    for row in body.get("rows", []):
        out.append(
            tuple(
                None if c["v"] is None else conv[f["type"]](c["v"])
                for f, c in zip(fields, row["f"])
            )
        )
    assert len(out) == int(body.get("totalRows", len(out)))
    return out


def csv_number(v: float) -> str:
    """A FLOAT64 as BigQuery's CSV reader spells it (NaN, Infinity, -Infinity)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(v)


def load(bq: BigQueryEmulator, table: str, rows: list) -> str:
    """The rows into a new table (id INT64, the ten features FLOAT64) by a load job
    (`jobs.insert`, multipart upload of a CSV, as `bq load` sends it); its full name. (DML
    INSERTs took the emulator 109 s for 16,000 rows: it parses each statement's SQL.)"""
    name = f"`{bq.project}.{DATASET}.{table}`"
    schema = [{"name": "id", "type": "INTEGER", "mode": "REQUIRED"}] + [
        {"name": f, "type": "FLOAT"} for f in FEATURES
    ]
    job = {
        "configuration": {
            "load": {
                "destinationTable": {
                    "projectId": bq.project,
                    "datasetId": DATASET,
                    "tableId": table,
                },
                "schema": {"fields": schema},
                "sourceFormat": "CSV",
                "skipLeadingRows": 1,
                "createDisposition": "CREATE_IF_NEEDED",
                "writeDisposition": "WRITE_EMPTY",
            }
        }
    }
    csv_text = (
        ",".join(["id", *FEATURES])
        + "\n"
        + "".join(
            f"{i},{','.join('' if v is None else csv_number(v) for v in vals)}\n"
            for i, vals in rows
        )
    )
    boundary = "credit-export-test"
    body = (
        f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{json.dumps(job)}\r\n"
        f"--{boundary}\r\nContent-Type: text/csv\r\n\r\n{csv_text}\r\n--{boundary}--\r\n"
    )
    upload = bq.base.replace("/bigquery/v2/", "/upload/bigquery/v2/")
    r = requests.post(
        f"{upload}/jobs",
        params={"uploadType": "multipart"},
        data=body.encode(),
        headers={"Content-Type": f"multipart/related; boundary={boundary}"},
        timeout=120,
    )
    assert r.status_code == 200 and "errorResult" not in r.json().get("status", {}), r.text[:2000]
    assert query(bq, f"SELECT COUNT(*) FROM {name}") == [(len(rows),)]
    return name


def test_vectors_equal_credit_score(bq: BigQueryEmulator, vectors: tuple[list, dict]) -> None:
    rows, cli = vectors
    name = load(bq, "vectors", rows)
    c = compare(query(bq, export_sql("bigquery", name)), cli)
    assert c.bit_identical == c.scored, c


def test_training_rows_equal_credit_score(
    bq: BigQueryEmulator, training: tuple[list, dict]
) -> None:
    rows, cli = training
    sample = rows[:5000]
    name = load(bq, "training_sample", sample)
    c = compare(query(bq, export_sql("bigquery", name)), {str(i): cli[str(i)] for i, _ in sample})
    assert c.rows == 5000 and c.bit_identical == c.scored, c


def test_readme_query_over_the_prediction_log(
    bq: BigQueryEmulator, vectors: tuple[list, dict], work: Path
) -> None:
    """The README's example: re-score the logged decisions (the prediction table of
    deploy/bigquery, as `credit serve` fills it) with an exported model, straight in BigQuery."""
    bq.create_table(DATASET, "predictions")
    rows, cli_all = vectors
    # The log holds answered requests, a missing value as null.
    logged = [
        (f"d{i}", [None if v is None or math.isnan(v) else v for v in vals])
        for i, vals in rows
        if cli_all[str(i)]["errors"] == ""
    ]
    body = {
        "rows": [
            {
                "insertId": rid,
                "json": {
                    "decision_id": rid,
                    "request_id": str(uuid.uuid4()),
                    "ts": "2026-01-01T00:00:00Z",
                    "model_version": "1.0.0",
                    "input": {f: v for f, v in zip(FEATURES, vals)},
                    "probability": 0.5,
                    "prediction": 1,
                    "score": 500.0,
                    "reasons": [],
                    "latency_us": 1,
                },
            }
            for rid, vals in logged
        ]
    }
    r = requests.post(
        f"{bq.base}/datasets/{DATASET}/tables/predictions/insertAll", json=body, timeout=60
    )
    assert r.status_code == 200 and not r.json().get("insertErrors"), r.text
    table = f"(SELECT decision_id AS id, input.* FROM `{bq.project}.{DATASET}.predictions`)"
    out = query(bq, export_sql("bigquery", table))
    cli = cli_score(write_csv(work / "logged.csv", logged), work / "logged.scored.csv")
    c = compare(out, cli)
    assert c.rows == len(logged) > 60 and c.refused == 0


def test_model_with_cells(bq: BigQueryEmulator, cells: CellsCase) -> None:
    """A model with interaction cells on the emulator: the vectors, the rows reaching every
    cell and 2,000 training rows give `credit score`'s answer, the probability and score bit for
    bit the core's."""
    training = [str(i) for i, _ in cells.rows if i >= TRAINING_ID][:2000]
    case = cells.subset({str(i) for i, _ in cells.rows if i < TRAINING_ID} | set(training))
    name = load(bq, f"cells_{cells.name}", case.rows)
    c = check_cells(query(bq, export_sql("bigquery", name, model=cells.model)), case)
    print(f"bigquery, cells {cells.name}: {c}")
