//! `credit_default._native`: the Python face of `credit-core`.
//!
//! This crate only converts: Python mappings into [`RawValue`]s for [`Applicant::from_fields`],
//! numpy arrays and named DataFrame columns into borrowed slices for
//! [`Scorecard::score_batch`], and core errors into the package's `ValidationError` /
//! `ModelError`. Every decision (validation, binning, points, reasons, fitting) is the core's,
//! so Python answers are bit-identical to the CLI, the REST service and the other bindings.
//! The Python side (`python/credit_default/`) adds the exception classes, the DataFrame
//! adapters (column extraction per library) and the scikit-learn estimator.

use credit_core::train::{train, TrainConfig, TrainError, TrainingSet};
use credit_core::{
    feature_index, Applicant, BatchReport, Columns, ErrorCode, FieldError, ModelError, OwnedValue,
    RowMajor, Scorecard, Scored, ShapeError, ValidationErrors, FEATURES, N_FEATURES,
};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArray1,
    PyReadonlyArray2, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyDeprecationWarning, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::Value;
use std::sync::{Arc, OnceLock};

/// The shipped model, embedded at build time so `Model.default()` needs no file next to the wheel.
const DEFAULT_MODEL: &str = credit_core::shipped::MODEL_JSON;

/// Strings that `Model.load` treats as MLflow model URIs rather than file paths.
const MLFLOW_URI_PREFIXES: [&str; 2] = ["models:/", "runs:/"];

/// Errors shown in a raised `ValidationError`'s message (all of them stay in `.errors()`).
const MESSAGE_ERRORS: usize = 10;

// ---------------------------------------------------------------------------------------------
// Errors: core errors → the package's exception classes (defined in Python, `_errors.py`, so
// that they are ordinary subclassable Python exceptions with an `.errors()` method).

static ERRORS_MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    ERRORS_MODULE
        .get_or_try_init(py, || {
            py.import("credit_default._errors").map(Bound::unbind)
        })
        .map(|m| m.bind(py))
}

/// A JSON value (the offending input of an error, the metrics of a model) as Python objects.
fn json_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let items = a
                .iter()
                .map(|x| json_to_py(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(m) => {
            let d = PyDict::new(py);
            for (k, x) in m {
                d.set_item(k, json_to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// One core error in the shape Pydantic users know: `{"type", "loc", "msg", "input"}`.
/// `loc` is `(field,)` for one applicant and `(row, field)` inside a batch.
fn error_dict<'py>(
    py: Python<'py>,
    e: &FieldError,
    row: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("type", e.code.as_str())?;
    let loc = match row {
        Some(r) => PyTuple::new(py, [r.into_pyobject(py)?.into_any(), field_obj(py, e)])?,
        None => PyTuple::new(py, [field_obj(py, e)])?,
    };
    d.set_item("loc", loc)?;
    d.set_item("msg", &e.message)?;
    d.set_item("input", json_to_py(py, &e.value)?)?;
    Ok(d)
}

fn field_obj<'py>(py: Python<'py>, e: &FieldError) -> Bound<'py, PyAny> {
    PyString::new(py, &e.field).into_any()
}

/// A `ValidationError` (a `ValueError`) carrying every error; the message lists the first few.
fn validation_error<'py>(
    py: Python<'py>,
    title: &str,
    errors: &[(Option<usize>, &FieldError)],
) -> PyErr {
    match build_validation_error(py, title, errors) {
        Ok(e) => e,
        Err(e) => e,
    }
}

fn build_validation_error<'py>(
    py: Python<'py>,
    title: &str,
    errors: &[(Option<usize>, &FieldError)],
) -> PyResult<PyErr> {
    let list = PyList::empty(py);
    for (row, e) in errors {
        list.append(error_dict(py, e, *row)?)?;
    }
    let n = errors.len();
    let mut msg = format!("{n} validation error{} for {title}", plural(n));
    for (row, e) in errors.iter().take(MESSAGE_ERRORS) {
        let at = match (row, e.field.is_empty()) {
            (Some(r), true) => format!("row {r}"),
            (Some(r), false) => format!("row {r}, {}", e.field),
            (None, true) => String::new(),
            (None, false) => e.field.clone(),
        };
        msg.push_str(&format!("\n  {at}: {} [type={}]", e.message, e.code));
    }
    if n > MESSAGE_ERRORS {
        msg.push_str(&format!(
            "\n  ... and {} more (see .errors())",
            n - MESSAGE_ERRORS
        ));
    }
    let cls = errors_module(py)?.getattr("ValidationError")?;
    Ok(PyErr::from_value(cls.call1((msg, list))?))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn applicant_error(py: Python<'_>, e: &ValidationErrors) -> PyErr {
    let errs: Vec<_> = e.errors.iter().map(|x| (None, x)).collect();
    validation_error(py, "applicant", &errs)
}

fn model_error(py: Python<'_>, e: &dyn std::fmt::Display) -> PyErr {
    match errors_module(py).and_then(|m| m.getattr("ModelError")) {
        Ok(cls) => match cls.call1((e.to_string(),)) {
            Ok(v) => PyErr::from_value(v),
            Err(err) => err,
        },
        Err(err) => err,
    }
}

fn shape_error(e: &ShapeError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// `credit_default.InternalError` (an `Exception`) for a bug on the Rust side. Without this, a
/// panic reaches Python as pyo3's `PanicException`, a `BaseException` that `except Exception`
/// (a web handler, a notebook cell's retry) does not catch.
fn internal_error(py: Python<'_>, what: &str) -> PyErr {
    let message = format!(
        "internal error in credit_default (a bug; please report it with this message): {what}"
    );
    match errors_module(py).and_then(|m| m.getattr("InternalError")) {
        Ok(cls) => match cls.call1((message,)) {
            Ok(v) => PyErr::from_value(v),
            Err(err) => err,
        },
        Err(err) => err,
    }
}

/// Runs one entry point, turning a panic (a bug: the core returns errors for every bad input)
/// into `InternalError` instead of pyo3's `PanicException`.
fn guarded<T>(py: Python<'_>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic without a message".to_owned());
            Err(internal_error(py, &what))
        }
    }
}

fn train_error(py: Python<'_>, e: &TrainError) -> PyErr {
    match e {
        TrainError::Model(m) => model_error(py, m),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// Errors of a whole-column problem (absent or given twice), in the same shape as row errors.
fn column_error(field: &str, code: ErrorCode, message: String) -> FieldError {
    FieldError {
        field: field.to_owned(),
        code,
        message,
        value: Value::Null,
    }
}

// ---------------------------------------------------------------------------------------------
// One applicant: a Python mapping → (name, RawValue) pairs for the core.

/// Classifies a Python value the way JSON would see it. numpy scalars count as numbers
/// (`np.int64` through `__index__`, `np.float32` through `__float__`); `bool` (and `np.bool_`)
/// is a boolean, never a number. Exact `float` and `int` come first: they are the common case.
#[inline]
fn hold(v: &Bound<'_, PyAny>) -> PyResult<OwnedValue> {
    if v.is_exact_instance_of::<PyFloat>() {
        return Ok(OwnedValue::Float(v.extract::<f64>()?));
    }
    if v.is_exact_instance_of::<PyInt>() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(OwnedValue::Int(i));
        }
    }
    if v.is_none() {
        return Ok(OwnedValue::Null);
    }
    hold_slow(v)
}

fn hold_slow(v: &Bound<'_, PyAny>) -> PyResult<OwnedValue> {
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(OwnedValue::Bool(b.is_true()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(OwnedValue::Str(s.to_cow()?.into_owned()));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Ok(OwnedValue::Float(f.value()));
    }
    let type_name = v.get_type().name()?.to_cow()?.into_owned();
    if type_name == "bool_" || type_name == "bool" {
        return Ok(OwnedValue::Bool(v.is_truthy()?));
    }
    if v.cast::<PyInt>().is_ok() || v.hasattr("__index__")? {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(OwnedValue::Int(i));
        }
        if let Ok(u) = v.extract::<u64>() {
            return Ok(OwnedValue::UInt(u));
        }
        // A whole number beyond 64 bits: out of every range, reported as such by the core.
        if let Ok(f) = v.extract::<f64>() {
            return Ok(OwnedValue::Float(f));
        }
    }
    let is_text = type_name == "bytes" || type_name == "bytearray";
    if !is_text && v.hasattr("__float__")? {
        if let Ok(f) = v.extract::<f64>() {
            return Ok(OwnedValue::Float(f));
        }
    }
    Ok(OwnedValue::Other(match type_name.as_str() {
        "list" | "tuple" => "an array".into(),
        "dict" => "an object".into(),
        other => format!("a value of type {other}").into(),
    }))
}

/// Validates a Python mapping (dict, any `Mapping`, a pandas Series: anything with `.items()`).
/// Keys are borrowed as UTF-8 from the Python strings (no copy on the abi3-py310 API).
fn applicant_from_py(obj: &Bound<'_, PyAny>) -> PyResult<Result<Applicant, ValidationErrors>> {
    let items: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> = if let Ok(d) = obj.cast::<PyDict>() {
        d.iter().collect()
    } else if !obj.is_instance_of::<PyString>() && obj.hasattr("items")? {
        // Other mappings through the adapter, which leaves a DataFrame row's (a pandas Series')
        // non-feature labels out, as the batch path ignores those columns.
        frames_module(obj.py())?
            .call_method1("applicant_items", (obj,))?
            .try_iter()?
            .map(|kv| kv.and_then(|kv| kv.extract()))
            .collect::<PyResult<_>>()?
    } else {
        let kind = obj.get_type().name()?.to_cow()?.into_owned();
        return Ok(Err(ValidationErrors {
            errors: vec![FieldError {
                field: String::new(),
                code: ErrorCode::NotAnObject,
                message: format!("Input should be a mapping of the applicant's fields, got {kind}"),
                value: Value::Null,
            }],
        }));
    };
    let mut held: Vec<(std::borrow::Cow<'_, str>, OwnedValue)> = Vec::with_capacity(items.len());
    for (k, v) in &items {
        let key = match k.cast::<PyString>() {
            Ok(s) => std::borrow::Cow::Borrowed(s.to_str()?),
            Err(_) => std::borrow::Cow::Owned(k.repr()?.to_cow()?.into_owned()),
        };
        held.push((key, hold(v)?));
    }
    Ok(Applicant::from_fields(
        held.iter().map(|(k, h)| (k.as_ref(), h.as_raw())),
    ))
}

// ---------------------------------------------------------------------------------------------
// Batches: numpy arrays and named columns → borrowed slices.

/// Borrowed input of a batch: either an `n × 10` array or ten named columns.
enum Batch<'py> {
    /// C-contiguous `n × 10` float64 (zero-copy borrow).
    Rows(PyReadonlyArray2<'py, f64>),
    /// Fortran-contiguous `n × 10` float64: its columns are contiguous (zero-copy borrow).
    FortranRows(PyReadonlyArray2<'py, f64>),
    /// One contiguous float64 column per feature (`None`: an absent optional column).
    Cols(Vec<Option<PyReadonlyArray1<'py, f64>>>, usize),
}

/// Slices the scoring loop reads, with the GIL released.
enum Slices<'a> {
    Rows(&'a [f64], usize),
    Cols(Vec<&'a [f64]>),
}

impl<'py> Batch<'py> {
    fn n_rows(&self) -> usize {
        match self {
            Batch::Rows(a) | Batch::FortranRows(a) => a.shape()[0],
            Batch::Cols(_, n) => *n,
        }
    }

    fn slices<'a>(&'a self, nan_column: &'a [f64]) -> PyResult<Slices<'a>> {
        let not_contiguous = |_| PyValueError::new_err("array is not contiguous");
        Ok(match self {
            Batch::Rows(a) => Slices::Rows(a.as_slice().map_err(not_contiguous)?, a.shape()[0]),
            Batch::FortranRows(a) => {
                let n = a.shape()[0];
                let data = a.as_slice().map_err(not_contiguous)?;
                Slices::Cols((0..N_FEATURES).map(|j| &data[j * n..(j + 1) * n]).collect())
            }
            Batch::Cols(cols, _) => {
                let mut out = Vec::with_capacity(N_FEATURES);
                for c in cols {
                    out.push(match c {
                        Some(c) => c.as_slice().map_err(not_contiguous)?,
                        None => nan_column,
                    });
                }
                Slices::Cols(out)
            }
        })
    }
}

fn frames_module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("credit_default._frames")
}

/// Accepts any numpy array, converting explicitly (a copy) when it is not C- or Fortran-contiguous
/// float64; refuses non-numeric dtypes (strings, objects, booleans) with `TypeError`.
fn batch_from_array<'py>(arr: &Bound<'py, PyUntypedArray>) -> PyResult<Batch<'py>> {
    let py = arr.py();
    let shape = arr.shape().to_vec();
    if shape.len() != 2 {
        return Err(PyValueError::new_err(format!(
            "expected a 2-D array of shape (n, {N_FEATURES}), got {} dimension(s) {shape:?}; \
             use x.reshape(1, -1) for a single row",
            shape.len()
        )));
    }
    if shape[1] != N_FEATURES {
        return Err(shape_error(&ShapeError::Columns {
            expected: N_FEATURES,
            found: shape[1],
        }));
    }
    if let Ok(a) = arr.cast::<PyArray2<f64>>() {
        if a.is_c_contiguous() {
            return Ok(Batch::Rows(a.readonly()));
        }
        if a.is_fortran_contiguous() {
            return Ok(Batch::FortranRows(a.readonly()));
        }
    }
    let kind = arr.dtype().kind();
    if !matches!(kind, b'f' | b'i' | b'u') {
        return Err(PyTypeError::new_err(format!(
            "expected a numeric array (float or integer), got dtype {}",
            arr.dtype().str()?
        )));
    }
    let np = py.import("numpy")?;
    let converted = np.call_method1("ascontiguousarray", (arr, np.getattr("float64")?))?;
    let a = converted
        .cast_into::<PyArray2<f64>>()
        .map_err(PyErr::from)?;
    Ok(Batch::Rows(a.readonly()))
}

/// Matches named columns to features (canonical name or Kaggle alias; other columns ignored).
/// A required column that is absent, or a feature given under both spellings, is an error.
fn batch_from_named<'py>(
    py: Python<'py>,
    names: Vec<String>,
    arrays: Vec<Bound<'py, PyAny>>,
    n_rows: usize,
) -> PyResult<Batch<'py>> {
    let mut cols: Vec<Option<PyReadonlyArray1<'py, f64>>> = (0..N_FEATURES).map(|_| None).collect();
    let mut seen: Vec<Option<&str>> = vec![None; N_FEATURES];
    let mut errors = Vec::new();
    for (name, arr) in names.iter().zip(arrays) {
        let Some(j) = feature_index(name) else {
            continue;
        };
        if let Some(first) = seen[j] {
            errors.push(column_error(
                name,
                ErrorCode::DuplicateField,
                format!("Column given more than once (as {first:?} and {name:?})"),
            ));
            continue;
        }
        seen[j] = Some(name);
        let a = arr.cast_into::<PyArray1<f64>>().map_err(PyErr::from)?;
        cols[j] = Some(a.readonly());
    }
    for (j, spec) in FEATURES.iter().enumerate() {
        if seen[j].is_none() && !spec.optional {
            let alias = spec
                .alias
                .map(|a| format!(" (or {a:?})"))
                .unwrap_or_default();
            errors.push(column_error(
                spec.name,
                ErrorCode::Missing,
                format!("Column required: {:?}{alias}", spec.name),
            ));
        }
    }
    if !errors.is_empty() {
        let errs: Vec<_> = errors.iter().map(|e| (None, e)).collect();
        return Err(validation_error(py, "columns", &errs));
    }
    Ok(Batch::Cols(cols, n_rows))
}

/// Any supported batch input: numpy arrays directly; DataFrames (pandas, polars), pyarrow
/// Tables / RecordBatches and mappings of columns through the Python adapter, which hands back
/// contiguous float64 columns (zero-copy where the library allows it) and their names.
fn batch_from_py<'py>(x: &Bound<'py, PyAny>) -> PyResult<Batch<'py>> {
    let py = x.py();
    if let Ok(arr) = x.cast::<PyUntypedArray>() {
        return batch_from_array(arr);
    }
    let res = frames_module(py)?.call_method1("columns", (x,))?;
    if let Ok(arr) = res.cast::<PyUntypedArray>() {
        return batch_from_array(arr);
    }
    let (names, arrays, n_rows): (Vec<String>, Vec<Bound<'py, PyAny>>, usize) = res.extract()?;
    batch_from_named(py, names, arrays, n_rows)
}

fn thread_count(threads: Option<usize>) -> usize {
    match threads {
        Some(t) if t > 0 => t,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// Batches at least this long are scored with the GIL released.
const GIL_RELEASE_ROWS: usize = 256;

/// Scores the slices with the core's batch scorer, over `threads` scoped threads (the core
/// splits the rows and falls back to one thread for small batches).
fn score_slices(
    card: &Scorecard,
    slices: &Slices<'_>,
    threads: usize,
    want_score: bool,
) -> Result<Scored, ShapeError> {
    match slices {
        Slices::Rows(data, n) => card.score_all(&RowMajor::new(data, *n)?, threads, want_score),
        Slices::Cols(cols) => card.score_all(&Columns::new(cols)?, threads, want_score),
    }
}

// ---------------------------------------------------------------------------------------------
// Python classes.

/// One reason code: why points were lost.
#[pyclass(frozen, get_all, module = "credit_default")]
#[derive(Clone)]
struct Reason {
    code: String,
    feature: String,
    text: String,
    points_lost: f64,
}

#[pymethods]
impl Reason {
    fn __repr__(&self) -> String {
        format!(
            "Reason(code={:?}, feature={:?}, points_lost={})",
            self.code, self.feature, self.points_lost
        )
    }
}

/// The answer for one applicant. Holds the core's answer and the model; reason texts are
/// looked up when asked for, so a prediction costs no string allocation.
#[pyclass(frozen, module = "credit_default")]
struct Prediction {
    card: Arc<Scorecard>,
    p: credit_core::Prediction,
}

impl Prediction {
    fn reason_list(&self) -> Vec<Reason> {
        self.card
            .reason_details(&self.p)
            .into_iter()
            .map(|r| Reason {
                code: r.code,
                feature: r.feature.to_owned(),
                text: r.text,
                points_lost: r.points_lost,
            })
            .collect()
    }
}

#[pymethods]
impl Prediction {
    /// Probability of serious delinquency within two years.
    #[getter]
    fn probability(&self) -> f64 {
        self.p.probability
    }
    /// 1 when the probability reaches the model's threshold (the seed API's `prediction`).
    #[getter]
    fn prediction(&self) -> u8 {
        self.p.prediction
    }
    /// Score in points (higher = lower risk).
    #[getter]
    fn score(&self) -> f64 {
        self.p.score
    }
    #[getter]
    fn log_odds(&self) -> f64 {
        self.p.log_odds
    }
    /// Up to four reasons, most points lost first.
    #[getter]
    fn reasons(&self) -> Vec<Reason> {
        self.reason_list()
    }
    #[getter]
    fn model_version(&self) -> &str {
        self.card.model_version()
    }

    /// The REST answer's shape (without `request_id`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("prediction", self.p.prediction)?;
        d.set_item("probability", self.p.probability)?;
        d.set_item("score", self.p.score)?;
        let reasons = PyList::empty(py);
        for r in self.reason_list() {
            let rd = PyDict::new(py);
            rd.set_item("code", &r.code)?;
            rd.set_item("feature", &r.feature)?;
            rd.set_item("text", &r.text)?;
            rd.set_item("points_lost", r.points_lost)?;
            reasons.append(rd)?;
        }
        d.set_item("reasons", reasons)?;
        d.set_item("model_version", self.card.model_version())?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let codes: Vec<&str> = self
            .p
            .reasons
            .as_slice()
            .iter()
            .map(|r| self.card.reason_code(r.feature))
            .collect();
        format!(
            "Prediction(probability={}, prediction={}, score={}, reasons={codes:?})",
            self.p.probability, self.p.prediction, self.p.score
        )
    }
}

/// Points per feature and reasons for one applicant; renders as a table in notebooks.
#[pyclass(frozen, module = "credit_default")]
struct Explanation {
    inner: credit_core::Explanation,
}

#[pymethods]
impl Explanation {
    #[getter]
    fn probability(&self) -> f64 {
        self.inner.probability
    }
    #[getter]
    fn prediction(&self) -> u8 {
        self.inner.prediction
    }
    #[getter]
    fn score(&self) -> f64 {
        self.inner.score
    }
    #[getter]
    fn threshold(&self) -> f64 {
        self.inner.threshold
    }
    #[getter]
    fn base_points(&self) -> f64 {
        self.inner.base_points
    }
    #[getter]
    fn model_version(&self) -> &str {
        &self.inner.model_version
    }
    /// `[{"feature", "value", "bin", "points", "max_points", "logit"}]` in model order.
    #[getter]
    fn contributions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(
            py,
            &serde_json::to_value(&self.inner.contributions).map_err(json_err)?,
        )
    }
    /// `[{"features", "groups", "points", "max_points", "logit"}]`: the interaction cell of
    /// each pair of the model, pair order (empty for an additive model).
    #[getter]
    fn interactions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(
            py,
            &serde_json::to_value(&self.inner.interactions).map_err(json_err)?,
        )
    }
    /// `[{"code", "feature", "text", "points_lost"}]`, most points lost first.
    #[getter]
    fn reasons<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(
            py,
            &serde_json::to_value(&self.inner.reasons).map_err(json_err)?,
        )
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &serde_json::to_value(&self.inner).map_err(json_err)?)
    }

    fn __repr__(&self) -> String {
        let x = &self.inner;
        let mut s = format!(
            "Explanation(probability={:.6}, prediction={}, score={:.1}, threshold={:.4})\n",
            x.probability, x.prediction, x.score, x.threshold
        );
        for c in &x.contributions {
            s.push_str(&format!(
                "  {:<40} {:>12} {:<24} {:>8.1} / {:.1}\n",
                c.feature,
                c.value.map_or("missing".to_owned(), |v| format!("{v}")),
                c.bin,
                c.points,
                c.max_points
            ));
        }
        for c in &x.interactions {
            let pair = format!("{} × {}", c.features[0], c.features[1]);
            let cell = format!("{} × {}", c.groups[0], c.groups[1]);
            s.push_str(&format!(
                "  {pair:<40} {:>12} {cell:<24} {:>8.1} / {:.1}\n",
                "",
                c.points + 0.0, // prints a cell's negative zero as 0.0
                c.max_points + 0.0
            ));
        }
        for r in &x.reasons {
            s.push_str(&format!(
                "  {} {} (-{:.1} points)\n",
                r.code, r.text, r.points_lost
            ));
        }
        s
    }

    fn _repr_html_(&self) -> String {
        let x = &self.inner;
        let mut s = String::from("<div class=\"credit-default-explanation\">");
        s.push_str(&format!(
            "<p><b>probability</b> {:.4} &nbsp; <b>decision</b> {} &nbsp; <b>score</b> {:.1} \
             &nbsp; <small>(threshold {:.4}, base points {:.1}, model {})</small></p>",
            x.probability,
            x.prediction,
            x.score,
            x.threshold,
            x.base_points,
            html(&x.model_version)
        ));
        s.push_str(
            "<table><thead><tr><th>feature</th><th>value</th><th>bin</th><th>points</th>\
             <th>max</th></tr></thead><tbody>",
        );
        for c in &x.contributions {
            s.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:right\">{:.1}</td>\
                 <td style=\"text-align:right\">{:.1}</td></tr>",
                html(c.feature),
                c.value
                    .map_or("<i>missing</i>".to_owned(), |v| format!("{v}")),
                html(&c.bin),
                c.points,
                c.max_points
            ));
        }
        // A model with interaction cells: one row per pair, its two groups as the bin.
        for c in &x.interactions {
            s.push_str(&format!(
                "<tr><td>{} &times; {}</td><td></td><td>{} &times; {}</td>\
                 <td style=\"text-align:right\">{:.1}</td><td style=\"text-align:right\">{:.1}</td></tr>",
                html(c.features[0]),
                html(c.features[1]),
                html(&c.groups[0]),
                html(&c.groups[1]),
                c.points + 0.0,
                c.max_points + 0.0
            ));
        }
        s.push_str("</tbody></table>");
        if !x.reasons.is_empty() {
            s.push_str("<p><b>reasons</b></p><ol>");
            for r in &x.reasons {
                s.push_str(&format!(
                    "<li><code>{}</code> {} (&minus;{:.1} points)</li>",
                    html(&r.code),
                    html(&r.text),
                    r.points_lost
                ));
            }
            s.push_str("</ol>");
        }
        s.push_str("</div>");
        s
    }
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn json_err(e: serde_json::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Outcome of `Model.score_batch`: arrays plus the invalid rows, never an exception for bad rows.
#[pyclass(frozen, module = "credit_default")]
struct BatchResult {
    probability: Py<PyArray1<f64>>,
    score: Py<PyArray1<f64>>,
    rows: usize,
    valid: usize,
    invalid: Vec<credit_core::RowError>,
}

#[pymethods]
impl BatchResult {
    /// Probability per row (NaN for invalid rows).
    #[getter]
    fn probability(&self, py: Python<'_>) -> Py<PyArray1<f64>> {
        self.probability.clone_ref(py)
    }
    /// Score in points per row (NaN for invalid rows).
    #[getter]
    fn score(&self, py: Python<'_>) -> Py<PyArray1<f64>> {
        self.score.clone_ref(py)
    }
    #[getter]
    fn rows(&self) -> usize {
        self.rows
    }
    #[getter]
    fn valid(&self) -> usize {
        self.valid
    }
    /// Indices of the invalid rows, ascending.
    #[getter]
    fn invalid_rows(&self) -> Vec<usize> {
        self.invalid.iter().map(|r| r.row).collect()
    }
    /// Every error of every invalid row, `loc = (row, field)`.
    fn errors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for r in &self.invalid {
            for e in &r.errors.errors {
                list.append(error_dict(py, e, Some(r.row))?)?;
            }
        }
        Ok(list)
    }
    fn __repr__(&self) -> String {
        format!(
            "BatchResult(rows={}, valid={}, invalid={})",
            self.rows,
            self.valid,
            self.invalid.len()
        )
    }
}

/// The shipped model as the first `Model.default()` compiled it (milliseconds); later calls
/// share it (it is immutable).
static SHIPPED: OnceLock<Arc<Scorecard>> = OnceLock::new();

/// A validated scorecard, immutable and safe to share between threads.
#[pyclass(frozen, module = "credit_default")]
struct Model {
    card: Arc<Scorecard>,
}

impl Model {
    fn from_text(py: Python<'_>, text: &str) -> PyResult<Model> {
        guarded(py, || {
            Scorecard::from_json(text)
                .map(|card| Model {
                    card: Arc::new(card),
                })
                .map_err(|e: ModelError| model_error(py, &e))
        })
    }

    fn prediction(&self, py: Python<'_>, a: &Applicant) -> PyResult<Prediction> {
        guarded(py, || {
            Ok(Prediction {
                card: Arc::clone(&self.card),
                p: self.card.predict(a),
            })
        })
    }

    /// Validates the input layout and scores with the GIL released.
    fn run_batch(
        &self,
        x: &Bound<'_, PyAny>,
        threads: Option<usize>,
        want_score: bool,
    ) -> PyResult<Scored> {
        guarded(x.py(), || self.run_batch_unguarded(x, threads, want_score))
    }

    fn run_batch_unguarded(
        &self,
        x: &Bound<'_, PyAny>,
        threads: Option<usize>,
        want_score: bool,
    ) -> PyResult<Scored> {
        let py = x.py();
        let batch = batch_from_py(x)?;
        let nan_column = match &batch {
            Batch::Cols(cols, n) if cols.iter().any(Option::is_none) => vec![f64::NAN; *n],
            _ => Vec::new(),
        };
        let slices = batch.slices(&nan_column)?;
        let threads = thread_count(threads);
        let card = &*self.card;
        // Releasing the GIL costs more than scoring a handful of rows; keep it for small batches.
        let scored = if batch.n_rows() < GIL_RELEASE_ROWS {
            score_slices(card, &slices, threads, want_score)
        } else {
            py.detach(|| score_slices(card, &slices, threads, want_score))
        };
        scored.map_err(|e| shape_error(&e))
    }

    fn check_errors_arg(errors: &str) -> PyResult<bool> {
        match errors {
            "raise" => Ok(true),
            "nan" => Ok(false),
            other => Err(PyValueError::new_err(format!(
                "errors must be \"raise\" or \"nan\", got {other:?}"
            ))),
        }
    }

    fn raise_rows(py: Python<'_>, report: &BatchReport) -> PyResult<()> {
        if report.invalid.is_empty() {
            return Ok(());
        }
        let errs: Vec<_> = report
            .invalid
            .iter()
            .flat_map(|r| r.errors.errors.iter().map(move |e| (Some(r.row), e)))
            .collect();
        let title = format!(
            "{} of {} rows (pass errors=\"nan\" to get NaN for them instead)",
            report.invalid.len(),
            report.rows
        );
        Err(validation_error(py, &title, &errs))
    }
}

#[pymethods]
impl Model {
    /// Reads and verifies a model artifact (format, checksum, structure). An MLflow model URI
    /// (`models:/credit-default@champion`, `models:/credit-default/7`, `runs:/<id>/model`) is
    /// downloaded through the `mlflow` package (`mlflow_flavor.model_json_from_uri`), so that a
    /// registered version loads the same way in a notebook as in `mlflow.pyfunc`.
    #[staticmethod]
    fn load(py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<Model> {
        if let Ok(uri) = path.cast::<PyString>() {
            let uri = uri.to_cow()?;
            // The prefixes of `mlflow_flavor.MLFLOW_URI_PREFIXES` (a test checks they agree).
            if MLFLOW_URI_PREFIXES.iter().any(|p| uri.starts_with(p)) {
                let text: String = py
                    .import("credit_default.mlflow_flavor")?
                    .call_method1("model_json_from_uri", (uri.as_ref(),))?
                    .extract()?;
                return Model::from_text(py, &text);
            }
        }
        let path: std::path::PathBuf = path.extract()?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            PyOSError::new_err((e.raw_os_error().unwrap_or(0), e.to_string(), path.clone()))
        })?;
        Model::from_text(py, &text)
    }

    /// Parses and verifies a model artifact from its JSON text.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Model> {
        Model::from_text(py, text)
    }

    /// The model shipped with this package (`models/default.json` at build time).
    #[staticmethod]
    fn default(py: Python<'_>) -> PyResult<Model> {
        if let Some(card) = SHIPPED.get() {
            return Ok(Model {
                card: Arc::clone(card),
            });
        }
        let model = Model::from_text(py, DEFAULT_MODEL)?;
        Ok(Model {
            card: Arc::clone(SHIPPED.get_or_init(|| model.card)),
        })
    }

    /// The artifact as JSON text (the same bytes `credit train` writes).
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        self.card
            .artifact()
            .to_json()
            .map_err(|e| model_error(py, &e))
    }

    #[getter]
    fn version(&self) -> &str {
        self.card.model_version()
    }

    #[getter]
    fn model_id(&self) -> &str {
        &self.card.artifact().model_id
    }

    #[getter]
    fn checksum(&self) -> Option<&str> {
        self.card.artifact().checksum.as_deref()
    }

    #[getter]
    fn threshold(&self) -> f64 {
        self.card.threshold()
    }

    /// Cross-validated and training metrics recorded in the artifact.
    #[getter]
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(
            py,
            &serde_json::to_value(&self.card.artifact().metrics).map_err(json_err)?,
        )
    }

    /// The ten features in column order: name, Kaggle alias, description, range.
    #[getter]
    fn features<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for (spec, card) in FEATURES.iter().zip(&self.card.artifact().features) {
            let d = PyDict::new(py);
            d.set_item("name", spec.name)?;
            d.set_item("alias", spec.alias)?;
            d.set_item("description", spec.description)?;
            d.set_item("range", spec.range_text())?;
            d.set_item("optional", spec.optional)?;
            d.set_item(
                "kind",
                match spec.kind {
                    credit_core::Kind::Real => "real",
                    credit_core::Kind::Count => "count",
                },
            )?;
            d.set_item("reason_code", &card.reason_code)?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// Validates and scores one applicant (a dict with seed or Kaggle field names).
    /// Raises `ValidationError` listing every problem.
    fn predict(&self, py: Python<'_>, applicant: &Bound<'_, PyAny>) -> PyResult<Prediction> {
        match applicant_from_py(applicant)? {
            Ok(a) => self.prediction(py, &a),
            Err(e) => Err(applicant_error(py, &e)),
        }
    }

    /// Validates and scores JSON text (an object of the ten fields; duplicate keys are refused).
    fn predict_json(&self, py: Python<'_>, text: &str) -> PyResult<Prediction> {
        match Applicant::from_json(text) {
            Ok(a) => self.prediction(py, &a),
            Err(e) => Err(applicant_error(py, &e)),
        }
    }

    /// Pickles as the artifact's JSON (verified again when unpickled).
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let from_json = py.get_type::<Model>().getattr("from_json")?;
        Ok((from_json, (self.to_json(py)?,)))
    }

    /// Scores a sequence of applicants. `errors="raise"` raises one `ValidationError` for all
    /// (`loc = (index, field)`); `errors="return"` puts a `ValidationError` in place of each
    /// invalid applicant instead.
    #[pyo3(signature = (applicants, *, errors = "raise"))]
    fn predict_many<'py>(
        &self,
        py: Python<'py>,
        applicants: &Bound<'py, PyAny>,
        errors: &str,
    ) -> PyResult<Bound<'py, PyList>> {
        let raise = match errors {
            "raise" => true,
            "return" => false,
            other => {
                return Err(PyValueError::new_err(format!(
                    "errors must be \"raise\" or \"return\", got {other:?}"
                )))
            }
        };
        let out = PyList::empty(py);
        let mut failed: Vec<(usize, ValidationErrors)> = Vec::new();
        for (i, item) in applicants.try_iter()?.enumerate() {
            match applicant_from_py(&item?)? {
                Ok(a) => out.append(Bound::new(py, self.prediction(py, &a)?)?)?,
                Err(e) if raise => failed.push((i, e)),
                Err(e) => out.append(applicant_error(py, &e).into_value(py))?,
            }
        }
        if !failed.is_empty() {
            let errs: Vec<_> = failed
                .iter()
                .flat_map(|(i, e)| e.errors.iter().map(move |x| (Some(*i), x)))
                .collect();
            let title = format!(
                "{} of {} applicants",
                failed.len(),
                out.len() + failed.len()
            );
            return Err(validation_error(py, &title, &errs));
        }
        Ok(out)
    }

    /// Points per feature, bins and reasons for one applicant.
    fn explain(&self, py: Python<'_>, applicant: &Bound<'_, PyAny>) -> PyResult<Explanation> {
        match applicant_from_py(applicant)? {
            Ok(a) => guarded(py, || {
                Ok(Explanation {
                    inner: self.card.explain(&a),
                })
            }),
            Err(e) => Err(applicant_error(py, &e)),
        }
    }

    /// Probability of default per row (a 1-D array) of a numpy `n × 10` array (model column
    /// order), or of a table matched by column name: a pandas or polars DataFrame, a pyarrow
    /// Table, anything with the Arrow PyCapsule interface, or a dict of columns.
    #[pyo3(signature = (x, *, threads = 1, errors = "raise"))]
    fn probability<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        threads: Option<usize>,
        errors: &str,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let raise = Model::check_errors_arg(errors)?;
        let r = self.run_batch(x, threads, false)?;
        if raise {
            Model::raise_rows(x.py(), &r.report)?;
        }
        Ok(r.probability.into_pyarray(x.py()))
    }

    /// Deprecated name of `probability` (same arguments and result). It kept scikit-learn's
    /// method name with another shape (1-D, where `CreditScorecard.predict_proba` is `(n, 2)`).
    #[pyo3(signature = (x, *, threads = 1, errors = "raise"))]
    fn predict_proba<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        threads: Option<usize>,
        errors: &str,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let py = x.py();
        PyErr::warn(
            py,
            &py.get_type::<PyDeprecationWarning>(),
            c"Model.predict_proba is deprecated, use Model.probability (the same 1-D result); \
              CreditScorecard.predict_proba is scikit-learn's (n, 2) form",
            1,
        )?;
        self.probability(x, threads, errors)
    }

    /// Score in points per row; same inputs and options as `probability`.
    #[pyo3(signature = (x, *, threads = 1, errors = "raise"))]
    fn score<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        threads: Option<usize>,
        errors: &str,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let raise = Model::check_errors_arg(errors)?;
        let r = self.run_batch(x, threads, true)?;
        if raise {
            Model::raise_rows(x.py(), &r.report)?;
        }
        Ok(r.score.unwrap_or_default().into_pyarray(x.py()))
    }

    /// Probabilities and scores with the invalid rows reported, never raised.
    #[pyo3(signature = (x, *, threads = 1))]
    fn score_batch(&self, x: &Bound<'_, PyAny>, threads: Option<usize>) -> PyResult<BatchResult> {
        let py = x.py();
        let r = self.run_batch(x, threads, true)?;
        Ok(BatchResult {
            probability: r.probability.into_pyarray(py).unbind(),
            score: r.score.unwrap_or_default().into_pyarray(py).unbind(),
            rows: r.report.rows,
            valid: r.report.valid,
            invalid: r.report.invalid,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "Model(model_id={:?}, version={:?})",
            self.card.artifact().model_id,
            self.card.model_version()
        )
    }
}

/// The batch input as an `n × 10` float64 array in model column order (columns matched by name).
#[pyfunction]
fn to_rows<'py>(x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray2<f64>>> {
    guarded(x.py(), || to_rows_unguarded(x))
}

fn to_rows_unguarded<'py>(x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let py = x.py();
    let batch = batch_from_py(x)?;
    let n = batch.n_rows();
    let nan_column = vec![f64::NAN; n];
    let slices = batch.slices(&nan_column)?;
    let mut out = vec![0.0; n * N_FEATURES];
    match &slices {
        Slices::Rows(data, _) => out.copy_from_slice(data),
        Slices::Cols(cols) => {
            for (i, row) in out.chunks_exact_mut(N_FEATURES).enumerate() {
                for (v, c) in row.iter_mut().zip(cols) {
                    *v = c[i];
                }
            }
        }
    }
    numpy::PyArray1::from_vec(py, out).reshape([n, N_FEATURES])
}

/// Fits a scorecard with the core trainer (cross-validation, then a final fit on every usable
/// row). Returns the model, the out-of-fold probabilities, the fold of each used row and the
/// indices of the used rows. The GIL is released while fitting. `interactions > 0` adds that
/// many pairwise interaction cell grids (`coarse_groups`, `cell_scale`: their grid and penalty),
/// as `credit train --interactions` does; `refine_rounds > 0` boosts the fitted logits on the
/// residuals (`--refine-rounds`, shrunk by `refine_rate`); `age_pairs` lets age be in a pair
/// under Regulation B's bound (`--age-pairs`). The core refuses values out of range before
/// fitting.
#[pyfunction]
#[pyo3(signature = (x, y, *, max_bins, min_bin_count, l2_alpha, folds, max_iterations,
                    gradient_tolerance, base_score, base_odds, pdo, model_id, model_version, sha256,
                    interactions, coarse_groups, cell_scale, refine_rounds, refine_rate,
                    age_pairs))]
#[allow(clippy::too_many_arguments)]
#[allow(clippy::type_complexity)]
fn fit<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    y: PyReadonlyArray1<'py, u8>,
    max_bins: usize,
    min_bin_count: u64,
    l2_alpha: f64,
    folds: usize,
    max_iterations: u64,
    gradient_tolerance: f64,
    base_score: f64,
    base_odds: f64,
    pdo: f64,
    model_id: String,
    model_version: Option<String>,
    sha256: String,
    interactions: usize,
    coarse_groups: usize,
    cell_scale: f64,
    refine_rounds: usize,
    refine_rate: f64,
    age_pairs: bool,
) -> PyResult<(
    Model,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u64>>,
)> {
    if x.shape()[1] != N_FEATURES {
        return Err(shape_error(&ShapeError::Columns {
            expected: N_FEATURES,
            found: x.shape()[1],
        }));
    }
    let data = x
        .as_slice()
        .map_err(|_| PyValueError::new_err("x must be C-contiguous"))?;
    let labels = y
        .as_slice()
        .map_err(|_| PyValueError::new_err("y must be contiguous"))?
        .to_vec();
    let rows: Vec<[f64; N_FEATURES]> = data
        .chunks_exact(N_FEATURES)
        .map(|c| {
            let mut r = [0.0; N_FEATURES];
            r.copy_from_slice(c);
            r
        })
        .collect();
    let set = TrainingSet {
        rows,
        labels,
        sha256,
    };
    let cfg = TrainConfig {
        max_bins,
        min_bin_count,
        l2_alpha,
        folds,
        max_iterations,
        gradient_tolerance,
        base_score,
        base_odds,
        pdo,
        model_id,
        model_version,
        interactions,
        coarse_groups,
        cell_scale,
        refine_rounds,
        refine_rate,
        age_pairs,
    };
    let outcome = guarded(py, || {
        py.detach(|| train(&set, &cfg, &mut |_| {}))
            .map_err(|e| train_error(py, &e))
    })?;
    let to_u64 = |v: Vec<usize>| v.into_iter().map(|i| i as u64).collect::<Vec<u64>>();
    let card = Scorecard::new(outcome.artifact).map_err(|e| model_error(py, &e))?;
    Ok((
        Model {
            card: Arc::new(card),
        },
        outcome.oof.into_pyarray(py),
        to_u64(outcome.fold_of).into_pyarray(py),
        to_u64(outcome.used_rows).into_pyarray(py),
    ))
}

/// Panics inside the same guard as every entry point: the tests' only way to check that a Rust
/// panic reaches Python as `credit_default.InternalError`.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>, message: &str) -> PyResult<()> {
    guarded(py, || -> PyResult<()> { panic!("{message}") })
}

/// Canonical feature name of a column name (seed or Kaggle spelling), `None` when unknown.
#[pyfunction]
fn canonical_name(name: &str) -> Option<&'static str> {
    feature_index(name).map(|j| FEATURES[j].name)
}

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_class::<Prediction>()?;
    m.add_class::<Reason>()?;
    m.add_class::<Explanation>()?;
    m.add_class::<BatchResult>()?;
    m.add_function(wrap_pyfunction!(to_rows, m)?)?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(canonical_name, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    let names: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
    m.add("FEATURES", names)?;
    m.add("CORE_VERSION", credit_core::VERSION)?;
    // The trainer's defaults (the CLI's too), so the estimator's defaults never drift from them.
    let d = TrainConfig::default();
    let defaults = PyDict::new(m.py());
    defaults.set_item("max_bins", d.max_bins)?;
    defaults.set_item("min_bin_count", d.min_bin_count)?;
    defaults.set_item("l2_alpha", d.l2_alpha)?;
    defaults.set_item("folds", d.folds)?;
    defaults.set_item("max_iterations", d.max_iterations)?;
    defaults.set_item("tol", d.gradient_tolerance)?;
    defaults.set_item("base_score", d.base_score)?;
    defaults.set_item("base_odds", d.base_odds)?;
    defaults.set_item("pdo", d.pdo)?;
    defaults.set_item("model_id", d.model_id)?;
    defaults.set_item("interactions", d.interactions)?;
    defaults.set_item("coarse_groups", d.coarse_groups)?;
    defaults.set_item("cell_scale", d.cell_scale)?;
    defaults.set_item("refine_rounds", d.refine_rounds)?;
    defaults.set_item("refine_rate", d.refine_rate)?;
    defaults.set_item("age_pairs", d.age_pairs)?;
    m.add("TRAIN_DEFAULTS", defaults)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_model_loads() {
        let card = Scorecard::from_json(DEFAULT_MODEL).expect("shipped model is valid");
        assert!(!card.model_version().is_empty());
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(html("<a&\"b\">"), "&lt;a&amp;&quot;b&quot;&gt;");
    }
}
