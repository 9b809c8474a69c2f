//! Running a recognizer over many lines in batches: lines of similar size go together (less
//! padding), results come back in the callers' order, with a cancel check and a progress
//! report between batches.

use crate::cancel::CancelToken;
use crate::{Error, Result};

/// Runs `run` on the line indices of `order` (the lines sorted as batching wants them),
/// `batch_size` at a time; returns one output per line, in index order. A batch that
/// comes back with another number of outputs than lines is [`Error::ResultCount`] naming
/// `model`, never a result shifted onto the wrong line.
pub fn in_sorted_batches<T: Clone>(
    model: &str,
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
        let outs = run(batch)?;
        check_count(model, batch.len(), outs.len())?;
        for (&i, out) in batch.iter().zip(outs) {
            outputs[i] = Some(out);
        }
        done += batch.len();
        on_line(done);
    }
    let outputs: Vec<T> = outputs.into_iter().flatten().collect();
    // `order` naming an index twice (or missing one) would leave a hole.
    check_count(model, order.len(), outputs.len())?;
    Ok(outputs)
}

/// [`Error::ResultCount`] unless a model gave exactly one result per line.
pub fn check_count(model: &str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::ResultCount {
            model: model.to_string(),
            expected,
            got,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_come_back_in_index_order() {
        let order = [2, 0, 1];
        let out = in_sorted_batches("m", &order, 2, &CancelToken::new(), &mut |_| {}, |b| {
            Ok(b.iter().map(|i| i * 10).collect())
        })
        .unwrap();
        assert_eq!(out, vec![0, 10, 20]);
    }

    #[test]
    fn a_short_batch_is_an_error_naming_the_model() {
        let order = [0, 1, 2, 3];
        let result = in_sorted_batches(
            "tiny-rec",
            &order,
            2,
            &CancelToken::new(),
            &mut |_| {},
            |b| Ok(b.iter().skip(1).copied().collect::<Vec<usize>>()),
        );
        match result {
            Err(Error::ResultCount {
                model,
                expected: 2,
                got: 1,
            }) => assert_eq!(model, "tiny-rec"),
            other => panic!("expected ResultCount, got {other:?}"),
        }
    }
}
