//! Driving the app in egui_kittest: step frames until something holds, or fail saying
//! what was awaited and the app's error.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use inkread::app::InkreadApp;

/// How long [`wait_for`] waits: only a failing test ever waits this long.
const PATIENCE_SECONDS: u64 = 30;

/// Steps frames until `done` holds, failing after [`PATIENCE_SECONDS`].
pub fn wait_for(
    harness: &mut Harness<'static, InkreadApp>,
    what: &str,
    done: impl Fn(&InkreadApp) -> bool,
) {
    wait_up_to(harness, what, PATIENCE_SECONDS, done);
}

/// Steps frames until `done` holds, failing after `seconds`.
pub fn wait_up_to(
    harness: &mut Harness<'static, InkreadApp>,
    what: &str,
    seconds: u64,
    done: impl Fn(&InkreadApp) -> bool,
) {
    let started = Instant::now();
    while !done(harness.state()) {
        assert!(
            started.elapsed() < Duration::from_secs(seconds),
            "timed out waiting for {what}; error: {:?}",
            harness.state().error()
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.step();
}
