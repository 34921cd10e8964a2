//! `credit export --to onnx`: the scorecard as an ONNX graph that ONNX Runtime (and any
//! runtime of the default-domain opset 13) evaluates to the same probability and score as the
//! core, bit for bit in float64.
//!
//! Input `X`: `[N, 10]`, the ten features in the schema order ([`FEATURES`], recorded in the
//! model's `metadata_props` as `feature_order`), NaN for a missing value. Outputs
//! `probability` and `score`, `[N]`, NaN in both for a row the core refuses (a required value
//! missing, a count that is not a whole number, a value out of range or infinite, a past-due
//! code other than 96/98).
//!
//! Why the graph looks the way it does: the core does not compute `exp` per row; it looks up
//! per-slot odds `exp(-logit)` (computed once with the portable `libm::exp`) and multiplies
//! them in a fixed tree, `p = 1 / (1 + exp(-intercept) · Π odds)`. The graph does the same
//! lookups (a slot index per feature, then `Gather` from a float64 table filled here with the
//! same `libm::exp`) and the same multiplications in the same order, so IEEE 754 gives the same
//! bits; the score is the points summed in feature order, as the core sums them. Invalid values
//! land in a slot whose odds and points are NaN, as in the core's kernel, so NaN *is* the
//! refusal. Only plain tensor operators of opset 13 are used (no `ai.onnx.ml` domain, no
//! control flow), the form that converters for BigQuery ML and older runtimes also emit.

mod proto;

use self::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TensorTypeProto, TypeProto,
    ValueInfoProto, ATTR_INT, DOUBLE, FLOAT, INT64,
};
use super::ExportError;
use credit_core::artifact::{Bin, FeatureCard};
use credit_core::{FeatureSpec, Kind, ModelArtifact, ModelError, FEATURES, N_FEATURES};
use prost::Message;

/// Opset of the default ONNX domain: 13 (ONNX 1.8, 2020) has every operator used here with
/// float64 support in ONNX Runtime, and is old enough for every runtime still maintained.
pub const OPSET: i64 = 13;
/// The IR version that came with opset 13 (`IR_VERSION_2020_5_8`).
pub const IR_VERSION: i64 = 7;
/// Name of the input matrix.
pub const INPUT: &str = "X";
/// Name of the probability output.
pub const PROBABILITY: &str = "probability";
/// Name of the score output.
pub const SCORE: &str = "score";
/// `producer_name` of exported models.
pub const PRODUCER: &str = "credit-default";

/// The scorecard as serialized ONNX (`ModelProto` bytes). `float32` makes input and outputs
/// `float` (for runtimes that only take float32); the graph still computes in float64 between
/// a cast of the input and a cast of the outputs, so the only loss is the rounding of the
/// inputs to float32 and of the outputs.
pub fn export(model: &ModelArtifact, float32: bool) -> Result<Vec<u8>, ExportError> {
    model.validate()?;
    let computed = model.compute_checksum()?;
    if let Some(stored) = &model.checksum {
        if *stored != computed {
            return Err(ModelError::ChecksumMismatch {
                stored: stored.clone(),
                computed,
            }
            .into());
        }
    }
    let proto = ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(OPSET),
        }],
        producer_name: Some(PRODUCER.to_owned()),
        producer_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        domain: Some("io.github.credit-default".to_owned()),
        model_version: None,
        doc_string: Some(format!(
            "Credit-default scorecard {} ({}): probability of serious delinquency and score \
             per applicant; NaN for an applicant the scorecard refuses.",
            model.model_version, computed
        )),
        graph: Some(graph(model, float32)),
        metadata_props: metadata(model, &computed, float32),
    };
    Ok(proto.encode_to_vec())
}

/// What a reader of the `.onnx` file needs without the artifact: the column order, the model's
/// identity, the decision threshold and what NaN means.
fn metadata(model: &ModelArtifact, checksum: &str, float32: bool) -> Vec<StringStringEntryProto> {
    let order: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
    let ty = if float32 { "float32" } else { "float64" };
    let entries = [
        ("feature_order", order.join(",")),
        (
            "input",
            format!(
                "{INPUT}: {ty} [N, {N_FEATURES}], columns in feature_order; NaN = missing \
                 (MonthlyIncome and NumberOfDependents have a bin for it; elsewhere it refuses the row)"
            ),
        ),
        (
            "outputs",
            format!(
                "{PROBABILITY}: {ty} [N], probability of serious delinquency within two years; \
                 {SCORE}: {ty} [N], points (higher = lower risk); both NaN for a refused row"
            ),
        ),
        ("model_id", model.model_id.clone()),
        ("model_version", model.model_version.clone()),
        ("model_checksum", checksum.to_owned()),
        ("model_format", format!("{} {}", model.format, model.format_version)),
        (
            "threshold_probability",
            format!("{:?}", model.threshold.probability),
        ),
        ("float32", float32.to_string()),
    ];
    entries
        .into_iter()
        .map(|(k, v)| StringStringEntryProto {
            key: Some(k.to_owned()),
            value: Some(v),
        })
        .collect()
}

/// One feature's lookup tables, indexed by slot: the ordinary slots (a count's value minus its
/// minimum, or a real value's range bin), then the invalid slot, then the missing slot.
#[derive(Debug, PartialEq)]
struct Tables {
    odds: Vec<f64>,
    points: Vec<f64>,
}

impl Tables {
    /// Slot of a refused value (NaN odds and points).
    fn invalid(&self) -> i64 {
        self.odds.len() as i64 - 2
    }

    /// Slot of a missing value (NaN for a required feature: missing is then a refusal).
    fn missing(&self) -> i64 {
        self.odds.len() as i64 - 1
    }
}

/// Highest value a count feature takes, its special codes included.
fn count_top(spec: &FeatureSpec) -> f64 {
    spec.special_codes.iter().copied().fold(spec.max, f64::max)
}

/// The bin of whole value `v` of a count feature, as the core compiles it: a bureau code's own
/// bin, the range bin of `v` up to `max`, nothing (refused) between `max` and the codes.
fn count_bin<'a>(spec: &FeatureSpec, card: &'a FeatureCard, v: f64) -> Option<&'a Bin> {
    if spec.is_special(v) {
        card.special_bins
            .iter()
            .find(|sb| sb.codes.contains(&v))
            .map(|sb| &sb.bin)
    } else if v <= spec.max {
        let k = card.edges.partition_point(|&e| e <= v);
        card.range_bins
            .get(k.min(card.range_bins.len().saturating_sub(1)))
    } else {
        None
    }
}

fn tables(spec: &FeatureSpec, card: &FeatureCard) -> Tables {
    let ordinary: Vec<Option<&Bin>> = match spec.kind {
        Kind::Count => {
            let n = (count_top(spec) - spec.min) as usize + 1;
            (0..n)
                .map(|i| count_bin(spec, card, spec.min + i as f64))
                .collect()
        }
        Kind::Real => card.range_bins.iter().map(Some).collect(),
    };
    let missing = if spec.optional {
        card.missing_bin.as_ref()
    } else {
        None
    };
    let slots: Vec<Option<&Bin>> = ordinary.into_iter().chain([None, missing]).collect();
    Tables {
        odds: slots
            .iter()
            .map(|b| b.map_or(f64::NAN, |b| libm::exp(-b.logit)))
            .collect(),
        points: slots
            .iter()
            .map(|b| b.map_or(f64::NAN, |b| b.points))
            .collect(),
    }
}

/// Nodes and initializers under construction, with fresh value names.
#[derive(Default)]
struct Builder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    next: usize,
}

fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        r#type: Some(ATTR_INT),
        i: Some(i),
        ints: Vec::new(),
    }
}

impl Builder {
    fn fresh(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("{hint}_{}", self.next)
    }

    /// Adds a node with the given output names.
    fn node_into(
        &mut self,
        op: &str,
        inputs: &[&str],
        attrs: Vec<AttributeProto>,
        outputs: Vec<String>,
    ) {
        let name = self.fresh(op);
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| (*s).to_owned()).collect(),
            output: outputs,
            name: Some(name),
            op_type: Some(op.to_owned()),
            domain: None,
            attribute: attrs,
            doc_string: None,
        });
    }

    /// Adds a one-output node and returns its output's name.
    fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.node_into(op, inputs, attrs, vec![out.clone()]);
        out
    }

    fn tensor(&mut self, hint: &str, t: TensorProto) -> String {
        let name = self.fresh(hint);
        self.initializers.push(TensorProto {
            name: Some(name.clone()),
            ..t
        });
        name
    }

    fn f64s(&mut self, hint: &str, dims: &[i64], data: Vec<f64>) -> String {
        let t = TensorProto {
            dims: dims.to_vec(),
            data_type: Some(DOUBLE),
            double_data: data,
            ..TensorProto::default()
        };
        self.tensor(hint, t)
    }

    fn i64s(&mut self, hint: &str, dims: &[i64], data: Vec<i64>) -> String {
        let t = TensorProto {
            dims: dims.to_vec(),
            data_type: Some(INT64),
            int64_data: data,
            ..TensorProto::default()
        };
        self.tensor(hint, t)
    }

    fn scalar(&mut self, hint: &str, v: f64) -> String {
        self.f64s(hint, &[], vec![v])
    }

    fn scalar_i64(&mut self, hint: &str, v: i64) -> String {
        self.i64s(hint, &[], vec![v])
    }

    /// `lo <= x <= hi` (false for NaN).
    fn in_range(&mut self, x: &str, lo: f64, hi: f64) -> String {
        let lo = self.scalar("min", lo);
        let hi = self.scalar("max", hi);
        let ge = self.op("GreaterOrEqual", &[x, &lo], vec![]);
        let le = self.op("LessOrEqual", &[x, &hi], vec![]);
        self.op("And", &[&ge, &le], vec![])
    }
}

/// The edges a real feature's column is compared with. With no edges every valid value is in
/// bin 0; an infinite edge keeps the graph's shapes non-empty and counts no finite value.
fn compared_edges(card: &FeatureCard, float32: bool) -> Vec<f64> {
    if card.edges.is_empty() {
        vec![f64::INFINITY]
    } else if float32 {
        // Rounding is monotonic: `x <= e` implies `f32(x) <= f32(e)`, so comparing the rounded
        // input with the rounded edge keeps every value that sits exactly on an edge (the
        // trainer's edges are data values) in the core's bin; only a value strictly above an
        // edge but within the same float32 can still fall one bin low.
        card.edges.iter().map(|&e| f64::from(e as f32)).collect()
    } else {
        card.edges.clone()
    }
}

/// Slot `[N, 1]` (int64) of a real feature's column `x` (`[N, 1]`, float64): the number of
/// `edges <= x` (the artifact's bin rule), or the invalid slot outside `[min, max]` or NaN.
fn real_slot(b: &mut Builder, x: &str, spec: &FeatureSpec, edges: Vec<f64>, t: &Tables) -> String {
    let e = b.f64s("edges", &[1, edges.len() as i64], edges);
    let le = b.op("LessOrEqual", &[&e, x], vec![]);
    let ones = b.op("Cast", &[&le], vec![int_attr("to", i64::from(INT64))]);
    let axes = b.i64s("axes", &[1], vec![1]);
    let k = b.op("ReduceSum", &[&ones, &axes], vec![int_attr("keepdims", 1)]);
    let valid = b.in_range(x, spec.min, spec.max);
    let invalid = b.scalar_i64("invalid", t.invalid());
    b.op("Where", &[&valid, &k, &invalid], vec![])
}

/// Slot `[N, 1]` (int64) of a count feature: the value minus the minimum when it is a whole
/// number in range (codes included), else the invalid slot. The value is replaced before the
/// cast, so NaN or infinity never reaches the integer conversion.
fn count_slot(b: &mut Builder, x: &str, spec: &FeatureSpec, t: &Tables) -> String {
    let floor = b.op("Floor", &[x], vec![]);
    let whole = b.op("Equal", &[&floor, x], vec![]);
    let in_range = b.in_range(x, spec.min, count_top(spec));
    let valid = b.op("And", &[&whole, &in_range], vec![]);
    let min = b.scalar("min", spec.min);
    let offset = b.op("Sub", &[x, &min], vec![]);
    let invalid = b.scalar("invalid", t.invalid() as f64);
    let safe = b.op("Where", &[&valid, &offset, &invalid], vec![]);
    b.op("Cast", &[&safe], vec![int_attr("to", i64::from(INT64))])
}

/// Per-feature odds and points `[N, 1]` of column `x`.
fn feature(
    b: &mut Builder,
    x: &str,
    spec: &FeatureSpec,
    card: &FeatureCard,
    float32: bool,
) -> (String, String) {
    let t = tables(spec, card);
    let mut slot = match spec.kind {
        Kind::Real => real_slot(b, x, spec, compared_edges(card, float32), &t),
        Kind::Count => count_slot(b, x, spec, &t),
    };
    if spec.optional {
        let nan = b.op("IsNaN", &[x], vec![]);
        let missing = b.scalar_i64("missing", t.missing());
        slot = b.op("Where", &[&nan, &missing, &slot], vec![]);
    }
    let n = t.odds.len() as i64;
    let odds = b.f64s("odds_table", &[n], t.odds);
    let points = b.f64s("points_table", &[n], t.points);
    let o = b.op("Gather", &[&odds, &slot], vec![int_attr("axis", 0)]);
    let p = b.op("Gather", &[&points, &slot], vec![int_attr("axis", 0)]);
    (o, p)
}

/// `1 / (1 + exp(-intercept) · Π odds)` with the core kernel's multiplication tree
/// (`Kernel::probability`), so that the rounding is the same.
fn probability(b: &mut Builder, intercept: f64, o: &[String]) -> String {
    let io = b.scalar("intercept_odds", libm::exp(-intercept));
    let mut mul = |x: &str, y: &str| b.op("Mul", &[x, y], vec![]);
    let a0 = mul(&io, &o[0]);
    let a1 = mul(&o[1], &o[2]);
    let a = mul(&a0, &a1);
    let b0 = mul(&o[3], &o[4]);
    let b1 = mul(&o[5], &o[6]);
    let bb = mul(&b0, &b1);
    let c0 = mul(&o[7], &o[8]);
    let c = mul(&c0, &o[9]);
    let ab = mul(&a, &bb);
    let q = mul(&ab, &c);
    let one = b.scalar("one", 1.0);
    let denominator = b.op("Add", &[&one, &q], vec![]);
    b.op("Div", &[&one, &denominator], vec![])
}

/// Points summed in feature order (`Kernel::points`).
fn score(b: &mut Builder, p: &[String]) -> String {
    let mut sum = p[0].clone();
    for x in &p[1..] {
        sum = b.op("Add", &[&sum, x], vec![]);
    }
    sum
}

/// Flattens `[N, 1]` into the named output `[N]`, cast to float32 if asked.
fn output(b: &mut Builder, v: &str, name: &str, float32: bool) {
    let v = if float32 {
        b.op("Cast", &[v], vec![int_attr("to", i64::from(FLOAT))])
    } else {
        v.to_owned()
    };
    let shape = b.i64s("flat", &[1], vec![-1]);
    b.node_into("Reshape", &[&v, &shape], vec![], vec![name.to_owned()]);
}

fn tensor_info(name: &str, elem: i32, dims: &[Dimension], doc: &str) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.to_owned()),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: Some(elem),
                shape: Some(TensorShapeProto { dim: dims.to_vec() }),
            }),
        }),
        doc_string: Some(doc.to_owned()),
    }
}

fn rows_dim() -> Dimension {
    Dimension {
        dim_value: None,
        dim_param: Some("N".to_owned()),
    }
}

fn graph(model: &ModelArtifact, float32: bool) -> GraphProto {
    let mut b = Builder::default();
    let x = if float32 {
        b.op("Cast", &[INPUT], vec![int_attr("to", i64::from(DOUBLE))])
    } else {
        INPUT.to_owned()
    };
    let columns: Vec<String> = (0..N_FEATURES).map(|j| b.fresh(&format!("x{j}"))).collect();
    b.node_into("Split", &[&x], vec![int_attr("axis", 1)], columns.clone());
    let (odds, points): (Vec<String>, Vec<String>) = FEATURES
        .iter()
        .zip(&model.features)
        .zip(&columns)
        .map(|((spec, card), col)| feature(&mut b, col, spec, card, float32))
        .unzip();
    let p = probability(&mut b, model.intercept, &odds);
    let s = score(&mut b, &points);
    output(&mut b, &p, PROBABILITY, float32);
    output(&mut b, &s, SCORE, float32);
    let elem = if float32 { FLOAT } else { DOUBLE };
    let features = Dimension {
        dim_value: Some(N_FEATURES as i64),
        dim_param: None,
    };
    GraphProto {
        node: b.nodes,
        name: Some("credit_default_scorecard".to_owned()),
        initializer: b.initializers,
        doc_string: None,
        input: vec![tensor_info(
            INPUT,
            elem,
            &[rows_dim(), features],
            "applicants: the ten features in metadata feature_order; NaN = missing",
        )],
        output: vec![
            tensor_info(
                PROBABILITY,
                elem,
                &[rows_dim()],
                "probability of default; NaN = refused",
            ),
            tensor_info(SCORE, elem, &[rows_dim()], "score in points; NaN = refused"),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credit_core::shipped::MODEL_JSON;

    fn shipped() -> ModelArtifact {
        ModelArtifact::from_json(MODEL_JSON).expect("the shipped model loads")
    }

    fn decode(bytes: &[u8]) -> ModelProto {
        ModelProto::decode(bytes).expect("the export decodes as a ModelProto")
    }

    fn meta(m: &ModelProto, key: &str) -> String {
        m.metadata_props
            .iter()
            .find(|e| e.key.as_deref() == Some(key))
            .and_then(|e| e.value.clone())
            .unwrap_or_else(|| panic!("metadata {key} missing"))
    }

    fn elem(v: &ValueInfoProto) -> i32 {
        v.r#type
            .as_ref()
            .and_then(|t| t.tensor_type.as_ref())
            .and_then(|t| t.elem_type)
            .expect("tensor type")
    }

    #[test]
    fn inputs_outputs_and_metadata() {
        let model = shipped();
        let m = decode(&export(&model, false).expect("export"));
        assert_eq!(m.ir_version, Some(IR_VERSION));
        assert_eq!(m.opset_import[0].version, Some(OPSET));
        assert_eq!(m.producer_name.as_deref(), Some(PRODUCER));
        let g = m.graph.as_ref().expect("graph");
        assert_eq!(g.input.len(), 1);
        assert_eq!(g.input[0].name.as_deref(), Some(INPUT));
        assert_eq!(elem(&g.input[0]), DOUBLE);
        let outs: Vec<_> = g
            .output
            .iter()
            .map(|o| o.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(outs, [PROBABILITY, SCORE]);
        assert!(g.output.iter().all(|o| elem(o) == DOUBLE));
        assert_eq!(meta(&m, "model_version"), model.model_version);
        assert_eq!(
            meta(&m, "model_checksum"),
            model.checksum.clone().expect("checksum")
        );
        let order: Vec<String> = FEATURES.iter().map(|f| f.name.to_owned()).collect();
        assert_eq!(meta(&m, "feature_order"), order.join(","));
        // Every node's inputs are defined before use (graph input, initializer or earlier node).
        let mut known: Vec<String> = g
            .initializer
            .iter()
            .filter_map(|t| t.name.clone())
            .collect();
        known.push(INPUT.to_owned());
        for n in &g.node {
            for i in &n.input {
                assert!(known.contains(i), "{i} used before it is defined");
            }
            known.extend(n.output.iter().cloned());
        }
        assert!(known.contains(&PROBABILITY.to_owned()) && known.contains(&SCORE.to_owned()));
    }

    #[test]
    fn float32_changes_only_the_interface_types() {
        let m = decode(&export(&shipped(), true).expect("export"));
        let g = m.graph.expect("graph");
        assert_eq!(elem(&g.input[0]), FLOAT);
        assert!(g.output.iter().all(|o| elem(o) == FLOAT));
        assert!(g.initializer.iter().all(|t| t.data_type != Some(FLOAT)));
        assert!(m
            .metadata_props
            .iter()
            .any(|e| e.key.as_deref() == Some("float32") && e.value.as_deref() == Some("true")));
    }

    /// The past-due tables: values 0..=98, codes 96 and 98 in their bureau bin, 97 refused.
    #[test]
    fn count_tables_follow_the_core() {
        let model = shipped();
        let j = 2;
        let (spec, card) = (&FEATURES[j], &model.features[j]);
        let t = tables(spec, card);
        assert_eq!(t.odds.len(), 99 + 2);
        let code_bin = &card.special_bins[0].bin;
        assert_eq!(t.points[96], code_bin.points);
        assert_eq!(t.points[98], code_bin.points);
        assert!(t.points[97].is_nan() && t.odds[97].is_nan());
        assert_eq!(t.points[0], card.range_bins[0].points);
        assert_eq!(t.odds[0], libm::exp(-card.range_bins[0].logit));
        assert!(t.odds[t.invalid() as usize].is_nan());
        // A required feature: missing is a refusal.
        assert!(t.odds[t.missing() as usize].is_nan());
        // Dependents are optional: the missing slot holds the missing bin.
        let t9 = tables(&FEATURES[9], &model.features[9]);
        let missing = model.features[9].missing_bin.as_ref().expect("missing bin");
        assert_eq!(t9.points[t9.missing() as usize], missing.points);
    }

    #[test]
    fn a_tampered_artifact_is_refused() {
        let mut model = shipped();
        model.model_version = "9.9.9".to_owned();
        match export(&model, false) {
            Err(ExportError::Model(ModelError::ChecksumMismatch { .. })) => {}
            other => panic!("expected a checksum mismatch, got {other:?}"),
        }
        // Without a stored checksum the exporter records the computed one.
        model.checksum = None;
        let m = decode(&export(&model, false).expect("export"));
        let want = model.compute_checksum().expect("checksum");
        assert_eq!(meta(&m, "model_checksum"), want);
    }
}
