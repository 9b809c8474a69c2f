//! Skips that cannot hide a failure.
//!
//! A test that cannot run here (a model, `../shared`, a GPU adapter or Python is missing)
//! calls [`skip`] instead of printing and passing quietly:
//! - the line goes straight to the process's stderr, past libtest's output capture, so
//!   `cargo test` shows it even when the test passes;
//! - it is appended to `$INKREAD_SKIP_LOG` when set, so a CI script can print one summary
//!   of everything skipped and why after the run;
//! - with `INKREAD_REQUIRE_ALL=1` (set by `.ci/run`) the skip is a failure: the test panics
//!   with the reason.
//!
//! Shared by the integration tests (`tests/support/mod.rs`) and the library's unit tests
//! (`src/lib.rs` includes this file under `cfg(test)`).

use std::fmt::Display;
use std::io::Write;

/// The switch under which no test may skip.
pub const REQUIRE_ALL: &str = "INKREAD_REQUIRE_ALL";
/// A file that collects one line per skip, for a summary after the run.
pub const SKIP_LOG: &str = "INKREAD_SKIP_LOG";

/// True when `INKREAD_REQUIRE_ALL` is set to anything but empty or `0`.
pub fn require_all() -> bool {
    std::env::var_os(REQUIRE_ALL).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Records that the calling test did not check what it is for, and why; panics (fails the
/// test) under `INKREAD_REQUIRE_ALL=1`.
pub fn skip(reason: impl Display) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("(unnamed test)");
    let line = format!("SKIPPED {test}: {reason}");
    // Not eprintln!: libtest captures that and shows it only for failing tests.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
    if let Some(log) = std::env::var_os(SKIP_LOG) {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = appended {
            let _ = writeln!(std::io::stderr().lock(), "cannot append to {SKIP_LOG}: {e}");
        }
    }
    if require_all() {
        panic!("{line}\n({REQUIRE_ALL} is set: a test that cannot run is a failure)");
    }
}
