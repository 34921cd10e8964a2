"""The prediction log: exactly one record per answered prediction, under concurrency, `kill -9`,
SIGTERM, a caller reusing its request id, a remote sink that is down (transient) or refuses for
good (permanent), and a full outbox."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from fake_sink import FakeBigQuery
from load import Load, check_each_answer_logged_once
from serve_helpers import CREDIT, MODEL, SEED, Server, db_rows, metric


def post_many(url: str, ids: list[str], workers: int = 32) -> dict[str, int]:
    """Posts one request per id concurrently; returns id → status (0 = no answer)."""
    out: dict[str, int] = {}
    local = threading.local()

    def one(i: str) -> None:
        s = getattr(local, "s", None)
        if s is None:
            s = local.s = requests.Session()
        try:
            r = s.post(url + "/predict", json=SEED, headers={"x-request-id": i}, timeout=30)
            out[i] = r.status_code
            if r.status_code == 200:
                assert r.json()["request_id"] == i
        except requests.RequestException:
            out[i] = 0

    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(one, ids))
    return out


def logged_sqlite(path: Path) -> list[tuple[str, str]]:
    return [(r["request_id"], r["decision_id"]) for r in db_rows(path)]


def logged_jsonl(path: Path) -> list[tuple[str, str]]:
    out = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)  # a torn line would fail here
        out.append((rec["request_id"], rec["decision_id"]))
    return out


def wait_until(cond: Any, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_rows(path: Path, n: int, table: str = "predictions") -> None:
    """A record is in the journal's segment when its answer leaves and in the SQLite table a few
    milliseconds later (the loader): tests that read the table of a running server wait for it."""
    wait_until(lambda: len(db_rows(path, table)) >= n, timeout=30, what=f"{n} rows in {table}")


def test_a_second_server_on_the_same_journal_refuses_to_start(
    make_server: Any, workdir: Path
) -> None:
    """Each server appends to its journal's segment files and loads them; a second server on the
    same journal would replay the first one's segments (loading its records twice) and write
    into the same files. It must refuse to start, saying why, and the first keeps logging."""
    db = workdir / "shared.db"
    first: Server = make_server("--log", f"sqlite://{db}")
    second: Server = make_server("--log", f"sqlite://{db}", start=False)
    with open(second.log_path, "ab") as out:
        proc = subprocess.Popen(
            [
                str(CREDIT),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(second.port),
                "--model",
                str(MODEL),
                *second.args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=second.env,
            cwd=second.tmp,
        )
    try:
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("a second server on the same journal started") from None
    said = second.log_path.read_text(errors="replace")
    assert code != 0, said
    assert "in use" in said and str(db) in said, said
    ids = [f"after-{i}" for i in range(50)]
    assert set(post_many(first.url, ids).values()) == {200}
    wait_rows(db, 50)
    assert sorted(r for r, _ in logged_sqlite(db)) == sorted(ids)


def test_concurrent_requests_exactly_n_rows(make_server: Any, workdir: Path) -> None:
    s: Server = make_server("--log", f"sqlite://{workdir}/p.db")
    with Load(s.port, SEED, connections=32, total=2000) as load:
        wait_until(load.done, timeout=60, what="2000 answers")
    assert dict(load.statuses) == {200: 2000}
    # Strict durability: every record was in the journal's segment before its 200 was sent; the
    # loader puts it into the table a few milliseconds later.
    wait_rows(workdir / "p.db", 2000)
    check_each_answer_logged_once(load.answered, logged_sqlite(workdir / "p.db"))
    assert len(db_rows(workdir / "p.db")) == 2000
    assert metric(s, "credit_log_records_journaled_total") == 2000
    # Without --fsync each handler appends its own record to the segment (one write each, no
    # thread hop: log/appender.rs), and the loader groups them into SQLite transactions; one
    # transaction per record (2000) would mean that grouping is broken. How much they share
    # depends on scheduling, so no ratio is asserted here.
    assert metric(s, "credit_log_commits_total") <= 2000
    transactions = metric(s, "credit_log_load_transactions_total")
    assert 0 < transactions < 2000, transactions


def test_reused_request_id_5000_times_is_logged_5000_times(make_server: Any, workdir: Path) -> None:
    """A client or proxy sending one constant X-Request-Id: every request is an ordinary decision.
    (Before decision ids, the 1,000th reuse exhausted the `~N` suffixes: 503s after ~3 s each.)"""
    s: Server = make_server("--log", f"sqlite://{workdir}/p.db")
    with Load(s.port, SEED, connections=16, total=5000, request_id="constant-id") as load:
        wait_until(load.done, timeout=120, what="5000 answers")
    assert load.connection_errors == 0
    assert dict(load.statuses) == {200: 5000}
    wait_rows(workdir / "p.db", 5000)
    logged = logged_sqlite(workdir / "p.db")
    assert len(logged) == 5000 and {r for r, _ in logged} == {"constant-id"}
    check_each_answer_logged_once(load.answered, logged)


def test_kill9_under_load_loses_no_answered_prediction(make_server: Any, workdir: Path) -> None:
    s: Server = make_server("--log", f"sqlite://{workdir}/p.db")
    with Load(s.port, SEED) as load:
        load.wait_for(3000)
        s.kill9()
    assert load.answered
    # Restart on the same journal: before serving it loads what the killed server had written to
    # its segments but not yet into the table, and keeps logging.
    s.start()
    check_each_answer_logged_once(load.answered, logged_sqlite(workdir / "p.db"))
    r = s.post("/predict", SEED, headers={"x-request-id": "after-restart"})
    assert r.status_code == 200
    wait_rows(workdir / "p.db", len(load.answered) + 1)
    assert ("after-restart", r.json()["decision_id"]) in logged_sqlite(workdir / "p.db")


def test_kill9_with_remote_sink_ships_each_answer_once(make_server: Any, workdir: Path) -> None:
    """kill -9 mid-load with the jsonl sink: at the next start every answered decision is shipped,
    once (the sink skips what a killed shipper had written but not yet confirmed, and drops a torn
    last line)."""
    out = workdir / "log.jsonl"
    s: Server = make_server("--log", f"jsonl://{out}")
    answered: list[tuple[str, str]] = []
    for _ in range(3):
        with Load(s.port, SEED) as load:
            load.wait_for(len(answered) + 1500)
            s.kill9()
        answered += load.answered
        s.start()  # ships what the journal still holds
    wait_until(
        lambda: len(db_rows(Path(str(out) + ".outbox.db"), "outbox")) == 0,
        what="the outbox to empty",
    )
    assert s.terminate() == 0
    check_each_answer_logged_once(answered, logged_jsonl(out))


def test_sigterm_under_load_drains(make_server: Any, workdir: Path) -> None:
    out = workdir / "log.jsonl"
    s: Server = make_server("--log", f"jsonl://{out}")
    with Load(s.port, SEED) as load:
        load.wait_for(2000)
        t0 = time.monotonic()
        code = s.terminate(timeout=15)
        elapsed = time.monotonic() - t0
    assert code == 0
    assert elapsed < 10, f"drain took {elapsed:.1f}s (Cloud Run allows 10 s)"
    # Requests in flight at the signal finish normally: no 503, no other error status.
    assert set(load.statuses) == {200}, dict(load.statuses)
    check_each_answer_logged_once(load.answered, logged_jsonl(out))
    lines = s.log_lines()
    assert any("prediction log drained" in line["message"] for line in lines)
    # Nothing left behind in the outbox.
    assert db_rows(Path(str(out) + ".outbox.db"), "outbox") == []


def test_sink_refusing_forever_ends_in_dead_letters(make_server: Any, workdir: Path) -> None:
    """A permanent sink error (403: the service account lacks the IAM role) is not retried forever:
    after --dead-letter-after attempts the records move to dead_letter, with the error, while the
    service keeps answering; /metrics and /ready say so."""
    sink = FakeBigQuery(mode=403)
    try:
        journal = workdir / "outbox.db"
        s: Server = make_server(
            "--log",
            "bigquery://p/d/t",
            "--journal",
            str(journal),
            "--dead-letter-after",
            "3",
            env={"BIGQUERY_API_BASE": sink.api_base},
        )
        ids = [f"dl-{i}" for i in range(50)]
        assert set(post_many(s.url, ids, workers=8).values()) == {200}
        wait_until(
            lambda: metric(s, "credit_log_dead_letters") == 50, timeout=30, what="50 dead letters"
        )
        assert metric(s, "credit_log_outbox_pending") == 0
        assert metric(s, "credit_log_ship_failures_total") >= 3
        dead = db_rows(journal, "dead_letter")
        assert sorted(r["request_id"] for r in dead) == sorted(ids)
        assert all("403" in r["error"] and "PERMISSION_DENIED" in r["error"] for r in dead)
        assert all(r["attempts"] == 3 and r["decision_id"] for r in dead)
        assert db_rows(journal, "outbox") == []
        # Still answering, still ready (the journal itself is fine), and the body tells.
        assert s.post("/predict", SEED).status_code == 200
        ready = s.get("/ready")
        assert ready.status_code == 200 and ready.json()["outbox"]["dead_letters"] >= 50
        assert sink.rows == {}
    finally:
        sink.close()


def test_full_outbox_answers_503_with_retry_after_then_recovers(
    make_server: Any, workdir: Path
) -> None:
    """The sink is down (503, transient): the outbox fills to --max-pending, then strict requests
    get 503 + Retry-After (counted) instead of growing the journal without limit. When the sink
    comes back, the outbox drains and requests succeed again; every answered decision arrives once."""
    sink = FakeBigQuery(mode=503)
    try:
        journal = workdir / "outbox.db"
        s: Server = make_server(
            "--log",
            "bigquery://p/d/t",
            "--journal",
            str(journal),
            "--max-pending",
            "40",
            env={"BIGQUERY_API_BASE": sink.api_base},
        )
        answered = []
        codes = []
        for i in range(60):
            r = s.post("/predict", SEED, headers={"x-request-id": f"full-{i}"})
            codes.append(r.status_code)
            if r.status_code == 200:
                answered.append((f"full-{i}", r.json()["decision_id"]))
            else:
                assert r.status_code == 503 and r.headers["retry-after"] == "2", (
                    r.status_code,
                    r.text,
                )
                assert r.json()["detail"][0]["type"] == "log_unavailable" and "outbox" in r.text
        assert codes == [200] * 40 + [503] * 20
        assert metric(s, "credit_log_rejected_total") == 20
        wait_rows(journal, 40, "outbox")
        assert len(db_rows(journal, "outbox")) == 40
        ready = s.get("/ready").json()
        assert ready["status"] == "ready" and ready["outbox"]["full"] is True
        assert metric(s, "credit_log_oldest_pending_seconds") > 0
        sink.mode = "ok"
        wait_until(
            lambda: metric(s, "credit_log_outbox_pending") == 0,
            timeout=60,
            what="the outbox to drain",
        )
        r = s.post("/predict", SEED, headers={"x-request-id": "after"})
        assert r.status_code == 200
        answered.append(("after", r.json()["decision_id"]))
        wait_until(lambda: len(sink.rows) == 41, timeout=30, what="41 rows in the sink")
        check_each_answer_logged_once(answered, sink.received)
        assert s.terminate() == 0
    finally:
        sink.close()


def test_full_outbox_with_relaxed_durability_drops_and_counts(
    make_server: Any, workdir: Path
) -> None:
    sink = FakeBigQuery(mode=503)
    try:
        s: Server = make_server(
            "--log",
            "bigquery://p/d/t",
            "--journal",
            str(workdir / "o.db"),
            "--max-pending",
            "10",
            "--durability",
            "relaxed",
            env={"BIGQUERY_API_BASE": sink.api_base},
        )
        for _ in range(10):
            assert s.post("/predict", SEED).status_code == 200
        wait_until(lambda: metric(s, "credit_log_outbox_pending") == 10, what="10 pending")
        for _ in range(5):
            assert s.post("/predict", SEED).status_code == 200
        assert metric(s, "credit_log_dropped_total") == 5
        assert metric(s, "credit_log_rejected_total") == 0
    finally:
        sink.close()


def test_ready_checks_the_journal_by_writing(make_server: Any, workdir: Path) -> None:
    """/ready writes to the journal: another process holding its write lock makes it 503 with the
    reason (a flag set by the last request's write would still say ok), and it recovers."""
    db = workdir / "p.db"
    s: Server = make_server("--log", f"sqlite://{db}")
    assert s.get("/ready").status_code == 200
    time.sleep(1.1)  # past the reuse window of the last check
    blocker = sqlite3.connect(db, timeout=10, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        r = s.get("/ready", timeout=10)
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "unavailable" and body["log"] == "failing" and body["log_error"]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    wait_until(lambda: s.get("/ready").status_code == 200, timeout=15, what="ready again")


def test_relaxed_durability_still_logs(make_server: Any, workdir: Path) -> None:
    s: Server = make_server("--log", f"sqlite://{workdir}/p.db", "--durability", "relaxed")
    ids = [f"relaxed-{i}" for i in range(100)]
    assert set(post_many(s.url, ids, workers=8).values()) == {200}
    assert s.terminate() == 0
    assert sorted(r["request_id"] for r in db_rows(workdir / "p.db")) == sorted(ids)


def test_jsonl_records_have_the_contract_shape(make_server: Any, workdir: Path) -> None:
    out = workdir / "log.jsonl"
    s: Server = make_server("--log", f"jsonl://{out}")
    body = s.post("/predict", SEED, headers={"x-request-id": "jl-1"}).json()
    assert s.terminate() == 0
    rec = json.loads(out.read_text().splitlines()[0])
    assert set(rec) == {
        "decision_id",
        "request_id",
        "trace_id",
        "ts",
        "model_version",
        "input",
        "probability",
        "prediction",
        "score",
        "reasons",
        "latency_us",
    }
    assert rec["request_id"] == "jl-1" and rec["probability"] == body["probability"]
    assert rec["decision_id"] == body["decision_id"] and rec["trace_id"] is None
    assert rec["input"] == {k: float(v) for k, v in SEED.items()}
    assert rec["reasons"] == [r["code"] for r in body["reasons"]]


def test_unwritable_journal_fails_fast(workdir: Path) -> None:
    import subprocess

    from serve_helpers import CREDIT, MODEL

    blocker = workdir / "file"
    blocker.write_text("x")
    p = subprocess.run(
        [
            str(CREDIT),
            "serve",
            "--port",
            "0",
            "--model",
            str(MODEL),
            "--log",
            f"sqlite://{blocker}/p.db",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode != 0 and "prediction log" in (p.stderr + p.stdout)


def test_fsync_mode(make_server: Any, workdir: Path) -> None:
    """`--fsync` (SQLite synchronous=FULL): same exactly-once log, each group commit fsynced.
    Here only the writer thread writes, in groups: 16 concurrent clients share fdatasyncs (one
    commit per request would mean the group commit is broken; how much they share depends on
    scheduling, the deterministic form is journal.rs's records_queued_together_share_one_commit)."""
    s: Server = make_server("--log", f"sqlite://{workdir}/p.db", "--fsync")
    ids = [f"fsync-{i}" for i in range(100)]
    assert set(post_many(s.url, ids, workers=16).values()) == {200}
    wait_rows(workdir / "p.db", 100)
    assert sorted(r["request_id"] for r in db_rows(workdir / "p.db")) == sorted(ids)
    commits = metric(s, "credit_log_commits_total")
    assert 0 < commits < 100, commits
    assert s.terminate() == 0


def test_journal_dir_adopts_the_journal_of_a_killed_instance(
    make_server: Any, workdir: Path
) -> None:
    """Cloud Run set-up (a): instances share a directory (an NFS volume). Instance A answers while
    the sink is down and is killed (-9: no drain). Instance B, started on the same directory once
    A's lease is stale, adopts A's journal and ships every decision A answered, once."""
    shared = workdir / "journals"
    sink = FakeBigQuery(mode=503)
    try:
        args = (
            "--log",
            "bigquery://p/d/t",
            "--journal-dir",
            str(shared),
            "--journal-stale-after",
            "2",
        )
        env = {"BIGQUERY_API_BASE": sink.api_base}
        a: Server = make_server(*args, env=env)
        answered = []
        for i in range(30):
            r = a.post("/predict", SEED, headers={"x-request-id": f"a-{i}"})
            assert r.status_code == 200
            answered.append((f"a-{i}", r.json()["decision_id"]))
        a.kill9()
        assert len(list(shared.glob("journal-*.db"))) == 1
        sink.mode = "ok"
        time.sleep(2.5)  # A's lease goes stale
        b: Server = make_server(*args, env=env)
        r = b.post("/predict", SEED, headers={"x-request-id": "b-0"})
        answered.append(("b-0", r.json()["decision_id"]))
        wait_until(lambda: len(sink.rows) == 31, timeout=30, what="31 rows in the sink")
        check_each_answer_logged_once(answered, sink.received)
        assert any("adopted the journals" in line["message"] for line in b.log_lines())
        assert b.get("/health").status_code == 200
        # A clean stop with an empty outbox removes B's journal and lease.
        assert b.terminate() == 0
        assert sorted(p.name for p in shared.iterdir()) == []
    finally:
        sink.close()


def test_serves_on_a_journal_written_before_decision_ids(make_server: Any, workdir: Path) -> None:
    """Journals of the previous version (fixtures written by it: caller ids as keys, `~2` suffixes, an
    outbox with rows a failing sink left behind) are migrated on open: the old records keep their
    request ids and gain decision ids, the pending ones ship, new ones follow."""
    fixtures = Path(__file__).parent / "fixtures"
    db = workdir / "p.db"
    shutil.copy(fixtures / "journal-v1-predictions.db", db)
    s: Server = make_server("--log", f"sqlite://{db}")
    r = s.post("/predict", SEED, headers={"x-request-id": "v1-a"})
    assert r.status_code == 200
    wait_rows(db, 7)
    rows = db_rows(db)
    assert sorted(x["request_id"] for x in rows) == sorted(
        ["v1-a", "v1-b", "v1-a~2", "v1-c", "v1-batch-0", "v1-batch-1", "v1-a"]
    )
    assert len({x["decision_id"] for x in rows}) == 7
    assert s.terminate() == 0

    out = workdir / "log.jsonl"
    outbox = workdir / "outbox.db"
    shutil.copy(fixtures / "journal-v1-outbox.db", outbox)
    s2: Server = make_server("--log", f"jsonl://{out}", "--journal", str(outbox))
    wait_until(
        lambda: out.exists() and len(out.read_text().splitlines()) == 3,
        what="3 old records shipped",
    )
    shipped = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["request_id"] for x in shipped] == ["ob-1", "ob-2", "ob-1~2"]
    assert all(len(x["decision_id"]) == 36 for x in shipped)
    assert s2.terminate() == 0
