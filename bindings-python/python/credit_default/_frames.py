"""Column extraction for batch inputs, per library.

The native module calls :func:`columns` for anything that is not a numpy array. It returns the
names and contiguous float64 columns of the table (only columns whose name is one of the ten
features, in either spelling; other columns are never converted), or a numpy array for
row-shaped input. Matching the names to features, and every check of the values, is done by
the Rust core. Conversions are zero-copy where the library allows it (a float64 pandas or
polars column without nulls, a single-chunk float64 Arrow column without nulls).
"""

from __future__ import annotations

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


def columns(x: Any) -> Named | np.ndarray[Any, Any]:
    """Named float64 columns of a DataFrame / Table / mapping, or an array for row input."""
    top = type(x).__module__.split(".")[0]
    kind = type(x).__name__
    if top == "pandas" and kind == "DataFrame":
        return _pandas(x)
    if top == "polars" and kind == "DataFrame":
        return _polars(x)
    if top == "pyarrow" and kind in ("Table", "RecordBatch"):
        return _arrow(x)
    if isinstance(x, Mapping):
        return _mapping(x)
    if isinstance(x, (list, tuple)):
        return np.asarray(x)
    if hasattr(x, "__array__"):
        return np.asarray(x)
    raise TypeError(
        "expected a numpy array, a pandas or polars DataFrame, a pyarrow Table or a mapping "
        f"of columns, got {type(x).__module__}.{type(x).__qualname__}"
    )
