"""The scikit-learn estimator: API contract, estimator checks (as far as they apply), and its
cross-validated AUC on the training data against `credit train`."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import credit_default as cd
import numpy as np
import pytest
from conftest import synthetic, training_data

sklearn = pytest.importorskip("sklearn")
from credit_default import CreditScorecard
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

FAST = {"max_bins": 16, "min_bin_count": 30, "folds": 3, "max_iterations": 300}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return synthetic(6000, seed=1)


@pytest.fixture(scope="module")
def fitted(data: tuple[np.ndarray, np.ndarray]) -> CreditScorecard:
    x, y = data
    return CreditScorecard(**FAST).fit(x, y)


def test_fit_predict(fitted: CreditScorecard, data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    proba = fitted.predict_proba(x)
    assert proba.shape == (len(x), 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(proba[:, 1], fitted.model_.predict_proba(x))
    assert set(np.unique(fitted.predict(x))) <= {0, 1}
    assert roc_auc_score(y, proba[:, 1]) > 0.7
    assert list(fitted.classes_) == [0, 1] and fitted.n_features_in_ == 10
    # decision_function is the log-odds, monotone in the probability
    d = fitted.decision_function(x)
    assert np.allclose(1 / (1 + np.exp(-d)), proba[:, 1])
    # the out-of-fold predictions are the evidence behind the recorded CV AUC
    folds = fitted.fold_of_
    aucs = [roc_auc_score(y[folds == k], fitted.oof_proba_[folds == k]) for k in range(3)]
    assert abs(np.mean(aucs) - fitted.cv_auc_) < 1e-9


def test_artifact_round_trip(fitted: CreditScorecard, data: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    x, _ = data
    path = tmp_path / "model.json"
    fitted.save(path)
    art = json.loads(path.read_text())
    assert art["format"] == "credit-default/scorecard" and art["training"]["folds"] == 3
    # The score-drift baseline of `credit monitor`: the out-of-fold scores over fixed bands.
    dist = art["score_distribution"]
    assert art["format_version"] == 2 and len(dist["counts"]) == len(dist["edges"]) + 1
    cv = art["metrics"]["cv"]
    assert sum(dist["counts"]) == cv["rows"] and sum(dist["events"]) == cv["positives"]
    loaded = cd.Model.load(path)
    assert np.array_equal(loaded.predict_proba(x), fitted.predict_proba(x)[:, 1])
    assert loaded.version == fitted.model_.version


def test_string_labels_and_frames(data: tuple[np.ndarray, np.ndarray]) -> None:
    pd = pytest.importorskip("pandas")
    x, y = data
    df = pd.DataFrame(x, columns=[f["alias"] or f["name"] for f in cd.Model.default().features])
    labels = np.where(y == 1, "bad", "good")
    est = CreditScorecard(**FAST).fit(df, labels)
    assert list(est.classes_) == ["bad", "good"]
    # "good" is classes_[1], so its probability is the model's probability of label 1 = "good"
    assert set(est.predict(df)) <= {"bad", "good"}
    assert list(est.feature_names_in_) == list(df.columns)


def test_pipeline_and_cross_val_score(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    pipe = Pipeline([("identity", FunctionTransformer()), ("card", CreditScorecard(**FAST))])
    scores = cross_val_score(pipe, x, y, cv=2, scoring="roc_auc")
    assert scores.shape == (2,) and (scores > 0.65).all()


def test_fitted_estimator_pickles(fitted: CreditScorecard, data: tuple[np.ndarray, np.ndarray]) -> None:
    import pickle

    x, _ = data
    again = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(again.predict_proba(x), fitted.predict_proba(x))
    assert again.to_json() == fitted.to_json()


def test_fit_is_idempotent_and_deterministic(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    est = CreditScorecard(**FAST)
    first = est.fit(x, y).to_json()
    assert est.fit(x, y).to_json() == first
    assert CreditScorecard(**FAST).fit(x[::-1].copy(), y[::-1]).model_.metrics["train"]["rows"] == len(x)


def test_params_and_clone() -> None:
    est = CreditScorecard(l2_alpha=5.0, folds=4)
    params = est.get_params()
    assert params["l2_alpha"] == 5.0 and params["folds"] == 4
    assert params["max_bins"] == cd._native.TRAIN_DEFAULTS["max_bins"]
    est.set_params(max_bins=8)
    twin = clone(est)
    assert twin.get_params() == est.get_params() and twin is not est
    with pytest.raises(sklearn.exceptions.NotFittedError):
        est.predict(np.zeros((1, 10)))


def test_bad_fits(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    with pytest.raises(ValueError, match="2 classes"):
        CreditScorecard(**FAST).fit(x, np.zeros(len(x)))
    with pytest.raises(ValueError, match="inconsistent"):
        CreditScorecard(**FAST).fit(x, y[:-1])
    with pytest.raises(ValueError, match="too few"):
        CreditScorecard(**FAST).fit(x[:20], y[:20])
    with pytest.raises(ValueError, match="expecting 10 features"):
        CreditScorecard(**FAST).fit(x[:, :3], y)


def test_invalid_rows_are_left_out_of_the_fit(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    bad = x.copy()
    bad[:100, 1] = 5  # age 5: refused at scoring time, so not used for fitting either
    est = CreditScorecard(**FAST).fit(bad, y)
    assert len(est.used_rows_) == len(x) - 100 and est.used_rows_[0] == 100
    with pytest.raises(cd.ValidationError):
        est.predict(bad[:5])


# --- sklearn.utils.estimator_checks -----------------------------------------------------------
# The checks feed random matrices (often 2-5 columns, negative values, non-integer counts,
# ages below 18) that the scorecard refuses by design: it scores exactly the ten bureau
# features within their documented ranges. Those checks are expected to fail, with the reason.
RANGE = "random data outside the features' domain (ranges / whole-number counts) is refused"
SHAPE = "the scorecard has exactly 10 named features; the check uses another number of columns"
EXPECTED_FAILED: dict[str, str] = {
    name: SHAPE
    for name in [
        "check_fit_score_takes_y",
        "check_estimators_overwrite_params",
        "check_dont_overwrite_parameters",
        "check_estimators_fit_returns_self",
        "check_readonly_memmap_input",
        "check_n_features_in_after_fitting",
        "check_positive_only_tag_during_fit",
        "check_estimators_dtypes",
        "check_pipeline_consistency",
        "check_estimators_nan_inf",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_classifier_data_not_an_array",
        "check_classifiers_one_label",
        "check_classifiers_classes",
        "check_classifiers_train",
        "check_supervised_y_2d",
        "check_decision_proba_consistency",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_dict_unchanged",
        "check_fit_idempotent",
        "check_fit_check_is_fitted",
        "check_n_features_in",
        "check_fit2d_predict1d",
    ]
}
EXPECTED_FAILED["check_dtype_object"] = RANGE


def _expected_failed(est: Any) -> dict[str, str]:
    return EXPECTED_FAILED


@parametrize_with_checks([CreditScorecard(**FAST)], expected_failed_checks=_expected_failed)
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


# --- cross-validated AUC on the training data equals `credit train` ---------------------------


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        magic = f.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    h = hashlib.sha256()
    with opener(path, "rb") as f:  # type: ignore[operator]
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# All 120,000 rows, with fewer folds and bins than the shipped model so that the two full-data
# fits stay within CI's budget (the comparison does not depend on the hyper-parameters).
FULL_DATA_FOLDS = 3
FULL_DATA_BINS = 32


@pytest.fixture(scope="module")
def cli_and_estimator(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, CreditScorecard, np.ndarray]:
    """One `credit train` run and one estimator fit on the full training data, side by side
    (two processes on two cores): the only two full-data fits of the test session."""
    pd = pytest.importorskip("pandas")
    data = training_data()
    credit = os.environ.get("CREDIT", str(Path(__file__).parents[2] / "target/release/credit"))
    if not Path(credit).exists():
        pytest.skip("the credit binary is not built (make build)")
    out = tmp_path_factory.mktemp("train") / "cli-model.json"
    version = "python-binding-test"
    cli = subprocess.Popen(
        [credit, "train", "--data", str(data), "--out", str(out), "--quiet", "--model-version", version,
         "--folds", str(FULL_DATA_FOLDS), "--max-bins", str(FULL_DATA_BINS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        df = pd.read_csv(data, float_precision="round_trip")
        y = df["SeriousDlqin2yrs"].to_numpy()
        est = CreditScorecard(model_version=version, folds=FULL_DATA_FOLDS, max_bins=FULL_DATA_BINS).fit(
            df, y, data_sha256=_sha256(data)
        )
    finally:
        _stdout, stderr = cli.communicate(timeout=3600)
    assert cli.returncode == 0, stderr
    text = out.read_text()
    return json.loads(text), text, est, y


def test_cv_auc_equals_credit_train(cli_and_estimator: tuple[dict[str, Any], str, CreditScorecard, np.ndarray]) -> None:
    art, _, est, y = cli_and_estimator
    m = art["metrics"]
    # the AUC the CLI reports, and the estimator's own record of it
    assert est.cv_auc_ == m["cv_auc_mean"]
    # recomputed independently with scikit-learn from the estimator's out-of-fold predictions
    y_used = y[est.used_rows_]
    folds = est.fold_of_
    aucs = [roc_auc_score(y_used[folds == k], est.oof_proba_[folds == k]) for k in range(len(m["folds"]))]
    assert abs(float(np.mean(aucs)) - m["cv_auc_mean"]) < 1e-9
    for auc, fold in zip(aucs, m["folds"]):
        assert abs(auc - fold["auc"]) < 1e-9
    assert abs(roc_auc_score(y_used, est.oof_proba_) - m["cv"]["auc"]) < 1e-9


def test_estimator_exports_the_cli_artifact(cli_and_estimator: tuple[dict[str, Any], str, CreditScorecard, np.ndarray]) -> None:
    _, text, est, _ = cli_and_estimator
    assert est.to_json() == text
