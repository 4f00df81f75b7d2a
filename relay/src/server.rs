//! The relay's HTTP surface: `/ws` (hosts and clients), `/projects`, `/healthz`, `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::header;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use futures_util::StreamExt;
use stagelink_contracts::{
    ClientMessage, ErrorCode, ErrorMessage, Role, ServerMessage, decode_client,
};
use stagelink_publisher::{ConnectionInfo, Session, SessionThreads};

use crate::backplane::{Backplane, BackplaneError};
use crate::config::RelayConfig;
use crate::project::{ProjectListing, Registry};

/// How long a new connection has to say `hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// The relay's shared state.
#[derive(Debug)]
pub struct Relay {
    pub config: RelayConfig,
    pub registry: Registry,
    pub backplane: Backplane,
    pub node_id: String,
    pub started: Instant,
}

impl Relay {
    /// A relay with this configuration: an in-memory backplane, or Redis with
    /// `config.backplane` (connected by [`RelayServer::start`]).
    ///
    /// # Errors
    /// A backplane URL that is not a Redis URL.
    pub fn new(config: RelayConfig) -> Result<Arc<Self>, BackplaneError> {
        let node_id = config
            .node_id
            .clone()
            .unwrap_or_else(|| format!("node-{:08x}", rand::random::<u32>()));
        let backplane = match &config.backplane {
            Some(url) => Backplane::redis(url, &node_id)?,
            None => Backplane::memory(),
        };
        // One pool for every project: a flush wakes one thread before the write (see
        // `SessionThreads`). Without them the relay still works, on the tokio workers.
        let threads = match config.session_threads {
            Some(0) => Ok(None),
            Some(n) => SessionThreads::new(n).map(Some),
            None => SessionThreads::per_cpu().map(Some),
        }
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot start session threads; sessions run on the workers");
            None
        });
        let relay = Arc::new(Self {
            registry: Registry::new(backplane.clone(), threads),
            backplane,
            node_id,
            started: Instant::now(),
            config,
        });
        // Configured projects exist from the start, so their clients can wait for the host.
        for (name, tokens) in &relay.config.projects {
            relay
                .registry
                .get_or_create(name, tokens.clone(), relay.config.dev);
        }
        Ok(relay)
    }

    /// The axum router.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/ws", get(ws_upgrade))
            .route("/projects", get(projects))
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .with_state(self.clone())
    }
}

/// A running relay server.
#[derive(Debug)]
pub struct RelayServer {
    pub relay: Arc<Relay>,
    local_addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RelayServer {
    /// Binds and serves. With a Redis backplane it also connects to Redis, waiting up to a few
    /// seconds for the first connection; an unreachable Redis does not stop the node (it serves
    /// its own hosts and clients, reports the backplane `down`, and keeps reconnecting).
    ///
    /// # Errors
    /// When the configuration is unsafe, the backplane URL is not a Redis URL, or the address
    /// cannot be bound.
    pub async fn start(config: RelayConfig) -> anyhow::Result<Self> {
        config.validate()?;
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        let relay = Relay::new(config)?;
        relay.backplane.start(&relay).await;
        let app = relay.router();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            // Events are small and latency matters more than packet count: no Nagle delay.
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
            });
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "relay server failed");
            }
        });
        Ok(Self {
            relay,
            local_addr,
            shutdown: Some(tx),
            task,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Says `bye` to every client, gives this node's projects up on the backplane, and stops.
    pub async fn shutdown(mut self) {
        for project in self.relay.registry.all() {
            project.hub.shutdown("relay shutting down");
        }
        self.relay.backplane.shutdown().await;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(3), &mut self.task).await;
        self.task.abort();
    }
}

async fn ws_upgrade(
    State(relay): State<Arc<Relay>>,
    upgrade: WebSocketUpgrade,
) -> impl IntoResponse {
    upgrade
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |socket| connection(relay, socket))
}

async fn fatal(socket: &mut WebSocket, code: ErrorCode, message: String) {
    let err = ServerMessage::Error(ErrorMessage::new(code, message)).to_json();
    let _ = socket
        .send(Message::Text(
            String::from_utf8(err).unwrap_or_default().into(),
        ))
        .await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: code.close_code(),
            reason: code.as_str().into(),
        })))
        .await;
    crate::host::linger(socket).await;
}

/// Reads the `hello`, then hands the socket to the host path or to a client session on the
/// project's hub.
async fn connection(relay: Arc<Relay>, mut socket: WebSocket) {
    let first = match tokio::time::timeout(HELLO_TIMEOUT, socket.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => bytes::Bytes::from(text),
        Ok(Some(Ok(_))) => {
            return fatal(
                &mut socket,
                ErrorCode::NotIdentified,
                "the first message must be a JSON `hello`".into(),
            )
            .await;
        }
        Err(_) => {
            return fatal(
                &mut socket,
                ErrorCode::IdleTimeout,
                "no `hello` within 10 s".into(),
            )
            .await;
        }
        Ok(_) => return,
    };
    let hello = match decode_client(&first) {
        Ok(ClientMessage::Hello(h)) => h,
        Ok(_) => {
            return fatal(
                &mut socket,
                ErrorCode::NotIdentified,
                "the first message must be `hello`".into(),
            )
            .await;
        }
        Err(e) => {
            return fatal(
                &mut socket,
                ErrorCode::NotIdentified,
                format!("the first message must be a valid `hello` ({e})"),
            )
            .await;
        }
    };
    if hello.role == Role::Host {
        return crate::host::serve_host(relay, socket, hello).await;
    }
    let Some(name) = hello.project.clone() else {
        return fatal(
            &mut socket,
            ErrorCode::UnknownProject,
            "a relay client must name a `project` in its hello".into(),
        )
        .await;
    };
    let mut project = relay.registry.get(&name);
    if relay.backplane.is_shared() {
        // The host may be on another node: follow it from here.
        project = crate::remote::attach(&relay, &name, project).await;
    }
    // In `--dev` a client may arrive before its host: the project exists from then on and the
    // client waits for the host (`host_joined` and a snapshot when it comes).
    let project = match project {
        Some(p) => p,
        None if relay.config.dev => {
            relay
                .registry
                .get_or_create(&name, Default::default(), relay.config.dev)
        }
        None => {
            return fatal(
                &mut socket,
                ErrorCode::UnknownProject,
                format!("no project `{name}` on this relay"),
            )
            .await;
        }
    };
    let mut session = Session::new(
        &project.hub,
        ConnectionInfo {
            peer: "relay ws".into(),
            trusted: false,
        },
    );
    session.handle_message(&first);
    if session.role().is_some() && !project.has_host() {
        session.notice(
            ErrorCode::HostLeft,
            format!(
                "project `{name}` has no host right now; commands get `no_host` until it joins"
            ),
        );
    }
    let _ = project
        .hub
        .spawn_session(stagelink_host_ws::run_socket(session, socket))
        .await;
}

/// Every project this node knows, and with a shared backplane every live project of every node
/// (`clients` counts this node's clients).
async fn projects(State(relay): State<Arc<Relay>>) -> impl IntoResponse {
    let mut rows: std::collections::BTreeMap<String, ProjectListing> = relay
        .registry
        .all()
        .iter()
        .map(|p| (p.name.clone(), p.listing()))
        .collect();
    if let Some(shared) = relay.backplane.registry().await {
        for (name, entry) in shared {
            let row = rows.entry(name.clone()).or_insert_with(|| ProjectListing {
                name,
                host: false,
                host_version: None,
                clients: 0,
                since: None,
                node: None,
            });
            // The registry is the authority on who holds a host; a local host is in it too.
            row.host = true;
            row.host_version = Some(entry.host_version);
            row.since = Some(entry.since);
            row.node = Some(entry.node);
        }
    }
    let list: Vec<_> = rows.into_values().collect();
    Json(serde_json::json!({
        "node": relay.node_id,
        "backplane": relay.backplane.health().as_str(),
        "projects": list,
    }))
}

async fn healthz(State(relay): State<Arc<Relay>>) -> impl IntoResponse {
    let projects = relay.registry.all();
    let clients: usize = projects.iter().map(|p| p.hub.session_count()).sum();
    let hosts = projects.iter().filter(|p| p.host.lock().is_some()).count();
    Json(serde_json::json!({
        "status": "ok",
        "node": relay.node_id,
        "projects": projects.len(),
        "hosts": hosts,
        "clients": clients,
        "backplane": relay.backplane.health().as_str(),
        "uptime_s": relay.started.elapsed().as_secs(),
    }))
}

async fn metrics(State(relay): State<Arc<Relay>>) -> impl IntoResponse {
    use std::fmt::Write;
    let mut out = String::new();
    let projects = relay.registry.all();
    let _ = writeln!(
        out,
        "# HELP stagelink_relay_projects Projects known to this node.\n# TYPE stagelink_relay_projects gauge\nstagelink_relay_projects {}",
        projects.len()
    );
    let _ = writeln!(
        out,
        "# HELP stagelink_relay_clients Client sessions per project.\n# TYPE stagelink_relay_clients gauge"
    );
    for p in &projects {
        let _ = writeln!(
            out,
            "stagelink_relay_clients{{project=\"{}\"}} {}",
            p.name,
            p.hub.session_count()
        );
    }
    let _ = writeln!(
        out,
        "# HELP stagelink_relay_backplane_up Whether the backplane is reachable (1 for the in-memory one).\n# TYPE stagelink_relay_backplane_up gauge\nstagelink_relay_backplane_up {}",
        u8::from(relay.backplane.health() != crate::backplane::BackplaneHealth::Down)
    );
    let _ = writeln!(
        out,
        "# HELP stagelink_relay_host_connected Whether the project's host is on this node.\n# TYPE stagelink_relay_host_connected gauge"
    );
    for p in &projects {
        let _ = writeln!(
            out,
            "stagelink_relay_host_connected{{project=\"{}\"}} {}",
            p.name,
            u8::from(p.host.lock().is_some())
        );
    }
    let _ = writeln!(
        out,
        "# HELP stagelink_relay_messages_out_total Messages sent to clients per project.\n# TYPE stagelink_relay_messages_out_total counter"
    );
    for p in &projects {
        let stats = p.hub.stats();
        let total: u64 = stats
            .messages_out
            .iter()
            .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
            .sum::<u64>()
            + stats
                .control_messages_out
                .load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(
            out,
            "stagelink_relay_messages_out_total{{project=\"{}\"}} {total}",
            p.name
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
