//! Finding a matcher module on disk the way imports are found (LANGUAGE.md
//! §2): relative to the file that names it, and confined to the root
//! directory — lexically (no `..` above the root, no absolute path) and after
//! following symbolic links. The one implementation: the resolver and the
//! tests both use it.

use super::abi::MAX_MODULE_BYTES;
use super::MatcherError;
use crate::diag::codes;
use crate::paths::{io_reason, normalize};
use crate::read::{self, ReadError};
use std::path::{Path, PathBuf};

/// A module file that was found and read.
#[derive(Debug, Clone)]
pub struct ModuleFile {
    /// The canonical path on disk.
    pub path: PathBuf,
    /// The path relative to the root, with `/`, for messages.
    pub display: String,
    pub bytes: Vec<u8>,
}

/// Where a module is looked for: the root directory (as it is on disk and
/// as messages show it) and the directory of the file that names it.
#[derive(Debug, Clone, Copy)]
pub struct ModuleSearch<'a> {
    pub root: &'a Path,
    /// The root as the user gave it (`--root`), for messages.
    pub root_shown: &'a str,
    pub from_dir: &'a Path,
}

/// [`ModuleSearch::read`] with the root shown as it is on disk.
pub fn read_module(root: &Path, from_dir: &Path, rel: &str) -> Result<ModuleFile, MatcherError> {
    let shown = root.display().to_string();
    ModuleSearch {
        root,
        root_shown: &shown,
        from_dir,
    }
    .read(rel)
}

impl ModuleSearch<'_> {
    /// Resolve `rel` (as written in `wasm "..."`) and read it, refusing
    /// anything outside the root. Errors: `P0613` escapes the root, `P0601`
    /// not found or unreadable, `P0614` larger than 16 MiB, `P0106` not a
    /// regular file (a FIFO would block forever), `P0109` a control
    /// character in the path.
    pub fn read(&self, rel: &str) -> Result<ModuleFile, MatcherError> {
        if let Some(c) = read::forbidden_char(rel) {
            return Err(MatcherError::new(
                codes::CONTROL_IN_PATH,
                format!(
                    "matcher path `{}` contains the control character `{}`",
                    read::escaped_name(rel),
                    c.escape_default()
                ),
            )
            .with_label("control character in a file name"));
        }
        let escapes = |why: Option<&str>| {
            let e = MatcherError::new(
                codes::MATCHER_ESCAPES,
                format!("matcher path `{rel}` escapes the root directory"),
            )
            .with_label("outside the root");
            match why {
                Some(w) => e.with_note(w),
                None => e,
            }
            .with_note(format!("the root is `{}`", self.root_shown))
        };
        let rel_path = Path::new(rel);
        if rel_path.is_absolute() || rel_path.has_root() {
            return Err(escapes(Some(
                "matcher paths are relative to the file that names them",
            )));
        }
        let root = normalize(&absolute(self.root));
        let joined = normalize(&absolute(self.from_dir).join(rel_path));
        if !joined.starts_with(&root) {
            return Err(escapes(None));
        }
        let unreadable = |what: &str, e: &std::io::Error| {
            MatcherError::new(
                codes::MATCHER_NOT_FOUND,
                format!("{what} matcher module `{rel}`"),
            )
            .with_label(io_reason(e))
        };
        let canon = std::fs::canonicalize(&joined).map_err(|e| unreadable("cannot find", &e))?;
        let canon_root = std::fs::canonicalize(&root).unwrap_or(root);
        if !canon.starts_with(&canon_root) {
            return Err(escapes(Some("a symbolic link leads outside the root")));
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
        let bytes = read::read_bytes(&canon, true, MAX_MODULE_BYTES).map_err(|e| match e {
            ReadError::Io(e) => unreadable("cannot read", &e),
            ReadError::TooLarge { .. } => MatcherError::new(
                codes::MATCHER_LIMIT,
                format!("matcher module `{display}` is larger than 16MiB"),
            ),
            other => MatcherError::new(
                codes::NOT_REGULAR_FILE,
                format!("cannot read matcher module `{rel}`: {}", other.reason()),
            )
            .with_label("only regular files can be matcher modules"),
        })?;
        Ok(ModuleFile {
            path: canon,
            display,
            bytes,
        })
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}
