//! [`EventLog`]: the bounded list of what happened — stream events, acks, notices, errors,
//! connection changes and edits — that the log panel shows.
//!
//! Busy streams publish every tick, so consecutive events of one stream are folded into one
//! line that counts them (`sprites ×30  seq 1043–1072`) as long as nothing else (an ack, a notice)
//! came in between; that keeps acks and notices on screen instead of scrolled away.

use std::collections::VecDeque;
use std::time::Instant;

/// How many lines the log keeps.
pub const LOG_CAPACITY: usize = 1000;

/// How many recent lines an event may be folded into (one per busy stream).
const FOLD_WINDOW: usize = 8;

/// What a line is about (it picks the line's colour and tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// A stream event (or several, folded).
    Event,
    /// A command's ack.
    Ack,
    /// A relay notice, a gap, a resync.
    Notice,
    /// An error from the server, or a refused command.
    Error,
    /// Connected, reconnecting, closed.
    Connection,
    /// An edit's progress.
    Edit,
}

impl LogKind {
    /// The short tag shown before the text.
    pub fn tag(self) -> &'static str {
        match self {
            LogKind::Event => "event",
            LogKind::Ack => "ack",
            LogKind::Notice => "notice",
            LogKind::Error => "error",
            LogKind::Connection => "conn",
            LogKind::Edit => "edit",
        }
    }
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// When it happened (the newest event, for a folded line).
    pub at: Instant,
    /// What it is about.
    pub kind: LogKind,
    /// For events: the stream, so later events of it fold into this line.
    pub stream: Option<String>,
    /// Events folded into this line (1 for an ordinary line).
    pub count: u64,
    /// The first seq folded into this line.
    pub first_seq: u64,
    /// The newest seq.
    pub last_seq: u64,
    /// What the newest event (or the line) says.
    pub text: String,
}

impl LogEntry {
    /// The line as shown, without its time: `sprites ×30 seq 10–39 f17: 3 items`.
    pub fn describe(&self) -> String {
        match &self.stream {
            Some(stream) if self.count > 1 => format!(
                "{stream} ×{} seq {}–{}: {}",
                self.count, self.first_seq, self.last_seq, self.text
            ),
            Some(stream) => format!("{stream} seq {}: {}", self.last_seq, self.text),
            None => self.text.clone(),
        }
    }
}

/// The bounded log, oldest first.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    entries: VecDeque<LogEntry>,
}

impl EventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a line.
    pub fn push(&mut self, kind: LogKind, text: impl Into<String>, at: Instant) {
        self.push_entry(LogEntry {
            at,
            kind,
            stream: None,
            count: 1,
            first_seq: 0,
            last_seq: 0,
            text: text.into(),
        });
    }

    /// Adds a stream event, folding it into that stream's recent line when only other events
    /// came since.
    pub fn push_event(&mut self, stream: &str, seq: u64, text: impl Into<String>, at: Instant) {
        let text = text.into();
        let recent = self.entries.len().saturating_sub(FOLD_WINDOW);
        let fold = (recent..self.entries.len())
            .rev()
            .take_while(|&i| self.entries[i].kind == LogKind::Event)
            .find(|&i| self.entries[i].stream.as_deref() == Some(stream));
        if let Some(i) = fold
            && let Some(mut entry) = self.entries.remove(i)
        {
            entry.count += 1;
            entry.last_seq = seq;
            entry.text = text;
            entry.at = at;
            self.entries.push_back(entry);
            return;
        }
        self.push_entry(LogEntry {
            at,
            kind: LogKind::Event,
            stream: Some(stream.to_owned()),
            count: 1,
            first_seq: seq,
            last_seq: seq,
            text,
        });
    }

    fn push_entry(&mut self, entry: LogEntry) {
        if self.entries.len() == LOG_CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// Every line, oldest first.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &LogEntry> + ExactSizeIterator {
        self.entries.iter()
    }

    /// How many lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No lines.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_streams_fold_until_something_else_happens() {
        let t = Instant::now();
        let mut log = EventLog::new();
        for seq in 1..=5 {
            log.push_event("sprites", seq, "2 items", t);
            log.push_event("keyframes", seq, "1 item", t);
        }
        assert_eq!(log.len(), 2);
        let lines: Vec<_> = log.entries().map(LogEntry::describe).collect();
        assert_eq!(lines[0], "sprites ×5 seq 1–5: 2 items");
        assert_eq!(lines[1], "keyframes ×5 seq 1–5: 1 item");

        log.push(LogKind::Ack, "pause applied on frame 9", t);
        log.push_event("sprites", 6, "1 item", t);
        assert_eq!(log.len(), 4, "an ack ends the fold");
        assert_eq!(
            log.entries().last().unwrap().describe(),
            "sprites seq 6: 1 item"
        );
    }

    #[test]
    fn the_log_is_bounded() {
        let t = Instant::now();
        let mut log = EventLog::new();
        for i in 0..LOG_CAPACITY + 10 {
            log.push(LogKind::Notice, format!("line {i}"), t);
        }
        assert_eq!(log.len(), LOG_CAPACITY);
        assert_eq!(log.entries().next().unwrap().text, "line 10");
    }
}
