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
//! Shaped for what the browser's compiler (V8) makes of it, measured: a WASM constant vector
//! costs three x86 instructions every time it is used (V8 does not hoist it out of the loop),
//! so the constants are read from a table, one load each (see [`CONSTS`]); a lane select
//! costs three, so a slot is `invalid + ((ordinary - invalid) & ok)`; and each feature's odds
//! are read as soon as its slot is known, so that few vectors are live at once (V8 has 16
//! vector registers and spills the rest).
//!
//! Compiled only when the build enables `simd128` (`bindings-wasm/build.sh`); a `.wasm`
//! without it keeps the scalar path. Used for probabilities only (`predictBatch`; with points,
//! `scoreBatch` takes the scalar path, which keeps the `.wasm` smaller), and only for kernels
//! whose real features all have bucket tables (see [`Kernel::simd128`]).

use super::{Kernel, BASE, BUCKETS, MASK, N, N_REAL, REAL, SEARCH_WIDTH, SLOTS};
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

/// The constants of one feature's slot arithmetic.
#[derive(Clone, Copy)]
struct FeatureConsts {
    /// Count: `2^52 - min` (see `kernel::avx2::count_slots`).
    shift: f64,
    /// Lowest valid value.
    lo: f64,
    /// Highest valid value (count: the top of its slots, special codes included).
    hi: f64,
    /// Subtracted from an ordinary slot to make it relative to the invalid slot: count, the
    /// bits of 2^52 plus `N` (the bits of `v + shift` less these are `v - min - N`); real, `N`.
    bias: i64,
    /// The invalid slot, `BASE + N` (the missing slot follows it).
    invalid: i64,
}

/// Every constant the kernel uses, read from memory (see the module comment).
struct Consts {
    f: [FeatureConsts; N_FEATURES],
    mask: i64,
    one: f64,
    nan: f64,
}

const fn consts() -> Consts {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    let empty = FeatureConsts {
        shift: 0.0,
        lo: 0.0,
        hi: 0.0,
        bias: 0,
        invalid: 0,
    };
    let mut f = [empty; N_FEATURES];
    let mut j = 0;
    while j < N_FEATURES {
        let spec = &FEATURES[j];
        let invalid = (BASE[j] + N[j]) as i64;
        f[j] = match spec.kind {
            Kind::Count => FeatureConsts {
                shift: TWO_52 - spec.min,
                lo: spec.min,
                hi: spec.min + (N[j] - 1) as f64,
                bias: TWO_52.to_bits() as i64 + N[j] as i64,
                invalid,
            },
            Kind::Real => FeatureConsts {
                shift: 0.0,
                lo: spec.min,
                hi: spec.max,
                bias: N[j] as i64,
                invalid,
            },
        };
        j += 1;
    }
    Consts {
        f,
        mask: MASK as i64,
        one: 1.0,
        nan: f64::NAN,
    }
}

static CONSTS: Consts = consts();

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
        let pairs = data.as_chunks::<{ LANES * N_FEATURES }>().0;
        let n = pairs.len().min(probability.len() / LANES);
        for (b, pair) in pairs.iter().enumerate().take(n) {
            // Feature `j` of the two rows in one vector (written out: in a size-optimised
            // build a closure may stay a call per feature).
            let mut v = [f64x2_splat(0.0); N_FEATURES];
            macro_rules! features {
                ($($j:literal)*) => {$(
                    v[$j] = f64x2(pair[$j], pair[N_FEATURES + $j]);
                )*};
            }
            features!(0 1 2 3 4 5 6 7 8 9);
            store(self.0, c, &v, b, probability, invalid);
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
        let len = cols.iter().map(|c| c.len()).min().unwrap_or(0);
        let n = (len / LANES).min(probability.len() / LANES);
        for b in 0..n {
            let i = b * LANES;
            let mut v = [f64x2_splat(0.0); N_FEATURES];
            for (v, col) in v.iter_mut().zip(cols) {
                if let Some(&[x0, x1]) = col.get(i..i + LANES) {
                    *v = f64x2(x0, x1);
                }
            }
            store(self.0, c, &v, b, probability, invalid);
        }
        n * LANES
    }
}

/// Scores pair `b` (values `v`, one vector per feature) into `probability`.
#[inline(always)]
fn store(
    k: &Kernel,
    c: &Consts,
    v: &[v128; N_FEATURES],
    b: usize,
    probability: &mut [f64],
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
                    Kind::Real => real_slots::<$j>(k, c, v[$j]),
                },
                c,
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
    let one = f64x2_splat(c.one);
    let p = f64x2_div(one, f64x2_add(one, q));
    let nan = f64x2_ne(p, p);
    let i = b * LANES;
    let (mut p0, mut p1) = (f64x2_extract_lane::<0>(p), f64x2_extract_lane::<1>(p));
    if v128_any_true(nan) {
        // An invalid row gets the same NaN (`f64::NAN`, bit for bit) as on the scalar path.
        if p0.is_nan() {
            p0 = c.nan;
            invalid.push(i);
        }
        if p1.is_nan() {
            p1 = c.nan;
            invalid.push(i + 1);
        }
    }
    if let Some(out) = probability.get_mut(i..i + LANES) {
        out[0] = p0;
        out[1] = p1;
    }
}

/// `table[slot]` for the two slots, masked into the table as the scalar kernel masks them.
#[inline(always)]
fn lookup(table: &[f64; SLOTS], slot: v128, c: &Consts) -> v128 {
    // Byte offsets: one `and` and one shift for both lanes.
    let offset = i64x2_shl(v128_and(slot, i64x2_splat(c.mask)), 3);
    let base = table.as_ptr().cast::<u8>();
    // SAFETY: each lane of `offset` is `(slot & MASK) * 8` with `MASK < SLOTS`, the byte
    // offset of an element of `table`, so both reads are of initialised, aligned `f64`s inside
    // `table` (the low 32 bits hold the whole offset: it is below 2^16).
    unsafe {
        let x0 = *base
            .add(i32x4_extract_lane::<0>(offset) as usize)
            .cast::<f64>();
        let x1 = *base
            .add(i32x4_extract_lane::<2>(offset) as usize)
            .cast::<f64>();
        f64x2(x0, x1)
    }
}

/// Mask of the lanes whose value lies in `lo..=hi` (false for NaN).
#[inline(always)]
fn within(v: v128, f: &FeatureConsts) -> v128 {
    v128_and(
        f64x2_ge(v, f64x2_splat(f.lo)),
        f64x2_le(v, f64x2_splat(f.hi)),
    )
}

/// `invalid + relative` where `ok`, else the invalid slot; then, for an optional feature's
/// NaN, the missing slot. NaN always fails `ok` (it fails the range compare), so its slot is
/// the invalid one, and the missing slot is one more: subtracting the all-ones (-1) lanes of
/// the NaN mask adds that one. The scalar kernel's order of verdicts.
#[inline(always)]
fn finish<const J: usize>(v: v128, relative: v128, ok: v128, f: &FeatureConsts) -> v128 {
    let slot = i64x2_add(i64x2_splat(f.invalid), v128_and(relative, ok));
    if FEATURES[J].optional {
        i64x2_sub(slot, f64x2_ne(v, v))
    } else {
        slot
    }
}

/// A count feature's slots: `BASE + v - min` for a whole number in `min..=top`, else invalid
/// (the verdicts of the scalar kernel, see `kernel::avx2::count_slots`).
#[inline(always)]
fn count_slots<const J: usize>(c: &Consts, v: v128) -> v128 {
    let f = &c.f[J];
    let shift = f64x2_splat(f.shift);
    let r = f64x2_add(v, shift);
    let whole = f64x2_eq(f64x2_sub(r, shift), v);
    let ok = v128_and(whole, within(v, f));
    // The bits of `r` less those of 2^52 are `v - min`; less `N` as well, relative to the
    // invalid slot.
    let relative = i64x2_sub(r, i64x2_splat(f.bias));
    finish::<J>(v, relative, ok, f)
}

/// A real feature's slots: the bucket table's answer (see `RealTable::upper_bound`) where
/// `min <= v <= max`, else invalid.
#[inline(always)]
fn real_slots<const J: usize>(k: &Kernel, c: &Consts, v: v128) -> v128 {
    let f = &c.f[J];
    let t = &k.reals[REAL[J] % N_REAL];
    // |v|'s bits less the origin, saturating at 0: both are below 2^63, so a signed compare
    // tells "below the origin".
    let bits = f64x2_abs(v);
    let origin = i64x2_splat(t.origin as i64);
    let d = v128_andnot(i64x2_sub(bits, origin), i64x2_gt(origin, bits));
    let bucket = u64x2_shr(d, t.shift);
    let last = i64x2_splat(t.last as i64);
    let bucket = v128_bitselect(last, bucket, i64x2_gt(bucket, last));
    // `bucket <= last < BUCKETS`; the `%` (a mask, BUCKETS being a power of two) lets the
    // compiler drop the bounds check, as in the scalar kernel.
    let f0 = usize::from(t.first[i64x2_extract_lane::<0>(bucket) as usize % BUCKETS]);
    let f1 = usize::from(t.first[i64x2_extract_lane::<1>(bucket) as usize % BUCKETS]);
    let edge = f64x2(t.edges[f0 % SEARCH_WIDTH], t.edges[f1 % SEARCH_WIDTH]);
    // `edge <= v` is all ones (-1) in a lane where true: subtracting it adds one.
    let first = i64x2_sub(i64x2(f0 as i64, f1 as i64), i64x2_splat(f.bias));
    let relative = i64x2_sub(first, f64x2_le(edge, v));
    finish::<J>(v, relative, within(v, f), f)
}
