//! Installed builds as numbered generations of one table:
//! `ROOT/var/lib/polc/TABLE/generations/N` holds a verified copy of a build
//! directory (its manifest included) and `current` links to the one the
//! boot unit applies.
//!
//! A generation is written under a temporary name, synced, and renamed into
//! place, so a directory named `N` is always complete; `current` is
//! switched by renaming a new symlink over it, so it always names one
//! whole generation. [`Lock`] (flock on `TABLE/lock`) keeps two installs of
//! the same table from interleaving.

use crate::build_dir::BuildDir;
use crate::layout::Layout;
use crate::HostError;
use pol_backends::manifest;
use rustix::fs::{flock, FlockOperation};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Held while a table's generations change; released on drop.
pub struct Lock {
    _file: fs::File,
}

impl Lock {
    /// Take the table's lock, or say who holds it.
    pub fn take(layout: &Layout) -> Result<Self, HostError> {
        let file = Self::open(layout)?;
        Self::hold(file, layout, FlockOperation::NonBlockingLockExclusive)
    }

    fn open(layout: &Layout) -> Result<fs::File, HostError> {
        let dir = layout.table_dir();
        fs::create_dir_all(&dir).map_err(|e| HostError::io("create", &dir, e))?;
        let path = layout.lock_file();
        fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| HostError::io("open", &path, e))
    }

    /// Take the table's lock, waiting for whoever holds it.
    pub fn wait(layout: &Layout) -> Result<Self, HostError> {
        let file = Self::open(layout)?;
        Self::hold(file, layout, FlockOperation::LockExclusive)
    }

    fn hold(file: fs::File, layout: &Layout, op: FlockOperation) -> Result<Self, HostError> {
        let path = layout.lock_file();
        flock(&file, op).map_err(|_| {
            HostError::new(format!(
                "another polc is installing or reverting table inet {} (it holds `{}`)",
                layout.table(),
                path.display()
            ))
        })?;
        Ok(Lock { _file: file })
    }
}

/// The directory of generation `n`.
pub fn dir(layout: &Layout, n: u64) -> PathBuf {
    layout.generations_dir().join(n.to_string())
}

/// The installed generations, oldest first.
pub fn list(layout: &Layout) -> Result<Vec<u64>, HostError> {
    let gens = layout.generations_dir();
    let entries = match fs::read_dir(&gens) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(HostError::io("read", &gens, e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| HostError::io("read", &gens, e))?;
        let name = e.file_name();
        let Some(n) = name.to_str().and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        if e.file_type().is_ok_and(|t| t.is_dir()) && n.to_string() == name.to_string_lossy() {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The generation `current` names, if any.
pub fn current(layout: &Layout) -> Result<Option<u64>, HostError> {
    let link = layout.current_link();
    let target = match fs::read_link(&link) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(HostError::io("read the link", &link, e)),
    };
    let n = target
        .strip_prefix("generations")
        .ok()
        .and_then(|r| r.to_str())
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| {
            HostError::new(format!(
                "`{}` points at `{}`, not at a generation",
                link.display(),
                target.display()
            ))
        })?;
    Ok(Some(n))
}

/// Open an installed generation as a build directory (checked again).
pub fn open(layout: &Layout, n: u64) -> Result<BuildDir, HostError> {
    let d = dir(layout, n);
    if !d.is_dir() {
        let have = list(layout)?;
        return Err(HostError::new(format!(
            "table inet {} has no generation {n} (installed: {})",
            layout.table(),
            if have.is_empty() {
                "none".to_string()
            } else {
                have.iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )));
    }
    BuildDir::open(&d)
}

fn write_file(path: &Path, contents: &[u8], executable: bool) -> Result<(), HostError> {
    let mut f = fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(if executable { 0o755 } else { 0o644 })
        .open(path)
        .map_err(|e| HostError::io("create", path, e))?;
    f.write_all(contents)
        .and_then(|()| f.sync_all())
        .map_err(|e| HostError::io("write", path, e))?;
    // The mode is exact whatever the umask.
    fs::set_permissions(
        path,
        fs::Permissions::from_mode(if executable { 0o755 } else { 0o644 }),
    )
    .map_err(|e| HostError::io("set the mode of", path, e))
}

fn sync_dir(path: &Path) -> Result<(), HostError> {
    fs::File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|e| HostError::io("sync", path, e))
}

/// Write `build` as the next generation (not made current). Returns its number.
pub fn create(layout: &Layout, build: &BuildDir) -> Result<u64, HostError> {
    let gens = layout.generations_dir();
    fs::create_dir_all(&gens).map_err(|e| HostError::io("create", &gens, e))?;
    let n = list(layout)?.last().map_or(1, |l| l + 1);
    let tmp = gens.join(format!(".new-{n}"));
    if tmp.exists() {
        // Left by an install that died: never a generation.
        fs::remove_dir_all(&tmp).map_err(|e| HostError::io("remove", &tmp, e))?;
    }
    let result = (|| {
        fs::create_dir(&tmp).map_err(|e| HostError::io("create", &tmp, e))?;
        for f in &build.files {
            let path = tmp.join(&f.entry.name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| HostError::io("create", parent, e))?;
            }
            write_file(&path, &f.contents, f.entry.executable)?;
        }
        write_file(
            &tmp.join(manifest::NAME),
            build.manifest_text.as_bytes(),
            false,
        )?;
        sync_dir(&tmp)?;
        let done = dir(layout, n);
        fs::rename(&tmp, &done).map_err(|e| HostError::io("move into place", &done, e))?;
        sync_dir(&gens)
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    Ok(n)
}

/// Make generation `n` current (atomically).
pub fn switch(layout: &Layout, n: u64) -> Result<(), HostError> {
    let link = layout.current_link();
    let tmp = link.with_file_name(".current.new");
    let _ = fs::remove_file(&tmp);
    let target = Path::new("generations").join(n.to_string());
    std::os::unix::fs::symlink(&target, &tmp).map_err(|e| HostError::io("create", &tmp, e))?;
    fs::rename(&tmp, &link).map_err(|e| HostError::io("replace", &link, e))?;
    sync_dir(&layout.table_dir())
}

/// Remove the oldest generations so that at most `keep` remain; never the
/// current one nor `also_keep`. Returns the removed numbers.
pub fn prune(layout: &Layout, keep: usize, also_keep: Option<u64>) -> Result<Vec<u64>, HostError> {
    let all = list(layout)?;
    let cur = current(layout)?;
    let mut removed = Vec::new();
    let excess = all.len().saturating_sub(keep.max(1));
    for n in all.into_iter().take(excess) {
        if Some(n) == cur || Some(n) == also_keep {
            continue;
        }
        let d = dir(layout, n);
        fs::remove_dir_all(&d).map_err(|e| HostError::io("remove", &d, e))?;
        removed.push(n);
    }
    Ok(removed)
}

/// Record that generation `p` was current before `n` (what `rollback`
/// returns to: not simply `n - 1`, which may be a generation that was
/// reverted).
pub fn set_previous(layout: &Layout, n: u64, p: u64) -> Result<(), HostError> {
    let path = dir(layout, n).join("previous");
    fs::write(&path, format!("{p}\n")).map_err(|e| HostError::io("write", &path, e))
}

/// The generation that was current before `n`, if recorded and still installed.
pub fn previous(layout: &Layout, n: u64) -> Option<u64> {
    let p = fs::read_to_string(dir(layout, n).join("previous"))
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    dir(layout, p).is_dir().then_some(p)
}
