//! BigQuery's streaming insert (`tabledata.insertAll`) over its REST API, and the access token
//! it needs.
//!
//! One POST with a bearer token is all the sink uses of BigQuery, so this is the request and
//! answer types of that call (as the API reference defines them) on the service's `reqwest`,
//! and Google's Application Default Credentials through `yup-oauth2`. A full BigQuery client
//! crate brought a gRPC stack with it (tonic, prost, a zstd C build) that the sink never used.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use yup_oauth2::authenticator::ApplicationDefaultCredentialsTypes;
use yup_oauth2::authenticator::DefaultAuthenticator;

/// The scope a token needs for streaming inserts.
pub const BIGQUERY_SCOPE: &str = "https://www.googleapis.com/auth/bigquery";
/// Google's endpoint.
pub const GOOGLE_V2_BASE: &str = "https://bigquery.googleapis.com/bigquery/v2";

/// `tabledata.insertAll`'s request body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InsertAllRequest {
    /// Written out as `false`: one invalid row fails the request, so nothing is skipped silently.
    pub skip_invalid_rows: bool,
    /// Written out as `false`: a field the table lacks is an error, not dropped data.
    pub ignore_unknown_values: bool,
    pub rows: Vec<InsertRow>,
}

/// One row: BigQuery de-duplicates retried rows by `insertId` (best effort, about a minute).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InsertRow {
    pub insert_id: String,
    pub json: serde_json::Value,
}

/// `tabledata.insertAll`'s answer: the rows that were not inserted, by index.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InsertAllResponse {
    #[serde(default)]
    pub insert_errors: Vec<RowErrors>,
}

#[derive(Debug, Deserialize)]
pub struct RowErrors {
    pub index: Option<i64>,
    #[serde(default)]
    pub errors: Vec<ErrorProto>,
}

/// BigQuery's `ErrorProto` (the fields the sink reads).
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorProto {
    pub reason: Option<String>,
    pub message: Option<String>,
}

/// Google's error answer: `{"error": {"code": 403, "status": "PERMISSION_DENIED", "message": ...}}`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: i64,
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: String,
}

/// Why an insertAll call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The API answered with an HTTP error (its code; Google's status and message when the body
    /// is Google's error JSON, else the start of the body).
    #[error("HTTP {code} {detail}")]
    Status { code: i64, detail: String },
    /// No answer, an answer that is not insertAll's, or no access token.
    #[error("{0}")]
    Transport(String),
}

/// Where tokens come from.
pub enum Credentials {
    /// An emulator, which does not check them.
    Emulator,
    /// Application Default Credentials: the credentials file when there is one (see
    /// [`adc_file`]: a service-account key or an authorized user), else the metadata server
    /// (Cloud Run, GCE) at `metadata_url` (Google's when `None`).
    Adc {
        file: Option<PathBuf>,
        metadata_url: Option<String>,
    },
}

enum Token {
    Emulator,
    Google(DefaultAuthenticator),
}

/// A client for `tabledata.insertAll` at one v2 base URL.
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Token,
}

impl Client {
    pub async fn new(base: String, credentials: Credentials) -> Result<Client, CallError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| CallError::Transport(format!("HTTP client: {e}")))?;
        let token = match credentials {
            Credentials::Emulator => Token::Emulator,
            Credentials::Adc { file, metadata_url } => {
                Token::Google(adc(file, metadata_url).await?)
            }
        };
        Ok(Client { http, base, token })
    }

    async fn bearer(&self) -> Result<String, CallError> {
        match &self.token {
            Token::Emulator => Ok("emulator-token".to_owned()),
            Token::Google(auth) => auth
                .token(&[BIGQUERY_SCOPE])
                .await
                .map_err(|e| CallError::Transport(format!("access token: {e}")))?
                .token()
                .map(str::to_owned)
                .ok_or_else(|| CallError::Transport("access token: none was issued".into())),
        }
    }

    /// POSTs `req` to `.../projects/P/datasets/D/tables/T/insertAll`.
    pub async fn insert_all(
        &self,
        project: &str,
        dataset: &str,
        table: &str,
        req: &InsertAllRequest,
    ) -> Result<InsertAllResponse, CallError> {
        let url = insert_all_url(&self.base, project, dataset, table)?;
        let body = serde_json::to_vec(req).map_err(|e| CallError::Transport(e.to_string()))?;
        let resp = self
            .http
            .post(url)
            .bearer_auth(self.bearer().await?)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| CallError::Transport(e.to_string()))?;
        let status = resp.status();
        let text = resp
            .bytes()
            .await
            .map_err(|e| CallError::Transport(format!("reading the answer: {e}")))?;
        if !status.is_success() {
            return Err(status_error(status.as_u16(), &text));
        }
        serde_json::from_slice(&text)
            .map_err(|e| CallError::Transport(format!("not an insertAll answer: {e}")))
    }
}

/// An HTTP error answer: Google's code, status and message when the body is its error JSON.
fn status_error(http: u16, body: &[u8]) -> CallError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => CallError::Status {
            code: b.error.code,
            detail: format!("{}: {}", b.error.status, b.error.message),
        },
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let start: String = text.chars().take(200).collect();
            CallError::Status {
                code: i64::from(http),
                detail: start.trim().to_owned(),
            }
        }
    }
}

/// `<base>/projects/P/datasets/D/tables/T/insertAll`, each id one percent-encoded path segment
/// (the `url` crate, which reqwest re-exports, does the encoding).
fn insert_all_url(
    base: &str,
    project: &str,
    dataset: &str,
    table: &str,
) -> Result<reqwest::Url, CallError> {
    let bad = || CallError::Transport(format!("not a base URL: {base}"));
    let mut url = reqwest::Url::parse(base).map_err(|_| bad())?;
    url.path_segments_mut()
        .map_err(|_| bad())?
        .pop_if_empty()
        .extend([
            "projects",
            project,
            "datasets",
            dataset,
            "tables",
            table,
            "insertAll",
        ]);
    Ok(url)
}

/// The credentials file of Application Default Credentials, in Google's order: the file
/// `GOOGLE_APPLICATION_CREDENTIALS` names when it is set, else the one gcloud writes
/// (`gcloud auth application-default login`) when it exists.
pub fn adc_file() -> Option<PathBuf> {
    if let Some(named) = std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS") {
        return Some(PathBuf::from(named));
    }
    let gcloud = PathBuf::from(std::env::var_os("HOME")?)
        .join(".config/gcloud/application_default_credentials.json");
    gcloud.is_file().then_some(gcloud)
}

/// An authenticator for `file` (an authorized user or a service-account key, told apart by
/// its `type`), or without a file for the metadata server; `yup-oauth2` does the token flows.
async fn adc(
    file: Option<PathBuf>,
    metadata_url: Option<String>,
) -> Result<DefaultAuthenticator, CallError> {
    let Some(path) = file else {
        let opts = yup_oauth2::ApplicationDefaultCredentialsFlowOpts { metadata_url };
        // yup-oauth2 picks the metadata flow only when GOOGLE_APPLICATION_CREDENTIALS is unset,
        // which is when `adc_file` finds no file of it.
        return match yup_oauth2::ApplicationDefaultCredentialsAuthenticator::builder(opts).await {
            ApplicationDefaultCredentialsTypes::InstanceMetadata(b) => b
                .build()
                .await
                .map_err(|e| CallError::Transport(format!("metadata server: {e}"))),
            ApplicationDefaultCredentialsTypes::ServiceAccount(_) => Err(CallError::Transport(
                "GOOGLE_APPLICATION_CREDENTIALS is set, but no credentials file was read".into(),
            )),
        };
    };
    let failed = |e: std::io::Error| CallError::Transport(format!("{}: {e}", path.display()));
    let text = tokio::fs::read(&path).await.map_err(failed)?;
    if let Some(secret) = authorized_user(&text) {
        return yup_oauth2::AuthorizedUserAuthenticator::builder(secret)
            .build()
            .await
            .map_err(failed);
    }
    let key = yup_oauth2::parse_service_account_key(&text).map_err(failed)?;
    yup_oauth2::ServiceAccountAuthenticator::builder(key)
        .build()
        .await
        .map_err(failed)
}

/// An authorized-user credentials file (`"type": "authorized_user"`), or `None`.
fn authorized_user(text: &[u8]) -> Option<yup_oauth2::authorized_user::AuthorizedUserSecret> {
    #[derive(Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        kind: String,
    }
    let kind: Kind = serde_json::from_slice(text).ok()?;
    if kind.kind != "authorized_user" {
        return None;
    }
    serde_json::from_slice(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_escaped_as_path_segments() {
        let url = |p: &str| insert_all_url("http://h:1/bigquery/v2", p, "d", "t").unwrap();
        assert_eq!(
            url("my-project.x_1").as_str(),
            "http://h:1/bigquery/v2/projects/my-project.x_1/datasets/d/tables/t/insertAll"
        );
        assert!(url("a/b c").as_str().contains("/projects/a%2Fb%20c/"));
    }

    #[test]
    fn error_answers_keep_google_s_code_or_the_http_status() {
        let google = br#"{"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "no"}}"#;
        match status_error(403, google) {
            CallError::Status { code, detail } => {
                assert_eq!(code, 403);
                assert_eq!(detail, "PERMISSION_DENIED: no");
            }
            e => panic!("{e}"),
        }
        match status_error(502, b"<html>bad gateway</html>") {
            CallError::Status { code, detail } => {
                assert_eq!(code, 502);
                assert_eq!(detail, "<html>bad gateway</html>");
            }
            e => panic!("{e}"),
        }
    }

    #[test]
    fn only_authorized_user_files_are_read_as_such() {
        let user = br#"{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}"#;
        assert!(authorized_user(user).is_some());
        assert!(authorized_user(br#"{"type": "service_account"}"#).is_none());
        assert!(authorized_user(b"not json").is_none());
    }
}

/// The whole path against a local stand-in for Google's two endpoints, on the real wire format:
/// the metadata server's token answer (as Cloud Run's) and insertAll's request and answer.
#[cfg(test)]
mod wire_tests {
    use super::*;
    use axum::extract::Query;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use std::collections::HashMap;

    async fn token(headers: HeaderMap, q: Query<HashMap<String, String>>) -> (StatusCode, String) {
        if headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) != Some("Google") {
            return (StatusCode::FORBIDDEN, "missing Metadata-Flavor".into());
        }
        assert_eq!(q.get("scopes").map(String::as_str), Some(BIGQUERY_SCOPE));
        let body = r#"{"access_token":"ya29.local","expires_in":3599,"token_type":"Bearer"}"#;
        (StatusCode::OK, body.into())
    }

    async fn insert_all(
        headers: HeaderMap,
        Json(body): Json<serde_json::Value>,
    ) -> (StatusCode, String) {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some("Bearer ya29.local") {
            let e = r#"{"error":{"code":401,"status":"UNAUTHENTICATED","message":"bad token"}}"#;
            return (StatusCode::UNAUTHORIZED, e.into());
        }
        let rows = body["rows"].as_array().cloned().unwrap_or_default();
        // Row 1 refused as invalid, as BigQuery reports one row of a batch.
        let errors: Vec<_> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r["json"]["bad"] == true)
            .map(|(i, _)| serde_json::json!({"index": i, "errors": [{"reason": "invalid", "message": "no such field: bad"}]}))
            .collect();
        let answer = serde_json::json!({"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": errors});
        (StatusCode::OK, answer.to_string())
    }

    async fn serve() -> String {
        let app = Router::new()
            .route("/computeMetadata/v1/instance/service-accounts/default/token", get(token))
            .route("/bigquery/v2/projects/p/datasets/d/tables/t/insertAll", post(insert_all))
            .route(
                "/bigquery/v2/projects/p/datasets/d/tables/gone/insertAll",
                post(|| async {
                    let e = r#"{"error":{"code":404,"status":"NOT_FOUND","message":"Not found: Table p:d.gone"}}"#;
                    (StatusCode::NOT_FOUND, e)
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    fn request(rows: &[serde_json::Value]) -> InsertAllRequest {
        InsertAllRequest {
            skip_invalid_rows: false,
            ignore_unknown_values: false,
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, j)| InsertRow {
                    insert_id: format!("id-{i}"),
                    json: j.clone(),
                })
                .collect(),
        }
    }

    /// A client of `base`'s insertAll whose token comes from the metadata server at
    /// `metadata_url` (no credentials file, as on Cloud Run).
    async fn metadata_client(base: &str, metadata_url: String) -> Client {
        let credentials = Credentials::Adc {
            file: None,
            metadata_url: Some(metadata_url),
        };
        Client::new(format!("{base}/bigquery/v2"), credentials)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_metadata_server_token_is_sent_as_bearer_and_answers_are_read() {
        let base = serve().await;
        let token_url =
            format!("{base}/computeMetadata/v1/instance/service-accounts/default/token");
        let client = metadata_client(&base, token_url).await;
        let req = request(&[
            serde_json::json!({"a": 1}),
            serde_json::json!({"bad": true}),
        ]);
        let resp = client.insert_all("p", "d", "t", &req).await.unwrap();
        assert_eq!(resp.insert_errors.len(), 1);
        assert_eq!(resp.insert_errors[0].index, Some(1));
        assert_eq!(
            resp.insert_errors[0].errors[0].reason.as_deref(),
            Some("invalid")
        );
        match client.insert_all("p", "d", "gone", &req).await {
            Err(CallError::Status { code: 404, detail }) => {
                assert!(detail.starts_with("NOT_FOUND"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn without_a_token_the_call_fails_as_transport_not_as_an_http_error() {
        let base = serve().await;
        // A metadata server that is not there: no token, so a transient error (retried).
        let client = metadata_client(&base, "http://127.0.0.1:9/token".to_owned()).await;
        match client
            .insert_all("p", "d", "t", &request(&[serde_json::json!({"a": 1})]))
            .await
        {
            Err(CallError::Transport(msg)) => assert!(msg.starts_with("access token"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }
}
