//! Number formatting for the hot path (response bodies and journal records).
//!
//! `write!(s, "{v}")` on an `f64` goes through `core::fmt` and Grisu: it showed up at about 3% of
//! the server's CPU under load. [`push_f64`] writes exactly the same text (the tests compare it
//! with `Display`) through `serde_json`'s number writers, which use `ryu` and `itoa`.

/// Largest magnitude printed through the integer path (well inside `i64` and exact in `f64`).
const INT_LIMIT: f64 = 1e15;
/// Range where `ryu` prints plain decimal notation, as `Display` always does.
const RYU_MIN: f64 = 1e-5;
const RYU_MAX: f64 = 1e15;

/// Significant digits from which two shortest round-trip algorithms may break a tie
/// differently (`ryu` and `Display` disagree on some 17-digit values); those go to `Display`.
const TIE_DIGITS: usize = 16;

/// Writes a number through serde_json into a stack buffer and appends the text, unless it has
/// `max_digits` significant digits or more.
fn push_json<T: serde::Serialize>(out: &mut String, v: T, max_digits: usize) -> bool {
    let mut buf = [0u8; 40];
    let mut w: &mut [u8] = &mut buf;
    if serde_json::to_writer(&mut w, &v).is_err() {
        return false;
    }
    let left = w.len();
    let len = buf.len() - left;
    let text = &buf[..len];
    let significant = text
        .iter()
        .skip_while(|&&b| b == b'-' || b == b'0' || b == b'.')
        .filter(|b| b.is_ascii_digit())
        .count();
    if significant >= max_digits {
        return false;
    }
    match std::str::from_utf8(text) {
        Ok(s) => {
            out.push_str(s);
            true
        }
        Err(_) => false,
    }
}

/// Appends `v` as `format!("{v}")` would (finite values; NaN and infinities are passed to
/// `Display` too, so the output never differs).
pub fn push_f64(out: &mut String, v: f64) {
    let a = v.abs();
    let done = if v.fract() == 0.0 && a < INT_LIMIT && !(v == 0.0 && v.is_sign_negative()) {
        // `Display` prints whole numbers without a fraction ("45"), like an integer.
        push_json(out, v as i64, usize::MAX)
    } else if (RYU_MIN..RYU_MAX).contains(&a) {
        // Both `ryu` and `Display` print the shortest digits that round-trip; inside this range
        // `ryu` uses plain decimal notation too, and the value is not whole (no ".0" suffix).
        push_json(out, v, TIE_DIGITS)
    } else {
        false
    };
    if !done {
        use std::fmt::Write as _;
        let _ = write!(out, "{v}");
    }
}

/// Appends an unsigned integer.
pub fn push_u64(out: &mut String, v: u64) {
    if !push_json(out, v, usize::MAX) {
        use std::fmt::Write as _;
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(v: f64) {
        let mut s = String::new();
        push_f64(&mut s, v);
        assert_eq!(s, format!("{v}"), "bits {:#x}", v.to_bits());
    }

    #[test]
    fn matches_display() {
        for v in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            45.0,
            9120.0,
            0.5,
            0.766126609,
            0.802982129,
            600.5,
            500.7912345,
            0.38375,
            1e-5,
            9.99e-6,
            1e-7,
            123456.789,
            1e15,
            999999999999999.0,
            1e16,
            1.5e300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.1 + 0.2,
            1.0 / 3.0,
            2.0 / 3.0 * 100.0,
        ] {
            same(v);
        }
        // A deterministic spread of magnitudes and bit patterns (xorshift).
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            same(v);
            // Values in the ranges the service sees (probabilities, points, incomes).
            same((x >> 11) as f64 / (1u64 << 53) as f64);
            same(((x >> 11) as f64 / (1u64 << 53) as f64) * 1000.0);
            same((x % 100_000_000) as f64 / 100.0);
        }
    }

    #[test]
    fn integers() {
        let mut s = String::new();
        push_u64(&mut s, 0);
        s.push(',');
        push_u64(&mut s, u64::MAX);
        assert_eq!(s, format!("0,{}", u64::MAX));
    }
}
