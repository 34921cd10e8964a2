"""`credit export --to sql --dialect spark` on a local Spark session (local[2], loopback, UI off,
Java 17: as bindings-python/tests/test_spark.py starts one), Spark 4 with its default ANSI mode."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from export_helpers import FEATURES, CellsCase, check_cells, compare, export_sql

pytest.importorskip("pyspark")


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("credit-export-test")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    try:
        yield session
    finally:
        session.stop()


def run_spark(spark, sql: str, rows: list) -> list[tuple]:  # type: ignore[no-untyped-def]
    """The rows as a temp view `applicants` (id BIGINT, ten DOUBLE columns; null stays null)."""
    cols = {"id": pa.array([i for i, _ in rows], pa.int64())}
    for j, name in enumerate(FEATURES):
        cols[name] = pa.array([v[j] for _, v in rows], pa.float64())
    spark.createDataFrame(pa.table(cols)).createOrReplaceTempView("applicants")
    return [tuple(r) for r in spark.sql(sql).collect()]


def test_vectors_equal_credit_score(spark, vectors: tuple[list, dict]) -> None:  # type: ignore[no-untyped-def]
    rows, cli = vectors
    c = compare(run_spark(spark, export_sql("spark", "applicants"), rows), cli, exact_errors=False)
    assert c.bit_identical == c.scored, c
    # Java prints 1e300 as 1.0E300: only the edge row with such values is spelled differently.
    assert c.text_differs <= 1, c


def test_training_rows_equal_credit_score(spark, training: tuple[list, dict]) -> None:  # type: ignore[no-untyped-def]
    rows, cli = training
    c = compare(run_spark(spark, export_sql("spark", "applicants"), rows), cli)
    assert c.rows == len(rows) and c.bit_identical == c.scored, c
    print(f"spark: {c}")


def test_model_with_16_bins(spark, model16: Path, model16_rows: tuple[list, dict]) -> None:  # type: ignore[no-untyped-def]
    rows, cli = model16_rows
    compare(
        run_spark(spark, export_sql("spark", "applicants", model=model16), rows),
        cli,
        exact_errors=False,
    )


def test_model_with_cells(spark, cells: CellsCase) -> None:  # type: ignore[no-untyped-def]
    """A model with interaction cells: every row gives `credit score`'s answer, the probability
    and score bit for bit the core's."""
    sql = export_sql("spark", "applicants", model=cells.model)
    c = check_cells(run_spark(spark, sql, cells.rows), cells, exact_errors=False)
    # Java prints 1e300 as 1.0E300: only the vectors' edge row with such values is spelled differently.
    assert c.text_differs <= 1, c
    print(f"spark, cells {cells.name}: {c}")
