"""HTTP benchmark: `credit serve` (strict and relaxed prediction log) against the seed's FastAPI design.

Each server is started on a free loopback port, checked with one real request, warmed up, then
loaded by `wrk` (POST /predict, the seed's example applicant, 32 connections by default). Reported
per server: requests/s, p50/p99/max latency, peak RSS (VmHWM from /proc/PID/status), errors and, for
`credit serve`, the rows its SQLite prediction log holds afterwards (every answer must be logged).
The markdown table is printed and written to --out. Targets are checked and reported, not enforced
(exit status 0): the machine is shared and its load is reported alongside.

Usage: python benches/http/bench.py --credit target/release/credit --model models/default.json \
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
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

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

# The targets for `credit serve` with strict logging on this 2-core machine.
TARGET_RPS = 30_000.0
TARGET_P99_MS = 5.0
TARGET_SPEEDUP = 60.0
TARGET_RSS_MIB = 20.0


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


def wait_ready(
    url: str, proc: subprocess.Popen[bytes], timeout_s: float, log: Path
) -> None:
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


def run_wrk(
    url: str, threads: int, connections: int, duration_s: int
) -> dict[str, object]:
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


def count_rows(journal: Path) -> int:
    with sqlite3.connect(journal) as conn:
        (n,) = conn.execute("SELECT COUNT(*) FROM predictions").fetchone()
    return int(n)


def bench(server: Server, args: argparse.Namespace, workdir: Path) -> Result:
    port = free_port()
    argv = [a.replace("{port}", str(port)) for a in server.argv]
    base = f"http://127.0.0.1:{port}"
    log = workdir / f"{server.name.replace(' ', '_').replace('/', '_')}.log"
    env = dict(os.environ, **server.env)
    with log.open("wb") as logf:
        proc = subprocess.Popen(
            argv, cwd=server.cwd, env=env, stdout=logf, stderr=subprocess.STDOUT
        )
        try:
            wait_ready(base + server.ready_path, proc, args.ready_timeout, log)
            status, body = http("POST", base + "/predict", SEED_BODY)
            if status != 200 or "prediction" not in json.loads(body):
                raise RuntimeError(
                    f"{server.name}: POST /predict answered {status}: {body[:300]!r}"
                )
            warm = run_wrk(base, args.threads, args.connections, args.warmup)
            runs = [
                run_wrk(base, args.threads, args.connections, args.duration)
                for _ in range(args.repeat)
            ]
            hwm = proc_status_mib(proc.pid, "VmHWM")
            rss = proc_status_mib(proc.pid, "VmRSS")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    # A shared machine is noisy: each figure is the median over the repeated runs.
    lats = [r["latency_us"] for r in runs]
    errs = [r["errors"] for r in runs]
    assert all(isinstance(x, dict) for x in lats + errs)
    counts = [int(str(r["requests"])) for r in runs]
    rates = [
        n / (int(str(r["duration_us"])) / 1e6)
        for n, r in zip(counts, runs, strict=True)
    ]

    def lat_ms(key: str) -> float:
        return (
            statistics.median(float(x[key]) for x in lats if isinstance(x, dict)) / 1000
        )

    return Result(
        name=server.name,
        rps=statistics.median(rates),
        p50_ms=lat_ms("p50"),
        p90_ms=lat_ms("p90"),
        p99_ms=lat_ms("p99"),
        max_ms=lat_ms("max"),
        hwm_mib=hwm,
        rss_mib=rss,
        requests=sum(counts),
        # The check request, the warm-up and the measured runs: every one of them got a 200.
        answered=1 + int(str(warm["requests"])) + sum(counts),
        errors=sum(int(v) for e in errs if isinstance(e, dict) for v in e.values()),
        log_rows=count_rows(server.journal) if server.journal is not None else None,
    )


def machine() -> str:
    load = os.getloadavg()
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, "
        f"load average before the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
    )


def table(results: list[Result], args: argparse.Namespace, context: str) -> str:
    ref = next((r for r in results if r.name.startswith("FastAPI")), None)
    lines = [
        (
            f"### HTTP benchmark: POST /predict, wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
            f"median of {args.repeat} runs"
        ),
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {context}.",
        "",
        (
            "| server | req/s | p50 ms | p90 ms | p99 ms | max ms | peak RSS MiB | RSS after MiB | errors | log rows | "
            "req/s vs FastAPI | p99 vs FastAPI |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        speed = f"{r.rps / ref.rps:.1f}×" if ref and ref.rps > 0 else "n/a"
        p99 = (
            f"{ref.p99_ms / r.p99_ms:.1f}× lower"
            if ref and r is not ref and r.p99_ms > 0
            else "—"
        )
        if r is ref:
            speed = "1×"
        rows = "—" if r.log_rows is None else f"{r.log_rows:,}"
        lines.append(
            f"| {r.name} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p90_ms:.2f} | {r.p99_ms:.2f} | {r.max_ms:.1f} | "
            f"{r.hwm_mib:.1f} | {r.rss_mib:.1f} | {r.errors} | {rows} | {speed} | {p99} |"
        )
    strict = next((r for r in results if "strict" in r.name), None)
    if strict is not None:
        lines += ["", "Targets for `credit serve` with strict logging:", ""]
        checks = [
            (
                f"≥ {TARGET_RPS:,.0f} req/s",
                strict.rps >= TARGET_RPS,
                f"{strict.rps:,.0f}",
            ),
            (
                f"p99 ≤ {TARGET_P99_MS} ms",
                strict.p99_ms <= TARGET_P99_MS,
                f"{strict.p99_ms:.2f} ms",
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
        if strict.log_rows is not None:
            ok = strict.log_rows >= strict.answered and strict.errors == 0
            lines.append(
                f"- every answered request logged: {strict.log_rows:,} journal rows for {strict.answered:,} "
                f"answers counted by wrk incl. warm-up ({'yes' if ok else 'NO'})"
            )
    lines += [
        "",
        (
            "Notes: client and servers share the same cores. `credit serve` logs to its SQLite journal "
            "(strict: answer after the group commit; relaxed: answer first). The FastAPI reference is the "
            "seed's design (Pydantic model, one-row pandas DataFrame, scikit-learn imputer+scaler+"
            "LogisticRegression, one uvicorn worker with uvloop/httptools, access log off) and logs nothing. "
            "Peak RSS is VmHWM (for FastAPI it includes training at start-up); 'RSS after' is VmRSS after the run."
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--credit", required=True, type=Path, help="the credit release binary"
    )
    p.add_argument("--model", required=True, type=Path)
    p.add_argument(
        "--data", type=Path, help="training CSV for the FastAPI reference (CREDIT_DATA)"
    )
    p.add_argument("--out", type=Path, default=Path(".work/bench/http.md"))
    p.add_argument(
        "--duration", type=int, default=10, help="seconds of measured load per server"
    )
    p.add_argument(
        "--warmup", type=int, default=2, help="seconds of unmeasured load first"
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="measured runs per server (medians reported)",
    )
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--ready-timeout", type=float, default=180)
    p.add_argument("--skip-fastapi", action="store_true")
    args = p.parse_args()

    if shutil.which("wrk") is None:
        print("wrk not installed (make bench-http installs it)", file=sys.stderr)
        return 2
    data = args.data or (
        Path(os.environ["CREDIT_DATA"]) if os.environ.get("CREDIT_DATA") else None
    )
    if not args.skip_fastapi and (data is None or not data.is_file()):
        print(
            "the FastAPI reference needs --data / CREDIT_DATA (the training CSV)",
            file=sys.stderr,
        )
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="http-", dir=args.out.parent))
    context = machine()

    credit = str(args.credit.resolve())
    model = str(args.model.resolve())
    servers = []
    for mode in ("strict", "relaxed"):
        journal = workdir / f"{mode}.db"
        servers.append(
            Server(
                name=f"credit serve, log {mode}",
                argv=[
                    credit, "serve", "--host", "127.0.0.1", "--port", "{port}", "--model", model,
                    "--log", f"sqlite://{journal}", "--durability", mode, "--web-dir", str(workdir),
                ],
                ready_path="/ready",
                journal=journal,
            )
        )  # fmt: skip
    if not args.skip_fastapi:
        servers.append(
            Server(
                name="FastAPI reference (seed design)",
                argv=[
                    sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", "{port}",
                    "--workers", "1", "--no-access-log", "--log-level", "warning",
                ],
                ready_path="/health",
                cwd=HERE / "fastapi_ref",
                env={"CREDIT_DATA": str(Path(str(data)).resolve())},
            )
        )  # fmt: skip

    results = []
    for s in servers:
        print(f"benchmarking {s.name} ...", file=sys.stderr, flush=True)
        results.append(bench(s, args, workdir))
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
