//! `credit export --to sql`: the scorecard as one SQL `SELECT` (DuckDB, BigQuery, Postgres,
//! Spark SQL) that validates and scores a table of applicants exactly as the core does.
//!
//! Everything model-specific is read from the artifact (edges, range/missing/special bins, the
//! intercept, threshold, reason codes), never assumed; everything about validation comes from
//! the schema and from the core itself (its error messages are asked from
//! [`Applicant::from_fields`], so they cannot drift apart). Why each step has the shape it has:
//!
//! * **Bins**: a `CASE` per feature in the artifact's bin order (range bins, missing, special),
//!   the range bin being the number of edges `<=` the value (first `x < edge` wins).
//! * **Probability**: the kernel's own arithmetic, `1 / (1 + exp(-intercept) * Π odds)` with the
//!   per-bin odds `exp(-logit)` precomputed here with the same `libm::exp` and multiplied in the
//!   kernel's product tree, every number a literal of 17 significant digits (which reads back
//!   as the same double). IEEE multiplication being exactly rounded, an engine that computes in
//!   binary64 gets the core's probability bit for bit, not only to 1e-12.
//! * **Score**: the bins' points summed in feature order, as the kernel sums them (unrounded;
//!   `credit score` prints it with two decimals), then the cells' points.
//! * **Reasons**: the core's rule (points lost against the feature's best bin, more than 1e-9,
//!   age never for applicants of 62 or more when the artifact says so), ranked by a pairwise
//!   count: a feature's rank is how many features lost more, or as much with a smaller index.
//!   That is the core's order (largest loss first, ties by feature order) without window
//!   functions or arrays, so the same text works in all four engines.
//! * **Interaction cells** (format version 3): a pair's cell is found from the two features'
//!   bins already computed (each bin's share of the cell index, `group · columns` for the
//!   first feature and `group` for the second, added), never from raw values, so a cell is
//!   always a union of whole bins as in the core. Its odds `exp(-logit)` (the same `libm::exp`,
//!   17 digits) multiply the features' product *after* the tree above, pair after pair in the
//!   artifact's order, as the core's `Pairs::fold` does; its points are added after the
//!   features' points in the same order. A feature in a pair loses its own bin's points plus,
//!   per pair in pair order, half of its cell's points lost against the grid's best cell
//!   (precomputed as `0.5 · (best − points)`, the core's expression); the 1e-9 test applies to
//!   that total. Age may be in a pair (under Regulation B's bound, which the loader checks):
//!   its own share is then NULL from 62 on when the age rule applies, which makes its total
//!   NULL too, so the rule covers its bin and its cells together. For an additive model the
//!   statement is what it was before cells existed, byte for byte.
//! * **Errors**: the JSON array `credit score` writes in its `errors` column, object by object
//!   (`field`, `code`, `message`, `value`), in feature order.

use super::cells::{self, Pair};
use super::ExportError;
use credit_core::artifact::FeatureCard;
use credit_core::schema::{Kind, AGE, ELDERLY_AGE};
use credit_core::{
    Applicant, ErrorCode, FieldError, ModelArtifact, RawValue, Shown, FEATURES, MAX_REASONS,
    N_FEATURES,
};

/// The kernel's product tree below names ten odds factors.
const _: () = assert!(N_FEATURES == 10, "probability_expr lists ten features");

/// A loss of points counts as a reason above this (the core's rule in `Scorecard::predict`).
const MIN_REASON_LOSS: f64 = 1e-9;

/// Whole numbers start here: every double at or beyond 2^52 in magnitude is one, and the
/// core's JSON writes whole values below 9e15 as integers.
const WHOLE_JSON_LIMIT: f64 = 9.0e15;

/// The SQL engines the export speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    Duckdb,
    Bigquery,
    Postgres,
    Spark,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Duckdb => "duckdb",
            Dialect::Bigquery => "bigquery",
            Dialect::Postgres => "postgres",
            Dialect::Spark => "spark",
        }
    }

    /// A double literal with 17 significant digits, in a form each engine reads as binary64
    /// (an exponent makes it a double in DuckDB, BigQuery and Spark; Postgres would read it as
    /// `numeric`, so it is cast, which parses the text once with `strtod`).
    pub fn lit(self, v: f64) -> String {
        let digits = format!("{v:.16e}");
        match self {
            Dialect::Postgres => format!("'{digits}'::float8"),
            _ => digits,
        }
    }

    /// Postgres inlines a CTE referenced once, copying each column's expression into every
    /// place that names it: the ranks name each loss nine times, each loss names its bin, each
    /// bin the validity of all ten features... which turned seconds into many minutes. Written
    /// `MATERIALIZED`, each step is computed once per row.
    fn materialized(self) -> &'static str {
        match self {
            Dialect::Postgres => "MATERIALIZED ",
            _ => "",
        }
    }

    fn double_type(self) -> &'static str {
        match self {
            Dialect::Duckdb | Dialect::Spark => "DOUBLE",
            Dialect::Bigquery => "FLOAT64",
            Dialect::Postgres => "DOUBLE PRECISION",
        }
    }

    fn string_type(self) -> &'static str {
        match self {
            Dialect::Duckdb => "VARCHAR",
            Dialect::Bigquery | Dialect::Spark => "STRING",
            Dialect::Postgres => "TEXT",
        }
    }

    fn bigint_type(self) -> &'static str {
        match self {
            Dialect::Bigquery => "INT64",
            _ => "BIGINT",
        }
    }

    /// A column name as written in the input table (Postgres folds unquoted names to lower case).
    fn ident(self, name: &str) -> String {
        match self {
            Dialect::Duckdb | Dialect::Postgres => format!("\"{name}\""),
            Dialect::Bigquery | Dialect::Spark => format!("`{name}`"),
        }
    }

    /// True when `e` is NaN (BigQuery compares NaN unequal to itself; the others equal).
    fn is_nan(self, e: &str) -> String {
        match self {
            Dialect::Duckdb | Dialect::Spark => format!("isnan({e})"),
            Dialect::Bigquery => format!("IS_NAN({e})"),
            Dialect::Postgres => format!("{e} = 'NaN'::float8"),
        }
    }

    /// True when the finite value `e` has a fractional part. Spark's `FLOOR` returns a BIGINT
    /// (which overflows for large doubles), so Spark takes the remainder instead.
    fn fractional(self, e: &str) -> String {
        match self {
            Dialect::Spark => format!("{e} % {} <> {}", self.lit(1.0), self.lit(0.0)),
            _ => format!("{e} <> FLOOR({e})"),
        }
    }

    /// The engine's own text of a double (see the README for where it differs from the core's).
    fn float_text(self, e: &str) -> String {
        format!("CAST({e} AS {})", self.string_type())
    }

    /// `parts` joined by commas, NULLs left out.
    fn join_non_null(self, parts: &[String]) -> String {
        match self {
            Dialect::Bigquery => format!("ARRAY_TO_STRING([{}], ',')", parts.join(", ")),
            _ => format!("CONCAT_WS(',', {})", parts.join(", ")),
        }
    }

    /// A string literal. DuckDB and Postgres (standard strings) double the quote; BigQuery and
    /// Spark read backslash escapes. Control characters have no portable spelling: refused.
    fn str_lit(self, what: &str, s: &str) -> Result<String, ExportError> {
        if s.chars().any(char::is_control) {
            return Err(ExportError::BadText {
                what: what.to_owned(),
                value: s.to_owned(),
            });
        }
        Ok(match self {
            Dialect::Duckdb | Dialect::Postgres => format!("'{}'", s.replace('\'', "''")),
            Dialect::Bigquery | Dialect::Spark => {
                format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
            }
        })
    }
}

/// What the core says about feature `j` holding `raw` while the other nine are valid (each at
/// its minimum): the error it reports for `j`, if any.
fn core_error(j: usize, raw: RawValue<'_>) -> Option<FieldError> {
    let fields = FEATURES.iter().enumerate().map(|(i, spec)| {
        let v = if i == j {
            raw
        } else {
            RawValue::Float(spec.min)
        };
        (spec.name, v)
    });
    Applicant::from_fields(fields)
        .err()?
        .errors
        .into_iter()
        .find(|e| e.field == FEATURES[j].name)
}

/// Stands for a value the SQL fills in while an error object is serialised (no core message
/// contains it, and JSON needs no escaping for it).
const HOLE: &str = "@@HOLE@@";

/// An error object as `credit score` writes it (serde_json's `Value`: keys in sorted order).
fn object_text(e: &FieldError) -> Result<String, ExportError> {
    serde_json::to_value(e)
        .map(|v| v.to_string())
        .map_err(|err| ExportError::Unsupported(format!("error object not serialisable: {err}")))
}

/// The text of an error object cut where its value (and, for `not_an_integer`, the number at
/// the end of its message) goes: the pieces between the holes, in order. Serialising the
/// core's own object keeps key order, escaping and wording exactly as `credit score` has them.
fn object_pieces(e: &FieldError, message: Option<&str>) -> Result<Vec<String>, ExportError> {
    let mut e = e.clone();
    if let Some(words) = message {
        e.message = format!("{words}{HOLE}");
    }
    e.value = serde_json::Value::String(HOLE.to_owned());
    let text = object_text(&e)?;
    // The value is a JSON string, so its hole is quoted; the message's hole sits inside one.
    let pieces: Vec<String> = text
        .split(&format!("\"{HOLE}\""))
        .flat_map(|p| p.split(HOLE))
        .map(str::to_owned)
        .collect();
    let want = if message.is_some() { 3 } else { 2 };
    if pieces.len() != want {
        return Err(ExportError::Unsupported(format!(
            "cannot place values in {text}"
        )));
    }
    Ok(pieces)
}

/// The core's error for a value, checked to carry the code the SQL assigns it.
fn expected_error(j: usize, raw: RawValue<'_>, code: ErrorCode) -> Result<FieldError, ExportError> {
    match core_error(j, raw) {
        Some(e) if e.code == code => Ok(e),
        other => Err(ExportError::Unsupported(format!(
            "the core's validation of {} changed ({code} expected, got {:?}); this exporter needs updating",
            FEATURES[j].name,
            other.map(|e| e.code)
        ))),
    }
}

/// The error code of feature `j`'s value `x` (a double, NULL when missing), NULL when valid:
/// the core's checks in its order (not finite, not whole, out of range unless a bureau code).
fn check_expr(d: Dialect, j: usize) -> String {
    let spec = &FEATURES[j];
    let x = format!("x{j}");
    let mut s = String::from("CASE");
    if spec.optional {
        s += &format!(" WHEN {x} IS NULL THEN NULL");
    } else {
        s += &format!(" WHEN {x} IS NULL THEN 'missing'");
    }
    s += &format!(" WHEN ABS({x}) > {} THEN 'not_finite'", d.lit(f64::MAX));
    if spec.kind == Kind::Count {
        s += &format!(" WHEN {} THEN 'not_an_integer'", d.fractional(&x));
    }
    let mut range = format!("({x} < {} OR {x} > {})", d.lit(spec.min), d.lit(spec.max));
    if !spec.special_codes.is_empty() {
        let codes: Vec<String> = spec.special_codes.iter().map(|&c| d.lit(c)).collect();
        range = format!("{range} AND {x} NOT IN ({})", codes.join(", "));
    }
    s += &format!(" WHEN {range} THEN 'out_of_range' END");
    s
}

/// The core's JSON for a number (`float_json`): whole values below 9e15 as integers, other
/// values in the engine's own text.
fn number_json(d: Dialect, x: &str) -> String {
    format!(
        "CASE WHEN NOT ({}) AND ABS({x}) < {} THEN CAST(CAST({x} AS {}) AS {}) ELSE {} END",
        d.fractional(x),
        d.lit(WHOLE_JSON_LIMIT),
        d.bigint_type(),
        d.string_type(),
        d.float_text(x)
    )
}

/// Feature `j`'s error object as text (NULL when its value is valid).
fn error_object_expr(d: Dialect, j: usize) -> Result<String, ExportError> {
    let spec = &FEATURES[j];
    let (x, c) = (format!("x{j}"), format!("c{j}"));
    let lit = |t: &str| d.str_lit("error text", t);
    let mut s = format!("CASE {c}");
    if !spec.optional {
        let e = expected_error(j, RawValue::Null, ErrorCode::Missing)?;
        s += &format!(" WHEN 'missing' THEN {}", lit(&object_text(&e)?)?);
    }
    let pos = expected_error(j, RawValue::Float(f64::INFINITY), ErrorCode::NotFinite)?;
    let neg = expected_error(j, RawValue::Float(f64::NEG_INFINITY), ErrorCode::NotFinite)?;
    s += &format!(
        " WHEN 'not_finite' THEN CASE WHEN {x} > 0 THEN {} ELSE {} END",
        lit(&object_text(&pos)?)?,
        lit(&object_text(&neg)?)?
    );
    if spec.kind == Kind::Count {
        // The message ends with the value as the core prints it; keep the words before it.
        let probe = spec.min + 0.5;
        let e = expected_error(j, RawValue::Float(probe), ErrorCode::NotAnInteger)?;
        let words = e
            .message
            .strip_suffix(&Shown(probe).to_string())
            .ok_or_else(|| {
                ExportError::Unsupported(format!("unexpected message {:?}", e.message))
            })?;
        let p = object_pieces(&e, Some(words))?;
        s += &format!(
            " WHEN 'not_an_integer' THEN {} || {} || {} || {} || {}",
            lit(&p[0])?,
            d.float_text(&x),
            lit(&p[1])?,
            number_json(d, &x),
            lit(&p[2])?
        );
    }
    let e = expected_error(j, RawValue::Float(spec.min - 1.0), ErrorCode::OutOfRange)?;
    let p = object_pieces(&e, None)?;
    s += &format!(
        " WHEN 'out_of_range' THEN {} || {} || {} END",
        lit(&p[0])?,
        number_json(d, &x),
        lit(&p[1])?
    );
    Ok(s)
}

/// The whole `errors` value: NULL for a valid row (`valid` true), else the JSON array of its
/// errors.
fn errors_expr(d: Dialect, valid: &str) -> Result<String, ExportError> {
    let objects = (0..N_FEATURES)
        .map(|j| error_object_expr(d, j))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(format!(
        "CASE WHEN {valid} THEN NULL ELSE '[' || {} || ']' END",
        d.join_non_null(&objects)
    ))
}

/// Feature `j`'s bin (index in the artifact's bin order) for a valid value.
fn bin_case(d: Dialect, j: usize, card: &FeatureCard) -> String {
    let spec = &FEATURES[j];
    let x = format!("x{j}");
    let n_range = card.range_bins.len();
    let mut s = String::from("CASE");
    if spec.optional && card.missing_bin.is_some() {
        s += &format!(" WHEN {x} IS NULL THEN {n_range}");
    }
    if spec.kind == Kind::Count {
        // The kernel looks bureau codes up before the range bins (and only for counts).
        let base = n_range + usize::from(card.missing_bin.is_some());
        for (k, sb) in card.special_bins.iter().enumerate() {
            let codes: Vec<String> = sb.codes.iter().map(|&c| d.lit(c)).collect();
            s += &format!(" WHEN {x} IN ({}) THEN {}", codes.join(", "), base + k);
        }
    }
    for (k, &edge) in card.edges.iter().enumerate() {
        s += &format!(" WHEN {x} < {} THEN {k}", d.lit(edge));
    }
    s += &format!(" ELSE {} END", card.edges.len());
    s
}

/// A value per bin of feature `j` (`None`: NULL), looked up by its bin index `b{j}`.
fn per_bin(d: Dialect, j: usize, values: &[Option<f64>]) -> String {
    per_index(d, &format!("b{j}"), values)
}

/// A value per index held in `column` (`None`: NULL): a bin, or an interaction pair's cell.
fn per_index(d: Dialect, column: &str, values: &[Option<f64>]) -> String {
    let arms: Vec<String> = values
        .iter()
        .enumerate()
        .filter_map(|(k, v)| v.map(|v| format!(" WHEN {k} THEN {}", d.lit(v))))
        .collect();
    if arms.is_empty() {
        return format!("CAST(NULL AS {})", d.double_type());
    }
    format!("CASE {column}{} END", arms.concat())
}

/// Per bin of a feature: its odds factor `exp(-logit)`, its points, the points it loses
/// against the feature's best bin (`own_lost`), and that loss again when it is a reason on its
/// own (else `None`; what an additive model's reasons need).
struct BinNumbers {
    odds: Vec<Option<f64>>,
    points: Vec<Option<f64>>,
    own_lost: Vec<Option<f64>>,
    lost: Vec<Option<f64>>,
}

fn bin_numbers(card: &FeatureCard) -> BinNumbers {
    let best = card
        .all_bins()
        .map(|b| b.points)
        .fold(f64::NEG_INFINITY, f64::max);
    BinNumbers {
        odds: card.all_bins().map(|b| Some(libm::exp(-b.logit))).collect(),
        points: card.all_bins().map(|b| Some(b.points)).collect(),
        own_lost: card.all_bins().map(|b| Some(best - b.points)).collect(),
        lost: card
            .all_bins()
            .map(|b| Some(best - b.points).filter(|&l| l > MIN_REASON_LOSS))
            .collect(),
    }
}

/// The probability in the kernel's product tree: `((io·o0)·(o1·o2)) · ((o3·o4)·(o5·o6))`
/// times `(o7·o8)·o9`, then times each interaction pair's cell odds `co{p}` in pair order (the
/// core's `Pairs::fold`), then `1 / (1 + q)`.
fn probability_expr(d: Dialect, intercept: f64, n_pairs: usize) -> String {
    let a = format!("(({} * o0) * (o1 * o2))", d.lit(libm::exp(-intercept)));
    let b = "((o3 * o4) * (o5 * o6))";
    let c = "((o7 * o8) * o9)";
    let q = (0..n_pairs).fold(format!("(({a} * {b}) * {c})"), |q, p| {
        format!("({q} * co{p})")
    });
    let one = d.lit(1.0);
    format!("{one} / ({one} + {q})")
}

/// Points summed in feature order, then the pairs' cell points `cp{p}` in pair order, as the
/// kernel sums them.
fn score_expr(n_pairs: usize) -> String {
    let features = (1..N_FEATURES).fold("p0".to_owned(), |acc, j| format!("({acc} + p{j})"));
    (0..n_pairs).fold(features, |acc, p| format!("({acc} + cp{p})"))
}

/// How many features rank before feature `j`: a larger loss, or the same loss and a smaller
/// index (NULL losses compare to nothing and count for nothing).
fn rank_expr(j: usize) -> String {
    let terms: Vec<String> = (0..N_FEATURES)
        .filter(|&i| i != j)
        .map(|i| {
            let op = if i < j { ">=" } else { ">" };
            format!("CASE WHEN l{i} {op} l{j} THEN 1 ELSE 0 END")
        })
        .collect();
    format!("({})", terms.join(" + "))
}

/// The code of the reason in position `k` (0-based), NULL when fewer reasons.
fn reason_expr(d: Dialect, model: &ModelArtifact, k: usize) -> Result<String, ExportError> {
    let mut s = String::from("CASE");
    for (j, card) in model.features.iter().enumerate() {
        let code = d.str_lit("reason code", &card.reason_code)?;
        s += &format!(" WHEN l{j} IS NOT NULL AND k{j} = {k} THEN {code}");
    }
    Ok(s + " END")
}

/// Rejects a `--table` that would break the statement around it.
fn check_table(table: &str) -> Result<(), ExportError> {
    let bad = |reason| {
        Err(ExportError::BadTable {
            table: table.to_owned(),
            reason,
        })
    };
    if table.trim().is_empty() {
        return bad("empty");
    }
    if table.contains(';') || table.contains("--") || table.chars().any(char::is_control) {
        return bad("a table name or a parenthesised subquery, without ';', '--' or line breaks");
    }
    Ok(())
}

/// Text safe inside a `--` comment line.
fn comment_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The leading comment: which model (version, checksum) and dialect, and what comes out.
fn header(model: &ModelArtifact, d: Dialect) -> Result<String, ExportError> {
    let checksum = match &model.checksum {
        Some(c) => c.clone(),
        None => model
            .compute_checksum()
            .map_err(|e| ExportError::Load(e.into()))?,
    };
    Ok(format!(
        "-- credit export: scorecard {} version {}, checksum {}, dialect {}\n\
         -- Generated by credit {}; re-export rather than edit. Reads a table with `id` and the ten\n\
         -- features (seed names) and returns per row: id, probability, prediction, score,\n\
         -- reason_1..reason_{MAX_REASONS}, errors (NULL when valid; else the JSON `credit score` writes).\n",
        comment_safe(&model.model_id),
        comment_safe(&model.model_version),
        comment_safe(&checksum),
        d.name(),
        env!("CARGO_PKG_VERSION"),
    ))
}

/// Lines `prefix{j} AS name{j}` or any per-feature column list.
fn columns(f: impl Fn(usize) -> String) -> String {
    (0..N_FEATURES).map(f).collect::<Vec<_>>().join(",\n    ")
}

/// The CTEs up to the validation verdict: typed values, NaN as missing, error codes, errors.
fn validation_ctes(d: Dialect, table: &str) -> Result<String, ExportError> {
    let casts = columns(|j| {
        format!(
            "CAST(src.{} AS {}) AS x{j}",
            d.ident(FEATURES[j].name),
            d.double_type()
        )
    });
    let nan_free = columns(|j| {
        format!(
            "CASE WHEN {} THEN NULL ELSE x{j} END AS x{j}",
            d.is_nan(&format!("x{j}"))
        )
    });
    let checks = columns(|j| format!("{} AS c{j}", check_expr(d, j)));
    let xs = (0..N_FEATURES)
        .map(|j| format!("x{j}"))
        .collect::<Vec<_>>()
        .join(", ");
    let valid = (0..N_FEATURES)
        .map(|j| format!("c{j} IS NULL"))
        .collect::<Vec<_>>()
        .join(" AND ");
    Ok(format!(
        "typed AS {m}(\n  -- The ten features as doubles.\n  SELECT src.{id} AS id,\n    {casts}\n  FROM {table} AS src\n),\n\
         present AS {m}(\n  -- NaN is missing, as in the core's numeric rows and `credit score`'s NaN cells.\n  SELECT id,\n    {nan_free}\n  FROM typed\n),\n\
         checked AS {m}(\n  -- The core's validation: each feature's error code, NULL when valid.\n  SELECT id,\n    {xs},\n    {checks}\n  FROM present\n),\n\
         judged AS {m}(\n  SELECT id,\n    {xs},\n    ({valid}) AS is_valid,\n    {errors} AS errors\n  FROM checked\n)",
        id = d.ident("id"),
        m = d.materialized(),
        errors = errors_expr(d, &format!("({valid})"))?,
    ))
}

/// `name{j}` for every feature, comma-separated on one line.
fn names(name: &str) -> String {
    (0..N_FEATURES)
        .map(|j| format!("{name}{j}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `name{p}` for every interaction pair, each after a comma (nothing for an additive model).
fn pair_names(name: &str, n_pairs: usize) -> String {
    (0..n_pairs).map(|p| format!(", {name}{p}")).collect()
}

/// A common table expression `name AS (SELECT ... FROM from)`.
fn cte(d: Dialect, name: &str, comment: &str, select: &str, from: &str) -> String {
    format!(
        "{name} AS {m}(\n  {comment}SELECT {select}\n  FROM {from}\n)",
        m = d.materialized()
    )
}

/// Each feature's bin, NULL for an invalid row.
fn binned_cte(d: Dialect, model: &ModelArtifact) -> String {
    let bins = columns(|j| {
        format!(
            "CASE WHEN is_valid THEN {} END AS b{j}",
            bin_case(d, j, &model.features[j])
        )
    });
    cte(
        d,
        "binned",
        "-- Each feature's bin, in the artifact's order (range bins, missing, bureau codes).\n  ",
        &format!("id, errors, x{AGE},\n    {bins}"),
        "judged",
    )
}

/// Each interaction pair's cell `i{p}`: its first feature's bin's share (`group · columns`)
/// plus its second's (`group`), as the core's pair tables add them.
fn paired_cte(d: Dialect, pairs: &[Pair]) -> String {
    let cells: Vec<String> = pairs
        .iter()
        .enumerate()
        .map(|(p, pair)| {
            let part = |axis: usize| {
                let arms: String = pair.parts[axis]
                    .iter()
                    .enumerate()
                    .map(|(b, v)| format!(" WHEN {b} THEN {v}"))
                    .collect();
                format!("CASE b{}{arms} END", pair.features[axis])
            };
            format!("({} + {}) AS i{p}", part(0), part(1))
        })
        .collect();
    cte(
        d,
        "paired",
        "-- Each interaction pair's cell (row-major in the pair's grid of coarse groups).\n  ",
        &format!(
            "id, errors, x{AGE}, {},\n    {}",
            names("b"),
            cells.join(",\n    ")
        ),
        "binned",
    )
}

/// Feature `j`'s points lost: `l{j}` (NULL unless a reason; age suppressed for the elderly when
/// the artifact says so) for a feature in no pair, else `u{j}`, its own bin's share unfiltered
/// (age's NULL for the elderly when suppressed), which `lost` completes with the cells' halves
/// before the same test.
fn loss_column(
    d: Dialect,
    model: &ModelArtifact,
    j: usize,
    n: &BinNumbers,
    paired: bool,
) -> String {
    let (l, name) = if paired {
        (per_bin(d, j, &n.own_lost), 'u')
    } else {
        (per_bin(d, j, &n.lost), 'l')
    };
    if j == AGE && model.age_policy.suppress_reason_for_elderly {
        // Regulation B: age is never a reason for applicants of 62 or more. In a pair, the
        // NULL share makes its total with the cells' halves NULL too (no reason).
        format!(
            "CASE WHEN x{AGE} >= {} THEN NULL ELSE {l} END AS {name}{j}",
            d.lit(ELDERLY_AGE)
        )
    } else {
        format!("{l} AS {name}{j}")
    }
}

/// Per feature its odds factor, points and points lost; per pair its cell's odds `co{p}`,
/// points `cp{p}` and half of its points lost `h{p}`.
fn scored_cte(d: Dialect, model: &ModelArtifact, pairs: &[Pair]) -> String {
    let numbers: Vec<BinNumbers> = model.features.iter().map(bin_numbers).collect();
    let odds = columns(|j| format!("{} AS o{j}", per_bin(d, j, &numbers[j].odds)));
    let points = columns(|j| format!("{} AS p{j}", per_bin(d, j, &numbers[j].points)));
    let lost = columns(|j| {
        let paired = !cells::pairs_of(pairs, j).is_empty();
        loss_column(d, model, j, &numbers[j], paired)
    });
    let mut cells = String::new();
    for (p, pair) in pairs.iter().enumerate() {
        let col = format!("i{p}");
        let some = |v: &[f64]| v.iter().copied().map(Some).collect::<Vec<_>>();
        cells += &format!(
            ",\n    {} AS co{p},\n    {} AS cp{p},\n    {} AS h{p}",
            per_index(d, &col, &some(&pair.odds)),
            per_index(d, &col, &some(&pair.points)),
            per_index(d, &col, &some(&pair.half_lost)),
        );
    }
    let comment = if pairs.is_empty() {
        "-- Per feature: odds factor exp(-logit), points, points lost when a reason.\n  "
    } else {
        "-- Per feature: odds factor exp(-logit), points, points lost; per pair: its cell's.\n  "
    };
    let from = if pairs.is_empty() { "binned" } else { "paired" };
    let select = format!("id, errors,\n    {odds},\n    {points},\n    {lost}{cells}");
    cte(d, "scored", comment, &select, from)
}

/// The points lost of features in pairs: their own bin's plus the half of each of their
/// pairs' cells, added in pair order (the core's `add_losses`), a reason above 1e-9.
fn lost_cte(d: Dialect, pairs: &[Pair]) -> String {
    let lost = columns(|j| {
        let mine = cells::pairs_of(pairs, j);
        if mine.is_empty() {
            return format!("l{j}");
        }
        let total = mine
            .iter()
            .fold(format!("u{j}"), |acc, p| format!("({acc} + h{p})"));
        format!(
            "CASE WHEN {total} > {} THEN {total} END AS l{j}",
            d.lit(MIN_REASON_LOSS)
        )
    });
    let select = format!(
        "id, errors,\n    {}{}{},\n    {},\n    {lost}",
        names("o"),
        pair_names("co", pairs.len()),
        pair_names("cp", pairs.len()),
        names("p"),
    );
    cte(
        d,
        "lost",
        "-- Points lost with the cells' halves (a feature in a pair shares its cell's loss).\n  ",
        &select,
        "scored",
    )
}

/// The CTEs from bins to ranks: bin per feature (and cell per pair), odds/points/loss,
/// probability and score, each feature's rank among the reasons.
fn scoring_ctes(d: Dialect, model: &ModelArtifact, pairs: &[Pair]) -> String {
    let mut ctes = vec![binned_cte(d, model)];
    if !pairs.is_empty() {
        ctes.push(paired_cte(d, pairs));
    }
    ctes.push(scored_cte(d, model, pairs));
    if !pairs.is_empty() {
        ctes.push(lost_cte(d, pairs));
    }
    let ranks = columns(|j| format!("{} AS k{j}", rank_expr(j)));
    let select = format!(
        "id, errors,\n    {} AS probability,\n    {} AS score,\n    {},\n    {ranks}",
        probability_expr(d, model.intercept, pairs.len()),
        score_expr(pairs.len()),
        names("l"),
    );
    let from = if pairs.is_empty() { "scored" } else { "lost" };
    ctes.push(cte(d, "ranked", "", &select, from));
    ctes.join(",\n")
}

/// The statement: header, CTEs and the final projection.
pub fn export(model: &ModelArtifact, d: Dialect, table: &str) -> Result<String, ExportError> {
    check_table(table)?;
    let pairs = cells::pairs(model)?;
    let reasons = (0..MAX_REASONS)
        .map(|k| Ok(format!("{} AS reason_{}", reason_expr(d, model, k)?, k + 1)))
        .collect::<Result<Vec<_>, ExportError>>()?
        .join(",\n  ");
    Ok(format!(
        "{header}WITH\n{validation},\n{scoring}\n\
         SELECT id,\n  probability,\n  CASE WHEN probability >= {t} THEN 1 WHEN probability IS NOT NULL THEN 0 END AS prediction,\n  score,\n  {reasons},\n  errors\nFROM ranked\n",
        header = header(model, d)?,
        validation = validation_ctes(d, table)?,
        scoring = scoring_ctes(d, model, &pairs),
        t = d.lit(model.threshold.probability),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use credit_core::shipped::MODEL_JSON;
    use std::collections::HashSet;

    const ALL: [Dialect; 4] = [
        Dialect::Duckdb,
        Dialect::Bigquery,
        Dialect::Postgres,
        Dialect::Spark,
    ];

    fn shipped() -> ModelArtifact {
        ModelArtifact::from_json(MODEL_JSON).expect("shipped model")
    }

    /// Every numeric literal of a statement: the 17-digit mantissa-exponent tokens.
    fn literals(sql: &str) -> Vec<String> {
        sql.split(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | '-')))
            .filter(|t| t.contains('e') && t.contains('.') && t.len() > 18)
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn literals_read_back_as_the_same_double() {
        let awkward = [
            0.0,
            -0.0,
            0.1,
            1.0 / 3.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            0.38375479931168255,
            9.0e15,
            123_456_789.123_456_79,
            -2.5e-300,
        ];
        for d in ALL {
            for v in awkward {
                let text = d.lit(v);
                let digits = text.trim_start_matches('\'').split('\'').next().unwrap();
                let back: f64 = digits.parse().unwrap();
                assert_eq!(back.to_bits(), v.to_bits(), "{d:?} {v} -> {text}");
            }
        }
        // And every literal in a whole export: many, all parse, all finite.
        let sql = export(&shipped(), Dialect::Duckdb, "applicants").unwrap();
        let lits = literals(&sql);
        assert!(lits.len() > 500, "{} literals", lits.len());
        for l in &lits {
            let v: f64 = l.parse().unwrap_or_else(|_| panic!("{l}"));
            assert!(v.is_finite(), "{l}");
            assert_eq!(d17(v), *l);
        }
    }

    fn d17(v: f64) -> String {
        format!("{v:.16e}")
    }

    #[test]
    fn odds_points_and_edges_of_every_bin_are_in_the_text() {
        let m = shipped();
        let sql = export(&m, Dialect::Duckdb, "applicants").unwrap();
        let lits: HashSet<String> = literals(&sql).into_iter().collect();
        for card in &m.features {
            for b in card.all_bins() {
                assert!(lits.contains(&d17(libm::exp(-b.logit))), "{} odds", b.label);
                assert!(lits.contains(&d17(b.points)), "{} points", b.label);
            }
            for e in &card.edges {
                assert!(lits.contains(&d17(*e)), "{} edge {e}", card.name);
            }
        }
        assert!(lits.contains(&d17(libm::exp(-m.intercept))));
        assert!(lits.contains(&d17(m.threshold.probability)));
    }

    #[test]
    fn header_records_model_version_checksum_and_dialect() {
        let m = shipped();
        let checksum = m.checksum.clone().unwrap();
        for d in ALL {
            let sql = export(&m, d, "applicants").unwrap();
            let first = sql.lines().next().unwrap();
            assert!(first.starts_with("-- credit export"), "{first}");
            assert!(first.contains(&checksum), "{first}");
            assert!(first.contains(&format!("version {}", m.model_version)));
            assert!(first.contains(&format!("dialect {}", d.name())), "{first}");
            assert!(sql.contains("FROM applicants AS src"));
        }
    }

    /// The exporter follows the artifact: a feature with other edges gets other arms.
    #[test]
    fn bins_come_from_the_artifact_not_the_shipped_shape() {
        let mut m = super::cells::additive_model();
        let card = &mut m.features[0];
        card.edges.truncate(3);
        card.range_bins.truncate(4);
        let sql = export(&m, Dialect::Postgres, "t").unwrap();
        assert_eq!(sql.matches(" WHEN x0 < ").count(), 3);
        let arms = bin_case(Dialect::Duckdb, 0, &m.features[0]);
        assert!(arms.ends_with("ELSE 3 END"), "{arms}");
        // Bureau codes and the missing bin come before the range bins.
        let past_due = bin_case(Dialect::Duckdb, 2, &m.features[2]);
        assert!(past_due.starts_with("CASE WHEN x2 IN (9.6"), "{past_due}");
        let income = bin_case(Dialect::Duckdb, 4, &m.features[4]);
        let n = m.features[4].range_bins.len();
        assert!(income.starts_with(&format!("CASE WHEN x4 IS NULL THEN {n} ")));
    }

    /// Each error object the SQL assembles is the text `credit score` writes.
    #[test]
    fn error_pieces_rebuild_the_cores_objects() {
        for (j, spec) in FEATURES.iter().enumerate() {
            let v = spec.min - 1.0;
            let e = core_error(j, RawValue::Float(v)).unwrap();
            let p = object_pieces(&e, None).unwrap();
            let whole = format!("{}{}{}", p[0], e.value, p[1]);
            assert_eq!(whole, object_text(&e).unwrap());
            assert!(
                whole.starts_with("{\"code\":\"out_of_range\",\"field\":"),
                "{whole}"
            );
            if spec.kind == Kind::Count {
                let v = spec.min + 2.25;
                let e = core_error(j, RawValue::Float(v)).unwrap();
                let shown = Shown(v).to_string();
                let words = e.message.strip_suffix(&shown).unwrap();
                let p = object_pieces(&e, Some(words)).unwrap();
                let whole = format!("{}{shown}{}{}{}", p[0], p[1], e.value, p[2]);
                assert_eq!(whole, object_text(&e).unwrap());
            }
        }
    }

    #[test]
    fn errors_list_every_feature_and_code() {
        let sql = export(&shipped(), Dialect::Spark, "t").unwrap();
        for spec in FEATURES {
            assert!(
                sql.contains(&format!("\"field\":\"{}\"", spec.name)),
                "{}",
                spec.name
            );
        }
        for code in ["missing", "not_finite", "not_an_integer", "out_of_range"] {
            assert!(sql.contains(&format!("\"code\":\"{code}\"")), "{code}");
        }
        // Optional features are never "missing".
        assert!(!sql.contains("\"field\":\"MonthlyIncome\",\"message\":\"Field required"));
    }

    #[test]
    fn ranks_break_ties_by_feature_order() {
        let r = rank_expr(3);
        assert!(r.contains("l0 >= l3") && r.contains("l2 >= l3"), "{r}");
        assert!(r.contains("l4 > l3") && !r.contains("l4 >= l3"), "{r}");
        assert_eq!(r.matches("CASE").count(), N_FEATURES - 1);
        assert_eq!(
            score_expr(0),
            "(((((((((p0 + p1) + p2) + p3) + p4) + p5) + p6) + p7) + p8) + p9)"
        );
    }

    #[test]
    fn strings_are_escaped_per_dialect_and_control_characters_refused() {
        assert_eq!(Dialect::Duckdb.str_lit("x", "it's").unwrap(), "'it''s'");
        assert_eq!(Dialect::Postgres.str_lit("x", "a\\b").unwrap(), "'a\\b'");
        assert_eq!(Dialect::Bigquery.str_lit("x", "it's").unwrap(), "'it\\'s'");
        assert_eq!(Dialect::Spark.str_lit("x", "a\\b").unwrap(), "'a\\\\b'");
        for d in ALL {
            assert!(matches!(
                d.str_lit("reason code", "R\n1"),
                Err(ExportError::BadText { .. })
            ));
        }
        let mut m = shipped();
        m.features[5].reason_code = "R\u{7}".into();
        assert!(export(&m, Dialect::Duckdb, "t").is_err());
    }

    #[test]
    fn table_names_that_break_the_statement_are_refused() {
        for bad in ["", "  ", "t; DROP TABLE t", "t -- x", "t\nu"] {
            assert!(
                matches!(
                    export(&shipped(), Dialect::Duckdb, bad),
                    Err(ExportError::BadTable { .. })
                ),
                "{bad:?}"
            );
        }
        for good in [
            "applicants",
            "`p-1.d.t`",
            "\"S\".\"T\"",
            "(SELECT * FROM x)",
        ] {
            assert!(
                export(&shipped(), Dialect::Bigquery, good).is_ok(),
                "{good}"
            );
        }
    }

    /// What the statement computes for a row whose bins are `bins`, replayed in Rust on the
    /// numbers it writes (`bin_numbers`, `cells::pairs`) in the order `probability_expr`,
    /// `score_expr`, `lost_cte`, `rank_expr` and `reason_expr` write it: probability, score,
    /// each feature's reason loss (`l{j}`) and the reasons' features.
    fn replay(
        m: &ModelArtifact,
        bins: &[u16; N_FEATURES],
        age: f64,
    ) -> (f64, f64, Vec<Option<f64>>, Vec<usize>) {
        let numbers: Vec<BinNumbers> = m.features.iter().map(bin_numbers).collect();
        let pairs = cells::pairs(m).unwrap();
        let b = |j: usize| usize::from(bins[j]);
        let o = |j: usize| numbers[j].odds[b(j)].unwrap();
        let cell: Vec<usize> = pairs
            .iter()
            .map(|p| p.cell(b(p.features[0]), b(p.features[1])).unwrap())
            .collect();
        let io = libm::exp(-m.intercept);
        let mut q = (((io * o(0)) * (o(1) * o(2))) * ((o(3) * o(4)) * (o(5) * o(6))))
            * ((o(7) * o(8)) * o(9));
        let point = |j: usize| numbers[j].points[b(j)].unwrap();
        let mut score = (1..N_FEATURES).fold(point(0), |acc, j| acc + point(j));
        for (p, &k) in pairs.iter().zip(&cell) {
            q *= p.odds[k];
            score += p.points[k];
        }
        let lost: Vec<Option<f64>> = (0..N_FEATURES)
            .map(|j| {
                let mine = cells::pairs_of(&pairs, j);
                let elderly = m.age_policy.suppress_reason_for_elderly && age >= ELDERLY_AGE;
                if j == AGE && elderly {
                    return None;
                }
                if mine.is_empty() {
                    return numbers[j].lost[b(j)];
                }
                let own = numbers[j].own_lost[b(j)].unwrap();
                let total = mine
                    .iter()
                    .fold(own, |acc, &p| acc + pairs[p].half_lost[cell[p]]);
                Some(total).filter(|&t| t > MIN_REASON_LOSS)
            })
            .collect();
        let before = |i: usize, j: usize| match (lost[i], lost[j]) {
            (Some(x), Some(y)) => x > y || (x == y && i < j),
            _ => false,
        };
        let rank = |j: usize| (0..N_FEATURES).filter(|&i| i != j && before(i, j)).count();
        let reasons = (0..MAX_REASONS)
            .filter_map(|k| (0..N_FEATURES).find(|&j| lost[j].is_some() && rank(j) == k))
            .collect();
        (1.0 / (1.0 + q), score, lost, reasons)
    }

    /// The statement's numbers and order give the core's bits (probability, score) and
    /// reasons on rows that reach every cell of every pair, with ties and both sides of the
    /// age rule, for the fixture, a model whose features are in two pairs each, the shipped
    /// model (eight trained pairs) and the additive one shipped as 1.0.0. The fixtures' cell
    /// points repeat by construction, so their rows must include ties of losses.
    #[test]
    fn the_statements_arithmetic_is_the_cores_on_every_cell() {
        use super::cells::{cells_model, overlapping_model, sample_rows};
        let models = [
            cells_model(),
            overlapping_model(),
            super::cells::age_pair_model(),
            shipped(),
            super::cells::additive_model(),
        ];
        for (k, m) in models.into_iter().enumerate() {
            let fixture = k < 3;
            let card = credit_core::Scorecard::new(m.clone()).unwrap();
            let pairs = cells::pairs(&m).unwrap();
            let (mut reached, mut rows, mut ties, mut elderly) = (HashSet::new(), 0, 0, 0);
            for row in sample_rows(&m) {
                let Some(bins) = card.bin_indices(&row) else {
                    continue;
                };
                let want = card.predict_row(&row).unwrap();
                let (p, s, lost, reasons) = replay(&m, &bins, row[AGE]);
                assert_eq!(p.to_bits(), want.probability.to_bits(), "{row:?}");
                assert_eq!(s.to_bits(), want.score.to_bits(), "{row:?}");
                let core: Vec<usize> = want.reasons.as_slice().iter().map(|r| r.feature).collect();
                assert_eq!(reasons, core, "{row:?}");
                for r in want.reasons.as_slice() {
                    assert_eq!(lost[r.feature], Some(r.points_lost), "{row:?}");
                }
                let losses: Vec<f64> = lost.iter().flatten().copied().collect();
                ties += usize::from((1..losses.len()).any(|i| losses[..i].contains(&losses[i])));
                elderly += usize::from(row[AGE] >= ELDERLY_AGE);
                for (i, p) in pairs.iter().enumerate() {
                    let (b0, b1) = (bins[p.features[0]], bins[p.features[1]]);
                    reached.insert((i, p.cell(b0.into(), b1.into())));
                }
                rows += 1;
            }
            let cells: usize = pairs.iter().map(|p| p.odds.len()).sum();
            assert_eq!(reached.len(), cells, "every cell reached");
            assert!(
                rows >= 400 && elderly >= 100,
                "{rows} rows, {elderly} elderly"
            );
            if fixture {
                assert!(ties > 0, "no row with two equal losses");
            }
        }
    }

    /// The cells' numbers are in every dialect's text, after the features in the product and
    /// the sum, and the losses take their halves in pair order.
    #[test]
    fn cells_are_written_after_the_features_in_pair_order() {
        let m = super::cells::overlapping_model();
        let pairs = cells::pairs(&m).unwrap();
        for d in ALL {
            let sql = export(&m, d, "applicants").unwrap();
            let lits: HashSet<String> = literals(&sql).into_iter().collect();
            for p in &pairs {
                for k in 0..p.odds.len() {
                    for v in [p.odds[k], p.points[k], p.half_lost[k]] {
                        assert!(lits.contains(&d17(v)), "{d:?} {v}");
                    }
                }
            }
            assert!(sql.contains(" * co0) * co1) * co2) * co3))"), "{d:?}");
            assert!(sql.contains("+ p9) + cp0) + cp1) + cp2) + cp3) AS score"));
            assert!(sql.contains("CASE WHEN ((u0 + h0) + h3) > "));
            assert!(sql.contains("CASE WHEN ((u3 + h1) + h3) > "));
            assert!(sql.contains("CASE WHEN (u9 + h2) > "));
            assert!(sql.contains("FROM paired") && sql.contains("FROM lost"));
        }
        // An additive model's statement has none of it.
        let plain = export(&super::cells::additive_model(), Dialect::Duckdb, "t").unwrap();
        assert!(!plain.contains("paired") && !plain.contains("co0") && !plain.contains(" u0"));
    }

    /// Age in a pair: its reason, own bin and cells' halves together, is suppressed from 62
    /// on in the statement as in the core (the statement's arithmetic on every cell is in
    /// `the_statements_arithmetic_is_the_cores_on_every_cell`).
    #[test]
    fn a_pair_with_age_keeps_the_elderly_suppression() {
        let m = super::cells::age_pair_model();
        let sql = export(&m, Dialect::Duckdb, "t").unwrap();
        assert!(sql.contains("CASE WHEN x1 >= 6.2000000000000000e1 THEN NULL ELSE"));
        assert!(
            sql.contains(" AS u1"),
            "age's own share, completed with its halves"
        );
        assert!(sql.contains("CASE WHEN (u1 + h3) > "));
    }

    #[test]
    fn elderly_age_suppression_follows_the_artifact() {
        let mut m = shipped();
        m.age_policy.suppress_reason_for_elderly = true;
        let on = export(&m, Dialect::Duckdb, "t").unwrap();
        assert!(on.contains("CASE WHEN x1 >= 6.2000000000000000e1 THEN NULL"));
        m.age_policy.suppress_reason_for_elderly = false;
        let off = export(&m, Dialect::Duckdb, "t").unwrap();
        assert!(!off.contains("x1 >= 6.2"));
    }
}
