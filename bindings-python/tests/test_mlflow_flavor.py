"""The MLflow pyfunc flavor (credit_default.mlflow_flavor) and Model.load("models:/...").

Without a tracking server: a local SQLite tracking store and registry in a temporary directory.
The MLmodel that `credit train --mlflow-uri` writes is checked against a real server in
tests/lifecycle/test_pyfunc.py; here the folder is built with MLflow's own API so that the
loader, the signature enforcement and the URI resolution are tested in isolation.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import credit_default as cd
import numpy as np
import pytest
from credit_default import mlflow_flavor

pd = pytest.importorskip("pandas")


def frame() -> Any:
    """Five applicants, two with missing income / dependents, one Kaggle-spelled column and an
    extra column the scorer ignores."""
    rows = {
        "RevolvingUtilizationOfUnsecuredLines": [0.77, 0.1, 0.95, 0.3, 1.2],
        "age": [45.0, 30, 62, 51, 23],
        "NumberOfTime30_59DaysPastDueNotWorse": [2.0, 0, 1, 0, 98],
        "DebtRatio": [0.8, 0.2, 3000.0, 0.4, 0.1],
        "MonthlyIncome": [9120.0, np.nan, 4000, np.nan, 1500],
        "NumberOfOpenCreditLinesAndLoans": [13.0, 4, 8, 10, 2],
        "NumberOfTimes90DaysLate": [0.0, 0, 0, 1, 98],
        "NumberRealEstateLoansOrLines": [6.0, 0, 1, 2, 0],
        "NumberOfTime60_89DaysPastDueNotWorse": [0.0, 0, 0, 0, 98],
        "NumberOfDependents": [2.0, np.nan, 0, np.nan, 1],
        "customer_id": ["a", "b", "c", "d", "e"],
    }
    return pd.DataFrame(rows, index=[10, 11, 12, 13, 14])


def test_load_pyfunc_returns_the_probability_series(tmp_path: Path) -> None:
    model = cd.Model.default()
    (tmp_path / "model.json").write_text(model.to_json())
    pyfunc = mlflow_flavor._load_pyfunc(str(tmp_path / "model.json"))
    df = frame()
    got = pyfunc.predict(df)
    assert isinstance(got, pd.Series)
    assert got.name == "probability"
    assert list(got.index) == [10, 11, 12, 13, 14]
    np.testing.assert_array_equal(got.to_numpy(), model.probability(df))
    # The Kaggle spelling is matched by name too (outside MLflow's schema enforcement).
    kaggle = df.rename(
        columns={"NumberOfTime30_59DaysPastDueNotWorse": "NumberOfTime30-59DaysPastDueNotWorse"}
    )
    np.testing.assert_array_equal(pyfunc.predict(kaggle).to_numpy(), got.to_numpy())
    assert pyfunc.get_raw_model().to_json() == model.to_json()


def test_invalid_rows_raise_or_give_nan(tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text(cd.Model.default().to_json())
    pyfunc = mlflow_flavor._load_pyfunc(str(tmp_path / "model.json"))
    df = frame()
    df.loc[12, "age"] = 7.0  # below the valid range
    with pytest.raises(cd.ValidationError) as e:
        pyfunc.predict(df)
    assert e.value.errors()[0]["loc"] == (2, "age")
    got = pyfunc.predict(df, params={"errors": "nan"})
    assert np.isnan(got[12]) and np.isfinite(got.drop(12)).all()


def test_uri_prefixes_agree_with_model_load() -> None:
    # Model.load (Rust) hands exactly these prefixes to mlflow_flavor; a plain path never is.
    assert mlflow_flavor.MLFLOW_URI_PREFIXES == ("models:/", "runs:/")
    assert mlflow_flavor.is_mlflow_uri("models:/credit-default@champion")
    assert not mlflow_flavor.is_mlflow_uri("models/default.json")
    assert not mlflow_flavor.is_mlflow_uri(Path("models:/x"))
    with pytest.raises(FileNotFoundError):
        cd.Model.load("models/does-not-exist.json")


def test_model_load_of_a_uri_without_mlflow_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Runs whether or not mlflow is installed: its import is made to fail.
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.artifacts", None)
    with pytest.raises(ImportError, match="needs the mlflow package.*pip install mlflow"):
        cd.Model.load("models:/credit-default@champion")


# --- with MLflow -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlflow() -> Any:
    return pytest.importorskip(
        "mlflow", reason="mlflow is not installed (requirements/python.txt installs it)"
    )


def save_flavor(mlflow: Any, model: cd.Model, d: Path) -> Path:
    """A model folder like the one `credit train` registers, written with MLflow's API."""
    from mlflow.models import Model as MlModel
    from mlflow.models.signature import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    d.mkdir(parents=True)
    (d / "model.json").write_text(model.to_json())
    optional = {f["name"] for f in model.features if f["optional"]}
    sig = ModelSignature(
        inputs=Schema([ColSpec("double", n, required=n not in optional) for n in cd.FEATURES]),
        outputs=Schema([ColSpec("double", "probability")]),
        params=ParamSchema([ParamSpec("errors", "string", "raise")]),
    )
    m = MlModel(signature=sig)
    mlflow.pyfunc.add_to_model(m, loader_module="credit_default.mlflow_flavor", data="model.json")
    m.save(str(d / "MLmodel"))
    return d


def test_save_model_writes_the_flavor_mlflow_reads(mlflow: Any, tmp_path: Path) -> None:
    """save_model (what the retraining flow logs) = the folder built with MLflow's own API:
    same signature, same loader; and pyfunc scores with it."""
    from mlflow.models import Model as MlModel

    model = cd.Model.default()
    ours = mlflow_flavor.save_model(tmp_path / "ours", model, run_id="r1")
    theirs = save_flavor(mlflow, model, tmp_path / "theirs")
    a, b = MlModel.load(str(ours / "MLmodel")), MlModel.load(str(theirs / "MLmodel"))
    assert a.signature == b.signature
    assert a.flavors["python_function"]["loader_module"] == "credit_default.mlflow_flavor"
    assert a.flavors["python_function"]["data"] == "model.json"
    assert a.flavors["python_function"]["env"] == {"virtualenv": "python_env.yaml"}
    assert a.run_id == "r1" and a.model_uuid and a.utc_time_created
    assert f"credit-default=={cd.__version__}" in (ours / "requirements.txt").read_text().split()
    assert (ours / "model.json").read_text() == model.to_json()
    df = frame()
    got = mlflow.pyfunc.load_model(str(ours)).predict(df)
    np.testing.assert_array_equal(got.to_numpy(), model.probability(df))
    with pytest.raises(cd.ModelError):
        mlflow_flavor.save_model(tmp_path / "broken", "{}")
    assert not (tmp_path / "broken").exists()


@pytest.fixture(scope="module")
def registry(mlflow: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A local tracking store + registry with version 1 of credit-default, alias champion."""
    tmp = tmp_path_factory.mktemp("mlflow")
    old = mlflow.get_tracking_uri()
    # set_tracking_uri also sets MLFLOW_TRACKING_URI, which `credit train` in later tests of this
    # process would inherit (and refuse: sqlite:// is no tracking server), so restore it exactly.
    saved_env = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    try:
        exp = mlflow.create_experiment(
            "flavor-test", artifact_location=(tmp / "artifacts").as_uri()
        )
        model = cd.Model.default()
        folder = save_flavor(mlflow, model, tmp / "folder")
        with mlflow.start_run(experiment_id=exp) as run:
            mlflow.log_artifacts(str(folder), artifact_path="model")
        mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", "credit-default")
        mlflow.MlflowClient().set_registered_model_alias("credit-default", "champion", mv.version)
        yield {"model": model, "version": mv.version, "run_id": run.info.run_id, "folder": folder}
    finally:
        mlflow.set_tracking_uri(old)
        if saved_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved_env


def test_pyfunc_load_model_scores_like_the_package(mlflow: Any, registry: dict[str, Any]) -> None:
    loaded = mlflow.pyfunc.load_model("models:/credit-default@champion")
    df = frame()
    got = loaded.predict(df)
    np.testing.assert_allclose(
        got.to_numpy(), registry["model"].probability(df), rtol=0, atol=1e-12
    )
    # Optional columns may be left out entirely (missing = NaN = the model's missing bin).
    fewer = df.drop(columns=["MonthlyIncome", "NumberOfDependents"])
    np.testing.assert_allclose(
        loaded.predict(fewer).to_numpy(), registry["model"].probability(fewer), rtol=0, atol=1e-12
    )
    bad = df.copy()
    bad.loc[10, "age"] = 7.0
    assert np.isnan(loaded.predict(bad, params={"errors": "nan"})[10])


def test_signature_rejects_missing_and_non_numeric_columns(
    mlflow: Any, registry: dict[str, Any]
) -> None:
    from mlflow.exceptions import MlflowException

    loaded = mlflow.pyfunc.load_model(f"models:/credit-default/{registry['version']}")
    with pytest.raises(MlflowException, match="age"):
        loaded.predict(frame().drop(columns=["age"]))
    text = frame()
    # MLflow converts numeric strings ("0.8") to double; a word cannot be.
    text["DebtRatio"] = ["0.8", "0.2", "n/a", "0.4", "0.1"]
    with pytest.raises(MlflowException, match="DebtRatio"):
        loaded.predict(text)


@pytest.mark.parametrize("form", ["alias", "version", "run"])
def test_model_load_accepts_mlflow_uris(mlflow: Any, registry: dict[str, Any], form: str) -> None:
    uri = {
        "alias": "models:/credit-default@champion",
        "version": f"models:/credit-default/{registry['version']}",
        "run": f"runs:/{registry['run_id']}/model",
    }[form]
    m = cd.Model.load(uri)
    assert m.to_json() == registry["model"].to_json()
    assert json.loads(m.to_json())["model_version"] == registry["model"].version


def test_model_load_of_an_unknown_version_is_mlflows_error(
    mlflow: Any, registry: dict[str, Any]
) -> None:
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException):
        cd.Model.load("models:/credit-default/99")
