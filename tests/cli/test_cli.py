"""The `credit` command line on nasty inputs: it reports, continues where it can, never panics."""

from __future__ import annotations

import csv
import gzip
import json

from conftest import ROOT, run

MODEL = ROOT / "models" / "default.json"
HEADER = ",SeriousDlqin2yrs,RevolvingUtilizationOfUnsecuredLines,age,NumberOfTime30-59DaysPastDueNotWorse,DebtRatio,MonthlyIncome,NumberOfOpenCreditLinesAndLoans,NumberOfTimes90DaysLate,NumberRealEstateLoansOrLines,NumberOfTime60-89DaysPastDueNotWorse,NumberOfDependents"
SEED = {
    "RevolvingUtilizationOfUnsecuredLines": 0.766127,
    "age": 45,
    "NumberOfTime30_59DaysPastDueNotWorse": 2,
    "DebtRatio": 0.802982,
    "MonthlyIncome": 9120,
    "NumberOfOpenCreditLinesAndLoans": 13,
    "NumberOfTimes90DaysLate": 0,
    "NumberRealEstateLoansOrLines": 6,
    "NumberOfTime60_89DaysPastDueNotWorse": 0,
    "NumberOfDependents": 2,
}


def score(credit, path, out):
    return run([credit, "score", "--model", MODEL, path, "-o", out, "--quiet"])


def read(out):
    with open(out, newline="") as f:
        return list(csv.DictReader(f))


def test_bad_rows_get_errors_and_the_run_continues(credit, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(
        "\r\n".join(  # noqa: FLY002 (one row per line, each with its comment)
            [
                HEADER,
                "1,1,0.766127,45,2,0.802982,9120,13,0,6,0,2",
                "2,0,0.9,abc,0,0.1,NA,3,0,0,0,0",  # string for a number
                "3,0,0.9,45,2.5,0.1,NA,3,0,0,0,0",  # fractional count
                "4,0,0.9,45,0,0.1,NA,3,0,0,0",  # a field short
                "5,0,NaN,45,0,0.1,1000,3,0,0,0,NA",  # NaN in a required column
                "6,0,-1,45,0,0.1,1000,3,97,0,0,NA",  # negative ratio, non-code 97
                "7,0,0.1,45,96,0.1,NA,3,98,0,98,NA",  # bureau codes are fine
                "8,0,0.1,45,0,inf,1000,3,0,0,0,1",  # infinity
            ]
        )
        + "\r\n"
    )
    out = tmp_path / "out.csv"
    r = score(credit, src, out)
    assert r.returncode == 0, r.stderr
    rows = read(out)
    assert [r["id"] for r in rows] == [str(i) for i in range(1, 9)]
    ok = {r["id"] for r in rows if not r["errors"]}
    assert ok == {"1", "7"}
    codes = {
        r["id"]: [(e["field"], e["code"]) for e in json.loads(r["errors"])]
        for r in rows
        if r["errors"]
    }
    assert codes["2"] == [("age", "not_a_number")]
    assert codes["3"] == [("NumberOfTime30_59DaysPastDueNotWorse", "not_an_integer")]
    assert codes["4"][0][1] == "wrong_field_count"
    assert codes["5"] == [("RevolvingUtilizationOfUnsecuredLines", "missing")]
    assert codes["6"] == [
        ("RevolvingUtilizationOfUnsecuredLines", "out_of_range"),
        ("NumberOfTimes90DaysLate", "out_of_range"),
    ]
    assert codes["8"] == [("DebtRatio", "not_finite")]
    assert "scored 2 of 8 rows (6 invalid)" in r.stderr
    # Same applicant through explain gives the same probability.
    e = run([credit, "explain", "--model", MODEL, "--json", json.dumps(SEED)])
    assert e.returncode == 0, e.stderr
    assert float(rows[0]["probability"]) == json.loads(e.stdout)["probability"]


def test_explain_table_lists_every_interaction_cell(credit):
    """The shipped model has interaction cells: the table shows each pair and the cell the
    applicant is in, and the points it prints add up to the score (to the printed precision)."""
    pairs = json.loads(MODEL.read_text())["interactions"]
    assert pairs, "the shipped model has cells"
    e = run([credit, "explain", "--model", MODEL, json.dumps(SEED)])
    assert e.returncode == 0, e.stderr
    lines = e.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("interaction cells"))
    for k, x in enumerate(pairs):
        assert lines[start + 1 + 2 * k] == " × ".join(x["features"])
        assert " × " in lines[start + 2 + 2 * k]
    j = json.loads(run([credit, "explain", "--model", MODEL, "--json", json.dumps(SEED)]).stdout)
    assert len(j["interactions"]) == len(pairs)
    total = sum(c["points"] for c in j["contributions"] + j["interactions"])
    assert abs(total - j["score"]) < 1e-6


def test_seed_column_names_in_any_order_and_gzip_output(credit, tmp_path):
    names = list(SEED)[::-1]
    src = tmp_path / "seed.csv"
    src.write_text(
        ",".join(["id", *names]) + "\n" + ",".join(["a1", *(str(SEED[n]) for n in names)]) + "\n"
    )
    out = tmp_path / "out.csv.gz"
    r = score(credit, src, out)
    assert r.returncode == 0, r.stderr
    with gzip.open(out, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["id"] == "a1" and rows[0]["errors"] == ""
    assert 0 < float(rows[0]["probability"]) < 1


def test_missing_column_is_a_clear_error(credit, tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text(HEADER.replace(",DebtRatio", "") + "\n")
    r = score(credit, src, tmp_path / "o.csv")
    assert r.returncode == 2
    assert "DebtRatio" in r.stderr and "panicked" not in r.stderr


def test_truncated_gzip_fails_cleanly_after_writing_what_it_read(credit, data_path, tmp_path):
    blob = data_path.read_bytes()
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(blob[: len(blob) // 3])
    out = tmp_path / "o.csv"
    r = score(credit, cut, out)
    assert r.returncode == 2
    assert "stopped after" in r.stderr and "panicked" not in r.stderr
    assert len(read(out)) > 1000


def test_empty_and_garbage_files(credit, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    r = score(credit, empty, tmp_path / "o.csv")
    assert r.returncode == 2 and "panicked" not in r.stderr
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\x00\xff\xfe garbage\n\x01\x02")
    r = score(credit, junk, tmp_path / "o2.csv")
    assert r.returncode == 2 and "panicked" not in r.stderr


def test_explain_reports_every_field_error(credit):
    bad = dict(SEED, age="45", MonthlyIncom=1)
    r = run([credit, "explain", "--model", MODEL, "--json", json.dumps(bad)])
    assert r.returncode == 2
    errs = json.loads(r.stdout)["errors"]
    assert [(e["field"], e["code"]) for e in errs] == [
        ("age", "not_a_number"),
        ("MonthlyIncom", "unknown_field"),
    ]
    r = run([credit, "explain", "--model", MODEL, '{"age": 45'])
    assert r.returncode == 2 and "invalid_json" in r.stderr


def test_explain_table(credit):
    r = run([credit, "explain", "--model", MODEL, json.dumps(SEED)])
    assert r.returncode == 0, r.stderr
    assert "principal reasons" in r.stdout or "no adverse reasons" in r.stdout
    for name in SEED:
        assert name in r.stdout


def test_refuses_a_tampered_model(credit, tmp_path):
    m = json.loads(MODEL.read_text())
    m["intercept"] += 0.5
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps(m))
    r = run([credit, "explain", "--model", bad, json.dumps(SEED)])
    assert r.returncode == 2 and "checksum" in r.stderr


def test_train_refuses_unlabelled_or_broken_data(credit, tmp_path):
    nolabel = tmp_path / "nolabel.csv"
    nolabel.write_text(HEADER.replace("SeriousDlqin2yrs,", "") + "\n1,0.5,45,0,0.1,100,1,0,0,0,0\n")
    r = run([credit, "train", "--data", nolabel, "--out", tmp_path / "m.json", "--quiet"])
    assert r.returncode == 2 and "SeriousDlqin2yrs" in r.stderr
    badlabel = tmp_path / "badlabel.csv"
    badlabel.write_text(HEADER + "\n1,2,0.5,45,0,0.1,100,1,0,0,0,0\n")
    r = run([credit, "train", "--data", badlabel, "--out", tmp_path / "m.json", "--quiet"])
    assert r.returncode == 2 and "label" in r.stderr


def test_train_refuses_more_bins_than_the_scorer_holds(credit, tmp_path):
    for bins in ("65", "1", "many"):
        r = run(
            [
                credit,
                "train",
                "--data",
                tmp_path / "unused.csv",
                "--out",
                tmp_path / "m.json",
                "--max-bins",
                bins,
            ]
        )
        assert r.returncode == 2, (bins, r.stderr)
        assert "--max-bins" in r.stderr, r.stderr
    assert not (tmp_path / "m.json").exists()


def test_train_refuses_a_refine_rate_that_is_not_positive(credit, tmp_path):
    """`--refine-rate` must be finite and positive (the core's rule, checked before fitting);
    the message names the option's field and the value."""
    data = tmp_path / "one.csv"
    data.write_text(HEADER + "\n1,0,0.5,45,0,0.1,100,1,0,0,0,0\n")
    for rate, shown in (("0", "0"), ("-0.1", "-0.1"), ("nan", "NaN"), ("inf", "inf")):
        args = ["--refine-rounds", "10", f"--refine-rate={rate}", "--quiet"]
        r = run([credit, "train", "--data", data, "--out", tmp_path / "m.json", *args])
        assert r.returncode == 2, (rate, r.stderr)
        assert f"refine_rate is {shown}; it must be finite and positive" in r.stderr, r.stderr
    assert not (tmp_path / "m.json").exists()


def test_train_refuses_coarse_groups_out_of_range_even_without_interactions(credit, tmp_path):
    """The core's range is the one rule (the flag's parser takes its bound from the core): an
    out-of-range `--coarse-groups` is refused with `--interactions 0` too (the Python estimator
    refused it; the CLI took 15 to 64), before the data is read."""
    for groups in ("64", "15", "1"):
        args = ["--interactions", "0", "--coarse-groups", groups, "--quiet"]
        r = run(
            [
                credit,
                "train",
                "--data",
                tmp_path / "unused.csv",
                "--out",
                tmp_path / "m.json",
                *args,
            ]
        )
        assert r.returncode == 2, (groups, r.stderr)
        assert "--coarse-groups" in r.stderr and "2..=14" in r.stderr, r.stderr
    assert not (tmp_path / "m.json").exists()
