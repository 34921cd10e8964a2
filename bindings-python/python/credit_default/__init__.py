"""credit_default: the Give Me Some Credit scorecard, backed by the ``credit-core`` Rust crate.

>>> import credit_default as cd
>>> model = cd.Model.default()
>>> p = model.predict({"RevolvingUtilizationOfUnsecuredLines": 0.77, "age": 45,
...     "NumberOfTime30-59DaysPastDueNotWorse": 2, "DebtRatio": 0.80, "MonthlyIncome": 9120,
...     "NumberOfOpenCreditLinesAndLoans": 13, "NumberOfTimes90DaysLate": 0,
...     "NumberRealEstateLoansOrLines": 6, "NumberOfTime60-89DaysPastDueNotWorse": 0,
...     "NumberOfDependents": 2})
>>> 0.0 < p.probability < 1.0
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import ErrorDetails, InternalError, ModelError, ValidationError
from ._native import (
    CORE_VERSION,
    FEATURES,
    BatchResult,
    Explanation,
    Model,
    Prediction,
    Reason,
)

if TYPE_CHECKING:
    from .sklearn import CreditScorecard

from importlib.metadata import PackageNotFoundError as _NotFound
from importlib.metadata import version as _version

try:
    __version__ = _version("credit-default")
except _NotFound:  # pragma: no cover - not installed as a distribution
    __version__ = CORE_VERSION

__all__ = [
    "CORE_VERSION",
    "FEATURES",
    "BatchResult",
    "CreditScorecard",
    "ErrorDetails",
    "Explanation",
    "InternalError",
    "Model",
    "ModelError",
    "Prediction",
    "Reason",
    "ValidationError",
]


def __getattr__(name: str) -> Any:
    # The estimator needs scikit-learn, which scoring does not: import it on first use.
    if name == "CreditScorecard":
        from .sklearn import CreditScorecard

        return CreditScorecard
    raise AttributeError(f"module 'credit_default' has no attribute {name!r}")
