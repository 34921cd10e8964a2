"""Every input type and the ways it can go wrong: column order, spellings, missing columns,
dtypes, NaN / inf, empty frames, non-contiguous arrays, threads, model loading and errors."""

from __future__ import annotations

import pickle
import threading
from pathlib import Path
from typing import Any

import credit_default as cd
import numpy as np
import pytest
from conftest import FEATURE_ALIASES, ROOT, codes

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def rows(valid_rows: np.ndarray) -> np.ndarray:
    return valid_rows


@pytest.fixture(scope="module")
def expected(model: cd.Model, rows: np.ndarray) -> np.ndarray:
    return model.predict_proba(rows)


def frame(rows: np.ndarray, *, kaggle: bool = False, order: Any = None) -> dict[str, np.ndarray]:
    names = [FEATURE_ALIASES.get(n, n) if kaggle else n for n in cd.FEATURES]
    idx = list(range(len(names))) if order is None else order
    return {names[j]: rows[:, j] for j in idx}


MAKERS = {
    "pandas": lambda d: pd.DataFrame(d),
    "polars": lambda d: pl.DataFrame(d),
    "pyarrow": lambda d: pa.table(d),
    "dict": lambda d: d,
}


@pytest.mark.parametrize("kind", list(MAKERS))
@pytest.mark.parametrize("kaggle", [False, True])
def test_mixed_column_order_and_both_spellings(
    model: cd.Model, rows: np.ndarray, expected: np.ndarray, kind: str, kaggle: bool
) -> None:
    order = [7, 2, 9, 0, 5, 3, 8, 1, 6, 4]
    x = MAKERS[kind](frame(rows, kaggle=kaggle, order=order))
    assert np.array_equal(model.predict_proba(x), expected)


@pytest.mark.parametrize("kind", list(MAKERS))
def test_extra_columns_are_ignored(
    model: cd.Model, rows: np.ndarray, expected: np.ndarray, kind: str
) -> None:
    d = {"id": np.arange(len(rows)), **frame(rows), "SeriousDlqin2yrs": np.zeros(len(rows))}
    if kind != "dict":
        d["note"] = np.array(["x"] * len(rows))  # a text column that is not a feature
    assert np.array_equal(model.predict_proba(MAKERS[kind](d)), expected)


@pytest.mark.parametrize("kind", list(MAKERS))
def test_missing_required_columns_are_named(model: cd.Model, rows: np.ndarray, kind: str) -> None:
    d = frame(rows)
    del d["age"], d["DebtRatio"]
    with pytest.raises(cd.ValidationError) as info:
        model.predict_proba(MAKERS[kind](d))
    assert codes(info.value.errors()) == [("DebtRatio", "missing"), ("age", "missing")]
    assert "Column required" in str(info.value)


@pytest.mark.parametrize("kind", list(MAKERS))
def test_missing_optional_columns_mean_missing_values(
    model: cd.Model, rows: np.ndarray, kind: str
) -> None:
    d = frame(rows)
    del d["MonthlyIncome"], d["NumberOfDependents"]
    r = rows.copy()
    r[:, [4, 9]] = np.nan
    assert np.array_equal(model.predict_proba(MAKERS[kind](d)), model.predict_proba(r))


def test_both_spellings_at_once_is_an_error(model: cd.Model, rows: np.ndarray) -> None:
    d = frame(rows)
    d["NumberOfTime30-59DaysPastDueNotWorse"] = rows[:, 2]
    for make in MAKERS.values():
        with pytest.raises(cd.ValidationError) as info:
            model.predict_proba(make(d))
        assert codes(info.value.errors()) == [
            ("NumberOfTime30-59DaysPastDueNotWorse", "duplicate_field")
        ]


@pytest.mark.parametrize("kind", ["pandas", "polars", "pyarrow"])
def test_text_feature_column_is_a_type_error(model: cd.Model, rows: np.ndarray, kind: str) -> None:
    d: dict[str, Any] = frame(rows)
    d["age"] = np.array(["45"] * len(rows))
    with pytest.raises(TypeError, match="age"):
        model.predict_proba(MAKERS[kind](d))


def test_bool_column_is_a_type_error(model: cd.Model, rows: np.ndarray) -> None:
    d: dict[str, Any] = frame(rows)
    d["NumberOfDependents"] = np.ones(len(rows), dtype=bool)
    with pytest.raises(TypeError, match="NumberOfDependents"):
        model.predict_proba(pd.DataFrame(d))


def test_integer_and_nullable_columns(model: cd.Model, rows: np.ndarray, expected: np.ndarray) -> None:
    d: dict[str, Any] = frame(rows)
    d["age"] = rows[:, 1].astype(np.int64)
    d["NumberOfTimes90DaysLate"] = rows[:, 6].astype(np.int32)
    assert np.array_equal(model.predict_proba(pd.DataFrame(d)), expected)
    assert np.array_equal(model.predict_proba(pl.DataFrame(d)), expected)
    assert np.array_equal(model.predict_proba(pa.table(d)), expected)
    # pandas nullable integers and polars / arrow nulls are "missing" (optional fields only)
    dep = pd.array([None if np.isnan(v) else int(v) for v in rows[:, 9]], dtype="Int64")
    df = pd.DataFrame(frame(rows)).assign(NumberOfDependents=dep)
    assert np.array_equal(model.predict_proba(df), expected)
    t = pa.table(frame(rows)).set_column(
        9, "NumberOfDependents", pa.array([None if v is pd.NA else int(v) for v in dep], type=pa.int64())
    )
    assert np.array_equal(model.predict_proba(t), expected)
    assert np.array_equal(model.predict_proba(pl.from_arrow(t)), expected)


def test_chunked_arrow_columns(model: cd.Model, rows: np.ndarray, expected: np.ndarray) -> None:
    half = len(rows) // 2
    t = pa.concat_tables([pa.table(frame(rows[:half])), pa.table(frame(rows[half:]))])
    assert t.column(0).num_chunks == 2
    assert np.array_equal(model.predict_proba(t), expected)


def test_nan_and_inf(model: cd.Model, rows: np.ndarray) -> None:
    x = np.repeat(rows[:1], 5, axis=0)
    x[1, 4] = np.nan  # MonthlyIncome missing: fine
    x[2, 1] = np.nan  # age missing: required
    x[3, 3] = np.inf
    x[4, 0] = -np.inf
    res = model.score_batch(x)
    assert res.invalid_rows == [2, 3, 4]
    assert np.isfinite(res.probability[:2]).all()
    assert len(res.errors()) == 3
    by_row = {e["loc"][0]: e for e in res.errors()}
    assert by_row[2]["type"] == "missing" and by_row[3]["type"] == "not_finite"
    assert by_row[4]["loc"] == (4, "RevolvingUtilizationOfUnsecuredLines")
    for kind in ("pandas", "polars", "pyarrow"):
        d = MAKERS[kind]({n: x[:, j] for j, n in enumerate(cd.FEATURES)})
        r = model.score_batch(d)
        assert r.invalid_rows == [2, 3, 4]
        assert np.array_equal(r.probability, res.probability, equal_nan=True)


def test_dict_nan_inf_and_types(model: cd.Model, seed_applicant: dict[str, Any]) -> None:
    a = dict(seed_applicant, MonthlyIncome=float("nan"))  # optional: NaN means missing
    assert model.predict(a).probability == model.predict(dict(seed_applicant, MonthlyIncome=None)).probability
    cases = {
        "age": (float("nan"), "not_finite"),
        "DebtRatio": (float("inf"), "not_finite"),
        "NumberOfTimes90DaysLate": (True, "not_a_number"),
        "NumberRealEstateLoansOrLines": ("2", "not_a_number"),
        "NumberOfDependents": ([2], "not_a_number"),
        "NumberOfOpenCreditLinesAndLoans": (2.5, "not_an_integer"),
    }
    bad = dict(seed_applicant, **{k: v for k, (v, _) in cases.items()}, Foo=1)
    with pytest.raises(cd.ValidationError) as info:
        model.predict(bad)
    assert codes(info.value.errors()) == sorted(
        [(k, c) for k, (_, c) in cases.items()] + [("Foo", "unknown_field")]
    )
    assert isinstance(info.value, ValueError)
    with pytest.raises(cd.ValidationError) as info:
        model.predict([1, 2, 3])  # type: ignore[arg-type]
    assert codes(info.value.errors()) == [("", "not_an_object")]


def test_numpy_scalars_and_series(model: cd.Model, seed_applicant: dict[str, Any]) -> None:
    ref = model.predict(seed_applicant).probability
    np_vals = {
        k: (np.int64(v) if isinstance(v, int) else np.float32(v) if k == "MonthlyIncome" else np.float64(v))
        for k, v in seed_applicant.items()
    }
    assert model.predict(np_vals).probability == ref
    assert model.predict(pd.Series(seed_applicant)).probability == ref
    assert model.predict(pd.DataFrame([seed_applicant]).iloc[0]).probability == ref


def test_empty_inputs(model: cd.Model) -> None:
    empty = {n: np.array([], dtype=np.float64) for n in cd.FEATURES}
    for x in [np.empty((0, 10)), pd.DataFrame(empty), pl.DataFrame(empty), pa.table(empty), empty]:
        p = model.predict_proba(x)
        assert p.shape == (0,) and p.dtype == np.float64
        assert model.score_batch(x).rows == 0
    assert model.predict_many([]) == []
    with pytest.raises(cd.ValidationError):
        model.predict_proba(pd.DataFrame())


def test_array_shapes_and_dtypes(model: cd.Model, rows: np.ndarray, expected: np.ndarray) -> None:
    with pytest.raises(ValueError, match="10 columns"):
        model.predict_proba(np.zeros((3, 9)))
    with pytest.raises(ValueError, match="2-D"):
        model.predict_proba(rows[0])
    with pytest.raises(TypeError, match="numeric"):
        model.predict_proba(rows.astype(str))
    with pytest.raises(TypeError, match="numeric"):
        model.predict_proba(rows > 0)
    with pytest.raises(TypeError):
        model.predict_proba(object())
    ints = np.nan_to_num(rows).astype(np.int64)
    assert np.array_equal(model.predict_proba(ints, errors="nan"), model.predict_proba(ints.astype(np.float64), errors="nan"))
    assert np.array_equal(model.predict_proba(rows.astype(np.float32)), model.predict_proba(rows.astype(np.float32).astype(np.float64)))
    assert np.array_equal(model.predict_proba(rows.tolist()), expected)
    with pytest.raises(ValueError, match="errors"):
        model.predict_proba(rows, errors="ignore")  # type: ignore[arg-type]


def test_non_contiguous_arrays(model: cd.Model, rows: np.ndarray, expected: np.ndarray) -> None:
    fortran = np.asfortranarray(rows)
    assert not fortran.flags.c_contiguous
    assert np.array_equal(model.predict_proba(fortran), expected)
    wide = np.zeros((len(rows), 20))
    wide[:, ::2] = rows
    strided = wide[:, ::2]
    assert not strided.flags.c_contiguous and not strided.flags.f_contiguous
    assert np.array_equal(model.predict_proba(strided), expected)
    every_other = np.repeat(rows, 2, axis=0)[::2]
    assert np.array_equal(model.predict_proba(every_other), expected)
    reversed_rows = rows[::-1]
    assert np.array_equal(model.predict_proba(reversed_rows), expected[::-1])
    big_endian = rows.astype(">f8")
    assert np.array_equal(model.predict_proba(big_endian), expected)
    # the input is never modified
    before = rows.copy()
    model.predict_proba(rows)
    assert np.array_equal(rows, before, equal_nan=True)


def test_readonly_array_is_borrowed(model: cd.Model, rows: np.ndarray, expected: np.ndarray) -> None:
    ro = rows.copy()
    ro.flags.writeable = False
    assert np.array_equal(model.predict_proba(ro), expected)


def test_thread_safety(model: cd.Model, rows: np.ndarray, expected: np.ndarray, seed_applicant: dict[str, Any]) -> None:
    big = np.tile(rows, (2000, 1))
    ref = np.tile(expected, 2000)
    ref_one = model.predict(seed_applicant).probability
    failures: list = []

    def work(k: int) -> None:
        try:
            for _ in range(5):
                if not np.array_equal(model.predict_proba(big, threads=1 + k % 2), ref):
                    failures.append(("batch", k))
                if model.predict(seed_applicant).probability != ref_one:
                    failures.append(("dict", k))
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_gil_is_released_while_scoring(model: cd.Model, rows: np.ndarray) -> None:
    """A Python thread keeps running while another thread scores a large batch."""
    big = np.tile(rows, (20000, 1))  # 1.3 M rows
    ticks = []
    done = threading.Event()

    def ticker() -> None:
        while not done.is_set():
            ticks.append(1)
            done.wait(0.0005)

    t = threading.Thread(target=ticker)
    t.start()
    n_before = len(ticks)
    for _ in range(3):
        model.predict_proba(big)
    n_during = len(ticks) - n_before
    done.set()
    t.join()
    assert n_during > 3


def test_model_loading_and_metadata(model: cd.Model, tmp_path: Path) -> None:
    text = model.to_json()
    assert cd.Model.from_json(text).version == model.version
    assert model.metrics["cv_auc_mean"] > 0.5
    assert [f["name"] for f in model.features] == cd.FEATURES
    assert 0 < model.threshold < 1 and model.checksum
    again = pickle.loads(pickle.dumps(model))
    assert again.to_json() == text
    with pytest.raises(cd.ModelError):
        cd.Model.from_json("{}")
    with pytest.raises(cd.ModelError, match="checksum"):
        cd.Model.from_json(text.replace(repr(model.threshold), repr(model.threshold / 2), 1))
    with pytest.raises(cd.ModelError):
        cd.Model.from_json("not json")
    with pytest.raises(FileNotFoundError):
        cd.Model.load(tmp_path / "absent.json")
    p = tmp_path / "m.json"
    p.write_text(text)
    assert cd.Model.load(str(p)).checksum == model.checksum


def test_explain(model: cd.Model, seed_applicant: dict[str, Any]) -> None:
    x = model.explain(seed_applicant)
    p = model.predict(seed_applicant)
    assert x.probability == p.probability and x.score == p.score
    assert [c["feature"] for c in x.contributions] == cd.FEATURES
    assert abs(sum(c["points"] for c in x.contributions) - x.score) < 1e-6
    assert [r["code"] for r in x.reasons] == [r.code for r in p.reasons]
    html = x._repr_html_()
    assert html.startswith("<div") and "<table>" in html and "age" in html
    assert x.to_dict()["score"] == x.score
    with pytest.raises(cd.ValidationError):
        model.explain({"age": 5})


def test_validation_error_pickles(model: cd.Model) -> None:
    with pytest.raises(cd.ValidationError) as info:
        model.predict({"age": 5})
    again = pickle.loads(pickle.dumps(info.value))
    assert again.errors() == info.value.errors() and str(again) == str(info.value)


def test_package_is_typed() -> None:
    pkg = Path(cd.__file__).parent
    assert (pkg / "py.typed").exists() and (pkg / "_native.pyi").exists()
    assert ROOT.exists()
