//! Structured logs in Cloud Logging's JSON format: one object per line on stdout with
//! `severity`, `message`, `time`, `target` and the event's fields.
//!
//! Fields with a meaning for Cloud Logging are renamed: `trace` becomes
//! `logging.googleapis.com/trace` (as `projects/P/traces/T` when `GOOGLE_CLOUD_PROJECT` is set)
//! and `span_id` becomes `logging.googleapis.com/spanId`, so Cloud Logging groups the lines of one
//! request under its trace; fields named `httpRequest.X` are gathered into one `httpRequest`
//! object (Cloud Logging's `LogEntry.httpRequest`, shown as the request line in its console).
//!
//! A request's trace context and id reach every line written while the request is handled
//! through [`in_request`]: the access middleware ([`super::access`]) runs each request inside
//! it, and the formatter adds the request's [`RequestFields`] to every line of that task. A
//! task-local rather than a tracing span: the span (registry slot, extensions, enter/exit with
//! their locks on every poll) cost about 1.3 µs of CPU per request more on the predict benchmark,
//! some 5 % of a request, and its level would have to be chosen so that no filter drops it.
//!
//! The formatter writes JSON straight into reused per-thread buffers (no `serde_json::Value`
//! tree, no allocation per line): the access log adds a line to every request.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::future::Future;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Installs the JSON logger. Calling it twice is harmless (the second call returns `None`).
///
/// Precedence: `level` (`--log-level` / `CREDIT_LOG_LEVEL`, the service's own setting) over
/// `RUST_LOG` over `info`. The service's setting wins because a `RUST_LOG` is often set by an
/// image or a shell for other programs; `RUST_LOG` still serves for per-crate directives.
///
/// Lines go to stdout, the access lines in batches (see [`super::stdout`]); keep the returned
/// flusher until the end of the service, whose drop writes what is still buffered.
pub fn init(level: Option<&str>) -> Option<super::stdout::Flusher> {
    let filter = match level {
        Some(level) => EnvFilter::try_new(level).ok(),
        None => EnvFilter::try_from_default_env().ok(),
    }
    .unwrap_or_else(|| EnvFilter::new("info"));
    let (stdout, flusher) = super::stdout::Stdout::start();
    subscriber(filter, CloudLogging::from_env(), stdout)
        .try_init()
        .ok()
        .and(flusher)
}

/// The logger `init` installs, writing to `writer` (tests give a buffer).
///
/// One `write_all` per line: the fmt layer hands each formatted line to the writer whole, and
/// `Stdout` holds its lock for that call, so lines of concurrent requests never interleave.
pub fn subscriber<W>(
    filter: EnvFilter,
    format: CloudLogging,
    writer: W,
) -> impl Subscriber + Send + Sync + for<'a> LookupSpan<'a>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::registry().with(filter).with(
        tracing_subscriber::fmt::layer()
            .event_format(format)
            .with_writer(writer),
    )
}

/// What every line logged while a request is handled carries.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RequestFields {
    /// Trace id (`logging.googleapis.com/trace`), from `traceparent` / `X-Cloud-Trace-Context`.
    pub trace: Option<String>,
    /// Span id of the caller's span (`logging.googleapis.com/spanId`).
    pub span_id: Option<String>,
    /// The request id (as in the response's `x-request-id` and the prediction log).
    pub request_id: String,
}

tokio::task_local! {
    static REQUEST: RequestFields;
}

/// The request id and trace id of the request this task handles, if the access middleware
/// set them (see [`super::reqid::of_request`]).
pub fn request_ids() -> Option<(String, Option<String>)> {
    REQUEST
        .try_with(|f| (f.request_id.clone(), f.trace.clone()))
        .ok()
}

/// Runs `fut`, the handling of one request, with `fields` on every line it logs. Lines of other
/// tasks (spawned work, the journal's threads) are not the request's and do not get them.
pub async fn in_request<F: Future>(fields: RequestFields, fut: F) -> F::Output {
    REQUEST.scope(fields, fut).await
}

/// The event formatter.
pub struct CloudLogging {
    /// `GOOGLE_CLOUD_PROJECT`, to spell traces as `projects/P/traces/T` as Cloud Logging wants.
    project: Option<String>,
}

impl CloudLogging {
    pub fn from_env() -> CloudLogging {
        CloudLogging::with_project(std::env::var("GOOGLE_CLOUD_PROJECT").ok())
    }

    /// A formatter for the given project (`None` or empty: trace ids are written bare).
    pub fn with_project(project: Option<String>) -> CloudLogging {
        CloudLogging {
            project: project.filter(|p| !p.is_empty()),
        }
    }

    /// Appends `,"logging.googleapis.com/trace":"projects/P/traces/T"`.
    fn push_trace(&self, out: &mut String, trace: &str) {
        out.push_str(",\"logging.googleapis.com/trace\":\"");
        if let Some(p) = &self.project {
            out.push_str("projects/");
            push_escaped(out, p);
            out.push_str("/traces/");
        }
        push_escaped(out, trace);
        out.push('"');
    }

    /// The whole line of an event, newline included, into `out`.
    fn line(
        &self,
        out: &mut String,
        f: &EventFields,
        meta: &tracing::Metadata<'_>,
        request: Option<&RequestFields>,
    ) {
        out.push_str("{\"severity\":\"");
        out.push_str(severity(meta.level()));
        out.push_str("\",\"message\":\"");
        out.push_str(&f.message);
        out.push_str("\",\"time\":\"");
        let mut time = [0u8; 27];
        super::timefmt::rfc3339_micros(
            super::timefmt::unix_micros(std::time::SystemTime::now()),
            &mut time,
        );
        // rfc3339_micros writes ASCII only.
        out.push_str(std::str::from_utf8(&time).unwrap_or("1970-01-01T00:00:00.000000Z"));
        out.push_str("\",\"target\":\"");
        push_escaped(out, meta.target());
        out.push('"');
        // The event's own trace fields win over its request's.
        let trace = Some(f.trace.as_str())
            .filter(|t| !t.is_empty())
            .or(request.and_then(|r| r.trace.as_deref()));
        if let Some(t) = trace {
            self.push_trace(out, t);
        }
        let span_id = Some(f.span_id.as_str())
            .filter(|t| !t.is_empty())
            .or(request.and_then(|r| r.span_id.as_deref()));
        if let Some(s) = span_id {
            out.push_str(",\"logging.googleapis.com/spanId\":\"");
            push_escaped(out, s);
            out.push('"');
        }
        if !f.http.is_empty() {
            out.push_str(",\"httpRequest\":{");
            out.push_str(&f.http);
            out.push('}');
        }
        out.push_str(&f.rest);
        if let Some(r) = request.filter(|_| !f.has_request_id) {
            out.push_str(",\"request_id\":\"");
            push_escaped(out, &r.request_id);
            out.push('"');
        }
        out.push_str("}\n");
    }
}

fn severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

/// What a byte becomes inside a JSON string: 0 (itself), `u` (`\u00XX`) or the letter after
/// the backslash.
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'u';
        b += 1;
    }
    t[0x7f] = b'u';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t
};

/// Whether one of the 8 bytes of `x` needs escaping (below 0x20, `"`, `\\` or DEL): the
/// "has a zero byte" / "has a byte less than" bit tricks, exact for telling whether one exists.
#[inline]
fn any_to_escape(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    (below_space
        | has_zero(x ^ (ONES * u64::from(b'"')))
        | has_zero(x ^ (ONES * u64::from(b'\\')))
        | has_zero(x ^ (ONES * 0x7f)))
        != 0
}

/// Appends `s` as the inside of a JSON string (quotes, backslashes and control characters
/// escaped). Most strings need no escape: they are checked 8 bytes at a time and copied in one
/// piece; the byte-by-byte loop starts only at the first 8 bytes that hold something to escape.
fn push_escaped(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut clean = 0;
    for chunk in bytes.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if any_to_escape(u64::from_le_bytes(word)) {
            break;
        }
        clean += 8;
    }
    // `clean` is a multiple of 8 that may fall inside a multi-byte character: the loop below
    // copies `s[start..i]` only at ASCII bytes, which are always char boundaries.
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        let esc = ESCAPE[usize::from(b)];
        if esc == 0 {
            continue;
        }
        // Every byte escaped here is ASCII, so `start..i` and `i + 1..` are char boundaries.
        out.push_str(&s[start..i]);
        out.push('\\');
        if esc == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push(char::from(esc));
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// A `fmt::Write` that JSON-escapes what goes through it, so `Debug` / `Display` values are
/// escaped while they are formatted, without a temporary string.
struct Escaping<'a>(&'a mut String);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        push_escaped(self.0, s);
        Ok(())
    }
}

/// An event's fields, already as JSON text, sorted into the parts the line is made of.
#[derive(Default)]
struct EventFields {
    /// The message, escaped (without the quotes).
    message: String,
    /// The event's own `trace` / `span_id` (empty: none), raw.
    trace: String,
    span_id: String,
    /// `"k":v,"k":v` of the `httpRequest.k` fields.
    http: String,
    /// `,"k":v` of every other field.
    rest: String,
    /// The event has its own `request_id` (then the span's is not added).
    has_request_id: bool,
}

impl EventFields {
    /// Empties the parts and keeps their memory, for the next event of this thread.
    fn clear(&mut self) {
        self.message.clear();
        self.trace.clear();
        self.span_id.clear();
        self.http.clear();
        self.rest.clear();
        self.has_request_id = false;
    }

    /// Starts a field in the part it belongs to (its key written) and returns that part.
    fn open(&mut self, name: &str) -> &mut String {
        let (out, key) = match name.strip_prefix("httpRequest.") {
            Some(key) => {
                if !self.http.is_empty() {
                    self.http.push(',');
                }
                (&mut self.http, key)
            }
            None => {
                self.has_request_id |= name == "request_id";
                self.rest.push(',');
                (&mut self.rest, name)
            }
        };
        out.push('"');
        push_escaped(out, key);
        out.push_str("\":");
        out
    }

    /// Records a number or boolean (`value` is valid JSON).
    fn plain(&mut self, field: &Field, value: impl fmt::Display + fmt::Debug) {
        match field.name() {
            "message" | "trace" | "span_id" => self.record_debug(field, &value),
            name => {
                let _ = write!(self.open(name), "{value}");
            }
        }
    }
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => push_escaped(&mut self.message, value),
            "trace" => self.trace.push_str(value),
            "span_id" => self.span_id.push_str(value),
            name => {
                let out = self.open(name);
                out.push('"');
                push_escaped(out, value);
                out.push('"');
            }
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(Escaping(&mut self.message), "{value:?}");
            }
            "trace" => {
                let _ = write!(self.trace, "{value:?}");
            }
            "span_id" => {
                let _ = write!(self.span_id, "{value:?}");
            }
            name => {
                let out = self.open(name);
                out.push('"');
                let _ = write!(Escaping(out), "{value:?}");
                out.push('"');
            }
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.plain(field, value);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.plain(field, value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.plain(field, value);
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.plain(field, value);
        } else {
            // JSON has no NaN or infinity.
            self.plain(field, "null");
        }
    }
}

impl<S, N> FormatEvent<S, N> for CloudLogging
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        match REQUEST.try_with(|r| self.write_event(&mut w, event, Some(r))) {
            Ok(written) => written,
            // Not inside a request (start-up, shutdown, the journal's threads).
            Err(_) => self.write_event(&mut w, event, None),
        }
    }
}

impl CloudLogging {
    fn write_event(
        &self,
        w: &mut Writer<'_>,
        event: &Event<'_>,
        request: Option<&RequestFields>,
    ) -> fmt::Result {
        thread_local! {
            /// Buffers reused from one event to the next: a line costs no allocation.
            static SCRATCH: RefCell<(EventFields, String)> = RefCell::default();
        }
        let mut format = |(f, line): &mut (EventFields, String)| {
            f.clear();
            line.clear();
            event.record(f);
            self.line(line, f, event.metadata(), request);
            w.write_str(line)
        };
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => format(&mut scratch),
            // An event logged while formatting one (a `Debug` impl that logs): fresh buffers.
            Err(_) => format(&mut Default::default()),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::Value;
    use std::sync::{Arc, Mutex};

    /// A `MakeWriter` into a shared buffer, for tests that read the log lines back.
    #[derive(Clone, Default)]
    pub(crate) struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Buffer {
        /// Everything written so far.
        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }

        /// Every line written so far, parsed (a line that is not JSON fails the test).
        pub(crate) fn lines(&self) -> Vec<Value> {
            self.text()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
                .collect()
        }
    }

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    /// The test logger: the service's own, at `level`, into a buffer.
    pub(crate) fn capture(
        level: &str,
        project: Option<&str>,
    ) -> (impl Subscriber + Send + Sync, Buffer) {
        let buf = Buffer::default();
        let sub = subscriber(
            EnvFilter::new(level),
            CloudLogging::with_project(project.map(str::to_owned)),
            buf.clone(),
        );
        (sub, buf)
    }

    #[test]
    fn cloud_logging_shape() {
        let (sub, buf) = capture("info", Some("p1"));
        tracing::subscriber::with_default(sub, || {
            tracing::warn!(trace = "abc", n = 3, ratio = 0.5, ok = true, "hello");
            tracing::info!(x = f64::NAN, "no NaN in JSON");
            tracing::debug!("filtered out");
        });
        let lines = buf.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        let v = &lines[0];
        assert_eq!(v["severity"], "WARNING");
        assert_eq!(v["message"], "hello");
        assert_eq!(v["logging.googleapis.com/trace"], "projects/p1/traces/abc");
        assert_eq!(v["n"], 3);
        assert_eq!(v["ratio"], 0.5);
        assert_eq!(v["ok"], true);
        assert!(v.get("trace").is_none());
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(v["target"], module_path!());
        assert_eq!(lines[1]["x"], Value::Null);
    }

    #[test]
    fn strings_are_escaped() {
        let (sub, buf) = capture("info", None);
        let nasty = "quote \" backslash \\ newline \n tab \t bell \u{7} esc \u{1b}[31m é 🦀";
        tracing::subscriber::with_default(sub, || {
            tracing::info!(s = nasty, d = ?nasty, e = %nasty, "{nasty}");
        });
        let lines = buf.lines();
        assert_eq!(lines.len(), 1);
        let v = &lines[0];
        assert_eq!(v["message"], nasty);
        assert_eq!(v["s"], nasty);
        assert_eq!(v["e"], nasty);
        assert_eq!(v["d"], format!("{nasty:?}"));
    }

    #[test]
    fn request_fields_reach_every_line_of_the_request() {
        let (sub, buf) = capture("warn", None);
        tracing::subscriber::with_default(sub, || {
            tracing::warn!("before");
            let fields = RequestFields {
                trace: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
                span_id: Some("00f067aa0ba902b7".into()),
                request_id: "r-1".into(),
            };
            REQUEST.sync_scope(fields, || {
                tracing::error!(error = "disk full", "not recorded");
                tracing::info!("below the level");
                // A span inside the request changes nothing.
                let inner = tracing::error_span!("inner", step = 2);
                let _inner = inner.enter();
                tracing::warn!(request_id = "own", "own id wins");
            });
            tracing::warn!("after");
        });
        let lines = buf.lines();
        assert_eq!(lines.len(), 4, "{lines:?}");
        for outside in [&lines[0], &lines[3]] {
            assert!(outside.get("logging.googleapis.com/trace").is_none());
            assert!(outside.get("logging.googleapis.com/spanId").is_none());
            assert!(outside.get("request_id").is_none());
        }
        let e = &lines[1];
        assert_eq!(
            e["logging.googleapis.com/trace"],
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(e["logging.googleapis.com/spanId"], "00f067aa0ba902b7");
        assert_eq!(e["request_id"], "r-1");
        assert_eq!(e["error"], "disk full");
        assert_eq!(lines[2]["request_id"], "own");
        assert_eq!(
            lines[2]["logging.googleapis.com/spanId"],
            "00f067aa0ba902b7"
        );
        // No duplicate key: the raw line has one request_id.
        let raw = buf.text();
        let own = raw.lines().nth(2).unwrap();
        assert_eq!(own.matches("\"request_id\"").count(), 1, "{own}");
    }

    #[test]
    fn an_events_own_trace_wins() {
        let (sub, buf) = capture("info", Some("p1"));
        tracing::subscriber::with_default(sub, || {
            let fields = RequestFields {
                trace: Some("aaa".into()),
                span_id: None,
                request_id: "r-2".into(),
            };
            REQUEST.sync_scope(fields, || {
                tracing::info!(trace = "bbb", span_id = "7", "mine");
                tracing::info!("theirs");
            });
        });
        let lines = buf.lines();
        assert_eq!(
            lines[0]["logging.googleapis.com/trace"],
            "projects/p1/traces/bbb"
        );
        assert_eq!(lines[0]["logging.googleapis.com/spanId"], "7");
        assert_eq!(
            lines[1]["logging.googleapis.com/trace"],
            "projects/p1/traces/aaa"
        );
        assert!(lines[1].get("logging.googleapis.com/spanId").is_none());
    }

    #[test]
    fn http_request_fields_are_nested() {
        let (sub, buf) = capture("info", None);
        tracing::subscriber::with_default(sub, || {
            tracing::info!(
                httpRequest.requestMethod = "POST",
                httpRequest.status = 200u16,
                httpRequest.latency = %"0.000123s",
                decision_id = "d-1",
                "request"
            );
        });
        let v = &buf.lines()[0];
        assert_eq!(v["httpRequest"]["requestMethod"], "POST");
        assert_eq!(v["httpRequest"]["status"], 200);
        assert_eq!(v["httpRequest"]["latency"], "0.000123s");
        assert_eq!(v["decision_id"], "d-1");
    }

    #[test]
    fn escaping_agrees_with_serde_json() {
        // Every byte value at every position of the 8-byte words, with multi-byte characters
        // around it (the word check must never miss one, nor split a character).
        for c in (0u8..=0x7f)
            .map(char::from)
            .chain(['é', '€', '🦀', '\u{2028}'])
        {
            for pad in 0..12 {
                let s = format!(
                    "{}{c}{}",
                    "é".repeat(pad / 2) + &"a".repeat(pad % 2),
                    "x".repeat(9)
                );
                let mut mine = String::from("\"");
                push_escaped(&mut mine, &s);
                mine.push('"');
                let back: String =
                    serde_json::from_str(&mine).unwrap_or_else(|e| panic!("{e}: {mine}"));
                assert_eq!(back, s);
                let needs = c < ' ' || c == '"' || c == '\\' || c == '\u{7f}';
                assert_eq!(mine.len() > s.len() + 2, needs, "{s:?} -> {mine}");
            }
        }
    }

    #[test]
    fn escaping_writes_runs_whole() {
        let mut s = String::new();
        push_escaped(&mut s, "a\u{0}b\u{1f}c\"\u{7f}é");
        assert_eq!(s, "a\\u0000b\\u001fc\\\"\\u007fé");
    }
}
