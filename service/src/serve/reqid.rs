//! Request ids: taken from the caller (`X-Request-Id`, else W3C `traceparent`) so one id follows a
//! decision through the caller's logs, ours and the prediction log; generated otherwise.

use axum::http::{HeaderMap, HeaderName};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Longest caller-supplied id we keep (longer ones are replaced, not truncated, to stay unique).
pub const MAX_ID_LEN: usize = 128;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A per-process random prefix so ids from different instances never collide.
fn prefix() -> u64 {
    static P: OnceLock<u64> = OnceLock::new();
    *P.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        h.finish()
    })
}

/// A fresh id shaped like a UUID (random process prefix + counter), e.g. `3f2a9c1e-77d0-4b21-8000-00000000002a`.
pub fn generate() -> String {
    generated(prefix(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The id of counter value `n`: the prefix, then `8xxx` and the counter's low 60 bits, in a
/// UUID's hyphenated layout (the uuid crate's encoder: no formatting machinery per request).
fn generated(prefix: u64, n: u64) -> String {
    let low = (0x8000 | ((n >> 48) & 0x0fff)) << 48 | (n & 0xffff_ffff_ffff);
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid::Uuid::from_u128(u128::from(prefix) << 64 | u128::from(low))
        .hyphenated()
        .encode_lower(&mut buf)
        .to_owned()
}

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b))
}

/// Trace context of a request, for the request id and Cloud Logging's trace fields.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Trace {
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
}

/// Parses `traceparent: 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`, else
/// `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1` (what Cloud Run's front end adds).
pub fn trace_of(headers: &HeaderMap) -> Trace {
    if let Some(tp) = headers.get(TRACEPARENT).and_then(|v| v.to_str().ok()) {
        let parts: Vec<&str> = tp.trim().split('-').collect();
        let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        if parts.len() >= 4
            && hex(parts[0], 2)
            && hex(parts[1], 32)
            && hex(parts[2], 16)
            && parts[1].bytes().any(|b| b != b'0')
        {
            return Trace {
                trace_id: Some(parts[1].to_ascii_lowercase()),
                span_id: Some(parts[2].to_ascii_lowercase()),
            };
        }
    }
    if let Some(tc) = headers
        .get(X_CLOUD_TRACE_CONTEXT)
        .and_then(|v| v.to_str().ok())
    {
        let (trace, rest) = tc.split_once('/').unwrap_or((tc, ""));
        let span = rest.split(';').next().unwrap_or("");
        if trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Trace {
                trace_id: Some(trace.to_ascii_lowercase()),
                span_id: (!span.is_empty() && span.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| span.to_owned()),
            };
        }
    }
    Trace::default()
}

/// The id of a request: `X-Request-Id` when usable, else `<trace id>-<span id>` from
/// `traceparent`, else a generated one.
pub fn request_id(headers: &HeaderMap) -> String {
    request_id_for(headers, &trace_of(headers))
}

/// [`request_id`] for a request whose trace context is already parsed (`trace_of(headers)`).
pub fn request_id_for(headers: &HeaderMap, trace: &Trace) -> String {
    if let Some(id) = headers.get(X_REQUEST_ID).and_then(|v| v.to_str().ok()) {
        let id = id.trim();
        if acceptable(id) {
            return id.to_owned();
        }
    }
    if headers.contains_key(TRACEPARENT) {
        if let Trace {
            trace_id: Some(t),
            span_id: Some(s),
        } = trace
        {
            return format!("{t}-{s}");
        }
    }
    generate()
}

/// The request id and trace id of the request being handled: the access middleware's (read
/// from the task-local it sets, see `logging::request_ids`), so that the handler, the access
/// line, the response and the prediction log share one id without parsing the headers twice;
/// outside the middleware (tests of a bare router) parsed from `headers`.
pub fn of_request(headers: &HeaderMap) -> (String, Option<String>) {
    super::logging::request_ids().unwrap_or_else(|| {
        let trace = trace_of(headers);
        (request_id_for(headers, &trace), trace.trace_id)
    })
}

/// `X-Request-Id`, as a constant: inserting or looking up a header by `&str` parses the name
/// on every call.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const X_CLOUD_TRACE_CONTEXT: HeaderName = HeaderName::from_static("x-cloud-trace-context");

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// The layout the ids had when they were formatted field by field.
    #[test]
    fn generated_ids_keep_their_layout() {
        for (p, n) in [
            (0x3f2a_9c1e_77d0_4b21, 42),
            (u64::MAX, u64::MAX),
            (0, 0),
            (0x0123_4567_89ab_cdef, 0x0fed_cba9_8765_4321),
        ] {
            let old = format!(
                "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                (p >> 32) as u32,
                (p >> 16) as u16,
                p as u16,
                0x8000 | ((n >> 48) as u16 & 0x0fff),
                n & 0xffff_ffff_ffff
            );
            assert_eq!(generated(p, n), old);
        }
    }

    #[test]
    fn ids_come_from_headers_or_are_unique() {
        let mut h = HeaderMap::new();
        let a = request_id(&h);
        let b = request_id(&h);
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        h.insert("x-request-id", HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&h), "abc-123");
        h.insert(
            "x-request-id",
            HeaderValue::from_static("bad id with spaces"),
        );
        assert_ne!(request_id(&h), "bad id with spaces");
        h.remove("x-request-id");
        h.insert(
            "traceparent",
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        assert_eq!(
            request_id(&h),
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
        );
        h.insert("traceparent", HeaderValue::from_static("garbage"));
        assert_eq!(request_id(&h).len(), 36);
    }

    #[test]
    fn cloud_trace_context() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-cloud-trace-context",
            HeaderValue::from_static("105445aa7843bc8bf206b12000100000/1;o=1"),
        );
        let t = trace_of(&h);
        assert_eq!(
            t.trace_id.as_deref(),
            Some("105445aa7843bc8bf206b12000100000")
        );
        assert_eq!(t.span_id.as_deref(), Some("1"));
    }
}
