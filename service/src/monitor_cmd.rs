//! `credit monitor`: population stability of the applicants in the prediction log, per day.
//!
//! Features are compared with the training distribution stored in the model artifact (every
//! bin carries its training count), so no training data is needed at monitoring time.
//!
//! The score is compared with the artifact's `score_distribution` (format version 2 on): the
//! out-of-fold score histogram of the training rows over fixed score bands, i.e. what the
//! model gives on rows it did not see. Each day's scores are recomputed from the logged inputs
//! with `--model` (so a log that spans a model change still compares like with like), counted
//! in the same bands, and compared with the same PSI (and empty-band epsilon) as the features.
//! The baseline is `--model`'s own distribution, not `--baseline-model`'s: another model's
//! scores are on another footing.
//!
//! Older artifacts have no such section, and it cannot be rebuilt from them (bins store
//! per-feature marginal counts only; the score depends on the features' joint distribution).
//! Then the report says "score baseline missing" in every output and falls back to the old
//! method, labelled as such: the first day with at least `--min-rows` records defines ten
//! decile bins and later days are compared with it (that day's score PSI is 0 by
//! construction; the column then means "has the scored population moved since monitoring
//! began").
//!
//! Exit codes (for schedulers): 0 stable, 1 some day's PSI above `--psi-threshold`, 2 error.

use crate::model_ref::ModelRef;
use crate::score_cmd::load_model;
use anyhow::{bail, Context, Result};
use credit_core::artifact::ScoreDistribution;
use credit_core::drift::{psi, psi_level, BinCounter};
use credit_core::{Applicant, Scorecard, FEATURES, N_FEATURES};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct MonitorArgs {
    /// Prediction log: `sqlite://PATH` (table `predictions`) or `jsonl://PATH`.
    #[arg(
        long,
        env = "CREDIT_LOG",
        default_value = "sqlite://.work/predictions.db"
    )]
    pub log: String,
    /// The model being monitored: its training bins are the feature baseline and it rescores
    /// every logged input for the score PSI.
    /// A file (JSON) or an MLflow registry reference (`models:/NAME/VERSION`,
    /// `models:/NAME@ALIAS`, resolved through `MLFLOW_TRACKING_URI`).
    /// Without it, the shipped model compiled into this binary.
    #[arg(long, env = "CREDIT_MODEL")]
    pub model: Option<ModelRef>,
    /// Take the feature baseline (training bins) from this model instead, e.g. the champion
    /// a retrained model replaced: a file or a `models:/` reference (`models:/credit-default@champion`).
    #[arg(long)]
    pub baseline_model: Option<ModelRef>,
    /// Write an HTML report with inline SVG charts here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write the PSI table as JSON here (for schedulers and flows).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// PSI above which a day counts as drifted (0.25 = the usual "major shift").
    #[arg(long, default_value_t = 0.25)]
    pub psi_threshold: f64,
    /// Days with fewer records are shown but neither gate nor serve as the score baseline
    /// (PSI of a handful of rows is noise).
    #[arg(long, default_value_t = 100)]
    pub min_rows: u64,
}

/// One logged prediction, as far as monitoring needs it.
struct Record {
    day: String,
    model_version: String,
    row: [f64; N_FEATURES],
}

/// The PSI of one day.
#[derive(Debug, Serialize)]
pub struct DayReport {
    pub day: String,
    pub rows: u64,
    /// Records whose input no longer validates (never expected from `credit serve`).
    pub invalid: u64,
    /// Whether the day has enough rows to gate.
    pub gated: bool,
    pub model_versions: BTreeMap<String, u64>,
    /// PSI per feature, in model column order.
    pub features: BTreeMap<String, f64>,
    pub score_psi: Option<f64>,
    pub max_psi: f64,
    pub drift: bool,
    #[serde(skip)]
    counts: Vec<Vec<u64>>,
    #[serde(skip)]
    scores: Vec<f64>,
}

/// What the score PSI is measured against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreBaseline {
    /// The artifact's out-of-fold training score distribution.
    TrainingOutOfFold,
    /// Fallback for artifacts without one: the score deciles of the first gated day.
    FirstDayDeciles,
}

impl ScoreBaseline {
    /// The score row's name in the text and HTML tables.
    fn label(self) -> &'static str {
        match self {
            ScoreBaseline::TrainingOutOfFold => "score vs training",
            ScoreBaseline::FirstDayDeciles => "score vs first day",
        }
    }
}

/// Said in every output when the artifact cannot give the score baseline.
pub const SCORE_BASELINE_MISSING: &str = "score baseline missing: the model artifact has no \
     training score distribution (retrain with this version)";

/// Everything `credit monitor` found.
#[derive(Debug, Serialize)]
pub struct Report {
    pub log: String,
    pub model_version: String,
    pub baseline_model_version: String,
    pub psi_threshold: f64,
    pub min_rows: u64,
    pub records: u64,
    /// What the score PSI compares with.
    pub score_baseline: ScoreBaseline,
    /// [`SCORE_BASELINE_MISSING`] when the artifact has no training score distribution.
    pub score_baseline_missing: Option<&'static str>,
    /// With the first-day fallback: the day whose score deciles are the score baseline.
    pub score_baseline_day: Option<String>,
    pub drift: bool,
    pub days: Vec<DayReport>,
}

/// `YYYY-MM-DD` of an RFC 3339 timestamp, `None` when it does not look like one.
fn day_of(ts: &str) -> Option<String> {
    let d = ts.get(..10)?;
    let b = d.as_bytes();
    let ok = b.iter().enumerate().all(|(i, c)| {
        if i == 4 || i == 7 {
            *c == b'-'
        } else {
            c.is_ascii_digit()
        }
    });
    ok.then(|| d.to_owned())
}

/// Turns one log entry into a record; `Ok(None)` when its input no longer validates.
fn record(ts: &str, model_version: &str, input: &serde_json::Value) -> Result<Option<Record>> {
    let Some(day) = day_of(ts) else {
        bail!("timestamp {ts:?} is not RFC 3339");
    };
    Ok(Applicant::from_json_value(input).ok().map(|a| Record {
        day,
        model_version: model_version.to_owned(),
        row: *a.values(),
    }))
}

/// Reads every record of the log; the count of records whose input did not validate, per day,
/// is returned alongside.
fn read_log(sink: &str) -> Result<(Vec<Record>, BTreeMap<String, u64>)> {
    let mut records = Vec::new();
    let mut invalid: BTreeMap<String, u64> = BTreeMap::new();
    let mut push = |ts: &str, version: &str, input: &serde_json::Value| -> Result<()> {
        match record(ts, version, input)? {
            Some(r) => records.push(r),
            None => *invalid.entry(day_of(ts).unwrap_or_default()).or_default() += 1,
        }
        Ok(())
    };
    if let Some(path) = sink.strip_prefix("sqlite://") {
        if !Path::new(path).exists() {
            bail!("prediction log {path} does not exist");
        }
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("opening {path}"))?;
        let mut stmt = conn
            .prepare("SELECT ts, model_version, input FROM predictions ORDER BY ts")
            .with_context(|| format!("{path}: no usable `predictions` table"))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let ts: String = row.get(0)?;
            let version: Option<String> = row.get(1)?;
            let input: String = row.get(2)?;
            let input: serde_json::Value = serde_json::from_str(&input)
                .with_context(|| format!("{path}: input of the record at {ts} is not JSON"))?;
            push(&ts, version.as_deref().unwrap_or(""), &input)?;
        }
    } else if let Some(path) = sink.strip_prefix("jsonl://") {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening prediction log {path}"))?;
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.with_context(|| format!("reading {path}"))?;
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&line)
                .with_context(|| format!("{path}:{}: not JSON", i + 1))?;
            let ts = v.get("ts").and_then(|t| t.as_str()).unwrap_or("");
            let version = v
                .get("model_version")
                .and_then(|t| t.as_str())
                .unwrap_or("");
            let Some(input) = v.get("input") else {
                bail!("{path}:{}: record has no input", i + 1);
            };
            push(ts, version, input).with_context(|| format!("{path}:{}", i + 1))?;
        }
    } else {
        bail!("credit monitor reads sqlite://PATH or jsonl://PATH prediction logs, not {sink:?}");
    }
    // A stable order within a day does not matter for PSI, but days must be sorted.
    records.sort_by(|a, b| a.day.cmp(&b.day));
    Ok((records, invalid))
}

/// Cut points at the deciles of `scores` (deduplicated, so ties merge bins).
fn decile_edges(scores: &[f64]) -> Vec<f64> {
    let mut s: Vec<f64> = scores.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = Vec::new();
    if s.is_empty() {
        return edges;
    }
    for k in 1..10 {
        let e = s[(k * s.len() / 10).min(s.len() - 1)];
        if edges.last().is_none_or(|&last| e > last) {
            edges.push(e);
        }
    }
    edges
}

/// Counts per bin: `k` = number of edges `<= x` (the artifact's own bin rule).
fn bucket_counts(edges: &[f64], values: &[f64]) -> Vec<u64> {
    let mut counts = vec![0u64; edges.len() + 1];
    for &x in values {
        counts[edges.partition_point(|&e| e <= x)] += 1;
    }
    counts
}

/// Computes the per-day PSI table.
pub fn analyse(args: &MonitorArgs) -> Result<(Report, Scorecard)> {
    let model = load_model(&ModelRef::or_shipped(args.model.as_ref()))?;
    let baseline = match &args.baseline_model {
        Some(r) => load_model(r)?,
        None => model.clone(),
    };
    let (records, invalid) = read_log(&args.log)?;
    let mut days: Vec<DayReport> = Vec::new();
    let mut counter = BinCounter::new(&baseline);
    for (i, r) in records.iter().enumerate() {
        if days.last().is_none_or(|d| d.day != r.day) {
            counter = BinCounter::new(&baseline);
            days.push(DayReport {
                day: r.day.clone(),
                rows: 0,
                invalid: invalid.get(&r.day).copied().unwrap_or(0),
                gated: false,
                model_versions: BTreeMap::new(),
                features: BTreeMap::new(),
                score_psi: None,
                max_psi: 0.0,
                drift: false,
                counts: Vec::new(),
                scores: Vec::new(),
            });
        }
        let Some(day) = days.last_mut() else {
            continue;
        };
        if counter.add(&baseline, &r.row) {
            day.rows += 1;
            *day.model_versions
                .entry(r.model_version.clone())
                .or_default() += 1;
            if let Some((_, score)) = model.try_probability_and_score(&r.row) {
                day.scores.push(score);
            }
        } else {
            day.invalid += 1;
        }
        let last_of_day = records.get(i + 1).is_none_or(|n| n.day != r.day);
        if last_of_day {
            day.counts = counter.counts.clone();
        }
    }
    for d in &mut days {
        d.gated = d.rows >= args.min_rows;
        for (j, spec) in FEATURES.iter().enumerate() {
            let p = psi(&BinCounter::baseline(&baseline, j), &d.counts[j]);
            d.features.insert(spec.name.to_owned(), p);
        }
    }
    let (score_baseline, score_base) = score_psi(&model, &mut days);
    let mut drift = false;
    for d in &mut days {
        d.max_psi = d
            .features
            .values()
            .copied()
            .chain(d.score_psi)
            .fold(0.0, f64::max);
        d.drift = d.gated && d.max_psi > args.psi_threshold;
        drift |= d.drift;
    }
    let report = Report {
        log: args.log.clone(),
        model_version: model.model_version().to_owned(),
        baseline_model_version: baseline.model_version().to_owned(),
        psi_threshold: args.psi_threshold,
        min_rows: args.min_rows,
        records: records.len() as u64 + invalid.values().sum::<u64>(),
        score_baseline,
        score_baseline_missing: (score_baseline == ScoreBaseline::FirstDayDeciles)
            .then_some(SCORE_BASELINE_MISSING),
        score_baseline_day: score_base.map(|i| days[i].day.clone()),
        drift,
        days,
    };
    Ok((report, baseline))
}

/// Fills every day's score PSI: against the artifact's training score distribution when it
/// has one, else against the first gated day's deciles (returned with that day's index).
fn score_psi(model: &Scorecard, days: &mut [DayReport]) -> (ScoreBaseline, Option<usize>) {
    if let Some(dist) = &model.artifact().score_distribution {
        for d in days.iter_mut() {
            let counts = ScoreDistribution::count(&dist.edges, &d.scores);
            d.score_psi = Some(psi(&dist.counts, &counts));
        }
        return (ScoreBaseline::TrainingOutOfFold, None);
    }
    let score_base = days.iter().position(|d| d.gated);
    if let Some(i) = score_base {
        let edges = decile_edges(&days[i].scores);
        let base_counts = bucket_counts(&edges, &days[i].scores);
        for d in days.iter_mut().skip(i) {
            d.score_psi = Some(psi(&base_counts, &bucket_counts(&edges, &d.scores)));
        }
    }
    (ScoreBaseline::FirstDayDeciles, score_base)
}

/// The score baseline in words, for the text and HTML headers.
fn score_baseline_words(r: &Report) -> String {
    match r.score_baseline {
        ScoreBaseline::TrainingOutOfFold => format!(
            "out-of-fold training score distribution of {}",
            r.model_version
        ),
        ScoreBaseline::FirstDayDeciles => format!(
            "FALLBACK, deciles of the scores of {}",
            r.score_baseline_day
                .as_deref()
                .unwrap_or("(no day with enough rows)")
        ),
    }
}

/// Runs the command; `Ok(true)` means drift (exit code 1).
pub fn run(args: &MonitorArgs) -> Result<bool> {
    let (report, baseline) = analyse(args)?;
    print!("{}", text_table(&report));
    if let Some(path) = &args.json {
        write_file(path, &(serde_json::to_string_pretty(&report)? + "\n"))?;
    }
    if let Some(path) = &args.html {
        write_file(path, &html_report(&report, &baseline))?;
        eprintln!("HTML report written to {}", path.display());
    }
    Ok(report.drift)
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Days shown in the terminal (the HTML report has them all).
const TEXT_DAYS: usize = 14;

fn fmt_psi(p: f64, threshold: f64) -> String {
    let flag = if p > threshold { "*" } else { " " };
    format!("{p:>9.4}{flag}")
}

/// The terminal table: one row per feature (and the score), one column per day.
pub fn text_table(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "prediction log {}: {} records over {} days; model {} (feature baseline: training bins of {}; \
         score baseline: {})",
        r.log,
        r.records,
        r.days.len(),
        r.model_version,
        r.baseline_model_version,
        score_baseline_words(r)
    );
    if let Some(missing) = r.score_baseline_missing {
        let _ = writeln!(
            out,
            "{missing}; score PSI falls back to the first day's deciles"
        );
    }
    if r.days.is_empty() {
        let _ = writeln!(out, "no records: nothing to compare");
        return out;
    }
    let shown = &r.days[r.days.len().saturating_sub(TEXT_DAYS)..];
    let name_w = FEATURES.iter().map(|f| f.name.len()).max().unwrap_or(10);
    let _ = write!(out, "{:<name_w$}", "PSI");
    for d in shown {
        let _ = write!(out, " {:>10}", d.day);
    }
    out.push('\n');
    for spec in FEATURES.iter() {
        let _ = write!(out, "{:<name_w$}", spec.name);
        for d in shown {
            let p = d.features.get(spec.name).copied().unwrap_or(0.0);
            let _ = write!(out, " {}", fmt_psi(p, r.psi_threshold));
        }
        out.push('\n');
    }
    let _ = write!(out, "{:<name_w$}", r.score_baseline.label());
    for d in shown {
        match d.score_psi {
            Some(p) => {
                let _ = write!(out, " {}", fmt_psi(p, r.psi_threshold));
            }
            None => {
                let _ = write!(out, " {:>10}", "-");
            }
        }
    }
    out.push('\n');
    let _ = write!(out, "{:<name_w$}", "rows");
    for d in shown {
        let mark = if d.gated { ' ' } else { '~' };
        let _ = write!(out, " {:>9}{mark}", d.rows);
    }
    out.push('\n');
    let _ = write!(out, "{:<name_w$}", "status");
    for d in shown {
        let s = if !d.gated {
            "few rows"
        } else if d.drift {
            "DRIFT"
        } else {
            psi_level(d.max_psi)
        };
        let _ = write!(out, " {:>10}", s.get(..s.len().min(10)).unwrap_or(s));
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "* PSI above {} ({}); ~ fewer than {} rows (not gated). Verdict: {}",
        r.psi_threshold,
        psi_level(r.psi_threshold),
        r.min_rows,
        if r.drift { "DRIFT" } else { "stable" }
    );
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Colour of a PSI cell: green, amber, red.
fn psi_colour(p: f64, threshold: f64) -> &'static str {
    if p > threshold {
        "#f4b6b6"
    } else if p >= 0.1 {
        "#f9e2a8"
    } else {
        "#cdebc4"
    }
}

const PALETTE: [&str; 11] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#000000",
];

/// Line chart of PSI per day, one line per feature and one for the score, threshold dashed.
fn psi_chart(r: &Report) -> String {
    let (w, h, left, right, top, bottom) = (1000.0, 320.0, 50.0, 300.0, 15.0, 40.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let n = r.days.len();
    let ymax = r
        .days
        .iter()
        .map(|d| d.max_psi)
        .fold(r.psi_threshold * 1.2, f64::max)
        .min(10.0);
    let x = |i: usize| {
        left + if n > 1 {
            pw * i as f64 / (n - 1) as f64
        } else {
            pw / 2.0
        }
    };
    let y = |p: f64| top + ph - ph * (p.min(ymax) / ymax);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="PSI per day">"#
    );
    let _ = write!(
        s,
        r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>"##
    );
    for t in 0..=4 {
        let v = ymax * f64::from(t) / 4.0;
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="10" text-anchor="end">{v:.2}</text>"##,
            left - 4.0,
            y(v) + 3.0
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{left}" x2="{}" y1="{ty}" y2="{ty}" stroke="#d62728" stroke-dasharray="6 4"/><text x="{}" y="{}" font-size="10" fill="#d62728">threshold {}</text>"##,
        left + pw,
        left + 4.0,
        y(r.psi_threshold) - 3.0,
        r.psi_threshold,
        ty = y(r.psi_threshold)
    );
    let step = (n / 10).max(1);
    for (i, d) in r.days.iter().enumerate() {
        if i % step == 0 || i + 1 == n {
            let _ = write!(
                s,
                r#"<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>"#,
                x(i),
                h - bottom + 14.0,
                esc(&d.day)
            );
        }
    }
    let mut series: Vec<(String, Vec<Option<f64>>)> = FEATURES
        .iter()
        .map(|f| {
            (
                f.name.to_owned(),
                r.days
                    .iter()
                    .map(|d| d.features.get(f.name).copied())
                    .collect(),
            )
        })
        .collect();
    series.push((
        "score".to_owned(),
        r.days.iter().map(|d| d.score_psi).collect(),
    ));
    for (k, (name, values)) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let pts: Vec<String> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|p| format!("{:.1},{:.1}", x(i), y(p))))
            .collect();
        let width = if name == "score" { 3.0 } else { 1.5 };
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="{width}" points="{}"/>"#,
            pts.join(" ")
        );
        for p in &pts {
            if let Some((cx, cy)) = p.split_once(',') {
                let _ = write!(
                    s,
                    r#"<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>"#
                );
            }
        }
        let ly = top + 12.0 + 16.0 * k as f64;
        let _ = write!(
            s,
            r#"<rect x="{}" y="{}" width="10" height="10" fill="{colour}"/><text x="{}" y="{}" font-size="11">{}</text>"#,
            left + pw + 10.0,
            ly - 9.0,
            left + pw + 24.0,
            ly,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

/// Paired bars per bin: training share vs the latest gated day's share.
fn bins_chart(labels: &[String], base: &[u64], cur: &[u64]) -> String {
    let tb: u64 = base.iter().sum::<u64>().max(1);
    let tc: u64 = cur.iter().sum::<u64>().max(1);
    let share_b: Vec<f64> = base.iter().map(|&c| c as f64 / tb as f64).collect();
    let share_c: Vec<f64> = cur.iter().map(|&c| c as f64 / tc as f64).collect();
    let ymax = share_b.iter().chain(&share_c).copied().fold(0.01, f64::max);
    let n = labels.len().max(1);
    let (w, h, left, top, bottom) = ((40.0 + 28.0 * n as f64).max(320.0), 200.0, 36.0, 10.0, 60.0);
    let ph = h - top - bottom;
    let bw = (w - left - 10.0) / n as f64;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="bin shares">"#
    );
    let _ = write!(
        s,
        r#"<text x="2" y="{}" font-size="10">{:.0}%</text>"#,
        top + 8.0,
        ymax * 100.0
    );
    for (i, label) in labels.iter().enumerate() {
        let x0 = left + bw * i as f64;
        for (k, (share, colour)) in [(share_b[i], "#9ab"), (share_c[i], "#d62728")]
            .into_iter()
            .enumerate()
        {
            let bh = ph * share / ymax;
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{}: {:.2}%</title></rect>"#,
                x0 + 2.0 + (bw - 4.0) / 2.0 * k as f64,
                top + ph - bh,
                ((bw - 4.0) / 2.0).max(1.0),
                bh,
                esc(label),
                share * 100.0
            );
        }
        let lx = x0 + bw / 2.0;
        let ly = top + ph + 8.0;
        let _ = write!(
            s,
            r#"<text x="{lx:.1}" y="{ly:.1}" font-size="9" transform="rotate(60 {lx:.1} {ly:.1})">{}</text>"#,
            esc(&label.chars().take(14).collect::<String>())
        );
    }
    s.push_str("</svg>");
    s
}

/// A self-contained HTML page (no scripts, no external resources).
pub fn html_report(r: &Report, baseline: &Scorecard) -> String {
    let mut s = String::new();
    let verdict = if r.drift { "DRIFT" } else { "stable" };
    let _ = write!(
        s,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>credit monitor: {verdict}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ddd;padding:3px 7px;text-align:right}}th:first-child,td:first-child{{text-align:left}}
.verdict{{font-size:1.4em;font-weight:bold}} .feat{{display:inline-block;margin:0 1.5em 1.5em 0;vertical-align:top}}</style></head><body>
<h1>Population stability of the prediction log</h1>
<p class="verdict">Verdict: {verdict}</p>
<p>Log <code>{}</code>: {} records over {} days. Model <code>{}</code>; feature baseline = training bins of
<code>{}</code>; score baseline = {}. Threshold {}; days with fewer than {} rows are not gated.</p>
"#,
        esc(&r.log),
        r.records,
        r.days.len(),
        esc(&r.model_version),
        esc(&r.baseline_model_version),
        esc(&score_baseline_words(r)),
        r.psi_threshold,
        r.min_rows
    );
    if let Some(missing) = r.score_baseline_missing {
        let _ = writeln!(
            s,
            r#"<p class="warn" style="background:#f9e2a8;padding:.5em"><b>{}</b>; the score row falls back to the first day's deciles.</p>"#,
            esc(missing)
        );
    }
    if r.days.is_empty() {
        s.push_str("<p>No records.</p></body></html>\n");
        return s;
    }
    s.push_str("<h2>PSI per day</h2>");
    s.push_str(&psi_chart(r));
    s.push_str(r#"<h2>Table</h2><div style="overflow-x:auto"><table><tr><th>PSI</th>"#);
    for d in &r.days {
        let _ = write!(s, "<th>{}</th>", esc(&d.day));
    }
    s.push_str("</tr>");
    let cell = |s: &mut String, p: Option<f64>| match p {
        Some(p) => {
            let _ = write!(
                s,
                r#"<td style="background:{}">{p:.4}</td>"#,
                psi_colour(p, r.psi_threshold)
            );
        }
        None => s.push_str("<td>-</td>"),
    };
    for f in FEATURES.iter() {
        let _ = write!(s, "<tr><td>{}</td>", esc(f.name));
        for d in &r.days {
            cell(&mut s, d.features.get(f.name).copied());
        }
        s.push_str("</tr>");
    }
    let _ = write!(s, "<tr><td><b>{}</b></td>", r.score_baseline.label());
    for d in &r.days {
        cell(&mut s, d.score_psi);
    }
    s.push_str("</tr><tr><td>rows</td>");
    for d in &r.days {
        let _ = write!(s, "<td>{}</td>", d.rows);
    }
    s.push_str("</tr><tr><td>status</td>");
    for d in &r.days {
        let status = if !d.gated {
            "few rows"
        } else if d.drift {
            "DRIFT"
        } else {
            psi_level(d.max_psi)
        };
        let _ = write!(s, "<td>{status}</td>");
    }
    s.push_str("</tr>");
    s.push_str("</table></div>");
    if let Some(last) = r.days.iter().rev().find(|d| d.gated).or(r.days.last()) {
        let _ = write!(
            s,
            "<h2>Bin shares: training (grey) vs {} (red)</h2>",
            esc(&last.day)
        );
        for (j, f) in baseline.artifact().features.iter().enumerate() {
            let labels: Vec<String> = f.all_bins().map(|b| b.label.clone()).collect();
            let base = BinCounter::baseline(baseline, j);
            let p = last.features.get(&f.name).copied().unwrap_or(0.0);
            let _ = write!(
                s,
                r#"<div class="feat"><h3>{} <small>PSI {p:.4}</small></h3>{}</div>"#,
                esc(&f.name),
                bins_chart(&labels, &base, &last.counts[j])
            );
        }
    }
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_come_from_rfc3339_prefixes() {
        assert_eq!(
            day_of("2026-11-25T10:00:00Z").as_deref(),
            Some("2026-11-25")
        );
        assert_eq!(day_of("25/11/2026"), None);
        assert_eq!(day_of(""), None);
    }

    #[test]
    fn decile_bins_of_a_sample_hold_a_tenth_each() {
        let v: Vec<f64> = (0..1000).map(f64::from).collect();
        let edges = decile_edges(&v);
        assert_eq!(edges.len(), 9);
        assert!(bucket_counts(&edges, &v).iter().all(|&c| c == 100));
        // Ties merge bins instead of producing empty ones.
        let flat = vec![5.0; 50];
        assert_eq!(decile_edges(&flat), vec![5.0]);
    }
}
