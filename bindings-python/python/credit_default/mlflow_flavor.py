"""MLflow ``python_function`` flavor of a ``credit-default`` model version.

Every version ``credit train --mlflow-uri`` registers carries an ``MLmodel`` file naming this
module as its ``loader_module``, so that

>>> import mlflow  # doctest: +SKIP
>>> model = mlflow.pyfunc.load_model("models:/credit-default@champion")  # doctest: +SKIP
>>> model.predict(df)  # doctest: +SKIP

scores a pandas DataFrame with :class:`credit_default.Model`. MLflow enforces the version's
signature first: the ten features by their seed names (``credit_default.FEATURES``) as double
columns; ``MonthlyIncome`` and ``NumberOfDependents`` may be absent or NaN.

``predict`` returns the probability of default as a 1-D pandas Series named ``probability``,
indexed like the input: the signature's single output, the shape ``mlflow.pyfunc.spark_udf``'s
default result type (double) expects; ``mlflow models serve`` answers it as
``{"predictions": [{"probability": p}, ...]}``. Scores,
decisions and reasons stay with :class:`credit_default.Model` (``score``, ``predict``,
``explain``). An invalid row raises :class:`credit_default.ValidationError`, or gives NaN with
``params={"errors": "nan"}``.

The module needs MLflow only for :func:`model_json_from_uri` (``Model.load("models:/...")``);
``_load_pyfunc`` itself only needs pandas.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._native import FEATURES, Model

if TYPE_CHECKING:
    import pandas as pd

#: URI schemes that :meth:`credit_default.Model.load` resolves through MLflow.
MLFLOW_URI_PREFIXES = ("models:/", "runs:/")

__all__ = [
    "MLFLOW_URI_PREFIXES",
    "PyfuncModel",
    "is_mlflow_uri",
    "model_json_from_uri",
    "save_model",
]


class PyfuncModel:
    """What ``mlflow.pyfunc.load_model`` wraps: ``predict(model_input, params=None)``."""

    def __init__(self, model: Model) -> None:
        self.model = model
        """The underlying :class:`credit_default.Model` (scores, reasons, explanations)."""

    def predict(
        self, model_input: Any, params: dict[str, Any] | None = None
    ) -> pd.Series[float] | Any:
        """Probability of default per row.

        ``model_input``: a pandas DataFrame (or anything ``Model.probability`` takes: a dict
        of columns, a polars DataFrame, an ``n x 10`` array). Columns are matched by name, in
        either spelling; other columns are ignored. ``params``: ``{"errors": "raise" | "nan"}``.
        Returns a pandas Series named ``probability`` with the input's index for a pandas
        DataFrame, else a numpy array.
        """
        errors = str((params or {}).get("errors") or "raise")
        p = self.model.probability(model_input, errors=errors)  # type: ignore[arg-type]
        if type(model_input).__module__.split(".")[0] == "pandas":
            import pandas as pd

            return pd.Series(p, index=model_input.index, name="probability")
        return p

    def get_raw_model(self) -> Model:
        """The :class:`credit_default.Model` (MLflow's ``PyFuncModel.get_raw_model()``)."""
        return self.model


def _column(name: str, required: bool) -> str:
    return json.dumps({"type": "double", "name": name, "required": required})


def signature_json() -> dict[str, str]:
    """The signature's ``inputs``, ``outputs`` and ``params`` as the JSON strings ``MLmodel``
    holds: the same as ``credit train`` writes (service/src/mlflow_flavor.rs)."""
    optional = {f["name"] for f in Model.default().features if f["optional"]}
    inputs = ", ".join(_column(n, n not in optional) for n in FEATURES)
    return {
        "inputs": f"[{inputs}]",
        "outputs": f"[{_column('probability', True)}]",
        "params": json.dumps(
            [{"name": "errors", "default": "raise", "shape": None, "type": "string"}]
        ),
    }


def _quoted(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def save_model(
    path: str | os.PathLike[str], model: Model | str, *, run_id: str | None = None
) -> Path:
    """Writes a pyfunc model folder, as ``credit train --mlflow-uri`` uploads it: ``model.json``
    (``model``'s artifact JSON, or the JSON text given, verified first), ``MLmodel``,
    ``python_env.yaml`` and ``requirements.txt`` (this package's version). For versions logged
    from Python (``mlflow.log_artifacts(path, artifact_path="model")``, then register
    ``<run>/model``), e.g. by the retraining flow. Needs neither MLflow nor PyYAML.
    Returns the folder, created if missing (its files are overwritten)."""
    from . import __version__

    text = model if isinstance(model, str) else model.to_json()
    Model.from_json(text)  # refuses a broken artifact before anything is written
    d = Path(path)
    d.mkdir(parents=True, exist_ok=True)
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    sig = signature_json()
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    lines = ["artifact_path: model"] if run_id else []
    lines += [
        "flavors:",
        "  python_function:",
        "    data: model.json",
        "    env:",
        "      virtualenv: python_env.yaml",
        f"    loader_module: {__name__}",
        f"    python_version: {_quoted(py)}",
        f"model_uuid: {uuid.uuid4().hex}",
    ]
    lines += [f"run_id: {_quoted(run_id)}"] if run_id else []
    lines += ["signature:"] + [f"  {k}: {_quoted(v)}" for k, v in sig.items()]
    lines += [f"utc_time_created: {_quoted(str(now))}"]
    (d / "model.json").write_text(text, encoding="utf-8")
    (d / "MLmodel").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (d / "python_env.yaml").write_text(
        f"python: {_quoted(py)}\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\n"
        "dependencies:\n- -r requirements.txt\n",
        encoding="utf-8",
    )
    (d / "requirements.txt").write_text(
        f"credit-default=={__version__}\nmlflow>=3,<4\n", encoding="utf-8"
    )
    return d


def _load_pyfunc(data_path: str) -> PyfuncModel:
    """MLflow's loader hook: ``data_path`` is the version's ``model.json``."""
    return PyfuncModel(Model.load(data_path))


def is_mlflow_uri(path: object) -> bool:
    """True for ``models:/...`` and ``runs:/...`` strings."""
    return isinstance(path, str) and path.startswith(MLFLOW_URI_PREFIXES)


def _data_file(model_dir: Path) -> Path:
    """The flavor's ``data`` file named in ``MLmodel``; ``model.json`` for a folder without
    one (versions registered before the flavor existed, or by other tools)."""
    mlmodel = model_dir / "MLmodel"
    if mlmodel.is_file():
        import yaml  # a dependency of mlflow

        conf = yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}
        data = (conf.get("flavors") or {}).get("python_function", {}).get("data")
        if isinstance(data, str):
            return model_dir / data
    return model_dir / "model.json"


def model_json_from_uri(uri: str, *, tracking_uri: str | None = None) -> str:
    """The artifact JSON of an MLflow model: ``models:/credit-default/7``,
    ``models:/credit-default@champion`` or ``runs:/<run_id>/model``.

    Downloads the model folder with ``mlflow.artifacts.download_artifacts`` (from the tracking
    server of ``tracking_uri``, else MLflow's default: ``MLFLOW_TRACKING_URI`` or
    ``mlflow.set_tracking_uri``) into a temporary directory, removed before returning.
    """
    try:
        import mlflow.artifacts
    except ImportError as e:
        raise ImportError(
            f"loading {uri!r} needs the mlflow package, which is not installed: "
            "pip install mlflow (or pass a model file path)"
        ) from e
    with tempfile.TemporaryDirectory(prefix="credit-default-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=tmp, tracking_uri=tracking_uri
        )
        path = Path(local)
        data = _data_file(path) if path.is_dir() else path
        if not data.is_file():
            raise FileNotFoundError(f"{uri!r} has no model file ({data.name} is missing)")
        return data.read_text(encoding="utf-8")
