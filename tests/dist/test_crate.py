"""The `credit-core` crate as crates.io serves it: the `.crate` from `cargo package`, unpacked outside
the repository and used by path from a fresh cargo project, scores the seed applicant with the
compiled-in shipped model exactly as the shared vectors say."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

from conftest import ROOT, artifact, run

MAIN_RS = r"""
use credit_core::{shipped, Applicant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = shipped::scorecard()?;
    let text = std::env::args().nth(1).ok_or("usage: check APPLICANT_JSON")?;
    let a = Applicant::from_json(&text)?;
    let p = model.predict(&a);
    let reasons: Vec<&str> = p.reasons.as_slice().iter().map(|r| model.reason_code(r.feature)).collect();
    println!("{:?} {} {:?} {}", p.probability, p.prediction, p.score, reasons.join(","));
    match Applicant::from_json(r#"{"age": "x"}"#) {
        Ok(_) => return Err("a bad applicant was accepted".into()),
        Err(e) => println!("refused: {e}"),
    }
    Ok(())
}
"""


def test_crate_contents_and_metadata(dist):
    crate = artifact("credit-core-*.crate")
    with tarfile.open(crate) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
        manifest = (
            t.extractfile(next(n for n in t.getnames() if n.endswith("/Cargo.toml")))
            .read()
            .decode()
        )
        license_text = t.extractfile(next(n for n in t.getnames() if n.endswith("/LICENSE"))).read()
    for needed in ("LICENSE", "README.md", "model/default.json", "src/shipped.rs", "Cargo.toml"):
        assert needed in names, f"{crate.name}: {needed} missing from the package"
    assert license_text == (ROOT / "LICENSE").read_bytes(), (
        f"{crate.name}: LICENSE is not the project's"
    )
    for field in (
        "description",
        "license",
        "repository",
        "homepage",
        "keywords",
        "categories",
        "readme",
    ):
        assert f"\n{field} =" in manifest, f"{crate.name}: Cargo.toml lacks `{field}`"
    assert not any(n.startswith("tests/") for n in names), f"{crate.name}: repo-only tests packaged"


def test_fresh_cargo_project_builds_against_the_unpacked_crate(dist, outside, clean_env, vectors):
    crate = artifact("credit-core-*.crate")
    with tarfile.open(crate) as t:
        t.extractall(outside, filter="data")
    unpacked = next(outside.glob("credit-core-*"))
    app = outside / "check"
    (app / "src").mkdir(parents=True)
    (app / "Cargo.toml").write_text(
        '[package]\nname = "check"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n'
        f'credit-core = {{ path = "{unpacked.as_posix()}", features = ["shipped-model"] }}\n'
    )
    (app / "src" / "main.rs").write_text(MAIN_RS)
    env = dict(clean_env)
    # Only a build cache (dependencies compile once across runs); the sources come from `outside`.
    work = Path(os.environ.get("CREDIT_WORK", ROOT / ".work"))
    env["CARGO_TARGET_DIR"] = str(work / "dist-check" / "cargo-target")
    seed = next(v for v in vectors["valid"] if v["name"] == "seed example")
    r = run(
        ["cargo", "run", "--quiet", "--release", "--", json.dumps(seed["input"])],
        f"{crate.name}: cargo run of a fresh project depending on it",
        cwd=app,
        env=env,
    )
    first, refused = r.stdout.strip().split("\n", 1)
    prob, pred, score, reasons = first.split(" ")
    want = seed["expected"]
    assert float(prob) == want["probability"], (
        f"{crate.name}: probability {prob} != {want['probability']!r}"
    )
    assert int(pred) == want["prediction"]
    assert abs(float(score) - want["score"]) < 1e-9
    assert reasons.split(",") == want["reasons"]
    assert "age" in refused, f"{crate.name}: the error does not name the field: {refused}"
