"""The runtime image under podman: real HTTP into the container, the shared vectors, the default
SQLite prediction log on the container's writable directory, non-root user, HEALTHCHECK, SIGTERM."""

from __future__ import annotations

import json
import sqlite3
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml
from container_support import HERE, ROOT, Container, Podman, free_port, wait_until_ready


def close(a: float, b: float) -> bool:
    """Probabilities agree to a few ulps (the contract of testdata/vectors.json)."""
    return abs(a - b) <= 4 * sys.float_info.epsilon * max(abs(a), abs(b))


def assert_matches(vector: dict[str, Any], got: dict[str, Any], model_version: str) -> None:
    exp = vector["expected"]
    name = vector["name"]
    assert got["prediction"] == exp["prediction"], name
    assert close(got["probability"], exp["probability"]), (
        name,
        got["probability"],
        exp["probability"],
    )
    assert abs(got["score"] - exp["score"]) <= 1e-9, (name, got["score"], exp["score"])
    assert [r["code"] for r in got["reasons"]] == exp["reasons"], name
    assert got["model_version"] == model_version
    assert isinstance(got["request_id"], str) and got["request_id"]


def test_health_ready_and_port_from_env(container: Container) -> None:
    # The fixture set PORT=9090 inside the container and published only that port.
    assert container.request("GET", "/health")[0] == 200
    assert container.request("GET", "/ready")[0] == 200


def test_logs_are_cloud_logging_json(container: Container) -> None:
    """Cloud Run forwards stdout/stderr lines to Cloud Logging, which reads JSON with `severity`."""
    lines = [ln for ln in container.logs().splitlines() if ln.startswith("{")]
    assert lines, container.logs()
    records = [json.loads(ln) for ln in lines]
    assert all("severity" in r and "message" in r for r in records)


def test_predict_answers_like_the_core(container: Container, vectors: dict[str, Any]) -> None:
    assert vectors["valid"], "no valid vectors"
    for v in vectors["valid"]:
        status, body = container.post_json("/predict", v["input"])
        assert status == 200, (v["name"], body)
        assert_matches(v, body, vectors["model_version"])


def test_invalid_input_is_a_422_listing_every_error(
    container: Container, vectors: dict[str, Any]
) -> None:
    for v in vectors["invalid"]:
        status, body = container.post_json("/predict", v["input"])
        assert status == 422, (v["name"], status, body)
        got = {(d["loc"][-1], d["type"]) for d in body["detail"]}
        want = {(e["field"], e["code"]) for e in v["errors"]}
        assert want <= got, (v["name"], want, got)
    status, _, _ = container.request(
        "POST", "/predict", b'{"age": ', {"Content-Type": "application/json"}
    )
    assert status == 400
    assert container.request("GET", "/health")[0] == 200


def test_model_endpoint_reports_the_shipped_model(
    container: Container, vectors: dict[str, Any]
) -> None:
    status, body, _ = container.request("GET", "/model")
    assert status == 200
    model = json.loads(body)
    assert model["model_version"] == vectors["model_version"]
    assert model["checksum"] == vectors["model_checksum"]


def test_serves_the_browser_page(container: Container) -> None:
    web = ROOT / "web" / "dist"
    page = (
        web / "index.html"
        if (web / "index.html").is_file()
        else HERE / "web-standin" / "index.html"
    )
    status, body, headers = container.request("GET", "/")
    assert status == 200
    assert headers.get("Content-Type", headers.get("content-type", "")).startswith("text/html")
    assert body == page.read_bytes()
    # The page's assets (WASM scorer, JS, CSS) are in the image too, the .wasm with its MIME type.
    assets = (
        sorted(p for p in (web / "assets").glob("*") if p.is_file()) if page.parent == web else []
    )
    for asset in assets:
        status, body, headers = container.request("GET", f"/assets/{asset.name}")
        assert status == 200, asset.name
        assert body == asset.read_bytes(), asset.name
        if asset.suffix == ".wasm":
            ctype = headers.get("Content-Type", headers.get("content-type", ""))
            assert ctype == "application/wasm", ctype


def test_runs_as_non_root(container: Container) -> None:
    user = container.podman.run(
        "inspect", "--format", "{{.Config.User}}", container.name
    ).stdout.strip()
    assert user == "10001:10001"
    uid = container.podman.run("exec", container.name, "id", "-u").stdout.strip()
    assert uid == "10001"
    # The model and the page are read-only for the service user; only its working directory is writable.
    probe = container.podman.run(
        "exec",
        container.name,
        "/bin/bash",
        "-c",
        "touch /app/models/x 2>/dev/null && echo writable || echo ro",
    )
    assert probe.stdout.strip() == "ro"


def test_healthcheck_passes(container: Container) -> None:
    proc = container.podman.run("healthcheck", "run", container.name, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cloud_run_env_from_service_yaml_starts_and_journals(
    podman: Podman, image: str, vectors: dict[str, Any]
) -> None:
    """The env of deploy/cloudrun/service.yaml works in this image: with the BigQuery sink down
    (an unreachable API base, so nothing leaves the machine) the service is ready, answers, and the
    records wait in the journal at CREDIT_JOURNAL."""
    doc = yaml.safe_load((ROOT / "deploy" / "cloudrun" / "service.yaml").read_text())
    (spec,) = doc["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in spec["env"]}
    env["CREDIT_LOG"] = "bigquery://demo-project/credit/predictions"
    env["BIGQUERY_API_BASE"] = "http://127.0.0.1:9"
    name = f"credit-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env_args = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
    podman.run(
        "run",
        "-d",
        "--name",
        name,
        "-e",
        "PORT=8080",
        *env_args,
        "-p",
        f"127.0.0.1:{port}:8080",
        image,
        *spec["args"],
    )
    c = Container(name=name, url=f"http://127.0.0.1:{port}", port=port, podman=podman)
    try:
        wait_until_ready(c)
        v = vectors["valid"][0]
        status, body = c.post_json("/predict", v["input"])
        assert status == 200, body
        assert_matches(v, body, vectors["model_version"])
        journal = env["CREDIT_JOURNAL"]
        probe = podman.run("exec", name, "/bin/bash", "-c", f"test -s {journal} && echo present")
        assert probe.stdout.strip() == "present", c.logs()
    finally:
        podman.run("rm", "-f", "-t", "2", name, check=False)


def test_sigterm_drains_and_the_sqlite_log_has_every_answer(
    podman: Podman, image: str, vectors: dict[str, Any], tmp_path: Path
) -> None:
    """Default sink: every 200 is a row in /var/lib/credit/predictions.db; SIGTERM exits cleanly."""
    name = f"credit-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    podman.run("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", image)
    c = Container(name=name, url=f"http://127.0.0.1:{port}", port=port, podman=podman)
    try:
        wait_until_ready(c)
        answered: list[str] = []
        for i in range(3):
            for v in vectors["valid"]:
                rid = f"ctr-{i}-{uuid.uuid4().hex[:12]}"
                status, body, _ = c.request(
                    "POST",
                    "/predict",
                    json.dumps(v["input"]).encode(),
                    {"Content-Type": "application/json", "X-Request-Id": rid},
                )
                assert status == 200, body
                got = json.loads(body)
                assert got["request_id"] == rid
                answered.append(rid)
        stop = podman.run("stop", "-t", "10", name)
        assert stop.returncode == 0
        code = podman.run("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        assert code == "0", c.logs()
        for suffix in ("", "-wal", "-shm"):
            podman.run(
                "cp",
                f"{name}:/var/lib/credit/predictions.db{suffix}",
                str(tmp_path),
                check=False,
            )
        db = tmp_path / "predictions.db"
        assert db.is_file(), "no prediction log in the container's working directory"
        with sqlite3.connect(db) as conn:
            rows = dict(
                conn.execute("SELECT request_id, model_version FROM predictions").fetchall()
            )
        assert sorted(rows) == sorted(answered)
        assert set(rows.values()) == {vectors["model_version"]}
    finally:
        podman.run("rm", "-f", "-t", "2", name, check=False)
