//! Errors: field-level validation errors (what, where, why) and model artifact errors.

use serde::{Deserialize, Serialize};
use std::fmt::{self, Write as _};

/// Stable machine codes of validation errors. Front doors expose these verbatim
/// (`"type"` in a FastAPI-style 422, `code` in Python / JS errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A required field is absent (or null / NaN in a batch column).
    Missing,
    /// The value is not a number (a string, a boolean, an object, ...).
    NotANumber,
    /// A count has a fractional part.
    NotAnInteger,
    /// The value lies outside the documented range.
    OutOfRange,
    /// NaN or ±infinity.
    NotFinite,
    /// A field the model does not know (often a typo).
    UnknownField,
    /// The same field given twice (also under its alias).
    DuplicateField,
    /// The applicant is not a JSON object / mapping.
    NotAnObject,
    /// The text is not valid JSON.
    InvalidJson,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Missing => "missing",
            ErrorCode::NotANumber => "not_a_number",
            ErrorCode::NotAnInteger => "not_an_integer",
            ErrorCode::OutOfRange => "out_of_range",
            ErrorCode::NotFinite => "not_finite",
            ErrorCode::UnknownField => "unknown_field",
            ErrorCode::DuplicateField => "duplicate_field",
            ErrorCode::NotAnObject => "not_an_object",
            ErrorCode::InvalidJson => "invalid_json",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one field of an applicant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field as the caller named it (canonical name for missing fields, empty for whole-object errors).
    pub field: String,
    pub code: ErrorCode,
    /// A sentence for humans.
    pub message: String,
    /// The offending value as JSON (`"NaN"` / `"inf"` as strings), `null` when absent.
    pub value: serde_json::Value,
}

/// Every problem found with one applicant, reported at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub struct ValidationErrors {
    pub errors: Vec<FieldError>,
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "{n} validation error{} for applicant",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            if e.field.is_empty() {
                write!(f, "\n  {} [{}]", e.message, e.code)?;
            } else {
                write!(f, "\n  {}: {} [{}]", e.field, e.message, e.code)?;
            }
        }
        Ok(())
    }
}

/// Why a model artifact was refused.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model artifact is not valid JSON for this format: {0}")]
    Json(#[from] serde_json::Error),
    #[error("model artifact has format {}; expected {}", Quoted(.found), Quoted(.expected))]
    WrongFormat {
        found: String,
        expected: &'static str,
    },
    #[error(
        "model artifact has format version {found}; this build reads versions {} to {expected}",
        crate::artifact::MIN_FORMAT_VERSION
    )]
    WrongFormatVersion { found: u32, expected: u32 },
    #[error("model artifact checksum mismatch: stored {stored}, computed {computed} (the file was changed after it was written)")]
    ChecksumMismatch { stored: String, computed: String },
    #[error("model artifact has no checksum")]
    MissingChecksum,
    #[error("model artifact lacks feature {}", Quoted(.0))]
    MissingFeature(&'static str),
    #[error("model artifact has unknown or duplicated feature {}", Quoted(.0))]
    UnexpectedFeature(String),
    #[error("feature {}: {problem}", Quoted(.feature))]
    BadFeature { feature: String, problem: String },
    #[error("model artifact: {0}")]
    Invalid(String),
}

/// A string in double quotes, escaped as `{:?}` escapes it for every printable character:
/// `"`, `\\`, `\n`, `\r`, `\t`, `\0` and other control characters (as `\u{..}`). Unlike `{:?}`
/// it passes other characters through (Debug also escapes Unicode's non-printable characters
/// and a leading combining mark); that keeps core's Unicode tables, 5 KB, out of the `.wasm`.
/// Messages quote names with it, so every front door writes the same text.
#[derive(Clone, Copy, Debug)]
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\0' => f.write_str("\\0")?,
                c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

/// A number in a message, written exactly as `Display` writes an `f64` (shortest digits that
/// read back as the same number, never an exponent, `NaN`, `inf`, `-0`), but with the digits
/// found by serde_json's float printer (zmij, through `Number`'s `Display`) instead of core's.
/// That printer is in the `.wasm` anyway (the model checksum's canonical JSON uses it), so
/// core's own (Grisu with its Dragon fallback and their tables) is no longer linked; a second
/// printer such as `ryu` would have cost more than it saved. Every message of the core that
/// shows a float goes through this one type, in every front door, so native and browser
/// messages stay identical. Checked against `Display` in the tests below. The service writes
/// the numbers of its responses and journal records with it too: same text as `Display`,
/// without core's slower printer on the hot path.
#[derive(Clone, Copy, Debug)]
pub struct Shown(pub f64);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_nan() {
            return f.write_str("NaN");
        }
        let mut out = Chunks {
            f,
            buf: [0; 64],
            len: 0,
        };
        if v.is_sign_negative() {
            out.push(b'-')?;
        }
        let a = v.abs();
        if a.is_infinite() {
            out.push_all(b"inf")?;
        } else if a == 0.0 {
            out.push(b'0')?;
        } else if a < 9_007_199_254_740_992.0 && a == a.trunc() {
            // Whole numbers below 2^53 (counts, ages, incomes: most of an applicant) are their
            // integer's digits; no shortest-digits search.
            fixed_notation(a as u64, 0, &mut out)?;
        } else {
            let (d, e) = shortest(a);
            fixed_notation(d, e, &mut out)?;
        }
        out.flush()
    }
}

/// Bytes gathered on the stack and handed to the formatter 64 at a time: a number costs one
/// call through the formatter (a long one, such as `1e300` written out, a few).
struct Chunks<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    buf: [u8; 64],
    len: usize,
}

impl Chunks<'_, '_> {
    fn push(&mut self, b: u8) -> fmt::Result {
        if self.len == self.buf.len() {
            self.flush()?;
        }
        self.buf[self.len] = b;
        self.len += 1;
        Ok(())
    }

    fn push_all(&mut self, bytes: &[u8]) -> fmt::Result {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            // The common case (a number is at most ~25 bytes): one copy.
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len += bytes.len();
                Ok(())
            }
            None => bytes.iter().try_for_each(|&b| self.push(b)),
        }
    }

    /// `n` zeros.
    fn zeros(&mut self, n: usize) -> fmt::Result {
        const ZEROS: [u8; 32] = [b'0'; 32];
        let mut left = n;
        while left > 0 {
            let k = left.min(ZEROS.len());
            self.push_all(&ZEROS[..k])?;
            left -= k;
        }
        Ok(())
    }

    fn flush(&mut self) -> fmt::Result {
        let text = std::str::from_utf8(&self.buf[..self.len]).map_err(|_| fmt::Error)?;
        self.len = 0;
        self.f.write_str(text)
    }
}

/// `d · 10^e` in `Display`'s fixed notation: never an exponent, zeros written out.
fn fixed_notation(d: u64, e: i32, out: &mut Chunks<'_, '_>) -> fmt::Result {
    // The digits of `d` (at most 20), written from the end: most significant first.
    let mut buf = [0u8; 20];
    let mut start = buf.len();
    let mut x = d;
    while x > 0 && start > 0 {
        start -= 1;
        buf[start] = b'0' + (x % 10) as u8;
        x /= 10;
    }
    let digits = &buf[start..];
    let n = digits.len();
    let point = n as i32 + e;
    if e >= 0 {
        out.push_all(digits)?;
        out.zeros(e.unsigned_abs() as usize)
    } else if point > 0 {
        let (int, frac) = digits.split_at(point as usize);
        out.push_all(int)?;
        out.push(b'.')?;
        out.push_all(frac)
    } else {
        out.push_all(b"0.")?;
        out.zeros(point.unsigned_abs() as usize)?;
        out.push_all(digits)
    }
}

/// The shortest digits `d` (no trailing zero) and exponent `e` with `d · 10^e` reading back as
/// `v` (finite, positive), the one closest to `v`; of two equally close, the larger, as core's
/// printer picks (serde_json's, like ryu, picks the even one: `84418043664819.125` is
/// `…819.13` in Rust, `…819.12` in serde_json).
pub(crate) fn shortest(v: f64) -> (u64, i32) {
    if !v.is_finite() {
        return (0, 0); // the caller has written it already
    }
    // serde_json's printer itself (zmij), called directly: the same digits as through
    // `Number`'s `Display`, without a trip through `core::fmt` per number.
    let mut text = zmij::Buffer::new();
    let s = text.format_finite(v);
    // `1.5`, `15.0`, `1e16`, `1.5e-7`: digits, maybe a point, maybe an exponent.
    let (mantissa, exp) = match s.split_once('e') {
        Some((m, x)) => (m, x.parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    };
    let mut d: u64 = 0;
    let mut e = exp;
    let mut after_point = false;
    for c in mantissa.bytes() {
        match c {
            b'.' => after_point = true,
            b'0'..=b'9' => {
                // At most 17 significant digits (and a trailing 0): no overflow.
                d = d.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                if after_point {
                    e -= 1;
                }
            }
            _ => {}
        }
    }
    while d != 0 && d.is_multiple_of(10) {
        d /= 10;
        e += 1;
    }
    if d.is_multiple_of(2) && is_midpoint(v, d, e) {
        d += 1;
        if d.is_multiple_of(10) {
            d /= 10;
            e += 1;
        }
    }
    (d, e)
}

/// `5^k` for the `k` whose power fits in a `u64`.
const POW5: [u64; 28] = {
    let mut t = [1u64; 28];
    let mut k = 1;
    while k < t.len() {
        t[k] = t[k - 1] * 5;
        k += 1;
    }
    t
};

/// Whether `v` lies exactly halfway between `d · 10^e` and `(d + 1) · 10^e`, that is whether
/// `2v = (2d + 1) · 10^e`, in exact integer arithmetic. With `v = m · 2^q` (`m` below 2^53) the
/// two sides can only be equal when they fit in 128 bits (a tie needs `v`'s odd part to hold
/// the factor `5^|e|`), so whatever does not fit is no tie.
fn is_midpoint(v: f64, d: u64, e: i32) -> bool {
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    let (m, q) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), biased - 1075)
    };
    let odd = u128::from(2 * d + 1);
    // `a · 2^sh == b`, exactly (shifting right only when no bit is lost).
    let scaled_eq = |a: u128, sh: i32, b: u128| {
        if sh >= 0 {
            sh < 128
                && a.checked_shl(sh as u32)
                    .is_some_and(|x| x >> sh == a && x == b)
        } else {
            let sh = sh.unsigned_abs();
            sh < 128 && (a >> sh) << sh == a && a >> sh == b
        }
    };
    if e >= 0 {
        // m · 2^(q+1) == (2d + 1) · 10^e
        10u128
            .checked_pow(e.unsigned_abs())
            .and_then(|p| p.checked_mul(odd))
            .is_some_and(|t| scaled_eq(u128::from(m), q + 1, t))
    } else {
        // m · 5^-e · 2^(q+1-e) == 2d + 1, so 5^-e must divide 2d + 1: almost never (d has at
        // most 17 digits), and one division says so without the 128-bit arithmetic.
        let k = e.unsigned_abs() as usize;
        if let Some(p) = POW5.get(k) {
            if !(2 * d + 1).is_multiple_of(*p) {
                return false;
            }
        }
        5u128
            .checked_pow(e.unsigned_abs())
            .and_then(|p| p.checked_mul(u128::from(m)))
            .is_some_and(|l| scaled_eq(l, q + 1 - e, odd))
    }
}

/// A batch matrix of the wrong shape or layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("expected {expected} columns, got {found}")]
    Columns { expected: usize, found: usize },
    #[error("output has {found} slots for {expected} rows")]
    Output { expected: usize, found: usize },
    #[error("data has {len} values, which is not {n_rows} rows of {n_cols}")]
    Length {
        len: usize,
        n_rows: usize,
        n_cols: usize,
    },
    #[error("column {column} has {found} values, expected {expected}")]
    ColumnLength {
        column: usize,
        found: usize,
        expected: usize,
    },
}

/// Floats that printers get wrong: signed zeros, the ends of the range, subnormals, the edges
/// of the plain-decimal and exponent forms, exact ties between two shortest candidates, values
/// the service writes. The tests of every float printer here go through the same list.
#[cfg(test)]
pub(crate) const AWKWARD_FLOATS: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    45.0,
    97.0,
    9120.0,
    0.5,
    2.5,
    -2.5,
    0.1,
    0.3,
    0.1 + 0.2,
    1.0 / 3.0,
    2.0 / 3.0 * 100.0,
    0.38375,
    0.766127,
    0.766126609,
    0.802982129,
    123.456,
    600.5,
    500.7912345,
    100_000.0,
    123456.789,
    1e-4,
    9.99e-5,
    0.000123,
    1e-5,
    9.99e-6,
    1e-6,
    1e-7,
    1e15,
    999999999999999.0,
    1234567890123456.0,
    9.99e15,
    9.999999999999998e15,
    1e16,
    -1e16,
    1e21,
    9.5e21,
    1e22,
    1e23,
    123_456_789_012_345_680.0,
    1e300,
    1.5e300,
    1e-300,
    5e-324,
    f64::MIN_POSITIVE,
    f64::MAX,
    f64::MIN,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    // Exact ties between two shortest candidates: core rounds up, ryu to even.
    84_418_043_664_819.13,
    1_658_206_780_088_562.3,
    233_115_890_514_796.13,
];

#[cfg(test)]
mod tests {
    use super::{Quoted, Shown, AWKWARD_FLOATS};
    use proptest::prelude::*;

    #[test]
    fn quoted_writes_what_debug_writes_for_printable_text() {
        for s in [
            "",
            "MonthlyIncome",
            "NumberOfTime30-59DaysPastDueNotWorse",
            "say \"hi\"",
            "back\\slash",
            "tab\tnew\nline\rnul\0",
            "\u{1}\u{1f}\u{7f}\u{85}",
            "Ünïcödé 日本 💳",
            "'single'",
        ] {
            assert_eq!(Quoted(s).to_string(), format!("{s:?}"));
        }
        // Where it differs on purpose: Debug also escapes Unicode's non-printable characters.
        assert_eq!(Quoted("a\u{200b}b").to_string(), "\"a\u{200b}b\"");
    }

    proptest! {
        #[test]
        fn quoted_matches_debug_on_ascii(s in "[\\x00-\\x7f]{0,40}") {
            prop_assert_eq!(Quoted(&s).to_string(), format!("{s:?}"));
        }
    }

    fn same(v: f64) {
        assert_eq!(Shown(v).to_string(), format!("{v}"), "{v:?}");
    }

    /// The numbers the service writes into responses and journal records (it prints them with
    /// `Shown`), moved here with the service's former number writer.
    #[test]
    fn shown_writes_what_display_writes_for_service_values() {
        // A deterministic spread of magnitudes and bit patterns (xorshift).
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            same(f64::from_bits(x));
            // Values in the ranges the service sees (probabilities, points, incomes).
            same((x >> 11) as f64 / (1u64 << 53) as f64);
            same(((x >> 11) as f64 / (1u64 << 53) as f64) * 1000.0);
            same((x % 100_000_000) as f64 / 100.0);
        }
    }

    /// Whole numbers take the integer shortcut below 2^53 and the digit search from there on.
    #[test]
    fn shown_writes_what_display_writes_for_whole_numbers() {
        let two53 = 9_007_199_254_740_992.0_f64;
        for v in [
            1.0,
            7.0,
            98.0,
            1e15,
            two53 - 1.0,
            two53,
            two53 + 2.0,
            1e16,
            1e22,
            1e300,
        ] {
            same(v);
            same(-v);
        }
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            same((x % 1_000_000) as f64);
            same((x >> 11) as f64);
            same(-((x >> 8) as f64));
        }
    }

    #[test]
    fn shown_writes_what_display_writes() {
        for &v in AWKWARD_FLOATS {
            same(v);
        }
    }

    #[test]
    fn shown_writes_what_display_writes_for_binary_fractions() {
        // Values with short exact binary expansions: where the ties are.
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            same(((s >> 11) as f64) / (1u64 << (s & 63)) as f64);
            same(((s >> 40) as f64) * 2f64.powi((s & 127) as i32 - 40));
            same((s % 100_000_000_000) as f64 / 10f64.powi((s >> 50) as i32 % 12));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn shown_matches_display_on_any_bits(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            prop_assert_eq!(Shown(v).to_string(), format!("{v}"));
        }
    }
}
