"""Install checks of the Python artifacts in dist/: the abi3 manylinux wheel and the sdist of
`credit-default`, each installed with pip into a fresh venv outside the repository and run with
`python -I` (no PYTHONPATH, no user site, no script directory on sys.path).

- the wheel's platform tag is one `auditwheel show` accepts;
- wheel and sdist carry LICENSE and the metadata a PyPI page shows;
- the installed wheel scores every shared vector exactly as the core does (probability and score
  bit for bit, prediction, reasons) and refuses every invalid one with the listed field/code;
- the sdist, built from source by pip (maturin + cargo), gives the wheel's numbers bit for bit;
- the lowest versions the metadata allows (numpy and every extra) work, on the oldest Python;
- the one abi3 wheel imports and scores on every Python the classifiers name.
"""

from __future__ import annotations

import email
import email.message
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, artifact, run

WHEEL = "credit_default-*-cp310-abi3-*.whl"
SDIST = "credit_default-*.tar.gz"
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
# Reused by reruns: pip's build of the sdist compiles the Rust crates here (never the repo's target/).
SDIST_CARGO_TARGET = ROOT / ".work" / "dist-python-sdist-target"
# The sdist's own crates (the rest come from crates.io and never change under a version).
SDIST_CRATES = ("credit-core", "credit-default-python")

# Run inside the fresh venv: prints what the installed package computes, as JSON (floats as
# float.hex so the comparison is bit for bit). argv: vectors.json, then optional checks.
PROBE = r"""
import json, sys
import credit_default as cd
import numpy as np

vectors = json.load(open(sys.argv[1]))
checks = sys.argv[2:]
model = cd.Model.default()
out = {"file": cd.__file__, "version": cd.__version__, "model_version": model.version,
       "checksum": model.checksum, "valid": [], "invalid": []}

def cell(v):
    return float("nan") if v is None else float(v)

for case in vectors["valid"]:
    p = model.predict(case["input"])
    out["valid"].append({"name": case["name"], "probability": p.probability.hex(),
                         "score": p.score.hex(), "prediction": p.prediction,
                         "reasons": [r.code for r in p.reasons]})
for case in vectors["invalid"]:
    try:
        model.predict(case["input"])
        got = None
    except cd.ValidationError as e:
        got = sorted([e_["loc"][0], e_["type"]] for e_ in e.errors())
    out["invalid"].append({"name": case["name"], "errors": got})

rows = np.array([[cell(v) for v in c["row"]] for c in vectors["valid"]], dtype=np.float64)
out["rows"] = [float(x).hex() for x in model.probability(rows)]
cols = {name: rows[:, j] for j, name in enumerate(cd.FEATURES)}
if "frames" in checks:
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    for kind, frame in (("pandas", pd.DataFrame(cols)), ("polars", pl.DataFrame(cols)),
                        ("arrow", pa.table(cols)), ("arrow-batch", pa.table(cols).to_batches()[0])):
        out[kind] = [float(x).hex() for x in model.probability(frame)]
if "sklearn" in checks:
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score
    rng = np.random.default_rng(0)
    n = 3000
    x = np.empty((n, 10))
    x[:, 0] = rng.beta(0.6, 1.2, n) * 1.2
    x[:, 1] = rng.integers(21, 90, n)
    x[:, 2] = rng.poisson(0.3, n)
    x[:, 3] = rng.gamma(1.0, 0.4, n)
    x[:, 4] = rng.lognormal(8.5, 0.6, n).round()
    x[:, 5] = rng.integers(0, 30, n)
    x[:, 6] = rng.poisson(0.15, n)
    x[:, 7] = rng.integers(0, 5, n)
    x[:, 8] = rng.poisson(0.1, n)
    x[:, 9] = rng.integers(0, 5, n)
    z = -3.2 + 2.2 * x[:, 0] - 0.03 * (x[:, 1] - 50) + 0.9 * x[:, 2] + 1.4 * x[:, 6]
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    est = cd.CreditScorecard(folds=3).fit(x, y)
    proba = est.predict_proba(rows)
    auc = cross_val_score(clone(est), x, y, cv=3, scoring="roc_auc")
    out["sklearn"] = {"cv_auc": est.cv_auc_, "proba_shape": list(proba.shape),
                      "cross_val_auc": [float(a) for a in auc]}
print(json.dumps(out))
"""


def _meta(text: str) -> email.message.Message:
    return email.message_from_string(text)


def _check_metadata(meta: email.message.Message, what: str) -> None:
    """The fields a PyPI page shows, with the values pyproject.toml declares."""
    problems = []
    expect = {
        "Name": "credit-default",
        "License-Expression": "Apache-2.0",
        "Requires-Python": ">=3.10",
    }
    for key, value in expect.items():
        if meta.get(key) != value:
            problems.append(f"{key}: {meta.get(key)!r}, expected {value!r}")
    if "LICENSE" not in (meta.get_all("License-File") or []):
        problems.append(f"License-File: {meta.get_all('License-File')}, expected LICENSE")
    if not (meta.get("Summary") or "").strip():
        problems.append("no Summary")
    if not (meta.get("Description-Content-Type") or "").startswith("text/markdown"):
        problems.append(f"Description-Content-Type: {meta.get('Description-Content-Type')!r}")
    body = meta.get_payload()
    if "pip install credit-default" not in body or "Model.default()" not in body:
        problems.append("the long description is not bindings-python/README.md (no install line)")
    if not (meta.get("Keywords") or "").strip():
        problems.append("no Keywords")
    urls = {
        u.split(",", 1)[0].strip(): u.split(",", 1)[1].strip()
        for u in meta.get_all("Project-URL") or []
    }
    for label in ("Homepage", "Repository", "Issues", "Documentation"):
        if not urls.get(label, "").startswith("https://github.com/credit-default/credit-default"):
            problems.append(f"Project-URL {label}: {urls.get(label)!r}")
    classifiers = set(meta.get_all("Classifier") or [])
    wanted = {f"Programming Language :: Python :: {v}" for v in PYTHONS} | {
        "Programming Language :: Rust",
        "Topic :: Office/Business :: Financial",
        "Topic :: Scientific/Engineering",
        "Typing :: Typed",
    }
    for c in sorted(wanted - classifiers):
        problems.append(f"classifier missing: {c}")
    # PEP 639: with License-Expression, "License ::" classifiers are deprecated and PyPI refuses both.
    problems += [
        f"legacy license classifier: {c}" for c in classifiers if c.startswith("License ::")
    ]
    requires = meta.get_all("Requires-Dist") or []
    for dep in ("numpy", "scikit-learn", "pandas", "polars", "pyarrow"):
        if not any(re.match(rf"{dep}>=\d", r) for r in requires):
            problems.append(f"Requires-Dist has no lower bound for {dep}: {requires}")
    if problems:
        pytest.fail(f"{what}: metadata problems:\n  " + "\n  ".join(problems))


def _floors(meta: email.message.Message) -> dict[str, str]:
    """{distribution: lowest allowed version} from Requires-Dist (`name>=X`, extras included)."""
    out = {}
    for r in meta.get_all("Requires-Dist") or []:
        m = re.match(r"([A-Za-z0-9_.-]+)>=([0-9][0-9.]*)", r)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def _wheel_meta(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return _meta(z.read(name).decode())


def _python(version: str, env: dict) -> str | None:
    """An interpreter of `version` (python3.X on PATH, else a pyenv-installed one), or None."""
    cands = [shutil.which(f"python{version}", path=env.get("PATH"))]
    pyenv = shutil.which("pyenv", path=env.get("PATH"))
    if pyenv:
        r = subprocess.run([pyenv, "root"], check=False, capture_output=True, text=True, env=env)
        if r.returncode == 0:
            vers = sorted(Path(r.stdout.strip(), "versions").glob(f"{version}.*"))
            cands += [str(v / "bin" / f"python{version}") for v in reversed(vers)]
    for c in cands:
        if not c:
            continue
        r = subprocess.run(
            [c, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            check=False,
            capture_output=True,
            text=True,
            env=env,
        )
        if r.returncode == 0 and r.stdout.strip() == version:
            return c
    return None


def _venv(where: Path, python: str, env: dict, what: str) -> Path:
    run([python, "-m", "venv", where], f"{what}: python -m venv", env=env)
    py = where / "bin" / "python"
    run(
        [py, "-m", "pip", "install", "-q", "--upgrade", "pip"],
        f"{what}: upgrade pip",
        env=env,
    )
    return py


def _probe(
    py: Path,
    venv: Path,
    outside: Path,
    vectors_file: Path,
    env: dict,
    what: str,
    *checks: str,
) -> dict:
    script = outside / "probe.py"
    script.write_text(PROBE)
    r = run(
        [py, "-I", script, vectors_file, *checks],
        f"{what}: scoring the vectors",
        env=env,
        cwd=outside,
    )
    out = json.loads(r.stdout)
    installed = Path(out["file"]).resolve()
    if venv.resolve() not in installed.parents:
        pytest.fail(
            f"{what}: credit_default imported from {installed}, not from the fresh venv {venv}"
        )
    if ROOT in installed.parents:
        pytest.fail(f"{what}: credit_default imported from the repository ({installed})")
    return out


def _sdist_cargo_cache(sdist: Path) -> tuple[bool, str]:
    """Prepares SDIST_CARGO_TARGET for pip's build of `sdist`; returns (whether the sdist's own
    crates must be compiled, the sdist's sha256).

    maturin stamps every file of the sdist with one fixed old mtime, so cargo would take an
    earlier build of credit-core and the binding as fresh even after their code changed. When the
    sdist differs from the last one built here, their fingerprints are deleted: cargo compiles
    them again, and only the crates.io dependencies are reused."""
    SDIST_CARGO_TARGET.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    stamp = SDIST_CARGO_TARGET / "sdist.sha256"
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return False, digest
    stamp.unlink(missing_ok=True)
    for fp in SDIST_CARGO_TARGET.glob("*/.fingerprint/*"):
        if fp.name.rsplit("-", 1)[0] in SDIST_CRATES:
            shutil.rmtree(fp)
    return True, digest


def _vectors_copy(outside: Path) -> Path:
    dst = outside / "vectors.json"
    shutil.copyfile(ROOT / "testdata" / "vectors.json", dst)
    return dst


def _check_vectors(out: dict, vectors: dict, what: str) -> None:
    """Every valid vector bit for bit (dict and numpy-rows paths), every invalid one refused."""
    problems = []
    if (
        out["model_version"] != vectors["model_version"]
        or out["checksum"] != vectors["model_checksum"]
    ):
        problems.append(
            f"Model.default() is {out['model_version']} / {out['checksum']}, vectors are "
            f"for {vectors['model_version']} / {vectors['model_checksum']}"
        )
    for case, got, row_p in zip(vectors["valid"], out["valid"], out["rows"], strict=True):
        exp = case["expected"]
        want_p, want_s = float(exp["probability"]).hex(), float(exp["score"]).hex()
        if got["probability"] != want_p:
            problems.append(f"{case['name']}: probability {got['probability']} != {want_p}")
        if row_p != want_p:
            problems.append(f"{case['name']}: probability(rows) {row_p} != {want_p}")
        if got["score"] != want_s:
            problems.append(f"{case['name']}: score {got['score']} != {want_s}")
        if got["prediction"] != exp["prediction"]:
            problems.append(
                f"{case['name']}: prediction {got['prediction']} != {exp['prediction']}"
            )
        if got["reasons"] != exp["reasons"]:
            problems.append(f"{case['name']}: reasons {got['reasons']} != {exp['reasons']}")
    for case, got in zip(vectors["invalid"], out["invalid"], strict=True):
        want = sorted([e["field"], e["code"]] for e in case["errors"])
        if got["errors"] is None:
            problems.append(f"{case['name']}: accepted, expected ValidationError {want}")
        elif got["errors"] != want:
            problems.append(f"{case['name']}: ValidationError {got['errors']}, expected {want}")
    if problems:
        pytest.fail(f"{what}: {len(problems)} vector mismatch(es):\n  " + "\n  ".join(problems))


def _install_wheel(
    outside: Path,
    env: dict,
    python: str,
    what: str,
    extras: str = "",
    pins: list[str] | None = None,
) -> tuple[Path, Path]:
    """A fresh venv with the wheel (and `extras`, e.g. "[pandas]", and exact `pins`) from pip."""
    venv = outside / "venv-wheel"
    py = _venv(venv, python, env, what)
    run(
        [py, "-m", "pip", "install", "-q", f"{artifact(WHEEL)}{extras}", *(pins or [])],
        f"{what}: pip install",
        env=env,
        cwd=outside,
    )
    return venv, py


# --- the wheel's platform tag -------------------------------------------------------------------

_ALIASES = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def _glibc(tag: str) -> tuple[int, int] | None:
    m = re.match(r"(manylinux|musllinux)_(\d+)_(\d+)_", tag)
    if m:
        return int(m.group(2)), int(m.group(3))
    return _ALIASES.get(tag.split("_x86_64")[0].split("_aarch64")[0])


def test_wheel_platform_tag_passes_auditwheel(dist: Path) -> None:
    wheel = artifact(WHEEL)
    platforms = wheel.name[: -len(".whl")].split("-")[-1].split(".")
    what = f"dist/{wheel.name}"
    bad = [p for p in platforms if not p.startswith(("manylinux", "musllinux"))]
    if bad:
        pytest.fail(
            f"{what}: platform tag(s) {bad} are not manylinux/musllinux (PyPI refuses them)"
        )
    r = run([sys.executable, "-m", "auditwheel", "show", wheel], f"{what}: auditwheel show")
    text = " ".join(r.stdout.split())
    m = re.search(r'is consistent with the following platform tag: "([^"]+)"', text)
    if not m:
        pytest.fail(f"{what}: auditwheel found no platform tag it accepts:\n{r.stdout}")
    audited = m.group(1)
    floor = _glibc(audited)
    if floor is None or not audited.startswith(("manylinux", "musllinux")):
        pytest.fail(f"{what}: auditwheel says {audited!r}, not a manylinux/musllinux policy")
    for p in platforms:
        claimed = _glibc(p)
        if claimed is None or claimed < floor or p.startswith("musl") != audited.startswith("musl"):
            pytest.fail(
                f"{what}: the file name claims {p}, but auditwheel only accepts {audited} "
                "(the .so needs newer symbols than the tag promises)"
            )


# --- metadata and license -----------------------------------------------------------------------


def test_wheel_metadata_and_license(dist: Path) -> None:
    wheel = artifact(WHEEL)
    what = f"dist/{wheel.name}"
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        lic = [n for n in names if re.search(r"\.dist-info/licenses/LICENSE$", n)]
        if not lic:
            pytest.fail(f"{what}: no .dist-info/licenses/LICENSE in {names}")
        if z.read(lic[0]) != (ROOT / "LICENSE").read_bytes():
            pytest.fail(f"{what}: {lic[0]} differs from the repository's LICENSE")
        for need in (
            "credit_default/py.typed",
            "credit_default/_native.pyi",
            "credit_default/__init__.py",
            "credit_default/sklearn.py",
            # the loader_module of every MLflow version `credit train` registers
            "credit_default/mlflow_flavor.py",
        ):
            if need not in names:
                pytest.fail(f"{what}: {need} missing from the wheel")
        if not any(re.fullmatch(r"credit_default/_native\.abi3\.so", n) for n in names):
            pytest.fail(f"{what}: no credit_default/_native.abi3.so (not an abi3 wheel?)")
    _check_metadata(_wheel_meta(wheel), what)


def test_sdist_contents_and_metadata(dist: Path) -> None:
    sdist = artifact(SDIST)
    what = f"dist/{sdist.name}"
    with tarfile.open(sdist) as t:
        members = {m.name.split("/", 1)[1]: m for m in t.getmembers() if "/" in m.name}
        need = [
            "PKG-INFO",
            "pyproject.toml",
            "README.md",
            "LICENSE",
            "Cargo.toml",
            "Cargo.lock",
            "bindings-python/Cargo.toml",
            "bindings-python/src/lib.rs",
            "credit-core/Cargo.toml",
            "credit-core/src/lib.rs",
            "credit-core/model/default.json",
            "python/credit_default/__init__.py",
            "python/credit_default/sklearn.py",
            "python/credit_default/py.typed",
        ]
        missing = [n for n in need if n not in members]
        if missing:
            pytest.fail(f"{what}: missing {missing}; it has {sorted(members)}")

        def read(name: str) -> bytes:
            f = t.extractfile(members[name])
            assert f is not None, f"{what}: {name} is not a file"
            return f.read()

        same = {
            "LICENSE": ROOT / "LICENSE",
            "README.md": ROOT / "bindings-python" / "README.md",
            "credit-core/model/default.json": ROOT / "models" / "default.json",
        }
        for name, src in same.items():
            if read(name) != src.read_bytes():
                pytest.fail(f"{what}: {name} differs from the repository's {src.relative_to(ROOT)}")
        # Nothing that only makes sense inside the repository, and nothing built.
        stray = [
            n
            for n in members
            if n.startswith(
                (
                    "target/",
                    "bindings-python/tests/",
                    "tests/",
                    "service/",
                    "bindings-node/",
                    "bindings-wasm/",
                    "testdata/",
                    ".venv/",
                    ".work/",
                )
            )
            or n.endswith((".so", ".node", ".wasm", ".whl"))
        ]
        if stray:
            pytest.fail(f"{what}: files that do not belong in the sdist: {stray}")
        _check_metadata(_meta(read("PKG-INFO").decode()), what)


# --- installed and used -------------------------------------------------------------------------


def test_wheel_in_fresh_venv_scores_every_vector(dist, vectors, outside, clean_env) -> None:
    wheel = artifact(WHEEL)
    what = f"dist/{wheel.name} (python3 {sys.version_info[0]}.x from PATH)"
    python = shutil.which("python3", path=clean_env["PATH"]) or pytest.fail("no python3 on PATH")
    t0 = time.monotonic()
    venv, py = _install_wheel(outside, clean_env, python, what)
    out = _probe(py, venv, outside, _vectors_copy(outside), clean_env, what)
    _check_vectors(out, vectors, what)
    print(
        f"\n[python-dist] wheel: venv + install + {len(out['valid'])} valid / "
        f"{len(out['invalid'])} invalid vectors in {time.monotonic() - t0:.1f} s"
    )


def test_sdist_builds_with_pip_and_matches_the_wheel(dist, vectors, outside, clean_env) -> None:
    sdist, wheel = artifact(SDIST), artifact(WHEEL)
    what = f"dist/{sdist.name}"
    if not shutil.which("cargo", path=clean_env["PATH"]):
        pytest.fail(f"{what}: cargo is not on PATH; pip cannot build the sdist")
    python = shutil.which("python3", path=clean_env["PATH"]) or pytest.fail("no python3 on PATH")
    vectors_file = _vectors_copy(outside)

    t0 = time.monotonic()
    wvenv, wpy = _install_wheel(outside, clean_env, python, f"dist/{wheel.name}")
    from_wheel = _probe(wpy, wvenv, outside, vectors_file, clean_env, f"dist/{wheel.name}")
    t_wheel = time.monotonic() - t0

    venv = outside / "venv-sdist"
    py = _venv(venv, python, clean_env, what)
    must_compile, digest = _sdist_cargo_cache(sdist)
    env = dict(clean_env, CARGO_TARGET_DIR=str(SDIST_CARGO_TARGET))
    t0 = time.monotonic()
    # -v: pip shows the backend's (cargo's) output, which says what was compiled.
    cmd = [
        py,
        "-m",
        "pip",
        "install",
        "-v",
        "--no-cache-dir",
        "--no-binary",
        "credit-default",
    ]
    r = run([*cmd, sdist], f"{what}: pip install (build from source)", env=env, cwd=outside)
    log = r.stdout + r.stderr
    compiled = [c for c in SDIST_CRATES if re.search(rf"Compiling {c} v", log)]
    if must_compile and compiled != list(SDIST_CRATES):
        pytest.fail(
            f"{what}: pip's build compiled {compiled} of {list(SDIST_CRATES)}: "
            f"a stale build in {SDIST_CARGO_TARGET} was used\n{log[-3000:]}"
        )
    (SDIST_CARGO_TARGET / "sdist.sha256").write_text(digest + "\n")
    t_build = time.monotonic() - t0
    from_sdist = _probe(py, venv, outside, vectors_file, clean_env, what)
    _check_vectors(from_sdist, vectors, what)

    diffs = [
        f"{a['name']}: sdist {a['probability']} / wheel {b['probability']}"
        for a, b in zip(from_sdist["valid"], from_wheel["valid"], strict=True)
        if a["probability"] != b["probability"] or a["score"] != b["score"]
    ]
    diffs += [
        f"row {i}: sdist {a} / wheel {b}"
        for i, (a, b) in enumerate(zip(from_sdist["rows"], from_wheel["rows"], strict=True))
        if a != b
    ]
    if diffs:
        pytest.fail(
            f"{what}: built from source, it scores differently from {wheel.name}:\n  "
            + "\n  ".join(diffs)
        )
    print(
        f"\n[python-dist] sdist: pip build + install {t_build:.1f} s, compiled "
        f"{compiled or 'nothing (same sdist as the last run)'} (CARGO_TARGET_DIR "
        f"{SDIST_CARGO_TARGET.relative_to(ROOT)}); wheel venv {t_wheel:.1f} s; "
        f"{len(from_sdist['valid'])} probabilities identical"
    )


def test_lowest_allowed_versions_work(dist, vectors, outside, clean_env) -> None:
    """numpy and every extra at the floor Requires-Dist declares, on Python 3.10 (the oldest
    supported; the old numpy/pandas wheels exist for it): scoring from numpy, pandas, polars and
    pyarrow, and the scikit-learn estimator (fit, clone, cross_val_score)."""
    wheel = artifact(WHEEL)
    floors = _floors(_wheel_meta(wheel))
    pins = [f"{name}=={version}" for name, version in sorted(floors.items())]
    what = f"dist/{wheel.name} with the lowest allowed {', '.join(pins)} on Python 3.10"
    python = _python("3.10", clean_env)
    if python is None:
        pytest.skip("no Python 3.10 interpreter (python3.10 on PATH or pyenv): floors not checked")
    t0 = time.monotonic()
    venv, py = _install_wheel(
        outside, clean_env, python, what, "[sklearn,pandas,polars,arrow]", pins
    )
    out = _probe(py, venv, outside, _vectors_copy(outside), clean_env, what, "frames", "sklearn")
    _check_vectors(out, vectors, what)
    for kind in ("pandas", "polars", "arrow", "arrow-batch"):
        if out[kind] != out["rows"]:
            pytest.fail(f"{what}: probability({kind}) {out[kind]} != numpy rows {out['rows']}")
    sk = out["sklearn"]
    if sk["proba_shape"] != [len(vectors["valid"]), 2] or not all(
        a > 0.6 for a in sk["cross_val_auc"]
    ):
        pytest.fail(f"{what}: CreditScorecard misbehaves: {sk}")
    print(f"\n[python-dist] floors {pins}: {time.monotonic() - t0:.1f} s")


@pytest.mark.parametrize("version", PYTHONS)
def test_abi3_wheel_on_every_supported_python(version, dist, vectors, outside, clean_env) -> None:
    wheel = artifact(WHEEL)
    what = f"dist/{wheel.name} on Python {version}"
    python = _python(version, clean_env)
    if python is None:
        pytest.skip(f"no Python {version} interpreter (python{version} on PATH or pyenv)")
    venv, py = _install_wheel(outside, clean_env, python, what)
    _check_vectors(
        _probe(py, venv, outside, _vectors_copy(outside), clean_env, what),
        vectors,
        what,
    )
