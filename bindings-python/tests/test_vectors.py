"""The shared test vectors (testdata/vectors.json): every input path gives the core's numbers."""

from __future__ import annotations

from typing import Any

import credit_default as cd
import numpy as np
import pytest
from conftest import FEATURE_ALIASES, assert_expected, codes, row_value


def test_vectors_match_the_shipped_default(vectors: dict[str, Any], model: cd.Model) -> None:
    default = cd.Model.default()
    if default.version != vectors["model_version"]:
        pytest.skip("models/default.json changed after this wheel was built; rebuild (make python)")
    assert default.checksum == vectors["model_checksum"]
    assert default.to_json() == model.to_json()


def test_dict_path(vectors: dict[str, Any], model: cd.Model) -> None:
    assert vectors["valid"]
    for case in vectors["valid"]:
        p = model.predict(case["input"])
        exp = case["expected"]
        assert_expected(p.probability, p.score, exp, case["name"])
        assert p.prediction == exp["prediction"], case["name"]
        assert [r.code for r in p.reasons] == exp["reasons"], case["name"]
        assert p.model_version == vectors["model_version"]


def test_dict_path_with_kaggle_spelling(vectors: dict[str, Any], model: cd.Model) -> None:
    for case in vectors["valid"]:
        renamed = {FEATURE_ALIASES.get(k, k): v for k, v in case["input"].items()}
        p = model.predict(renamed)
        assert_expected(p.probability, p.score, case["expected"], case["name"])


def test_predict_many(vectors: dict[str, Any], model: cd.Model) -> None:
    out = model.predict_many([c["input"] for c in vectors["valid"]])
    assert len(out) == len(vectors["valid"])
    for p, case in zip(out, vectors["valid"]):
        assert isinstance(p, cd.Prediction)
        assert_expected(p.probability, p.score, case["expected"], case["name"])
        assert [r.code for r in p.reasons] == case["expected"]["reasons"]


def test_invalid_dicts(vectors: dict[str, Any], model: cd.Model) -> None:
    assert vectors["invalid"]
    for case in vectors["invalid"]:
        with pytest.raises(cd.ValidationError) as info:
            model.predict(case["input"])
        expected = sorted((e["field"], e["code"]) for e in case["errors"])
        assert codes(info.value.errors()) == expected, case["name"]


def test_predict_many_reports_every_invalid_applicant(
    vectors: dict[str, Any], model: cd.Model
) -> None:
    items = [vectors["valid"][0]["input"]] + [c["input"] for c in vectors["invalid"]]
    with pytest.raises(cd.ValidationError) as info:
        model.predict_many(items)
    errs = info.value.errors()
    for i, case in enumerate(vectors["invalid"], start=1):
        expected = sorted((e["field"], e["code"]) for e in case["errors"])
        assert codes(errs, row=i) == expected, case["name"]
    returned = model.predict_many(items, errors="return")
    assert isinstance(returned[0], cd.Prediction)
    assert all(isinstance(r, cd.ValidationError) for r in returned[1:])


def test_invalid_json(vectors: dict[str, Any], model: cd.Model) -> None:
    for case in vectors["invalid_json"]:
        with pytest.raises(cd.ValidationError) as info:
            model.predict_json(case["text"])
        expected = sorted((e["field"], e["code"]) for e in case["errors"])
        assert codes(info.value.errors()) == expected, case["name"]


def test_predict_json_valid(vectors: dict[str, Any], model: cd.Model) -> None:
    import json

    for case in vectors["valid"]:
        p = model.predict_json(json.dumps(case["input"]))
        assert_expected(p.probability, p.score, case["expected"], case["name"])


def test_numpy_rows(vectors: dict[str, Any], model: cd.Model, valid_rows: np.ndarray) -> None:
    proba = model.probability(valid_rows)
    score = model.score(valid_rows)
    assert proba.dtype == np.float64 and proba.shape == (len(vectors["valid"]),)
    for i, case in enumerate(vectors["valid"]):
        assert_expected(proba[i], score[i], case["expected"], case["name"])


def test_numpy_rows_threads(
    vectors: dict[str, Any], model: cd.Model, valid_rows: np.ndarray
) -> None:
    big = np.tile(valid_rows, (200, 1))  # > 4096 rows: the parallel path really splits
    one = model.probability(big, threads=1)
    assert np.array_equal(model.probability(big, threads=2), one)
    assert np.array_equal(model.probability(big, threads=None), one)
    assert np.array_equal(model.score(big, threads=3), model.score(big))
    assert np.array_equal(one[: len(valid_rows)], model.probability(valid_rows))


def _frame_dict(vectors: dict[str, Any], valid_rows: np.ndarray) -> dict[str, np.ndarray]:
    return {name: valid_rows[:, j] for j, name in enumerate(cd.FEATURES)}


def _check(vectors: dict[str, Any], proba: np.ndarray, score: np.ndarray) -> None:
    assert len(proba) == len(vectors["valid"])
    for i, case in enumerate(vectors["valid"]):
        assert_expected(proba[i], score[i], case["expected"], case["name"])


def test_pandas(vectors: dict[str, Any], model: cd.Model, valid_rows: np.ndarray) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(_frame_dict(vectors, valid_rows))
    _check(vectors, model.probability(df), model.score(df))


def test_polars(vectors: dict[str, Any], model: cd.Model, valid_rows: np.ndarray) -> None:
    pl = pytest.importorskip("polars")
    df = pl.DataFrame(_frame_dict(vectors, valid_rows))
    _check(vectors, model.probability(df), model.score(df))


def test_pyarrow(vectors: dict[str, Any], model: cd.Model, valid_rows: np.ndarray) -> None:
    pa = pytest.importorskip("pyarrow")
    table = pa.table(_frame_dict(vectors, valid_rows))
    _check(vectors, model.probability(table), model.score(table))
    batch = table.to_batches()[0]
    _check(vectors, model.probability(batch), model.score(batch))


def test_mapping_of_columns(
    vectors: dict[str, Any], model: cd.Model, valid_rows: np.ndarray
) -> None:
    cols = _frame_dict(vectors, valid_rows)
    _check(vectors, model.probability(cols), model.score(cols))


def test_invalid_rows(vectors: dict[str, Any], model: cd.Model, valid_rows: np.ndarray) -> None:
    assert vectors["invalid_rows"]
    bad = np.array(
        [[row_value(v) for v in c["row"]] for c in vectors["invalid_rows"]], dtype=np.float64
    )
    x = np.vstack([valid_rows[:1], bad, valid_rows[:1]])
    res = model.score_batch(x)
    assert res.rows == len(x) and res.valid == 2
    assert res.invalid_rows == list(range(1, len(bad) + 1))
    assert np.isnan(res.probability[1:-1]).all() and np.isnan(res.score[1:-1]).all()
    assert res.probability[0] == res.probability[-1] == model.probability(valid_rows[:1])[0]
    errs = res.errors()
    for i, case in enumerate(vectors["invalid_rows"], start=1):
        expected = sorted((e["field"], e["code"]) for e in case["errors"])
        assert codes(errs, row=i) == expected, case["name"]
    with pytest.raises(cd.ValidationError) as info:
        model.probability(x)
    assert codes(info.value.errors()) == codes(errs)
    nan = model.probability(x, errors="nan")
    assert np.array_equal(nan, res.probability, equal_nan=True)
