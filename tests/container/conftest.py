"""Fixtures of the container tests: podman with the test's own storage, the image, a running container.

The image is built from the repository's Dockerfile (target ``runtime-prebuilt``) around the release
binary that ``make`` built on the host, on top of a Debian base image made locally with debootstrap
(``base-image.sh``), because no image registry is reachable from these machines.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from container_support import (
    CONTAINER_WORK,
    HERE,
    IMAGE,
    ROOT,
    Container,
    Podman,
    free_port,
    wait_until_ready,
)


@pytest.fixture(scope="session")
def podman() -> Podman:
    if shutil.which("podman") is None:
        pytest.fail(
            "podman is not installed (make test-container installs it with scripts/apt-ensure.sh)"
        )
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(HERE / "containers.conf"))
    opts = shlex.split(
        env.get(
            "PODMAN_OPTS",
            f"--root {CONTAINER_WORK / 'storage'} --runroot {CONTAINER_WORK / 'run'}",
        )
    )
    env["PODMAN_OPTS"] = " ".join(shlex.quote(o) for o in opts)
    return Podman(opts=opts, env=env)


@pytest.fixture(scope="session")
def credit_bin() -> Path:
    path = Path(os.environ.get("CREDIT", ROOT / "target" / "release" / "credit")).resolve()
    assert path.is_file(), f"release binary {path} missing: run `make build`"
    try:
        path.relative_to(ROOT)
    except ValueError:
        pytest.fail(f"{path} must be inside the build context {ROOT}")
    return path


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    path = ROOT / "testdata" / "vectors.json"
    assert path.is_file(), "testdata/vectors.json missing (make vectors)"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@pytest.fixture(scope="session")
def image(podman: Podman, credit_bin: Path) -> str:
    """Builds the runtime image around the host's release binary; returns its name.

    With CONTAINER_BUILD=source the Dockerfile's default target is built instead (the Rust builder
    stage compiles from source; see source-build.sh): slow, for `make test-container-source`.
    CONTAINER_IMAGE=NAME tests an existing image without building.
    """
    CONTAINER_WORK.mkdir(parents=True, exist_ok=True)
    given = os.environ.get("CONTAINER_IMAGE")
    if given:  # an image built before (e.g. by source-build.sh): test it as it is
        podman.run("image", "exists", given)
        return given
    if os.environ.get("CONTAINER_BUILD") == "source":
        name = "localhost/credit:source"
        src = subprocess.run(
            [str(HERE / "source-build.sh"), str(CONTAINER_WORK), name],
            env=podman.env,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        assert src.returncode == 0, f"source build: {src.stdout[-4000:]}\n{src.stderr[-4000:]}"
        return name
    base = subprocess.run(
        [str(HERE / "base-image.sh"), str(CONTAINER_WORK)],
        env=podman.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert base.returncode == 0, f"base image: {base.stdout}\n{base.stderr}"
    web = ROOT / "web" / "dist"
    web_dist = web if (web / "index.html").is_file() else HERE / "web-standin"
    podman.run(
        "build",
        "--pull=never",
        "--format",
        "docker",  # keeps HEALTHCHECK (the OCI image format has no field for it)
        "--target",
        "runtime-prebuilt",
        "--build-arg",
        f"CREDIT_BIN={credit_bin.relative_to(ROOT)}",
        "--build-arg",
        f"WEB_DIST={web_dist.relative_to(ROOT)}",
        "-t",
        IMAGE,
        "-f",
        str(ROOT / "Dockerfile"),
        str(ROOT),
        timeout=600,
    )
    # Each new binary leaves the previous image's layers dangling in the test's own storage.
    podman.run("image", "prune", "-f", check=False)
    return IMAGE


@pytest.fixture(scope="module")
def container(podman: Podman, image: str) -> Iterator[Container]:
    """The image started as Cloud Run would: PORT set (not 8080, to prove it is honoured), default log sink."""
    name = f"credit-test-{uuid.uuid4().hex[:8]}"
    host_port = free_port()
    inner_port = 9090
    podman.run(
        "run",
        "-d",
        "--name",
        name,
        "-e",
        f"PORT={inner_port}",
        "-p",
        f"127.0.0.1:{host_port}:{inner_port}",
        image,
    )
    c = Container(name=name, url=f"http://127.0.0.1:{host_port}", port=host_port, podman=podman)
    try:
        wait_until_ready(c)
        yield c
    finally:
        podman.run("rm", "-f", "-t", "2", name, check=False)
