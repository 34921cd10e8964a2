"""One model everywhere, end to end with real parts: MLflow's registry names the champion,
`credit serve` follows it, traffic drifts, `credit monitor` reads the service's own prediction log
and exits 1, the Prefect flow retrains and promotes through the service, and `/model`, `/predict`
and the page's model URL all move to the new version; `credit rollback` moves them all back."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
import retrain_flow
from conftest import CREDIT, Proc, free_port, read_lines
from credit_default import Model
from test_retrain_flow import in_percent, write_extract

TOKEN = "end-to-end-token"


def credit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CREDIT), *args], capture_output=True, text=True, env=env, check=False
    )


@pytest.fixture(scope="module")
def world(workdir: Path, mlflow_server: str) -> Iterator[dict[str, object]]:
    d = workdir / "end-to-end"
    d.mkdir(exist_ok=True)
    env = dict(os.environ, MLFLOW_TRACKING_URI=mlflow_server, CREDIT_ADMIN_TOKEN=TOKEN)
    env.pop("CREDIT_LOG", None)
    reg = credit("register", "--alias", "champion", env=env)
    assert reg.returncode == 0, reg.stderr
    port = free_port()
    journal = d / "predictions.db"
    proc = Proc(
        [
            str(CREDIT), "serve", "--host", "127.0.0.1", "--port", str(port),
            "--model", retrain_flow.DEFAULT_CHAMPION, "--log", f"sqlite://{journal}",
        ],
        d / "serve.log", env, d,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(f"{base}/ready", 60)
        yield {"dir": d, "base": base, "env": env, "journal": journal,
               "shipped": str(json.loads(reg.stdout)["version"])}  # fmt: skip
    finally:
        proc.stop()


def served(base: str) -> tuple[str, str, str]:
    """(registry version of GET /model, model_version of POST /predict, checksum of the
    artifact the page loads from /model/artifact)."""
    info = requests.get(f"{base}/model", timeout=10).json()
    applicant = {f: 1.0 for f in retrain_flow.feature_names()} | {
        "age": 45.0,
        "MonthlyIncome": 5000.0,
    }
    pred = requests.post(f"{base}/predict", json=applicant, timeout=10)
    assert pred.status_code == 200, pred.text
    page_model = requests.get(f"{base}/model/artifact", timeout=10)
    assert page_model.status_code == 200
    assert page_model.headers["ETag"].strip('"') == json.loads(page_model.content)["checksum"]
    return (
        str(info["source"]["registry_version"]),
        str(pred.json()["model_version"]),
        str(json.loads(page_model.content)["model_version"]),
    )


def send_shifted_traffic(base: str, extract: Path) -> int:
    """The newest applicants of the extract (utilisation in percent), in batches."""
    x = retrain_flow._read_csv(str(extract)).x[-1500:]
    names = retrain_flow.feature_names()
    sent = 0
    for start in range(0, len(x), 500):
        rows = [
            {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, r)}
            for r in x[start : start + 500]
        ]
        r = requests.post(f"{base}/predict/batch", json={"applicants": rows}, timeout=60)
        assert r.status_code in (200, 422), r.text
        sent += len(rows)
    return sent


def test_drift_retrain_promote_and_roll_back(world: dict[str, object], mlflow_server: str) -> None:
    base, d = str(world["base"]), Path(str(world["dir"]))
    shipped = Model.default().version
    assert served(base) == (world["shipped"], shipped, shipped)

    extract = write_extract(d / "percent.csv", read_lines(step=3), in_percent)
    assert send_shifted_traffic(base, extract) == 1500

    args = {
        "data": str(extract),
        "champion": retrain_flow.DEFAULT_CHAMPION,
        "services": [base],
        "admin_token": TOKEN,
        "mlflow_uri": mlflow_server,
        "experiment": "end-to-end",
        "max_bins": 16,
        "folds": 2,
        "out_dir": str(d / "out"),
    }
    out = retrain_flow.monitor_then_retrain(
        f"sqlite://{world['journal']}", args, credit=str(CREDIT), min_rows=100
    )
    assert "DRIFT" in out["monitor"], out["monitor"]
    assert out["decision"] == "promoted", out
    new_version, new_model = str(out["registered_version"]), str(out["challenger_version"])
    assert served(base) == (new_version, new_model, new_model)

    back = credit("rollback", "--service", base, env=dict(world["env"]))  # type: ignore[arg-type]
    assert back.returncode == 0, back.stderr
    assert served(base) == (world["shipped"], shipped, shipped)


def test_a_promotion_one_service_refuses_puts_the_others_back(
    world: dict[str, object], mlflow_server: str
) -> None:
    """Two services; the second refuses (another admin token). The first had already switched to
    the candidate: `credit promote` must put it back on the alias, and the alias must not move."""
    d, env = Path(str(world["dir"])), dict(world["env"])  # type: ignore[arg-type]
    candidate = credit("register", "--model", str(d / "out" / min(os.listdir(d / "out"))), env=env)
    assert candidate.returncode == 0, candidate.stderr
    version = str(json.loads(candidate.stdout)["version"])
    port = free_port()
    other = Proc(
        [str(CREDIT), "serve", "--host", "127.0.0.1", "--port", str(port),
         "--model", retrain_flow.DEFAULT_CHAMPION, "--log", f"jsonl://{d / 'other.jsonl'}"],
        d / "other.log", env | {"CREDIT_ADMIN_TOKEN": "another-token"}, d,
    )  # fmt: skip
    try:
        other.wait_http(f"http://127.0.0.1:{port}/ready", 60)
        before = served(str(world["base"]))
        champion = json.loads(requests.get(
            f"{mlflow_server}/api/2.0/mlflow/registered-models/alias",
            params={"name": "credit-default", "alias": "champion"}, timeout=10).text)["model_version"]["version"]  # fmt: skip
        out = credit(
            "promote", "--version", version, "--service", str(world["base"]),
            "--service", f"http://127.0.0.1:{port}", env=env,
        )  # fmt: skip
        assert out.returncode != 0
        assert "401" in out.stderr, out.stderr
        assert served(str(world["base"])) == before
        info = requests.get(f"{world['base']}/model", timeout=10).json()
        assert info["source"]["reference"] == retrain_flow.DEFAULT_CHAMPION
        now = json.loads(requests.get(
            f"{mlflow_server}/api/2.0/mlflow/registered-models/alias",
            params={"name": "credit-default", "alias": "champion"}, timeout=10).text)["model_version"]["version"]  # fmt: skip
        assert now == champion
    finally:
        other.stop()
