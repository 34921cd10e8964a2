"""The README's Python benchmark table, generated from one `bench_python.py` result file.

    python benches/python/results_table.py                      # newest .work/bench/python-*.json
    python benches/python/results_table.py FILE.json [-o OUT.md]

Writes markdown to `.work/bench/python-table.md` (or `-o`) and prints it; a maintainer copies it into
the README. Ratios are peer time / credit_default time from the same run: the dict path for one
applicant, numpy with probability and score on one thread for 1M rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from machine import cpu_line  # benches/machine.py, shared by the benches

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".work" / "bench"
BASE = {
    "one applicant": "credit_default, from a dict (validation + score + reasons)",
    "batch": "credit_default, numpy (probability + score)",
}


def fmt(s: float) -> str:
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def newest() -> Path:
    files = sorted(WORK.glob("python-*.json"))
    if not files:
        raise SystemExit(f"no python-*.json in {WORK}; run `make bench-python` first")
    return files[-1]


def table(doc: dict[str, Any]) -> str:
    base = {
        case: next((r["best"] for r in doc["results"] if r["engine"] == engine), None)
        for case, engine in BASE.items()
    }
    lines = [
        "| case | engine | best | median | ratio to credit_default |",
        "|---|---|---:|---:|---:|",
    ]
    for r in doc["results"]:
        b = base.get(r["case"])
        ratio = (
            "1×" if r["engine"] == BASE.get(r["case"]) else (f"{r['best'] / b:.1f}×" if b else "")
        )
        case = r["case"] if r["case"] != "batch" else f"{doc['rows']:,} rows"
        lines.append(
            f"| {case} | {r['engine']} | {fmt(r['best'])} | {fmt(r['median'])} | {ratio} |"
        )
    return "\n".join(lines)


def notes(doc: dict[str, Any]) -> str:
    m, la = doc["machine"], doc["load_average"]
    out = [
        (
            f"{doc['rows']:,} rows ({doc['rows_source']}), best and median of {doc['repeat']} repeats, "
            f"run {doc['started']} at commit {doc['git_commit']}; {cpu_line(m)}, "
            f"{m['logical_cpus']} CPUs; load average {la['before'][0]} before, "
            f"{la['after'][0]} after."
        ),
        "Versions: " + ", ".join(f"{k} {v}" for k, v in doc["versions"].items()) + ".",
        "Same model: largest |Δ probability| to credit_default on the benchmark rows: "
        + (", ".join(f"{k} {v:.1g}" for k, v in doc["same_model_check"].items()) or "none checked")
        + ".",
    ]
    if "sql" in doc:
        out.append(f"DuckDB's SQL: {doc['sql']}.")
    for name, why in doc.get("skipped", {}).items():
        out.append(f"Skipped {name}: {why}.")
    for t in doc["targets"]:
        r = "n/a" if t["ratio"] is None else f"{t['ratio']:.1f}×"
        verdict = {True: "met", False: "not met", None: "not measured"}[t["met"]]
        goal = "" if t["at_least"] is None else f" (target ≥ {t['at_least']:.0f}×: {verdict})"
        out.append(f"Target, {t['target']}: {r}{goal}.")
    return "\n".join(f"* {line}" for line in out)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "file", nargs="?", type=Path, help="result JSON (a bare name is looked up in .work/bench)"
    )
    ap.add_argument("-o", "--output", type=Path, default=WORK / "python-table.md")
    args = ap.parse_args()
    path = args.file or newest()
    if not path.exists() and (WORK / path).exists():
        path = WORK / path
    doc = json.loads(path.read_text())
    text = table(doc) + "\n\n" + notes(doc) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
