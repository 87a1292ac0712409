//! The files a generation puts under /etc: every file of its `systemd/`
//! (the boot unit, drop-ins, owned slices and their refresh services) in
//! /etc/systemd/system, and `sysctl.conf` as /etc/sysctl.d/60-polc-TABLE.conf.
//!
//! Installing a generation's files replaces the previous generation's: the
//! ones the new build no longer has are removed (and drop-in directories
//! left empty). polc only replaces or removes a file that it wrote — one
//! that starts with its marker line; any other file in the way (an
//! administrator's own `browser.slice`, say) stops the install before
//! anything is written. Each file is written under a temporary name and
//! renamed into place.

use crate::build_dir::BuildDir;
use crate::layout::Layout;
use crate::HostError;
use pol_backends::systemd::MARKER;
use pol_backends::tuning::SYSCTL_MARKER;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// One file under /etc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcFile {
    /// The path under the root.
    pub path: PathBuf,
    pub contents: Vec<u8>,
    /// How polc's version of the file starts.
    pub marker: &'static str,
}

/// What `build` puts under /etc.
pub fn targets(layout: &Layout, build: &BuildDir) -> Vec<EtcFile> {
    let units = layout.unit_dir();
    let mut out: Vec<EtcFile> = build
        .systemd_files()
        .map(|(rel, f)| EtcFile {
            path: units.join(rel),
            contents: f.contents.clone(),
            marker: MARKER,
        })
        .collect();
    if let Some(f) = build.file("sysctl.conf") {
        out.push(EtcFile {
            path: layout.sysctl_file(),
            contents: f.contents.clone(),
            marker: SYSCTL_MARKER,
        });
    }
    out
}

/// `Some(true)`: a file polc wrote; `Some(false)`: someone else's (or not
/// a regular file); `None`: absent.
fn ours(path: &Path, marker: &str) -> Result<Option<bool>, HostError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(HostError::io("read", path, e)),
    };
    if !meta.is_file() {
        return Ok(Some(false));
    }
    let mut head = vec![0u8; marker.len()];
    let mut f = fs::File::open(path).map_err(|e| HostError::io("read", path, e))?;
    let n = f
        .read(&mut head)
        .map_err(|e| HostError::io("read", path, e))?;
    Ok(Some(n == head.len() && head == marker.as_bytes()))
}

fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), HostError> {
    let dir = path
        .parent()
        .ok_or_else(|| HostError::new(format!("`{}` has no directory", path.display())))?;
    fs::create_dir_all(dir).map_err(|e| HostError::io("create", dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.polc-new"));
    let _ = fs::remove_file(&tmp);
    let mut f = fs::File::create(&tmp).map_err(|e| HostError::io("create", &tmp, e))?;
    f.write_all(contents)
        .and_then(|()| f.sync_all())
        .map_err(|e| HostError::io("write", &tmp, e))?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644))
        .map_err(|e| HostError::io("set the mode of", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| HostError::io("move into place", path, e))
}

/// What installing changed under /etc.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Written because absent or different.
    pub written: Vec<PathBuf>,
    /// The previous generation's files the new one does not have.
    pub removed: Vec<PathBuf>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.written.is_empty() && self.removed.is_empty()
    }
}

/// Refuse, before writing anything, when a file polc would replace is not
/// polc's.
pub fn check(new: &[EtcFile]) -> Result<(), HostError> {
    for t in new {
        if ours(&t.path, t.marker)? == Some(false) {
            return Err(HostError::new(format!(
                "not installing: `{}` exists and polc did not write it (move it away, or rename the unit or slice in the policy)",
                t.path.display()
            )));
        }
    }
    Ok(())
}

/// Put `new` in place and remove what only `old` had.
pub fn install(new: &[EtcFile], old: &[EtcFile]) -> Result<Changes, HostError> {
    check(new)?;
    let mut changes = Changes::default();
    for t in new {
        let same = fs::read(&t.path).is_ok_and(|c| c == t.contents);
        if !same {
            write_atomic(&t.path, &t.contents)?;
            changes.written.push(t.path.clone());
        }
    }
    for o in old {
        if new.iter().any(|t| t.path == o.path) || ours(&o.path, o.marker)? != Some(true) {
            continue;
        }
        fs::remove_file(&o.path).map_err(|e| HostError::io("remove", &o.path, e))?;
        changes.removed.push(o.path.clone());
        // A drop-in directory polc emptied goes too (`remove_dir` only
        // removes an empty one).
        if let Some(parent) = o.path.parent() {
            if parent.extension().is_some_and(|e| e == "d") {
                let _ = fs::remove_dir(parent);
            }
        }
    }
    Ok(changes)
}
