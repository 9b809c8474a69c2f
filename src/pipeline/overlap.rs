//! Two stages of a job over many pages run at once: the next page decoded and its lines
//! found on a second thread while this page's lines are read. Reading a box of letters,
//! each page's serial parts (decoding, grouping, cropping, the recognizer's step-by-step
//! LSTMs and CTC decoding) then overlap with the other stage's parallel ones instead of
//! leaving cores idle. Results keep the pages' order.

use std::sync::mpsc::sync_channel;

/// Runs `produce` on a second thread and `consume` on this one, handing each item over as
/// soon as it is made; at most one item waits between them, so memory holds about two
/// pages at a time. `produce` gets a `send` that says `false` once the consumer has
/// stopped (an error): it should stop then too. The first error of either side is returned;
/// a panic in `produce` is raised again here.
pub fn overlapped<T, E>(
    produce: impl FnOnce(&mut dyn FnMut(T) -> bool) -> Result<(), E> + Send,
    mut consume: impl FnMut(T) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
    E: Send,
{
    std::thread::scope(|scope| {
        let (sender, receiver) = sync_channel::<T>(1);
        let producer = scope.spawn(move || {
            let mut send = |item: T| sender.send(item).is_ok();
            produce(&mut send)
        });
        let consumed = receiver.iter().try_for_each(&mut consume);
        // Dropping the receiver makes the producer's next `send` say false.
        drop(receiver);
        let produced = match producer.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        consumed.and(produced)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    #[test]
    fn items_arrive_in_order_and_the_next_is_made_while_one_is_consumed() {
        let made = AtomicUsize::new(0);
        let mut seen = Vec::new();
        let mut overlapping = false;
        let result: Result<(), String> = overlapped(
            |send| {
                for i in 0..5 {
                    made.fetch_add(1, Ordering::SeqCst);
                    if !send(i) {
                        break;
                    }
                }
                Ok(())
            },
            |i| {
                if i == 0 {
                    // Item 1 is made while item 0 is still being consumed (a generous
                    // limit: done one after the other, it would never come).
                    let limit = Instant::now() + Duration::from_secs(20);
                    while made.load(Ordering::SeqCst) < 2 && Instant::now() < limit {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    overlapping = made.load(Ordering::SeqCst) >= 2;
                }
                seen.push(i);
                Ok(())
            },
        );
        assert_eq!(result, Ok(()));
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        assert!(overlapping, "item 1 was not made while item 0 was consumed");
    }

    #[test]
    fn a_consumer_error_stops_the_producer_and_is_returned() {
        let mut made = 0;
        let result: Result<(), String> = overlapped(
            |send| {
                for i in 0..1000 {
                    made = i;
                    if !send(i) {
                        return Ok(());
                    }
                }
                Err("the producer was not stopped".into())
            },
            |i| {
                if i == 3 {
                    Err(format!("page {i}"))
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(result, Err("page 3".into()));
        assert!(made < 10, "made {made}");
    }

    #[test]
    fn a_producer_error_is_returned_after_what_it_made() {
        let mut seen = Vec::new();
        let result: Result<(), String> = overlapped(
            |send| {
                send(1);
                send(2);
                Err("cannot decode page 3".into())
            },
            |i| {
                seen.push(i);
                Ok(())
            },
        );
        assert_eq!(result, Err("cannot decode page 3".into()));
        assert_eq!(seen, vec![1, 2]);
    }
}
