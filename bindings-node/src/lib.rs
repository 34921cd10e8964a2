//! Node.js front door of the credit-default scorecard (napi-rs).
//!
//! This crate only converts: JS values into `credit_core::RawValue`s and slices, core results
//! into plain JS objects, and every error into a JS `Error` carrying a stable `code` and an
//! `errors` array. All validation and scoring happen in `credit-core`, so Node gives the same
//! answers, bit for bit, as the REST service and the other bindings.
//!
//! Every exported function takes its arguments as `Unknown` and checks them itself: a value of the
//! wrong type then becomes an `invalid_argument` error with the same shape as every other error,
//! instead of napi's generic `InvalidArg` exception.

use credit_core::{
    Applicant, ErrorCode, FieldError as CoreFieldError, OwnedValue, RowMajor, Scorecard, Scored,
    ValidationErrors, FEATURES, N_FEATURES,
};
use napi::bindgen_prelude::{
    Either, Float64Array, Float64ArraySlice, FromNapiValue, JsObjectValue, JsValue,
    KeyCollectionMode, KeyConversion, KeyFilter, Object, Unknown,
};
use napi::{Env, Error, Result, Status, ValueType};
use napi_derive::napi;
use std::sync::{Arc, OnceLock};

/// The shipped model, compiled into the addon so that `Model.default()` needs no file.
const DEFAULT_MODEL: &str = credit_core::shipped::MODEL_JSON;

/// Top-level `code` of an `Error` whose `errors` are the applicant's field errors.
const INVALID_APPLICANT: &str = "invalid_applicant";
/// Top-level `code` of an argument of the wrong type or shape.
const INVALID_ARGUMENT: &str = "invalid_argument";
/// Top-level `code` of a model artifact the core refused.
const INVALID_MODEL: &str = "invalid_model";
/// Top-level `code` of a model file that could not be read.
const IO_ERROR: &str = "io_error";

/// Most applicants one `predictMany` call takes. Every result becomes a JS object with its
/// reasons (about half a kilobyte of V8 heap), so a million is already a quarter of V8's default
/// heap; a JS array's length costs its caller nothing (`new Array(2 ** 32 - 1)`), and results
/// for more than this could not be held: the call throws instead of reserving them (which
/// aborted the process). Larger batches go to `predictBatch`, or in parts.
const MAX_MANY: u32 = 1_000_000;
// The message of `predictMany` spells the limit out.
const _: () = assert!(MAX_MANY == 1_000_000, "update predictMany's message");

/// One problem with one field (`field` is empty for whole-input problems).
#[napi(object)]
pub struct FieldError {
    pub field: String,
    /// A stable machine code: `missing`, `not_a_number`, `not_an_integer`, `out_of_range`,
    /// `not_finite`, `unknown_field`, `duplicate_field`, `not_an_object`, `invalid_json`, or
    /// `invalid_argument` / `invalid_model` / `io_error` for problems that are not an applicant's.
    pub code: String,
    pub message: String,
    /// The offending value (`null` when absent; NaN and infinities as strings).
    #[napi(ts_type = "unknown")]
    pub value: serde_json::Value,
}

/// A feature that cost the applicant points, largest loss first.
#[napi(object)]
pub struct Reason {
    /// Reason code from the model artifact (e.g. `R01`).
    pub code: String,
    /// Canonical feature name.
    pub feature: String,
    pub text: String,
    /// Points below the best this feature could have earned.
    pub points_lost: f64,
}

/// The answer for one applicant.
#[napi(object)]
pub struct Prediction {
    /// Probability of serious delinquency within two years.
    pub probability: f64,
    /// 1 when `probability >= threshold`, else 0 (the seed API's `prediction`).
    #[napi(ts_type = "0 | 1")]
    pub prediction: u32,
    /// Score in points (higher = lower risk).
    pub score: f64,
    pub reasons: Vec<Reason>,
    pub model_version: String,
}

/// An element of `predictMany` that failed validation.
#[napi(object)]
pub struct InvalidApplicant {
    pub errors: Vec<FieldError>,
}

/// A row of `scoreBatch` that failed validation.
#[napi(object)]
pub struct RowErrors {
    /// Row index in the batch.
    pub row: u32,
    pub errors: Vec<FieldError>,
}

/// What `scoreBatch` computed: probabilities and scores (NaN for invalid rows) and why rows failed.
#[napi(object)]
pub struct BatchResult {
    pub probability: Float64Array,
    pub score: Float64Array,
    pub rows: u32,
    pub valid: u32,
    pub invalid: Vec<RowErrors>,
}

/// One feature's part in a decision.
#[napi(object, use_nullable = true)]
pub struct Contribution {
    pub feature: String,
    /// The value used (`null` when missing).
    pub value: Option<f64>,
    /// Label of the bin the value fell in.
    pub bin: String,
    pub points: f64,
    pub max_points: f64,
    pub logit: f64,
}

/// One interaction pair's cell in a decision (models with interaction cells only).
#[napi(object)]
pub struct CellContribution {
    /// The pair's two features (schema order).
    pub features: Vec<String>,
    /// Labels of the coarse groups the applicant's two bins fall in.
    pub groups: Vec<String>,
    pub points: f64,
    /// The most points any cell of the pair's grid gives.
    pub max_points: f64,
    pub logit: f64,
}

/// Everything about one decision, for humans.
#[napi(object)]
pub struct Explanation {
    pub model_version: String,
    pub probability: f64,
    #[napi(ts_type = "0 | 1")]
    pub prediction: u32,
    pub score: f64,
    pub threshold: f64,
    pub log_odds: f64,
    pub base_points: f64,
    pub contributions: Vec<Contribution>,
    /// The interaction cell of each pair, pair order (empty for an additive model).
    pub interactions: Vec<CellContribution>,
    pub reasons: Vec<Reason>,
}

/// Discrimination and calibration measures of one data set.
#[napi(object)]
pub struct Metrics {
    pub rows: f64,
    pub positives: f64,
    pub auc: f64,
    pub gini: f64,
    pub ks: f64,
    pub brier: f64,
    pub log_loss: f64,
}

/// One equal-count bin of predicted probability against the observed default rate.
#[napi(object)]
pub struct CalibrationBin {
    pub rows: f64,
    pub mean_predicted: f64,
    pub observed_rate: f64,
    pub min_predicted: f64,
    pub max_predicted: f64,
}

/// The training metrics recorded in the model artifact.
#[napi(object)]
pub struct ModelMetrics {
    /// Out-of-fold (cross-validated) metrics.
    pub cv: Metrics,
    pub cv_auc_mean: f64,
    pub cv_auc_std: f64,
    pub folds: Vec<Metrics>,
    /// In-sample metrics of the final fit.
    pub train: Metrics,
    pub calibration: Vec<CalibrationBin>,
}

/// One of the ten input features, with its valid range (for forms and docs).
#[napi(object, use_nullable = true)]
pub struct Feature {
    /// Canonical name (the seed API's spelling).
    pub name: String,
    /// The Kaggle CSV spelling, also accepted (`null` when the same).
    pub alias: Option<String>,
    #[napi(ts_type = "'real' | 'count'")]
    pub kind: String,
    pub optional: bool,
    pub min: f64,
    pub max: f64,
    /// Bureau codes accepted above `max` (96 and 98 for past-due counts).
    pub special_codes: Vec<f64>,
    pub description: String,
}

/// The applicant's ten fields with their canonical names. Kaggle CSV spellings
/// (`NumberOfTime30-59DaysPastDueNotWorse`, `NumberOfTime60-89DaysPastDueNotWorse`) are accepted too.
/// Exists only to give `index.d.ts` its `Applicant` interface; input is read field by field.
#[napi(
    object,
    js_name = "Applicant",
    object_to_js = false,
    object_from_js = false
)]
pub struct ApplicantFields {
    #[napi(js_name = "RevolvingUtilizationOfUnsecuredLines")]
    pub revolving_utilization_of_unsecured_lines: f64,
    pub age: f64,
    #[napi(js_name = "NumberOfTime30_59DaysPastDueNotWorse")]
    pub number_of_time30_59_days_past_due_not_worse: f64,
    #[napi(js_name = "DebtRatio")]
    pub debt_ratio: f64,
    /// May be missing (`null` or absent).
    #[napi(js_name = "MonthlyIncome", ts_type = "number | null")]
    pub monthly_income: Option<f64>,
    #[napi(js_name = "NumberOfOpenCreditLinesAndLoans")]
    pub number_of_open_credit_lines_and_loans: f64,
    #[napi(js_name = "NumberOfTimes90DaysLate")]
    pub number_of_times90_days_late: f64,
    #[napi(js_name = "NumberRealEstateLoansOrLines")]
    pub number_real_estate_loans_or_lines: f64,
    #[napi(js_name = "NumberOfTime60_89DaysPastDueNotWorse")]
    pub number_of_time60_89_days_past_due_not_worse: f64,
    /// May be missing (`null` or absent).
    #[napi(js_name = "NumberOfDependents", ts_type = "number | null")]
    pub number_of_dependents: Option<f64>,
}

/// Builds the JS `Error` every failure is reported as: `message`, `code`, `errors`.
/// Returned as a napi `Error` that refers to the JS object, so napi throws that very object.
fn js_error(env: &Env, code: &str, message: &str, errors: Vec<FieldError>) -> Error {
    let build = || -> Result<Error> {
        let mut err = env.create_error(Error::new(Status::GenericFailure, message))?;
        err.set_named_property("code", code)?;
        err.set_named_property("errors", errors)?;
        err.set_named_property("name", "CreditError")?;
        Ok(Error::from(err.to_unknown()))
    };
    // If even building the error object fails (the env is tearing down), fall back to napi's own.
    build().unwrap_or_else(|e| e)
}

fn field_error(e: CoreFieldError) -> FieldError {
    FieldError {
        field: e.field,
        code: e.code.as_str().to_owned(),
        message: e.message,
        value: e.value,
    }
}

fn field_errors(v: ValidationErrors) -> Vec<FieldError> {
    v.errors.into_iter().map(field_error).collect()
}

fn validation_error(env: &Env, v: ValidationErrors) -> Error {
    let message = v.to_string();
    js_error(env, INVALID_APPLICANT, &message, field_errors(v))
}

fn argument_error(env: &Env, field: &str, message: String) -> Error {
    js_error(
        env,
        INVALID_ARGUMENT,
        &message,
        vec![FieldError {
            field: field.to_owned(),
            code: INVALID_ARGUMENT.to_owned(),
            message: message.clone(),
            value: serde_json::Value::Null,
        }],
    )
}

fn model_error(env: &Env, code: &str, message: String) -> Error {
    js_error(
        env,
        code,
        &message,
        vec![FieldError {
            field: String::new(),
            code: code.to_owned(),
            message: message.clone(),
            value: serde_json::Value::Null,
        }],
    )
}

/// How a JS value that is not an object is named in `not_an_object` messages.
fn kind_name(v: &Unknown) -> Result<&'static str> {
    Ok(match v.get_type()? {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "a boolean",
        ValueType::Number => "a number",
        ValueType::String => "a string",
        ValueType::Symbol => "a symbol",
        ValueType::Function => "a function",
        ValueType::BigInt => "a bigint",
        ValueType::Object if v.is_array()? => "an array",
        ValueType::Object => "an object",
        _ => "a value of another type",
    })
}

fn scalar(v: &Unknown) -> Result<OwnedValue> {
    Ok(match v.get_type()? {
        ValueType::Null => OwnedValue::Null,
        ValueType::Boolean => OwnedValue::Bool(v.coerce_to_bool()?),
        ValueType::Number => OwnedValue::Float(f64::from_unknown(*v)?),
        ValueType::String => OwnedValue::Str(String::from_unknown(*v)?),
        _ => OwnedValue::Other(kind_name(v)?.into()),
    })
}

/// Reads a JS value as an applicant: its own enumerable string keys, each value
/// classified for the core. `Ok(Err(..))` is a validation failure, `Err` a pending JS exception
/// (e.g. a throwing getter), which napi rethrows as it is.
fn read_applicant(value: &Unknown) -> Result<std::result::Result<Applicant, ValidationErrors>> {
    let is_object = value.get_type()? == ValueType::Object && !value.is_array()?;
    if !is_object {
        return Ok(Err(ValidationErrors {
            errors: vec![CoreFieldError {
                field: String::new(),
                code: ErrorCode::NotAnObject,
                message: format!(
                    "Input should be an object with the applicant's fields, got {}",
                    kind_name(value)?
                ),
                value: serde_json::Value::Null,
            }],
        }));
    }
    // SAFETY: checked above that the value is an object.
    let obj: Object = unsafe { value.cast()? };
    // Own enumerable string keys, as `Object.keys` lists them (the browser package reads the same).
    let names = obj.get_all_property_names(
        KeyCollectionMode::OwnOnly,
        KeyFilter::Enumerable,
        KeyConversion::NumbersToStrings,
    )?;
    let n = names.get_array_length()?;
    let mut fields = Vec::with_capacity(n as usize);
    for i in 0..n {
        let name: Unknown = names.get_element(i)?;
        if name.get_type()? != ValueType::String {
            continue; // a symbol key
        }
        let key = String::from_unknown(name)?;
        let v: Unknown = obj.get_named_property(&key)?;
        let s = scalar(&v)?;
        fields.push((key, s));
    }
    Ok(Applicant::from_fields(
        fields.iter().map(|(k, s)| (k.as_str(), s.as_raw())),
    ))
}

/// A compiled scorecard. Immutable; safe to share and to call from any number of requests.
#[napi]
pub struct Model {
    /// Shared: `Model.default()` hands out the one compiled shipped model.
    card: Arc<Scorecard>,
}

/// The shipped model as the first `Model.default()` compiled it (milliseconds; later calls
/// share it, in every thread and worker: it is immutable), or why it could not be.
static SHIPPED: OnceLock<std::result::Result<Arc<Scorecard>, String>> = OnceLock::new();

impl Model {
    fn compile(env: &Env, text: &str) -> Result<Model> {
        Scorecard::from_json(text)
            .map(|card| Model {
                card: Arc::new(card),
            })
            .map_err(|e| model_error(env, INVALID_MODEL, e.to_string()))
    }

    fn reasons(&self, p: &credit_core::Prediction) -> Vec<Reason> {
        self.card
            .reason_details(p)
            .into_iter()
            .map(|r| Reason {
                code: r.code,
                feature: r.feature.to_owned(),
                text: r.text,
                points_lost: r.points_lost,
            })
            .collect()
    }

    fn prediction(&self, a: &Applicant) -> Prediction {
        let p = self.card.predict(a);
        Prediction {
            probability: p.probability,
            prediction: u32::from(p.prediction),
            score: p.score,
            reasons: self.reasons(&p),
            model_version: self.card.model_version().to_owned(),
        }
    }

    /// Checks a row-major batch argument and returns it as a slice of `n_rows × 10` values.
    /// Scores a `Float64Array` batch (one thread: the caller's event loop owns this call).
    fn run_batch(
        &self,
        env: &Env,
        data: &Unknown,
        n_rows: &Unknown,
        want_score: bool,
    ) -> Result<Scored> {
        let slice = Model::batch_slice(env, data, n_rows)?;
        RowMajor::new(&slice, slice.len() / N_FEATURES)
            .and_then(|src| self.card.score_all(&src, 1, want_score))
            .map_err(|e| argument_error(env, "data", e.to_string()))
    }

    fn batch_slice<'a>(
        env: &Env,
        data: &'a Unknown,
        n_rows: &Unknown,
    ) -> Result<Float64ArraySlice<'a>> {
        let not_f64 = || argument_error(env, "data", "data should be a Float64Array".to_owned());
        if !data.is_typedarray()? {
            return Err(not_f64());
        }
        // SAFETY: `data` is a live JS value of this call; the conversion checks the array type.
        let slice = unsafe { Float64ArraySlice::from_napi_value(env.raw(), data.raw()) }
            .map_err(|_| not_f64())?;
        let n = if n_rows.get_type()? == ValueType::Number {
            f64::from_unknown(*n_rows)?
        } else {
            f64::NAN
        };
        let bad_n = || {
            argument_error(
                env,
                "nRows",
                "nRows should be a whole number >= 0".to_owned(),
            )
        };
        if !(n >= 0.0 && n.fract() == 0.0 && n <= u32::MAX as f64) {
            return Err(bad_n());
        }
        let n = n as usize;
        // Checked here (not only in the core) so that an absurd nRows cannot overflow a product.
        if n.checked_mul(N_FEATURES) != Some(slice.len()) {
            return Err(argument_error(
                env,
                "data",
                format!(
                    "data has {} values, which is not {n} rows of {N_FEATURES}",
                    slice.len()
                ),
            ));
        }
        Ok(slice)
    }
}

#[napi]
impl Model {
    /// Reads, verifies (format, checksum) and compiles a model artifact file.
    #[napi(factory, catch_unwind, ts_args_type = "path: string")]
    pub fn load(env: Env, path: Unknown) -> Result<Model> {
        if path.get_type()? != ValueType::String {
            return Err(argument_error(
                &env,
                "path",
                "path should be a string".to_owned(),
            ));
        }
        let path = String::from_unknown(path)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| model_error(&env, IO_ERROR, format!("cannot read {path}: {e}")))?;
        Model::compile(&env, &text)
    }

    /// Verifies and compiles a model artifact given as JSON text.
    #[napi(
        factory,
        js_name = "fromJson",
        catch_unwind,
        ts_args_type = "json: string"
    )]
    pub fn from_json(env: Env, json: Unknown) -> Result<Model> {
        if json.get_type()? != ValueType::String {
            return Err(argument_error(
                &env,
                "json",
                "json should be a string".to_owned(),
            ));
        }
        Model::compile(&env, &String::from_unknown(json)?)
    }

    /// The model shipped with this package (`models/default.json` at build time).
    #[napi(factory, js_name = "default", catch_unwind)]
    pub fn shipped(env: Env) -> Result<Model> {
        let shipped = SHIPPED.get_or_init(|| {
            Scorecard::from_json(DEFAULT_MODEL)
                .map(Arc::new)
                .map_err(|e| e.to_string())
        });
        match shipped {
            Ok(card) => Ok(Model {
                card: Arc::clone(card),
            }),
            Err(e) => Err(model_error(&env, INVALID_MODEL, e.clone())),
        }
    }

    /// Validates and scores one applicant; throws an `Error` with `code: "invalid_applicant"`
    /// and every field error in `errors` when the input is not a valid applicant.
    #[napi(catch_unwind, ts_args_type = "applicant: Applicant")]
    pub fn predict(&self, env: Env, applicant: Unknown) -> Result<Prediction> {
        match read_applicant(&applicant)? {
            Ok(a) => Ok(self.prediction(&a)),
            Err(v) => Err(validation_error(&env, v)),
        }
    }

    /// Validates and scores one applicant given as JSON text (e.g. a raw HTTP request body),
    /// with the same checks as the REST service, duplicate keys included.
    #[napi(js_name = "predictJson", catch_unwind, ts_args_type = "json: string")]
    pub fn predict_json(&self, env: Env, json: Unknown) -> Result<Prediction> {
        if json.get_type()? != ValueType::String {
            return Err(argument_error(
                &env,
                "json",
                "json should be a string".to_owned(),
            ));
        }
        match Applicant::from_json(&String::from_unknown(json)?) {
            Ok(a) => Ok(self.prediction(&a)),
            Err(v) => Err(validation_error(&env, v)),
        }
    }

    /// Scores an array of applicants; an invalid one yields `{ errors }` in its place.
    #[napi(
        js_name = "predictMany",
        catch_unwind,
        ts_args_type = "applicants: Applicant[]"
    )]
    pub fn predict_many(
        &self,
        env: Env,
        applicants: Unknown,
    ) -> Result<Vec<Either<Prediction, InvalidApplicant>>> {
        if !applicants.is_array()? {
            return Err(argument_error(
                &env,
                "applicants",
                "applicants should be an array".to_owned(),
            ));
        }
        // SAFETY: checked above that the value is an array (an object).
        let arr: Object = unsafe { applicants.cast()? };
        let n = arr.get_array_length()?;
        if n > MAX_MANY {
            return Err(argument_error(
                &env,
                "applicants",
                format!(
                    "applicants has {n} elements; predictMany takes at most 1,000,000 per \
                     call: pass them in parts, or as rows to predictBatch"
                ),
            ));
        }
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let item: Unknown = arr.get_element(i)?;
            out.push(match read_applicant(&item)? {
                Ok(a) => Either::A(self.prediction(&a)),
                Err(v) => Either::B(InvalidApplicant {
                    errors: field_errors(v),
                }),
            });
        }
        Ok(out)
    }

    /// Probabilities of `nRows` applicants laid out row after row in a `Float64Array`
    /// (`nRows × 10`, model column order, NaN = missing) in one call. Invalid rows give NaN;
    /// use `scoreBatch` to learn why.
    #[napi(
        js_name = "predictBatch",
        catch_unwind,
        ts_args_type = "data: Float64Array, nRows: number"
    )]
    pub fn predict_batch(&self, env: Env, data: Unknown, n_rows: Unknown) -> Result<Float64Array> {
        let scored = self.run_batch(&env, &data, &n_rows, false)?;
        Ok(Float64Array::new(scored.probability))
    }

    /// Like `predictBatch`, also returning scores and the errors of every invalid row.
    #[napi(
        js_name = "scoreBatch",
        catch_unwind,
        ts_args_type = "data: Float64Array, nRows: number"
    )]
    pub fn score_batch(&self, env: Env, data: Unknown, n_rows: Unknown) -> Result<BatchResult> {
        let Scored {
            probability,
            score,
            report,
        } = self.run_batch(&env, &data, &n_rows, true)?;
        Ok(BatchResult {
            probability: Float64Array::new(probability),
            score: Float64Array::new(score.unwrap_or_default()),
            rows: report.rows as u32,
            valid: report.valid as u32,
            invalid: report
                .invalid
                .into_iter()
                .map(|r| RowErrors {
                    row: r.row as u32,
                    errors: field_errors(r.errors),
                })
                .collect(),
        })
    }

    /// Points per feature, the bin each value fell in, and the reasons for one applicant.
    #[napi(catch_unwind, ts_args_type = "applicant: Applicant")]
    pub fn explain(&self, env: Env, applicant: Unknown) -> Result<Explanation> {
        let a = match read_applicant(&applicant)? {
            Ok(a) => a,
            Err(v) => return Err(validation_error(&env, v)),
        };
        let e = self.card.explain(&a);
        Ok(Explanation {
            model_version: e.model_version,
            probability: e.probability,
            prediction: u32::from(e.prediction),
            score: e.score,
            threshold: e.threshold,
            log_odds: e.log_odds,
            base_points: e.base_points,
            contributions: e
                .contributions
                .into_iter()
                .map(|c| Contribution {
                    feature: c.feature.to_owned(),
                    value: c.value,
                    bin: c.bin,
                    points: c.points,
                    max_points: c.max_points,
                    logit: c.logit,
                })
                .collect(),
            interactions: e
                .interactions
                .into_iter()
                .map(|c| CellContribution {
                    features: c.features.map(str::to_owned).to_vec(),
                    groups: c.groups.to_vec(),
                    points: c.points,
                    max_points: c.max_points,
                    logit: c.logit,
                })
                .collect(),
            reasons: e
                .reasons
                .into_iter()
                .map(|r| Reason {
                    code: r.code,
                    feature: r.feature.to_owned(),
                    text: r.text,
                    points_lost: r.points_lost,
                })
                .collect(),
        })
    }

    /// The model version (`model_version` of the artifact).
    #[napi(getter)]
    pub fn version(&self) -> String {
        self.card.model_version().to_owned()
    }

    /// The model id (`model_id` of the artifact).
    #[napi(getter, js_name = "modelId")]
    pub fn model_id(&self) -> String {
        self.card.artifact().model_id.clone()
    }

    /// `sha256:<hex>` checksum of the artifact.
    #[napi(getter, ts_return_type = "string | null")]
    pub fn checksum(&self) -> Option<String> {
        self.card.artifact().checksum.clone()
    }

    /// Probability at or above which `prediction` is 1.
    #[napi(getter)]
    pub fn threshold(&self) -> f64 {
        self.card.threshold()
    }

    /// Training metrics recorded in the artifact (cross-validated AUC, KS, Brier, calibration).
    #[napi(getter)]
    pub fn metrics(&self) -> ModelMetrics {
        let m = &self.card.artifact().metrics;
        let conv = |x: &credit_core::artifact::Metrics| Metrics {
            rows: x.rows as f64,
            positives: x.positives as f64,
            auc: x.auc,
            gini: x.gini,
            ks: x.ks,
            brier: x.brier,
            log_loss: x.log_loss,
        };
        ModelMetrics {
            cv: conv(&m.cv),
            cv_auc_mean: m.cv_auc_mean,
            cv_auc_std: m.cv_auc_std,
            folds: m.folds.iter().map(conv).collect(),
            train: conv(&m.train),
            calibration: m
                .calibration
                .iter()
                .map(|c| CalibrationBin {
                    rows: c.rows as f64,
                    mean_predicted: c.mean_predicted,
                    observed_rate: c.observed_rate,
                    min_predicted: c.min_predicted,
                    max_predicted: c.max_predicted,
                })
                .collect(),
        }
    }

    /// The ten input features in model column order (the column order of `predictBatch`).
    #[napi]
    pub fn features() -> Vec<Feature> {
        FEATURES
            .iter()
            .map(|f| Feature {
                name: f.name.to_owned(),
                alias: f.alias.map(str::to_owned),
                kind: match f.kind {
                    credit_core::Kind::Real => "real",
                    credit_core::Kind::Count => "count",
                }
                .to_owned(),
                optional: f.optional,
                min: f.min,
                max: f.max,
                special_codes: f.special_codes.to_vec(),
                description: f.description.to_owned(),
            })
            .collect()
    }
}
