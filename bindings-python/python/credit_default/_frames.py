"""Column extraction for batch inputs.

The native module calls :func:`columns` for anything that is not a numpy array. It returns the
names and contiguous float64 columns of the table (only columns whose name is one of the ten
features, in either spelling; other columns are never converted), or a numpy array for
row-shaped input. Matching the names to features, and every check of the values, is done by
the Rust core. Conversions are zero-copy where the library allows it (a float64 pandas or
polars column without nulls, a single-chunk float64 Arrow column without nulls).

Tables are recognised by type (``isinstance``, so subclasses count) for pandas, polars and
pyarrow, and otherwise by protocol: any object with the Arrow PyCapsule interface
(``__arrow_c_stream__`` or ``__arrow_c_array__``: DuckDB relations, pandas >= 2.2, polars,
Narwhals, ...) is imported with pyarrow and read by column name. The import is done here rather
than in Rust (arrow-rs's FFI) because pyarrow already handles every Arrow type, chunking and
casting that the columns can arrive in, while the native module stays a thin converter of
contiguous float64 buffers with no second Arrow implementation to build and keep in step.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._native import canonical_name

Named = tuple[list[str], list["np.ndarray[Any, np.dtype[np.float64]]"], int]


def _contiguous(a: Any, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"column {name!r} has dtype {arr.dtype}, expected numbers")
    if arr.ndim != 1:
        raise ValueError(f"column {name!r} is not one-dimensional")
    return np.ascontiguousarray(arr, dtype=np.float64)


def _pandas(df: Any) -> Named:
    import pandas as pd

    names: list[str] = []
    arrays: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    for name in df.columns:
        if not isinstance(name, str) or canonical_name(name) is None:
            continue
        s = df[name]
        if isinstance(s, pd.DataFrame):
            raise ValueError(f"column {name!r} appears more than once")  # noqa: TRY004
        dtype = s.dtype
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            raise TypeError(f"column {name!r} has dtype {dtype}, expected numbers")
        if isinstance(dtype, np.dtype):
            values = s.to_numpy()
        else:  # nullable extension dtypes (Int64, Float64, Arrow-backed): NA becomes NaN
            values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        names.append(name)
        arrays.append(_contiguous(values, name))
    return names, arrays, len(df)


def _polars(df: Any) -> Named:
    import polars as pl

    names: list[str] = []
    arrays: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    for name in df.columns:
        if canonical_name(name) is None:
            continue
        s = df.get_column(name)
        if not s.dtype.is_numeric():
            raise TypeError(f"column {name!r} has dtype {s.dtype}, expected numbers")
        names.append(name)
        arrays.append(_contiguous(s.cast(pl.Float64).to_numpy(), name))
    return names, arrays, df.height


def _arrow(table: Any) -> Named:
    import pyarrow as pa
    import pyarrow.compute as pc

    names: list[str] = []
    arrays: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    for name in table.column_names:
        if canonical_name(name) is None:
            continue
        col = table.column(name)
        t = col.type
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
            raise TypeError(f"column {name!r} has type {t}, expected numbers")
        col = pc.cast(col, pa.float64())
        if isinstance(col, pa.ChunkedArray):
            values = col.to_numpy()  # nulls become NaN
        else:
            values = col.to_numpy(zero_copy_only=False)
        names.append(name)
        arrays.append(_contiguous(values, name))
    return names, arrays, table.num_rows


def _mapping(m: Mapping[Any, Any]) -> Named:
    names: list[str] = []
    arrays: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    n = None
    for name, values in m.items():
        if not isinstance(name, str) or canonical_name(name) is None:
            continue
        arr = _contiguous(values, name)
        if n is not None and len(arr) != n:
            raise ValueError(f"column {name!r} has {len(arr)} values, expected {n}")
        n = len(arr)
        names.append(name)
        arrays.append(arr)
    return names, arrays, n or 0


def _instance(x: Any, module: str, *names: str) -> bool:
    """``isinstance(x, module.name)`` without importing the library (absent: not an instance)."""
    mod = sys.modules.get(module)
    if mod is None:
        return False
    return isinstance(x, tuple(getattr(mod, n) for n in names if hasattr(mod, n)))


def _is_pandas_frame(x: Any) -> bool:
    return _instance(x, "pandas", "DataFrame")


def _has_capsule(x: Any) -> bool:
    t = type(x)
    return hasattr(t, "__arrow_c_stream__") or hasattr(t, "__arrow_c_array__")


def _from_capsule(x: Any) -> Any:
    """A pyarrow Table or RecordBatch of an object with the Arrow PyCapsule interface."""
    try:
        import pyarrow as pa
    except ImportError:
        raise TypeError(
            f"{type(x).__module__}.{type(x).__qualname__} is read through the Arrow PyCapsule "
            "interface, which needs pyarrow: pip install 'credit-default[arrow]'"
        ) from None
    try:
        if hasattr(type(x), "__arrow_c_stream__"):
            return pa.RecordBatchReader.from_stream(x).read_all()
        return pa.record_batch(x)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:  # a lone array: no named columns
        raise TypeError(
            f"expected a table (named columns) through the Arrow PyCapsule interface, got "
            f"{type(x).__module__}.{type(x).__qualname__}: {e}"
        ) from None


def is_series(x: Any) -> bool:
    """A pandas Series: one column, or one row of a DataFrame (``df.iloc[i]``); never a table,
    although pandas 3 gives it the Arrow PyCapsule interface."""
    return _instance(x, "pandas", "Series")


SERIES_HINT = (
    "got a pandas Series (one row of a DataFrame?): pass df.iloc[[i]] (a one-row DataFrame) "
    "for row i, or score one applicant with Model.predict(df.iloc[i])"
)


def is_named(x: Any) -> bool:
    """Whether ``x`` is a table whose columns are matched to the features by name (a scipy
    sparse matrix is not, even the ``dok`` kind, which is a dict; nor is a pandas Series)."""
    sparse = sys.modules.get("scipy.sparse")
    if (sparse is not None and sparse.issparse(x)) or is_series(x):
        return False
    if _is_pandas_frame(x):
        return any(isinstance(c, str) for c in x.columns)
    return (
        _instance(x, "polars", "DataFrame")
        or _instance(x, "pyarrow", "Table", "RecordBatch")
        or _has_capsule(x)
        or isinstance(x, Mapping)
    )


def column_names(x: Any) -> list[str] | None:
    """The column names of a named table, when all of them are strings (else ``None``)."""
    names = getattr(x, "columns", None)
    if names is None:
        names = getattr(x, "column_names", None)
    if names is None and isinstance(x, Mapping):
        names = list(x)
    if names is None or not all(isinstance(c, str) for c in names):
        return None
    return list(names)


def columns(x: Any) -> Named | np.ndarray[Any, Any]:
    """Named float64 columns of a DataFrame / Table / mapping, or an array for row input."""
    if is_series(x):
        raise ValueError(f"expected a 2-D batch, {SERIES_HINT}")
    if _is_pandas_frame(x):
        return _pandas(x)
    if _instance(x, "polars", "DataFrame"):
        return _polars(x)
    if _instance(x, "pyarrow", "Table", "RecordBatch"):
        return _arrow(x)
    if _has_capsule(x):
        return _arrow(_from_capsule(x))
    if isinstance(x, Mapping):
        return _mapping(x)
    if isinstance(x, (list, tuple)):
        return np.asarray(x)
    if hasattr(x, "__array__"):
        return np.asarray(x)
    raise TypeError(
        "expected a numpy array, a DataFrame or table (pandas, polars, pyarrow, or any object "
        "with the Arrow PyCapsule interface) or a mapping of columns, got "
        f"{type(x).__module__}.{type(x).__qualname__}"
    )


def applicant_items(x: Any) -> list[tuple[Any, Any]]:
    """The (name, value) pairs of one applicant given as a mapping other than a dict.

    A pandas Series is a row of a table (``df.iloc[i]``): like the batch path, it is read by
    feature name and its other labels (an id, the target) are left out. Any other mapping is one
    applicant as the REST API sees it, where an unknown field is an error."""
    items = list(x.items())
    if is_series(x):
        return [(k, v) for k, v in items if isinstance(k, str) and canonical_name(k) is not None]
    return items
