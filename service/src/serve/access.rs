//! The access log: one INFO line per request in Cloud Logging's `httpRequest` shape, and the
//! request's trace context and id on every line written while it is handled.
//!
//! The access line holds the method, the path (never the query string: a query can carry
//! applicant data too), the status, the latency, the decision id (`x-decision-id` of the
//! response, when there is one), the request id and the trace fields: nothing of the body and no
//! header beyond those ids, so the log holds no applicant data.

use super::{logging, reqid};
use axum::extract::Request;
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::Response;
use std::fmt;
use std::time::{Duration, Instant};

/// Response header naming the decision a response carries (set by the prediction handlers).
/// Header names as `HeaderName` constants: looking a header up by `&str` parses the name again
/// on each call.
pub const DECISION_ID: HeaderName = HeaderName::from_static("x-decision-id");

/// A latency as Cloud Logging's `httpRequest.latency` wants it: a protobuf `Duration` in its
/// JSON form, seconds with a fixed number of decimals and an `s` (`"0.000123s"`).
pub struct Latency(pub Duration);

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0.as_secs(), self.0.subsec_micros())
    }
}

/// The middleware (`axum::middleware::from_fn(access::log)`, outermost, so it sees every
/// route, the fallback and the errors of the handlers).
///
/// It runs the handler inside [`logging::in_request`] (a task-local, set on each poll of the
/// request's future: no guard held across an `.await`), so every line the handler logs carries
/// the trace fields and the request id whatever the log level; then it writes the access line.
/// The latency is measured to the response head: a streamed body (static files) may still be
/// on its way.
pub async fn log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let trace = reqid::trace_of(req.headers());
    let request_id = reqid::request_id_for(req.headers(), &trace);
    // The handlers take these ids from the task-local (`reqid::of_request`): one id for the
    // log lines, the response and the prediction log, and the headers parsed once.
    let fields = logging::RequestFields {
        trace: trace.trace_id,
        span_id: trace.span_id,
        request_id,
    };
    let method = req.method().clone();
    let uri = req.uri().clone();
    logging::in_request(fields, async move {
        let response = next.run(req).await;
        let decision_id = response
            .headers()
            .get(&DECISION_ID)
            .and_then(|v| v.to_str().ok());
        tracing::info!(
            httpRequest.requestMethod = method.as_str(),
            httpRequest.requestUrl = uri.path(),
            httpRequest.status = response.status().as_u16(),
            httpRequest.latency = %Latency(started.elapsed()),
            decision_id,
            "request"
        );
        response
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::logging::tests::{capture, Buffer};
    use axum::body::Body;
    use axum::http::{HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    use axum::Router;
    use serde_json::Value;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";

    /// A router of stand-in handlers behind the middleware: one answers with a decision id, one
    /// logs a warning before a 503, one needs a body.
    fn app() -> Router {
        Router::new()
            .route(
                "/decide",
                post(|headers: axum::http::HeaderMap| async move {
                    let (id, _) = reqid::of_request(&headers);
                    let mut r = Body::from(format!("{{\"request_id\":\"{id}\"}}")).into_response();
                    r.headers_mut()
                        .insert(DECISION_ID, HeaderValue::from_static("0190-dec"));
                    r
                }),
            )
            .route(
                "/fail",
                get(|| async {
                    tokio::task::yield_now().await;
                    tracing::warn!(error = "journal down", "answering 503");
                    StatusCode::SERVICE_UNAVAILABLE
                }),
            )
            .layer(axum::middleware::from_fn(log))
    }

    /// Sends one raw HTTP/1.1 request to `app` on a loopback port and returns the response.
    async fn send(app: Router, request: String) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        conn.read_to_string(&mut out).await.unwrap();
        server.abort();
        out
    }

    fn access_lines(buf: &Buffer) -> Vec<Value> {
        buf.lines()
            .into_iter()
            .filter(|l| l.get("httpRequest").is_some())
            .collect()
    }

    // The test runtime is single-threaded, so the server's tasks run on the thread of the
    // `set_default` logger.
    #[tokio::test(flavor = "current_thread")]
    async fn one_line_with_trace_and_decision_and_no_body_or_query() {
        let (sub, buf) = capture("info", Some("p1"));
        let _log = tracing::subscriber::set_default(sub);
        let body = r#"{"MonthlyIncome":9120}"#;
        let response = send(
            app(),
            format!(
                "POST /decide?MonthlyIncome=777111 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
                 traceparent: 00-{TRACE}-{SPAN}-01\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
        .await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        // The handler saw the middleware's request id (traceparent-derived here).
        assert!(response.contains(&format!("{TRACE}-{SPAN}")), "{response}");
        let lines = access_lines(&buf);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let l = &lines[0];
        assert_eq!(l["severity"], "INFO");
        assert_eq!(l["message"], "request");
        assert_eq!(
            l["logging.googleapis.com/trace"],
            format!("projects/p1/traces/{TRACE}")
        );
        assert_eq!(l["logging.googleapis.com/spanId"], SPAN);
        assert_eq!(l["httpRequest"]["requestMethod"], "POST");
        assert_eq!(l["httpRequest"]["requestUrl"], "/decide");
        assert_eq!(l["httpRequest"]["status"], 200);
        let latency = l["httpRequest"]["latency"].as_str().unwrap();
        assert!(
            latency.ends_with('s') && latency[..latency.len() - 1].parse::<f64>().is_ok(),
            "{latency}"
        );
        assert_eq!(l["decision_id"], "0190-dec");
        assert_eq!(l["request_id"], format!("{TRACE}-{SPAN}"));
        let raw = buf.text();
        assert!(!raw.contains("9120") && !raw.contains("777111"), "{raw}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn handler_lines_carry_the_trace_even_at_warn() {
        let (sub, buf) = capture("warn", None);
        let _log = tracing::subscriber::set_default(sub);
        let response = send(
            app(),
            format!(
                "GET /fail HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
                 x-cloud-trace-context: {TRACE}/123;o=1\r\nx-request-id: r-9\r\n\r\n"
            ),
        )
        .await;
        assert!(response.starts_with("HTTP/1.1 503"), "{response}");
        let lines = buf.lines();
        // At `warn` the access line is off; the handler's warning is there, with the trace.
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["message"], "answering 503");
        assert_eq!(lines[0]["logging.googleapis.com/trace"], TRACE);
        assert_eq!(lines[0]["logging.googleapis.com/spanId"], "123");
        assert_eq!(lines[0]["request_id"], "r-9");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn unknown_routes_get_one_line_without_trace() {
        let (sub, buf) = capture("info", None);
        let _log = tracing::subscriber::set_default(sub);
        let response = send(
            app(),
            "GET /nope/x?q=1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".into(),
        )
        .await;
        assert!(response.starts_with("HTTP/1.1 404"), "{response}");
        let lines = access_lines(&buf);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let l = &lines[0];
        assert_eq!(l["httpRequest"]["status"], 404);
        assert_eq!(l["httpRequest"]["requestUrl"], "/nope/x");
        assert!(l.get("logging.googleapis.com/trace").is_none());
        assert!(l.get("logging.googleapis.com/spanId").is_none());
        assert!(l.get("decision_id").is_none());
        // A generated request id.
        assert_eq!(l["request_id"].as_str().unwrap().len(), 36);
    }

    #[test]
    fn latency_is_a_protobuf_duration() {
        assert_eq!(Latency(Duration::from_micros(123)).to_string(), "0.000123s");
        assert_eq!(
            Latency(Duration::from_millis(2500)).to_string(),
            "2.500000s"
        );
    }
}
