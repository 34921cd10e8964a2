//! The floor of `make bench-http`: an axum server that reads the POST body and answers a fixed
//! JSON document, on the same tokio multi-thread runtime (one worker per core) and the same axum
//! features (HTTP/1 only) as `credit serve`. No parsing, scoring, logging or journal: what this
//! server costs per request is what any axum service costs on the machine, so `credit serve`'s
//! figures are reported as ratios to it (the strict log's targets in issue #13 are ratios, since
//! absolute req/s and p99 depend on the machine and, for the strict log, on its disk).
//!
//! Usage: `bare_axum --port PORT [--host 127.0.0.1]`; `GET /health` answers 200 for readiness.

use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

/// `credit serve`'s answer to the seed's example applicant, byte for byte the same length, so
/// both servers put the same bytes on the wire (the request ids are fixed here).
const ANSWER: &str = concat!(
    r#"{"prediction":1,"probability":0.4352212024416235,"score":494.6416179623378,"reasons":["#,
    r#"{"code":"R01","feature":"RevolvingUtilizationOfUnsecuredLines","text":"Proportion of balances to credit limits on revolving accounts is too high","points_lost":63.77020413610385},"#,
    r#"{"code":"R03","feature":"NumberOfTime30_59DaysPastDueNotWorse","text":"Number of times 30-59 days past due in the last two years","points_lost":62.714298818006},"#,
    r#"{"code":"R08","feature":"NumberRealEstateLoansOrLines","text":"Number of real estate loans or lines","points_lost":29.66200332951051},"#,
    r#"{"code":"R02","feature":"age","text":"Age of the applicant (length of credit experience)","points_lost":20.729413158781966}],"#,
    r#""model_version":"1.1.0","request_id":"00000000-0000-0000-0000-000000000000","#,
    r#""decision_id":"00000000-0000-0000-0000-000000000000"}"#
);

/// Reads the whole body (axum's `Bytes` extractor, i.e. `axum::body::to_bytes`, which `credit
/// serve` reads its body with too) and returns the fixed answer. The body's length is kept
/// observable so that the read cannot be optimised away.
async fn predict(body: Bytes) -> impl IntoResponse {
    std::hint::black_box(body.len());
    ([(header::CONTENT_TYPE, "application/json")], ANSWER)
}

async fn health() -> &'static str {
    "ok"
}

fn usage() -> ! {
    eprintln!("usage: bare_axum --port PORT [--host HOST]");
    std::process::exit(2)
}

/// The allocator of `credit serve` (see its `main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::io::Result<()> {
    let mut host = String::from("127.0.0.1");
    let mut port: Option<u16> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse().ok()),
            "--host" => host = args.next().unwrap_or_else(|| usage()),
            _ => usage(),
        }
    }
    let Some(port) = port else { usage() };
    // The same runtime `credit serve` builds: multi-thread, one worker per core, all drivers.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let app = Router::new()
            .route("/predict", post(predict))
            .route("/health", get(health));
        let listener = tokio::net::TcpListener::bind((host.as_str(), port)).await?;
        eprintln!("bare_axum listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app).await
    })
}
