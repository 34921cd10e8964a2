"""The retraining flow against real parts: an MLflow server whose registry holds the shipped model
as `champion`, and a `credit serve` that follows `models:/credit-default@champion`.

- A fresh extract in which the bureau reports revolving utilisation in percent (a feed's unit
  change): the challenger learns the new units, beats the shipped model on the newest rows neither
  was fit on, and is promoted through `credit promote` (the service loads and reports it before
  the alias moves; the service keeps following the alias).
- An extract whose older rows have scrambled labels (a broken label join): the challenger is
  worse on the newest rows and is rejected; alias and service stay.
- A promotion that the service cannot confirm (wrong admin token) leaves alias and service alone.
- The gate never compares on rows the champion was fit on; the schema check can fail.
- A retrain keeps the champion's form: as many interaction pairs as the champion has (the shipped
  model's 8; 0 for an additive champion) unless `interactions` / `--interactions` says otherwise.

The extracts are built from the training data, whose rows the shipped model has seen: that
favours the champion in these comparisons, so a promotion here is conservative.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
import retrain_flow
from conftest import CREDIT, ROOT, Proc, free_port, read_lines
from credit_default import Model

TOKEN = "lifecycle-test-token"
UTILIZATION = "RevolvingUtilizationOfUnsecuredLines"


def mlflow_get(base: str, endpoint: str, **params: str) -> dict[str, object]:
    r = requests.get(f"{base}/api/2.0/mlflow/{endpoint}", params=params, timeout=10)
    r.raise_for_status()
    return dict(r.json())


def alias_version(base: str, alias: str) -> str:
    mv = mlflow_get(base, "registered-models/alias", name="credit-default", alias=alias)[
        "model_version"
    ]
    return str(mv["version"])  # type: ignore[index]


def run_credit(*args: str, env: dict[str, str] | None = None) -> str:
    import subprocess

    out = subprocess.run([str(CREDIT), *args], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout


class RegistryService:
    """`credit serve --model models:/credit-default@champion`."""

    def __init__(self, workdir: Path, mlflow: str) -> None:
        port = free_port()
        env = dict(os.environ, CREDIT_ADMIN_TOKEN=TOKEN, MLFLOW_TRACKING_URI=mlflow)
        env.pop("CREDIT_LOG", None)
        self.proc = Proc(
            [
                str(CREDIT), "serve", "--host", "127.0.0.1", "--port", str(port),
                "--model", retrain_flow.DEFAULT_CHAMPION,
                "--log", f"jsonl://{workdir / 'flow-predictions.jsonl'}",
            ],
            workdir / "flow-serve.log", env, workdir,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{port}"
        self.proc.wait_http(f"{self.base}/ready", 60)

    def model(self) -> dict[str, object]:
        r = requests.get(f"{self.base}/model", timeout=10)
        r.raise_for_status()
        return dict(r.json())


def write_extract(path: Path, lines: list[str], edit: object) -> Path:
    """Header + renumbered rows, each passed through ``edit(index, cells) -> cells``."""
    header = lines[0]
    cols = header.strip().split(",")
    out = [header]
    for i, line in enumerate(lines[1:]):
        cells = line.rstrip("\n").split(",")
        cells = edit(i, cells, cols)  # type: ignore[operator]
        cells[0] = str(i + 1)
        out.append(",".join(cells) + "\n")
    path.write_text("".join(out))
    return path


def in_percent(_: int, cells: list[str], cols: list[str]) -> list[str]:
    j = cols.index(UTILIZATION) if UTILIZATION in cols else cols.index(f'"{UTILIZATION}"')
    cells[j] = repr(float(cells[j]) * 100.0)
    return cells


@pytest.fixture(scope="module")
def registry(workdir: Path, mlflow_server: str) -> Iterator[dict[str, object]]:
    d = workdir / "flow"
    d.mkdir(exist_ok=True)
    shipped = json.loads(
        run_credit("register", "--mlflow-uri", mlflow_server, "--alias", "champion")
    )
    svc = RegistryService(d, mlflow_server)
    try:
        yield {"dir": d, "shipped": str(shipped["version"]), "service": svc}
    finally:
        svc.proc.stop()


def common(registry: dict[str, object], mlflow_server: str) -> dict[str, object]:
    svc = registry["service"]
    assert isinstance(svc, RegistryService)
    return {
        "champion": retrain_flow.DEFAULT_CHAMPION,
        "services": [svc.base],
        "admin_token": TOKEN,
        "mlflow_uri": mlflow_server,
        "experiment": "lifecycle-flow-test",
        "max_bins": 16,
        "folds": 2,
        "margin": 0.002,
        "out_dir": str(Path(str(registry["dir"])) / "out"),
        "credit": str(CREDIT),
    }


def test_a_worse_challenger_is_rejected_on_unseen_rows(
    registry: dict[str, object], mlflow_server: str
) -> None:
    d = Path(str(registry["dir"]))
    lines = read_lines(step=4)
    n = len(lines) - 1
    rng = random.Random(11)
    labels = [ln.split(",")[1] for ln in lines[1:]]
    older = labels[: n * 3 // 4]
    rng.shuffle(older)

    def scrambled(i: int, cells: list[str], _: list[str]) -> list[str]:
        if i < len(older):
            cells[1] = older[i]
        return cells

    extract = write_extract(d / "scrambled.csv", lines, scrambled)
    svc = registry["service"]
    assert isinstance(svc, RegistryService)
    before = svc.model()
    out = retrain_flow.retrain(data=str(extract), **common(registry, mlflow_server))
    assert out["decision"] == "rejected", out
    assert out["challenger"]["auc"] < out["champion"]["auc"]
    assert out["champion"]["rows"] == out["window"]["eval_rows"] >= 1000
    assert out["window"]["excluded_champion_rows"] == 0
    assert out["registered_version"] is None and out["mlflow_run_id"]
    assert alias_version(mlflow_server, "champion") == registry["shipped"]
    assert svc.model()["model_version"] == before["model_version"]
    run = mlflow_get(mlflow_server, "runs/get", run_id=out["mlflow_run_id"])["run"]["data"]  # type: ignore[index]
    tags = {t["key"]: t["value"] for t in run["tags"]}  # type: ignore[index]
    assert tags["decision"] == "rejected"
    # The challenger kept the shipped champion's form: its interaction pairs, recorded in the run.
    params = {p["key"]: p["value"] for p in run["params"]}  # type: ignore[index]
    assert out["interactions"] == retrain_flow.champion_interactions(Model.default().to_json()) == 8
    assert params["interactions"] == str(out["interactions"]) and params["max_bins"] == "16"
    assert (
        len(json.loads(Path(out["challenger_path"]).read_text())["interactions"])
        == out["interactions"]
    )
    assert tags["eval_rows"] == f"{out['window']['eval_range'][0]}:{n}"
    # The challenger's file is under out_dir, never in the repository.
    assert Path(out["challenger_path"]).is_relative_to(d)


def test_a_promotion_the_service_cannot_confirm_changes_nothing(
    registry: dict[str, object], mlflow_server: str
) -> None:
    d = Path(str(registry["dir"]))
    extract = write_extract(d / "percent.csv", read_lines(step=3), in_percent)
    svc = registry["service"]
    assert isinstance(svc, RegistryService)
    before = svc.model()
    args = common(registry, mlflow_server) | {"admin_token": "not-the-token"}
    out = retrain_flow.retrain(data=str(extract), **args)
    assert out["decision"] == "promotion_failed", out
    assert "401" in out["reason"] or "refused" in out["reason"], out["reason"]
    assert out["registered_version"]  # registered, never made champion
    assert alias_version(mlflow_server, "champion") == registry["shipped"]
    assert svc.model()["model_version"] == before["model_version"]


def test_a_better_challenger_is_promoted_through_every_service(
    registry: dict[str, object], mlflow_server: str
) -> None:
    d = Path(str(registry["dir"]))
    extract = write_extract(d / "percent.csv", read_lines(step=3), in_percent)
    svc = registry["service"]
    assert isinstance(svc, RegistryService)
    out = retrain_flow.retrain(data=str(extract), **common(registry, mlflow_server))
    assert out["decision"] == "promoted", out
    new = out["registered_version"]
    assert out["challenger"]["auc"] >= out["champion"]["auc"] + 0.002
    assert alias_version(mlflow_server, "champion") == new
    assert alias_version(mlflow_server, "previous-champion") == registry["shipped"]
    served = svc.model()
    assert served["model_version"] == out["challenger_version"]
    source = served["source"]
    assert isinstance(source, dict)
    assert source["registry_version"] == new
    assert source["reference"] == retrain_flow.DEFAULT_CHAMPION  # still follows the alias
    applicant = json.loads((ROOT / "testdata" / "vectors.json").read_text())["valid"][0]["input"]
    r = requests.post(f"{svc.base}/predict", json=applicant, timeout=10)
    assert r.status_code == 200 and r.json()["model_version"] == out["challenger_version"]
    # The version records what it was fit on: this extract's rows before the window.
    mv = mlflow_get(mlflow_server, "model-versions/get", name="credit-default", version=str(new))
    tags = {t["key"]: t["value"] for t in mv["model_version"]["tags"]}  # type: ignore[index]
    assert tags["train_rows"] == f"0:{out['window']['train_end']}"
    assert tags["train_data_sha256"] == out["window"]["data_sha256"]

    # The promoted version carries the pyfunc flavor: MLflow loads it and scores like the service.
    import mlflow
    import pandas as pd

    mlflow.set_tracking_uri(mlflow_server)
    x = retrain_flow._read_csv(str(extract)).x[-300:]
    pyfunc = mlflow.pyfunc.load_model(retrain_flow.DEFAULT_CHAMPION)
    np.testing.assert_allclose(
        pyfunc.predict(pd.DataFrame(x, columns=retrain_flow.feature_names()), params={"errors": "nan"}).to_numpy(),
        Model.load(str(out["challenger_path"])).probability(x, errors="nan"),
        rtol=0, atol=1e-12, equal_nan=True,
    )  # fmt: skip

    # Rolling back puts the shipped model back everywhere, the same way.
    run_credit(
        "rollback", "--mlflow-uri", mlflow_server, "--service", svc.base,
        env=dict(os.environ, CREDIT_ADMIN_TOKEN=TOKEN),
    )  # fmt: skip
    assert alias_version(mlflow_server, "champion") == registry["shipped"]
    assert svc.model()["model_version"] == Model.default().version


def test_the_window_leaves_out_rows_the_champion_was_fit_on(workdir: Path) -> None:
    lines = read_lines(step=40)
    path = workdir / "window.csv"
    path.write_text("".join(lines))
    ds = retrain_flow._read_csv(str(path))
    n = len(ds.y)
    champ = retrain_flow.Champion("x", "{}", "1", None, ds.sha256, (0, n - 100))
    w = retrain_flow.gate_window(ds, champ, 0.25)
    assert w.eval_idx.min() >= n - 100 and len(w.eval_idx) == 100
    assert w.excluded_champion_rows == w.eval_range[1] - w.eval_range[0] - 100
    # Fit on the whole file: nothing is left to compare on.
    everything = retrain_flow.Champion("x", "{}", "1", None, ds.sha256, None)
    assert len(retrain_flow.gate_window(ds, everything, 0.25).eval_idx) == 0
    other = retrain_flow.Champion("x", "{}", "1", None, "0" * 64, None)
    assert retrain_flow.gate_window(ds, other, 0.25).excluded_champion_rows == 0


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_column", "no column DebtRatio"),
        ("half_label", "must be 0 or 1"),
        ("text", "not numbers"),
    ],
)
def test_the_schema_check_can_fail(workdir: Path, case: str, expected: str) -> None:
    lines = read_lines(step=100, limit=800)
    cols = lines[0].strip().split(",")
    j_debt = cols.index("DebtRatio")

    def edit(i: int, cells: list[str], _: list[str]) -> list[str]:
        if case == "missing_column":
            del cells[j_debt]
        elif case == "half_label" and i == 5:
            cells[1] = "0.5"
        elif case == "text" and i == 7:
            cells[j_debt] = "twelve"
        return cells

    src = (
        lines
        if case != "missing_column"
        else [",".join(c for k, c in enumerate(cols) if k != j_debt) + "\n", *lines[1:]]
    )
    path = write_extract(workdir / f"schema-{case}.csv", src, edit)
    out = retrain_flow.retrain(
        data=str(path), champion=str(ROOT / "models" / "default.json"), min_rows=100, min_eval_rows=10,
        out_dir=str(workdir / "schema-out"),
    )  # fmt: skip
    assert out["decision"] == "invalid_data", out
    assert expected in out["reason"], out["reason"]
    assert out["challenger_version"] is None


def test_psi_of_the_flow_matches_the_artifact_binning(workdir: Path) -> None:
    """Counting a model's training rows again with the flow's binning reproduces the counts the
    artifact stores (so the flow's PSI and `credit monitor` bin alike)."""
    from credit_default import CreditScorecard

    lines = read_lines(step=80)
    path = workdir / "psi.csv"
    path.write_text("".join(lines))
    ds = retrain_flow._read_csv(str(path))
    art = json.loads(CreditScorecard(max_bins=8, folds=2).fit(ds.x, ds.y).to_json())
    used = np.isfinite(np.asarray(Model.from_json(json.dumps(art)).score_batch(ds.x).probability))
    for j in range(10):
        counts, refused = retrain_flow.bin_counts(art, j, ds.x[used, j])
        stored = [b["count"] for b in retrain_flow._all_bins(art["features"][j])]
        assert refused == 0
        assert counts.tolist() == stored, j


@pytest.mark.usefixtures("no_registry")
def test_monitor_triggers_retraining_only_on_drift(workdir: Path) -> None:
    """`monitor_then_retrain` on a stable log does nothing; on a log whose latest day is shifted
    it runs the flow (file champion, no registry: the challenger is written, not promoted)."""
    d = workdir / "monitor"
    d.mkdir(exist_ok=True)
    champion = ROOT / "models" / "default.json"
    lines = read_lines(step=20)
    path = d / "data.csv"
    path.write_text("".join(lines))
    ds = retrain_flow._read_csv(str(path))
    names = retrain_flow.feature_names()
    keep = np.isfinite(np.asarray(Model.default().score_batch(ds.x).probability))
    rows = ds.x[keep][:600]

    def log(p: Path, shifted: bool) -> str:
        with p.open("w") as f:
            for day in (1, 2):
                for i, r in enumerate(rows):
                    x = r.copy()
                    if shifted and day == 2:
                        x[names.index("DebtRatio")] = x[names.index("DebtRatio")] * 4 + 0.5
                        x[names.index(UTILIZATION)] += 0.6
                    inp = {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, x)}
                    f.write(json.dumps({"request_id": f"{day}-{i}", "ts": f"2026-04-0{day}T12:00:00Z",
                                        "model_version": "1", "input": inp}) + "\n")  # fmt: skip
        return f"jsonl://{p}"

    args = {
        "data": str(path),
        "champion": str(champion),
        "max_bins": 8,
        "folds": 2,
        "out_dir": str(d / "out"),
    }
    stable = retrain_flow.monitor_then_retrain(
        log(d / "stable.jsonl", False), args, credit=str(CREDIT)
    )
    assert stable["decision"] == "stable"
    drifted = retrain_flow.monitor_then_retrain(
        log(d / "drift.jsonl", True), args, credit=str(CREDIT)
    )
    assert drifted["decision"] in ("rejected",), drifted
    assert "DRIFT" in drifted["monitor"]
    assert drifted["registered_version"] is None


@pytest.fixture
def no_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flow without MLflow: `mlflow.set_tracking_uri` (earlier tests) leaves the URI in the
    environment, where the flow (and its command line's default) would find it and promote a file
    champion's challenger into the session's registry."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="module")
def form_data(workdir: Path) -> Path:
    """6,000 rows of the training data (every 20th): 4,500 to fit, 1,500 in the gate's window."""
    path = workdir / "form.csv"
    path.write_text("".join(read_lines(step=20)))
    return path


def _pairs(path: str) -> int:
    return len(json.loads(Path(path).read_text()).get("interactions") or [])


@pytest.mark.usefixtures("no_registry")
@pytest.mark.parametrize(
    ("champion_kind", "asked", "expected"),
    [("cells", None, 8), ("additive", None, 0), ("cells", 2, 2)],
)
def test_a_retrain_keeps_the_champion_s_form(
    workdir: Path, form_data: Path, champion_kind: str, asked: int | None, expected: int
) -> None:
    """The challenger has as many interaction pairs as the champion unless told otherwise: the
    shipped model (8 pairs) gets a challenger with 8, an additive champion an additive one.
    File champions, no registry: the flow stops after the gate (rejected, not promoted)."""
    from credit_default import CreditScorecard

    d = workdir / f"form-{champion_kind}-{asked}"
    d.mkdir(exist_ok=True)
    shipped = ROOT / "models" / "default.json"
    assert retrain_flow.champion_interactions(shipped.read_text()) == 8
    champion = shipped
    if champion_kind == "additive":
        ds = retrain_flow._read_csv(str(form_data))
        champion = d / "additive.json"
        CreditScorecard(max_bins=8, folds=2).fit(ds.x[:3000], ds.y[:3000]).save(champion)
    out = retrain_flow.retrain(
        data=str(form_data), champion=str(champion), interactions=asked, max_bins=8, folds=2,
        out_dir=str(d / "out"),
    )  # fmt: skip
    assert out["decision"] == "rejected", out
    assert out["interactions"] == expected
    assert _pairs(out["challenger_path"]) == expected


@pytest.mark.usefixtures("no_registry")
def test_the_command_line_takes_interactions(
    workdir: Path, form_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--interactions 0`` retrains the shipped (cells) champion as an additive model."""
    d = workdir / "form-cli"
    argv = ["--data", str(form_data), "--champion", str(ROOT / "models" / "default.json"), "--interactions", "0",
            "--max-bins", "8", "--folds", "2", "--out-dir", str(d)]  # fmt: skip
    assert retrain_flow.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["interactions"] == 0 and out["decision"] == "rejected", out
    assert _pairs(out["challenger_path"]) == 0
