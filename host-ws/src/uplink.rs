//! The uplink: a host connecting *out* to a relay (`stagelink-player --relay URL`).
//!
//! The host says `hello` with `role: host`, waits for `welcome`, and from then on the relay
//! speaks to it as a client on the same socket — so the host simply runs an ordinary
//! [`Session`] of its own hub over this connection. Dropped connections are retried with
//! backoff; a refusal that retrying cannot fix (`auth_failed`, `project_taken`,
//! `session_replaced`) stops the uplink.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use stagelink_contracts::{
    ClientMessage, ErrorCode, Hello, PeerInfo, Role, ServerMessage, decode_server,
};
use stagelink_publisher::{ConnectionInfo, Hub, Outgoing, Session};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Where and how to publish.
#[derive(Debug, Clone)]
pub struct UplinkConfig {
    /// The relay's WebSocket URL, e.g. `ws://127.0.0.1:61700/ws`.
    pub url: String,
    pub project: String,
    pub host_token: Option<String>,
    /// Replace a live host of the same project (needs the host token).
    pub takeover: bool,
    /// `hello.client.version`.
    pub version: String,
}

/// The uplink's state, for the player's output and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UplinkState {
    Connecting,
    Connected,
    /// Retrying after this error.
    Retrying(String),
    /// Stopped for good: the relay refused us for a reason retrying cannot fix.
    Stopped(String),
}

/// Why one connection attempt ended.
enum Ended {
    Retry(String),
    Stop(String),
    Shutdown,
}

/// Runs the uplink until `shutdown` turns true or the relay refuses for good.
pub async fn run_uplink(
    hub: Hub,
    config: UplinkConfig,
    state: watch::Sender<UplinkState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let _ = state.send(UplinkState::Connecting);
        let ended = tokio::select! {
            e = connect_once(&hub, &config, &state) => e,
            _ = shutdown.wait_for(|s| *s) => Ended::Shutdown,
        };
        match ended {
            Ended::Shutdown => return,
            Ended::Stop(why) => {
                tracing::error!(%why, "relay uplink stopped");
                let _ = state.send(UplinkState::Stopped(why));
                return;
            }
            Ended::Retry(why) => {
                tracing::warn!(%why, retry_in_ms = backoff.as_millis() as u64, "relay uplink lost");
                let _ = state.send(UplinkState::Retrying(why));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn connect_once(
    hub: &Hub,
    config: &UplinkConfig,
    state: &watch::Sender<UplinkState>,
) -> Ended {
    // `true`: disable Nagle — every flush should leave at once.
    let (mut socket, _) =
        match tokio_tungstenite::connect_async_with_config(config.url.as_str(), None, true).await {
            Ok(s) => s,
            Err(e) => return Ended::Retry(format!("cannot connect to {}: {e}", config.url)),
        };
    let mut hello = Hello::new(Role::Host);
    hello.project = Some(config.project.clone());
    hello.token = config.host_token.clone();
    hello.takeover = config.takeover;
    hello.client = PeerInfo {
        id: Some(format!("host-{}", config.project)),
        name: Some("stagelink-player".into()),
        version: Some(config.version.clone()),
    };
    let text = String::from_utf8(ClientMessage::Hello(hello).to_json()).unwrap_or_default();
    if let Err(e) = socket.send(Message::Text(text.into())).await {
        return Ended::Retry(format!("sending hello: {e}"));
    }
    // Wait for the relay's welcome (or its refusal).
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(t))) => match decode_server(t.as_bytes()) {
                Ok(ServerMessage::Welcome(_)) => break,
                Ok(ServerMessage::Error(e)) if e.fatal => {
                    let why = format!("{}: {}", e.code, e.message);
                    return match e.code {
                        ErrorCode::AuthFailed
                        | ErrorCode::ProjectTaken
                        | ErrorCode::SessionReplaced
                        | ErrorCode::ProtocolVersion => Ended::Stop(why),
                        _ => Ended::Retry(why),
                    };
                }
                _ => {}
            },
            Some(Ok(_)) => {}
            Some(Err(e)) => return Ended::Retry(format!("waiting for welcome: {e}")),
            None => return Ended::Retry("the relay closed before welcome".into()),
        }
    }
    let _ = state.send(UplinkState::Connected);
    tracing::info!(url = %config.url, project = %config.project, "published to relay");
    let mut session = Session::new(
        hub,
        ConnectionInfo {
            peer: format!("relay {}", config.url),
            // We chose to connect to this relay and it accepted our host token.
            trusted: true,
        },
    );
    loop {
        tokio::select! {
            inbound = socket.next() => match inbound {
                Some(Ok(Message::Text(t))) => {
                    // A fatal error from the relay that retrying cannot fix.
                    if t.as_bytes().starts_with(br#"{"type":"error""#)
                        && let Ok(ServerMessage::Error(e)) = decode_server(t.as_bytes())
                        && e.code == ErrorCode::SessionReplaced
                    {
                        return Ended::Stop(format!("{}: {}", e.code, e.message));
                    }
                    session.handle_message(t.as_bytes());
                }
                Some(Ok(Message::Binary(b))) => {
                    session.handle_message(&b);
                }
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.as_ref().map(|f| u16::from(f.code)).unwrap_or(1005);
                    if ErrorCode::from_close_code(code) == Some(ErrorCode::SessionReplaced) {
                        return Ended::Stop("session_replaced: another host took over".into());
                    }
                    return Ended::Retry(format!("the relay closed the connection ({code})"));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Ended::Retry(format!("relay connection failed: {e}")),
                None => return Ended::Retry("the relay closed the connection".into()),
            },
            out = session.next_outgoing() => {
                let sent = match out {
                    Outgoing::Text(b) => socket.send(Message::Text(
                        tokio_tungstenite::tungstenite::Utf8Bytes::try_from(b).unwrap_or_default(),
                    )).await,
                    Outgoing::Binary(b) => socket.send(Message::Binary(b)).await,
                    // Only for transports that offer a direct writer; the uplink does not.
                    Outgoing::Raw(_) => {
                        tracing::error!("dropping a raw message: no direct writer was offered");
                        Ok(())
                    }
                    Outgoing::Close { code, reason } => {
                        let _ = socket.send(Message::Close(Some(CloseFrame {
                            code: CloseCode::from(code),
                            reason: reason.into(),
                        }))).await;
                        return Ended::Retry("the session with the relay ended".into());
                    }
                };
                if let Err(e) = sent {
                    return Ended::Retry(format!("sending to relay: {e}"));
                }
            }
        }
    }
}
