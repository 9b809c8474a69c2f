//! The time each step of a forward pass takes, for the layer-by-layer measurements in
//! `tests/` (docs/BENCH.md). Flex runs each operator when it is called, so on the CPU a
//! step's time is its own. Untimed, a step costs one branch.

use std::cell::RefCell;
use std::time::{Duration, Instant};

/// What receives each step's label and time.
pub type Clock<'a> = &'a mut dyn FnMut(&str, Duration);

/// Where a forward pass reports its steps: `(label, time)` for each, or nowhere.
pub struct Steps<'a> {
    clock: RefCell<Option<Clock<'a>>>,
}

impl<'a> Steps<'a> {
    /// Steps that are run, not timed.
    pub fn untimed() -> Self {
        Self {
            clock: RefCell::new(None),
        }
    }

    /// Steps whose times go to `clock`.
    pub fn timed(clock: Clock<'a>) -> Self {
        Self {
            clock: RefCell::new(Some(clock)),
        }
    }

    /// Runs `step`, reporting its time under `label` where timed.
    pub fn run<T>(&self, label: &str, step: impl FnOnce() -> T) -> T {
        if self.clock.borrow().is_none() {
            return step();
        }
        let started = Instant::now();
        let out = step();
        if let Some(clock) = self.clock.borrow_mut().as_mut() {
            clock(label, started.elapsed());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_steps_are_reported_in_order_and_untimed_ones_run() {
        let mut seen = Vec::new();
        {
            let mut clock = |label: &str, _: Duration| seen.push(label.to_string());
            let steps = Steps::timed(&mut clock);
            assert_eq!(steps.run("first", || 1) + steps.run("second", || 2), 3);
        }
        assert_eq!(seen, ["first", "second"]);
        assert_eq!(Steps::untimed().run("ignored", || 7), 7);
    }
}
