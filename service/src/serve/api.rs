//! The HTTP handlers and the router.

use super::error::{detail_list, ApiError};
use super::log::Record;
use super::metrics::Route;
use super::state::AppState;
use super::{config::Durability, openapi, reqid, timefmt, web};
use crate::model_ref::ModelRef;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use credit_core::{Applicant, ErrorCode, Prediction, Shown, ValidationErrors, MAX_REASONS};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

/// Largest `/predict` body (a real applicant is ~400 bytes).
pub const PREDICT_BODY_LIMIT: usize = 64 * 1024;
/// Bytes allowed per applicant in a batch body.
pub const BATCH_BYTES_PER_ITEM: usize = 2048;

/// All routes of the service. `POST /admin/reload` exists only with an admin token, and
/// `/openapi.json` describes exactly the routes and limits of this configuration.
pub fn router(state: AppState) -> Router {
    let config = state.config();
    let doc = Bytes::from(openapi::document_json(openapi::DocOptions {
        admin: config.admin_token.is_some(),
        max_batch: config.max_batch,
    }));
    let mut router = Router::new();
    if config.admin_token.is_some() {
        router = router.route("/admin/reload", post(admin_reload));
    }
    router
        .route("/predict", post(predict))
        .route(
            "/predict/batch",
            post(predict_batch).layer(batch_compression()),
        )
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/model", get(model_info))
        .route("/model/artifact", get(super::artifact::model_artifact))
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(move |state: State<AppState>| openapi_json(state, doc.clone())),
        )
        .route("/docs", get(docs))
        .route("/docs/", get(docs))
        .route("/", get(web::index))
        .route("/gradio", get(web::index))
        .route("/gradio/", get(web::index))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        // Last, so it wraps every route and both fallbacks: one access line per request, and
        // the request's trace on every line logged while it is handled.
        .layer(axum::middleware::from_fn(super::access::log))
}

/// Batch answers (about 400 bytes per applicant, a tenth of that gzip-compressed) go
/// compressed to clients that accept gzip. Only this route: a single answer is too small to
/// gain, and the artifact's ETag names its bytes as stored.
fn batch_compression(
) -> tower_http::compression::CompressionLayer<tower_http::compression::predicate::SizeAbove> {
    tower_http::compression::CompressionLayer::new()
        .compress_when(tower_http::compression::predicate::SizeAbove::new(4096))
}

fn json_response(status: StatusCode, body: impl Into<Body>, request_id: Option<&str>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        r.headers_mut().insert(reqid::X_REQUEST_ID, id);
    }
    r
}

/// `application/json`, `application/<x>+json`, with or without parameters; an absent header is
/// accepted as JSON (old clients), anything else is 415.
fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let s = ct.to_str().unwrap_or("");
    let mime = s.split(';').next().unwrap_or("").trim().as_bytes();
    let ends_with = |tail: &[u8]| {
        mime.len() >= tail.len() && mime[mime.len() - tail.len()..].eq_ignore_ascii_case(tail)
    };
    let starts_with =
        |head: &[u8]| mime.len() >= head.len() && mime[..head.len()].eq_ignore_ascii_case(head);
    if mime.eq_ignore_ascii_case(b"application/json")
        || (starts_with(b"application/") && ends_with(b"+json"))
    {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(s))
    }
}

/// Reads the body up to `limit` bytes (413 beyond, without reading a declared oversize body),
/// decoded as its `Content-Encoding` says (gzip and deflate; the limit holds for the decoded
/// bytes too, see `encoding`), without a leading byte order mark. A body not in within `time`
/// is a 408: a client that stops half-way must not hold its connection and task for ever.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    time: std::time::Duration,
) -> Result<Bytes, ApiError> {
    let encoding = super::encoding::Encoding::of(headers)?;
    let raw = tokio::time::timeout(time, read_raw_body(headers, body, limit))
        .await
        .map_err(|_| ApiError::body_timeout(time))??;
    let mut bytes = encoding.decode(raw, limit)?;
    // RFC 8259 lets a parser ignore a leading UTF-8 byte order mark, which some clients
    // (.NET, PowerShell) write; one, at the start.
    if bytes.starts_with(b"\xef\xbb\xbf") {
        let _ = bytes.split_to(3);
    }
    Ok(bytes)
}

/// The body as sent, up to `limit` bytes.
async fn read_raw_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(ApiError::too_large(limit));
        }
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(b) => Ok(b),
        Err(e) => {
            // to_bytes reports a length-limit error through its source chain.
            let msg = format!("{e:?}");
            if msg.contains("LengthLimit") || msg.contains("length limit") {
                Err(ApiError::too_large(limit))
            } else {
                Err(ApiError::invalid_json(format!(
                    "could not read the body: {e}"
                )))
            }
        }
    }
}

fn is_json_syntax(e: &ValidationErrors) -> bool {
    e.errors.len() == 1 && e.errors[0].code == ErrorCode::InvalidJson
}

/// Appends the result object of one prediction (without the closing brace) to `out`.
fn write_result(out: &mut String, m: &super::state::LoadedModel, p: &Prediction) {
    // `Shown`: `Display`'s text, through the core's fast float printer.
    let _ = write!(
        out,
        "{{\"prediction\":{},\"probability\":{},\"score\":{}",
        p.prediction,
        Shown(finite(p.probability)),
        Shown(finite(p.score))
    );
    out.push_str(",\"reasons\":[");
    for (k, r) in p.reasons.as_slice().iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        out.push_str(&m.reason_json[r.feature]);
        let _ = write!(out, "{}", Shown(finite(r.points_lost)));
        out.push('}');
    }
    out.push_str("],\"model_version\":");
    out.push_str(&m.version_json);
}

/// JSON has no NaN: a non-finite number (which validated input never produces) becomes 0.
fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

/// Who asked, for the record: the caller's ids (correlation only) and the trace.
struct Caller<'a> {
    request_id: String,
    trace_id: &'a Option<String>,
}

fn record_of(
    decision_id: uuid::Uuid,
    caller: Caller<'_>,
    ts_us: i64,
    m: &super::state::LoadedModel,
    a: &Applicant,
    p: &Prediction,
    latency_us: u64,
) -> Record {
    let mut reasons = [0u8; MAX_REASONS];
    let rs = p.reasons.as_slice();
    for (k, r) in rs.iter().enumerate() {
        reasons[k] = r.feature as u8;
    }
    Record {
        decision_id,
        request_id: caller.request_id,
        trace_id: caller.trace_id.clone(),
        ts_us,
        model: m.tag.clone(),
        input: *a.values(),
        probability: p.probability,
        prediction: p.prediction,
        score: p.score,
        reasons,
        n_reasons: rs.len() as u8,
        latency_us,
    }
}

struct InFlight<'a>(&'a super::metrics::Metrics);

impl<'a> InFlight<'a> {
    fn enter(m: &'a super::metrics::Metrics) -> InFlight<'a> {
        m.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(m)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `POST /predict`: one applicant (the seed's JSON) → decision, probability, score, reasons.
///
/// The handlers of the two hot routes take the whole request and split it: the `HeaderMap`
/// extractor would clone every header of every request.
async fn predict(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let started = Instant::now();
    let metrics = state.metrics();
    let _guard = InFlight::enter(metrics);
    let ts_us = timefmt::unix_micros(SystemTime::now());
    let (request_id, trace_id) = reqid::of_request(headers);
    let ids = (request_id.clone(), trace_id);
    let result = predict_inner(&state, headers, body, ids, ts_us, started).await;
    let response = match result {
        Ok(r) => r,
        Err(e) => e.with_request_id(&request_id).into_response(),
    };
    let status = response.status().as_u16();
    metrics.count_request(Route::Predict, status);
    metrics
        .predict_latency
        .observe_us(started.elapsed().as_micros() as u64);
    response
}

async fn predict_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    (request_id, trace_id): (String, Option<String>),
    ts_us: i64,
    started: Instant,
) -> Result<Response, ApiError> {
    check_json_content_type(headers)?;
    let bytes = read_body(
        headers,
        body,
        PREDICT_BODY_LIMIT,
        state.config().client.body,
    )
    .await?;
    let arriving = state.journal().arriving();
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| ApiError::invalid_json(format!("Invalid JSON: body is not UTF-8 ({e})")))?;
    let applicant = match Applicant::from_json(text) {
        Ok(a) => a,
        Err(e) if is_json_syntax(&e) => {
            return Err(ApiError::invalid_json(e.errors[0].message.clone()))
        }
        Err(e) => {
            state
                .metrics()
                .validation_errors
                .fetch_add(1, Ordering::Relaxed);
            return Err(ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                detail: detail_list(&[Value::from("body")], &e),
                request_id: None,
                retry_after: None,
            });
        }
    };
    let model = state.model();
    let p = model.scorecard.predict(&applicant);
    if !p.probability.is_finite() || !p.score.is_finite() {
        // Cannot happen for a validated applicant; refuse rather than answer NaN.
        return Err(ApiError::simple(
            StatusCode::UNPROCESSABLE_ENTITY,
            "out_of_range",
            "The model cannot score this applicant",
            &["body"],
        ));
    }
    let decision_id = uuid::Uuid::now_v7();
    let mut id_buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let decision = &*decision_id.hyphenated().encode_lower(&mut id_buf);
    let mut out = String::with_capacity(700);
    write_result(&mut out, &model, &p);
    out.push_str(",\"request_id\":\"");
    out.push_str(&request_id);
    out.push_str("\",\"decision_id\":\"");
    out.push_str(decision);
    out.push_str("\"}");
    let latency_us = started.elapsed().as_micros() as u64;
    let caller = Caller {
        request_id: request_id.clone(),
        trace_id: &trace_id,
    };
    let record = record_of(
        decision_id,
        caller,
        ts_us,
        &model,
        &applicant,
        &p,
        latency_us,
    );
    let strict = state.config().durability == Durability::Strict;
    let submitted = state.journal().submit_one(record, strict, arriving).await;
    not_logged(state, submitted, strict, &request_id, 1)?;
    state.metrics().decisions[usize::from(p.prediction.min(1))].fetch_add(1, Ordering::Relaxed);
    let mut r = json_response(StatusCode::OK, out, Some(&request_id));
    if let Ok(v) = HeaderValue::from_str(decision) {
        r.headers_mut().insert(super::access::DECISION_ID, v);
    }
    Ok(r)
}

/// What a submission that failed means for the answer. Strict: no answer without its record
/// (503; `Retry-After` when the outbox is full, since it empties as the sink catches up).
/// Relaxed: the answer goes out and the loss is counted (and logged, at most once a second).
fn not_logged(
    state: &AppState,
    submitted: Result<(), super::log::LogError>,
    strict: bool,
    request_id: &str,
    records: usize,
) -> Result<(), ApiError> {
    let Err(e) = submitted else {
        return Ok(());
    };
    let metrics = state.metrics();
    let full = matches!(e, super::log::LogError::Full { .. });
    if !strict {
        metrics
            .log_dropped
            .fetch_add(records as u64, Ordering::Relaxed);
        if once_a_second() {
            tracing::warn!(request_id = %request_id, error = %e, records, "relaxed durability: answered without logging");
        }
        return Ok(());
    }
    if full {
        metrics.log_rejected_full.fetch_add(1, Ordering::Relaxed);
        if once_a_second() {
            tracing::warn!(request_id = %request_id, error = %e, "outbox full; answering 503 with Retry-After");
        }
        return Err(ApiError::log_unavailable(&e.to_string()).retry_after(RETRY_AFTER_FULL_S));
    }
    tracing::error!(request_id = %request_id, error = %e, "prediction not recorded; answering 503");
    Err(ApiError::log_unavailable(&e.to_string()))
}

/// `Retry-After` of a 503 for a full outbox: a shipping batch takes well under this when the
/// sink is healthy again.
const RETRY_AFTER_FULL_S: u32 = 2;

/// True at most once per second (process-wide), to keep a flood of refusals out of the logs.
fn once_a_second() -> bool {
    use std::sync::atomic::AtomicI64;
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = timefmt::unix_micros(SystemTime::now()) / 1_000_000;
    let last = LAST.load(Ordering::Relaxed);
    now != last
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchIn<'a> {
    #[serde(borrow)]
    applicants: Vec<&'a serde_json::value::RawValue>,
}

/// `POST /predict/batch`: `{"applicants": [...]}` → one result or error list per applicant.
async fn predict_batch(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let started = Instant::now();
    let metrics = state.metrics();
    let _guard = InFlight::enter(metrics);
    let ts_us = timefmt::unix_micros(SystemTime::now());
    let (request_id, trace_id) = reqid::of_request(headers);
    let ids = (request_id.as_str(), trace_id);
    let response = match batch_inner(&state, headers, body, ids, ts_us, started).await {
        Ok(r) => r,
        Err(e) => e.with_request_id(&request_id).into_response(),
    };
    metrics.count_request(Route::Batch, response.status().as_u16());
    metrics
        .batch_latency
        .observe_us(started.elapsed().as_micros() as u64);
    response
}

async fn batch_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    (request_id, trace_id): (&str, Option<String>),
    ts_us: i64,
    started: Instant,
) -> Result<Response, ApiError> {
    check_json_content_type(headers)?;
    let max = state.config().max_batch;
    let limit = max * BATCH_BYTES_PER_ITEM + 1024;
    let bytes = read_body(headers, body, limit, state.config().client.body).await?;
    let arriving = state.journal().arriving();
    let parsed: BatchIn<'_> = match serde_json::from_slice(&bytes) {
        Ok(b) => b,
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            return Err(ApiError::simple(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_batch",
                format!("Expected {{\"applicants\": [ ... ]}}: {e}"),
                &["body"],
            ))
        }
        Err(e) => return Err(ApiError::invalid_json(format!("Invalid JSON: {e}"))),
    };
    if parsed.applicants.len() > max {
        return Err(ApiError::simple(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_long",
            format!(
                "At most {max} applicants per request, got {}",
                parsed.applicants.len()
            ),
            &["body", "applicants"],
        ));
    }
    let metrics = state.metrics();
    metrics
        .batch_items
        .fetch_add(parsed.applicants.len() as u64, Ordering::Relaxed);
    let model = state.model();
    let mut id_buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let mut out = String::with_capacity(64 + parsed.applicants.len() * 610);
    out.push_str("{\"results\":[");
    let mut records = Vec::with_capacity(parsed.applicants.len());
    let mut decisions = [0u64; 2];
    for (i, raw) in parsed.applicants.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match Applicant::from_json(raw.get()) {
            Ok(a) => {
                let p = model.scorecard.predict(&a);
                let item_id = format!("{request_id}-{i}");
                let decision_id = uuid::Uuid::now_v7();
                write_result(&mut out, &model, &p);
                out.push_str(",\"request_id\":");
                out.push_str(&Value::from(item_id.as_str()).to_string());
                out.push_str(",\"decision_id\":\"");
                out.push_str(decision_id.hyphenated().encode_lower(&mut id_buf));
                out.push_str("\"}");
                decisions[usize::from(p.prediction.min(1))] += 1;
                let caller = Caller {
                    request_id: item_id,
                    trace_id: &trace_id,
                };
                records.push(record_of(
                    decision_id,
                    caller,
                    ts_us,
                    &model,
                    &a,
                    &p,
                    started.elapsed().as_micros() as u64,
                ));
            }
            Err(e) => {
                metrics.validation_errors.fetch_add(1, Ordering::Relaxed);
                let loc = [
                    Value::from("body"),
                    Value::from("applicants"),
                    Value::from(i),
                ];
                let item = json!({ "errors": detail_list(&loc, &e) });
                out.push_str(&item.to_string());
            }
        }
    }
    out.push_str("],\"model_version\":");
    out.push_str(&model.version_json);
    out.push_str(",\"request_id\":");
    out.push_str(&Value::from(request_id).to_string());
    out.push('}');
    let strict = state.config().durability == Durability::Strict;
    let n_records = records.len();
    let submitted = state.journal().submit_many(records, strict, arriving).await;
    not_logged(state, submitted, strict, request_id, n_records)?;
    for (d, n) in decisions.iter().enumerate() {
        metrics.decisions[d].fetch_add(*n, Ordering::Relaxed);
    }
    Ok(json_response(StatusCode::OK, out, Some(request_id)))
}

/// `GET /health`: the process is alive, and (with a shared `--journal-dir`) still owns its
/// journal: an instance whose journal another one adopted must be replaced, so it says 503.
async fn health(State(state): State<AppState>) -> Response {
    if state.journal().lease_lost() {
        state.metrics().count_request(Route::Health, 503);
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"status":"journal_lost","detail":"another instance adopted this instance's journal (its lease went stale); restart this instance"}"#,
            None,
        );
    }
    state.metrics().count_request(Route::Health, 200);
    json_response(StatusCode::OK, r#"{"status":"ok"}"#, None)
}

/// `GET /ready`: a model is loaded and the prediction log can be written, checked by a real
/// write to the journal (reused for a second). A full outbox does not make the service unready:
/// requests then get 503 with `Retry-After` one by one, and the body says why.
async fn ready(State(state): State<AppState>) -> Response {
    let model = state.model();
    let write = state.journal().check_writable().await;
    let draining = state.is_draining();
    let ok = write.is_ok() && !draining;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    state.metrics().count_request(Route::Ready, status.as_u16());
    let mut body = json!({
        "status": if ok { "ready" } else { "unavailable" },
        "model_version": model.version,
        "log": if write.is_ok() { "ok" } else { "failing" },
        "draining": draining,
    });
    if let Err(why) = write {
        body["log_error"] = Value::from(why);
    }
    if let Some(outbox) = state.journal().outbox() {
        body["outbox"] = serde_json::to_value(outbox).unwrap_or(Value::Null);
    }
    json_response(status, body.to_string(), None)
}

/// `GET /model`: the active model's identity, metrics and features.
async fn model_info(State(state): State<AppState>) -> Response {
    state.metrics().count_request(Route::Model, 200);
    json_response(StatusCode::OK, state.model().info_json.clone(), None)
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    let m = state.model();
    state.metrics().count_request(Route::Metrics, 200);
    let text = state.metrics().render(&m.version, &m.checksum);
    let mut r = Response::new(Body::from(text));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

async fn openapi_json(State(state): State<AppState>, doc: Bytes) -> Response {
    state.metrics().count_request(Route::OpenApi, 200);
    json_response(StatusCode::OK, doc, None)
}

async fn docs(State(state): State<AppState>) -> Response {
    state.metrics().count_request(Route::Docs, 200);
    web::docs_page()
}

/// `{"model": "<path or models:/ URI>"}`; `path` is the older spelling of `model`. Only an
/// object (serde would also take `["a", "b"]` for a struct), as `ReloadRequest` documents.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReloadIn {
    model: Option<String>,
    path: Option<String>,
}

impl ReloadIn {
    /// Parses a reload body: a JSON object of `model` / `path`, else a 400 message.
    fn parse(bytes: &[u8]) -> Result<ReloadIn, String> {
        let expected = |e: &dyn std::fmt::Display| format!("Expected {{\"model\": \"...\"}}: {e}");
        let v: Value = serde_json::from_slice(bytes).map_err(|e| expected(&e))?;
        if !v.is_object() {
            return Err(expected(&"the body is not a JSON object"));
        }
        serde_json::from_value(v).map_err(|e| expected(&e))
    }

    /// The reference asked for, if any (422 for both fields at once, as the document's
    /// `ReloadRequest` says, or a malformed one).
    fn reference(self) -> Result<Option<ModelRef>, String> {
        let given = match (self.model, self.path) {
            (Some(_), Some(_)) => {
                return Err("Give \"model\" or its older spelling \"path\", not both".into())
            }
            (Some(m), None) | (None, Some(m)) => m,
            (None, None) => return Ok(None),
        };
        given
            .parse::<ModelRef>()
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

/// A reload that did not happen: the reason, and the version still serving (`ReloadRefused`).
fn reload_refused(state: &AppState, status: StatusCode, kind: &str, msg: &str) -> Response {
    let current = state.model().version.clone();
    tracing::warn!(error = %msg, model_version = %current, "model reload refused; the old model keeps serving");
    let body = json!({
        "detail": [{"loc": ["body", "model"], "msg": msg, "type": kind}],
        "model_version": current,
    });
    json_response(status, body.to_string(), None)
}

/// Compares without an early exit, so the token cannot be guessed byte by byte from timings.
fn token_matches(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for (i, b) in expected.iter().enumerate() {
        diff |= usize::from(b ^ given.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// `POST /admin/reload`: swap the model (bearer token; not routed without `CREDIT_ADMIN_TOKEN`).
async fn admin_reload(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let response = admin_reload_inner(&state, &headers, body).await;
    let response = match response {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    state
        .metrics()
        .count_request(Route::Admin, response.status().as_u16());
    response
}

/// The token of an `Authorization: Bearer <token>` value. The scheme name is case-insensitive
/// (RFC 9110 §11.1), so `bearer` and `BEARER` are `Bearer`; any other scheme gives `None`.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn admin_reload_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Some(token) = state.config().admin_token.as_deref() else {
        return Err(ApiError::not_found());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .unwrap_or("");
    if !token_matches(given.as_bytes(), token.as_bytes()) {
        let mut r = ApiError::simple(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A valid bearer token is required",
            &["header", "authorization"],
        )
        .into_response();
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Ok(r);
    }
    let bytes = read_body(headers, body, 16 * 1024, state.config().client.body).await?;
    let reference = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        None
    } else {
        check_json_content_type(headers)?;
        let r = ReloadIn::parse(&bytes).map_err(ApiError::invalid_json)?;
        match r.reference() {
            Ok(m) => m,
            Err(msg) => {
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                return Ok(reload_refused(state, status, "invalid_reference", &msg));
            }
        }
    };
    match state.reload(reference).await {
        Ok(r) => {
            let model = r.source.describe();
            // A constant message: log queries match it; the model is a field.
            tracing::info!(model_version = %r.version, previous_version = %r.previous_version,
                model = %model, "model reloaded");
            let body = json!({
                "model_version": r.version,
                "previous_version": r.previous_version,
                "reference": r.source.reference(),
                "registry_version": r.source.registry_version(),
            });
            Ok(json_response(StatusCode::OK, body.to_string(), None))
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::CONFLICT);
            Ok(reload_refused(
                state,
                status,
                "model_refused",
                &e.to_string(),
            ))
        }
    }
}

/// Static files of the browser page for GET/HEAD, else 404.
async fn fallback(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method == Method::GET || method == Method::HEAD {
        if let Some(r) = web::static_file(&state.config().web_dir, uri.path(), &headers).await {
            state
                .metrics()
                .count_request(Route::Static, r.status().as_u16());
            return r;
        }
    }
    state.metrics().count_request(Route::NotFound, 404);
    ApiError::not_found().into_response()
}

async fn method_not_allowed(State(state): State<AppState>) -> Response {
    state.metrics().count_request(Route::NotFound, 405);
    ApiError::simple(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method Not Allowed",
        &[],
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for v in ["Bearer t0k", "bearer t0k", "BEARER t0k", "  Bearer   t0k  "] {
            assert_eq!(bearer_token(v), Some("t0k"), "{v:?}");
        }
        for v in ["Basic t0k", "Bearert0k", "t0k", "", "Bearer"] {
            assert_eq!(bearer_token(v), None, "{v:?}");
        }
    }

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(check_json_content_type(&h).is_ok());
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(check_json_content_type(&h).is_ok());
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        assert!(check_json_content_type(&h).is_ok());
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(check_json_content_type(&h).is_err());
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert!(check_json_content_type(&h).is_err());
        // Media types are case-insensitive; parameters and spaces around them do not matter.
        for ok in [
            "Application/JSON",
            " APPLICATION/json ;charset=UTF-8",
            "application/VND.API+JSON",
        ] {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ok));
            assert!(check_json_content_type(&h).is_ok(), "{ok}");
        }
        for bad in [
            "json",
            "application/jsonx",
            "text/json+xml",
            "application/",
            "+json",
        ] {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(bad));
            assert!(check_json_content_type(&h).is_err(), "{bad}");
        }
    }

    /// Only an object of `model` / `path` (serde alone takes an array for a struct), and never
    /// both names at once: what the document's `ReloadRequest` says.
    #[test]
    fn reload_bodies() {
        for bad in [
            "[null, null]",
            "[\"a\"]",
            "null",
            "1",
            "\"a\"",
            "{\"other\": 1}",
        ] {
            assert!(ReloadIn::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        let r = ReloadIn::parse(br#"{"model": "a", "path": "a"}"#).unwrap();
        assert!(r.reference().is_err());
        let r = ReloadIn::parse(br#"{"model": null, "path": "a.json"}"#).unwrap();
        assert!(matches!(r.reference(), Ok(Some(ModelRef::Path(_)))));
        let r = ReloadIn::parse(b"{}").unwrap();
        assert!(matches!(r.reference(), Ok(None)));
    }

    #[test]
    fn tokens() {
        assert!(token_matches(b"abc", b"abc"));
        assert!(!token_matches(b"abd", b"abc"));
        assert!(!token_matches(b"ab", b"abc"));
        assert!(!token_matches(b"abcd", b"abc"));
        assert!(!token_matches(b"", b"abc"));
    }
}
