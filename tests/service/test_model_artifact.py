"""`GET /model/artifact` through real HTTP: the exact bytes of the model being served, its checksum
as a strong ETag, `no-cache`, 304 on `If-None-Match`, HEAD, and a new artifact and ETag after
`POST /admin/reload` with a different model (trained here on synthetic data). Also: the page's
static files are revalidated (no five-minute cache that would keep an old bundled model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from serve_helpers import CREDIT, MODEL, ROOT, SEED, Server

AUTH = {"authorization": "Bearer s3cret"}
SECOND_VERSION = "2.0.0-artifact-test"


@pytest.fixture(scope="module")
def second_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid model other than the shipped one: `credit train` on 3,000 synthetic rows."""
    d = tmp_path_factory.mktemp("second-model")
    data = d / "synthetic.csv.gz"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "synth_data.py"),
            "--out",
            str(data),
            "--rows",
            "3000",
            "--seed",
            "14",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    out = d / "model.json"
    subprocess.run(
        [
            str(CREDIT),
            "train",
            "--data",
            str(data),
            "--out",
            str(out),
            "--folds",
            "2",
            "--max-bins",
            "8",
            "--model-version",
            SECOND_VERSION,
            "--quiet",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


def checksum_of(path: Path) -> str:
    return str(json.loads(path.read_text())["checksum"])


def served(s: Server, etag: str | None = None) -> Any:
    return s.get("/model/artifact", headers={"if-none-match": etag} if etag else {})


def test_artifact_bytes_etag_and_conditional_get(make_server: Any, workdir: Path) -> None:
    s = make_server("--log", f"sqlite://{workdir}/p.db")
    r = served(s)
    assert r.status_code == 200, r.text
    assert r.content == MODEL.read_bytes(), "not the loaded file's exact bytes"
    assert r.headers["content-type"] == "application/json"
    etag = f'"{checksum_of(MODEL)}"'
    assert r.headers["etag"] == etag and s.get("/model").json()["checksum"] == checksum_of(MODEL)
    assert r.headers["cache-control"] == "no-cache"
    for given in (etag, f"W/{etag}", f'"sha256:other", {etag}', "*"):
        r = served(s, given)
        assert r.status_code == 304, given
        assert (
            r.content == b""
            and r.headers["etag"] == etag
            and r.headers["cache-control"] == "no-cache"
        )
    for given in (
        '"sha256:other"',
        checksum_of(MODEL),
        etag[:-2] + '"',
    ):  # another tag, unquoted, truncated
        assert served(s, given).status_code == 200, given
    h = requests.head(s.url + "/model/artifact", timeout=10)
    assert h.status_code == 200 and h.content == b""
    assert h.headers["etag"] == etag and h.headers["content-type"] == "application/json"
    assert h.headers.get("content-length") in (None, str(len(MODEL.read_bytes())))
    assert (
        requests.head(
            s.url + "/model/artifact", headers={"if-none-match": etag}, timeout=10
        ).status_code
        == 304
    )
    metrics = s.get("/metrics").text
    assert 'credit_http_requests_total{route="/model/artifact",status="200"}' in metrics
    assert 'credit_http_requests_total{route="/model/artifact",status="304"}' in metrics


def test_artifact_follows_reload(make_server: Any, workdir: Path, second_model: Path) -> None:
    s = make_server("--log", f"sqlite://{workdir}/p.db", env={"CREDIT_ADMIN_TOKEN": "s3cret"})
    first = served(s)
    old_etag = first.headers["etag"]
    # A refused artifact changes nothing.
    bad = workdir / "bad.json"
    art = json.loads(MODEL.read_text())
    art["intercept"] += 1.0
    bad.write_text(json.dumps(art))
    assert s.post("/admin/reload", {"path": str(bad)}, headers=AUTH).status_code == 422
    assert served(s, old_etag).status_code == 304
    # A different model: new bytes, new ETag; the old ETag no longer matches.
    r = s.post("/admin/reload", {"path": str(second_model)}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["model_version"] == SECOND_VERSION
    after = served(s, old_etag)
    assert after.status_code == 200
    assert after.content == second_model.read_bytes()
    new_etag = after.headers["etag"]
    assert new_etag == f'"{checksum_of(second_model)}"' != old_etag
    assert served(s, new_etag).status_code == 304
    assert s.post("/predict", SEED).json()["model_version"] == SECOND_VERSION
    # A bodiless reload re-reads the model the last reload named (it sticks): same bytes.
    assert s.post("/admin/reload", None, data=b"", headers=AUTH).status_code == 200
    assert served(s).headers["etag"] == new_etag
    # Back to the first model by naming it: the first artifact and ETag again.
    assert s.post("/admin/reload", {"model": str(MODEL)}, headers=AUTH).status_code == 200
    back = served(s)
    assert back.content == first.content and back.headers["etag"] == old_etag


def test_static_files_are_revalidated(make_server: Any, workdir: Path) -> None:
    """No `max-age`: a rebuilt page (or its bundled default-model.json) is seen on the next load."""
    web = workdir / "web"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>page</title>")
    model = web / "assets" / "default-model.json"
    model.write_text('{"v": 1}')
    s = make_server("--log", f"sqlite://{workdir}/p.db", "--web-dir", str(web))
    r = s.get("/assets/default-model.json")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-cache", r.headers
    etag = r.headers["etag"]
    assert etag.startswith('W/"')
    r = s.get("/gradio/assets/default-model.json", headers={"if-none-match": etag})
    assert r.status_code == 304 and r.content == b""
    time.sleep(0.01)
    model.write_text('{"v": 22}')
    os.utime(model, ns=(time.time_ns(), time.time_ns()))
    r = s.get("/assets/default-model.json", headers={"if-none-match": etag})
    assert r.status_code == 200 and r.json() == {"v": 22} and r.headers["etag"] != etag
    assert s.get("/").headers["cache-control"] == "no-cache"


def test_artifact_is_documented(make_server: Any, workdir: Path) -> None:
    """In /openapi.json, so schemathesis exercises it (If-None-Match included)."""
    s = make_server("--log", f"sqlite://{workdir}/p.db")
    op = s.get("/openapi.json").json()["paths"]["/model/artifact"]["get"]
    assert set(op["responses"]) == {"200", "304"}
    assert "ETag" in op["responses"]["200"]["headers"]
    assert [p["name"] for p in op["parameters"]] == ["If-None-Match"]
