//! Differential: the serde reader (`ModelArtifact::from_json`) and the browser's lean reader
//! (`ModelArtifact::from_json_lite`) on the same text.
//!
//! Both accept it, with equal artifacts (compared as serde_json writes them, so that `-0.0`
//! and `0.0` differ) that compile to scorecards answering the fixed applicants bit for bit
//! alike; or both refuse it with the same `ModelError` variant, and with the same message
//! wherever the two must agree exactly (everything but malformed JSON, whose wording may
//! differ).
//!
//! Input layout: the first byte chooses whether the text's stored checksum is first replaced
//! by the one the serde reader computes (odd: yes). Random edits almost never keep a valid
//! checksum, so without this the fuzzer would only ever test the checksum check; with it, the
//! edits reach the structural validation and the compiler of the scorecard.

use credit_core::{ModelArtifact, ModelError, Scorecard};

pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
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
