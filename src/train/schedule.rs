//! The learning rate at each step: a short linear warm-up (new output rows and AdamW's
//! fresh moments make the first steps noisy), then a cosine down to a twentieth.

/// Learning rate at `step` (0-based) of `total`, peaking at `peak`.
pub fn learning_rate(peak: f64, step: usize, total: usize) -> f64 {
    let total = total.max(1);
    let warmup = (total / 20).clamp(1, 500);
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let progress = ((step - warmup) as f64 / (total - warmup).max(1) as f64).min(1.0);
    let floor = peak / 20.0;
    floor + (peak - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}

#[cfg(test)]
mod tests {
    use super::learning_rate;

    #[test]
    fn warms_up_peaks_and_decays_to_a_twentieth() {
        let total = 10_000;
        assert!(learning_rate(1e-3, 0, total) < 1e-5);
        assert!((learning_rate(1e-3, 499, total) - 1e-3).abs() < 1e-12);
        assert!(learning_rate(1e-3, 5000, total) < 1e-3);
        assert!((learning_rate(1e-3, total, total) - 5e-5).abs() < 1e-12);
        let mut last = f64::MAX;
        for s in (500..total).step_by(100) {
            let lr = learning_rate(1e-3, s, total);
            assert!(lr <= last);
            last = lr;
        }
    }
}
