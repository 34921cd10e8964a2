//! `credit`: train, score, explain (and serve) the credit-default scorecard.

use clap::{Parser, Subcommand};
use credit_service::{
    explain_cmd, export, monitor_cmd, promote_cmd, register_cmd, score_cmd, serve, train_cmd,
    vectors_cmd,
};

#[derive(Parser, Debug)]
#[command(
    name = "credit",
    version,
    about = "Credit-default scoring engine: train, score, explain"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Fit a scorecard on labelled data and write the model artifact and a report.
    Train(train_cmd::TrainArgs),
    /// Score a CSV of applicants (streaming) into a CSV of decisions.
    Score(score_cmd::ScoreArgs),
    /// Explain one applicant: points per feature and the reasons.
    Explain(explain_cmd::ExplainArgs),
    /// Serve the REST API (POST /predict) with the prediction log.
    Serve(serve::ServeArgs),
    /// Population stability (PSI) of the prediction log per day; exit 1 on drift, 2 on error.
    Monitor(monitor_cmd::MonitorArgs),
    /// Add an artifact (default: the shipped model) to the MLflow registry as a new version.
    Register(register_cmd::RegisterArgs),
    /// Make a registered version the champion: every service loads and reports it before the
    /// MLflow alias moves; on any failure the services go back and the alias stays.
    Promote(promote_cmd::PromoteArgs),
    /// Go back to the previous champion (or --to VERSION) the same way.
    Rollback(promote_cmd::RollbackArgs),
    /// Write the model as SQL (DuckDB, BigQuery, Postgres, Spark) or ONNX, to score where the
    /// data lives; the same answers as `credit score`.
    Export(export::ExportArgs),
    /// Regenerate the shared test vectors (testdata/vectors.json) from a model.
    Vectors(vectors_cmd::VectorsArgs),
}

/// mimalloc rather than glibc's malloc: under `wrk` load glibc's `malloc`, `_int_malloc`,
/// `_int_free` and `malloc_consolidate` took about 10% of `credit serve`'s CPU (perf), since
/// every request allocates (hyper's buffers, axum's extensions, the log record) and frees on
/// another thread. Only the binary chooses it: the core and the bindings leave the allocator to
/// their host.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Train(a) => train_cmd::run(a).map(|_| ()),
        Command::Score(a) => score_cmd::run(a).map(|_| ()),
        Command::Explain(a) => explain_cmd::run(a),
        Command::Serve(a) => serve::run(a).map_err(anyhow::Error::from),
        Command::Monitor(a) => match monitor_cmd::run(a) {
            Ok(true) => return std::process::ExitCode::from(1),
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        },
        Command::Register(a) => register_cmd::run(a).map_err(anyhow::Error::from),
        Command::Promote(a) => promote_cmd::run_promote(a).map_err(anyhow::Error::from),
        Command::Rollback(a) => promote_cmd::run_rollback(a).map_err(anyhow::Error::from),
        Command::Vectors(a) => vectors_cmd::run(a),
        Command::Export(a) => export::run(a).map_err(anyhow::Error::from),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
