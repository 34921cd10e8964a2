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
//! lookups (a slot index per value: a count is its own slot, a real value's bin comes from the
//! kernel's binary search over its edges; then `Gather` from float64 tables filled here with
//! the same `libm::exp`) and the same multiplications in the same order, so IEEE 754 gives the
//! same bits; the score is the points summed over the features. The graph works on `X`
//! transposed (one row per feature), so each step broadcasts a per-feature constant over one
//! long row, which ONNX Runtime does far faster than ten-wide spans. Invalid values
//! land in a slot whose odds and points are NaN, as in the core's kernel, so NaN *is* the
//! refusal. Interaction cells (format version 3) follow the core's `cells.rs`: per pair, a table
//! gives each slot its share of the cell index (`group · columns` for the first feature's slots,
//! `group` for the second's), two `Gather`s and an `Add` find each row's cell, and its odds
//! (`libm::exp` again) multiply the features' product after the tree, its points add after
//! the features' sum, pair after pair in the artifact's order. Only plain tensor operators of opset 13 are used (no `ai.onnx.ml` domain, no
//! control flow), the form that converters for BigQuery ML and older runtimes also emit.

mod proto;

use self::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TensorTypeProto, TypeProto,
    ValueInfoProto, ATTR_INT, ATTR_INTS, BOOL, DOUBLE, FLOAT, INT64,
};
use super::cells::{self, Pair};
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
    let pairs = cells::pairs(model)?;
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
        graph: Some(graph(model, &pairs, float32)?),
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
    // Only a model with cells gets the entry: an additive model's file stays as it was.
    let pairs: Vec<String> = model
        .interactions
        .iter()
        .map(|x| {
            format!(
                "{} x {} ({} x {} cells)",
                x.features[0],
                x.features[1],
                x.group_labels[0].len(),
                x.group_labels[1].len()
            )
        })
        .collect();
    let pairs = (!pairs.is_empty()).then(|| ("interactions", pairs.join("; ")));
    entries
        .into_iter()
        .chain(pairs)
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
    /// Each slot's bin (index in `all_bins()` order), `None` for a refused value: what the
    /// interaction pairs' tables map to groups.
    bins: Vec<Option<usize>>,
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

/// The bin (index in `all_bins()` order) of whole value `v` of a count feature, as the core
/// compiles it: a bureau code's own bin, the range bin of `v` up to `max`, nothing (refused)
/// between `max` and the codes.
fn count_bin(spec: &FeatureSpec, card: &FeatureCard, v: f64) -> Option<usize> {
    let n_range = card.range_bins.len();
    if spec.is_special(v) {
        let first_special = n_range + usize::from(card.missing_bin.is_some());
        card.special_bins
            .iter()
            .position(|sb| sb.codes.contains(&v))
            .map(|k| first_special + k)
    } else if v <= spec.max && n_range > 0 {
        Some(card.edges.partition_point(|&e| e <= v).min(n_range - 1))
    } else {
        None
    }
}

fn tables(spec: &FeatureSpec, card: &FeatureCard) -> Tables {
    let ordinary: Vec<Option<usize>> = match spec.kind {
        Kind::Count => {
            let n = (count_top(spec) - spec.min) as usize + 1;
            (0..n)
                .map(|i| count_bin(spec, card, spec.min + i as f64))
                .collect()
        }
        Kind::Real => (0..card.range_bins.len()).map(Some).collect(),
    };
    let missing = match (spec.optional, &card.missing_bin) {
        (true, Some(_)) => Some(card.range_bins.len()),
        _ => None,
    };
    let bins: Vec<Option<usize>> = ordinary.into_iter().chain([None, missing]).collect();
    let all: Vec<&Bin> = card.all_bins().collect();
    let bin = |b: &Option<usize>| b.and_then(|b| all.get(b).copied());
    Tables {
        odds: bins
            .iter()
            .map(|b| bin(b).map_or(f64::NAN, |b| libm::exp(-b.logit)))
            .collect(),
        points: bins
            .iter()
            .map(|b| bin(b).map_or(f64::NAN, |b| b.points))
            .collect(),
        bins,
    }
}

/// Nodes and initializers under construction, with fresh value names.
#[derive(Default)]
struct Builder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    next: usize,
}

fn ints_attr(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        r#type: Some(ATTR_INTS),
        i: None,
        ints: v.to_vec(),
    }
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

    fn bools(&mut self, hint: &str, data: &[bool]) -> String {
        // Stored as int64 0/1 and cast: TensorProto keeps bools in int32_data, which this
        // subset of the messages leaves out.
        let ints: Vec<i64> = data.iter().map(|&v| i64::from(v)).collect();
        let ints = self.i64s(hint, &[data.len() as i64, 1], ints);
        self.op("Cast", &[&ints], vec![int_attr("to", i64::from(BOOL))])
    }

    /// Rows `rows` of a `[k, N]` tensor, as `[rows.len(), N]` (contiguous copies).
    fn rows(&mut self, x: &str, rows: &[i64]) -> String {
        let idx = self.i64s("rows", &[rows.len() as i64], rows.to_vec());
        self.op("Gather", &[x, &idx], vec![int_attr("axis", 0)])
    }

    /// A per-feature column `[k, 1]` of constants (broadcast along the rows' axis).
    fn per_feature(&mut self, hint: &str, v: &[f64]) -> String {
        self.f64s(hint, &[v.len() as i64, 1], v.to_vec())
    }

    fn mul(&mut self, x: &str, y: &str) -> String {
        self.op("Mul", &[x, y], vec![])
    }
}

/// Width of a real feature's edge table: the core's (at most 63 edges), so that a six-step
/// binary search finds any slot.
const SEARCH_WIDTH: usize = 64;

/// Per-column constants of the graph and the flat lookup tables, in feature order.
#[derive(Default)]
struct Layout {
    /// Lowest valid value.
    lo: Vec<f64>,
    /// Highest valid value (a count's bureau codes included).
    hi: Vec<f64>,
    is_real: Vec<bool>,
    optional: Vec<bool>,
    /// Where each feature's slots start in `odds` / `points`.
    base: Vec<f64>,
    /// Local slot of a refused value, and of a missing one.
    invalid: Vec<f64>,
    missing: Vec<f64>,
    odds: Vec<f64>,
    points: Vec<f64>,
    /// Per global slot: its feature, and its bin (`None` for a refused value).
    slot_feature: Vec<usize>,
    slot_bin: Vec<Option<usize>>,
    /// The real features' columns, and their edges each padded with +inf to [`SEARCH_WIDTH`].
    reals: Vec<i64>,
    edges: Vec<f64>,
}

fn layout(model: &ModelArtifact, float32: bool) -> Result<Layout, ExportError> {
    let mut l = Layout::default();
    for (j, (spec, card)) in FEATURES.iter().zip(&model.features).enumerate() {
        let t = tables(spec, card);
        let real = spec.kind == Kind::Real;
        l.lo.push(spec.min);
        l.hi.push(if real { spec.max } else { count_top(spec) });
        l.is_real.push(real);
        l.optional.push(spec.optional);
        l.base.push(l.odds.len() as f64);
        l.invalid.push(t.invalid() as f64);
        l.missing.push(t.missing() as f64);
        l.odds.extend(&t.odds);
        l.points.extend(&t.points);
        l.slot_feature.extend(std::iter::repeat_n(j, t.bins.len()));
        l.slot_bin.extend(&t.bins);
        if real {
            if card.edges.len() >= SEARCH_WIDTH {
                return Err(ExportError::Unsupported(format!(
                    "{}: {} edges; a real feature may have at most {}",
                    spec.name,
                    card.edges.len(),
                    SEARCH_WIDTH - 1
                )));
            }
            l.reals.push(j as i64);
            let mut e = compared_edges(card, float32);
            e.resize(SEARCH_WIDTH, f64::INFINITY);
            l.edges.extend(e);
        }
    }
    Ok(l)
}

/// The edges a real feature's values are compared with.
fn compared_edges(card: &FeatureCard, float32: bool) -> Vec<f64> {
    if float32 {
        // Rounding is monotonic: `x <= e` implies `f32(x) <= f32(e)`, so comparing the rounded
        // input with the rounded edge keeps every value that sits exactly on an edge (the
        // trainer's edges are data values) in the core's bin; only a value strictly above an
        // edge but within the same float32 can still fall one bin low.
        card.edges.iter().map(|&e| f64::from(e as f32)).collect()
    } else {
        card.edges.clone()
    }
}

/// Range bin `[R, N]` (float64 holding whole numbers) of the real features `xr` (`[R, N]`): the
/// number of edges `<= x`, by the core's branch-free binary search over the padded table
/// (`k += step · (edge[k + step - 1] <= x)` for steps 32 … 1), six lookups instead of 63
/// comparisons. NaN compares false (bin 0; the range check refuses it).
fn real_bins(b: &mut Builder, xr: &str, l: &Layout) -> String {
    let table = b.f64s("edges", &[l.edges.len() as i64], l.edges.clone());
    let n = l.reals.len();
    let starts: Vec<f64> = (0..n).map(|r| (r * SEARCH_WIDTH) as f64).collect();
    let mut k = b.per_feature("bin0", &vec![0.0; n]);
    let zero = b.scalar("zero", 0.0);
    let mut step = SEARCH_WIDTH / 2;
    while step > 0 {
        let at: Vec<f64> = starts.iter().map(|s| s + (step - 1) as f64).collect();
        let at = b.per_feature("probe", &at);
        let pos = b.op("Add", &[&k, &at], vec![]);
        let pos = b.op("Cast", &[&pos], vec![int_attr("to", i64::from(INT64))]);
        let edge = b.op("Gather", &[&table, &pos], vec![int_attr("axis", 0)]);
        let below = b.op("LessOrEqual", &[&edge, xr], vec![]);
        let inc = b.scalar("step", step as f64);
        let add = b.op("Where", &[&below, &inc, &zero], vec![]);
        k = b.op("Add", &[&k, &add], vec![]);
        step /= 2;
    }
    k
}

/// `lo <= x <= hi` per column, and a whole number where the feature is a count (false for NaN).
fn valid(b: &mut Builder, x: &str, lo: &str, l: &Layout) -> String {
    let hi = b.per_feature("hi", &l.hi);
    let ge = b.op("GreaterOrEqual", &[x, lo], vec![]);
    let le = b.op("LessOrEqual", &[x, &hi], vec![]);
    let in_range = b.op("And", &[&ge, &le], vec![]);
    let floor = b.op("Floor", &[x], vec![]);
    let whole = b.op("Equal", &[&floor, x], vec![]);
    let is_real = b.bools("is_real", &l.is_real);
    let form_ok = b.op("Or", &[&whole, &is_real], vec![]);
    b.op("And", &[&in_range, &form_ok], vec![])
}

/// Global slot `[10, N]` (int64) of every value of `x` (`[10, N]`, one row per feature): the feature's base plus its ordinary slot (a
/// count's value minus its minimum, a real's range bin) when valid, the missing slot for NaN
/// in an optional feature, else the invalid slot. NaN and infinities are replaced before the
/// cast to integers.
fn slots(b: &mut Builder, x: &str, l: &Layout) -> String {
    let lo = b.per_feature("lo", &l.lo);
    let valid = valid(b, x, &lo, l);
    // Ordinary slots: the real bins above `x - lo`, then each feature's own row.
    let xr = b.rows(x, &l.reals);
    let bins = real_bins(b, &xr, l);
    let offset = b.op("Sub", &[x, &lo], vec![]);
    let both = b.op("Concat", &[&bins, &offset], vec![int_attr("axis", 0)]);
    let pick: Vec<i64> = (0..N_FEATURES as i64)
        .map(|j| match l.reals.iter().position(|&r| r == j) {
            Some(r) => r as i64,
            None => l.reals.len() as i64 + j,
        })
        .collect();
    let ordinary = b.rows(&both, &pick);
    let invalid = b.per_feature("invalid", &l.invalid);
    let local = b.op("Where", &[&valid, &ordinary, &invalid], vec![]);
    let nan = b.op("IsNaN", &[x], vec![]);
    let optional = b.bools("optional", &l.optional);
    let missing_here = b.op("And", &[&nan, &optional], vec![]);
    let missing = b.per_feature("missing", &l.missing);
    let local = b.op("Where", &[&missing_here, &missing, &local], vec![]);
    let base = b.per_feature("base", &l.base);
    let global = b.op("Add", &[&local, &base], vec![]);
    b.op("Cast", &[&global], vec![int_attr("to", i64::from(INT64))])
}

/// `1 / (1 + exp(-intercept) · Π odds)` `[1, N]` from the odds `[10, N]`, with the core
/// kernel's multiplication tree (`Kernel::probability`) so that the rounding is the same:
/// `q = (((io·o0)·(o1·o2)) · ((o3·o4)·(o5·o6))) · ((o7·o8)·o9)`, then `q` times each
/// interaction pair's cell odds (row `p` of `cells`, `[P, N]`), pair after pair.
fn probability(b: &mut Builder, intercept: f64, odds: &str, cells: Option<&CellValues>) -> String {
    let mut first = vec![1.0; N_FEATURES];
    first[0] = libm::exp(-intercept);
    let first = b.per_feature("intercept_odds", &first);
    let l = b.mul(odds, &first); // io·o0; the others times 1, exactly
    let left = b.rows(&l, &[1, 3, 5, 7]);
    let right = b.rows(&l, &[2, 4, 6, 8]);
    let pairs = b.mul(&left, &right); // o1·o2, o3·o4, o5·o6, o7·o8
    let all = b.op("Concat", &[&l, &pairs], vec![int_attr("axis", 0)]);
    let left = b.rows(&all, &[0, 11, 13]); // io·o0, o3·o4, o7·o8
    let right = b.rows(&all, &[10, 12, 9]); // o1·o2, o5·o6, o9
    let abc = b.mul(&left, &right); // a, b, c
    let a = b.rows(&abc, &[0]);
    let bb = b.rows(&abc, &[1]);
    let c = b.rows(&abc, &[2]);
    let ab = b.mul(&a, &bb);
    let mut q = b.mul(&ab, &c);
    if let Some(cells) = cells {
        for p in 0..cells.pairs {
            let cell = b.rows(&cells.odds, &[p as i64]);
            q = b.mul(&q, &cell);
        }
    }
    let one = b.scalar("one", 1.0);
    let denominator = b.op("Add", &[&one, &q], vec![]);
    b.op("Div", &[&one, &denominator], vec![])
}

/// Each interaction pair's cell odds and points (`[P, N]`, one row per pair).
struct CellValues {
    pairs: usize,
    odds: String,
    points: String,
}

/// Per pair and global slot, the slot's share of the pair's cell index: `group · columns` for
/// a slot of the pair's first feature, `group` for one of its second, 0 elsewhere and for a
/// refused value (whose NaN odds already make the row NaN), as the core's `Pair::part`.
fn cell_parts(l: &Layout, pairs: &[Pair]) -> Vec<i64> {
    let mut parts = Vec::with_capacity(pairs.len() * l.slot_bin.len());
    for pair in pairs {
        for (&j, &bin) in l.slot_feature.iter().zip(&l.slot_bin) {
            let part = pair
                .features
                .iter()
                .position(|&f| f == j)
                .zip(bin)
                .and_then(|(axis, bin)| pair.parts[axis].get(bin).copied())
                .unwrap_or(0);
            parts.push(part as i64);
        }
    }
    parts
}

/// The cells of every row (`None` for an additive model): for pair `p`, gather its two
/// features' slots' shares (from `cell_parts`, offset to pair `p`'s block) and add them and
/// the pair's first cell's place in the flat cell tables; then gather the cells' odds
/// (`exp(-logit)` with `libm::exp`, as the core's tables) and points.
fn cells(b: &mut Builder, slot: &str, l: &Layout, pairs: &[Pair]) -> Option<CellValues> {
    if pairs.is_empty() {
        return None;
    }
    let n = pairs.len() as i64;
    let parts = cell_parts(l, pairs);
    let parts = b.i64s("cell_parts", &[parts.len() as i64], parts);
    let block: Vec<i64> = (0..n).map(|p| p * l.slot_bin.len() as i64).collect();
    let block = b.i64s("pair_block", &[n, 1], block);
    let mut share = Vec::new();
    for axis in 0..2 {
        let features: Vec<i64> = pairs.iter().map(|p| p.features[axis] as i64).collect();
        let own = b.rows(slot, &features);
        let at = b.op("Add", &[&own, &block], vec![]);
        share.push(b.op("Gather", &[&parts, &at], vec![int_attr("axis", 0)]));
    }
    let (mut first, mut odds, mut points) = (Vec::new(), Vec::new(), Vec::new());
    for pair in pairs {
        first.push(odds.len() as i64);
        odds.extend(&pair.odds);
        points.extend(&pair.points);
    }
    let first = b.i64s("pair_first_cell", &[n, 1], first);
    let cell = b.op("Add", &[&share[0], &share[1]], vec![]);
    let cell = b.op("Add", &[&cell, &first], vec![]);
    let odds = b.f64s("cell_odds", &[odds.len() as i64], odds);
    let points = b.f64s("cell_points", &[points.len() as i64], points);
    Some(CellValues {
        pairs: pairs.len(),
        odds: b.op("Gather", &[&odds, &cell], vec![int_attr("axis", 0)]),
        points: b.op("Gather", &[&points, &cell], vec![int_attr("axis", 0)]),
    })
}

/// Each applicant's points summed over the features, as `Kernel::points` sums them, then each
/// pair's cell points in pair order.
fn score(b: &mut Builder, points: &str, cells: Option<&CellValues>) -> String {
    let axes = b.i64s("axes", &[1], vec![0]);
    let mut s = b.op("ReduceSum", &[points, &axes], vec![int_attr("keepdims", 0)]);
    if let Some(cells) = cells {
        for p in 0..cells.pairs {
            let cell = b.rows(&cells.points, &[p as i64]);
            s = b.op("Add", &[&s, &cell], vec![]);
        }
    }
    s
}

/// Names output `name` (`[N]`) after `v`, cast to float32 if asked.
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

fn graph(model: &ModelArtifact, pairs: &[Pair], float32: bool) -> Result<GraphProto, ExportError> {
    let l = layout(model, float32)?;
    let mut b = Builder::default();
    let x = if float32 {
        b.op("Cast", &[INPUT], vec![int_attr("to", i64::from(DOUBLE))])
    } else {
        INPUT.to_owned()
    };
    // One row per feature: every elementwise step then broadcasts a per-feature constant over
    // a long contiguous row (fast in ONNX Runtime), where `[N, 10]` would be N short spans.
    let xt = b.op("Transpose", &[&x], vec![ints_attr("perm", &[1, 0])]);
    let slot = slots(&mut b, &xt, &l);
    let odds_table = b.f64s("odds_table", &[l.odds.len() as i64], l.odds.clone());
    let points_table = b.f64s("points_table", &[l.points.len() as i64], l.points.clone());
    let odds = b.op("Gather", &[&odds_table, &slot], vec![int_attr("axis", 0)]);
    let points = b.op("Gather", &[&points_table, &slot], vec![int_attr("axis", 0)]);
    let cells = cells(&mut b, &slot, &l, pairs);
    let p = probability(&mut b, model.intercept, &odds, cells.as_ref());
    let s = score(&mut b, &points, cells.as_ref());
    output(&mut b, &p, PROBABILITY, float32);
    output(&mut b, &s, SCORE, float32);
    let elem = if float32 { FLOAT } else { DOUBLE };
    let features = Dimension {
        dim_value: Some(N_FEATURES as i64),
        dim_param: None,
    };
    Ok(GraphProto {
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
    })
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
        assert_well_formed(g);
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
        // The slots' bins (what the cell tables map to groups): code 96 in its special bin.
        let n_range = card.range_bins.len();
        let first_special = n_range + usize::from(card.missing_bin.is_some());
        assert_eq!(t.bins[96], Some(first_special));
        assert_eq!(t.bins[97], None);
        assert_eq!(t.bins[0], Some(0));
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

    /// Every node's inputs are defined before use (graph input, initializer or earlier node),
    /// and the outputs are produced.
    fn assert_well_formed(g: &GraphProto) {
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

    fn initializer<'a>(g: &'a GraphProto, prefix: &str) -> &'a TensorProto {
        let mut found = g
            .initializer
            .iter()
            .filter(|t| t.name.as_deref().is_some_and(|n| n.starts_with(prefix)));
        let t = found.next().unwrap_or_else(|| panic!("no {prefix}"));
        assert!(found.next().is_none(), "one {prefix}");
        t
    }

    fn count_ops(g: &GraphProto, op: &str) -> usize {
        g.node
            .iter()
            .filter(|n| n.op_type.as_deref() == Some(op))
            .count()
    }

    /// A model with cells: the graph holds each cell's odds (the core's `libm::exp` bits) and
    /// points in pair order, multiplies one more time and adds one more time per pair, and its
    /// metadata names the pairs; an additive model's graph has none of it.
    #[test]
    fn cells_are_in_the_graph() {
        let plain = decode(&export(&super::super::cells::additive_model(), false).expect("export"));
        let plain_g = plain.graph.as_ref().expect("graph");
        assert!(!plain
            .metadata_props
            .iter()
            .any(|e| e.key.as_deref() == Some("interactions")));
        let model = super::super::cells::overlapping_model();
        let pairs = cells::pairs(&model).expect("pairs");
        for float32 in [false, true] {
            let m = decode(&export(&model, float32).expect("export"));
            let g = m.graph.as_ref().expect("graph");
            assert_well_formed(g);
            let odds: Vec<u64> = pairs
                .iter()
                .flat_map(|p| p.odds.iter().map(|o| o.to_bits()))
                .collect();
            let got: Vec<u64> = initializer(g, "cell_odds")
                .double_data
                .iter()
                .map(|o| o.to_bits())
                .collect();
            assert_eq!(got, odds);
            let points: Vec<f64> = pairs.iter().flat_map(|p| p.points.clone()).collect();
            assert_eq!(initializer(g, "cell_points").double_data, points);
            assert_eq!(count_ops(g, "Mul"), count_ops(plain_g, "Mul") + pairs.len());
            let meta = meta(&m, "interactions");
            assert_eq!(meta.matches(" cells)").count(), pairs.len(), "{meta}");
            assert!(meta.starts_with("RevolvingUtilizationOfUnsecuredLines x NumberOfTime30_59"));
        }
    }

    /// The graph's cell of a row, `parts[p][slot(first)] + parts[p][slot(second)] + first
    /// cell of p`, is the pair's cell of the core's bins (`Scorecard::bin_indices`), on rows
    /// that reach every cell; the slots computed as the graph does (a count's value less its
    /// minimum, a real's range bin, the missing slot for NaN).
    #[test]
    fn cell_tables_find_the_cores_cell() {
        let model = super::super::cells::overlapping_model();
        let card = credit_core::Scorecard::new(model.clone()).expect("compiles");
        let pairs = cells::pairs(&model).expect("pairs");
        let l = layout(&model, false).expect("layout");
        let parts = cell_parts(&l, &pairs);
        let total = l.slot_bin.len();
        let slot = |j: usize, v: f64, bin: u16| {
            let local = if v.is_nan() {
                l.missing[j]
            } else if FEATURES[j].kind == Kind::Count {
                v - FEATURES[j].min
            } else {
                f64::from(bin)
            };
            (l.base[j] + local) as usize
        };
        let mut checked = 0;
        for row in super::super::cells::sample_rows(&model) {
            let Some(bins) = card.bin_indices(&row) else {
                continue;
            };
            for (p, pair) in pairs.iter().enumerate() {
                let [a, b] = pair.features;
                let at = |j: usize| p * total + slot(j, row[j], bins[j]);
                let (sa, sb) = (at(a), at(b));
                assert_eq!(l.slot_bin[sa - p * total], Some(usize::from(bins[a])));
                assert_eq!(l.slot_bin[sb - p * total], Some(usize::from(bins[b])));
                let graph = (parts[sa] + parts[sb]) as usize;
                let core = pair.cell(bins[a].into(), bins[b].into());
                assert_eq!(Some(graph), core, "pair {p}, row {row:?}");
                checked += 1;
            }
        }
        assert!(checked > 1000, "{checked}");
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
