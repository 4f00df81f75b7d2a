//! Who may talk to the host: only processes of the user that runs it.
//!
//! The socket file's mode already keeps other users out; the uid check is the second lock, and
//! it is what lets a local session skip the token (`ConnectionInfo { trusted: true }`).

use crate::PipeError;

/// This process's effective uid.
#[cfg(unix)]
pub fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Accepts a peer only when its effective uid is `own`. `peer` is `None` when the operating
/// system did not say, which is refused too.
///
/// # Errors
/// [`PipeError::PeerRefused`] for another uid, [`PipeError::PeerUnknown`] for no uid.
pub fn check_peer_uid(peer: Option<u32>, own: u32) -> Result<(), PipeError> {
    match peer {
        Some(peer) if peer == own => Ok(()),
        Some(peer) => Err(PipeError::PeerRefused { peer, own }),
        None => Err(PipeError::PeerUnknown),
    }
}

/// Checks a freshly accepted connection's peer against this process's uid.
#[cfg(unix)]
pub(crate) fn check_stream(
    stream: &interprocess::local_socket::tokio::Stream,
) -> Result<u32, PipeError> {
    use interprocess::local_socket::traits::StreamCommon;
    let peer = stream.peer_creds().ok().and_then(|creds| creds.euid());
    check_peer_uid(peer, current_uid())?;
    Ok(current_uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_uid_is_accepted() {
        assert!(check_peer_uid(Some(1000), 1000).is_ok());
        assert!(check_peer_uid(Some(0), 0).is_ok());
    }

    #[test]
    fn another_uid_is_refused_with_both_uids_named() {
        let err = check_peer_uid(Some(1001), 1000).unwrap_err();
        assert!(matches!(
            err,
            PipeError::PeerRefused {
                peer: 1001,
                own: 1000
            }
        ));
        assert_eq!(err.to_string(), "peer uid 1001 is not this host's uid 1000");
        // Root gets no pass either: the host only trusts its own user.
        assert!(check_peer_uid(Some(0), 1000).is_err());
    }

    #[test]
    fn an_unknown_peer_is_refused() {
        assert!(matches!(
            check_peer_uid(None, 1000),
            Err(PipeError::PeerUnknown)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn current_uid_matches_the_process() {
        use std::os::unix::fs::MetadataExt;
        // A file this process creates is owned by its effective uid.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("probe");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().uid(), current_uid());
    }
}
