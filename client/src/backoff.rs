//! Exponential backoff between reconnect attempts (protocol §13: 0.5 s doubling to 30 s).

use std::time::Duration;

/// How the client reconnects after losing a connection.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    /// Reconnect at all. Off: a lost connection closes the client.
    pub enabled: bool,
    /// The first delay.
    pub initial_delay: Duration,
    /// The delay never exceeds this.
    pub max_delay: Duration,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub max_attempts: Option<u32>,
    /// Spread delays by ±20 % so that many clients of one restarted host do not retry in step.
    pub jitter: bool,
    /// Also retry when the very first connection fails (otherwise [`crate::Client::connect`]
    /// returns the error, which is what a CLI wants).
    pub retry_first_connect: bool,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_attempts: None,
            jitter: true,
            retry_first_connect: false,
        }
    }
}

/// The delays of one run of attempts; [`Backoff::reset`] after a connection succeeds.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: ReconnectPolicy,
    /// Attempts handed out since the last reset.
    attempts: u32,
    /// The un-jittered delay the next attempt waits.
    next: Duration,
}

impl Backoff {
    /// A fresh backoff following `policy`.
    pub fn new(policy: ReconnectPolicy) -> Self {
        let next = policy.initial_delay;
        Self {
            policy,
            attempts: 0,
            next,
        }
    }

    /// Attempts handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The delay before the next attempt, or `None` when the policy says to give up.
    pub fn next_delay(&mut self) -> Option<Duration> {
        if !self.policy.enabled {
            return None;
        }
        if let Some(max) = self.policy.max_attempts
            && self.attempts >= max
        {
            return None;
        }
        self.attempts += 1;
        let base = self.next.min(self.policy.max_delay);
        self.next = base.saturating_mul(2).min(self.policy.max_delay);
        Some(if self.policy.jitter {
            base.mul_f64(rand::random_range(0.8..=1.2))
                .min(self.policy.max_delay)
        } else {
            base
        })
    }

    /// Back to the first delay (after a successful connection).
    pub fn reset(&mut self) {
        self.attempts = 0;
        self.next = self.policy.initial_delay;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact() -> ReconnectPolicy {
        ReconnectPolicy {
            jitter: false,
            ..ReconnectPolicy::default()
        }
    }

    #[test]
    fn doubles_from_half_a_second_to_thirty_seconds() {
        let mut b = Backoff::new(exact());
        let delays: Vec<u64> = (0..10)
            .map(|_| b.next_delay().unwrap().as_millis() as u64)
            .collect();
        assert_eq!(
            delays,
            [
                500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000
            ]
        );
        assert_eq!(b.attempts(), 10);
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::new(exact());
        b.next_delay();
        b.next_delay();
        b.reset();
        assert_eq!(b.next_delay(), Some(Duration::from_millis(500)));
        assert_eq!(b.attempts(), 1);
    }

    #[test]
    fn gives_up_after_max_attempts_and_when_disabled() {
        let mut b = Backoff::new(ReconnectPolicy {
            max_attempts: Some(2),
            ..exact()
        });
        assert!(b.next_delay().is_some());
        assert!(b.next_delay().is_some());
        assert_eq!(b.next_delay(), None);
        let mut off = Backoff::new(ReconnectPolicy {
            enabled: false,
            ..exact()
        });
        assert_eq!(off.next_delay(), None);
    }

    #[test]
    fn jitter_stays_within_twenty_percent_and_the_cap() {
        let mut b = Backoff::new(ReconnectPolicy::default());
        for expected in [500u64, 1000, 2000, 4000, 8000, 16000, 30000, 30000] {
            let d = b.next_delay().unwrap().as_millis() as u64;
            assert!(d >= expected * 8 / 10, "{d} < 80% of {expected}");
            assert!(
                d <= (expected * 12 / 10).min(30000),
                "{d} > 120% of {expected}"
            );
        }
    }
}
