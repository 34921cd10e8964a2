//! `Applicant::from_json` on any bytes (as UTF-8 text, lossily: the function takes `&str`), or,
//! when the first byte is 0 (never valid JSON text anyway), on the text that
//! [`crate::generate_applicant`] builds from the rest, whose verdict is then known in advance.
//!
//! Besides "never panics": an accepted applicant passes [`crate::check_accepted`] and reads
//! back from its own JSON as the same values; a refusal names a field for every error that is
//! about one field, and its errors serialise (the HTTP 422 body is built from them); and the
//! text door agrees with the parsed-value door (`from_json_value`) up to what only text can
//! show (duplicate keys, the 1000-field limit).

use credit_core::{Applicant, ErrorCode, ValidationErrors};

pub fn run(data: &[u8]) {
    let (text, expected) = match data.split_first() {
        Some((0, rest)) => {
            let g = crate::generate_applicant(rest);
            (g.text, Some(g.valid))
        }
        _ => (String::from_utf8_lossy(data).into_owned(), None),
    };
    let result = Applicant::from_json(&text);
    if let Some(valid) = expected {
        assert_eq!(
            result.is_ok(),
            valid,
            "the schema says {}, the validator {result:?}, for {text}",
            if valid { "valid" } else { "invalid" }
        );
    }
    match &result {
        Ok(a) => {
            crate::check_accepted(crate::shipped(), a);
            // The applicant's own JSON reads back as the same values.
            let back = Applicant::from_json(&a.to_json().to_string())
                .expect("an accepted applicant's JSON is accepted");
            assert_eq!(
                back.values().map(f64::to_bits),
                a.values()
                    .map(|v| if v == 0.0 { 0.0f64 } else { v }.to_bits()),
                "round trip through to_json changed the values"
            );
        }
        Err(e) => check_refusal(e),
    }
    // The parsed-value door, where the text parses as JSON at all.
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
        let by_value = Applicant::from_json_value(&value);
        match (&result, &by_value) {
            (Ok(a), Ok(b)) => assert_eq!(
                a.values().map(f64::to_bits),
                b.values().map(f64::to_bits),
                "from_json and from_json_value read different values"
            ),
            (Ok(_), Err(e)) => panic!("from_json accepts what from_json_value refuses: {e}"),
            (Err(e), Ok(_)) => assert!(
                e.errors.iter().all(|x| x.code == ErrorCode::DuplicateField
                    || (x.code == ErrorCode::InvalidJson && x.message.contains("too many fields"))),
                "from_json_value accepts what from_json refuses for another reason than \
                 duplicate keys: {e}"
            ),
            (Err(_), Err(e)) => check_refusal(e),
        }
    }
}

/// What every refusal must look like.
fn check_refusal(e: &ValidationErrors) {
    assert!(!e.errors.is_empty(), "a refusal without errors");
    for x in &e.errors {
        // A field is named as the caller spelled it, so an unknown key may be the empty
        // string; any other error without a field must be about the whole document.
        let whole = matches!(x.code, ErrorCode::InvalidJson | ErrorCode::NotAnObject);
        if whole {
            assert!(
                x.field.is_empty(),
                "whole-document error {x:?} names a field"
            );
        } else {
            assert!(
                !x.field.is_empty() || x.code == ErrorCode::UnknownField,
                "error {x:?} names no field"
            );
        }
        assert!(!x.message.is_empty(), "error {x:?} without a message");
    }
    if e.errors
        .iter()
        .any(|x| matches!(x.code, ErrorCode::InvalidJson | ErrorCode::NotAnObject))
    {
        assert_eq!(e.errors.len(), 1, "a whole-document error with others: {e}");
    }
    let json = serde_json::to_string(e).expect("validation errors serialise");
    let back: ValidationErrors = serde_json::from_str(&json).expect("validation errors read back");
    assert_eq!(back.errors.len(), e.errors.len());
    let _ = e.to_string();
}
