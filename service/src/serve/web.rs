//! The browser page (static files from the web directory) and the offline API docs page.

use super::artifact;
use super::metrics::Route;
use super::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use std::path::{Component, Path, PathBuf};

/// The docs page: plain HTML + JS that renders `/openapi.json` (no CDN, works offline).
const DOCS_HTML: &str = include_str!("docs.html");

/// Shown at `/` and `/gradio` when the web directory has no `index.html`.
const NO_WEB_HTML: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>credit serve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
code,pre{background:#f3f3f3;padding:.1rem .3rem;border-radius:4px}pre{padding:.8rem}</style></head>
<body><h1>credit serve is running</h1>
<p>The browser page is not built, so this placeholder is shown instead. Build it with
<code>make web</code> (it writes <code>web/dist/</code>), or point <code>--web-dir</code> /
<code>CREDIT_WEB_DIR</code> at a directory that has an <code>index.html</code>, then reload.</p>
<p>The API works without it:</p>
<pre>curl -s localhost:8080/predict -H 'content-type: application/json' -d '{
  "RevolvingUtilizationOfUnsecuredLines": 0.766127, "age": 45,
  "NumberOfTime30_59DaysPastDueNotWorse": 2, "DebtRatio": 0.802982, "MonthlyIncome": 9120,
  "NumberOfOpenCreditLinesAndLoans": 13, "NumberOfTimes90DaysLate": 0,
  "NumberRealEstateLoansOrLines": 6, "NumberOfTime60_89DaysPastDueNotWorse": 0,
  "NumberOfDependents": 2}'</pre>
<p><a href="/docs">API documentation</a> · <a href="/model">model</a> ·
<a href="/health">health</a> · <a href="/metrics">metrics</a></p></body></html>
"#;

fn html(body: impl Into<Body>, status: StatusCode) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

pub fn docs_page() -> Response {
    html(DOCS_HTML, StatusCode::OK)
}

/// `GET /` and `GET /gradio`: the page's `index.html`, or the how-to-build placeholder.
pub async fn index(State(state): State<AppState>) -> Response {
    state.metrics().count_request(Route::Static, 200);
    let path = state.config().web_dir.join("index.html");
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let mut r = html(bytes, StatusCode::OK);
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        Err(_) => html(NO_WEB_HTML, StatusCode::OK),
    }
}

/// MIME type by extension (`application/wasm` matters: browsers refuse streaming compilation
/// of wasm served as anything else).
pub fn mime_of(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("html") | Some("htm") => "text/html; charset=utf-8",
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") | Some("map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("ico") => "image/x-icon",
        Some("webp") => "image/webp",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("txt") => "text/plain; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Maps a URL path to a file under `root`, refusing anything that could leave it.
pub fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let rel = url_path.trim_start_matches('/');
    // `/gradio/x` is the page's own prefix: serve `x` from the same directory.
    let rel = rel.strip_prefix("gradio/").unwrap_or(rel);
    if rel.is_empty() || rel.contains('\\') || rel.contains('\0') {
        return None;
    }
    let mut out = root.to_path_buf();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(part) => {
                if part.to_str().is_some_and(|s| s.starts_with('.')) {
                    return None;
                }
                out.push(part)
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A static file, or `None` when there is no such file. The page's files have fixed names (no
/// content hash), and `default-model.json` is among them, so nothing is cached without asking:
/// `no-cache` with a weak ETag (size and modification time), answered `304` when unchanged. A
/// rebuilt page or model is thus seen on the next load, for the price of one round trip.
pub async fn static_file(root: &Path, url_path: &str, headers: &HeaderMap) -> Option<Response> {
    let path = resolve(root, url_path)?;
    let meta = tokio::fs::metadata(&path).await.ok()?;
    if !meta.is_file() {
        return None;
    }
    let etag = weak_etag(&meta);
    if artifact::if_none_match(headers, &etag) {
        return Some(artifact::not_modified(&etag));
    }
    let bytes = tokio::fs::read(&path).await.ok()?;
    let mut r = Response::new(Body::from(bytes));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(mime_of(&path)),
    );
    artifact::validators(&mut r, &etag);
    Some(r)
}

/// `W/"<size>-<mtime in ns, hex>"`: changes when the file is rewritten (a new build), without
/// hashing the file on every request.
fn weak_etag(meta: &std::fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("W/\"{:x}-{mtime:x}\"", meta.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_inside_root_only() {
        let root = Path::new("web/dist");
        assert_eq!(
            resolve(root, "/assets/app.js"),
            Some(PathBuf::from("web/dist/assets/app.js"))
        );
        assert_eq!(
            resolve(root, "/gradio/pkg/core_bg.wasm"),
            Some(PathBuf::from("web/dist/pkg/core_bg.wasm"))
        );
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/assets/../../x"), None);
        assert_eq!(resolve(root, "/.env"), None);
        assert_eq!(resolve(root, "/"), None);
        assert_eq!(mime_of(Path::new("a/b.wasm")), "application/wasm");
        assert_eq!(
            mime_of(Path::new("a/b.JS")),
            "text/javascript; charset=utf-8"
        );
    }
}
