//! 3 × 3 stride-1 convolutions on the CPU by Winograd's minimal filtering, F(2 × 2, 3 × 3).
//!
//! Nearly all of CRAFT's, the CRNN's and kraken's work is 3 × 3 convolutions, and after
//! `conv_gemm` most of their time is inside gemm's micro-kernel (docs/BENCH.md). Winograd's
//! algorithm computes each 2 × 2 block of outputs from a 4 × 4 block of inputs with 16
//! products per channel pair instead of 36: the weights and the input tiles are carried
//! into a transformed space where the convolution becomes 16 independent matrix products
//! (one per position of the 4 × 4 tile, output channels × input channels times input
//! channels × tiles), then the products are carried back. 2.25 times fewer multiplications,
//! for transforms that cost a few additions per value. F(2 × 2, 3 × 3) keeps the rounding
//! of plain f32 sums (its transforms use only 0, ±1 and ±½); larger tiles would save more
//! and lose digits.

use gemm::{Parallelism, gemm};
use rayon::prelude::*;

/// Values of one block's transformed inputs and products together (16 × (in + out
/// channels) × tiles): 4 MiB, so a block works in cache.
const BLOCK_VALUES: usize = 1 << 20;

/// The sizes of a 3 × 3, stride-1, dilation-1, one-group convolution.
#[derive(Clone, Copy, Debug)]
pub(super) struct Shape {
    pub images: usize,
    pub c_in: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub c_out: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub out_h: usize,
    pub out_w: usize,
}

/// `output[n, o, y, x] = bias[o] + Σ input[n, c, y + i − top, x + j − left] · w[o, c, i, j]`,
/// row-major `[images, c_out, out_h, out_w]`.
pub(super) fn conv3x3(shape: &Shape, input: &[f32], weights: &[f32], bias: &[f32]) -> Vec<f32> {
    let tiles = Tiles::of(shape);
    let padded = tiles.pad(shape, input);
    let filters = transform_weights(shape, weights);
    let mut output = vec![0.0f32; shape.images * shape.c_out * shape.out_h * shape.out_w];
    let out = SharedOut(output.as_mut_ptr());
    tiles.blocks(shape).par_iter().for_each(|block| {
        BUFFERS.with_borrow_mut(|(inputs, products)| {
            let n = block.tiles.len();
            // Every value of both is written before it is read: no zeroing needed.
            inputs.resize(16 * shape.c_in * n, 0.0);
            products.resize(16 * shape.c_out * n, 0.0);
            tiles.transform_inputs(shape, &padded, block, inputs);
            multiply(shape, &filters, inputs, products, n);
            // SAFETY: blocks write the outputs of their own tiles only; `output` outlives
            // them.
            unsafe { tiles.write_outputs(shape, products, bias, block, &out) };
        });
    });
    output
}

thread_local! {
    /// Each worker's transformed inputs and products, kept between blocks and layers: fresh
    /// buffers of megabytes cost a page fault per 4 KiB and a zeroing pass every block.
    static BUFFERS: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const {
        std::cell::RefCell::new((Vec::new(), Vec::new()))
    };
}

/// The 2 × 2 output tiles of every image, and the input padded to cover them all.
struct Tiles {
    rows: usize,
    cols: usize,
    /// Padded input size: 2 × tiles + 2 each way.
    height: usize,
    width: usize,
}

/// A run of consecutive tiles (row-major) of one image.
struct Block {
    image: usize,
    tiles: std::ops::Range<usize>,
}

impl Tiles {
    fn of(shape: &Shape) -> Self {
        let (rows, cols) = (shape.out_h.div_ceil(2), shape.out_w.div_ceil(2));
        Self {
            rows,
            cols,
            height: 2 * rows + 2,
            width: 2 * cols + 2,
        }
    }

    fn plane(&self) -> usize {
        self.height * self.width
    }

    /// Every input plane inside zeros: the layer's padding, and more at the bottom and right
    /// where an odd output size leaves a half tile.
    fn pad(&self, shape: &Shape, input: &[f32]) -> Vec<f32> {
        let mut padded = vec![0.0f32; shape.images * shape.c_in * self.plane()];
        let rows = shape.in_h.min(self.height.saturating_sub(shape.pad_top));
        let cols = shape.in_w.min(self.width.saturating_sub(shape.pad_left));
        padded
            .par_chunks_mut(self.plane())
            .zip(input.par_chunks(shape.in_h * shape.in_w))
            .for_each(|(to, from)| {
                for (r, row) in from.chunks(shape.in_w).take(rows).enumerate() {
                    let start = (r + shape.pad_top) * self.width + shape.pad_left;
                    to[start..start + cols].copy_from_slice(&row[..cols]);
                }
            });
        padded
    }

    /// Runs of tiles sized for the cache, at least two for every thread.
    fn blocks(&self, shape: &Shape) -> Vec<Block> {
        let per_image = self.rows * self.cols;
        let fit = (BLOCK_VALUES / (16 * (shape.c_in + shape.c_out))).max(16);
        let wanted = 2 * rayon::current_num_threads();
        let even = (shape.images * per_image).div_ceil(wanted).max(16);
        let size = fit.min(even);
        (0..shape.images)
            .flat_map(|image| {
                (0..per_image).step_by(size).map(move |first| Block {
                    image,
                    tiles: first..(first + size).min(per_image),
                })
            })
            .collect()
    }

    /// The block's tiles as runs along one tile row: (tile row, first tile column, tiles,
    /// offset of the first within the block).
    fn segments(&self, block: &Block) -> Vec<Segment> {
        let mut segments = Vec::new();
        let mut tile = block.tiles.start;
        while tile < block.tiles.end {
            let (row, col) = (tile / self.cols, tile % self.cols);
            let len = (self.cols - col).min(block.tiles.end - tile);
            segments.push(Segment {
                row,
                col,
                len,
                offset: tile - block.tiles.start,
            });
            tile += len;
        }
        segments
    }

    /// `Bᵀ d B` of every 4 × 4 input tile of the block, as `[16][c_in][tiles]`, a run of
    /// tiles along a row at a time so that the arithmetic runs over contiguous values.
    fn transform_inputs(&self, shape: &Shape, padded: &[f32], block: &Block, v: &mut [f32]) {
        let n = block.tiles.len();
        let segments = self.segments(block);
        let mut rows = vec![0.0f32; 4 * self.width];
        let (mut even, mut odd) = (vec![0.0f32; self.cols + 1], vec![0.0f32; self.cols + 1]);
        for c in 0..shape.c_in {
            let plane_start = (block.image * shape.c_in + c) * self.plane();
            let plane = &padded[plane_start..plane_start + self.plane()];
            for segment in &segments {
                let (x0, span) = (2 * segment.col, 2 * segment.len + 2);
                let line = |i: usize| {
                    let at = (2 * segment.row + i) * self.width + x0;
                    &plane[at..at + span]
                };
                // Bᵀ d: rows 0 − 2, 1 + 2, 2 − 1, 1 − 3 of the tile row.
                let (d0, d1, d2, d3) = (line(0), line(1), line(2), line(3));
                let (r0, rest) = rows.split_at_mut(self.width);
                let (r1, rest) = rest.split_at_mut(self.width);
                let (r2, r3) = rest.split_at_mut(self.width);
                for x in 0..span {
                    r0[x] = d0[x] - d2[x];
                    r1[x] = d1[x] + d2[x];
                    r2[x] = d2[x] - d1[x];
                    r3[x] = d1[x] - d3[x];
                }
                // (Bᵀ d) B: the same combinations of each tile's columns. Tile t's columns
                // are even[t], odd[t], even[t + 1], odd[t + 1], read contiguously.
                let len = segment.len;
                for (i, r) in [&*r0, &*r1, &*r2, &*r3].into_iter().enumerate() {
                    for (x, pair) in r[..span].chunks_exact(2).enumerate() {
                        (even[x], odd[x]) = (pair[0], pair[1]);
                    }
                    let (e0, e1) = (&even[..len], &even[1..=len]);
                    let (o0, o1) = (&odd[..len], &odd[1..=len]);
                    let at = |j: usize| ((4 * i + j) * shape.c_in + c) * n + segment.offset;
                    let pairs = [
                        (e0, e1, -1.0),
                        (o0, e1, 1.0),
                        (e1, o0, -1.0),
                        (o0, o1, -1.0),
                    ];
                    for (j, (first, second, sign)) in pairs.into_iter().enumerate() {
                        let to = &mut v[at(j)..at(j) + len];
                        for ((value, &a), &b) in to.iter_mut().zip(first).zip(second) {
                            *value = a + sign * b;
                        }
                    }
                }
            }
        }
    }

    /// `Aᵀ m A` of every tile's products, plus the bias, into the output (cut at its edges),
    /// a run of tiles along a row at a time.
    ///
    /// # Safety
    /// `out` points to the whole output, and no other block writes these tiles.
    unsafe fn write_outputs(
        &self,
        shape: &Shape,
        products: &[f32],
        bias: &[f32],
        block: &Block,
        out: &SharedOut,
    ) {
        let n = block.tiles.len();
        let out_plane = shape.out_h * shape.out_w;
        let segments = self.segments(block);
        // Aᵀ m of a run of tiles: rows 0 + 1 + 2 (`a`) and 1 − 2 − 3 (`b`) for each of the
        // four columns; then the two output rows of the run, interleaved.
        let mut a = vec![0.0f32; 4 * self.cols];
        let mut b = vec![0.0f32; 4 * self.cols];
        let mut top = vec![0.0f32; 2 * self.cols];
        let mut bottom = vec![0.0f32; 2 * self.cols];
        for (o, &bias) in bias.iter().enumerate().take(shape.c_out) {
            let plane = (block.image * shape.c_out + o) * out_plane;
            for segment in &segments {
                let len = segment.len;
                let m = |k: usize| {
                    let at = (k * shape.c_out + o) * n + segment.offset;
                    &products[at..at + len]
                };
                for j in 0..4 {
                    let (m0, m1, m2, m3) = (m(j), m(4 + j), m(8 + j), m(12 + j));
                    let (aj, bj) = (&mut a[j * len..][..len], &mut b[j * len..][..len]);
                    for t in 0..len {
                        aj[t] = m0[t] + m1[t] + m2[t];
                        bj[t] = m1[t] - m2[t] - m3[t];
                    }
                }
                for (rows, line) in [(&a, &mut top), (&b, &mut bottom)] {
                    let r = |j: usize| &rows[j * len..][..len];
                    let (r0, r1, r2, r3) = (r(0), r(1), r(2), r(3));
                    for t in 0..len {
                        line[2 * t] = r0[t] + r1[t] + r2[t];
                        line[2 * t + 1] = r1[t] - r2[t] - r3[t];
                    }
                }
                let (y, x) = (2 * segment.row, 2 * segment.col);
                let cols = (2 * len).min(shape.out_w - x);
                for (i, values) in [&*top, &*bottom].into_iter().enumerate() {
                    if y + i >= shape.out_h {
                        continue;
                    }
                    let start = plane + (y + i) * shape.out_w + x;
                    // SAFETY: in bounds (cut at the output's edges); these tiles are this
                    // block's alone.
                    let to = unsafe { std::slice::from_raw_parts_mut(out.0.add(start), cols) };
                    for (to, &value) in to.iter_mut().zip(&values[..cols]) {
                        *to = value + bias;
                    }
                }
            }
        }
    }
}

/// Tiles of one tile row, consecutive in a block.
struct Segment {
    row: usize,
    col: usize,
    len: usize,
    /// Index of the first among the block's tiles.
    offset: usize,
}

/// `G g Gᵀ` of every 3 × 3 filter, as `[16][c_out][c_in]`.
fn transform_weights(shape: &Shape, weights: &[f32]) -> Vec<f32> {
    let (c_in, c_out) = (shape.c_in, shape.c_out);
    let mut u = vec![0.0f32; 16 * c_out * c_in];
    for (filter, g) in weights.chunks_exact(9).enumerate() {
        let g = |i: usize, j: usize| g[3 * i + j];
        // G g: rows g0, (g0 + g1 + g2) / 2, (g0 − g1 + g2) / 2, g2.
        let rows = [
            [0, 1, 2].map(|j| g(0, j)),
            [0, 1, 2].map(|j| 0.5 * (g(0, j) + g(1, j) + g(2, j))),
            [0, 1, 2].map(|j| 0.5 * (g(0, j) - g(1, j) + g(2, j))),
            [0, 1, 2].map(|j| g(2, j)),
        ];
        for (i, r) in rows.iter().enumerate() {
            let cols = [
                r[0],
                0.5 * (r[0] + r[1] + r[2]),
                0.5 * (r[0] - r[1] + r[2]),
                r[2],
            ];
            for (j, value) in cols.into_iter().enumerate() {
                u[(4 * i + j) * c_out * c_in + filter] = value;
            }
        }
    }
    u
}

/// The 16 products `U[k] · V[k]`: `[16][c_out][tiles]`.
fn multiply(shape: &Shape, filters: &[f32], inputs: &[f32], products: &mut [f32], tiles: usize) {
    let (c_in, c_out) = (shape.c_in, shape.c_out);
    for k in 0..16 {
        let dst = &mut products[k * c_out * tiles..(k + 1) * c_out * tiles];
        let lhs = &filters[k * c_out * c_in..(k + 1) * c_out * c_in];
        let rhs = &inputs[k * c_in * tiles..(k + 1) * c_in * tiles];
        // SAFETY: dst is c_out × tiles, lhs c_out × c_in, rhs c_in × tiles, all row-major
        // slices of exactly those lengths.
        unsafe {
            gemm(
                c_out,
                tiles,
                c_in,
                dst.as_mut_ptr(),
                1,
                tiles as isize,
                false,
                lhs.as_ptr(),
                1,
                c_in as isize,
                rhs.as_ptr(),
                1,
                tiles as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                Parallelism::None,
            );
        }
    }
}

/// The output buffer, written by parallel blocks at disjoint tiles.
struct SharedOut(*mut f32);

// SAFETY: blocks write disjoint tiles only (see `Tiles::write_outputs`).
unsafe impl Sync for SharedOut {}
