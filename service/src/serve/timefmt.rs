//! RFC 3339 UTC timestamps (`2026-01-02T03:04:05.123456Z`) without a date-time dependency:
//! the log writes one per record, so it must be cheap and allocation-free.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch (0 for a clock before 1970).
pub fn unix_micros(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Writes `YYYY-MM-DDTHH:MM:SS.ffffffZ` (27 bytes) for microseconds since the epoch.
pub fn rfc3339_micros(micros: i64, out: &mut [u8; 27]) {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, mo, d) = civil_from_days(days);
    let y = y.clamp(0, 9999) as u32;
    let put = |out: &mut [u8; 27], at: usize, v: u32, width: usize| {
        let mut v = v;
        for k in (0..width).rev() {
            out[at + k] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(out, 0, y, 4);
    out[4] = b'-';
    put(out, 5, mo, 2);
    out[7] = b'-';
    put(out, 8, d, 2);
    out[10] = b'T';
    put(out, 11, sod / 3600, 2);
    out[13] = b':';
    put(out, 14, sod / 60 % 60, 2);
    out[16] = b':';
    put(out, 17, sod % 60, 2);
    out[19] = b'.';
    put(out, 20, frac, 6);
    out[26] = b'Z';
}

/// The same as a `String`.
pub fn rfc3339_string(micros: i64) -> String {
    let mut buf = [0u8; 27];
    rfc3339_micros(micros, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_string(0), "1970-01-01T00:00:00.000000Z");
        // 2000-02-29T12:34:56.789012Z (a leap day)
        assert_eq!(
            rfc3339_string(951_827_696_789_012),
            "2000-02-29T12:34:56.789012Z"
        );
        assert_eq!(
            rfc3339_string(1_767_225_599_999_999),
            "2025-12-31T23:59:59.999999Z"
        );
    }
}
