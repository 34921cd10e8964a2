"""Shared fixtures of the container tests: paths, a podman wrapper, the image and a running container.

The image is built from the repository's Dockerfile (target ``runtime-prebuilt``) around the release
binary that ``make`` built on the host, on top of a Debian base image made locally with debootstrap
(``base-image.sh``), because no image registry is reachable from these machines.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WORK = Path(os.environ.get("CREDIT_WORK", ROOT / ".work")).resolve()
CONTAINER_WORK = WORK / "container"
IMAGE = "localhost/credit:test"


def free_port() -> int:
    """A TCP port that is free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Podman:
    """Runs podman against the test's own storage (``PODMAN_OPTS``) and containers.conf."""

    opts: list[str]
    env: dict[str, str]

    def cmd(self, *args: str) -> list[str]:
        return ["podman", *self.opts, *args]

    def run(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self.cmd(*args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        return proc


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
    path = Path(
        os.environ.get("CREDIT", ROOT / "target" / "release" / "credit")
    ).resolve()
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
    """Builds the runtime image around the host's release binary; returns its name."""
    CONTAINER_WORK.mkdir(parents=True, exist_ok=True)
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
    return IMAGE


@dataclass
class Container:
    """A started container of the image and the loopback URL its port is published on."""

    name: str
    url: str
    port: int
    podman: Podman

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        req = urllib.request.Request(
            self.url + path, data=body, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read(), dict(resp.headers.items())
        except urllib.error.HTTPError as err:
            return err.code, err.read(), dict(err.headers.items())

    def post_json(self, path: str, payload: Any) -> tuple[int, Any]:
        status, body, _ = self.request(
            "POST",
            path,
            json.dumps(payload).encode(),
            {"Content-Type": "application/json"},
        )
        return status, json.loads(body) if body else None

    def logs(self) -> str:
        proc = self.podman.run("logs", self.name, check=False)
        return proc.stdout + proc.stderr


def wait_until_ready(c: Container, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    last = ""
    while time.monotonic() < end:
        state = c.podman.run(
            "inspect", "--format", "{{.State.Status}}", c.name, check=False
        ).stdout.strip()
        if state in ("exited", "stopped"):
            raise AssertionError(f"container exited during start-up:\n{c.logs()}")
        try:
            status, _, _ = c.request("GET", "/ready")
            if status == 200:
                return
            last = f"/ready answered {status}"
        except OSError as err:
            last = str(err)
        time.sleep(0.2)
    raise AssertionError(
        f"container not ready after {deadline_s}s ({last}):\n{c.logs()}"
    )


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
    c = Container(
        name=name, url=f"http://127.0.0.1:{host_port}", port=host_port, podman=podman
    )
    try:
        wait_until_ready(c)
        yield c
    finally:
        podman.run("rm", "-f", "-t", "2", name, check=False)
