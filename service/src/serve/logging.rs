//! Structured logs in Cloud Logging's JSON format: one object per line on stdout with
//! `severity`, `message`, `time`, `target` and the event's fields.
//!
//! Fields with a meaning for Cloud Logging are renamed: `trace` becomes
//! `logging.googleapis.com/trace` (as `projects/P/traces/T` when `GOOGLE_CLOUD_PROJECT` is set)
//! and `span_id` becomes `logging.googleapis.com/spanId`, so Cloud Logging groups the lines of one
//! request under its trace; fields named `httpRequest.X` are gathered into one `httpRequest`
//! object (Cloud Logging's `LogEntry.httpRequest`, shown as the request line in its console).
//!
//! A request's trace context reaches every line written while the request is handled through
//! the request span opened by [`super::access`]: [`RequestScope`] keeps the span's `trace`,
//! `span_id` and `request_id` fields, and the formatter copies them onto each event inside it.
//!
//! The formatter writes JSON straight into tracing-subscriber's per-thread buffer (no
//! `serde_json::Value` tree per line): the access log adds a line to every request, and building
//! a map per line cost more than the request's own work.

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Installs the JSON logger. Calling it twice is harmless.
///
/// Precedence: `level` (`--log-level` / `CREDIT_LOG_LEVEL`, the service's own setting) over
/// `RUST_LOG` over `info`. The service's setting wins because a `RUST_LOG` is often set by an
/// image or a shell for other programs; `RUST_LOG` still serves for per-crate directives.
pub fn init(level: Option<&str>) {
    let filter = match level {
        Some(level) => EnvFilter::try_new(level).ok(),
        None => EnvFilter::try_from_default_env().ok(),
    }
    .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = subscriber(filter, CloudLogging::from_env(), std::io::stdout).try_init();
}

/// The logger `init` installs, writing to `writer` (tests give a buffer).
///
/// One `write_all` per line: the fmt layer formats a line into a per-thread buffer and hands it
/// to the writer whole, and `Stdout` holds its lock for that call, so lines of concurrent
/// requests never interleave.
pub fn subscriber<W>(
    filter: EnvFilter,
    format: CloudLogging,
    writer: W,
) -> impl Subscriber + Send + Sync + for<'a> LookupSpan<'a>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(filter)
        .with(RequestScope)
        .with(
            tracing_subscriber::fmt::layer()
                .fmt_fields(NoSpanFields)
                .event_format(format)
                .with_writer(writer),
        )
}

/// The fields of a request span that every event inside it carries (stored in the span's
/// extensions by [`RequestScope`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ScopeFields {
    trace: Option<String>,
    span_id: Option<String>,
    request_id: Option<String>,
}

impl ScopeFields {
    fn set(&mut self, name: &str, value: String) {
        match name {
            "trace" => self.trace = Some(value),
            "span_id" => self.span_id = Some(value),
            "request_id" => self.request_id = Some(value),
            _ => {}
        }
    }
}

impl Visit for ScopeFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if matches!(field.name(), "trace" | "span_id" | "request_id") {
            self.set(field.name(), value.to_owned());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if matches!(field.name(), "trace" | "span_id" | "request_id") {
            self.set(field.name(), format!("{value:?}"));
        }
    }
}

/// Whether a span declares one of the fields [`ScopeFields`] keeps.
fn has_scope_fields(fields: &tracing::field::FieldSet) -> bool {
    ["trace", "span_id", "request_id"]
        .iter()
        .any(|name| fields.field(name).is_some())
}

/// A layer that keeps a span's `trace`, `span_id` and `request_id` where the formatter finds
/// them. The fmt layer's own span-field storage is text for humans (and turned off here, see
/// [`NoSpanFields`]), so the values are kept as they are, once per span.
pub struct RequestScope;

impl<S> Layer<S> for RequestScope
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !has_scope_fields(attrs.metadata().fields()) {
            return;
        }
        let mut fields = ScopeFields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if !has_scope_fields(span.metadata().fields()) {
            return;
        }
        let mut ext = span.extensions_mut();
        match ext.get_mut::<ScopeFields>() {
            Some(fields) => values.record(fields),
            None => {
                let mut fields = ScopeFields::default();
                values.record(&mut fields);
                ext.insert(fields);
            }
        }
    }
}

/// Span fields are not formatted as text: the formatter prints only the scope fields, which
/// [`RequestScope`] keeps, so formatting every span's fields into a string would be wasted work
/// on each request.
pub struct NoSpanFields;

impl<'w> FormatFields<'w> for NoSpanFields {
    fn format_fields<R: RecordFields>(&self, _writer: Writer<'w>, _fields: R) -> fmt::Result {
        Ok(())
    }
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

    /// Writes `"logging.googleapis.com/trace":"projects/P/traces/T"`, preceded by a comma.
    fn write_trace(&self, w: &mut Writer<'_>, trace: &str) -> fmt::Result {
        w.write_str(",\"logging.googleapis.com/trace\":\"")?;
        if let Some(p) = &self.project {
            w.write_str("projects/")?;
            write_escaped(w, p)?;
            w.write_str("/traces/")?;
        }
        write_escaped(w, trace)?;
        w.write_char('"')
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

/// Writes `s` as the inside of a JSON string (quotes, backslashes and control characters
/// escaped). Runs without escapes are copied in one piece.
fn write_escaped(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f | 0x7f => "",
            _ => continue,
        };
        // Every byte escaped here is ASCII, so `start..i` and `i + 1..` are char boundaries.
        w.write_str(&s[start..i])?;
        if esc.is_empty() {
            write!(w, "\\u{:04x}", b)?;
        } else {
            w.write_str(esc)?;
        }
        start = i + 1;
    }
    w.write_str(&s[start..])
}

/// A `fmt::Write` that JSON-escapes what goes through it, so `Debug` / `Display` values are
/// escaped while they are formatted, without a temporary string.
struct Escaping<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_escaped(self.0, s)
    }
}

/// An event's fields, already as JSON text, sorted into the parts the line is made of.
#[derive(Default)]
struct EventFields {
    /// The message, escaped (without the quotes).
    message: String,
    trace: Option<String>,
    span_id: Option<String>,
    /// `"k":v,"k":v` of the `httpRequest.k` fields.
    http: String,
    /// `,"k":v` of every other field.
    rest: String,
    /// The event has its own `request_id` (then the span's is not added).
    has_request_id: bool,
}

impl EventFields {
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
        let _ = write_escaped(out, key);
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
            "message" => {
                let _ = write_escaped(&mut self.message, value);
            }
            "trace" => self.trace = Some(value.to_owned()),
            "span_id" => self.span_id = Some(value.to_owned()),
            name => {
                let out = self.open(name);
                out.push('"');
                let _ = write_escaped(out, value);
                out.push('"');
            }
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(Escaping(&mut self.message), "{value:?}");
            }
            "trace" => self.trace = Some(format!("{value:?}")),
            "span_id" => self.span_id = Some(format!("{value:?}")),
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
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut f = EventFields::default();
        event.record(&mut f);
        let meta = event.metadata();
        // The innermost enclosing span that carries a request's scope fields.
        let span = ctx
            .event_scope()
            .and_then(|mut spans| spans.find(|s| s.extensions().get::<ScopeFields>().is_some()));
        let ext = span.as_ref().map(|s| s.extensions());
        let scope = ext.as_ref().and_then(|e| e.get::<ScopeFields>());

        w.write_str("{\"severity\":\"")?;
        w.write_str(severity(meta.level()))?;
        w.write_str("\",\"message\":\"")?;
        w.write_str(&f.message)?;
        w.write_str("\",\"time\":\"")?;
        let mut time = [0u8; 27];
        super::timefmt::rfc3339_micros(
            super::timefmt::unix_micros(std::time::SystemTime::now()),
            &mut time,
        );
        w.write_str(std::str::from_utf8(&time).map_err(|_| fmt::Error)?)?;
        w.write_str("\",\"target\":\"")?;
        write_escaped(&mut w, meta.target())?;
        w.write_char('"')?;
        // The event's own trace fields win over its request's.
        if let Some(t) = f
            .trace
            .as_deref()
            .or(scope.and_then(|s| s.trace.as_deref()))
        {
            self.write_trace(&mut w, t)?;
        }
        if let Some(s) = f
            .span_id
            .as_deref()
            .or(scope.and_then(|s| s.span_id.as_deref()))
        {
            w.write_str(",\"logging.googleapis.com/spanId\":\"")?;
            write_escaped(&mut w, s)?;
            w.write_char('"')?;
        }
        if !f.http.is_empty() {
            w.write_str(",\"httpRequest\":{")?;
            w.write_str(&f.http)?;
            w.write_char('}')?;
        }
        w.write_str(&f.rest)?;
        if !f.has_request_id {
            if let Some(id) = scope.and_then(|s| s.request_id.as_deref()) {
                w.write_str(",\"request_id\":\"")?;
                write_escaped(&mut w, id)?;
                w.write_char('"')?;
            }
        }
        w.write_str("}\n")
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
    fn span_scope_reaches_every_line_inside_it() {
        let (sub, buf) = capture("warn", None);
        tracing::subscriber::with_default(sub, || {
            tracing::warn!("before");
            // An ERROR-level span, as the access middleware opens, is kept at `warn`.
            let span = tracing::error_span!(
                "request",
                trace = "4bf92f3577b34da6a3ce929d0e0e4736",
                span_id = "00f067aa0ba902b7",
                request_id = "r-1"
            );
            let _in = span.enter();
            tracing::error!(error = "disk full", "not recorded");
            tracing::info!("below the level");
            // An inner span without scope fields does not hide the request's.
            let inner = tracing::error_span!("inner", step = 2);
            let _inner = inner.enter();
            tracing::warn!(request_id = "own", "own id wins");
        });
        let lines = buf.lines();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].get("logging.googleapis.com/trace").is_none());
        assert!(lines[0].get("request_id").is_none());
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
        let last = raw.lines().last().unwrap();
        assert_eq!(last.matches("\"request_id\"").count(), 1, "{last}");
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
    fn escaping_writes_runs_whole() {
        let mut s = String::new();
        write_escaped(&mut s, "a\u{0}b\u{1f}c\"").unwrap();
        assert_eq!(s, "a\\u0000b\\u001fc\\\"");
    }
}
