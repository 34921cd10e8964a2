//! The ten credit-bureau features of the Give Me Some Credit data: names, aliases and valid ranges.
//!
//! The order of [`FEATURES`] is the column order of the Kaggle CSV and of every batch matrix
//! (`n × 10`, see [`crate::batch`]). It never changes within a model format version.

use crate::error::Shown;
use serde::{Deserialize, Serialize};

/// Number of features an applicant has.
pub const N_FEATURES: usize = 10;

/// What kind of number a feature holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A non-negative real number (ratios, money).
    Real,
    /// A non-negative whole number (`2.0` is accepted as 2, `2.5` is not).
    Count,
}

/// One feature: its canonical (seed API) name, the Kaggle CSV spelling, and its valid range.
#[derive(Clone, Copy, Debug)]
pub struct FeatureSpec {
    /// Canonical name, as the seed's JSON API spelled it.
    pub name: &'static str,
    /// The Kaggle CSV spelling, accepted as an alias (`None` when it is the same).
    pub alias: Option<&'static str>,
    pub kind: Kind,
    /// `MonthlyIncome` and `NumberOfDependents` may be missing; the model has a bin for that.
    pub optional: bool,
    /// Inclusive lower bound.
    pub min: f64,
    /// Inclusive upper bound for ordinary values (special codes may lie above it).
    pub max: f64,
    /// Bureau special codes accepted above `max` and scored through a bin of their own.
    pub special_codes: &'static [f64],
    /// What the feature means, for documentation and UIs.
    pub description: &'static str,
}

/// The past-due counts use 96 and 98 as bureau codes (not 96 or 98 late payments).
pub const PAST_DUE_SPECIAL_CODES: &[f64] = &[96.0, 98.0];

/// The features in model / CSV column order.
pub static FEATURES: [FeatureSpec; N_FEATURES] = [
    FeatureSpec {
        name: "RevolvingUtilizationOfUnsecuredLines",
        alias: None,
        kind: Kind::Real,
        optional: false,
        min: 0.0,
        max: 100_000.0,
        special_codes: &[],
        description: "Total balance on credit cards and personal lines of credit (except real estate and instalment debt) divided by the sum of credit limits",
    },
    FeatureSpec {
        name: "age",
        alias: None,
        kind: Kind::Count,
        optional: false,
        min: 18.0,
        max: 120.0,
        special_codes: &[],
        description: "Age of the borrower in years",
    },
    FeatureSpec {
        name: "NumberOfTime30_59DaysPastDueNotWorse",
        alias: Some("NumberOfTime30-59DaysPastDueNotWorse"),
        kind: Kind::Count,
        optional: false,
        min: 0.0,
        max: 95.0,
        special_codes: PAST_DUE_SPECIAL_CODES,
        description: "Number of times the borrower has been 30-59 days past due but no worse in the last 2 years (96 and 98 are bureau codes)",
    },
    FeatureSpec {
        name: "DebtRatio",
        alias: None,
        kind: Kind::Real,
        optional: false,
        min: 0.0,
        max: 1_000_000.0,
        special_codes: &[],
        description: "Monthly debt payments, alimony and living costs divided by monthly gross income",
    },
    FeatureSpec {
        name: "MonthlyIncome",
        alias: None,
        kind: Kind::Real,
        optional: true,
        min: 0.0,
        max: 100_000_000.0,
        special_codes: &[],
        description: "Monthly income (may be missing)",
    },
    FeatureSpec {
        name: "NumberOfOpenCreditLinesAndLoans",
        alias: None,
        kind: Kind::Count,
        optional: false,
        min: 0.0,
        max: 200.0,
        special_codes: &[],
        description: "Number of open loans (instalment like car loan or mortgage) and lines of credit (e.g. credit cards)",
    },
    FeatureSpec {
        name: "NumberOfTimes90DaysLate",
        alias: None,
        kind: Kind::Count,
        optional: false,
        min: 0.0,
        max: 95.0,
        special_codes: PAST_DUE_SPECIAL_CODES,
        description: "Number of times the borrower has been 90 days or more past due (96 and 98 are bureau codes)",
    },
    FeatureSpec {
        name: "NumberRealEstateLoansOrLines",
        alias: None,
        kind: Kind::Count,
        optional: false,
        min: 0.0,
        max: 100.0,
        special_codes: &[],
        description: "Number of mortgage and real estate loans including home equity lines of credit",
    },
    FeatureSpec {
        name: "NumberOfTime60_89DaysPastDueNotWorse",
        alias: Some("NumberOfTime60-89DaysPastDueNotWorse"),
        kind: Kind::Count,
        optional: false,
        min: 0.0,
        max: 95.0,
        special_codes: PAST_DUE_SPECIAL_CODES,
        description: "Number of times the borrower has been 60-89 days past due but no worse in the last 2 years (96 and 98 are bureau codes)",
    },
    FeatureSpec {
        name: "NumberOfDependents",
        alias: None,
        kind: Kind::Count,
        optional: true,
        min: 0.0,
        max: 50.0,
        special_codes: &[],
        description: "Number of dependents in the family excluding the borrower (may be missing)",
    },
];

/// Index of the `age` column (Regulation B treats it specially).
pub const AGE: usize = 1;

/// Regulation B: applicants this old or older must never get a negative factor from their age.
pub const ELDERLY_AGE: f64 = 62.0;

/// The first of the age range bins cut by `edges` whose ages are all [`ELDERLY_AGE`] or more
/// (the bins before it are the younger ones; a trained model has an edge at 62, so none holds
/// both). One definition for the trainer's repairs, the age policy and the loader's check.
pub fn first_elderly_bin(edges: &[f64]) -> usize {
    edges.partition_point(|&e| e < ELDERLY_AGE) + 1
}

/// Finds a feature by its canonical name or its Kaggle alias.
pub fn feature_index(name: &str) -> Option<usize> {
    FEATURES
        .iter()
        .position(|f| f.name == name || f.alias == Some(name))
}

impl FeatureSpec {
    /// Whether `v` (finite) is one of this feature's special codes.
    #[inline]
    pub fn is_special(&self, v: f64) -> bool {
        self.special_codes.contains(&v)
    }

    /// The valid range in words, for error messages and docs.
    pub fn range_text(&self) -> String {
        let kind = match self.kind {
            Kind::Real => "a number",
            Kind::Count => "a whole number",
        };
        let mut s = format!("{kind} from {} to {}", fmt_num(self.min), fmt_num(self.max));
        if !self.special_codes.is_empty() {
            let codes: Vec<String> = self.special_codes.iter().map(|c| fmt_num(*c)).collect();
            s.push_str(&format!(", or a bureau code ({})", codes.join(" or ")));
        }
        s
    }
}

/// A number for messages and labels: whole numbers as integers, anything else as `Display`
/// writes it (through [`Shown`], which keeps core's float printer out of the `.wasm`).
pub(crate) fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        Shown(v).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_resolve() {
        assert_eq!(feature_index("age"), Some(1));
        assert_eq!(
            feature_index("NumberOfTime30-59DaysPastDueNotWorse"),
            Some(2)
        );
        assert_eq!(
            feature_index("NumberOfTime30_59DaysPastDueNotWorse"),
            Some(2)
        );
        assert_eq!(
            feature_index("NumberOfTime60-89DaysPastDueNotWorse"),
            Some(8)
        );
        assert_eq!(feature_index("MonthlyIncom"), None);
        assert_eq!(FEATURES[AGE].name, "age");
    }

    #[test]
    fn range_text_mentions_codes() {
        assert_eq!(
            FEATURES[2].range_text(),
            "a whole number from 0 to 95, or a bureau code (96 or 98)"
        );
    }
}
