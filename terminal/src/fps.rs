//! [`FpsMeter`]: the frame rate the terminal actually sees, measured from `frames` events (the
//! tempo says what the host aims for; this says what arrives).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The window the rate is measured over.
pub const FPS_WINDOW: Duration = Duration::from_secs(2);

/// Counts playhead changes over a sliding window.
#[derive(Debug, Clone, Default)]
pub struct FpsMeter {
    /// When each recent playhead change arrived.
    arrivals: VecDeque<Instant>,
    /// The last frame seen, so a repeated `frames` item (a paused movie) does not count.
    last_frame: Option<u32>,
    /// The first arrival since the meter started (or was reset).
    first_arrival: Option<Instant>,
}

impl FpsMeter {
    /// A meter with nothing measured.
    pub fn new() -> Self {
        Self::default()
    }

    /// A `frames` item arrived showing `frame`.
    pub fn record(&mut self, frame: u32, now: Instant) {
        if self.last_frame == Some(frame) {
            return;
        }
        self.last_frame = Some(frame);
        self.first_arrival.get_or_insert(now);
        self.arrivals.push_back(now);
        self.expire(now);
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&first) = self.arrivals.front() {
            if now.saturating_duration_since(first) > FPS_WINDOW {
                self.arrivals.pop_front();
            } else {
                break;
            }
        }
    }

    /// Frames per second: the playhead changes that arrived in the window ending `now`,
    /// divided by the window (shorter at first, until a whole window has been watched). Bursts
    /// (a busy machine, a coalesced backlog) even out instead of inflating the rate.
    pub fn fps(&self, now: Instant) -> f64 {
        let Some(&watched_since) = self.first_arrival.as_ref() else {
            return 0.0;
        };
        let window = now.saturating_duration_since(watched_since).min(FPS_WINDOW);
        if window < Duration::from_millis(250) {
            return 0.0;
        }
        let count = self
            .arrivals
            .iter()
            .filter(|t| now.saturating_duration_since(**t) < window)
            .count();
        count as f64 / window.as_secs_f64()
    }

    /// Forget everything (after a reconnect).
    pub fn reset(&mut self) {
        self.arrivals.clear();
        self.last_frame = None;
        self.first_arrival = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_arrivals_and_ignores_repeats() {
        let t0 = Instant::now();
        let mut m = FpsMeter::new();
        for i in 0..31u32 {
            let at = t0 + Duration::from_millis(u64::from(i) * 1000 / 30);
            m.record(i + 1, at);
            m.record(i + 1, at); // the same frame again: paused, not a new frame
        }
        let now = t0 + Duration::from_millis(1000);
        let fps = m.fps(now);
        assert!((fps - 30.0).abs() < 0.5, "{fps}");
        assert_eq!(m.fps(now + Duration::from_secs(3)), 0.0, "stalled");
    }
}
