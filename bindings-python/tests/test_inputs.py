"""Every input type and the ways it can go wrong: column order, spellings, missing columns,
dtypes, NaN / inf, empty frames, non-contiguous arrays, threads, model loading and errors."""

from __future__ import annotations

import pickle
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import credit_default as cd
import numpy as np
import pytest
from conftest import FEATURE_ALIASES, codes

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def rows(valid_rows: np.ndarray) -> np.ndarray:
    return valid_rows


@pytest.fixture(scope="module")
def expected(model: cd.Model, rows: np.ndarray) -> np.ndarray:
    return model.probability(rows)


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
    assert np.array_equal(model.probability(x), expected)


@pytest.mark.parametrize("kind", list(MAKERS))
def test_extra_columns_are_ignored(
    model: cd.Model, rows: np.ndarray, expected: np.ndarray, kind: str
) -> None:
    d = {"id": np.arange(len(rows)), **frame(rows), "SeriousDlqin2yrs": np.zeros(len(rows))}
    if kind != "dict":
        d["note"] = np.array(["x"] * len(rows))  # a text column that is not a feature
    assert np.array_equal(model.probability(MAKERS[kind](d)), expected)


@pytest.mark.parametrize("kind", list(MAKERS))
def test_missing_required_columns_are_named(model: cd.Model, rows: np.ndarray, kind: str) -> None:
    d = frame(rows)
    del d["age"], d["DebtRatio"]
    with pytest.raises(cd.ValidationError) as info:
        model.probability(MAKERS[kind](d))
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
    assert np.array_equal(model.probability(MAKERS[kind](d)), model.probability(r))


def test_both_spellings_at_once_is_an_error(model: cd.Model, rows: np.ndarray) -> None:
    d = frame(rows)
    d["NumberOfTime30-59DaysPastDueNotWorse"] = rows[:, 2]
    for make in MAKERS.values():
        with pytest.raises(cd.ValidationError) as info:
            model.probability(make(d))
        assert codes(info.value.errors()) == [
            ("NumberOfTime30-59DaysPastDueNotWorse", "duplicate_field")
        ]


@pytest.mark.parametrize("kind", ["pandas", "polars", "pyarrow"])
def test_text_feature_column_is_a_type_error(model: cd.Model, rows: np.ndarray, kind: str) -> None:
    d: dict[str, Any] = frame(rows)
    d["age"] = np.array(["45"] * len(rows))
    with pytest.raises(TypeError, match="age"):
        model.probability(MAKERS[kind](d))


def test_bool_column_is_a_type_error(model: cd.Model, rows: np.ndarray) -> None:
    d: dict[str, Any] = frame(rows)
    d["NumberOfDependents"] = np.ones(len(rows), dtype=bool)
    with pytest.raises(TypeError, match="NumberOfDependents"):
        model.probability(pd.DataFrame(d))


def test_integer_and_nullable_columns(
    model: cd.Model, rows: np.ndarray, expected: np.ndarray
) -> None:
    d: dict[str, Any] = frame(rows)
    d["age"] = rows[:, 1].astype(np.int64)
    d["NumberOfTimes90DaysLate"] = rows[:, 6].astype(np.int32)
    assert np.array_equal(model.probability(pd.DataFrame(d)), expected)
    assert np.array_equal(model.probability(pl.DataFrame(d)), expected)
    assert np.array_equal(model.probability(pa.table(d)), expected)
    # pandas nullable integers and polars / arrow nulls are "missing" (optional fields only)
    dep = pd.array([None if np.isnan(v) else int(v) for v in rows[:, 9]], dtype="Int64")
    df = pd.DataFrame(frame(rows)).assign(NumberOfDependents=dep)
    assert np.array_equal(model.probability(df), expected)
    t = pa.table(frame(rows)).set_column(
        9,
        "NumberOfDependents",
        pa.array([None if v is pd.NA else int(v) for v in dep], type=pa.int64()),
    )
    assert np.array_equal(model.probability(t), expected)
    assert np.array_equal(model.probability(pl.from_arrow(t)), expected)


def test_chunked_arrow_columns(model: cd.Model, rows: np.ndarray, expected: np.ndarray) -> None:
    half = len(rows) // 2
    t = pa.concat_tables([pa.table(frame(rows[:half])), pa.table(frame(rows[half:]))])
    assert t.column(0).num_chunks == 2
    assert np.array_equal(model.probability(t), expected)


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
    assert (
        model.predict(a).probability
        == model.predict(dict(seed_applicant, MonthlyIncome=None)).probability
    )
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
        k: (
            np.int64(v)
            if isinstance(v, int)
            else np.float32(v)
            if k == "MonthlyIncome"
            else np.float64(v)
        )
        for k, v in seed_applicant.items()
    }
    assert model.predict(np_vals).probability == ref
    assert model.predict(pd.Series(seed_applicant)).probability == ref
    assert model.predict(pd.DataFrame([seed_applicant]).iloc[0]).probability == ref


def test_empty_inputs(model: cd.Model) -> None:
    empty = {n: np.array([], dtype=np.float64) for n in cd.FEATURES}
    for x in [np.empty((0, 10)), pd.DataFrame(empty), pl.DataFrame(empty), pa.table(empty), empty]:
        p = model.probability(x)
        assert p.shape == (0,) and p.dtype == np.float64
        assert model.score_batch(x).rows == 0
    assert model.predict_many([]) == []
    with pytest.raises(cd.ValidationError):
        model.probability(pd.DataFrame())


def test_array_shapes_and_dtypes(model: cd.Model, rows: np.ndarray, expected: np.ndarray) -> None:
    with pytest.raises(ValueError, match="10 columns"):
        model.probability(np.zeros((3, 9)))
    with pytest.raises(ValueError, match="2-D"):
        model.probability(rows[0])
    with pytest.raises(TypeError, match="numeric"):
        model.probability(rows.astype(str))
    with pytest.raises(TypeError, match="numeric"):
        model.probability(rows > 0)
    with pytest.raises(TypeError):
        model.probability(object())
    ints = np.nan_to_num(rows).astype(np.int64)
    assert np.array_equal(
        model.probability(ints, errors="nan"),
        model.probability(ints.astype(np.float64), errors="nan"),
    )
    assert np.array_equal(
        model.probability(rows.astype(np.float32)),
        model.probability(rows.astype(np.float32).astype(np.float64)),
    )
    assert np.array_equal(model.probability(rows.tolist()), expected)
    with pytest.raises(ValueError, match="errors"):
        model.probability(rows, errors="ignore")  # type: ignore[arg-type]


def test_non_contiguous_arrays(model: cd.Model, rows: np.ndarray, expected: np.ndarray) -> None:
    fortran = np.asfortranarray(rows)
    assert not fortran.flags.c_contiguous
    assert np.array_equal(model.probability(fortran), expected)
    wide = np.zeros((len(rows), 20))
    wide[:, ::2] = rows
    strided = wide[:, ::2]
    assert not strided.flags.c_contiguous and not strided.flags.f_contiguous
    assert np.array_equal(model.probability(strided), expected)
    every_other = np.repeat(rows, 2, axis=0)[::2]
    assert np.array_equal(model.probability(every_other), expected)
    reversed_rows = rows[::-1]
    assert np.array_equal(model.probability(reversed_rows), expected[::-1])
    big_endian = rows.astype(">f8")
    assert np.array_equal(model.probability(big_endian), expected)
    # the input is never modified
    before = rows.copy()
    model.probability(rows)
    assert np.array_equal(rows, before, equal_nan=True)


def test_readonly_array_is_borrowed(
    model: cd.Model, rows: np.ndarray, expected: np.ndarray
) -> None:
    ro = rows.copy()
    ro.flags.writeable = False
    assert np.array_equal(model.probability(ro), expected)


def test_thread_safety(
    model: cd.Model, rows: np.ndarray, expected: np.ndarray, seed_applicant: dict[str, Any]
) -> None:
    big = np.tile(rows, (2000, 1))
    ref = np.tile(expected, 2000)
    ref_one = model.predict(seed_applicant).probability
    failures: list = []

    def work(k: int) -> None:
        try:
            for _ in range(5):
                if not np.array_equal(model.probability(big, threads=1 + k % 2), ref):
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


def _progress_rate(call: Any, seconds: float = 0.6) -> float:
    """Iterations per second a pure-Python thread makes while the calling thread runs `call`
    repeatedly for about `seconds`. Only the first half of each call counts: when a call that
    holds the GIL returns, the waiting thread gets the GIL before this one reads the clock, and
    those few milliseconds would otherwise be counted as progress during the call."""
    stamps: list[float] = []  # the ticker's clock every 256 iterations
    done = threading.Event()

    def ticker() -> None:
        n = 0
        while not done.is_set():
            n += 1
            if n & 255 == 0:
                stamps.append(time.perf_counter())

    t = threading.Thread(target=ticker)
    t.start()
    windows: list[tuple[float, float]] = []
    try:
        while sum(b - a for a, b in windows) < seconds / 2:
            t0 = time.perf_counter()
            call()
            t1 = time.perf_counter()
            windows.append((t0, t0 + (t1 - t0) / 2))
    finally:
        done.set()
        t.join()
    ticks = np.asarray(stamps)
    inside = sum(int(((ticks >= a) & (ticks < b)).sum()) for a, b in windows)
    return 256 * inside / sum(b - a for a, b in windows)


def test_gil_is_released_while_scoring(model: cd.Model, rows: np.ndarray) -> None:
    """Another Python thread keeps making progress in proportion to the time spent scoring.

    The baseline is the same thread's rate while this one sleeps (GIL released); the control,
    `sorted` of a large list, holds the GIL for its whole duration and must show (almost) no
    progress, which proves the measurement can tell the two apart on this machine."""
    big = np.tile(rows, (20000, 1))  # 1.3 M rows, tens of milliseconds per call
    baseline = _progress_rate(lambda: time.sleep(0.05))
    scoring = _progress_rate(lambda: model.probability(big, threads=1))
    floats = np.random.default_rng(0).random(2_000_000).tolist()
    held = _progress_rate(lambda: sorted(floats))
    assert held < 0.05 * baseline, (held, baseline)
    assert scoring > 0.2 * baseline, (scoring, baseline, held)


def test_numpy_batch_is_not_copied(model: cd.Model) -> None:
    """A C-contiguous float64 batch is borrowed: scoring 1 M rows (80 MB) allocates no copy of it
    on the Python heap (tracemalloc sees numpy's allocations); a strided batch, which must be
    copied, shows the copy, so the measurement can fail."""
    x = np.tile(np.array([[0.5, 45, 0, 0.3, 5000, 8, 0, 1, 0, 1]]), (1_000_000, 1))
    model.probability(x[:10])  # warm-up: imports, caches

    def peak(a: np.ndarray) -> int:
        tracemalloc.start()
        try:
            model.probability(a)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert peak(x) < 1_000_000
    assert peak(np.asfortranarray(x)) < 1_000_000
    strided = np.repeat(x, 2, axis=0)[::2]
    assert peak(strided) >= x.nbytes


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
    # The shipped model has interaction cells: the features' points and the cells' add up.
    assert x.interactions and all(len(c["features"]) == 2 for c in x.interactions)
    total = sum(c["points"] for c in x.contributions) + sum(c["points"] for c in x.interactions)
    assert abs(total - x.score) < 1e-6
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
    """The installed distribution ships the PEP 561 marker and the native module's stubs, and
    every public name of the native module has a stub (mypy.stubtest checks the signatures in
    `make test-python`)."""
    import ast
    from importlib.metadata import files

    shipped = {str(f).replace("\\", "/") for f in files("credit-default") or []}
    assert {"credit_default/py.typed", "credit_default/_native.pyi"} <= shipped, sorted(shipped)
    stub = ast.parse((Path(cd.__file__).parent / "_native.pyi").read_text())
    stubbed = {n.name for n in stub.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))} | {
        t.id
        for n in stub.body
        if isinstance(n, (ast.AnnAssign, ast.Assign))
        for t in ([n.target] if isinstance(n, ast.AnnAssign) else n.targets)
        if isinstance(t, ast.Name)
    }
    public = {n for n in dir(cd._native) if not n.startswith("_")}
    assert public <= stubbed, public - stubbed


# --- any DataFrame by its protocol (Arrow PyCapsule), not by its module name -------------------


class LocalFrame(pd.DataFrame):
    """A DataFrame subclass defined outside pandas (as GeoPandas or a company's own wrapper do)."""

    @property
    def _constructor(self) -> type:
        return LocalFrame


class StreamOnly:
    """An object that is nothing but the Arrow PyCapsule stream interface."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self._table.__arrow_c_stream__(requested_schema)


class ArrayOnly:
    """An object that exposes one struct array (a record batch) through `__arrow_c_array__`."""

    def __init__(self, batch: Any) -> None:
        self._batch = batch

    def __arrow_c_array__(self, requested_schema: Any = None) -> Any:
        return self._batch.__arrow_c_array__(requested_schema)


def _shuffled(rows: np.ndarray) -> dict[str, np.ndarray]:
    # columns in another order than the model's, with the label and an id among them: read by
    # position this frame gives different numbers
    d = frame(rows, kaggle=True, order=[3, 0, 9, 1, 5, 7, 2, 8, 6, 4])
    return {"id": np.arange(len(rows)), **d, "SeriousDlqin2yrs": np.zeros(len(rows))}


def test_dataframe_subclass_from_another_module_is_read_by_name(
    model: cd.Model, rows: np.ndarray, expected: np.ndarray
) -> None:
    df = LocalFrame(_shuffled(rows))
    assert type(df).__module__ != "pandas"
    assert np.array_equal(model.probability(df), expected)
    assert np.array_equal(model.score_batch(df[list(df.columns)[::-1]]).probability, expected)


@pytest.mark.parametrize("kind", ["stream", "array", "duckdb", "polars-capsule", "pandas-capsule"])
def test_arrow_pycapsule_objects_are_read_by_name(
    model: cd.Model, rows: np.ndarray, expected: np.ndarray, kind: str
) -> None:
    table = pa.table(_shuffled(rows))
    if kind == "stream":
        x: Any = StreamOnly(table)
    elif kind == "array":
        x = ArrayOnly(table.combine_chunks().to_batches()[0])
    elif kind == "duckdb":
        duckdb = pytest.importorskip("duckdb")
        con = duckdb.connect()
        con.register("portfolio", table)
        x = con.sql("select * from portfolio")  # a relation: exposes __arrow_c_stream__
    elif kind == "polars-capsule":
        x = StreamOnly(pl.from_arrow(table))
    else:
        x = StreamOnly(pd.DataFrame(_shuffled(rows)))
    assert np.array_equal(model.probability(x), expected)
    assert np.array_equal(model.score(x), model.score(rows))


def test_capsule_columns_keep_their_checks(model: cd.Model, rows: np.ndarray) -> None:
    d: dict[str, Any] = _shuffled(rows)
    del d["age"]
    with pytest.raises(cd.ValidationError) as info:
        model.probability(StreamOnly(pa.table(d)))
    assert codes(info.value.errors()) == [("age", "missing")]
    d = _shuffled(rows)
    d["age"] = np.array(["45"] * len(rows))
    with pytest.raises(TypeError, match="age"):
        model.probability(StreamOnly(pa.table(d)))


def test_dataframe_row_ignores_the_columns_the_batch_ignores(
    model: cd.Model, rows: np.ndarray, expected: np.ndarray
) -> None:
    """`df.iloc[i]` of a frame with the label and an id scores like row i of the batch."""
    df = pd.DataFrame(_shuffled(rows))
    for i in (0, 3):
        assert model.predict(df.iloc[i]).probability == expected[i]
        assert model.explain(df.iloc[i]).probability == expected[i]
    # a Series is not a batch (pandas 3 gives it the Arrow PyCapsule interface)
    with pytest.raises(ValueError, match=r"df\.iloc\[\[i\]\]"):
        model.probability(df.iloc[0])
    # a plain dict is one applicant as the REST API sees it: an unknown field stays an error
    with pytest.raises(cd.ValidationError) as info:
        model.predict(df.iloc[0].to_dict())
    assert ("SeriousDlqin2yrs", "unknown_field") in codes(info.value.errors())


def test_model_probability_and_the_deprecated_predict_proba(
    model: cd.Model, rows: np.ndarray, expected: np.ndarray
) -> None:
    """`Model.probability` is one probability per row; `CreditScorecard.predict_proba` is
    scikit-learn's (n, 2). The old `Model.predict_proba` name still works, with a warning."""
    p = model.probability(rows)
    assert p.shape == (len(rows),)
    with pytest.warns(DeprecationWarning, match="Model.probability"):
        old = model.predict_proba(rows, errors="nan")
    assert np.array_equal(old, p)


def test_a_rust_panic_is_an_internal_error() -> None:
    assert issubclass(cd.InternalError, Exception) and not issubclass(cd.InternalError, ValueError)
    with pytest.raises(cd.InternalError, match="probe: boom"):
        cd._native._panic_for_tests("probe: boom")
    try:
        cd._native._panic_for_tests("caught by except Exception")
    except Exception as e:  # noqa: BLE001 - the point of the test
        assert type(e) is cd.InternalError and "bug" in str(e)
