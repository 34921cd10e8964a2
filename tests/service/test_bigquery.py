"""The BigQuery sink against the real `bqemulator` (BigQuery REST on DuckDB), with a recording
proxy in between that checks every insertAll body against BigQuery's documented format."""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import SCHEMA, SEED, BigQueryEmulator, Server, db_rows, free_port

# tabledata.insertAll request body, as documented in BigQuery's REST reference.
INSERT_ALL_KEYS = {
    "kind",
    "skipInvalidRows",
    "ignoreUnknownValues",
    "templateSuffix",
    "rows",
    "traceId",
}
ROW_KEYS = {"insertId", "json"}
TS = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?$")


def check_value(field: dict[str, Any], v: Any) -> None:
    t = field["type"]
    name = field["name"]
    if t == "STRING":
        assert isinstance(v, str), name
    elif t == "TIMESTAMP":
        assert isinstance(v, str) and TS.match(v), (name, v)
    elif t in ("FLOAT64", "FLOAT"):
        assert isinstance(v, (int, float)) and not isinstance(v, bool), name
    elif t in ("INT64", "INTEGER"):
        assert (isinstance(v, int) and not isinstance(v, bool)) or (
            isinstance(v, str) and v.lstrip("-").isdigit()
        ), name
    elif t in ("RECORD", "STRUCT"):
        check_row(field["fields"], v)
    else:
        raise AssertionError(f"unexpected type {t}")


def check_row(fields: list[dict[str, Any]], row: Any) -> None:
    """A row must match the table schema: no unknown field, REQUIRED present, types right."""
    assert isinstance(row, dict)
    known = {f["name"] for f in fields}
    assert set(row) <= known, set(row) - known
    for f in fields:
        mode = f.get("mode", "NULLABLE")
        v = row.get(f["name"])
        if mode == "REQUIRED":
            assert v is not None, f"{f['name']} is REQUIRED"
        if v is None:
            continue
        if mode == "REPEATED":
            assert isinstance(v, list), f["name"]
            for item in v:
                assert item is not None
                check_value(f, item)
        else:
            check_value(f, v)


def check_insert_all_body(body: dict[str, Any]) -> None:
    assert isinstance(body, dict)
    assert set(body) <= INSERT_ALL_KEYS, set(body) - INSERT_ALL_KEYS
    for k in ("skipInvalidRows", "ignoreUnknownValues"):
        if k in body:
            assert isinstance(body[k], bool)
    assert isinstance(body["rows"], list) and 0 < len(body["rows"]) <= 50000
    for r in body["rows"]:
        assert set(r) == ROW_KEYS, r.keys()
        assert isinstance(r["insertId"], str) and 0 < len(r["insertId"]) <= 128
        check_row(SCHEMA, r["json"])
        # Our decision id, never the caller's request id (which may repeat).
        assert r["insertId"] == r["json"]["decision_id"] and uuid.UUID(r["insertId"]).version == 7


class Recorder:
    """A forwarding HTTP proxy that records (and gunzips) every request body."""

    def __init__(self, target_port: int) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _forward(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(n) if n else b""
                if self.path.endswith("/insertAll"):
                    data = (
                        gzip.decompress(raw)
                        if self.headers.get("content-encoding") == "gzip"
                        else raw
                    )
                    rec.bodies.append(json.loads(data))
                    rec.paths.append(self.path)
                req = urllib.request.Request(
                    f"http://127.0.0.1:{target_port}{self.path}",
                    data=raw or None,
                    method=self.command,
                )
                for k, v in self.headers.items():
                    if k.lower() not in ("host", "content-length", "connection"):
                        req.add_header(k, v)
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        status, payload, ctype = (
                            resp.status,
                            resp.read(),
                            resp.headers.get("content-type", ""),
                        )
                except urllib.error.HTTPError as e:
                    status, payload, ctype = e.code, e.read(), e.headers.get("content-type", "")
                except OSError:
                    status, payload, ctype = 502, b'{"error": "upstream down"}', "application/json"
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigQueryEmulator]:
    em = BigQueryEmulator(tmp_path_factory.mktemp("bqemu")).start()
    yield em
    em.stop()


def wait_rows(
    em: BigQueryEmulator, dataset: str, table: str, n: int, timeout: float = 60
) -> list[str]:
    deadline = time.monotonic() + timeout
    ids: list[str] = []
    while time.monotonic() < deadline:
        ids = em.request_ids(dataset, table)
        if len(ids) >= n:
            break
        time.sleep(0.25)
    return ids


def test_bigquery_sink_ships_every_row_once(
    make_server: Any, workdir: Path, emulator: BigQueryEmulator
) -> None:
    emulator.create_table("credit", "predictions")
    rec = Recorder(emulator.port)
    try:
        s: Server = make_server(
            "--log",
            "bigquery://test-project/credit/predictions",
            "--journal",
            str(workdir / "outbox.db"),
            env={"BIGQUERY_API_BASE": f"http://127.0.0.1:{rec.port}"},
        )
        ids = [f"bq-{i}" for i in range(120)]
        for i in ids[:20]:
            assert s.post("/predict", SEED, headers={"x-request-id": i}).status_code == 200
        r = s.post("/predict/batch", {"applicants": [SEED] * 100}, headers={"x-request-id": "bqb"})
        assert r.status_code == 200
        want = set(ids[:20]) | {f"bqb-{i}" for i in range(100)}
        got = wait_rows(emulator, "credit", "predictions", len(want))
        assert sorted(got) == sorted(want)  # every row, once
        assert s.terminate() == 0
        assert db_rows(workdir / "outbox.db", "outbox") == []
        assert rec.bodies, "no insertAll request seen"
        for body in rec.bodies:
            check_insert_all_body(body)
        assert all(
            p == "/bigquery/v2/projects/test-project/datasets/credit/tables/predictions/insertAll"
            for p in rec.paths
        )
    finally:
        rec.close()


def test_bigquery_down_then_up_every_row_arrives_once(make_server: Any, workdir: Path) -> None:
    port = free_port()
    s: Server = make_server(
        "--log",
        "bigquery://test-project/late/predictions",
        "--journal",
        str(workdir / "outbox.db"),
        env={"BIGQUERY_API_BASE": f"http://127.0.0.1:{port}/bigquery/v2"},
    )
    ids = [f"down-{i}" for i in range(60)]
    for i in ids:
        assert s.post("/predict", SEED, headers={"x-request-id": i}).status_code == 200
    time.sleep(1.0)
    pending = db_rows(workdir / "outbox.db", "outbox")
    assert sorted(r["request_id"] for r in pending) == sorted(ids)  # waiting, nothing lost
    metrics = s.get("/metrics").text
    assert "credit_log_ship_failures_total 0" not in metrics
    em = BigQueryEmulator(workdir, port=port).start()
    try:
        em.create_table("late", "predictions")
        got = wait_rows(em, "late", "predictions", len(ids), timeout=90)
        assert sorted(got) == sorted(ids)
        deadline = time.monotonic() + 10
        while db_rows(workdir / "outbox.db", "outbox") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert db_rows(workdir / "outbox.db", "outbox") == []
        time.sleep(1.0)
        assert sorted(em.request_ids("late", "predictions")) == sorted(ids)  # still once
        assert s.terminate() == 0
    finally:
        em.stop()


def test_sink_down_at_shutdown_keeps_rows_for_next_start(make_server: Any, workdir: Path) -> None:
    port = free_port()
    s: Server = make_server(
        "--log",
        "bigquery://test-project/later/predictions",
        "--journal",
        str(workdir / "outbox.db"),
        env={"BIGQUERY_API_BASE": f"http://127.0.0.1:{port}"},
        port=None,
    )
    for i in range(10):
        assert s.post("/predict", SEED, headers={"x-request-id": f"keep-{i}"}).status_code == 200
    t0 = time.monotonic()
    assert s.terminate() == 0
    assert time.monotonic() - t0 < 10
    assert len(db_rows(workdir / "outbox.db", "outbox")) == 10
    em = BigQueryEmulator(workdir, port=port).start()
    try:
        em.create_table("later", "predictions")
        s.start()
        got = wait_rows(em, "later", "predictions", 10, timeout=90)
        assert sorted(got) == sorted(f"keep-{i}" for i in range(10))
    finally:
        s.stop()
        em.stop()
