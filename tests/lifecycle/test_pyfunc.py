"""One model everywhere (#14): a version `credit train --mlflow-uri` registers on a real MLflow
server loads with `mlflow.pyfunc.load_model("models:/credit-default@champion")` and with
`credit_default.Model.load(...)`, and both give the probabilities `credit score` writes for the
same rows (to 1e-12, rows with missing income / dependents included). The signature stored in
the version's MLmodel makes MLflow refuse a frame without a required column or with text in a
number column. `mlflow models serve` answers /invocations with the same probabilities."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import credit_default as cd
import numpy as np
import pandas as pd
import pytest
import requests
from conftest import CREDIT, VENV_BIN, Proc, free_port, read_lines
from credit_default.mlflow_flavor import save_model

mlflow = pytest.importorskip(
    "mlflow", reason="mlflow is not installed (requirements/lifecycle.txt)"
)
from mlflow.exceptions import MlflowException

CHAMPION = "models:/credit-default@champion"
# Seed name -> Kaggle CSV spelling (two features are spelled differently in the data).
KAGGLE = {f["name"]: f["alias"] or f["name"] for f in cd.Model.default().features}


@pytest.fixture(scope="module")
def trained(workdir: Path, mlflow_server: str) -> Iterator[dict[str, Any]]:
    """`credit train --mlflow-uri` on ~7,500 rows, alias champion on its version, and
    `credit score` of 400 rows of the data with that model."""
    d = workdir / "pyfunc"
    d.mkdir(exist_ok=True)
    lines = read_lines(step=20)
    sample = d / "sample.csv"
    sample.write_text("".join(lines))
    model = d / "model.json"
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run(
        [
            str(CREDIT),
            "train",
            "--data",
            str(sample),
            "--out",
            str(model),
            "--folds",
            "2",
            "--max-bins",
            "16",
            "--quiet",
            "--model-version",
            "9.4.0-pyfunc",
            "--mlflow-uri",
            mlflow_server,
            "--mlflow-experiment",
            "pyfunc-test",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    m = re.search(r"registered credit-default version (\d+)", out.stderr)
    assert m, out.stderr
    version = m.group(1)

    rows = d / "rows.csv"
    rows.write_text("".join(read_lines(step=300, limit=400)))
    scored = d / "scored.csv"
    out = subprocess.run(
        [str(CREDIT), "score", "--model", str(model), str(rows), "-o", str(scored), "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr

    mlflow.set_tracking_uri(mlflow_server)
    mlflow.MlflowClient().set_registered_model_alias("credit-default", "champion", version)
    yield {"dir": d, "model": model, "version": version, "rows": rows, "scored": scored}


def frame_and_expected(t: dict[str, Any]) -> tuple[pd.DataFrame, np.ndarray]:
    """The scored rows as a DataFrame with the seed column names (plus the data's id and label
    columns, which the model ignores), and `credit score`'s probabilities for them."""
    raw = pd.read_csv(t["rows"])
    scored = pd.read_csv(t["scored"], keep_default_na=False, dtype={"errors": str})
    assert len(raw) == len(scored) == 400
    ok = (scored["errors"] == "").to_numpy()
    assert ok.sum() >= 390, scored.loc[~ok, "errors"].head()
    df = raw.rename(columns={v: k for k, v in KAGGLE.items()})[ok].reset_index(drop=True)
    df = df.astype({name: "float64" for name in KAGGLE})
    expected = scored.loc[ok, "probability"].astype(float).to_numpy()
    # The point of the check: rows with missing optional features go through the same bins.
    assert df["MonthlyIncome"].isna().sum() >= 20 and df["NumberOfDependents"].isna().sum() >= 3
    return df, expected


def test_pyfunc_load_model_scores_like_credit_score(trained: dict[str, Any]) -> None:
    df, expected = frame_and_expected(trained)
    loaded = mlflow.pyfunc.load_model(CHAMPION)
    got = loaded.predict(df)
    assert isinstance(got, pd.Series) and got.name == "probability"
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=0, atol=1e-12)
    # The signature the Rust side wrote: ten double inputs by seed name, one double output.
    sig = loaded.metadata.signature
    assert sig.inputs.input_names() == list(cd.FEATURES)
    assert {c.name for c in sig.inputs.inputs if not c.required} == {
        "MonthlyIncome",
        "NumberOfDependents",
    }
    assert [c.type.name for c in sig.inputs.inputs] == ["double"] * 10
    assert sig.outputs.input_names() == ["probability"]
    # Optional columns may be left out (missing for every row).
    fewer = df.drop(columns=["MonthlyIncome", "NumberOfDependents"])
    np.testing.assert_allclose(
        loaded.predict(fewer).to_numpy(),
        cd.Model.load(trained["model"]).probability(fewer),
        rtol=0,
        atol=1e-12,
    )


def test_signature_rejects_a_missing_column_and_text_in_a_number_column(
    trained: dict[str, Any],
) -> None:
    df, _ = frame_and_expected(trained)
    loaded = mlflow.pyfunc.load_model(CHAMPION)
    with pytest.raises(MlflowException, match=r"(?s)missing inputs.*'age'"):
        loaded.predict(df.drop(columns=["age"]))
    text = df.head(5).copy()
    text["DebtRatio"] = ["0.1", "0.2", "abc", "0.4", "0.5"]
    with pytest.raises(MlflowException, match="DebtRatio"):
        loaded.predict(text)


def test_model_load_of_the_champion_uri(trained: dict[str, Any]) -> None:
    df, expected = frame_and_expected(trained)
    m = cd.Model.load(CHAMPION)
    assert m.checksum == cd.Model.load(trained["model"]).checksum
    assert m.version == "9.4.0-pyfunc"
    np.testing.assert_allclose(m.probability(df), expected, rtol=0, atol=1e-12)
    v = cd.Model.load(f"models:/credit-default/{trained['version']}")
    assert v.checksum == m.checksum


def test_version_folder_pins_this_package(trained: dict[str, Any], tmp_path: Path) -> None:
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=CHAMPION, dst_path=str(tmp_path)))
    names = {p.name for p in local.iterdir()}  # + registered_model_meta, MLflow's own
    assert {"MLmodel", "model.json", "python_env.yaml", "requirements.txt"} <= names, names
    reqs = (local / "requirements.txt").read_text().split()
    assert f"credit-default=={cd.__version__}" in reqs
    assert (local / "model.json").read_bytes() == trained["model"].read_bytes()
    mlmodel = mlflow.models.Model.load(str(local / "MLmodel"))
    conf = mlmodel.flavors["python_function"]
    assert conf["loader_module"] == "credit_default.mlflow_flavor"
    assert conf["env"] == {"virtualenv": "python_env.yaml"}
    assert mlmodel.run_id and mlmodel.model_uuid and mlmodel.utc_time_created
    # The Python writer (save_model, used by the retraining flow) agrees with the Rust one.
    py = mlflow.models.Model.load(
        str(save_model(tmp_path / "py", cd.Model.load(trained["model"])) / "MLmodel")
    )
    assert py.signature == mlmodel.signature
    strip = ("python_version",)
    assert {k: v for k, v in py.flavors["python_function"].items() if k not in strip} == {
        k: v for k, v in conf.items() if k not in strip
    }
    assert (tmp_path / "py" / "requirements.txt").read_text() == (
        local / "requirements.txt"
    ).read_text()


def test_mlflow_models_serve_answers_with_the_same_probabilities(
    trained: dict[str, Any], mlflow_server: str
) -> None:
    df, expected = frame_and_expected(trained)
    port = free_port()
    # `--env-manager local` runs `uvicorn` from PATH: the venv this test runs in.
    path = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    env = dict(
        os.environ, MLFLOW_TRACKING_URI=mlflow_server, MLFLOW_DISABLE_TELEMETRY="true", PATH=path
    )
    d: Path = trained["dir"]
    p = Proc(
        [
            str(VENV_BIN / "mlflow"),
            "models",
            "serve",
            "-m",
            CHAMPION,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            "1",
        ],
        d / "serve.log",
        env,
        d,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        p.wait_http(f"{base}/ping", 180)
        # NaN travels as null in JSON; MLflow turns it back into NaN in the double columns.
        body = {"dataframe_split": df.to_dict(orient="split")}
        body["dataframe_split"]["data"] = [
            [None if isinstance(v, float) and np.isnan(v) else v for v in row]
            for row in body["dataframe_split"]["data"]
        ]
        r = requests.post(f"{base}/invocations", json=body, timeout=60)
        assert r.status_code == 200, r.text
        # A Series is answered as records of the output column: [{"probability": p}, ...].
        got = np.array([row["probability"] for row in r.json()["predictions"]], dtype=float)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        bad = {"dataframe_split": df.drop(columns=["age"]).head(2).to_dict(orient="split")}
        r = requests.post(f"{base}/invocations", json=bad, timeout=60)
        assert r.status_code == 400 and "age" in r.text, r.text
    finally:
        p.stop()
