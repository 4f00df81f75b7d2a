//! One node's link to Redis: a pub/sub connection for its subscriptions and a multiplexed
//! connection for `PUBLISH` and the registry keys, kept up by a task that reconnects and
//! resubscribes by itself.
//!
//! Everything this node publishes goes through one ordered queue, sent in pipelined batches: a
//! host's events and the answers to forwarded requests leave in the order the host sent them,
//! and Redis delivers them to each subscriber in that order — so a remote client's snapshot
//! (a forwarded `stage` answer) and the live events after it line up exactly as on one node.
//! While Redis is unreachable nothing is queued; when it returns every node resyncs what it may
//! have missed (`host_joined` markers from the hosts' nodes, registry checks everywhere else).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use parking_lot::Mutex;
use redis::aio::{MultiplexedConnection, PubSubSink};
use stagelink_contracts::StreamName;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::backplane::BackplaneHealth;
use crate::project::{Project, ToHost, reject_no_host};
use crate::remote::{self, Call};
use crate::server::Relay;
use crate::wire::{self, InMessage, Marker, RegistryEntry};

mod task;

/// Messages waiting to be published; past this the newest are dropped and remote clients
/// resync.
const QUEUE: usize = 8192;
/// Most messages in one pipelined round trip.
const BATCH: usize = 512;
/// A registry row lives this long unless its node refreshes it.
pub(crate) const KEY_TTL: Duration = Duration::from_secs(15);
/// How often a node refreshes its rows and re-reads the rows of the projects it follows.
const REFRESH: Duration = Duration::from_secs(5);
/// A forwarded command or request not answered within this gets `timeout`.
pub(crate) const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a host admission waits for the holder node to answer a claim.
const CLAIM_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const IO_TIMEOUT: Duration = Duration::from_secs(3);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long `start` waits for the first connection before serving with the backplane down.
const FIRST_CONNECT: Duration = Duration::from_secs(3);

/// Sets a row while it is ours or missing (after a Redis restart); 0 = another node has it.
const CLAIM_LUA: &str = "local v = redis.call('GET', KEYS[1]) \
    if (not v) or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end \
    return 0";
/// Deletes a row only while it is ours.
const RELEASE_LUA: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
    return redis.call('DEL', KEYS[1]) end return 0";

/// A project to look up and follow, and who waits for it.
pub(crate) type FollowRequest = (String, oneshot::Sender<()>);

/// One item of the ordered publish queue.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// `head` and `body` are sent as one message (the body is never copied into a new buffer).
    Publish {
        channel: String,
        head: Vec<u8>,
        body: Bytes,
    },
    /// A host connected here: this node holds the project now.
    SetRow { key: String, value: String },
    /// Our host left: drop the row if it is still ours.
    ReleaseRow { key: String, value: String },
}

/// The pub/sub side: the sink of the current connection and what it is subscribed to.
#[derive(Default)]
struct Subscriptions {
    sink: Option<PubSubSink>,
    channels: HashSet<String>,
}

/// A node's Redis link.
pub(crate) struct RedisLink {
    pub(crate) node: String,
    client: redis::Client,
    queue: mpsc::Sender<Outgoing>,
    /// Taken by the link task when the node starts.
    queue_rx: Mutex<Option<mpsc::Receiver<Outgoing>>>,
    /// Projects to look up in the registry and follow. The link task does it, between the
    /// messages it receives, so a registry read can never undo a newer marker.
    follow: mpsc::UnboundedSender<FollowRequest>,
    follow_rx: Mutex<Option<mpsc::UnboundedReceiver<FollowRequest>>>,
    /// Whether the link is connected and subscribed (nothing is queued otherwise).
    up: AtomicBool,
    health: watch::Sender<BackplaneHealth>,
    /// Set when the queue was full and messages were dropped: remote clients must resync.
    overflowed: AtomicBool,
    /// The current command connection (cheap to clone), for lookups outside the link task.
    conn: Mutex<Option<MultiplexedConnection>>,
    subs: tokio::sync::Mutex<Subscriptions>,
    /// Work forwarded to other nodes, waiting for answers.
    pub(crate) calls: remote::Calls,
    /// Registry rows this node wrote, by project (re-set after a reconnect, refreshed, released).
    hosted: Mutex<HashMap<String, String>>,
    relay: OnceLock<Weak<Relay>>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink")
            .field("node", &self.node)
            .field("health", &*self.health.borrow())
            .field("calls", &self.calls.len())
            .finish()
    }
}

fn timed_out(what: &str) -> String {
    format!(
        "{what}: no answer from Redis within {} s",
        IO_TIMEOUT.as_secs()
    )
}

impl RedisLink {
    /// A link for `node` to the Redis at `client` (not connected until started).
    pub(crate) fn new(client: redis::Client, node: &str) -> Arc<Self> {
        let (queue, queue_rx) = mpsc::channel(QUEUE);
        let (follow, follow_rx) = mpsc::unbounded_channel();
        let (health, _) = watch::channel(BackplaneHealth::Down);
        let (stop, _) = watch::channel(false);
        Arc::new(Self {
            node: node.to_owned(),
            client,
            queue,
            queue_rx: Mutex::new(Some(queue_rx)),
            follow,
            follow_rx: Mutex::new(Some(follow_rx)),
            up: AtomicBool::new(false),
            health,
            overflowed: AtomicBool::new(false),
            conn: Mutex::new(None),
            subs: tokio::sync::Mutex::new(Subscriptions::default()),
            calls: remote::Calls::default(),
            hosted: Mutex::new(HashMap::new()),
            relay: OnceLock::new(),
            stop,
            tasks: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn health(&self) -> BackplaneHealth {
        *self.health.borrow()
    }

    pub(crate) fn health_watch(&self) -> watch::Receiver<BackplaneHealth> {
        self.health.subscribe()
    }

    fn is_up(&self) -> bool {
        self.up.load(Relaxed)
    }

    fn relay(&self) -> Option<Arc<Relay>> {
        self.relay.get().and_then(Weak::upgrade)
    }

    /// Starts the link and sweeper tasks; waits briefly for the first connection.
    pub(crate) async fn start(self: &Arc<Self>, relay: &Arc<Relay>) {
        let _ = self.relay.set(Arc::downgrade(relay));
        let (Some(queue), Some(follow)) =
            (self.queue_rx.lock().take(), self.follow_rx.lock().take())
        else {
            return;
        };
        let mut health = self.health.subscribe();
        let link = tokio::spawn(self.clone().run(queue, follow, self.stop.subscribe()));
        let sweeper = tokio::spawn(self.clone().sweep(self.stop.subscribe()));
        self.tasks.lock().extend([link, sweeper]);
        let _ = tokio::time::timeout(
            FIRST_CONNECT,
            health.wait_for(|h| *h == BackplaneHealth::Up),
        )
        .await;
    }

    /// Releases this node's rows, says `host_left` for its hosts, and stops the tasks.
    pub(crate) async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let tasks: Vec<_> = self.tasks.lock().drain(..).collect();
        for mut task in tasks {
            if tokio::time::timeout(Duration::from_secs(3), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }

    fn enqueue(&self, item: Outgoing) {
        if !self.is_up() {
            return;
        }
        match self.queue.try_send(item) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.overflowed.store(true, Relaxed),
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    pub(crate) fn publish_event(
        &self,
        project: &str,
        stream: StreamName,
        seq: u64,
        frame: u32,
        bytes: &Bytes,
    ) {
        self.enqueue(Outgoing::Publish {
            channel: wire::out_channel(project),
            head: wire::event_header(&self.node, stream, seq, frame),
            body: bytes.clone(),
        });
    }

    pub(crate) fn publish_tile(&self, project: &str, bytes: &Bytes) {
        self.enqueue(Outgoing::Publish {
            channel: wire::out_channel(project),
            head: wire::tile_header(&self.node),
            body: bytes.clone(),
        });
    }

    pub(crate) fn publish_marker(&self, project: &str, marker: &Marker) {
        self.enqueue(Outgoing::Publish {
            channel: wire::out_channel(project),
            head: wire::marker_message(&self.node, marker),
            body: Bytes::new(),
        });
    }

    pub(crate) fn send_in(&self, node: &str, msg: &InMessage) {
        let body = serde_json::to_vec(msg).unwrap_or_default();
        self.enqueue(Outgoing::Publish {
            channel: wire::in_channel(node),
            head: Vec::new(),
            body: Bytes::from(body),
        });
    }

    /// A host connected to this node: write the registry row and tell the other nodes.
    pub(crate) fn host_joined(&self, project: &Project) {
        let Some(slot) = project
            .host
            .lock()
            .as_ref()
            .map(|h| (h.version.clone(), h.since))
        else {
            return;
        };
        let since = unix_secs(slot.1);
        let entry = RegistryEntry {
            node: self.node.clone(),
            host_version: slot.0.clone(),
            since,
        };
        let value = serde_json::to_string(&entry).unwrap_or_default();
        self.hosted
            .lock()
            .insert(project.name.clone(), value.clone());
        self.enqueue(Outgoing::SetRow {
            key: wire::project_key(&project.name),
            value,
        });
        self.publish_marker(
            &project.name,
            &Marker::HostJoined {
                host_version: slot.0,
                since,
            },
        );
    }

    /// This node's host of `project` left: release the row (if still ours) and tell the others.
    pub(crate) fn host_left(&self, project: &Project) {
        if let Some(value) = self.hosted.lock().remove(&project.name) {
            self.enqueue(Outgoing::ReleaseRow {
                key: wire::project_key(&project.name),
                value,
            });
        }
        self.publish_marker(&project.name, &Marker::HostLeft);
    }

    /// Stops refreshing a row another node has taken.
    pub(crate) fn forget_hosted(&self, project: &str) {
        self.hosted.lock().remove(project);
    }

    /// Sends a client's command or request to the node holding the host.
    pub(crate) fn forward(&self, project: &str, node: &str, work: ToHost) {
        if !self.is_up() {
            return reject_no_host(work);
        }
        let origin = self.node.clone();
        let (call, message): (Call, Box<dyn FnOnce(u64) -> InMessage>) = match work {
            ToHost::Command(c) => {
                let (project, command) = (project.to_owned(), c.command.clone());
                (
                    Call::Command(c),
                    Box::new(move |corr| InMessage::Command {
                        project,
                        origin,
                        corr,
                        command,
                    }),
                )
            }
            ToHost::Request(r) => {
                let (project, what) = (project.to_owned(), r.kind.what().to_owned());
                (
                    Call::Request(r),
                    Box::new(move |corr| InMessage::Request {
                        project,
                        origin,
                        corr,
                        what,
                    }),
                )
            }
            // Work from another node is never forwarded again.
            remote @ ToHost::Remote(_) => return reject_no_host(remote),
        };
        let corr = self.calls.insert(project, node, call, ANSWER_TIMEOUT);
        self.send_in(node, &message(corr));
    }

    /// Asks the node holding `project` whether it still does (with `takeover`: to let it go).
    /// `false` when it does not answer: a node that cannot answer cannot hold a host either.
    pub(crate) async fn claim(&self, project: &str, holder: &str, takeover: bool) -> bool {
        if !self.is_up() {
            return false;
        }
        let (tx, rx) = oneshot::channel();
        let corr = self
            .calls
            .insert(project, holder, Call::Claim(tx), CLAIM_TIMEOUT);
        self.send_in(
            holder,
            &InMessage::Claim {
                project: project.to_owned(),
                origin: self.node.clone(),
                corr,
                takeover,
            },
        );
        matches!(rx.await, Ok(true))
    }

    fn connection(&self) -> Result<MultiplexedConnection, String> {
        self.conn
            .lock()
            .clone()
            .ok_or_else(|| "the backplane is down".to_owned())
    }

    /// A project's registry row.
    ///
    /// # Errors
    /// When Redis cannot be asked.
    pub(crate) async fn lookup(&self, project: &str) -> Result<Option<RegistryEntry>, String> {
        let mut conn = self.connection()?;
        let value: Option<String> = tokio::time::timeout(
            IO_TIMEOUT,
            redis::cmd("GET")
                .arg(wire::project_key(project))
                .query_async(&mut conn),
        )
        .await
        .map_err(|_| timed_out("GET"))?
        .map_err(|e| e.to_string())?;
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    /// Every registry row: `(project, entry)`.
    ///
    /// # Errors
    /// When Redis cannot be asked.
    pub(crate) async fn rows(&self) -> Result<Vec<(String, RegistryEntry)>, String> {
        let mut conn = self.connection()?;
        let read = async {
            let mut keys: Vec<String> = Vec::new();
            let mut cursor: u64 = 0;
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(format!("{}*", wire::KEY_PREFIX))
                    .arg("COUNT")
                    .arg(500)
                    .query_async(&mut conn)
                    .await?;
                keys.extend(batch);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            let values: Vec<Option<String>> = if keys.is_empty() {
                Vec::new()
            } else {
                redis::cmd("MGET").arg(&keys).query_async(&mut conn).await?
            };
            Ok::<_, redis::RedisError>(
                keys.into_iter()
                    .zip(values)
                    .filter_map(|(key, value)| {
                        let name = key.strip_prefix(wire::KEY_PREFIX)?.to_owned();
                        Some((name, serde_json::from_str(&value?).ok()?))
                    })
                    .collect(),
            )
        };
        tokio::time::timeout(IO_TIMEOUT, read)
            .await
            .map_err(|_| timed_out("SCAN"))?
            .map_err(|e| e.to_string())
    }

    /// Subscribes to this node's `in` channel and to the `out` channel of every project it knows
    /// but does not host (a host's own node does not need its events back).
    ///
    /// # Errors
    /// When Redis does not confirm (the link task notices the lost connection by itself).
    pub(crate) async fn sync_subscriptions(&self) -> Result<(), String> {
        let Some(relay) = self.relay() else {
            return Ok(());
        };
        let mut subs = self.subs.lock().await;
        let Some(mut sink) = subs.sink.clone() else {
            // Down: the next connection subscribes to everything.
            return Ok(());
        };
        let mut want: HashSet<String> = relay
            .registry
            .all()
            .iter()
            .filter(|p| p.host.lock().is_none())
            .map(|p| wire::out_channel(&p.name))
            .collect();
        want.insert(wire::in_channel(&self.node));
        let add: Vec<&String> = want.difference(&subs.channels).collect();
        if !add.is_empty() {
            tokio::time::timeout(IO_TIMEOUT, sink.subscribe(&add))
                .await
                .map_err(|_| timed_out("SUBSCRIBE"))?
                .map_err(|e| e.to_string())?;
        }
        let remove: Vec<&String> = subs.channels.difference(&want).collect();
        if !remove.is_empty() {
            tokio::time::timeout(IO_TIMEOUT, sink.unsubscribe(&remove))
                .await
                .map_err(|_| timed_out("UNSUBSCRIBE"))?
                .map_err(|e| e.to_string())?;
        }
        subs.channels = want;
        Ok(())
    }

    /// Looks `project` up in the registry and follows whoever holds it (done by the link task;
    /// nothing while the backplane is down — it re-reads every row when it returns).
    pub(crate) async fn follow(&self, project: &str) {
        if !self.is_up() {
            return;
        }
        let (done, rx) = oneshot::channel();
        if self.follow.send((project.to_owned(), done)).is_ok() {
            let _ = tokio::time::timeout(IO_TIMEOUT, rx).await;
        }
    }

    /// Syncs subscriptions from a context that cannot wait.
    pub(crate) fn spawn_subscription_sync(self: &Arc<Self>) {
        let link = self.clone();
        tokio::spawn(async move {
            let _ = link.sync_subscriptions().await;
        });
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
