//! # stagelink-relay — shared remote sessions
//!
//! When hosts and clients cannot reach each other directly, or many tools share one session,
//! they meet at the relay. Hosts connect out (`role: host`) and publish a project; clients
//! connect with `hello.project` and see exactly what a direct connection shows. Each project
//! runs the same [`stagelink_publisher::Hub`]/[`stagelink_publisher::Session`] code as the
//! hosts; a host's event bytes are fanned out unchanged.
//!
//! Several relay nodes can share projects through Redis (`--backplane redis://…`, the pattern
//! of SignalR's Redis scale-out): the node holding a project's host publishes each host message
//! once, pre-serialized; every node fans it out to its own clients; commands and requests travel
//! to the host's node and their answers back; `GET /projects` on any node lists every live
//! project with the node holding its host. If Redis goes away, each node keeps serving its own
//! hosts and clients, reports the backplane `down` in `/healthz`, and reconnects by itself.
//!
//! ## Layout
//! - [`config`] — [`RelayConfig`]: listen address, per-project tokens, `--dev`, backplane,
//!   node id, session threads.
//! - [`server`] — [`Relay`] and [`RelayServer`]: `/ws`, `/projects`, `/healthz`, `/metrics`;
//!   reads each connection's `hello` and routes it. Client sessions run on one
//!   [`SessionThreads`](stagelink_publisher::SessionThreads) pool shared by every project (one
//!   thread per CPU unless `session_threads` says otherwise), as in the player.
//! - [`project`] — [`project::Project`] (hub + host slot or remote host + forwarder of
//!   commands/requests) and the [`project::Registry`].
//! - [`host`] — a host's connection: token and takeover rules (across nodes too), the relay
//!   speaking to the host as a client, routing acks and responses back (to other nodes too),
//!   `host_left`/`host_joined`.
//! - [`canvas`] — a host's frame assembled from its tiles, republished through a hub.
//! - [`backplane`] — [`Backplane`]: how nodes share projects, in memory (one node, the default)
//!   or through Redis; its health for `/healthz`.
//! - [`redis_link`] — one node's Redis connections: the ordered, pipelined publish queue, the
//!   subscriptions, the registry rows with their TTL, reconnecting and resubscribing.
//! - [`remote`] — projects whose host is on another node: following it, forwarded work waiting
//!   for answers (`timeout` after 10 s), and work forwarded here from other nodes.
//! - [`wire`] — channel and key names and the formats nodes exchange.
//!
//! ## Example
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use stagelink_relay::{RelayConfig, RelayServer};
//! let server = RelayServer::start(RelayConfig { dev: true, ..RelayConfig::default() }).await?;
//! println!("listening on ws://{}/ws", server.local_addr());
//!
//! // A node sharing projects with other nodes through Redis:
//! let node = RelayServer::start(RelayConfig {
//!     listen: "127.0.0.1:0".parse()?,
//!     dev: true,
//!     backplane: Some("redis://127.0.0.1:6379".into()),
//!     node_id: Some("node-b".into()),
//!     ..RelayConfig::default()
//! })
//! .await?;
//! println!("backplane: {}", node.relay.backplane.health().as_str());
//! # Ok(()) }
//! ```

pub mod backplane;
pub mod canvas;
pub mod config;
pub mod host;
pub mod project;
pub mod redis_link;
pub mod remote;
pub mod server;
pub mod wire;

pub use backplane::{Backplane, BackplaneError, BackplaneHealth};
pub use config::{ConfigError, ProjectTokens, RelayConfig};
pub use server::{Relay, RelayServer};
