//! `testdata/cells-model.json`: the additive model shipped until 1.1.0 with the fixture's
//! interaction cells (`credit_core::fixture::with_interactions`), committed so that front doors
//! written in other languages (the browser package's tests) can load a model with cells. With
//! the `interactions` feature this checks that the file is exactly what the fixture writes (so
//! it cannot go stale); without it, that such a build refuses the file, and any artifact with
//! cells, with its one error, by both readers alike.

use credit_core::artifact::ModelArtifact;
#[cfg(not(feature = "interactions"))]
use credit_core::{artifact::NO_CELLS_IN_THIS_BUILD, ModelError, Scorecard};

/// The fixture's base: the additive scorecard shipped until model 1.1.0 (so that the committed
/// cells model does not change with each model release, and a build without cells reads it).
const MODEL: &str = include_str!("data/additive-1.0.0.json");
const CELLS_MODEL: &str = include_str!("../../testdata/cells-model.json");

/// What the fixture writes for the shipped model.
fn fixture_text() -> String {
    let shipped = ModelArtifact::from_json(MODEL).expect("shipped model");
    credit_core::fixture::with_interactions(&shipped)
        .to_json()
        .expect("writes")
}

/// On a difference, the fresh text goes to `.work/cells-model.json` (untracked) for a person
/// to copy over the committed file after reviewing the change.
#[cfg(feature = "interactions")]
#[test]
fn committed_cells_model_is_what_the_fixture_writes() {
    let fresh = fixture_text();
    if fresh != CELLS_MODEL {
        let work = concat!(env!("CARGO_MANIFEST_DIR"), "/../.work");
        let _ = std::fs::create_dir_all(work);
        let _ = std::fs::write(format!("{work}/cells-model.json"), &fresh);
        panic!(
            "testdata/cells-model.json is stale: the fixture now writes .work/cells-model.json \
             (copy it over testdata/cells-model.json)"
        );
    }
    let a = ModelArtifact::from_json(CELLS_MODEL).expect("the serde reader reads it");
    assert_eq!(a.interactions.len(), 3);
    let b = ModelArtifact::from_json_lite(CELLS_MODEL).expect("the lean reader reads it");
    assert_eq!(a, b);
    const { assert!(credit_core::SCORES_INTERACTIONS) };
}

/// A verdict of this build on `text`, the same from both readers: the message, or `json` for
/// a malformed document (whose wording the two readers may differ in).
#[cfg(not(feature = "interactions"))]
fn verdict(text: &str) -> String {
    let one = |r: Result<ModelArtifact, ModelError>| match r {
        Ok(_) => "ok".to_owned(),
        Err(ModelError::Json(_)) => "json".to_owned(),
        Err(e) => e.to_string(),
    };
    let a = one(ModelArtifact::from_json(text));
    assert_eq!(
        a,
        one(ModelArtifact::from_json_lite(text)),
        "the readers disagree"
    );
    a
}

#[cfg(not(feature = "interactions"))]
#[test]
fn a_build_without_cells_refuses_cells_models_with_one_error() {
    const { assert!(!credit_core::SCORES_INTERACTIONS) };
    let refusal = format!("model artifact: {NO_CELLS_IN_THIS_BUILD}");
    // The committed file is still the fixture's (this build can write it, not score it).
    assert_eq!(fixture_text(), CELLS_MODEL);
    assert_eq!(verdict(CELLS_MODEL), refusal);
    // Before the checksum and the parse: a cells model with a wrong checksum or a field of the
    // wrong type gets the same error.
    let wrong_sum = CELLS_MODEL.replacen("sha256:", "sha256:0", 1);
    let mut v: serde_json::Value = serde_json::from_str(CELLS_MODEL).expect("json");
    v["created_by"] = serde_json::json!(7);
    let bad_field = v.to_string();
    for text in [wrong_sum.as_str(), bad_field.as_str()] {
        assert_eq!(verdict(text), refusal);
    }
    // After the top level's keys: an unknown or repeated key is a JSON error first, in both.
    v["unknown"] = serde_json::json!(1);
    assert_eq!(verdict(&v.to_string()), "json");
    let twice = CELLS_MODEL.replacen("\"model_id\": ", "\"model_id\": \"x\", \"model_id\": ", 1);
    assert_eq!(verdict(&twice), "json");
    // After the format: a newer version is still told apart.
    let newer = CELLS_MODEL.replacen("\"format_version\": 3", "\"format_version\": 4", 1);
    assert!(
        verdict(&newer).contains("format version 4"),
        "{}",
        verdict(&newer)
    );
    // An artifact built in code.
    let shipped = ModelArtifact::from_json(MODEL).expect("shipped model");
    let cells = credit_core::fixture::with_interactions(&shipped);
    match Scorecard::new(cells) {
        Err(e @ ModelError::Invalid(_)) => assert_eq!(e.to_string(), refusal),
        other => panic!("{other:?}"),
    }
}

/// An empty section is an additive model: read as the full build reads it.
#[cfg(not(feature = "interactions"))]
#[test]
fn a_build_without_cells_reads_additive_models_as_before() {
    assert_eq!(verdict(MODEL), "ok");
    let empty = MODEL.replacen(
        "\"features\": [",
        "\"interactions\": [],\n  \"features\": [",
        1,
    );
    assert_eq!(verdict(&empty), "ok");
    let odd = MODEL.replacen(
        "\"features\": [",
        "\"interactions\": {},\n  \"features\": [",
        1,
    );
    assert_eq!(verdict(&odd), "json");
    assert_eq!(
        Scorecard::from_json(&empty).expect("loads").artifact(),
        Scorecard::from_json(MODEL).expect("loads").artifact()
    );
}

/// The shared vectors' applicants (`testdata/vectors.json`, `valid`).
#[cfg(feature = "interactions")]
const VECTORS: &str = include_str!("../../testdata/vectors.json");
/// What the native core answers for them under `testdata/cells-model.json`: the expected
/// outputs of the front doors written in other languages (the browser package's tests score
/// the same applicants with the same model and must give these numbers, bit for bit).
#[cfg(feature = "interactions")]
const CELLS_EXPECTED: &str = include_str!("../../testdata/cells-expected.json");

/// The expected outputs as this build computes them (the text of `testdata/cells-expected.json`).
#[cfg(feature = "interactions")]
fn cells_expected_text() -> String {
    use serde_json::{json, Value};
    let card = credit_core::Scorecard::from_json(CELLS_MODEL).expect("cells model");
    let vectors: Value = serde_json::from_str(VECTORS).expect("vectors");
    let cases: Vec<Value> = vectors["valid"]
        .as_array()
        .expect("valid cases")
        .iter()
        .map(|case| {
            let a = credit_core::Applicant::from_json_value(&case["input"]).expect("valid input");
            let p = card.predict(&a);
            let reasons: Vec<&str> = p
                .reasons
                .as_slice()
                .iter()
                .map(|r| card.reason_code(r.feature))
                .collect();
            json!({
                "name": case["name"],
                "expected": {
                    "probability": p.probability,
                    "prediction": p.prediction,
                    "score": p.score,
                    "reasons": reasons,
                },
            })
        })
        .collect();
    let doc = json!({
        "description": "The native core's answers for testdata/vectors.json's valid inputs under \
            testdata/cells-model.json (a model with interaction cells); checked by \
            credit-core/tests/cells_artifact.rs, asserted by the browser package's tests.",
        "model_checksum": card.artifact().checksum,
        "cases": cases,
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("writes");
    text.push('\n');
    text
}

/// On a difference, the fresh text goes to `.work/cells-expected.json` (untracked), as for
/// the model above.
#[cfg(feature = "interactions")]
#[test]
fn committed_cells_expectations_are_what_the_core_computes() {
    let fresh = cells_expected_text();
    if fresh != CELLS_EXPECTED {
        let work = concat!(env!("CARGO_MANIFEST_DIR"), "/../.work");
        let _ = std::fs::create_dir_all(work);
        let _ = std::fs::write(format!("{work}/cells-expected.json"), &fresh);
        panic!(
            "testdata/cells-expected.json is stale: the core now writes .work/cells-expected.json \
             (copy it over testdata/cells-expected.json)"
        );
    }
    // The cells change answers: otherwise this file would test nothing about them.
    let shipped = credit_core::Scorecard::from_json(MODEL).expect("shipped model");
    let vectors: serde_json::Value = serde_json::from_str(VECTORS).expect("vectors");
    let expected: serde_json::Value = serde_json::from_str(CELLS_EXPECTED).expect("json");
    let differ = vectors["valid"]
        .as_array()
        .expect("valid cases")
        .iter()
        .zip(expected["cases"].as_array().expect("cases"))
        .filter(|(case, want)| {
            let a = credit_core::Applicant::from_json_value(&case["input"]).expect("valid");
            Some(shipped.predict(&a).score) != want["expected"]["score"].as_f64()
        })
        .count();
    assert!(
        differ > 0,
        "the cells model scores every vector as the shipped one"
    );
}
