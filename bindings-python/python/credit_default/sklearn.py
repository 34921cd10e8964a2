"""A scikit-learn estimator that fits the scorecard with the core's trainer.

``CreditScorecard().fit(X, y)`` cuts each feature into bins, fits the penalised logistic
regression, cross-validates it (``folds`` deterministic stratified folds) and exports the same
versioned JSON artifact as ``credit train``. Use it in ``Pipeline``, ``cross_val_score`` and
``GridSearchCV`` like any classifier; hand ``to_json()`` to production.

``X`` is a DataFrame / table (columns matched by name, seed or Kaggle spelling: pandas, polars,
pyarrow, any object with the Arrow PyCapsule interface, a dict of columns) or an ``n x 10``
array in model column order. Rows that the scorecard would refuse at scoring time are left out
of the fit (as the CLI does), with a warning that counts them.

``predict`` is scikit-learn's: the class with the larger probability. The lender's decision
(default when the probability reaches the model's max-KS cut, ``decision_threshold_``) is
applied the scikit-learn way, with ``FixedThresholdClassifier`` (``decision_policy()`` builds it).
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import make_scorer, roc_auc_score
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from . import _frames, _native
from ._errors import ValidationError
from ._native import Model

# The core trainer's defaults, which are also `credit train`'s.
_D = _native.TRAIN_DEFAULTS
_N = len(_native.FEATURES)
# The widest whole number the native trainer's count parameters hold (a usize): a conversion
# limit, not a range (the core trainer's ranges are far inside it).
_NATIVE_MAX = int(np.iinfo(np.uintp).max)


class CreditScorecard(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Fine-binned, monotone, Regulation B aware scorecard (logistic regression on bins).

    Parameters mirror ``credit train``: ``max_bins`` (``--max-bins``, 2 to 64), ``min_bin_count``,
    ``l2_alpha`` (``--alpha``), ``folds`` (``--folds``), ``max_iterations``
    (``--max-iterations``), ``tol`` (``--tolerance``), the points scaling (``base_score``,
    ``base_odds``, ``pdo``), ``model_id`` and ``model_version`` (``None``: derived from the
    fitted content). ``interactions`` (``--interactions``, 0 to 16): pairs of features that get
    interaction cells fitted jointly with the bins (0, the default: the additive scorecard; the
    shipped model has 8); ``coarse_groups`` (``--coarse-groups``, 2 to 14): most groups of range
    bins per axis of a cell grid; ``cell_scale`` (``--cell-scale``, finite and positive): the
    penalty on a cell step is ``l2_alpha / cell_scale**2``. ``refine_rounds``
    (``--refine-rounds``, default 0: off) rounds of cyclic boosting of the fitted bin and cell
    logits on the residuals before the domain repairs, each step shrunk by ``refine_rate``
    (``--refine-rate``, finite and positive). ``age_pairs`` (``--age-pairs``, default ``False``):
    let age be in a pair under Regulation B's bound (age's groups split at 62, no applicant of 62
    or more gets fewer points from age than a younger one with the same other features). They
    are stored as given and checked in ``fit`` by
    the core trainer, before any fitting (``coarse_groups``, ``cell_scale`` and ``refine_rate``
    even when unused), which raises a ``ValueError`` naming the parameter. ``errors``:
    what ``predict_proba`` / ``decision_function`` do with a row the scorecard refuses (an age
    of 0, a negative count): ``"raise"`` a ``ValidationError`` naming every such row, or give
    ``"nan"`` for it (``predict`` always raises: a class label cannot be NaN).

    Fitted attributes: ``model_`` (a :class:`credit_default.Model`), ``classes_``,
    ``n_features_in_``, ``feature_names_in_`` (when ``X`` has string column names),
    ``decision_threshold_`` (the lender's cut on the probability of ``classes_[1]``),
    ``oof_proba_`` (out-of-fold probability of every used row), ``fold_of_``, ``used_rows_`` and
    ``cv_auc_`` (mean AUC over the folds, as the CLI reports).
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
        interactions: int = _D["interactions"],
        coarse_groups: int = _D["coarse_groups"],
        cell_scale: float = _D["cell_scale"],
        refine_rounds: int = _D["refine_rounds"],
        refine_rate: float = _D["refine_rate"],
        age_pairs: bool = _D["age_pairs"],
        base_score: float = _D["base_score"],
        base_odds: float = _D["base_odds"],
        pdo: float = _D["pdo"],
        model_id: str = _D["model_id"],
        model_version: str | None = None,
        errors: str = "raise",
    ) -> None:
        self.max_bins = max_bins
        self.min_bin_count = min_bin_count
        self.l2_alpha = l2_alpha
        self.folds = folds
        self.max_iterations = max_iterations
        self.tol = tol
        self.interactions = interactions
        self.coarse_groups = coarse_groups
        self.cell_scale = cell_scale
        self.refine_rounds = refine_rounds
        self.refine_rate = refine_rate
        self.age_pairs = age_pairs
        self.base_score = base_score
        self.base_odds = base_odds
        self.pdo = pdo
        self.model_id = model_id
        self.model_version = model_version
        self.errors = errors

    def fit(self, X: Any, y: Any, *, data_sha256: str = "") -> CreditScorecard:
        """Fits on ``X``, ``y`` (two classes; the larger label is "default").

        ``data_sha256`` is recorded in the artifact as the training data's fingerprint (the CLI
        records the sha256 of the CSV bytes it read). Rows the scorecard refuses are left out,
        with a ``UserWarning`` that counts them (``Model.score_batch(X).errors()`` says why).
        """
        if self.errors not in ("raise", "nan"):
            raise ValueError(f'errors must be "raise" or "nan", got {self.errors!r}')
        trainer = self._trainer_params()
        classes, y_enc = self._labels(y)
        rows = self._rows(X, fitting=True)
        if len(y_enc) != len(rows):
            raise ValueError(
                f"X and y have inconsistent numbers of samples: {len(rows)} and {len(y_enc)}"
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
            **trainer,
        )
        if len(used) < len(rows):
            warnings.warn(
                f"{len(rows) - len(used)} of {len(rows)} rows left out of the fit: the scorecard "
                "refuses them (out-of-range or missing required values; "
                "Model.default().score_batch(X).errors() lists why)",
                UserWarning,
                stacklevel=2,
            )
        self.model_: Model = model
        self.classes_ = classes
        self.n_features_in_ = _N
        names = _frames.column_names(X) if _frames.is_named(X) else None
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.decision_threshold_: float = float(model.threshold)
        self.oof_proba_ = oof
        self.fold_of_ = fold_of
        self.used_rows_ = used
        self.cv_auc_: float = float(model.metrics["cv_auc_mean"])
        return self

    def _trainer_params(self) -> dict[str, Any]:
        """The interaction and refinement parameters converted for the native trainer (scikit-learn's rule:
        stored as given, checked in ``fit``). Only what cannot be converted is refused here, a
        ``ValueError`` naming the parameter: a bool or a non-whole number for ``interactions`` /
        ``coarse_groups`` / ``refine_rounds`` (or one no native unsigned integer holds), a
        non-number for ``cell_scale`` / ``refine_rate``, anything but a bool for ``age_pairs``
        (``numpy.bool_`` included). Their ranges are the core trainer's: it
        refuses a value out of them, naming it, before any fitting."""
        out: dict[str, Any] = {}
        for name in ("interactions", "coarse_groups", "refine_rounds"):
            value = getattr(self, name)
            whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
            if not (whole and 0 <= value <= _NATIVE_MAX):
                raise ValueError(
                    f"{name} must be a whole number from 0 to {_NATIVE_MAX}, got {value!r}"
                )
            out[name] = int(value)
        for name in ("cell_scale", "refine_rate"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                raise ValueError(f"{name} must be a number, got {value!r}")  # noqa: TRY004
            out[name] = float(value)
        if not isinstance(self.age_pairs, (bool, np.bool_)):
            raise ValueError(f"age_pairs must be True or False, got {self.age_pairs!r}")  # noqa: TRY004
        out["age_pairs"] = bool(self.age_pairs)
        return out

    @staticmethod
    def _labels(y: Any) -> tuple[npt.NDArray[Any], npt.NDArray[np.intp]]:
        """The two classes and ``y`` encoded as 0 / 1 (checked before ``X``, whose width is
        fixed, so that a wrong target is reported as such)."""
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
        classes, y_enc = np.unique(y_arr, return_inverse=True)
        if len(classes) != 2:
            raise ValueError(
                f"CreditScorecard needs samples of exactly 2 classes, got {len(classes)} class(es): "
                f"{classes!r}"
            )
        return classes, y_enc

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # default vs. no default: binary only
        # NaN is a missing value (MonthlyIncome, NumberOfDependents may be missing; a missing
        # required value makes the row refused, not an error of the whole input)
        tags.input_tags.allow_nan = True
        tags.input_tags.positive_only = True  # every feature's domain starts at 0
        return tags

    def _rows(self, X: Any, *, fitting: bool = False) -> Any:
        """What the native model scores: a named table as it is (the core matches its columns
        by name, zero-copy where possible), anything else through scikit-learn's usual checks
        (sparse, complex, object, empty, 1-D input) as an ``n x 10`` float64 array. For
        fitting, named tables become that array too (the trainer takes rows)."""
        if _frames.is_series(X):
            raise ValueError(f"Expected a 2D table. Reshape your data: {_frames.SERIES_HINT}")
        if _frames.is_named(X):
            return np.ascontiguousarray(_native.to_rows(X), dtype=np.float64) if fitting else X
        arr = check_array(X, dtype=np.float64, ensure_all_finite=False, order="C")
        if arr.shape[1] != _N:
            raise ValueError(
                f"X has {arr.shape[1]} features, but CreditScorecard is expecting {_N} features "
                "as input. It reads the ten bureau features: a DataFrame (columns matched by "
                "name) or an n x 10 array in model column order (credit_default.FEATURES); got "
                f"n_features = {arr.shape[1]}."
            )
        return arr

    def _proba(self, X: Any, errors: str | None = None) -> npt.NDArray[np.float64]:
        check_is_fitted(self, "model_")
        how = errors or self.errors
        return self.model_.probability(self._rows(X), errors=how)  # type: ignore[arg-type]

    def predict_proba(self, X: Any) -> npt.NDArray[np.float64]:
        """``[P(classes_[0]), P(classes_[1])]`` per row. A refused row raises
        ``ValidationError`` (``errors="raise"``) or is ``[nan, nan]`` (``errors="nan"``)."""
        p = self._proba(X)
        return np.column_stack([1.0 - p, p])

    def decision_function(self, X: Any) -> npt.NDArray[np.float64]:
        """Log-odds of ``classes_[1]`` (``> 0`` exactly where ``predict`` gives ``classes_[1]``)."""
        p = self._proba(X)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(p) - np.log1p(-p)

    def predict(self, X: Any) -> npt.NDArray[Any]:
        """The more probable class, ``classes_[argmax(predict_proba(X))]`` (scikit-learn's
        contract). For the lender's decision use :meth:`decision_policy`. A refused row raises
        ``ValidationError`` whatever ``errors`` is: a class label cannot be NaN."""
        try:
            p = self._proba(X, errors="raise")
        except ValidationError as e:
            if self.errors == "nan":
                raise type(e)(
                    f"{e}\n(predict has no class label for a refused row, even with "
                    'errors="nan"; predict_proba gives NaN for it)',
                    e.errors(),
                ) from None
            raise
        proba = np.column_stack([1.0 - p, p])
        return self.classes_[np.argmax(proba, axis=1)]

    def decision_policy(self, threshold: float | None = None) -> Any:
        """The lender's decision as a scikit-learn classifier: ``classes_[1]`` where the
        probability of ``classes_[1]`` reaches ``threshold`` (default ``decision_threshold_``,
        the model's max-KS cut: the ``prediction`` of ``Model.predict`` and the REST API).

        It is ``FixedThresholdClassifier(self, threshold=..., response_method="predict_proba")``
        around this fitted estimator, usable without another fit."""
        from sklearn.model_selection import FixedThresholdClassifier

        check_is_fitted(self, "model_")
        cut = self.decision_threshold_ if threshold is None else float(threshold)
        return FixedThresholdClassifier(self, threshold=cut, response_method="predict_proba")

    def to_json(self) -> str:
        """The fitted artifact: the same JSON ``credit train`` writes."""
        check_is_fitted(self, "model_")
        return self.model_.to_json()

    def save(self, path: str | Any) -> None:
        """Writes :meth:`to_json` to ``path`` (load it with ``Model.load`` or ``credit serve``)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json())


def _roc_auc_of_scored(y_true: Any, y_score: Any) -> float:
    keep = ~np.isnan(np.asarray(y_score, dtype=np.float64))
    return float(roc_auc_score(np.asarray(y_true)[keep], np.asarray(y_score)[keep]))


roc_auc_of_scored_rows = make_scorer(_roc_auc_of_scored, response_method="predict_proba")
"""ROC AUC over the rows the scorecard scored: for ``cross_val_score(CreditScorecard(errors="nan"),
X, y, scoring=roc_auc_of_scored_rows)`` on data with refused rows (the Kaggle file has one row
with age 0), which ``scoring="roc_auc"`` would turn into a NaN fold."""
