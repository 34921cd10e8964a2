"""Prefect retraining flow: load -> validate -> train a challenger -> evaluate both -> gate ->
promote (MLflow alias ``champion`` + the model file ``credit serve`` reads) -> reload the service.

Run once, locally::

    python lifecycle/retrain_flow.py --data "$CREDIT_DATA" --model-path models/default.json \\
        --service-url http://127.0.0.1:8080 --mlflow-uri http://127.0.0.1:5000

Serve it on a schedule (a Prefect deployment; needs a Prefect server or Prefect Cloud)::

    python lifecycle/retrain_flow.py --serve --cron "0 3 * * 1" --data ... --model-path ...

``monitor_then_retrain`` runs ``credit monitor`` on the prediction log first and retrains only
when it reports drift (exit code 1).

The champion is the artifact at ``model_path`` (the file the service was started with). The
challenger is fitted through the Python package (``credit_default.CreditScorecard``, the same
trainer as ``credit train``). Both are scored on the same held-out split of ``data`` (a seeded,
stratified split; rows either model refuses are dropped for both), and the challenger is promoted
only when its held-out AUC beats the champion's by ``margin``. ``train_data`` lets the challenger
learn from a fresh extract while the comparison stays on the reference hold-out.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import requests
from credit_default import CreditScorecard, Model
from credit_default.mlflow_flavor import save_model
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

LABEL = "SeriousDlqin2yrs"
REGISTERED_MODEL = "credit-default"
CHAMPION_ALIAS = "champion"
# Share given to an empty bin so that PSI stays finite (same as credit-core's drift module).
PSI_EPS = 1e-4

Array = npt.NDArray[np.float64]


@dataclass
class Dataset:
    """Features in model column order (NaN = missing), labels and the source fingerprint."""

    x: Array
    y: npt.NDArray[np.int64]
    sha256: str
    source: str


@dataclass
class Validation:
    rows: int
    label_rate: float
    psi: dict[str, float]
    max_psi: float
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Evaluation:
    model_version: str
    rows: int
    auc: float
    log_loss: float
    brier: float


@dataclass
class Outcome:
    decision: str  # "promoted" | "rejected" | "invalid_data"
    reason: str
    champion_version: str
    challenger_version: str | None = None
    served_version: str | None = None
    champion: Evaluation | None = None
    challenger: Evaluation | None = None
    validation: Validation | None = None
    mlflow_run_id: str | None = None
    registered_version: str | None = None


def feature_names() -> list[str]:
    return [str(f["name"]) for f in Model.default().features]


def _read_csv(path: str) -> Dataset:
    raw = Path(path).read_bytes()
    sha = hashlib.sha256(
        gzip.decompress(raw) if path.endswith(".gz") else raw
    ).hexdigest()
    df = pd.read_csv(path, na_values=["NA", ""])
    if LABEL not in df.columns:
        raise ValueError(f"{path}: no {LABEL} column")
    cols = []
    for f in Model.default().features:
        names = [f["name"], f.get("alias")]
        found = [c for c in df.columns if c in names]
        if not found:
            raise ValueError(f"{path}: no column {f['name']}")
        cols.append(found[0])
    x = df[cols].to_numpy(dtype=np.float64)
    y = df[LABEL].to_numpy()
    return Dataset(np.ascontiguousarray(x, dtype=np.float64), y.astype(np.int64), sha, path)


@task(cache_policy=NO_CACHE)
def load_data(path: str) -> Dataset:
    """Reads a Kaggle-layout CSV (plain or gzip) through the package's column matching."""
    return _read_csv(path)


def bin_counts(artifact: dict[str, Any], feature: int, values: Array) -> tuple[npt.NDArray[np.int64], int]:
    """Counts values per bin of one feature, in the artifact's bin order (range bins, missing,
    specials; bin = number of edges <= x as the artifact format documents). Values no bin
    accepts are returned as a count of refused rows."""
    f = artifact["features"][feature]
    edges = np.asarray(f["edges"], dtype=np.float64)
    n_range = len(f["range_bins"])
    has_missing = f.get("missing_bin") is not None
    specials = f.get("special_bins") or []
    counts = np.zeros(n_range + int(has_missing) + len(specials), dtype=np.int64)
    refused = 0
    missing = np.isnan(values)
    if has_missing:
        counts[n_range] = int(missing.sum())
    else:
        refused += int(missing.sum())
    ordinary = ~missing
    for k, s in enumerate(specials):
        hit = np.isin(values, np.asarray(s["codes"], dtype=np.float64))
        counts[n_range + int(has_missing) + k] = int(hit.sum())
        ordinary &= ~hit
    idx = np.searchsorted(edges, values[ordinary], side="right")
    counts[:n_range] += np.bincount(idx, minlength=n_range)[:n_range]
    return counts, refused


def psi(expected: npt.NDArray[np.int64], actual: npt.NDArray[np.int64]) -> float:
    te, ta = expected.sum(), actual.sum()
    if te == 0 or ta == 0:
        return 0.0
    pe = np.maximum(expected / te, PSI_EPS)
    pa = np.maximum(actual / ta, PSI_EPS)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


@task(cache_policy=NO_CACHE)
def validate(
    data: Dataset,
    champion_json: str,
    min_rows: int,
    label_rate_range: tuple[float, float],
    psi_max: float,
    psi_blocks: bool,
) -> Validation:
    """Schema (10 features + 0/1 label), row count, label rate, and PSI of every feature against
    the champion's training bins. Problems stop the flow; PSI above ``psi_max`` is a problem
    only when ``psi_blocks`` (a drifted population is often the reason to retrain)."""
    logger = get_run_logger()
    problems: list[str] = []
    warnings: list[str] = []
    names = feature_names()
    if data.x.ndim != 2 or data.x.shape[1] != len(names):
        problems.append(f"expected {len(names)} feature columns, got shape {data.x.shape}")
    labels = set(np.unique(data.y).tolist())
    if not labels <= {0, 1}:
        problems.append(f"labels must be 0/1, found {sorted(labels)}")
    rows = len(data.y)
    if rows < min_rows:
        problems.append(f"{rows} rows < min_rows {min_rows}")
    rate = float(np.mean(data.y)) if rows else math.nan
    lo, hi = label_rate_range
    if not (lo <= rate <= hi):
        problems.append(f"label rate {rate:.4f} outside [{lo}, {hi}]")
    artifact = json.loads(champion_json)
    psis: dict[str, float] = {}
    for j, name in enumerate(names):
        counts, _ = bin_counts(artifact, j, data.x[:, j])
        base = np.asarray([b["count"] for b in _all_bins(artifact["features"][j])], dtype=np.int64)
        psis[name] = psi(base, counts)
    max_psi = max(psis.values()) if psis else 0.0
    if max_psi > psi_max:
        msg = f"PSI {max_psi:.3f} > {psi_max} vs the champion's training data: " + ", ".join(
            f"{k} {v:.3f}" for k, v in psis.items() if v > psi_max
        )
        (problems if psi_blocks else warnings).append(msg)
    for w in warnings:
        logger.warning(w)
    logger.info("validated %s: %d rows, label rate %.4f, max PSI %.4f", data.source, rows, rate, max_psi)
    return Validation(rows, rate, psis, max_psi, problems, warnings)


def _all_bins(f: dict[str, Any]) -> list[dict[str, Any]]:
    bins = list(f["range_bins"])
    if f.get("missing_bin") is not None:
        bins.append(f["missing_bin"])
    bins.extend(s["bin"] for s in f.get("special_bins") or [])
    return bins


def stratified_split(y: npt.NDArray[np.int64], fraction: float, seed: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(train indices, held-out indices): the same seed gives the same split."""
    rng = np.random.default_rng(seed)
    hold: list[npt.NDArray[np.intp]] = []
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        hold.append(idx[: round(len(idx) * fraction)])
    held = np.sort(np.concatenate(hold))
    mask = np.ones(len(y), dtype=bool)
    mask[held] = False
    return np.flatnonzero(mask), held


@task(cache_policy=NO_CACHE)
def train_challenger(
    x: Array,
    y: npt.NDArray[np.int64],
    sha256: str,
    max_bins: int,
    folds: int,
    model_version: str | None,
) -> str:
    """Fits a challenger with the package's scikit-learn estimator; returns the artifact JSON."""
    est = CreditScorecard(max_bins=max_bins, folds=folds, model_version=model_version)
    est.fit(x, y, data_sha256=sha256)
    get_run_logger().info("challenger %s: CV AUC %.5f", est.model_.version, est.cv_auc_)
    return est.to_json()


def _scored(model_json: str, x: Array) -> Array:
    return np.asarray(Model.from_json(model_json).score_batch(x).probability, dtype=np.float64)


@task(cache_policy=NO_CACHE)
def evaluate(champion_json: str, challenger_json: str, x: Array, y: npt.NDArray[np.int64]) -> tuple[Evaluation, Evaluation]:
    """Both models on the same held-out rows (rows either model refuses are dropped for both)."""
    p_champ = _scored(champion_json, x)
    p_chall = _scored(challenger_json, x)
    keep = np.isfinite(p_champ) & np.isfinite(p_chall)
    out = []
    for text, p in ((champion_json, p_champ), (challenger_json, p_chall)):
        pk, yk = p[keep], y[keep]
        out.append(
            Evaluation(
                model_version=Model.from_json(text).version,
                rows=int(keep.sum()),
                auc=float(roc_auc_score(yk, pk)),
                log_loss=float(log_loss(yk, np.clip(pk, 1e-15, 1 - 1e-15), labels=[0, 1])),
                brier=float(brier_score_loss(yk, pk)),
            )
        )
    logger = get_run_logger()
    for role, e in zip(("champion", "challenger"), out):
        logger.info("%s %s: held-out AUC %.5f on %d rows", role, e.model_version, e.auc, e.rows)
    return out[0], out[1]


def _mlflow_client(uri: str) -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(uri)
    return MlflowClient(tracking_uri=uri)


@task(cache_policy=NO_CACHE)
def track(
    mlflow_uri: str | None,
    experiment: str,
    challenger_json: str,
    champion: Evaluation,
    challenger: Evaluation,
    validation: Validation,
    params: dict[str, Any],
    promote: bool,
) -> tuple[str | None, str | None]:
    """Logs the challenger run (params, held-out metrics of both, the artifact); when promoted,
    registers it as a version of ``credit-default`` and moves the ``champion`` alias to it."""
    if not mlflow_uri:
        return None, None
    import mlflow

    client = _mlflow_client(mlflow_uri)
    mlflow.set_experiment(experiment)
    artifact = json.loads(challenger_json)
    with mlflow.start_run(run_name=f"retrain-{challenger.model_version}") as run:
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics(
            {
                "holdout_auc": challenger.auc,
                "holdout_log_loss": challenger.log_loss,
                "holdout_brier": challenger.brier,
                "champion_holdout_auc": champion.auc,
                "champion_holdout_log_loss": champion.log_loss,
                "auc_gain": challenger.auc - champion.auc,
                "data_max_psi": validation.max_psi,
                "cv_auc_mean": float(artifact["metrics"]["cv_auc_mean"]),
            }
        )
        mlflow.set_tags(
            {
                "model_version": challenger.model_version,
                "champion_version": champion.model_version,
                "data_sha256": artifact["training_data"]["sha256"],
                "decision": "promoted" if promote else "rejected",
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            # model.json plus the pyfunc flavor (MLmodel & co.), as `credit train` logs it, so
            # that mlflow.pyfunc.load_model("models:/credit-default@champion") works.
            folder = save_model(Path(tmp) / "model", challenger_json, run_id=run.info.run_id)
            mlflow.log_artifacts(str(folder), artifact_path="model")
        run_id = run.info.run_id
        source = f"{run.info.artifact_uri}/model"
    if not promote:
        return run_id, None
    try:
        client.create_registered_model(REGISTERED_MODEL)
    except Exception as e:  # already exists
        if "RESOURCE_ALREADY_EXISTS" not in str(e) and "already exists" not in str(e):
            raise
    mv = client.create_model_version(
        REGISTERED_MODEL, source, run_id=run_id, tags={"model_version": challenger.model_version}
    )
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, mv.version)
    return run_id, str(mv.version)


@task(cache_policy=NO_CACHE)
def install_model(model_path: str, challenger_json: str) -> str:
    """Atomically replaces the model file the service reads; keeps the old one as ``.previous``."""
    path = Path(model_path)
    backup = path.with_suffix(path.suffix + ".previous")
    if path.exists():
        backup.write_bytes(path.read_bytes())
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(challenger_json, encoding="utf-8")
    os.replace(tmp, path)
    return str(backup)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def reload_service(service_url: str, token: str) -> dict[str, Any]:
    """``POST /admin/reload``: the service re-reads its configured model path."""
    r = requests.post(
        f"{service_url.rstrip('/')}/admin/reload",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    if r.status_code != 200:
        raise RuntimeError(f"reload refused: HTTP {r.status_code}: {r.text}")
    body: dict[str, Any] = r.json()
    get_run_logger().info("service reloaded: %s", body)
    return body


@flow(name="credit-retrain", log_prints=True)
def retrain(
    data: str | None = None,
    model_path: str = "models/default.json",
    train_data: str | None = None,
    service_url: str | None = None,
    admin_token: str | None = None,
    mlflow_uri: str | None = None,
    experiment: str = "credit-retrain",
    margin: float = 0.002,
    holdout_fraction: float = 0.3,
    seed: int = 20240601,
    max_bins: int = 64,
    folds: int = 5,
    model_version: str | None = None,
    min_rows: int = 500,
    label_rate_range: tuple[float, float] = (0.01, 0.5),
    psi_max: float = 0.25,
    psi_blocks: bool = False,
) -> dict[str, Any]:
    """Retrains, gates and (maybe) promotes; returns the outcome as a dict."""
    logger = get_run_logger()
    data = data or os.environ.get("CREDIT_DATA")
    if not data:
        raise ValueError("no data: pass data= or set CREDIT_DATA")
    mlflow_uri = mlflow_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
    admin_token = admin_token or os.environ.get("CREDIT_ADMIN_TOKEN")
    champion_json = Path(model_path).read_text(encoding="utf-8")
    champion_version = Model.from_json(champion_json).version

    reference = load_data(data)
    train_idx, hold_idx = stratified_split(reference.y, holdout_fraction, seed)
    if train_data:
        fresh = load_data(train_data)
        learn = fresh
    else:
        learn = Dataset(reference.x[train_idx], reference.y[train_idx], reference.sha256, f"{data} (train split)")
    checked = validate(learn, champion_json, min_rows, label_rate_range, psi_max, psi_blocks)
    if checked.problems:
        logger.error("data refused: %s", "; ".join(checked.problems))
        return asdict(Outcome("invalid_data", "; ".join(checked.problems), champion_version, validation=checked))

    challenger_json = train_challenger(learn.x, learn.y, learn.sha256, max_bins, folds, model_version)
    champ_eval, chall_eval = evaluate(champion_json, challenger_json, reference.x[hold_idx], reference.y[hold_idx])
    gain = chall_eval.auc - champ_eval.auc
    promote = gain >= margin and chall_eval.model_version != champion_version
    reason = (
        f"held-out AUC {chall_eval.auc:.5f} vs champion {champ_eval.auc:.5f} "
        f"(gain {gain:+.5f}, margin {margin})"
    )
    params = {
        "data": Path(data).name,
        "train_data": Path(train_data).name if train_data else "(train split)",
        "rows": checked.rows,
        "max_bins": max_bins,
        "folds": folds,
        "margin": margin,
        "holdout_fraction": holdout_fraction,
        "seed": seed,
    }
    run_id, registered = track(
        mlflow_uri, experiment, challenger_json, champ_eval, chall_eval, checked, params, promote
    )
    outcome = Outcome(
        "promoted" if promote else "rejected",
        reason,
        champion_version,
        challenger_version=chall_eval.model_version,
        served_version=champion_version,
        champion=champ_eval,
        challenger=chall_eval,
        validation=checked,
        mlflow_run_id=run_id,
        registered_version=registered,
    )
    if not promote:
        logger.info("challenger rejected: %s", reason)
        return asdict(outcome)
    backup = install_model(model_path, challenger_json)
    if service_url:
        if not admin_token:
            raise ValueError("service_url given but no admin token (CREDIT_ADMIN_TOKEN)")
        try:
            answer = reload_service(service_url, admin_token)
        except Exception:
            # The service keeps serving the old model; put the old file back so that a restart
            # or SIGHUP does not pick up a model the service refused.
            os.replace(backup, model_path)
            raise
        outcome.served_version = str(answer.get("model_version"))
    else:
        outcome.served_version = chall_eval.model_version
    logger.info("challenger promoted: %s", reason)
    return asdict(outcome)


@flow(name="credit-monitor-then-retrain")
def monitor_then_retrain(
    log: str,
    retrain_args: dict[str, Any],
    credit: str = "target/release/credit",
    psi_threshold: float = 0.25,
    min_rows: int = 100,
) -> dict[str, Any]:
    """Runs ``credit monitor`` on the prediction log (``sqlite://`` or ``jsonl://``) against the
    champion; retrains (``retrain(**retrain_args)``) only when it reports drift (exit code 1)."""
    model_path = str(retrain_args.get("model_path", "models/default.json"))
    proc = subprocess.run(
        [
            credit, "monitor", "--log", log, "--model", model_path,
            "--psi-threshold", str(psi_threshold), "--min-rows", str(min_rows),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    get_run_logger().info("credit monitor exit %d\n%s", proc.returncode, proc.stdout)
    if proc.returncode == 0:
        return {"decision": "stable", "monitor": proc.stdout}
    if proc.returncode != 1:
        raise RuntimeError(f"credit monitor failed ({proc.returncode}): {proc.stderr}")
    out = retrain(**retrain_args)
    out["monitor"] = proc.stdout
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("CREDIT_DATA"))
    ap.add_argument("--train-data")
    ap.add_argument("--model-path", default=os.environ.get("CREDIT_MODEL", "models/default.json"))
    ap.add_argument("--service-url")
    ap.add_argument("--mlflow-uri", default=os.environ.get("MLFLOW_TRACKING_URI"))
    ap.add_argument("--margin", type=float, default=0.002)
    ap.add_argument("--max-bins", type=int, default=64)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--serve", action="store_true", help="register a scheduled deployment and serve it")
    ap.add_argument("--cron", default="0 3 * * 1", help="schedule for --serve (default Mondays 03:00)")
    a = ap.parse_args(argv)
    params = {
        "data": a.data,
        "train_data": a.train_data,
        "model_path": a.model_path,
        "service_url": a.service_url,
        "mlflow_uri": a.mlflow_uri,
        "margin": a.margin,
        "max_bins": a.max_bins,
        "folds": a.folds,
    }
    if a.serve:
        # Blocks: the deployment's runs fire on the cron schedule until interrupted.
        retrain.serve(name="weekly-retrain", cron=a.cron, parameters=params)
        return 0
    started = time.time()
    out = retrain(**params)
    print(json.dumps(out, indent=2, default=str))
    print(f"finished in {time.time() - started:.0f} s", file=sys.stderr)
    return 0 if out["decision"] in ("promoted", "rejected") else 1


if __name__ == "__main__":
    sys.exit(main())
