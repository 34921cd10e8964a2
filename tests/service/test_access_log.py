"""`credit serve`'s access log and trace fields, through the real binary and its stdout: one
`httpRequest` line per request, Cloud Logging's trace / spanId on every line of a request (the
access line and any other line the handler writes), and no applicant data in the log."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import requests
from serve_helpers import MODEL, SEED, Server

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{SPAN}-01"
# Cloud Logging's LogEntry.httpRequest.latency: a protobuf Duration in its JSON form ("0.000123s").
LATENCY = re.compile(r"^[0-9]+(\.[0-9]{1,9})?s$")


def access_lines(s: Server, request_id: str | None = None) -> list[dict[str, Any]]:
    """The access lines of the server's log, of one request id when given."""
    return [
        line
        for line in s.log_lines()
        if "httpRequest" in line and (request_id is None or line.get("request_id") == request_id)
    ]


def wait_lines(s: Server, pred: Any, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The log lines matching `pred`, once there is at least one (stdout reaches the file a moment
    after the response reaches us)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in s.log_lines() if pred(line)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def one_access_line(s: Server, request_id: str) -> dict[str, Any]:
    found = wait_lines(
        s, lambda line: "httpRequest" in line and line.get("request_id") == request_id
    )
    time.sleep(0.1)  # a second line for the same request would be a bug: give it time to show
    found = access_lines(s, request_id)
    assert len(found) == 1, found
    return found[0]


def test_access_line_carries_the_trace_and_no_applicant_data(
    make_server: Any, workdir: Path
) -> None:
    s = make_server("--log", f"sqlite://{workdir}/p.db", env={"GOOGLE_CLOUD_PROJECT": "p1"})
    # A query string could carry data too: it must not reach the log.
    r = s.post("/predict?MonthlyIncome=777111", SEED, headers={"traceparent": TRACEPARENT})
    assert r.status_code == 200, r.text
    request_id = r.headers["x-request-id"]
    line = one_access_line(s, request_id)
    assert line["severity"] == "INFO"
    assert line["message"] == "request"
    assert line["logging.googleapis.com/trace"] == f"projects/p1/traces/{TRACE}"
    assert line["logging.googleapis.com/spanId"] == SPAN
    http = line["httpRequest"]
    assert http["requestMethod"] == "POST"
    assert http["requestUrl"] == "/predict"
    assert http["status"] == 200
    assert LATENCY.match(http["latency"]), http
    decision = r.headers.get("x-decision-id")
    if decision is not None:
        assert line["decision_id"] == decision
    # Nothing of the applicant anywhere in the log, and no header beyond the ids.
    text = s.log_path.read_text()
    for value in (
        "0.766127",
        "0.802982",
        "9120",
        "777111",
        "MonthlyIncome",
        "RevolvingUtilization",
    ):
        assert value not in text, value
    assert "application/json" not in text and "python-requests" not in text


def test_one_access_line_per_status(make_server: Any, workdir: Path) -> None:
    s = make_server("--log", f"sqlite://{workdir}/p.db")
    cases = [
        ("POST", "/predict", {**SEED, "age": -3}, 422),
        ("GET", "/no/such/page", None, 404),
        ("POST", "/predict", b"{" + b" " * (70 * 1024) + b"}", 413),
        ("POST", "/predict", b"{not json", 400),
        ("GET", "/health", None, 200),
        ("DELETE", "/predict", None, 405),
    ]
    for i, (method, path, body, status) in enumerate(cases):
        rid = f"status-{i}"
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        r = requests.request(
            method,
            s.url + path,
            data=data,
            timeout=30,
            headers={"content-type": "application/json", "x-request-id": rid},
        )
        assert r.status_code == status, (path, r.status_code, r.text)
        line = one_access_line(s, rid)
        assert line["httpRequest"]["status"] == status
        assert line["httpRequest"]["requestMethod"] == method
        assert line["httpRequest"]["requestUrl"] == path
        assert LATENCY.match(line["httpRequest"]["latency"])
        # No trace context in these requests: no trace fields either.
        assert (
            "logging.googleapis.com/trace" not in line
            and "logging.googleapis.com/spanId" not in line
        )


def test_other_lines_of_a_request_carry_its_trace(
    make_server: Any, workdir: Path, tmp_path: Path
) -> None:
    s = make_server(
        "--log",
        f"sqlite://{workdir}/p.db",
        env={"CREDIT_ADMIN_TOKEN": "tok", "GOOGLE_CLOUD_PROJECT": "p1"},
    )
    r = s.post(
        "/admin/reload",
        {"path": str(tmp_path / "absent.json")},
        headers={
            "authorization": "Bearer tok",
            "traceparent": TRACEPARENT,
            "x-request-id": "reload-1",
        },
    )
    assert r.status_code == 409, r.text
    refused = wait_lines(s, lambda line: "reload refused" in line["message"])
    assert len(refused) == 1, refused
    assert refused[0]["severity"] == "WARNING"
    assert refused[0]["logging.googleapis.com/trace"] == f"projects/p1/traces/{TRACE}"
    assert refused[0]["logging.googleapis.com/spanId"] == SPAN
    assert refused[0]["request_id"] == "reload-1"
    access = one_access_line(s, "reload-1")
    assert access["httpRequest"]["status"] == 409
    assert access["logging.googleapis.com/trace"] == refused[0]["logging.googleapis.com/trace"]
    # A good reload: its info line too.
    r = s.post(
        "/admin/reload",
        {"path": str(MODEL)},
        headers={"authorization": "Bearer tok", "x-cloud-trace-context": f"{TRACE}/12345;o=1"},
    )
    assert r.status_code == 200, r.text
    reloaded = wait_lines(s, lambda line: line["message"] == "model reloaded")
    assert len(reloaded) == 1, reloaded
    assert reloaded[0]["logging.googleapis.com/trace"] == f"projects/p1/traces/{TRACE}"
    assert reloaded[0]["logging.googleapis.com/spanId"] == "12345"
    # Lines outside any request (start-up) have no trace.
    assert not any(
        "logging.googleapis.com/trace" in line
        for line in s.log_lines()
        if "listening" in line["message"]
    )


def test_warn_level_drops_the_access_line_but_keeps_trace_on_warnings(
    make_server: Any, workdir: Path, tmp_path: Path
) -> None:
    s = make_server(
        "--log",
        f"sqlite://{workdir}/p.db",
        "--log-level",
        "warn",
        env={"CREDIT_ADMIN_TOKEN": "tok"},
    )
    assert s.post("/predict", SEED, headers={"x-request-id": "quiet-1"}).status_code == 200
    r = s.post(
        "/admin/reload",
        {"path": str(tmp_path / "absent.json")},
        headers={"authorization": "Bearer tok", "traceparent": TRACEPARENT},
    )
    assert r.status_code == 409
    refused = wait_lines(s, lambda line: "reload refused" in line["message"])
    assert len(refused) == 1
    # Without GOOGLE_CLOUD_PROJECT the trace id stands alone.
    assert refused[0]["logging.googleapis.com/trace"] == TRACE
    assert refused[0]["logging.googleapis.com/spanId"] == SPAN
    assert access_lines(s) == []


def test_concurrent_requests_give_whole_lines_one_each(make_server: Any, workdir: Path) -> None:
    s = make_server("--log", f"sqlite://{workdir}/p.db", "--durability", "relaxed")
    n_threads, per_thread = 8, 50
    errors: list[str] = []

    def run(t: int) -> None:
        with requests.Session() as session:
            for i in range(per_thread):
                r = session.post(
                    s.url + "/predict",
                    json=SEED,
                    headers={"x-request-id": f"c-{t}-{i}"},
                    timeout=30,
                )
                if r.status_code != 200:
                    errors.append(r.text)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    want = {f"c-{t}-{i}" for t in range(n_threads) for i in range(per_thread)}
    deadline = time.monotonic() + 5
    while True:
        lines = access_lines(s)  # json.loads of every line: an interleaved line would raise here
        got = [line["request_id"] for line in lines if line.get("request_id") in want]
        if len(got) >= len(want) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sorted(got) == sorted(want)
