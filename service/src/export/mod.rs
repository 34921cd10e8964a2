//! `credit export`: the scorecard in forms that run where the data already lives.
//!
//! Minimal module of the ONNX branch: the error type and `--to onnx`. The SQL exporter's
//! branch owns the full version of this file (all targets); `onnx::export` keeps the signature
//! both agree on.

pub mod onnx;

use crate::model_ref::ModelRef;
use crate::score_cmd::load_model;
use anyhow::{Context, Result};
use credit_core::ModelError;
use std::io::Write;

/// Why an export was refused.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The target cannot express this request.
    #[error("{0}")]
    Unsupported(String),
    /// The artifact itself is not exportable (fails validation, or its checksum does not match).
    #[error("model artifact refused: {0}")]
    Model(#[from] ModelError),
}

/// Export targets.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Onnx,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Model: an artifact file (JSON) or an MLflow registry reference `models:/NAME/VERSION` or
    /// `models:/NAME@ALIAS` (as for `credit score`); the checksum is verified either way.
    /// Without it, the shipped model compiled into this binary.
    #[arg(long, env = "CREDIT_MODEL")]
    pub model: Option<ModelRef>,
    /// What to write.
    #[arg(long)]
    pub to: Target,
    /// ONNX only: float32 input and outputs (for runtimes without float64); see the README
    /// for the precision.
    #[arg(long)]
    pub float32: bool,
    /// Output file; `-` for standard output.
    #[arg(short, long, default_value = "-")]
    pub output: String,
}

pub fn run(args: &ExportArgs) -> Result<()> {
    let card = load_model(&ModelRef::or_shipped(args.model.as_ref()))?;
    let bytes = match args.to {
        Target::Onnx => onnx::export(card.artifact(), args.float32)?,
    };
    if args.output == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(&bytes)?;
        out.flush()?;
    } else {
        std::fs::write(&args.output, &bytes)
            .with_context(|| format!("cannot write {}", args.output))?;
    }
    Ok(())
}
