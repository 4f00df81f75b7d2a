//! Transports move framed messages and nothing else: a WebSocket (`ws://`, `wss://`) or a local
//! socket with u32-LE length framing. The session logic above them is the same for both.

mod tls;

use std::pin::Pin;

use bytes::Bytes;
use futures_util::SinkExt;
use futures_util::stream::{SplitSink, Stream, StreamExt};
use stagelink_contracts::FrameCodec;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tokio_util::codec::Framed;

use crate::config::ClientConfig;
use crate::endpoint::Endpoint;

/// One message received, or the end of the connection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Incoming {
    /// A JSON message.
    Text(Bytes),
    /// A binary message (pixel tile).
    Binary(Bytes),
    /// The peer closed: the WebSocket close code when there was one (fatal protocol errors
    /// close with `4000 + n`).
    Closed { code: Option<u16>, reason: String },
}

/// The receiving half: yields [`Incoming`] until `Closed` or a transport error.
pub(crate) type Reader = Pin<Box<dyn Stream<Item = Result<Incoming, String>> + Send>>;

type WsStream = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

#[cfg(unix)]
type LocalStream = tokio::net::UnixStream;
#[cfg(windows)]
type LocalStream = tokio::net::windows::named_pipe::NamedPipeClient;

/// The sending half.
pub(crate) enum Writer {
    Ws(SplitSink<WsStream, Message>),
    Local(SplitSink<Framed<LocalStream, FrameCodec>, Bytes>),
}

impl Writer {
    /// Sends one JSON message.
    pub(crate) async fn send_text(&mut self, text: String) -> Result<(), String> {
        match self {
            Writer::Ws(sink) => sink
                .send(Message::text(text))
                .await
                .map_err(|e| e.to_string()),
            Writer::Local(sink) => sink
                .send(Bytes::from(text))
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Closes the connection cleanly (a WebSocket close with 1000).
    pub(crate) async fn close(&mut self) {
        match self {
            Writer::Ws(sink) => {
                let frame = CloseFrame {
                    code: CloseCode::Normal,
                    reason: "bye".into(),
                };
                let _ = sink.send(Message::Close(Some(frame))).await;
                let _ = sink.close().await;
            }
            Writer::Local(sink) => {
                let _ = sink.close().await;
            }
        }
    }
}

/// Opens a connection to `endpoint`.
///
/// # Errors
/// A message saying what failed: TLS setup, DNS, refused, handshake.
pub(crate) async fn connect(
    endpoint: &Endpoint,
    config: &ClientConfig,
) -> Result<(Writer, Reader), String> {
    match endpoint {
        Endpoint::WebSocket(url) => {
            let connector = if endpoint.is_tls() {
                Some(Connector::Rustls(tls::client_config(&config.tls)?))
            } else {
                None
            };
            let ws_config = WebSocketConfig::default()
                .max_message_size(Some(config.max_message))
                .max_frame_size(Some(config.max_message));
            let (ws, _response) = tokio_tungstenite::connect_async_tls_with_config(
                url.as_str(),
                Some(ws_config),
                true,
                connector,
            )
            .await
            .map_err(|e| format!("{url}: {e}"))?;
            let (sink, stream) = ws.split();
            Ok((Writer::Ws(sink), Box::pin(ws_reader(stream))))
        }
        Endpoint::LocalSocket(path) => {
            let stream = open_local(path)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let framed = Framed::new(stream, FrameCodec::new(config.max_message));
            let (sink, stream) = framed.split();
            let reader = stream
                .map(|frame| match frame {
                    Ok(payload) if stagelink_contracts::framing::is_json(&payload) => {
                        Ok(Incoming::Text(payload))
                    }
                    Ok(payload) => Ok(Incoming::Binary(payload)),
                    Err(e) => Err(e.to_string()),
                })
                .chain(futures_util::stream::once(async {
                    Ok(Incoming::Closed {
                        code: None,
                        reason: "the socket closed".into(),
                    })
                }));
            Ok((Writer::Local(sink), Box::pin(reader)))
        }
    }
}

fn ws_reader(
    stream: futures_util::stream::SplitStream<WsStream>,
) -> impl Stream<Item = Result<Incoming, String>> + Send {
    stream
        .filter_map(|message| async move {
            match message {
                Ok(Message::Text(t)) => Some(Ok(Incoming::Text(Bytes::from(t)))),
                Ok(Message::Binary(b)) => Some(Ok(Incoming::Binary(b))),
                Ok(Message::Close(frame)) => Some(Ok(match frame {
                    Some(f) => Incoming::Closed {
                        code: Some(u16::from(f.code)),
                        reason: f.reason.to_string(),
                    },
                    None => Incoming::Closed {
                        code: None,
                        reason: "closed without a code".into(),
                    },
                })),
                // WebSocket-level pings are answered by tungstenite itself.
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => None,
                Err(e) => Some(Err(e.to_string())),
            }
        })
        .chain(futures_util::stream::once(async {
            Ok(Incoming::Closed {
                code: None,
                reason: "the connection closed".into(),
            })
        }))
}

#[cfg(unix)]
async fn open_local(path: &std::path::Path) -> std::io::Result<LocalStream> {
    tokio::net::UnixStream::connect(path).await
}

#[cfg(windows)]
async fn open_local(path: &std::path::Path) -> std::io::Result<LocalStream> {
    tokio::net::windows::named_pipe::ClientOptions::new().open(path)
}
