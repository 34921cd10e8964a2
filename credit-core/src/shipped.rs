//! The scorecard this project ships (`models/default.json` in the repository), compiled into the
//! crate behind the cargo feature `shipped-model`.
//!
//! Why a copy lives inside the crate: a packaged crate (crates.io, the Python sdist, the npm
//! addon's sources) holds only its own directory, so `include_str!` cannot reach the repository's
//! `models/`. A model release copies the same file to both places (docs/model-release.md), and a
//! test in this crate fails when they differ.
//!
//! The core keeps no state: [`scorecard`] compiles the artifact on every call (≈2 ms); callers
//! that need it often keep the result.

use crate::{ModelError, Scorecard};

/// The shipped model artifact, byte for byte as `models/default.json`.
pub const MODEL_JSON: &str = include_str!("../model/default.json");

/// Compiles the shipped model (checksum verified, as for any artifact).
pub fn scorecard() -> Result<Scorecard, ModelError> {
    Scorecard::from_json(MODEL_JSON)
}

#[cfg(test)]
mod tests {
    #[test]
    fn shipped_model_loads() {
        let card = super::scorecard().expect("the shipped model loads");
        assert!(!card.model_version().is_empty());
    }
}
