//! `credit export --to onnx`: not built in this branch (a placeholder with the final
//! interface; the ONNX exporter replaces this file).

use super::ExportError;

/// The scorecard as an ONNX model (`float32`: float32 tensors instead of float64).
pub fn export(model: &credit_core::ModelArtifact, float32: bool) -> Result<Vec<u8>, ExportError> {
    let _ = (model, float32);
    Err(ExportError::Unsupported(
        "onnx export is not built in this branch".into(),
    ))
}
