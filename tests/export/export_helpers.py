"""What every engine's test of `credit export --to sql` shares: the applicant rows (training data and
shared vectors), `credit score` as the oracle, and the row-by-row comparison.

The oracle is the CLI itself: the same rows are written to a CSV that `credit score` reads, and the
engine's answer must equal its output row for row (probability to 1e-12, prediction, score as the
CLI prints it, reasons and the errors column exactly)."""

from __future__ import annotations

import bisect
import csv
import gzip
import json
import math
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "testdata" / "vectors.json").read_text())
FEATURES: list[str] = VECTORS["feature_order"]
OUTPUT = [
    "id",
    "probability",
    "prediction",
    "score",
    "reason_1",
    "reason_2",
    "reason_3",
    "reason_4",
    "errors",
]
# `credit score` reads these cells as missing (service/src/data.rs, `raw`).
MISSING_CELLS = {"", "NA", "NaN", "nan", "null"}
# Codes a typed numeric column cannot produce: a string/boolean/object where a number belongs, and
# a field the table does not have. They are the engine's business (a failed cast), not the SQL's.
UNREPRESENTABLE_CODES = {"not_a_number", "unknown_field"}


def credit() -> Path:
    return Path(os.environ.get("CREDIT", ROOT / "target" / "release" / "credit"))


def data_path() -> Path:
    return Path(
        os.environ.get("CREDIT_DATA", ROOT.parent / "shared" / "data" / "cs-training.csv.gz")
    )


Row = tuple[int, list[float | None]]


def cell_value(text: str) -> float | None:
    """A CSV cell as `credit score` reads it: missing, or Rust's (correctly rounded) parse."""
    t = text.strip()
    return None if t in MISSING_CELLS else float(t)


def training_rows(path: Path, limit: int | None = None) -> list[Row]:
    """The Kaggle CSV (first unnamed column = id, Kaggle spellings, NA) as (id, ten values)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as f:
        rdr = csv.reader(f)
        header = [h.strip().replace("-", "_") for h in next(rdr)]
        cols = [header.index(name) for name in FEATURES]
        rows = []
        for rec in rdr:
            rows.append((int(rec[0]), [cell_value(rec[c]) for c in cols]))
            if limit is not None and len(rows) >= limit:
                break
    return rows


def _is_number(v: object) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def vector_rows() -> tuple[list[Row], list[dict]]:
    """Every shared vector a table of ten numeric columns can hold (valid rows, numeric rows with
    NaN / ±inf, JSON inputs whose fields are all numbers or null or absent), plus a few edge rows,
    numbered from 0; and the vectors it cannot hold (type errors, unknown fields)."""
    values: list[list[float | None]] = []
    for v in VECTORS["valid"]:
        values.append([None if c is None else float(c) for c in v["row"]])
    for v in VECTORS["invalid_rows"]:
        values.append([None if c is None else float(c) for c in v["row"]])
    left_out = []
    for v in VECTORS["invalid"]:
        inp = v["input"]
        if set(inp) <= set(FEATURES) and all(_is_number(x) for x in inp.values()):
            values.append([None if inp.get(f) is None else float(inp[f]) for f in FEATURES])
        else:
            left_out.append(v)
    seed = VECTORS["valid"][0]["row"]
    edges = [
        [-0.0, 45, 2, 0.8, 9120, 13, 0, 6, 0, 2],  # -0 is 0
        [0.5, 45, 2, 0.8, math.nan, 13, 0, 6, 0, math.nan],  # NaN optional: missing bins
        [math.nan, 45, 2, 0.8, 9120, 13, 0, 6, 0, 2],  # NaN required: missing
        [0.5, 61, 96, 0.8, 9120, 13, 98, 6, 96, 2],  # bureau codes in every past-due count
        [0.5, 62, 0, 0.8, 0, 0, 0, 0, 0, 0],  # 62: age never a reason
        [
            100000.5,
            120.5,
            95.5,
            1000000.25,
            1e8 + 1,
            200.5,
            96.5,
            100.5,
            97,
            50.5,
        ],  # just past each bound
        [1e300, 1e300, 1e20, -1.5, -2.5, 0.25, -0.0, 6, 98, -math.inf],
        [0.0, 18, 0, 0.0, 0.0, 0, 0, 0, 0, 0],  # every lower bound
        [float(x) for x in seed],
    ]
    values += [[float(x) for x in r] for r in edges]
    return list(enumerate(values)), left_out


def cell_text(v: float | None) -> str:
    """How a value goes into the CSV `credit score` reads (shortest round-trip text)."""
    if v is None:
        return "NA"
    if math.isnan(v):
        return "NaN"
    return repr(v)


def write_csv(path: Path, rows: list[Row]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", *FEATURES])
        for i, vals in rows:
            w.writerow([i, *(cell_text(v) for v in vals)])
    return path


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=False, capture_output=True, text=True, **kw)


def cli_score(csv_path: Path, out: Path, model: Path | None = None) -> dict[str, dict[str, str]]:
    """`credit score` on a CSV: its output rows by id."""
    cmd = [credit(), "score", csv_path, "-o", out, "--quiet"]
    if model is not None:
        cmd += ["--model", model]
    r = run(cmd)
    assert r.returncode == 0, r.stderr
    with open(out, newline="") as f:
        return {row["id"]: row for row in csv.DictReader(f)}


def export_sql(dialect: str, table: str, model: Path | None = None) -> str:
    cmd = [credit(), "export", "--to", "sql", "--dialect", dialect, "--table", table]
    if model is not None:
        cmd += ["--model", model]
    r = run(cmd)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("-- credit export"), r.stdout[:200]
    return r.stdout


def error_codes(text: str) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in json.loads(text)] if text else []


@dataclass
class Comparison:
    rows: int = 0
    scored: int = 0
    refused: int = 0
    bit_identical: int = 0
    max_abs_diff: float = 0.0
    text_differs: int = 0


def _text(v: object) -> str:
    return "" if v is None else str(v)


def compare(
    engine_rows: list[tuple], cli: dict[str, dict[str, str]], exact_errors: bool = True
) -> Comparison:
    """Asserts the engine's rows (tuples in OUTPUT order, numbers as numbers) equal `credit score`'s,
    row by row: the same ids, probability within 1e-12, prediction, score as the CLI prints it
    (two decimals), reasons, and errors (the same fields and codes; the same text when
    `exact_errors`, else counted in `text_differs`)."""
    c = Comparison(rows=len(engine_rows))
    ids = [str(r[0]) for r in engine_rows]
    assert len(ids) == len(set(ids)), "duplicate ids in the engine's answer"
    assert sorted(ids) == sorted(cli), (
        f"{len(ids)} rows from the engine, {len(cli)} from credit score"
    )
    mismatches = []
    for r in engine_rows:
        rid, p, pred, score, *reasons, errors = r
        want = cli[str(rid)]
        problems = []
        if want["probability"] == "":
            c.refused += 1
            if p is not None or pred is not None or score is not None or any(reasons):
                problems.append(f"refused row scored: {r}")
        else:
            c.scored += 1
            wp = float(want["probability"])
            if p is None or abs(float(p) - wp) > 1e-12:
                problems.append(f"probability {p} != {wp}")
            else:
                c.bit_identical += float(p) == wp
                c.max_abs_diff = max(c.max_abs_diff, abs(float(p) - wp))
            if _text(pred) != want["prediction"]:
                problems.append(f"prediction {pred} != {want['prediction']}")
            if score is None or f"{float(score):.2f}" != want["score"]:
                problems.append(f"score {score} != {want['score']}")
        got_reasons = [_text(x) for x in reasons]
        if got_reasons != [want[f"reason_{k}"] for k in range(1, 5)]:
            problems.append(
                f"reasons {got_reasons} != {[want[f'reason_{k}'] for k in range(1, 5)]}"
            )
        got_errors = _text(errors)
        if error_codes(got_errors) != error_codes(want["errors"]):
            problems.append(f"errors {got_errors} != {want['errors']}")
        elif got_errors != want["errors"]:
            c.text_differs += 1
            if exact_errors:
                problems.append(f"errors text {got_errors} != {want['errors']}")
        if problems:
            mismatches.append(f"id {rid}: " + "; ".join(problems))
    assert not mismatches, f"{len(mismatches)} of {len(engine_rows)} rows differ:\n" + "\n".join(
        mismatches[:20]
    )
    return c


# ---- models with interaction cells (format version 3) ---------------------------------------

CELLS_MODEL = ROOT / "testdata" / "cells-model.json"
# Ids of the rows a cells case adds after the vectors (0...): the rows that reach every cell,
# then training rows (their own ids, which go up to 150,000, shifted past both).
CELL_ROWS_ID = 1_000_000
TRAINING_ID = 2_000_000


def _specs(model: Path) -> list[dict]:
    """The schema as the Python package describes it (kind, range), in feature order."""
    import credit_default as cd

    return cd.Model.load(str(model)).features


def _lowest(spec: dict) -> float:
    # "a number from 0 to 100000" / "a whole number from 18 to 120, or a bureau code (96 or 98)"
    return float(spec["range"].split(" from ")[1].split(" ")[0])


def bin_values(card: dict, spec: dict) -> list[float]:
    """Values that land in every bin of a feature: each range bin's lower edge (whole for a
    count) and, for a real feature, the largest double below the next edge; NaN for the missing
    bin; each bureau code."""
    count = spec["kind"] == "count"
    lows = [_lowest(spec), *card["edges"]]
    out: list[float] = []
    for k, low in enumerate(lows):
        out.append(float(math.ceil(low)) if count else low)
        if not count and k < len(card["edges"]):
            out.append(math.nextafter(card["edges"][k], -math.inf))
    if card.get("missing_bin") is not None:
        out.append(math.nan)
    for sb in card.get("special_bins", []):
        out.extend(sb["codes"])
    return out


def cell_rows(model: Path, first_id: int, seed: int = 7) -> list[Row]:
    """Rows that reach every cell of every pair of `model`: each pair's two features over all
    their bins' values, the other features drawn at random from theirs; then rows at ages 30,
    61, 62 and 80 (the age rule: no age reason from 62 on). Ids from `first_id`."""
    import random

    card = json.loads(model.read_text())
    specs = _specs(model)
    values = [bin_values(c, s) for c, s in zip(card["features"], specs)]
    rnd = random.Random(seed)
    rows: list[list[float]] = []
    for pair in card["interactions"]:
        a, b = (FEATURES.index(name) for name in pair["features"])
        for va in values[a]:
            for vb in values[b]:
                row = [rnd.choice(v) for v in values]
                row[a], row[b] = va, vb
                rows.append(row)
    for age in (30.0, 61.0, 62.0, 80.0):
        for _ in range(100):
            row = [rnd.choice(v) for v in values]
            row[1] = age
            rows.append(row)
    return [(first_id + k, row) for k, row in enumerate(rows)]


def bin_of(card: dict, v: float | None) -> int:
    """A valid value's bin, as the core finds it (bureau codes first, then missing, then the
    number of edges <= v among the range bins)."""
    n_range = len(card["range_bins"])
    has_missing = card.get("missing_bin") is not None
    if v is None or math.isnan(v):
        return n_range
    for k, sb in enumerate(card.get("special_bins", [])):
        if v in sb["codes"]:
            return n_range + has_missing + k
    return min(bisect.bisect_right(card["edges"], v), n_range - 1)


def cells_reached(model: Path, rows: list[Row]) -> tuple[set[tuple[int, int]], int]:
    """The (pair, cell) pairs the valid rows fall in, and how many cells the model has."""
    card = json.loads(model.read_text())
    core = core_predictions(model, rows)
    reached = set()
    for i, vals in rows:
        if core[str(i)] is None:
            continue
        for p, pair in enumerate(card["interactions"]):
            a, b = (FEATURES.index(name) for name in pair["features"])
            r = pair["groups"][0][bin_of(card["features"][a], vals[a])]
            c = pair["groups"][1][bin_of(card["features"][b], vals[b])]
            reached.add((p, r * len(pair["group_labels"][1]) + c))
    return reached, sum(len(pair["cells"]) for pair in card["interactions"])


def core_predictions(model: Path, rows: list[Row]) -> dict[str, object]:
    """The Python package's prediction for every row (None when it refuses the row): full
    precision, with each reason's points lost."""
    import credit_default as cd

    m = cd.Model.load(str(model))
    applicants = [
        {f: math.nan if v is None else v for f, v in zip(FEATURES, vals)} for _, vals in rows
    ]
    out = m.predict_many(applicants, errors="return")
    return {str(i): (None if isinstance(p, ValueError) else p) for (i, _), p in zip(rows, out)}


def compare_with_core(engine_rows: list[tuple], core: dict[str, object]) -> None:
    """The engine's probability and score equal the Python package's (the same core) bit for
    bit, not only to the CLI's printed digits, and so do the reasons."""
    bad = []
    for rid, p, _, score, *rest in engine_rows:
        want = core[str(rid)]
        if want is None:
            continue
        got = (float(p), float(score), [r for r in rest[:-1] if r])
        expected = (want.probability, want.score, [r.code for r in want.reasons])
        if got != expected:
            bad.append(f"id {rid}: {got} != {expected}")
    assert not bad, f"{len(bad)} rows differ from the core:\n" + "\n".join(bad[:10])


@dataclass
class CellsCase:
    """A model with cells, the rows every engine scores with it, and the oracles' answers."""

    name: str
    model: Path
    rows: list[Row]
    cli: dict[str, dict[str, str]]
    core: dict[str, object]

    def subset(self, ids: set[str]) -> CellsCase:
        rows = [r for r in self.rows if str(r[0]) in ids]
        return CellsCase(self.name, self.model, rows, {i: self.cli[i] for i in ids}, self.core)


def check_cells(engine_rows: list[tuple], case: CellsCase, exact_errors: bool = True) -> Comparison:
    """`compare` against `credit score` (every probability bit-identical), then against the core's
    full-precision answers."""
    c = compare(engine_rows, case.cli, exact_errors=exact_errors)
    assert c.scored > 0 and c.bit_identical == c.scored, c
    compare_with_core(engine_rows, case.core)
    return c
