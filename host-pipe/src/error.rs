//! [`PipeError`]: what can go wrong while setting up or guarding the local socket.

use std::io;
use std::path::PathBuf;

/// Why the local-socket host could not start, or why a peer was refused.
#[derive(Debug, thiserror::Error)]
pub enum PipeError {
    /// Another live host already listens on this socket; it is left alone.
    #[error("another Stagelink host is already listening on {}", path.display())]
    InUse {
        /// The socket path (or pipe name) that is taken.
        path: PathBuf,
    },
    /// The directory that holds the socket could be reached by other users, so anyone could
    /// swap the socket file under us. Fix it with `chmod 700` or pick another path.
    #[error("refusing to put the socket in {}: {reason}", path.display())]
    InsecureDirectory {
        /// The directory that was checked.
        path: PathBuf,
        /// What is wrong with it (owner or mode), with the values found.
        reason: String,
    },
    /// Something that is not a socket sits at the socket path; it is never deleted for us.
    #[error("{} exists and is not a socket; remove it or pick another path", path.display())]
    NotASocket {
        /// The path holding the foreign file.
        path: PathBuf,
    },
    /// A peer of another user connected (the socket's mode should make this impossible, so it
    /// is worth a log line).
    #[error("peer uid {peer} is not this host's uid {own}")]
    PeerRefused {
        /// The peer's effective uid.
        peer: u32,
        /// Ours.
        own: u32,
    },
    /// The peer's credentials could not be read, so it cannot be trusted.
    #[error("the peer's credentials are unavailable")]
    PeerUnknown,
    /// An operating-system call failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, as a phrase (`binding`, `creating directory`…).
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl PipeError {
    /// An [`PipeError::Io`] for `action` on `path`.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
