//! [`SeqTracker`]: per-stream sequence bookkeeping (protocol §7.4, §9), so that an event already
//! included in a snapshot is not applied twice and a hole that no `gap` announced is noticed.

use std::collections::BTreeMap;

use stagelink_contracts::{STREAM_COUNT, StreamName};

/// What to do with an event, given the seqs seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqVerdict {
    /// Apply it.
    Fresh,
    /// Its effect is already in the state (a snapshot or an earlier event included it): skip it.
    Stale,
    /// Seqs between the last one seen and this event's are missing and no `gap` said so: apply
    /// it, but the state is no longer exact until the next snapshot.
    Hole {
        /// The seq that should have come next.
        expected: u64,
        /// The oldest seq this event stands for.
        got: u64,
    },
}

/// The last seq seen per stream; `None` where nothing is known (no snapshot or event yet).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqTracker {
    last: [Option<u64>; STREAM_COUNT],
}

impl SeqTracker {
    /// Knows nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last seq seen on `stream`.
    pub fn last(&self, stream: StreamName) -> Option<u64> {
        self.last[stream.index()]
    }

    /// Judges an event and, unless it is stale, records its seq.
    pub fn accept(&mut self, stream: StreamName, seq: u64, first_seq: Option<u64>) -> SeqVerdict {
        let slot = &mut self.last[stream.index()];
        let verdict = match *slot {
            Some(last) if seq <= last => return SeqVerdict::Stale,
            Some(last) if first_seq.unwrap_or(seq) > last + 1 => SeqVerdict::Hole {
                expected: last + 1,
                got: first_seq.unwrap_or(seq),
            },
            _ => SeqVerdict::Fresh,
        };
        *slot = Some(seq);
        verdict
    }

    /// A snapshot says where each stream stands; streams it does not name become unknown.
    pub fn reset_to(&mut self, seqs: &BTreeMap<String, u64>) {
        self.last = [None; STREAM_COUNT];
        for (name, seq) in seqs {
            if let Some(stream) = StreamName::parse(name) {
                self.last[stream.index()] = Some(*seq);
            }
        }
    }

    /// A `gap` reported `..=to_seq` as dropped: the next event continues after it.
    pub fn skip_to(&mut self, stream: StreamName, to_seq: u64) {
        let slot = &mut self.last[stream.index()];
        *slot = Some(slot.map_or(to_seq, |l| l.max(to_seq)));
    }

    /// Forget one stream (it was unsubscribed, or subscribed again without a snapshot).
    pub fn forget(&mut self, stream: StreamName) {
        self.last[stream.index()] = None;
    }

    /// Forget everything (a new host run restarts every seq at 1).
    pub fn clear(&mut self) {
        self.last = [None; STREAM_COUNT];
    }

    /// The known seqs, as a snapshot's `seqs`.
    pub fn to_map(&self) -> BTreeMap<String, u64> {
        StreamName::ALL
            .iter()
            .filter_map(|s| self.last(*s).map(|seq| (s.as_str().to_owned(), seq)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_then_live_then_merged_then_hole() {
        let mut t = SeqTracker::new();
        assert_eq!(t.accept(StreamName::Sprites, 5, None), SeqVerdict::Fresh);
        t.reset_to(&[("sprites".to_string(), 10)].into_iter().collect());
        assert_eq!(t.last(StreamName::Frames), None);
        assert_eq!(t.accept(StreamName::Sprites, 9, None), SeqVerdict::Stale);
        assert_eq!(t.accept(StreamName::Sprites, 10, None), SeqVerdict::Stale);
        assert_eq!(t.accept(StreamName::Sprites, 11, None), SeqVerdict::Fresh);
        // A merged event: first_seq follows on, nothing was lost.
        assert_eq!(
            t.accept(StreamName::Sprites, 20, Some(12)),
            SeqVerdict::Fresh
        );
        assert_eq!(
            t.accept(StreamName::Sprites, 25, None),
            SeqVerdict::Hole {
                expected: 21,
                got: 25
            }
        );
        assert_eq!(t.last(StreamName::Sprites), Some(25));
    }

    #[test]
    fn gaps_skip_ahead_and_forget_clears() {
        let mut t = SeqTracker::new();
        t.accept(StreamName::Sounds, 99, None);
        t.skip_to(StreamName::Sounds, 140);
        assert_eq!(t.accept(StreamName::Sounds, 141, None), SeqVerdict::Fresh);
        t.forget(StreamName::Sounds);
        assert_eq!(t.accept(StreamName::Sounds, 500, None), SeqVerdict::Fresh);
        t.clear();
        assert_eq!(t.to_map(), BTreeMap::new());
    }
}
