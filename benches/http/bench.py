"""HTTP benchmark: `credit serve` (strict and relaxed prediction log) against a bare axum server and
the seed's FastAPI design.

Every server is started on a free loopback port, checked with one real request and warmed up; then
`wrk` loads them in rounds (POST /predict, the seed's example applicant; by default `wrk -t1 -c32
-d8s`, the load issue #13 measured with), one server after the other in each round, so that a
burst of load from elsewhere on a shared machine falls on every server alike rather than on the
one measured at that moment. Reported per server: requests/s, p50/p90/p99/max latency (medians
over the rounds), peak RSS (VmHWM from /proc/PID/status), errors and, for `credit serve`, the rows
its SQLite prediction log holds afterwards (every answer must be logged) and the largest size its
`-wal` file reached during the measured runs (the checkpointer bounds it).

The reference points:
- bare axum (benches/src/bin/bare_axum.rs): reads the body and answers fixed JSON of the same
  length as `credit serve`'s answer, on the same tokio runtime. It is the floor any axum service
  has on this machine; the strict log's targets are ratios to it, because absolute figures depend
  on the machine and the strict log's tail also on the disk (hence the filesystem in the header).
- FastAPI (fastapi_ref/app.py): the seed's design, for the speed-up over the old service.

`credit serve` runs as a user runs it: default log level (an access-log line per request on
stdout, redirected to a file here). `--also-log-level-warn` adds a strict run without the access
log, to show what it costs; `--extra-credit LABEL=PATH` adds another build (strict log), e.g. the
one before a change, measured side by side in the same rounds.

The markdown table is printed and written to --out. Targets are checked and reported, not enforced
(exit status 0): the machine is shared and its load is reported alongside.

Usage: python benches/http/bench.py --credit target/release/credit \
           --bare-axum target/release/bare_axum --model models/default.json \
           --data "$CREDIT_DATA" --out .work/bench/http.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from machine import cpu_info, cpu_line  # benches/machine.py, shared by the benches

HERE = Path(__file__).resolve().parent
LUA = HERE / "predict.lua"
SEED_BODY = json.dumps(
    {
        "RevolvingUtilizationOfUnsecuredLines": 0.766126609,
        "age": 45,
        "NumberOfTime30_59DaysPastDueNotWorse": 2,
        "DebtRatio": 0.802982129,
        "MonthlyIncome": 9120,
        "NumberOfOpenCreditLinesAndLoans": 13,
        "NumberOfTimes90DaysLate": 0,
        "NumberRealEstateLoansOrLines": 6,
        "NumberOfTime60_89DaysPastDueNotWorse": 0,
        "NumberOfDependents": 2,
    }
).encode()

# The absolute targets for `credit serve` with strict logging on a 2-core machine.
TARGET_RPS = 30_000.0
TARGET_P99_MS = 5.0
TARGET_SPEEDUP = 60.0
TARGET_RSS_MIB = 20.0
# Issue #13's targets as ratios to the bare-axum reference measured in the same run.
TARGET_BARE_RPS_RATIO = 0.70
TARGET_BARE_P99_RATIO = 3.0

BARE_NAME = "bare axum (reference: body in, fixed JSON out)"
FASTAPI_NAME = "FastAPI reference (seed design)"
STRICT_NAME = "credit serve, log strict"
# Server logs larger than this are cut to their head and tail after the run (the access log
# writes a line per request: hundreds of MiB per server otherwise).
LOG_KEEP_BYTES = 256 * 1024


@dataclass
class Server:
    """One server under test: how to start it, where it answers and what it logs to."""

    name: str
    argv: list[str]
    ready_path: str
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    journal: Path | None = None


@dataclass
class Running:
    """A started server and what the rounds collect for it."""

    server: Server
    proc: subprocess.Popen[bytes]
    base: str
    log: Path
    warm_requests: int = 0
    runs: list[dict[str, object]] = field(default_factory=list)
    wal_peak: int = 0


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    hwm_mib: float
    rss_mib: float
    requests: int
    answered: int
    errors: int
    log_rows: int | None
    wal_peak_mib: float | None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url, data=body, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def proc_status_mib(pid: int, key: str) -> float:
    """VmHWM / VmRSS of a process in MiB (the kernel reports kB)."""
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    if m is None:
        raise RuntimeError(f"{key} not in /proc/{pid}/status")
    return int(m.group(1)) / 1024


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float, log: Path) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(
                f"server exited with {proc.returncode}; see {log}:\n{log.read_text()[-3000:]}"
            )
        try:
            if http("GET", url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout_s}s; see {log}")


def run_wrk(url: str, threads: int, connections: int, duration_s: int) -> dict[str, object]:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"no WRK_JSON line in wrk output:\n{out}")
    data: dict[str, object] = json.loads(line.removeprefix("WRK_JSON "))
    return data


class WalWatch:
    """Samples the size of a journal's `-wal` file every 50 ms while a run loads its server."""

    def __init__(self, journal: Path | None) -> None:
        self.wal = None if journal is None else Path(f"{journal}-wal")
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            if self.wal is None:
                return
            try:
                self.peak = max(self.peak, self.wal.stat().st_size)
            except FileNotFoundError:
                pass

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def count_rows(journal: Path) -> int:
    with sqlite3.connect(journal) as conn:
        (n,) = conn.execute("SELECT COUNT(*) FROM predictions").fetchone()
    return int(n)


def log_name(server: Server) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", server.name).strip("_") + ".log"


def start(server: Server, args: argparse.Namespace, workdir: Path) -> Running:
    port = free_port()
    argv = [a.replace("{port}", str(port)) for a in server.argv]
    base = f"http://127.0.0.1:{port}"
    log = workdir / log_name(server)
    env = dict(os.environ, **server.env)
    with log.open("wb") as logf:
        proc = subprocess.Popen(
            argv, cwd=server.cwd, env=env, stdout=logf, stderr=subprocess.STDOUT
        )
    running = Running(server, proc, base, log)
    try:
        wait_ready(base + server.ready_path, proc, args.ready_timeout, log)
        status, body = http("POST", base + "/predict", SEED_BODY)
        if status != 200 or "prediction" not in json.loads(body):
            raise RuntimeError(f"{server.name}: POST /predict answered {status}: {body[:300]!r}")
        warm = run_wrk(base, args.threads, args.connections, args.warmup)
        running.warm_requests = int(str(warm["requests"]))
    except BaseException:
        stop(running)
        raise
    return running


def stop(r: Running) -> None:
    r.proc.send_signal(signal.SIGTERM)
    try:
        r.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        r.proc.kill()
        r.proc.wait()


def trim_log(log: Path) -> None:
    """Keeps the head and tail of a large server log (the access log has a line per request)."""
    size = log.stat().st_size
    if size <= 2 * LOG_KEEP_BYTES:
        return
    with log.open("rb") as f:
        head = f.read(LOG_KEEP_BYTES)
        f.seek(size - LOG_KEEP_BYTES)
        tail = f.read()
    cut = f"\n[... bench.py cut {size - 2 * LOG_KEEP_BYTES:,} bytes of this log ...]\n"
    log.write_bytes(head + cut.encode() + tail)


def result(r: Running) -> Result:
    # A shared machine is noisy: each figure is the median over the rounds.
    runs = r.runs
    lats = [run["latency_us"] for run in runs]
    errs = [run["errors"] for run in runs]
    assert all(isinstance(x, dict) for x in lats + errs)
    counts = [int(str(run["requests"])) for run in runs]
    rates = [n / (int(str(run["duration_us"])) / 1e6) for n, run in zip(counts, runs, strict=True)]

    def lat_ms(key: str) -> float:
        return statistics.median(float(x[key]) for x in lats if isinstance(x, dict)) / 1000

    journal = r.server.journal
    return Result(
        name=r.server.name,
        rps=statistics.median(rates),
        p50_ms=lat_ms("p50"),
        p90_ms=lat_ms("p90"),
        p99_ms=lat_ms("p99"),
        max_ms=lat_ms("max"),
        hwm_mib=proc_status_mib(r.proc.pid, "VmHWM"),
        rss_mib=proc_status_mib(r.proc.pid, "VmRSS"),
        requests=sum(counts),
        # The check request, the warm-up and the measured runs: every one of them got a 200.
        answered=1 + r.warm_requests + sum(counts),
        errors=sum(int(v) for e in errs if isinstance(e, dict) for v in e.values()),
        log_rows=None,
        wal_peak_mib=None if journal is None else r.wal_peak / 2**20,
    )


def bench_all(servers: list[Server], args: argparse.Namespace, workdir: Path) -> list[Result]:
    """Starts and warms every server, then measures them in `--repeat` interleaved rounds."""
    running: list[Running] = []
    try:
        for s in servers:
            print(f"starting and warming {s.name} ...", file=sys.stderr, flush=True)
            running.append(start(s, args, workdir))
        for i in range(args.repeat):
            for r in running:
                print(
                    f"round {i + 1}/{args.repeat}: {r.server.name} ...",
                    file=sys.stderr,
                    flush=True,
                )
                with WalWatch(r.server.journal) as watch:
                    r.runs.append(run_wrk(r.base, args.threads, args.connections, args.duration))
                r.wal_peak = max(r.wal_peak, watch.peak)
        # VmHWM / VmRSS are read while the processes still run.
        results = [result(r) for r in running]
    finally:
        for r in running:
            stop(r)
    for r, res in zip(running, results, strict=True):
        if r.server.journal is not None:
            res.log_rows = count_rows(r.server.journal)
        trim_log(r.log)
    return results


def mount_of(path: Path) -> tuple[str, str, str]:
    """(mount point, filesystem type, device) of the filesystem holding `path`, from /proc/mounts."""
    path = path.resolve()
    best = ("?", "?", "?")
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return best
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        # /proc/mounts escapes spaces and the like as octal (\040).
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), parts[1])
        inside = path == Path(point) or Path(point) in path.parents
        if inside and (best[0] == "?" or len(point) >= len(best[0])):
            best = (point, parts[2], parts[0])
    return best


def machine(journal_dir: Path) -> str:
    load = os.getloadavg()
    point, fstype, device = mount_of(journal_dir)
    return (
        f"{os.cpu_count()} CPUs ({cpu_line(cpu_info())}), Linux {platform.release()}; "
        f"journals on {fstype} ({device} mounted at {point}); "
        f"load average before the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
    )


def ratio_cells(r: Result, ref: Result | None) -> tuple[str, str]:
    """req/s and p99 of `r` relative to a reference server's (`—` when there is none)."""
    if ref is None or ref.rps <= 0 or ref.p99_ms <= 0:
        return "—", "—"
    return f"{r.rps / ref.rps:.2f}", f"{r.p99_ms / ref.p99_ms:.1f}×"


def table(results: list[Result], args: argparse.Namespace, context: str) -> str:
    ref = next((r for r in results if r.name == FASTAPI_NAME), None)
    bare = next((r for r in results if r.name == BARE_NAME), None)
    lines = [
        (
            f"### HTTP benchmark: POST /predict, wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
            f"median of {args.repeat} interleaved rounds"
        ),
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {context}.",
        "",
        (
            "| server | req/s | p50 ms | p90 ms | p99 ms | max ms | peak RSS MiB | RSS after MiB | errors | log rows | "
            "peak WAL MiB | req/s ÷ bare axum | p99 ÷ bare axum | req/s vs FastAPI | p99 vs FastAPI |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        speed = f"{r.rps / ref.rps:.1f}×" if ref and ref.rps > 0 else "n/a"
        p99 = (
            f"{ref.p99_ms / r.p99_ms:.1f}× lower" if ref and r is not ref and r.p99_ms > 0 else "—"
        )
        if r is ref:
            speed = "1×"
        rows = "—" if r.log_rows is None else f"{r.log_rows:,}"
        wal = "—" if r.wal_peak_mib is None else f"{r.wal_peak_mib:.1f}"
        bare_rps, bare_p99 = ratio_cells(r, bare)
        lines.append(
            f"| {r.name} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p90_ms:.2f} | {r.p99_ms:.2f} | {r.max_ms:.1f} | "
            f"{r.hwm_mib:.1f} | {r.rss_mib:.1f} | {r.errors} | {rows} | {wal} | {bare_rps} | {bare_p99} | "
            f"{speed} | {p99} |"
        )
    strict = next((r for r in results if r.name == STRICT_NAME), None)
    if strict is not None:
        lines += ["", "Targets for `credit serve` with strict logging:", ""]
        checks = []
        if bare is not None and bare.rps > 0 and bare.p99_ms > 0:
            rps_ratio = strict.rps / bare.rps
            p99_ratio = strict.p99_ms / bare.p99_ms
            checks += [
                (
                    f"req/s ≥ {TARGET_BARE_RPS_RATIO:.2f} × bare axum's (same run)",
                    rps_ratio >= TARGET_BARE_RPS_RATIO,
                    f"{strict.rps:,.0f} ÷ {bare.rps:,.0f} = {rps_ratio:.2f}",
                ),
                (
                    f"p99 ≤ {TARGET_BARE_P99_RATIO:.0f} × bare axum's (same run)",
                    p99_ratio <= TARGET_BARE_P99_RATIO,
                    f"{strict.p99_ms:.2f} ms ÷ {bare.p99_ms:.2f} ms = {p99_ratio:.1f}×",
                ),
            ]
        checks += [
            (
                f"p99 ≤ {TARGET_P99_MS} ms",
                strict.p99_ms <= TARGET_P99_MS,
                f"{strict.p99_ms:.2f} ms",
            ),
            (
                f"≥ {TARGET_RPS:,.0f} req/s",
                strict.rps >= TARGET_RPS,
                f"{strict.rps:,.0f}",
            ),
            (
                f"peak RSS ≤ {TARGET_RSS_MIB:.0f} MiB",
                strict.hwm_mib <= TARGET_RSS_MIB,
                f"{strict.hwm_mib:.1f} MiB",
            ),
        ]
        if ref is not None and ref.rps > 0:
            ratio = strict.rps / ref.rps
            checks.append(
                (
                    f"≥ {TARGET_SPEEDUP:.0f}× FastAPI req/s",
                    ratio >= TARGET_SPEEDUP,
                    f"{ratio:.1f}×",
                )
            )
        for what, ok, got in checks:
            lines.append(f"- {what}: {got} ({'met' if ok else 'NOT met'})")
    for r in results:
        if r.log_rows is not None:
            ok = r.log_rows >= r.answered and r.errors == 0
            lines.append(
                f"- {r.name}: every answered request logged: {r.log_rows:,} journal rows for {r.answered:,} "
                f"answers counted by wrk incl. warm-up ({'yes' if ok else 'NO'})"
            )
    lines += [
        "",
        (
            "Notes: client and servers share the same cores; the servers are measured one after the other in "
            "each round, the figures are medians over the rounds. `credit serve` logs to its journal "
            "(strict: answer once the group is appended to a segment file, which a loader thread puts into "
            "SQLite; relaxed: answer first) and writes an access-log line per "
            "request to stdout (a file here) unless run with `--log-level warn`. The strict log's tail depends "
            "on the disk the journal is on, hence the filesystem above; 'peak WAL' "
            "is the largest size of the journal's -wal file sampled during the measured runs. The bare-axum "
            "reference reads the body and answers fixed JSON of the same length, on the same runtime. The "
            "FastAPI reference is the seed's design (Pydantic model, one-row pandas DataFrame, scikit-learn "
            "imputer+scaler+LogisticRegression, one uvicorn worker with uvloop/httptools, access log off) and "
            "logs nothing. Peak RSS is VmHWM (for FastAPI it includes training at start-up); 'RSS after' is "
            "VmRSS after the run."
        ),
    ]
    return "\n".join(lines) + "\n"


def credit_server(
    name: str, binary: Path, mode: str, model: str, workdir: Path, extra: list[str]
) -> Server:
    journal = workdir / (log_name(Server(name, [], "")).removesuffix(".log") + ".db")
    return Server(
        name=name,
        argv=[
            str(binary.resolve()), "serve", "--host", "127.0.0.1", "--port", "{port}", "--model", model,
            "--log", f"sqlite://{journal}", "--durability", mode, "--web-dir", str(workdir), *extra,
        ],
        ready_path="/ready",
        journal=journal,
    )  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--credit", required=True, type=Path, help="the credit release binary")
    p.add_argument(
        "--bare-axum",
        type=Path,
        help="the bare_axum reference binary (cargo build --release -p credit-benches --bin bare_axum); "
        "without it the ratio targets are not checked",
    )
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--data", type=Path, help="training CSV for the FastAPI reference (CREDIT_DATA)")
    p.add_argument("--out", type=Path, default=Path(".work/bench/http.md"))
    p.add_argument("--duration", type=int, default=8, help="seconds of measured load per run")
    p.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load first")
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="measured rounds (every server once per round; medians reported)",
    )
    p.add_argument("--connections", type=int, default=32, help="wrk connections")
    p.add_argument("--threads", type=int, default=1, help="wrk threads")
    p.add_argument("--ready-timeout", type=float, default=180)
    p.add_argument("--skip-fastapi", action="store_true")
    p.add_argument("--skip-relaxed", action="store_true", help="no relaxed-durability run")
    p.add_argument(
        "--also-log-level-warn",
        action="store_true",
        help="also run the strict log with --log-level warn (no access log) to show its cost",
    )
    p.add_argument(
        "--extra-credit",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="another credit binary (e.g. the build before a change) run with the strict log in "
        "the same rounds; repeatable",
    )
    args = p.parse_args()

    if shutil.which("wrk") is None:
        print("wrk not installed (make bench-http installs it)", file=sys.stderr)
        return 2
    data = args.data or (Path(os.environ["CREDIT_DATA"]) if os.environ.get("CREDIT_DATA") else None)
    if not args.skip_fastapi and (data is None or not data.is_file()):
        print(
            "the FastAPI reference needs --data / CREDIT_DATA (the training CSV)",
            file=sys.stderr,
        )
        return 2
    extras = []
    for spec in args.extra_credit:
        label, sep, path = spec.partition("=")
        if not sep or not label or not Path(path).is_file():
            print(f"--extra-credit {spec!r}: want LABEL=PATH of a binary", file=sys.stderr)
            return 2
        extras.append((label, Path(path)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="http-", dir=args.out.parent))
    context = machine(workdir)

    model = str(args.model.resolve())
    servers = []
    if args.bare_axum is not None:
        servers.append(
            Server(
                name=BARE_NAME,
                argv=[str(args.bare_axum.resolve()), "--port", "{port}"],
                ready_path="/health",
            )
        )
    servers.append(credit_server(STRICT_NAME, args.credit, "strict", model, workdir, []))
    if args.also_log_level_warn:
        servers.append(
            credit_server(
                f"{STRICT_NAME}, --log-level warn (no access log)",
                args.credit, "strict", model, workdir, ["--log-level", "warn"],
            )
        )  # fmt: skip
    for label, path in extras:
        servers.append(credit_server(f"{label}: {STRICT_NAME}", path, "strict", model, workdir, []))
    if not args.skip_relaxed:
        servers.append(
            credit_server("credit serve, log relaxed", args.credit, "relaxed", model, workdir, [])
        )
    if not args.skip_fastapi:
        servers.append(
            Server(
                name=FASTAPI_NAME,
                argv=[
                    sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", "{port}",
                    "--workers", "1", "--no-access-log", "--log-level", "warning",
                ],
                ready_path="/health",
                cwd=HERE / "fastapi_ref",
                env={"CREDIT_DATA": str(Path(str(data)).resolve())},
            )
        )  # fmt: skip

    results = bench_all(servers, args, workdir)
    load = os.getloadavg()
    context += f", after {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
    md = table(results, args, context)
    args.out.write_text(md)
    print(md)
    # The journals hold hundreds of thousands of rows (~0.5 kB each); only their counts matter here.
    for db in workdir.glob("*.db*"):
        db.unlink()
    print(f"written to {args.out} (server logs in {workdir})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
