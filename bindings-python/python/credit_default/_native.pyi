"""Type stubs of the native module (Rust, pyo3)."""

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias, final

import numpy as np
import numpy.typing as npt
from typing_extensions import deprecated

from ._errors import ErrorDetails, ValidationError

__all__ = [
    "CORE_VERSION",
    "FEATURES",
    "TRAIN_DEFAULTS",
    "BatchResult",
    "Explanation",
    "Model",
    "Prediction",
    "Reason",
    "_panic_for_tests",
    "canonical_name",
    "fit",
    "to_rows",
]
FEATURES: list[str]
CORE_VERSION: str
TRAIN_DEFAULTS: dict[str, Any]

_Float64Array: TypeAlias = npt.NDArray[np.float64]
# numpy arrays (n x 10, model column order), or tables matched by column name: pandas / polars
# DataFrames, pyarrow Tables or RecordBatches, any object with the Arrow PyCapsule interface
# (__arrow_c_stream__ / __arrow_c_array__: DuckDB relations, ...), a mapping of name -> values.
_BatchInput: TypeAlias = Any

@final
class Reason:
    @property
    def code(self) -> str: ...
    @property
    def feature(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def points_lost(self) -> float: ...

@final
class Prediction:
    @property
    def probability(self) -> float: ...
    @property
    def prediction(self) -> int: ...
    @property
    def score(self) -> float: ...
    @property
    def log_odds(self) -> float: ...
    @property
    def reasons(self) -> list[Reason]: ...
    @property
    def model_version(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Explanation:
    @property
    def probability(self) -> float: ...
    @property
    def prediction(self) -> int: ...
    @property
    def score(self) -> float: ...
    @property
    def threshold(self) -> float: ...
    @property
    def base_points(self) -> float: ...
    @property
    def model_version(self) -> str: ...
    @property
    def contributions(self) -> list[dict[str, Any]]: ...
    @property
    def interactions(self) -> list[dict[str, Any]]: ...
    @property
    def reasons(self) -> list[dict[str, Any]]: ...
    def to_dict(self) -> dict[str, Any]: ...
    def _repr_html_(self) -> str: ...

@final
class BatchResult:
    @property
    def probability(self) -> _Float64Array: ...
    @property
    def score(self) -> _Float64Array: ...
    @property
    def rows(self) -> int: ...
    @property
    def valid(self) -> int: ...
    @property
    def invalid_rows(self) -> list[int]: ...
    def errors(self) -> list[ErrorDetails]: ...

@final
class Model:
    @staticmethod
    def load(path: str | os.PathLike[str]) -> Model:
        """A model file, or an MLflow model URI (``models:/credit-default@champion``,
        ``models:/credit-default/7``, ``runs:/<run_id>/model``; needs the ``mlflow`` package)."""
    @staticmethod
    def from_json(text: str) -> Model: ...
    @staticmethod
    def default() -> Model: ...
    def to_json(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def model_id(self) -> str: ...
    @property
    def checksum(self) -> str | None: ...
    @property
    def threshold(self) -> float: ...
    @property
    def metrics(self) -> dict[str, Any]: ...
    @property
    def features(self) -> list[dict[str, Any]]: ...
    def predict(self, applicant: Mapping[str, Any]) -> Prediction: ...
    def predict_json(self, text: str) -> Prediction: ...
    def predict_many(
        self,
        applicants: Sequence[Mapping[str, Any]],
        *,
        errors: Literal["raise", "return"] = "raise",
    ) -> list[Prediction | ValidationError]: ...
    def explain(self, applicant: Mapping[str, Any]) -> Explanation: ...
    def probability(
        self,
        x: _BatchInput,
        *,
        threads: int | None = 1,
        errors: Literal["raise", "nan"] = "raise",
    ) -> _Float64Array:
        """Probability of default per row, a 1-D array (``CreditScorecard.predict_proba`` is
        scikit-learn's ``(n, 2)`` form)."""
    @deprecated("Model.predict_proba is deprecated, use Model.probability (the same 1-D result)")
    def predict_proba(
        self,
        x: _BatchInput,
        *,
        threads: int | None = 1,
        errors: Literal["raise", "nan"] = "raise",
    ) -> _Float64Array: ...
    def score(
        self,
        x: _BatchInput,
        *,
        threads: int | None = 1,
        errors: Literal["raise", "nan"] = "raise",
    ) -> _Float64Array: ...
    def score_batch(self, x: _BatchInput, *, threads: int | None = 1) -> BatchResult: ...

def to_rows(x: _BatchInput) -> _Float64Array: ...
def canonical_name(name: str) -> str | None: ...
def fit(
    x: _Float64Array,
    y: npt.NDArray[np.uint8],
    *,
    max_bins: int,
    min_bin_count: int,
    l2_alpha: float,
    folds: int,
    max_iterations: int,
    gradient_tolerance: float,
    base_score: float,
    base_odds: float,
    pdo: float,
    model_id: str,
    model_version: str | None,
    sha256: str,
    interactions: int,
    coarse_groups: int,
    cell_scale: float,
    refine_rounds: int,
    refine_rate: float,
    age_pairs: bool,
) -> tuple[Model, _Float64Array, npt.NDArray[np.uint64], npt.NDArray[np.uint64]]: ...
def _panic_for_tests(message: str) -> None:
    """Panics inside the entry points' guard: raises ``InternalError`` (for the tests)."""
