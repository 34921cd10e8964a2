"""Install checks of the npm tarballs in dist/ (`make dist-npm`): `credit-default` (Node),
its platform package `credit-default-linux-x64-gnu` and `credit-default-wasm` (browser).

Each is installed with npm into a fresh project outside the repository (`npm init -y`, then
`npm install <tarballs>`), with an empty npm cache and a registry on a loopback port that offers
a decoy `credit-default-linux-x64-gnu` at the same version (as the public registry will once the
package is published): npm looks the optional dependencies up, but must install the given
tarballs, never the decoy; the lock file says where each package came from and the loaded addon
must be byte for byte the one in the platform tarball. Then the installed packages are
used as users do: `require` and `import` in Node (every shared test vector), a strict TypeScript
check of the shipped types, and the browser package from `node_modules` in headless Chromium
served by a static HTTP server on a loopback port. The helper scripts are in tests/dist/npm/.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import urllib.parse
from pathlib import Path

import pytest
from conftest import ROOT, artifact, run

HERE = Path(__file__).resolve().parent / "npm"
MAIN = "credit-default-[0-9]*.tgz"
PLATFORM_NAME = "credit-default-linux-x64-gnu"
PLATFORM = f"{PLATFORM_NAME}-[0-9]*.tgz"
WASM = "credit-default-wasm-[0-9]*.tgz"
WASM_MAX_BYTES = 150_000
URL = "https://github.com/credit-default/credit-default"
# Tools that drive the checks (never the packages under test): TypeScript and playwright-core
# from the repository's node_modules (`make dist-npm-check-deps` installs them).
TSC = ROOT / "bindings-node" / "node_modules" / "typescript" / "bin" / "tsc"
PLAYWRIGHT = ROOT / "bindings-wasm" / "node_modules" / "playwright-core"
EPS = sys.float_info.epsilon


def close_proba(a: float, b: float) -> bool:
    """A few ulps, as the vectors' contract says (the in-repo tests compare the same way)."""
    return abs(a - b) <= 4 * EPS * max(abs(a), abs(b))


def pairs(errors) -> list[str]:
    return sorted(
        f"{e[0]}|{e[1]}" if isinstance(e, list) else f"{e['field']}|{e['code']}" for e in errors
    )


def tar_members(tgz: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tgz) as t:
        return {m.name.removeprefix("package/"): m for m in t.getmembers() if m.isfile()}


def tar_text(tgz: Path, name: str) -> str:
    with tarfile.open(tgz) as t:
        f = t.extractfile(f"package/{name}")
        assert f is not None, f"{tgz.name}: {name} is not a file"
        return f.read().decode()


def export_targets(exports) -> list[str]:
    """Every file path an "exports" map points at."""
    if isinstance(exports, str):
        return [exports]
    if isinstance(exports, dict):
        return [t for v in exports.values() for t in export_targets(v)]
    return []


class DecoyRegistry:
    """A registry on a loopback port that offers a decoy `credit-default-linux-x64-gnu` at the
    same version as the tarball (as the public registry will once it is published) and answers 404
    for any other name. npm may look names up (it reads the manifests of every optional
    dependency), but must install the given tarballs: the decoy's tarball must never be fetched."""

    def __init__(self, root: Path, version: str):
        self.requests: list[str] = []
        decoy_dir = root / "decoy" / "package"
        decoy_dir.mkdir(parents=True)
        (decoy_dir / "package.json").write_text(
            json.dumps({"name": PLATFORM_NAME, "version": version, "main": "index.js"})
        )
        (decoy_dir / "index.js").write_text("throw new Error('decoy from the registry')\n")
        tgz = root / "decoy.tgz"
        with tarfile.open(tgz, "w:gz") as t:
            t.add(decoy_dir, arcname="package")
        body = tgz.read_bytes()
        shutil.rmtree(root / "decoy")
        tgz.unlink()
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = urllib.parse.unquote(self.path.split("?")[0])
                registry.requests.append(path)
                if path == f"/{PLATFORM_NAME}":
                    data = json.dumps(
                        {
                            "name": PLATFORM_NAME,
                            "dist-tags": {"latest": version},
                            "versions": {
                                version: {
                                    "name": PLATFORM_NAME,
                                    "version": version,
                                    "main": "index.js",
                                    "dist": {
                                        "tarball": f"{registry.url}-/decoy.tgz",
                                        "shasum": hashlib.sha1(body).hexdigest(),
                                        "integrity": "sha512-"
                                        + base64.b64encode(hashlib.sha512(body).digest()).decode(),
                                    },
                                }
                            },
                        }
                    ).encode()
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                elif path == "/-/decoy.tgz":
                    data = body
                    self.send_response(200)
                    self.send_header("content-type", "application/octet-stream")
                else:
                    data = b'{"error":"not found"}'
                    self.send_response(404)
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def npm_install(
    project: Path, tarballs: list[Path], env: dict, what: str
) -> tuple[dict, list[str]]:
    """`npm init -y` + `npm install` of copies of `tarballs` in `project`, against DecoyRegistry
    and an empty npm cache; returns the lock file and the registry requests."""
    local = []
    for t in tarballs:
        shutil.copy2(t, project / t.name)
        local.append(f"./{t.name}")
    version = json.loads(tar_text(tarballs[0], "package.json"))["version"]
    registry = DecoyRegistry(project.parent / f"{project.name}-registry", version)
    try:
        flags = [
            "--no-audit",
            "--no-fund",
            "--loglevel=http",
            f"--registry={registry.url}",
            "--fetch-retries=0",
            f"--cache={project / '.npm-cache'}",
            "--no-update-notifier",
        ]
        run(["npm", "init", "-y", *flags], f"{what}: npm init -y", cwd=project, env=env)
        run(
            ["npm", "install", *flags, *local],
            f"{what}: npm install {' '.join(local)}",
            cwd=project,
            env=env,
        )
    finally:
        registry.close()
        shutil.rmtree(project.parent / f"{project.name}-registry", ignore_errors=True)
    assert "/-/decoy.tgz" not in registry.requests, (
        f"{what}: npm downloaded {PLATFORM_NAME} from the registry instead of using the tarball"
    )
    return json.loads((project / "package-lock.json").read_text()), registry.requests


def node_json(project: Path, script: str, args: list, env: dict, what: str) -> dict:
    """Copies tests/dist/npm/<script> into the project (module resolution starts there) and runs it."""
    shutil.copy2(HERE / script, project / script)
    r = run(["node", script, *args], f"{what}: node {script}", cwd=project, env=env)
    return json.loads(r.stdout)


def check_vectors(results: list[dict], vectors: dict, what: str, scores: bool = True) -> None:
    valid = vectors["valid"]
    assert len(results) == len(valid) > 0, (
        f"{what}: {len(results)} results for {len(valid)} valid vectors"
    )
    for got, v in zip(results, valid):
        exp = v["expected"]
        assert got["name"] == v["name"]
        assert close_proba(got["probability"], exp["probability"]), (
            f"{what}: vector {v['name']!r}: probability {got['probability']!r} != {exp['probability']!r}"
        )
        if scores:
            assert abs(got["score"] - exp["score"]) <= 1e-9, (
                f"{what}: vector {v['name']!r}: score {got['score']}"
            )
            assert got["prediction"] == exp["prediction"], (
                f"{what}: vector {v['name']!r}: prediction"
            )
            assert got["reasons"] == exp["reasons"], (
                f"{what}: vector {v['name']!r}: reasons {got['reasons']}"
            )


def check_invalid(results: list[dict], vectors: dict, what: str) -> None:
    invalid = vectors["invalid"]
    assert len(results) == len(invalid) > 0, (
        f"{what}: {len(results)} results for {len(invalid)} invalid vectors"
    )
    for got, v in zip(results, invalid):
        assert got["threw"], f"{what}: invalid vector {v['name']!r} was scored instead of rejected"
        assert (
            got["isError"]
            and got["errName"] == "CreditError"
            and got["code"] == "invalid_applicant"
        ), f"{what}: invalid vector {v['name']!r}: threw {got}"
        assert pairs(got["errors"]) == pairs(v["errors"]), (
            f"{what}: invalid vector {v['name']!r}: errors {pairs(got['errors'])} != {pairs(v['errors'])}"
        )


# --- What is in the tarballs -----------------------------------------------------------------


@pytest.mark.parametrize("pattern", [MAIN, PLATFORM, WASM])
def test_tarball_contents(dist, pattern):
    tgz = artifact(pattern)
    files = tar_members(tgz)
    pkg = json.loads(tar_text(tgz, "package.json"))
    what = f"dist/{tgz.name}"
    for f in ("package.json", "README.md", "LICENSE"):
        assert f in files, f"{what}: no {f} (has {sorted(files)})"
    assert tar_text(tgz, "LICENSE") == (ROOT / "LICENSE").read_text(), (
        f"{what}: LICENSE differs from the repository's"
    )
    readme = tar_text(tgz, "README.md")
    assert pkg["name"] in readme and "npm install" in readme, (
        f"{what}: README.md does not tell users how to install"
    )
    for key in ("name", "version", "description", "license", "homepage", "keywords", "engines"):
        assert pkg.get(key), f"{what}: package.json has no {key}"
    assert pkg["license"] == "Apache-2.0", f"{what}: license {pkg['license']}"
    assert pkg["homepage"].startswith(URL), f"{what}: homepage {pkg['homepage']}"
    assert URL in pkg["repository"]["url"], f"{what}: repository {pkg['repository']}"
    assert pkg["bugs"]["url"] == f"{URL}/issues", f"{what}: bugs {pkg.get('bugs')}"
    assert "node" in pkg["engines"], f"{what}: engines {pkg['engines']}"
    for f in pkg.get("files", []):
        assert f in files, f'{what}: {f} of "files" is not in the tarball'
    for script in ("preinstall", "install", "postinstall", "prepare"):
        assert script not in pkg.get("scripts", {}), f"{what}: runs a {script} script on install"
    for name in files:
        if name.endswith((".js", ".ts", ".json", ".md", ".html")):
            text = tar_text(tgz, name)
            # The checkout's parent and the home directory of the machine that built the tarball.
            for local in (f"{ROOT.parent}/", f"{Path.home()}/"):
                assert local not in text, (
                    f"{what}: {name} contains a path of the build machine ({local})"
                )
    if pattern == PLATFORM:
        assert pkg["main"] in files and pkg["main"].endswith(".node"), (
            f"{what}: main {pkg['main']} not shipped"
        )
        assert (pkg["os"], pkg["cpu"], pkg.get("libc")) == (["linux"], ["x64"], ["glibc"]), (
            f"{what}: os/cpu/libc"
        )
        return
    exports = pkg.get("exports")
    assert isinstance(exports, dict) and "." in exports and "./package.json" in exports, (
        f"{what}: exports {exports}"
    )
    assert "types" in exports["."] and "default" in exports["."], (
        f"{what}: exports['.'] {exports['.']}"
    )
    assert next(iter(exports["."])) == "types", f"{what}: \"types\" must come first in exports['.']"
    for target in export_targets(exports):
        assert target.removeprefix("./") in files, (
            f"{what}: exports points at {target}, not in the tarball"
        )
    assert pkg["types"] in files and pkg["types"].endswith(".d.ts"), (
        f"{what}: types {pkg.get('types')} not shipped"
    )
    if pattern == MAIN:
        assert "require" in exports["."], f"{what}: exports['.'] has no require"
        assert not any(n.endswith(".node") for n in files), (
            f"{what}: carries a native addon (platform packages do)"
        )
        opt = pkg.get("optionalDependencies", {})
        assert opt.get(PLATFORM_NAME) == pkg["version"], f"{what}: optionalDependencies {opt}"
        assert all(v == pkg["version"] for v in opt.values()), (
            f"{what}: platform versions differ: {opt}"
        )
        platform = json.loads(tar_text(artifact(PLATFORM), "package.json"))
        assert platform["version"] == pkg["version"], (
            f"{what}: platform package is {platform['version']}"
        )
    else:
        size = files["credit_default_bg.wasm"].size
        assert size <= WASM_MAX_BYTES, (
            f"{what}: credit_default_bg.wasm is {size} bytes > {WASM_MAX_BYTES}"
        )


# --- Node: require, import, types --------------------------------------------------------------


def test_node_package_installs_and_scores(dist, vectors, outside, clean_env):
    main, platform = artifact(MAIN), artifact(PLATFORM)
    what = f"dist/{main.name} + dist/{platform.name}"
    lock, requests = npm_install(outside, [main, platform], clean_env, what)
    print(f"registry requests during the install: {requests}")
    pkgs = lock["packages"]
    for name, tgz in (("credit-default", main), (PLATFORM_NAME, platform)):
        entry = pkgs.get(f"node_modules/{name}")
        assert entry and entry.get("resolved", "").endswith(tgz.name), (
            f"{what}: {name} not from the tarball: {entry}"
        )
    nested = [k for k in pkgs if k.count("node_modules/") > 1]
    assert not nested, f"{what}: npm installed a second copy: {nested}"
    shutil.copy2(ROOT / "testdata" / "vectors.json", outside / "vectors.json")
    installed = outside / "node_modules"

    out = node_json(
        outside, "check_node.cjs", ["vectors.json"], clean_env, f"{what}: require('credit-default')"
    )
    assert Path(out["resolved"]) == installed / "credit-default" / "index.js", (
        f"{what}: resolved {out['resolved']}"
    )
    assert out["addons"] == [
        str(installed / PLATFORM_NAME / "credit-default.linux-x64-gnu.node")
    ], f"{what}: loaded native addons {out['addons']}"
    with tarfile.open(platform) as t:
        f = t.extractfile("package/credit-default.linux-x64-gnu.node")
        shipped = f.read() if f else b""
    assert (
        installed / PLATFORM_NAME / "credit-default.linux-x64-gnu.node"
    ).read_bytes() == shipped, f"{what}: the installed addon is not the one in {platform.name}"
    assert out["bindingTarget"] == "native", f"{what}: binding target {out['bindingTarget']}"
    assert (out["modelVersion"], out["checksum"]) == (
        vectors["model_version"],
        vectors["model_checksum"],
    ), f"{what}: Model.default() is {out['modelVersion']} {out['checksum']}"
    check_vectors(out["valid"], vectors, f"{what}: predict")
    check_vectors(
        [{"name": v["name"], "probability": p} for v, p in zip(vectors["valid"], out["batch"])],
        vectors,
        f"{what}: predictBatch",
        scores=False,
    )
    check_invalid(out["invalid"], vectors, f"{what}: predict")

    esm = node_json(
        outside, "check_esm.mjs", ["vectors.json"], clean_env, f"{what}: import 'credit-default'"
    )
    assert Path(esm["resolved"]) == installed / "credit-default" / "index.js", (
        f"{what}: import resolved {esm}"
    )
    assert esm["sameModel"], f"{what}: the default and the named import differ"
    check_vectors([esm], {"valid": vectors["valid"][:1]}, f"{what}: ESM import", scores=False)

    if not TSC.is_file():
        pytest.fail(f"{TSC.relative_to(ROOT)} is missing: run `make dist-npm-check-deps`")
    shutil.copy2(HERE / "check_types.mts", outside / "check_types.mts")
    run(
        [
            "node",
            TSC,
            "--noEmit",
            "--strict",
            "--target",
            "es2022",
            "--module",
            "nodenext",
            "--moduleResolution",
            "nodenext",
            "check_types.mts",
        ],
        f"{what}: TypeScript check of the shipped index.d.ts",
        cwd=outside,
        env=clean_env,
    )


# --- Browser package: size, Node, Chromium -----------------------------------------------------


def find_chromium() -> str:
    """The browser the repository's Chromium tests use (bindings-wasm/test/helpers.mjs, the same
    order): $CHROMIUM, $CHROME_BIN, else chromium / google-chrome(-stable) / chromium-browser in
    /usr/bin or on the PATH; when there is none, Debian's chromium is installed."""
    for var in ("CHROMIUM", "CHROME_BIN"):
        if os.environ.get(var):
            return os.environ[var]
    names = ("chromium", "google-chrome", "google-chrome-stable", "chromium-browser")
    for name in names:
        found = shutil.which(name, path=os.pathsep.join(["/usr/bin", os.environ.get("PATH", "")]))
        if found:
            return found
    subprocess.run([ROOT / "scripts" / "apt-ensure.sh", "chromium"], check=True)
    return "/usr/bin/chromium"


def test_wasm_package_installs_and_runs_in_chromium(dist, vectors, outside, clean_env):
    tgz = artifact(WASM)
    what = f"dist/{tgz.name}"
    lock, requests = npm_install(outside, [tgz], clean_env, what)
    assert requests == [], (
        f"{what}: npm asked the registry for {requests} (the package has no dependencies)"
    )
    entry = lock["packages"].get("node_modules/credit-default-wasm")
    assert entry and entry.get("resolved", "").endswith(tgz.name), (
        f"{what}: not installed from the tarball: {entry}"
    )
    installed = outside / "node_modules" / "credit-default-wasm"
    wasm = installed / "credit_default_bg.wasm"
    assert wasm.is_file(), f"{what}: no credit_default_bg.wasm in node_modules/credit-default-wasm"
    size = wasm.stat().st_size
    assert size <= WASM_MAX_BYTES, (
        f"{what}: credit_default_bg.wasm is {size} bytes > {WASM_MAX_BYTES}"
    )
    shutil.copy2(ROOT / "testdata" / "vectors.json", outside / "vectors.json")

    out = node_json(
        outside, "check_wasm_node.mjs", ["vectors.json"], clean_env, f"{what}: in Node (initSync)"
    )
    assert Path(out["resolved"]) == installed / "package.json", (
        f"{what}: resolved {out['resolved']}"
    )
    check_vectors(out["valid"], vectors, f"{what}: in Node", scores=False)

    if not TSC.is_file():
        pytest.fail(f"{TSC.relative_to(ROOT)} is missing: run `make dist-npm-check-deps`")
    shutil.copy2(HERE / "check_types_wasm.mts", outside / "check_types_wasm.mts")
    run(
        [
            "node",
            TSC,
            "--noEmit",
            "--strict",
            "--target",
            "esnext",
            "--module",
            "nodenext",
            "--moduleResolution",
            "nodenext",
            "--lib",
            "esnext,dom",
            "check_types_wasm.mts",
        ],
        f"{what}: TypeScript check of the shipped .d.ts",
        cwd=outside,
        env=clean_env,
    )

    browser = find_chromium()
    if not (PLAYWRIGHT / "package.json").is_file():
        pytest.fail(
            f"{PLAYWRIGHT.relative_to(ROOT)} is missing (the Chromium driver): run `make dist-npm-check-deps`"
        )
    shutil.copy2(HERE / "index.html", outside / "index.html")
    r = run(
        ["node", HERE / "chromium.mjs", outside, PLAYWRIGHT],
        f"{what}: headless Chromium ({browser})",
        cwd=outside,
        env={**clean_env, "CHROMIUM": browser},
        timeout=180,
    )
    page = json.loads(r.stdout)
    res = page["result"]
    assert res.get("ok"), (
        f"{what}: the page failed in Chromium: {res.get('error')}\npage errors: {page['pageErrors']}"
    )
    assert "Chrome" in res["userAgent"], f"{what}: not Chromium: {res['userAgent']}"
    bad = [q for q in page["requests"] if q["status"] != 200]
    assert not bad, f"{what}: failed requests in Chromium: {bad}"
    assert page["pageErrors"] == [], f"{what}: page errors in Chromium: {page['pageErrors']}"
    paths = {q["path"] for q in page["requests"]}
    for f in (
        "credit_default.js",
        "credit_default_glue.js",
        "credit_default_bg.wasm",
        "default-model.json",
    ):
        assert f"/node_modules/credit-default-wasm/{f}" in paths, (
            f"{what}: the page did not load {f}: {sorted(paths)}"
        )
    assert (res["modelVersion"], res["checksum"]) == (
        vectors["model_version"],
        vectors["model_checksum"],
    )
    check_vectors(res["valid"], vectors, f"{what}: in Chromium")
    check_invalid(res["invalid"], vectors, f"{what}: in Chromium")
