//! The clock every timestamp in the bench comes from: `CLOCK_MONOTONIC` in nanoseconds.
//!
//! It is one clock for every process on the machine, so a host child can stamp a message and
//! the bench can subtract on receipt; Node's `process.hrtime` reads the same clock, so the
//! Node baseline's stamps compare too.

/// Nanoseconds on `CLOCK_MONOTONIC`.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    debug_assert_eq!(rc, 0);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Microseconds from a stamp taken with [`now_ns`] until now (0 if the stamp is in the future).
pub fn micros_since(stamp_ns: u64) -> u64 {
    now_ns().saturating_sub(stamp_ns) / 1_000
}

/// Where the publishing side puts its stamp: a `movie_props` item `bench_t` whose value is
/// [`now_ns`] at the moment the tick was handed to the publisher.
pub const STAMP_PROP: &str = "bench_t";

/// The prefix of every `movie_props` event, so a client looks for a stamp in those only.
const MOVIE_PROPS_EVENT: &[u8] = br#"{"type":"event","stream":"movie_props""#;

/// The stamp an event carries, if it is a `movie_props` event with a `bench_t` item.
pub fn stamp_of(message: &[u8]) -> Option<u64> {
    if !message.starts_with(MOVIE_PROPS_EVENT) {
        return None;
    }
    const NEEDLE: &[u8] = br#""bench_t","value":"#;
    let at = message.windows(NEEDLE.len()).position(|w| w == NEEDLE)? + NEEDLE.len();
    let digits = &message[at..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_found_in_movie_props_events_only() {
        let m = br#"{"type":"event","stream":"movie_props","seq":3,"frame":1,"items":[{"prop":"x","value":1},{"prop":"bench_t","value":123456789}]}"#;
        assert_eq!(stamp_of(m), Some(123_456_789));
        let s = br#"{"type":"event","stream":"sprites","seq":3,"frame":1,"items":[{"prop":"bench_t","value":1}]}"#;
        assert_eq!(stamp_of(s), None);
        assert!(now_ns() > 0);
    }
}
