//! The bodies of the fuzz targets of credit-default, as plain functions.
//!
//! Each module's `run(data)` is one fuzz target: it feeds the bytes to one front door and
//! asserts what must hold for every input (a panic is a finding). They live here rather than
//! in `fuzz_targets/` so that two callers share them:
//!
//! * the libFuzzer binaries in `fuzz_targets/` (nightly, `make fuzz`), and
//! * `tests/replay.rs` (stable, `make test`), which runs every committed input under
//!   `regressions/<target>/` through the same checks, so that a bug a fuzzer once found stays
//!   fixed without needing nightly or libFuzzer.
//!
//! The targets:
//!
//! * [`applicant_json`]: `Applicant::from_json` never panics; what it accepts is in range and
//!   scores to a finite probability, identically on every scoring path; what it refuses names
//!   the field of each error.
//! * [`artifact_readers`]: the serde reader and the browser's lean reader of the model artifact
//!   accept and refuse the same texts, build identical artifacts and identical scorecards.
//! * [`score_csv`]: the records of a `credit score` input CSV through the command's own
//!   streaming loop; every output row is well formed and the summary adds up.
//! * [`predict_http`]: a request body through the real `/predict` (and `/predict/batch`)
//!   router: never a 5xx other than 503, always a JSON body, and the status and numbers the
//!   core predicts for that body.

pub mod applicant_json;
pub mod artifact_readers;
pub mod predict_http;
pub mod score_csv;

use credit_core::{Applicant, Scorecard};
use std::sync::OnceLock;

/// The shipped model, compiled once per process (compiling takes milliseconds; a target runs
/// thousands of times a second).
pub fn shipped() -> &'static Scorecard {
    static MODEL: OnceLock<Scorecard> = OnceLock::new();
    MODEL.get_or_init(|| credit_core::shipped::scorecard().expect("the shipped model loads"))
}

/// Applicants that between them reach every kind of bin: ordinary values, missing optional
/// values, bureau special codes, and both ends of every range. The artifact target scores them
/// with both readers' scorecards.
pub fn fixed_applicants() -> Vec<Applicant> {
    use credit_core::FEATURES;
    let nan = f64::NAN;
    let rows: [[f64; 10]; 5] = [
        [
            0.766127, 45.0, 2.0, 0.802982, 9120.0, 13.0, 0.0, 6.0, 0.0, 2.0,
        ],
        [0.1, 62.0, 96.0, 0.3, nan, 3.0, 98.0, 1.0, 98.0, nan],
        // Both ends of every range, from the schema itself.
        std::array::from_fn(|j| FEATURES[j].min),
        std::array::from_fn(|j| FEATURES[j].max),
        [1.5, 30.0, 1.0, 2.5, 2500.0, 5.0, 1.0, 0.0, 1.0, nan],
    ];
    rows.iter()
        .map(|r| Applicant::from_row(r).expect("the fixed applicants are valid"))
        .collect()
}

/// Checks what every accepted applicant must satisfy under `model`: its values within the
/// schema, and the same finite answer from every scoring path (single, row, batch kernel).
pub fn check_accepted(model: &Scorecard, a: &Applicant) {
    use credit_core::{FEATURES, MAX_REASONS};
    for (spec, &v) in FEATURES.iter().zip(a.values()) {
        if v.is_nan() {
            assert!(spec.optional, "{}: missing but required", spec.name);
            continue;
        }
        assert!(v.is_finite(), "{}: {v} accepted", spec.name);
        assert!(
            (spec.min..=spec.max).contains(&v) || spec.is_special(v),
            "{}: {v} outside its range accepted",
            spec.name
        );
        if spec.kind == credit_core::Kind::Count {
            assert_eq!(v.fract(), 0.0, "{}: fractional count {v}", spec.name);
        }
    }
    let p = model.predict(a);
    assert!(
        p.probability.is_finite() && (0.0..=1.0).contains(&p.probability),
        "probability {} for {:?}",
        p.probability,
        a.values()
    );
    assert!(
        p.score.is_finite(),
        "score {} for {:?}",
        p.score,
        a.values()
    );
    assert!(p.log_odds.is_finite(), "log-odds {}", p.log_odds);
    assert_eq!(p.prediction, u8::from(p.probability >= model.threshold()));
    let reasons = p.reasons.as_slice();
    assert!(reasons.len() <= MAX_REASONS);
    for w in reasons.windows(2) {
        assert!(w[0].points_lost >= w[1].points_lost, "reasons out of order");
    }
    for r in reasons {
        assert!(r.points_lost > 0.0 && r.points_lost.is_finite());
        assert!(r.feature < FEATURES.len());
    }
    // The other scoring paths give the very same bits.
    let row = a.values();
    assert_eq!(
        model.try_probability(row).map(f64::to_bits),
        Some(p.probability.to_bits()),
        "try_probability differs"
    );
    assert_eq!(
        model
            .try_probability_and_score(row)
            .map(|(q, s)| (q.to_bits(), s.to_bits())),
        Some((p.probability.to_bits(), p.score.to_bits())),
        "try_probability_and_score differs"
    );
    // Five copies: the vector kernel's full lanes and its remainder.
    let rows: Vec<f64> = row.iter().copied().cycle().take(5 * row.len()).collect();
    let mut out = [0.0; 5];
    let report = model
        .predict_proba_rows(&rows, &mut out)
        .expect("the batch has the right shape");
    assert_eq!(
        report.valid, 5,
        "batch path refused a valid row: {report:?}"
    );
    for q in out {
        assert_eq!(
            q.to_bits(),
            p.probability.to_bits(),
            "batch path differs: {q} vs {}",
            p.probability
        );
    }
    let again = Applicant::from_row(row).expect("a valid applicant's row is valid");
    assert_eq!(again.values().map(f64::to_bits), row.map(f64::to_bits));
    let e = model.explain(a);
    assert_eq!(e.contributions.len(), FEATURES.len());
    assert_eq!(e.probability.to_bits(), p.probability.to_bits());
}

/// An applicant's JSON text built from bytes, and whether the schema accepts it.
///
/// Byte-level mutations of JSON text mostly explore refusals: a valid applicant needs eight
/// required fields, each in range, and a random edit rarely keeps them all. This generator
/// spends the fuzzer's bytes on the values instead (their bounds, the model's own bin edges and
/// the floats next to them, bureau codes, raw bit patterns) and on how they are spelled
/// (integer, `45.0`, `4.5e1`, `4.5E1`, alias names, field order), so that the accepting path
/// and the scoring paths behind it run on every kind of value. `valid` is the schema restated
/// independently of the validator: present when required, a finite number, whole for a count,
/// in range or a bureau code.
pub struct Generated {
    pub text: String,
    pub valid: bool,
}

/// See [`Generated`]. Per feature: one selector byte (bit 7: the Kaggle alias; bits 0-2: absent,
/// `null`, a 16-bit integer, a raw 64-bit float, a chosen value twice as likely, the number in a
/// string, a boolean), then the bytes its kind needs; a last byte rotates the field order.
/// Missing bytes read as zero.
pub fn generate_applicant(data: &[u8]) -> Generated {
    use credit_core::{Kind, FEATURES};
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next().unwrap_or(0);
    let mut valid = true;
    let mut fields: Vec<(&str, String)> = Vec::new();
    for (j, spec) in FEATURES.iter().enumerate() {
        let sel = next();
        let key = if sel & 0x80 != 0 {
            spec.alias.unwrap_or(spec.name)
        } else {
            spec.name
        };
        let ok = |v: f64| {
            v.is_finite()
                && (spec.kind == Kind::Real || v.fract() == 0.0)
                && ((spec.min..=spec.max).contains(&v) || spec.special_codes.contains(&v))
        };
        let value = match sel & 7 {
            0 => {
                valid &= spec.optional;
                continue;
            }
            1 => {
                valid &= spec.optional;
                "null".to_owned()
            }
            2 => {
                let v = f64::from(i16::from_le_bytes([next(), next()]));
                valid &= ok(v);
                format!("{v}")
            }
            3 => {
                let v = f64::from_le_bytes(std::array::from_fn(|_| next()));
                valid &= ok(v);
                spell(v, next())
            }
            4 | 5 => {
                let v = chosen_value(j, next());
                valid &= ok(v);
                spell(v, next())
            }
            6 => {
                valid = false;
                format!("\"{}\"", chosen_value(j, next()))
            }
            _ => {
                valid = false;
                "true".to_owned()
            }
        };
        fields.push((key, value));
    }
    let turn = usize::from(next()) % fields.len().max(1);
    fields.rotate_left(turn);
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("\"{k}\": {v}"))
        .collect();
    Generated {
        text: format!("{{{}}}", body.join(", ")),
        valid,
    }
}

/// A number as JSON, in one of four spellings that all read back as the same float (`NaN` and
/// the infinities, which JSON lacks, as strings: refused as not numbers).
fn spell(v: f64, style: u8) -> String {
    if !v.is_finite() {
        return format!("\"{v}\"");
    }
    match style % 4 {
        0 => format!("{v:?}"),
        1 => format!("{v}"),
        2 => format!("{v:e}"),
        _ => format!("{v:E}"),
    }
}

/// A value of feature `j` worth trying: its bounds and just beyond, bureau codes, the elderly
/// age, and the shipped model's bin edges with their neighbouring floats (where `bisect_right`
/// and the vector kernel's comparisons must agree).
fn chosen_value(j: usize, b: u8) -> f64 {
    let spec = &credit_core::FEATURES[j];
    let fixed = [
        spec.min,
        spec.max,
        spec.min - 1.0,
        spec.max + 1.0,
        spec.max + 0.5,
        spec.min.next_down(),
        spec.max.next_up(),
        96.0,
        97.0,
        98.0,
        -0.0,
        0.5,
        62.0,
        61.0,
        5e-324,
        1e-300,
    ];
    let b = usize::from(b);
    if b < fixed.len() {
        return fixed[b];
    }
    let edges = &shipped().artifact().features[j].edges;
    if edges.is_empty() {
        return fixed[b % fixed.len()];
    }
    let e = edges[(b / 3) % edges.len()];
    match b % 3 {
        0 => e,
        1 => e.next_down(),
        _ => e.next_up(),
    }
}
