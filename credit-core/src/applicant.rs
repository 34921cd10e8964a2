//! A validated applicant, and the validation that produces one from any front door's input.
//!
//! Every front door funnels its input through one of three doors here, so that all of them
//! accept and refuse exactly the same things with the same error codes:
//! [`Applicant::from_fields`] (a mapping: Python dict, JS object), [`Applicant::from_json`]
//! (JSON text, detecting duplicate keys that a generic JSON map would silently merge) and
//! [`Applicant::from_row`] (a numeric row, NaN meaning missing).

use crate::error::{ErrorCode, FieldError, Quoted, ValidationErrors};
use crate::schema::{feature_index, fmt_num, FeatureSpec, Kind, FEATURES, N_FEATURES};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// An applicant whose ten values passed validation. Missing optional values are NaN.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Applicant {
    values: [f64; N_FEATURES],
}

/// A field value as a front door received it, before validation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RawValue<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(&'a str),
    /// Anything else, named by its type (`"object"`, `"array"`, `"undefined"`, ...).
    Other(&'a str),
}

impl RawValue<'_> {
    fn to_json(self) -> Value {
        match self {
            RawValue::Null => Value::Null,
            RawValue::Bool(b) => Value::Bool(b),
            RawValue::Int(i) => Value::from(i),
            RawValue::UInt(u) => Value::from(u),
            RawValue::Float(f) => float_json(f),
            RawValue::Str(s) => Value::String(s.to_owned()),
            RawValue::Other(t) => Value::String(format!("<{t}>")),
        }
    }
}

/// An owned [`RawValue`]: what a front door copies out of its host (a JS string, a Python
/// `str`) so that [`Applicant::from_fields`] can borrow it. One definition for every binding.
#[derive(Clone, Debug, PartialEq)]
pub enum OwnedValue {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    /// Anything else, named by its type (`"an array"`, `"undefined"`, ...).
    Other(Cow<'static, str>),
}

impl OwnedValue {
    /// The borrowed view the validator takes.
    pub fn as_raw(&self) -> RawValue<'_> {
        match self {
            OwnedValue::Null => RawValue::Null,
            OwnedValue::Bool(b) => RawValue::Bool(*b),
            OwnedValue::Int(i) => RawValue::Int(*i),
            OwnedValue::UInt(u) => RawValue::UInt(*u),
            OwnedValue::Float(f) => RawValue::Float(*f),
            OwnedValue::Str(s) => RawValue::Str(s),
            OwnedValue::Other(t) => RawValue::Other(t),
        }
    }
}

/// JSON for a float, spelling NaN and infinities as strings (JSON has no such numbers).
pub(crate) fn float_json(f: f64) -> Value {
    if f.is_nan() {
        Value::String("NaN".into())
    } else if f.is_infinite() {
        Value::String(if f > 0.0 { "inf" } else { "-inf" }.into())
    } else if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        Value::from(f)
    }
}

/// Why a finite-or-not number is unacceptable for a feature; `None` when it is fine.
/// NaN is not judged here (its meaning depends on the door: missing in a row, an error in a mapping).
#[inline(always)]
pub(crate) fn classify(spec: &FeatureSpec, v: f64) -> Option<ErrorCode> {
    if !v.is_finite() {
        return Some(ErrorCode::NotFinite);
    }
    if spec.kind == Kind::Count && v.fract() != 0.0 {
        return Some(ErrorCode::NotAnInteger);
    }
    if (v < spec.min || v > spec.max) && !spec.is_special(v) {
        return Some(ErrorCode::OutOfRange);
    }
    None
}

fn number_error(spec: &FeatureSpec, field: &str, code: ErrorCode, v: f64) -> FieldError {
    let message = match code {
        ErrorCode::NotFinite => "Input should be a finite number".to_string(),
        ErrorCode::NotAnInteger => format!("Input should be a whole number, got {}", fmt_num(v)),
        _ => format!("Input should be {}", spec.range_text()),
    };
    FieldError {
        field: field.to_owned(),
        code,
        message,
        value: float_json(v),
    }
}

fn missing_error(spec: &FeatureSpec) -> FieldError {
    FieldError {
        field: spec.name.to_owned(),
        code: ErrorCode::Missing,
        message: "Field required".to_owned(),
        value: Value::Null,
    }
}

impl Applicant {
    /// The ten values in model order; NaN marks a missing optional value.
    #[inline]
    pub fn values(&self) -> &[f64; N_FEATURES] {
        &self.values
    }

    /// Value of one feature, `None` when missing.
    pub fn get(&self, feature: usize) -> Option<f64> {
        let v = self.values[feature];
        (!v.is_nan()).then_some(v)
    }

    /// Validates a numeric row in model column order; NaN means missing.
    pub fn from_row(row: &[f64]) -> Result<Applicant, ValidationErrors> {
        if row.len() != N_FEATURES {
            return Err(ValidationErrors {
                errors: vec![FieldError {
                    field: String::new(),
                    code: ErrorCode::OutOfRange,
                    message: format!("Row should have {N_FEATURES} values, got {}", row.len()),
                    value: Value::from(row.len()),
                }],
            });
        }
        let mut errors = Vec::new();
        let mut values = [f64::NAN; N_FEATURES];
        for (j, spec) in FEATURES.iter().enumerate() {
            let v = row[j];
            if v.is_nan() {
                if !spec.optional {
                    errors.push(missing_error(spec));
                }
                continue;
            }
            match classify(spec, v) {
                None => values[j] = v,
                Some(code) => errors.push(number_error(spec, spec.name, code, v)),
            }
        }
        if errors.is_empty() {
            Ok(Applicant { values })
        } else {
            Err(ValidationErrors { errors })
        }
    }

    /// Validates named fields (canonical names or Kaggle aliases), reporting every problem at once.
    ///
    /// `null` means missing; for a mapping, NaN also means missing for the two optional fields
    /// (that is how pandas spells it) and is `not_finite` for the others.
    pub fn from_fields<'a, I>(fields: I) -> Result<Applicant, ValidationErrors>
    where
        I: IntoIterator<Item = (&'a str, RawValue<'a>)>,
    {
        // The generic part is only this loop: the checks live in one non-generic function, so
        // each binding's iterator type does not get its own copy (a smaller `.wasm`).
        let mut state = FieldsState::default();
        for (name, raw) in fields {
            state.field(name, raw);
        }
        state.finish()
    }
}

/// What [`Applicant::from_fields`] has seen so far.
struct FieldsState<'a> {
    errors: Vec<FieldError>,
    values: [f64; N_FEATURES],
    seen: [Option<&'a str>; N_FEATURES],
}

impl Default for FieldsState<'_> {
    fn default() -> Self {
        FieldsState {
            errors: Vec::new(),
            values: [f64::NAN; N_FEATURES],
            seen: [None; N_FEATURES],
        }
    }
}

impl<'a> FieldsState<'a> {
    #[inline(never)]
    fn field(&mut self, name: &'a str, raw: RawValue<'a>) {
        let (errors, values, seen) = (&mut self.errors, &mut self.values, &mut self.seen);
        let Some(j) = feature_index(name) else {
            errors.push(FieldError {
                field: name.to_owned(),
                code: ErrorCode::UnknownField,
                message: unknown_message(name),
                value: raw.to_json(),
            });
            return;
        };
        let spec = &FEATURES[j];
        if let Some(first) = seen[j] {
            errors.push(FieldError {
                field: name.to_owned(),
                code: ErrorCode::DuplicateField,
                message: if first == name {
                    "Field given more than once".to_owned()
                } else {
                    format!(
                        "Field given more than once (as {} and {})",
                        Quoted(first),
                        Quoted(name)
                    )
                },
                value: raw.to_json(),
            });
            return;
        }
        seen[j] = Some(name);
        let v = match raw {
            RawValue::Null if spec.optional => return,
            RawValue::Null => {
                errors.push(FieldError {
                    field: name.to_owned(),
                    code: ErrorCode::Missing,
                    message: "Field required (null is allowed only for MonthlyIncome and NumberOfDependents)".to_owned(),
                    value: Value::Null,
                });
                return;
            }
            RawValue::Float(f) if f.is_nan() && spec.optional => return,
            RawValue::Float(f) => f,
            RawValue::Int(i) => i as f64,
            RawValue::UInt(u) => u as f64,
            RawValue::Bool(_) | RawValue::Str(_) | RawValue::Other(_) => {
                let what = match raw {
                    RawValue::Bool(_) => "a boolean".to_owned(),
                    RawValue::Str(_) => "a string".to_owned(),
                    RawValue::Other(t) => t.to_string(),
                    _ => unreachable_kind(),
                };
                errors.push(FieldError {
                    field: name.to_owned(),
                    code: ErrorCode::NotANumber,
                    message: format!("Input should be a number, got {what}"),
                    value: raw.to_json(),
                });
                return;
            }
        };
        match classify(spec, v) {
            None => values[j] = v,
            Some(code) => errors.push(number_error(spec, name, code, v)),
        }
    }

    fn finish(self) -> Result<Applicant, ValidationErrors> {
        let FieldsState {
            mut errors,
            values,
            seen,
        } = self;
        for (j, spec) in FEATURES.iter().enumerate() {
            if seen[j].is_none() && !spec.optional {
                errors.push(missing_error(spec));
            }
        }
        if errors.is_empty() {
            Ok(Applicant { values })
        } else {
            Err(ValidationErrors { errors })
        }
    }
}

impl Applicant {
    /// Parses and validates one applicant from JSON text (an object of the ten fields).
    pub fn from_json(text: &str) -> Result<Applicant, ValidationErrors> {
        let mut de = serde_json::Deserializer::from_str(text);
        let parsed = JsonApplicant::deserialize(&mut de).and_then(|p| de.end().map(|_| p));
        match parsed {
            Err(e) => Err(ValidationErrors {
                errors: vec![FieldError {
                    field: String::new(),
                    code: ErrorCode::InvalidJson,
                    message: format!("Invalid JSON: {e}"),
                    value: Value::Null,
                }],
            }),
            Ok(JsonApplicant::NotAnObject(kind)) => Err(not_an_object(kind)),
            Ok(JsonApplicant::Fields(fields)) => {
                Applicant::from_fields(fields.iter().map(|(k, v)| (k.as_str(), v.0.as_raw())))
            }
        }
    }

    /// Validates an already parsed JSON value. Duplicate keys cannot be seen here (a JSON map has
    /// already merged them); use [`Applicant::from_json`] on text when that matters.
    pub fn from_json_value(value: &Value) -> Result<Applicant, ValidationErrors> {
        let Value::Object(map) = value else {
            return Err(not_an_object(json_kind(value)));
        };
        Applicant::from_fields(map.iter().map(|(k, v)| {
            let raw = match v {
                Value::Null => RawValue::Null,
                Value::Bool(b) => RawValue::Bool(*b),
                Value::Number(n) => {
                    if let Some(i) = n.as_i64() {
                        RawValue::Int(i)
                    } else if let Some(u) = n.as_u64() {
                        RawValue::UInt(u)
                    } else {
                        RawValue::Float(n.as_f64().unwrap_or(f64::NAN))
                    }
                }
                Value::String(s) => RawValue::Str(s),
                Value::Array(_) => RawValue::Other("an array"),
                Value::Object(_) => RawValue::Other("an object"),
            };
            (k.as_str(), raw)
        }))
    }

    /// The applicant as a JSON object with canonical names (missing values as `null`).
    pub fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (j, spec) in FEATURES.iter().enumerate() {
            let v = self.values[j];
            map.insert(
                spec.name.to_owned(),
                if v.is_nan() {
                    Value::Null
                } else {
                    float_json(v)
                },
            );
        }
        Value::Object(map)
    }
}

fn unreachable_kind() -> String {
    "a value of another type".to_owned()
}

fn not_an_object(kind: &str) -> ValidationErrors {
    ValidationErrors {
        errors: vec![FieldError {
            field: String::new(),
            code: ErrorCode::NotAnObject,
            message: format!("Input should be an object with the applicant's fields, got {kind}"),
            value: Value::Null,
        }],
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The "did you mean" hint compares case-insensitively in ASCII only: the ten names and their
/// aliases are ASCII, so Unicode case mapping could only turn a non-ASCII letter of a typo
/// into an ASCII one, and its tables and code would cost the `.wasm` 4.7 KB. A non-ASCII
/// letter then simply counts as one edit.
fn unknown_message(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let best = FEATURES
        .iter()
        .flat_map(|f| std::iter::once(f.name).chain(f.alias))
        .map(|cand| (edit_distance(&lower, &cand.to_ascii_lowercase()), cand))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, cand)) if d <= 3.max(name.len() / 5) => {
            format!("Unknown field; did you mean {}?", Quoted(cand))
        }
        _ => "Unknown field; the model takes only its ten features".to_owned(),
    }
}

/// Levenshtein distance, for "did you mean" hints on typos.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// A JSON value as parsed, keeping what a generic map would lose (duplicates, the exact
/// type): the field value the bindings also hand over, [`OwnedValue`].
struct JsonScalar(OwnedValue);

enum JsonApplicant {
    Fields(Vec<(String, JsonScalar)>),
    NotAnObject(&'static str),
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = OwnedValue;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<OwnedValue, E> {
        Ok(OwnedValue::Null)
    }
    fn visit_none<E>(self) -> Result<OwnedValue, E> {
        Ok(OwnedValue::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<OwnedValue, E> {
        Ok(OwnedValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<OwnedValue, E> {
        Ok(OwnedValue::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<OwnedValue, E> {
        Ok(OwnedValue::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<OwnedValue, E> {
        Ok(OwnedValue::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<OwnedValue, E> {
        Ok(OwnedValue::Str(v.to_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OwnedValue, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(OwnedValue::Other(Cow::Borrowed("an array")))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OwnedValue, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(OwnedValue::Other(Cow::Borrowed("an object")))
    }
}

impl<'de> Deserialize<'de> for JsonScalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor).map(JsonScalar)
    }
}

struct ApplicantVisitor;

impl<'de> Visitor<'de> for ApplicantVisitor {
    type Value = JsonApplicant;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonApplicant, A::Error> {
        let mut fields = Vec::with_capacity(N_FEATURES);
        while let Some(key) = map.next_key::<String>()? {
            let value: JsonScalar = map.next_value()?;
            if fields.len() > 1000 {
                return Err(de::Error::custom("too many fields (more than 1000)"));
            }
            fields.push((key, value));
        }
        Ok(JsonApplicant::Fields(fields))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonApplicant, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(JsonApplicant::NotAnObject("an array"))
    }
    fn visit_unit<E>(self) -> Result<JsonApplicant, E> {
        Ok(JsonApplicant::NotAnObject("null"))
    }
    fn visit_bool<E>(self, _: bool) -> Result<JsonApplicant, E> {
        Ok(JsonApplicant::NotAnObject("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<JsonApplicant, E> {
        Ok(JsonApplicant::NotAnObject("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<JsonApplicant, E> {
        Ok(JsonApplicant::NotAnObject("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<JsonApplicant, E> {
        Ok(JsonApplicant::NotAnObject("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<JsonApplicant, E> {
        Ok(JsonApplicant::NotAnObject("a string"))
    }
}

impl<'de> Deserialize<'de> for JsonApplicant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ApplicantVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"{"RevolvingUtilizationOfUnsecuredLines": 0.766127, "age": 45,
        "NumberOfTime30_59DaysPastDueNotWorse": 2, "DebtRatio": 0.802982, "MonthlyIncome": 9120,
        "NumberOfOpenCreditLinesAndLoans": 13, "NumberOfTimes90DaysLate": 0,
        "NumberRealEstateLoansOrLines": 6, "NumberOfTime60_89DaysPastDueNotWorse": 0,
        "NumberOfDependents": 2}"#;

    fn codes(r: Result<Applicant, ValidationErrors>) -> Vec<(String, ErrorCode)> {
        r.unwrap_err()
            .errors
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn seed_example_is_valid() {
        let a = Applicant::from_json(SEED).unwrap();
        assert_eq!(a.values()[1], 45.0);
        assert_eq!(a.get(4), Some(9120.0));
    }

    #[test]
    fn optional_fields_may_be_null_or_absent() {
        let a = Applicant::from_json(&SEED.replace("9120", "null")).unwrap();
        assert_eq!(a.get(4), None);
        let v: Value = serde_json::from_str(SEED).unwrap();
        let mut m = v.as_object().unwrap().clone();
        m.remove("NumberOfDependents");
        let a = Applicant::from_json_value(&Value::Object(m)).unwrap();
        assert_eq!(a.get(9), None);
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let text = r#"{"RevolvingUtilizationOfUnsecuredLines": "0.5", "age": 17,
            "NumberOfTime30-59DaysPastDueNotWorse": 2.5, "DebtRatio": -1,
            "MonthlyIncom": 100, "NumberOfOpenCreditLinesAndLoans": 3,
            "NumberOfOpenCreditLinesAndLoans": 4, "NumberOfTimes90DaysLate": 97,
            "NumberOfTime60_89DaysPastDueNotWorse": true}"#;
        let got = codes(Applicant::from_json(text));
        let want = vec![
            (
                "RevolvingUtilizationOfUnsecuredLines".into(),
                ErrorCode::NotANumber,
            ),
            ("age".into(), ErrorCode::OutOfRange),
            (
                "NumberOfTime30-59DaysPastDueNotWorse".into(),
                ErrorCode::NotAnInteger,
            ),
            ("DebtRatio".into(), ErrorCode::OutOfRange),
            ("MonthlyIncom".into(), ErrorCode::UnknownField),
            (
                "NumberOfOpenCreditLinesAndLoans".into(),
                ErrorCode::DuplicateField,
            ),
            ("NumberOfTimes90DaysLate".into(), ErrorCode::OutOfRange),
            (
                "NumberOfTime60_89DaysPastDueNotWorse".into(),
                ErrorCode::NotANumber,
            ),
            ("NumberRealEstateLoansOrLines".into(), ErrorCode::Missing),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn typo_gets_a_hint() {
        let e = Applicant::from_json(&SEED.replace("\"MonthlyIncome\"", "\"MonthlyIncom\""))
            .unwrap_err();
        assert_eq!(e.errors.len(), 1);
        assert!(e.errors[0].message.contains("\"MonthlyIncome\""), "{:?}", e);
    }

    /// The hint compares in ASCII case only: a non-ASCII letter in an unknown name counts as
    /// one edit (no panic, no byte-slicing in the middle of a character), a name far from all
    /// ten gets the plain message, and the field is reported as the caller spelled it.
    #[test]
    fn non_ascii_unknown_field_gets_a_sensible_error() {
        for (typo, hint) in [
            ("MönthlyIncome", Some("MonthlyIncome")),
            ("ÄGE", Some("age")),
            ("DEBTRATIO", Some("DebtRatio")),
            ("DébtRatiö", Some("DebtRatio")),
            ("ЕжемесячныйДоход", None),
            ("收入收入收入", None),
        ] {
            let text = SEED.replacen('{', &format!("{{\"{typo}\": 1, "), 1);
            let e = Applicant::from_json(&text).unwrap_err();
            assert_eq!(e.errors.len(), 1, "{typo}: {e:?}");
            let err = &e.errors[0];
            assert_eq!(err.field, typo);
            assert_eq!(err.code, ErrorCode::UnknownField);
            match hint {
                Some(h) => assert_eq!(
                    err.message,
                    format!("Unknown field; did you mean {h:?}?"),
                    "{typo}"
                ),
                None => assert_eq!(
                    err.message, "Unknown field; the model takes only its ten features",
                    "{typo}"
                ),
            }
        }
    }

    #[test]
    fn alias_and_canonical_together_is_duplicate() {
        let text = SEED.replace(
            "\"NumberOfTime30_59DaysPastDueNotWorse\": 2,",
            "\"NumberOfTime30_59DaysPastDueNotWorse\": 2, \"NumberOfTime30-59DaysPastDueNotWorse\": 2,",
        );
        assert_eq!(
            codes(Applicant::from_json(&text)),
            vec![(
                "NumberOfTime30-59DaysPastDueNotWorse".into(),
                ErrorCode::DuplicateField
            )]
        );
    }

    #[test]
    fn malformed_and_non_objects() {
        assert_eq!(
            codes(Applicant::from_json(&SEED[..40])),
            vec![(String::new(), ErrorCode::InvalidJson)]
        );
        assert_eq!(
            codes(Applicant::from_json("[1,2]")),
            vec![(String::new(), ErrorCode::NotAnObject)]
        );
        assert_eq!(
            codes(Applicant::from_json("{} trailing")),
            vec![(String::new(), ErrorCode::InvalidJson)]
        );
        assert_eq!(
            codes(Applicant::from_json("{\"age\": 1e999}")),
            vec![(String::new(), ErrorCode::InvalidJson)]
        );
    }

    #[test]
    fn special_codes_and_nan_in_rows() {
        let mut row = [
            0.5,
            45.0,
            96.0,
            0.3,
            f64::NAN,
            3.0,
            98.0,
            1.0,
            0.0,
            f64::NAN,
        ];
        assert!(Applicant::from_row(&row).is_ok());
        row[1] = f64::NAN;
        row[3] = f64::INFINITY;
        row[2] = 97.0;
        let got = codes(Applicant::from_row(&row));
        assert_eq!(
            got,
            vec![
                ("age".into(), ErrorCode::Missing),
                (
                    "NumberOfTime30_59DaysPastDueNotWorse".into(),
                    ErrorCode::OutOfRange
                ),
                ("DebtRatio".into(), ErrorCode::NotFinite),
            ]
        );
    }

    #[test]
    fn nan_in_a_mapping() {
        let fields = [
            (
                "RevolvingUtilizationOfUnsecuredLines",
                RawValue::Float(f64::NAN),
            ),
            ("age", RawValue::Float(f64::NEG_INFINITY)),
            ("NumberOfTime30_59DaysPastDueNotWorse", RawValue::Int(-1)),
            ("DebtRatio", RawValue::Float(0.1)),
            ("MonthlyIncome", RawValue::Float(f64::NAN)),
            ("NumberOfOpenCreditLinesAndLoans", RawValue::Other("a list")),
            ("NumberOfTimes90DaysLate", RawValue::UInt(u64::MAX)),
            ("NumberRealEstateLoansOrLines", RawValue::Int(0)),
            ("NumberOfTime60_89DaysPastDueNotWorse", RawValue::Int(0)),
        ];
        let e = Applicant::from_fields(fields).unwrap_err();
        let got: Vec<_> = e
            .errors
            .iter()
            .map(|e| (e.field.as_str(), e.code))
            .collect();
        assert_eq!(
            got,
            vec![
                ("RevolvingUtilizationOfUnsecuredLines", ErrorCode::NotFinite),
                ("age", ErrorCode::NotFinite),
                (
                    "NumberOfTime30_59DaysPastDueNotWorse",
                    ErrorCode::OutOfRange
                ),
                ("NumberOfOpenCreditLinesAndLoans", ErrorCode::NotANumber),
                ("NumberOfTimes90DaysLate", ErrorCode::OutOfRange),
            ]
        );
        assert_eq!(e.errors[0].value, Value::String("NaN".into()));
    }
}
