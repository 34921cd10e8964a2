"""Clients that connect and then stall: each is cut off after the server's time limits
(`--header-timeout`, `--body-timeout`), and the server keeps answering everyone else.

Before, `credit serve` held such a connection for ever (checked once by hand: 45 s with half a
request head, 45 s idle after an answer, 40 s with half a body, all still open), so a few
thousand of them would use up its file descriptors.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from serve_helpers import SEED, Server, metric

LIMIT = 1.0  # seconds, both limits
HEAD = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


def _start(make_server: Any, workdir: Any) -> Server:
    return make_server(
        "--log",
        f"sqlite://{workdir}/p.db",
        "--header-timeout",
        str(LIMIT),
        "--body-timeout",
        str(LIMIT),
    )


def _connect(server: Server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)))
    s.settimeout(10 * LIMIT)
    return s


def _until_closed(s: socket.socket) -> tuple[float, bytes]:
    """Seconds until the server closes `s`, and what it sent before."""
    t, got = time.monotonic(), b""
    while chunk := s.recv(65536):
        got += chunk
    return time.monotonic() - t, got


def test_half_a_request_head_is_cut_off(make_server: Any, workdir: Any) -> None:
    server = _start(make_server, workdir)
    s = _connect(server)
    s.sendall(HEAD)  # no blank line: the head never ends
    waited, got = _until_closed(s)
    assert LIMIT * 0.9 <= waited < LIMIT * 5, waited
    assert got == b"" or got.startswith(b"HTTP/1.1 408"), got
    assert server.post("/predict", SEED).status_code == 200
    # Counted, for an operator's alert; the gauge holds the connections now open.
    assert metric(server, "credit_http_connections_timed_out_total") >= 1
    assert metric(server, "credit_http_connections_open") >= 1


def test_an_idle_kept_alive_connection_is_closed(make_server: Any, workdir: Any) -> None:
    server = _start(make_server, workdir)
    s = _connect(server)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    first = s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200"), first
    waited, _ = _until_closed(s)
    assert LIMIT * 0.9 <= waited < LIMIT * 5, waited


def test_half_a_body_gets_408_and_the_connection_closes(make_server: Any, workdir: Any) -> None:
    server = _start(make_server, workdir)
    s = _connect(server)
    s.sendall(HEAD + b"Content-Length: 100\r\n\r\n" + b'{"age": ')
    waited, got = _until_closed(s)
    assert LIMIT * 0.9 <= waited < LIMIT * 5, waited
    assert got.startswith(b"HTTP/1.1 408"), got
    assert b"request_timeout" in got and b"connection: close" in got.lower(), got
    assert server.post("/predict", SEED).status_code == 200


def test_many_stalled_clients_do_not_shut_others_out(make_server: Any, workdir: Any) -> None:
    server = _start(make_server, workdir)
    stalled = [_connect(server) for _ in range(200)]
    for s in stalled:
        s.sendall(HEAD)
    # While they stall, and after they are cut off, others are answered at once.
    assert server.post("/predict", SEED).status_code == 200
    time.sleep(LIMIT * 2)
    closed = 0
    for s in stalled:
        s.settimeout(0.5)
        try:
            closed += s.recv(1) == b""
        except TimeoutError:  # still open (an OSError too, so first)
            pass
        except ConnectionResetError:
            closed += 1
    assert closed == len(stalled)
    assert server.post("/predict", SEED).status_code == 200


def test_a_slow_but_steady_client_within_the_limits_is_answered(
    make_server: Any, workdir: Any
) -> None:
    server = _start(make_server, workdir)
    body = json.dumps(SEED).encode()
    s = _connect(server)
    s.sendall(HEAD + f"Content-Length: {len(body)}\r\n\r\n".encode())
    for k in range(0, len(body), len(body) // 4 + 1):
        time.sleep(LIMIT / 8)
        s.sendall(body[k : k + len(body) // 4 + 1])
    answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200"), answer


def test_http2_prior_knowledge_is_not_served(make_server: Any, workdir: Any) -> None:
    """An HTTP/2 connection preface gets no HTTP/2 (which hyper could not time out when idle):
    the connection is closed at once."""
    server = _start(make_server, workdir)
    s = _connect(server)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    waited, got = _until_closed(s)
    assert waited < LIMIT * 0.9, waited
    assert not got.startswith(b"\x00"), got  # no HTTP/2 SETTINGS frame
    assert server.post("/predict", SEED).status_code == 200


def test_past_the_connection_cap_new_clients_wait_for_a_slot(
    make_server: Any, workdir: Any
) -> None:
    """With --max-connections 4 and four stalled clients, a fifth client waits in the kernel's
    queue (no file descriptor spent on it) until the stalled ones are cut off, then is answered."""
    server = make_server(
        "--log",
        f"sqlite://{workdir}/p.db",
        "--header-timeout",
        str(LIMIT),
        "--max-connections",
        "4",
    )
    time.sleep(LIMIT * 1.5)  # the start-up check's own connection is gone
    stalled = [_connect(server) for _ in range(4)]
    for s in stalled:
        s.sendall(HEAD)
    t = time.monotonic()
    assert server.post("/predict", SEED).status_code == 200
    waited = time.monotonic() - t
    assert LIMIT * 0.5 <= waited < LIMIT * 5, waited
    assert metric(server, "credit_http_connections_open") <= 4
