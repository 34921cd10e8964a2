//! Batch scoring over borrowed memory: row-major slices, column slices (Arrow / pandas columns)
//! and `ndarray` views. Nothing is allocated per row; rows that fail validation get NaN in the
//! outputs and are listed with their errors, and never abort the batch.
//!
//! Every path ends in [`Scorecard::try_probability_and_score`], the same function the single
//! applicant path uses, so batch and single results are bit-identical.

use crate::applicant::Applicant;
use crate::error::{ShapeError, ValidationErrors};
use crate::schema::N_FEATURES;
use crate::scorecard::Scorecard;
use ndarray::ArrayView2;
use std::ops::Range;

/// Something that yields rows of ten values (NaN = missing).
pub trait RowSource: Sync {
    fn n_rows(&self) -> usize;
    /// Row `i`, gathered into model column order.
    fn row(&self, i: usize) -> [f64; N_FEATURES];
    /// The source's memory when it is laid out as one of the [`Layout`]s the vector kernel
    /// reads directly (rows `0..n_rows`), else [`Layout::Other`].
    fn layout(&self) -> Layout<'_> {
        Layout::Other
    }
    /// The rows of `range` in order (empty if it is out of bounds). Sources override this when
    /// they can walk their rows faster than one [`RowSource::row`] call at a time.
    fn rows(&self, range: Range<usize>) -> impl Iterator<Item = [f64; N_FEATURES]> + '_ {
        let range = if range.end <= self.n_rows() {
            range
        } else {
            0..0
        };
        range.map(|i| self.row(i))
    }
}

/// How a [`RowSource`]'s values lie in memory.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Layout<'a> {
    /// `n × 10` values, row after row.
    RowMajor(&'a [f64]),
    /// Ten columns of `n` values, in model column order.
    Columns([&'a [f64]; N_FEATURES]),
    /// Anything else: read row by row.
    Other,
}

impl<'a> Layout<'a> {
    /// The rows `range` of this layout ([`Layout::Other`] when they are out of bounds).
    /// Always inlined: a source's layout is then known where it is used, and the vector
    /// kernels' code for the other layouts drops out (2.6 KB of the `.wasm`).
    #[inline(always)]
    fn rows(self, range: Range<usize>) -> Layout<'a> {
        match self {
            Layout::RowMajor(data) => data
                .get(range.start * N_FEATURES..range.end * N_FEATURES)
                .map_or(Layout::Other, Layout::RowMajor),
            Layout::Columns(cols) => {
                let mut out: [&[f64]; N_FEATURES] = [&[]; N_FEATURES];
                for (o, c) in out.iter_mut().zip(cols) {
                    match c.get(range.clone()) {
                        Some(rows) => *o = rows,
                        None => return Layout::Other,
                    }
                }
                Layout::Columns(out)
            }
            Layout::Other => Layout::Other,
        }
    }
}

/// `n × 10` values, row after row.
pub struct RowMajor<'a> {
    data: &'a [f64],
}

impl<'a> RowMajor<'a> {
    pub fn new(data: &'a [f64], n_rows: usize) -> Result<RowMajor<'a>, ShapeError> {
        if n_rows.checked_mul(N_FEATURES) != Some(data.len()) {
            return Err(ShapeError::Length {
                len: data.len(),
                n_rows,
                n_cols: N_FEATURES,
            });
        }
        Ok(RowMajor { data })
    }
}

impl RowSource for RowMajor<'_> {
    #[inline(always)]
    fn n_rows(&self) -> usize {
        self.data.len() / N_FEATURES
    }
    #[inline(always)]
    fn row(&self, i: usize) -> [f64; N_FEATURES] {
        self.data.as_chunks::<N_FEATURES>().0[i]
    }
    fn layout(&self) -> Layout<'_> {
        Layout::RowMajor(self.data)
    }
    #[inline(always)]
    fn rows(&self, range: Range<usize>) -> impl Iterator<Item = [f64; N_FEATURES]> + '_ {
        // Whole rows straight from the slice: no per-row index arithmetic or bounds check.
        let rows = self.data.as_chunks::<N_FEATURES>().0;
        rows.get(range).unwrap_or_default().iter().copied()
    }
}

/// Ten columns of equal length, in model column order (zero-copy over DataFrame / Arrow columns).
pub struct Columns<'a> {
    cols: [&'a [f64]; N_FEATURES],
}

impl<'a> Columns<'a> {
    pub fn new(cols: &[&'a [f64]]) -> Result<Columns<'a>, ShapeError> {
        if cols.len() != N_FEATURES {
            return Err(ShapeError::Columns {
                expected: N_FEATURES,
                found: cols.len(),
            });
        }
        let n = cols[0].len();
        if let Some((j, c)) = cols.iter().enumerate().find(|(_, c)| c.len() != n) {
            return Err(ShapeError::ColumnLength {
                column: j,
                found: c.len(),
                expected: n,
            });
        }
        let mut arr: [&[f64]; N_FEATURES] = [&[]; N_FEATURES];
        arr.copy_from_slice(cols);
        Ok(Columns { cols: arr })
    }
}

impl RowSource for Columns<'_> {
    #[inline(always)]
    fn n_rows(&self) -> usize {
        self.cols[0].len()
    }
    #[inline(always)]
    fn row(&self, i: usize) -> [f64; N_FEATURES] {
        let mut r = [0.0; N_FEATURES];
        for (v, c) in r.iter_mut().zip(&self.cols) {
            *v = c[i];
        }
        r
    }
    fn layout(&self) -> Layout<'_> {
        Layout::Columns(self.cols)
    }
}

/// Any `ndarray` view (any strides).
pub struct View<'a> {
    view: ArrayView2<'a, f64>,
}

impl<'a> View<'a> {
    pub fn new(view: ArrayView2<'a, f64>) -> Result<View<'a>, ShapeError> {
        if view.ncols() != N_FEATURES {
            return Err(ShapeError::Columns {
                expected: N_FEATURES,
                found: view.ncols(),
            });
        }
        Ok(View { view })
    }
}

impl RowSource for View<'_> {
    #[inline(always)]
    fn n_rows(&self) -> usize {
        self.view.nrows()
    }
    #[inline(always)]
    fn row(&self, i: usize) -> [f64; N_FEATURES] {
        let mut r = [0.0; N_FEATURES];
        for (j, v) in r.iter_mut().enumerate() {
            *v = self.view[[i, j]];
        }
        r
    }
    fn layout(&self) -> Layout<'_> {
        // A standard-layout (C-contiguous) view is a row-major slice.
        self.view.as_slice().map_or(Layout::Other, Layout::RowMajor)
    }
}

/// A row that failed validation.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RowError {
    /// Row index within the whole batch.
    pub row: usize,
    pub errors: ValidationErrors,
}

/// A batch's outputs in vectors the core allocated (see [`Scorecard::score_all`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scored {
    pub probability: Vec<f64>,
    /// Points per row, when asked for.
    pub score: Option<Vec<f64>>,
    pub report: BatchReport,
}

/// What a batch did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct BatchReport {
    pub rows: usize,
    pub valid: usize,
    pub invalid: Vec<RowError>,
}

impl Scorecard {
    /// Scores every row of `src` into `probability` (and `score` if given).
    /// Invalid rows get NaN and are listed in the report with every error.
    pub fn score_batch<S: RowSource>(
        &self,
        src: &S,
        probability: &mut [f64],
        score: Option<&mut [f64]>,
    ) -> Result<BatchReport, ShapeError> {
        if probability.len() != src.n_rows() {
            return Err(ShapeError::Output {
                expected: src.n_rows(),
                found: probability.len(),
            });
        }
        self.score_range(src, 0, probability, score)
    }

    fn score_range<S: RowSource>(
        &self,
        src: &S,
        first_row: usize,
        probability: &mut [f64],
        score: Option<&mut [f64]>,
    ) -> Result<BatchReport, ShapeError> {
        let n = probability.len();
        if first_row + n > src.n_rows() {
            return Err(ShapeError::Output {
                expected: src.n_rows(),
                found: n,
            });
        }
        let mut report = BatchReport {
            rows: n,
            valid: 0,
            invalid: Vec::new(),
        };
        let fail = |i: usize, row: &[f64; N_FEATURES], report: &mut BatchReport| {
            if let Err(errors) = Applicant::from_row(row) {
                report.invalid.push(RowError {
                    row: first_row + i,
                    errors,
                });
            }
        };
        if let Some(score) = &score {
            if score.len() != n {
                return Err(ShapeError::Output {
                    expected: n,
                    found: score.len(),
                });
            }
        }
        // The vector kernel takes the leading rows it can; the loops below score the rest.
        let mut score = score;
        let mut bad = Vec::new();
        let done = self.score_vectors(src, first_row, probability, score.as_deref_mut(), &mut bad);
        for i in bad {
            fail(i, &src.row(first_row + i), &mut report);
        }
        let (first_row, probability, score) = (
            first_row + done,
            &mut probability[done..],
            score.map(|s| &mut s[done..]),
        );
        let fail = |i: usize, row: &[f64; N_FEATURES], report: &mut BatchReport| {
            fail(done + i, row, report)
        };
        let n = n - done;
        match score {
            None => {
                let mut rows = src.rows(first_row..first_row + n);
                // Two rows at a time: their work interleaves (see `Kernel::probabilities`).
                const R: usize = 2;
                let (blocks, rest) = probability.as_chunks_mut::<R>();
                for (b, out) in blocks.iter_mut().enumerate() {
                    let mut block = [[f64::NAN; N_FEATURES]; R];
                    for b in &mut block {
                        if let Some(row) = rows.next() {
                            *b = row;
                        }
                    }
                    *out = self.probabilities(&block);
                    for (k, (p, row)) in out.iter_mut().zip(&block).enumerate() {
                        if p.is_nan() {
                            *p = f64::NAN; // the one NaN every path writes for an invalid row
                            fail(b * R + k, row, &mut report);
                        }
                    }
                }
                let done = blocks.len() * R;
                for ((i, out), row) in rest.iter_mut().enumerate().zip(rows) {
                    match self.try_probability(&row) {
                        Some(p) => *out = p,
                        None => {
                            *out = f64::NAN;
                            fail(done + i, &row, &mut report);
                        }
                    }
                }
            }
            Some(score) => {
                let rows = src.rows(first_row..first_row + n);
                let outs = probability.iter_mut().zip(score.iter_mut()).enumerate();
                for ((i, (p_out, s_out)), row) in outs.zip(rows) {
                    match self.try_probability_and_score(&row) {
                        Some((p, s)) => {
                            *p_out = p;
                            *s_out = s;
                        }
                        None => {
                            *p_out = f64::NAN;
                            *s_out = f64::NAN;
                            fail(i, &row, &mut report);
                        }
                    }
                }
            }
        }
        report.valid = report.rows - report.invalid.len();
        Ok(report)
    }

    /// Scores the leading rows of `src` (from `first_row`, as many as the outputs hold) with
    /// the vector kernel when the CPU, the model and the source's layout allow it; returns how
    /// many rows it did (possibly none) and lists the invalid ones (relative to `first_row`) in
    /// `bad`.
    #[allow(unused_variables)]
    fn score_vectors<S: RowSource>(
        &self,
        src: &S,
        first_row: usize,
        probability: &mut [f64],
        score: Option<&mut [f64]>,
        bad: &mut Vec<usize>,
    ) -> usize {
        let input = src.layout().rows(first_row..first_row + probability.len());
        // Interaction cells included (`kernel::avx2::cells`).
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = self.kernel().avx2() {
            return simd.score(input, probability, score, bad);
        }
        // The browser's counterpart (two rows per vector, probabilities only), when the
        // `.wasm` is built with SIMD128 (WASM has no run-time feature detection: the build
        // decides). It does not know interaction cells: a model with cells is scored by the
        // scalar kernel there (the browser package builds without cells anyway, and every byte
        // of its `.wasm` counts).
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if let (Some(simd), None, true) = (
            self.kernel().simd128(),
            &score,
            self.kernel().pairs().is_empty(),
        ) {
            return simd.score(input, probability, bad);
        }
        0
    }

    /// [`Scorecard::score_batch`] split over `threads` OS threads (scoped; no pool, no global state).
    pub fn score_batch_parallel<S: RowSource>(
        &self,
        src: &S,
        threads: usize,
        probability: &mut [f64],
        score: Option<&mut [f64]>,
    ) -> Result<BatchReport, ShapeError> {
        let n = probability.len();
        if n != src.n_rows() {
            return Err(ShapeError::Output {
                expected: src.n_rows(),
                found: n,
            });
        }
        if let Some(s) = &score {
            if s.len() != n {
                return Err(ShapeError::Output {
                    expected: n,
                    found: s.len(),
                });
            }
        }
        let threads = threads.clamp(1, 256);
        if threads == 1 || n < 4096 {
            return self.score_batch(src, probability, score);
        }
        let chunk = n.div_ceil(threads);
        let mut score_chunks: Vec<Option<&mut [f64]>> = match score {
            Some(s) => s.chunks_mut(chunk).map(Some).collect(),
            None => (0..n.div_ceil(chunk)).map(|_| None).collect(),
        };
        let results: Vec<Result<BatchReport, ShapeError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = probability
                .chunks_mut(chunk)
                .zip(score_chunks.iter_mut())
                .enumerate()
                .map(|(k, (p, s))| {
                    let s = s.take();
                    scope.spawn(move || self.score_range(src, k * chunk, p, s))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    // Scoring cannot panic (no indexing outside checked bounds); should a thread
                    // die anyway, report its rows as missing output rather than unwinding.
                    h.join().unwrap_or(Err(ShapeError::Output {
                        expected: n,
                        found: 0,
                    }))
                })
                .collect()
        });
        let mut report = BatchReport {
            rows: n,
            ..BatchReport::default()
        };
        for r in results {
            let r = r?;
            report.valid += r.valid;
            report.invalid.extend(r.invalid);
        }
        Ok(report)
    }

    /// Scores every row of `src` into new vectors (points only when `want_score`), over
    /// `threads` threads: what a front door that returns fresh arrays needs in one call.
    /// Always inlined, so that a caller's constant `threads = 1` drops the threaded path.
    #[inline(always)]
    pub fn score_all<S: RowSource>(
        &self,
        src: &S,
        threads: usize,
        want_score: bool,
    ) -> Result<Scored, ShapeError> {
        let n = src.n_rows();
        let mut probability = vec![0.0; n];
        let mut score = want_score.then(|| vec![0.0; n]);
        // One thread calls `score_batch` itself, so that single-threaded front doors (WASM)
        // do not link the thread-spawning code.
        let report = if threads > 1 {
            self.score_batch_parallel(src, threads, &mut probability, score.as_deref_mut())?
        } else {
            self.score_batch(src, &mut probability, score.as_deref_mut())?
        };
        Ok(Scored {
            probability,
            score,
            report,
        })
    }

    /// Probabilities of a row-major `n × 10` slice.
    pub fn predict_proba_rows(
        &self,
        data: &[f64],
        out: &mut [f64],
    ) -> Result<BatchReport, ShapeError> {
        let src = RowMajor::new(data, out.len())?;
        self.score_batch(&src, out, None)
    }

    /// Probabilities of an `n × 10` `ndarray` view (any layout; contiguous ones take the fast path).
    pub fn predict_proba_array(
        &self,
        x: ArrayView2<'_, f64>,
        out: &mut [f64],
    ) -> Result<BatchReport, ShapeError> {
        if x.ncols() != N_FEATURES {
            return Err(ShapeError::Columns {
                expected: N_FEATURES,
                found: x.ncols(),
            });
        }
        if let Some(data) = x.as_slice() {
            return self.score_batch(&RowMajor::new(data, x.nrows())?, out, None);
        }
        self.score_batch(&View::new(x)?, out, None)
    }
}
