//! `credit vectors`: the shared test vectors every front door asserts (`testdata/vectors.json`).
//!
//! Inputs are fixed here (ordinary, edge and invalid applicants, plus seeded pseudo-random ones);
//! expected outputs come from the core and the given model, so re-training regenerates them.

use crate::score_cmd::load_model;
use anyhow::Result;
use credit_core::{Applicant, Scorecard, FEATURES, N_FEATURES};
use serde_json::{json, Map, Value};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct VectorsArgs {
    #[arg(long, default_value = "models/default.json")]
    pub model: PathBuf,
    /// Where to write them. No default: the committed `testdata/vectors.json` changes only by a
    /// deliberate model release (`make model` writes `.work/model/vectors.json`).
    #[arg(long)]
    pub out: PathBuf,
    /// The model path recorded in the file (default: `--model` as given), so that vectors made
    /// from a retrained copy elsewhere can be compared byte for byte with the committed ones.
    #[arg(long)]
    pub recorded_as: Option<String>,
}

/// The seed API's example request.
pub const SEED: [f64; N_FEATURES] = [
    0.766127, 45.0, 2.0, 0.802982, 9120.0, 13.0, 0.0, 6.0, 0.0, 2.0,
];

fn obj(row: &[f64; N_FEATURES], kaggle: bool) -> Value {
    let mut m = Map::new();
    for (j, spec) in FEATURES.iter().enumerate() {
        let name = if kaggle {
            spec.alias.unwrap_or(spec.name)
        } else {
            spec.name
        };
        let v = row[j];
        m.insert(
            name.to_owned(),
            if v.is_nan() { Value::Null } else { num(v) },
        );
    }
    Value::Object(m)
}

fn num(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

fn row_json(row: &[f64]) -> Value {
    Value::Array(
        row.iter()
            .map(|&v| {
                if v.is_nan() {
                    Value::Null
                } else if v.is_infinite() {
                    json!(if v > 0.0 { "inf" } else { "-inf" })
                } else {
                    num(v)
                }
            })
            .collect(),
    )
}

/// Deterministic pseudo-random applicants (SplitMix64), spread over realistic values.
fn random_rows(n: usize) -> Vec<[f64; N_FEATURES]> {
    let mut state: u64 = 0x5EED_C0DE;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let count = |u: f64, hi: f64| (u * u * u * hi).floor();
            let mut r = [
                (next() * 1.3 * 1e6).round() / 1e6,
                (18.0 + next() * 80.0).floor(),
                count(next(), 6.0),
                (next() * next() * 3.0 * 1e6).round() / 1e6,
                (next() * 15000.0).round(),
                (next() * 30.0).floor(),
                count(next(), 4.0),
                count(next(), 5.0),
                count(next(), 3.0),
                count(next(), 5.0),
            ];
            if next() < 0.15 {
                r[4] = f64::NAN;
            }
            if next() < 0.05 {
                r[9] = f64::NAN;
            }
            r
        })
        .collect()
}

fn expected(model: &Scorecard, a: &Applicant) -> Value {
    let p = model.predict(a);
    json!({
        "probability": p.probability,
        "prediction": p.prediction,
        "score": p.score,
        "reasons": p.reasons.as_slice().iter().map(|r| model.reason_code(r.feature)).collect::<Vec<_>>(),
    })
}

fn error_list(e: &credit_core::ValidationErrors) -> Value {
    Value::Array(
        e.errors
            .iter()
            .map(|e| json!({"field": e.field, "code": e.code}))
            .collect(),
    )
}

pub fn build(model: &Scorecard, model_path: &str) -> Result<Value> {
    let nan = f64::NAN;
    let mut edge: Vec<(&str, [f64; N_FEATURES], bool)> = vec![
        ("seed example", SEED, false),
        ("seed example, Kaggle spellings", SEED, true),
        ("missing monthly income", with(SEED, 4, nan), false),
        (
            "missing income and dependents",
            with(with(SEED, 4, nan), 9, nan),
            false,
        ),
        ("zero monthly income", with(SEED, 4, 0.0), false),
        ("bureau code 96 in 30-59", with(SEED, 2, 96.0), false),
        (
            "bureau code 98 in all past-due counts",
            with(with(with(SEED, 2, 98.0), 6, 98.0), 8, 98.0),
            false,
        ),
        ("youngest age 18", with(SEED, 1, 18.0), false),
        ("oldest age 120", with(SEED, 1, 120.0), false),
        ("age 61", with(SEED, 1, 61.0), false),
        ("age 62", with(SEED, 1, 62.0), false),
        (
            "clean file",
            [0.05, 55.0, 0.0, 0.2, 8000.0, 8.0, 0.0, 1.0, 0.0, 0.0],
            false,
        ),
        (
            "all zeros at 30",
            [0.0, 30.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            false,
        ),
        (
            "very high utilization",
            [50708.0, 40.0, 0.0, 0.3, 4000.0, 5.0, 0.0, 0.0, 0.0, 1.0],
            false,
        ),
        (
            "upper bounds",
            [
                100_000.0,
                120.0,
                95.0,
                1_000_000.0,
                100_000_000.0,
                200.0,
                95.0,
                100.0,
                95.0,
                50.0,
            ],
            false,
        ),
        (
            "many late payments",
            [0.99, 29.0, 5.0, 0.9, 2100.0, 3.0, 4.0, 0.0, 3.0, 3.0],
            false,
        ),
    ];
    let randoms = random_rows(48);
    let names: Vec<String> = (0..randoms.len())
        .map(|i| format!("random applicant {i}"))
        .collect();
    for (i, r) in randoms.iter().enumerate() {
        edge.push((names[i].as_str(), *r, false));
    }
    let mut valid = Vec::new();
    for (name, row, kaggle) in &edge {
        let a = Applicant::from_row(row).map_err(|e| anyhow::anyhow!("vector {name}: {e}"))?;
        valid.push(json!({
            "name": name,
            "input": obj(row, *kaggle),
            "row": row_json(row),
            "expected": expected(model, &a),
        }));
    }
    // A count written as 2.0 is the count 2.
    let mut float_count = obj(&SEED, false);
    float_count["NumberOfTime30_59DaysPastDueNotWorse"] = json!(2.0);
    let a = Applicant::from_json_value(&float_count).map_err(|e| anyhow::anyhow!("{e}"))?;
    valid.push(json!({"name": "count written as 2.0", "input": float_count, "row": row_json(&SEED), "expected": expected(model, &a)}));

    let seed = obj(&SEED, false);
    let set = |field: &str, v: Value| {
        let mut o = seed.clone();
        o[field] = v;
        o
    };
    let remove = |field: &str| {
        let mut o = seed.clone();
        if let Some(m) = o.as_object_mut() {
            m.remove(field);
        }
        o
    };
    let mut typo = remove("MonthlyIncome");
    typo["MonthlyIncom"] = json!(9120);
    let mut extra = seed.clone();
    extra["CreditScore"] = json!(700);
    let invalid_inputs: Vec<(&str, Value)> = vec![
        ("age 17", set("age", json!(17))),
        ("age 121", set("age", json!(121))),
        ("age 45.5", set("age", json!(45.5))),
        ("age as a string", set("age", json!("45"))),
        ("age null", set("age", Value::Null)),
        ("age missing", remove("age")),
        (
            "negative past-due count",
            set("NumberOfTime30_59DaysPastDueNotWorse", json!(-1)),
        ),
        (
            "past-due code 97 is not a bureau code",
            set("NumberOfTimes90DaysLate", json!(97)),
        ),
        (
            "past-due 99",
            set("NumberOfTime60_89DaysPastDueNotWorse", json!(99)),
        ),
        (
            "negative utilization",
            set("RevolvingUtilizationOfUnsecuredLines", json!(-0.1)),
        ),
        ("debt ratio above bound", set("DebtRatio", json!(2_000_000))),
        ("negative income", set("MonthlyIncome", json!(-5))),
        ("dependents 2.5", set("NumberOfDependents", json!(2.5))),
        (
            "boolean for a number",
            set("NumberRealEstateLoansOrLines", json!(true)),
        ),
        ("object for a number", set("DebtRatio", json!({"value": 1}))),
        ("array for a number", set("DebtRatio", json!([1]))),
        ("typo MonthlyIncom", typo),
        ("extra field", extra),
        ("empty object", json!({})),
        ("several errors at once", {
            let mut o = set("age", json!(10));
            o["DebtRatio"] = json!("high");
            o["NumberOfOpenCreditLinesAndLoans"] = json!(1.5);
            o
        }),
    ];
    let mut invalid = Vec::new();
    for (name, input) in invalid_inputs {
        let e = match Applicant::from_json_value(&input) {
            Err(e) => e,
            Ok(_) => anyhow::bail!("invalid vector {name:?} validated"),
        };
        invalid.push(json!({"name": name, "input": input, "errors": error_list(&e)}));
    }
    let invalid_rows_in: Vec<(&str, [f64; N_FEATURES])> = vec![
        ("NaN age (missing required)", with(SEED, 1, nan)),
        ("infinite debt ratio", with(SEED, 3, f64::INFINITY)),
        ("minus infinity income", with(SEED, 4, f64::NEG_INFINITY)),
        ("fractional count", with(SEED, 5, 2.5)),
        (
            "NaN utilization and age 0",
            with(with(SEED, 0, nan), 1, 0.0),
        ),
    ];
    let mut invalid_rows = Vec::new();
    for (name, row) in invalid_rows_in {
        let e = match Applicant::from_row(&row) {
            Err(e) => e,
            Ok(_) => anyhow::bail!("invalid row {name:?} validated"),
        };
        invalid_rows.push(json!({"name": name, "row": row_json(&row), "errors": error_list(&e)}));
    }
    let seed_text = serde_json::to_string(&seed)?;
    let json_texts: Vec<(&str, String)> = vec![
        (
            "truncated JSON",
            seed_text[..seed_text.len() / 2].to_owned(),
        ),
        (
            "duplicate key",
            seed_text.replacen("{", "{\"age\": 45, ", 1),
        ),
        (
            "NaN literal",
            seed_text.replace("\"DebtRatio\":0.802982", "\"DebtRatio\":NaN"),
        ),
        (
            "number too large for f64",
            seed_text.replace("\"DebtRatio\":0.802982", "\"DebtRatio\":1e999"),
        ),
        ("array instead of object", "[1, 2, 3]".to_owned()),
        ("null body", "null".to_owned()),
        ("empty body", String::new()),
        ("trailing garbage", format!("{seed_text} x")),
    ];
    let mut invalid_json = Vec::new();
    for (name, text) in json_texts {
        let e = match Applicant::from_json(&text) {
            Err(e) => e,
            Ok(_) => anyhow::bail!("invalid JSON vector {name:?} validated"),
        };
        invalid_json.push(json!({"name": name, "text": text, "errors": error_list(&e)}));
    }
    Ok(json!({
        "description": "Shared test vectors: inputs with the shipped model's expected outputs. Generated by `credit vectors`; every front door asserts them.",
        "model": model_path,
        "model_version": model.model_version(),
        "model_checksum": model.artifact().checksum,
        "feature_order": FEATURES.iter().map(|f| f.name).collect::<Vec<_>>(),
        "valid": valid,
        "invalid": invalid,
        "invalid_rows": invalid_rows,
        "invalid_json": invalid_json,
    }))
}

fn with(mut row: [f64; N_FEATURES], j: usize, v: f64) -> [f64; N_FEATURES] {
    row[j] = v;
    row
}

/// The file's text: pretty JSON and a final newline.
pub fn text(v: &Value) -> Result<String> {
    Ok(serde_json::to_string_pretty(v)? + "\n")
}

pub fn run(args: &VectorsArgs) -> Result<()> {
    let model = load_model(&crate::model_ref::ModelRef::Path(args.model.clone()))?;
    let recorded = match &args.recorded_as {
        Some(name) => name.clone(),
        None => args.model.to_string_lossy().into_owned(),
    };
    let v = build(&model, &recorded)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, text(&v)?)?;
    eprintln!(
        "wrote {} ({} valid, {} invalid, {} invalid rows, {} invalid JSON)",
        args.out.display(),
        v["valid"].as_array().map_or(0, Vec::len),
        v["invalid"].as_array().map_or(0, Vec::len),
        v["invalid_rows"].as_array().map_or(0, Vec::len),
        v["invalid_json"].as_array().map_or(0, Vec::len)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed vectors are the shipped model's: every front door asserts them, so a model
    /// release that forgot to regenerate them (or an edit by hand) must fail here, not later in
    /// one binding's suite with a puzzling difference.
    #[test]
    fn committed_vectors_are_the_shipped_models() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let model = load_model(&crate::model_ref::ModelRef::Path(
            root.join("models/default.json"),
        ))
        .expect("the shipped model loads");
        let built =
            text(&build(&model, "models/default.json").expect("vectors build")).expect("text");
        let committed = std::fs::read_to_string(root.join("testdata/vectors.json"))
            .expect("testdata/vectors.json is readable");
        assert!(
            built == committed,
            "testdata/vectors.json is not what `credit vectors` makes of models/default.json: \
             regenerate it with the model (make model, then copy .work/model/vectors.json)"
        );
    }
}
