"""The CLI tarball as a user gets it: unpacked in an empty directory, the binary serves, scores and
explains with the shipped model compiled in — no flags, no model file, no repository around it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tarfile
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, artifact, free_port, run, wait_ready

VERSION = os.environ.get("CREDIT_VERSION", "")


@pytest.fixture
def cli(dist, outside) -> Path:
    tgz = artifact("credit-*-x86_64-unknown-linux-gnu.tar.gz")
    with tarfile.open(tgz) as t:
        t.extractall(outside / "unpacked", filter="data")
    (top,) = (outside / "unpacked").iterdir()
    return top


def test_tarball_holds_binary_license_readme(cli):
    name = cli.name
    assert re.fullmatch(r"credit-\d+\.\d+\.\d+(-[\w.]+)?-x86_64-unknown-linux-gnu", name), name
    if VERSION:
        assert name == f"credit-{VERSION}-x86_64-unknown-linux-gnu", (
            f"CLI tarball: {name} is not version {VERSION}"
        )
    assert os.access(cli / "credit", os.X_OK), "CLI tarball: credit is not executable"
    assert (cli / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes(), (
        "CLI tarball: LICENSE differs"
    )
    readme = (cli / "README.md").read_text()
    assert "credit serve" in readme and "Apache-2.0" in readme, (
        "CLI tarball: README lacks usage/license"
    )


def test_glibc_needed_is_what_the_readme_says(cli):
    """The README promises glibc 2.34 or newer; the binary must not need a newer symbol."""
    out = run(["objdump", "-T", cli / "credit"], "CLI tarball: objdump").stdout
    versions = {tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_([0-9.]+)", out)}
    assert versions, "CLI tarball: no glibc symbol versions found"
    assert max(versions) <= (2, 34), f"CLI tarball: needs glibc {max(versions)}, README says 2.34"
    assert "glibc 2.34" in (cli / "README.md").read_text()


def test_version(cli, outside, clean_env):
    r = run(
        [cli / "credit", "--version"], "CLI tarball: credit --version", cwd=outside, env=clean_env
    )
    if VERSION:
        assert r.stdout.strip() == f"credit {VERSION}", r.stdout


def test_serve_with_no_flags_in_an_empty_dir_answers_predict(cli, outside, clean_env, vectors):
    empty = outside / "empty"
    empty.mkdir()
    env = dict(clean_env, PORT=str(free_port()))  # what Cloud Run sets; not a flag
    proc = subprocess.Popen(
        [str(cli / "credit"), "serve"],
        cwd=empty,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_ready(proc, url, "CLI tarball: `credit serve`", 30)
        for v in vectors["valid"][:20]:
            req = urllib.request.Request(
                url + "/predict",
                data=json.dumps(v["input"]).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=5) as r:
                got = json.loads(r.read())
            want = v["expected"]
            assert got["probability"] == want["probability"], (
                f"CLI tarball serve, {v['name']}: {got}"
            )
            assert got["prediction"] == want["prediction"]
            assert [x["code"] for x in got["reasons"]] == want["reasons"]
        with urllib.request.urlopen(url + "/model", timeout=5) as r:
            info = json.loads(r.read())
        assert info["checksum"] == vectors["model_checksum"], "CLI tarball: serves another model"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert (empty / ".work" / "predictions.db").exists(), (
        "CLI tarball: no prediction journal written"
    )


def test_score_and_explain_with_no_model_flag(cli, outside, clean_env, vectors):
    seed = next(v for v in vectors["valid"] if v["name"] == "seed example")
    order = vectors["feature_order"]
    csv = outside / "applicants.csv"
    csv.write_text(
        "id,"
        + ",".join(order)
        + "\n1,"
        + ",".join(str(x) for x in seed["row"])
        + "\n2,0.5,17,0,0.1,1000,1,0,0,0,0\n"
    )
    r = run(
        [cli / "credit", "score", csv, "-o", "-", "--quiet"],
        "CLI tarball: credit score",
        cwd=outside,
        env=clean_env,
    )
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3, r.stdout
    header = lines[0].split(",")
    first = dict(zip(header, lines[1].split(",")))
    assert float(first["probability"]) == seed["expected"]["probability"], (
        f"CLI tarball score: {first}"
    )
    assert "age" in lines[2] and "out_of_range" in lines[2], (
        f"CLI tarball score: row 2 not refused: {lines[2]}"
    )
    r = run(
        [cli / "credit", "explain", "--json", json.dumps(seed["input"])],
        "CLI tarball: credit explain",
        cwd=outside,
        env=clean_env,
    )
    assert json.loads(r.stdout)["probability"] == seed["expected"]["probability"]
