//! The `credit` command's library: each subcommand's module, and `serve` (the REST API with its
//! prediction log). The binary (`main.rs`) only parses the command line; the fuzz targets and
//! benches reach the handlers and parsers through this crate.

pub mod data;
pub mod explain_cmd;
pub mod export;
pub mod mlflow;
pub mod mlflow_flavor;
pub mod model_file;
pub mod model_ref;
pub mod monitor_cmd;
pub mod promote_cmd;
pub mod register_cmd;
pub mod report;
pub mod score_cmd;
pub mod serve;
pub mod train_cmd;
pub mod vectors_cmd;
