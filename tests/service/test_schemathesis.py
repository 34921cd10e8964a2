"""Property-based API tests: schemathesis generates requests (valid and invalid) from
/openapi.json; no answer may be a 5xx, and every answer must match the documented schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from serve_helpers import Server


def test_schemathesis_no_5xx_and_schema_conformance(make_server: Any, workdir: Path) -> None:
    s: Server = make_server("--log", f"sqlite://{workdir}/p.db", "--max-batch", "50",
                            env={"CREDIT_ADMIN_TOKEN": "st-token"})
    st = Path(sys.executable).parent / "schemathesis"
    cmd = [
        str(st), "run", f"{s.url}/openapi.json",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", "60",
        "--seed", "20260101",
        "--workers", "2",
        "--request-timeout", "10",
        "--suppress-health-check", "all",
        "--header", "Authorization: Bearer st-token",
    ]
    p = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600, cwd=workdir)
    print(p.stdout[-6000:])
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-2000:]
    # The server survived it all.
    assert s.get("/health").status_code == 200
    assert s.get("/ready").status_code == 200
