"""`make run`, the README's first command: serves the shipped model with the real web page at / and
/gradio (the built web/dist page, not the how-to-build placeholder) and answers POST /predict."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request

from conftest import ROOT, free_port, wait_ready


def _get(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, r.read()


def test_make_run_serves_the_real_page_and_predicts(vectors):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base, "make run", 600)  # builds whatever is missing first
        page = (ROOT / "web" / "dist" / "index.html").read_bytes()
        for path in ("/", "/gradio"):
            status, body = _get(base + path)
            assert status == 200 and body == page, f"make run: {path} is not the built web page"
        seed = next(v for v in vectors["valid"] if v["name"] == "seed example")
        status, body = _get(base + "/predict", json.dumps(seed["input"]).encode())
        assert json.loads(body)["probability"] == seed["expected"]["probability"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
