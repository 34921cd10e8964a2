//! The batch kernel on WebAssembly SIMD128: two rows per vector, the browser's counterpart of
//! `kernel::avx2`.
//!
//! In the size-optimised `.wasm` the scalar kernel spends most of its time on per-feature index
//! arithmetic (range, whole-number and missing checks, the bucket of a real value) that is the
//! same for every row; here one `f64x2` / `i64x2` instruction does it for two rows. WASM has no
//! gather, so each table read is a lane extract and a scalar load.
//!
//! The verdicts are the scalar kernel's, lane by lane, as in `kernel::avx2` (whose comments
//! argue why each is the same): the same slots, the same odds multiplied in the same balanced
//! tree, the same `1 / (1 + q)`, the same canonical NaN for an invalid row, so every
//! probability is bit-identical to [`Kernel::probabilities`]. The browser package's tests
//! compare `predictBatch` (this kernel) with `predict` (the scalar one) bit for bit on rows
//! that probe every verdict.
//!
//! Shaped for what the browser's compiler (V8) makes of it, measured by the length of the hot
//! loop in V8's code and by Chromium's times:
//! - a WASM constant vector costs three x86 instructions every time it is used (V8 does not
//!   hoist it out of the loop) and a splatting load two, so the constants are whole vectors in
//!   a table, one load each (see [`CONSTS`]);
//! - a value that fails its checks ORs all ones into its slot: masked into the table that is
//!   the last slot, padding with NaN odds, so the row's product is NaN as on the scalar path.
//!   No lane select (three instructions) per feature, and no validity mask kept live to the
//!   end (V8 has 16 vector registers and spills the rest);
//! - a range check is a clamp (`pmin`/`pmax`, one instruction each) and one compare of the
//!   clamped value with the value, instead of two compares and an `or`;
//! - each feature's odds are read as soon as its slot is known, so few vectors are live.
//!
//! Compiled only when the build enables `simd128` (`bindings-wasm/build.sh`); a `.wasm`
//! without it keeps the scalar path. Used for probabilities only (`predictBatch`; with points,
//! `scoreBatch` takes the scalar path, which keeps the `.wasm` smaller), and only for kernels
//! whose real features all have bucket tables (see [`Kernel::simd128`]).

use super::{Kernel, RealTable, BASE, BUCKETS, N, N_REAL, REAL, SEARCH_WIDTH, SLOTS, TOTAL};
use crate::batch::Layout;
use crate::schema::{Kind, FEATURES, N_FEATURES};
use core::arch::wasm32::*;

/// Rows per vector.
pub(crate) const LANES: usize = 2;

/// A kernel that may score with SIMD128 (every real feature is bucketed).
#[derive(Clone, Copy)]
pub(crate) struct Simd128<'k>(&'k Kernel);

impl Kernel {
    /// The SIMD128 batch kernel, when this model allows it.
    pub(crate) fn simd128(&self) -> Option<Simd128<'_>> {
        self.reals
            .iter()
            .all(|t| t.bucketed)
            .then_some(Simd128(self))
    }
}

/// The constants of one feature's slot arithmetic, each a vector with both lanes equal (see
/// the module comment: V8 reads a `v128.load` in one instruction, a splat in two or three).
#[derive(Clone, Copy)]
struct FeatureConsts {
    /// Count: `2^52 - min` (see `kernel::avx2::count_slots`).
    shift: v128,
    /// Lowest valid value.
    lo: v128,
    /// Highest valid value (count: the top of its slots, special codes included).
    hi: v128,
    /// Count: the bits of `2^52` less `BASE` (the bits of `v + shift` less these are the
    /// slot, `BASE + v - min`). Real: `BASE` (added to the number of edges `<= v`).
    bias: v128,
    /// The missing slot, `BASE + N + 1` (optional features).
    missing: v128,
}

/// Every constant the kernel uses, read from memory (see the module comment).
struct Consts {
    f: [FeatureConsts; N_FEATURES],
    /// `1.0`.
    one: v128,
}

const fn consts() -> Consts {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    let zero = i64x2(0, 0);
    let empty = FeatureConsts {
        shift: zero,
        lo: zero,
        hi: zero,
        bias: zero,
        missing: zero,
    };
    let mut f = [empty; N_FEATURES];
    let mut j = 0;
    while j < N_FEATURES {
        let spec = &FEATURES[j];
        let missing = (BASE[j] + N[j] + 1) as i64;
        f[j] = match spec.kind {
            Kind::Count => {
                let shift = TWO_52 - spec.min;
                let hi = spec.min + (N[j] - 1) as f64;
                let bias = TWO_52.to_bits() as i64 - BASE[j] as i64;
                FeatureConsts {
                    shift: f64x2(shift, shift),
                    lo: f64x2(spec.min, spec.min),
                    hi: f64x2(hi, hi),
                    bias: i64x2(bias, bias),
                    missing: i64x2(missing, missing),
                }
            }
            Kind::Real => FeatureConsts {
                shift: zero,
                lo: f64x2(spec.min, spec.min),
                hi: f64x2(spec.max, spec.max),
                bias: i64x2(BASE[j] as i64, BASE[j] as i64),
                missing: i64x2(missing, missing),
            },
        };
        j += 1;
    }
    Consts {
        f,
        one: f64x2(1.0, 1.0),
    }
}

static CONSTS: Consts = consts();

/// A real feature's bucket table with its bounds as vectors, made once per call.
#[derive(Clone, Copy)]
struct RealVectors<'k> {
    table: &'k RealTable,
    /// The lowest bucket's lower bound (`origin` as a float) and the highest bucket's
    /// (`origin + (last << shift)`): a value clamped to these has a bucket in `0..=last`.
    floor: v128,
    ceiling: v128,
    /// `origin` (integer lanes).
    origin: v128,
}

impl<'k> RealVectors<'k> {
    fn new(t: &'k RealTable) -> RealVectors<'k> {
        // `origin` is at most the first edge's bits and the top bucket's bound at most the
        // last edge's (`RealTable::new`; both 0 for a feature without edges), and edges are
        // finite and non-negative when the table is bucketed: so both are non-negative,
        // finite floats, and their bits order as they do.
        let top = t.origin.wrapping_add(t.last.wrapping_shl(t.shift));
        RealVectors {
            table: t,
            floor: f64x2_splat(f64::from_bits(t.origin)),
            ceiling: f64x2_splat(f64::from_bits(top)),
            origin: i64x2_splat(t.origin as i64),
        }
    }
}

impl Simd128<'_> {
    /// Scores the leading whole pairs of rows of `input` into `probability` (NaN for an
    /// invalid row); returns how many rows it did (even; none for [`Layout::Other`]) and
    /// pushes the invalid ones' indices to `invalid`. The caller scores the rest.
    #[inline(always)]
    pub(crate) fn score(
        self,
        input: Layout<'_>,
        probability: &mut [f64],
        invalid: &mut Vec<usize>,
    ) -> usize {
        match input {
            Layout::RowMajor(data) => self.row_major(data, probability, invalid),
            Layout::Columns(cols) => self.columns(&cols, probability, invalid),
            Layout::Other => 0,
        }
    }

    /// Row-major `data` (`n × 10`), see [`Simd128::score`].
    fn row_major(self, data: &[f64], probability: &mut [f64], invalid: &mut Vec<usize>) -> usize {
        // Opaque, so that the compiler reads the constants instead of writing them inline.
        let c = core::hint::black_box(&CONSTS);
        let reals = self.0.reals.each_ref().map(RealVectors::new);
        let pairs = data.as_chunks::<{ LANES * N_FEATURES }>().0;
        let outs = probability.as_chunks_mut::<LANES>().0;
        let n = pairs.len().min(outs.len());
        for (b, (pair, out)) in pairs.iter().zip(outs).enumerate() {
            // Feature `j` of the two rows in one vector (written out: a size-optimised build
            // does not unroll loops).
            let mut v = [c.one; N_FEATURES];
            macro_rules! features {
                ($($j:literal)*) => {$(
                    v[$j] = f64x2(pair[$j], pair[N_FEATURES + $j]);
                )*};
            }
            features!(0 1 2 3 4 5 6 7 8 9);
            store(self.0, c, &reals, &v, b * LANES, out, invalid);
        }
        n * LANES
    }

    /// Ten columns of equal length (model column order), see [`Simd128::score`].
    fn columns(
        self,
        cols: &[&[f64]; N_FEATURES],
        probability: &mut [f64],
        invalid: &mut Vec<usize>,
    ) -> usize {
        let c = core::hint::black_box(&CONSTS);
        let reals = self.0.reals.each_ref().map(RealVectors::new);
        let len = cols.iter().map(|c| c.len()).min().unwrap_or(0);
        let outs = probability.as_chunks_mut::<LANES>().0;
        let n = (len / LANES).min(outs.len());
        for (b, out) in outs.iter_mut().enumerate().take(n) {
            let i = b * LANES;
            let mut v = [c.one; N_FEATURES];
            for (v, col) in v.iter_mut().zip(cols) {
                if let Some(&[x0, x1]) = col.get(i..i + LANES) {
                    *v = f64x2(x0, x1);
                }
            }
            store(self.0, c, &reals, &v, i, out, invalid);
        }
        n * LANES
    }
}

/// Scores rows `i` and `i + 1` (values `v`, one vector per feature) into `out`.
#[inline(always)]
fn store(
    k: &Kernel,
    c: &Consts,
    reals: &[RealVectors<'_>; N_REAL],
    v: &[v128; N_FEATURES],
    i: usize,
    out: &mut [f64; LANES],
    invalid: &mut Vec<usize>,
) {
    // Each feature's odds right after its slot; the product is the scalar kernel's tree,
    // `((io·o0)·(o1·o2)) · ((o3·o4)·(o5·o6))` times `(o7·o8)·o9`, built in that order.
    macro_rules! odds {
        ($j:literal) => {
            lookup(
                &k.odds,
                match FEATURES[$j].kind {
                    Kind::Count => count_slots::<$j>(c, v[$j]),
                    Kind::Real => real_slots::<$j>(c, &reals[REAL[$j] % N_REAL], v[$j]),
                },
            )
        };
    }
    const _: () = assert!(N_FEATURES == 10, "simd128::store lists the ten features");
    let mul = f64x2_mul;
    let t = mul(f64x2_splat(k.intercept_odds), odds!(0));
    let a = mul(t, mul(odds!(1), odds!(2)));
    let b34 = mul(odds!(3), odds!(4));
    let b56 = mul(b34, mul(odds!(5), odds!(6)));
    let ab = mul(a, b56);
    let c78 = mul(odds!(7), odds!(8));
    let q = mul(ab, mul(c78, odds!(9)));
    let p = f64x2_div(c.one, f64x2_add(c.one, q));
    // An invalid value's NaN odds make its row's product NaN, as on the scalar path.
    let ok = f64x2_eq(q, q);
    let (mut p0, mut p1) = (f64x2_extract_lane::<0>(p), f64x2_extract_lane::<1>(p));
    if !i64x2_all_true(ok) {
        // An invalid row gets `f64::NAN`, bit for bit, as on the scalar path.
        if i64x2_extract_lane::<0>(ok) == 0 {
            p0 = f64::NAN;
            invalid.push(i);
        }
        if i64x2_extract_lane::<1>(ok) == 0 {
            p1 = f64::NAN;
            invalid.push(i + 1);
        }
    }
    *out = [p0, p1];
}

/// `table[slot]` for the two slots, masked into the table as the scalar kernel masks them.
#[inline(always)]
fn lookup(table: &[f64; SLOTS], slot: v128) -> v128 {
    // The low 32 bits of a lane are enough: `% SLOTS` keeps fewer bits than that (and lets
    // the compiler drop the bounds check, `SLOTS` being a power of two).
    let s0 = i32x4_extract_lane::<0>(slot) as u32 as usize;
    let s1 = i32x4_extract_lane::<2>(slot) as u32 as usize;
    f64x2(table[s0 % SLOTS], table[s1 % SLOTS])
}

/// The slots, with every bit set in a lane whose value failed its checks (`bad`): masked into
/// the table, that is its last slot, a padding slot whose odds are NaN. An optional feature's
/// NaN takes the missing slot instead.
#[inline(always)]
fn finish<const J: usize>(v: v128, slot: v128, bad: v128, f: &FeatureConsts) -> v128 {
    const _: () = assert!(TOTAL < SLOTS, "the last slot is padding (NaN odds)");
    let slot = v128_or(slot, bad);
    if FEATURES[J].optional {
        v128_bitselect(f.missing, slot, f64x2_ne(v, v))
    } else {
        slot
    }
}

/// `v` clamped to `lo..=hi` (NaN stays NaN): it differs from `v` exactly where `v` is out of
/// range or NaN. `pmax`/`pmin` are one instruction each in V8, where a range check takes two
/// compares and an `or`.
#[inline(always)]
fn clamp(v: v128, f: &FeatureConsts) -> v128 {
    // `pmax(a, b)` is `a < b ? b : a` and `pmin(a, b)` is `b < a ? b : a`: a NaN `a` is kept.
    f64x2_pmin(f64x2_pmax(v, f.lo), f.hi)
}

/// A count feature's slots, `BASE + v - min`, for a whole number in `min..=top` (the verdicts
/// of the scalar kernel, see `kernel::avx2::count_slots`).
#[inline(always)]
fn count_slots<const J: usize>(c: &Consts, v: v128) -> v128 {
    let f = &c.f[J];
    // The slot of `v` clamped into the range; the round trip through `r` gives `v` back only
    // for a whole number in range (not for a fraction, an out-of-range value or NaN).
    let r = f64x2_add(clamp(v, f), f.shift);
    let bad = f64x2_ne(f64x2_sub(r, f.shift), v);
    // The bits of `r` less those of 2^52 are `v - min`; less `bias`, `BASE + v - min`.
    let slot = i64x2_sub(r, f.bias);
    finish::<J>(v, slot, bad, f)
}

// Every real feature's minimum is at least 0 (see `real_slots`).
const _: () = {
    let mut j = 0;
    while j < N_FEATURES {
        assert!(!matches!(FEATURES[j].kind, Kind::Real) || FEATURES[j].min >= 0.0);
        j += 1;
    }
};

/// A real feature's slots, `BASE` plus the bucket table's answer (see
/// `RealTable::upper_bound`), for `min <= v <= max`.
#[inline(always)]
fn real_slots<const J: usize>(c: &Consts, r: &RealVectors<'_>, v: v128) -> v128 {
    let f = &c.f[J];
    let t = r.table;
    // The value clamped to the bucket range, so that its bucket is its bits less the origin,
    // shifted: the scalar kernel's saturating subtraction and `min(last)`, done on the float
    // (the bits of non-negative floats order as the floats do). `pmax(floor, v)` is
    // `floor < v ? v : floor`: -0.0, negative values and NaN take the lowest bucket. The
    // scalar kernel takes `|v|` instead, which gives the same bucket wherever it matters:
    // for -0.0, and for no valid value other than that, every real feature's minimum being
    // at least 0 (asserted above). The range check rejects the rest.
    let x = f64x2_pmin(r.ceiling, f64x2_pmax(r.floor, v));
    let bucket = u64x2_shr(i64x2_sub(x, r.origin), t.shift);
    // `bucket <= last < BUCKETS`; the `%` (a mask, BUCKETS being a power of two) lets the
    // compiler drop the bounds check, as in the scalar kernel.
    let f0 = t.first[i32x4_extract_lane::<0>(bucket) as u32 as usize % BUCKETS];
    let f1 = t.first[i32x4_extract_lane::<2>(bucket) as u32 as usize % BUCKETS];
    let edge = f64x2(
        t.edges[usize::from(f0) % SEARCH_WIDTH],
        t.edges[usize::from(f1) % SEARCH_WIDTH],
    );
    // `edge <= v` is all ones (-1) in a lane where true: subtracting it adds one.
    let first = i64x2_add(i64x2(i64::from(f0), i64::from(f1)), f.bias);
    let slot = i64x2_sub(first, f64x2_le(edge, v));
    // Out of range, or NaN.
    finish::<J>(v, slot, f64x2_ne(clamp(v, f), v), f)
}
