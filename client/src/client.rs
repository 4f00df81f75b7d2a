//! [`Client`]: the handle applications use. Cheap to clone; the connection lives in a background
//! task ([`crate::driver`]) that stops when the last handle is dropped or [`Client::close`] is
//! called.

use std::sync::Arc;
use std::time::Duration;

use stagelink_contracts::{
    Ack, AckStatus, Command, ErrorBody, ErrorCode, MovieState, StageSnapshot, StreamItem, Welcome,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::ClientConfig;
use crate::driver::{Driver, Op, Shared, lock};
use crate::endpoint::{Endpoint, Target};
use crate::error::{ClientError, CloseReason};
use crate::event::ConnectionState;
use crate::requests::{MovieStateQuery, ProjectQuery, Query, SessionStats, StageQuery, StatsQuery};
use crate::state::ClientState;
use crate::streams::{EventStream, PixelFrameStream, TypedStream};

/// A connection to a Stagelink host or relay, over any transport.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    ops: mpsc::UnboundedSender<Op>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.shared.target.endpoint)
            .field("client_id", &self.shared.client_id)
            .field("state", &*self.shared.state.borrow())
            .finish()
    }
}

impl Client {
    /// Connects, says hello and waits for `welcome` (and the first snapshot, when
    /// `config.snapshot` asks for one). From then on the client reconnects by itself when the
    /// connection drops.
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`] for a URL it cannot use; [`ClientError::Closed`] when the first
    /// connection fails (unless `reconnect.retry_first_connect`) or the server refuses the
    /// session (`auth_failed`, `unknown_project`, …).
    pub async fn connect(config: ClientConfig) -> Result<Client, ClientError> {
        let target = Target::parse(&config.url)?;
        let client_id = config
            .client_id
            .clone()
            .unwrap_or_else(|| format!("{}-{:08x}", config.client_name, rand::random::<u32>()));
        let shared = Arc::new(Shared::new(config, target, client_id));
        let (ops, ops_rx) = mpsc::unbounded_channel();
        let mut state = shared.state.subscribe();
        tokio::spawn(Driver::new(shared.clone(), ops_rx).run());
        let client = Client { shared, ops };
        loop {
            match &*state.borrow_and_update() {
                ConnectionState::Connected => return Ok(client),
                ConnectionState::Closed(reason) => return Err(ClientError::Closed(reason.clone())),
                _ => {}
            }
            if state.changed().await.is_err() {
                return Err(ClientError::Closed(CloseReason::Requested));
            }
        }
    }

    /// Watches the connection state (`Connecting`, `Connected`, `Reconnecting`, `Closed`).
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.shared.state.subscribe()
    }

    /// The connection state now.
    pub fn connection_state(&self) -> ConnectionState {
        self.shared.state.borrow().clone()
    }

    /// Waits until the state satisfies `done`, at most `timeout`; returns that state.
    ///
    /// # Errors
    /// [`ClientError::Timeout`] when it does not happen in time.
    pub async fn wait_for_state(
        &self,
        timeout: Duration,
        done: impl Fn(&ConnectionState) -> bool,
    ) -> Result<ConnectionState, ClientError> {
        let mut rx = self.state();
        let wait = rx.wait_for(|s| done(s));
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(state)) => Ok(state.clone()),
            Ok(Err(_)) => Ok(self.connection_state()),
            Err(_) => Err(ClientError::Timeout {
                what: format!("connection state (now {:?})", self.connection_state()),
                after: timeout,
            }),
        }
    }

    /// The latest `welcome` (the current session's, after a reconnect).
    pub fn welcome(&self) -> Option<Arc<Welcome>> {
        lock(&self.shared.welcome).clone()
    }

    /// Where the client connects.
    pub fn endpoint(&self) -> &Endpoint {
        &self.shared.target.endpoint
    }

    /// The `hello.client.id` this client uses on every connection.
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// Every event from now on: stream events, snapshots, resyncs, gaps, notices, errors.
    pub fn events(&self) -> EventStream {
        EventStream::new(
            lock(&self.shared.fanout)
                .events
                .as_ref()
                .map(|tx| tx.subscribe()),
        )
    }

    /// The events of one stream from now on, items decoded: `client.stream::<SpriteDelta>()`.
    pub fn stream<T: StreamItem>(&self) -> TypedStream<T> {
        TypedStream::new(self.events())
    }

    /// Decoded stage images (subscribe to `pixels` first). Each frame is acknowledged to the
    /// server when its last tile arrives, whether or not anyone reads this stream.
    pub fn pixel_frames(&self) -> PixelFrameStream {
        PixelFrameStream::new(
            lock(&self.shared.fanout)
                .pixels
                .as_ref()
                .map(|tx| tx.subscribe()),
        )
    }

    /// The local model of the stage now, and every event after it — taken atomically, so
    /// applying the stream's events to the model keeps it exact.
    pub fn subscribe_state(&self) -> (ClientState, EventStream) {
        let fanout = lock(&self.shared.fanout);
        let stream = EventStream::new(fanout.events.as_ref().map(|tx| tx.subscribe()));
        (fanout.model.clone(), stream)
    }

    /// A copy of the local model of the stage now.
    pub fn current_state(&self) -> ClientState {
        lock(&self.shared.fanout).model.clone()
    }

    fn send_op(&self, op: Op) -> Result<(), ClientError> {
        self.ops.send(op).map_err(|_| self.closed_error())
    }

    fn closed_error(&self) -> ClientError {
        match self.connection_state() {
            ConnectionState::Closed(reason) => ClientError::Closed(reason),
            _ => ClientError::Disconnected,
        }
    }

    /// Sends a request and waits for its `data` (many may be in flight; ids correlate).
    ///
    /// # Errors
    /// [`ClientError::Server`] for `ok:false`, [`ClientError::Timeout`] after
    /// `request_timeout`, [`ClientError::Disconnected`] when the connection drops first,
    /// [`ClientError::Decode`] when the data does not have the query's shape.
    pub async fn request<Q: Query>(&self, _query: Q) -> Result<Q::Data, ClientError> {
        let data = self.request_raw(Q::WHAT).await?;
        serde_json::from_value(data).map_err(|e| ClientError::Decode {
            what: Q::WHAT.to_owned(),
            message: e.to_string(),
        })
    }

    /// Sends a request by name and returns its raw `data`.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub async fn request_raw(&self, what: &str) -> Result<serde_json::Value, ClientError> {
        let id = self.shared.next_id();
        let (reply, rx) = oneshot::channel();
        self.send_op(Op::Request {
            id,
            what: what.to_owned(),
            reply,
        })?;
        let timeout = self.shared.config.request_timeout;
        let response = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r?,
            Ok(Err(_)) => return Err(self.closed_error()),
            Err(_) => {
                return Err(ClientError::Timeout {
                    what: format!("request {id} `{what}`"),
                    after: timeout,
                });
            }
        };
        if response.ok {
            Ok(response.data.unwrap_or(serde_json::Value::Null))
        } else {
            Err(ClientError::Server(response.error.unwrap_or_else(|| {
                ErrorBody::new(ErrorCode::Internal, "response without data or error")
            })))
        }
    }

    /// `movie_state`.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub async fn movie_state(&self) -> Result<MovieState, ClientError> {
        self.request(MovieStateQuery).await
    }

    /// `stage` (does not touch the local model; see [`Client::resync`] for that).
    ///
    /// # Errors
    /// As [`Client::request`].
    pub async fn stage(&self) -> Result<StageSnapshot, ClientError> {
        self.request(StageQuery).await
    }

    /// `project`.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub async fn project(&self) -> Result<serde_json::Value, ClientError> {
        self.request(ProjectQuery).await
    }

    /// `stats`.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub async fn stats(&self) -> Result<SessionStats, ClientError> {
        self.request(StatsQuery).await
    }

    /// Sends a command and waits for its ack (`applied`, `rejected` or `busy`), at most
    /// `command_timeout`.
    ///
    /// # Errors
    /// [`ClientError::Timeout`] when no ack comes in time, [`ClientError::Disconnected`] when the
    /// connection drops first (the command may or may not have been applied).
    pub async fn command(&self, command: Command) -> Result<Ack, ClientError> {
        self.command_with_timeout(command, self.shared.config.command_timeout)
            .await
    }

    /// [`Client::command`] with its own timeout.
    ///
    /// # Errors
    /// As [`Client::command`].
    pub async fn command_with_timeout(
        &self,
        command: Command,
        timeout: Duration,
    ) -> Result<Ack, ClientError> {
        let id = self.shared.next_id();
        let kind = command.kind();
        let (reply, rx) = oneshot::channel();
        self.send_op(Op::Command { id, command, reply })?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(ack)) => ack,
            Ok(Err(_)) => Err(self.closed_error()),
            Err(_) => Err(ClientError::Timeout {
                what: format!("command {id} `{kind}`"),
                after: timeout,
            }),
        }
    }

    /// [`Client::command`], treating `rejected` and `busy` as errors.
    ///
    /// # Errors
    /// As [`Client::command`], plus [`ClientError::Server`] with the ack's error.
    pub async fn command_applied(&self, command: Command) -> Result<Ack, ClientError> {
        let ack = self.command(command).await?;
        match ack.status {
            AckStatus::Applied => Ok(ack),
            AckStatus::Rejected | AckStatus::Busy => {
                Err(ClientError::Server(ack.error.unwrap_or_else(|| {
                    ErrorBody::new(
                        ErrorCode::Internal,
                        format!("command {}", ack.status.as_str()),
                    )
                })))
            }
        }
    }

    /// Adds streams (`"*"` for all); with `snapshot`, a [`crate::ClientEvent::Snapshot`]
    /// precedes their events. Kept across reconnects.
    ///
    /// # Errors
    /// [`ClientError::Closed`] when the client has stopped.
    pub fn subscribe<S: AsRef<str>>(
        &self,
        streams: &[S],
        snapshot: bool,
    ) -> Result<(), ClientError> {
        self.send_op(Op::Subscribe {
            streams: streams.iter().map(|s| s.as_ref().to_owned()).collect(),
            snapshot,
        })
    }

    /// Removes streams (`"*"` for all).
    ///
    /// # Errors
    /// [`ClientError::Closed`] when the client has stopped.
    pub fn unsubscribe<S: AsRef<str>>(&self, streams: &[S]) -> Result<(), ClientError> {
        self.send_op(Op::Unsubscribe {
            streams: streams.iter().map(|s| s.as_ref().to_owned()).collect(),
        })
    }

    /// Asks for a fresh `stage` and publishes it as [`crate::ClientEvent::Resynced`] — what a
    /// consumer that lagged behind calls.
    ///
    /// # Errors
    /// [`ClientError::Closed`] when the client has stopped.
    pub fn resync(&self) -> Result<(), ClientError> {
        self.send_op(Op::Resync)
    }

    /// Says `bye`, closes the connection and stops reconnecting; waits until done.
    pub async fn close(&self) {
        if self.ops.send(Op::Close).is_ok() {
            let mut rx = self.state();
            let _ = rx.wait_for(ConnectionState::is_closed).await;
        }
    }
}
