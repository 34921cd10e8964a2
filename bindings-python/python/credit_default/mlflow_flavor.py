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
indexed like the input: the signature's single output, and what ``mlflow.pyfunc.spark_udf``
(result type double) and ``mlflow models serve`` (``{"predictions": [...]}``) expect. Scores,
decisions and reasons stay with :class:`credit_default.Model` (``score``, ``predict``,
``explain``). An invalid row raises :class:`credit_default.ValidationError`, or gives NaN with
``params={"errors": "nan"}``.

The module needs MLflow only for :func:`model_json_from_uri` (``Model.load("models:/...")``);
``_load_pyfunc`` itself only needs pandas.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._native import Model

if TYPE_CHECKING:
    import pandas as pd

#: URI schemes that :meth:`credit_default.Model.load` resolves through MLflow.
MLFLOW_URI_PREFIXES = ("models:/", "runs:/")

__all__ = ["MLFLOW_URI_PREFIXES", "PyfuncModel", "is_mlflow_uri", "model_json_from_uri"]


class PyfuncModel:
    """What ``mlflow.pyfunc.load_model`` wraps: ``predict(model_input, params=None)``."""

    def __init__(self, model: Model) -> None:
        self.model = model
        """The underlying :class:`credit_default.Model` (scores, reasons, explanations)."""

    def predict(
        self, model_input: Any, params: dict[str, Any] | None = None
    ) -> pd.Series[float] | Any:
        """Probability of default per row.

        ``model_input``: a pandas DataFrame (or anything ``Model.predict_proba`` takes: a dict
        of columns, a polars DataFrame, an ``n x 10`` array). Columns are matched by name, in
        either spelling; other columns are ignored. ``params``: ``{"errors": "raise" | "nan"}``.
        Returns a pandas Series named ``probability`` with the input's index for a pandas
        DataFrame, else a numpy array.
        """
        errors = str((params or {}).get("errors") or "raise")
        p = self.model.predict_proba(model_input, errors=errors)  # type: ignore[arg-type]
        if type(model_input).__module__.split(".")[0] == "pandas":
            import pandas as pd

            return pd.Series(p, index=model_input.index, name="probability")
        return p

    def get_raw_model(self) -> Model:
        """The :class:`credit_default.Model` (MLflow's ``PyFuncModel.get_raw_model()``)."""
        return self.model


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
