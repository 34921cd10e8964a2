"""Prefect retraining flow: load -> validate -> train a challenger on the older rows -> compare
it with the champion on the newest rows neither model was fit on -> register it -> promote it
through ``credit promote`` (every service loads and reports it before the ``champion`` alias moves).

Run once, locally (an MLflow server with the champion registered, ``credit serve`` following
``models:/credit-default@champion``)::

    python lifecycle/retrain_flow.py --data "$CREDIT_DATA" --service-url http://127.0.0.1:8080 \\
        --mlflow-uri http://127.0.0.1:5000

Serve it on a schedule (a Prefect deployment; needs a Prefect server or Prefect Cloud)::

    python lifecycle/retrain_flow.py --serve --cron "0 3 * * 1" --data ... --mlflow-uri ...

**A retrain keeps the model's form.** The challenger gets as many pairs of interaction cells as
the champion has (``interactions=None``, the default: the length of the champion artifact's
``interactions`` list, 0 for an additive champion), so that the gate compares like with like and a
promotion never silently drops the cells; pass ``interactions=K`` (``--interactions K``) to change
the form on purpose. The number used is in the outcome and in the MLflow run's params.

``monitor_then_retrain`` runs ``credit monitor`` on the prediction log first and retrains only
when it reports drift (exit code 1).

**The gate is unbiased.** Rows are taken in the data file's order, oldest first (the Kaggle layout
numbers its rows; an extract is expected to append newer applications at the end). The newest
``eval_fraction`` of the rows is the evaluation window; the challenger is fit on the rows before
it. The champion's training rows are known from the registry (version tags ``train_data_sha256``
and ``train_rows``, written by ``credit register`` and this flow; an artifact file names its data
by sha256 and was fit on all of it): when the champion was fit on this very file, its rows are
removed from the window too. Both models are scored on what is left, and the window's size, the
row ranges and the data hash are logged in the MLflow run. Too small a window (``min_eval_rows``)
is a rejection with that reason, not a comparison on rows a model has seen.

Nothing here writes into the repository: the challenger's file goes to ``out_dir`` (default
``.work/retrain``) and to the registry.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import math
import os
import shutil
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
from credit_default import CreditScorecard, Model
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHAMPION = "models:/credit-default@champion"
DEFAULT_OUT = ROOT / ".work" / "retrain"
LABEL = "SeriousDlqin2yrs"
REGISTERED_MODEL = "credit-default"
CHAMPION_ALIAS = "champion"
# Share given to an empty bin so that PSI stays finite (same as credit-core's drift module).
PSI_EPS = 1e-4

Array = npt.NDArray[np.float64]


@dataclass
class Dataset:
    """Features in model column order (NaN = missing), labels, the source fingerprint, and what
    is wrong with the file's schema (checked by ``validate``; the loader never raises on it)."""

    x: Array
    y: npt.NDArray[np.int64]
    sha256: str
    source: str
    schema_problems: list[str] = field(default_factory=list)

    def rows(self, start: int, end: int, source: str) -> Dataset:
        return Dataset(
            self.x[start:end], self.y[start:end], self.sha256, source, self.schema_problems
        )


@dataclass
class Champion:
    """The serving model and what it was fit on (``train_rows`` None = every row of the file)."""

    reference: str
    artifact_json: str
    version: str
    registry_version: str | None
    train_sha256: str
    train_rows: tuple[int, int] | None

    @property
    def interactions(self) -> int:
        """Pairs of features with interaction cells in the champion (0: an additive model)."""
        return champion_interactions(self.artifact_json)


@dataclass
class Window:
    """The gate's rows: the challenger learns ``[0, train_end)``; both are judged on ``eval_idx``."""

    train_end: int
    eval_idx: npt.NDArray[np.intp]
    eval_range: tuple[int, int]
    excluded_champion_rows: int


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
    decision: str  # "promoted" | "rejected" | "invalid_data" | "promotion_failed"
    reason: str
    champion_version: str
    champion_reference: str = ""
    challenger_version: str | None = None
    served_version: str | None = None
    champion: Evaluation | None = None
    challenger: Evaluation | None = None
    validation: Validation | None = None
    window: dict[str, Any] | None = None
    mlflow_run_id: str | None = None
    registered_version: str | None = None
    challenger_path: str | None = None
    interactions: int | None = None  # pairs of interaction cells the challenger was asked for


def champion_interactions(artifact_json: str) -> int:
    """Pairs with interaction cells in a model artifact (format version 3 lists them under
    ``interactions``; older and additive artifacts have none)."""
    return len(json.loads(artifact_json).get("interactions") or [])


def feature_names() -> list[str]:
    return [str(f["name"]) for f in Model.default().features]


def _labels(raw: pd.Series, problems: list[str]) -> npt.NDArray[np.int64]:
    """0/1 labels; anything else (0.5, 2, text, empty) is a schema problem, never a silent cast."""
    num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isin(num, (0.0, 1.0))
    if bad.any():
        shown = sorted({str(v) for v in raw[bad].head(5)})
        problems.append(
            f"{LABEL} must be 0 or 1: {int(bad.sum())} rows are not (e.g. {', '.join(shown)})"
        )
        return np.zeros(len(num), dtype=np.int64)
    return num.astype(np.int64)


def _features(df: pd.DataFrame, path: str, problems: list[str]) -> Array:
    """The ten columns by seed name or alias; a missing or non-numeric column is a problem."""
    out = np.full((len(df), 10), np.nan)
    for j, f in enumerate(Model.default().features):
        found = [c for c in df.columns if c in (f["name"], f.get("alias"))]
        if not found:
            problems.append(f"{path}: no column {f['name']}")
            continue
        col = pd.to_numeric(df[found[0]], errors="coerce")
        text = col.isna() & df[found[0]].notna()
        if text.any():
            problems.append(
                f"{found[0]}: {int(text.sum())} values are not numbers (e.g. {df[found[0]][text].iloc[0]!r})"
            )
        out[:, j] = col.to_numpy(dtype=np.float64)
    return out


def _read_csv(path: str) -> Dataset:
    """Reads a Kaggle-layout CSV (plain or gzip), rows in file order. Schema problems (missing
    or non-numeric columns, labels other than 0/1) are collected for ``validate``."""
    raw = Path(path).read_bytes()
    text = gzip.decompress(raw) if path.endswith(".gz") else raw
    sha = hashlib.sha256(text).hexdigest()
    df = pd.read_csv(io.BytesIO(text), na_values=["NA", ""], dtype=str, keep_default_na=True)
    problems: list[str] = []
    if LABEL in df.columns:
        y = _labels(df[LABEL], problems)
    else:
        problems.append(f"{path}: no {LABEL} column")
        y = np.zeros(len(df), dtype=np.int64)
    x = _features(df, path, problems)
    return Dataset(np.ascontiguousarray(x), y, sha, path, problems)


@task(cache_policy=NO_CACHE)
def load_data(path: str) -> Dataset:
    """Reads the labelled extract (see ``_read_csv``)."""
    return _read_csv(path)


def bin_counts(
    artifact: dict[str, Any], feature: int, values: Array
) -> tuple[npt.NDArray[np.int64], int]:
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
    """Schema (the loader's findings), row count, label rate, and PSI of every feature against
    the champion's training bins. Problems stop the flow; PSI above ``psi_max`` is a problem
    only when ``psi_blocks`` (a drifted population is often the reason to retrain)."""
    logger = get_run_logger()
    problems: list[str] = list(data.schema_problems)
    warnings: list[str] = []
    rows = len(data.y)
    if rows < min_rows:
        problems.append(f"{rows} rows < min_rows {min_rows}")
    rate = float(np.mean(data.y)) if rows else math.nan
    lo, hi = label_rate_range
    if not data.schema_problems and not (lo <= rate <= hi):
        problems.append(f"label rate {rate:.4f} outside [{lo}, {hi}]")
    psis: dict[str, float] = {}
    if not data.schema_problems:
        artifact = json.loads(champion_json)
        for j, name in enumerate(feature_names()):
            counts, _ = bin_counts(artifact, j, data.x[:, j])
            base = np.asarray(
                [b["count"] for b in _all_bins(artifact["features"][j])], dtype=np.int64
            )
            psis[name] = psi(base, counts)
    max_psi = max(psis.values()) if psis else 0.0
    if max_psi > psi_max:
        msg = f"PSI {max_psi:.3f} > {psi_max} vs the champion's training data: " + ", ".join(
            f"{k} {v:.3f}" for k, v in psis.items() if v > psi_max
        )
        (problems if psi_blocks else warnings).append(msg)
    for w in warnings:
        logger.warning(w)
    logger.info(
        "validated %s: %d rows, label rate %.4f, max PSI %.4f", data.source, rows, rate, max_psi
    )
    return Validation(rows, rate, psis, max_psi, problems, warnings)


def _all_bins(f: dict[str, Any]) -> list[dict[str, Any]]:
    bins = list(f["range_bins"])
    if f.get("missing_bin") is not None:
        bins.append(f["missing_bin"])
    bins.extend(s["bin"] for s in f.get("special_bins") or [])
    return bins


def gate_window(data: Dataset, champion: Champion, eval_fraction: float) -> Window:
    """The newest ``eval_fraction`` of the rows, minus any the champion was fit on (when it was
    fit on this very file); the challenger learns from the rows before the window."""
    n = len(data.y)
    train_end = n - max(1, round(n * eval_fraction))
    idx = np.arange(train_end, n)
    excluded = 0
    if champion.train_sha256 == data.sha256:
        a, b = champion.train_rows or (0, n)
        seen = (idx >= a) & (idx < b)
        excluded = int(seen.sum())
        idx = idx[~seen]
    return Window(train_end, idx, (train_end, n), excluded)


@task(cache_policy=NO_CACHE)
def train_challenger(
    x: Array,
    y: npt.NDArray[np.int64],
    sha256: str,
    max_bins: int,
    folds: int,
    model_version: str | None,
    interactions: int,
) -> str:
    """Fits a challenger with the package's scikit-learn estimator (``interactions`` pairs of
    cells; the other cells settings are the trainer's defaults, as ``credit train``'s); returns
    the artifact JSON."""
    est = CreditScorecard(
        max_bins=max_bins, folds=folds, model_version=model_version, interactions=interactions
    )
    est.fit(x, y, data_sha256=sha256)
    get_run_logger().info(
        "challenger %s (%d interaction pairs): CV AUC %.5f",
        est.model_.version,
        interactions,
        est.cv_auc_,
    )
    return est.to_json()


def _scored(model_json: str, x: Array) -> Array:
    return np.asarray(Model.from_json(model_json).score_batch(x).probability, dtype=np.float64)


@task(cache_policy=NO_CACHE)
def evaluate(
    champion_json: str, challenger_json: str, x: Array, y: npt.NDArray[np.int64]
) -> tuple[Evaluation, Evaluation]:
    """Both models on the same window (rows either model refuses are dropped for both)."""
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
        logger.info("%s %s: AUC %.5f on %d unseen rows", role, e.model_version, e.auc, e.rows)
    return out[0], out[1]


def _mlflow_client(uri: str) -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(uri)
    return MlflowClient(tracking_uri=uri)


def _rows_tag(value: str | None) -> tuple[int, int] | None:
    if not value or ":" not in value:
        return None
    a, b = value.split(":", 1)
    return int(a), int(b)


def _champion_from_registry(reference: str, mlflow_uri: str) -> Champion:
    """``models:/NAME@ALIAS`` or ``models:/NAME/N``: the version, its artifact and provenance."""
    client = _mlflow_client(mlflow_uri)
    name, sep, alias = reference.removeprefix("models:/").partition("@")
    if sep:
        mv = client.get_model_version_by_alias(name, alias)
    else:
        name, _, number = name.partition("/")
        mv = client.get_model_version(name, number)
    with tempfile.TemporaryDirectory() as tmp:
        import mlflow

        path = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{mv.source}/model.json", dst_path=tmp
        )
        text = Path(path).read_text(encoding="utf-8")
    art = json.loads(text)
    tags = dict(mv.tags or {})
    return Champion(
        reference,
        text,
        str(art["model_version"]),
        str(mv.version),
        tags.get("train_data_sha256") or art["training_data"]["sha256"],
        _rows_tag(tags.get("train_rows")),
    )


@task(cache_policy=NO_CACHE)
def resolve_champion(reference: str, mlflow_uri: str | None) -> Champion:
    """The champion named by a registry URI (needs ``mlflow_uri``) or an artifact file."""
    if reference.startswith("models:/"):
        if not mlflow_uri:
            raise ValueError(
                f"{reference} needs an MLflow tracking URI (mlflow_uri / MLFLOW_TRACKING_URI)"
            )
        return _champion_from_registry(reference, mlflow_uri)
    text = Path(reference).read_text(encoding="utf-8")
    art = json.loads(text)
    return Champion(
        reference, text, str(art["model_version"]), None, art["training_data"]["sha256"], None
    )


@task(cache_policy=NO_CACHE)
def track(
    mlflow_uri: str | None,
    experiment: str,
    challenger_json: str,
    champion: tuple[Champion, Evaluation],
    challenger: Evaluation,
    validation: Validation,
    window: dict[str, Any],
    params: dict[str, Any],
    passed: bool,
) -> str | None:
    """Logs the challenger run: params, the window's rows and size, both models' metrics on it,
    the data hash, and the artifact (``credit register`` adds the registry version)."""
    if not mlflow_uri:
        return None
    import mlflow

    _mlflow_client(mlflow_uri)
    mlflow.set_experiment(experiment)
    champ, champ_eval = champion
    artifact = json.loads(challenger_json)
    with mlflow.start_run(run_name=f"retrain-{challenger.model_version}") as run:
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics(
            {
                "eval_auc": challenger.auc,
                "eval_log_loss": challenger.log_loss,
                "eval_brier": challenger.brier,
                "champion_eval_auc": champ_eval.auc,
                "champion_eval_log_loss": champ_eval.log_loss,
                "auc_gain": challenger.auc - champ_eval.auc,
                "eval_rows": challenger.rows,
                "data_max_psi": validation.max_psi,
                "cv_auc_mean": float(artifact["metrics"]["cv_auc_mean"]),
            }
        )
        mlflow.set_tags(
            {
                "model_version": challenger.model_version,
                "champion_version": champion[0].version,
                "champion_reference": champ.reference,
                "champion_registry_version": champ.registry_version or "",
                "data_sha256": window["data_sha256"],
                "train_rows": f"0:{window['train_end']}",
                "eval_rows": f"{window['eval_range'][0]}:{window['eval_range'][1]}",
                "eval_excluded_champion_rows": str(window["excluded_champion_rows"]),
                "decision": "passed_gate" if passed else "rejected",
            }
        )
        return str(run.info.run_id)


def _credit_binary(credit: str | None) -> str:
    found = credit or os.environ.get("CREDIT") or shutil.which("credit")
    if not found:
        raise FileNotFoundError("the credit binary: pass credit= or set CREDIT or put it on PATH")
    return found


@task(cache_policy=NO_CACHE)
def register(credit: str, mlflow_uri: str, run_id: str | None, path: str, train_end: int) -> str:
    """``credit register``: the challenger becomes a registry version (no alias moves)."""
    cmd = [
        credit,
        "register",
        "--model",
        path,
        "--mlflow-uri",
        mlflow_uri,
        "--train-rows",
        f"0:{train_end}",
    ]
    if run_id:
        cmd += ["--run-id", run_id]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"credit register failed ({out.returncode}): {out.stderr}")
    return str(json.loads(out.stdout)["version"])


@task(cache_policy=NO_CACHE)
def promote(
    credit: str, mlflow_uri: str, version: str, services: list[str], token: str | None
) -> tuple[bool, str]:
    """``credit promote``: services load and report the version, then the alias moves; on any
    failure they are put back and the alias stays. Returns (done, its message)."""
    cmd = [credit, "promote", "--version", version, "--mlflow-uri", mlflow_uri]
    for url in services:
        cmd += ["--service", url]
    env = dict(os.environ)
    env.pop("CREDIT_SERVICES", None)
    if token:
        env["CREDIT_ADMIN_TOKEN"] = token
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    message = (out.stdout + out.stderr).strip()
    get_run_logger().info("credit promote exit %d: %s", out.returncode, message)
    return out.returncode == 0, message


def _write_challenger(out_dir: str, challenger_json: str) -> str:
    version = Model.from_json(challenger_json).version
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"challenger-{version}-{int(time.time())}.json"
    path.write_text(challenger_json, encoding="utf-8")
    return str(path)


@flow(name="credit-retrain", log_prints=True)
def retrain(
    data: str | None = None,
    champion: str = DEFAULT_CHAMPION,
    services: list[str] | None = None,
    admin_token: str | None = None,
    mlflow_uri: str | None = None,
    experiment: str = "credit-retrain",
    margin: float = 0.002,
    eval_fraction: float = 0.25,
    min_eval_rows: int = 1000,
    max_bins: int = 64,
    folds: int = 5,
    interactions: int | None = None,
    model_version: str | None = None,
    min_rows: int = 500,
    label_rate_range: tuple[float, float] = (0.01, 0.5),
    psi_max: float = 0.25,
    psi_blocks: bool = False,
    out_dir: str = str(DEFAULT_OUT),
    credit: str | None = None,
) -> dict[str, Any]:
    """Retrains, gates on unseen rows and (maybe) promotes; returns the outcome as a dict.
    ``interactions=None`` fits the challenger with as many interaction pairs as the champion."""
    logger = get_run_logger()
    data = data or os.environ.get("CREDIT_DATA")
    if not data:
        raise ValueError("no data: pass data= or set CREDIT_DATA")
    mlflow_uri = mlflow_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
    admin_token = admin_token or os.environ.get("CREDIT_ADMIN_TOKEN")
    services = list(services or [])
    champ = resolve_champion(champion, mlflow_uri)
    base = Outcome(
        "invalid_data", "", champ.version, champion_reference=champion, served_version=champ.version
    )
    base.interactions = champ.interactions if interactions is None else interactions

    dataset = load_data(data)
    window = gate_window(dataset, champ, eval_fraction)
    learn = dataset.rows(0, window.train_end, f"{data} rows 0:{window.train_end}")
    checked = validate(learn, champ.artifact_json, min_rows, label_rate_range, psi_max, psi_blocks)
    base.validation = checked
    base.window = {
        "data_sha256": dataset.sha256,
        "train_end": window.train_end,
        "eval_range": list(window.eval_range),
        "eval_rows": len(window.eval_idx),
        "excluded_champion_rows": window.excluded_champion_rows,
    }
    if checked.problems:
        base.reason = "; ".join(checked.problems)
        logger.error("data refused: %s", base.reason)
        return asdict(base)
    if len(window.eval_idx) < min_eval_rows:
        base.decision = "rejected"
        base.reason = (
            f"only {len(window.eval_idx)} rows of the newest window were unseen by the champion "
            f"({window.excluded_champion_rows} excluded; min_eval_rows {min_eval_rows}): no unbiased comparison"
        )
        logger.warning(base.reason)
        return asdict(base)

    challenger_json = train_challenger(
        learn.x, learn.y, dataset.sha256, max_bins, folds, model_version, base.interactions
    )
    base.challenger_path = _write_challenger(out_dir, challenger_json)
    ex, ey = dataset.x[window.eval_idx], dataset.y[window.eval_idx]
    champ_eval, chall_eval = evaluate(champ.artifact_json, challenger_json, ex, ey)
    gain = chall_eval.auc - champ_eval.auc
    passed = gain >= margin and chall_eval.model_version != champ.version
    base.champion, base.challenger = champ_eval, chall_eval
    base.challenger_version = chall_eval.model_version
    base.reason = (
        f"AUC on {chall_eval.rows} unseen rows {window.eval_range[0]}:{window.eval_range[1]}: "
        f"challenger {chall_eval.auc:.5f} vs champion {champ_eval.auc:.5f} (gain {gain:+.5f}, margin {margin})"
    )
    params = {
        "data": Path(data).name,
        "rows": checked.rows,
        "max_bins": max_bins,
        "folds": folds,
        "interactions": base.interactions,
        "margin": margin,
        "eval_fraction": eval_fraction,
        "min_eval_rows": min_eval_rows,
    }
    base.mlflow_run_id = track(
        mlflow_uri,
        experiment,
        challenger_json,
        (champ, champ_eval),
        chall_eval,
        checked,
        base.window,
        params,
        passed,
    )
    if not passed:
        base.decision = "rejected"
        logger.info("challenger rejected: %s", base.reason)
        return asdict(base)
    if not mlflow_uri:
        base.decision = "rejected"
        base.reason += f"; passed the gate, but promotion needs the registry (no MLflow URI): {base.challenger_path}"
        return asdict(base)
    binary = _credit_binary(credit)
    base.registered_version = register(
        binary, mlflow_uri, base.mlflow_run_id, base.challenger_path, window.train_end
    )
    done, message = promote(binary, mlflow_uri, base.registered_version, services, admin_token)
    if not done:
        base.decision = "promotion_failed"
        base.reason += f"; {message}"
        logger.error("promotion failed, champion unchanged: %s", message)
        return asdict(base)
    base.decision = "promoted"
    base.served_version = chall_eval.model_version
    logger.info("challenger promoted: %s", base.reason)
    return asdict(base)


@flow(name="credit-monitor-then-retrain")
def monitor_then_retrain(
    log: str,
    retrain_args: dict[str, Any],
    credit: str | None = None,
    psi_threshold: float = 0.25,
    min_rows: int = 100,
) -> dict[str, Any]:
    """Runs ``credit monitor`` on the prediction log (``sqlite://`` or ``jsonl://``) against the
    champion; retrains (``retrain(**retrain_args)``) only when it reports drift (exit code 1)."""
    binary = _credit_binary(credit)
    champion = str(retrain_args.get("champion", DEFAULT_CHAMPION))
    env = dict(os.environ)
    if retrain_args.get("mlflow_uri"):
        env["MLFLOW_TRACKING_URI"] = str(retrain_args["mlflow_uri"])
    proc = subprocess.run(
        [
            binary,
            "monitor",
            "--log",
            log,
            "--model",
            champion,
            "--psi-threshold",
            str(psi_threshold),
            "--min-rows",
            str(min_rows),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    get_run_logger().info("credit monitor exit %d\n%s", proc.returncode, proc.stdout)
    if proc.returncode == 0:
        return {"decision": "stable", "monitor": proc.stdout}
    if proc.returncode != 1:
        raise RuntimeError(f"credit monitor failed ({proc.returncode}): {proc.stderr}")
    out = retrain(**retrain_args, credit=binary)
    out["monitor"] = proc.stdout
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", default=os.environ.get("CREDIT_DATA"))
    ap.add_argument("--champion", default=os.environ.get("CREDIT_MODEL", DEFAULT_CHAMPION))
    ap.add_argument(
        "--service-url",
        action="append",
        default=[],
        help="a credit serve to promote on (repeatable)",
    )
    ap.add_argument("--mlflow-uri", default=os.environ.get("MLFLOW_TRACKING_URI"))
    ap.add_argument("--margin", type=float, default=0.002)
    ap.add_argument("--eval-fraction", type=float, default=0.25)
    ap.add_argument("--max-bins", type=int, default=64)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument(
        "--interactions", type=int, default=None,
        help="pairs of interaction cells in the challenger (default: as many as the champion has)",
    )  # fmt: skip
    ap.add_argument("--out-dir", default=str(DEFAULT_OUT))
    ap.add_argument("--credit", default=os.environ.get("CREDIT"))
    ap.add_argument(
        "--serve", action="store_true", help="register a scheduled deployment and serve it"
    )
    ap.add_argument(
        "--cron", default="0 3 * * 1", help="schedule for --serve (default Mondays 03:00)"
    )
    a = ap.parse_args(argv)
    params = {
        "data": a.data,
        "champion": a.champion,
        "services": a.service_url,
        "mlflow_uri": a.mlflow_uri,
        "margin": a.margin,
        "eval_fraction": a.eval_fraction,
        "max_bins": a.max_bins,
        "folds": a.folds,
        "interactions": a.interactions,
        "out_dir": a.out_dir,
        "credit": a.credit,
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
