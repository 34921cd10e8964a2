"""Score a portfolio larger than one machine with PySpark and `credit_default`.

Each Spark task receives Arrow record batches (`mapInArrow`), scores them with the Rust core
through the Python package (columns matched by name, zero-copy where Arrow allows it) and
returns `probability`, `score` and `valid` next to the key column. Invalid rows get nulls and
`valid = false`; they never fail the job. The model travels to the executors as its JSON
artifact (a few tens of kB) and is verified (checksum) once per task.

    python examples/spark/score_portfolio.py --input portfolio.parquet --output scored.parquet \
        [--model models/default.json] [--key id] [--master local[2]]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator

import pyarrow as pa

SCHEMA = "probability double, score double, valid boolean"


def scorer(model_json: str, key: str | None = None) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function to pass to `DataFrame.mapInArrow`."""

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import credit_default as cd
        import numpy as np

        model = cd.Model.from_json(model_json)
        for batch in batches:
            res = model.score_batch(batch)
            invalid = np.isnan(res.probability)
            arrays = [
                pa.array(res.probability, mask=invalid),
                pa.array(res.score, mask=invalid),
                pa.array(~invalid),
            ]
            names = ["probability", "score", "valid"]
            if key is not None:
                arrays.insert(0, batch.column(key))
                names.insert(0, key)
            yield pa.RecordBatch.from_arrays(arrays, names=names)

    return score


def score_frame(df, model_json: str, key: str | None = None):  # type: ignore[no-untyped-def]
    """Scores a Spark DataFrame with the ten feature columns (seed or Kaggle spelling)."""
    schema = SCHEMA
    if key is not None:
        key_type = df.schema[key].dataType.simpleString()
        schema = f"`{key}` {key_type}, {SCHEMA}"
    return df.mapInArrow(scorer(model_json, key), schema)


def local_session(master: str = "local[2]"):  # type: ignore[no-untyped-def]
    """A Spark session on loopback, UI off (what the example and its test use). The Python
    workers run this interpreter, so they see the same `credit_default` and pyarrow."""
    import os
    import sys

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

    return (
        SparkSession.builder.master(master)
        .appName("credit-default-scoring")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True, help="parquet or CSV (header) with the ten features")
    ap.add_argument("--output", required=True, help="parquet directory to write")
    ap.add_argument("--model", help="model artifact (default: the model shipped in the package)")
    ap.add_argument("--key", help="column to carry over (e.g. an applicant id)")
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()

    import credit_default as cd

    model = cd.Model.load(args.model) if args.model else cd.Model.default()
    spark = local_session(args.master)
    try:
        if args.input.endswith(".parquet"):
            df = spark.read.parquet(args.input)
        else:
            df = spark.read.csv(args.input, header=True, inferSchema=True, nullValue="NA")
        out = score_frame(df, model.to_json(), args.key)
        out.write.mode("overwrite").parquet(args.output)
        print(out.groupBy("valid").count().collect())
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
