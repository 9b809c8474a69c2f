//! Attention's softmax on the host, in vector registers.
//!
//! `f32::exp` is one call into libm per score: in TrOCR-small's encoder those calls took
//! 7 % of the time (docs/BENCH.md). Here `exp` is `vector_math`'s polynomial, which the
//! compiler vectorises, sixteen lanes at a time on AVX-512 CPUs.

use super::shifted_products::ROWS;
use super::unfilled;
use super::vector_math::{Fused, MulAdd, Separate, exp_at_most_zero};

/// Attention probabilities by columns: `scores` `[sources, steps]` holds one query per
/// column (the scores transposed, as `keys · queriesᵀ` gives them). Returns each column's
/// `exp(scale · (score − its largest))`, not yet divided by the column's sum, written in the
/// layout `nn::matmul` packs its left operand in (`shifted_products::pack` of the `[steps,
/// sources]` probabilities: per group of 8 queries, per source, the 8 values side by side,
/// which are 8 neighbours in a row of `scores`), and each column's 1 / sum, by which the
/// caller scales the rows of its product with the values. Against a softmax by rows and a
/// packing copy this spares the division pass and the packing's 8-way transposition.
pub(super) fn columns_packed(
    scores: &[f32],
    sources: usize,
    steps: usize,
    scale: f32,
) -> (Vec<f32>, Vec<f32>) {
    #[cfg(target_arch = "x86_64")]
    if super::shifted_products::available() {
        // SAFETY: the CPU has AVX-512F (`shifted_products::available`).
        return unsafe { columns_packed_avx512(scores, sources, steps, scale) };
    }
    columns_packed_portable::<Separate>(scores, sources, steps, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn columns_packed_avx512(
    scores: &[f32],
    sources: usize,
    steps: usize,
    scale: f32,
) -> (Vec<f32>, Vec<f32>) {
    columns_packed_portable::<Fused>(scores, sources, steps, scale)
}

#[inline(always)]
fn columns_packed_portable<M: MulAdd>(
    scores: &[f32],
    sources: usize,
    steps: usize,
    scale: f32,
) -> (Vec<f32>, Vec<f32>) {
    assert_eq!(scores.len(), sources * steps, "scores of another shape");
    if steps == 0 {
        return (Vec::new(), Vec::new());
    }
    let mut largest = vec![f32::NEG_INFINITY; steps];
    for row in scores.chunks_exact(steps) {
        largest
            .iter_mut()
            .zip(row)
            .for_each(|(m, &x)| *m = m.max(x));
    }
    let groups = steps.div_ceil(ROWS);
    let mut packed = unfilled::buffer(groups * ROWS * sources);
    let mut sums = vec![0.0f32; steps];
    // One row of probabilities, zeros past `steps` for the last group's missing queries.
    let mut row_of = vec![0.0f32; groups * ROWS];
    for (s, row) in scores.chunks_exact(steps).enumerate() {
        let columns = row_of
            .iter_mut()
            .zip(row)
            .zip(largest.iter().zip(&mut sums));
        for ((p, &x), (&m, sum)) in columns {
            *p = exp_at_most_zero::<M>((x - m) * scale);
            *sum += *p;
        }
        for (g, values) in row_of.chunks_exact(ROWS).enumerate() {
            let to = &mut packed[(g * sources + s) * ROWS..][..ROWS];
            to.iter_mut().zip(values).for_each(|(to, &v)| {
                to.write(v);
            });
        }
    }
    // SAFETY: every source of every group written in the loop above.
    let packed = unsafe { unfilled::into_values(packed) };
    (packed, sums.into_iter().map(|sum| 1.0 / sum).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// softmax(scale · values) with libm's `exp`.
    fn plain_softmax(values: impl Iterator<Item = f32>, scale: f32) -> Vec<f32> {
        let values: Vec<f32> = values.collect();
        let largest = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = values
            .iter()
            .map(|v| ((v - largest) * scale).exp())
            .collect();
        let total: f32 = e.iter().sum();
        e.iter().map(|v| v / total).collect()
    }

    #[test]
    fn columns_packed_equal_the_plain_softmax_packed() {
        // 3 sources, 11 queries: a last group of 8 with 5 missing queries.
        let (sources, steps, scale) = (3, 11, 0.5);
        let scores: Vec<f32> = (0..sources * steps)
            .map(|i| ((i * 7919) % 23) as f32 - 11.0)
            .collect();
        let (packed, inverse) = columns_packed(&scores, sources, steps, scale);
        assert_eq!(packed.len(), 2 * ROWS * sources);
        for t in 0..2 * ROWS {
            let column = plain_softmax(
                (0..sources).map(|s| scores[s * steps + t.min(steps - 1)]),
                scale,
            );
            for s in 0..sources {
                let ours = packed[((t / ROWS) * sources + s) * ROWS + t % ROWS];
                if t >= steps {
                    assert_eq!(ours, 0.0, "query {t} past the end");
                } else {
                    let p = ours * inverse[t];
                    assert!(
                        (p - column[s]).abs() < 1e-6,
                        "query {t}, source {s}: {p} against {}",
                        column[s]
                    );
                }
            }
        }
    }
}
