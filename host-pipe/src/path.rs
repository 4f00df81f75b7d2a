//! Where a project's socket lives by default (protocol §2): a file in a per-user directory on
//! Unix, a named pipe on Windows.

use std::path::PathBuf;

/// The default socket of `project`.
///
/// - Unix: `$XDG_RUNTIME_DIR/stagelink/<project>.sock`, or `/tmp/stagelink-<uid>/<project>.sock`
///   when `XDG_RUNTIME_DIR` is unset, empty or relative.
/// - Windows: the named pipe `\\.\pipe\stagelink-<project>`.
///
/// Characters other than ASCII letters, digits, `-`, `_` and `.` in `project` become `_` (and a
/// leading `.` too), so a project name can never climb out of the directory or hide the file.
pub fn default_socket_path(project: &str) -> PathBuf {
    #[cfg(unix)]
    {
        let runtime = std::env::var_os("XDG_RUNTIME_DIR");
        unix_default(project, runtime.as_deref(), crate::peer::current_uid())
    }
    #[cfg(windows)]
    {
        PathBuf::from(format!(r"\\.\pipe\stagelink-{}", file_safe(project)))
    }
}

/// [`default_socket_path`] with the environment passed in, so it can be tested.
#[cfg(unix)]
pub(crate) fn unix_default(
    project: &str,
    runtime_dir: Option<&std::ffi::OsStr>,
    uid: u32,
) -> PathBuf {
    let file = format!("{}.sock", file_safe(project));
    match runtime_dir.map(std::path::Path::new) {
        Some(dir) if dir.is_absolute() => dir.join("stagelink").join(file),
        _ => PathBuf::from(format!("/tmp/stagelink-{uid}")).join(file),
    }
}

/// `project` with anything that could act as a path separator or hide the file replaced.
pub(crate) fn file_safe(project: &str) -> String {
    let mut out: String = project
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, '_');
    }
    out
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::path::Path;

    #[test]
    fn runtime_dir_wins_when_absolute() {
        assert_eq!(
            unix_default("demo", Some(OsStr::new("/run/user/1000")), 1000),
            Path::new("/run/user/1000/stagelink/demo.sock")
        );
    }

    #[test]
    fn falls_back_to_tmp_with_uid() {
        for runtime in [None, Some(OsStr::new("")), Some(OsStr::new("relative/dir"))] {
            assert_eq!(
                unix_default("demo", runtime, 4242),
                Path::new("/tmp/stagelink-4242/demo.sock")
            );
        }
    }

    #[test]
    fn project_names_cannot_escape() {
        assert_eq!(file_safe("demo-1_a.b"), "demo-1_a.b");
        assert_eq!(file_safe("../etc/passwd"), "_.._etc_passwd");
        assert_eq!(file_safe(".hidden"), "_.hidden");
        assert_eq!(file_safe(""), "_");
        assert_eq!(file_safe("wörld"), "w_rld");
    }
}
