#!/usr/bin/env python3
"""A synthetic stand-in for the Give Me Some Credit training data (standard library only).

Writes a gzip CSV in exactly the layout of the Kaggle file `cs-training.csv.gz` (see README,
Data): CRLF line endings, a header whose first column name is empty (the row id), the 12 columns
in the Kaggle order, `NA` for missing values, ids ascending with gaps. The values are plausible,
not real: incomes and dependents missing in about 20% / 2.6% of rows, a few past-due sentinel
codes (96, 98), utilisations above 1, debt ratios in the thousands where the income is missing,
and one row with age 0 (which the scorecard refuses, as it refuses the real data's). The label
is drawn from a logistic model of the features, its intercept solved for a 6.7% event rate, so
that training finds signal (cross-validated AUC around 0.8).

The same seed and row count give the same bytes (gzip without a name or time stamp).

    python3 scripts/synth_data.py --out .work/synthetic/cs-training.csv.gz [--rows 20000] [--seed 2011]

It stands in for the real data where that is not available (a fresh CI machine): tests whose
assertions hold only for the real data skip when CREDIT_DATA_SYNTHETIC=1.
"""

from __future__ import annotations

import argparse
import gzip
import math
import random
import sys
from pathlib import Path

HEADER = [
    "",
    "SeriousDlqin2yrs",
    "RevolvingUtilizationOfUnsecuredLines",
    "age",
    "NumberOfTime30-59DaysPastDueNotWorse",
    "DebtRatio",
    "MonthlyIncome",
    "NumberOfOpenCreditLinesAndLoans",
    "NumberOfTimes90DaysLate",
    "NumberRealEstateLoansOrLines",
    "NumberOfTime60-89DaysPastDueNotWorse",
    "NumberOfDependents",
]
EVENT_RATE = 0.0668


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method (the rates used here are small)."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def choice(rng: random.Random, weights: list[float]) -> int:
    return rng.choices(range(len(weights)), weights=weights)[0]


def num(x: float) -> str:
    """A decimal as the Kaggle file writes it: at most 9 decimals, no trailing zeros."""
    s = f"{x:.9f}".rstrip("0").rstrip(".")
    return s if s not in ("", "-0") else "0"


def applicant(rng: random.Random) -> tuple[list[float | None], float]:
    """One applicant's ten features (Kaggle order, None = NA) and its log-odds without intercept."""
    risk = rng.gauss(0.0, 1.0)  # latent credit quality, shared by utilisation and past-due counts
    age = min(103, max(21, round(rng.gauss(52.5, 14.7) - 2.0 * risk)))

    u = rng.random()
    if u < 0.0025:  # data-entry oddities far above 1
        util = round(math.exp(rng.uniform(1.0, 8.0)), 0)
    elif u < 0.022:
        util = 1.0 + rng.expovariate(4.0)
    elif u < 0.12:
        util = rng.choice([0.9999999, rng.uniform(0.93, 1.0)])
    elif u < 0.30:
        util = rng.uniform(0.0, 0.03)
    else:
        util = rng.betavariate(0.7 + 0.35 * max(risk + 1.0, 0.0), 1.6)

    lam = 0.12 * math.exp(0.9 * risk)
    late30, late60, late90 = (
        poisson(rng, 2.4 * lam),
        poisson(rng, 0.9 * lam),
        poisson(rng, 1.0 * lam),
    )
    sentinel = rng.random() < 0.0018
    if sentinel:  # bureau codes: all three past-due counts carry the same 96/98
        code = 96 if rng.random() < 0.02 else 98
        late30 = late60 = late90 = code
        util = 0.9999999

    income: float | None = None
    if rng.random() >= 0.198:
        income = (
            0.0
            if rng.random() < 0.012
            else float(round(math.exp(rng.gauss(8.55 - 0.08 * risk, 0.62))))
        )
    if income is None or income == 0:
        # the debt ratio of an applicant without income is the monthly debt itself
        debt = 0.0 if rng.random() < 0.08 else round(math.exp(rng.gauss(6.9, 1.3)), 0)
        debt_ratio = min(debt, 300_000.0)
    else:
        debt_ratio = min(math.exp(rng.gauss(-1.0, 0.85)), 50.0)
        if rng.random() < 0.03:
            debt_ratio = 0.0

    dependents: float | None = float(choice(rng, [59, 18, 13, 6.4, 1.9, 0.5, 0.1, 0.05]))
    if income is None and rng.random() < 0.13:
        dependents = None
    open_lines = min(60, max(0, round(rng.gammavariate(3.2, 2.6))))
    real_estate = min(30, choice(rng, [37.5, 35, 21, 4.2, 1.5, 0.5, 0.2, 0.1, 0.06]))

    late_sum = (
        0.0 if sentinel else 0.55 * min(late30, 6) + 0.75 * min(late60, 6) + 1.05 * min(late90, 6)
    )
    z = (
        2.3 * min(util, 1.3)
        + late_sum
        + (2.0 if sentinel else 0.0)
        - 0.028 * (age - 52)
        + (0.15 if income is None else -0.22 * (math.log1p(income) - 8.5))
        + 0.07 * (dependents or 0.0)
        + (0.25 if debt_ratio > 1.5 and income else 0.0)
        - 0.03 * min(open_lines, 15)
        + 0.12 * (real_estate == 0)
    )
    row = [
        util,
        float(age),
        float(late30),
        debt_ratio,
        income,
        float(open_lines),
        float(late90),
        float(real_estate),
        float(late60),
        dependents,
    ]
    return row, z


def solve_intercept(zs: list[float], rate: float) -> float:
    """The intercept b with mean(sigmoid(b + z)) = rate (bisection)."""
    lo, hi = -20.0, 10.0
    for _ in range(60):
        mid = (lo + hi) / 2
        mean = sum(1.0 / (1.0 + math.exp(-(mid + z))) for z in zs) / len(zs)
        lo, hi = (mid, hi) if mean < rate else (lo, mid)
    return (lo + hi) / 2


def generate(rows: int, seed: int) -> tuple[list[str], int]:
    """The CSV lines (header first, no line endings) and the number of positives."""
    rng = random.Random(seed)
    people = [applicant(rng) for _ in range(rows)]
    b = solve_intercept([z for _, z in people], EVENT_RATE)
    out = [",".join(HEADER)]
    row_id, positives = 0, 0
    bad_age_at = rows // 2  # one row with age 0, as in the real data
    for i, (x, z) in enumerate(people):
        row_id += 1 + (rng.random() < 0.25) * (1 + int(rng.expovariate(1.0)))
        y = int(rng.random() < 1.0 / (1.0 + math.exp(-(b + z))))
        positives += y
        if i == bad_age_at:
            x[1] = 0.0
        cells = [str(row_id), str(y)] + ["NA" if v is None else num(v) for v in x]
        out.append(",".join(cells))
    return out, positives


def write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    data = "".join(line + "\r\n" for line in lines).encode("ascii")
    with (
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as g,
    ):
        g.write(data)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="the .csv.gz to write")
    ap.add_argument("--rows", type=int, default=20_000, help="data rows (default 20,000)")
    ap.add_argument("--seed", type=int, default=2011, help="random seed (default 2011)")
    args = ap.parse_args(argv)
    if args.rows < 100:
        ap.error("--rows must be at least 100")
    lines, positives = generate(args.rows, args.seed)
    write(args.out, lines)
    print(
        f"synthetic Give Me Some Credit data: {args.rows} rows, {positives} positives "
        f"({positives / args.rows:.3%}), seed {args.seed} -> {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
