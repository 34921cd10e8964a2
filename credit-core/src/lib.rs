//! # credit-core
//!
//! The credit-default scorecard: validation of an applicant's ten credit-bureau features, the
//! versioned model artifact, and logistic scoring (probability, score in points, reason codes)
//! for one applicant or a batch. No I/O, no async, no global state: every front door (CLI,
//! REST, Python, Node, browser) is a thin layer over this crate.
//!
//! ```
//! # let json = include_str!("../model/default.json");
//! use credit_core::{Applicant, Scorecard};
//! let model = Scorecard::from_json(json).unwrap();
//! let a = Applicant::from_json(r#"{"RevolvingUtilizationOfUnsecuredLines": 0.766127, "age": 45,
//!   "NumberOfTime30_59DaysPastDueNotWorse": 2, "DebtRatio": 0.802982, "MonthlyIncome": 9120,
//!   "NumberOfOpenCreditLinesAndLoans": 13, "NumberOfTimes90DaysLate": 0,
//!   "NumberRealEstateLoansOrLines": 6, "NumberOfTime60_89DaysPastDueNotWorse": 0,
//!   "NumberOfDependents": 2}"#).unwrap();
//! let p = model.predict(&a);
//! assert!(p.probability > 0.0 && p.probability < 1.0);
//! ```

pub mod applicant;
pub mod artifact;
pub mod batch;
/// Interaction cells' validation, kernel tables, reasons and explanations: compiled in with the
/// `interactions` feature (default), a stand-in that refuses models with cells without it.
#[cfg(feature = "interactions")]
mod cells;
#[cfg(not(feature = "interactions"))]
#[path = "cells_off.rs"]
mod cells;
pub mod drift;
pub mod error;
#[doc(hidden)]
pub mod fixture;
pub mod json;
mod kernel;
pub mod schema;
pub mod scorecard;
#[cfg(feature = "shipped-model")]
pub mod shipped;

#[cfg(feature = "train")]
pub mod metrics;
#[cfg(feature = "train")]
pub mod train;

pub use applicant::{Applicant, OwnedValue, RawValue};
pub use artifact::ModelArtifact;
pub use batch::{BatchReport, Columns, Layout, RowError, RowMajor, RowSource, Scored, View};
pub use error::{ErrorCode, FieldError, ModelError, Quoted, ShapeError, Shown, ValidationErrors};
/// Not a stable API: lets benches and tests force a batch kernel (see `Scorecard::with_kernel_path`).
#[doc(hidden)]
pub use kernel::{KernelPath, UnknownKernelPath};
pub use schema::{feature_index, FeatureSpec, Kind, FEATURES, N_FEATURES};
pub use scorecard::{CellContribution, Explanation, Prediction, Reason, Scorecard, MAX_REASONS};

/// Whether this build scores interaction cells (the `interactions` feature; a build without it
/// refuses models with cells).
pub const SCORES_INTERACTIONS: bool = cells::SUPPORTED;

/// Version of this crate, recorded in artifacts it writes.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
