//! Finding a matcher module on disk the way imports are found (LANGUAGE.md
//! §2): relative to the file that names it, and confined to the root
//! directory — lexically (no `..` above the root, no absolute path) and after
//! following symlinks.

use super::abi::MAX_MODULE_BYTES;
use super::MatcherError;
use crate::diag::codes;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// A module file that was found and read.
#[derive(Debug, Clone)]
pub struct ModuleFile {
    /// The canonical path on disk.
    pub path: PathBuf,
    /// The path relative to the root, with `/`, for messages.
    pub display: String,
    pub bytes: Vec<u8>,
}

/// Resolve `rel` (as written in `wasm "..."`) against `from_dir` (the
/// directory of the file that names it) and read it, refusing anything
/// outside `root`. Errors: `P0613` escapes the root, `P0601` not found or
/// unreadable, `P0614` larger than 16 MiB.
pub fn read_module(root: &Path, from_dir: &Path, rel: &str) -> Result<ModuleFile, MatcherError> {
    let escapes = |why: String| {
        MatcherError::new(
            codes::MATCHER_ESCAPES,
            format!("matcher path `{rel}` escapes the root directory"),
        )
        .with_note(why)
        .with_note(format!(
            "the root is `{}`; use `--root DIR` to widen it",
            root.display()
        ))
    };
    let rel_path = Path::new(rel);
    if rel_path.is_absolute() || rel_path.has_root() {
        return Err(escapes(
            "it is an absolute path; matcher paths are relative to the file that names them".into(),
        ));
    }
    let abs_root = absolute(root);
    let joined = lexical_normalize(&absolute(from_dir).join(rel_path));
    let Some(joined) =
        joined.filter(|j| j.starts_with(lexical_normalize(&abs_root).unwrap_or_default()))
    else {
        return Err(escapes("it leads outside the root with `..`".into()));
    };
    let canon = std::fs::canonicalize(&joined).map_err(|e| not_found(rel, &joined, &e))?;
    let canon_root = std::fs::canonicalize(&abs_root).unwrap_or(abs_root);
    if !canon.starts_with(&canon_root) {
        return Err(escapes(format!(
            "it resolves (through a symbolic link) to `{}`",
            canon.display()
        )));
    }
    let display = canon
        .strip_prefix(&canon_root)
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        })
        .unwrap_or_else(|_| rel.to_string());
    let mut file = std::fs::File::open(&canon).map_err(|e| not_found(rel, &canon, &e))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(MatcherError::new(
            codes::MATCHER_NOT_FOUND,
            format!("matcher module `{rel}` is a directory"),
        ));
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_MODULE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| not_found(rel, &canon, &e))?;
    if bytes.len() > MAX_MODULE_BYTES {
        return Err(MatcherError::new(
            codes::MATCHER_LIMIT,
            format!("matcher module `{display}` is larger than 16MiB"),
        ));
    }
    Ok(ModuleFile {
        path: canon,
        display,
        bytes,
    })
}

fn not_found(rel: &str, path: &Path, e: &std::io::Error) -> MatcherError {
    let msg = if e.kind() == std::io::ErrorKind::NotFound {
        format!("matcher module `{rel}` not found")
    } else {
        format!("cannot read matcher module `{rel}`")
    };
    MatcherError::new(codes::MATCHER_NOT_FOUND, msg)
        .with_note(format!("looked for `{}`: {e}", path.display()))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Remove `.` and resolve `..` without touching the file system; `None`
/// when `..` climbs above `/`.
fn lexical_normalize(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    Some(out)
}
