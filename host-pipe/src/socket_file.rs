//! The Unix socket file and its directory: a `0700` directory owned by this user, a `0600`
//! socket in it, a stale file from a dead host reclaimed, a live host's file never stolen, and
//! the file removed again when the host ends.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::PipeError;

/// The socket file's mode: read and write for the owner only.
pub(crate) const SOCKET_MODE: u32 = 0o600;
/// The directory's mode: only the owner may enter or list it.
pub(crate) const DIRECTORY_MODE: u32 = 0o700;

/// The directory that holds `socket`; `.` for a bare file name.
pub(crate) fn directory_of(socket: &Path) -> &Path {
    match socket.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Makes sure `dir` exists, belongs to `own` and lets nobody else in; creates it (mode `0700`)
/// when missing.
///
/// # Errors
/// [`PipeError::InsecureDirectory`] for a directory of another user, one with group or other
/// permission bits, or a symbolic link planted by another user; [`PipeError::Io`] when it cannot
/// be created or inspected.
pub(crate) fn prepare_directory(dir: &Path, own: u32) -> Result<(), PipeError> {
    let link = match fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(DIRECTORY_MODE)
                .create(dir)
                .map_err(|e| PipeError::io("creating directory", dir, e))?;
            fs::symlink_metadata(dir).map_err(|e| PipeError::io("inspecting", dir, e))?
        }
        Err(e) => return Err(PipeError::io("inspecting", dir, e)),
    };
    // A link in a shared directory such as /tmp can be re-pointed by its owner at any time, so
    // only our own links are followed.
    if link.file_type().is_symlink() && link.uid() != own {
        return Err(PipeError::InsecureDirectory {
            path: dir.to_path_buf(),
            reason: format!(
                "it is a symbolic link owned by uid {}, not by this user (uid {own})",
                link.uid()
            ),
        });
    }
    let meta = fs::metadata(dir).map_err(|e| PipeError::io("inspecting", dir, e))?;
    check_directory(dir, meta.is_dir(), meta.uid(), meta.mode(), own)
}

/// The ownership and mode rules of [`prepare_directory`], apart from the file system so they
/// can be tested with any uid.
pub(crate) fn check_directory(
    dir: &Path,
    is_dir: bool,
    owner: u32,
    mode: u32,
    own: u32,
) -> Result<(), PipeError> {
    let refuse = |reason: String| {
        Err(PipeError::InsecureDirectory {
            path: dir.to_path_buf(),
            reason,
        })
    };
    if !is_dir {
        return refuse("it is not a directory".into());
    }
    if owner != own {
        return refuse(format!(
            "it is owned by uid {owner}, not by this user (uid {own})"
        ));
    }
    let mode = mode & 0o7777;
    if mode & 0o077 != 0 {
        return refuse(format!(
            "its mode {mode:04o} lets group or others in; it must be {DIRECTORY_MODE:04o} (chmod 700)"
        ));
    }
    Ok(())
}

/// Clears the way for binding `path`: nothing there is fine; a socket nobody listens on (a
/// host that died) is removed; a socket someone answers on is left alone.
///
/// # Errors
/// [`PipeError::InUse`] when a live host answers, [`PipeError::NotASocket`] when another kind
/// of file is there, [`PipeError::Io`] when the probe or the removal fails otherwise.
pub(crate) fn reclaim_stale(path: &Path) -> Result<(), PipeError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(PipeError::io("inspecting", path, e)),
    };
    if !meta.file_type().is_socket() {
        return Err(PipeError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    match UnixStream::connect(path) {
        Ok(_live) => Err(PipeError::InUse {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "removing the stale socket of a host that is gone");
            match fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(PipeError::io("removing stale socket", path, e)),
            }
        }
        // Someone else removed it between the look and the probe.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(PipeError::io("probing existing socket", path, e)),
    }
}

/// The bound socket file. Dropping it removes the file — but only if it is still the one this
/// host created, so a host that already took the path over keeps its socket.
#[derive(Debug)]
pub(crate) struct SocketFile {
    path: PathBuf,
    /// Device and inode of the file we bound, to recognise it later.
    identity: (u64, u64),
}

impl SocketFile {
    /// Takes charge of the socket just bound at `path` and makes sure its mode is `0600`.
    pub(crate) fn adopt(path: &Path) -> Result<Self, PipeError> {
        fs::set_permissions(path, fs::Permissions::from_mode(SOCKET_MODE))
            .map_err(|e| PipeError::io("restricting permissions of", path, e))?;
        let meta = fs::symlink_metadata(path).map_err(|e| PipeError::io("inspecting", path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            identity: (meta.dev(), meta.ino()),
        })
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = fs::symlink_metadata(&self.path)
            .map(|meta| (meta.dev(), meta.ino()) == self.identity)
            .unwrap_or(false);
        if !ours {
            return;
        }
        match fs::remove_file(&self.path) {
            Ok(()) => tracing::debug!(path = %self.path.display(), "socket file removed"),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "could not remove the socket file")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_rules() {
        let dir = Path::new("/run/x");
        assert!(check_directory(dir, true, 1000, 0o40700, 1000).is_ok());
        let others = check_directory(dir, true, 1000, 0o40755, 1000).unwrap_err();
        assert!(others.to_string().contains("mode 0755"), "{others}");
        let group = check_directory(dir, true, 1000, 0o40710, 1000).unwrap_err();
        assert!(group.to_string().contains("chmod 700"), "{group}");
        let foreign = check_directory(dir, true, 1001, 0o40700, 1000).unwrap_err();
        assert!(
            foreign.to_string().contains("owned by uid 1001"),
            "{foreign}"
        );
        assert!(check_directory(dir, false, 1000, 0o600, 1000).is_err());
    }

    #[test]
    fn bare_file_names_live_in_the_current_directory() {
        assert_eq!(directory_of(Path::new("x.sock")), Path::new("."));
        assert_eq!(directory_of(Path::new("/a/b.sock")), Path::new("/a"));
    }

    #[test]
    fn a_regular_file_is_never_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-a-socket");
        fs::write(&path, b"keep me").unwrap();
        assert!(matches!(
            reclaim_stale(&path),
            Err(PipeError::NotASocket { .. })
        ));
        assert_eq!(fs::read(&path).unwrap(), b"keep me");
    }

    #[test]
    fn removal_spares_a_successor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let first = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let guard = SocketFile::adopt(&path).unwrap();
        drop(first);
        // Another host replaced the file (moved aside here rather than deleted, so the new
        // socket cannot reuse the old inode number); our guard must leave the new one alone.
        fs::rename(&path, dir.path().join("old.sock")).unwrap();
        let _second = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(guard);
        assert!(path.exists());
    }
}
