"""The scikit-learn estimator: API contract, estimator checks (as far as they apply), and its
cross-validated AUC on the training data against `credit train`."""

from __future__ import annotations

import gzip
import hashlib
import inspect
import json
import os
import re
import subprocess
import warnings
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
    assert np.array_equal(proba[:, 1], fitted.model_.probability(x))
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


def test_artifact_round_trip(
    fitted: CreditScorecard, data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
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
    assert np.array_equal(loaded.probability(x), fitted.predict_proba(x)[:, 1])
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


def test_fitted_estimator_pickles(
    fitted: CreditScorecard, data: tuple[np.ndarray, np.ndarray]
) -> None:
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
    assert CreditScorecard(**FAST).fit(x[::-1].copy(), y[::-1]).model_.metrics["train"][
        "rows"
    ] == len(x)


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


def test_interaction_params_default_to_the_trainer_s_and_clone() -> None:
    defaults = cd._native.TRAIN_DEFAULTS
    params = CreditScorecard().get_params()
    assert {k: params[k] for k in ("interactions", "coarse_groups", "cell_scale")} == {
        "interactions": defaults["interactions"], "coarse_groups": defaults["coarse_groups"],
        "cell_scale": defaults["cell_scale"]}  # fmt: skip
    assert params["interactions"] == 0  # the additive scorecard unless asked
    est = CreditScorecard(interactions=3).set_params(coarse_groups=5, cell_scale=0.25)
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    assert (twin.interactions, twin.coarse_groups, twin.cell_scale) == (3, 5, 0.25)
    # stored as given, even out of range: only fit checks (scikit-learn's rule)
    odd = clone(CreditScorecard(interactions=99, coarse_groups=np.int64(1), cell_scale="x"))
    assert odd.get_params()["interactions"] == 99 and odd.get_params()["cell_scale"] == "x"


def test_refine_params_default_to_the_trainer_s_and_clone() -> None:
    defaults = cd._native.TRAIN_DEFAULTS
    params = CreditScorecard().get_params()
    assert (params["refine_rounds"], params["refine_rate"]) == (
        defaults["refine_rounds"], defaults["refine_rate"])  # fmt: skip
    assert params["refine_rounds"] == 0  # off unless asked
    twin = clone(CreditScorecard(refine_rounds=10, refine_rate=0.2))
    assert (twin.refine_rounds, twin.refine_rate) == (10, 0.2)


def test_refinement_changes_the_fit_like_the_cli_s(data: tuple[np.ndarray, np.ndarray]) -> None:
    """``refine_rounds`` reaches the core trainer: the refined model differs from the plain one
    and records the option in its training method, as ``credit train --refine-rounds`` does."""
    x, y = data
    small = FAST | {"max_bins": 8, "folds": 2, "interactions": 2}
    plain = CreditScorecard(**small).fit(x[:3000], y[:3000])
    refined = CreditScorecard(**small, refine_rounds=5, refine_rate=0.2).fit(x[:3000], y[:3000])
    a, b = json.loads(plain.to_json()), json.loads(refined.to_json())
    assert "cyclic boosting" not in a["training"]["method"]
    assert "5 rounds of cyclic boosting (rate 0.2)" in b["training"]["method"]
    logits = [[bin_["logit"] for bin_ in f["range_bins"]] for f in a["features"]]
    assert logits != [[bin_["logit"] for bin_ in f["range_bins"]] for f in b["features"]]


def test_age_pairs_reach_the_trainer_under_regulation_b(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    """``age_pairs`` defaults to the trainer's (off), clones, and reaches the core trainer like
    ``credit train --age-pairs``: age is in a pair only when asked, the method says so, and every
    elderly age scores at most the log-odds of every younger age with the other features held."""
    assert (
        CreditScorecard().get_params()["age_pairs"]
        is cd._native.TRAIN_DEFAULTS["age_pairs"]
        is False
    )
    assert clone(CreditScorecard(age_pairs=True)).age_pairs is True
    x, _ = data
    # Risk that rises with utilisation only from 62 on: an age × utilisation grid is worth cells,
    # and left to itself it would charge the elderly with high utilisation for their age.
    util, old = np.clip(np.nan_to_num(x[:, 0]), 0.0, 2.0), x[:, 1] >= 62
    z = -3.0 + 1.5 * util + 2.5 * util * old - 0.02 * (x[:, 1] - 50.0)
    y = (np.random.default_rng(7).random(len(x)) < 1.0 / (1.0 + np.exp(-z))).astype(int)
    small = FAST | {"max_bins": 8, "folds": 2, "interactions": 4}
    fitted = {}
    for age_pairs in (False, True):
        est = CreditScorecard(**small, age_pairs=age_pairs).fit(x, y)
        fitted[age_pairs] = (est, json.loads(est.to_json()))
    pairs = {k: [p["features"] for p in a["interactions"]] for k, (_, a) in fitted.items()}
    assert not any("age" in p for p in pairs[False]), pairs
    assert any("age" in p for p in pairs[True]), pairs
    est, art = fitted[True]
    assert "Regulation B" in art["training"]["method"]
    ages = [18.0] + art["features"][1]["edges"]
    rows = np.repeat(x[:300], len(ages), axis=0)
    rows[:, 1] = np.tile(ages, 300)
    z = est.decision_function(rows).reshape(300, len(ages))
    elderly = np.array(ages) >= 62
    assert (z[:, elderly].max(axis=1) <= z[:, ~elderly].min(axis=1) + 1e-9).all()


@pytest.mark.parametrize("value", [1, "yes", None, 0.0])
def test_age_pairs_must_be_a_bool(data: tuple[np.ndarray, np.ndarray], value: Any) -> None:
    x, y = data
    est = CreditScorecard(**FAST, interactions=2, age_pairs=value)
    with pytest.raises(
        ValueError, match=rf"^age_pairs must be True or False, got {re.escape(repr(value))}$"
    ):
        est.fit(x, y)
    assert not hasattr(est, "model_")


# The ranges are the core trainer's (its messages); the estimator only refuses what it cannot
# convert for the native trainer (a bool, a non-whole or negative count, a non-number scale).
CORE = {"interactions": "the scorer takes at most 16 pairs",
        "coarse_groups": "it must be between 2 and 14 ",
        "cell_scale": "it must be finite and positive",
        "refine_rate": "it must be finite and positive"}  # fmt: skip
WHOLE = "must be a whole number from 0 to"


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [("interactions", 17, f"is 17; {CORE['interactions']}"), ("interactions", -1, WHOLE),
     ("interactions", 2.5, WHOLE), ("interactions", True, WHOLE), ("interactions", 10**30, WHOLE),
     ("coarse_groups", 1, f"is 1; {CORE['coarse_groups']}"), ("coarse_groups", 15, f"is 15; {CORE['coarse_groups']}"),
     ("coarse_groups", "4", WHOLE), ("cell_scale", 0.0, f"is 0; {CORE['cell_scale']}"),
     ("cell_scale", -0.5, f"is -0.5; {CORE['cell_scale']}"), ("cell_scale", float("inf"), f"is inf; {CORE['cell_scale']}"),
     ("cell_scale", float("nan"), f"is NaN; {CORE['cell_scale']}"), ("cell_scale", "0.5", "must be a number"),
     ("refine_rate", 0.0, f"is 0; {CORE['refine_rate']}"), ("refine_rate", float("nan"), f"is NaN; {CORE['refine_rate']}"),
     ("refine_rate", "0.1", "must be a number"), ("refine_rounds", -1, WHOLE), ("refine_rounds", 2.5, WHOLE)],
)  # fmt: skip
def test_bad_interaction_params_are_refused_by_name(
    data: tuple[np.ndarray, np.ndarray], param: str, value: Any, message: str
) -> None:
    x, y = data
    est = CreditScorecard(**FAST, interactions=2).set_params(**{param: value})
    with pytest.raises(ValueError, match=rf"^{param} {re.escape(message)}") as e:
        est.fit(x, y)
    if message.startswith("must be"):  # the estimator's own conversion message shows the value
        assert str(e.value).endswith(f"got {value!r}"), e.value
    assert not hasattr(est, "model_")


def test_coarse_groups_are_checked_without_interactions(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    """The core's rule holds whatever `interactions` is (as for `credit train`)."""
    x, y = data
    with pytest.raises(ValueError, match="^coarse_groups is 64; it must be between 2 and 14 "):
        CreditScorecard(**FAST, interactions=0, coarse_groups=64).fit(x, y)


def test_the_limits_are_the_trainer_s(data: tuple[np.ndarray, np.ndarray]) -> None:
    """The estimator's ranges are the core's: the native trainer itself refuses one past them,
    naming the parameter, and a fit at both maxima works (16 of the 36 candidate pairs: age is in none)."""
    x, y = data
    native = {
        "max_bins": 16, "min_bin_count": 30, "l2_alpha": 30.0, "folds": 2, "max_iterations": 300,
        "gradient_tolerance": 1.0, "base_score": 600.0, "base_odds": 50.0, "pdo": 20.0, "model_id": "m",
        "model_version": None, "sha256": "", "cell_scale": 0.5, "refine_rounds": 0, "refine_rate": 0.1,
        "age_pairs": False}  # fmt: skip
    u8 = y.astype(np.uint8)
    with pytest.raises(ValueError, match="interactions is 17"):
        cd._native.fit(x, u8, **native, interactions=17, coarse_groups=4)
    with pytest.raises(ValueError, match="coarse_groups is 15"):
        cd._native.fit(x, u8, **native, interactions=1, coarse_groups=15)
    small = FAST | {"max_bins": 8, "folds": 2}
    est = CreditScorecard(**small, interactions=16, coarse_groups=14).fit(x[:2000], y[:2000])
    assert len(json.loads(est.to_json())["interactions"]) == 16


def test_interaction_cells_fit(data: tuple[np.ndarray, np.ndarray]) -> None:
    """A fit with cells: the artifact holds the pairs (format version 3), the estimator scores
    with them, and its out-of-fold evidence is that of the cells model (the recorded CV AUC)."""
    x, y = data
    additive = CreditScorecard(**FAST).fit(x, y)
    est = CreditScorecard(**FAST, interactions=2).fit(x, y)
    art = json.loads(est.to_json())
    assert art["format_version"] == 3 and len(art["interactions"]) == 2
    assert not np.array_equal(est.predict_proba(x), additive.predict_proba(x))
    assert np.array_equal(
        cd.Model.from_json(est.to_json()).probability(x), est.predict_proba(x)[:, 1]
    )
    folds = est.fold_of_
    aucs = [roc_auc_score(y[folds == k], est.oof_proba_[folds == k]) for k in range(3)]
    assert abs(np.mean(aucs) - est.cv_auc_) < 1e-9 and est.cv_auc_ != additive.cv_auc_
    assert (
        abs(roc_auc_score(y[est.used_rows_], est.oof_proba_) - art["metrics"]["cv"]["auc"]) < 1e-9
    )


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
    with pytest.warns(UserWarning, match="100 of"):
        est = CreditScorecard(**FAST).fit(bad, y)
    assert len(est.used_rows_) == len(x) - 100 and est.used_rows_[0] == 100
    with pytest.raises(cd.ValidationError):
        est.predict(bad[:5])


# --- the scikit-learn contract: predict is the argmax, the lender's cut is a FixedThreshold ----


def test_predict_is_the_argmax_of_predict_proba(
    fitted: CreditScorecard, data: tuple[np.ndarray, np.ndarray]
) -> None:
    """scikit-learn's classifier contract; the lender's max-KS cut (about 0.06) must not leak in."""
    x, _ = data
    proba = fitted.predict_proba(x)
    pred = fitted.predict(x)
    assert np.array_equal(pred, fitted.classes_[np.argmax(proba, axis=1)])
    assert np.array_equal(pred == fitted.classes_[1], fitted.decision_function(x) > 0)
    # the cut is far below 0.5 on this data: the two rules disagree on many rows
    assert ((proba[:, 1] >= fitted.decision_threshold_) != (pred == 1)).sum() > 100


def test_lender_threshold_the_scikit_learn_way(
    fitted: CreditScorecard, data: tuple[np.ndarray, np.ndarray]
) -> None:
    from sklearn.model_selection import FixedThresholdClassifier

    x, _ = data
    assert fitted.decision_threshold_ == fitted.model_.threshold
    lender = (fitted.predict_proba(x)[:, 1] >= fitted.decision_threshold_).astype(int)
    wrapped = FixedThresholdClassifier(
        fitted, threshold=fitted.decision_threshold_, response_method="predict_proba"
    )
    assert np.array_equal(wrapped.predict(x), lender)
    policy = fitted.decision_policy()
    assert isinstance(policy, FixedThresholdClassifier) and np.array_equal(
        policy.predict(x), lender
    )
    # the same decision as the core's own (Prediction.prediction, the REST answer's "prediction")
    for i in range(20):
        one = fitted.model_.predict(
            dict(zip(cd.FEATURES, [None if np.isnan(v) else v for v in x[i]]))
        )
        assert one.prediction == lender[i]


def test_tags_that_are_true() -> None:
    from sklearn.utils import get_tags

    tags = get_tags(CreditScorecard())
    assert tags.input_tags.allow_nan  # NaN = missing MonthlyIncome / NumberOfDependents
    assert tags.input_tags.positive_only  # every feature's domain starts at 0
    assert not tags.input_tags.sparse and not tags.input_tags.string
    assert tags.classifier_tags.multi_class is False and tags.target_tags.required


def test_wrong_feature_count_has_scikit_learn_s_message(
    fitted: CreditScorecard, data: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = data
    msg = r"^X has 3 features, but CreditScorecard is expecting 10 features as input\."
    for method in (fitted.predict, fitted.predict_proba, fitted.decision_function):
        with pytest.raises(ValueError, match=msg):
            method(x[:, :3])
    with pytest.raises(ValueError, match=msg):
        CreditScorecard(**FAST).fit(x[:, :3], y)


def test_one_dimensional_input_says_how_to_reshape(
    fitted: CreditScorecard, data: tuple[np.ndarray, np.ndarray]
) -> None:
    pd = pytest.importorskip("pandas")
    x, _ = data
    with pytest.raises(ValueError, match="Reshape your data"):
        fitted.predict(x[0])
    df = pd.DataFrame(x, columns=cd.FEATURES).assign(SeriousDlqin2yrs=0)
    with pytest.raises(ValueError, match=r"df\.iloc\[\[i\]\]"):
        fitted.predict_proba(df.iloc[0])
    assert np.array_equal(fitted.predict_proba(df.iloc[[0]]), fitted.predict_proba(x[:1]))


# --- errors="raise" | "nan"; fit reports the rows it leaves out --------------------------------


def test_errors_raise_or_nan(fitted: CreditScorecard, data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    bad = x[:50].copy()
    bad[7, 1] = 0  # age 0, as one row of the Kaggle data
    with pytest.raises(cd.ValidationError) as info:
        fitted.predict_proba(bad)
    assert info.value.errors()[0]["loc"] == (7, "age") and "errors=" in str(info.value)
    lenient = clone(fitted).set_params(errors="nan").fit(x, y)
    p = lenient.predict_proba(bad)
    assert np.isnan(p[7]).all() and np.isnan(lenient.decision_function(bad)[7])
    ok = np.delete(np.arange(50), 7)
    assert np.array_equal(p[ok], fitted.predict_proba(bad[ok]))
    with pytest.raises(cd.ValidationError, match="class label"):
        lenient.predict(bad)  # a class label cannot be NaN: predict refuses the row
    with pytest.raises(ValueError, match="errors"):
        CreditScorecard(**FAST, errors="ignore").fit(x, y)


def test_cross_val_score_with_a_refused_row(data: tuple[np.ndarray, np.ndarray]) -> None:
    """errors="raise": the failing fold names the row (not a silent NaN score); errors="nan" with
    a NaN-aware scorer scores every fold."""
    from credit_default.sklearn import roc_auc_of_scored_rows

    x, y = data
    bad = x.copy()
    bad[11, 1] = 0
    with pytest.raises(cd.ValidationError, match="age"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the fold that fits on the row leaves it out
        cross_val_score(
            CreditScorecard(**FAST), bad, y, cv=2, scoring="roc_auc", error_score="raise"
        )
    with pytest.warns(UserWarning, match="1 of 3000 rows left out"):
        scores = cross_val_score(
            CreditScorecard(**FAST, errors="nan"), bad, y, cv=2, scoring=roc_auc_of_scored_rows
        )
    assert np.isfinite(scores).all() and (scores > 0.65).all()


def test_fit_warns_with_the_count_of_rows_it_leaves_out(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = data
    bad = x.copy()
    bad[:100, 1] = 5
    with pytest.warns(UserWarning, match=f"100 of {len(x)} rows"):
        CreditScorecard(**FAST).fit(bad, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CreditScorecard(**FAST).fit(x, y)  # nothing left out: no warning


# --- sklearn.utils.estimator_checks -----------------------------------------------------------
# Every check runs. The ones listed here fit random matrices of another width (2 to 5 columns:
# iris, blobs, uniform noise) or values outside the features' domain; the scorecard reads exactly
# the ten bureau features, so they cannot apply. They are strict xfails (a check that starts
# passing fails the run) and their assertions run below on credit-shaped data
# (`test_check_on_credit_data_*`).


def _width(n: int, covered_by: str) -> str:
    return (
        f"fits {n}-column random data; the scorecard reads exactly the 10 bureau features "
        f"(assertions run on credit-shaped data in {covered_by})"
    )


EXPECTED_FAILED: dict[str, str] = {
    "check_fit_score_takes_y": _width(3, "test_check_on_credit_data_fit_and_score"),
    "check_estimators_overwrite_params": _width(2, "test_check_on_credit_data_params_untouched"),
    "check_dont_overwrite_parameters": _width(3, "test_check_on_credit_data_params_untouched"),
    "check_estimators_fit_returns_self": _width(2, "test_check_on_credit_data_fit_and_score"),
    "check_readonly_memmap_input": _width(2, "test_check_on_credit_data_memmap_and_pickle"),
    "check_n_features_in_after_fitting": _width(
        4, "test_wrong_feature_count_has_scikit_learn_s_message"
    ),
    "check_positive_only_tag_during_fit": (
        "fits iris (4 columns); the scorecard reads exactly the 10 bureau features. On credit-shaped "
        "data, negative values are refused by the core and fit leaves those rows out with a warning "
        "(test_fit_warns_with_the_count_of_rows_it_leaves_out), as `credit train` does"
    ),
    "check_estimators_dtypes": _width(5, "test_check_on_credit_data_dtypes_and_layouts"),
    "check_dtype_object": (
        "uniform [0, 1) noise in 10 columns: every row is outside the domain (age < 18, "
        "fractional counts), so no row is left to fit (test_check_on_credit_data_dtypes_and_layouts)"
    ),
    "check_pipeline_consistency": _width(3, "test_check_on_credit_data_fit_and_score"),
    "check_estimators_pickle": _width(3, "test_check_on_credit_data_memmap_and_pickle"),
    "check_estimators_pickle(readonly_memmap=True)": _width(
        3, "test_check_on_credit_data_memmap_and_pickle"
    ),
    "check_f_contiguous_array_estimator": _width(3, "test_check_on_credit_data_dtypes_and_layouts"),
    "check_classifier_data_not_an_array": _width(2, "test_check_on_credit_data_dtypes_and_layouts"),
    "check_classifiers_classes": _width(2, "test_string_labels_and_frames"),
    "check_classifiers_train": _width(2, "test_check_on_credit_data_classifier_train"),
    "check_classifiers_train(readonly_memmap=True)": _width(
        2, "test_check_on_credit_data_memmap_and_pickle"
    ),
    "check_classifiers_train(readonly_memmap=True,X_dtype=float32)": _width(
        2, "test_check_on_credit_data_memmap_and_pickle"
    ),
    "check_supervised_y_2d": _width(3, "test_check_on_credit_data_y_2d"),
    "check_decision_proba_consistency": _width(2, "test_check_on_credit_data_classifier_train"),
    "check_methods_sample_order_invariance": _width(3, "test_check_on_credit_data_invariances"),
    "check_methods_subset_invariance": _width(3, "test_check_on_credit_data_invariances"),
    "check_dict_unchanged": _width(3, "test_check_on_credit_data_params_untouched"),
    "check_fit_idempotent": _width(2, "test_check_on_credit_data_invariances"),
    "check_fit_check_is_fitted": _width(2, "test_check_on_credit_data_fit_and_score"),
    "check_n_features_in": _width(2, "test_check_on_credit_data_fit_and_score"),
    "check_fit2d_predict1d": _width(3, "test_one_dimensional_input_says_how_to_reshape"),
}


def _expected_failed(est: Any) -> dict[str, str]:
    return EXPECTED_FAILED


# strict whatever the pytest configuration (scikit-learn >= 1.7 takes the argument; the pytest
# configuration of this package makes xfails strict for the older ones)
_STRICT = (
    {"xfail_strict": True}
    if "xfail_strict" in inspect.signature(parametrize_with_checks).parameters
    else {}
)


@parametrize_with_checks(
    [CreditScorecard(**FAST)], expected_failed_checks=_expected_failed, **_STRICT
)
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


def test_expected_failures_fail_for_the_stated_reason() -> None:
    """Each listed check fails on the width (or domain) of its data, not on something else."""
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(CreditScorecard(**FAST), on_fail=None)
    seen: dict[str, list[str]] = {}
    for r in results:
        if r["status"] == "failed":
            name = r["check_name"]
            seen.setdefault(name, []).append(str(r["exception"]))
    assert set(seen) == {n.split("(")[0] for n in EXPECTED_FAILED}
    for name, messages in seen.items():
        for m in messages:
            if name == "check_dtype_object":
                assert "too few usable rows (0)" in m, m
            else:
                assert re.search(
                    r"(^|Got )X has [2-5] features, but CreditScorecard is expecting 10", m
                ), (name, m)


# --- the checks' assertions on credit-shaped data ---------------------------------------------


@pytest.fixture(scope="module")
def split(data: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = data
    return x[:4000], y[:4000], x[4000:]


def _outputs(est: CreditScorecard, x: Any) -> dict[str, np.ndarray]:
    return {m: getattr(est, m)(x) for m in ("predict", "predict_proba", "decision_function")}


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k, v in a.items():
        assert np.array_equal(v, b[k]), k


def test_check_on_credit_data_fit_and_score(
    split: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import make_pipeline
    from sklearn.utils.validation import check_is_fitted

    x, y, test = split
    est = CreditScorecard(**FAST)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    assert est.fit(x, y) is est
    check_is_fitted(est)
    assert est.n_features_in_ == 10 and not hasattr(est, "feature_names_in_")
    assert 0.5 < est.score(test[:500], est.predict(test[:500])) <= 1.0  # fit-score-takes-y's calls
    _assert_same(_outputs(make_pipeline(clone(est)).fit(x, y), test), _outputs(est, test))


def test_check_on_credit_data_params_untouched(
    split: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    import copy

    x, y, test = split
    est = CreditScorecard(**FAST)
    params = copy.deepcopy(est.get_params())
    public = {k: v for k, v in vars(est).items() if not k.endswith("_")}
    est.fit(x, y)
    assert est.get_params() == params
    assert {
        k: v for k, v in vars(est).items() if not k.endswith("_") and not k.startswith("_")
    } == public
    before = copy.deepcopy({k: v for k, v in vars(est).items() if k != "model_"})
    json_before = est.to_json()
    _outputs(est, test)
    after = {k: v for k, v in vars(est).items() if k != "model_"}
    assert before.keys() == after.keys() and est.to_json() == json_before
    for k, v in before.items():
        a, b = np.asarray(v), np.asarray(after[k])
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), k


def test_check_on_credit_data_dtypes_and_layouts(
    split: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    from sklearn.utils.estimator_checks import _NotAnArray

    x, y, test = split
    ref = CreditScorecard(**FAST).fit(x, y)
    want = _outputs(ref, test)
    filled = np.nan_to_num(x, nan=0.0)
    for dtype in (np.float32, np.int64, np.int32):
        est = CreditScorecard(**FAST).fit(filled.astype(dtype), y)
        _outputs(est, np.nan_to_num(test).astype(dtype))
    assert np.array_equal(
        _outputs(ref, test.astype(np.float32))["predict_proba"],
        _outputs(ref, test.astype(np.float32).astype(np.float64))["predict_proba"],
    )
    _assert_same(
        _outputs(CreditScorecard(**FAST).fit(np.asfortranarray(x), y), np.asfortranarray(test)),
        want,
    )
    _assert_same(
        _outputs(CreditScorecard(**FAST).fit(_NotAnArray(x), _NotAnArray(y)), _NotAnArray(test)),
        want,
    )
    _assert_same(
        _outputs(CreditScorecard(**FAST).fit(x.astype(object), y), test.astype(object)), want
    )
    _assert_same(_outputs(CreditScorecard(**FAST).fit(x.tolist(), y.tolist()), test.tolist()), want)
    strings = x.astype(object)
    strings[0, 0] = {"foo": "bar"}
    with pytest.raises(Exception, match="argument must be a string.* number"):
        CreditScorecard(**FAST).fit(strings, y)


def test_check_on_credit_data_memmap_and_pickle(
    split: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    import pickle

    from sklearn.utils._testing import create_memmap_backed_data

    x, y, test = split
    want = _outputs(CreditScorecard(**FAST).fit(x, y), test)
    for dtype in (np.float64, np.float32):
        xm, ym, tm = create_memmap_backed_data([x.astype(dtype), y, test.astype(dtype)])
        assert not xm.flags.writeable and isinstance(xm, np.memmap)
        est = CreditScorecard(**FAST).fit(xm, ym)
        got = _outputs(est, tm)
        if dtype is np.float64:
            _assert_same(got, want)
        again = pickle.loads(pickle.dumps(est))
        _assert_same(_outputs(again, tm), got)
        assert (
            again.to_json() == est.to_json() and type(again).__module__ == "credit_default.sklearn"
        )


def test_check_on_credit_data_classifier_train(
    split: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    from scipy.stats import rankdata

    x, y, test = split
    est = CreditScorecard(**FAST).fit(x, y)
    out = _outputs(est, test)
    n = len(test)
    assert out["predict"].shape == (n,) and out["decision_function"].shape == (n,)
    assert out["predict_proba"].shape == (n, 2) and np.allclose(out["predict_proba"].sum(axis=1), 1)
    assert np.array_equal(out["predict"], est.classes_[(out["decision_function"] > 0).astype(int)])
    assert np.array_equal(out["predict"], est.classes_[np.argmax(out["predict_proba"], axis=1)])
    assert np.array_equal(rankdata(out["decision_function"]), rankdata(out["predict_proba"][:, 1]))
    assert np.mean(est.predict(x) == y) > 0.83  # check_classifiers_train's accuracy bar


def test_check_on_credit_data_invariances(split: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    x, y, test = split
    est = CreditScorecard(**FAST).fit(x, y)
    whole = _outputs(est, test)
    order = np.random.default_rng(0).permutation(len(test))
    for k, v in _outputs(est, test[order]).items():
        assert np.array_equal(v, whole[k][order]), k
    for chunk in np.array_split(np.arange(len(test)), 7):
        for k, v in _outputs(est, test[chunk]).items():
            assert np.array_equal(v, whole[k][chunk]), k
    _assert_same(_outputs(est.fit(x, y), test), whole)  # fit idempotent


def test_check_on_credit_data_y_2d(split: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    from sklearn.exceptions import DataConversionWarning

    x, y, test = split
    with pytest.warns(DataConversionWarning):
        est = CreditScorecard(**FAST).fit(x, y[:, None])
    _assert_same(_outputs(est, test), _outputs(CreditScorecard(**FAST).fit(x, y), test))


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


# The first 40,000 rows of the training file, as it is (header, ids, "NA"s), with fewer folds and
# bins than the shipped model, so that the two fits stay within CI's budget (the comparison
# depends on neither the row count nor the hyper-parameters; all 120,000 rows took 90 s).
SAMPLE_FOLDS = 3
SAMPLE_BINS = 32
SAMPLE_ROWS = 40_000
# The model with interaction cells, on the first 10,000 rows (under a second each side): two
# pairs, and a grid and penalty other than the defaults, so that every cells parameter has to
# reach the trainer for the bytes to agree. Estimator parameter -> `credit train --flag`.
CELLS_ROWS = 10_000
CELLS = {"folds": 3, "max_bins": 16, "interactions": 2, "coarse_groups": 3, "cell_scale": 0.75}
CASES = {
    "additive": (SAMPLE_ROWS, {"folds": SAMPLE_FOLDS, "max_bins": SAMPLE_BINS}),
    "cells": (CELLS_ROWS, CELLS),
}


def _head(data: Path, out: Path, rows: int) -> Path:
    """The header and the first `rows` rows of `data` (gzip or plain) as a plain CSV at `out`."""
    with open(data, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    with gzip.open(data, "rb") if gz else open(data, "rb") as src, open(out, "wb") as dst:  # type: ignore[operator]
        for i, line in enumerate(src):
            if i > rows:
                break
            dst.write(line)
    return out


@pytest.fixture(scope="module", params=list(CASES))
def cli_and_estimator(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], str, CreditScorecard, np.ndarray]:
    """One `credit train` run and one estimator fit on the same rows of the training data, side
    by side (two processes on two cores), with the same settings: the additive model, and one
    with interaction cells."""
    pd = pytest.importorskip("pandas")
    rows, params = CASES[request.param]
    data = _head(training_data(), tmp_path_factory.mktemp("data") / "head.csv", rows)
    credit = os.environ.get("CREDIT", str(Path(__file__).parents[2] / "target/release/credit"))
    if not Path(credit).exists():
        pytest.skip("the credit binary is not built (make build)")
    out = tmp_path_factory.mktemp("train") / "cli-model.json"
    version = "python-binding-test"
    flags = [a for k, v in params.items() for a in (f"--{k.replace('_', '-')}", str(v))]
    cli = subprocess.Popen(
        [
            credit,
            "train",
            "--data",
            str(data),
            "--out",
            str(out),
            "--quiet",
            "--model-version",
            version,
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        df = pd.read_csv(data, float_precision="round_trip")
        y = df["SeriousDlqin2yrs"].to_numpy()
        est = CreditScorecard(model_version=version, **params).fit(df, y, data_sha256=_sha256(data))
    finally:
        _stdout, stderr = cli.communicate(timeout=3600)
    assert cli.returncode == 0, stderr
    text = out.read_text()
    return json.loads(text), text, est, y


def test_cv_auc_equals_credit_train(
    cli_and_estimator: tuple[dict[str, Any], str, CreditScorecard, np.ndarray],
) -> None:
    art, _, est, y = cli_and_estimator
    m = art["metrics"]
    # the AUC the CLI reports, and the estimator's own record of it
    assert est.cv_auc_ == m["cv_auc_mean"]
    # recomputed independently with scikit-learn from the estimator's out-of-fold predictions
    y_used = y[est.used_rows_]
    folds = est.fold_of_
    aucs = [
        roc_auc_score(y_used[folds == k], est.oof_proba_[folds == k])
        for k in range(len(m["folds"]))
    ]
    assert abs(float(np.mean(aucs)) - m["cv_auc_mean"]) < 1e-9
    for auc, fold in zip(aucs, m["folds"]):
        assert abs(auc - fold["auc"]) < 1e-9
    assert abs(roc_auc_score(y_used, est.oof_proba_) - m["cv"]["auc"]) < 1e-9


def test_estimator_exports_the_cli_artifact(
    cli_and_estimator: tuple[dict[str, Any], str, CreditScorecard, np.ndarray],
) -> None:
    art, text, est, _ = cli_and_estimator
    assert est.to_json() == text
    # the cells case did fit cells (on both sides: the bytes agree)
    assert len(art.get("interactions") or []) == est.get_params()["interactions"]
