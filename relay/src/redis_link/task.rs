//! The link task: connect both connections, subscribe, then serve — deliver what arrives,
//! publish the queue in pipelined batches, refresh and re-read the registry — and on a lost
//! connection mark the backplane down, tell the projects, and reconnect with backoff.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use redis::{AsyncConnectionConfig, RedisWrite, ToRedisArgs};
use stagelink_contracts::ErrorCode;
use tokio::sync::{mpsc, watch};

use super::{
    ANSWER_TIMEOUT, BATCH, CLAIM_LUA, CONNECT_TIMEOUT, FollowRequest, IO_TIMEOUT, KEY_TTL,
    MAX_BACKOFF, MIN_BACKOFF, Outgoing, REFRESH, RELEASE_LUA, RedisLink, timed_out,
};
use crate::backplane::BackplaneHealth;
use crate::project::Project;
use crate::remote;
use crate::wire::{self, Marker, RegistryEntry};

/// What the link task listens to while connected.
struct Inputs<'a> {
    stream: &'a mut PubSubStream,
    queue: &'a mut mpsc::Receiver<Outgoing>,
    follow: &'a mut mpsc::UnboundedReceiver<FollowRequest>,
    stop: &'a mut watch::Receiver<bool>,
}

/// Why the link's serving loop ended.
enum Ended {
    Lost(String),
    Stop,
}

/// A message's header and body written as one Redis argument.
struct Joined<'a>(&'a [u8], &'a [u8]);

impl ToRedisArgs for Joined<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        use std::io::Write;
        let mut arg = out.writer_for_next_arg();
        // Writing into the command buffer cannot fail.
        let _ = arg.write_all(self.0);
        let _ = arg.write_all(self.1);
    }
}

impl RedisLink {
    /// Connects both connections.
    async fn connect(&self) -> Result<(MultiplexedConnection, PubSubSink, PubSubStream), String> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(IO_TIMEOUT);
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| e.to_string())?;
        let pubsub = tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_async_pubsub())
            .await
            .map_err(|_| timed_out("connect"))?
            .map_err(|e| e.to_string())?;
        let (sink, stream) = pubsub.split();
        Ok((conn, sink, stream))
    }

    /// The link task: connect, subscribe, serve; on loss, mark down and reconnect.
    pub(super) async fn run(
        self: Arc<Self>,
        mut queue: mpsc::Receiver<Outgoing>,
        mut follow: mpsc::UnboundedReceiver<FollowRequest>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut backoff = MIN_BACKOFF;
        let mut reported = false;
        loop {
            if *stop.borrow() || self.relay().is_none() {
                return;
            }
            let connected = tokio::select! {
                c = self.connect() => c,
                _ = stop.changed() => return,
            };
            let (mut conn, sink, mut stream) = match connected {
                Ok(c) => c,
                Err(e) => {
                    if !reported {
                        tracing::warn!(node = %self.node, error = %e, "backplane unreachable; retrying");
                        reported = true;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            backoff = MIN_BACKOFF;
            reported = false;
            // Whatever waited in the queue is stale: the other nodes resync below.
            while queue.try_recv().is_ok() {}
            *self.conn.lock() = Some(conn.clone());
            {
                let mut subs = self.subs.lock().await;
                subs.sink = Some(sink);
                subs.channels.clear();
            }
            let ended = match self.come_up(&mut conn).await {
                Ok(()) => {
                    let mut inputs = Inputs {
                        stream: &mut stream,
                        queue: &mut queue,
                        follow: &mut follow,
                        stop: &mut stop,
                    };
                    self.serve(&mut conn, &mut inputs).await
                }
                Err(e) => Ended::Lost(e),
            };
            self.go_down().await;
            match ended {
                Ended::Stop => return,
                Ended::Lost(why) => {
                    tracing::warn!(node = %self.node, %why, "backplane lost; serving local hosts and clients, reconnecting");
                }
            }
        }
    }

    /// After (re)connecting: subscribe, re-set our rows and announce our hosts, re-read the rows
    /// of the projects we follow.
    async fn come_up(self: &Arc<Self>, conn: &mut MultiplexedConnection) -> Result<(), String> {
        self.sync_subscriptions().await?;
        self.up.store(true, Relaxed);
        self.refresh_rows(conn, true).await?;
        let _ = self.health.send_replace(BackplaneHealth::Up);
        tracing::info!(node = %self.node, "backplane up");
        self.follow_rows(conn, self.followed()).await
    }

    async fn go_down(&self) {
        self.up.store(false, Relaxed);
        *self.conn.lock() = None;
        {
            // A subscription call in progress fails on the dead sink within its timeout.
            let mut subs = self.subs.lock().await;
            subs.sink = None;
            subs.channels.clear();
        }
        let _ = self.health.send_replace(BackplaneHealth::Down);
        if let Some(relay) = self.relay() {
            remote::link_lost(&relay, self);
        }
    }

    async fn serve(
        self: &Arc<Self>,
        conn: &mut MultiplexedConnection,
        inputs: &mut Inputs<'_>,
    ) -> Ended {
        let Inputs {
            stream,
            queue,
            follow,
            stop,
        } = inputs;
        let mut refresh = tokio::time::interval_at(tokio::time::Instant::now() + REFRESH, REFRESH);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                msg = stream.next() => {
                    let Some(msg) = msg else {
                        return Ended::Lost("the subscription connection closed".into());
                    };
                    self.on_message(&msg);
                }
                received = queue.recv_many(&mut batch, BATCH) => {
                    if received == 0 {
                        return Ended::Stop;
                    }
                    let sent = flush(conn, &batch).await;
                    batch.clear();
                    if let Err(e) = sent {
                        return Ended::Lost(e);
                    }
                    if self.overflowed.swap(false, Relaxed) {
                        tracing::warn!(node = %self.node, "backplane queue overflowed; other nodes resync");
                        let resync: Vec<_> = self
                            .hosted
                            .lock()
                            .keys()
                            .map(|p| Outgoing::Publish {
                                channel: wire::out_channel(p),
                                head: wire::marker_message(&self.node, &Marker::Resync),
                                body: Bytes::new(),
                            })
                            .collect();
                        if let Err(e) = flush(conn, &resync).await {
                            return Ended::Lost(e);
                        }
                    }
                }
                Some((project, done)) = follow.recv() => {
                    let projects = self.relay().and_then(|r| r.registry.get(&project));
                    if let Err(e) = self.follow_rows(conn, projects.into_iter().collect()).await {
                        return Ended::Lost(e);
                    }
                    let _ = done.send(());
                }
                _ = refresh.tick() => {
                    if self.relay().is_none() {
                        return Ended::Stop;
                    }
                    let checked = match self.refresh_rows(conn, false).await {
                        Ok(()) => self.follow_rows(conn, self.followed()).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = checked {
                        return Ended::Lost(e);
                    }
                }
                _ = stop.changed() => {
                    self.release_all(conn).await;
                    return Ended::Stop;
                }
            }
        }
    }

    fn on_message(self: &Arc<Self>, msg: &redis::Msg) {
        let Some(relay) = self.relay() else {
            return;
        };
        let channel = msg.get_channel_name();
        if let Some(project) = channel.strip_prefix(wire::OUT_PREFIX) {
            let Some(project) = relay.registry.get(project) else {
                return;
            };
            let payload = Bytes::copy_from_slice(msg.get_payload_bytes());
            match wire::decode_out(&payload) {
                Ok(out) => remote::on_out(&relay, self, &project, out),
                Err(e) => {
                    tracing::warn!(project = %project.name, error = %e, "bad backplane message")
                }
            }
        } else if channel.starts_with(wire::IN_PREFIX) {
            remote::on_in(&relay, self, msg.get_payload_bytes());
        }
    }

    /// Re-sets (`announce`: and announces) the rows of our hosts; a row another node took means
    /// our host lost the project to it.
    async fn refresh_rows(
        &self,
        conn: &mut MultiplexedConnection,
        announce: bool,
    ) -> Result<(), String> {
        let hosted: Vec<(String, String)> = self
            .hosted
            .lock()
            .iter()
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect();
        if hosted.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (project, value) in &hosted {
            pipe.cmd("EVAL")
                .arg(CLAIM_LUA)
                .arg(1)
                .arg(wire::project_key(project))
                .arg(value)
                .arg(KEY_TTL.as_millis() as u64);
        }
        let kept: Vec<i64> = tokio::time::timeout(IO_TIMEOUT, pipe.query_async(conn))
            .await
            .map_err(|_| timed_out("EVAL"))?
            .map_err(|e| e.to_string())?;
        let relay = self.relay();
        let mut markers = Vec::new();
        for ((project, value), kept) in hosted.into_iter().zip(kept) {
            if kept == 0 {
                tracing::warn!(%project, "another node holds this project now; evicting our host");
                self.hosted.lock().remove(&project);
                if let Some(p) = relay.as_ref().and_then(|r| r.registry.get(&project))
                    && let Some(evict) = p.host.lock().as_mut().and_then(|h| h.evict.take())
                {
                    let _ = evict.send(());
                }
            } else if announce && let Ok(entry) = serde_json::from_str::<RegistryEntry>(&value) {
                let marker = Marker::HostJoined {
                    host_version: entry.host_version,
                    since: entry.since,
                };
                markers.push(Outgoing::Publish {
                    channel: wire::out_channel(&project),
                    head: wire::marker_message(&self.node, &marker),
                    body: Bytes::new(),
                });
            }
        }
        flush(conn, &markers).await
    }

    /// Every project without a host here.
    fn followed(&self) -> Vec<Arc<Project>> {
        self.relay().map_or_else(Vec::new, |relay| {
            relay
                .registry
                .all()
                .into_iter()
                .filter(|p| p.host.lock().is_none())
                .collect()
        })
    }

    /// Reads the rows of `projects` and follows whoever holds them.
    async fn follow_rows(
        self: &Arc<Self>,
        conn: &mut MultiplexedConnection,
        projects: Vec<Arc<Project>>,
    ) -> Result<(), String> {
        let Some(relay) = self.relay() else {
            return Ok(());
        };
        if projects.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = projects
            .iter()
            .map(|p| wire::project_key(&p.name))
            .collect();
        let values: Vec<Option<String>> =
            tokio::time::timeout(IO_TIMEOUT, redis::cmd("MGET").arg(&keys).query_async(conn))
                .await
                .map_err(|_| timed_out("MGET"))?
                .map_err(|e| e.to_string())?;
        for (project, value) in projects.iter().zip(values) {
            let entry = value.and_then(|v| serde_json::from_str(&v).ok());
            remote::apply_registry(&relay, self, project, entry);
        }
        Ok(())
    }

    /// On shutdown: release our rows and say `host_left` (best effort).
    async fn release_all(&self, conn: &mut MultiplexedConnection) {
        let hosted: Vec<(String, String)> = self.hosted.lock().drain().collect();
        let mut items = Vec::new();
        for (project, value) in hosted {
            items.push(Outgoing::ReleaseRow {
                key: wire::project_key(&project),
                value,
            });
            items.push(Outgoing::Publish {
                channel: wire::out_channel(&project),
                head: wire::marker_message(&self.node, &Marker::HostLeft),
                body: Bytes::new(),
            });
        }
        let _ = flush(conn, &items).await;
    }

    /// Times out forwarded work nobody answered.
    pub(super) async fn sweep(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    for call in self.calls.expired(tokio::time::Instant::now()) {
                        remote::fail_call(
                            call,
                            ErrorCode::Timeout,
                            &format!("the host did not answer within {} s", ANSWER_TIMEOUT.as_secs()),
                        );
                    }
                }
                _ = stop.changed() => return,
            }
        }
    }
}

/// Sends a batch in one pipelined round trip.
async fn flush(conn: &mut MultiplexedConnection, batch: &[Outgoing]) -> Result<(), String> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for item in batch {
        match item {
            Outgoing::Publish {
                channel,
                head,
                body,
            } => pipe
                .cmd("PUBLISH")
                .arg(channel)
                .arg(Joined(head, body))
                .ignore(),
            Outgoing::SetRow { key, value } => pipe
                .cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(KEY_TTL.as_millis() as u64)
                .ignore(),
            Outgoing::ReleaseRow { key, value } => pipe
                .cmd("EVAL")
                .arg(RELEASE_LUA)
                .arg(1)
                .arg(key)
                .arg(value)
                .ignore(),
        };
    }
    tokio::time::timeout(IO_TIMEOUT, pipe.query_async::<()>(conn))
        .await
        .map_err(|_| timed_out("PUBLISH"))?
        .map_err(|e| e.to_string())
}
