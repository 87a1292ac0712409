//! `polc install DIR [--root ROOT]`: a checked build becomes the current
//! generation of its table, its files go under /etc, and the boot unit is
//! enabled — so the next boot applies it before the network comes up.
//! Installing does not touch the running kernel (`apply.sh` does that);
//! with `--root` nothing outside ROOT changes at all.
//!
//! Order, each step only after the previous one succeeded:
//! 1. take the table's lock; check the build against its manifest;
//! 2. refuse if a file in the way under /etc is not polc's;
//! 3. write the generation (complete or absent);
//! 4. write the /etc files, removing the previous generation's extras;
//!    if that fails, the previous generation's files are put back and the
//!    new generation is removed;
//! 5. switch `current`; enable the boot unit (`systemctl [--root] enable`)
//!    and, on a running systemd, `daemon-reload`;
//! 6. prune to the last [`InstallOptions::keep`] generations.
//!
//! Installing the build that is already current adds no generation and
//! reports `changed: false` (what a configuration manager needs).
//! Without `systemctl` (a host without systemd) the files are installed
//! and the boot unit is not enabled; the result says so.

use crate::build_dir::BuildDir;
use crate::etc_files::{self, Changes};
use crate::generations::{self, Lock};
use crate::layout::Layout;
use crate::HostError;
use std::path::Path;
use std::process::Command;

#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// Generations kept (the current one always among them).
    pub keep: usize,
}

impl Default for InstallOptions {
    fn default() -> Self {
        InstallOptions { keep: 3 }
    }
}

/// How the boot unit was enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enabled {
    /// `systemctl enable` ran; its messages.
    Systemctl(String),
    /// No `systemctl`: nothing enables the unit.
    NoSystemd,
}

#[derive(Debug, Clone)]
pub struct Installed {
    pub table: String,
    /// The current generation now.
    pub generation: u64,
    /// The generation that was current before, if any.
    pub previous: Option<u64>,
    /// False when the build was already the current generation and every
    /// file was in place.
    pub changed: bool,
    pub etc: Changes,
    pub enabled: Enabled,
    pub pruned: Vec<u64>,
}

pub(crate) fn systemctl() -> Option<std::ffi::OsString> {
    let prog = std::env::var_os("SYSTEMCTL").unwrap_or_else(|| "systemctl".into());
    Command::new(&prog)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| prog)
}

/// True when systemd is the running init (sd_booted's test).
pub(crate) fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

pub(crate) fn run_systemctl(prog: &std::ffi::OsStr, args: &[&str]) -> Result<String, HostError> {
    let out = Command::new(prog)
        .args(args)
        .output()
        .map_err(|e| HostError::new(format!("cannot run systemctl: {e}")))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(HostError::new(format!(
            "`systemctl {}` failed: {}",
            args.join(" "),
            text.trim()
        )));
    }
    Ok(text)
}

fn enable(layout: &Layout, unit: &str) -> Result<Enabled, HostError> {
    let Some(prog) = systemctl() else {
        return Ok(Enabled::NoSystemd);
    };
    let root = format!("--root={}", layout.root().display());
    let mut text = String::new();
    if layout.is_live() && systemd_running() {
        text += &run_systemctl(&prog, &["daemon-reload"])?;
        text += &run_systemctl(&prog, &["enable", unit])?;
    } else {
        text += &run_systemctl(&prog, &[&root, "enable", unit])?;
    }
    Ok(Enabled::Systemctl(text))
}

/// The root must be a directory.
pub fn check_root(root: &Path) -> Result<(), HostError> {
    if root.is_dir() {
        Ok(())
    } else {
        Err(HostError::new(format!(
            "the root `{}` is not a directory",
            root.display()
        )))
    }
}

/// Install `build_dir` under `root`.
pub fn install(
    build_dir: &Path,
    root: &Path,
    opts: &InstallOptions,
) -> Result<Installed, HostError> {
    check_root(root)?;
    // Check the build before taking the lock: a bad build leaves no trace
    // (not even the state directory).
    let build = BuildDir::open(build_dir)?;
    let layout = Layout::new(root, &build.manifest.table);
    let _lock = Lock::take(&layout)?;
    install_locked(&build, &layout, opts)
}

/// [`install`] with the table's lock already held.
pub fn install_locked(
    build: &BuildDir,
    layout: &Layout,
    opts: &InstallOptions,
) -> Result<Installed, HostError> {
    let layout = layout.clone();
    let previous = generations::current(&layout)?;
    let old = match previous {
        Some(n) => Some(generations::open(&layout, n)?),
        None => None,
    };
    let new_files = etc_files::targets(&layout, build);
    let old_files = old
        .as_ref()
        .map(|o| etc_files::targets(&layout, o))
        .unwrap_or_default();
    etc_files::check(&new_files)?;

    let same = old
        .as_ref()
        .is_some_and(|o| o.manifest_text == build.manifest_text);
    let generation = match (same, previous) {
        (true, Some(n)) => n,
        _ => {
            let n = generations::create(&layout, build)?;
            if let Some(p) = previous {
                generations::set_previous(&layout, n, p)?;
            }
            n
        }
    };
    let etc = match etc_files::install(&new_files, &old_files) {
        Ok(c) => c,
        Err(e) => {
            if !same {
                let _ = etc_files::install(&old_files, &new_files);
                let _ = std::fs::remove_dir_all(generations::dir(&layout, generation));
            }
            return Err(e);
        }
    };
    if !same {
        generations::switch(&layout, generation)?;
    }
    let enabled = enable(&layout, &build.manifest.boot_unit)?;
    let pruned = generations::prune(&layout, opts.keep, previous)?;
    Ok(Installed {
        table: build.manifest.table.clone(),
        generation,
        previous,
        changed: !same || !etc.is_empty(),
        etc,
        enabled,
        pruned,
    })
}

/// Make the installed generation `to` current again, with its /etc files
/// (replacing those of the generation current now). For rollback.
pub fn activate_locked(layout: &Layout, to: u64) -> Result<Changes, HostError> {
    let target = generations::open(layout, to)?;
    let now = match generations::current(layout)? {
        Some(n) => Some(generations::open(layout, n)?),
        None => None,
    };
    let new_files = etc_files::targets(layout, &target);
    let old_files = now
        .as_ref()
        .map(|o| etc_files::targets(layout, o))
        .unwrap_or_default();
    let changes = etc_files::install(&new_files, &old_files)?;
    generations::switch(layout, to)?;
    enable(layout, &target.manifest.boot_unit)?;
    Ok(changes)
}
