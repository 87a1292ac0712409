//! Writing the artifacts to `polc build -o DIR`, all or nothing.
//!
//! The files are written to a fresh sibling directory `.DIR.polc-tmp-PID`
//! (so the final rename stays on one filesystem), made durable, and then
//! moved into place:
//! - DIR absent: one `rename`;
//! - DIR present: `renameat2(RENAME_EXCHANGE)` swaps the two directories
//!   atomically, and the old one is removed; where the filesystem cannot
//!   exchange, DIR is renamed aside first (a moment without DIR, never a
//!   half-written one).
//!
//! An existing DIR is replaced only when it is empty or holds nothing but
//! files polc writes; anything else is refused, so `-o ~` cannot wipe a
//! home directory.

use crate::{Artifact, ARTIFACT_NAMES};
use rustix::fs::{renameat_with, RenameFlags, CWD};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn sibling(out: &Path, tag: &str) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    out.with_file_name(format!(".{name}.polc-{tag}-{}", std::process::id()))
}

fn replaceable(out: &Path) -> io::Result<()> {
    for e in fs::read_dir(out)? {
        let e = e?;
        let name = e.file_name();
        let ok =
            name.to_str().is_some_and(|n| ARTIFACT_NAMES.contains(&n)) && e.file_type()?.is_file();
        if !ok {
            return Err(io::Error::other(format!(
                "refusing to replace `{}`: it holds `{}`, which polc did not write",
                out.display(),
                name.to_string_lossy()
            )));
        }
    }
    Ok(())
}

/// Write `artifacts` as the directory `out`, replacing a previous build.
pub fn write_dir(out: &Path, artifacts: &[Artifact]) -> io::Result<()> {
    let out = if out.file_name().is_none() {
        out.canonicalize()?
    } else {
        out.to_path_buf()
    };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let exists = match fs::symlink_metadata(&out) {
        Ok(m) if m.is_dir() => true,
        Ok(_) => {
            return Err(io::Error::other(format!(
                "`{}` exists and is not a directory",
                out.display()
            )))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };
    if exists {
        replaceable(&out)?;
    }
    let tmp = sibling(&out, "tmp");
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir(&tmp)?;
    let written = (|| -> io::Result<()> {
        for a in artifacts {
            let path = tmp.join(a.name);
            let mut f = fs::File::create(&path)?;
            f.write_all(a.contents.as_bytes())?;
            f.set_permissions(fs::Permissions::from_mode(if a.executable {
                0o755
            } else {
                0o644
            }))?;
            f.sync_all()?;
        }
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))?;
        fs::File::open(&tmp)?.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let moved = if !exists {
        fs::rename(&tmp, &out)
    } else {
        match renameat_with(CWD, &tmp, CWD, &out, RenameFlags::EXCHANGE) {
            // `tmp` now holds the previous build.
            Ok(()) => fs::remove_dir_all(&tmp),
            Err(_) => {
                let old = sibling(&out, "old");
                let _ = fs::remove_dir_all(&old);
                fs::rename(&out, &old)
                    .and_then(|()| fs::rename(&tmp, &out))
                    .and_then(|()| fs::remove_dir_all(&old))
            }
        }
    };
    if moved.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    moved
}
