"""The container archive as a user gets it: `podman load` of dist/credit-<v>.oci.tar into an empty
image store, then the repository's own container test suite (tests/container/test_container.py)
runs against the loaded image: /predict like the core, the real web page, non-root, SIGTERM drain,
Cloud Run's environment."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, artifact, run

VERSION = os.environ.get("CREDIT_VERSION", "")


def test_loaded_archive_passes_the_container_suite(dist, outside):
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed (make test-container installs it)")
    archive = artifact("credit-*.oci.tar")
    if VERSION:
        assert archive.name == f"credit-{VERSION}.oci.tar", archive.name
    # An empty image store of its own: nothing built in the repository's store can stand in.
    opts = ["--root", str(outside / "storage"), "--runroot", str(outside / "run")]
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(ROOT / "tests" / "container" / "containers.conf"))
    r = run(["podman", *opts, "load", "-q", "-i", archive], f"{archive.name}: podman load", env=env)
    loaded = r.stdout.strip().rsplit(" ", 1)[-1]
    images = run(
        ["podman", *opts, "images", "--format", "{{.Repository}}:{{.Tag}}"],
        f"{archive.name}: podman images",
        env=env,
    ).stdout.split()
    assert images, f"{archive.name}: nothing loaded ({r.stdout})"
    image = loaded if ":" in loaded else images[0]
    lic = run(
        [
            "podman",
            *opts,
            "run",
            "--rm",
            "--entrypoint",
            "cat",
            image,
            "/usr/share/doc/credit/LICENSE",
        ],
        f"{archive.name}: reading the image's LICENSE",
        env=env,
    ).stdout
    assert lic == (ROOT / "LICENSE").read_text(), (
        f"{archive.name}: /usr/share/doc/credit/LICENSE is not the project's"
    )
    labels = run(
        ["podman", *opts, "image", "inspect", "--format", "{{json .Labels}}", image],
        f"{archive.name}: podman image inspect",
        env=env,
    ).stdout
    for key in ("org.opencontainers.image.licenses", "org.opencontainers.image.source"):
        assert key in labels, f"{archive.name}: label {key} missing ({labels})"
    try:
        suite = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                str(ROOT / "tests" / "container" / "test_container.py"),
                # HEALTHCHECK is a Docker-format field; the OCI image format has none, so an OCI
                # archive cannot carry it (Cloud Run and Kubernetes probe /ready and /health instead;
                # `docker run --health-cmd` restores it). Everything else in the suite applies.
                "--deselect",
                "tests/container/test_container.py::test_healthcheck_passes",
            ],
            env=dict(
                env, CONTAINER_IMAGE=image, PODMAN_OPTS=" ".join(shlex.quote(o) for o in opts)
            ),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            cwd=ROOT,
        )
        if suite.returncode != 0:
            pytest.fail(
                f"{archive.name} ({image}): the container suite failed\n{suite.stdout[-6000:]}\n{suite.stderr[-2000:]}"
            )
        print(suite.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(
            ["podman", *opts, "system", "reset", "-f"], env=env, capture_output=True, check=False
        )
