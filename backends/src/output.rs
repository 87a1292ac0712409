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
//! files polc writes — its top-level files, and a `systemd/` directory of
//! `*.slice`/`*.service` files and `UNIT.d/50-polc.conf` drop-ins that all
//! start with polc's marker line; anything else is refused, so `-o ~`
//! cannot wipe a home directory.

use crate::systemd::{DROP_IN, MARKER};
use crate::{Artifact, ARTIFACT_NAMES, SYSTEMD_DIR};
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

fn foreign(out: &Path, what: &Path) -> io::Error {
    io::Error::other(format!(
        "refusing to replace `{}`: it holds `{}`, which polc did not write",
        out.display(),
        what.display()
    ))
}

/// A regular file (not a symlink) whose first line is polc's marker.
fn polc_file(path: &Path) -> io::Result<bool> {
    if !fs::symlink_metadata(path)?.is_file() {
        return Ok(false);
    }
    let mut head = [0u8; MARKER.len()];
    let n = io::Read::read(&mut fs::File::open(path)?, &mut head)?;
    Ok(n == head.len() && head == MARKER.as_bytes())
}

/// `systemd/` of a previous build: units and drop-in directories only.
fn systemd_replaceable(out: &Path, dir: &Path) -> io::Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let ty = e.file_type()?;
        let ok = if ty.is_dir() && name.ends_with(".d") {
            for f in fs::read_dir(&path)? {
                let f = f?;
                if f.file_name() != DROP_IN || !polc_file(&f.path())? {
                    return Err(foreign(out, &f.path()));
                }
            }
            true
        } else {
            ty.is_file()
                && (name.ends_with(".slice") || name.ends_with(".service"))
                && polc_file(&path)?
        };
        if !ok {
            return Err(foreign(out, &path));
        }
    }
    Ok(())
}

fn replaceable(out: &Path) -> io::Result<()> {
    for e in fs::read_dir(out)? {
        let e = e?;
        let name = e.file_name();
        let ty = e.file_type()?;
        if name == SYSTEMD_DIR && ty.is_dir() {
            systemd_replaceable(out, &e.path())?;
            continue;
        }
        let ok = name.to_str().is_some_and(|n| ARTIFACT_NAMES.contains(&n)) && ty.is_file();
        if !ok {
            return Err(foreign(out, Path::new(&name)));
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
            let path = tmp.join(&a.name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            let mut f = fs::File::create(&path)?;
            f.write_all(a.contents.as_bytes())?;
            f.set_permissions(fs::Permissions::from_mode(if a.executable {
                0o755
            } else {
                0o644
            }))?;
            f.sync_all()?;
        }
        // Subdirectories (`systemd/`, `systemd/UNIT.d/`), deepest first.
        let mut dirs: Vec<PathBuf> = artifacts
            .iter()
            .flat_map(|a| {
                let path = tmp.join(&a.name);
                path.ancestors()
                    .skip(1)
                    .take_while(|d| *d != tmp)
                    .map(Path::to_path_buf)
                    .collect::<Vec<_>>()
            })
            .collect();
        dirs.sort_by(|a, b| {
            (b.components().count().cmp(&a.components().count())).then_with(|| a.cmp(b))
        });
        dirs.dedup();
        for d in &dirs {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755))?;
            fs::File::open(d)?.sync_all()?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    fn art(name: &str, contents: &str) -> Artifact {
        Artifact {
            name: name.into(),
            contents: contents.into(),
            executable: false,
        }
    }

    #[test]
    fn systemd_subdir_is_written_and_replaced_but_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let unit = format!("{MARKER} from x.pol\n[Service]\n");
        let first = vec![
            art("ruleset.nft", "x"),
            art("systemd/web.service.d/50-polc.conf", &unit),
            art("systemd/b.slice", &unit),
        ];
        write_dir(&out, &first).unwrap();
        assert_eq!(
            fs::read_to_string(out.join("systemd/web.service.d/50-polc.conf")).unwrap(),
            unit
        );
        // A rebuild replaces polc's own systemd/ files.
        write_dir(&out, &[art("ruleset.nft", "y")]).unwrap();
        assert!(!out.join("systemd").exists());
        write_dir(&out, &first).unwrap();
        // Something else under systemd/ makes the directory not polc's.
        fs::write(
            out.join("systemd/web.service.d/override.conf"),
            "[Service]\n",
        )
        .unwrap();
        let e = write_dir(&out, &first).unwrap_err();
        assert!(e.to_string().contains("override.conf"), "{e}");
        fs::remove_file(out.join("systemd/web.service.d/override.conf")).unwrap();
        fs::write(out.join("systemd/other.service"), "[Service]\n").unwrap();
        assert!(write_dir(&out, &first).is_err());
    }
}
