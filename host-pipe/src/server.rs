//! [`serve`] and [`PipeServer`]: bind the local socket, accept clients, give each its own
//! [`Session`], and shut down gracefully.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures_util::SinkExt;
use interprocess::local_socket::tokio::{Listener, Stream};
use interprocess::local_socket::traits::tokio::Listener as _;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use stagelink_contracts::{Bye, ErrorCode, ErrorMessage, FrameCodec, ServerMessage};
use stagelink_publisher::{ConnectionInfo, Hub, Session};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::codec::FramedWrite;

use crate::PipeError;
use crate::connection::run_connection;

/// How long [`PipeServer::shutdown`] waits for clients to receive their `bye` before the
/// remaining connections are cut.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The reason sent with `bye` when the host shuts down.
const SHUTDOWN_REASON: &str = "the host is shutting down";

/// A running local-socket host. Dropping it without [`PipeServer::shutdown`] stops accepting,
/// cuts every connection without a `bye` and removes the socket file.
#[derive(Debug)]
pub struct PipeServer {
    /// Where clients connect: the socket file, or the pipe name on Windows.
    path: PathBuf,
    /// Tells the accept loop to stop; taken by `shutdown`.
    stop: Option<oneshot::Sender<()>>,
    /// The accept loop, which owns the listener, the socket file and every connection task.
    task: Option<JoinHandle<()>>,
}

/// Binds the local socket at `path` (see [`crate::default_socket_path`]), spawns the accept
/// loop on the current Tokio runtime and returns.
///
/// On Unix the directory holding the socket is created with mode `0700` if missing and
/// refused if anyone else could enter it; the socket file gets mode `0600`; a stale file left by
/// a host that died is replaced, a live host's socket is not. Every client whose uid matches
/// ours gets its own trusted [`Session`] (no token needed).
///
/// # Errors
/// [`PipeError::InUse`] when another host listens on `path`, [`PipeError::InsecureDirectory`]
/// or [`PipeError::NotASocket`] for an unsafe place, [`PipeError::Io`] when binding fails.
///
/// # Panics
/// When called outside a Tokio runtime.
pub fn serve(hub: Hub, path: PathBuf) -> Result<PipeServer, PipeError> {
    let bound = bind(&path)?;
    tracing::info!(path = %path.display(), "local socket listening");
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(accept_loop(bound, hub, stopped));
    Ok(PipeServer {
        path,
        stop: Some(stop),
        task: Some(task),
    })
}

impl PipeServer {
    /// Where clients connect.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting, sends every session of the hub `bye` and the fatal `shutdown` (through
    /// [`Hub::shutdown`], unless the hub is already shutting down), waits up to
    /// [`SHUTDOWN_GRACE`] for this host's clients to be told, cuts the rest, and removes the
    /// socket file.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::warn!(error = %e, "the local socket's accept loop failed");
        }
        tracing::info!(path = %self.path.display(), "local socket closed");
    }
}

impl Drop for PipeServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// What the accept loop owns: the listener and, on Unix, the socket file to remove at the end.
struct Bound {
    listener: Listener,
    #[cfg(unix)]
    file: crate::socket_file::SocketFile,
}

#[cfg(unix)]
fn bind(path: &Path) -> Result<Bound, PipeError> {
    use crate::socket_file::{
        SOCKET_MODE, SocketFile, directory_of, prepare_directory, reclaim_stale,
    };
    use interprocess::os::unix::local_socket::ListenerOptionsExt;

    prepare_directory(directory_of(path), crate::peer::current_uid())?;
    reclaim_stale(path)?;
    let options = || -> Result<ListenerOptions<'_>, PipeError> {
        let name = path
            .to_fs_name::<GenericFilePath>()
            .map_err(|e| PipeError::io("naming socket", path, e))?;
        // The file is removed by `SocketFile`, which checks it is still ours.
        Ok(ListenerOptions::new().name(name).reclaim_name(false))
    };
    // The mode is set before bind() where the platform allows it, so the file is never open to
    // others even for an instant; elsewhere the 0700 directory covers the moment until
    // `SocketFile::adopt` applies it.
    let listener = match options()?.mode(SOCKET_MODE as libc::mode_t).create_tokio() {
        Err(e) if e.kind() == io::ErrorKind::Unsupported => options()?.create_tokio(),
        other => other,
    }
    .map_err(|e| bind_error(path, e))?;
    let file = SocketFile::adopt(path)?;
    Ok(Bound { listener, file })
}

#[cfg(windows)]
fn bind(path: &Path) -> Result<Bound, PipeError> {
    let name = path
        .as_os_str()
        .to_fs_name::<GenericFilePath>()
        .map_err(|e| PipeError::io("naming pipe", path, e))?;
    let listener = ListenerOptions::new()
        .name(name)
        .create_tokio()
        .map_err(|e| bind_error(path, e))?;
    Ok(Bound { listener })
}

fn bind_error(path: &Path, e: io::Error) -> PipeError {
    match e.kind() {
        // Windows reports a pipe name held by another process as access denied.
        io::ErrorKind::AddrInUse => PipeError::InUse {
            path: path.to_path_buf(),
        },
        #[cfg(windows)]
        io::ErrorKind::PermissionDenied => PipeError::InUse {
            path: path.to_path_buf(),
        },
        _ => PipeError::io("binding", path, e),
    }
}

async fn accept_loop(bound: Bound, hub: Hub, mut stop: oneshot::Receiver<()>) {
    let Bound {
        listener,
        #[cfg(unix)]
        file,
    } = bound;
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(stream) => admit(&hub, stream, &mut connections),
                Err(e) => {
                    // Usually out of file descriptors; pausing lets connections finish instead
                    // of spinning on the same error.
                    tracing::warn!(error = %e, "accepting a local connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    if !hub.is_shutting_down() {
        hub.shutdown(SHUTDOWN_REASON);
    }
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "clients still connected after the grace period; cutting them"
        );
        connections.shutdown().await;
    }
    #[cfg(unix)]
    drop(file);
}

/// Checks a new connection's peer and starts its session. The session is registered with the
/// hub right here, before the task runs, so a shutdown that follows reaches it.
fn admit(hub: &Hub, stream: Stream, connections: &mut JoinSet<()>) {
    let peer = match identify(&stream) {
        Ok(peer) => peer,
        Err(e) => {
            tracing::warn!(error = %e, "refusing a local connection");
            let refusal = ServerMessage::Error(ErrorMessage::new(
                ErrorCode::AuthFailed,
                format!("refused by the local socket: {e}"),
            ));
            connections.spawn(refuse(stream, vec![refusal]));
            return;
        }
    };
    if hub.is_shutting_down() {
        let farewell = vec![
            ServerMessage::Bye(Bye {
                reason: Some(SHUTDOWN_REASON.into()),
            }),
            ServerMessage::Error(ErrorMessage::new(
                ErrorCode::Shutdown,
                format!("the server is shutting down: {SHUTDOWN_REASON}"),
            )),
        ];
        connections.spawn(refuse(stream, farewell));
        return;
    }
    let mut session = Session::new(
        hub,
        ConnectionInfo {
            peer,
            // The peer runs as our own user, which is all a token would prove.
            trusted: true,
        },
    );
    // On the hub's session threads when it has them; the task here only waits for it (and
    // aborts it when the shutdown's grace period runs out).
    let task = match connection_io(&mut session, stream) {
        Ok(io) => hub.spawn_session(io.run(session)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot set up a local connection");
            return;
        }
    };
    connections.spawn(async move {
        let _ = task.await;
    });
}

/// A connection's socket, ready to be driven by [`run_connection`] on a session thread.
#[cfg(unix)]
struct ConnectionIo(std::os::fd::OwnedFd);

/// Takes the socket out of `interprocess` (whose tokio stream watches for write space on every
/// read the client makes, see [`crate::unix_io`]) and lets the publishing thread write this
/// client's ticks directly while it is caught up.
#[cfg(unix)]
fn connection_io(session: &mut Session, stream: Stream) -> std::io::Result<ConnectionIo> {
    use std::os::fd::AsFd;
    let Stream::UdSocket(socket) = &stream;
    // Our own descriptor; dropping the stream deregisters and closes `interprocess`'s.
    let fd = socket.as_fd().try_clone_to_owned()?;
    drop(stream);
    // A second duplicate for the writer, made only when the hub has a slot for it.
    session.write_directly(|| match crate::direct::UnixDirect::new(&fd) {
        Ok(writer) => Some(std::sync::Arc::new(writer)),
        Err(e) => {
            tracing::debug!(error = %e, "no direct writer for this connection");
            None
        }
    });
    Ok(ConnectionIo(fd))
}

#[cfg(unix)]
impl ConnectionIo {
    /// Registers the socket with the runtime it runs on (the session thread's) and runs the
    /// connection.
    async fn run(self, session: Session) {
        match crate::unix_io::LocalStream::new(self.0) {
            Ok(mut stream) => {
                let (reader, writer) = stream.split();
                run_connection(session, reader, writer).await;
            }
            Err(e) => tracing::warn!(error = %e, "cannot register a local connection"),
        }
    }
}

/// A named pipe, driven through `interprocess` as is; it offers no direct writer.
#[cfg(windows)]
struct ConnectionIo(Stream);

#[cfg(windows)]
fn connection_io(_session: &mut Session, stream: Stream) -> std::io::Result<ConnectionIo> {
    Ok(ConnectionIo(stream))
}

#[cfg(windows)]
impl ConnectionIo {
    async fn run(self, session: Session) {
        run_connection(session, &self.0, &self.0).await;
    }
}

/// Who is on the other end, for logs; an error when they may not connect.
#[cfg(unix)]
fn identify(stream: &Stream) -> Result<String, PipeError> {
    let uid = crate::peer::check_stream(stream)?;
    Ok(format!("pipe uid {uid}"))
}

/// Who is on the other end, for logs. A named pipe created with the default security
/// descriptor only lets this user (and administrators) open it for writing, and remote clients
/// are rejected, so every peer is trusted.
#[cfg(windows)]
fn identify(stream: &Stream) -> Result<String, PipeError> {
    use interprocess::local_socket::traits::StreamCommon;
    let pid = stream.peer_creds().ok().and_then(|creds| creds.pid());
    Ok(match pid {
        Some(pid) => format!("pipe pid {pid}"),
        None => "pipe".to_owned(),
    })
}

/// Sends a few messages to a connection that gets no session, then closes it.
async fn refuse(stream: Stream, messages: Vec<ServerMessage>) {
    let mut out = FramedWrite::new(&stream, FrameCodec::default());
    for msg in messages {
        if out.feed(Bytes::from(msg.to_json())).await.is_err() {
            return;
        }
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, SinkExt::<Bytes>::close(&mut out)).await;
}
