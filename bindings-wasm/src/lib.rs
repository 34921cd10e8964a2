//! Browser front door of the credit-default scorecard (wasm-bindgen, ES module).
//!
//! The same API as the Node package (`credit-default`), so code and tests carry over: this crate
//! only converts JS values into `credit_core::RawValue`s and slices, core results into plain JS
//! objects, and every error into a JS `Error` with a stable `code` and an `errors` array. All
//! validation and scoring happen in `credit-core`, so the page scores exactly as the server does.
//!
//! Arguments are taken as `JsValue` and checked here, so that a value of the wrong type becomes an
//! `invalid_argument` error of the same shape as every other error rather than a glue-code
//! `TypeError`.
//!
//! The shipped model is not compiled into the module (its JSON would be about a quarter of the
//! `.wasm`): the package's entry module (`pkg-template/credit_default.js`) fetches
//! `default-model.json` during `init()` (or takes the text in `initSync`) and hands it over with
//! `__setDefaultModel`; `Model.default()` verifies and compiles it like any other artifact.

use credit_core::json::JsonWriter;
use credit_core::scorecard::ReasonDetail;
use credit_core::{
    Applicant, ErrorCode, FieldError, ModelArtifact, OwnedValue, RowMajor, Scorecard,
    ValidationErrors, FEATURES, N_FEATURES,
};
use js_sys::{Array, Float64Array, Object, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

const NOT_LOADED: &str =
    "The default model is not loaded: `init()` fetches default-model.json next to \
     the module; with `initSync` pass `{ module, defaultModelJson }`";

thread_local! {
    /// The shipped model's JSON text as the entry module delivered it, or why it could not.
    static DEFAULT_MODEL: RefCell<Option<Result<String, String>>> = const { RefCell::new(None) };
    /// The shipped model as the first `Model.default()` compiled it (verifying and compiling
    /// takes milliseconds); later calls share it.
    static DEFAULT_CARD: RefCell<Option<Rc<Scorecard>>> = const { RefCell::new(None) };
}

const INVALID_APPLICANT: &str = "invalid_applicant";
const INVALID_ARGUMENT: &str = "invalid_argument";
const INVALID_MODEL: &str = "invalid_model";

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/** The applicant's ten fields with their canonical names. Kaggle CSV spellings
 * (`NumberOfTime30-59DaysPastDueNotWorse`, `NumberOfTime60-89DaysPastDueNotWorse`) are accepted too. */
export interface Applicant {
  RevolvingUtilizationOfUnsecuredLines: number
  age: number
  NumberOfTime30_59DaysPastDueNotWorse: number
  DebtRatio: number
  /** May be missing (`null` or absent). */
  MonthlyIncome?: number | null
  NumberOfOpenCreditLinesAndLoans: number
  NumberOfTimes90DaysLate: number
  NumberRealEstateLoansOrLines: number
  NumberOfTime60_89DaysPastDueNotWorse: number
  /** May be missing (`null` or absent). */
  NumberOfDependents?: number | null
}
/** One problem with one field (`field` is empty for whole-input problems). */
export interface FieldError {
  field: string
  /** `missing`, `not_a_number`, `not_an_integer`, `out_of_range`, `not_finite`, `unknown_field`,
   * `duplicate_field`, `not_an_object`, `invalid_json`, or `invalid_argument` / `invalid_model`. */
  code: string
  message: string
  /** The offending value (`null` when absent; NaN and infinities as strings). */
  value: unknown
}
/** Top-level `code` of a `CreditError`. */
export type CreditErrorCode = 'invalid_applicant' | 'invalid_argument' | 'invalid_model'
/** What every function of this module throws: an `Error` with a stable `code` and every problem in `errors`. */
export interface CreditError extends Error {
  name: 'CreditError'
  code: CreditErrorCode
  errors: FieldError[]
}
/** A feature that cost the applicant points, largest loss first. */
export interface Reason {
  /** Reason code from the model artifact (e.g. `R01`). */
  code: string
  /** Canonical feature name. */
  feature: string
  text: string
  /** Points below the best this feature could have earned. */
  pointsLost: number
}
/** The answer for one applicant. */
export interface Prediction {
  /** Probability of serious delinquency within two years. */
  probability: number
  /** 1 when `probability >= threshold`, else 0 (the seed API's `prediction`). */
  prediction: 0 | 1
  /** Score in points (higher = lower risk). */
  score: number
  reasons: Reason[]
  modelVersion: string
}
/** An element of `predictMany` that failed validation. */
export interface InvalidApplicant {
  errors: FieldError[]
}
/** A row of `scoreBatch` that failed validation. */
export interface RowErrors {
  row: number
  errors: FieldError[]
}
/** What `scoreBatch` computed: probabilities and scores (NaN for invalid rows) and why rows failed. */
export interface BatchResult {
  probability: Float64Array
  score: Float64Array
  rows: number
  valid: number
  invalid: RowErrors[]
}
/** One feature's part in a decision. */
export interface Contribution {
  feature: string
  /** The value used (`null` when missing). */
  value: number | null
  /** Label of the bin the value fell in. */
  bin: string
  points: number
  maxPoints: number
  logit: number
}
/** One interaction pair's cell in a decision (models with interaction cells only). */
export interface CellContribution {
  /** The pair's two features (schema order). */
  features: string[]
  /** Labels of the coarse groups the applicant's two bins fall in. */
  groups: string[]
  /** The cell's points (added to the features' own). */
  points: number
  /** The most points any cell of the pair's grid gives. */
  maxPoints: number
  logit: number
}
/** Everything about one decision, for humans. */
export interface Explanation {
  modelVersion: string
  probability: number
  prediction: 0 | 1
  score: number
  threshold: number
  logOdds: number
  basePoints: number
  contributions: Contribution[]
  /** The interaction cell of each pair, pair order (empty for an additive model). */
  interactions: CellContribution[]
  reasons: Reason[]
}
/** Discrimination and calibration measures of one data set. */
export interface Metrics {
  rows: number
  positives: number
  auc: number
  gini: number
  ks: number
  brier: number
  logLoss: number
}
/** One equal-count bin of predicted probability against the observed default rate. */
export interface CalibrationBin {
  rows: number
  meanPredicted: number
  observedRate: number
  minPredicted: number
  maxPredicted: number
}
/** The training metrics recorded in the model artifact. */
export interface ModelMetrics {
  cv: Metrics
  cvAucMean: number
  cvAucStd: number
  folds: Metrics[]
  train: Metrics
  calibration: CalibrationBin[]
}
/** One of the ten input features, with its valid range (for forms and docs). */
export interface Feature {
  name: string
  alias: string | null
  kind: 'real' | 'count'
  optional: boolean
  min: number
  max: number
  specialCodes: number[]
  description: string
}
"#;

#[wasm_bindgen]
extern "C" {
    /// `Object.keys`, catching what a proxy's `ownKeys` trap may throw.
    #[wasm_bindgen(catch, js_namespace = Object, js_name = keys)]
    fn object_keys(o: &JsValue) -> Result<Array, JsValue>;
    /// `Array.isArray`, catching the `TypeError` a revoked proxy throws.
    #[wasm_bindgen(catch, js_namespace = Array, js_name = isArray)]
    fn try_is_array(v: &JsValue) -> Result<bool, JsValue>;
}

/// A plain JS object from key/value pairs. `Reflect::set` on a fresh object cannot fail.
fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

/// A JS value from JSON text that `JsonWriter` wrote. One `JSON.parse` makes the whole object
/// in JS: setting its properties one by one from wasm (a string per key, a call per property)
/// was most of a prediction's 31 µs in Node; with this it takes 13. The numbers come back
/// exactly: the writer prints the shortest text that reads back as the same `f64`.
fn json_js(w: JsonWriter) -> JsValue {
    // The writer writes valid JSON; should it not, the result is `null`, not a trap.
    js_sys::JSON::parse(&w.finish()).unwrap_or(JsValue::NULL)
}

/// `[{code, feature, text, pointsLost}, …]`.
fn reasons_json(w: &mut JsonWriter, reasons: &[ReasonDetail]) {
    w.open("[");
    for r in reasons {
        w.next(None);
        w.open("{");
        w.str("code", &r.code);
        w.str("feature", r.feature);
        w.str("text", &r.text);
        w.f64("pointsLost", r.points_lost);
        w.close("}");
    }
    w.close("]");
}

/// `"key":["a","b"]`.
fn strings_json(w: &mut JsonWriter, key: &str, items: &[impl AsRef<str>]) {
    w.next(Some(key));
    w.open("[");
    for s in items {
        w.next(None);
        w.string(s.as_ref());
    }
    w.close("]");
}

fn array<T>(items: impl IntoIterator<Item = T>, f: impl Fn(T) -> JsValue) -> JsValue {
    items.into_iter().map(f).collect::<Array>().into()
}

/// The JSON value of a field error as JS (`null`, a number or a string in practice). Arrays
/// and objects become JS arrays and objects: converted here rather than printed as JSON text,
/// which would link serde_json's serializer into the `.wasm` for values the core never puts
/// in a field error.
fn json_to_js(v: &serde_json::Value) -> JsValue {
    match v {
        serde_json::Value::Null => JsValue::NULL,
        serde_json::Value::Bool(b) => JsValue::from_bool(*b),
        serde_json::Value::Number(n) => JsValue::from_f64(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => JsValue::from_str(s),
        serde_json::Value::Array(items) => array(items, json_to_js),
        serde_json::Value::Object(map) => {
            let o = Object::new();
            for (k, v) in map {
                let _ = Reflect::set(&o, &JsValue::from_str(k), &json_to_js(v));
            }
            o.into()
        }
    }
}

fn field_error_js(e: &FieldError) -> JsValue {
    obj(&[
        ("field", e.field.as_str().into()),
        ("code", e.code.as_str().into()),
        ("message", e.message.as_str().into()),
        ("value", json_to_js(&e.value)),
    ])
}

fn field_errors_js(v: &ValidationErrors) -> JsValue {
    array(&v.errors, field_error_js)
}

/// The JS `Error` every failure is reported as: `message`, `name`, `code`, `errors`.
fn js_error(code: &str, message: &str, errors: JsValue) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("CreditError");
    let _ = Reflect::set(&err, &"code".into(), &code.into());
    let _ = Reflect::set(&err, &"errors".into(), &errors);
    err.into()
}

fn validation_error(v: &ValidationErrors) -> JsValue {
    js_error(INVALID_APPLICANT, &v.to_string(), field_errors_js(v))
}

fn single_error(code: &str, field: &str, message: &str) -> JsValue {
    let e = obj(&[
        ("field", field.into()),
        ("code", code.into()),
        ("message", message.into()),
        ("value", JsValue::NULL),
    ]);
    js_error(code, message, Array::of1(&e).into())
}

fn argument_error(field: &str, message: &str) -> JsValue {
    single_error(INVALID_ARGUMENT, field, message)
}

/// How a JS value that is not a scalar is named in messages (as the Node package names it).
fn kind_name(v: &JsValue) -> &'static str {
    if v.is_undefined() {
        "undefined"
    } else if v.is_null() {
        "null"
    } else if v.as_bool().is_some() {
        "a boolean"
    } else if v.as_f64().is_some() {
        "a number"
    } else if v.is_string() {
        "a string"
    } else if v.is_symbol() {
        "a symbol"
    } else if v.is_bigint() {
        "a bigint"
    } else if v.is_function() {
        "a function"
    } else if try_is_array(v).unwrap_or(false) {
        "an array"
    } else if v.is_object() {
        "an object"
    } else {
        "a value of another type"
    }
}

fn scalar(v: &JsValue) -> OwnedValue {
    if v.is_null() {
        OwnedValue::Null
    } else if let Some(b) = v.as_bool() {
        OwnedValue::Bool(b)
    } else if let Some(f) = v.as_f64() {
        OwnedValue::Float(f)
    } else if let Some(s) = v.as_string() {
        OwnedValue::Str(s)
    } else {
        OwnedValue::Other(kind_name(v).into())
    }
}

/// Reads a JS value as an applicant: its own enumerable string keys (as `Object.keys` lists
/// them), each value classified for the core. `Ok(Err(..))` is a validation failure; `Err` is a
/// JS exception thrown while reading (a throwing getter or proxy trap), passed on as it is.
fn read_applicant(value: &JsValue) -> Result<Result<Applicant, ValidationErrors>, JsValue> {
    if !value.is_object() || try_is_array(value)? {
        return Ok(Err(ValidationErrors {
            errors: vec![FieldError {
                field: String::new(),
                code: ErrorCode::NotAnObject,
                message: format!(
                    "Input should be an object with the applicant's fields, got {}",
                    kind_name(value)
                ),
                value: serde_json::Value::Null,
            }],
        }));
    }
    let keys = object_keys(value)?;
    let mut fields = Vec::with_capacity(keys.length() as usize);
    for key in keys.iter() {
        let v = Reflect::get(value, &key)?;
        fields.push((key.as_string().unwrap_or_default(), scalar(&v)));
    }
    Ok(Applicant::from_fields(
        fields.iter().map(|(k, s)| (k.as_str(), s.as_raw())),
    ))
}

fn features_js() -> JsValue {
    array(&FEATURES, |f| {
        obj(&[
            ("name", f.name.into()),
            ("alias", f.alias.map_or(JsValue::NULL, JsValue::from_str)),
            (
                "kind",
                match f.kind {
                    credit_core::Kind::Real => "real",
                    credit_core::Kind::Count => "count",
                }
                .into(),
            ),
            ("optional", f.optional.into()),
            ("min", f.min.into()),
            ("max", f.max.into()),
            (
                "specialCodes",
                array(f.special_codes, |c| JsValue::from_f64(*c)),
            ),
            ("description", f.description.into()),
        ])
    })
}

/// A compiled scorecard. Immutable; score as often as you like.
#[wasm_bindgen]
pub struct Model {
    /// Shared: `Model.default()` hands out the one compiled shipped model.
    card: Rc<Scorecard>,
}

impl Model {
    /// Verifies and compiles an artifact with the core's size-lean reader (same verdicts as
    /// `Scorecard::from_json`, without the serde-derive code that was a third of the `.wasm`).
    fn compile(text: &str) -> Result<Model, JsValue> {
        ModelArtifact::from_json_lite(text)
            .and_then(Scorecard::new)
            .map(|card| Model {
                card: Rc::new(card),
            })
            .map_err(|e| single_error(INVALID_MODEL, "", &e.to_string()))
    }

    fn prediction_js(&self, a: &Applicant) -> JsValue {
        let p = self.card.predict(a);
        let mut w = JsonWriter::with_capacity(512);
        w.open("{");
        w.f64("probability", p.probability);
        w.u64("prediction", p.prediction.into());
        w.f64("score", p.score);
        w.next(Some("reasons"));
        reasons_json(&mut w, &self.card.reason_details(&p));
        w.str("modelVersion", self.card.model_version());
        w.close("}");
        json_js(w)
    }

    /// Checks a row-major batch argument (`n_rows × 10` values); returns the array and the row
    /// count.
    fn batch_arg<'a>(
        data: &'a JsValue,
        n_rows: &JsValue,
    ) -> Result<(&'a Float64Array, usize), JsValue> {
        // `isView` first: it reads an internal slot, so a proxy cannot run code here.
        if !js_sys::ArrayBuffer::is_view(data) || !data.is_instance_of::<Float64Array>() {
            return Err(argument_error("data", "data should be a Float64Array"));
        }
        let arr: &Float64Array = data.unchecked_ref();
        let n = rows_arg(n_rows)?;
        let len = arr.length() as usize;
        // Checked here (not only in the core) so that an absurd nRows cannot overflow a product.
        if n.checked_mul(N_FEATURES) != Some(len) {
            return Err(argument_error(
                "data",
                &format!("data has {len} values, which is not {n} rows of {N_FEATURES}"),
            ));
        }
        Ok((arr, n))
    }
}

/// Most applicants one `predictMany` call takes, as in the Node package: each result is a JS
/// object with its reasons (about half a kilobyte of heap), and a JS array's length costs its
/// caller nothing (`new Array(2 ** 32 - 1)`); more go to `predictBatch`, or in parts.
const MAX_MANY: f64 = 1_000_000.0;

/// Rows `predictBatch` copies into wasm memory at a time: 320 KB of values, which stay in the
/// CPU's cache between the copy and the scoring (a whole 100,000-row batch would not).
const CHUNK_ROWS: usize = 4096;

/// Reads an `nRows` argument: a whole number in `0..=2^32-1`.
fn rows_arg(n_rows: &JsValue) -> Result<usize, JsValue> {
    let n = n_rows.as_f64().unwrap_or(f64::NAN);
    if n >= 0.0 && n.fract() == 0.0 && n <= u32::MAX as f64 {
        Ok(n as usize)
    } else {
        Err(argument_error(
            "nRows",
            "nRows should be a whole number >= 0",
        ))
    }
}

/// `len` NaNs, or an `invalid_argument` error when wasm memory cannot hold them (instead of
/// the abort a failed `vec!` would be).
fn nan_vec(len: usize) -> Result<Vec<f64>, JsValue> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| argument_error("nRows", "nRows rows do not fit in wasm memory"))?;
    v.resize(len, f64::NAN);
    Ok(v)
}

/// `nRows` rows of inputs and their probabilities, kept in wasm memory: the zero-copy way to
/// score large batches. `predictBatch` copies its `Float64Array` into wasm memory and the
/// probabilities out again, which adds about half to the scoring time; with a `Batch`
/// the rows are written straight into wasm memory and `predictInto` scores them in place, as
/// the native core scores borrowed slices.
#[wasm_bindgen]
pub struct Batch {
    data: Vec<f64>,
    probability: Vec<f64>,
}

#[wasm_bindgen]
impl Batch {
    /// Room for `nRows` applicants, every value NaN until written.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = nRows, unchecked_param_type = "number")] n_rows: JsValue,
    ) -> Result<Batch, JsValue> {
        let n = rows_arg(&n_rows)?;
        let len = n
            .checked_mul(N_FEATURES)
            .ok_or_else(|| argument_error("nRows", "nRows rows do not fit in wasm memory"))?;
        Ok(Batch {
            data: nan_vec(len)?,
            probability: nan_vec(n)?,
        })
    }

    /// How many rows the batch holds.
    #[wasm_bindgen(getter, js_name = nRows)]
    pub fn n_rows(&self) -> f64 {
        self.probability.len() as f64
    }

    /// The inputs (`nRows × 10`, row after row, model column order, NaN = missing) as a view
    /// of wasm memory: write the rows into it. A view is detached (length 0) when wasm memory
    /// grows, e.g. when a `Model` or another `Batch` is made: read this property again after
    /// such a call rather than keeping the array. Never use a view after `free()`.
    #[wasm_bindgen(getter)]
    pub fn data(&mut self) -> Float64Array {
        // SAFETY: the view covers exactly `self.data`'s initialised elements. JS cannot run
        // while Rust borrows them (no call in this crate calls back into JS while scoring),
        // and a grown memory detaches the view rather than leaving it dangling.
        unsafe { Float64Array::view_mut_raw(self.data.as_mut_ptr(), self.data.len()) }
    }

    /// The probabilities `predictInto` wrote (NaN for an invalid row, and before the first
    /// call), as a view of wasm memory; the same caveats as `data`. Copy it with `.slice()`
    /// to keep the values.
    #[wasm_bindgen(getter)]
    pub fn probability(&mut self) -> Float64Array {
        // SAFETY: as for `data`.
        unsafe { Float64Array::view_mut_raw(self.probability.as_mut_ptr(), self.probability.len()) }
    }
}

#[wasm_bindgen]
impl Model {
    /// Verifies (format, checksum, structure) and compiles a model artifact given as JSON text.
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(
        #[wasm_bindgen(unchecked_param_type = "string")] json: JsValue,
    ) -> Result<Model, JsValue> {
        match json.as_string() {
            Some(text) => Model::compile(&text),
            None => Err(argument_error("json", "json should be a string")),
        }
    }

    /// The model shipped with this package (`default-model.json`, loaded by `init()` or given
    /// to `initSync`), verified and compiled like `fromJson`. Throws `invalid_model` when it was
    /// not loaded.
    #[wasm_bindgen(js_name = default)]
    pub fn shipped() -> Result<Model, JsValue> {
        if let Some(card) = DEFAULT_CARD.with_borrow(Clone::clone) {
            return Ok(Model { card });
        }
        let model = DEFAULT_MODEL.with_borrow(|m| match m {
            Some(Ok(text)) => Model::compile(text),
            Some(Err(problem)) => Err(single_error(INVALID_MODEL, "", problem)),
            None => Err(single_error(INVALID_MODEL, "", NOT_LOADED)),
        })?;
        DEFAULT_CARD.set(Some(Rc::clone(&model.card)));
        Ok(model)
    }

    /// Validates and scores one applicant; throws a `CreditError` (`code: "invalid_applicant"`)
    /// listing every field error when the input is not a valid applicant.
    #[wasm_bindgen(unchecked_return_type = "Prediction")]
    pub fn predict(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Applicant")] applicant: JsValue,
    ) -> Result<JsValue, JsValue> {
        match read_applicant(&applicant)? {
            Ok(a) => Ok(self.prediction_js(&a)),
            Err(v) => Err(validation_error(&v)),
        }
    }

    /// Validates and scores one applicant given as JSON text, with the same checks as the REST
    /// service (duplicate keys included).
    #[wasm_bindgen(js_name = predictJson, unchecked_return_type = "Prediction")]
    pub fn predict_json(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] json: JsValue,
    ) -> Result<JsValue, JsValue> {
        let Some(text) = json.as_string() else {
            return Err(argument_error("json", "json should be a string"));
        };
        match Applicant::from_json(&text) {
            Ok(a) => Ok(self.prediction_js(&a)),
            Err(v) => Err(validation_error(&v)),
        }
    }

    /// Scores an array of applicants; an invalid one yields `{ errors }` in its place.
    #[wasm_bindgen(
        js_name = predictMany,
        unchecked_return_type = "Array<Prediction | InvalidApplicant>"
    )]
    pub fn predict_many(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Applicant[]")] applicants: JsValue,
    ) -> Result<JsValue, JsValue> {
        if !try_is_array(&applicants)? {
            return Err(argument_error(
                "applicants",
                "applicants should be an array",
            ));
        }
        let n = Reflect::get(&applicants, &"length".into())?
            .as_f64()
            .unwrap_or(0.0);
        // As in the Node package: results for more could not be held (see `MAX_MANY`).
        if n > MAX_MANY {
            return Err(argument_error(
                "applicants",
                "applicants has more than 1,000,000 elements; predictMany takes at most \
                 1,000,000 per call: pass them in parts, or as rows to predictBatch",
            ));
        }
        let n = n as u32;
        let out = Array::new_with_length(n);
        for i in 0..n {
            let item = Reflect::get(&applicants, &JsValue::from(i))?;
            let v = match read_applicant(&item)? {
                Ok(a) => self.prediction_js(&a),
                Err(e) => obj(&[("errors", field_errors_js(&e))]),
            };
            out.set(i, v);
        }
        Ok(out.into())
    }

    /// Probabilities of `nRows` applicants laid out row after row in a `Float64Array`
    /// (`nRows × 10`, model column order, NaN = missing) in one call. Invalid rows give NaN;
    /// use `scoreBatch` to learn why. The convenience form: it copies the rows into wasm memory
    /// and the probabilities out (about half again the scoring time); `Batch` + `predictInto`
    /// is the way to score batches.
    #[wasm_bindgen(js_name = predictBatch)]
    pub fn predict_batch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float64Array")] data: JsValue,
        #[wasm_bindgen(js_name = nRows, unchecked_param_type = "number")] n_rows: JsValue,
    ) -> Result<Float64Array, JsValue> {
        let (arr, n) = Model::batch_arg(&data, &n_rows)?;
        let out = Float64Array::new_with_length(n as u32);
        let mut rows = nan_vec(CHUNK_ROWS.min(n) * N_FEATURES)?;
        let mut probability = nan_vec(CHUNK_ROWS.min(n))?;
        // `n <= u32::MAX` and `n * 10` fit in `u32` (checked by `batch_arg`).
        for start in (0..n).step_by(CHUNK_ROWS) {
            let end = n.min(start + CHUNK_ROWS);
            let (rows, probability) = (
                &mut rows[..(end - start) * N_FEATURES],
                &mut probability[..end - start],
            );
            arr.subarray((start * N_FEATURES) as u32, (end * N_FEATURES) as u32)
                .copy_to(rows);
            self.card
                .predict_proba_rows(rows, probability)
                .map_err(|e| argument_error("data", &e.to_string()))?;
            out.subarray(start as u32, end as u32)
                .copy_from(probability);
        }
        Ok(out)
    }

    /// Scores every row of `batch` in place: the probabilities go to `batch.probability`
    /// (NaN for an invalid row; `scoreBatch` tells why). Returns how many rows were valid. No
    /// copy in or out: the fast way for large batches.
    #[wasm_bindgen(js_name = predictInto)]
    pub fn predict_into(&self, batch: &mut Batch) -> Result<u32, JsValue> {
        self.card
            .predict_proba_rows(&batch.data, &mut batch.probability)
            .map(|report| report.valid as u32)
            .map_err(|e| argument_error("batch", &e.to_string()))
    }

    /// Like `predictBatch`, also returning scores and the errors of every invalid row. The
    /// rows, probabilities and scores are held in wasm memory whole, each allocated fallibly: a
    /// batch that does not fit throws an `invalid_argument` error (an infallible copy aborted the
    /// module). The rows are scored `CHUNK_ROWS` at a time, so that the invalid rows' errors
    /// are never held in wasm memory for more than one chunk.
    #[wasm_bindgen(js_name = scoreBatch, unchecked_return_type = "BatchResult")]
    pub fn score_batch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float64Array")] data: JsValue,
        #[wasm_bindgen(js_name = nRows, unchecked_param_type = "number")] n_rows: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (arr, n) = Model::batch_arg(&data, &n_rows)?;
        let too_large = |_| {
            argument_error(
                "data",
                "data does not fit in wasm memory: score it in parts, or with predictBatch",
            )
        };
        // `n * 10` fits in `u32` (checked by `batch_arg`).
        let mut rows = nan_vec(n * N_FEATURES).map_err(too_large)?;
        let mut probability = nan_vec(n).map_err(too_large)?;
        let mut score = nan_vec(n).map_err(too_large)?;
        arr.copy_to(&mut rows);
        let invalid = Array::new();
        let mut valid = 0;
        for start in (0..n).step_by(CHUNK_ROWS) {
            let end = n.min(start + CHUNK_ROWS);
            let report = RowMajor::new(&rows[start * N_FEATURES..end * N_FEATURES], end - start)
                .and_then(|src| {
                    self.card.score_batch(
                        &src,
                        &mut probability[start..end],
                        Some(&mut score[start..end]),
                    )
                })
                .map_err(|e| argument_error("data", &e.to_string()))?;
            valid += report.valid;
            for r in &report.invalid {
                invalid.push(&obj(&[
                    ("row", ((start + r.row) as f64).into()),
                    ("errors", field_errors_js(&r.errors)),
                ]));
            }
        }
        Ok(obj(&[
            ("probability", Float64Array::from(&probability[..]).into()),
            ("score", Float64Array::from(&score[..]).into()),
            ("rows", (n as f64).into()),
            ("valid", (valid as f64).into()),
            ("invalid", invalid.into()),
        ]))
    }

    /// Points per feature, the bin each value fell in, the interaction cells (models with cells),
    /// and the reasons for one applicant.
    #[wasm_bindgen(unchecked_return_type = "Explanation")]
    pub fn explain(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Applicant")] applicant: JsValue,
    ) -> Result<JsValue, JsValue> {
        let a = match read_applicant(&applicant)? {
            Ok(a) => a,
            Err(v) => return Err(validation_error(&v)),
        };
        let e = self.card.explain(&a);
        let mut w = JsonWriter::with_capacity(2048);
        w.open("{");
        w.str("modelVersion", &e.model_version);
        w.f64("probability", e.probability);
        w.u64("prediction", e.prediction.into());
        w.f64("score", e.score);
        w.f64("threshold", e.threshold);
        w.f64("logOdds", e.log_odds);
        w.f64("basePoints", e.base_points);
        w.next(Some("contributions"));
        w.open("[");
        for c in &e.contributions {
            w.next(None);
            w.open("{");
            w.str("feature", c.feature);
            // `null` for a missing value (the writer writes NaN as `null`).
            w.f64("value", c.value.unwrap_or(f64::NAN));
            w.str("bin", &c.bin);
            w.f64("points", c.points);
            w.f64("maxPoints", c.max_points);
            w.f64("logit", c.logit);
            w.close("}");
        }
        w.close("]");
        w.next(Some("interactions"));
        w.open("[");
        for c in &e.interactions {
            w.next(None);
            w.open("{");
            strings_json(&mut w, "features", &c.features);
            strings_json(&mut w, "groups", &c.groups);
            w.f64("points", c.points);
            w.f64("maxPoints", c.max_points);
            w.f64("logit", c.logit);
            w.close("}");
        }
        w.close("]");
        w.next(Some("reasons"));
        reasons_json(&mut w, &e.reasons);
        w.close("}");
        Ok(json_js(w))
    }

    /// The model version (`model_version` of the artifact).
    #[wasm_bindgen(getter)]
    pub fn version(&self) -> String {
        self.card.model_version().to_owned()
    }

    /// The model id (`model_id` of the artifact).
    #[wasm_bindgen(getter, js_name = modelId)]
    pub fn model_id(&self) -> String {
        self.card.artifact().model_id.clone()
    }

    /// `sha256:<hex>` checksum of the artifact.
    #[wasm_bindgen(getter)]
    pub fn checksum(&self) -> Option<String> {
        self.card.artifact().checksum.clone()
    }

    /// Probability at or above which `prediction` is 1.
    #[wasm_bindgen(getter)]
    pub fn threshold(&self) -> f64 {
        self.card.threshold()
    }

    /// Training metrics recorded in the artifact (cross-validated AUC, KS, Brier, calibration).
    #[wasm_bindgen(getter, unchecked_return_type = "ModelMetrics")]
    pub fn metrics(&self) -> JsValue {
        let m = &self.card.artifact().metrics;
        let conv = |x: &credit_core::artifact::Metrics| {
            obj(&[
                ("rows", (x.rows as f64).into()),
                ("positives", (x.positives as f64).into()),
                ("auc", x.auc.into()),
                ("gini", x.gini.into()),
                ("ks", x.ks.into()),
                ("brier", x.brier.into()),
                ("logLoss", x.log_loss.into()),
            ])
        };
        obj(&[
            ("cv", conv(&m.cv)),
            ("cvAucMean", m.cv_auc_mean.into()),
            ("cvAucStd", m.cv_auc_std.into()),
            ("folds", array(&m.folds, conv)),
            ("train", conv(&m.train)),
            (
                "calibration",
                array(&m.calibration, |c| {
                    obj(&[
                        ("rows", (c.rows as f64).into()),
                        ("meanPredicted", c.mean_predicted.into()),
                        ("observedRate", c.observed_rate.into()),
                        ("minPredicted", c.min_predicted.into()),
                        ("maxPredicted", c.max_predicted.into()),
                    ])
                }),
            ),
        ])
    }

    /// The ten input features in model column order (the column order of `predictBatch`).
    #[wasm_bindgen(unchecked_return_type = "Feature[]")]
    pub fn features() -> JsValue {
        features_js()
    }
}

/// Called by the entry module: the shipped model's JSON text (a string), or why it could not be
/// loaded (`json` not a string, `problem` the message `Model.default()` will throw).
#[wasm_bindgen(js_name = __setDefaultModel, skip_typescript)]
pub fn set_default_model(json: JsValue, problem: JsValue) {
    let state = match json.as_string() {
        Some(text) => Ok(text),
        None => Err(problem.as_string().unwrap_or_else(|| NOT_LOADED.to_owned())),
    };
    DEFAULT_MODEL.set(Some(state));
    DEFAULT_CARD.set(None);
}

/// The allocator of the `.wasm`: talc, a maintained drop-in for std's dlmalloc on WebAssembly
/// that is about 4 KB smaller in the module (and faster). Single-threaded builds only, which is
/// what this package is.
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
