//! The backplane: how relay nodes share projects. The default is in memory — a single node,
//! nothing to share, every call here a no-op. `--backplane redis://…` connects nodes through
//! Redis pub/sub (the pattern of SignalR's Redis scale-out): the node holding a project's host
//! publishes each host message once, pre-serialized, and every other node fans it out to its
//! own clients; their commands and requests travel to the host's node and the answers back; a
//! registry row per project tells every node who holds it. See [`crate::wire`] for the formats
//! and [`crate::redis_link`] for the connection.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use stagelink_contracts::StreamName;
use tokio::sync::watch;

use crate::project::{Project, ToHost, reject_no_host};
use crate::redis_link::RedisLink;
use crate::server::Relay;
use crate::wire::{Marker, RegistryEntry};

/// Health of the backplane, for `/healthz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackplaneHealth {
    /// Single node, nothing to reach.
    Memory,
    Up,
    Down,
}

impl BackplaneHealth {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            BackplaneHealth::Memory => "memory",
            BackplaneHealth::Up => "up",
            BackplaneHealth::Down => "down",
        }
    }
}

/// Why a backplane could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BackplaneError {
    #[error("--backplane `{url}` is not a Redis URL: {message}")]
    Url { url: String, message: String },
}

/// What the relay tells its backplane. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Backplane {
    /// `None`: the in-memory backplane of a single node.
    link: Option<Arc<RedisLink>>,
}

impl Backplane {
    /// The in-memory backplane of a single node.
    pub fn memory() -> Self {
        Self::default()
    }

    /// A Redis backplane for node `node` (`redis://host:port[/db]`). Nothing connects until the
    /// relay starts it.
    ///
    /// # Errors
    /// A URL the Redis client does not accept.
    pub fn redis(url: &str, node: &str) -> Result<Self, BackplaneError> {
        let client = redis::Client::open(url).map_err(|e| BackplaneError::Url {
            url: url.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self {
            link: Some(RedisLink::new(client, node)),
        })
    }

    /// Whether other nodes may share this node's projects.
    pub fn is_shared(&self) -> bool {
        self.link.is_some()
    }

    pub(crate) fn link(&self) -> Option<&Arc<RedisLink>> {
        self.link.as_ref()
    }

    /// Current health.
    pub fn health(&self) -> BackplaneHealth {
        self.link
            .as_ref()
            .map_or(BackplaneHealth::Memory, |l| l.health())
    }

    /// Waits until the health is `want`, at most `within`; whether it got there.
    pub async fn wait_for_health(&self, want: BackplaneHealth, within: Duration) -> bool {
        let Some(link) = &self.link else {
            return want == BackplaneHealth::Memory;
        };
        let mut health = link.health_watch();
        tokio::time::timeout(within, health.wait_for(|h| *h == want))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Health changes, for whoever wants to follow them.
    pub fn health_watch(&self) -> watch::Receiver<BackplaneHealth> {
        match &self.link {
            Some(link) => link.health_watch(),
            None => watch::channel(BackplaneHealth::Memory).1,
        }
    }

    /// Connects (in the background from then on); waits a little for the first connection so a
    /// node started next to a live Redis serves shared projects from its first request.
    pub(crate) async fn start(&self, relay: &Arc<Relay>) {
        if let Some(link) = &self.link {
            link.start(relay).await;
        }
    }

    /// Releases this node's registry rows and disconnects.
    pub(crate) async fn shutdown(&self) {
        if let Some(link) = &self.link {
            link.shutdown().await;
        }
    }

    /// A host for `project` connected to this node.
    pub fn host_joined(&self, project: &Arc<Project>) {
        if let Some(link) = &self.link {
            link.host_joined(project);
        }
    }

    /// The host of `project` on this node left.
    pub fn host_left(&self, project: &Arc<Project>) {
        if let Some(link) = &self.link {
            link.host_left(project);
        }
    }

    /// An event from this node's host, for the other nodes' clients (bytes unchanged).
    pub fn publish_event(
        &self,
        project: &str,
        stream: StreamName,
        seq: u64,
        frame: u32,
        bytes: &Bytes,
    ) {
        if let Some(link) = &self.link {
            link.publish_event(project, stream, seq, frame, bytes);
        }
    }

    /// A pixel tile from this node's host, as the host sent it.
    pub fn publish_tile(&self, project: &str, bytes: &Bytes) {
        if let Some(link) = &self.link {
            link.publish_tile(project, bytes);
        }
    }

    /// This node's host reported a gap: the other nodes' clients resync too.
    pub fn publish_resync(&self, project: &str) {
        if let Some(link) = &self.link {
            link.publish_marker(project, &Marker::Resync);
        }
    }

    /// Sends a client's command or request to the node holding the host.
    pub(crate) fn forward(&self, project: &str, node: &str, work: ToHost) {
        match &self.link {
            Some(link) => link.forward(project, node, work),
            None => reject_no_host(work),
        }
    }

    /// The node holding `project`'s host according to the registry, if another one does.
    /// Errors (Redis unreachable) read as "unknown": `Err`.
    pub(crate) async fn holder(&self, project: &str, me: &str) -> Result<Option<String>, String> {
        let Some(link) = &self.link else {
            return Ok(None);
        };
        Ok(link
            .lookup(project)
            .await?
            .map(|e| e.node)
            .filter(|n| n != me))
    }

    /// Asks `holder` whether it still holds `project` (letting it go with `takeover`).
    pub(crate) async fn claim(&self, project: &str, holder: &str, takeover: bool) -> bool {
        match &self.link {
            Some(link) => link.claim(project, holder, takeover).await,
            None => false,
        }
    }

    /// Brings this node's subscriptions up to date with its projects.
    pub(crate) async fn sync_subscriptions(&self) {
        if let Some(link) = &self.link {
            let _ = link.sync_subscriptions().await;
        }
    }

    /// Every registry row, `(project, entry)`; `None` for the memory backplane or while Redis
    /// is unreachable.
    pub async fn registry(&self) -> Option<Vec<(String, RegistryEntry)>> {
        self.link.as_ref()?.rows().await.ok()
    }
}
