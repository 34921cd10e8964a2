"""The retraining flow end to end: a running `credit serve` (admin token set) and a running
MLflow server. A weak champion is replaced by a challenger trained through the Python package
(the service reports the new version, MLflow's `champion` alias points at it); then a challenger
trained on a small sample with shuffled labels is rejected and the service keeps the champion."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import retrain_flow
from conftest import ROOT, Service, read_lines, start_service
from credit_default import FEATURES, CreditScorecard, Model

TOKEN = "lifecycle-test-token"


@pytest.fixture(scope="module")
def setup(workdir: Path) -> Iterator[dict[str, object]]:
    d = workdir / "flow"
    d.mkdir(exist_ok=True)
    lines = read_lines(step=10)  # ~15,000 rows: fast fits, stable held-out AUC
    data = d / "sample.csv"
    data.write_text("".join(lines))
    # A deliberately weak initial champion: 2 bins per feature, 1,500 rows.
    small = d / "small.csv"
    small.write_text("".join(lines[:1501]))
    ds = retrain_flow._read_csv(str(small))
    est = CreditScorecard(max_bins=2, folds=2, model_version="0.0.1-weak").fit(ds.x, ds.y)
    model_path = d / "model.json"
    est.save(model_path)
    shutil.copy(model_path, d / "initial.json")
    # The corrupted sample: 800 rows whose labels are shuffled (same label rate, no signal).
    rng = random.Random(7)
    body = lines[1:801]
    labels = [ln.split(",")[1] for ln in body]
    rng.shuffle(labels)
    corrupt = d / "corrupt.csv"
    corrupt.write_text(
        lines[0]
        + "".join(
            ",".join([c[0], lab] + c[2:]) for c, lab in zip((ln.split(",") for ln in body), labels)
        )
    )
    svc = start_service(d, model_path, TOKEN)
    try:
        yield {"dir": d, "data": data, "corrupt": corrupt, "model_path": model_path, "service": svc}
    finally:
        svc.proc.stop()


def champion_alias(base: str) -> dict[str, object]:
    r = requests.get(
        f"{base}/api/2.0/mlflow/registered-models/alias",
        params={"name": "credit-default", "alias": "champion"},
        timeout=10,
    )
    r.raise_for_status()
    return dict(r.json()["model_version"])


def test_promotes_a_better_challenger_then_rejects_a_worse_one(
    setup: dict[str, object], mlflow_server: str
) -> None:
    svc = setup["service"]
    assert isinstance(svc, Service)
    model_path = Path(str(setup["model_path"]))
    assert svc.model_version() == "0.0.1-weak"
    common = {
        "data": str(setup["data"]),
        "model_path": str(model_path),
        "service_url": svc.base,
        "admin_token": TOKEN,
        "mlflow_uri": mlflow_server,
        "experiment": "lifecycle-flow-test",
        "max_bins": 16,
        "folds": 2,
        "margin": 0.002,
    }

    # 1. A challenger fitted on the train split beats the weak champion and is promoted.
    out = retrain_flow.retrain(**common)
    assert out["decision"] == "promoted", out
    new_version = out["challenger_version"]
    assert new_version and new_version != "0.0.1-weak"
    assert out["challenger"]["auc"] >= out["champion"]["auc"] + 0.002
    assert out["champion"]["rows"] == out["challenger"]["rows"] > 3000
    # The running service now answers with the new model, which is the file on disk.
    assert svc.model_version() == new_version
    assert out["served_version"] == new_version
    assert Model.load(str(model_path)).version == new_version
    applicant = json.loads((ROOT / "testdata" / "vectors.json").read_text())["valid"][0]["input"]
    r = requests.post(f"{svc.base}/predict", json=applicant, timeout=10)
    assert r.status_code == 200 and r.json()["model_version"] == new_version
    # MLflow: the alias `champion` points at a registered version of that model and its run.
    alias = champion_alias(mlflow_server)
    assert str(alias["version"]) == out["registered_version"]
    assert alias["run_id"] == out["mlflow_run_id"]
    tags = {t["key"]: t["value"] for t in alias.get("tags", [])}  # type: ignore[union-attr]
    assert tags.get("model_version") == new_version
    run = requests.get(
        f"{mlflow_server}/api/2.0/mlflow/runs/get", params={"run_id": out["mlflow_run_id"]}, timeout=10
    ).json()["run"]
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert abs(metrics["holdout_auc"] - out["challenger"]["auc"]) < 1e-12
    art = requests.get(
        f"{mlflow_server}/api/2.0/mlflow-artifacts/artifacts/"
        + run["info"]["artifact_uri"].split("mlflow-artifacts:", 1)[1].strip("/")
        + "/model/model.json",
        timeout=10,
    )
    assert art.status_code == 200
    assert art.content == model_path.read_bytes()
    assert Model.from_json(art.content.decode("utf-8")).version == new_version
    # The promoted version carries the pyfunc flavor: MLflow loads and scores it like the file.
    import mlflow

    mlflow.set_tracking_uri(mlflow_server)
    x = retrain_flow._read_csv(str(setup["data"])).x[:200]
    frame = pd.DataFrame(x, columns=list(FEATURES))
    pyfunc = mlflow.pyfunc.load_model("models:/credit-default@champion")
    np.testing.assert_allclose(
        pyfunc.predict(frame, params={"errors": "nan"}).to_numpy(),
        Model.load(str(model_path)).predict_proba(x, errors="nan"),
        rtol=0, atol=1e-12, equal_nan=True,
    )

    # 2. A challenger trained on a small sample with shuffled labels is rejected.
    before = model_path.read_bytes()
    out2 = retrain_flow.retrain(**common, train_data=str(setup["corrupt"]))
    assert out2["decision"] == "rejected", out2
    assert out2["champion_version"] == new_version
    assert out2["challenger"]["auc"] < out2["champion"]["auc"]
    assert svc.model_version() == new_version
    assert model_path.read_bytes() == before
    assert str(champion_alias(mlflow_server)["version"]) == out["registered_version"]
    assert out2["registered_version"] is None and out2["mlflow_run_id"]


def test_validation_refuses_bad_data(setup: dict[str, object], workdir: Path) -> None:
    """Too few rows / a label rate out of bounds stop the flow before any training."""
    d = Path(str(setup["dir"]))
    lines = read_lines(step=50, limit=300)
    bad = d / "tiny.csv"
    bad.write_text("".join(lines))
    out = retrain_flow.retrain(
        data=str(setup["data"]), train_data=str(bad), model_path=str(setup["model_path"]), min_rows=500
    )
    assert out["decision"] == "invalid_data"
    assert "rows" in out["reason"]
    assert out["challenger_version"] is None


def test_psi_of_the_flow_matches_credit_monitor_binning(setup: dict[str, object]) -> None:
    """The flow's PSI binning agrees with the artifact's own bin statistics: counting the
    champion's training rows again reproduces the stored counts exactly."""
    d = Path(str(setup["dir"]))
    ds = retrain_flow._read_csv(str(d / "small.csv"))
    art = json.loads((d / "initial.json").read_text())
    used = Model.from_json((d / "initial.json").read_text()).score_batch(ds.x).probability
    keep = np.isfinite(np.asarray(used))
    for j in range(10):
        counts, refused = retrain_flow.bin_counts(art, j, ds.x[keep, j])
        stored = [b["count"] for b in retrain_flow._all_bins(art["features"][j])]
        assert refused == 0
        assert counts.tolist() == stored, j


def test_monitor_triggers_retraining_only_on_drift(setup: dict[str, object], workdir: Path) -> None:
    """`monitor_then_retrain`: a stable prediction log leaves everything alone; a log whose
    latest day is shifted runs the retraining flow (here with a useless challenger, so it ends
    in a rejection and the service keeps its model)."""
    from conftest import CREDIT

    d = Path(str(setup["dir"]))
    svc = setup["service"]
    assert isinstance(svc, Service)
    served = svc.model_version()
    ds = retrain_flow._read_csv(str(setup["data"]))
    names = [f["name"] for f in Model.default().features]
    keep = np.isfinite(np.asarray(Model.default().score_batch(ds.x).probability))
    rows = ds.x[keep][:600]

    def log(path: Path, shifted: bool) -> str:
        with path.open("w") as f:
            for day in (1, 2):
                for i, r in enumerate(rows):
                    x = r.copy()
                    if shifted and day == 2:
                        x[names.index("DebtRatio")] = x[names.index("DebtRatio")] * 4 + 0.5
                        x[names.index("RevolvingUtilizationOfUnsecuredLines")] += 0.6
                    inp = {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, x)}
                    f.write(json.dumps({"request_id": f"{day}-{i}", "ts": f"2026-04-0{day}T12:00:00Z",
                                        "model_version": served, "input": inp}) + "\n")
        return f"jsonl://{path}"

    args = {
        "data": str(setup["data"]),
        "train_data": str(setup["corrupt"]),
        "model_path": str(setup["model_path"]),
        "service_url": svc.base,
        "admin_token": TOKEN,
        "max_bins": 16,
        "folds": 2,
    }
    stable = retrain_flow.monitor_then_retrain(log(d / "stable.jsonl", False), args, credit=str(CREDIT))
    assert stable["decision"] == "stable"
    drifted = retrain_flow.monitor_then_retrain(log(d / "drift.jsonl", True), args, credit=str(CREDIT))
    assert drifted["decision"] == "rejected", drifted
    assert "DRIFT" in drifted["monitor"]
    assert svc.model_version() == served
