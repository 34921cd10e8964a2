//! Population stability: how far a population's bin shares moved from the training baseline
//! stored in the artifact. Used by monitoring; no I/O here, the caller brings the counts.

use crate::schema::N_FEATURES;
use crate::scorecard::Scorecard;

/// Share given to an empty bin so that PSI stays finite.
const EPS: f64 = 1e-4;

/// Population stability index `Σ (a - e) ln(a / e)` between two count vectors of the same bins.
pub fn psi(expected: &[u64], actual: &[u64]) -> f64 {
    let te: u64 = expected.iter().sum();
    let ta: u64 = actual.iter().sum();
    if te == 0 || ta == 0 {
        return 0.0;
    }
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let pe = (e as f64 / te as f64).max(EPS);
            let pa = (a as f64 / ta as f64).max(EPS);
            (pa - pe) * (pa / pe).ln()
        })
        .sum()
}

/// The usual reading of a PSI value.
pub fn psi_level(psi: f64) -> &'static str {
    if psi < 0.1 {
        "stable"
    } else if psi < 0.25 {
        "moderate shift"
    } else {
        "major shift"
    }
}

/// Counts applicants per bin of every feature, in the artifact's bin order
/// (range bins, then missing, then special bins).
#[derive(Clone, Debug)]
pub struct BinCounter {
    pub counts: Vec<Vec<u64>>,
    pub rows: u64,
}

impl BinCounter {
    pub fn new(model: &Scorecard) -> BinCounter {
        BinCounter {
            counts: model
                .artifact()
                .features
                .iter()
                .map(|f| vec![0; f.all_bins().count()])
                .collect(),
            rows: 0,
        }
    }

    /// Adds one row (NaN = missing); returns false and adds nothing when the row is invalid.
    pub fn add(&mut self, model: &Scorecard, row: &[f64; N_FEATURES]) -> bool {
        let Some(bins) = model.bin_indices(row) else {
            return false;
        };
        for (j, b) in bins.iter().enumerate() {
            self.counts[j][*b as usize] += 1;
        }
        self.rows += 1;
        true
    }

    /// The training baseline of a feature, from the artifact.
    pub fn baseline(model: &Scorecard, feature: usize) -> Vec<u64> {
        model.artifact().features[feature]
            .all_bins()
            .map(|b| b.count)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_is_zero_for_same_shares_and_grows_with_shift() {
        assert!(psi(&[10, 20, 30], &[1, 2, 3]).abs() < 1e-12);
        let small = psi(&[100, 100], &[110, 90]);
        let large = psi(&[100, 100], &[190, 10]);
        assert!(small > 0.0 && large > small);
        assert_eq!(psi_level(small), "stable");
        assert_eq!(psi_level(large), "major shift");
    }
}
