//! `credit export`: the scorecard in forms that run where the data already is.
//!
//! `--to sql` writes one `SELECT` (DuckDB, BigQuery, Postgres or Spark SQL, see [`sql`]) that
//! validates and scores a table of applicants the way the core does, so a warehouse can score
//! without moving rows out; `--to onnx` writes an ONNX model (see [`onnx`]). Both read the
//! model through the loader `credit score` uses (file, shipped, `models:/` registry reference;
//! checksum verified), and record its version and checksum in what they write. A model with
//! interaction cells (format version 3) is written with its cells, scored as the core scores
//! them (see [`cells`]).

mod cells;
pub mod onnx;
pub mod sql;

use crate::model_ref::ModelRef;
use crate::score_cmd;
use std::io::Write;
use std::path::PathBuf;

pub use sql::Dialect;

/// What `credit export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// One SQL `SELECT` in the dialect given by `--dialect`.
    Sql,
    /// An ONNX model (binary; needs `-o`).
    Onnx,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Model: an artifact file (JSON), or an MLflow registry reference `models:/NAME/VERSION` or
    /// `models:/NAME@ALIAS` (as for `credit score`); the checksum is verified either way.
    /// Without it, the shipped model compiled into this binary.
    #[arg(long, env = "CREDIT_MODEL")]
    pub model: Option<ModelRef>,
    /// What to write.
    #[arg(long, value_enum)]
    pub to: Target,
    /// SQL dialect (needed with `--to sql`).
    #[arg(long, value_enum)]
    pub dialect: Option<Dialect>,
    /// The table the SQL reads: a name as the engine spells it (qualify and quote it as
    /// needed, e.g. `` `my-project.credit.applicants` `` in BigQuery) or a parenthesised
    /// subquery. It needs a column `id` and the ten features under their seed names.
    #[arg(long, default_value = "applicants")]
    pub table: String,
    /// ONNX only: float32 tensors instead of float64.
    #[arg(long)]
    pub float32: bool,
    /// Output file; standard output when absent (SQL only: ONNX is binary).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0:#}")]
    Load(anyhow::Error),
    #[error("--to sql needs --dialect (duckdb, bigquery, postgres or spark)")]
    NoDialect,
    #[error("--dialect applies to --to sql only")]
    DialectWithoutSql,
    #[error("--float32 applies to --to onnx only")]
    Float32WithoutOnnx,
    #[error("--to onnx writes a binary model: give -o FILE")]
    BinaryToTerminal,
    #[error("--table {table:?}: {reason}")]
    BadTable { table: String, reason: &'static str },
    #[error("{what} {value:?} cannot be written as a SQL string (control characters)")]
    BadText { what: String, value: String },
    #[error("{0}")]
    Unsupported(String),
    /// The artifact is not exportable (fails validation, or its checksum does not match).
    #[error("model artifact refused: {0}")]
    Model(#[from] credit_core::ModelError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Checks the option combination before the model is loaded (which may ask a registry).
fn check_args(args: &ExportArgs) -> Result<(), ExportError> {
    match args.to {
        Target::Sql if args.dialect.is_none() => Err(ExportError::NoDialect),
        Target::Sql if args.float32 => Err(ExportError::Float32WithoutOnnx),
        Target::Onnx if args.dialect.is_some() => Err(ExportError::DialectWithoutSql),
        Target::Onnx if args.output.is_none() => Err(ExportError::BinaryToTerminal),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `-o FILE`, or to standard output.
fn write_output(output: Option<&PathBuf>, bytes: &[u8]) -> Result<(), ExportError> {
    match output {
        Some(path) => std::fs::write(path, bytes).map_err(|source| ExportError::Write {
            path: path.display().to_string(),
            source,
        }),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| out.flush())
                .map_err(|source| ExportError::Write {
                    path: "standard output".into(),
                    source,
                })
        }
    }
}

pub fn run(args: &ExportArgs) -> Result<(), ExportError> {
    check_args(args)?;
    let card = score_cmd::load_model(&ModelRef::or_shipped(args.model.as_ref()))
        .map_err(ExportError::Load)?;
    let model = card.artifact();
    let bytes = match (args.to, args.dialect) {
        (Target::Sql, Some(dialect)) => sql::export(model, dialect, &args.table)?.into_bytes(),
        (Target::Sql, None) => return Err(ExportError::NoDialect),
        (Target::Onnx, _) => onnx::export(model, args.float32)?,
    };
    write_output(args.output.as_ref(), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use credit_core::ModelArtifact;

    /// The cells model checked in for every layer's tests (`testdata/cells-model.json`, the
    /// fixture's model as a file) exports in every dialect and both ONNX forms, with its cells.
    #[test]
    fn the_cells_model_file_exports_everywhere() {
        let text = include_str!("../../../testdata/cells-model.json");
        let model = ModelArtifact::from_json(text).expect("the cells model loads");
        assert_eq!(model.interactions.len(), 3);
        for d in [
            Dialect::Duckdb,
            Dialect::Bigquery,
            Dialect::Postgres,
            Dialect::Spark,
        ] {
            let sql = sql::export(&model, d, "applicants").expect("exports");
            assert!(sql.contains(" * co2))"), "{d:?}");
        }
        for float32 in [false, true] {
            let bytes = onnx::export(&model, float32).expect("exports");
            assert!(bytes.windows(9).any(|w| w == b"cell_odds"));
        }
    }
}
