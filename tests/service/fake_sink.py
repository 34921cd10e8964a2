"""A BigQuery `tabledata.insertAll` endpoint whose answers the test chooses: it stores rows like
BigQuery (de-duplicating by insertId), or fails the way Google's front end fails, with Google's
error body. The real emulator cannot be told to answer 403 (a missing IAM role) or 503, so
failure injection uses this; the wire format on both sides is BigQuery's."""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from serve_helpers import free_port

ERRORS = {
    403: (
        "PERMISSION_DENIED",
        "accessDenied",
        (
            "Access Denied: Table p:d.t: Permission bigquery.tables.updateData denied on table p:d.t "
            "(or it may not exist)."
        ),
    ),
    404: ("NOT_FOUND", "notFound", "Not found: Table p:d.t"),
    503: ("UNAVAILABLE", "backendError", "The service is currently unavailable."),
}


class FakeBigQuery:
    """`mode` is "ok" or an HTTP status from ERRORS; switch it at any time."""

    def __init__(self, mode: str | int = "ok") -> None:
        self.mode: str | int = mode
        self.rows: dict[str, dict[str, Any]] = {}  # insertId -> row json (what BigQuery keeps)
        self.received: list[
            tuple[str, str]
        ] = []  # (request_id, insertId) of every row accepted, repeats too
        self.requests = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-encoding") == "gzip":
                    raw = gzip.decompress(raw)
                with fake.lock:
                    fake.requests += 1
                    mode = fake.mode
                    if not self.path.endswith("/insertAll"):
                        self._send(
                            404,
                            {
                                "error": {
                                    "code": 404,
                                    "message": self.path,
                                    "errors": [],
                                    "status": "NOT_FOUND",
                                }
                            },
                        )
                        return
                    if mode == "ok":
                        body = json.loads(raw)
                        for r in body["rows"]:
                            fake.rows.setdefault(r["insertId"], r["json"])
                            fake.received.append((r["json"]["request_id"], r["insertId"]))
                        self._send(200, {"kind": "bigquery#tableDataInsertAllResponse"})
                        return
                status, reason, message = ERRORS[int(mode)]
                self._send(
                    int(mode),
                    {
                        "error": {
                            "code": int(mode),
                            "message": message,
                            "status": status,
                            "errors": [{"message": message, "domain": "global", "reason": reason}],
                        }
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=UTF-8")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
