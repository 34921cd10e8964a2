//! A second reader of the model artifact, for builds where code size matters (the browser
//! package): [`ModelArtifact::from_json_lite`] accepts and refuses exactly what
//! [`ModelArtifact::from_json`] does, with the same [`ModelError`] variants, but without
//! serde-derive code.
//!
//! Why it exists: the derived `Deserialize`/`Serialize` impls of the artifact's dozen structs
//! are monomorphised for every field type and every struct (visitors, field identifiers,
//! map and sequence forms), and verifying the checksum re-serialises the whole document
//! through the derived `Serialize`. Together with the checksum that was about a third of the
//! `.wasm`. This reader keeps what must stay exact in serde_json's hands and hand-writes only
//! the schema walk:
//!
//! * a first pass reads only `format` and `format_version`, skipping everything else unparsed,
//!   as the derived header struct of the serde path does (so that a newer or foreign
//!   document gets the same `WrongFormat`/`WrongFormatVersion`, whatever else it contains);
//! * the text is then parsed by serde_json into one small generic tree ([`Node`]): one
//!   visitor instead of one per struct, the same grammar, escapes and number parsing (exact,
//!   `float_roundtrip`) as the derived path, and duplicate keys kept so that they can be
//!   refused as serde derive refuses them;
//! * the tree is read into the same [`ModelArtifact`] by rules that mirror serde's: a
//!   struct is an object (unknown and duplicated keys refused, `#[serde(default)]` fields
//!   optional) or an array of its fields in declaration order; numbers convert as serde's
//!   primitive visitors convert them;
//! * the checksum's canonical JSON (what `serde_json::to_vec` writes) is written by hand:
//!   structure in declaration order with the derive's `skip_serializing_if` rules, strings
//!   with serde_json's escapes, floats by serde_json's own float printer. Rust's float
//!   printing would not do: it picks a different last digit than serde_json for some floats.
//!
//! Plain loops instead of `collect::<Result<_>>()` and errors worded by hand (not serde's
//! `Unexpected`) are deliberate too: each saved kilobytes of the `.wasm`.
//!
//! The unit tests compare both readers on mutated copies of the shipped model.

use super::{
    AgePolicy, Bin, CalibrationBin, DataFingerprint, FeatureCard, Interaction, Metrics,
    ModelArtifact, ModelMetrics, Scaling, ScoreDistribution, SpecialBin, Threshold,
    TrainingConfigRecord, ARTIFACT_FIELDS,
};
use crate::error::ModelError;
use crate::json::JsonWriter;
use serde::de::{Deserialize, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::fmt;

/// A parsed JSON value as serde_json handed it over: numbers keep the form serde_json parsed
/// them in (`U64`, `I64` or `F64`: what decides whether an integer field accepts them), and
/// objects keep every entry in order, duplicates included.
#[derive(Debug)]
enum Node {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(String),
    Arr(Vec<Node>),
    Obj(Vec<(String, Node)>),
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::I64(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::U64(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::F64(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Node::Obj(entries))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

type Res<T> = Result<T, serde_json::Error>;

/// What the node is, for messages.
fn kind(n: &Node) -> &'static str {
    match n {
        Node::Null => "null",
        Node::Bool(_) => "a boolean",
        Node::U64(_) | Node::I64(_) | Node::F64(_) => "a number",
        Node::Str(_) => "a string",
        Node::Arr(_) => "an array",
        Node::Obj(_) => "an object",
    }
}

/// serde's "invalid type" verdict, worded without `serde::de::Unexpected` (whose formatting
/// would add its own float printing to the `.wasm`).
fn invalid_type(n: &Node, expected: &str) -> serde_json::Error {
    serde_json::Error::custom(format_args!(
        "invalid type: {}, expected {expected}",
        kind(n)
    ))
}

/// serde's `f64` visitor: any JSON number, integers converted with `as`.
fn float(n: &Node) -> Res<f64> {
    match *n {
        Node::F64(f) => Ok(f),
        Node::U64(u) => Ok(u as f64),
        Node::I64(i) => Ok(i as f64),
        _ => Err(invalid_type(n, "f64")),
    }
}

/// serde's `u64` visitor: a non-negative integer (serde_json parses `2.0` as a float: refused).
fn uint(n: &Node) -> Res<u64> {
    match *n {
        Node::U64(u) => Ok(u),
        Node::I64(i) => u64::try_from(i).map_err(|_| invalid_type(n, "u64 (not negative)")),
        _ => Err(invalid_type(n, "u64")),
    }
}

/// serde's `u32` visitor: as `u64`, and at most `u32::MAX`.
fn uint32(n: &Node) -> Res<u32> {
    u32::try_from(uint(n)?).map_err(|_| invalid_type(n, "u32 (at most 4294967295)"))
}

fn string(n: &Node) -> Res<String> {
    match n {
        Node::Str(s) => Ok(s.clone()),
        _ => Err(invalid_type(n, "a string")),
    }
}

fn boolean(n: &Node) -> Res<bool> {
    match *n {
        Node::Bool(b) => Ok(b),
        _ => Err(invalid_type(n, "a boolean")),
    }
}

/// The first error met while reading the tree into the artifact.
///
/// Why the readers below note errors here and go on with placeholder values (zero, empty)
/// instead of returning at the first `?`: a `?` in the middle of building a struct returns
/// early and must drop every field built so far, and the compiler writes that cleanup out at
/// each such point, which was a large part of the reader's code in the `.wasm`. With this,
/// the artifact is always built whole and dropped once. The verdict is the same: [`parse`]
/// returns the first error in reading order, which is where `?` stopped.
#[derive(Default)]
struct Cx(Cell<Option<serde_json::Error>>);

impl Cx {
    /// Keeps `e` if it is the first error.
    fn note(&self, e: serde_json::Error) {
        let first = self.0.take().unwrap_or(e);
        self.0.set(Some(first));
    }

    /// The value, or (the error noted) a placeholder.
    fn ok<T: Default>(&self, r: Res<T>) -> T {
        r.unwrap_or_else(|e| {
            self.note(e);
            T::default()
        })
    }

    /// `value` if nothing went wrong while it was read, else the first error.
    fn finish<T>(self, value: T) -> Res<T> {
        match self.0.into_inner() {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }
}

/// A list item that is a number (`f64`).
fn number(cx: &Cx, n: &Node) -> f64 {
    cx.ok(float(n))
}

/// A list item that is a string.
fn text(cx: &Cx, n: &Node) -> String {
    cx.ok(string(n))
}

/// What a missing field reads as, after its error is noted.
static NULL: Node = Node::Null;

/// A `Vec<T>`: only a JSON array.
fn list<T>(cx: &Cx, n: &Node, item: fn(&Cx, &Node) -> T) -> Vec<T> {
    let Node::Arr(items) = n else {
        cx.note(invalid_type(n, "a sequence"));
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        out.push(item(cx, it));
    }
    out
}

/// Most fields of any struct of the artifact (`ModelArtifact` has the most).
const MAX_FIELDS: usize = ARTIFACT_FIELDS.len();

/// The fields of one struct, found by position, with serde derive's rules: an object whose
/// keys are all known and appear once (`deny_unknown_fields`), or an array of the fields in
/// declaration order, no longer than the struct. A field missing from either is an error
/// when it is read with [`Fields::get`], and its default with [`Fields::opt`].
struct Fields<'a, 'c> {
    cx: &'c Cx,
    name: &'static str,
    names: &'static [&'static str],
    seq_len: Option<usize>,
    slots: [Option<&'a Node>; MAX_FIELDS],
}

impl<'a, 'c> Fields<'a, 'c> {
    /// The fields of `n`; when `n` is no such struct, the error is noted and every field is
    /// missing.
    fn of(
        cx: &'c Cx,
        n: &'a Node,
        name: &'static str,
        names: &'static [&'static str],
    ) -> Fields<'a, 'c> {
        let mut f = Fields {
            cx,
            name,
            names,
            seq_len: None,
            slots: [None; MAX_FIELDS],
        };
        if let Err(e) = f.fill(n) {
            f.slots = [None; MAX_FIELDS];
            cx.note(e);
        }
        f
    }

    fn fill(&mut self, n: &'a Node) -> Res<()> {
        let (name, names) = (self.name, self.names);
        match n {
            Node::Obj(entries) => {
                for (key, value) in entries {
                    let slot = names
                        .iter()
                        .position(|f| f == key)
                        .and_then(|i| self.slots.get_mut(i));
                    let Some(slot) = slot else {
                        return Err(serde_json::Error::custom(format_args!(
                            "unknown field `{key}` of struct {name}"
                        )));
                    };
                    if slot.is_some() {
                        return Err(serde_json::Error::custom(format_args!(
                            "duplicate field `{key}`"
                        )));
                    }
                    *slot = Some(value);
                }
                Ok(())
            }
            Node::Arr(items) => {
                if items.len() > names.len() {
                    return Err(serde_json::Error::custom(format_args!(
                        "struct {name} given as an array of {} fields, it has {}",
                        items.len(),
                        names.len()
                    )));
                }
                for (slot, item) in self.slots.iter_mut().zip(items) {
                    *slot = Some(item);
                }
                self.seq_len = Some(items.len());
                Ok(())
            }
            _ => Err(invalid_type(n, "a struct")),
        }
    }

    /// A required field (`null` after noting its absence).
    fn get(&self, i: usize) -> &'a Node {
        if let Some(n) = self.opt(i) {
            return n;
        }
        let field = self.names.get(i).copied().unwrap_or_default();
        self.cx.note(match self.seq_len {
            None => serde_json::Error::missing_field(field),
            Some(len) => serde_json::Error::custom(format_args!(
                "invalid length {len}, expected struct {} with {} elements",
                self.name,
                self.names.len()
            )),
        });
        &NULL
    }

    fn f(&self, i: usize) -> f64 {
        self.cx.ok(float(self.get(i)))
    }

    fn u(&self, i: usize) -> u64 {
        self.cx.ok(uint(self.get(i)))
    }

    fn u32(&self, i: usize) -> u32 {
        self.cx.ok(uint32(self.get(i)))
    }

    fn s(&self, i: usize) -> String {
        self.cx.ok(string(self.get(i)))
    }

    fn b(&self, i: usize) -> bool {
        self.cx.ok(boolean(self.get(i)))
    }

    /// A `#[serde(default)]` field.
    fn opt(&self, i: usize) -> Option<&'a Node> {
        self.slots.get(i).copied().flatten()
    }
}

fn bin(cx: &Cx, n: &Node) -> Bin {
    const F: &[&str] = &["label", "logit", "points", "count", "events", "event_rate"];
    let f = Fields::of(cx, n, "Bin", F);
    Bin {
        label: f.s(0),
        logit: f.f(1),
        points: f.f(2),
        count: f.u(3),
        events: f.u(4),
        event_rate: f.f(5),
    }
}

fn special_bin(cx: &Cx, n: &Node) -> SpecialBin {
    const F: &[&str] = &["codes", "bin"];
    let f = Fields::of(cx, n, "SpecialBin", F);
    SpecialBin {
        codes: list(cx, f.get(0), number),
        bin: bin(cx, f.get(1)),
    }
}

fn feature(cx: &Cx, n: &Node) -> FeatureCard {
    const F: &[&str] = &[
        "name",
        "reason_code",
        "reason_text",
        "edges",
        "range_bins",
        "missing_bin",
        "special_bins",
    ];
    let f = Fields::of(cx, n, "FeatureCard", F);
    FeatureCard {
        name: f.s(0),
        reason_code: f.s(1),
        reason_text: f.s(2),
        edges: list(cx, f.get(3), number),
        range_bins: list(cx, f.get(4), bin),
        missing_bin: match f.opt(5) {
            None | Some(Node::Null) => None,
            Some(b) => Some(bin(cx, b)),
        },
        special_bins: match f.opt(6) {
            None => Vec::new(),
            Some(l) => list(cx, l, special_bin),
        },
    }
}

fn metrics(cx: &Cx, n: &Node) -> Metrics {
    const F: &[&str] = &[
        "rows",
        "positives",
        "auc",
        "gini",
        "ks",
        "brier",
        "log_loss",
    ];
    let f = Fields::of(cx, n, "Metrics", F);
    Metrics {
        rows: f.u(0),
        positives: f.u(1),
        auc: f.f(2),
        gini: f.f(3),
        ks: f.f(4),
        brier: f.f(5),
        log_loss: f.f(6),
    }
}

fn calibration_bin(cx: &Cx, n: &Node) -> CalibrationBin {
    const F: &[&str] = &[
        "rows",
        "mean_predicted",
        "observed_rate",
        "min_predicted",
        "max_predicted",
    ];
    let f = Fields::of(cx, n, "CalibrationBin", F);
    CalibrationBin {
        rows: f.u(0),
        mean_predicted: f.f(1),
        observed_rate: f.f(2),
        min_predicted: f.f(3),
        max_predicted: f.f(4),
    }
}

/// The optional `score_distribution` (absent or `null`: none).
fn score_distribution(cx: &Cx, n: Option<&Node>) -> Option<ScoreDistribution> {
    let n = n.filter(|n| !matches!(n, Node::Null))?;
    const F: &[&str] = &["edges", "counts", "events"];
    let f = Fields::of(cx, n, "ScoreDistribution", F);
    let count = |cx: &Cx, n: &Node| cx.ok(uint(n));
    Some(ScoreDistribution {
        edges: list(cx, f.get(0), number),
        counts: list(cx, f.get(1), count),
        events: list(cx, f.get(2), count),
    })
}

/// serde's `u16` visitor: as `u64`, and at most `u16::MAX`.
#[cfg(feature = "interactions")]
fn uint16(n: &Node) -> Res<u16> {
    u16::try_from(uint(n)?).map_err(|_| invalid_type(n, "u16 (at most 65535)"))
}

/// serde's `[T; 2]`: a JSON array of exactly two items (serde_json reads arrays as tuples).
#[cfg(feature = "interactions")]
fn pair<T: Default>(cx: &Cx, n: &Node, item: fn(&Cx, &Node) -> T) -> [T; 2] {
    match n {
        Node::Arr(items) if items.len() == 2 => [item(cx, &items[0]), item(cx, &items[1])],
        _ => {
            cx.note(invalid_type(n, "an array of length 2"));
            Default::default()
        }
    }
}

#[cfg(feature = "interactions")]
fn interaction(cx: &Cx, n: &Node) -> Interaction {
    const F: &[&str] = &["features", "groups", "group_labels", "cells"];
    let f = Fields::of(cx, n, "Interaction", F);
    Interaction {
        features: pair(cx, f.get(0), text),
        groups: pair(cx, f.get(1), |cx, l| list(cx, l, |cx, n| cx.ok(uint16(n)))),
        group_labels: pair(cx, f.get(2), |cx, l| list(cx, l, text)),
        cells: list(cx, f.get(3), bin),
    }
}

/// The `interactions` section (absent: none).
#[cfg(feature = "interactions")]
fn interactions(cx: &Cx, n: Option<&Node>) -> Vec<Interaction> {
    match n {
        None => Vec::new(),
        Some(l) => list(cx, l, interaction),
    }
}

/// Without the `interactions` feature a document with pairs never gets here ([`parse`]
/// refused it), so only an absent or empty section is read; no reader of a pair is compiled in.
#[cfg(not(feature = "interactions"))]
fn interactions(cx: &Cx, n: Option<&Node>) -> Vec<Interaction> {
    match n {
        None => Vec::new(),
        Some(Node::Arr(items)) if items.is_empty() => Vec::new(),
        Some(n) => {
            cx.note(invalid_type(n, "a sequence"));
            Vec::new()
        }
    }
}

/// Inlined into its one caller: left to itself the optimiser outlines it since the
/// `score_distribution` field exists, and the `.wasm` is then 1 KB larger (measured).
#[inline(always)]
fn artifact(f: &Fields) -> ModelArtifact {
    let cx = f.cx;
    let training_data = {
        const F: &[&str] = &["sha256", "rows", "positives", "rows_excluded", "label"];
        let d = Fields::of(cx, f.get(5), "DataFingerprint", F);
        DataFingerprint {
            sha256: d.s(0),
            rows: d.u(1),
            positives: d.u(2),
            rows_excluded: d.u(3),
            label: d.s(4),
        }
    };
    let scaling = {
        const F: &[&str] = &[
            "base_score",
            "base_odds",
            "pdo",
            "odds_direction",
            "factor",
            "offset",
        ];
        let s = Fields::of(cx, f.get(8), "Scaling", F);
        Scaling {
            base_score: s.f(0),
            base_odds: s.f(1),
            pdo: s.f(2),
            odds_direction: s.s(3),
            factor: s.f(4),
            offset: s.f(5),
        }
    };
    let threshold = {
        const F: &[&str] = &["probability", "score", "policy", "description"];
        let t = Fields::of(cx, f.get(9), "Threshold", F);
        Threshold {
            probability: t.f(0),
            score: t.f(1),
            policy: t.s(2),
            description: t.s(3),
        }
    };
    let age_policy = {
        const F: &[&str] = &[
            "elderly_age",
            "enforced",
            "adjusted_bins",
            "min_elderly_points",
            "max_younger_points",
            "suppress_reason_for_elderly",
        ];
        let a = Fields::of(cx, f.get(10), "AgePolicy", F);
        AgePolicy {
            elderly_age: a.f(0),
            enforced: a.b(1),
            adjusted_bins: a.u32(2),
            min_elderly_points: a.f(3),
            max_younger_points: a.f(4),
            suppress_reason_for_elderly: a.b(5),
        }
    };
    let training = {
        const F: &[&str] = &[
            "method",
            "max_bins",
            "min_bin_count",
            "l2_alpha",
            "folds",
            "max_iterations",
            "monotone_increasing_risk",
        ];
        let t = Fields::of(cx, f.get(11), "TrainingConfigRecord", F);
        TrainingConfigRecord {
            method: t.s(0),
            max_bins: t.u32(1),
            min_bin_count: t.u(2),
            l2_alpha: t.f(3),
            folds: t.u32(4),
            max_iterations: t.u(5),
            monotone_increasing_risk: list(cx, t.get(6), text),
        }
    };
    let model_metrics = {
        const F: &[&str] = &[
            "cv",
            "cv_auc_mean",
            "cv_auc_std",
            "folds",
            "train",
            "calibration",
        ];
        let m = Fields::of(cx, f.get(12), "ModelMetrics", F);
        ModelMetrics {
            cv: metrics(cx, m.get(0)),
            cv_auc_mean: m.f(1),
            cv_auc_std: m.f(2),
            folds: list(cx, m.get(3), metrics),
            train: metrics(cx, m.get(4)),
            calibration: list(cx, m.get(5), calibration_bin),
        }
    };
    ModelArtifact {
        format: f.s(0),
        format_version: f.u32(1),
        model_id: f.s(2),
        model_version: f.s(3),
        created_by: f.s(4),
        training_data,
        intercept: f.f(6),
        features: list(cx, f.get(7), feature),
        scaling,
        threshold,
        age_policy,
        training,
        metrics: model_metrics,
        score_distribution: score_distribution(cx, f.opt(13)),
        interactions: interactions(cx, f.opt(14)),
        checksum: match f.opt(15) {
            None | Some(Node::Null) => None,
            Some(c) => Some(cx.ok(string(c))),
        },
    }
}

/// The artifact's `format` and `format_version` as the header pass of
/// [`ModelArtifact::from_json`] reads them: a derived `struct { format: Option<String>,
/// format_version: Option<u32> }` without `deny_unknown_fields`.
pub(crate) struct Header {
    pub format: Option<String>,
    pub format_version: Option<u32>,
}

/// That derived struct's visitor, written out (one less set of derived visitors in the
/// `.wasm`). Like the derive: an object in which each of the two keys may appear once and
/// every other key's value is skipped unparsed (`IgnoredAny`: syntax checked, numbers not
/// converted, any depth), or an array of exactly the two values; `null` is `None`.
struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = (Option<Node>, Option<Node>);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct Header")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut format, mut version) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            let slot = match key.as_str() {
                "format" => &mut format,
                "format_version" => &mut version,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if slot.is_some() {
                return Err(A::Error::custom(format_args!("duplicate field `{key}`")));
            }
            *slot = Some(map.next_value::<Node>()?);
        }
        Ok((format, version))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let short = || A::Error::custom("invalid length, expected struct Header with 2 elements");
        let format = seq.next_element::<Node>()?.ok_or_else(short)?;
        let version = seq.next_element::<Node>()?.ok_or_else(short)?;
        Ok((Some(format), Some(version)))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom("invalid type: null, expected struct Header"))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(E::custom("invalid type: a boolean, expected struct Header"))
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(E::custom("invalid type: a number, expected struct Header"))
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(E::custom("invalid type: a number, expected struct Header"))
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(E::custom("invalid type: a number, expected struct Header"))
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(E::custom("invalid type: a string, expected struct Header"))
    }
}

/// The header pass of the lite reader: the same verdicts as the derived one.
pub(crate) fn header(text: &str) -> Result<Header, ModelError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let (format, version) = de.deserialize_any(HeaderVisitor)?;
    de.end()?;
    let opt = |n: Option<Node>, read: fn(&Node) -> Res<_>| match n {
        None | Some(Node::Null) => Ok(None),
        Some(n) => read(&n).map(Some),
    };
    Ok(Header {
        format: opt(format, string)?,
        format_version: match version {
            None | Some(Node::Null) => None,
            Some(n) => Some(uint32(&n)?),
        },
    })
}

/// Parses the artifact's JSON text into the typed artifact (no checksum or validation here).
pub(crate) fn parse(text: &str) -> Result<ModelArtifact, ModelError> {
    let tree: Node = serde_json::from_str(text)?;
    let cx = Cx::default();
    let f = Fields::of(&cx, &tree, "ModelArtifact", &ARTIFACT_FIELDS);
    if let Some(e) = cx.0.take() {
        return Err(e.into());
    }
    // A build without the `interactions` feature refuses a document with pairs here: after
    // the top level's keys are checked (unknown or repeated ones are a JSON error first),
    // before any field is read. The serde reader makes the same test (`cells::check_text`).
    if !crate::SCORES_INTERACTIONS
        && matches!(f.opt(14), Some(Node::Arr(items)) if !items.is_empty())
    {
        return Err(crate::cells::refused());
    }
    let a = artifact(&f);
    Ok(cx.finish(a)?)
}

/// The compact JSON that `serde_json::to_vec` makes of an artifact (without its checksum):
/// the derive's field order and `skip_serializing_if` rules are spelled out here, and scalars
/// are written as serde_json writes them ([`JsonWriter`]), so that neither the derived
/// `Serialize` nor serde_json's serializer is linked into the `.wasm`. The tests compare the
/// bytes with serde_json's.
impl JsonWriter {
    fn bin(&mut self, key: Option<&str>, b: &Bin) {
        self.next(key);
        self.open("{");
        self.str("label", &b.label);
        self.f64("logit", b.logit);
        self.f64("points", b.points);
        self.u64("count", b.count);
        self.u64("events", b.events);
        self.f64("event_rate", b.event_rate);
        self.close("}")
    }

    fn metrics(&mut self, key: Option<&str>, m: &Metrics) {
        self.next(key);
        self.open("{");
        self.u64("rows", m.rows);
        self.u64("positives", m.positives);
        self.f64("auc", m.auc);
        self.f64("gini", m.gini);
        self.f64("ks", m.ks);
        self.f64("brier", m.brier);
        self.f64("log_loss", m.log_loss);
        self.close("}")
    }

    fn feature(&mut self, c: &FeatureCard) {
        self.next(None);
        self.open("{");
        self.str("name", &c.name);
        self.str("reason_code", &c.reason_code);
        self.str("reason_text", &c.reason_text);
        self.f64s("edges", &c.edges);
        self.next(Some("range_bins"));
        self.open("[");
        for b in &c.range_bins {
            self.bin(None, b);
        }
        self.close("]");
        if let Some(b) = &c.missing_bin {
            self.bin(Some("missing_bin"), b);
        }
        if !c.special_bins.is_empty() {
            self.next(Some("special_bins"));
            self.open("[");
            for sb in &c.special_bins {
                self.next(None);
                self.open("{");
                self.f64s("codes", &sb.codes);
                self.bin(Some("bin"), &sb.bin);
                self.close("}");
            }
            self.close("]");
        }
        self.close("}")
    }

    #[cfg(feature = "interactions")]
    fn interaction(&mut self, x: &Interaction) {
        self.next(None);
        self.open("{");
        self.next(Some("features"));
        self.open("[");
        for name in &x.features {
            self.next(None);
            self.string(name);
        }
        self.close("]");
        self.next(Some("groups"));
        self.open("[");
        for g in &x.groups {
            self.next(None);
            self.open("[");
            for &v in g {
                self.next(None);
                self.raw(&u64::from(v).to_string());
            }
            self.close("]");
        }
        self.close("]");
        self.next(Some("group_labels"));
        self.open("[");
        for labels in &x.group_labels {
            self.next(None);
            self.open("[");
            for l in labels {
                self.next(None);
                self.string(l);
            }
            self.close("]");
        }
        self.close("]");
        self.next(Some("cells"));
        self.open("[");
        for c in &x.cells {
            self.bin(None, c);
        }
        self.close("]");
        self.close("}")
    }

    /// Never reached without the `interactions` feature (see the reader's `interaction`).
    #[cfg(not(feature = "interactions"))]
    fn interaction(&mut self, _: &Interaction) {}

    fn artifact(&mut self, a: &ModelArtifact) {
        self.open("{");
        self.str("format", &a.format);
        self.u64("format_version", a.format_version.into());
        self.str("model_id", &a.model_id);
        self.str("model_version", &a.model_version);
        self.str("created_by", &a.created_by);

        let d = &a.training_data;
        self.next(Some("training_data"));
        self.open("{");
        self.str("sha256", &d.sha256);
        self.u64("rows", d.rows);
        self.u64("positives", d.positives);
        self.u64("rows_excluded", d.rows_excluded);
        self.str("label", &d.label);
        self.close("}");

        self.f64("intercept", a.intercept);
        self.next(Some("features"));
        self.open("[");
        for c in &a.features {
            self.feature(c);
        }
        self.close("]");

        let s = &a.scaling;
        self.next(Some("scaling"));
        self.open("{");
        self.f64("base_score", s.base_score);
        self.f64("base_odds", s.base_odds);
        self.f64("pdo", s.pdo);
        self.str("odds_direction", &s.odds_direction);
        self.f64("factor", s.factor);
        self.f64("offset", s.offset);
        self.close("}");

        let t = &a.threshold;
        self.next(Some("threshold"));
        self.open("{");
        self.f64("probability", t.probability);
        self.f64("score", t.score);
        self.str("policy", &t.policy);
        self.str("description", &t.description);
        self.close("}");

        let p = &a.age_policy;
        self.next(Some("age_policy"));
        self.open("{");
        self.f64("elderly_age", p.elderly_age);
        self.bool("enforced", p.enforced);
        self.u64("adjusted_bins", p.adjusted_bins.into());
        self.f64("min_elderly_points", p.min_elderly_points);
        self.f64("max_younger_points", p.max_younger_points);
        self.bool("suppress_reason_for_elderly", p.suppress_reason_for_elderly);
        self.close("}");

        let t = &a.training;
        self.next(Some("training"));
        self.open("{");
        self.str("method", &t.method);
        self.u64("max_bins", t.max_bins.into());
        self.u64("min_bin_count", t.min_bin_count);
        self.f64("l2_alpha", t.l2_alpha);
        self.u64("folds", t.folds.into());
        self.u64("max_iterations", t.max_iterations);
        self.next(Some("monotone_increasing_risk"));
        self.open("[");
        for name in &t.monotone_increasing_risk {
            self.next(None);
            self.string(name);
        }
        self.close("]");
        self.close("}");

        let m = &a.metrics;
        self.next(Some("metrics"));
        self.open("{");
        self.metrics(Some("cv"), &m.cv);
        self.f64("cv_auc_mean", m.cv_auc_mean);
        self.f64("cv_auc_std", m.cv_auc_std);
        self.next(Some("folds"));
        self.open("[");
        for fold in &m.folds {
            self.metrics(None, fold);
        }
        self.close("]");
        self.metrics(Some("train"), &m.train);
        self.next(Some("calibration"));
        self.open("[");
        for c in &m.calibration {
            self.next(None);
            self.open("{");
            self.u64("rows", c.rows);
            self.f64("mean_predicted", c.mean_predicted);
            self.f64("observed_rate", c.observed_rate);
            self.f64("min_predicted", c.min_predicted);
            self.f64("max_predicted", c.max_predicted);
            self.close("}");
        }
        self.close("]");
        self.close("}");
        if let Some(d) = &a.score_distribution {
            self.next(Some("score_distribution"));
            self.open("{");
            self.f64s("edges", &d.edges);
            self.u64s("counts", &d.counts);
            self.u64s("events", &d.events);
            self.close("}");
        }
        if !a.interactions.is_empty() {
            self.next(Some("interactions"));
            self.open("[");
            for x in &a.interactions {
                self.interaction(x);
            }
            self.close("]");
        }
        self.close("}")
    }
}

/// The bytes [`checksum`] hashes: what `serde_json::to_vec` makes of the artifact without its
/// checksum.
pub(crate) fn canonical_json(a: &ModelArtifact) -> Vec<u8> {
    let mut c = JsonWriter::with_capacity(64 * 1024);
    c.artifact(a);
    c.finish().into_bytes()
}

/// `sha256:<hex>` of the artifact's canonical JSON without its checksum: the same value as
/// [`ModelArtifact::compute_checksum`], without the derived `Serialize`.
pub(crate) fn checksum(a: &ModelArtifact) -> Result<String, ModelError> {
    let digest = Sha256::digest(canonical_json(a));
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in digest {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    //! Both readers side by side on the shipped model and on mutated copies of it: the same
    //! artifact or the same error variant (with the same checksums, formats and versions).

    use super::*;
    use proptest::prelude::*;

    /// The shipped model; a build without cells cannot read it and takes the additive one
    /// shipped until 1.1.0.
    #[cfg(feature = "interactions")]
    const MODEL: &str = include_str!("../../model/default.json");
    #[cfg(not(feature = "interactions"))]
    const MODEL: &str = include_str!("../../tests/data/additive-1.0.0.json");

    /// An error as a comparable verdict: its variant and, where both readers must agree on
    /// them exactly, its values. Messages of malformed documents may differ.
    fn verdict(r: &Result<ModelArtifact, ModelError>) -> String {
        match r {
            Ok(_) => "ok".into(),
            Err(ModelError::Json(_)) => "json".into(),
            Err(ModelError::ChecksumMismatch { stored, computed }) => {
                format!("checksum {stored} {computed}")
            }
            Err(other @ ModelError::Invalid(_))
            | Err(other @ ModelError::BadFeature { .. })
            | Err(other @ ModelError::MissingFeature(_))
            | Err(other @ ModelError::UnexpectedFeature(_))
            | Err(other @ ModelError::WrongFormat { .. })
            | Err(other @ ModelError::WrongFormatVersion { .. })
            | Err(other @ ModelError::MissingChecksum) => other.to_string(),
        }
    }

    /// Both readers agree on `text`; returns the verdict.
    fn same(text: &str) -> String {
        let a = ModelArtifact::from_json(text);
        let b = ModelArtifact::from_json_lite(text);
        let (va, vb) = (verdict(&a), verdict(&b));
        assert_eq!(
            va,
            vb,
            "readers disagree on:\n{}",
            &text[..text.len().min(300)]
        );
        if let (Ok(a), Ok(b)) = (&a, &b) {
            assert_eq!(a, b);
            for (x, y) in a.features.iter().zip(&b.features) {
                for (p, q) in x.edges.iter().zip(&y.edges) {
                    assert_eq!(p.to_bits(), q.to_bits());
                }
            }
        }
        va
    }

    /// `text` with its stored checksum replaced by the one the serde path computes, so that
    /// a mutation reaches the structural checks.
    fn rechecksum(text: &str) -> String {
        match ModelArtifact::from_json(text) {
            Err(ModelError::ChecksumMismatch { stored, computed }) => {
                text.replacen(&stored, &computed, 1)
            }
            _ => text.to_owned(),
        }
    }

    fn replace_once(text: &str, from: &str, to: &str) -> String {
        assert!(text.contains(from), "{from} not in the model");
        text.replacen(from, to, 1)
    }

    #[test]
    fn shipped_model_reads_the_same_and_checksums_the_same_bytes() {
        assert_eq!(same(MODEL), "ok");
        let a = ModelArtifact::from_json_lite(MODEL).unwrap();
        let mut bare = a.clone();
        bare.checksum = None;
        assert_eq!(canonical_json(&a), serde_json::to_vec(&bare).unwrap());
        assert_eq!(checksum(&a).unwrap(), a.compute_checksum().unwrap());
        let h = header(MODEL).unwrap();
        assert_eq!(h.format.as_deref(), Some(crate::artifact::FORMAT));
        // Version 3 for a model with cells (the shipped one), 2 for the additive one a build
        // without cells tests with.
        let want = if a.interactions.is_empty() {
            crate::artifact::SCORE_DISTRIBUTION_VERSION
        } else {
            crate::artifact::INTERACTIONS_VERSION
        };
        assert_eq!(h.format_version, Some(want));
    }

    /// The shipped model as it was before `score_distribution` existed (format version 1).
    const MODEL_V1: &str = include_str!("../../tests/data/model-v1.json");

    #[test]
    fn version_1_artifact_reads_alike_and_keeps_its_checksum() {
        assert_eq!(same(MODEL_V1), "ok");
        let a = ModelArtifact::from_json(MODEL_V1).unwrap();
        assert_eq!(a.format_version, 1);
        assert!(a.score_distribution.is_none());
        let stored = a.checksum.clone().unwrap();
        assert_eq!(a.compute_checksum().unwrap(), stored);
        assert_eq!(checksum(&a).unwrap(), stored);
        // Written back unchanged, byte for byte.
        assert_eq!(a.to_json().unwrap(), MODEL_V1);
    }

    #[test]
    fn score_distribution_round_trips_through_both_readers() {
        let a = ModelArtifact::from_json(MODEL).unwrap();
        assert!(a.format_version >= crate::artifact::SCORE_DISTRIBUTION_VERSION);
        let d = a.score_distribution.clone().unwrap();
        assert_eq!(d.edges, ScoreDistribution::standard_edges());
        assert_eq!(d.counts.len(), d.edges.len() + 1);
        assert_eq!(d.counts.iter().sum::<u64>(), a.metrics.cv.rows);
        assert_eq!(d.events.iter().sum::<u64>(), a.metrics.cv.positives);
        let text = a.to_json().unwrap();
        assert_eq!(text, MODEL);
        let b = ModelArtifact::from_json_lite(&text).unwrap();
        assert_eq!(b, a);
        let mut bare = a.clone();
        bare.checksum = None;
        assert_eq!(canonical_json(&a), serde_json::to_vec(&bare).unwrap());
    }

    /// The shipped model with interaction cells (`crate::fixture`), as `to_json` writes it.
    fn cells_model() -> String {
        let a = ModelArtifact::from_json(MODEL).unwrap();
        crate::fixture::with_interactions(&a).to_json().unwrap()
    }

    #[test]
    #[cfg(feature = "interactions")]
    fn cells_model_reads_alike_and_checksums_the_same_bytes() {
        let text = cells_model();
        assert_eq!(same(&text), "ok");
        let a = ModelArtifact::from_json_lite(&text).unwrap();
        assert_eq!(a.interactions.len(), 3);
        let mut bare = a.clone();
        bare.checksum = None;
        assert_eq!(canonical_json(&a), serde_json::to_vec(&bare).unwrap());
        assert_eq!(checksum(&a).unwrap(), a.compute_checksum().unwrap());
    }

    /// A number no f64 holds after a non-empty cells section (here the checksum, the last field)
    /// is a JSON error for both readers; in a build without cells the serde path's pre-check
    /// skipped it unparsed and refused the pairs instead (proptest found it).
    #[test]
    fn out_of_range_number_after_the_cells_is_a_json_error() {
        let text = cells_model();
        let at = text.rfind("\"checksum\"").unwrap();
        let end = at + text[at..].find('\n').unwrap();
        let text = format!("{}\"checksum\": 1e400{}", &text[..at], &text[end..]);
        assert_eq!(same(&text), "json");
    }

    /// Documents with cells, well- and ill-formed: both readers give the same verdict, and the
    /// table reaches acceptance, JSON-level refusals and each kind of validation refusal (in a
    /// build without cells: the one refusal of every document that has pairs).
    #[test]
    fn table_of_interaction_documents() {
        let text = cells_model();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mutate = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = v.clone();
            f(&mut v);
            rechecksum(&serde_json::to_string_pretty(&v).unwrap())
        };
        let x = |v: &mut serde_json::Value| v["interactions"][0].take();
        use serde_json::json;
        let mut cases = vec![text.clone()];
        type Edit = Box<dyn Fn(&mut serde_json::Value)>;
        let edits: Vec<Edit> = vec![
            // JSON shapes (serde's rules for `[T; 2]`, `u16`, `Vec`, structs).
            Box::new(|v| v["interactions"] = json!(null)),
            Box::new(|v| v["interactions"] = json!({})),
            Box::new(|v| v["interactions"] = json!([])),
            Box::new(|v| v["interactions"][0]["features"] = json!(["DebtRatio"])),
            Box::new(|v| {
                v["interactions"][0]["features"] = json!(["DebtRatio", "MonthlyIncome", "age"])
            }),
            Box::new(|v| v["interactions"][0]["features"] = json!({"0": "a", "1": "b"})),
            Box::new(|v| v["interactions"][0]["groups"][0][0] = json!(-1)),
            Box::new(|v| v["interactions"][0]["groups"][0][0] = json!(65536)),
            Box::new(|v| v["interactions"][0]["groups"][0][0] = json!(65535)),
            Box::new(|v| v["interactions"][0]["groups"][0][0] = json!(1.0)),
            Box::new(|v| v["interactions"][0]["groups"][0][0] = json!("0")),
            Box::new(|v| v["interactions"][0]["groups"] = json!([[0]])),
            Box::new(|v| v["interactions"][0]["group_labels"][1] = json!("x")),
            Box::new(|v| v["interactions"][0]["group_labels"][1][0] = json!(1)),
            Box::new(|v| v["interactions"][0]["cells"] = json!(null)),
            Box::new(|v| v["interactions"][0]["cells"][0]["count"] = json!(-1)),
            Box::new(|v| v["interactions"][0]["extra"] = json!(1)),
            Box::new(|v| {
                v["interactions"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("cells");
            }),
            // An interaction given as an array of its fields, whole and cut short.
            Box::new(move |v| {
                let i = x(v);
                v["interactions"][0] =
                    json!([i["features"], i["groups"], i["group_labels"], i["cells"]]);
            }),
            Box::new(move |v| {
                let i = x(v);
                v["interactions"][0] = json!([i["features"], i["groups"]]);
            }),
            // Structure (reaches `validate`).
            Box::new(|v| v["format_version"] = json!(2)),
            Box::new(|v| v["format_version"] = json!(1)),
            Box::new(|v| v["interactions"][1]["features"][0] = json!("age")),
            Box::new(|v| v["interactions"][1]["features"][0] = json!("Income")),
            Box::new(|v| v["interactions"][1]["features"][1] = json!("DebtRatio")),
            Box::new(|v| v["interactions"][2]["groups"][1][0] = json!(9)),
            Box::new(|v| v["interactions"][2]["groups"][1][0] = json!(40)),
            Box::new(|v| {
                v["interactions"][2]["group_labels"][0]
                    .as_array_mut()
                    .unwrap()
                    .pop();
            }),
            Box::new(|v| {
                v["interactions"][2]["cells"].as_array_mut().unwrap().pop();
            }),
            Box::new(|v| v["interactions"][2]["cells"][0]["logit"] = json!(51.0)),
            Box::new(|v| v["interactions"][2]["cells"][0]["points"] = json!(1.0)),
            Box::new(|v| {
                let dup = v["interactions"][0].clone();
                v["interactions"].as_array_mut().unwrap().push(dup);
            }),
        ];
        for f in &edits {
            cases.push(mutate(&**f));
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in &cases {
            let verdict = same(c);
            seen.insert(verdict.split(':').next().unwrap_or("").to_owned());
            seen.insert(verdict);
        }
        assert!(seen.contains("ok") && seen.contains("json"), "{seen:?}");
        let refusals = seen.iter().filter(|s| s.contains("interactions")).count();
        if crate::SCORES_INTERACTIONS {
            assert!(refusals >= 8, "{seen:?}");
        } else {
            let only = format!("model artifact: {}", super::super::NO_CELLS_IN_THIS_BUILD);
            assert!(seen.contains(&only), "{seen:?}");
            assert_eq!(refusals, 1, "{seen:?}");
        }
    }

    #[test]
    fn non_finite_score_edges_are_refused_by_validation() {
        let mut a = ModelArtifact::from_json(MODEL).unwrap();
        if let Some(d) = a.score_distribution.as_mut() {
            d.edges[3] = f64::NAN;
        }
        let err = a.validate().unwrap_err().to_string();
        assert!(err.contains("score_distribution.edges"), "{err}");
    }

    /// Both readers on artifacts with, without and with broken `score_distribution` sections.
    #[test]
    fn broken_score_distributions_get_the_same_verdict() {
        let v: serde_json::Value = serde_json::from_str(MODEL).unwrap();
        let mutate = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = v.clone();
            f(&mut v);
            rechecksum(&serde_json::to_string_pretty(&v).unwrap())
        };
        let sd = |v: &mut serde_json::Value| v["score_distribution"].clone();
        let ok = [
            mutate(&|v| {
                v.as_object_mut().unwrap().remove("score_distribution");
            }),
            mutate(&|v| v["score_distribution"] = serde_json::Value::Null),
            mutate(&|v| {
                let d = sd(v);
                v["score_distribution"] = serde_json::json!([d["edges"], d["counts"], d["events"]]);
            }),
        ];
        for text in &ok {
            assert_eq!(same(text), "ok");
        }
        let refused: Vec<(String, &str)> = vec![
            // The section in a version-1 document (a version-1 reader would refuse it).
            (
                mutate(&|v| v["format_version"] = 1.into()),
                "needs format_version 2 or later",
            ),
            (
                mutate(&|v| v["format_version"] = 4.into()),
                "format version 4",
            ),
            (
                mutate(&|v| v["score_distribution"]["edges"][1] = 399.0.into()),
                "strictly increasing",
            ),
            (
                mutate(&|v| v["score_distribution"]["edges"][1] = 400.0.into()),
                "strictly increasing",
            ),
            (
                mutate(&|v| {
                    v["score_distribution"]["edges"] = serde_json::json!([]);
                    v["score_distribution"]["counts"] = serde_json::json!([119999]);
                    v["score_distribution"]["events"] = serde_json::json!([8021]);
                }),
                "at least one edge",
            ),
            (
                mutate(&|v| {
                    v["score_distribution"]["counts"]
                        .as_array_mut()
                        .unwrap()
                        .pop();
                }),
                "one entry per band",
            ),
            (
                mutate(&|v| {
                    v["score_distribution"]["events"]
                        .as_array_mut()
                        .unwrap()
                        .push(0.into());
                }),
                "one entry per band",
            ),
            (
                mutate(&|v| {
                    let c = v["score_distribution"]["counts"][20].as_u64().unwrap();
                    v["score_distribution"]["counts"][20] = (c + 1).into();
                }),
                "used training rows",
            ),
            (
                mutate(&|v| {
                    let e = v["score_distribution"]["events"][20].as_u64().unwrap();
                    v["score_distribution"]["events"][20] = (e + 1).into();
                }),
                "metrics.cv.positives",
            ),
            (
                mutate(&|v| {
                    let c = v["score_distribution"]["counts"][0].clone();
                    v["score_distribution"]["events"][0] = (c.as_u64().unwrap() + 1).into();
                }),
                "more events than rows",
            ),
            (
                mutate(&|v| {
                    v["score_distribution"]["counts"][31] = u64::MAX.into();
                    v["score_distribution"]["counts"][30] = u64::MAX.into();
                }),
                "used training rows",
            ),
        ];
        for (text, want) in &refused {
            let verdict = same(text);
            assert!(verdict.contains(want), "{want}: {verdict}");
        }
        // Malformed sections: wrong types, negative or fractional counts, NaN, unknown or
        // duplicated keys. Refused by both readers as JSON errors.
        let json_errors = [
            mutate(&|v| v["score_distribution"]["counts"][3] = (-1).into()),
            mutate(&|v| v["score_distribution"]["counts"][3] = 2.5.into()),
            mutate(&|v| v["score_distribution"]["events"][3] = "5".into()),
            mutate(&|v| v["score_distribution"]["edges"][3] = "NaN".into()),
            mutate(&|v| v["score_distribution"]["edges"][3] = serde_json::Value::Null),
            mutate(&|v| v["score_distribution"]["extra"] = 1.into()),
            mutate(&|v| {
                v["score_distribution"]
                    .as_object_mut()
                    .unwrap()
                    .remove("events");
            }),
            mutate(&|v| v["score_distribution"] = serde_json::json!([[400.0]])),
            mutate(&|v| v["score_distribution"] = 1.into()),
            replace_once(MODEL, "\"counts\": [", "\"counts\": [], \"counts\": ["),
            replace_once(MODEL, "\"events\": [\n", "\"events\": [NaN, \n"),
        ];
        for text in &json_errors {
            assert_eq!(
                same(text),
                "json",
                "{}",
                &text[text.len().saturating_sub(300)..]
            );
        }
    }

    #[test]
    fn numbers_written_differently_are_the_same_artifact() {
        // The checksum is over the canonical form, so `0.5`, `5e-1` and `5.0E-1` all match it.
        let re_num = |t: &str, f: &dyn Fn(f64) -> String| {
            let mut out = String::new();
            let mut rest = t;
            while let Some(i) = rest.find("\"logit\": ") {
                let (head, tail) = rest.split_at(i + 9);
                out.push_str(head);
                let end = tail.find([',', '\n', '}']).unwrap();
                let x: f64 = tail[..end].trim().parse().unwrap();
                out.push_str(&f(x));
                rest = &tail[end..];
            }
            out.push_str(rest);
            out
        };
        for f in [
            &(|x: f64| format!("{x:e}")) as &dyn Fn(f64) -> String,
            &|x: f64| format!("{x:E}"),
            &|x: f64| format!("{x:.30}"),
            &|x: f64| format!("{x:.2}"),
        ] {
            let t = re_num(MODEL, f);
            assert_ne!(t, MODEL);
            same(&t);
        }
        // Exact digits, other spellings: accepted by both.
        assert_eq!(same(&re_num(MODEL, &|x: f64| format!("{x:e}"))), "ok");
        assert_eq!(same(&re_num(MODEL, &|x: f64| format!("{x:E}"))), "ok");
    }

    #[test]
    fn table_of_nasty_inputs() {
        let mut cases: Vec<String> =
            vec![
            String::new(),
            " ".into(),
            "null".into(),
            "1".into(),
            "\"credit-default/scorecard\"".into(),
            "[]".into(),
            "{}".into(),
            "[\"credit-default/scorecard\"]".into(),
            "[\"credit-default/scorecard\", 1]".into(),
            "[\"credit-default/scorecard\", 2]".into(),
            "[\"other\", 1]".into(),
            "[null, null]".into(),
            "[\"credit-default/scorecard\", 1, 3]".into(),
            "[\"credit-default/scorecard\", -1]".into(),
            "[\"credit-default/scorecard\", 1.0]".into(),
            "{\"format\": \"x\"}".into(),
            "{\"format\": null, \"format_version\": 1}".into(),
            "{\"format\": \"credit-default/scorecard\", \"format_version\": 2}".into(),
            "{\"format\": \"credit-default/scorecard\", \"format_version\": 4294967296}".into(),
            "{\"format\": \"credit-default/scorecard\", \"format_version\": \"1\"}".into(),
            "{\"format\": \"credit-default/scorecard\", \"format_version\": 1}".into(),
            "{\"format\": \"credit-default/scorecard\", \"format\": \"credit-default/scorecard\"}"
                .into(),
            "{\"format\": 1, \"format_version\": 1}".into(),
            "{\"format\": \"x\", \"x\": 1e400}".into(),
            "{\"format\": \"x\", \"x\": \"\\ud800\"}".into(),
            format!("{{\"format\": \"x\", \"deep\": {}{}}}", "[".repeat(300), "]".repeat(300)),
            format!("{{\"deep\": {}{}, \"format\": \"x\"}}", "[".repeat(300), "]".repeat(300)),
            "{\"format\": \"x\"} trailing".into(),
            "{\"format\": \"x\",}".into(),
        ];
        // Truncated text.
        for cut in (0..MODEL.len()).step_by(4099).chain([MODEL.len() - 2]) {
            cases.push(MODEL[..cut].to_owned());
        }
        // Wrong types, NaN-ish and huge numbers, out-of-range integers.
        for v in [
            "\"1\"",
            "1.0",
            "-1",
            "null",
            "4294967297",
            "1e0",
            "true",
            "[1]",
            "{}",
        ] {
            cases.push(replace_once(
                MODEL,
                &format!(
                    "\"format_version\": {}",
                    header(MODEL).unwrap().format_version.unwrap()
                ),
                &format!("\"format_version\": {v}"),
            ));
        }
        let intercept = &MODEL[MODEL.find("\"intercept\": ").unwrap()..];
        let intercept = &intercept[..intercept.find(',').unwrap()];
        for v in [
            "\"NaN\"",
            "\"Infinity\"",
            "NaN",
            "Infinity",
            "1e400",
            "-1e400",
            "1e-400",
            "-0",
            "-0.0",
            "null",
            "\"0.5\"",
            "123456789012345678901234567890",
            "18446744073709551616",
            "-9223372036854775809",
            "0",
            "1",
            "-1",
        ] {
            cases.push(replace_once(
                MODEL,
                intercept,
                &format!("\"intercept\": {v}"),
            ));
        }
        let count = &MODEL[MODEL.find("\"count\": ").unwrap()..];
        let count = &count[..count.find(',').unwrap()];
        for v in [
            "18446744073709551615",
            "18446744073709551616",
            "-0",
            "-1",
            "2.0",
            "1e2",
            "\"5\"",
            "null",
            "0",
        ] {
            cases.push(replace_once(MODEL, count, &format!("\"count\": {v}")));
        }
        let max_bins = &MODEL[MODEL.find("\"max_bins\": ").unwrap()..];
        let max_bins = &max_bins[..max_bins.find(',').unwrap()];
        for v in ["4294967295", "4294967296", "-1", "64.0"] {
            cases.push(replace_once(MODEL, max_bins, &format!("\"max_bins\": {v}")));
        }
        // Duplicate keys, extra fields, missing fields, defaults.
        cases.push(replace_once(MODEL, "{", "{\"model_id\": \"x\", "));
        cases.push(replace_once(
            MODEL,
            "{",
            "{\"format\": \"credit-default/scorecard\", ",
        ));
        cases.push(replace_once(MODEL, "{", "{\"extra\": 1, "));
        cases.push(replace_once(MODEL, "{", "{\"checksum\": null, "));
        cases.push(replace_once(
            MODEL,
            "\"label\": ",
            "\"label\": \"x\", \"label\": ",
        ));
        cases.push(replace_once(
            MODEL,
            "\"label\": ",
            "\"extra\": 1, \"label\": ",
        ));
        cases.push(replace_once(
            MODEL,
            "\"logit\": ",
            "\"logit\": 0, \"logit\": ",
        ));
        cases.push(replace_once(MODEL, "\"enforced\": true", "\"enforced\": 1"));
        cases.push(replace_once(
            MODEL,
            "\"enforced\": true",
            "\"enforced\": \"true\"",
        ));
        let ck = &MODEL[MODEL.find("\"checksum\": ").unwrap()..];
        let ck =
            &ck[..ck.find('"').unwrap() + 1 + ck[ck.find('"').unwrap() + 1..].find('"').unwrap()];
        let ck_line = &MODEL[MODEL.find("\"checksum\": ").unwrap()..];
        let ck_line = &ck_line[..ck_line.find('\n').unwrap_or(ck_line.len())];
        cases.push(replace_once(MODEL, ck_line, "\"checksum\": null"));
        cases.push(replace_once(MODEL, ck_line, "\"checksum\": 1"));
        cases.push(replace_once(MODEL, ck_line, "\"checksum\": \"sha256:00\""));
        let _ = ck;
        cases.push(replace_once(
            MODEL,
            "\"special_bins\": [",
            "\"special_bins\": null, \"x\": [",
        ));
        // Re-checksummed structural mutations (reach `validate`).
        let v: serde_json::Value = serde_json::from_str(MODEL).unwrap();
        let mutate = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = v.clone();
            f(&mut v);
            rechecksum(&serde_json::to_string_pretty(&v).unwrap())
        };
        cases.push(mutate(&|v| v["features"][0]["edges"][0] = 1e9.into()));
        cases.push(mutate(&|v| {
            v["features"][0]["range_bins"][0]["logit"] = 99.0.into()
        }));
        cases.push(mutate(&|v| v["features"][1]["name"] = "x".into()));
        cases.push(mutate(&|v| {
            v["features"].as_array_mut().unwrap().swap(0, 1)
        }));
        cases.push(mutate(&|v| {
            v["features"].as_array_mut().unwrap().pop();
        }));
        cases.push(mutate(&|v| {
            let f = v["features"][0].clone();
            v["features"].as_array_mut().unwrap().push(f);
        }));
        cases.push(mutate(&|v| v["threshold"]["probability"] = 1.0.into()));
        cases.push(mutate(&|v| v["scaling"]["factor"] = (-1.0).into()));
        cases.push(mutate(&|v| v["intercept"] = 51.0.into()));
        cases.push(mutate(&|v| {
            v["features"][4]
                .as_object_mut()
                .unwrap()
                .remove("missing_bin");
        }));
        cases.push(mutate(&|v| {
            v["features"][2]
                .as_object_mut()
                .unwrap()
                .remove("special_bins");
        }));
        cases.push(mutate(&|v| {
            v["features"][2]["special_bins"][0]["codes"] = serde_json::json!([97.0, 1e-7, 2e20])
        }));
        cases.push(mutate(&|v| {
            v["features"][0]["special_bins"] = serde_json::json!([])
        }));
        cases.push(mutate(&|v| {
            v["model_id"] = "tab\t\u{1} quote\" \\ é 😀 \u{7f}".into()
        }));
        cases.push(mutate(&|v| v["metrics"]["cv"]["auc"] = 1e-7.into()));
        cases.push(mutate(&|v| v["metrics"]["cv"]["auc"] = 1e21.into()));
        cases.push(mutate(&|v| v["metrics"]["cv"]["auc"] = (-0.0).into()));
        // A nested struct given as an array of its fields (serde derive accepts that too).
        cases.push(mutate(&|v| {
            let s = v["scaling"].as_object().unwrap();
            let arr: Vec<serde_json::Value> = [
                "base_score",
                "base_odds",
                "pdo",
                "odds_direction",
                "factor",
                "offset",
            ]
            .iter()
            .map(|k| s[*k].clone())
            .collect();
            v["scaling"] = arr.into();
        }));
        cases.push(mutate(&|v| {
            let b = v["features"][4]["missing_bin"].clone();
            let arr: Vec<serde_json::Value> =
                ["label", "logit", "points", "count", "events", "event_rate"]
                    .iter()
                    .map(|k| b[*k].clone())
                    .collect();
            v["features"][4]["missing_bin"] = arr.into();
        }));
        cases.push(mutate(&|v| v["scaling"] = serde_json::json!([600.0])));
        let mut seen = std::collections::BTreeSet::new();
        for c in &cases {
            seen.insert(same(c).split(' ').next().unwrap_or("").to_owned());
        }
        // The table reaches the accepting path and several kinds of refusal.
        assert!(seen.len() >= 5, "{seen:?}");
    }

    /// Scalars of the model text (numbers, strings, literals), where mutations go.
    fn scalar_spans(text: &str) -> Vec<(usize, usize)> {
        let b = text.as_bytes();
        let mut spans = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    let start = i;
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    spans.push((start, i + 1));
                    i += 1;
                }
                b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                    let start = i;
                    while i < b.len() && !b",]}\n ".contains(&b[i]) {
                        i += 1;
                    }
                    spans.push((start, i));
                }
                _ => i += 1,
            }
        }
        spans
    }

    const TOKENS: &[&str] = &[
        "null",
        "true",
        "false",
        "0",
        "-0",
        "1",
        "-1",
        "2.5",
        "1e400",
        "-1e-400",
        "1E2",
        "18446744073709551616",
        "4294967296",
        "\"NaN\"",
        "\"\"",
        "\"x\"",
        "[]",
        "{}",
        "[1,2]",
        "{\"a\":1}",
        "01",
        "1.",
        ".5",
        "+1",
        "NaN",
        "\"\\u0041\"",
        "\"\\ud83d\\ude00\"",
        "65535",
        "65536",
        "15",
        "\"age\"",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn mutated_copies_get_the_same_verdict(
            picks in proptest::collection::vec((any::<prop::sample::Index>(), 0..TOKENS.len()), 1..3),
            fix in any::<bool>(),
        ) {
            let spans = scalar_spans(MODEL);
            let mut chosen: Vec<(usize, usize, &str)> = picks
                .iter()
                .map(|(at, t)| {
                    let (s, e) = spans[at.index(spans.len())];
                    (s, e, TOKENS[*t])
                })
                .collect();
            chosen.sort();
            chosen.dedup_by_key(|c| c.0);
            let mut text = MODEL.to_owned();
            for (s, e, t) in chosen.iter().rev() {
                text.replace_range(*s..*e, t);
            }
            if fix {
                text = rechecksum(&text);
            }
            same(&text);
        }

        /// Mutated copies of the cells model, edits in its `interactions` section (where the
        /// two readers' rules for the new fields could part).
        #[test]
        fn mutated_cells_sections_get_the_same_verdict(
            picks in proptest::collection::vec((any::<prop::sample::Index>(), 0..TOKENS.len()), 1..3),
            fix in any::<bool>(),
        ) {
            let model = cells_model();
            let from = model.find("\"interactions\"").unwrap();
            let spans: Vec<(usize, usize)> =
                scalar_spans(&model).into_iter().filter(|s| s.0 >= from).collect();
            let mut chosen: Vec<(usize, usize, &str)> = picks
                .iter()
                .map(|(at, t)| {
                    let (s, e) = spans[at.index(spans.len())];
                    (s, e, TOKENS[*t])
                })
                .collect();
            chosen.sort();
            chosen.dedup_by_key(|c| c.0);
            let mut text = model.clone();
            for (s, e, t) in chosen.iter().rev() {
                text.replace_range(*s..*e, t);
            }
            if fix {
                text = rechecksum(&text);
            }
            same(&text);
        }

        #[test]
        fn cut_or_doubled_spans_get_the_same_verdict(
            at in any::<prop::sample::Index>(),
            len in 0usize..200,
            double in any::<bool>(),
        ) {
            let start = at.index(MODEL.len());
            let end = (start + len).min(MODEL.len());
            if MODEL.is_char_boundary(start) && MODEL.is_char_boundary(end) {
                let mut text = MODEL.to_owned();
                if double {
                    text.insert_str(end, &MODEL[start..end]);
                } else {
                    text.replace_range(start..end, "");
                }
                same(&rechecksum(&text));
            }
        }

        #[test]
        fn canonical_json_is_serde_jsons_bytes(
            bits in proptest::collection::vec(any::<u64>(), 8),
            small in proptest::collection::vec(-1e-3f64..1e-3, 4),
            text in "\\PC{0,12}",
            control in proptest::collection::vec(0u8..0x20, 0..4),
            big in any::<u64>(),
        ) {
            let mut a = ModelArtifact::from_json(MODEL).unwrap();
            a.checksum = None;
            let finite: Vec<f64> = bits
                .iter()
                .map(|b| f64::from_bits(*b))
                .chain(small)
                .collect();
            a.intercept = finite[0];
            a.features[0].edges = finite.clone();
            a.metrics.cv.auc = finite[1];
            a.scaling.offset = f64::NAN;
            a.scaling.factor = f64::INFINITY;
            let mut s = text;
            s.extend(control.iter().map(|c| char::from(*c)));
            a.model_id = s.clone();
            a.features[1].range_bins[0].label = s;
            a.training_data.rows = big;
            a.age_policy.enforced = big % 2 == 0;
            a.features[3].missing_bin = None;
            prop_assert_eq!(canonical_json(&a), serde_json::to_vec(&a).unwrap());
        }

        #[test]
        fn numbers_in_messages_are_debug_formatted(
            v in proptest::collection::vec(
                prop_oneof![any::<f64>(), -1e-3f64..1e-3, -1e20f64..1e20, (0i32..200).prop_map(f64::from)],
                0..4,
            )
        ) {
            prop_assert_eq!(crate::artifact::debug_numbers(&v), format!("{v:?}"));
        }
    }

    /// serde_json's float layout on many floats: random bit patterns (every exponent),
    /// integers, short decimals and the boundaries of the plain-decimal range.
    #[test]
    fn floats_are_written_as_serde_json_writes_them() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut values = crate::error::AWKWARD_FLOATS.to_vec();
        for _ in 0..200_000 {
            let r = next();
            values.push(f64::from_bits(r));
            values.push((r % 100_000) as f64 / 1000.0);
            values.push((r >> 11) as f64 * 10f64.powi((r % 40) as i32 - 20));
        }
        for v in values {
            let mut c = JsonWriter::with_capacity(32);
            c.number(v);
            assert_eq!(c.finish(), serde_json::to_string(&v).unwrap(), "{v:?}");
        }
    }

    #[test]
    fn numbers_in_messages_edge_cases() {
        let v = crate::error::AWKWARD_FLOATS;
        assert_eq!(crate::artifact::debug_numbers(v), format!("{v:?}"));
    }
}
