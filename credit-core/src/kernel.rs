//! The scoring kernel: every feature's lookup tables in one flat, fixed layout.
//!
//! The layout depends only on the schema ([`FEATURES`]), never on the model, so it is computed at
//! compile time: where each feature's slots start, how many a count feature has, the valid range
//! of every feature. The compiler therefore sees constant bounds everywhere, unrolls the
//! per-feature work, and proves every table index in range (no bounds checks, no `unsafe`).
//! Only the table *contents* (edges, logits, points, bins) come from the model.
//!
//! Every value maps to a *slot*: a count feature's slot is its value (direct table), a real
//! feature's slot is the number of edges `<=` the value (one bucket lookup and one compare, see
//! [`RealTable`]). After each feature's ordinary slots come two more, "invalid" and "missing".
//! An invalid value, and a missing required one, has NaN odds, so a NaN probability *is* the
//! validation verdict: the fast path checks and scores in one pass, with no data-dependent
//! branch, and only a failing row takes the slow path that writes error messages.
//!
//! The probability is `1 / (1 + exp(-intercept) · Π exp(-logit))`, a product of per-slot odds
//! computed once per model, so no row pays for an `exp`.
//!
//! Interaction cells (`crate::cells::Pair`) add one odds factor per pair. Every path multiplies in the
//! same fixed order, so that all of them give the same bits: first the additive product
//! (the balanced tree of [`Kernel::probability`], unchanged, so an additive model's bits and
//! speed are what they were), then each pair's cell odds, in the artifact's pair order. Log-odds
//! and points likewise add the features in schema order, then the cells in pair order.

use crate::cells::Pairs;
use crate::schema::{FeatureSpec, Kind, FEATURES, N_FEATURES};

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
/// Which batch kernel runs (chosen per CPU).
pub(crate) mod path;
pub use path::{KernelPath, UnknownKernelPath};
/// The browser's batch kernel, in a `.wasm` built with SIMD128 (WASM has no run-time feature
/// detection, so the build decides).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) mod simd128;

/// Width of a real feature's edge table: a real feature has at most `SEARCH_WIDTH - 1` edges
/// (64 bins), which keeps the fallback binary search at six steps.
pub const SEARCH_WIDTH: usize = 64;

/// Most edges a real-valued feature may have.
pub const MAX_REAL_EDGES: usize = SEARCH_WIDTH - 1;

/// Marks a slot whose value fails validation in the bin table.
pub(crate) const INVALID: u16 = u16::MAX;

/// Highest value a count feature can hold, special codes included.
const fn count_top(spec: &FeatureSpec) -> f64 {
    let mut top = spec.max;
    let mut i = 0;
    while i < spec.special_codes.len() {
        if spec.special_codes[i] > top {
            top = spec.special_codes[i];
        }
        i += 1;
    }
    top
}

/// Ordinary slots of a feature: one per whole number for counts, one per range bin for reals.
const fn ordinary_slots(spec: &FeatureSpec) -> usize {
    match spec.kind {
        Kind::Count => (count_top(spec) - spec.min) as usize + 1,
        Kind::Real => SEARCH_WIDTH,
    }
}

const fn layout() -> (
    [usize; N_FEATURES],
    [usize; N_FEATURES],
    [usize; N_FEATURES],
    usize,
) {
    let mut base = [0; N_FEATURES];
    let mut n = [0; N_FEATURES];
    let mut real = [usize::MAX; N_FEATURES];
    let mut next = 0;
    let mut n_real = 0;
    let mut j = 0;
    while j < N_FEATURES {
        base[j] = next;
        n[j] = ordinary_slots(&FEATURES[j]);
        next += n[j] + 2;
        if matches!(FEATURES[j].kind, Kind::Real) {
            real[j] = n_real;
            n_real += 1;
        }
        j += 1;
    }
    (base, n, real, next)
}

const LAYOUT: (
    [usize; N_FEATURES],
    [usize; N_FEATURES],
    [usize; N_FEATURES],
    usize,
) = layout();
/// First slot of each feature in the flat tables.
pub(crate) const BASE: [usize; N_FEATURES] = LAYOUT.0;
/// Ordinary slots of each feature; its "invalid" slot is `BASE + N`, "missing" `BASE + N + 1`.
pub(crate) const N: [usize; N_FEATURES] = LAYOUT.1;
/// Position of a real feature among the real features (`usize::MAX` for counts).
const REAL: [usize; N_FEATURES] = LAYOUT.2;
/// Slots over all features.
pub(crate) const TOTAL: usize = LAYOUT.3;
/// Table length: `TOTAL` rounded up to a power of two, so that masking an index (one `and`)
/// proves it in bounds where a bounds check would cost a compare and a branch.
pub(crate) const SLOTS: usize = TOTAL.next_power_of_two();
pub(crate) const MASK: usize = SLOTS - 1;

const fn count_reals() -> usize {
    let mut k = 0;
    let mut j = 0;
    while j < N_FEATURES {
        if matches!(FEATURES[j].kind, Kind::Real) {
            k += 1;
        }
        j += 1;
    }
    k
}
const N_REAL: usize = count_reals();

/// Entries of a real feature's bucket table.
const BUCKETS: usize = 4096;

/// One real feature's edges and the bucket table that finds a value's slot in one step.
///
/// The bit pattern of a non-negative `f64` grows with its value, so its top bits (exponent and
/// the first few mantissa bits) name a *bucket*, an interval of values, and do so in order. When
/// the edges are spread so that no bucket holds two of them (checked when the table is built,
/// with the finest resolution that fits in [`BUCKETS`] entries), the slot of `v` is
/// `first[bucket(v)] + (v >= edges[first[bucket(v)]])`: a shift, a load and one compare, where
/// a binary search over 64 edges takes six dependent steps. Edges that cannot be spread that
/// way (or a negative edge) keep the binary search; both give the same answer.
#[derive(Clone, Debug)]
struct RealTable {
    /// Edges padded with `+inf`.
    edges: [f64; SEARCH_WIDTH],
    /// Bucket → number of edges in earlier buckets. Three bytes of zero padding follow the
    /// `BUCKETS` entries, so that a vector gather may read four bytes at any bucket (see
    /// `kernel::avx2`).
    first: [u8; BUCKETS + 3],
    /// Bits of the lowest bucket's lower bound; smaller values share the lowest bucket.
    origin: u64,
    /// Mantissa bits dropped to form a bucket number.
    shift: u32,
    /// Highest bucket; larger values share it.
    last: u64,
    /// Whether the bucket table is usable (else: binary search).
    bucketed: bool,
}

impl RealTable {
    const EMPTY: RealTable = RealTable {
        edges: [f64::INFINITY; SEARCH_WIDTH],
        first: [0; BUCKETS + 3],
        origin: 0,
        shift: 63,
        last: 0,
        bucketed: true,
    };

    fn new(edges: &[f64]) -> RealTable {
        let mut t = RealTable::EMPTY;
        let m = edges.len().min(MAX_REAL_EDGES);
        t.edges[..m].copy_from_slice(&edges[..m]);
        t.bucketed = false;
        let (Some(&lo), Some(&hi)) = (edges.first(), edges.get(m.wrapping_sub(1))) else {
            t.bucketed = true; // no edges: every value is slot 0
            return t;
        };
        if lo.is_sign_negative() || !hi.is_finite() {
            return t;
        }
        // The coarsest buckets first: fewer buckets, fewer cache lines touched.
        for mantissa_bits in 0..=12 {
            let shift = 52 - mantissa_bits;
            let origin = (lo.to_bits() >> shift) << shift;
            let bucket = |x: f64| (x.to_bits() - origin) >> shift;
            let last = bucket(hi);
            if last as usize >= BUCKETS
                || edges[..m].windows(2).any(|w| bucket(w[0]) == bucket(w[1]))
            {
                continue;
            }
            t.origin = origin;
            t.shift = shift;
            t.last = last;
            let mut k = 0;
            for (b, f) in t.first.iter_mut().enumerate().take(last as usize + 1) {
                while k < m && (bucket(edges[k]) as usize) < b {
                    k += 1;
                }
                *f = k as u8;
            }
            t.bucketed = true;
            // Belt and braces: the table must agree with a plain search at and around every edge.
            let agrees = edges[..m].iter().all(|&e| {
                [e, e.next_down(), e.next_up(), e * 0.5, e * 2.0]
                    .iter()
                    .all(|&x| t.upper_bound(x) == edges[..m].partition_point(|&v| v <= x))
            });
            if agrees {
                return t;
            }
            t.bucketed = false;
        }
        t
    }

    /// Number of edges `<= v`, for any `v >= 0` (other values get some slot; the caller's range
    /// check rejects them).
    #[inline(always)]
    fn upper_bound(&self, v: f64) -> usize {
        if self.bucketed {
            // `abs` maps -0.0 to the bucket of 0.0; other negatives are rejected by the caller.
            let b = v.abs().to_bits().saturating_sub(self.origin) >> self.shift;
            let k = usize::from(self.first[(b.min(self.last) as usize) % BUCKETS]);
            k + usize::from(self.edges[k % SEARCH_WIDTH] <= v)
        } else {
            let e = &self.edges;
            let mut k = 0usize;
            let mut step = SEARCH_WIDTH / 2;
            while step > 0 {
                k += usize::from(e[(k + step - 1) % SEARCH_WIDTH] <= v) * step;
                step /= 2;
            }
            k % SEARCH_WIDTH
        }
    }
}

/// Which of a cell's numbers `Pairs::fold` folds (see `crate::cells`).
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "interactions"), allow(dead_code))]
pub(crate) enum Table {
    Odds,
    Logit,
    Points,
}

/// The model's numbers in the fixed layout.
#[derive(Clone, Debug)]
pub(crate) struct Kernel {
    pub intercept: f64,
    /// `exp(-intercept)`.
    intercept_odds: f64,
    /// The real features' search tables.
    reals: [RealTable; N_REAL],
    /// Each slot's logit (NaN for invalid slots).
    pub logit: [f64; SLOTS],
    /// Each slot's `exp(-logit)`: the probability is `1 / (1 + exp(-intercept) * Π odds)`, ten
    /// multiplications instead of an `exp` per row. Filled by [`Kernel::seal`] with the
    /// portable `libm::exp`, so that every platform (native, WASM) holds bit-identical tables
    /// and, IEEE 754 multiplication being exact-rounded, gives bit-identical probabilities.
    odds: [f64; SLOTS],
    pub points: [f64; SLOTS],
    /// The artifact's bin index of each slot ([`INVALID`] for invalid slots).
    pub bin: [u16; SLOTS],
    /// The batch kernel to run, always one this CPU supports (see [`path`]).
    path: KernelPath,
    /// The interaction pairs, in artifact order (none in an additive model; none ever in a
    /// build without the `interactions` feature).
    pairs: Pairs,
    /// The pairs' tables in the x86-64 vector kernel's layout (`avx2::cells`); `None` when
    /// that kernel cannot score them (then the scalar kernel does).
    #[cfg(target_arch = "x86_64")]
    cells: Option<avx2::Cells>,
}

impl Kernel {
    /// A kernel with every slot invalid and no edges, to be filled in by the compiler.
    pub fn empty(intercept: f64) -> Box<Kernel> {
        Box::new(Kernel {
            intercept,
            intercept_odds: libm::exp(-intercept),
            reals: [RealTable::EMPTY; N_REAL],
            logit: [f64::NAN; SLOTS],
            odds: [f64::NAN; SLOTS],
            points: [f64::NAN; SLOTS],
            bin: [INVALID; SLOTS],
            path: KernelPath::detect(),
            pairs: Pairs::new(),
            #[cfg(target_arch = "x86_64")]
            cells: Some(avx2::Cells::NONE),
        })
    }

    /// Derives the odds tables once the logits are in place.
    pub fn seal(&mut self) {
        for (o, &l) in self.odds.iter_mut().zip(&self.logit) {
            *o = libm::exp(-l);
        }
        self.pairs.seal();
        #[cfg(target_arch = "x86_64")]
        self.seal_vector_cells();
    }

    /// Adds the artifact's interaction pairs, once its features' slots are filled in.
    pub fn compile_pairs(
        &mut self,
        a: &crate::artifact::ModelArtifact,
    ) -> Result<(), crate::error::ModelError> {
        self.pairs.compile(a, &self.bin)
    }

    /// The interaction pairs, in artifact order.
    pub fn pairs(&self) -> &Pairs {
        &self.pairs
    }

    /// Sets the edges of real feature `j` (at most [`MAX_REAL_EDGES`], strictly increasing;
    /// ignored for count features) and builds its bucket table.
    pub fn set_edges(&mut self, j: usize, edges: &[f64]) {
        if let Some(t) = self.reals.get_mut(REAL[j]) {
            *t = RealTable::new(edges);
        }
    }

    /// The slot of value `v` of feature `J` (always an index below `SLOTS`), and for a count
    /// feature the bits of its whole-number check, which are 0 exactly when `v` is a whole
    /// number (or lies outside the range, which the slot already says).
    #[inline(always)]
    fn slot<const J: usize>(&self, v: f64) -> (usize, u64) {
        let spec = &FEATURES[J];
        let n = N[J];
        let invalid = n;
        let missing = n + 1;
        let (ordinary, fraction) = match spec.kind {
            Kind::Count => {
                // `v + (2^52 - min)` is exact for a whole number in range and rounds anything
                // else to a whole number; its bits less those of 2^52 are then the offset from
                // `min`, and any value below `min`, above the range, ±inf or NaN lands at or
                // past `n` (their bits lie far from those of 2^52), which `min` clamps to the
                // invalid slot. The round trip `(r - shift) - v` is +0.0 (all bits clear) for a
                // whole number and nonzero or NaN for anything else. No float-to-int
                // conversion (those saturate, at four more instructions) and no branch.
                const TWO_52: f64 = 4_503_599_627_370_496.0;
                let shift = TWO_52 - spec.min;
                let r = v + shift;
                let i = r
                    .to_bits()
                    .wrapping_sub(TWO_52.to_bits())
                    .min(invalid as u64);
                (i as usize, ((r - shift) - v).to_bits())
            }
            Kind::Real => {
                let k = self.reals[REAL[J]].upper_bound(v);
                // NaN fails this too: a required feature's NaN is invalid like any bad value.
                let k = if v >= spec.min && v <= spec.max {
                    k
                } else {
                    invalid
                };
                (k, 0)
            }
        };
        // Only an optional feature tells "missing" apart; its missing slot has its own bin.
        let (local, fraction) = if spec.optional && v.is_nan() {
            (missing, 0)
        } else {
            (ordinary, fraction)
        };
        ((BASE[J] + local) & MASK, fraction)
    }

    /// Slots of a row (NaN = missing). Always valid indices; invalid values land in the
    /// feature's invalid slot, whose odds, logit and points are NaN and whose bin is
    /// [`INVALID`].
    #[inline(always)]
    pub fn slots(&self, row: &[f64; N_FEATURES]) -> [usize; N_FEATURES] {
        let mut out = [0usize; N_FEATURES];
        macro_rules! features {
            ($($j:literal)*) => {$({
                let (s, fraction) = self.slot::<$j>(row[$j]);
                out[$j] = if fraction == 0 { s } else { BASE[$j] + N[$j] };
            })*};
        }
        features!(0 1 2 3 4 5 6 7 8 9);
        out
    }

    /// Probabilities of `R` rows (NaN for an invalid row), worked feature by feature so that
    /// the rows' independent work sits side by side in the instruction stream and the
    /// out-of-order core overlaps their load-compare chains. A row's probability does not
    /// depend on `R` or on the other rows (the single-row path is `R = 1`).
    #[inline(always)]
    #[allow(clippy::needless_range_loop)]
    pub fn probabilities<const R: usize>(&self, rows: &[[f64; N_FEATURES]; R]) -> [f64; R] {
        const _: () = assert!(
            N_FEATURES == 10,
            "Kernel::probabilities lists the ten features"
        );
        let mut slots = [[0usize; N_FEATURES]; R];
        let mut fractions = [0u64; R];
        // Plain index loops over the constant `R`: they compile to straight code at every
        // optimisation level, where iterator adapters may stay calls in a size-optimised
        // (WASM, opt-level z) build.
        macro_rules! features {
            ($($j:literal)*) => {$(
                for r in 0..R {
                    let (slot, fraction) = self.slot::<$j>(rows[r][$j]);
                    slots[r][$j] = slot;
                    fractions[r] |= fraction;
                }
            )*};
        }
        features!(0 1 2 3 4 5 6 7 8 9);
        let mut p = [0.0; R];
        for r in 0..R {
            p[r] = if fractions[r] == 0 {
                self.probability(&slots[r])
            } else {
                f64::NAN
            };
        }
        p
    }

    /// Log-odds of default: the intercept plus each slot's logit, in feature order, then each
    /// pair's cell logit, in pair order.
    #[inline(always)]
    pub fn log_odds(&self, slots: &[usize; N_FEATURES]) -> f64 {
        let mut z = self.intercept;
        for &s in slots {
            z += self.logit[s & MASK];
        }
        if !self.pairs.is_empty() {
            z = self.pairs.fold(slots, z, Table::Logit);
        }
        z
    }

    /// Probability of default, `1 / (1 + exp(-log_odds))` computed as a product of odds
    /// (see [`Kernel::odds`]): the features' balanced tree, then each pair's cell odds in pair
    /// order (see the module docs); NaN when any slot is invalid.
    #[inline(always)]
    pub fn probability(&self, slots: &[usize; N_FEATURES]) -> f64 {
        let o = |j: usize| self.odds[slots[j] & MASK];
        // A balanced product tree (four multiplications deep, not eleven): rows overlap better
        // in the out-of-order core when each row's dependency chain is short.
        let a = (self.intercept_odds * o(0)) * (o(1) * o(2));
        let b = (o(3) * o(4)) * (o(5) * o(6));
        let c = (o(7) * o(8)) * o(9);
        let mut q = (a * b) * c;
        if !self.pairs.is_empty() {
            q = self.pairs.fold(slots, q, Table::Odds);
        }
        1.0 / (1.0 + q)
    }

    /// Score in points: the sum of each slot's points, in feature order, then each pair's cell
    /// points, in pair order.
    #[inline(always)]
    pub fn points(&self, slots: &[usize; N_FEATURES]) -> f64 {
        let mut p = 0.0;
        for &s in slots {
            p += self.points[s & MASK];
        }
        if !self.pairs.is_empty() {
            p = self.pairs.fold(slots, p, Table::Points);
        }
        p
    }

    /// Slot of one feature's value.
    #[cfg(test)]
    pub fn slot_of(&self, j: usize, v: f64) -> usize {
        let mut row = [0.0; N_FEATURES];
        row[j] = v;
        self.slots(&row)[j]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_follows_the_schema() {
        assert_eq!(BASE[0], 0);
        for j in 1..N_FEATURES {
            assert_eq!(BASE[j], BASE[j - 1] + N[j - 1] + 2);
        }
        assert_eq!(TOTAL, BASE[9] + N[9] + 2);
        assert!(SLOTS >= TOTAL && SLOTS.is_power_of_two());
        // age 18..=120, past-due counts 0..=98 (with the 96/98 codes).
        assert_eq!(N[1], 103);
        assert_eq!(N[2], 99);
        assert_eq!(N[0], SEARCH_WIDTH);
        assert_eq!(N_REAL, 3);
    }

    /// Both search strategies against `partition_point`, on edge sets that can and cannot be
    /// bucketed.
    #[test]
    fn real_search_matches_partition_point() {
        let spread: Vec<f64> = (0..MAX_REAL_EDGES)
            .map(|i| 0.001 * 1.25f64.powi(i as i32))
            .collect();
        let dense: Vec<f64> = (0..MAX_REAL_EDGES)
            .map(|i| 1.0 + i as f64 * 1e-12)
            .collect();
        let halves: Vec<f64> = (1..=MAX_REAL_EDGES).map(|i| i as f64 * 0.5).collect();
        // An edge at 0 puts the denormals in the range: too many buckets, so binary search.
        let from_zero: Vec<f64> = (0..MAX_REAL_EDGES).map(|i| i as f64 * 0.5).collect();
        let negative: Vec<f64> = (0..MAX_REAL_EDGES).map(|i| i as f64 - 3.0).collect();
        for (name, all, bucketed) in [
            ("spread", &spread, true),
            ("dense", &dense, false),
            ("halves", &halves, true),
            ("from zero", &from_zero, false),
            ("negative", &negative, false),
        ] {
            for n in 0..=MAX_REAL_EDGES {
                let e = &all[..n];
                let t = RealTable::new(e);
                if n == MAX_REAL_EDGES {
                    assert_eq!(t.bucketed, bucketed, "{name} {n}");
                }
                let probes = e
                    .iter()
                    .flat_map(|&x| [x, x.next_up(), x.next_down(), x * 0.999, x * 1.001])
                    .chain([0.0, -0.0, 1e-300, 0.3, 1.0, 7.5, 1e6, 1e300, f64::MAX]);
                for x in probes {
                    if x >= 0.0 {
                        assert_eq!(
                            t.upper_bound(x),
                            e.partition_point(|&v| v <= x),
                            "{name} {n} {x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn real_slots_check_the_range_and_missing() {
        let mut k = Kernel::empty(0.0);
        k.set_edges(0, &[0.5, 1.0]);
        k.set_edges(4, &[1000.0, 5000.0]);
        assert_eq!(k.slot_of(0, 0.0), 0);
        assert_eq!(k.slot_of(0, -0.0), 0);
        assert_eq!(k.slot_of(0, 0.7), 1);
        assert_eq!(k.slot_of(0, 1.0), 2);
        assert_eq!(k.slot_of(0, 100_000.0), 2);
        for bad in [
            -1e-300,
            -1.0,
            100_000.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ] {
            assert_eq!(k.slot_of(0, bad), N[0], "{bad}");
        }
        assert_eq!(k.slot_of(4, f64::NAN), BASE[4] + N[4] + 1);
        assert_eq!(k.slot_of(4, 4999.0), BASE[4] + 1);
        assert_eq!(k.slot_of(4, -1.0), BASE[4] + N[4]);
    }

    #[test]
    fn count_slots_are_values_and_reject_the_rest() {
        let k = Kernel::empty(0.0);
        assert_eq!(k.slot_of(1, 18.0), BASE[1]);
        assert_eq!(k.slot_of(1, 120.0), BASE[1] + 102);
        for bad in [
            17.0,
            17.5,
            18.5,
            119.999,
            121.0,
            -18.0,
            1e300,
            -1e300,
            4_503_599_627_370_496.0,
            9_007_199_254_740_992.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -0.5,
            f64::MIN_POSITIVE,
            18.0 + f64::EPSILON * 32.0,
        ] {
            assert_eq!(k.slot_of(1, bad), BASE[1] + N[1], "{bad}");
        }
        // Only optional features have a distinct missing slot.
        assert_eq!(k.slot_of(9, f64::NAN), BASE[9] + N[9] + 1);
        assert_eq!(k.slot_of(9, 2.5), BASE[9] + N[9]);
        assert_eq!(k.slot_of(9, 50.0), BASE[9] + 50);
        for i in 0..=102 {
            assert_eq!(k.slot_of(1, 18.0 + f64::from(i)), BASE[1] + i as usize);
        }
        assert_eq!(k.slot_of(2, 98.0), BASE[2] + 98);
        assert_eq!(k.slot_of(2, 99.0), BASE[2] + N[2]);
        assert_eq!(k.slot_of(2, -0.0), BASE[2]);
    }
}
