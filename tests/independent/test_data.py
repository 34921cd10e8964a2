"""The training data the tests run on: the Give Me Some Credit file the shipped model was trained
on (checked against the artifact's record of it), and the synthetic stand-in of
scripts/synth_data.py that replaces it where it is not available (checked for the Kaggle layout
and the quirks the code must cope with)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import itertools
import json
import subprocess
import sys

import pytest
from conftest import REAL_DATA_ONLY, ROOT, SYNTHETIC

# The Kaggle header, byte for byte (the first column name is empty: the original row id).
HEADER = (
    b",SeriousDlqin2yrs,RevolvingUtilizationOfUnsecuredLines,age,NumberOfTime30-59DaysPastDueNotWorse,"
    b"DebtRatio,MonthlyIncome,NumberOfOpenCreditLinesAndLoans,NumberOfTimes90DaysLate,"
    b"NumberRealEstateLoansOrLines,NumberOfTime60-89DaysPastDueNotWorse,NumberOfDependents\r\n"
)


def test_data_is_what_the_shipped_model_was_trained_on(data_path):
    """Where CI fetched the data from a secret or a cache, this is the check that it got the
    right file: the sha256 of the CSV and its counts are those in models/default.json."""
    if SYNTHETIC:
        pytest.skip(REAL_DATA_ONLY)
    record = json.loads((ROOT / "models" / "default.json").read_text())["training_data"]
    h = hashlib.sha256()
    rows = positives = 0
    with gzip.open(data_path, "rb") as f:
        assert f.readline() == HEADER
        h.update(HEADER)
        for line in f:
            h.update(line)
            rows += 1
            positives += line.split(b",")[1] == b"1"
    assert h.hexdigest() == record["sha256"]
    assert (rows, positives) == (record["rows"], record["positives"]) == (120_000, 8021)


def synth(tmp_path, name: str, rows: int, seed: int = 2011) -> bytes:
    out = tmp_path / name
    subprocess.run(
        [
            sys.executable,
            ROOT / "scripts" / "synth_data.py",
            "--out",
            out,
            "--rows",
            str(rows),
            "--seed",
            str(seed),
        ],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


def test_synthetic_data_has_the_kaggle_layout_and_quirks(tmp_path, data_path):
    blob = synth(tmp_path, "a.csv.gz", 20_000)
    assert blob == synth(tmp_path, "b.csv.gz", 20_000), "same seed, different bytes"
    assert blob != synth(tmp_path, "c.csv.gz", 20_000, seed=7)
    text = gzip.decompress(blob)
    assert text.startswith(HEADER)
    if not SYNTHETIC:  # the real file starts with the same bytes
        with gzip.open(data_path, "rb") as f:
            assert f.readline() == HEADER
    lines = text.split(b"\r\n")
    assert lines[-1] == b"" and not any(b"\n" in ln or b"\r" in ln for ln in lines)
    rows = list(csv.DictReader(io.StringIO(text.decode("ascii"), newline="")))
    assert len(rows) == 20_000 and all(len(r) == 12 and None not in r for r in rows)
    ids = [int(r[""]) for r in rows]
    assert all(a < b for a, b in itertools.pairwise(ids)) and ids[-1] > len(
        ids
    )  # ascending, with gaps

    def col(name: str) -> list[float | None]:
        return [None if r[name] == "NA" else float(r[name]) for r in rows]

    rate = sum(col("SeriousDlqin2yrs")) / len(rows)
    assert 0.06 <= rate <= 0.075
    income, dependents, debt = col("MonthlyIncome"), col("NumberOfDependents"), col("DebtRatio")
    assert 0.17 <= income.count(None) / len(rows) <= 0.23
    assert 0.015 <= dependents.count(None) / len(rows) <= 0.04
    others = [c for c in rows[0] if c not in ("", "MonthlyIncome", "NumberOfDependents")]
    assert not any(r[c] == "NA" for r in rows for c in others)
    assert col("age").count(0.0) == 1 and min(a for a in col("age") if a) >= 21
    util = col("RevolvingUtilizationOfUnsecuredLines")
    assert sum(u > 1 for u in util) > 100 and max(util) > 100
    big_debt = [d for d, i in zip(debt, income) if i is None and d > 1000]
    assert len(big_debt) > 0.3 * income.count(None)
    for name in (
        "NumberOfTime30-59DaysPastDueNotWorse",
        "NumberOfTimes90DaysLate",
        "NumberOfTime60-89DaysPastDueNotWorse",
    ):
        values = col(name)
        assert 10 <= sum(v in (96, 98) for v in values) <= 100, name
        assert max(v for v in values if v not in (96, 98)) < 30, name
    # the label carries signal: applicants 90 days late default far more often
    late = [
        r["SeriousDlqin2yrs"] == "1" for r in rows if r["NumberOfTimes90DaysLate"] not in ("0",)
    ]
    assert sum(late) / len(late) > 3 * rate
