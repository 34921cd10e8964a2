"""How far a model of main effects and pairs can go on the scorecard's folds (issue #16).

Fits LightGBM on exactly the rows and folds of a `credit train --oof` run, with tree shapes and
interaction constraints that match each kind of model the scorecard could be:

- stumps (an additive model);
- depth-2 trees, which are models of pairs: a tree that splits on A and then on B or C is an
  (A, B) term plus an (A, C) term, and LightGBM's interaction constraints hold per branch. Free
  (every pair, age too), every pair without age, the K best pairs without and with age (ranked
  per fold by the split gain of the free model fitted on that fold's training rows only), and
  the pairs of a given scorecard artifact, alone and with every age pair added.

Prints pooled out-of-fold AUC and Brier per model (and at several tree counts) and keeps the
table in `--out`. Every number is out of sample.

    python benches/model/pairs_bound.py --data cs-training.csv.gz --oof oof.csv \
        --model model.json --out .work/pairs-bound [--ks 8,12,16]
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

LABEL = "SeriousDlqin2yrs"
AGE = 1
SHORT = ["Rev", "age", "PD30", "DebtR", "Income", "Open", "PD90", "RealEst", "PD60", "Dep"]
DEPTH2 = {"max_depth": 2, "num_leaves": 4}
STUMPS = {"max_depth": 1, "num_leaves": 2}
SINGLES = [[j] for j in range(10)]
# Fitted first in every fold: it also ranks the pairs for the "best pairs" models.
FREE = "depth-2, free (every pair, age too)"


def load(data: str, oof: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The trainer's rows (features, labels) and folds, from its out-of-fold table."""
    folds = pd.read_csv(oof)
    frame = pd.read_csv(data, na_values=["NA"])
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("Unnamed") or c == ""])
    features = [c for c in frame.columns if c != LABEL]
    rows = folds["row"].to_numpy()
    y = folds["label"].to_numpy()
    if not np.array_equal(frame.loc[rows, LABEL].to_numpy(), y):
        sys.exit("the out-of-fold table's rows do not match the data's labels")
    return frame.loc[rows, features].to_numpy(dtype=float), y, folds["fold"].to_numpy(), features


def fit(x: np.ndarray, y: np.ndarray, trees: int, **shape: object) -> lgb.LGBMClassifier:
    """LightGBM with `make model-compare`'s settings, one thread, and the given tree shape."""
    model = lgb.LGBMClassifier(
        n_estimators=trees, learning_rate=0.03, min_child_samples=200, subsample=0.8,
        subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0, random_state=0, n_jobs=1,
        verbose=-1, **shape,
    )  # fmt: skip
    return model.fit(x, y)


def pair_gains(model: lgb.LGBMClassifier) -> collections.Counter:
    """Split gain of each pair of features (a depth-2 tree's root and a child on another one)."""
    gains: collections.Counter = collections.Counter()
    for tree in model.booster_.dump_model()["tree_info"]:
        root = tree["tree_structure"]
        if "split_feature" not in root:
            continue
        for side in ("left_child", "right_child"):
            child = root[side]
            if "split_feature" in child and child["split_feature"] != root["split_feature"]:
                pair = tuple(sorted((root["split_feature"], child["split_feature"])))
                gains[pair] += child["split_gain"]
    return gains


def artifact_pairs(path: str, features: list[str]) -> list[list[int]]:
    """The interaction pairs of a scorecard artifact, as column indices of the data."""
    canon = {f.replace("-", "_"): j for j, f in enumerate(features)}
    pairs = json.loads(Path(path).read_text())["interactions"]
    return [[canon[name.replace("-", "_")] for name in p["features"]] for p in pairs]


def run(args: argparse.Namespace) -> list[dict]:
    x, y, fold, features = load(args.data, args.oof)
    ks = [int(k) for k in args.ks.split(",") if k]
    counts = sorted({args.trees // 2, args.trees})
    no_age = [list(p) for p in itertools.combinations(range(10), 2) if AGE not in p]
    age_pairs = [[AGE, j] for j in range(10) if j != AGE]
    fixed: dict[str, tuple[dict, tuple[int, bool] | None]] = {
        FREE: ({**DEPTH2}, None),
        "stumps (additive)": ({**STUMPS}, None),
        "depth-2, every pair without age": (
            {**DEPTH2, "interaction_constraints": no_age + SINGLES},
            None,
        ),
    }
    if args.model:
        pairs = artifact_pairs(args.model, features)
        fixed[f"depth-2, the artifact's {len(pairs)} pairs"] = (
            {**DEPTH2, "interaction_constraints": pairs + SINGLES}, None)  # fmt: skip
        fixed[f"depth-2, the artifact's {len(pairs)} pairs and every age pair"] = (
            {**DEPTH2, "interaction_constraints": pairs + age_pairs + SINGLES}, None)  # fmt: skip
    for k in ks:
        fixed[f"depth-2, the {k} best pairs without age"] = ({**DEPTH2}, (k, False))
        fixed[f"depth-2, the {k} best pairs, age allowed"] = ({**DEPTH2}, (k, True))
    preds = {(name, c): np.full(len(y), np.nan) for name in fixed for c in counts}
    seconds = collections.Counter()
    for f in np.unique(fold):
        train, held = fold != f, fold == f
        ranked: list[tuple[int, int]] = []
        for name, (shape, best) in fixed.items():
            if best is not None:
                k, with_age = best
                chosen = [list(p) for p in ranked if with_age or AGE not in p][:k]
                shape = {**shape, "interaction_constraints": chosen + SINGLES}
            started = time.process_time()
            model = fit(x[train], y[train], args.trees, **shape)
            if name == FREE:
                # The free model ranks the pairs for this fold (its training rows only).
                ranked = [p for p, _ in pair_gains(model).most_common()]
                top = ", ".join(f"{SHORT[a]}x{SHORT[b]}" for a, b in ranked[:16])
                print(f"fold {f}: best pairs {top}", flush=True)
            for c in counts:
                preds[(name, c)][held] = model.predict_proba(x[held], num_iteration=c)[:, 1]
            seconds[name] += time.process_time() - started
    table = []
    for (name, c), p in preds.items():
        table.append({"model": name, "trees": c, "auc": roc_auc_score(y, p),
                      "brier": brier_score_loss(y, p), "cpu_seconds": seconds[name]})  # fmt: skip
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="cs-training.csv(.gz)")
    parser.add_argument(
        "--oof", required=True, help="the out-of-fold table of `credit train --oof`"
    )
    parser.add_argument("--model", help="a scorecard artifact whose pairs to fit as a GA2M")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--ks", default="8,12,16", help="numbers of best pairs without age")
    parser.add_argument("--trees", type=int, default=1600)
    args = parser.parse_args()
    table = run(args)
    lines = [
        "| model | trees | CV AUC (pooled) | Brier | CPU s (all folds) |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['model']} | {r['trees']} | {r['auc']:.5f} | {r['brier']:.5f} | {r['cpu_seconds']:.0f} |"
              for r in table]  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pairs-bound.json").write_text(json.dumps(table, indent=1))
    (args.out / "pairs-bound.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
