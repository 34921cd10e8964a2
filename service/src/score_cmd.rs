//! `credit score`: stream a CSV of applicants through the model into a CSV of decisions.
//!
//! Constant memory whatever the file size: one record in, one record out. An invalid row gets
//! its errors in the `errors` column (JSON) and the run goes on; a summary is printed at the end.
//!
//! The streaming loop ([`score_csv`]) and the per-record step ([`score_record`]) take readers,
//! writers and records rather than paths, so that the fuzz target (`fuzz/`) drives exactly the
//! code `credit score` runs, from bytes in memory.

use crate::data::{self, Columns};
use crate::model_ref::{self, ModelRef, Source};
use crate::train_cmd::progress_bar;
use anyhow::{Context, Result};
use credit_core::{Applicant, Scorecard, MAX_REASONS};
use flate2::write::GzEncoder;
use std::io::{Read, Write};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// Model: an artifact file (JSON), or an MLflow registry reference `models:/NAME/VERSION` or
    /// `models:/NAME@ALIAS` resolved through `MLFLOW_TRACKING_URI` (https, `MLFLOW_TRACKING_TOKEN`
    /// and `MLFLOW_TRACKING_SERVER_CERT_PATH` as for MLflow's client); the checksum is verified
    /// either way. Without it, the shipped model compiled into this binary.
    #[arg(long, env = "CREDIT_MODEL")]
    pub model: Option<ModelRef>,
    /// Applicants: CSV or CSV.gz with the ten feature columns (seed or Kaggle names), any order.
    pub input: PathBuf,
    /// Output CSV (`.gz` to compress); `-` for standard output.
    #[arg(short, long, default_value = "-")]
    pub output: String,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// What a scoring run did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub rows: u64,
    pub scored: u64,
    pub invalid: u64,
    pub predicted_default: u64,
    pub mean_probability: f64,
}

/// Resolves (file, shipped or registry) and compiles a model; the checksum is verified whatever
/// the origin. A registry reference is reported on standard error with the version it resolved
/// to, since the same reference may name another version tomorrow.
pub fn load_model(model: &ModelRef) -> Result<Scorecard> {
    let r = model_ref::resolve(model)?;
    let described = r.source.describe();
    let card =
        Scorecard::from_json(&r.text).with_context(|| format!("model {described} refused"))?;
    if matches!(r.source, Source::Registry { .. }) {
        eprintln!("model {described}: {}", card.model_version());
    }
    Ok(card)
}

/// Number of columns of the output CSV (see [`output_header`]).
pub const OUTPUT_WIDTH: usize = 5 + MAX_REASONS;

/// The columns of the output CSV: `id`, `probability`, `prediction`, `score`, the reason
/// codes, `errors`.
pub fn output_header() -> Vec<String> {
    let mut header = vec![
        "id".to_owned(),
        "probability".into(),
        "prediction".into(),
        "score".into(),
    ];
    for k in 1..=MAX_REASONS {
        header.push(format!("reason_{k}"));
    }
    header.push("errors".into());
    header
}

/// What one output row says, for the summary.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    Scored { probability: f64, prediction: u8 },
    Invalid,
}

/// One row of the output CSV (its fields in [`output_header`] order) and its outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputRow {
    pub fields: Vec<String>,
    pub outcome: Outcome,
}

/// Scores one input record: the decision, or the record's errors (JSON) in the `errors`
/// column. `line_no` is the record's line in the input, its id when the input has no id column.
pub fn score_record(
    model: &Scorecard,
    cols: &Columns,
    rec: &csv::StringRecord,
    line_no: u64,
) -> OutputRow {
    let id = cols
        .id
        .and_then(|c| rec.get(c))
        .map_or_else(|| line_no.to_string(), str::to_owned);
    let mut out: Vec<String> = Vec::with_capacity(OUTPUT_WIDTH);
    out.push(id);
    let result = if rec.len() != cols.header.len() {
        Err(serde_json::json!([{
            "field": "",
            "code": "wrong_field_count",
            "message": format!("line {line_no} has {} fields, the header has {}", rec.len(), cols.header.len())
        }]))
    } else {
        Applicant::from_fields(cols.fields(rec))
            .map_err(|e| serde_json::to_value(&e.errors).unwrap_or_default())
    };
    let outcome = match result {
        Ok(a) => {
            let p = model.predict(&a);
            out.push(format!("{:?}", p.probability));
            out.push(p.prediction.to_string());
            out.push(format!("{:.2}", p.score));
            for k in 0..MAX_REASONS {
                out.push(
                    p.reasons
                        .as_slice()
                        .get(k)
                        .map(|r| model.reason_code(r.feature).to_owned())
                        .unwrap_or_default(),
                );
            }
            out.push(String::new());
            Outcome::Scored {
                probability: p.probability,
                prediction: p.prediction,
            }
        }
        Err(errors) => {
            out.extend(std::iter::repeat_n(String::new(), 3 + MAX_REASONS));
            out.push(errors.to_string());
            Outcome::Invalid
        }
    };
    OutputRow {
        fields: out,
        outcome,
    }
}

/// The output row of a record the CSV reader could not read (e.g. invalid UTF-8): empty
/// fields and an `invalid_csv` error.
pub fn broken_record_row(e: &csv::Error) -> OutputRow {
    let errors =
        serde_json::json!([{"field": "", "code": "invalid_csv", "message": e.to_string()}]);
    let mut fields = vec![String::new(); OUTPUT_WIDTH];
    fields[OUTPUT_WIDTH - 1] = errors.to_string();
    OutputRow {
        fields,
        outcome: Outcome::Invalid,
    }
}

/// A CSV reader over `input` and where the model's columns are in its header. A header that
/// lacks a feature is an error here, before any output is created. `input_name` names the
/// input in errors.
pub fn read_header<R: Read>(input: R, input_name: &str) -> Result<(csv::Reader<R>, Columns)> {
    let mut rdr = data::csv_reader(input);
    let cols = Columns::from_header(rdr.headers()?)
        .with_context(|| format!("{input_name} cannot be scored"))?;
    Ok((rdr, cols))
}

/// Scores the records of `rdr` (after [`read_header`]) into CSV on `output`. `progress` is
/// called every 8192 rows. The output is flushed and dropped (which finishes a gzip stream)
/// before this returns.
pub fn score_csv<R: Read, W: Write>(
    model: &Scorecard,
    mut rdr: csv::Reader<R>,
    cols: &Columns,
    input_name: &str,
    output: W,
    mut progress: impl FnMut(),
) -> Result<Summary> {
    let mut wtr = csv::Writer::from_writer(output);
    wtr.write_record(output_header())?;
    let mut summary = Summary::default();
    let mut sum_p = 0.0;
    let mut rec = csv::StringRecord::new();
    let mut line_no: u64 = 1;
    loop {
        let more = match rdr.read_record(&mut rec) {
            Ok(m) => m,
            Err(e) => {
                // A broken record (e.g. invalid UTF-8) is reported in place; a truncated
                // compressed stream ends the run with an error after what was read is written.
                if e.is_io_error() {
                    wtr.flush()?;
                    return Err(e).context(format!(
                        "reading {input_name} stopped after {} rows",
                        summary.rows
                    ));
                }
                summary.rows += 1;
                summary.invalid += 1;
                wtr.write_record(&broken_record_row(&e).fields)?;
                continue;
            }
        };
        if !more {
            break;
        }
        line_no = rec.position().map_or(line_no + 1, |p| p.line());
        summary.rows += 1;
        let row = score_record(model, cols, &rec, line_no);
        match row.outcome {
            Outcome::Scored {
                probability,
                prediction,
            } => {
                summary.scored += 1;
                summary.predicted_default += u64::from(prediction);
                sum_p += probability;
            }
            Outcome::Invalid => summary.invalid += 1,
        }
        wtr.write_record(&row.fields)?;
        if summary.rows % 8192 == 0 {
            progress();
        }
    }
    wtr.flush()?;
    drop(wtr);
    summary.mean_probability = if summary.scored > 0 {
        sum_p / summary.scored as f64
    } else {
        0.0
    };
    Ok(summary)
}

pub fn run(args: &ScoreArgs) -> Result<Summary> {
    let model = load_model(&ModelRef::or_shipped(args.model.as_ref()))?;
    let (reader, _digests, size, counter) = data::open(&args.input)?;
    let input_name = args.input.display().to_string();
    let (rdr, cols) = read_header(reader, &input_name)?;
    let out: Box<dyn Write> = if args.output == "-" {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        let f = std::fs::File::create(&args.output)
            .with_context(|| format!("cannot create {}", args.output))?;
        let w = std::io::BufWriter::with_capacity(1 << 16, f);
        if args.output.ends_with(".gz") {
            Box::new(GzEncoder::new(w, flate2::Compression::default()))
        } else {
            Box::new(w)
        }
    };
    let bar = progress_bar(size, args.quiet, "scoring");
    let summary = score_csv(&model, rdr, &cols, &input_name, out, || {
        bar.set_position(counter.get())
    });
    bar.finish_and_clear();
    let summary = summary?;
    eprintln!(
        "scored {} of {} rows ({} invalid), {} predicted to default, mean probability {:.4}",
        summary.scored,
        summary.rows,
        summary.invalid,
        summary.predicted_default,
        summary.mean_probability
    );
    Ok(summary)
}
