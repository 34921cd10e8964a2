//! A request through the real router of `credit serve` (`credit_service::serve::app`: the same
//! handlers, model and SQLite prediction log as the server, without a socket), driven with
//! `tower::ServiceExt::oneshot` on one current-thread runtime made once per process.
//!
//! Input layout: the first byte chooses the route (bit 0: `/predict` or `/predict/batch`), the
//! `Content-Type` (bits 1-3: absent, JSON, JSON with a charset, `+json`, upper case, text,
//! form, garbage), whether a `Content-Length` is declared (bit 4) and whether an
//! `X-Request-Id` is sent (bit 5: then the next byte is its length and its bytes follow);
//! the rest is the body, or, with bit 6, the bytes from which [`crate::generate_applicant`]
//! builds one (so that most requests are scored, not refused); with bit 7 that body is sent
//! gzip-compressed (`Content-Encoding: gzip`).
//!
//! Checks: never a panic, never a 5xx other than 503 (the log refusing a record); the body is
//! always JSON; an error carries a `detail` list of `loc`/`msg`/`type` items. For `/predict`
//! the status is exactly the one the core predicts for the body, less one leading byte order
//! mark, which the service ignores (415 for a non-JSON type, 400 for bytes that are not UTF-8
//! or not JSON, 413 past the size limit, sent or decoded, 422 for a refused applicant, 200 for
//! an accepted one) and a 200 carries the very probability and score the shipped model gives that
//! applicant, a probability in [0, 1].

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use credit_core::{Applicant, ErrorCode};
use credit_service::serve::{self, api, state::AppState};
use serde_json::Value;
use std::sync::OnceLock;
use tower::ServiceExt;

/// The service, built once: a runtime, the router and its state, and the prediction log kept
/// running (dropping the journal would not stop it, but keeping it says it is meant to run).
struct Service {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    state: AppState,
    _journal: serve::log::Journal,
}

/// `credit serve`'s flags, parsed by clap as the binary parses them, so that flags other
/// people add later keep their defaults here.
#[derive(clap::Parser)]
struct Flags {
    #[command(flatten)]
    serve: serve::ServeArgs,
}

fn service() -> &'static Service {
    static SERVICE: OnceLock<Service> = OnceLock::new();
    SERVICE.get_or_init(|| {
        use clap::Parser;
        let dir = scratch_dir();
        let log = format!("sqlite://{}", dir.join("predictions.db").display());
        // Relaxed: the answer does not wait for the commit (strict costs a commit per 200 and
        // adds nothing to what is checked here; the journal writer is the same).
        let flags =
            Flags::try_parse_from(["credit-serve", "--log", &log, "--durability", "relaxed"])
                .expect("the serve flags parse");
        let config =
            serve::config::ServeConfig::from_args(&flags.serve).expect("the serve config is valid");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let (router, state, journal) = {
            let _in_runtime = rt.enter();
            serve::app(config).expect("the service starts")
        };
        Service {
            rt,
            router,
            state,
            _journal: journal,
        }
    })
}

/// A directory for this process's prediction log, under the system's temporary directory.
/// Logs of earlier runs whose process is gone are removed first: every accepted input adds a
/// record, and a long run leaves hundreds of megabytes.
fn scratch_dir() -> std::path::PathBuf {
    let base = std::env::temp_dir().join("credit-fuzz-http");
    if let Ok(entries) = std::fs::read_dir(&base) {
        for e in entries.flatten() {
            let pid = e.file_name().to_string_lossy().parse::<u32>().ok();
            let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
            if pid.is_some() && !alive && cfg!(target_os = "linux") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = base.join(std::process::id().to_string());
    std::fs::create_dir_all(&dir).expect("a scratch directory for the prediction log");
    dir
}

const CONTENT_TYPES: [Option<&str>; 8] = [
    None,
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("application/problem+json"),
    Some("APPLICATION/JSON"),
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some("json"),
];

pub fn run(data: &[u8]) {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let batch = flags & 1 == 1;
    let content_type = CONTENT_TYPES[usize::from((flags >> 1) & 7)];
    let declare_length = flags & 0x10 != 0;
    let mut request_id = None;
    if flags & 0x20 != 0 {
        let Some((&n, tail)) = rest.split_first() else {
            return;
        };
        let n = usize::from(n).min(tail.len());
        request_id = Some(&tail[..n]);
        rest = &tail[n..];
    }
    let generated;
    let body = if flags & 0x40 != 0 {
        generated = crate::generate_applicant(rest).text;
        generated.as_bytes()
    } else {
        rest
    };

    let gzip = flags & 0x80 != 0;
    let sent = if gzip {
        use std::io::Write;
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        w.write_all(body).expect("gzip into memory");
        w.finish().expect("gzip into memory")
    } else {
        body.to_vec()
    };

    let svc = service();
    let mut req =
        Request::builder()
            .method("POST")
            .uri(if batch { "/predict/batch" } else { "/predict" });
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    if declare_length {
        req = req.header(header::CONTENT_LENGTH, sent.len());
    }
    if gzip {
        req = req.header(header::CONTENT_ENCODING, "gzip");
    }
    let id_header = request_id.and_then(|id| axum::http::HeaderValue::from_bytes(id).ok());
    if let Some(id) = &id_header {
        req = req.header("x-request-id", id.clone());
    }
    let req = req
        .body(Body::from(sent.clone()))
        .expect("a well-formed request");
    let (status, headers, bytes) = svc.rt.block_on(async {
        let resp = svc
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .expect("the response body reads");
        (parts.status, parts.headers, bytes)
    });

    assert!(
        !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
        "status {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(
        headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(&b"application/json"[..]),
        "status {status}: not a JSON content type"
    );
    let json: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "status {status}: the body is not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    if status == StatusCode::SERVICE_UNAVAILABLE {
        return;
    }
    if !status.is_success() {
        check_detail(status, &json);
    }
    let json_type = content_type.is_none_or(|ct| {
        let m = ct.to_ascii_lowercase();
        m.starts_with("application/json") || m == "application/problem+json"
    });
    if !json_type {
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{json}");
        return;
    }
    if batch {
        check_batch(status, &json);
        return;
    }
    // /predict: the status and the numbers the core gives for this body.
    let logical = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    let verdict = std::str::from_utf8(logical).ok().map(Applicant::from_json);
    let expected = match &verdict {
        None => StatusCode::BAD_REQUEST,
        Some(Err(e)) if e.errors.len() == 1 && e.errors[0].code == ErrorCode::InvalidJson => {
            StatusCode::BAD_REQUEST
        }
        Some(Err(_)) => StatusCode::UNPROCESSABLE_ENTITY,
        Some(Ok(_)) => StatusCode::OK,
    };
    let expected = if body.len().max(sent.len()) > api::PREDICT_BODY_LIMIT {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        expected
    };
    assert_eq!(status, expected, "{json}");
    if let Some(Err(e)) = &verdict {
        // A 422 lists the core's errors in order, each located at the field it is about
        // (`["body", field]`), whole-document ones at `["body"]`.
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            let detail = json["detail"].as_array().expect("a detail list");
            assert_eq!(detail.len(), e.errors.len(), "{json}");
            for (item, x) in detail.iter().zip(&e.errors) {
                assert_eq!(item["type"], x.code.as_str(), "{item}");
                let whole = matches!(x.code, ErrorCode::InvalidJson | ErrorCode::NotAnObject);
                let loc: Vec<Value> = if whole {
                    vec!["body".into()]
                } else {
                    vec!["body".into(), x.field.as_str().into()]
                };
                assert_eq!(item["loc"], Value::from(loc), "{item}");
            }
        }
    }
    if let Some(Ok(a)) = verdict {
        let p = svc.state.model().scorecard.predict(&a);
        check_result(&json, p.probability, p.score);
        let id = json["request_id"].as_str().expect("a request_id");
        assert_eq!(
            headers.get("x-request-id").map(|v| v.as_bytes()),
            Some(id.as_bytes())
        );
        if let Some(sent) = id_header.as_ref().and_then(|v| v.to_str().ok()) {
            let sent = sent.trim();
            let acceptable = !sent.is_empty()
                && sent.len() <= 128
                && sent
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b));
            if acceptable {
                assert_eq!(id, sent, "the caller's request id was not kept");
            }
        }
    }
}

/// An error body: `{"detail": [{"loc": [...], "msg": "...", "type": "..."}, ...]}`.
fn check_detail(status: StatusCode, json: &Value) {
    let detail = json["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("status {status} without a detail list: {json}"));
    assert!(!detail.is_empty(), "status {status}: empty detail list");
    for item in detail {
        assert!(item["loc"].is_array(), "detail item without loc: {item}");
        assert!(item["msg"].is_string(), "detail item without msg: {item}");
        assert!(item["type"].is_string(), "detail item without type: {item}");
    }
}

/// One prediction object; `probability` and `score` are what the model computed, if known.
fn check_result(json: &Value, probability: f64, score: f64) {
    let p = json["probability"].as_f64().expect("a probability");
    assert!((0.0..=1.0).contains(&p), "probability {p}");
    let s = json["score"].as_f64().expect("a score");
    if probability.is_finite() {
        assert_eq!(
            p.to_bits(),
            probability.to_bits(),
            "probability {p} vs {probability}"
        );
        assert_eq!(s.to_bits(), score.to_bits(), "score {s} vs {score}");
    }
    let d = json["prediction"].as_u64().expect("a prediction");
    assert!(d <= 1, "prediction {d}");
    let reasons = json["reasons"].as_array().expect("a reasons list");
    assert!(reasons.len() <= credit_core::MAX_REASONS);
    for r in reasons {
        assert!(r["code"].is_string() && r["feature"].is_string() && r["text"].is_string());
        assert!(r["points_lost"].as_f64().is_some_and(|x| x > 0.0));
    }
    assert!(json["model_version"].is_string());
}

/// `/predict/batch`: 200 with one result or error list per applicant, or an error answer.
fn check_batch(status: StatusCode, json: &Value) {
    if status != StatusCode::OK {
        assert!(
            [
                StatusCode::BAD_REQUEST,
                StatusCode::PAYLOAD_TOO_LARGE,
                StatusCode::UNPROCESSABLE_ENTITY
            ]
            .contains(&status),
            "batch status {status}: {json}"
        );
        return;
    }
    let results = json["results"].as_array().expect("a results list");
    for (i, r) in results.iter().enumerate() {
        if r.get("errors").is_some() {
            check_detail(StatusCode::OK, &serde_json::json!({"detail": r["errors"]}));
            for e in r["errors"].as_array().into_iter().flatten() {
                assert_eq!(e["loc"][1], "applicants", "batch error loc: {e}");
                assert_eq!(e["loc"][2], i, "batch error loc: {e}");
            }
        } else {
            check_result(r, f64::NAN, f64::NAN);
        }
    }
}
