"""Helpers of the container tests (a module name of its own, so it cannot clash with other conftests).

The image is built from the repository's Dockerfile (target ``runtime-prebuilt``) around the release
binary that ``make`` built on the host, on top of a Debian base image made locally with debootstrap
(``base-image.sh``), because no image registry is reachable from these machines.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    raise AssertionError(f"container not ready after {deadline_s}s ({last}):\n{c.logs()}")
