//! `credit explain`: one applicant, for humans: points per feature and the reasons.

use crate::model_ref::ModelRef;
use crate::score_cmd::load_model;
use anyhow::{bail, Result};
use credit_core::Applicant;

#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    /// Model: an artifact file (JSON), or an MLflow registry reference `models:/NAME/VERSION` or
    /// `models:/NAME@ALIAS` resolved through `MLFLOW_TRACKING_URI` (https, `MLFLOW_TRACKING_TOKEN`
    /// and `MLFLOW_TRACKING_SERVER_CERT_PATH` as for MLflow's client); the checksum is verified
    /// either way. Without it, the shipped model compiled into this binary.
    #[arg(long, env = "CREDIT_MODEL")]
    pub model: Option<ModelRef>,
    /// The applicant as JSON (`-` reads standard input).
    pub applicant: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ExplainArgs) -> Result<()> {
    let model = load_model(&ModelRef::or_shipped(args.model.as_ref()))?;
    let text = if args.applicant == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        args.applicant.clone()
    };
    let a = match Applicant::from_json(&text) {
        Ok(a) => a,
        Err(e) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&e)?);
            }
            bail!("{e}");
        }
    };
    let x = model.explain(&a);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&x)?);
        return Ok(());
    }
    println!("model {}", x.model_version);
    println!(
        "probability of serious delinquency: {:.4}   decision: {}   score: {:.1}",
        x.probability,
        if x.prediction == 1 {
            "1 (decline / refer)"
        } else {
            "0 (approve)"
        },
        x.score
    );
    println!(
        "threshold {:.4}; base points {:.1}\n",
        x.threshold, x.base_points
    );
    println!(
        "{:<40} {:>12} {:<22} {:>8} {:>8}",
        "feature", "value", "bin", "points", "of max"
    );
    for c in &x.contributions {
        let v = c.value.map_or("missing".to_owned(), |v| format!("{v}"));
        println!(
            "{:<40} {:>12} {:<22} {:>8.1} {:>8.1}",
            c.feature, v, c.bin, c.points, c.max_points
        );
    }
    // A model with interaction cells: each pair on its own line (the names are long), then the
    // cell the applicant falls in (one group per feature) with its points. `+ 0.0` prints a
    // cell's negative zero as 0.0.
    if !x.interactions.is_empty() {
        println!(
            "\n{:<75} {:>8} {:>8}",
            "interaction cells", "points", "of max"
        );
    }
    for c in &x.interactions {
        let cell = format!("{} × {}", c.groups[0], c.groups[1]);
        println!("{} × {}", c.features[0], c.features[1]);
        println!(
            "  {cell:<73} {:>8.1} {:>8.1}",
            c.points + 0.0,
            c.max_points + 0.0
        );
    }
    if x.reasons.is_empty() {
        println!("\nno adverse reasons");
    } else {
        println!("\nprincipal reasons:");
        for r in &x.reasons {
            println!("  {} {} (-{:.1} points)", r.code, r.text, r.points_lost);
        }
    }
    Ok(())
}
