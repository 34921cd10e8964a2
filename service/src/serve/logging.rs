//! Structured logs in Cloud Logging's JSON format: one object per line on stdout with
//! `severity`, `message`, `time`, and the event's fields; a `trace` field becomes
//! `logging.googleapis.com/trace` so Cloud Logging groups the lines of one request.

use serde_json::{Map, Value};
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
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
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .event_format(CloudLogging::from_env())
        .with_writer(std::io::stdout)
        .try_init();
}

/// The event formatter.
pub struct CloudLogging {
    /// `GOOGLE_CLOUD_PROJECT`, to spell traces as `projects/P/traces/T` as Cloud Logging wants.
    project: Option<String>,
}

impl CloudLogging {
    pub fn from_env() -> CloudLogging {
        CloudLogging {
            project: std::env::var("GOOGLE_CLOUD_PROJECT")
                .ok()
                .filter(|p| !p.is_empty()),
        }
    }

    /// The log line of one event (without the newline).
    pub fn line(&self, level: &Level, target: &str, mut fields: Map<String, Value>) -> Value {
        let severity = match *level {
            Level::ERROR => "ERROR",
            Level::WARN => "WARNING",
            Level::INFO => "INFO",
            Level::DEBUG | Level::TRACE => "DEBUG",
        };
        let mut obj = Map::new();
        obj.insert("severity".into(), Value::from(severity));
        obj.insert(
            "message".into(),
            fields.remove("message").unwrap_or(Value::from("")),
        );
        obj.insert(
            "time".into(),
            Value::from(super::timefmt::rfc3339_string(super::timefmt::unix_micros(
                std::time::SystemTime::now(),
            ))),
        );
        obj.insert("target".into(), Value::from(target));
        if let Some(Value::String(t)) = fields.remove("trace") {
            let full = match &self.project {
                Some(p) => format!("projects/{p}/traces/{t}"),
                None => t,
            };
            obj.insert("logging.googleapis.com/trace".into(), Value::from(full));
        }
        if let Some(span) = fields.remove("span_id") {
            obj.insert("logging.googleapis.com/spanId".into(), span);
        }
        for (k, v) in fields {
            obj.insert(k, v);
        }
        Value::Object(obj)
    }
}

struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
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
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        let meta = event.metadata();
        let line = self.line(meta.level(), meta.target(), fields.0);
        writeln!(writer, "{line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_logging_shape() {
        let f = CloudLogging {
            project: Some("p1".into()),
        };
        let mut m = Map::new();
        m.insert("message".into(), Value::from("hello"));
        m.insert("trace".into(), Value::from("abc"));
        m.insert("n".into(), Value::from(3));
        let v = f.line(&Level::WARN, "credit", m);
        assert_eq!(v["severity"], "WARNING");
        assert_eq!(v["message"], "hello");
        assert_eq!(v["logging.googleapis.com/trace"], "projects/p1/traces/abc");
        assert_eq!(v["n"], 3);
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }
}
