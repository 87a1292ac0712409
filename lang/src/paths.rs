//! Paths named in source files (imports, matcher modules): lexical
//! normalisation and the wording of I/O failures in diagnostics, shared so
//! that both kinds of path are confined to the root and reported alike.

use std::path::{Component, Path, PathBuf};

/// Lexically normalise `a/./b/../c` → `a/c` (no file system access); a
/// `..` above the start is kept.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Why a file could not be read, as a short lowercase phrase.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            // "Is a directory (os error 21)" -> "is a directory"
            let s = s.split(" (os error").next().unwrap_or(&s).to_string();
            s.to_lowercase()
        }
    }
}
