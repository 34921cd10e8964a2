//! `credit train`: fit the scorecard on a Kaggle-layout CSV and write the artifact and a report.

use crate::data::{self, Columns};
use crate::report;
use anyhow::{bail, Context, Result};
use credit_core::train::{train, TrainConfig, TrainEvent, TrainOutcome, TrainingSet};
use credit_core::N_FEATURES;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Training data: the Kaggle `cs-training.csv` layout, plain or gzip-compressed.
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write the model artifact (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// Directory for the report (`index.html`, `metrics.json`, `oof.csv`).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Maximum quantile bins per feature (2 to 64: the scorer's table width).
    #[arg(long, default_value_t = TrainConfig::default().max_bins,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(2..=credit_core::train::MAX_BINS as u64))]
    pub max_bins: usize,
    /// L2 penalty on the steps between adjacent bins.
    #[arg(long, default_value_t = TrainConfig::default().l2_alpha)]
    pub alpha: f64,
    /// Cross-validation folds.
    #[arg(long, default_value_t = TrainConfig::default().folds)]
    pub folds: usize,
    /// L-BFGS iteration limit per fit.
    #[arg(long, default_value_t = TrainConfig::default().max_iterations)]
    pub max_iterations: u64,
    /// L-BFGS gradient tolerance.
    #[arg(long, default_value_t = TrainConfig::default().gradient_tolerance)]
    pub tolerance: f64,
    /// Pairs of features that get interaction cells, fitted jointly with the bins (0: the
    /// additive scorecard; `age` only with --age-pairs; at most 16). A model with cells is written
    /// as format version 3.
    #[arg(long, default_value_t = TrainConfig::default().interactions)]
    pub interactions: usize,
    /// Most coarse groups per axis of an interaction grid (2 to 14; range bins; missing and
    /// special codes get a group each).
    #[arg(long, default_value_t = TrainConfig::default().coarse_groups,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new()
              .range(2..=credit_core::train::MAX_COARSE_GROUPS as u64))]
    pub coarse_groups: usize,
    /// Value of a set cell column: the L2 penalty on a cell step is alpha / cell-scale².
    #[arg(long, default_value_t = TrainConfig::default().cell_scale)]
    pub cell_scale: f64,
    /// Rounds of cyclic boosting of the fitted bin and cell logits on the residuals, before the
    /// domain repairs (0: none): per round a shrunk stump per feature over its bins and a shrunk
    /// Newton step per cell.
    #[arg(long, default_value_t = TrainConfig::default().refine_rounds)]
    pub refine_rounds: usize,
    /// Shrinkage of each boosting step of --refine-rounds.
    #[arg(long, default_value_t = TrainConfig::default().refine_rate)]
    pub refine_rate: f64,
    /// Let age be in interaction pairs, under Regulation B: age's groups split at 62, and in
    /// every column of a pair's cells the elderly cells are held at or below the most favoured
    /// younger cell (with a share of the age bins' own margin), so that no applicant of 62 or
    /// more gets fewer points from age than a younger one with the same other features.
    #[arg(long)]
    pub age_pairs: bool,
    /// Write the out-of-fold predictions (row, fold, label, probability) to this CSV file,
    /// e.g. for comparing other learners on the same folds.
    #[arg(long)]
    pub oof: Option<PathBuf>,
    /// Version to stamp on the model (default: derived from its content).
    #[arg(long)]
    pub model_version: Option<String>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// MLflow tracking server (`http://HOST:PORT`): log the run, its artifacts and a new
    /// version of the registered model `credit-default`. Unset: local files only.
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    pub mlflow_uri: Option<String>,
    /// MLflow experiment to log into (created when missing).
    #[arg(long, env = "MLFLOW_EXPERIMENT_NAME", default_value = crate::mlflow::DEFAULT_EXPERIMENT)]
    pub mlflow_experiment: String,
}

/// Reads labelled rows. Cells that are not numbers make the file unusable for training.
pub fn read_training_set(path: &Path, quiet: bool) -> Result<TrainingSet> {
    let (reader, digests, size, counter) = data::open(path)?;
    let mut rdr = data::csv_reader(reader);
    let cols = Columns::from_header(rdr.headers()?)?;
    let Some(label_col) = cols.label else {
        bail!(
            "{} has no {} column to learn from",
            path.display(),
            data::LABEL
        );
    };
    let bar = progress_bar(size, quiet, "reading");
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    let mut rec = csv::StringRecord::new();
    while rdr
        .read_record(&mut rec)
        .with_context(|| format!("reading {}", path.display()))?
    {
        let line = rec.position().map_or(0, |p| p.line());
        if rec.len() != cols.header.len() {
            bail!(
                "line {line}: {} fields, the header has {}",
                rec.len(),
                cols.header.len()
            );
        }
        let mut row = [f64::NAN; N_FEATURES];
        for (j, &c) in cols.feature.iter().enumerate() {
            row[j] = match data::raw(&rec[c]) {
                credit_core::RawValue::Null => f64::NAN,
                credit_core::RawValue::Float(v) => v,
                _ => bail!(
                    "line {line}: column {:?} is not a number: {:?}",
                    cols.header[c],
                    &rec[c]
                ),
            };
        }
        let y = match rec[label_col].trim() {
            "0" => 0,
            "1" => 1,
            other => bail!("line {line}: label {other:?} is not 0 or 1"),
        };
        rows.push(row);
        labels.push(y);
        if rows.len() % 4096 == 0 {
            bar.set_position(counter.get());
        }
    }
    bar.finish_and_clear();
    let _ = digests.bytes();
    Ok(TrainingSet {
        rows,
        labels,
        sha256: digests.sha256_hex(),
    })
}

pub fn progress_bar(len: u64, quiet: bool, msg: &'static str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(msg);
    bar
}

pub fn run(args: &TrainArgs) -> Result<TrainOutcome> {
    let data = read_training_set(&args.data, args.quiet)?;
    let cfg = TrainConfig {
        max_bins: args.max_bins,
        l2_alpha: args.alpha,
        folds: args.folds,
        max_iterations: args.max_iterations,
        gradient_tolerance: args.tolerance,
        model_version: args.model_version.clone(),
        interactions: args.interactions,
        coarse_groups: args.coarse_groups,
        cell_scale: args.cell_scale,
        refine_rounds: args.refine_rounds,
        refine_rate: args.refine_rate,
        age_pairs: args.age_pairs,
        ..TrainConfig::default()
    };
    let steps = cfg.folds as u64 + 1;
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::new(steps);
        b.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} fits ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b.set_message("fitting");
        b
    };
    let started = std::time::Instant::now();
    let mut on_event = |e: TrainEvent| match e {
        TrainEvent::FoldFinished { fold, auc } => {
            bar.inc(1);
            let msg = format!(
                "  fold {}: AUC {auc:.5} ({:.0?})",
                fold + 1,
                started.elapsed()
            );
            if bar.is_hidden() && !args.quiet {
                eprintln!("{msg}");
            } else {
                bar.println(msg);
            }
        }
        TrainEvent::Done => bar.inc(1),
        _ => {}
    };
    let outcome = train(&data, &cfg, &mut on_event)?;
    bar.finish_and_clear();
    let json = outcome.artifact.to_json()?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, &json).with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(dir) = &args.report {
        report::write(dir, &outcome)?;
    }
    if let Some(path) = &args.oof {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        report::write_oof(path, &outcome)?;
    }
    let m = &outcome.artifact.metrics;
    eprintln!(
        "model {} written to {}\n  rows {} (excluded {}), CV AUC {:.5} ± {:.5} (pooled {:.5}), KS {:.4}, Brier {:.5}, threshold {:.4}",
        outcome.artifact.model_version,
        args.out.display(),
        outcome.artifact.training_data.rows,
        outcome.artifact.training_data.rows_excluded,
        m.cv_auc_mean,
        m.cv_auc_std,
        m.cv.auc,
        m.cv.ks,
        m.cv.brier,
        outcome.artifact.threshold.probability
    );
    if let Some(uri) = args.mlflow_uri.as_deref().filter(|u| !u.is_empty()) {
        crate::mlflow::log_training(uri, &args.mlflow_experiment, args, &outcome)?;
    }
    Ok(outcome)
}
