//! The OpenAPI 3.1 document (utoipa), served at `/openapi.json` and rendered by `/docs`.
//! The applicant schema is built from `credit_core::FEATURES`, so names, types and ranges in
//! the documentation can never drift from what the validator enforces.

#![allow(dead_code)] // the path functions exist only to carry their documentation

use credit_core::{Kind, FEATURES};
use serde_json::json;
use std::borrow::Cow;
use std::sync::OnceLock;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

/// The seed's example request (also the docs' example).
pub fn seed_example() -> serde_json::Value {
    json!({
        "RevolvingUtilizationOfUnsecuredLines": 0.766127,
        "age": 45,
        "NumberOfTime30_59DaysPastDueNotWorse": 2,
        "DebtRatio": 0.802982,
        "MonthlyIncome": 9120,
        "NumberOfOpenCreditLinesAndLoans": 13,
        "NumberOfTimes90DaysLate": 0,
        "NumberRealEstateLoansOrLines": 6,
        "NumberOfTime60_89DaysPastDueNotWorse": 0,
        "NumberOfDependents": 2
    })
}

/// One applicant: the ten features of the seed API (Kaggle spellings with `-` are accepted too).
pub struct Applicant;

impl PartialSchema for Applicant {
    fn schema() -> RefOr<Schema> {
        let mut b = ObjectBuilder::new()
            .description(Some(
                "The applicant's ten credit-bureau features. Counts must be whole numbers; \
                 MonthlyIncome and NumberOfDependents may be null or absent (missing). \
                 The Kaggle spellings NumberOfTime30-59DaysPastDueNotWorse and \
                 NumberOfTime60-89DaysPastDueNotWorse are accepted as aliases.",
            ))
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
            .examples([seed_example()]);
        for f in FEATURES.iter() {
            let ty = match f.kind {
                Kind::Real => Type::Number,
                Kind::Count => Type::Integer,
            };
            let st = if f.optional {
                SchemaType::from_iter([ty, Type::Null])
            } else {
                SchemaType::new(ty)
            };
            let max = f.special_codes.iter().fold(f.max, |m, c| m.max(*c));
            let mut desc = format!("{} (valid: {})", f.description, f.range_text());
            if !f.special_codes.is_empty() {
                desc.push_str("; bureau codes 96 and 98 are accepted");
            }
            let prop = ObjectBuilder::new()
                .schema_type(st)
                .minimum(Some(f.min))
                .maximum(Some(max))
                .description(Some(desc));
            b = b.property(f.name, prop);
            if !f.optional {
                b = b.required(f.name);
            }
        }
        RefOr::T(Schema::Object(b.build()))
    }
}

impl ToSchema for Applicant {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Applicant")
    }
}

fn loc_schema() -> impl Into<RefOr<Schema>> {
    ArrayBuilder::new()
        .items(
            OneOfBuilder::new()
                .item(ObjectBuilder::new().schema_type(Type::String))
                .item(ObjectBuilder::new().schema_type(Type::Integer)),
        )
        .description(Some(
            "Where the problem is: [\"body\", field] or [\"body\", \"applicants\", index, field]",
        ))
}

fn any_schema() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .description(Some("The offending value (absent or null when missing)"))
}

fn free_object() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::Object)
}

/// One reason: a feature that cost the applicant points.
#[derive(ToSchema)]
pub struct Reason {
    /// Stable reason code (e.g. R01).
    code: String,
    /// Feature name.
    feature: String,
    /// Sentence for the applicant.
    text: String,
    /// Points below the best this feature could have earned.
    points_lost: f64,
}

/// The decision for one applicant.
#[derive(ToSchema)]
pub struct Prediction {
    /// 1 = predicted serious delinquency (probability >= the model's threshold), as the seed API.
    #[schema(minimum = 0, maximum = 1)]
    prediction: u8,
    /// Probability of serious delinquency within two years.
    #[schema(minimum = 0.0, maximum = 1.0)]
    probability: f64,
    /// Score in points (higher = lower risk).
    score: f64,
    /// Principal reasons, largest loss first (at most 4).
    reasons: Vec<Reason>,
    model_version: String,
    /// Request id (from X-Request-Id or traceparent, else generated); the key of the log record.
    request_id: String,
}

/// One error, in FastAPI's shape.
#[derive(ToSchema)]
pub struct ErrorItem {
    #[schema(schema_with = loc_schema)]
    loc: Vec<serde_json::Value>,
    msg: String,
    /// Machine code: missing, not_a_number, not_an_integer, out_of_range, not_finite,
    /// unknown_field, duplicate_field, not_an_object, invalid_json, ...
    #[schema(rename = "type")]
    kind: String,
    #[schema(schema_with = any_schema)]
    input: Option<serde_json::Value>,
}

/// Every problem found, at once (`422`), or the reason of another refusal.
#[derive(ToSchema)]
pub struct ErrorResponse {
    detail: Vec<ErrorItem>,
}

/// Request of `POST /predict/batch`.
#[derive(ToSchema)]
pub struct BatchRequest {
    /// The applicants (at most `--max-batch`, default 1000).
    applicants: Vec<Applicant>,
}

/// An applicant of a batch that failed validation.
#[derive(ToSchema)]
pub struct BatchItemErrors {
    errors: Vec<ErrorItem>,
}

/// One result of a batch: a prediction or the applicant's errors.
pub struct BatchItem;

impl PartialSchema for BatchItem {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::OneOf(
            OneOfBuilder::new()
                .item(utoipa::openapi::Ref::from_schema_name("Prediction"))
                .item(utoipa::openapi::Ref::from_schema_name("BatchItemErrors"))
                .description(Some("A prediction, or the errors of this applicant"))
                .build(),
        ))
    }
}

impl ToSchema for BatchItem {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("BatchItem")
    }
}

/// Answer of `POST /predict/batch`: results in request order.
#[derive(ToSchema)]
pub struct BatchResponse {
    results: Vec<BatchItem>,
    model_version: String,
    request_id: String,
}

#[derive(ToSchema)]
pub struct Health {
    status: String,
}

#[derive(ToSchema)]
pub struct Ready {
    /// `ready` or `unavailable`.
    status: String,
    model_version: String,
    /// `ok` or `failing`: whether the prediction log accepts writes.
    log: String,
    /// True once SIGTERM was received.
    draining: bool,
}

#[derive(ToSchema)]
pub struct FeatureInfo {
    name: String,
    alias: Option<String>,
    description: String,
    range: String,
    min: f64,
    max: f64,
    kind: String,
    optional: bool,
    special_codes: Vec<f64>,
}

/// The active model.
#[derive(ToSchema)]
pub struct ModelInfo {
    model_id: String,
    model_version: String,
    /// `sha256:<hex>` of the artifact.
    checksum: String,
    threshold: f64,
    created_by: String,
    #[schema(schema_with = free_object)]
    metrics: serde_json::Value,
    #[schema(schema_with = free_object)]
    training_data: serde_json::Value,
    features: Vec<FeatureInfo>,
}

/// Optional body of `POST /admin/reload`.
#[derive(ToSchema)]
pub struct ReloadRequest {
    /// Artifact to load instead of the configured model path.
    path: Option<String>,
}

#[derive(ToSchema)]
pub struct ReloadResponse {
    model_version: String,
    previous_version: String,
}

/// The artifact was refused; `model_version` is the one still serving.
#[derive(ToSchema)]
pub struct ReloadRefused {
    detail: Vec<ErrorItem>,
    model_version: String,
}

/// Score one applicant (the seed API: `prediction` is 0 or 1).
#[utoipa::path(post, path = "/predict", tag = "predict",
    request_body(content = Applicant, content_type = "application/json"),
    params(("X-Request-Id" = Option<String>, Header, description = "Caller's request id (kept as the log key)")),
    responses(
        (status = 200, description = "Decision (recorded in the prediction log before it is sent)", body = Prediction),
        (status = 400, description = "Malformed JSON", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 415, description = "Content-Type is not JSON", body = ErrorResponse),
        (status = 422, description = "Validation errors, all at once (FastAPI's shape)", body = ErrorResponse),
        (status = 503, description = "The prediction log cannot record, so no decision is given", body = ErrorResponse),
    ))]
fn predict() {}

/// Score many applicants; each gets a result or its own errors.
#[utoipa::path(post, path = "/predict/batch", tag = "predict",
    request_body(content = BatchRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "One item per applicant, in order", body = BatchResponse),
        (status = 400, description = "Malformed JSON", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 415, description = "Content-Type is not JSON", body = ErrorResponse),
        (status = 422, description = "Not {\"applicants\": [...]}, or more applicants than the maximum", body = ErrorResponse),
        (status = 503, description = "The prediction log cannot record", body = ErrorResponse),
    ))]
fn predict_batch() {}

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)))]
fn health() {}

/// Readiness: model loaded and prediction log writable.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, description = "Ready", body = Ready),
              (status = 503, description = "Not ready (log failing or draining)", body = Ready)))]
fn ready() {}

/// The active model: version, checksum, threshold, metrics, features.
#[utoipa::path(get, path = "/model", tag = "operations",
    responses((status = 200, description = "Active model", body = ModelInfo)))]
fn model() {}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
fn metrics() {}

/// Swap the model atomically (bearer token; 404 when no token is configured).
#[utoipa::path(post, path = "/admin/reload", tag = "admin",
    request_body(content = Option<ReloadRequest>, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "New model serving", body = ReloadResponse),
        (status = 400, description = "Malformed body", body = ErrorResponse),
        (status = 401, description = "Missing or wrong token", body = ErrorResponse),
        (status = 404, description = "Admin routes are off (no CREDIT_ADMIN_TOKEN)", body = ErrorResponse),
        (status = 409, description = "Artifact cannot be read; the old model keeps serving", body = ReloadRefused),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 415, description = "Content-Type is not JSON", body = ErrorResponse),
        (status = 422, description = "Artifact refused (corrupt, wrong checksum or format); the old model keeps serving", body = ReloadRefused),
    ))]
fn admin_reload() {}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "credit serve",
        description = "Credit-default scoring (Give Me Some Credit scorecard): probability of serious delinquency, a 0/1 decision, a score in points and reason codes. Every answered prediction is recorded in the prediction log.",
        license(name = "Apache-2.0")
    ),
    paths(predict, predict_batch, health, ready, model, metrics, admin_reload),
    components(schemas(Applicant, Prediction, Reason, ErrorItem, ErrorResponse, BatchRequest, BatchResponse, BatchItem, BatchItemErrors, Health, Ready, ModelInfo, FeatureInfo, ReloadRequest, ReloadResponse, ReloadRefused)),
    modifiers(&BearerAuth),
    tags((name = "predict", description = "Scoring"), (name = "operations", description = "Health, readiness, model, metrics"), (name = "admin", description = "Model hot reload"))
)]
pub struct ApiDoc;

/// The document as JSON text (built once).
pub fn document_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        doc.to_pretty_json().unwrap_or_else(|_| "{}".to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_has_routes_and_applicant_ranges() {
        let v: serde_json::Value = serde_json::from_str(document_json()).unwrap();
        assert!(v["openapi"].as_str().unwrap().starts_with("3."));
        for p in [
            "/predict",
            "/predict/batch",
            "/health",
            "/ready",
            "/model",
            "/metrics",
            "/admin/reload",
        ] {
            assert!(v["paths"][p].is_object(), "{p} missing");
        }
        let a = &v["components"]["schemas"]["Applicant"];
        assert_eq!(a["properties"]["age"]["minimum"], 18.0);
        assert_eq!(a["additionalProperties"], false);
        let req: Vec<&str> = a["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert_eq!(req.len(), 8);
        assert!(!req.contains(&"MonthlyIncome"));
    }
}
