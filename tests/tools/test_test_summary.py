"""`scripts/test-summary.py`, the CI job summary: what it must never leave out."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_summary():
    spec = importlib.util.spec_from_file_location(
        "test_summary", ROOT / "scripts" / "test-summary.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_checks_left_out_are_listed_even_when_no_suite_wrote_results(tmp_path: Path) -> None:
    # `make test-model-reproduction` on the synthetic stand-in writes only a skip note: the
    # nightly job's summary must still say the comparison did not run, and why.
    (tmp_path / "skips").mkdir()
    (tmp_path / "skips" / "model-reproduction.txt").write_text("skipped: needs the real data\n")
    text = load_summary().render(tmp_path)
    assert "No test results found" in text
    assert "`model-reproduction` | skipped: needs the real data" in text


def test_checks_left_out_are_listed_beside_the_suites(tmp_path: Path) -> None:
    (tmp_path / "junit").mkdir()
    (tmp_path / "junit" / "slow.xml").write_text(
        '<testsuites><testsuite name="pytest" tests="1"><testcase classname="t" name="a"/>'
        "</testsuite></testsuites>"
    )
    (tmp_path / "skips").mkdir()
    (tmp_path / "skips" / "model-reproduction.txt").write_text("skipped: needs the real data\n")
    text = load_summary().render(tmp_path)
    assert "| slow | 1 | 0 | 0 | 0 |" in text
    assert "`model-reproduction` | skipped: needs the real data" in text
