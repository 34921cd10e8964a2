"""`credit serve` through real HTTP: the seed example, the shared vectors, the table of bad
requests, batch, operations endpoints, request ids, logs, docs, static page, hot reload."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest
import requests
from serve_helpers import CREDIT, MODEL, SEED, VECTORS, Server, db_rows

EPS = sys.float_info.epsilon


def close_ulps(a: float, b: float) -> bool:
    return abs(a - b) <= 4 * EPS * max(abs(a), abs(b))


def assert_matches_expected(body: dict[str, Any], expected: dict[str, Any]) -> None:
    assert body["prediction"] == expected["prediction"]
    assert close_ulps(body["probability"], expected["probability"]), (
        body["probability"],
        expected["probability"],
    )
    assert abs(body["score"] - expected["score"]) <= 1e-9
    assert [r["code"] for r in body["reasons"]] == expected["reasons"]


def test_seed_example_equals_core(server: Server) -> None:
    """Same answer as the core (through `credit explain`, which calls credit-core directly)."""
    core = json.loads(
        subprocess.run(
            [str(CREDIT), "explain", "--model", str(MODEL), "--json", json.dumps(SEED)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    r = server.post("/predict", SEED)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "prediction",
        "probability",
        "score",
        "reasons",
        "model_version",
        "request_id",
        "decision_id",
    }
    assert (
        uuid.UUID(body["decision_id"]).version == 7
        and r.headers["x-decision-id"] == body["decision_id"]
    )
    assert body["prediction"] == core["prediction"] in (0, 1)
    assert body["probability"] == core["probability"]
    assert body["score"] == core["score"]
    assert body["model_version"] == core["model_version"] == VECTORS["model_version"]
    for reason in body["reasons"]:
        assert set(reason) == {"code", "feature", "text", "points_lost"}
        assert reason["points_lost"] > 0 and reason["text"]


@pytest.mark.parametrize("case", VECTORS["valid"], ids=[c["name"] for c in VECTORS["valid"]])
def test_valid_vectors(server: Server, case: dict[str, Any]) -> None:
    r = server.post("/predict", case["input"])
    assert r.status_code == 200, r.text
    assert_matches_expected(r.json(), case["expected"])


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=[c["name"] for c in VECTORS["invalid"]])
def test_invalid_vectors(server: Server, case: dict[str, Any]) -> None:
    r = server.post("/predict", case["input"])
    assert r.status_code == 422, r.text
    got = sorted((d["loc"][-1] if len(d["loc"]) > 1 else "", d["type"]) for d in r.json()["detail"])
    want = sorted((e["field"], e["code"]) for e in case["errors"])
    assert got == want
    for d in r.json()["detail"]:
        assert d["loc"][0] == "body" and d["msg"]


@pytest.mark.parametrize(
    "case", VECTORS["invalid_json"], ids=[c["name"] for c in VECTORS["invalid_json"]]
)
def test_invalid_json_vectors(server: Server, case: dict[str, Any]) -> None:
    r = server.post("/predict", data=case["text"].encode())
    codes = sorted(e["code"] for e in case["errors"])
    if codes == ["invalid_json"]:
        assert r.status_code == 400, r.text
    else:
        assert r.status_code == 422, r.text
    assert sorted(d["type"] for d in r.json()["detail"]) == codes


def _with(**kw: Any) -> dict[str, Any]:
    d = dict(SEED)
    for k, v in kw.items():
        if v is ...:
            d.pop(k)
        else:
            d[k] = v
    return d


BAD = [
    # (name, body bytes, content type, expected status, expected error types)
    (
        "NaN literal",
        json.dumps(SEED).replace("0.802982", "NaN").encode(),
        "application/json",
        400,
        ["invalid_json"],
    ),
    (
        "string value",
        json.dumps(_with(age="45")).encode(),
        "application/json",
        422,
        ["not_a_number"],
    ),
    (
        "negative count",
        json.dumps(_with(NumberOfOpenCreditLinesAndLoans=-1)).encode(),
        "application/json",
        422,
        ["out_of_range"],
    ),
    (
        "fractional count",
        json.dumps(_with(NumberOfDependents=1.5)).encode(),
        "application/json",
        422,
        ["not_an_integer"],
    ),
    ("missing field", json.dumps(_with(age=...)).encode(), "application/json", 422, ["missing"]),
    (
        "unknown field",
        json.dumps(_with(colour="red")).encode(),
        "application/json",
        422,
        ["unknown_field"],
    ),
    (
        "two errors at once",
        json.dumps(_with(age=..., DebtRatio="x")).encode(),
        "application/json",
        422,
        ["missing", "not_a_number"],
    ),
    ("truncated JSON", json.dumps(SEED)[:40].encode(), "application/json", 400, ["invalid_json"]),
    ("not an object", b"[1, 2, 3]", "application/json", 422, ["not_an_object"]),
    ("empty body", b"", "application/json", 400, ["invalid_json"]),
    ("not UTF-8", b'{"age": "\xff"}', "application/json", 400, ["invalid_json"]),
    (
        "10 MB body",
        b'{"age": "' + b"x" * (10 * 1024 * 1024) + b'"}',
        "application/json",
        413,
        ["payload_too_large"],
    ),
    (
        "wrong content type",
        json.dumps(SEED).encode(),
        "text/plain",
        415,
        ["unsupported_media_type"],
    ),
    (
        "form content type",
        b"age=45",
        "application/x-www-form-urlencoded",
        415,
        ["unsupported_media_type"],
    ),
]


@pytest.mark.parametrize("name,body,ctype,status,types", BAD, ids=[b[0] for b in BAD])
def test_bad_requests(
    server: Server, name: str, body: bytes, ctype: str, status: int, types: list[str]
) -> None:
    r = requests.post(
        server.url + "/predict", data=body, headers={"content-type": ctype}, timeout=30
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert sorted(d["type"] for d in r.json()["detail"]) == sorted(types)
    assert r.headers.get("x-request-id")
    # The server is still fine.
    assert server.get("/health").status_code == 200
    assert server.post("/predict", SEED).status_code == 200


def test_chunked_oversize_body_is_413(server: Server) -> None:
    """No Content-Length: the limit is enforced while reading."""

    def gen() -> Any:
        yield b'{"age": "'
        for _ in range(200):
            yield b"y" * 1024
        yield b'"}'

    r = requests.post(
        server.url + "/predict",
        data=gen(),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 413
    assert server.get("/health").status_code == 200


def _post_encoded(server: Server, path: str, body: bytes, encoding: str) -> requests.Response:
    return server.post(path, data=body, headers={"content-encoding": encoding})


def test_compressed_bodies_are_read(server: Server) -> None:
    """gzip and deflate (zlib, as HTTP means it) bodies score like plain ones; a batch body, which
    compresses tenfold, too. Before, a gzip body was a 400 'not UTF-8'."""
    plain = server.post("/predict", SEED).json()
    raw = json.dumps(SEED).encode()
    for encoding, body in [
        ("gzip", gzip.compress(raw)),
        ("x-gzip", gzip.compress(raw)),
        ("deflate", zlib.compress(raw)),
        ("GZIP", gzip.compress(raw)),
        ("identity", raw),
    ]:
        r = _post_encoded(server, "/predict", body, encoding)
        assert r.status_code == 200, (encoding, r.text)
        got = r.json()
        assert (got["probability"], got["score"]) == (plain["probability"], plain["score"])
    batch = json.dumps({"applicants": [SEED] * 1000}).encode()
    r = _post_encoded(server, "/predict/batch", gzip.compress(batch), "gzip")
    assert r.status_code == 200, r.text
    assert len(r.json()["results"]) == 1000


def test_a_byte_order_mark_is_ignored(server: Server) -> None:
    """RFC 8259 lets a parser ignore a UTF-8 BOM, which some clients (.NET, PowerShell) put
    before the JSON; before, it was a 400 'expected value at line 1 column 1'. Compressed too."""
    plain = server.post("/predict", SEED).json()
    body = b"\xef\xbb\xbf" + json.dumps(SEED).encode()
    for encoding, data in [("identity", body), ("gzip", gzip.compress(body))]:
        r = _post_encoded(server, "/predict", data, encoding)
        assert r.status_code == 200, r.text
        assert r.json()["probability"] == plain["probability"]
    # Only one, only at the start.
    r = _post_encoded(server, "/predict", b"\xef\xbb\xbf" + body, "identity")
    assert r.status_code == 400 and r.json()["detail"][0]["type"] == "invalid_json"


def test_bad_compressed_bodies_are_refused_by_name(server: Server) -> None:
    raw = json.dumps(SEED).encode()
    # An encoding the service does not read: 415 naming the header, not a JSON error.
    for encoding in ["br", "zstd", "gzip, gzip", "compress"]:
        r = _post_encoded(server, "/predict", raw, encoding)
        assert r.status_code == 415, (encoding, r.text)
        d = r.json()["detail"][0]
        assert (d["loc"], d["type"]) == (["header", "content-encoding"], "unsupported_encoding")
        assert repr(encoding).strip("'") in d["msg"], d["msg"]
    # Declared gzip, but not gzip, or cut short: 400 saying so.
    for body in [raw, gzip.compress(raw)[:-9]]:
        r = _post_encoded(server, "/predict", body, "gzip")
        assert r.status_code == 400, r.text
        d = r.json()["detail"][0]
        assert (d["loc"], d["type"]) == (["body"], "invalid_encoding"), d
        assert "gzip" in d["msg"]
    # A small body that inflates past the limit (a zip bomb): 413, without inflating it all.
    bomb = gzip.compress(b" " * (50 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    r = _post_encoded(server, "/predict", bomb, "gzip")
    assert r.status_code == 413, r.text
    assert r.json()["detail"][0]["type"] == "payload_too_large"
    assert server.post("/predict", SEED).status_code == 200


def test_unknown_route_and_method(server: Server) -> None:
    r = server.get("/nope")
    assert r.status_code == 404 and r.json()["detail"][0]["type"] == "not_found"
    assert server.post("/predict/nope", SEED).status_code == 404
    r = server.get("/predict")
    assert r.status_code == 405


def test_batch(server: Server) -> None:
    valid = [c["input"] for c in VECTORS["valid"][:5]]
    bad = VECTORS["invalid"][0]
    r = server.post(
        "/predict/batch",
        {"applicants": [*valid, bad["input"], "oops"]},
        headers={"x-request-id": "batch-xyz"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == VECTORS["model_version"] and body["request_id"] == "batch-xyz"
    res = body["results"]
    assert len(res) == 7
    for i, c in enumerate(VECTORS["valid"][:5]):
        assert_matches_expected(res[i], c["expected"])
        assert res[i]["request_id"] == f"batch-xyz-{i}"
        assert uuid.UUID(res[i]["decision_id"]).version == 7
    assert sorted((e["loc"][-1], e["type"]) for e in res[5]["errors"]) == sorted(
        (e["field"], e["code"]) for e in bad["errors"]
    )
    assert res[5]["errors"][0]["loc"][:3] == ["body", "applicants", 5]
    assert res[6]["errors"][0]["type"] == "not_an_object"
    # Valid items are logged, invalid ones are not.
    time.sleep(0.2)
    rows = {row["request_id"]: row for row in db_rows(server.tmp / "predictions.db")}
    assert {f"batch-xyz-{i}" for i in range(5)} <= set(rows)
    assert "batch-xyz-5" not in rows and "batch-xyz-6" not in rows
    assert [rows[f"batch-xyz-{i}"]["decision_id"] for i in range(5)] == [
        res[i]["decision_id"] for i in range(5)
    ]


def test_batch_answers_are_compressed_when_the_client_accepts_it(server: Server) -> None:
    """A batch answer (about 400 bytes per applicant) goes gzip-compressed to a client that
    accepts it, and plain otherwise; a single answer stays plain (too small to gain)."""
    body = {"applicants": [SEED] * 200}
    plain = requests.post(
        server.url + "/predict/batch",
        json=body,
        headers={"accept-encoding": "identity"},
        timeout=30,
    )
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    packed = requests.post(
        server.url + "/predict/batch",
        json=body,
        headers={"accept-encoding": "gzip"},
        timeout=30,
        stream=True,
    )
    assert packed.status_code == 200
    assert packed.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in packed.headers.get("vary", "").lower()
    sent = packed.raw.read(decode_content=False)
    assert len(sent) * 5 < len(plain.content), (len(sent), len(plain.content))

    def scores(results: dict[str, Any]) -> list[tuple[float, float]]:
        return [(x["probability"], x["score"]) for x in results["results"]]

    assert scores(json.loads(gzip.decompress(sent))) == scores(plain.json())
    one = requests.post(
        server.url + "/predict", json=SEED, headers={"accept-encoding": "gzip"}, timeout=30
    )
    assert one.status_code == 200 and "content-encoding" not in one.headers


def test_batch_limits_and_shapes(server: Server) -> None:
    r = server.post("/predict/batch", {"applicants": [SEED] * 1001})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "too_long"
    assert server.post("/predict/batch", {"applicants": []}).json()["results"] == []
    assert server.post("/predict/batch", [SEED]).status_code == 422
    assert server.post("/predict/batch", {"applicant": [SEED]}).status_code == 422
    assert server.post("/predict/batch", data=b'{"applicants": [').status_code == 400
    assert (
        server.post(
            "/predict/batch", {"applicants": [SEED]}, headers={"content-type": "text/csv"}
        ).status_code
        == 415
    )


def test_operations_endpoints(server: Server) -> None:
    assert server.get("/health").json() == {"status": "ok"}
    ready = server.get("/ready")
    assert (
        ready.status_code == 200
        and ready.json()["status"] == "ready"
        and ready.json()["log"] == "ok"
    )
    m = server.get("/model").json()
    assert m["model_version"] == VECTORS["model_version"]
    assert m["checksum"] == VECTORS["model_checksum"]
    assert 0 < m["threshold"] < 1 and m["metrics"]["cv"]["auc"] > 0.5
    assert [f["name"] for f in m["features"]] == VECTORS["feature_order"]
    assert all(f["description"] and f["range"] for f in m["features"])
    # Served from a file (MODEL, or the copy of it a reload test may have made the reference).
    assert m["source"]["kind"] == "file"
    assert Path(m["source"]["path"]).read_bytes() == MODEL.read_bytes()
    server.post("/predict", SEED)
    text = server.get("/metrics").text
    for needle in [
        'credit_http_requests_total{route="/predict",status="200"}',
        "credit_request_duration_seconds_bucket",
        "credit_decisions_total",
        "credit_log_queue_depth",
        "credit_log_write_failures_total",
        "credit_log_records_journaled_total",
        f'credit_model_info{{model_version="{VECTORS["model_version"]}"',
    ]:
        assert needle in text, needle


def test_openapi_and_docs_offline(server: Server) -> None:
    doc = server.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for p in (
        "/predict",
        "/predict/batch",
        "/health",
        "/ready",
        "/model",
        "/metrics",
        "/admin/reload",
    ):
        assert p in doc["paths"]
    app = doc["components"]["schemas"]["Applicant"]
    assert set(app["required"]) == {
        f for f in VECTORS["feature_order"] if f not in ("MonthlyIncome", "NumberOfDependents")
    }
    page = server.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "/openapi.json" in html
    # Everything it needs is inline: no external script, style or font.
    import re

    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.IGNORECASE)
    assert not re.search(r"""url\(\s*["']?(https?:)?//""", html, re.IGNORECASE)
    assert not re.search(r"""(import|fetch)\s*\(\s*["'](https?:)?//""", html, re.IGNORECASE)
    assert "https://" not in html and "http://" not in html


def test_request_ids(server: Server) -> None:
    r = server.post("/predict", SEED, headers={"x-request-id": "abc-123"})
    assert r.json()["request_id"] == "abc-123" and r.headers["x-request-id"] == "abc-123"
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    r = server.post("/predict", SEED, headers={"traceparent": tp})
    assert r.json()["request_id"] == "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
    a = server.post("/predict", SEED).json()["request_id"]
    b = server.post("/predict", SEED).json()["request_id"]
    assert a != b
    time.sleep(0.2)
    rows = {row["request_id"]: row for row in db_rows(server.tmp / "predictions.db")}
    assert "abc-123" in rows and a in rows and b in rows
    # A caller reusing an id is an ordinary request: its own decision id, the caller's id kept.
    again = server.post("/predict", SEED, headers={"x-request-id": "abc-123"})
    assert again.json()["request_id"] == "abc-123"
    time.sleep(0.2)
    logged = [
        row for row in db_rows(server.tmp / "predictions.db") if row["request_id"] == "abc-123"
    ]
    assert len(logged) == 2
    assert again.json()["decision_id"] in {row["decision_id"] for row in logged}
    # The trace id of a traceparent is kept as a correlation column.
    traced = [row for row in db_rows(server.tmp / "predictions.db") if row["trace_id"]]
    assert [row["trace_id"] for row in traced] == ["4bf92f3577b34da6a3ce929d0e0e4736"]


def test_log_record_shape(server: Server) -> None:
    r = server.post(
        "/predict",
        _with(MonthlyIncome=None, NumberOfDependents=...),
        headers={"x-request-id": "shape-1"},
    )
    assert r.status_code == 200
    body = r.json()
    # The loader puts the record into the table a few milliseconds after the answer.
    deadline = time.monotonic() + 10
    while not any(x["request_id"] == "shape-1" for x in db_rows(server.tmp / "predictions.db")):
        assert time.monotonic() < deadline, "shape-1 never reached the table"
        time.sleep(0.02)
    row = next(x for x in db_rows(server.tmp / "predictions.db") if x["request_id"] == "shape-1")
    assert row["decision_id"] == body["decision_id"] and row["trace_id"] is None
    assert row["ts"].endswith("Z") and row["ts"][10] == "T"
    assert row["model_version"] == body["model_version"]
    inp = json.loads(row["input"])
    assert list(inp) == VECTORS["feature_order"]
    assert inp["MonthlyIncome"] is None and inp["NumberOfDependents"] is None and inp["age"] == 45
    assert row["probability"] == body["probability"] and row["score"] == body["score"]
    assert row["prediction"] == body["prediction"]
    assert json.loads(row["reasons"]) == [x["code"] for x in body["reasons"]]
    assert row["latency_us"] >= 0


def test_cloud_logging_json(server: Server) -> None:
    lines = server.log_lines()
    assert lines, "no log lines"
    for line in lines:
        assert line["severity"] in ("DEBUG", "INFO", "WARNING", "ERROR")
        assert isinstance(line["message"], str) and line["time"].endswith("Z")
    assert any("listening" in line["message"] for line in lines)


def test_admin_reload(server: Server, tmp_path: Path) -> None:
    # Wrong or missing token.
    assert server.post("/admin/reload", None, data=b"").status_code == 401
    assert (
        server.post(
            "/admin/reload", None, data=b"", headers={"authorization": "Bearer nope"}
        ).status_code
        == 401
    )
    auth = {"authorization": "Bearer s3cret"}
    # A corrupt artifact is refused and the old model keeps serving.
    bad = tmp_path / "bad.json"
    art = json.loads(MODEL.read_text())
    art["intercept"] = art["intercept"] + 1.0  # checksum no longer matches
    bad.write_text(json.dumps(art))
    r = server.post("/admin/reload", {"path": str(bad)}, headers=auth)
    assert r.status_code == 422, r.text
    assert r.json()["model_version"] == VECTORS["model_version"]
    assert "checksum" in r.json()["detail"][0]["msg"]
    (tmp_path / "garbage.json").write_text("{not json")
    assert (
        server.post(
            "/admin/reload", {"path": str(tmp_path / "garbage.json")}, headers=auth
        ).status_code
        == 422
    )
    assert (
        server.post(
            "/admin/reload", {"path": str(tmp_path / "absent.json")}, headers=auth
        ).status_code
        == 409
    )
    assert server.post("/predict", SEED).json()["model_version"] == VECTORS["model_version"]
    # A good artifact swaps in while requests keep flowing: none is dropped.
    good = tmp_path / "good.json"
    shutil.copy(MODEL, good)
    statuses: list[int] = []
    stop = threading.Event()

    def load() -> None:
        with requests.Session() as s:
            while not stop.is_set():
                statuses.append(s.post(server.url + "/predict", json=SEED, timeout=30).status_code)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(10):
        r = server.post("/admin/reload", {"path": str(good)}, headers=auth)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "model_version": VECTORS["model_version"],
            "previous_version": VECTORS["model_version"],
            "reference": str(good),
            "registry_version": None,
        }
    # A reload that named a model made it the reference: a bodiless reload re-reads that one.
    r = server.post("/admin/reload", None, data=b"", headers=auth)
    assert r.status_code == 200 and r.json()["reference"] == str(good), r.text
    stop.set()
    for t in threads:
        t.join()
    assert statuses and set(statuses) == {200}
    assert server.get("/model").json()["source"] == {"kind": "file", "path": str(good)}
    # `model` is the new spelling of `path`; both at once must agree; references are checked.
    r = server.post("/admin/reload", {"model": str(MODEL), "path": str(good)}, headers=auth)
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "invalid_reference", r.text
    r = server.post("/admin/reload", {"model": "models:/credit-default/latest"}, headers=auth)
    assert r.status_code == 422 and "version" in r.json()["detail"][0]["msg"], r.text
    r = server.post("/admin/reload", {"model": "models:/credit-default@champion"}, headers=auth)
    assert (
        r.status_code == 409 and "models:/credit-default@champion" in r.json()["detail"][0]["msg"]
    ), r.text
    r = server.post("/admin/reload", {"model": str(MODEL)}, headers=auth)
    assert r.status_code == 200 and r.json()["reference"] == str(MODEL), r.text


def test_admin_off_without_token(make_server: Any, workdir: Path) -> None:
    s = make_server("--log", f"sqlite://{workdir}/p.db")
    assert (
        s.post("/admin/reload", None, data=b"", headers={"authorization": "Bearer x"}).status_code
        == 404
    )


def test_sighup_reloads(make_server: Any, workdir: Path) -> None:
    s = make_server("--log", f"sqlite://{workdir}/p.db")
    assert s.proc is not None
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline:
        if any("SIGHUP: model reloaded" in line["message"] for line in s.log_lines()):
            break
        time.sleep(0.1)
    else:
        pytest.fail("no reload after SIGHUP")
    assert s.post("/predict", SEED).status_code == 200


def test_static_web_dir(make_server: Any, workdir: Path) -> None:
    web = workdir / "web"
    (web / "assets").mkdir(parents=True)
    (web / "pkg").mkdir()
    (web / "index.html").write_text("<!doctype html><title>credit page</title>")
    (web / "assets" / "app.js").write_text("console.log(1)")
    (web / "pkg" / "core_bg.wasm").write_bytes(b"\0asm\1\0\0\0")
    (workdir / "secret.txt").write_text("secret")
    s = make_server("--log", f"sqlite://{workdir}/p.db", "--web-dir", str(web))
    for path in ("/", "/gradio", "/gradio/"):
        r = s.get(path)
        assert (
            r.status_code == 200
            and "credit page" in r.text
            and r.headers["content-type"].startswith("text/html")
        )
    assert s.get("/assets/app.js").headers["content-type"].startswith("text/javascript")
    for path in ("/pkg/core_bg.wasm", "/gradio/pkg/core_bg.wasm"):
        r = s.get(path)
        assert (
            r.status_code == 200
            and r.headers["content-type"] == "application/wasm"
            and r.content.startswith(b"\0asm")
        )
    assert s.get("/assets/../../secret.txt").status_code == 404
    assert s.get("/%2e%2e/secret.txt").status_code == 404
    assert s.get("/assets/missing.js").status_code == 404


def test_missing_web_dir_shows_how_to_build(server: Server) -> None:
    for path in ("/", "/gradio"):
        r = server.get(path)
        assert r.status_code == 200 and "make web" in r.text


def test_env_configuration(make_server: Any, workdir: Path) -> None:
    """Cloud Run style: PORT, CREDIT_MODEL, CREDIT_LOG from the environment."""
    from serve_helpers import free_port, wait_http

    port = free_port()
    env = dict(
        os.environ, PORT=str(port), CREDIT_MODEL=str(MODEL), CREDIT_LOG=f"jsonl://{workdir}/p.jsonl"
    )
    proc = subprocess.Popen(
        [str(CREDIT), "serve"],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc=proc)
        r = requests.post(
            f"http://127.0.0.1:{port}/predict",
            json=SEED,
            headers={"x-request-id": "env-1"},
            timeout=10,
        )
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    lines = [json.loads(x) for x in (workdir / "p.jsonl").read_text().splitlines()]
    assert [x["request_id"] for x in lines] == ["env-1"]


def test_bad_configuration_fails_fast(workdir: Path) -> None:
    for args in (
        ["--log", "postgres://x"],
        ["--durability", "sometimes"],
        ["--model", str(workdir / "absent.json")],
        ["--header-timeout", "0"],
        ["--body-timeout", "nan"],
        ["--body-timeout", "-1"],
        ["--max-connections", "0"],
    ):
        p = subprocess.run(
            [str(CREDIT), "serve", "--port", "0", *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
            cwd=workdir,
        )
        assert p.returncode != 0
        assert "panicked" not in p.stderr


def test_auth_scheme_is_case_insensitive(server: Server) -> None:
    """RFC 9110 §11.1: the scheme name is case-insensitive (`bearer`, `BEARER` are `Bearer`)."""
    for scheme in ("bearer", "BEARER", "BeArEr"):
        r = server.post(
            "/admin/reload", None, data=b"", headers={"authorization": f"{scheme} s3cret"}
        )
        assert r.status_code == 200, f"{scheme}: {r.status_code} {r.text}"
    for header in ("Basic s3cret", "Bearers3cret", "s3cret"):
        assert (
            server.post(
                "/admin/reload", None, data=b"", headers={"authorization": header}
            ).status_code
            == 401
        ), header


def test_credit_log_level_wins_over_rust_log(make_server: Any, workdir: Path) -> None:
    """CREDIT_LOG_LEVEL (or --log-level) is the service's own setting and wins over a RUST_LOG that an
    image or a shell sets by default; RUST_LOG applies when CREDIT_LOG_LEVEL is not set."""
    quiet = make_server(
        "--log", f"sqlite://{workdir}/q.db", env={"RUST_LOG": "info", "CREDIT_LOG_LEVEL": "warn"}
    )
    assert quiet.post("/predict", SEED).status_code == 200
    assert not [line for line in quiet.log_lines() if line["severity"] == "INFO"], quiet.log_lines()
    loud = make_server("--log", f"sqlite://{workdir}/l.db", env={"RUST_LOG": "info"})
    assert any("listening" in line["message"] for line in loud.log_lines())
