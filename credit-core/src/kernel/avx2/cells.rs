//! Interaction cells in the vector kernel: the pairs' tables in the layout it reads, and the
//! two steps it adds to a block of four rows.
//!
//! The scalar kernel finds a pair's cell as the sum of two byte reads (`Pair::part` at each of
//! the pair's features' slots), two reads per pair. Here every pair's share of a slot sits in
//! one 64-bit *code* (pair `p` in byte `p % 8` of word `p / 8`), so one read per feature and word
//! (as the feature's slot is found) adds that feature's share to every pair at once: a feature
//! in three pairs costs one read, not three. The bytes never carry into each other: a pair's
//! byte gets shares from its own two features only, and their sum is a cell index, below
//! [`CELLS`] (256). A slot of a feature outside a pair reads 0 there, as in `Pair::part`.
//!
//! Then each pair's odds are read at its byte and multiplied into the product after the
//! features' product tree, in pair order, and its points added after the features' points,
//! in pair order: the scalar kernel's order (`Pairs::fold`, see the module docs of
//! `kernel`), so the bits are the same. An invalid slot's code reads its pairs' share as 0 like
//! `Pair::part` does; the row is NaN through that slot's own odds anyway.
//!
//! x86-64 only: the browser's SIMD128 kernel leaves a model with cells to the scalar kernel.

use super::super::{Kernel, MASK, SLOTS};
use super::{lanes, LANES};
use crate::schema::N_FEATURES;
use std::arch::x86_64::*;

/// Cells of a pair's table (`crate::cells::CELLS`; repeated here so that a build without the
/// `interactions` feature compiles this module, which then never holds a pair).
const CELLS: usize = 256;
/// Pairs per code word: one byte each.
const PER_WORD: usize = 8;
/// Code words: enough for `artifact::MAX_INTERACTIONS` pairs (checked in [`Cells::new`]).
const WORDS: usize = 2;

/// The pairs' tables as the vector kernel reads them (none for an additive model).
#[derive(Clone, Debug)]
pub(crate) struct Cells {
    /// Per word, per slot: each pair's share of its cell index, pair `p` in byte `p % 8` of
    /// word `p / 8` (as many words as the pairs need).
    code: Vec<[u64; SLOTS]>,
    /// Whether feature `j` is in a pair (else its code reads 0 everywhere and is skipped).
    used: [bool; N_FEATURES],
    /// Per pair, in pair order: the cells' odds and points (the scalar kernel's, copied).
    odds: Vec<[f64; CELLS]>,
    points: Vec<[f64; CELLS]>,
}

impl Cells {
    /// An additive model's: no pairs.
    pub const NONE: Cells = Cells {
        code: Vec::new(),
        used: [false; N_FEATURES],
        odds: Vec::new(),
        points: Vec::new(),
    };

    /// Whether there are any pairs to score.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.odds.is_empty()
    }

    /// The tables of the kernel's pairs (after `Pairs::seal`: the odds must be in place);
    /// `None` (the scalar kernel scores the model) for more pairs than [`WORDS`] words hold,
    /// which the artifact's validation already refuses.
    #[cfg(feature = "interactions")]
    pub fn new(pairs: &crate::cells::Pairs) -> Option<Cells> {
        const _: () = assert!(crate::cells::CELLS == CELLS);
        const _: () = assert!(crate::artifact::MAX_INTERACTIONS <= WORDS * PER_WORD);
        let pairs = pairs.as_slice();
        if pairs.len() > WORDS * PER_WORD {
            return None;
        }
        let mut c = Cells::NONE;
        c.code = vec![[0; SLOTS]; pairs.len().div_ceil(PER_WORD)];
        for (p, pair) in pairs.iter().enumerate() {
            let word = c.code.get_mut(p / PER_WORD)?;
            let shift = 8 * (p % PER_WORD);
            for (code, &part) in word.iter_mut().zip(&pair.part) {
                *code |= u64::from(part) << shift;
            }
            for &j in &pair.features {
                *c.used.get_mut(j)? = true;
            }
            c.odds.push(pair.odds);
            c.points.push(pair.points);
        }
        Some(c)
    }

    /// Without the `interactions` feature a kernel has no pairs.
    #[cfg(not(feature = "interactions"))]
    pub fn new(_: &crate::cells::Pairs) -> Option<Cells> {
        Some(Cells::NONE)
    }
}

impl Kernel {
    /// Rebuilds the vector kernel's pair tables from the pairs (once they are sealed).
    pub(crate) fn seal_vector_cells(&mut self) {
        self.cells = Cells::new(&self.pairs);
    }
}

/// Each pair's cell index so far, for four rows: one vector of codes per word.
pub(super) type Codes = [__m256i; WORDS];

/// No shares yet.
#[inline(always)]
pub(super) unsafe fn start() -> Codes {
    [_mm256_setzero_si256(); WORDS]
}

/// Adds feature `j`'s shares at its four slots `slot` to `codes` (nothing if `j` is in no pair).
#[inline(always)]
pub(super) unsafe fn add<const G: bool>(c: &Cells, j: usize, slot: __m256i, codes: &mut Codes) {
    if !c.used.get(j).copied().unwrap_or(false) {
        return;
    }
    let slot = _mm256_and_si256(slot, _mm256_set1_epi64x(MASK as i64));
    for (acc, table) in codes.iter_mut().zip(&c.code) {
        let share = if G {
            // SAFETY: every slot is masked with `MASK`, so it is below `SLOTS`, the table's length.
            unsafe { _mm256_i64gather_epi64::<8>(table.as_ptr().cast::<i64>(), slot) }
        } else {
            let [a, b, c, d] = lanes(slot).map(|i| table[i as usize & MASK] as i64);
            _mm256_set_epi64x(d, c, b, a)
        };
        *acc = _mm256_add_epi64(*acc, share);
    }
}

/// `q` times each pair's cell odds, in pair order, and when `P` `score` plus each pair's cell
/// points, in pair order: the scalar kernel's `Pairs::fold`, lane by lane.
#[inline(always)]
pub(super) unsafe fn apply<const G: bool, const P: bool>(
    c: &Cells,
    codes: &Codes,
    mut q: __m256d,
    mut score: __m256d,
) -> (__m256d, __m256d) {
    let tables = c.odds.iter().zip(&c.points);
    for (p, (odds, points)) in tables.enumerate() {
        let word = codes[(p / PER_WORD) % WORDS];
        let cell = _mm256_and_si256(
            _mm256_srl_epi64(word, _mm_cvtsi64_si128(8 * (p % PER_WORD) as i64)),
            _mm256_set1_epi64x(CELLS as i64 - 1),
        );
        q = _mm256_mul_pd(q, read::<G>(odds, cell));
        if P {
            score = _mm256_add_pd(score, read::<G>(points, cell));
        }
    }
    (q, score)
}

/// `table[cell]` for the four cells (each below [`CELLS`]): one gather or four loads.
#[inline(always)]
unsafe fn read<const G: bool>(table: &[f64; CELLS], cell: __m256i) -> __m256d {
    if G {
        // SAFETY: every cell is masked to a byte, below `CELLS`, the table's length.
        unsafe { _mm256_i64gather_pd::<8>(table.as_ptr(), cell) }
    } else {
        let [a, b, c, d] = lanes(cell).map(|i| table[i as usize % CELLS]);
        _mm256_set_pd(d, c, b, a)
    }
}

const _: () = assert!(LANES == 4, "the code vectors hold four rows");
