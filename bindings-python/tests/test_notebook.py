"""The example notebook runs top to bottom (jupyter nbconvert --execute), shows its plot inline
and makes its ROC PNG; the committed notebook carries the outputs of a real run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, training_data

NOTEBOOK = ROOT / "examples" / "python" / "credit_default.ipynb"


def test_notebook_executes(tmp_path: Path) -> None:
    pytest.importorskip("nbconvert")
    pytest.importorskip("matplotlib")
    data = training_data()
    env = dict(os.environ, CREDIT_DATA=str(data), CREDIT_NOTEBOOK_OUT=str(tmp_path))
    out = tmp_path / "executed.ipynb"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--ExecutePreprocessor.timeout=1800",
            "--ExecutePreprocessor.kernel_name=python3",
            "--output",
            str(out),
            str(NOTEBOOK),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    png = tmp_path / "roc.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _check_outputs(json.loads(out.read_text()))
    assert (tmp_path / "my-scorecard.json").exists()


def _check_outputs(nb: dict[str, Any]) -> None:
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("credit-default-explanation" in "".join(h) for h in html), "explain() table missing"
    # the ROC curves are displayed in the notebook (inline backend), not only saved to a file
    assert any("image/png" in o.get("data", {}) for o in outputs), "no inline plot"


def test_notebook_does_not_force_a_backend() -> None:
    nb = json.loads(NOTEBOOK.read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "matplotlib.use(" not in code and "Agg" not in code


def test_committed_notebook_has_the_outputs_of_a_real_run() -> None:
    """Every code cell ran once, in order, in one kernel session, without an error; the outputs
    show the explanation table and the plot, and name no path of the machine that ran it."""
    text = NOTEBOOK.read_text()
    nb = json.loads(text)
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in cells] == list(range(1, len(cells) + 1))
    _check_outputs(nb)
    outputs = json.dumps([c.get("outputs", []) for c in cells])
    # Directories of the machine that ran it: the checkout's parent, the home, the temp directory
    # and the interpreter's prefix (where tracebacks and warnings point).
    machine = {str(ROOT.parent), str(Path.home()), tempfile.gettempdir(), sys.prefix}
    leaked = sorted(d for d in machine if len(d) > 1 and d in outputs)
    assert not leaked, f"machine paths in outputs: {leaked}"
