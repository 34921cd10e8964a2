"""Benchmark of the Python front door against peers running the *same* scorecard.

Every peer scores the model `credit_default` scores (`models/default.json` unless `--model`):

  * ONNX Runtime on `credit export --to onnx` (one thread, and all threads);
  * DuckDB on `credit export --to sql --dialect duckdb` (one thread, and all threads);
  * `credit_default` on numpy, pandas, polars and Arrow input.

Before timing, each peer's answers are checked against `credit_default`'s on the benchmark rows
(probability to 1e-12). The old peers stay as "what a user would otherwise build": a
scikit-learn pipeline (median imputation, scaling, logistic regression on the raw features) and
optbinning's `Scorecard`, fitted on the same rows; they are different models, timed for scale.
BLAS/OpenMP pools are pinned to one thread (threadpoolctl) for everything that is not explicitly
"all threads".

Each run prints a table and writes machine (CPU model and flags, load average before and after),
library versions and raw timings as JSON to `.work/bench/python-<timestamp>.json` (`--out`);
`benches/python/results_table.py` turns such a file into the README's markdown table. Copying a
result into `benches/results/` is a maintainer's deliberate step, never this script's.

    make bench-python        # or: python benches/python/bench_python.py [--rows N] [--repeat R]
    python benches/python/bench_python.py --rows 20000 --repeat 1 --fit-rows 20000   # smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import credit_default as cd
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from machine import cpu_info, cpu_line  # benches/machine.py, shared by the benches

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[2]
CREDIT = Path(os.environ.get("CREDIT", ROOT / "target" / "release" / "credit"))
ONE = "one applicant"
BATCH = "batch"  # --rows rows (1M by default)


# --- timing --------------------------------------------------------------------------------------


def calibrate(fn: Callable[[], Any], target_s: float) -> int:
    """Calls per repeat so that one repeat lasts about `target_s`."""
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        el = time.perf_counter() - t
        if el > target_s / 10 or n >= 1_000_000:
            return max(1, int(n * target_s / max(el, 1e-9)))
        n *= 10


def measure(fn: Callable[[], Any], repeat: int, target_s: float) -> dict[str, Any]:
    """Mean seconds per call in each of `repeat` repeats (timeit's convention), after one warm-up."""
    fn()
    number = calibrate(fn, target_s)
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t) / number)
    return {
        "calls_per_repeat": number,
        "seconds": runs,
        "best": min(runs),
        "median": float(np.median(runs)),
    }


# --- machine and versions ------------------------------------------------------------------------


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in (
        "credit_default",
        "numpy",
        "pandas",
        "polars",
        "pyarrow",
        "onnxruntime",
        "duckdb",
        "scikit-learn",
        "optbinning",
        "threadpoolctl",
    ):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    r = subprocess.run([str(CREDIT), "--version"], capture_output=True, text=True, check=False)
    out["credit"] = r.stdout.strip() or f"unavailable ({CREDIT})"
    return out


def git_commit() -> str:
    r = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return r.stdout.strip()


# --- data and model ------------------------------------------------------------------------------


def load_rows(model: cd.Model, n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Valid applicants (model column order) and labels, tiled to n rows."""
    import pandas as pd

    data = Path(os.environ.get("CREDIT_DATA", ROOT / "../shared/data/cs-training.csv.gz"))
    if data.exists():
        df = pd.read_csv(data, index_col=0)
        y = df.pop("SeriousDlqin2yrs").to_numpy()
        x = cd._native.to_rows(df)
        source = f"{data.name} ({len(x):,} rows)"
    else:
        sys.path.insert(0, str(ROOT / "bindings-python" / "tests"))
        from conftest import synthetic

        x, y = synthetic(150_000, seed=3)
        source = "synthetic rows"
    ok = ~np.isnan(model.probability(x, errors="nan"))
    x, y = x[ok], y[ok]
    reps = -(-n // len(x))
    return np.ascontiguousarray(np.tile(x, (reps, 1))[:n]), np.tile(y, reps)[:n], source


def export(model_path: Path, out: Path, *args: str) -> tuple[Path | None, str]:
    """Runs `credit export`; the file, or None and the reason it was refused."""
    r = subprocess.run(
        [str(CREDIT), "export", "--model", str(model_path), *args, "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        lines = r.stderr.strip().splitlines() or ["no message"]
        return None, next((line.strip() for line in lines if "error" in line), lines[-1])
    return out, ""


def applicant_dict(row: np.ndarray) -> dict[str, Any]:
    return {
        n: (None if np.isnan(v) else (int(v) if float(v).is_integer() else float(v)))
        for n, v in zip(cd.FEATURES, row)
    }


def check_same(name: str, got: np.ndarray, want: np.ndarray) -> float:
    """Largest probability difference to credit_default; a peer that disagrees is reported."""
    diff = float(np.max(np.abs(np.asarray(got, dtype=np.float64) - want)))
    if not diff <= 1e-12:
        print(f"WARNING: {name} differs from credit_default by {diff:.3g}", file=sys.stderr)
    return diff


# --- peers ---------------------------------------------------------------------------------------


class Bench:
    """Collects results: (case, engine, timing dict, extra)."""

    def __init__(self, repeat: int) -> None:
        self.repeat = repeat
        self.results: list[dict[str, Any]] = []
        self.skipped: dict[str, str] = {}
        self.checks: dict[str, float] = {}

    def time(
        self, case: str, engine: str, fn: Callable[[], Any], target_s: float, **extra: Any
    ) -> None:
        t = measure(fn, self.repeat, target_s)
        self.results.append({"case": case, "engine": engine, **t, **extra})
        print(f"  {case:<14} {engine:<58} {fmt(t['best'])}", flush=True)

    def skip(self, engine: str, reason: str) -> None:
        self.skipped[engine] = reason
        print(f"  skipped {engine}: {reason}", flush=True)


def ours(b: Bench, model: cd.Model, x: np.ndarray) -> None:
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    one = applicant_dict(x[0])
    b.time(
        ONE,
        "credit_default, from a dict (validation + score + reasons)",
        lambda: model.predict(one),
        0.2,
    )
    b.time(
        ONE, "credit_default, 1×10 numpy array (probability)", lambda: model.probability(x[:1]), 0.2
    )
    b.time(
        BATCH,
        "credit_default, numpy (probability + score)",
        lambda: model.score_batch(x, threads=1),
        1.0,
    )
    b.time(
        BATCH, "credit_default, numpy (probability)", lambda: model.probability(x, threads=1), 1.0
    )
    b.time(
        BATCH,
        "credit_default, numpy, all threads (probability)",
        lambda: model.probability(x, threads=None),
        1.0,
        threads=os.cpu_count(),
    )
    frames = {
        "pandas": pd.DataFrame(x, columns=cd.FEATURES),
        "polars": pl.DataFrame(x, schema=cd.FEATURES),
        "Arrow": pa.table({n: x[:, j] for j, n in enumerate(cd.FEATURES)}),
    }
    for kind, frame in frames.items():
        b.time(
            BATCH,
            f"credit_default, {kind} (probability)",
            lambda f=frame: model.probability(f, threads=1),
            1.0,
        )


def onnx_session(path: Path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def onnx_peer(b: Bench, path: Path | None, why: str, x: np.ndarray, want: np.ndarray) -> None:
    if path is None:
        b.skip("ONNX Runtime", why)
        return
    try:
        import onnxruntime  # noqa: F401
    except ImportError as e:
        b.skip("ONNX Runtime", str(e))
        return
    one = applicant_dict(x[0])
    s1 = onnx_session(path, 1)

    def from_dict():
        """What a caller holding a dict does: build the 1×10 row (None → NaN), then run."""
        row = np.array(
            [[np.nan if one[n] is None else one[n] for n in cd.FEATURES]], dtype=np.float64
        )
        return s1.run(None, {"X": row})

    b.checks["ONNX Runtime"] = check_same("ONNX Runtime", s1.run(None, {"X": x})[0], want)
    b.time(ONE, "ONNX Runtime (1 thread), from a dict", from_dict, 0.2)
    b.time(ONE, "ONNX Runtime (1 thread), 1×10 array", lambda: s1.run(None, {"X": x[:1]}), 0.2)
    b.time(BATCH, "ONNX Runtime (1 thread)", lambda: s1.run(None, {"X": x}), 2.0)
    n = os.cpu_count() or 1
    sn = onnx_session(path, n)
    b.time(BATCH, f"ONNX Runtime ({n} threads)", lambda: sn.run(None, {"X": x}), 2.0, threads=n)


def duckdb_peer(b: Bench, path: Path | None, why: str, x: np.ndarray, want: np.ndarray) -> None:
    if path is None:
        b.skip("DuckDB", f"credit export refused --to sql: {why}")
        return
    try:
        import duckdb
    except ImportError as e:
        b.skip("DuckDB", str(e))
        return
    import pandas as pd

    sql = path.read_text().strip().rstrip(";")
    con = duckdb.connect()
    applicants = pd.DataFrame(x, columns=cd.FEATURES)
    applicants.insert(0, "id", np.arange(len(x), dtype=np.int64))
    con.register("applicants_df", applicants)
    con.execute("CREATE TABLE applicants AS SELECT * FROM applicants_df")
    query = f"SELECT id, probability, score FROM ({sql}) AS scored"
    got = con.execute(query + " ORDER BY id").fetchnumpy()
    b.checks["DuckDB"] = check_same("DuckDB", got["probability"], want)
    con.execute("SET threads TO 1")
    b.time(
        BATCH,
        "DuckDB SQL (1 thread), result to numpy",
        lambda: con.execute(query).fetchnumpy(),
        2.0,
    )
    n = os.cpu_count() or 1
    con.execute(f"SET threads TO {n}")
    b.time(
        BATCH,
        f"DuckDB SQL ({n} threads), result to numpy",
        lambda: con.execute(query).fetchnumpy(),
        2.0,
        threads=n,
    )


def sklearn_peer(b: Bench, x: np.ndarray, y: np.ndarray, fit_n: int) -> None:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(
        SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=1000)
    )
    pipe.fit(x[:fit_n], y[:fit_n])
    b.time(
        ONE,
        "scikit-learn pipeline (other model), 1×10 array",
        lambda: pipe.predict_proba(x[:1]),
        0.2,
    )
    b.time(BATCH, "scikit-learn pipeline (other model)", lambda: pipe.predict_proba(x), 2.0)


def optbinning_peer(b: Bench, x: np.ndarray, y: np.ndarray, fit_n: int) -> None:
    try:
        from optbinning import BinningProcess, Scorecard
    except ImportError as e:
        b.skip("optbinning", str(e))
        return
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    names = list(cd.FEATURES)
    sc = Scorecard(
        binning_process=BinningProcess(names),
        estimator=LogisticRegression(max_iter=1000),
        scaling_method="pdo_odds",
        scaling_method_params={"pdo": 20, "odds": 50, "scorecard_points": 600},
    )
    sc.fit(pd.DataFrame(x[:fit_n], columns=names), y[:fit_n])
    one, every = pd.DataFrame(x[:1], columns=names), pd.DataFrame(x, columns=names)
    b.time(
        ONE,
        "optbinning Scorecard (other model), 1-row DataFrame",
        lambda: sc.predict_proba(one),
        0.5,
    )
    b.time(BATCH, "optbinning Scorecard (other model)", lambda: sc.predict_proba(every), 2.0)


# --- report --------------------------------------------------------------------------------------


def fmt(s: float | None) -> str:
    if s is None:
        return "n/a"
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def best(results: list[dict[str, Any]], engine: str) -> float | None:
    return next((r["best"] for r in results if r["engine"] == engine), None)


def targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's ratio targets, each from this one run (None when a peer was skipped)."""
    n = os.cpu_count() or 1
    ours_dict = best(results, "credit_default, from a dict (validation + score + reasons)")
    ours_np = best(results, "credit_default, numpy (probability + score)")
    rows = [
        (
            "one applicant from a dict vs ONNX Runtime from a dict",
            ours_dict,
            best(results, "ONNX Runtime (1 thread), from a dict"),
            10.0,
        ),
        (
            "batch from numpy vs ONNX Runtime, one thread each",
            ours_np,
            best(results, "ONNX Runtime (1 thread)"),
            4.0,
        ),
        (
            "batch from numpy vs DuckDB SQL, one thread each",
            ours_np,
            best(results, "DuckDB SQL (1 thread), result to numpy"),
            10.0,
        ),
        (
            f"batch from numpy (1 thread) vs DuckDB SQL ({n} threads)",
            ours_np,
            best(results, f"DuckDB SQL ({n} threads), result to numpy"),
            None,
        ),
    ]
    out = []
    for name, mine, peer, want in rows:
        ratio = peer / mine if (mine and peer) else None
        met = None if (ratio is None or want is None) else ratio >= want
        out.append({"target": name, "ratio": ratio, "at_least": want, "met": met})
    return out


def print_report(doc: dict[str, Any]) -> None:
    print(
        f"\n{doc['rows_source']}, {doc['rows']:,} rows, best of {doc['repeat']}; model {doc['model']['version']}; "
        f"load average {doc['load_average']['before']} → {doc['load_average']['after']}"
    )
    print(f"{cpu_line(doc['machine'])}, {doc['machine']['logical_cpus']} CPUs")
    print(
        "same answers as credit_default (max |Δp|): "
        + ", ".join(f"{k} {v:.1g}" for k, v in doc["same_model_check"].items())
    )
    for t in doc["targets"]:
        r = "n/a" if t["ratio"] is None else f"{t['ratio']:.1f}×"
        verdict = {True: "met", False: "not met", None: "not measured"}[t["met"]]
        goal = "" if t["at_least"] is None else f" (target ≥ {t['at_least']:.0f}×: {verdict})"
        print(f"  {t['target']}: {r}{goal}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    model = cd.Model.load(str(args.model))
    x, y, source = load_rows(model, args.rows)
    want = model.probability(x)
    work = args.out
    work.mkdir(parents=True, exist_ok=True)
    onnx_file, onnx_why = export(args.model, work / "scorecard.onnx", "--to", "onnx")
    if args.sql:
        sql_file, sql_why = args.sql, ""
    else:
        sql_file, sql_why = export(
            args.model,
            work / "scorecard.duckdb.sql",
            "--to",
            "sql",
            "--dialect",
            "duckdb",
            "--table",
            "applicants",
        )
    b = Bench(args.repeat)
    fit_n = min(args.fit_rows, len(x))
    with threadpool_limits(limits=1):
        # Without file paths: the result may be committed, and paths name this machine.
        pools = [{k: v for k, v in p.items() if k != "filepath"} for p in threadpool_info()]
        ours(b, model, x)
        onnx_peer(b, onnx_file, onnx_why, x, want)
        duckdb_peer(b, sql_file, sql_why, x, want)
        sklearn_peer(b, x, y, fit_n)
        optbinning_peer(b, x, y, fit_n)
    return {
        "model": {
            "path": str(
                args.model.relative_to(ROOT) if args.model.is_relative_to(ROOT) else args.model
            ),
            "version": model.version,
            "checksum": model.checksum,
        },
        "sql": args.sql.name if args.sql else "credit export --to sql --dialect duckdb",
        "rows": len(x),
        "rows_source": source,
        "fit_rows": fit_n,
        "repeat": args.repeat,
        "results": b.results,
        "skipped": b.skipped,
        "same_model_check": b.checks,
        "targets": targets(b.results),
        "threadpools_pinned": pools,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument(
        "--repeat", type=int, default=5, help="timed repeats per case (best and median kept)"
    )
    ap.add_argument(
        "--fit-rows",
        type=int,
        default=150_000,
        help="rows to fit the scikit-learn and optbinning models on",
    )
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default.json")
    ap.add_argument(
        "--sql",
        type=Path,
        help="an exported DuckDB SQL file (over table `applicants`) instead of "
        "running `credit export --to sql`, e.g. to compare exporter versions",
    )
    ap.add_argument(
        "--out", type=Path, default=ROOT / ".work" / "bench", help="where the JSON (and exports) go"
    )
    args = ap.parse_args()
    args.model = args.model.resolve()
    started = dt.datetime.now(dt.UTC)
    before = os.getloadavg()
    doc = {
        "started": started.isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": cpu_info(),
        "versions": versions(),
    }
    doc.update(run(args))
    doc["load_average"] = {
        "before": [round(v, 2) for v in before],
        "after": [round(v, 2) for v in os.getloadavg()],
    }
    path = args.out / f"python-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print_report(doc)
    print(
        f"\nwrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}; table: "
        f"python benches/python/results_table.py {path.name}"
    )


if __name__ == "__main__":
    main()
