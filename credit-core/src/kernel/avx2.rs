//! The batch kernel on AVX2: four rows per step, every feature's slot found for the four rows
//! in one set of vector instructions.
//!
//! The scalar kernel spends most of its ~230 instructions per row on per-feature index
//! arithmetic that is the same for every row; here one instruction does it for four rows. The
//! arithmetic is the scalar kernel's, lane by lane: the same slots (the range, whole-number and
//! missing checks give the same verdicts, see [`count_slots`] and [`real_slots`]), the same odds
//! multiplied in the same order (the same balanced tree) and the same `1 / (1 + q)`, so every
//! probability and score is bit-identical to [`Kernel::probabilities`] and [`Kernel::points`]
//! (asserted by the tests below and by the shared test vectors).
//!
//! The code is compiled four times (see `kernel::path` for which build runs where):
//! - with AVX2 alone, or with AVX-512 (F, VL, DQ) too: the same 256-bit code, but compares
//!   into mask registers and one-instruction blends, about 20% faster on an AVX-512 Xeon
//!   (8.5 against 10.7 ns per row in cache);
//! - reading each table with one vector gather (`GATHER = true`), or with four scalar loads
//!   from the lanes' indices put together into a vector (`false`): sixteen table reads per
//!   four rows, which on AMD Zen cores (microcoded gathers) cost more than all the rest. The
//!   loads take more instructions (callgrind, 1M rows: ~102 per row against ~76 with
//!   gathers), each a cheap one; where gathers are fast (Intel) the gathers win.
//!
//! Interaction cells (`crate::cells`) are scored here too, in their own loop instantiation
//! (an additive model runs the code it ran before cells): each feature's slot also reads its
//! share of every pair's cell index, and the pairs' odds and points follow the features' in
//! pair order, as in the scalar kernel (see [`cells`]).
//!
//! It runs only where the kernel's path says so ([`Kernel::avx2`]; the path is one this CPU
//! supports), and only for kernels whose real features all have bucket tables; everything else
//! keeps the scalar path. `unsafe` is confined to the gathers and to calling the
//! `#[target_feature]` functions: each gathered index is in bounds by construction (masked
//! with `MASK`, clamped to `last`, or below 64), as the comments say; the scalar loads index
//! the tables with masked indices, checked by the compiler.

mod cells;
pub(crate) use cells::Cells;

use super::{Kernel, KernelPath, BASE, BUCKETS, MASK, N, REAL, SEARCH_WIDTH, SLOTS};
use crate::batch::Layout;
use crate::schema::{Kind, FEATURES, N_FEATURES};
use std::arch::x86_64::*;

/// Rows per step.
pub(crate) const LANES: usize = 4;

/// A kernel that may score on AVX2: its path is a vector one (which it only is where the CPU
/// has the instructions), every real feature is bucketed and its pairs (if any) have their
/// vector tables.
#[derive(Clone, Copy)]
pub(crate) struct Avx2<'k>(&'k Kernel, KernelPath, &'k Cells);

impl Kernel {
    /// The AVX2 batch kernel, when this kernel's path and its model allow it.
    pub(crate) fn avx2(&self) -> Option<Avx2<'_>> {
        let vector = self.path != KernelPath::Scalar;
        let usable = vector && self.reals.iter().all(|t| t.bucketed);
        let cells = self.cells.as_ref().filter(|_| usable)?;
        Some(Avx2(self, self.path, cells))
    }
}

impl Avx2<'_> {
    /// Scores the leading whole blocks of four rows of `input` into `probability` (NaN for an
    /// invalid row) and, if given, `points` (NaN too); returns how many rows it did (a
    /// multiple of four; none for [`Layout::Other`]) and pushes the invalid ones' indices to
    /// `invalid`. The caller scores the rest.
    pub(crate) fn score(
        self,
        input: Layout<'_>,
        probability: &mut [f64],
        points: Option<&mut [f64]>,
        invalid: &mut Vec<usize>,
    ) -> usize {
        let (k, c, p, s, bad) = (self.0, self.2, probability, points, invalid);
        // SAFETY (all four): a kernel's path is always one its CPU supports (`set_path` and
        // `detect` see to it): AVX2 for the `Avx2` paths, AVX2 and AVX-512 F, VL, DQ for the
        // `Avx512` ones.
        match self.1 {
            KernelPath::Avx2Gather => unsafe { score_avx2::<true>(k, c, input, p, s, bad) },
            KernelPath::Avx2Loads => unsafe { score_avx2::<false>(k, c, input, p, s, bad) },
            KernelPath::Avx512Gather => unsafe { score_evex::<true>(k, c, input, p, s, bad) },
            KernelPath::Avx512Loads => unsafe { score_evex::<false>(k, c, input, p, s, bad) },
            KernelPath::Scalar => 0,
        }
    }
}

#[target_feature(enable = "avx2")]
fn score_avx2<const GATHER: bool>(
    k: &Kernel,
    c: &Cells,
    input: Layout<'_>,
    probability: &mut [f64],
    points: Option<&mut [f64]>,
    invalid: &mut Vec<usize>,
) -> usize {
    // SAFETY: this function has AVX2.
    unsafe { score::<GATHER>(k, c, input, probability, points, invalid) }
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq")]
fn score_evex<const GATHER: bool>(
    k: &Kernel,
    c: &Cells,
    input: Layout<'_>,
    probability: &mut [f64],
    points: Option<&mut [f64]>,
    invalid: &mut Vec<usize>,
) -> usize {
    // SAFETY: this function has AVX2 (and more).
    unsafe { score::<GATHER>(k, c, input, probability, points, invalid) }
}

// The functions below are `unsafe` because they use AVX2 without enabling it themselves:
// their caller must run on a CPU that has it. They are always inlined into the
// `#[target_feature]` entry points above (which a `#[target_feature]` function cannot be),
// and so compiled with those entry points' features.

#[inline(always)]
unsafe fn score<const G: bool>(
    k: &Kernel,
    c: &Cells,
    input: Layout<'_>,
    probability: &mut [f64],
    points: Option<&mut [f64]>,
    invalid: &mut Vec<usize>,
) -> usize {
    // With and without points, with and without cells: four loops, none with a branch on
    // either (an additive model's loop is the one it had before cells).
    let (p, bad) = (probability, invalid);
    match (points, c.is_empty()) {
        (Some(s), true) => layout::<G, true, false>(k, c, input, p, s, bad),
        (Some(s), false) => layout::<G, true, true>(k, c, input, p, s, bad),
        (None, true) => layout::<G, false, false>(k, c, input, p, &mut [], bad),
        (None, false) => layout::<G, false, true>(k, c, input, p, &mut [], bad),
    }
}

/// [`score`] for one layout; points (into `points`) when `P`, cells when `C`.
#[inline(always)]
unsafe fn layout<const G: bool, const P: bool, const C: bool>(
    k: &Kernel,
    c: &Cells,
    input: Layout<'_>,
    probability: &mut [f64],
    points: &mut [f64],
    invalid: &mut Vec<usize>,
) -> usize {
    let (p, s, bad) = (probability, points, invalid);
    match input {
        Layout::RowMajor(data) => row_major::<G, P, C>(k, c, data, p, s, bad),
        Layout::Columns(cols) => columns::<G, P, C>(k, c, &cols, p, s, bad),
        Layout::Other => 0,
    }
}

#[inline(always)]
unsafe fn row_major<const G: bool, const P: bool, const C: bool>(
    k: &Kernel,
    c: &Cells,
    data: &[f64],
    probability: &mut [f64],
    points: &mut [f64],
    invalid: &mut Vec<usize>,
) -> usize {
    let blocks = data.as_chunks::<{ LANES * N_FEATURES }>().0;
    let n = blocks.len().min(probability.len() / LANES);
    let n = if P { n.min(points.len() / LANES) } else { n };
    const _: () = assert!(N_FEATURES.is_multiple_of(2));
    for (b, block) in blocks.iter().enumerate().take(n) {
        // A 4 × 10 transpose, two features at a time: rows 0 and 2 (1 and 3) of features
        // `j, j + 1` in one vector each, then unpack: `[x0 x1 x2 x3]` for `j` and for `j + 1`.
        // Two loads and one shuffle per feature, cheaper than a gather.
        let rows = block.as_chunks::<N_FEATURES>().0;
        let mut v = [_mm256_setzero_pd(); N_FEATURES];
        for j in (0..N_FEATURES).step_by(2) {
            let pair = |r: usize| {
                let mut two = [0.0; 2];
                two.copy_from_slice(&rows[r][j..j + 2]);
                // SAFETY: `two` holds two values.
                unsafe { _mm_loadu_pd(two.as_ptr()) }
            };
            let even = _mm256_set_m128d(pair(2), pair(0));
            let odd = _mm256_set_m128d(pair(3), pair(1));
            v[j] = _mm256_unpacklo_pd(even, odd);
            v[j + 1] = _mm256_unpackhi_pd(even, odd);
        }
        store::<G, P, C>(k, c, &v, b, probability, points, invalid);
    }
    n * LANES
}

#[inline(always)]
unsafe fn columns<const G: bool, const P: bool, const C: bool>(
    k: &Kernel,
    c: &Cells,
    cols: &[&[f64]; N_FEATURES],
    probability: &mut [f64],
    points: &mut [f64],
    invalid: &mut Vec<usize>,
) -> usize {
    let len = cols.iter().map(|c| c.len()).min().unwrap_or(0);
    let n = (len / LANES).min(probability.len() / LANES);
    let n = if P { n.min(points.len() / LANES) } else { n };
    for b in 0..n {
        let mut v = [_mm256_setzero_pd(); N_FEATURES];
        for (v, c) in v.iter_mut().zip(cols) {
            let mut four = [0.0; LANES];
            four.copy_from_slice(&c[b * LANES..(b + 1) * LANES]);
            // SAFETY: `four` holds four values.
            *v = unsafe { _mm256_loadu_pd(four.as_ptr()) };
        }
        store::<G, P, C>(k, c, &v, b, probability, points, invalid);
    }
    n * LANES
}

/// Scores block `b` (values `v`, one vector per feature) into the outputs (`points` when `P`,
/// cells `c` when `C`).
#[inline(always)]
unsafe fn store<const G: bool, const P: bool, const C: bool>(
    k: &Kernel,
    c: &Cells,
    v: &[__m256d; N_FEATURES],
    b: usize,
    probability: &mut [f64],
    points: &mut [f64],
    invalid: &mut Vec<usize>,
) {
    let range = b * LANES..(b + 1) * LANES;
    let (p, score) = block::<G, P, C>(k, c, v);
    let nan_mask = _mm256_cmp_pd::<_CMP_UNORD_Q>(p, p);
    let nan = _mm256_movemask_pd(nan_mask);
    // An invalid row gets the same NaN (`f64::NAN`, bit for bit) as on the scalar path.
    let canonical = _mm256_set1_pd(f64::NAN);
    let p = _mm256_blendv_pd(p, canonical, nan_mask);
    if nan != 0 {
        invalid.extend(
            (0..LANES)
                .filter(|i| nan & (1 << i) != 0)
                .map(|i| range.start + i),
        );
    }
    let mut out = [0.0; LANES];
    // SAFETY: `out` holds four values.
    unsafe { _mm256_storeu_pd(out.as_mut_ptr(), p) };
    probability[range.clone()].copy_from_slice(&out);
    if P {
        // An invalid row's points are NaN like its probability, whatever the tables hold.
        let score = _mm256_blendv_pd(score, canonical, nan_mask);
        // SAFETY: `out` holds four values.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), score) };
        points[range].copy_from_slice(&out);
    }
}

/// `table[slot]` for the four slots: one gather (`G`), or four scalar loads put together.
#[inline(always)]
unsafe fn lookup<const G: bool>(table: &[f64; SLOTS], slot: __m256i) -> __m256d {
    let slot = _mm256_and_si256(slot, _mm256_set1_epi64x(MASK as i64));
    if G {
        // SAFETY: every slot is masked with `MASK`, so it is below `SLOTS`, the table's length.
        unsafe { _mm256_i64gather_pd::<8>(table.as_ptr(), slot) }
    } else {
        let [a, b, c, d] = lanes(slot).map(|i| table[i as usize & MASK]);
        _mm256_set_pd(d, c, b, a)
    }
}

/// The four 64-bit lanes of `v`, lowest first.
#[inline(always)]
unsafe fn lanes(v: __m256i) -> [u64; LANES] {
    let mut out = [0u64; LANES];
    // SAFETY: `out` holds four 64-bit values.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast::<__m256i>(), v) };
    out
}

/// The four rows' probabilities, `1 / (1 + exp(-intercept) · Π odds)` with the scalar kernel's
/// product tree, and when `P` their points (each slot's points added in feature order,
/// from 0, as [`Kernel::points`] does; else zero). With cells (`C`), the pairs' cell odds and
/// points follow in pair order, as in the scalar kernel (see [`cells`]). Each feature's odds,
/// points and cell shares are read as soon as its slot is known, so that few slots are live
/// at once: with scalar loads, reading all slots first kept forty indices live and spilled them.
#[inline(always)]
unsafe fn block<const G: bool, const P: bool, const C: bool>(
    k: &Kernel,
    c: &Cells,
    v: &[__m256d; N_FEATURES],
) -> (__m256d, __m256d) {
    const _: () = assert!(N_FEATURES == 10, "avx2::block lists the ten features");
    let mut o = [_mm256_setzero_pd(); N_FEATURES];
    let mut score = _mm256_setzero_pd();
    let mut codes = cells::start();
    macro_rules! features {
        ($($j:literal)*) => {$(
            let s = match FEATURES[$j].kind {
                Kind::Count => count_slots::<$j>(v[$j]),
                Kind::Real => real_slots::<G, $j>(k, v[$j]),
            };
            o[$j] = lookup::<G>(&k.odds, s);
            if P {
                score = _mm256_add_pd(score, lookup::<G>(&k.points, s));
            }
            if C {
                cells::add::<G>(c, $j, s, &mut codes);
            }
        )*};
    }
    features!(0 1 2 3 4 5 6 7 8 9);
    let mul = |a, b| _mm256_mul_pd(a, b);
    let a = mul(mul(_mm256_set1_pd(k.intercept_odds), o[0]), mul(o[1], o[2]));
    let b = mul(mul(o[3], o[4]), mul(o[5], o[6]));
    let c3 = mul(mul(o[7], o[8]), o[9]);
    let q = mul(mul(a, b), c3);
    let (q, score) = if C {
        cells::apply::<G, P>(c, &codes, q, score)
    } else {
        (q, score)
    };
    let one = _mm256_set1_pd(1.0);
    (_mm256_div_pd(one, _mm256_add_pd(one, q)), score)
}

/// Mask of the lanes whose value lies in `lo..=hi` (false for NaN).
#[inline(always)]
unsafe fn within(v: __m256d, lo: f64, hi: f64) -> __m256d {
    _mm256_and_pd(
        _mm256_cmp_pd::<_CMP_GE_OQ>(v, _mm256_set1_pd(lo)),
        _mm256_cmp_pd::<_CMP_LE_OQ>(v, _mm256_set1_pd(hi)),
    )
}

/// `ordinary` where `ok`, else feature `J`'s invalid slot; then the missing slot for an
/// optional feature's NaN; then the feature's base. The scalar kernel's order of verdicts.
#[inline(always)]
unsafe fn finish<const J: usize>(v: __m256d, ordinary: __m256i, ok: __m256d) -> __m256i {
    let pick = |otherwise: __m256i, this: __m256i, mask: __m256d| {
        _mm256_castpd_si256(_mm256_blendv_pd(
            _mm256_castsi256_pd(otherwise),
            _mm256_castsi256_pd(this),
            mask,
        ))
    };
    let invalid = _mm256_set1_epi64x(N[J] as i64);
    let mut local = pick(invalid, ordinary, ok);
    if FEATURES[J].optional {
        let missing = _mm256_set1_epi64x(N[J] as i64 + 1);
        local = pick(local, missing, _mm256_cmp_pd::<_CMP_UNORD_Q>(v, v));
    }
    _mm256_add_epi64(local, _mm256_set1_epi64x(BASE[J] as i64))
}

/// A count feature's slots: `v - min` for a whole number in `min..=top`, else invalid.
///
/// The scalar kernel takes the bits of `r = v + (2^52 - min)` less those of 2^52 as the slot,
/// clamps with `min(n)` and requires `(r - shift) - v == +0`. Lane by lane this is the same
/// verdict: the round trip equals `v` exactly when `v` is a whole number (any sign of zero),
/// and then the slot is below `n` exactly when `min <= v <= top`; NaN and ±inf fail the range
/// compare here and the scalar kernel's clamp there.
#[inline(always)]
unsafe fn count_slots<const J: usize>(v: __m256d) -> __m256i {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    let spec = &FEATURES[J];
    let top = spec.min + (N[J] - 1) as f64;
    let shift = _mm256_set1_pd(TWO_52 - spec.min);
    let r = _mm256_add_pd(v, shift);
    let whole = _mm256_cmp_pd::<_CMP_EQ_OQ>(_mm256_sub_pd(r, shift), v);
    let ok = _mm256_and_pd(whole, within(v, spec.min, top));
    let offset = _mm256_sub_epi64(
        _mm256_castpd_si256(r),
        _mm256_set1_epi64x(TWO_52.to_bits() as i64),
    );
    finish::<J>(v, offset, ok)
}

/// A real feature's slots: the bucket table's answer (see `RealTable::upper_bound`) where
/// `min <= v <= max`, else invalid.
#[inline(always)]
unsafe fn real_slots<const G: bool, const J: usize>(k: &Kernel, v: __m256d) -> __m256i {
    let spec = &FEATURES[J];
    let t = &k.reals[REAL[J] % super::N_REAL];
    // |v|'s bits less the origin, saturating at 0: both are below 2^63, so a negative
    // difference (its sign bit set) means "below the origin", and blendv picks 0 for it.
    let bits = _mm256_and_si256(
        _mm256_castpd_si256(v),
        _mm256_set1_epi64x(i64::MAX), // clears the sign: |v|
    );
    let d = _mm256_sub_epi64(bits, _mm256_set1_epi64x(t.origin as i64));
    let d = _mm256_castpd_si256(_mm256_blendv_pd(
        _mm256_castsi256_pd(d),
        _mm256_setzero_pd(),
        _mm256_castsi256_pd(d),
    ));
    let bucket = _mm256_srl_epi64(d, _mm_cvtsi64_si128(i64::from(t.shift)));
    let last = _mm256_set1_epi64x(t.last as i64);
    let bucket = _mm256_castpd_si256(_mm256_blendv_pd(
        _mm256_castsi256_pd(bucket),
        _mm256_castsi256_pd(last),
        _mm256_castsi256_pd(_mm256_cmpgt_epi64(bucket, last)),
    ));
    let (first, edge) = if G {
        first_and_edge_gathered(t, bucket)
    } else {
        // Four loads from `first`, then four from `edges`: indices in bounds (`% BUCKETS`,
        // `% SEARCH_WIDTH`; powers of two, so each is one `and`).
        let f = lanes(bucket).map(|b| t.first[b as usize % BUCKETS]);
        let e = f.map(|f| t.edges[usize::from(f) % SEARCH_WIDTH]);
        let [f0, f1, f2, f3] = f.map(i64::from);
        (
            _mm256_set_epi64x(f3, f2, f1, f0),
            _mm256_set_pd(e[3], e[2], e[1], e[0]),
        )
    };
    // `edge <= v` is all ones (-1) in a lane where true: subtracting it adds one.
    let slot = _mm256_sub_epi64(
        first,
        _mm256_castpd_si256(_mm256_cmp_pd::<_CMP_LE_OQ>(edge, v)),
    );
    finish::<J>(v, slot, within(v, spec.min, spec.max))
}

/// The bucket table's entry for each lane's bucket (`bucket <= last`), and the edge it
/// points at, by gathers.
#[inline(always)]
unsafe fn first_and_edge_gathered(t: &super::RealTable, bucket: __m256i) -> (__m256i, __m256d) {
    const _: () = assert!(BUCKETS + 3 <= u32::MAX as usize);
    // SAFETY: `bucket <= last < BUCKETS` (clamped by the caller; `last < BUCKETS` when the
    // table is built), and the gather reads four bytes at `bucket`: `first` has `BUCKETS + 3` bytes.
    let first = unsafe { _mm256_i64gather_epi32::<1>(t.first.as_ptr().cast::<i32>(), bucket) };
    let first = _mm256_cvtepu32_epi64(_mm_and_si128(first, _mm_set1_epi32(0xff)));
    // SAFETY: `first` holds edge counts `<= MAX_REAL_EDGES < SEARCH_WIDTH`; masked anyway.
    let edge = unsafe {
        _mm256_i64gather_pd::<8>(
            t.edges.as_ptr(),
            _mm256_and_si256(first, _mm256_set1_epi64x(SEARCH_WIDTH as i64 - 1)),
        )
    };
    (first, edge)
}

#[cfg(test)]
mod tests {
    use super::LANES;
    use crate::batch::{Columns, Layout, RowMajor};
    use crate::fixture::SIXTEEN_PAIRS;
    use crate::kernel::KernelPath;
    use crate::schema::{Kind, FEATURES, N_FEATURES};
    use crate::Scorecard;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    /// The shipped model; a build without cells cannot read it and takes the additive one
    /// shipped until 1.1.0.
    fn model() -> Scorecard {
        #[cfg(feature = "interactions")]
        let text = include_str!("../../model/default.json");
        #[cfg(not(feature = "interactions"))]
        let text = include_str!("../../tests/data/additive-1.0.0.json");
        Scorecard::from_json(text).expect("model")
    }

    /// The shipped model, and (with the `interactions` feature) the same with 3, 8, 11 and 16
    /// interaction pairs: one and two code words, full and partly filled (see `cells`).
    fn models() -> Vec<Scorecard> {
        let base = model();
        let mut all = vec![base.clone()];
        if crate::SCORES_INTERACTIONS {
            let a = base.artifact();
            let mut with = vec![crate::fixture::with_interactions(a)];
            for n in [8, 11, 16] {
                with.push(crate::fixture::with_pairs(a, &SIXTEEN_PAIRS[..n]));
            }
            all.extend(
                with.into_iter()
                    .map(|a| Scorecard::new(a).expect("cells model")),
            );
        }
        all
    }

    fn probes(m: &Scorecard, j: usize) -> Vec<f64> {
        crate::fixture::probes(m.artifact(), j)
    }

    /// Rows built from the probes (each feature cycles through its own list at a different
    /// pace, so the combinations vary) plus the valid rows of the shipped test vectors.
    fn rows(m: &Scorecard) -> Vec<[f64; N_FEATURES]> {
        let p: Vec<Vec<f64>> = (0..N_FEATURES).map(|j| probes(m, j)).collect();
        let typical = [0.3, 45.0, 0.0, 0.4, 5000.0, 8.0, 0.0, 1.0, 0.0, 1.0];
        let mut rows = Vec::new();
        for (j, list) in p.iter().enumerate() {
            for &x in list {
                let mut r = typical;
                r[j] = x;
                rows.push(r);
            }
        }
        for i in 0..4000usize {
            let mut r = [0.0; N_FEATURES];
            for (j, v) in r.iter_mut().enumerate() {
                let list = &p[j];
                // Mostly valid values, now and then a probe.
                *v = if (i * 7 + j * 13) % 5 == 0 {
                    list[(i * (j + 3)) % list.len()]
                } else {
                    typical[j] * (1.0 + ((i * (j + 1)) % 17) as f64 / 4.0).floor()
                };
            }
            rows.push(r);
        }
        rows
    }

    /// The shipped model on every vector path this CPU can run.
    fn vector_paths(m: &Scorecard) -> Vec<Scorecard> {
        let paths: Vec<Scorecard> = KernelPath::ALL
            .into_iter()
            .filter(|&p| p != KernelPath::Scalar)
            .filter_map(|p| m.clone().with_kernel_path(p))
            .collect();
        // A CPU with AVX2 runs both AVX2 builds, one with AVX-512 all four: none goes untested.
        let want = match (
            std::is_x86_feature_detected!("avx2"),
            std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512vl")
                && std::is_x86_feature_detected!("avx512dq"),
        ) {
            (false, _) => 0,
            (true, false) => 2,
            (true, true) => 4,
        };
        assert_eq!(paths.len(), want);
        paths
    }

    /// The vector kernel of `m`'s path alone on `rows` (a multiple of four), row-major with
    /// points and columns without; both layouts must agree. Probabilities, points, invalid rows.
    fn vector_scores(
        m: &Scorecard,
        rows: &[[f64; N_FEATURES]],
    ) -> (Vec<f64>, Vec<f64>, Vec<usize>) {
        let simd = m
            .kernel()
            .avx2()
            .expect("a vector path, and the model is bucketed");
        let n = rows.len();
        let flat: Vec<f64> = rows.iter().flatten().copied().collect();
        let (mut p, mut s, mut bad) = (vec![0.0; n], vec![0.0; n], Vec::new());
        let done = simd.score(Layout::RowMajor(&flat), &mut p, Some(&mut s), &mut bad);
        assert_eq!(done, n, "{}", m.kernel_path());
        let cols: Vec<Vec<f64>> = (0..N_FEATURES)
            .map(|j| rows.iter().map(|r| r[j]).collect())
            .collect();
        let col_refs: [&[f64]; N_FEATURES] = std::array::from_fn(|j| cols[j].as_slice());
        let (mut pc, mut bad_c) = (vec![0.0; n], Vec::new());
        let done = simd.score(Layout::Columns(col_refs), &mut pc, None, &mut bad_c);
        assert_eq!((done, &bad_c), (n, &bad), "{}", m.kernel_path());
        assert_eq!(bits(&p), bits(&pc), "{}", m.kernel_path());
        (p, s, bad)
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Every model of [`models`] (cells included) on every vector path, against the scalar
    /// kernel row by row.
    #[test]
    fn every_vector_path_equals_the_scalar_kernel_bit_for_bit() {
        let models = models();
        assert_eq!(models.len(), if crate::SCORES_INTERACTIONS { 5 } else { 1 });
        for m in &models {
            vector_path_equals_scalar(m);
        }
    }

    fn vector_path_equals_scalar(m: &Scorecard) {
        let pairs = m.artifact().interactions.len();
        let rows = rows(m);
        let n = rows.len() / LANES * LANES;
        let rows = &rows[..n];
        let mut invalid = 0;
        for m in vector_paths(m) {
            let (p, s, bad) = vector_scores(&m, rows);
            let path = format!("{} with {pairs} pairs", m.kernel_path());
            let nan: Vec<usize> = (0..n).filter(|&i| p[i].is_nan()).collect();
            assert_eq!(bad, nan, "{path}");
            invalid = 0;
            for (i, row) in rows.iter().enumerate() {
                let (want_p, want_s) = m
                    .try_probability_and_score(row)
                    .unwrap_or((f64::NAN, f64::NAN));
                invalid += usize::from(want_p.is_nan());
                assert_eq!(p[i].to_bits(), want_p.to_bits(), "{path} row {i} {row:?}");
                assert_eq!(s[i].to_bits(), want_s.to_bits(), "{path} row {i} {row:?}");
            }
        }
        // The probes must exercise both verdicts (where there is a vector path to probe).
        assert!(
            !std::is_x86_feature_detected!("avx2") || (invalid > 100 && invalid < n - 1000),
            "{invalid} of {n} invalid"
        );
    }

    /// `score_batch` on `m` (its path's vector kernel, then the scalar loops for the rest),
    /// row-major with and without points and by columns, against the row-by-row answer:
    /// probabilities and points bit for bit, the canonical NaN and a report entry for each
    /// invalid row. Returns the number of invalid rows.
    fn check_batch(m: &Scorecard, rows: &[[f64; N_FEATURES]]) -> Result<usize, TestCaseError> {
        let n = rows.len();
        let path = m.kernel_path();
        let flat: Vec<f64> = rows.iter().flatten().copied().collect();
        let src = RowMajor::new(&flat, n).expect("shape");
        let (mut p, mut s, mut p2, mut p3) =
            (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let report = m.score_batch(&src, &mut p, Some(&mut s)).expect("batch");
        let report2 = m.score_batch(&src, &mut p2, None).expect("batch");
        let cols: Vec<Vec<f64>> = (0..N_FEATURES)
            .map(|j| rows.iter().map(|r| r[j]).collect())
            .collect();
        let col_refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
        let cols = Columns::new(&col_refs).expect("cols");
        let report3 = m.score_batch(&cols, &mut p3, None).expect("batch");
        prop_assert_eq!(&report, &report2, "{}", path);
        prop_assert_eq!(&report, &report3, "{}", path);
        let mut bad = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let (wp, ws) = m
                .try_probability_and_score(row)
                .unwrap_or((f64::NAN, f64::NAN));
            if wp.is_nan() {
                bad.push(i);
            }
            prop_assert_eq!(p[i].to_bits(), wp.to_bits(), "{} row {} {:?}", path, i, row);
            prop_assert_eq!(s[i].to_bits(), ws.to_bits(), "{} row {} {:?}", path, i, row);
            prop_assert_eq!(p2[i].to_bits(), wp.to_bits(), "{} row {}", path, i);
            prop_assert_eq!(p3[i].to_bits(), wp.to_bits(), "{} row {}", path, i);
        }
        let listed: Vec<usize> = report.invalid.iter().map(|e| e.row).collect();
        prop_assert_eq!(&listed, &bad, "{} n = {}", path, n);
        prop_assert_eq!(report.valid, n - bad.len());
        Ok(bad.len())
    }

    /// Every path (the scalar one too) through the batch entry points, for lengths that leave
    /// a remainder.
    #[test]
    fn batch_paths_match_single_rows() {
        for m in models() {
            let rows = rows(&m);
            let mut paths = vector_paths(&m);
            paths.push(
                m.clone()
                    .with_kernel_path(KernelPath::Scalar)
                    .expect("scalar"),
            );
            for m in &paths {
                for n in [0, 1, 3, 4, 5, 7, 8, 9, 4099] {
                    let rows = &rows[..n.min(rows.len())];
                    check_batch(m, rows).unwrap_or_else(|e| panic!("{e}"));
                }
            }
        }
    }

    /// Feature `j`'s values for the property test: mostly valid ones (whole numbers in range
    /// for a count, any real in range for a real), else the probes (edges and their
    /// neighbours, range ends, special codes, signed zeros, NaN, infinities), any bit pattern
    /// (NaNs with payloads and either sign, subnormals) or whole numbers around the range.
    /// About a third of the rows come out valid.
    fn value(m: &Scorecard, j: usize) -> BoxedStrategy<f64> {
        let spec = &FEATURES[j];
        let (lo, hi) = (spec.min, spec.max.min(1e7));
        let valid = match spec.kind {
            Kind::Count => (lo as i64..=hi as i64).prop_map(|x| x as f64).boxed(),
            Kind::Real => (lo..=hi).boxed(),
        };
        prop_oneof![
            16 => valid,
            2 => proptest::sample::select(probes(m, j)),
            1 => any::<u64>().prop_map(f64::from_bits),
            1 => ((lo - 3.0) as i64..=(hi + 3.0) as i64).prop_map(|x| x as f64),
        ]
        .boxed()
    }

    /// Random batches, mostly with some invalid and missing values, score alike on every path,
    /// bit for bit, and each path agrees with the scalar row-by-row answer.
    #[test]
    fn random_rows_score_alike_on_every_path() {
        let m = model();
        let mut paths = vector_paths(&m);
        paths.push(
            m.clone()
                .with_kernel_path(KernelPath::Scalar)
                .expect("scalar"),
        );
        let row: [BoxedStrategy<f64>; N_FEATURES] = std::array::from_fn(|j| value(&m, j));
        let batch = proptest::collection::vec(row, 0..48);
        let mut runner = TestRunner::new(Config {
            cases: 512,
            failure_persistence: None,
            ..Config::default()
        });
        let (valid, invalid) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
        runner
            .run(&batch, |rows| {
                for m in &paths {
                    let bad = check_batch(m, &rows)?;
                    invalid.set(invalid.get() + bad);
                    valid.set(valid.get() + rows.len() - bad);
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        // Both verdicts occur often enough to mean something.
        let (valid, invalid) = (valid.get(), invalid.get());
        assert!(
            valid > 1000 && invalid > 1000,
            "{valid} valid, {invalid} invalid"
        );
    }
}
