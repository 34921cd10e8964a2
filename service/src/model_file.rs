//! Where a command's model comes from: the file given with `--model` / `CREDIT_MODEL`, or, when
//! none is given, the shipped scorecard compiled into this binary (`credit_core::shipped`), so
//! `credit serve`, `score` and `explain` work from any directory with no flags. The commands
//! reach it through `crate::model_ref`, which also resolves MLflow `models:/` references.

use std::path::{Path, PathBuf};

/// How a model is named in logs and messages when no file was given.
pub const SHIPPED_LABEL: &str = "(shipped model)";

/// Why a model's text could not be had.
#[derive(Debug, thiserror::Error)]
#[error("cannot read model {}: {source}", path.display())]
pub struct ReadError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// The artifact text of `path`, or of the shipped model when `path` is `None`.
pub fn read_text(path: Option<&Path>) -> Result<String, ReadError> {
    match path {
        None => Ok(credit_core::shipped::MODEL_JSON.to_owned()),
        Some(p) => std::fs::read_to_string(p).map_err(|source| ReadError {
            path: p.to_owned(),
            source,
        }),
    }
}

/// How to name the model in messages: its path, or [`SHIPPED_LABEL`].
pub fn describe(path: Option<&Path>) -> String {
    path.map_or_else(|| SHIPPED_LABEL.to_owned(), |p| p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_path_reads_the_shipped_model() {
        let text = read_text(None).unwrap();
        assert_eq!(text, credit_core::shipped::MODEL_JSON);
        assert_eq!(describe(None), SHIPPED_LABEL);
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let e = read_text(Some(Path::new("no/such/model.json"))).unwrap_err();
        assert!(e.to_string().contains("no/such/model.json"), "{e}");
    }
}
