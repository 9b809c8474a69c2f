//! A cancellation flag shared between whoever starts a job and the code doing it.

use std::backtrace::Backtrace;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Cheap to clone; every clone sees the same flag.
#[derive(Clone, Debug, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
    /// Only in measurements ([`CancelToken::probed`]).
    probe: Option<Arc<Mutex<GapProbe>>>,
}

/// The longest time between two checks of a token, and the call stack of the check that
/// ended it: how long a Cancel can wait, found without having to land a cancel there.
#[derive(Debug)]
pub struct GapProbe {
    last: Instant,
    pub longest: Duration,
    pub ended_at: Option<Backtrace>,
}

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    /// A token that also records the longest stretch between two checks (for benchmarks:
    /// a backtrace is captured each time the record grows).
    pub fn probed() -> Self {
        let probe = GapProbe {
            last: Instant::now(),
            longest: Duration::ZERO,
            ended_at: None,
        };
        Self {
            flag: Arc::default(),
            probe: Some(Arc::new(Mutex::new(probe))),
        }
    }

    /// What the probe of a [`CancelToken::probed`] token found: the longest gap and where
    /// it ended. `None` for a token without a probe.
    pub fn longest_gap(&self) -> Option<(Duration, String)> {
        let probe = self.probe.as_ref()?.lock().ok()?;
        let place = probe.ended_at.as_ref().map(ToString::to_string);
        Some((probe.longest, place.unwrap_or_default()))
    }

    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Returns `Err(Error::Cancelled)` once cancelled, so long jobs can use `?` between steps.
    pub fn check(&self) -> crate::Result<()> {
        if let Some(probe) = &self.probe
            && let Ok(mut p) = probe.lock()
        {
            let now = Instant::now();
            let gap = now.duration_since(p.last);
            if gap > p.longest {
                p.longest = gap;
                p.ended_at = Some(Backtrace::force_capture());
            }
            // The capture itself is not part of the job's gap.
            p.last = Instant::now();
        }
        if self.is_cancelled() {
            Err(crate::Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_finds_the_longest_gap_between_checks() {
        let token = CancelToken::probed();
        token.check().unwrap();
        std::thread::sleep(Duration::from_millis(30));
        token.check().unwrap();
        token.check().unwrap();
        let (gap, place) = token.longest_gap().unwrap();
        assert!(gap >= Duration::from_millis(30), "{gap:?}");
        assert!(!place.is_empty());
        assert!(CancelToken::new().longest_gap().is_none());
    }
}
