"""Independent checks of a model with interaction cells (format version 3): plain Python and
scikit-learn, no project code.

The artifact's documented semantics (credit-core/src/artifact.rs, `Interaction`): each feature's
bin is found as for the additive model, its index in all-bins order (range bins, missing bin,
special bins) maps to a coarse group per axis; the cell is `cells[r * n_cols + c]` with
`n_cols = 1 + max(groups[1])`; log-odds = intercept + sum of bin logits + sum of cell logits, and
`cell.points = -factor * cell.logit`.
"""

from __future__ import annotations

import csv
import itertools
import json
import math

import pytest
from by_hand import all_bins, bin_number
from conftest import run
from sklearn.metrics import roc_auc_score

PAST_DUE = {
    "NumberOfTime30_59DaysPastDueNotWorse",
    "NumberOfTimes90DaysLate",
    "NumberOfTime60_89DaysPastDueNotWorse",
}
KAGGLE = {
    "NumberOfTime30_59DaysPastDueNotWorse": "NumberOfTime30-59DaysPastDueNotWorse",
    "NumberOfTime60_89DaysPastDueNotWorse": "NumberOfTime60-89DaysPastDueNotWorse",
}


def log_odds_by_hand(model: dict, values: dict) -> float:
    z = model["intercept"]
    index = {}
    for card in model["features"]:
        k = bin_number(card, values[card["name"]])
        index[card["name"]] = k
        z += all_bins(card)[k]["logit"]
    for it in model["interactions"]:
        a, b = it["features"]
        n_cols = 1 + max(it["groups"][1])
        r, c = it["groups"][0][index[a]], it["groups"][1][index[b]]
        z += it["cells"][r * n_cols + c]["logit"]
    return z


@pytest.fixture(scope="module")
def trained(credit, sample_csv, work):
    out = work / "sample-interactions.json"
    report = work / "sample-interactions-report"
    oof = work / "sample-interactions-oof.csv"
    r = run(
        [
            credit,
            "train",
            "--data",
            sample_csv,
            "--out",
            out,
            "--report",
            report,
            "--oof",
            oof,
            "--folds",
            "3",
            "--max-bins",
            "24",
            "--interactions",
            "4",
            "--quiet",
        ]
    )
    assert r.returncode == 0, r.stderr
    return json.loads(out.read_text()), report, oof


def test_cells_score_as_documented(trained, sample_csv):
    """The final model's in-sample AUC, recomputed by hand from the artifact with its cells,
    is the trainer's `metrics.train.auc`; without the cells it is not."""
    model, _, _ = trained
    assert model["format_version"] == 3 and len(model["interactions"]) == 4
    y, z, z_additive = [], [], []
    with open(sample_csv, newline="") as f:
        for row in csv.DictReader(f):
            values = {}
            for card in model["features"]:
                raw = row[KAGGLE.get(card["name"], card["name"])]
                values[card["name"]] = None if raw == "NA" else float(raw)
            if values["age"] < 18:
                continue  # refused by validation, not used for training
            y.append(int(row["SeriousDlqin2yrs"]))
            z.append(log_odds_by_hand(model, values))
            z_additive.append(log_odds_by_hand({**model, "interactions": []}, values))
    assert abs(roc_auc_score(y, z) - model["metrics"]["train"]["auc"]) <= 1e-9
    # Calibrated in the large: the mean prediction on the training rows is their default rate
    # (the intercept is re-fitted after the cells' past-due repair).
    mean_p = sum(1 / (1 + math.exp(-v)) for v in z) / len(z)
    assert abs(mean_p - sum(y) / len(y)) <= 1e-6, (mean_p, sum(y) / len(y))
    assert abs(roc_auc_score(y, z_additive) - model["metrics"]["train"]["auc"]) > 1e-6
    factor = model["scaling"]["factor"]
    for it in model["interactions"]:
        for cell in it["cells"]:
            assert abs(cell["points"] + factor * cell["logit"]) <= 1e-9 * (1 + abs(cell["points"]))


def past_due_points(model: dict, name: str) -> list[list[float]]:
    """Points that feature `name` brings along its range bins (its bin's points plus its cells'
    points in every grid it is in), one list per combination of the other axes' groups."""
    card = next(c for c in model["features"] if c["name"] == name)
    grids = [it for it in model["interactions"] if name in it["features"]]
    others = [range(len(it["group_labels"][1 - it["features"].index(name)])) for it in grids]
    curves = []
    for combo in itertools.product(*others):
        curve = []
        for k, b in enumerate(card["range_bins"]):
            total = b["points"]
            for it, other in zip(grids, combo):
                axis = it["features"].index(name)
                n_cols = 1 + max(it["groups"][1])
                g = it["groups"][axis][k]
                total += it["cells"][g * n_cols + other if axis == 0 else other * n_cols + g][
                    "points"
                ]
            curve.append(total)
        curves.append(curve)
    return curves


def test_no_age_and_past_due_counts_never_earn_points(trained):
    """A past-due count never earns points as it grows: its bin points plus its cells' points,
    whatever the other features' groups are (a cell alone may fall: late payments of two kinds
    add up to less than their sum)."""
    model, report, _ = trained
    assert all("age" not in it["features"] for it in model["interactions"])
    paired = {name for it in model["interactions"] for name in it["features"]} & PAST_DUE
    assert paired, "the sample's pairs should include a past-due feature"
    for name in PAST_DUE:
        for curve in past_due_points(model, name):
            assert all(b <= a + 1e-9 for a, b in itertools.pairwise(curve)), (name, curve)
    section = json.loads((report / "metrics.json").read_text())["interactions"]
    assert len(section["pairs"]) == 36 and sum(p["selected"] for p in section["pairs"]) == 4
    assert all("age" not in p["features"] for p in section["pairs"])
    assert len(section["fold_pairs"]) == 3


def test_oof_file_matches_the_reported_metrics(trained):
    model, report, oof = trained
    with open(oof, newline="") as f:
        rows = list(csv.DictReader(f))
    assert oof.read_text() == (report / "oof.csv").read_text()
    y = [int(r["label"]) for r in rows]
    p = [float(r["probability"]) for r in rows]
    assert all(0.0 < q < 1.0 and math.isfinite(q) for q in p)
    assert abs(roc_auc_score(y, p) - model["metrics"]["cv"]["auc"]) <= 1e-9
