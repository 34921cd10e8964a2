//! Stand-in for `cells.rs` in a build without the `interactions` feature (about 9 KB smaller in
//! a `.wasm`): the same names, no cells. Any model that has cells
//! is refused with one fixed [`crate::artifact::NO_CELLS_IN_THIS_BUILD`] error, by both readers
//! at the same step (after the top-level keys are checked, before any field is read: see
//! [`check_text`]) and by `Scorecard::new` for an artifact built in code. A model without
//! cells scores exactly as with the feature: the kernel's "any pairs" tests are constant
//! `false` here, so those branches are compiled out.

use crate::artifact::{ModelArtifact, ARTIFACT_FIELDS, NO_CELLS_IN_THIS_BUILD};
use crate::error::ModelError;
use crate::kernel::{Table, SLOTS};
use crate::schema::N_FEATURES;
use serde::de::{Deserializer, MapAccess, Visitor};
use std::fmt;

/// Whether this build scores interaction cells.
pub const SUPPORTED: bool = false;

pub(crate) fn refused() -> ModelError {
    ModelError::Invalid(NO_CELLS_IN_THIS_BUILD.into())
}

/// The serde reader's refusal of a document with pairs, at the step where the lean reader
/// (the `.wasm`'s, `artifact::read::parse`) refuses it: a top-level object whose keys are all
/// the artifact's and none repeated (else both readers give a JSON error first) and whose
/// `interactions` is a non-empty array. It runs after the header pass, which has already
/// checked the whole text's syntax and refused the array form of the artifact (a header is at
/// most two items). A section that is not an array is left to the readers' own parse, which
/// refuses it with their usual type error; an empty one is an additive model.
pub(crate) fn check_text(text: &str) -> Result<(), ModelError> {
    let mut de = serde_json::Deserializer::from_str(text);
    match de.deserialize_any(HasCells) {
        Ok(true) => Err(refused()),
        _ => Ok(()),
    }
}

/// Whether the top-level value is such an object (see [`check_text`]).
struct HasCells;

impl<'de> Visitor<'de> for HasCells {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an artifact")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let (mut seen, mut clean, mut cells) = ([false; ARTIFACT_FIELDS.len()], true, false);
        while let Some(key) = map.next_key::<String>()? {
            match ARTIFACT_FIELDS.iter().position(|f| *f == key) {
                Some(i) => clean &= !std::mem::replace(&mut seen[i], true),
                None => clean = false,
            }
            // Parsed, not skipped (`IgnoredAny` would pass a number no f64 holds, which the
            // lean reader's parse refuses as a JSON error before it looks at the pairs).
            let v = map.next_value::<serde_json::Value>()?;
            if key == "interactions" {
                cells = v.as_array().is_some_and(|a| !a.is_empty());
            }
        }
        Ok(clean && cells)
    }
}

/// The section's validation: any pair at all is refused.
pub(crate) fn validate(a: &ModelArtifact) -> Result<(), ModelError> {
    if a.interactions.is_empty() {
        Ok(())
    } else {
        Err(refused())
    }
}

/// No pairs, ever: every method is the additive model's.
#[derive(Clone, Debug)]
pub(crate) struct Pairs;

impl Pairs {
    pub const fn new() -> Pairs {
        Pairs
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        true
    }

    #[inline(always)]
    pub fn seal(&mut self) {}

    #[inline(always)]
    pub fn fold(&self, _: &[usize; N_FEATURES], init: f64, _: Table) -> f64 {
        init
    }

    /// `validate` has refused any artifact with pairs already.
    #[inline(always)]
    pub fn compile(&mut self, _: &ModelArtifact, _: &[u16; SLOTS]) -> Result<(), ModelError> {
        Ok(())
    }

    #[inline(always)]
    pub fn add_losses(&self, _: &[usize; N_FEATURES], _: &mut [f64; N_FEATURES]) {}
}
