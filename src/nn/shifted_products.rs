//! Sums of products over shifted rows, accumulated in AVX-512 registers.
//!
//! A stride-1 convolution computed over rows of the padded width (`nn::conv_gemm`) is one
//! sum per output channel `r` and position `p`: `C[r, p] = Σₖ A[r, k] · X[offset(k) + p]`,
//! where `k` runs over input channels and kernel taps, `A` is the weights and `offset(k)`
//! is the channel's plane plus the tap's shift. Here 8 rows of `A` by 48 positions
//! accumulate in 24 AVX-512 registers over the whole of `k`, so each output is written
//! once: no im2col buffer, and no pass over the outputs per tap as with one `gemm` call per
//! tap. `gemm`, the crate Burn Flex uses, runs AVX2 kernels on x86 (its AVX-512 ones gave
//! nothing measurable here, docs/BENCH.md), which is half of what this machine's cores can
//! issue.
//!
//! Only on x86-64 CPUs with AVX-512F ([`available`]); elsewhere the callers keep `gemm`.

use std::mem::MaybeUninit;
use std::ops::Range;

use rayon::prelude::*;

/// Rows of `A` (output channels) in one tile, and so in one group of the packed weights.
pub(super) const ROWS: usize = 8;
/// Positions in one tile: three registers of 16 lanes.
const COLUMNS: usize = 48;

/// Whether this CPU runs the kernel; decided once per process.
pub(super) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVAILABLE.get_or_init(|| std::arch::is_x86_feature_detected!("avx512f"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `A` (`rows × depth`, row-major) regrouped for the kernel: for each group of [`ROWS`]
/// rows, `depth` runs of [`ROWS`] values (column `k` of the group's rows), the rows past
/// the last zero.
pub(super) fn pack(a: &[f32], rows: usize, depth: usize) -> Vec<f32> {
    let groups = rows.div_ceil(ROWS);
    let mut packed = vec![0.0f32; groups * depth * ROWS];
    let a = &a[..rows * depth];
    let groups_of_a = packed
        .par_chunks_exact_mut(depth * ROWS)
        .zip(a.par_chunks(depth * ROWS));
    groups_of_a.for_each(|(group, values)| {
        // Column by column, eight rows at a time: sequential writes, eight sequential reads.
        let lines: Vec<&[f32]> = values.chunks_exact(depth).collect();
        for (k, column) in group.chunks_exact_mut(ROWS).enumerate() {
            for (to, line) in column.iter_mut().zip(&lines) {
                *to = line[k];
            }
        }
    });
    packed
}

/// Asks the CPU to bring the first 48 values from `values` into its first-level cache: a
/// hint, for a row that will be read shortly.
pub(super) fn prefetch_row(values: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    kernel::prefetch_row(values.as_ptr());
}

/// The operands of one sum: packed `A`, `X` and where each `k` reads it.
pub(super) struct Operands<'a> {
    /// From [`pack`].
    pub packed: &'a [f32],
    /// Where column `k` of `A` meets `X`: `X[offsets[k] + p]` for position `p`.
    pub offsets: &'a [usize],
    pub x: &'a [f32],
}

/// `out[g·ROWS + r][p] = Σₖ A[(groups.start + g)·ROWS + r, k] · X[offsets[k] + p]` for the
/// positions `p < columns`, rows `ldc` apart in `out`: every row of every group in `groups`
/// is written, those past `A`'s last row with zeros. `out` need not be initialised
/// (`nn::unfilled`): those values are written, no other.
///
/// # Panics
/// When a read or a write would leave its slice, or [`available`] is false.
pub(super) fn products(
    operands: &Operands,
    groups: Range<usize>,
    columns: usize,
    out: &mut [MaybeUninit<f32>],
    ldc: usize,
) {
    sums::<false>(operands, groups, columns, out, ldc);
}

/// [`products`] added to the values already in `out`: a sum over `k` taken in parts (a
/// decoder step's product split by depth, `nn::matmul`).
///
/// # Panics
/// As [`products`].
pub(super) fn add_products(
    operands: &Operands,
    groups: Range<usize>,
    columns: usize,
    out: &mut [f32],
    ldc: usize,
) {
    // SAFETY: `f32` and `MaybeUninit<f32>` share their layout, and `sums::<true>` writes
    // only initialised values.
    let out = unsafe { &mut *(out as *mut [f32] as *mut [MaybeUninit<f32>]) };
    sums::<true>(operands, groups, columns, out, ldc);
}

/// [`products`], or [`add_products`] where `ADD` (`out`'s values then initialised).
fn sums<const ADD: bool>(
    operands: &Operands,
    groups: Range<usize>,
    columns: usize,
    out: &mut [MaybeUninit<f32>],
    ldc: usize,
) {
    let packed_group = operands.offsets.len() * ROWS * size_of::<f32>();
    let per_chunk = PACKED_BYTES_IN_CACHE / packed_group.max(1);
    sums_in_chunks::<ADD>(operands, groups, columns, out, ldc, per_chunk.max(1));
}

/// [`sums`], `per_chunk` groups sharing each tile of X.
fn sums_in_chunks<const ADD: bool>(
    operands: &Operands,
    groups: Range<usize>,
    columns: usize,
    out: &mut [MaybeUninit<f32>],
    ldc: usize,
    per_chunk: usize,
) {
    let Operands { packed, offsets, x } = operands;
    let depth = offsets.len();
    assert!(columns <= ldc && packed.len() >= groups.end * depth * ROWS);
    assert!(out.len() >= (groups.len() * ROWS).saturating_sub(1) * ldc + columns);
    let furthest = offsets.iter().max().copied().unwrap_or(0);
    assert!(
        columns == 0 || furthest + columns <= x.len(),
        "reads past X"
    );
    assert!(available(), "shifted products need AVX-512F");
    // Groups a few at a time, each tile of X taken by all of them before the next: X is
    // then read from memory once per few groups rather than once per group (a 3 × 3 layer
    // of 64 channels read its input eight times), while the groups' packed weights stay in
    // the second-level cache across the tiles.
    let chunks = (groups.start..groups.end).step_by(per_chunk);
    for chunk in chunks.map(|first| first..(first + per_chunk).min(groups.end)) {
        for first in (0..columns).step_by(COLUMNS) {
            tiles_of::<ADD>(operands, &groups, chunk.clone(), first..columns, out, ldc);
        }
    }
}

/// The packed weights of the groups that share each tile of X: about half the
/// second-level cache of the Xeons this was measured on (2 MiB), the rest for X.
const PACKED_BYTES_IN_CACHE: usize = 1 << 20;

/// The tile at `columns.start` (up to [`COLUMNS`] wide) for each group of `chunk`; `out`'s
/// rows start at `groups.start`.
fn tiles_of<const ADD: bool>(
    operands: &Operands,
    groups: &Range<usize>,
    chunk: Range<usize>,
    columns: Range<usize>,
    out: &mut [MaybeUninit<f32>],
    ldc: usize,
) {
    let Operands { packed, offsets, x } = operands;
    let depth = offsets.len();
    let first = columns.start;
    let width = COLUMNS.min(columns.len());
    for group in chunk {
        let g = group - groups.start;
        let a = &packed[group * depth * ROWS..][..depth * ROWS];
        // SAFETY: AVX-512F is present (asserted by `sums`); for every k, X is read at
        // offsets[k] + first + [0, width), within `x` since offsets[k] + columns.end ≤
        // x.len(); `out` is written at rows g·ROWS.. g·ROWS + 7, positions first..
        // first + width, within `out` by the length check above (and read there
        // first where ADD, initialised then by the callers' contract).
        #[cfg(target_arch = "x86_64")]
        unsafe {
            kernel::tile::<ADD>(
                a.as_ptr(),
                offsets,
                x.as_ptr().add(first),
                out.as_mut_ptr().cast::<f32>().add(g * ROWS * ldc + first),
                ldc,
                width,
            );
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod kernel {
    use std::arch::x86_64::*;

    use super::ROWS;

    /// Lanes per register; a row of the tile is three registers.
    const LANES: usize = 16;
    /// How many steps of the sum ahead the rows of X are fetched into cache.
    const PREFETCH_AHEAD: usize = 18;

    /// One tile: `ROWS` rows by `width` (≤ 48) positions.
    ///
    /// Written out register by register rather than as loops over arrays: at opt-level 1
    /// (the dev profile's level when it was written) loops are not unrolled, and an
    /// accumulator array left in memory ran at under a third of the speed (docs/BENCH.md);
    /// written out, it does not depend on the optimiser.
    ///
    /// Where `ADD`, the sums start from the values in `c`.
    ///
    /// # Safety
    /// AVX-512F is present; `a` holds `offsets.len() × ROWS` values; `x + offsets[k] + p`
    /// is readable for every `k` and `p < width`; `c + r·ldc + p` is writable for `r <
    /// ROWS`, `p < width`, and readable (initialised) there too where `ADD`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn tile<const ADD: bool>(
        a: *const f32,
        offsets: &[usize],
        x: *const f32,
        c: *mut f32,
        ldc: usize,
        width: usize,
    ) {
        let (m0, m1, m2) = (
            lane_mask(width, 0),
            lane_mask(width, 1),
            lane_mask(width, 2),
        );
        let masks = [m0, m1, m2];
        let start = |r: usize, j: usize| {
            if ADD {
                // SAFETY: the caller's bounds; masked-off lanes are not read.
                unsafe { _mm512_maskz_loadu_ps(masks[j], c.add(r * ldc + j * LANES)) }
            } else {
                _mm512_setzero_ps()
            }
        };
        let (mut s00, mut s01, mut s02) = (start(0, 0), start(0, 1), start(0, 2));
        let (mut s10, mut s11, mut s12) = (start(1, 0), start(1, 1), start(1, 2));
        let (mut s20, mut s21, mut s22) = (start(2, 0), start(2, 1), start(2, 2));
        let (mut s30, mut s31, mut s32) = (start(3, 0), start(3, 1), start(3, 2));
        let (mut s40, mut s41, mut s42) = (start(4, 0), start(4, 1), start(4, 2));
        let (mut s50, mut s51, mut s52) = (start(5, 0), start(5, 1), start(5, 2));
        let (mut s60, mut s61, mut s62) = (start(6, 0), start(6, 1), start(6, 2));
        let (mut s70, mut s71, mut s72) = (start(7, 0), start(7, 1), start(7, 2));
        let mut column = a;
        for (k, &offset) in offsets.iter().enumerate() {
            // SAFETY: the caller's bounds; masked-off lanes are not read.
            unsafe {
                let row = x.add(offset);
                prefetch_row(ahead(offsets, k, x));
                let b0 = _mm512_maskz_loadu_ps(m0, row);
                let b1 = _mm512_maskz_loadu_ps(m1, row.add(LANES));
                let b2 = _mm512_maskz_loadu_ps(m2, row.add(2 * LANES));
                macro_rules! row {
                    ($r:expr, $s0:ident, $s1:ident, $s2:ident) => {
                        let w = _mm512_set1_ps(*column.add($r));
                        $s0 = _mm512_fmadd_ps(w, b0, $s0);
                        $s1 = _mm512_fmadd_ps(w, b1, $s1);
                        $s2 = _mm512_fmadd_ps(w, b2, $s2);
                    };
                }
                row!(0, s00, s01, s02);
                row!(1, s10, s11, s12);
                row!(2, s20, s21, s22);
                row!(3, s30, s31, s32);
                row!(4, s40, s41, s42);
                row!(5, s50, s51, s52);
                row!(6, s60, s61, s62);
                row!(7, s70, s71, s72);
                column = column.add(ROWS);
            }
        }
        let sums = [
            [s00, s01, s02],
            [s10, s11, s12],
            [s20, s21, s22],
            [s30, s31, s32],
            [s40, s41, s42],
            [s50, s51, s52],
            [s60, s61, s62],
            [s70, s71, s72],
        ];
        for (r, [s0, s1, s2]) in sums.into_iter().enumerate() {
            // SAFETY: the caller's bounds; masked-off lanes are not written.
            unsafe {
                let to = c.add(r * ldc);
                _mm512_mask_storeu_ps(to, m0, s0);
                _mm512_mask_storeu_ps(to.add(LANES), m1, s1);
                _mm512_mask_storeu_ps(to.add(2 * LANES), m2, s2);
            }
        }
    }

    /// Where step `k` of a tile at `x` fetches ahead: the row [`PREFETCH_AHEAD`] steps on,
    /// and past the last step the first rows of the next tile, `x` + 48 where the caller
    /// reads X in place (a panel's next row, already cached, where it copied a tile into
    /// one): without it, a sum over few rows (a decoder step's product, split by depth
    /// into blocks of 32) met the first rows of every tile uncached.
    #[inline(always)]
    fn ahead(offsets: &[usize], k: usize, x: *const f32) -> *const f32 {
        let step = k + PREFETCH_AHEAD;
        match offsets.get(step) {
            Some(&offset) => x.wrapping_add(offset),
            None => match offsets.get(step - offsets.len()) {
                Some(&offset) => x.wrapping_add(3 * LANES + offset),
                None => x,
            },
        }
    }

    /// Asks for the cache lines of the 48 values from `row` (a hint: never faults).
    #[inline(always)]
    pub(super) fn prefetch_row(row: *const f32) {
        let row = row as *const i8;
        // 48 values span three or four lines; the last one from its final value.
        for offset in [0, 64, 128, 188] {
            // SAFETY: SSE is part of x86-64; a prefetch reads nothing and never faults.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(offset)) };
        }
    }

    /// The lanes of register `j` that fall within `width` positions.
    fn lane_mask(width: usize, j: usize) -> __mmask16 {
        let lanes = width.saturating_sub(j * LANES).min(LANES);
        ((1u32 << lanes) - 1) as __mmask16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sums against a plain loop, with rows past a group's end, a last tile narrower
    /// than 48 and offsets that jump back and forth.
    #[test]
    fn tiles_sum_shifted_rows() {
        if !available() {
            crate::test_skip::skip("this CPU has no AVX-512F: the kernel cannot run");
            return;
        }
        let (rows, depth, columns, ldc) = (13, 7, 101, 105);
        let a: Vec<f32> = (0..rows * depth)
            .map(|i| ((i * 37) % 11) as f32 - 5.0)
            .collect();
        let x: Vec<f32> = (0..400).map(|i| ((i * 13) % 17) as f32 * 0.25).collect();
        let offsets = [0, 250, 3, 17, 299, 120, 1];
        let packed = pack(&a, rows, depth);
        let operands = Operands {
            packed: &packed,
            offsets: &offsets,
            x: &x,
        };
        let mut out = vec![MaybeUninit::new(f32::NAN); 2 * ROWS * ldc];
        products(&operands, 0..2, columns, &mut out, ldc);
        // SAFETY: every value was initialised (NaN) before the kernel wrote some.
        let mut out = unsafe { crate::nn::unfilled::into_values(out) };
        let written = out.clone();
        add_products(&operands, 0..2, columns, &mut out, ldc);
        for (added, written) in out.iter().zip(&written).filter(|(_, w)| !w.is_nan()) {
            assert_eq!(
                *added,
                2.0 * written,
                "add_products added the sums once more"
            );
        }
        let out = written;
        for r in 0..2 * ROWS {
            for p in 0..columns {
                let want: f32 = if r < rows {
                    (0..depth)
                        .map(|k| a[r * depth + k] * x[offsets[k] + p])
                        .sum()
                } else {
                    0.0
                };
                assert_eq!(out[r * ldc + p], want, "row {r}, position {p}");
            }
            assert!(
                out[r * ldc + columns].is_nan(),
                "row {r} written past its end"
            );
        }
    }

    /// Groups taken one, two or all at a time over each tile give the same sums.
    #[test]
    fn groups_in_chunks_give_the_same_sums() {
        if !available() {
            crate::test_skip::skip("this CPU has no AVX-512F: the kernel cannot run");
            return;
        }
        let (rows, depth, columns) = (29, 5, 130);
        let a: Vec<f32> = (0..rows * depth).map(|i| ((i * 7) % 13) as f32).collect();
        let x: Vec<f32> = (0..400).map(|i| ((i * 5) % 11) as f32).collect();
        let packed = pack(&a, rows, depth);
        let offsets = [3, 0, 200, 41, 17];
        let operands = Operands {
            packed: &packed,
            offsets: &offsets,
            x: &x,
        };
        let groups = rows.div_ceil(ROWS);
        let sums = |per_chunk: usize| -> Vec<f32> {
            let mut out = crate::nn::unfilled::buffer((groups - 1) * ROWS * columns);
            sums_in_chunks::<false>(&operands, 1..groups, columns, &mut out, columns, per_chunk);
            // SAFETY: the groups from the second on wrote every row and position of `out`.
            unsafe { crate::nn::unfilled::into_values(out) }
        };
        let all = sums(groups);
        assert_eq!(sums(1), all);
        assert_eq!(sums(2), all);
        // The second group's first row, first position, by hand.
        let want: f32 = (0..depth)
            .map(|k| a[ROWS * depth + k] * x[offsets[k]])
            .sum();
        assert_eq!(all[0], want);
    }

    #[test]
    #[should_panic(expected = "reads past X")]
    fn reads_past_x_are_refused() {
        let packed = pack(&[1.0; 8], 8, 1);
        let operands = Operands {
            packed: &packed,
            offsets: &[10],
            x: &[0.0; 20],
        };
        products(
            &operands,
            0..1,
            11,
            &mut crate::nn::unfilled::buffer(8 * 11),
            11,
        );
    }
}
