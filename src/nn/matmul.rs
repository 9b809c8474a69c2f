//! Row-major matrix products `A · B` on the AVX-512 kernel of `nn::shifted_products`.
//!
//! A product is that kernel's sum with one "tap" per row of `B`: `C[r, p] = Σₖ A[r, k] ·
//! B[k·n + p]`. `B` is taken one tile of 48 columns at a time, copied into a panel (`k` rows
//! of 48 contiguous values) that stays in the core's cache while every group of 8 rows of
//! `A` passes over it. Without that, each group would stream all of `B` from memory (what
//! made the kernel lose to `gemm` on pointwise convolutions), and reading `B` in place, its
//! rows `n` apart fall into few cache sets (docs/BENCH.md). A product of one group of rows
//! with enough depth (a decoder step's eight lines) is the exception: each value of `B`
//! meets those rows only, so it is read in place, the tasks splitting the sum over `k`
//! (each a run of whole rows of `B`, one stretch of memory) rather than the columns.

use std::borrow::Cow;
use std::mem::MaybeUninit;
use std::ops::Range;

use rayon::prelude::*;

use super::shifted_products::{self, Operands, ROWS};
use super::{unfilled, vector_math};

/// Columns of one kernel tile and of one panel of `B`.
const TILE_COLUMNS: usize = 48;

/// Rows of `B` fetched ahead of their copy into a panel: rows `n` apart lie in different
/// pages, and the CPU's own prefetchers do not cross pages.
const FILL_AHEAD: usize = 16;

/// Bytes of packed `A` that pass over each tile of `B` in turn, at most: a task's rows
/// of a larger `A` are taken in a few passes, `B`'s panels filled again for each. An MLP's
/// second layer over three images (1731 × 3072, 21 MB) was otherwise read again from
/// memory for every tile: it does not stay in a last-level cache shared with other work
/// (58–71 GMAC/s on the EPYC, where 2048 deep ran at 97; docs/BENCH.md).
const A_BYTES_PER_PASS: usize = 4 << 20;

/// Rows of `B` a task sums over before moving to the next tile, in a product split by
/// depth: every tile reads its 48 columns of the same rows, so each page of those rows is
/// read whole, a line after another, within one block (docs/BENCH.md: 16, 32 and 64 within
/// 3 % of each other).
const DEPTH_BLOCK: usize = 32;

/// Products of fewer groups of rows than this read `B` once, split by columns, even with a
/// group for every task: split by rows, each task would read all of `B`, and with few rows
/// to share each value that read is most of the product (a beam search's decoder step).
const MIN_GROUPS_BY_ROWS: usize = 8;

/// Whether [`product`] runs on this CPU (AVX-512F).
pub(super) fn available() -> bool {
    shifted_products::available()
}

/// `a [m, k] · b [k, n]`, row-major, with `finish(first_row, rows)` run on each run of
/// whole output rows once they are summed, on the thread that summed them and while they
/// are in its cache: a layer's bias, activation or residual without another pass over the
/// output from memory. The work is split over rayon's threads by rows of `a` where there
/// are enough of them, else (few rows, many columns) by columns of `b`.
///
/// # Panics
/// When a slice's length is not its shape's, or [`available`] is false.
pub(super) fn product(
    a: &[f32],
    b: &[f32],
    shape: [usize; 3],
    finish: impl Fn(usize, &mut [f32]) + Sync,
) -> Vec<f32> {
    let Some(operands) = Packed::new(a, b, shape) else {
        let mut out = vec![0.0; shape[0] * shape[2]];
        out.par_chunks_mut(shape[2].max(1))
            .enumerate()
            .for_each(|(row, values)| finish(row, values));
        return out;
    };
    let tasks = 2 * rayon::current_num_threads().max(1);
    let mut out = if operands.groups == 1 && shape[1] >= tasks * DEPTH_BLOCK {
        operands.by_depth(tasks, shape[0], &finish)
    } else if operands.splits_by_rows(tasks) {
        operands.by_rows(tasks, shape[0], &finish)
    } else {
        operands.by_columns(tasks, shape[0], &finish)
    };
    out.truncate(shape[0] * shape[2]);
    out
}

/// `a [m, k] · b_i [k, n]` for `count` operands `b_i` lying one after another in `b`, into
/// one `[count, m, n]` output: a pointwise convolution's images, `a` its weights. `a` is
/// packed once; the tasks take runs of (operand, group of rows) pairs, written in place and
/// finished by `finish(operand, first_row, rows)` as in [`product`].
///
/// # Panics
/// When `m` is not a multiple of [`ROWS`] (the groups of the operands would overlap in the
/// output), a slice's length is not its shape's, or [`available`] is false.
pub(super) fn batched_product(
    a: &[f32],
    b: &[f32],
    count: usize,
    [m, k, n]: [usize; 3],
    finish: impl Fn(usize, usize, &mut [f32]) + Sync,
) -> Vec<f32> {
    assert!(m % ROWS == 0, "rows not a multiple of {ROWS}");
    assert!(
        a.len() == m * k && b.len() == count * k * n,
        "operands of another shape"
    );
    if count * m * k * n == 0 {
        return vec![0.0; count * m * n];
    }
    let packed = shifted_products::pack(a, m, k);
    let groups = m / ROWS;
    let per_task = (count * groups).div_ceil(2 * rayon::current_num_threads().max(1));
    let mut out = unfilled::buffer(count * m * n);
    out.par_chunks_mut(per_task * ROWS * n)
        .enumerate()
        .for_each(|(task, dst)| {
            let first = task * per_task;
            let end = first + dst.len() / (ROWS * n);
            let mut unit = first;
            while unit < end {
                let operand = unit / groups;
                let stop = end.min((operand + 1) * groups);
                let run = &mut dst[(unit - first) * ROWS * n..(stop - first) * ROWS * n];
                let operands =
                    Packed::with_packed(&packed, &b[operand * k * n..][..k * n], [m, k, n]);
                let rows = unit - operand * groups..stop - operand * groups;
                operands.block(rows.clone(), 0..operands.tiles, run, n);
                // SAFETY: `block` wrote every row of these groups, all tiles' columns.
                finish(operand, rows.start * ROWS, unsafe {
                    unfilled::as_values(run)
                });
                unit = stop;
            }
        });
    // SAFETY: the tasks' runs cover the whole buffer.
    unsafe { unfilled::into_values(out) }
}

/// [`product`] on the calling thread alone: for callers that already split their work over
/// rayon's threads (attention, one task per head).
///
/// # Panics
/// As [`product`].
pub(super) fn product_on_this_thread(a: &[f32], b: &[f32], shape: [usize; 3]) -> Vec<f32> {
    match Packed::new(a, b, shape) {
        Some(operands) => operands.on_this_thread(shape[0]),
        None => vec![0.0; shape[0] * shape[2]],
    }
}

/// [`product_on_this_thread`] with `a` already in [`shifted_products::pack`]'s layout
/// (`a_packed`, `m` rows of depth `k`): for callers that write `a` in that layout as they
/// compute it (attention's probabilities), sparing the transposing copy.
///
/// # Panics
/// When `a_packed` is not `⌈m / 8⌉ · 8 · k` values, `b` not `k · n`, or [`available`] is
/// false.
pub(super) fn packed_product_on_this_thread(
    a_packed: Vec<f32>,
    b: &[f32],
    [m, k, n]: [usize; 3],
) -> Vec<f32> {
    assert_eq!(
        a_packed.len(),
        m.div_ceil(ROWS) * ROWS * k,
        "operand of another shape"
    );
    assert_eq!(b.len(), k * n, "operand of another shape");
    if m == 0 || k == 0 || n == 0 {
        return vec![0.0; m * n];
    }
    Packed::with_packed(a_packed, b, [m, k, n]).on_this_thread(m)
}

/// `x` `[rows, columns]` as `[columns, rows]`, row-major both.
pub(super) fn transpose(x: &[f32], rows: usize, columns: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; x.len()];
    for (r, line) in x.chunks_exact(columns).enumerate() {
        for (c, &value) in line.iter().enumerate() {
            t[c * rows + r] = value;
        }
    }
    t
}

/// Both operands regrouped for the kernel.
struct Packed<'a> {
    /// `a` by [`shifted_products::pack`] (borrowed where operands share it).
    a: Cow<'a, [f32]>,
    /// `b` as it is: each task copies the tile it works on into a panel of its own.
    b: &'a [f32],
    /// Where row `k` of a panel starts.
    panel_rows: Vec<usize>,
    /// Where row `k` of `b` starts.
    b_rows: Vec<usize>,
    /// Groups of [`ROWS`] rows of `a`; tiles of [`TILE_COLUMNS`] columns of `b`.
    groups: usize,
    tiles: usize,
    n: usize,
}

impl<'a> Packed<'a> {
    /// The operands of `a [m, k] · b [k, n]`, `None` when the product is empty or all zeros
    /// (a dimension of 0).
    ///
    /// # Panics
    /// When a slice's length is not its shape's.
    fn new(a: &[f32], b: &'a [f32], [m, k, n]: [usize; 3]) -> Option<Self> {
        assert!(
            a.len() == m * k && b.len() == k * n,
            "operands of another shape"
        );
        (m > 0 && k > 0 && n > 0)
            .then(|| Self::with_packed(shifted_products::pack(a, m, k), b, [m, k, n]))
    }

    /// The operands, `a` already packed.
    fn with_packed(a: impl Into<Cow<'a, [f32]>>, b: &'a [f32], [m, k, n]: [usize; 3]) -> Self {
        Packed {
            a: a.into(),
            b,
            panel_rows: (0..k).map(|row| row * TILE_COLUMNS).collect(),
            b_rows: (0..k).map(|row| row * n).collect(),
            groups: m.div_ceil(ROWS),
            tiles: n.div_ceil(TILE_COLUMNS),
            n,
        }
    }

    /// The whole product, its first `m` rows, on the calling thread.
    fn on_this_thread(&self, m: usize) -> Vec<f32> {
        let mut out = unfilled::buffer(self.groups * ROWS * self.n);
        self.block(0..self.groups, 0..self.tiles, &mut out, self.n);
        // SAFETY: `block` wrote every row of every group, all tiles' columns.
        let mut out = unsafe { unfilled::into_values(out) };
        out.truncate(m * self.n);
        out
    }

    /// Whether tasks should take runs of rows (each reading all of `b`) rather than runs
    /// of columns (each reading all of `a`).
    fn splits_by_rows(&self, tasks: usize) -> bool {
        self.groups >= tasks && (self.groups >= MIN_GROUPS_BY_ROWS || self.tiles < tasks)
    }

    /// Every output row of the groups (rows past `a`'s zeros) and tiles, written `ldc`
    /// apart into `out` from its start.
    fn block(
        &self,
        groups: Range<usize>,
        tiles: Range<usize>,
        out: &mut [MaybeUninit<f32>],
        ldc: usize,
    ) {
        let first = tiles.start * TILE_COLUMNS;
        let mut panel = vec![0.0f32; self.panel_rows.len() * TILE_COLUMNS];
        for tile in tiles {
            let start = tile * TILE_COLUMNS;
            let columns = TILE_COLUMNS.min(self.n - start);
            self.fill_panel(&mut panel, start, columns);
            let operands = Operands {
                packed: &self.a,
                offsets: &self.panel_rows,
                x: &panel,
            };
            let to = &mut out[start - first..];
            shifted_products::products(&operands, groups.clone(), columns, to, ldc);
        }
    }

    /// Columns `start..start + columns` of `b`, `k` rows of [`TILE_COLUMNS`] values in one
    /// run (zeros past the columns): the tile's reads then stay in a few pages and cache
    /// lines, where the rows of `b` itself, `n` apart, fall into few cache sets.
    fn fill_panel(&self, panel: &mut [f32], start: usize, columns: usize) {
        let rows = panel
            .chunks_exact_mut(TILE_COLUMNS)
            .zip(self.b.chunks_exact(self.n));
        for (row, (to, from)) in rows.enumerate() {
            if let Some(ahead) = self.b.get((row + FILL_AHEAD) * self.n + start..) {
                shifted_products::prefetch_row(ahead);
            }
            to[..columns].copy_from_slice(&from[start..start + columns]);
            to[columns..].fill(0.0);
        }
    }

    /// Groups of rows in each pass over the tiles of `b` when a task takes `groups`: as
    /// few passes as keep each within [`A_BYTES_PER_PASS`], of even sizes (a last pass of
    /// a few groups would fill every panel again for little work).
    fn groups_per_pass(&self, groups: usize) -> usize {
        let group_bytes = self.panel_rows.len() * ROWS * size_of::<f32>();
        let passes = (groups * group_bytes).div_ceil(A_BYTES_PER_PASS).max(1);
        groups.div_ceil(passes).max(1)
    }

    /// Each task a run of whole output rows, written in place, then finished (rows below
    /// `m` only).
    fn by_rows(
        &self,
        tasks: usize,
        m: usize,
        finish: &(impl Fn(usize, &mut [f32]) + Sync),
    ) -> Vec<f32> {
        let per_task = self.groups.div_ceil(tasks);
        let mut out = unfilled::buffer(self.groups * ROWS * self.n);
        out.par_chunks_mut(per_task * ROWS * self.n)
            .enumerate()
            .for_each(|(task, dst)| {
                let first = task * per_task;
                let groups = first..first + dst.len() / self.n / ROWS;
                let per_pass = self.groups_per_pass(groups.len());
                for start in groups.clone().step_by(per_pass) {
                    let pass = start..(start + per_pass).min(groups.end);
                    let at = (start - first) * ROWS * self.n;
                    self.block(pass, 0..self.tiles, &mut dst[at..], self.n);
                }
                // SAFETY: `block` wrote every row of these groups, all tiles' columns.
                let dst = unsafe { unfilled::as_values(dst) };
                let first_row = first * ROWS;
                let rows = m.saturating_sub(first_row).min(dst.len() / self.n);
                if rows > 0 {
                    finish(first_row, &mut dst[..rows * self.n]);
                }
            });
        // SAFETY: the tasks' runs of rows cover the whole buffer.
        unsafe { unfilled::into_values(out) }
    }

    /// One group of rows: each task sums over a run of rows of `b` (one stretch of memory,
    /// where a run of its columns would be short pieces of many pages) into a buffer of its
    /// own, in blocks of [`DEPTH_BLOCK`] rows; the buffers are then added up and finished.
    fn by_depth(
        &self,
        tasks: usize,
        m: usize,
        finish: &(impl Fn(usize, &mut [f32]) + Sync),
    ) -> Vec<f32> {
        let depth = self.b_rows.len();
        let per_task = depth.div_ceil(tasks).next_multiple_of(DEPTH_BLOCK);
        let starts: Vec<usize> = (0..depth).step_by(per_task).collect();
        let parts: Vec<Vec<f32>> = starts
            .into_par_iter()
            .map(|first| {
                let mut part = vec![0.0f32; ROWS * self.n];
                let end = (first + per_task).min(depth);
                for block in (first..end).step_by(DEPTH_BLOCK) {
                    self.add_block(block..(block + DEPTH_BLOCK).min(end), &mut part);
                }
                part
            })
            .collect();
        let mut parts = parts.into_iter();
        let mut out = parts.next().unwrap_or_default();
        for part in parts {
            vector_math::add(&mut out, &part);
        }
        out.truncate(m * self.n);
        finish(0, &mut out);
        out
    }

    /// Adds the products over rows `rows` of `b` (all its columns) of the only group to
    /// `out` (`ROWS × n`).
    fn add_block(&self, rows: Range<usize>, out: &mut [f32]) {
        for tile in 0..self.tiles {
            let start = tile * TILE_COLUMNS;
            let operands = Operands {
                packed: &self.a[rows.start * ROWS..rows.end * ROWS],
                offsets: &self.b_rows[rows.clone()],
                x: &self.b[start..],
            };
            let columns = TILE_COLUMNS.min(self.n - start);
            shifted_products::add_products(&operands, 0..1, columns, &mut out[start..], self.n);
        }
    }

    /// Each task a run of tiles over all rows, into a buffer of its own, then copied into
    /// place and finished row by row (one more pass over the output, small beside `k`
    /// products per value).
    fn by_columns(
        &self,
        tasks: usize,
        m: usize,
        finish: &(impl Fn(usize, &mut [f32]) + Sync),
    ) -> Vec<f32> {
        let per_task = self.tiles.div_ceil(tasks);
        let rows = self.groups * ROWS;
        let parts: Vec<(Range<usize>, Vec<f32>)> = (0..self.tiles)
            .step_by(per_task)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|first| {
                let tiles = first..(first + per_task).min(self.tiles);
                let columns = (tiles.end * TILE_COLUMNS).min(self.n) - first * TILE_COLUMNS;
                let mut part = unfilled::buffer(rows * columns);
                self.block(0..self.groups, tiles, &mut part, columns);
                // SAFETY: `block` wrote every row of every group, all its tiles' columns.
                let part = unsafe { unfilled::into_values(part) };
                (first * TILE_COLUMNS..first * TILE_COLUMNS + columns, part)
            })
            .collect();
        let mut out = unfilled::buffer(rows * self.n);
        out.par_chunks_mut(self.n)
            .enumerate()
            .for_each(|(row, dst)| {
                for (columns, part) in &parts {
                    let width = columns.len();
                    let from = &part[row * width..][..width];
                    for (to, &value) in dst[columns.clone()].iter_mut().zip(from) {
                        to.write(value);
                    }
                }
                // SAFETY: the parts' columns cover the whole row.
                let dst = unsafe { unfilled::as_values(dst) };
                if row < m {
                    finish(row, dst);
                }
            });
        // SAFETY: every row written just above.
        unsafe { unfilled::into_values(out) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook triple loop.
    fn reference(a: &[f32], b: &[f32], [m, k, n]: [usize; 3]) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for r in 0..m {
            for p in 0..n {
                c[r * n + p] = (0..k).map(|i| a[r * k + i] * b[i * n + p]).sum();
            }
        }
        c
    }

    fn values(count: usize, seed: usize) -> Vec<f32> {
        (0..count)
            .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.5) - 1.0)
            .collect()
    }

    #[test]
    fn equals_the_triple_loop_on_ragged_shapes() {
        if !available() {
            crate::test_skip::skip("matmul::product needs AVX-512F; this CPU has none");
            return;
        }
        // Rows not a multiple of 8, columns not of 48; split by rows and by columns, one
        // group of rows (with depth, split by depth) and a few groups with many columns.
        for shape in [
            [1, 3, 5],
            [13, 70, 50],
            [70, 40, 97],
            [9, 3000, 100],
            [100, 5, 7],
            [16, 24, 1000],
            [8, 40, 300],
            [45, 30, 400],
            [5, 300, 100],
        ] {
            let [m, k, n] = shape;
            let (a, b) = (values(m * k, 1), values(k * n, 2));
            let expected = reference(&a, &b, shape);
            for ours in [
                product(&a, &b, shape, |_, _| {}),
                product_on_this_thread(&a, &b, shape),
            ] {
                assert_eq!(ours.len(), m * n);
                let worst = ours
                    .iter()
                    .zip(&expected)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0f32, f32::max);
                assert!(worst < 1e-3, "{shape:?}: differs by {worst}");
            }
        }
    }

    #[test]
    fn finish_sees_every_row_once_with_its_index() {
        if !available() {
            crate::test_skip::skip("matmul::product needs AVX-512F; this CPU has none");
            return;
        }
        // Split by rows (70 rows: a last group of 6) and by columns (13 rows, 500 columns).
        for shape in [[70, 40, 97], [13, 20, 500], [6, 200, 70]] {
            let [m, k, n] = shape;
            let (a, b) = (values(m * k, 3), values(k * n, 4));
            let add_row_index = |first_row: usize, rows: &mut [f32]| {
                assert_eq!(rows.len() % n, 0, "{shape:?}: not whole rows");
                for (i, row) in rows.chunks_exact_mut(n).enumerate() {
                    assert!(first_row + i < m, "{shape:?}: row {} past m", first_row + i);
                    row.iter_mut().for_each(|v| *v += (first_row + i) as f32);
                }
            };
            let ours = product(&a, &b, shape, add_row_index);
            let plain = reference(&a, &b, shape);
            for (i, (x, y)) in ours.iter().zip(&plain).enumerate() {
                let want = y + (i / n) as f32;
                assert!(
                    (x - want).abs() < 1e-3,
                    "{shape:?}: value {i} {x} against {want}"
                );
            }
        }
    }

    #[test]
    fn empty_operands_give_empty_or_zero_products() {
        if !available() {
            crate::test_skip::skip("matmul::product needs AVX-512F; this CPU has none");
            return;
        }
        assert!(product(&[], &[], [0, 4, 0], |_, _| {}).is_empty());
        assert_eq!(product(&[], &[], [2, 0, 3], |_, _| {}), vec![0.0; 6]);
    }
}

/// Our product against Flex's `matmul` on the shapes of TrOCR's linear layers (batch 8)
/// and of pointwise convolutions: the fastest of eight runs each, printed, nothing asserted.
#[cfg(test)]
mod timing {
    use super::*;
    use burn::tensor::{Device, Tensor, TensorData};

    fn fastest(mut f: impl FnMut()) -> f64 {
        f();
        (0..8)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min)
    }

    #[test]
    #[ignore = "measurement; run with --ignored --nocapture"]
    fn time_shapes() {
        let device = Device::flex();
        for shape in [
            [578, 384, 1536],
            [578, 1536, 384],
            [578, 384, 384],
            [4624, 384, 1536],
            [4624, 1536, 384],
            [4624, 384, 384],
            [4624, 768, 3072],
            [4624, 3072, 768],
            // Three images of 577 tokens, the encoders' runs (trocr::per_image).
            [1731, 384, 1152],
            [1731, 1536, 384],
            [1731, 768, 2304],
            [1731, 768, 3072],
            [1731, 3072, 768],
            [1731, 1536, 768],
            [1731, 2048, 768],
            [16, 64, 120000],
            [96, 96, 30000],
        ] {
            let [m, k, n] = shape;
            let a = vec![0.5f32; m * k];
            let b = vec![0.25f32; k * n];
            let ours = fastest(|| {
                std::hint::black_box(product(&a, &b, shape, |_, _| {}));
            });
            let ta = Tensor::<2>::from_data(TensorData::new(a.clone(), [m, k]), &device);
            let tb = Tensor::<2>::from_data(TensorData::new(b.clone(), [k, n]), &device);
            let burn = fastest(|| {
                std::hint::black_box(ta.clone().matmul(tb.clone()).into_data());
            });
            let g = |s: f64| (m * k * n) as f64 / s / 1e9;
            eprintln!(
                "{shape:?}: ours {:.1} ms {:.1} GMAC/s, burn {:.1} ms {:.1} GMAC/s",
                ours * 1e3,
                g(ours),
                burn * 1e3,
                g(burn)
            );
        }
    }

    /// One trocr-base decoder step's linear layers at batch 8 (12 layers of four 1024²
    /// self-attention projections, two cross-attention ones, fc1 and fc2): 704 MB of
    /// weights, more than the last-level cache, each read once per step as in decoding.
    /// `ROWS=32` for a beam search of 4.
    #[test]
    #[ignore = "measurement; run with --ignored --nocapture"]
    fn time_decoder_step() {
        let m = std::env::var("ROWS")
            .map_or(Ok(8), |rows| rows.parse())
            .unwrap();
        let (d, ffn) = (1024, 4096);
        let layer = [[m, d, d]; 6].into_iter().chain([[m, d, ffn], [m, ffn, d]]);
        let shapes: Vec<[usize; 3]> = layer.cycle().take(12 * 8).collect();
        let weights: Vec<Vec<f32>> = shapes.iter().map(|&[_, k, n]| vec![0.25; k * n]).collect();
        let a = vec![0.5f32; m * ffn];
        let step = fastest(|| {
            for (&[m, k, n], b) in shapes.iter().zip(&weights) {
                std::hint::black_box(product(&a[..m * k], b, [m, k, n], |_, _| {}));
            }
        });
        let bytes: usize = weights.iter().map(|w| w.len() * 4).sum();
        eprintln!(
            "decoder step, {m} rows, {} MB of weights: {:.1} ms, {:.1} GB/s",
            bytes / 1_000_000,
            step * 1e3,
            bytes as f64 / step / 1e9
        );
    }
}
