//! Errors: field-level validation errors (what, where, why) and model artifact errors.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Stable machine codes of validation errors. Front doors expose these verbatim
/// (`"type"` in a FastAPI-style 422, `code` in Python / JS errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A required field is absent (or null / NaN in a batch column).
    Missing,
    /// The value is not a number (a string, a boolean, an object, ...).
    NotANumber,
    /// A count has a fractional part.
    NotAnInteger,
    /// The value lies outside the documented range.
    OutOfRange,
    /// NaN or ±infinity.
    NotFinite,
    /// A field the model does not know (often a typo).
    UnknownField,
    /// The same field given twice (also under its alias).
    DuplicateField,
    /// The applicant is not a JSON object / mapping.
    NotAnObject,
    /// The text is not valid JSON.
    InvalidJson,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Missing => "missing",
            ErrorCode::NotANumber => "not_a_number",
            ErrorCode::NotAnInteger => "not_an_integer",
            ErrorCode::OutOfRange => "out_of_range",
            ErrorCode::NotFinite => "not_finite",
            ErrorCode::UnknownField => "unknown_field",
            ErrorCode::DuplicateField => "duplicate_field",
            ErrorCode::NotAnObject => "not_an_object",
            ErrorCode::InvalidJson => "invalid_json",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one field of an applicant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field as the caller named it (canonical name for missing fields, empty for whole-object errors).
    pub field: String,
    pub code: ErrorCode,
    /// A sentence for humans.
    pub message: String,
    /// The offending value as JSON (`"NaN"` / `"inf"` as strings), `null` when absent.
    pub value: serde_json::Value,
}

/// Every problem found with one applicant, reported at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub struct ValidationErrors {
    pub errors: Vec<FieldError>,
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "{n} validation error{} for applicant",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            if e.field.is_empty() {
                write!(f, "\n  {} [{}]", e.message, e.code)?;
            } else {
                write!(f, "\n  {}: {} [{}]", e.field, e.message, e.code)?;
            }
        }
        Ok(())
    }
}

/// Why a model artifact was refused.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model artifact is not valid JSON for this format: {0}")]
    Json(#[from] serde_json::Error),
    #[error("model artifact has format {found:?}; expected {expected:?}")]
    WrongFormat {
        found: String,
        expected: &'static str,
    },
    #[error("model artifact has format version {found}; this build reads version {expected}")]
    WrongFormatVersion { found: u32, expected: u32 },
    #[error("model artifact checksum mismatch: stored {stored}, computed {computed} (the file was changed after it was written)")]
    ChecksumMismatch { stored: String, computed: String },
    #[error("model artifact has no checksum")]
    MissingChecksum,
    #[error("model artifact lacks feature {0:?}")]
    MissingFeature(&'static str),
    #[error("model artifact has unknown or duplicated feature {0:?}")]
    UnexpectedFeature(String),
    #[error("feature {feature:?}: {problem}")]
    BadFeature { feature: String, problem: String },
    #[error("model artifact: {0}")]
    Invalid(String),
}

/// A batch matrix of the wrong shape or layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("expected {expected} columns, got {found}")]
    Columns { expected: usize, found: usize },
    #[error("output has {found} slots for {expected} rows")]
    Output { expected: usize, found: usize },
    #[error("data has {len} values, which is not {n_rows} rows of {n_cols}")]
    Length {
        len: usize,
        n_rows: usize,
        n_cols: usize,
    },
    #[error("column {column} has {found} values, expected {expected}")]
    ColumnLength {
        column: usize,
        found: usize,
        expected: usize,
    },
}
