"""The example notebook runs top to bottom (jupyter nbconvert --execute) and makes its ROC PNG."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
        [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.timeout=1800", "--ExecutePreprocessor.kernel_name=python3",
         "--output", str(out), str(NOTEBOOK)],
        env=env, capture_output=True, text=True, timeout=3600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    png = tmp_path / "roc.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    nb = json.loads(out.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("credit-default-explanation" in "".join(h) for h in html), "explain() table missing"
    assert (tmp_path / "my-scorecard.json").exists()
