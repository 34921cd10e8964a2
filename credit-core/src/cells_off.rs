//! Stand-in for `cells.rs` in a build without the `interactions` feature (the browser package,
//! to stay within its `.wasm` size budget): the same names, no cells. Any model that has cells
//! is refused with one fixed [`crate::artifact::NO_CELLS_IN_THIS_BUILD`] error, by both readers
//! at the same step (right after the format check, before parsing: see [`check_text`]) and by
//! `Scorecard::new` for an artifact built in code. A model without cells scores exactly as
//! with the feature: the kernel's "any pairs" tests are constant `false` here, so those
//! branches are compiled out.

use crate::artifact::{Interaction, ModelArtifact, NO_CELLS_IN_THIS_BUILD};
use crate::error::ModelError;
use crate::kernel::{Table, SLOTS};
use crate::schema::N_FEATURES;
use crate::scorecard::CellContribution;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fmt;

/// Whether this build scores interaction cells.
pub const SUPPORTED: bool = false;

fn refused() -> ModelError {
    ModelError::Invalid(NO_CELLS_IN_THIS_BUILD.into())
}

/// Refuses a document whose `interactions` section holds at least one pair. Both readers call
/// it after their header pass, which has already checked the whole text's syntax and refused
/// the array form of the artifact (a header is at most two items), so only an object is
/// looked at. A section that is not an array is left to the readers' own parse, which refuses it
/// with their usual type error; an empty one is an additive model.
pub(crate) fn check_text(text: &str) -> Result<(), ModelError> {
    let mut de = serde_json::Deserializer::from_str(text);
    match de.deserialize_any(HasCells) {
        Ok(true) => Err(refused()),
        _ => Ok(()),
    }
}

/// Whether the top-level value has a non-empty `interactions` array (see [`check_text`]).
struct HasCells;

impl<'de> Visitor<'de> for HasCells {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an artifact")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut cells = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "interactions" {
                cells |= !map.next_value::<Vec<IgnoredAny>>()?.is_empty();
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(cells)
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

    #[inline(always)]
    pub fn contributions(
        &self,
        _: &[Interaction],
        _: &[u16; SLOTS],
        _: &[usize; N_FEATURES],
    ) -> Vec<CellContribution> {
        Vec::new()
    }
}
