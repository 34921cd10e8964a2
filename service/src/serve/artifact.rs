//! `GET /model/artifact`: the artifact this instance serves, byte for byte, so that the browser
//! page (and any other client scoring locally) uses the same model as `POST /predict`. The ETag is
//! the artifact's own checksum, so it changes exactly when a reload swaps in a different model,
//! and `Cache-Control: no-cache` makes every cache revalidate (a cheap `304` when nothing changed).

use super::metrics::Route;
use super::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

/// `GET`/`HEAD /model/artifact` (axum answers HEAD with the GET handler's headers, no body).
pub async fn model_artifact(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let model = state.model();
    let etag = format!("\"{}\"", model.checksum);
    let response = if if_none_match(&headers, &etag) {
        not_modified(&etag)
    } else {
        let mut r = Response::new(Body::from(model.artifact.clone()));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        validators(&mut r, &etag);
        r
    };
    state
        .metrics()
        .count_request(Route::Artifact, response.status().as_u16());
    response
}

/// An empty `304 Not Modified` carrying the same validators as the `200` would.
pub fn not_modified(etag: &str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NOT_MODIFIED;
    validators(&mut r, etag);
    r
}

/// `ETag` (when it is a valid header value) and `Cache-Control: no-cache`: caches may keep the
/// response but must ask before each use, so a new model is seen on the next request.
pub fn validators(r: &mut Response, etag: &str) {
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

/// True when an `If-None-Match` header lists `etag` or is `*` (RFC 9110 §13.1.2: the weak
/// comparison, so `W/"x"` matches `"x"`; several headers count as one comma-separated list).
pub fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| {
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag.trim_start_matches("W/")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn if_none_match_lists_and_weak_tags() {
        let tag = "\"sha256:ab\"";
        assert!(!if_none_match(&HeaderMap::new(), tag));
        assert!(if_none_match(&with(&["\"sha256:ab\""]), tag));
        assert!(if_none_match(&with(&["W/\"sha256:ab\""]), tag));
        assert!(if_none_match(&with(&["\"x\", \"sha256:ab\""]), tag));
        assert!(if_none_match(&with(&["\"x\"", "\"sha256:ab\""]), tag));
        assert!(if_none_match(&with(&["*"]), tag));
        assert!(!if_none_match(&with(&["\"sha256:abc\""]), tag));
        assert!(!if_none_match(&with(&["sha256:ab"]), tag));
        assert!(!if_none_match(&with(&[""]), tag));
        // A weak validator of our own (static files) matches itself and its strong spelling.
        assert!(if_none_match(&with(&["W/\"1-2\""]), "W/\"1-2\""));
        assert!(if_none_match(&with(&["\"1-2\""]), "W/\"1-2\""));
    }

    #[test]
    fn not_modified_has_no_body_and_the_validators() {
        let r = not_modified("\"sha256:ab\"");
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(r.headers()[header::ETAG], "\"sha256:ab\"");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(r.headers().get(header::CONTENT_TYPE).is_none());
    }
}
