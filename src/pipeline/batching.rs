//! Running a recognizer over many lines in batches: lines of similar size go together (less
//! padding), results come back in the callers' order, with a cancel check and a progress
//! report between batches.

use crate::Result;
use crate::cancel::CancelToken;

/// Runs `run` on the line indices of `order` (the lines sorted as batching wants them),
/// `batch_size` at a time; returns one output per line, in index order.
pub fn in_sorted_batches<T: Clone>(
    order: &[usize],
    batch_size: usize,
    cancel: &CancelToken,
    on_line: &mut dyn FnMut(usize),
    mut run: impl FnMut(&[usize]) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    let mut outputs: Vec<Option<T>> = vec![None; order.len()];
    let mut done = 0;
    for batch in order.chunks(batch_size.max(1)) {
        cancel.check()?;
        for (&i, out) in batch.iter().zip(run(batch)?) {
            outputs[i] = Some(out);
        }
        done += batch.len();
        on_line(done);
    }
    Ok(outputs.into_iter().flatten().collect())
}
