//! A host's connection to the relay.
//!
//! After the host's own `hello` (role `host`) and the relay's `welcome`, the relay speaks to the
//! host *as a client* on the same socket: it says `hello` (controller, every stream, with a
//! snapshot), and the host streams events, tiles, responses and acks exactly as to any client.
//! Event bytes go to the project's hub unchanged — never re-serialized — and, with a shared
//! backplane, are published once for the other nodes' clients; work forwarded by other nodes is
//! sent to the host like this node's own and answered back over the backplane.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use futures_util::StreamExt;
use stagelink_contracts::{
    ClientMessage, CommandMessage, ErrorCode, ErrorMessage, Hello, PROTOCOL_VERSION, PeerInfo,
    PixelsAck, Request, Role, ServerMessage, StreamInfo, StreamName, Welcome, decode_server,
};
use stagelink_publisher::{PendingCommand, PendingRequest};
use tokio::sync::{mpsc, oneshot};

use crate::canvas::Canvas;
use crate::project::{HostSlot, Project, ToHost, answer_request, reject_no_host};
use crate::remote::RemoteWork;
use crate::server::Relay;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// How often the relay pings a quiet host.
const HOST_PING: Duration = Duration::from_secs(5);

/// Admits a host: checks its token and the takeover rules, then serves it until it leaves.
pub async fn serve_host(relay: Arc<Relay>, mut socket: WebSocket, hello: Hello) {
    let Some(name) = hello.project.clone() else {
        return refuse(
            &mut socket,
            ErrorCode::UnknownProject,
            "a host must name its `project`",
        )
        .await;
    };
    let tokens = relay
        .config
        .projects
        .get(&name)
        .cloned()
        .unwrap_or_default();
    if !relay.config.dev {
        let ok = match (&tokens.host_token, &hello.token) {
            (Some(expected), Some(given)) => stagelink_publisher::tokens_match(given, expected),
            _ => false,
        };
        if !ok {
            return refuse(
                &mut socket,
                ErrorCode::AuthFailed,
                &format!("no valid host token for project `{name}`"),
            )
            .await;
        }
    }
    let project = relay
        .registry
        .get_or_create(&name, tokens, relay.config.dev);
    if relay.backplane.is_shared() && project.host.lock().is_none() {
        // The project's host may live on another node: the same takeover rules apply there.
        let holder = match relay.backplane.holder(&name, &relay.node_id).await {
            Ok(holder) => holder,
            Err(_) => project.remote.lock().as_ref().map(|r| r.node.clone()),
        };
        if let Some(node) = holder
            && relay.backplane.claim(&name, &node, hello.takeover).await
        {
            return refuse(
                &mut socket,
                ErrorCode::ProjectTaken,
                &format!("project `{name}` already has a live host (on relay node `{node}`); send `takeover: true` with the host token to replace it"),
            )
            .await;
        }
    }
    let conn_id = NEXT_CONN.fetch_add(1, Relaxed);
    let (to_host, from_project) = mpsc::unbounded_channel();
    let (evict_tx, evict_rx) = oneshot::channel();
    let version = hello.client.version.clone().unwrap_or_default();
    let taken = {
        let mut slot = project.host.lock();
        match slot.as_mut() {
            Some(_) if !hello.takeover => true,
            old => {
                if let Some(evict) = old.and_then(|o| o.evict.take()) {
                    let _ = evict.send(());
                }
                *slot = Some(HostSlot {
                    conn_id,
                    to_host,
                    evict: Some(evict_tx),
                    version,
                    since: SystemTime::now(),
                    node: relay.node_id.clone(),
                });
                false
            }
        }
    };
    if taken {
        return refuse(
            &mut socket,
            ErrorCode::ProjectTaken,
            &format!("project `{name}` already has a live host; send `takeover: true` with the host token to replace it"),
        )
        .await;
    }
    let followed_remote = project.remote.lock().take().is_some();
    // Clients already waiting (a host that returns, or the first host of a `--dev` project
    // clients joined early) are told and resynced.
    let rejoined = std::mem::replace(&mut *project.had_host.lock(), true)
        || followed_remote
        || project.hub.session_count() > 0;
    tracing::info!(project = %name, conn_id, "host connected");
    relay.backplane.host_joined(&project);
    relay.backplane.sync_subscriptions().await;

    let welcome = ServerMessage::Welcome(Welcome {
        protocol: PROTOCOL_VERSION,
        session: format!("h-{conn_id}"),
        server: PeerInfo {
            id: Some(relay.node_id.clone()),
            name: Some("stagelink-relay".into()),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        },
        project: Some(name.clone()),
        role: Role::Host,
        streams: StreamInfo::catalogue(),
        capabilities: vec!["commands".into(), "snapshots".into(), "pixels".into()],
        heartbeat_ms: HOST_PING.as_millis() as u64,
        idle_timeout_ms: 30_000,
    });
    let mut as_client = Hello::new(Role::Controller);
    as_client.project = Some(name.clone());
    as_client.client = PeerInfo {
        id: Some(format!("relay-{}", relay.node_id)),
        name: Some("stagelink-relay".into()),
        version: Some(env!("CARGO_PKG_VERSION").into()),
    };
    as_client.subscribe = Some(vec!["*".into()]);
    as_client.snapshot = true;
    let opening = [welcome.to_json(), ClientMessage::Hello(as_client).to_json()];
    let mut ok = true;
    for msg in opening {
        if send_json(&mut socket, msg).await.is_err() {
            ok = false;
        }
    }
    if rejoined {
        project
            .hub
            .notice(ErrorCode::HostJoined, "the host joined; resyncing");
        project.hub.resync_all();
    }
    let outcome = if ok {
        HostConnection::new(project.clone())
            .run(&mut socket, from_project, evict_rx)
            .await
    } else {
        Outcome::Gone
    };
    if outcome == Outcome::Evicted {
        let err = ErrorMessage::new(
            ErrorCode::SessionReplaced,
            "another host took over this project",
        );
        let _ = send_json(&mut socket, ServerMessage::Error(err).to_json()).await;
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: ErrorCode::SessionReplaced.close_code(),
                reason: "session_replaced".into(),
            })))
            .await;
        linger(&mut socket).await;
    }
    let still_ours = {
        let mut slot = project.host.lock();
        if slot.as_ref().is_some_and(|h| h.conn_id == conn_id) {
            *slot = None;
            true
        } else {
            false
        }
    };
    if still_ours {
        tracing::info!(project = %name, conn_id, "host left");
        relay.backplane.host_left(&project);
        project.hub.notice(
            ErrorCode::HostLeft,
            "the host went away; commands are rejected with no_host until it returns",
        );
        if relay.backplane.is_shared() {
            // Follow the project again, and whoever holds it now (a host that took it over
            // on another node, say).
            relay.backplane.sync_subscriptions().await;
            crate::remote::discover(&relay, &project).await;
        }
    }
}

async fn refuse(socket: &mut WebSocket, code: ErrorCode, message: &str) {
    let err = ServerMessage::Error(ErrorMessage::new(code, message));
    let _ = send_json(socket, err.to_json()).await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: code.close_code(),
            reason: code.as_str().into(),
        })))
        .await;
    linger(socket).await;
}

/// After sending a close frame: wait (briefly) for the peer's close, so dropping the socket does
/// not reset the connection and destroy the error we just sent before the peer reads it.
pub(crate) async fn linger(socket: &mut WebSocket) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(msg)) = socket.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

async fn send_json(socket: &mut WebSocket, json: Vec<u8>) -> Result<(), axum::Error> {
    let text = String::from_utf8(json).unwrap_or_default();
    socket.send(Message::Text(text.into())).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Gone,
    Evicted,
}

/// The relay's client-side state on one host connection.
struct HostConnection {
    project: Arc<Project>,
    next_id: u64,
    commands: HashMap<u64, PendingCommand>,
    requests: HashMap<u64, PendingRequest>,
    /// Commands and requests of other nodes' clients.
    remote: HashMap<u64, RemoteWork>,
    canvas: Canvas,
}

#[derive(serde::Deserialize)]
struct EventHead {
    stream: String,
    seq: u64,
    frame: u32,
}

impl HostConnection {
    fn new(project: Arc<Project>) -> Self {
        Self {
            project,
            next_id: 1,
            commands: HashMap::new(),
            requests: HashMap::new(),
            remote: HashMap::new(),
            canvas: Canvas::default(),
        }
    }

    async fn run(
        mut self,
        socket: &mut WebSocket,
        mut from_project: mpsc::UnboundedReceiver<ToHost>,
        mut evict: oneshot::Receiver<()>,
    ) -> Outcome {
        let mut ping = tokio::time::interval(HOST_PING);
        ping.tick().await;
        let outcome = loop {
            tokio::select! {
                inbound = socket.next() => {
                    let Some(Ok(msg)) = inbound else { break Outcome::Gone };
                    let reply = match msg {
                        Message::Text(text) => self.on_text(Bytes::from(text)),
                        Message::Binary(bin) => self.on_binary(&bin),
                        Message::Close(_) => break Outcome::Gone,
                        _ => None,
                    };
                    if let Some(reply) = reply
                        && send_json(socket, reply).await.is_err()
                    {
                        break Outcome::Gone;
                    }
                }
                work = from_project.recv() => {
                    let Some(work) = work else {
                        // The slot (and its sender) is replaced only after the eviction signal
                        // was sent, so a closed channel with a fired signal means evicted.
                        break if evict.try_recv().is_ok() { Outcome::Evicted } else { Outcome::Gone };
                    };
                    let msg = self.outbound(work);
                    if send_json(socket, msg).await.is_err() {
                        break Outcome::Gone;
                    }
                }
                _ = ping.tick() => {
                    let msg = ClientMessage::Ping(stagelink_contracts::Ping { t: 0 }).to_json();
                    if send_json(socket, msg).await.is_err() {
                        break Outcome::Gone;
                    }
                }
                _ = &mut evict => break Outcome::Evicted,
            }
        };
        // Everything still waiting on this host gets its answer now.
        from_project.close();
        while let Ok(work) = from_project.try_recv() {
            reject_no_host(work);
        }
        for (_, c) in self.commands.drain() {
            reject_no_host(ToHost::Command(c));
        }
        for (_, r) in self.requests.drain() {
            reject_no_host(ToHost::Request(r));
        }
        for (_, w) in self.remote.drain() {
            reject_no_host(ToHost::Remote(w));
        }
        outcome
    }

    fn outbound(&mut self, work: ToHost) -> Vec<u8> {
        let id = self.next_id;
        self.next_id += 1;
        match work {
            ToHost::Command(c) => {
                let msg = ClientMessage::Command(CommandMessage {
                    id,
                    command: c.command.clone(),
                });
                self.commands.insert(id, c);
                msg.to_json()
            }
            ToHost::Request(r) => {
                let msg = ClientMessage::Request(Request {
                    id,
                    what: r.kind.what().to_owned(),
                });
                self.requests.insert(id, r);
                msg.to_json()
            }
            ToHost::Remote(w) => {
                let msg = w.message(id);
                self.remote.insert(id, w);
                msg.to_json()
            }
        }
    }

    /// An event from the host: to this node's clients, and to the other nodes'.
    fn event(&self, stream: StreamName, seq: u64, frame: u32, bytes: &Bytes) {
        self.project.hub.fan_out(stream, seq, frame, bytes);
        self.project
            .backplane
            .publish_event(&self.project.name, stream, seq, frame, bytes);
    }

    /// Handles a JSON message from the host; returns a reply to send, if any.
    fn on_text(&mut self, bytes: Bytes) -> Option<Vec<u8>> {
        if bytes.starts_with(br#"{"type":"event""#)
            && let Ok(head) = serde_json::from_slice::<EventHead>(&bytes)
            && let Some(stream) = StreamName::parse(&head.stream)
        {
            self.event(stream, head.seq, head.frame, &bytes);
            return None;
        }
        match decode_server(&bytes) {
            Ok(ServerMessage::Event(e)) => {
                if let Some(stream) = StreamName::parse(&e.stream) {
                    self.event(stream, e.seq, e.frame, &bytes);
                }
            }
            Ok(ServerMessage::Ack(ack)) => {
                if let Some(pending) = self.commands.remove(&ack.id) {
                    pending.answer(ack);
                } else if let Some(work) = self.remote.remove(&ack.id) {
                    work.answer_ack(ack);
                }
            }
            Ok(ServerMessage::Response(resp)) => {
                if let Some(pending) = self.requests.remove(&resp.id) {
                    answer_request(pending, resp.ok, resp.data, resp.error);
                } else if let Some(work) = self.remote.remove(&resp.id) {
                    work.answer_response(resp);
                }
            }
            Ok(ServerMessage::Gap(_)) => {
                // The relay fell behind its host: everyone downstream resyncs.
                self.project.hub.resync_all();
                self.project.backplane.publish_resync(&self.project.name);
            }
            Ok(ServerMessage::Ping(p)) => {
                return Some(ClientMessage::Pong(p).to_json());
            }
            Ok(ServerMessage::Error(e)) => {
                tracing::warn!(project = %self.project.name, code = %e.code, message = %e.message, "host sent an error");
            }
            Ok(ServerMessage::Snapshot(_) | ServerMessage::Welcome(_)) => {}
            Ok(ServerMessage::Pong(_) | ServerMessage::Notice(_) | ServerMessage::Bye(_)) => {}
            Err(e) => {
                tracing::warn!(project = %self.project.name, error = %e, "undecodable message from host");
            }
        }
        None
    }

    /// A pixel tile from the host: published as-is for the other nodes, and assembled into the
    /// canvas; on the frame's last tile the frame is published through the hub (which sends
    /// each client only what changed for it) and acknowledged to the host.
    fn on_binary(&mut self, bin: &Bytes) -> Option<Vec<u8>> {
        self.project.backplane.publish_tile(&self.project.name, bin);
        match self.canvas.paint(&self.project.hub, bin) {
            Ok(Some(frame)) => Some(ClientMessage::PixelsAck(PixelsAck { frame }).to_json()),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(project = %self.project.name, error = %e, "bad tile from host");
                None
            }
        }
    }
}
