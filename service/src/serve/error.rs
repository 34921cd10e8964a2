//! HTTP error answers. Validation failures use FastAPI's 422 shape so seed clients that parse
//! `detail` keep working; every other failure is `{"detail": [...]}` too, with a `type`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use credit_core::{ErrorCode, FieldError, ValidationErrors};
use serde_json::{json, Value};

/// One FastAPI-style error item: `loc` path, `msg`, `type`, `input`.
pub fn detail_item(loc_prefix: &[Value], e: &FieldError) -> Value {
    let mut loc: Vec<Value> = loc_prefix.to_vec();
    // The field as the caller spelled it, which for an unknown key may be `""` (as FastAPI
    // locates it); otherwise an empty field means an error about the whole body.
    if !e.field.is_empty() || e.code == ErrorCode::UnknownField {
        loc.push(Value::from(e.field.as_str()));
    }
    json!({
        "loc": loc,
        "msg": e.message,
        "type": e.code.as_str(),
        "input": e.value,
    })
}

/// The `detail` list of a set of validation errors.
pub fn detail_list(loc_prefix: &[Value], errs: &ValidationErrors) -> Vec<Value> {
    errs.errors
        .iter()
        .map(|e| detail_item(loc_prefix, e))
        .collect()
}

/// An error answer: status plus FastAPI-shaped body.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: Vec<Value>,
    pub request_id: Option<String>,
    /// Seconds for a `Retry-After` header (a 503 that passes by itself).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// A single-item error with a machine `type` and a human `msg`.
    pub fn simple(
        status: StatusCode,
        kind: &str,
        msg: impl Into<String>,
        loc: &[&str],
    ) -> ApiError {
        ApiError {
            status,
            detail: vec![json!({
                "loc": loc,
                "msg": msg.into(),
                "type": kind,
            })],
            request_id: None,
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, seconds: u32) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    pub fn with_request_id(mut self, id: &str) -> ApiError {
        self.request_id = Some(id.to_owned());
        self
    }

    pub fn not_found() -> ApiError {
        ApiError::simple(StatusCode::NOT_FOUND, "not_found", "Not Found", &[])
    }

    pub fn unsupported_media_type(got: &str) -> ApiError {
        ApiError::simple(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Type must be application/json, got {got:?}"),
            &["header", "content-type"],
        )
    }

    /// A `Content-Encoding` this service does not read (see `encoding`).
    pub fn unsupported_encoding(got: &str) -> ApiError {
        ApiError::simple(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            format!("Content-Encoding must be gzip, deflate or identity, got {got:?}"),
            &["header", "content-encoding"],
        )
    }

    /// A body that does not decode as its declared `Content-Encoding`.
    pub fn invalid_encoding(name: &str, e: &std::io::Error) -> ApiError {
        ApiError::simple(
            StatusCode::BAD_REQUEST,
            "invalid_encoding",
            format!("The body is declared {name} (Content-Encoding) but does not decode: {e}"),
            &["body"],
        )
    }

    /// The body did not arrive in full within the server's `--body-timeout`.
    pub fn body_timeout(time: std::time::Duration) -> ApiError {
        ApiError::simple(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "The request body did not arrive within {} s",
                time.as_secs_f64()
            ),
            &["body"],
        )
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::simple(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("Request body larger than {limit} bytes"),
            &["body"],
        )
    }

    pub fn invalid_json(msg: impl Into<String>) -> ApiError {
        ApiError::simple(StatusCode::BAD_REQUEST, "invalid_json", msg, &["body"])
    }

    pub fn log_unavailable(why: &str) -> ApiError {
        ApiError::simple(
            StatusCode::SERVICE_UNAVAILABLE,
            "log_unavailable",
            format!("The prediction could not be recorded, so it is not returned: {why}"),
            &[],
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "detail": self.detail }).to_string();
        let mut r = (self.status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if let Some(id) = self.request_id {
            if let Ok(v) = HeaderValue::from_str(&id) {
                r.headers_mut().insert(super::reqid::X_REQUEST_ID, v);
            }
        }
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body may still come: the connection cannot carry another request.
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        r
    }
}
