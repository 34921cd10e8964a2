"""The prediction log's promise at volume (`make test-crash`, part of `make test`, ~25 s; also `make test-slow`):
100,000 answered decisions per run, a `kill -9` or a SIGTERM in the middle, and
every answered decision id counted in the log: 0 missing, none twice, none renamed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from load import Load, check_each_answer_logged_once
from serve_helpers import SEED, Server, db_rows

pytestmark = pytest.mark.slow
TOTAL = 100_000


def run_in_two_halves(s: Server, stop: str) -> list[tuple[str, str]]:
    """Load until half of TOTAL is answered, stop the server the given way mid-load, restart
    it on the same journal, load until TOTAL answers in all, then stop it with SIGTERM."""
    answered: list[tuple[str, str]] = []
    with Load(s.port, SEED, connections=48) as load:
        load.wait_for(TOTAL // 2, timeout=600)
        if stop == "kill9":
            s.kill9()
        else:
            assert s.terminate(timeout=15) == 0
    answered += load.answered
    if stop == "sigterm":
        # Graceful: requests in flight at the signal were answered, nothing else.
        assert set(load.statuses) == {200}, dict(load.statuses)
    s.start()
    with Load(s.port, SEED, connections=48, total=TOTAL - len(answered)) as load:
        load.wait_for(TOTAL - len(answered), timeout=600)
    answered += load.answered
    assert s.terminate(timeout=15) == 0
    assert len(answered) >= TOTAL
    return answered


def test_100k_decisions_kill9_mid_load_jsonl_sink(make_server: Any, workdir: Path) -> None:
    out = workdir / "log.jsonl"
    s: Server = make_server("--log", f"jsonl://{out}")
    answered = run_in_two_halves(s, "kill9")
    logged = [
        (r["request_id"], r["decision_id"]) for r in map(json.loads, out.read_text().splitlines())
    ]
    check_each_answer_logged_once(answered, logged)
    assert db_rows(Path(str(out) + ".outbox.db"), "outbox") == []


def test_100k_decisions_sigterm_mid_load_sqlite_sink(make_server: Any, workdir: Path) -> None:
    db = workdir / "p.db"
    s: Server = make_server("--log", f"sqlite://{db}")
    t0 = time.monotonic()
    answered = run_in_two_halves(s, "sigterm")
    logged = [(r["request_id"], r["decision_id"]) for r in db_rows(db)]
    check_each_answer_logged_once(answered, logged)
    # SIGTERM is graceful: nothing committed that was not answered.
    assert len(logged) == len(answered), (len(logged), len(answered))
    assert time.monotonic() - t0 < 600
