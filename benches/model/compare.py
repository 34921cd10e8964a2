"""Compare the scorecard trainer's models with LightGBM on the same cross-validation folds.

Runs `credit train` for the additive scorecard (`--interactions 0`) and for interaction models
(`--interactions K`), each writing its out-of-fold predictions (`--oof`), then fits LightGBM
(400 trees) on exactly the folds the trainer used (read from the additive model's `oof.csv`:
data row, fold, label) and prints one table: pooled out-of-fold AUC and Brier score per model,
with each model's wall-clock time. Every number is out of sample: the trainer fits bins, pairs
and coefficients on the training folds only, and so does LightGBM here.

    python benches/model/compare.py --credit target/release/credit --data cs-training.csv.gz \
        --out .work/model-compare [--ks 4,8,12] [--trees 400]

Outputs (under --out): one directory per scorecard model (model.json, oof.csv, report/),
`lightgbm-oof.csv`, `compare.json` and `compare.md`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

LABEL = "SeriousDlqin2yrs"


def train_scorecard(
    credit: str, data: str, out: Path, k: int, extra: list[str], reuse: bool
) -> dict:
    """Trains one scorecard with `credit train` and returns its out-of-fold table and time
    (with `reuse`, an earlier run's table when there is one, and no time)."""
    name = "additive" if k == 0 else f"interactions K={k}"
    if reuse and (out / "oof.csv").exists():
        return {"name": name, "oof": pd.read_csv(out / "oof.csv"), "seconds": None}
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        credit,
        "train",
        "--data",
        data,
        "--out",
        str(out / "model.json"),
        "--report",
        str(out / "report"),
        "--oof",
        str(out / "oof.csv"),
        "--interactions",
        str(k),
        "--quiet",
        *extra,
    ]
    started = time.monotonic()
    subprocess.run(cmd, check=True)
    seconds = time.monotonic() - started
    oof = pd.read_csv(out / "oof.csv")
    return {"name": name, "oof": oof, "seconds": seconds}


def lightgbm_oof(data: str, folds: pd.DataFrame, trees: int) -> tuple[pd.DataFrame, float]:
    """LightGBM's out-of-fold probabilities on the trainer's rows and folds."""
    frame = pd.read_csv(data, na_values=["NA"])
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("Unnamed") or c == ""])
    features = [c for c in frame.columns if c != LABEL]
    x = frame.loc[folds["row"].to_numpy(), features].to_numpy(dtype=float)
    y = folds["label"].to_numpy()
    if not np.array_equal(frame.loc[folds["row"].to_numpy(), LABEL].to_numpy(), y):
        sys.exit("the oof rows do not match the data file's labels: a different file?")
    fold = folds["fold"].to_numpy()
    p = np.full(len(y), np.nan)
    started = time.monotonic()
    for f in np.unique(fold):
        held = fold == f
        model = lgb.LGBMClassifier(
            n_estimators=trees,
            learning_rate=0.03,
            num_leaves=16,
            min_child_samples=200,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            reg_lambda=1.0,
            random_state=0,
            n_jobs=2,
            verbose=-1,
        )
        model.fit(x[~held], y[~held])
        p[held] = model.predict_proba(x[held])[:, 1]
    oof = folds[["row", "fold", "label"]].assign(probability=p)
    return oof, time.monotonic() - started


def scores(oof: pd.DataFrame) -> dict:
    y, p = oof["label"].to_numpy(), oof["probability"].to_numpy()
    return {"auc": float(roc_auc_score(y, p)), "brier": float(brier_score_loss(y, p))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--credit", required=True, help="the credit binary")
    ap.add_argument("--data", required=True, help="cs-training.csv(.gz)")
    ap.add_argument("--out", required=True, type=Path, help="output directory (under .work/)")
    ap.add_argument("--ks", default="4,8,12", help="interaction counts to train besides 0")
    ap.add_argument("--trees", type=int, default=400, help="LightGBM trees")
    ap.add_argument(
        "--train-arg",
        action="append",
        default=[],
        help="extra argument for every `credit train` (repeatable)",
    )
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="use a model's oof.csv from an earlier run under --out instead of training",
    )
    args = ap.parse_args()

    ks = [0] + [int(k) for k in args.ks.split(",") if k.strip()]
    runs = [
        train_scorecard(args.credit, args.data, args.out / f"k{k}", k, args.train_arg, args.reuse)
        for k in ks
    ]
    base = runs[0]["oof"]
    for r in runs[1:]:
        same = r["oof"][["row", "fold"]].reset_index(drop=True)
        if not same.equals(base[["row", "fold"]].reset_index(drop=True)):
            sys.exit(f"{r['name']} used other rows or folds than the additive model")
    oof, seconds = lightgbm_oof(args.data, base, args.trees)
    oof.to_csv(args.out / "lightgbm-oof.csv", index=False)
    runs.append({"name": f"LightGBM ({args.trees} trees)", "oof": oof, "seconds": seconds})

    table = [
        {
            "model": r["name"],
            **scores(r["oof"]),
            "seconds": None if r["seconds"] is None else round(r["seconds"], 1),
        }
        for r in runs
    ]
    lines = ["| model | CV AUC | Brier | time (s) |", "|---|---|---|---|"]
    lines += [
        f"| {t['model']} | {t['auc']:.5f} | {t['brier']:.5f} | {t['seconds'] or 'reused'} |"
        for t in table
    ]
    text = "\n".join(lines) + "\n"
    (args.out / "compare.md").write_text(text)
    (args.out / "compare.json").write_text(json.dumps(table, indent=2) + "\n")
    print(text, end="")


if __name__ == "__main__":
    main()
