//! [`serve`] and [`WsServer`]: bind, spawn the HTTP server, shut down gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum_server::Handle;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use stagelink_publisher::Hub;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;

use crate::routes::{AppState, router};
use crate::{HostError, WsConfig, tls};

/// How long [`WsServer::shutdown`] waits for every client to receive its `bye` and close
/// before the remaining connections are cut.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The reason given with `bye` and the close frame when the host shuts down: the error code's
/// name, as close reasons are.
pub const SHUTDOWN_REASON: &str = "shutdown";

/// How long plain HTTP requests still in flight get once the WebSockets are gone.
const HTTP_GRACE: Duration = Duration::from_millis(500);

/// Pending connections the kernel queues before `accept`.
const BACKLOG: u32 = 1024;

/// A running WebSocket host. Dropping it without [`WsServer::shutdown`] stops accepting and
/// cuts every connection without a `bye`.
#[derive(Debug)]
pub struct WsServer {
    /// The bound address (the real port when the config asked for port 0).
    local_addr: SocketAddr,
    /// Whether it serves `https://` / `wss://`.
    tls: bool,
    /// Shared with the handlers: the hub, the connection tracker, the stop token.
    state: Arc<AppState>,
    /// Stops axum-server's accept loop and its HTTP connections.
    handle: Handle<SocketAddr>,
    /// The server task; taken by `shutdown`.
    task: Option<JoinHandle<()>>,
}

/// Binds `config.addr`, spawns the server on the current Tokio runtime, and returns once it
/// accepts connections. Every `/ws` connection gets its own session on `hub`. With
/// `config.tls`, serves `https://` and `wss://` (rustls, *ring*).
///
/// Call [`crate::check_no_auth`] first when the hub runs without tokens.
///
/// # Errors
/// [`HostError::Bind`] when the address cannot be bound, [`HostError::Tls`] /
/// [`HostError::TlsConfig`] for unusable certificate files, [`HostError::NoRuntime`] outside a
/// Tokio runtime.
pub fn serve(hub: Hub, config: WsConfig) -> Result<WsServer, HostError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| HostError::NoRuntime)?;
    let _entered = runtime.enter();
    let tls_config = config.tls.as_ref().map(tls::server_config).transpose()?;
    let listener = bind(config.addr)?;
    let local_addr = listener.local_addr().map_err(|source| HostError::Bind {
        addr: config.addr,
        source,
    })?;
    let state = Arc::new(AppState::new(hub, &config));
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let handle = Handle::new();
    let server = axum_server::Server::<SocketAddr>::from_listener(listener).handle(handle.clone());
    let tls = tls_config.is_some();
    let task = match tls_config {
        Some(tls_config) => {
            let acceptor = RustlsAcceptor::new(RustlsConfig::from_config(tls_config))
                .acceptor(NoDelayAcceptor::new());
            runtime.spawn(log_exit(server.acceptor(acceptor).serve(app)))
        }
        #[cfg(unix)]
        None => runtime.spawn(log_exit(
            server.acceptor(crate::direct::DirectAcceptor).serve(app),
        )),
        #[cfg(not(unix))]
        None => runtime.spawn(log_exit(server.acceptor(NoDelayAcceptor::new()).serve(app))),
    };
    let scheme = if tls { "https" } else { "http" };
    tracing::info!(addr = %local_addr, scheme, "WebSocket host listening");
    Ok(WsServer {
        local_addr,
        tls,
        state,
        handle,
        task: Some(task),
    })
}

/// A listener with `SO_REUSEADDR`, so a restarted host gets its port back at once.
fn bind(addr: SocketAddr) -> Result<TcpListener, HostError> {
    let error = |source| HostError::Bind { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(error)?;
    #[cfg(not(windows))]
    socket.set_reuseaddr(true).map_err(error)?;
    socket.bind(addr).map_err(error)?;
    socket.listen(BACKLOG).map_err(error)
}

async fn log_exit(server: impl std::future::Future<Output = std::io::Result<()>>) {
    if let Err(e) = server.await {
        tracing::error!(error = %e, "WebSocket host stopped");
    }
}

impl WsServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether it serves TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// `ws://ADDR/ws` (`wss://` with TLS).
    pub fn ws_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/ws", self.local_addr)
    }

    /// `http://ADDR/` (`https://` with TLS): the viewer.
    pub fn http_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/", self.local_addr)
    }

    /// The state the handlers share (the hub, host counters).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Graceful shutdown: refuses new upgrades, sends every session `bye`, the fatal `shutdown`
    /// and close 4028 (through [`Hub::shutdown`], unless the hub is already shutting down),
    /// waits up to [`SHUTDOWN_GRACE`] for this host's connections to finish, cuts the rest,
    /// then stops the server.
    pub async fn shutdown(self) {
        self.shutdown_within(SHUTDOWN_GRACE).await;
    }

    /// [`WsServer::shutdown`] with another grace period.
    pub async fn shutdown_within(mut self, grace: Duration) {
        let state = &self.state;
        state.closing.store(true, Relaxed);
        if !state.hub.is_shutting_down() {
            state.hub.shutdown(SHUTDOWN_REASON);
        }
        state.connections.close();
        if tokio::time::timeout(grace, state.connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                remaining = state.connections.len(),
                grace_ms = grace.as_millis() as u64,
                "WebSocket clients still connected after the grace period; cutting them"
            );
        }
        state.stop.cancel();
        self.handle.graceful_shutdown(Some(HTTP_GRACE));
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::warn!(error = %e, "the WebSocket host's task failed");
        }
        tracing::info!(addr = %self.local_addr, "WebSocket host stopped");
    }
}

impl Drop for WsServer {
    fn drop(&mut self) {
        if self.task.take().is_some() {
            self.state.stop.cancel();
            self.handle.shutdown();
        }
    }
}
