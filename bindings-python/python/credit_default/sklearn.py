"""A scikit-learn estimator that fits the scorecard with the core's trainer.

``CreditScorecard().fit(X, y)`` cuts each feature into bins, fits the penalised logistic
regression, cross-validates it (``folds`` deterministic stratified folds) and exports the same
versioned JSON artifact as ``credit train``. Use it in ``Pipeline``, ``cross_val_score`` and
``GridSearchCV`` like any classifier; hand ``to_json()`` to production.

``X`` is a DataFrame / Table (columns matched by name, seed or Kaggle spelling) or an
``n x 10`` array in model column order. Rows that the scorecard would refuse at scoring time
are left out of the fit (as the CLI does); ``predict`` raises ``ValidationError`` for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from . import _native
from ._native import Model

# The core trainer's defaults, which are also `credit train`'s.
_D = _native.TRAIN_DEFAULTS


class CreditScorecard(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Fine-binned, monotone, Regulation B aware scorecard (logistic regression on bins).

    Parameters mirror ``credit train``: ``max_bins`` (``--max-bins``, 2 to 64), ``min_bin_count``,
    ``l2_alpha`` (``--alpha``), ``folds`` (``--folds``), ``max_iterations``
    (``--max-iterations``), ``tol`` (``--tolerance``), the points scaling (``base_score``,
    ``base_odds``, ``pdo``), ``model_id`` and ``model_version`` (``None``: derived from the
    fitted content).

    Fitted attributes: ``model_`` (a :class:`credit_default.Model`), ``classes_``,
    ``n_features_in_``, ``oof_proba_`` (out-of-fold probability of every used row),
    ``fold_of_``, ``used_rows_`` and ``cv_auc_`` (mean AUC over the folds, as the CLI reports).
    """

    def __init__(
        self,
        *,
        max_bins: int = _D["max_bins"],
        min_bin_count: int = _D["min_bin_count"],
        l2_alpha: float = _D["l2_alpha"],
        folds: int = _D["folds"],
        max_iterations: int = _D["max_iterations"],
        tol: float = _D["tol"],
        base_score: float = _D["base_score"],
        base_odds: float = _D["base_odds"],
        pdo: float = _D["pdo"],
        model_id: str = _D["model_id"],
        model_version: str | None = None,
    ) -> None:
        self.max_bins = max_bins
        self.min_bin_count = min_bin_count
        self.l2_alpha = l2_alpha
        self.folds = folds
        self.max_iterations = max_iterations
        self.tol = tol
        self.base_score = base_score
        self.base_odds = base_odds
        self.pdo = pdo
        self.model_id = model_id
        self.model_version = model_version

    def fit(self, X: Any, y: Any, *, data_sha256: str = "") -> CreditScorecard:
        """Fits on ``X``, ``y`` (two classes; the larger label is "default").

        ``data_sha256`` is recorded in the artifact as the training data's fingerprint (the CLI
        records the sha256 of the CSV bytes it read).
        """
        if y is None:
            raise ValueError(
                "requires y to be passed, but the target y is None: CreditScorecard is supervised"
            )
        y_arr = column_or_1d(y, warn=True)
        check_classification_targets(y_arr)
        if type_of_target(y_arr) == "multiclass":
            raise ValueError(
                "Only binary classification is supported. The type of the target is multiclass "
                "(CreditScorecard needs exactly 2 classes: default / no default)."
            )
        rows = self._rows(X)
        if len(y_arr) != len(rows):
            raise ValueError(
                f"X and y have inconsistent numbers of samples: {len(rows)} and {len(y_arr)}"
            )
        classes, y_enc = np.unique(y_arr, return_inverse=True)
        if len(classes) != 2:
            raise ValueError(
                f"CreditScorecard needs samples of exactly 2 classes, got {len(classes)} class(es): "
                f"{classes!r}"
            )
        model, oof, fold_of, used = _native.fit(
            rows,
            np.ascontiguousarray(y_enc, dtype=np.uint8),
            max_bins=int(self.max_bins),
            min_bin_count=int(self.min_bin_count),
            l2_alpha=float(self.l2_alpha),
            folds=int(self.folds),
            max_iterations=int(self.max_iterations),
            gradient_tolerance=float(self.tol),
            base_score=float(self.base_score),
            base_odds=float(self.base_odds),
            pdo=float(self.pdo),
            model_id=str(self.model_id),
            model_version=self.model_version,
            sha256=data_sha256,
        )
        self.model_: Model = model
        self.classes_ = classes
        self.n_features_in_ = len(_native.FEATURES)
        names = getattr(X, "columns", None)
        if names is not None and all(isinstance(c, str) for c in names):
            self.feature_names_in_ = np.asarray(list(names), dtype=object)
        self.oof_proba_ = oof
        self.fold_of_ = fold_of
        self.used_rows_ = used
        self.cv_auc_: float = float(model.metrics["cv_auc_mean"])
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # default vs. no default: binary only
        return tags

    @staticmethod
    def _rows(X: Any) -> npt.NDArray[np.float64]:
        """Rows in model column order: named columns are matched by the core; anything else goes
        through scikit-learn's usual checks (sparse, complex, object, empty, 1-D input)."""
        top = type(X).__module__.split(".")[0]
        positional = top == "pandas" and not any(isinstance(c, str) for c in X.columns)
        if (top in ("pandas", "polars", "pyarrow") and not positional) or type(X) is dict:
            return np.ascontiguousarray(_native.to_rows(X), dtype=np.float64)
        arr = check_array(X, dtype=np.float64, ensure_all_finite=False, order="C")
        n = len(_native.FEATURES)
        if arr.shape[1] != n:
            raise ValueError(
                f"X has {arr.shape[1]} feature(s), but CreditScorecard is expecting {n} features "
                "as input (the ten bureau features in model column order)"
            )
        return arr

    def _proba(self, X: Any) -> npt.NDArray[np.float64]:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(self._rows(X))

    def predict_proba(self, X: Any) -> npt.NDArray[np.float64]:
        """``[P(classes_[0]), P(classes_[1])]`` per row; raises ``ValidationError`` for bad rows."""
        p = self._proba(X)
        return np.column_stack([1.0 - p, p])

    def decision_function(self, X: Any) -> npt.NDArray[np.float64]:
        """Log-odds of ``classes_[1]``."""
        p = self._proba(X)
        with np.errstate(divide="ignore"):
            return np.log(p) - np.log1p(-p)

    def predict(self, X: Any) -> npt.NDArray[Any]:
        """``classes_[1]`` where the probability reaches the model's threshold (max-KS cut)."""
        p = self._proba(X)
        return self.classes_[(p >= self.model_.threshold).astype(np.intp)]

    def to_json(self) -> str:
        """The fitted artifact: the same JSON ``credit train`` writes."""
        check_is_fitted(self, "model_")
        return self.model_.to_json()

    def save(self, path: str | Any) -> None:
        """Writes :meth:`to_json` to ``path`` (load it with ``Model.load`` or ``credit serve``)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json())
