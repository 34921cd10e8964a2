"""Benchmark of the Python front door against the usual Python ways to score the same model.

In one run, on the same rows:
  * one applicant from a dict (credit_default validates, bins, scores and picks reasons), and
  * 1,000,000 rows from a numpy array,
for credit_default (Rust core), scikit-learn `predict_proba` of the equivalent pipeline
(median imputation, scaling, logistic regression: the seed service's model), ONNX Runtime
running that same pipeline exported with skl2onnx, and optbinning's `Scorecard`.
Prints a markdown table with ratios (other / credit_default). Not a test: nothing is asserted.

    make bench-python          # or: python benches/python/bench_python.py [--rows N]

Rows come from the training data when `CREDIT_DATA` points to it (valid rows, tiled to N),
else from a synthetic generator.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import credit_default as cd
import numpy as np

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[2]


def timed(fn: Callable[[], Any], *, number: int, repeat: int) -> float:
    """Best-of-`repeat` mean seconds per call over `number` calls (timeit's convention)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t) / number)
    return best


def per_call(fn: Callable[[], Any], target_s: float = 0.2, repeat: int = 5) -> float:
    """Calibrates `number` so one repeat lasts about `target_s`, then times it."""
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        el = time.perf_counter() - t
        if el > target_s / 10 or n > 1_000_000:
            break
        n *= 10
    number = max(1, int(n * target_s / max(el, 1e-9)))
    return timed(fn, number=number, repeat=repeat)


def load_rows(n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Valid applicants (model column order) and labels, tiled to n rows."""
    model = cd.Model.default()
    data = Path(os.environ.get("CREDIT_DATA", ROOT / "../shared/data/cs-training.csv.gz"))
    if data.exists():
        import pandas as pd

        df = pd.read_csv(data, index_col=0)
        y = df.pop("SeriousDlqin2yrs").to_numpy()
        x = cd._native.to_rows(df)
        source = f"{data.name} ({len(x)} rows)"
    else:
        sys.path.insert(0, str(ROOT / "bindings-python" / "tests"))
        from conftest import synthetic

        x, y = synthetic(150_000, seed=3)
        source = "synthetic rows"
    ok = ~np.isnan(model.probability(x, errors="nan"))
    x, y = x[ok], y[ok]
    reps = -(-n // len(x))
    return np.ascontiguousarray(np.tile(x, (reps, 1))[:n]), np.tile(y, reps)[:n], source


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--fit-rows", type=int, default=150_000, help="rows to fit the other models on")
    args = ap.parse_args()

    model = cd.Model.default()
    x, y, source = load_rows(args.rows)
    fit_n = min(args.fit_rows, len(x))
    names = [f["alias"] or f["name"] for f in model.features]
    applicant: dict[str, Any] = {
        n: (None if np.isnan(v) else (int(v) if float(v).is_integer() else float(v)))
        for n, v in zip(names, x[0])
    }
    row = x[:1].copy()
    results: list[tuple[str, str, float | None]] = []

    # --- credit_default -------------------------------------------------------------------
    results.append(("one applicant", "credit_default, from a dict (validation + reasons)", per_call(lambda: model.predict(applicant))))
    results.append(("one applicant", "credit_default, 1×10 array", per_call(lambda: model.probability(row))))
    big = per_call(lambda: model.probability(x, threads=1), target_s=1.0)
    results.append((f"{args.rows:,} rows (numpy)", "credit_default", big))
    results.append(
        (f"{args.rows:,} rows (numpy)", "credit_default, 2 threads", per_call(lambda: model.probability(x, threads=2), target_s=1.0))
    )

    # --- scikit-learn -----------------------------------------------------------------------
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=1000))
    pipe.fit(x[:fit_n], y[:fit_n])
    results.append(("one applicant", "scikit-learn predict_proba, 1×10 array", per_call(lambda: pipe.predict_proba(row))))
    results.append((f"{args.rows:,} rows (numpy)", "scikit-learn predict_proba", per_call(lambda: pipe.predict_proba(x), target_s=2.0, repeat=3)))

    # --- ONNX Runtime -------------------------------------------------------------------------
    try:
        import onnxruntime as ort
        from skl2onnx import to_onnx

        onx = to_onnx(pipe, x[:1].astype(np.float32), options={id(pipe.steps[-1][1]): {"zipmap": False}})
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        sess = ort.InferenceSession(onx.SerializeToString(), so, providers=["CPUExecutionProvider"])
        in_name = sess.get_inputs()[0].name
        row32 = row.astype(np.float32)
        x32 = x.astype(np.float32)
        results.append(("one applicant", "ONNX Runtime (1 thread), 1×10 array", per_call(lambda: sess.run(None, {in_name: row32}))))
        results.append((f"{args.rows:,} rows (numpy)", "ONNX Runtime (1 thread)", per_call(lambda: sess.run(None, {in_name: x32}), target_s=2.0, repeat=3)))
    except ImportError as e:
        print(f"ONNX Runtime skipped: {e}", file=sys.stderr)

    # --- optbinning -----------------------------------------------------------------------------
    try:
        import pandas as pd
        from optbinning import BinningProcess, Scorecard

        canon = list(cd.FEATURES)
        df_fit = pd.DataFrame(x[:fit_n], columns=canon)
        sc = Scorecard(
            binning_process=BinningProcess(canon),
            estimator=LogisticRegression(max_iter=1000),
            scaling_method="pdo_odds",
            scaling_method_params={"pdo": 20, "odds": 50, "scorecard_points": 600},
        )
        sc.fit(df_fit, y[:fit_n])
        df_one = pd.DataFrame(row, columns=canon)
        df_all = pd.DataFrame(x, columns=canon)
        results.append(("one applicant", "optbinning Scorecard, 1-row DataFrame", per_call(lambda: sc.predict_proba(df_one), target_s=0.5, repeat=3)))
        results.append((f"{args.rows:,} rows (numpy)", "optbinning Scorecard", timed(lambda: sc.predict_proba(df_all), number=1, repeat=2)))
    except ImportError as e:
        print(f"optbinning skipped: {e}", file=sys.stderr)

    # --- table -----------------------------------------------------------------------------------
    ours = {"one applicant": results[0][2], f"{args.rows:,} rows (numpy)": big}
    print(f"\n{source}, {args.rows:,} rows; Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs; other models fitted on {fit_n:,} rows\n")
    print("| case | engine | time | ratio to credit_default (dict / 1 thread) |")
    print("|---|---|---:|---:|")
    for case, engine, t in results:
        base = ours.get(case, None)
        ratio = f"{t / base:.1f}×" if (t is not None and base) else ""
        print(f"| {case} | {engine} | {fmt(t)} | {ratio} |")
    print()
    one = results[0][2]
    print(f"targets: one applicant ≤ 1 µs: {fmt(one)} ({'met' if one <= 1e-6 else 'missed'}); "
          f"1M rows ≤ 15 ms on one thread: {fmt(big)} ({'met' if big <= 15e-3 else 'missed'})")


if __name__ == "__main__":
    main()
