//! `credit score`: stream a CSV of applicants through the model into a CSV of decisions.
//!
//! Constant memory whatever the file size: one record in, one record out. An invalid row gets
//! its errors in the `errors` column (JSON) and the run goes on; a summary is printed at the end.

use crate::data::{self, Columns};
use crate::model_file;
use crate::train_cmd::progress_bar;
use anyhow::{Context, Result};
use credit_core::{Applicant, Scorecard, MAX_REASONS};
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// Model artifact (JSON); without it, the shipped model compiled into this binary.
    #[arg(long, env = "CREDIT_MODEL")]
    pub model: Option<PathBuf>,
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

/// Reads and compiles the model at `path`, or the shipped model when `path` is `None`.
pub fn load_model(path: Option<&Path>) -> Result<Scorecard> {
    let text = model_file::read_text(path)?;
    Scorecard::from_json(&text)
        .with_context(|| format!("model {} refused", model_file::describe(path)))
}

pub fn run(args: &ScoreArgs) -> Result<Summary> {
    let model = load_model(args.model.as_deref())?;
    let (reader, _digests, size, counter) = data::open(&args.input)?;
    let mut rdr = data::csv_reader(reader);
    let cols = Columns::from_header(rdr.headers()?)
        .with_context(|| format!("{} cannot be scored", args.input.display()))?;
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
    let mut wtr = csv::Writer::from_writer(out);
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
    wtr.write_record(&header)?;
    let bar = progress_bar(size, args.quiet, "scoring");
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
                        "reading {} stopped after {} rows",
                        args.input.display(),
                        summary.rows
                    ));
                }
                summary.rows += 1;
                summary.invalid += 1;
                let errors = serde_json::json!([{"field": "", "code": "invalid_csv", "message": e.to_string()}]);
                let mut out = vec![String::new(); header.len()];
                out[header.len() - 1] = errors.to_string();
                wtr.write_record(&out)?;
                continue;
            }
        };
        if !more {
            break;
        }
        line_no = rec.position().map_or(line_no + 1, |p| p.line());
        summary.rows += 1;
        let id = cols
            .id
            .and_then(|c| rec.get(c))
            .map_or_else(|| line_no.to_string(), str::to_owned);
        let mut out: Vec<String> = Vec::with_capacity(header.len());
        out.push(id);
        let result = if rec.len() != cols.header.len() {
            Err(serde_json::json!([{
                "field": "",
                "code": "wrong_field_count",
                "message": format!("line {line_no} has {} fields, the header has {}", rec.len(), cols.header.len())
            }]))
        } else {
            Applicant::from_fields(cols.fields(&rec))
                .map_err(|e| serde_json::to_value(&e.errors).unwrap_or_default())
        };
        match result {
            Ok(a) => {
                let p = model.predict(&a);
                summary.scored += 1;
                summary.predicted_default += u64::from(p.prediction);
                sum_p += p.probability;
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
            }
            Err(errors) => {
                summary.invalid += 1;
                out.extend(std::iter::repeat_n(String::new(), 3 + MAX_REASONS));
                out.push(errors.to_string());
            }
        }
        wtr.write_record(&out)?;
        if summary.rows % 8192 == 0 {
            bar.set_position(counter.get());
        }
    }
    bar.finish_and_clear();
    wtr.flush()?;
    drop(wtr);
    summary.mean_probability = if summary.scored > 0 {
        sum_p / summary.scored as f64
    } else {
        0.0
    };
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
