//! The MLflow `python_function` flavor of a registered version: the `MLmodel`, `python_env.yaml`
//! and `requirements.txt` that `credit train --mlflow-uri` uploads next to `model/model.json`.
//!
//! Without them a version is only a JSON file, and `mlflow.pyfunc.load_model("models:/...")` (the
//! first thing an ML engineer tries) fails. With them MLflow imports
//! [`LOADER_MODULE`] from the `credit-default` Python package, calls its `_load_pyfunc` on
//! `model.json`, and enforces the [signature](input_schema_json) before every `predict`: the ten
//! features by their seed names as double columns (the two optional ones may be absent or NaN),
//! and one double output, the probability of default.
//!
//! The files follow what MLflow 3 itself writes (`mlflow.pyfunc.save_model`): the same keys, the
//! signature as JSON strings inside the YAML, `python_env.yaml` pointing at `requirements.txt`.
//! They are generated here rather than by MLflow so that `credit train` needs no Python runtime.

use credit_core::FEATURES;
use std::fmt::Write as _;
use std::time::SystemTime;

/// Python module whose `_load_pyfunc(data_path)` MLflow calls (in the `credit-default` wheel).
pub const LOADER_MODULE: &str = "credit_default.mlflow_flavor";
/// The PyPI distribution that provides [`LOADER_MODULE`].
pub const PACKAGE: &str = "credit-default";
/// The package version pinned in `requirements.txt`: the workspace version, which is also the
/// version of the `credit-default` wheel built from this revision (bindings-python uses
/// `version.workspace = true`), so the environment scores with the same core as this binary.
pub const PACKAGE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Python recorded in `MLmodel` and `python_env.yaml`. The binary cannot know the Python of the
/// machines that will load the model; this is the version the wheel is tested on. MLflow only
/// warns when the loading interpreter's minor version differs, and `mlflow models serve` with
/// a virtualenv env manager creates an interpreter of this version.
pub const PYTHON_VERSION: &str = "3.11";
/// The model file inside the version's folder (`data` of the flavor).
pub const DATA_FILE: &str = "model.json";
/// Name of the single output column: the probability of default.
pub const OUTPUT_COLUMN: &str = "probability";

/// `[{"type": "double", "name": ..., "required": ...}, ...]` in `FEATURES` order, spaced as
/// Python's `json.dumps` spaces it (MLflow parses it back with `json.loads`).
pub fn input_schema_json() -> String {
    let cols: Vec<String> = FEATURES
        .iter()
        .map(|f| column_json(f.name, !f.optional))
        .collect();
    format!("[{}]", cols.join(", "))
}

/// The output schema: one required double column, [`OUTPUT_COLUMN`].
pub fn output_schema_json() -> String {
    format!("[{}]", column_json(OUTPUT_COLUMN, true))
}

/// The one inference parameter: `errors` = `"raise"` (an invalid row raises the package's
/// `ValidationError`, the default) or `"nan"` (its probability is NaN), as `Model.probability`.
pub fn params_schema_json() -> String {
    r#"[{"name": "errors", "default": "raise", "shape": null, "type": "string"}]"#.to_owned()
}

fn column_json(name: &str, required: bool) -> String {
    // serde_json escapes the name; FEATURES names are plain ASCII identifiers anyway.
    let quoted = serde_json::Value::from(name).to_string();
    format!(r#"{{"type": "double", "name": {quoted}, "required": {required}}}"#)
}

/// A YAML single-quoted scalar (the only escape is a doubled `'`).
fn yaml_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `utc_time_created` as MLflow writes it: `str(datetime.utcnow())`, `YYYY-MM-DD HH:MM:SS.ffffff`.
pub fn utc_time_created(t: SystemTime) -> String {
    use crate::serve::timefmt::{rfc3339_string, unix_micros};
    rfc3339_string(unix_micros(t))
        .trim_end_matches('Z')
        .replacen('T', " ", 1)
}

/// The `MLmodel` file of a version logged by run `run_id` under `<run>/artifacts/model`.
/// `mlflow_version` is left out: the version of the tracking server is not the version of the
/// MLflow that will load the model, and MLflow does not require the key.
pub fn mlmodel(run_id: &str, model_uuid: &str, created: SystemTime) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        s,
        "artifact_path: model\n\
         flavors:\n\
         \x20 python_function:\n\
         \x20   data: {DATA_FILE}\n\
         \x20   env:\n\
         \x20     virtualenv: python_env.yaml\n\
         \x20   loader_module: {LOADER_MODULE}\n\
         \x20   python_version: {python}\n\
         model_uuid: {model_uuid}\n\
         run_id: {run_id}\n\
         signature:\n\
         \x20 inputs: {inputs}\n\
         \x20 outputs: {outputs}\n\
         \x20 params: {params}\n\
         utc_time_created: {created}\n",
        python = yaml_quoted(PYTHON_VERSION),
        run_id = yaml_quoted(run_id),
        inputs = yaml_quoted(&input_schema_json()),
        outputs = yaml_quoted(&output_schema_json()),
        params = yaml_quoted(&params_schema_json()),
        created = yaml_quoted(&utc_time_created(created)),
    );
    s
}

/// `python_env.yaml`: the interpreter and build tools; the packages are in `requirements.txt`.
pub fn python_env_yaml() -> String {
    format!(
        "python: {}\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\ndependencies:\n- -r requirements.txt\n",
        yaml_quoted(PYTHON_VERSION)
    )
}

/// `requirements.txt`: this revision's `credit-default` (the loader and the scoring core) and
/// MLflow itself, which `mlflow models serve` runs inside the environment it creates.
pub fn requirements_txt() -> String {
    format!("{PACKAGE}=={PACKAGE_VERSION}\nmlflow>=3,<4\n")
}

/// Every flavor file as (name inside the `model/` folder, contents), `MLmodel` first.
pub fn flavor_files(run_id: &str, created: SystemTime) -> Vec<(&'static str, String)> {
    let uuid = uuid::Uuid::now_v7().simple().to_string();
    vec![
        ("MLmodel", mlmodel(run_id, &uuid, created)),
        ("python_env.yaml", python_env_yaml()),
        ("requirements.txt", requirements_txt()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn schema_lists_the_ten_features_in_order_with_the_optional_ones_not_required() {
        let v: serde_json::Value = serde_json::from_str(&input_schema_json()).unwrap();
        let cols = v.as_array().unwrap();
        assert_eq!(cols.len(), FEATURES.len());
        for (c, f) in cols.iter().zip(FEATURES.iter()) {
            assert_eq!(c["name"], f.name);
            assert_eq!(c["type"], "double");
            assert_eq!(c["required"], !f.optional);
        }
        let optional: Vec<_> = cols.iter().filter(|c| c["required"] == false).collect();
        assert_eq!(optional.len(), 2);
        let out: serde_json::Value = serde_json::from_str(&output_schema_json()).unwrap();
        assert_eq!(out[0]["name"], "probability");
        let params: serde_json::Value = serde_json::from_str(&params_schema_json()).unwrap();
        assert_eq!(params[0]["default"], "raise");
    }

    #[test]
    fn time_created_is_python_str_of_a_utc_datetime() {
        let t = UNIX_EPOCH + Duration::from_micros(1_767_323_045_123_456);
        assert_eq!(utc_time_created(t), "2026-01-02 03:04:05.123456");
    }

    #[test]
    fn mlmodel_has_the_pyfunc_flavor_and_quoted_versions() {
        let m = mlmodel("abc123", "u1", UNIX_EPOCH);
        assert!(
            m.contains("\n  python_function:\n    data: model.json\n"),
            "{m}"
        );
        assert!(
            m.contains("    loader_module: credit_default.mlflow_flavor\n"),
            "{m}"
        );
        // Unquoted, YAML would read 3.10 as the float 3.1.
        assert!(m.contains("    python_version: '3.11'\n"), "{m}");
        assert!(m.contains("run_id: 'abc123'\n"), "{m}");
        assert!(
            m.contains("utc_time_created: '1970-01-01 00:00:00.000000'\n"),
            "{m}"
        );
        assert!(
            m.contains(&format!("  inputs: '{}'\n", input_schema_json())),
            "{m}"
        );
        assert!(requirements_txt().starts_with(&format!("credit-default=={PACKAGE_VERSION}\n")));
        assert!(python_env_yaml().contains("- -r requirements.txt\n"));
        let names: Vec<_> = flavor_files("r", UNIX_EPOCH).iter().map(|f| f.0).collect();
        assert_eq!(names, ["MLmodel", "python_env.yaml", "requirements.txt"]);
    }
}
