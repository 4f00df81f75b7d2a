//! The background task behind a [`crate::Client`]: connect, say hello, serve the connection, and
//! when it drops, reconnect with backoff and resynchronise — until closed for good.
//!
//! ```text
//!  Client handles ──Op──▶ Driver::run ──┬─ connect + hello + welcome (one attempt)
//!                                       ├─ Connection::serve   (until lost or closed)
//!                                       └─ backoff wait        (calls fail with Disconnected)
//!  consumers ◀── broadcast ClientEvent / PixelFrame ◀── Shared::publish (model kept in step)
//! ```

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::StreamExt;
use stagelink_contracts::{
    Ack, ClientMessage, Command, ErrorCode, ErrorMessage, Hello, PROTOCOL_VERSION, PeerInfo, Ping,
    Response, ServerMessage, Welcome, decode_server,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::config::ClientConfig;
use crate::connection::{Connection, End};
use crate::endpoint::Target;
use crate::error::{ClientError, CloseReason};
use crate::event::{ClientEvent, ConnectionState};
use crate::pixels::PixelFrame;
use crate::state::ClientState;
use crate::subscriptions::Subscriptions;
use crate::transport::{self, Incoming, Reader, Writer};

/// What a client handle asks the driver to do.
#[derive(Debug)]
pub(crate) enum Op {
    Request {
        id: u64,
        what: String,
        reply: oneshot::Sender<Result<Response, ClientError>>,
    },
    Command {
        id: u64,
        command: Command,
        reply: oneshot::Sender<Result<Ack, ClientError>>,
    },
    Subscribe {
        streams: Vec<String>,
        snapshot: bool,
    },
    Unsubscribe {
        streams: Vec<String>,
    },
    Resync,
    Close,
}

/// The consumers' side, behind one lock so that taking a copy of the model and subscribing to
/// what follows it is atomic ([`crate::Client::subscribe_state`]).
pub(crate) struct Fanout {
    /// Kept in step with every event published.
    pub(crate) model: ClientState,
    /// `None` once the driver has stopped, so every stream ends.
    pub(crate) events: Option<broadcast::Sender<ClientEvent>>,
    pub(crate) pixels: Option<broadcast::Sender<Arc<PixelFrame>>>,
}

/// What the client handles and the driver share.
pub(crate) struct Shared {
    pub(crate) config: ClientConfig,
    pub(crate) target: Target,
    pub(crate) client_id: String,
    /// Request and command ids (one counter: ids never collide across kinds).
    pub(crate) next_id: AtomicU64,
    pub(crate) state: watch::Sender<ConnectionState>,
    pub(crate) welcome: Mutex<Option<Arc<Welcome>>>,
    pub(crate) fanout: Mutex<Fanout>,
}

/// Locks a mutex whose data stays consistent even if a holder panicked (every critical section
/// here is a few assignments).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(config: ClientConfig, target: Target, client_id: String) -> Self {
        let capacity = config.channel_capacity.max(1);
        let (events, _) = broadcast::channel(capacity);
        let (pixels, _) = broadcast::channel(capacity.min(64));
        let (state, _) = watch::channel(ConnectionState::Connecting);
        Self {
            config,
            target,
            client_id,
            next_id: AtomicU64::new(1),
            state,
            welcome: Mutex::new(None),
            fanout: Mutex::new(Fanout {
                model: ClientState::new(),
                events: Some(events),
                pixels: Some(pixels),
            }),
        }
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Applies an event to the model and hands it to every consumer.
    pub(crate) fn publish(&self, event: ClientEvent) {
        let mut fanout = lock(&self.fanout);
        fanout.model.apply(&event);
        if let Some(tx) = &fanout.events {
            // No receiver is fine: nobody is listening right now.
            let _ = tx.send(event);
        }
    }

    pub(crate) fn publish_pixels(&self, frame: PixelFrame) {
        if let Some(tx) = &lock(&self.fanout).pixels {
            let _ = tx.send(Arc::new(frame));
        }
    }

    pub(crate) fn set_state(&self, state: ConnectionState) {
        self.state.send_replace(state);
    }
}

/// Why a connection attempt did not produce a session.
enum Attempt {
    /// Worth retrying (refused, timed out, dropped).
    Failed(String),
    /// The server refused for a reason retrying cannot fix.
    Fatal(CloseReason),
    /// The client was closed meanwhile.
    Cancelled,
}

/// The task behind a client.
pub(crate) struct Driver {
    shared: Arc<Shared>,
    ops: mpsc::UnboundedReceiver<Op>,
    subs: Subscriptions,
}

impl Driver {
    pub(crate) fn new(shared: Arc<Shared>, ops: mpsc::UnboundedReceiver<Op>) -> Self {
        let subs = Subscriptions::new(&shared.config.subscribe);
        Self { shared, ops, subs }
    }

    /// Runs until the client is closed for good.
    pub(crate) async fn run(mut self) {
        let mut backoff = Backoff::new(self.shared.config.reconnect.clone());
        let mut ever_connected = false;
        loop {
            let last_error = match self.attempt(ever_connected).await {
                Ok((writer, reader, welcome)) => {
                    backoff.reset();
                    let resync = ever_connected;
                    ever_connected = true;
                    *lock(&self.shared.welcome) = Some(welcome.clone());
                    self.shared.publish(ClientEvent::Welcome(welcome.clone()));
                    let mut connection = Connection::new(
                        self.shared.clone(),
                        writer,
                        reader,
                        &welcome,
                        &self.subs,
                        self.wants_snapshot(resync),
                        resync,
                    );
                    let end = connection.serve(&mut self.ops, &mut self.subs).await;
                    connection.fail_pending();
                    match end {
                        End::Closed(reason) => return self.finish(reason),
                        End::Lost(why) => {
                            tracing::info!(reason = %why, "connection lost; reconnecting");
                            self.shared.publish(ClientEvent::Disconnected(why.clone()));
                            why
                        }
                    }
                }
                Err(Attempt::Fatal(reason)) => return self.finish(reason),
                Err(Attempt::Cancelled) => return self.finish(CloseReason::Requested),
                Err(Attempt::Failed(e)) => {
                    if !ever_connected && !self.shared.config.reconnect.retry_first_connect {
                        return self.finish(CloseReason::ConnectFailed(e));
                    }
                    tracing::debug!(error = %e, "connection attempt failed");
                    e
                }
            };
            let Some(delay) = backoff.next_delay() else {
                return self.finish(CloseReason::GaveUp {
                    attempts: backoff.attempts(),
                    last_error,
                });
            };
            self.shared.set_state(ConnectionState::Reconnecting {
                attempt: backoff.attempts(),
            });
            if !self.wait(delay).await {
                return self.finish(CloseReason::Requested);
            }
        }
    }

    fn wants_snapshot(&self, resync: bool) -> bool {
        // A reconnect always resynchronises from a snapshot: never a silent hole.
        resync || self.shared.config.snapshot
    }

    fn hello(&self, resync: bool) -> Hello {
        let config = &self.shared.config;
        Hello {
            protocol: PROTOCOL_VERSION,
            project: config
                .project
                .clone()
                .or_else(|| self.shared.target.project.clone()),
            client: PeerInfo {
                id: Some(self.shared.client_id.clone()),
                name: Some(config.client_name.clone()),
                version: Some(config.client_version.clone()),
            },
            role: config.role,
            token: config
                .token
                .clone()
                .or_else(|| self.shared.target.token.clone()),
            subscribe: (!self.subs.is_empty()).then(|| self.subs.to_list()),
            snapshot: self.wants_snapshot(resync),
            takeover: false,
        }
    }

    /// One connection attempt, up to `welcome`, while still answering the handles.
    async fn attempt(&mut self, resync: bool) -> Result<(Writer, Reader, Arc<Welcome>), Attempt> {
        let hello = ClientMessage::Hello(self.hello(resync));
        let endpoint = self.shared.target.endpoint.clone();
        let config = self.shared.config.clone();
        let timeout = config.connect_timeout;
        let handshake = async move {
            let (mut writer, mut reader) = transport::connect(&endpoint, &config)
                .await
                .map_err(Attempt::Failed)?;
            writer
                .send_text(to_text(&hello))
                .await
                .map_err(Attempt::Failed)?;
            loop {
                let message = match reader.next().await {
                    None => return Err(Attempt::Failed("closed before welcome".into())),
                    Some(Err(e)) => return Err(Attempt::Failed(e)),
                    Some(Ok(Incoming::Closed { code, reason })) => {
                        return Err(match classify_close(code, &reason) {
                            End::Closed(r) => Attempt::Fatal(r),
                            End::Lost(why) => Attempt::Failed(why),
                        });
                    }
                    Some(Ok(Incoming::Binary(_))) => continue,
                    Some(Ok(Incoming::Text(text))) => decode_server(&text),
                };
                match message {
                    Ok(ServerMessage::Welcome(w)) => return Ok((writer, reader, Arc::new(w))),
                    Ok(ServerMessage::Error(e)) => return Err(refused(e)),
                    Ok(ServerMessage::Ping(p)) => {
                        let pong = to_text(&ClientMessage::Pong(p));
                        writer.send_text(pong).await.map_err(Attempt::Failed)?;
                    }
                    Ok(other) => tracing::debug!(?other, "ignored before welcome"),
                    Err(e) => tracing::debug!(error = %e, "undecodable message before welcome"),
                }
            }
        };
        let handshake = tokio::time::timeout(timeout, handshake);
        tokio::pin!(handshake);
        loop {
            tokio::select! {
                result = &mut handshake => {
                    return match result {
                        Ok(r) => r,
                        Err(_) => Err(Attempt::Failed(format!("no welcome within {timeout:?}"))),
                    };
                }
                op = self.ops.recv() => match op {
                    None | Some(Op::Close) => return Err(Attempt::Cancelled),
                    Some(op) => self.refuse(op),
                },
            }
        }
    }

    /// Waits out a backoff delay, answering handles meanwhile. `false` when closed.
    async fn wait(&mut self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return true,
                op = self.ops.recv() => match op {
                    None | Some(Op::Close) => return false,
                    Some(op) => self.refuse(op),
                },
            }
        }
    }

    /// Handles an op while there is no session: calls fail at once, subscriptions are
    /// remembered for the next `hello`.
    fn refuse(&mut self, op: Op) {
        match op {
            Op::Request { reply, .. } => {
                let _ = reply.send(Err(ClientError::Disconnected));
            }
            Op::Command { reply, .. } => {
                let _ = reply.send(Err(ClientError::Disconnected));
            }
            Op::Subscribe { streams, .. } => self.subs.add(&streams),
            Op::Unsubscribe { streams } => self.subs.remove(&streams),
            // The next connection resynchronises anyway.
            Op::Resync | Op::Close => {}
        }
    }

    fn finish(mut self, reason: CloseReason) {
        tracing::debug!(%reason, "client closed");
        self.ops.close();
        while let Ok(op) = self.ops.try_recv() {
            self.refuse(op);
        }
        self.shared.set_state(ConnectionState::Closed(reason));
        let mut fanout = lock(&self.shared.fanout);
        fanout.events = None;
        fanout.pixels = None;
    }
}

/// JSON text of a client message.
pub(crate) fn to_text(message: &ClientMessage) -> String {
    // Our own message types always serialize.
    serde_json::to_string(message).unwrap_or_default()
}

/// Error codes after which reconnecting cannot succeed, or would fight the session that
/// replaced this one (protocol §13).
pub(crate) fn forbids_reconnect(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::SessionReplaced
            | ErrorCode::AuthFailed
            | ErrorCode::ProtocolVersion
            | ErrorCode::UnknownProject
            | ErrorCode::ProjectTaken
    )
}

/// What a close code means for reconnecting.
pub(crate) fn classify_close(code: Option<u16>, reason: &str) -> End {
    match code.and_then(ErrorCode::from_close_code) {
        Some(code) if forbids_reconnect(code) => End::Closed(CloseReason::Fatal {
            code,
            message: reason.to_owned(),
        }),
        _ => End::Lost(match code {
            Some(c) => format!("closed by the server ({c}: {reason})"),
            None => reason.to_owned(),
        }),
    }
}

/// An error before `welcome`: the hello was refused. Retrying only helps when the server was
/// going away.
fn refused(e: ErrorMessage) -> Attempt {
    if e.code == ErrorCode::Shutdown || e.code == ErrorCode::IdleTimeout {
        Attempt::Failed(format!("{}: {}", e.code, e.message))
    } else {
        Attempt::Fatal(CloseReason::Fatal {
            code: e.code,
            message: e.message,
        })
    }
}

/// A `ping` we send: `t` is milliseconds since the connection started.
pub(crate) fn ping(started: Instant) -> ClientMessage {
    ClientMessage::Ping(Ping {
        t: started.elapsed().as_millis() as u64,
    })
}
