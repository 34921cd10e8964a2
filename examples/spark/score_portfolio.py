"""Score a portfolio larger than one machine: a `spark-submit` job with `credit_default`.

Parquet (or CSV with a header) in, Parquet out. Each Spark task receives Arrow record batches
(`mapInArrow`), scores them with the Rust core through the Python package (columns matched by
name, zero-copy where Arrow allows it) and returns `probability`, `score` and `valid` next to the
key column. Invalid rows get nulls and `valid = false`; they never fail the job. The model
travels to the executors as its JSON artifact (a few tens of kB) and is verified (checksum)
once per task. The portfolio is scored once: the summary counts read the written output back.

On a cluster, the executors need `credit_default` (a compiled wheel: it cannot be imported from a
`--py-files` zip) together with numpy and pyarrow. Ship them the way Spark documents for Python
packages, as a packed environment (venv-pack or conda-pack) given to `--archives`:

    python -m venv --copies env && env/bin/pip install credit_default numpy pyarrow venv-pack
    env/bin/venv-pack -p env -o env.tar.gz
    spark-submit --master spark://HOST:7077 --archives env.tar.gz#environment \\
        --conf spark.pyspark.python=./environment/bin/python \\
        examples/spark/score_portfolio.py --input portfolio.parquet --output scored.parquet \\
        [--model model.json] [--key id]

(`--copies`: Spark refuses to unpack a symbolic link pointing outside the archive, which a venv's
`bin/python` is; the nodes still need the same Python installed, as venv-pack requires, or use
conda-pack for an environment that carries its interpreter. Or install the same packages on every node and point `spark.pyspark.python` at that
interpreter). Without spark-submit, `python examples/spark/score_portfolio.py ... --master
local[4]` runs the job on this machine.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator

import pyarrow as pa

SCHEMA = "probability double, score double, valid boolean"


def scorer(
    model_json: str, key: str | None = None
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
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


def session(master: str | None = None):  # type: ignore[no-untyped-def]
    """The job's Spark session. Under `spark-submit` (no `master`) everything comes from the
    submit command and the cluster's configuration. With a `local[...]` master (a run without
    spark-submit, and the tests) the session stays on loopback with its UI off, and the Python
    workers run this interpreter, so they see the same `credit_default` and pyarrow."""
    import os
    import sys

    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("credit-default-scoring").config(
        "spark.sql.execution.arrow.pyspark.enabled", "true"
    )
    if master is not None:
        builder = builder.master(master)
    if master is not None and master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = (
            builder.config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
        )
    return builder.getOrCreate()


def local_session(master: str = "local[2]"):  # type: ignore[no-untyped-def]
    """A loopback session on this machine (kept for the notebook and the tests)."""
    return session(master)


def run(spark, args: argparse.Namespace) -> dict[bool, int]:  # type: ignore[no-untyped-def]
    """Reads, scores once, writes; returns the row counts by `valid`, read from the output."""
    import credit_default as cd

    model = cd.Model.load(args.model) if args.model else cd.Model.default()
    if args.input.endswith((".csv", ".csv.gz")):
        df = spark.read.csv(args.input, header=True, inferSchema=True, nullValue="NA")
    else:
        df = spark.read.parquet(args.input)
    score_frame(df, model.to_json(), args.key).write.mode("overwrite").parquet(args.output)
    counts = spark.read.parquet(args.output).groupBy("valid").count().collect()
    return {bool(row["valid"]): int(row["count"]) for row in counts}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--input",
        required=True,
        help="parquet (file or directory) or .csv/.csv.gz (header) with the ten features",
    )
    ap.add_argument("--output", required=True, help="parquet directory to write")
    ap.add_argument("--model", help="model artifact (default: the model shipped in the package)")
    ap.add_argument("--key", help="column to carry over (e.g. an applicant id)")
    ap.add_argument(
        "--master",
        help="Spark master when run without spark-submit (e.g. local[4]); under spark-submit, "
        "leave it out and give --master to spark-submit",
    )
    args = ap.parse_args()

    spark = session(args.master)
    try:
        counts = run(spark, args)
    finally:
        spark.stop()
    print(
        f"scored {counts.get(True, 0)} valid and {counts.get(False, 0)} invalid rows into {args.output}"
    )


if __name__ == "__main__":
    main()
