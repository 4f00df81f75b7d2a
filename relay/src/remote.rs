//! Projects whose host is on another node, and the work that crosses nodes.
//!
//! On a node without the host, a project follows the node that holds it ([`RemoteHost`]): its
//! hub is fed from the project's `out` channel (event bytes fanned out unchanged, tiles painted
//! into a canvas), and its clients' commands and requests are forwarded to the host's node and
//! wait in [`Calls`] for their answer (or `timeout`). On the host's node, forwarded work is a
//! [`RemoteWork`] that the host connection sends to the host like its own and answers back over
//! the backplane.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use stagelink_contracts::{
    Ack, ClientMessage, Command, CommandMessage, ErrorBody, ErrorCode, Request, Response,
};
use stagelink_publisher::{PendingCommand, PendingRequest};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::project::{Project, ToHost, answer_request};
use crate::redis_link::RedisLink;
use crate::server::Relay;
use crate::wire::{InMessage, Marker, OutBody, OutMessage, RegistryEntry};

/// The node holding a project's host, as this node last heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteHost {
    pub node: String,
    pub version: String,
    /// Seconds since the Unix epoch when that host connected.
    pub since: u64,
}

impl From<RegistryEntry> for RemoteHost {
    fn from(e: RegistryEntry) -> Self {
        Self {
            node: e.node,
            version: e.host_version,
            since: e.since,
        }
    }
}

/// Something this node forwarded and is waiting to hear back about.
#[derive(Debug)]
pub(crate) enum Call {
    Command(PendingCommand),
    Request(PendingRequest),
    /// A host connecting here asked the holder node for the project; `true` = still held there.
    Claim(oneshot::Sender<bool>),
}

#[derive(Debug)]
struct Waiting {
    project: String,
    node: String,
    call: Call,
    deadline: Instant,
}

/// Forwarded work by correlation id, each with the moment it times out.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, Waiting>>,
}

impl Calls {
    /// Remembers a call to `node` about `project`; returns its correlation id.
    pub(crate) fn insert(&self, project: &str, node: &str, call: Call, within: Duration) -> u64 {
        let corr = self.next.fetch_add(1, Relaxed) + 1;
        self.waiting.lock().insert(
            corr,
            Waiting {
                project: project.to_owned(),
                node: node.to_owned(),
                call,
                deadline: Instant::now() + within,
            },
        );
        corr
    }

    /// The call an answer is for (`None` when it already timed out).
    pub(crate) fn take(&self, corr: u64) -> Option<Call> {
        self.waiting.lock().remove(&corr).map(|w| w.call)
    }

    /// Calls past their deadline.
    pub(crate) fn expired(&self, now: Instant) -> Vec<Call> {
        self.take_where(|w| w.deadline <= now)
    }

    /// Calls about `project` waiting on `node` (whose host just left).
    pub(crate) fn for_host(&self, project: &str, node: &str) -> Vec<Call> {
        self.take_where(|w| w.project == project && w.node == node)
    }

    /// Every call (the backplane connection was lost, and with it any answer).
    pub(crate) fn all(&self) -> Vec<Call> {
        self.take_where(|_| true)
    }

    fn take_where(&self, pick: impl Fn(&Waiting) -> bool) -> Vec<Call> {
        let mut waiting = self.waiting.lock();
        let corrs: Vec<u64> = waiting
            .iter()
            .filter(|(_, w)| pick(w))
            .map(|(c, _)| *c)
            .collect();
        corrs
            .into_iter()
            .filter_map(|c| waiting.remove(&c).map(|w| w.call))
            .collect()
    }

    /// How many calls are waiting.
    pub(crate) fn len(&self) -> usize {
        self.waiting.lock().len()
    }
}

/// Answers a call that will get no answer from the host.
pub(crate) fn fail_call(call: Call, code: ErrorCode, message: &str) {
    match call {
        Call::Command(c) => c.rejected(code, message),
        Call::Request(r) => r.fail(ErrorBody::new(code, message)),
        // Dropping the sender tells the waiting host admission "not held".
        Call::Claim(_) => {}
    }
}

/// What a client on another node asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum RemoteWhat {
    Command(Command),
    /// A request's `what` (`stage` for snapshots).
    Request(String),
}

/// Work forwarded by another node to the host this node holds. Answer it exactly once; dropping
/// it unanswered answers `internal`, so the origin's client is never left waiting.
#[derive(Debug)]
pub struct RemoteWork {
    /// The node whose client asked.
    pub origin: String,
    /// The origin's correlation id.
    pub corr: u64,
    pub what: RemoteWhat,
    /// The way back; `None` once answered.
    reply: Option<Weak<RedisLink>>,
}

impl RemoteWork {
    pub(crate) fn new(origin: String, corr: u64, what: RemoteWhat, reply: Weak<RedisLink>) -> Self {
        Self {
            origin,
            corr,
            what,
            reply: Some(reply),
        }
    }

    /// The message that carries it to the host, under the relay's id `id`.
    pub fn message(&self, id: u64) -> ClientMessage {
        match &self.what {
            RemoteWhat::Command(command) => ClientMessage::Command(CommandMessage {
                id,
                command: command.clone(),
            }),
            RemoteWhat::Request(what) => ClientMessage::Request(Request {
                id,
                what: what.clone(),
            }),
        }
    }

    /// Sends the host's ack back to the origin.
    pub fn answer_ack(mut self, ack: Ack) {
        let corr = self.corr;
        self.send(InMessage::Ack { corr, ack });
    }

    /// Sends the host's response back to the origin.
    pub fn answer_response(mut self, response: Response) {
        let corr = self.corr;
        self.send(InMessage::Response {
            corr,
            ok: response.ok,
            data: response.data,
            error: response.error,
        });
    }

    /// Answers without the host: a rejected ack or a failed response.
    pub fn reject(mut self, code: ErrorCode, message: &str) {
        self.reject_inner(code, message);
    }

    fn reject_inner(&mut self, code: ErrorCode, message: &str) {
        let corr = self.corr;
        let msg = match &self.what {
            RemoteWhat::Command(_) => InMessage::Ack {
                corr,
                ack: Ack::rejected(0, code, message),
            },
            RemoteWhat::Request(_) => InMessage::Response {
                corr,
                ok: false,
                data: None,
                error: Some(ErrorBody::new(code, message)),
            },
        };
        self.send(msg);
    }

    fn send(&mut self, msg: InMessage) {
        if let Some(link) = self.reply.take().and_then(|l| l.upgrade()) {
            link.send_in(&self.origin, &msg);
        }
    }
}

impl Drop for RemoteWork {
    fn drop(&mut self) {
        if self.reply.is_some() {
            self.reject_inner(ErrorCode::Internal, "the relay dropped the forwarded work");
        }
    }
}

/// A message on one of this node's project `out` channels.
pub(crate) fn on_out(
    relay: &Relay,
    link: &Arc<RedisLink>,
    project: &Arc<Project>,
    msg: OutMessage,
) {
    if msg.node == relay.node_id {
        return;
    }
    let follows = || {
        project
            .remote
            .lock()
            .as_ref()
            .is_some_and(|r| r.node == msg.node)
    };
    match msg.body {
        OutBody::Event {
            stream,
            seq,
            frame,
            bytes,
        } => {
            if follows() {
                project.hub.fan_out(stream, seq, frame, &bytes);
            }
        }
        OutBody::Tile(bytes) => {
            if follows()
                && let Err(e) = project.remote_canvas.lock().paint(&project.hub, &bytes)
            {
                tracing::warn!(project = %project.name, error = %e, "bad tile on the backplane");
            }
        }
        OutBody::Marker(Marker::HostJoined {
            host_version,
            since,
        }) => {
            let same = project
                .remote
                .lock()
                .as_ref()
                .is_some_and(|r| r.node == msg.node && r.since == since);
            if same {
                // The host we follow, announced again after its node reconnected: events may
                // have been lost on the way, but the host did not change.
                project.hub.resync_all();
                return;
            }
            host_moved(
                link,
                project,
                RemoteHost {
                    node: msg.node,
                    version: host_version,
                    since,
                },
            );
        }
        OutBody::Marker(Marker::HostLeft) => {
            if follows() {
                remote_host_gone(link, project, &msg.node);
            }
        }
        OutBody::Marker(Marker::Resync) => {
            if follows() {
                project.hub.resync_all();
            }
        }
    }
}

/// Another node now holds the project's host: follow it, and resync every client (a new host
/// means a new seq history). A host of our own still in the slot lost the project to it.
fn host_moved(link: &Arc<RedisLink>, project: &Arc<Project>, host: RemoteHost) {
    let displaced = project.host.lock().take();
    if let Some(mut slot) = displaced {
        tracing::warn!(project = %project.name, node = %host.node, "another node took this project's host over");
        if let Some(evict) = slot.evict.take() {
            let _ = evict.send(());
        }
        link.forget_hosted(&project.name);
        link.spawn_subscription_sync();
    }
    tracing::info!(project = %project.name, node = %host.node, "following the host on another node");
    *project.remote.lock() = Some(host);
    *project.had_host.lock() = true;
    project
        .hub
        .notice(ErrorCode::HostJoined, "the host is back; resyncing");
    project.hub.resync_all();
}

/// The followed node's host went away.
fn remote_host_gone(link: &RedisLink, project: &Project, node: &str) {
    *project.remote.lock() = None;
    tracing::info!(project = %project.name, %node, "the host on another node left");
    for call in link.calls.for_host(&project.name, node) {
        fail_call(
            call,
            ErrorCode::NoHost,
            "the host went away before answering",
        );
    }
    project.hub.notice(
        ErrorCode::HostLeft,
        "the host went away; commands are rejected with no_host until it returns",
    );
}

/// Brings a project up to date with its registry row (`None`: nobody holds the host).
pub(crate) fn apply_registry(
    relay: &Relay,
    link: &Arc<RedisLink>,
    project: &Arc<Project>,
    entry: Option<RegistryEntry>,
) {
    if project.host.lock().is_some() {
        // Ours; the registry refresh settles any conflict.
        return;
    }
    let entry = entry.filter(|e| e.node != relay.node_id);
    let current = project.remote.lock().clone();
    match (current, entry) {
        (Some(r), Some(e)) if r.node == e.node && r.since == e.since => {}
        (_, Some(e)) => host_moved(link, project, e.into()),
        (Some(r), None) => remote_host_gone(link, project, &r.node),
        (None, None) => {}
    }
}

/// The backplane connection is gone: hosts on other nodes are out of reach until it returns.
pub(crate) fn link_lost(relay: &Relay, link: &RedisLink) {
    for project in relay.registry.all() {
        if project.remote.lock().take().is_some() {
            project.hub.notice(
                ErrorCode::HostLeft,
                "this relay node lost its backplane; the host is out of reach until it reconnects",
            );
        }
    }
    for call in link.calls.all() {
        fail_call(
            call,
            ErrorCode::Timeout,
            "the backplane connection was lost before the host answered",
        );
    }
}

/// A message on this node's `in` channel.
pub(crate) fn on_in(relay: &Relay, link: &Arc<RedisLink>, payload: &[u8]) {
    let msg = match serde_json::from_slice::<InMessage>(payload) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "undecodable message on the backplane");
            return;
        }
    };
    match msg {
        InMessage::Command {
            project,
            origin,
            corr,
            command,
        } => {
            let work = RemoteWork::new(
                origin,
                corr,
                RemoteWhat::Command(command),
                Arc::downgrade(link),
            );
            to_local_host(relay, &project, work);
        }
        InMessage::Request {
            project,
            origin,
            corr,
            what,
        } => {
            let work = RemoteWork::new(
                origin,
                corr,
                RemoteWhat::Request(what),
                Arc::downgrade(link),
            );
            to_local_host(relay, &project, work);
        }
        InMessage::Ack { corr, ack } => match link.calls.take(corr) {
            Some(Call::Command(c)) => c.answer(ack),
            Some(other) => fail_call(
                other,
                ErrorCode::Internal,
                "mismatched answer on the backplane",
            ),
            None => {}
        },
        InMessage::Response {
            corr,
            ok,
            data,
            error,
        } => match link.calls.take(corr) {
            Some(Call::Request(r)) => answer_request(r, ok, data, error),
            Some(other) => fail_call(
                other,
                ErrorCode::Internal,
                "mismatched answer on the backplane",
            ),
            None => {}
        },
        InMessage::Claim {
            project,
            origin,
            corr,
            takeover,
        } => {
            let held = relay.registry.get(&project).is_some_and(|p| {
                let mut slot = p.host.lock();
                match slot.as_mut() {
                    Some(_) if !takeover => true,
                    Some(host) => {
                        tracing::info!(project = %p.name, node = %origin, "a host on another node takes this project over");
                        if let Some(evict) = host.evict.take() {
                            let _ = evict.send(());
                        }
                        false
                    }
                    None => false,
                }
            });
            link.send_in(&origin, &InMessage::Claimed { corr, held });
        }
        InMessage::Claimed { corr, held } => {
            if let Some(Call::Claim(tx)) = link.calls.take(corr) {
                let _ = tx.send(held);
            }
        }
    }
}

fn to_local_host(relay: &Relay, project: &str, work: RemoteWork) {
    match relay.registry.get(project) {
        Some(p) => p.to_host(ToHost::Remote(work)),
        None => work.reject(ErrorCode::NoHost, "the project has no host on this node"),
    }
}

/// Looks the project up in the registry and follows whoever holds it.
pub(crate) async fn discover(relay: &Relay, project: &Arc<Project>) {
    if let Some(link) = relay.backplane.link() {
        link.follow(&project.name).await;
    }
}

/// The project a client names, on a node with a shared backplane: a local one, or one whose host
/// is on another node (created here to follow it). `None` when nobody knows it.
pub(crate) async fn attach(
    relay: &Arc<Relay>,
    name: &str,
    local: Option<Arc<Project>>,
) -> Option<Arc<Project>> {
    let link = relay.backplane.link()?;
    let project = match local {
        Some(p) if p.host.lock().is_some() || p.remote.lock().is_some() => return Some(p),
        Some(p) => p,
        None => {
            let entry = link.lookup(name).await.ok().flatten()?;
            if entry.node == relay.node_id {
                return None;
            }
            let tokens = relay.config.projects.get(name).cloned().unwrap_or_default();
            relay.registry.get_or_create(name, tokens, relay.config.dev)
        }
    };
    // Subscribe to the project's `out` channel first, then read the registry: a change after
    // the read arrives as a marker, so none is missed.
    let _ = link.sync_subscriptions().await;
    discover(relay, &project).await;
    Some(project)
}
