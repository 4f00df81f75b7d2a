//! The HTTP side: [`AppState`] and [`router`] — `/ws` (the origin check, then the upgrade to
//! [`run_socket_with`]), the viewer at `/`, `/healthz` and `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use stagelink_contracts::ErrorCode;
use stagelink_publisher::{ConnectionInfo, Hub, Session};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::security::OriginPolicy;
use crate::socket::{ConnSocket, configure_upgrade, run_socket_with};
use crate::{WsConfig, viewer};

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The sessions' hub: every `/ws` connection gets a [`Session`] on it.
    pub hub: Hub,
    /// Which browser pages may open `/ws`.
    pub origins: OriginPolicy,
    /// Whether `/`, `/viewer.js` and `/viewer.css` are served.
    pub viewer: bool,
    /// Every WebSocket connection task, so shutdown can wait until they have said goodbye.
    pub connections: TaskTracker,
    /// Cancelled when the last connections are cut (shutdown's grace period ran out, or the
    /// server was dropped).
    pub stop: CancellationToken,
    /// Set when shutdown begins: new upgrades are refused with 503.
    pub closing: AtomicBool,
    /// Host-level counters for `/metrics`.
    pub metrics: HostMetrics,
}

/// What `/metrics` reports beyond the hub's counters.
#[derive(Debug, Default)]
pub struct HostMetrics {
    /// WebSocket upgrades accepted.
    pub upgrades: AtomicU64,
    /// Upgrades refused because of the page's `Origin` (403).
    pub refused_origin: AtomicU64,
    /// Upgrades refused because the host is shutting down (503).
    pub refused_shutdown: AtomicU64,
}

impl AppState {
    /// The state for a host serving `hub` as `config` says.
    pub fn new(hub: Hub, config: &WsConfig) -> Self {
        Self {
            hub,
            origins: OriginPolicy::new(&config.allow_origins, config.tls.is_some(), config.addr),
            viewer: config.viewer,
            connections: TaskTracker::new(),
            stop: CancellationToken::new(),
            closing: AtomicBool::new(false),
            metrics: HostMetrics::default(),
        }
    }
}

/// The host's routes, for serving or for embedding in a larger axum app: `GET /ws`,
/// `GET /healthz`, `GET /metrics`, and with the viewer `GET /`, `/viewer.js`, `/viewer.css`.
///
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so sessions know their
/// peer's address (it works without, the peer is then `unknown`).
pub fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new()
        .route("/ws", get(ws_upgrade))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics));
    if state.viewer {
        router = router
            .route("/", get(viewer::index))
            .route("/index.html", get(viewer::index))
            .route("/viewer.js", get(viewer::script))
            .route("/viewer.css", get(viewer::style));
    }
    router.with_state(state)
}

async fn ws_upgrade(
    State(state): State<Arc<AppState>>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    conn_socket: Option<Extension<ConnSocket>>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: WebSocketUpgrade,
) -> Response {
    let peer = match connect_info {
        Some(Extension(ConnectInfo(addr))) => format!("ws {addr}"),
        None => "ws unknown".to_owned(),
    };
    // A header that is not text is not an origin we allow.
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or(""));
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    if !state.origins.allows(origin, host) {
        state.metrics.refused_origin.fetch_add(1, Relaxed);
        tracing::info!(%peer, origin = origin.unwrap_or_default(), "WebSocket refused: origin not allowed");
        return (
            StatusCode::FORBIDDEN,
            "this page's origin may not open the Stagelink WebSocket (see --allow-origin)\n",
        )
            .into_response();
    }
    if state.closing.load(Relaxed) || state.hub.is_shutting_down() {
        state.metrics.refused_shutdown.fetch_add(1, Relaxed);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the host is shutting down\n",
        )
            .into_response();
    }
    state.metrics.upgrades.fetch_add(1, Relaxed);
    // Taken now, so a shutdown that starts before the upgrade completes still waits for it.
    let token = state.connections.token();
    let max = state.hub.config().max_message;
    configure_upgrade(upgrade, max)
        .on_failed_upgrade(|e| tracing::debug!(error = %e, "WebSocket upgrade failed"))
        .on_upgrade(move |socket| async move {
            let _token = token;
            let session = Session::new(
                &state.hub,
                ConnectionInfo {
                    peer,
                    trusted: false,
                },
            );
            if state.hub.is_shutting_down() {
                // The hub's goodbye went out before this session existed.
                drop(session);
                refuse_shutting_down(socket).await;
                return;
            }
            let stop = state.stop.clone();
            let direct = conn_socket.map(|Extension(s)| s);
            // On the hub's session threads when it has them; waiting here keeps `_token`
            // (the shutdown's count of live connections) until the session is over.
            let _ = state
                .hub
                .spawn_session(async move {
                    tokio::select! {
                        () = run_socket_with(session, socket, direct) => {}
                        () = stop.cancelled() => {}
                    }
                })
                .await;
        })
}

/// Closes a socket that arrived too late for the shutdown's `bye`.
async fn refuse_shutting_down(mut socket: WebSocket) {
    let code = ErrorCode::Shutdown;
    let close = Message::Close(Some(CloseFrame {
        code: code.close_code(),
        reason: code.as_str().into(),
    }));
    let _ = tokio::time::timeout(crate::socket::CLOSE_LINGER, socket.send(close)).await;
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let hub = &state.hub;
    let movie = hub.movie_state();
    let shutting_down = state.closing.load(Relaxed) || hub.is_shutting_down();
    let body = serde_json::json!({
        "status": if shutting_down { "shutting_down" } else { "ok" },
        "project": hub.config().project,
        "frame": movie.map(|m| m.frame),
        "playing": movie.map(|m| m.playing),
        "clients": hub.session_count(),
        "uptime_s": hub.uptime().as_secs(),
    });
    let status = if shutting_down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    use std::fmt::Write;
    let hub = &state.hub;
    let mut out = hub.stats().prometheus("stagelink", hub.session_count());
    let m = &state.metrics;
    let _ = write!(
        out,
        "# HELP stagelink_ws_connections Open WebSocket connections.\n\
         # TYPE stagelink_ws_connections gauge\n\
         stagelink_ws_connections {}\n\
         # HELP stagelink_ws_upgrades_total WebSocket upgrades accepted.\n\
         # TYPE stagelink_ws_upgrades_total counter\n\
         stagelink_ws_upgrades_total {}\n\
         # HELP stagelink_ws_refused_total WebSocket upgrades refused, by reason.\n\
         # TYPE stagelink_ws_refused_total counter\n\
         stagelink_ws_refused_total{{reason=\"origin\"}} {}\n\
         stagelink_ws_refused_total{{reason=\"shutdown\"}} {}\n\
         # HELP stagelink_uptime_seconds Seconds since the hub started.\n\
         # TYPE stagelink_uptime_seconds gauge\n\
         stagelink_uptime_seconds {}\n",
        state.connections.len(),
        m.upgrades.load(Relaxed),
        m.refused_origin.load(Relaxed),
        m.refused_shutdown.load(Relaxed),
        hub.uptime().as_secs(),
    );
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        out,
    )
        .into_response()
}
