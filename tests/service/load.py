"""A small HTTP/1.1 load generator for the crash tests: asyncio, keep-alive connections, one
request in flight per connection. Python's `requests` in threads manages ~1.5k requests/s here;
this manages several times that, so 100,000 decisions take seconds, not minutes.

Every 200 is remembered as (request id, decision id): the tests then look for each answered
decision in the log, exactly once and under its own request id."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import Counter
from typing import Any, Self


class Load:
    """POSTs `/predict` from `connections` keep-alive connections in a background thread until
    `stop()` or until `total` requests got a 200. Connection failures (a killed server) are
    retried until stopped; they are counted, never confused with answers."""

    def __init__(
        self,
        port: int,
        body: dict[str, Any],
        connections: int = 32,
        total: int | None = None,
        request_id: str | None = None,
    ) -> None:
        self.port = port
        self.body = json.dumps(body).encode()
        self.connections = connections
        self.total = total
        self.request_id = request_id
        self.answered: list[tuple[str, str]] = []  # (request id, decision id) of each 200
        self.statuses: Counter[int] = Counter()
        self.retry_after: list[str] = []
        self.connection_errors = 0
        self.issued = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def wait_for(self, n: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(self.answered) < n and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.01)
        assert len(self.answered) >= n, f"only {len(self.answered)} answers ({dict(self.statuses)})"

    def done(self) -> bool:
        return not self._thread.is_alive()

    async def _main(self) -> None:
        await asyncio.gather(*(self._conn() for _ in range(self.connections)))

    def _enough(self) -> bool:
        """Stop sending: asked to, or `total` requests were sent (their answers still count)."""
        return self._stop.is_set() or (self.total is not None and self.issued >= self.total)

    async def _conn(self) -> None:
        while not self._enough():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                self.connection_errors += 1
                await asyncio.sleep(0.02)
                continue
            try:
                while not self._enough():
                    rid = self.request_id or uuid.uuid4().hex
                    self.issued += 1
                    writer.write(
                        b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                        + f"x-request-id: {rid}\r\ncontent-length: {len(self.body)}\r\n\r\n".encode()
                        + self.body
                    )
                    await writer.drain()
                    status, headers, body = await _response(reader)
                    self.statuses[status] += 1
                    if status == 200:
                        answer = json.loads(body)
                        assert answer["request_id"] == rid, (answer["request_id"], rid)
                        self.answered.append((rid, answer["decision_id"]))
                    elif status == 503 and "retry-after" in headers:
                        self.retry_after.append(headers["retry-after"])
            except (OSError, asyncio.IncompleteReadError, ValueError):
                self.connection_errors += 1
                if self.total is not None:
                    self.issued -= 1  # that request got no answer: send another
            finally:
                writer.close()


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


def check_each_answer_logged_once(
    answered: list[tuple[str, str]], logged: list[tuple[str, str]]
) -> None:
    """Every answered decision is in the log exactly once, under the request id it was answered
    with (none missing, none twice, none renamed); a decision id is never logged twice."""
    by_decision = Counter(d for _, d in logged)
    doubled = [d for d, n in by_decision.items() if n > 1]
    assert not doubled, f"{len(doubled)} decisions logged more than once, e.g. {doubled[:3]}"
    request_of = {d: r for r, d in logged}
    missing = [d for _, d in answered if d not in request_of]
    assert not missing, f"{len(missing)} of {len(answered)} answered decisions missing from the log"
    renamed = [(r, request_of[d]) for r, d in answered if request_of[d] != r]
    assert not renamed, (
        f"{len(renamed)} decisions logged under another request id, e.g. {renamed[:3]}"
    )
    assert len({d for _, d in answered}) == len(answered), "one decision id answered twice"
