#!/usr/bin/env python3
"""Markdown summary of a test run (standard library only), for a CI job summary.

Reads, under the work directory (default .work):

- `junit/*.xml`: JUnit XML (pytest --junitxml, node --test's junit reporter); one suite per file;
- `junit/*.log`: the output of `cargo test` (libtest has no stable JUnit output): the
  `test <name> ... ok|FAILED|ignored[, reason]` lines;
- `skips/*.txt`: checks a test left out without skipping as a whole (Rust tests cannot skip:
  they print the reason and write one line per left-out part here);
- `data-source.txt`: which training data the run used (written by `make data`).

Prints a table of passed / failed / skipped / xfailed per suite, then every skipped test with its
reason. `python3 scripts/test-summary.py >> "$GITHUB_STEP_SUMMARY"`.
"""

from __future__ import annotations

import argparse
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

LIBTEST = re.compile(
    r"^test (?P<name>.+?) \.\.\. (?P<outcome>ok|FAILED|ignored)(?:, (?P<reason>.*))?$"
)


@dataclass
class Suite:
    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    xfailed: int = 0
    skips: list[tuple[str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    note: str = ""


def _case_name(case: ET.Element) -> str:
    cls, name = case.get("classname", ""), case.get("name", "?")
    return f"{cls}::{name}" if cls else name


def read_junit(path: Path) -> Suite:
    suite = Suite(path.stem)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        suite.note = f"unreadable JUnit XML ({e})"
        suite.failed += 1
        return suite
    for case in root.iter("testcase"):
        # node's reporter nests cases for subtests; count the leaves only
        if case.find("testcase") is not None:
            continue
        name = _case_name(case)
        failure = case.find("failure")
        error = case.find("error")
        skipped = case.find("skipped")
        if failure is not None or error is not None:
            suite.failed += 1
            suite.failures.append(name)
        elif skipped is not None:
            reason = (skipped.get("message") or skipped.text or "").strip()
            if skipped.get("type") == "pytest.xfail":
                suite.xfailed += 1
            else:
                suite.skipped += 1
                suite.skips.append((name, reason or "(no reason given)"))
        else:
            suite.passed += 1
    return suite


def read_cargo_log(path: Path) -> Suite:
    suite = Suite(path.stem)
    for line in path.read_text(errors="replace").splitlines():
        m = LIBTEST.match(line.strip())
        if not m:
            continue
        outcome = m["outcome"]
        if outcome == "ok":
            suite.passed += 1
        elif outcome == "FAILED":
            suite.failed += 1
            suite.failures.append(m["name"])
        else:
            suite.skipped += 1
            suite.skips.append((m["name"], m["reason"] or "#[ignore] (no reason given)"))
    if "error: test failed" in path.read_text(errors="replace") and not suite.failed:
        suite.failed += 1
        suite.note = "cargo test failed"
    return suite


def read_skip_notes(skips_dir: Path) -> list[tuple[str, str]]:
    notes: dict[tuple[str, str], None] = {}  # a test run twice notes the same line twice
    for p in sorted(skips_dir.glob("*.txt")):
        for line in p.read_text(errors="replace").splitlines():
            if line.strip():
                notes[(p.stem, line.strip())] = None
    return list(notes)


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(work: Path) -> str:
    junit = work / "junit"
    suites = [read_junit(p) for p in sorted(junit.glob("*.xml"))]
    suites += [read_cargo_log(p) for p in sorted(junit.glob("*.log"))]
    suites.sort(key=lambda s: s.name)
    notes = read_skip_notes(work / "skips")
    out = ["## Test summary", ""]
    source = work / "data-source.txt"
    if source.exists():
        out += [f"**{cell(source.read_text().strip())}**", ""]
    if not suites:
        out += [f"No test results found under `{junit.name}/`."]
        return "\n".join(out + notes_table(notes)) + "\n"
    out += [
        "| suite | passed | failed | skipped | xfailed |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    total = Suite("**total**")
    for s in suites:
        mark = " ❌" if s.failed else ""
        out.append(f"| {s.name}{mark} | {s.passed} | {s.failed} | {s.skipped} | {s.xfailed} |")
        total.passed += s.passed
        total.failed += s.failed
        total.skipped += s.skipped
        total.xfailed += s.xfailed
    out.append(
        f"| {total.name} | {total.passed} | {total.failed} | {total.skipped} | {total.xfailed} |"
    )
    failures = [(s.name, f) for s in suites for f in s.failures] + [
        (s.name, s.note) for s in suites if s.note
    ]
    if failures:
        out += ["", "### Failed", ""] + [f"- `{suite}`: {cell(name)}" for suite, name in failures]
    skips = [(s.name, name, reason) for s in suites for name, reason in s.skips]
    if skips:
        out += ["", "### Skipped", "", "| suite | test | reason |", "| --- | --- | --- |"]
        out += [f"| {suite} | `{cell(name)}` | {cell(reason)} |" for suite, name, reason in skips]
    return "\n".join(out + notes_table(notes)) + "\n"


def notes_table(notes: list[tuple[str, str]]) -> list[str]:
    """The checks left out, whether or not any suite wrote results (a make target that only
    skips, such as the model comparison on the synthetic data, writes just its note)."""
    if not notes:
        return []
    out = [
        "",
        "### Checks left out (the test ran, these parts of it did not)",
        "",
        "| test | what and why |",
        "| --- | --- |",
    ]
    return out + [f"| `{cell(test)}` | {cell(text)} |" for test, text in notes]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--work", type=Path, default=Path(".work"), help="the work directory (default .work)"
    )
    args = ap.parse_args(argv)
    sys.stdout.write(render(args.work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
