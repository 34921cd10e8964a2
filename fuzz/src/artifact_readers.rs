//! Differential: the serde reader (`ModelArtifact::from_json`) and the browser's lean reader
//! (`ModelArtifact::from_json_lite`) on the same text.
//!
//! Both accept it, with equal artifacts (compared as serde_json writes them, so that `-0.0`
//! and `0.0` differ) that compile to scorecards answering the fixed applicants bit for bit
//! alike; or both refuse it with the same `ModelError` variant, and with the same message
//! wherever the two must agree exactly (everything but malformed JSON, whose wording may
//! differ).
//!
//! Input layout: the first byte is a mode.
//!
//! * Bit 0: the text's stored checksum is first replaced by the one the serde reader computes.
//!   Random edits almost never keep a valid checksum, so without this the fuzzer would only
//!   ever test the checksum check; with it, the edits reach the structural validation and the
//!   compiler of the scorecard.
//! * Bit 1: the rest is not the text but a list of edits of the shipped model (see
//!   [`edit_shipped`]): three bytes each, which scalar of the document to replace and with
//!   what. Byte-level mutations of a 75 KB document mostly break its JSON; these keep it a
//!   model artifact with a few values changed (numbers nudged across the validation's bounds,
//!   names swapped, types changed), which is where the two readers' rules could part. The
//!   shipped model carries every section, `score_distribution` included (its edges, counts
//!   and events are scalars like the rest; the tokens include its field names, and a
//!   `format_version` edit to 1 puts the section where version 1 forbids it).
//! * Bit 2 (with bit 1): the edits apply to the shipped model with interaction cells added
//!   (`credit_core::fixture`, format version 3) instead, so that they reach the
//!   `interactions` section: its group numbers (`u16`), its two-element arrays, its cells and
//!   their validation, and the scorer of cells.
//! * Otherwise the rest is the artifact text itself (UTF-8).

use credit_core::{ModelArtifact, ModelError, Scorecard};
use std::sync::OnceLock;

pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let edited;
    let text = if mode & 2 != 0 {
        edited = if mode & 4 != 0 {
            edit(base_with_cells(), rest)
        } else {
            edit_shipped(rest)
        };
        edited.as_str()
    } else {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        text
    };
    let fixed;
    let text = if mode & 1 == 1 {
        fixed = rechecksum(text);
        fixed.as_str()
    } else {
        text
    };
    let serde = ModelArtifact::from_json(text);
    let lite = ModelArtifact::from_json_lite(text);
    match (serde, lite) {
        (Ok(a), Ok(b)) => accepted(a, b),
        (Err(a), Err(b)) => assert_eq!(
            verdict(&a),
            verdict(&b),
            "the readers refuse for different reasons:\n  serde: {a}\n  lite:  {b}"
        ),
        (Ok(_), Err(e)) => panic!("only the serde reader accepts; the lite reader says: {e}"),
        (Err(e), Ok(_)) => panic!("only the lite reader accepts; the serde reader says: {e}"),
    }
}

/// Both readers accepted: the same artifact, the same scorecard, and it re-reads as itself.
fn accepted(a: ModelArtifact, b: ModelArtifact) {
    let ja = serde_json::to_string(&a).expect("an artifact serialises");
    let jb = serde_json::to_string(&b).expect("an artifact serialises");
    assert_eq!(ja, jb, "the readers built different artifacts");
    assert_eq!(a, b);
    // What `to_json` writes (with a fresh checksum) is accepted by both and is the same artifact.
    let written = a.to_json().expect("an accepted artifact writes");
    for (name, again) in [
        ("serde", ModelArtifact::from_json(&written)),
        ("lite", ModelArtifact::from_json_lite(&written)),
    ] {
        let again = again.unwrap_or_else(|e| panic!("{name} refuses what to_json wrote: {e}"));
        assert_eq!(
            serde_json::to_string(&again).expect("an artifact serialises"),
            ja,
            "{name}: to_json then reading changed the artifact"
        );
    }
    match (Scorecard::new(a), Scorecard::new(b)) {
        (Ok(sa), Ok(sb)) => {
            for x in crate::fixed_applicants() {
                let (pa, pb) = (sa.predict(&x), sb.predict(&x));
                assert_eq!(pa.probability.to_bits(), pb.probability.to_bits());
                assert_eq!(pa.score.to_bits(), pb.score.to_bits());
                assert_eq!(pa.reasons, pb.reasons);
                // Any accepted artifact scores a valid applicant to a finite answer.
                crate::check_accepted(&sa, &x);
            }
        }
        (Err(ea), Err(eb)) => assert_eq!(verdict(&ea), verdict(&eb)),
        (ra, rb) => panic!(
            "one scorecard compiles, the other not: {:?} / {:?}",
            ra.err().map(|e| e.to_string()),
            rb.err().map(|e| e.to_string())
        ),
    }
}

/// An error as a comparable verdict: its variant, and its message where both readers must
/// word it the same (as the readers' own unit tests compare them).
fn verdict(e: &ModelError) -> String {
    match e {
        ModelError::Json(_) => "json".into(),
        other => other.to_string(),
    }
}

/// `text` with its stored checksum replaced by the one the serde reader computes, so that an
/// edit reaches the structural checks.
pub fn rechecksum(text: &str) -> String {
    match ModelArtifact::from_json(text) {
        Err(ModelError::ChecksumMismatch { stored, computed }) if !stored.is_empty() => {
            text.replacen(&stored, &computed, 1)
        }
        _ => text.to_owned(),
    }
}

/// The shipped model's text with up to eight scalars replaced. Each edit is three bytes: a
/// little-endian `u16` choosing the scalar (a number, a string, a key or a literal; modulo
/// their count) and an operation: below 128 on a number, an arithmetic nudge of it
/// ([`nudge`]); otherwise one of [`TOKENS`]. Edits of the same scalar keep the first.
pub fn edit_shipped(edits: &[u8]) -> String {
    edit(base_shipped(), edits)
}

/// A document to edit and where its scalars are.
pub struct Base {
    text: String,
    spans: Vec<(usize, usize)>,
}

/// The shipped model as it is.
fn base_shipped() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| Base::new(credit_core::shipped::MODEL_JSON.to_owned(), None))
}

/// The shipped model with the fixture's three interaction pairs (format version 3).
fn base_with_cells() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let shipped = ModelArtifact::from_json(credit_core::shipped::MODEL_JSON)
            .expect("the shipped model loads");
        let text = credit_core::fixture::with_interactions(&shipped)
            .to_json()
            .expect("an artifact writes");
        Base::new(text, Some("\"interactions\""))
    })
}

/// [`edit_shipped`] on any base.
fn edit(base: &Base, edits: &[u8]) -> String {
    let (model, spans) = (base.text.as_str(), &base.spans);
    let mut chosen: Vec<(usize, usize, String)> = edits
        .chunks_exact(3)
        .take(8)
        .map(|c| {
            let (start, end) = spans[usize::from(u16::from_le_bytes([c[0], c[1]])) % spans.len()];
            (start, end, replacement(&model[start..end], c[2]))
        })
        .collect();
    chosen.sort_by_key(|c| c.0);
    chosen.dedup_by_key(|c| c.0);
    let mut text = model.to_owned();
    for (start, end, with) in chosen.iter().rev() {
        text.replace_range(*start..*end, with);
    }
    text
}

/// Replacements that change a scalar's type or spelling, or swap one name for another.
const TOKENS: &[&str] = &[
    "null",
    "true",
    "false",
    "0",
    "-0",
    "-0.0",
    "1",
    "-1",
    "2.5",
    "1e400",
    "-1e-400",
    "1E2",
    "18446744073709551615",
    "18446744073709551616",
    "4294967295",
    "4294967296",
    "\"NaN\"",
    "\"\"",
    "\"x\"",
    "[]",
    "{}",
    "[1,2]",
    "{\"a\":1}",
    "\"\\u0041\"",
    "\"\\ud83d\\ude00\"",
    "\"\\ud800\"",
    "\"age\"",
    "\"MonthlyIncome\"",
    "\"NumberOfDependents\"",
    "\"NumberOfTime30-59DaysPastDueNotWorse\"",
    "\"checksum\"",
    "\"missing_bin\"",
    "\"special_bins\"",
    "\"codes\"",
    "\"format_version\"",
    "\"score_distribution\"",
    "\"edges\"",
    "\"counts\"",
    "\"events\"",
    "\"interactions\"",
    "\"groups\"",
    "\"group_labels\"",
    "\"cells\"",
    "\"DebtRatio\"",
    "15",
    "16",
    "65535",
    "65536",
    "400",
    "700",
    "96",
    "98",
    "97",
    "50",
    "-50",
];

fn replacement(original: &str, op: u8) -> String {
    match original.parse::<f64>() {
        Ok(x) if op < 128 => format!("{:?}", nudge(x, op)),
        _ => TOKENS[usize::from(op) % TOKENS.len()].to_owned(),
    }
}

/// A number near `x` or at a bound the validation checks (logits at ±50, the 1e-6 tolerance of
/// points against the scaling, neighbouring floats for edge order).
fn nudge(x: f64, op: u8) -> f64 {
    match op % 16 {
        0 => x + 1.0,
        1 => x - 1.0,
        2 => -x,
        3 => x * 2.0,
        4 => x / 2.0,
        5 => f64::from_bits(x.to_bits().wrapping_add(1)),
        6 => f64::from_bits(x.to_bits().wrapping_sub(1)),
        7 => x + 2e-6 * (1.0 + x.abs()),
        8 => x + 5e-7 * (1.0 + x.abs()),
        9 => 0.0,
        10 => 50.0,
        11 => 50.000_000_000_001,
        12 => -50.0,
        13 => 1e300,
        14 => x * 10.0,
        _ => x.round(),
    }
}

impl Base {
    /// Finds where the scalars of `text` are (strings, keys included, numbers and literals),
    /// from the key `from` on when given (the section the edits are meant for).
    fn new(text: String, from: Option<&str>) -> Base {
        let start = from.and_then(|k| text.find(k)).unwrap_or(0);
        let spans = scalar_spans(&text)
            .into_iter()
            .filter(|s| s.0 >= start)
            .collect();
        Base { text, spans }
    }
}

/// Where the scalars of a model's text are.
fn scalar_spans(text: &str) -> Vec<(usize, usize)> {
    {
        let b = text.as_bytes();
        let mut spans = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    let start = i;
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    spans.push((start, (i + 1).min(b.len())));
                    i += 1;
                }
                b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                    let start = i;
                    while i < b.len() && !b",]}\n ".contains(&b[i]) {
                        i += 1;
                    }
                    spans.push((start, i));
                }
                _ => i += 1,
            }
        }
        spans
    }
}
