//! Typed requests (protocol §8): each [`Query`] names its `what` and the shape of its answer.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use stagelink_contracts::{MovieState, StageSnapshot};

/// A request the server answers with data of type [`Query::Data`].
pub trait Query {
    /// The request's `what`.
    const WHAT: &'static str;
    /// The answer's `data`.
    type Data: DeserializeOwned;
}

/// `movie_state`: the playhead.
#[derive(Debug, Clone, Copy, Default)]
pub struct MovieStateQuery;

/// `stage`: everything needed to draw and inspect the current frame, with seqs.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageQuery;

/// `project`: the whole movie document (the player's movie file format).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProjectQuery;

/// `stats`: this session's own counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatsQuery;

impl Query for MovieStateQuery {
    const WHAT: &'static str = "movie_state";
    type Data = MovieState;
}

impl Query for StageQuery {
    const WHAT: &'static str = "stage";
    type Data = StageSnapshot;
}

impl Query for ProjectQuery {
    const WHAT: &'static str = "project";
    type Data = serde_json::Value;
}

impl Query for StatsQuery {
    const WHAT: &'static str = "stats";
    type Data = SessionStats;
}

/// One stream's counters in [`SessionStats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamStats {
    pub messages: u64,
    pub bytes: u64,
    pub drops: u64,
    pub gaps: u64,
}

/// Acks sent to this session, by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommandCounts {
    pub applied: u64,
    pub rejected: u64,
    pub busy: u64,
}

/// The `stats` answer: what the server counted for this session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionStats {
    pub messages_in: u64,
    pub messages_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Fifo events dropped for this session (each reported by a gap).
    pub drops: u64,
    /// Gap messages sent.
    pub gaps: u64,
    pub per_stream: BTreeMap<String, StreamStats>,
    pub commands: CommandCounts,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_decode_from_the_documented_shape() {
        let data = serde_json::json!({"messages_in":42,"messages_out":3456,"bytes_in":4096,
            "bytes_out":1048576,"drops":41,"gaps":1,
            "per_stream":{"sounds":{"messages":60,"bytes":5400,"drops":41,"gaps":1}},
            "commands":{"applied":5,"rejected":1,"busy":0}});
        let stats: SessionStats = serde_json::from_value(data).unwrap();
        assert_eq!(stats.drops, 41);
        assert_eq!(stats.per_stream["sounds"].gaps, 1);
        assert_eq!(stats.commands.applied, 5);
    }
}
