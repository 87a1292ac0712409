//! `polc apply`, `polc rollback`, `polc confirm`: changing the running
//! host from one generation to another, and back.
//!
//! **apply DIR**: check everything first (`apply.sh --check`: nft -c, the
//! tuning's keys and interfaces, the empty-table guard), record the
//! sysctls the build sets, install it as the current generation
//! (`install`), run its `apply.sh`; when that fails, revert to the
//! previous generation. Nothing changes when a check fails.
//!
//! **--confirm SECS**: before the kernel changes, the generation is made
//! *pending* — `TABLE/pending.json` names it — and a revert is armed — a
//! transient systemd timer (`systemd-run --on-active=SECS`) where systemd
//! runs, otherwise a detached process (`setsid -f polc rollback --after
//! SECS`), both outside the session that applied, so they survive it.
//! `polc confirm` removes the pending mark (from a new login session when
//! both are known: one that could connect *after* the new policy loaded);
//! when the time is up, `polc rollback --if-pending N` reverts unless it
//! was confirmed.
//!
//! **rollback**: make the previous generation (the one current before
//! it, `generations/N/previous`; not `N - 1`, which may have been
//! reverted) current (its /etc files) and run its `apply.sh`, then restore
//! the sysctl values recorded before the current generation was applied.
//! With no previous generation, the table is deleted and polc's /etc
//! files removed.

use crate::build_dir::BuildDir;
use crate::generations::{self, Lock};
use crate::install::{self, InstallOptions};
use crate::layout::Layout;
use crate::{etc_files, sysctl_undo, HostError};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A generation waiting for confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub generation: u64,
    pub previous: Option<u64>,
    /// Seconds since the epoch when the revert fires.
    pub deadline: u64,
    /// The audit login session that applied (`/proc/self/sessionid`), if known.
    pub session: Option<u32>,
    /// How the revert is armed (for messages).
    pub armed: String,
}

fn pending_path(layout: &Layout) -> PathBuf {
    layout.table_dir().join("pending.json")
}

pub fn read_pending(layout: &Layout) -> Result<Option<Pending>, HostError> {
    let p = pending_path(layout);
    match fs::read_to_string(&p) {
        Ok(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| HostError::new(format!("`{}`: {e}", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(HostError::io("read", &p, e)),
    }
}

fn write_pending(layout: &Layout, p: &Pending) -> Result<(), HostError> {
    let path = pending_path(layout);
    let tmp = path.with_extension("json.new");
    fs::write(&tmp, serde_json::to_string_pretty(p).unwrap_or_default())
        .map_err(|e| HostError::io("write", &tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| HostError::io("write", &path, e))
}

fn clear_pending(layout: &Layout) -> Result<(), HostError> {
    let p = pending_path(layout);
    match fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(HostError::io("remove", &p, e)),
    }
}

/// The audit login session of this process, when the kernel tracks one.
pub fn session() -> Option<u32> {
    fs::read_to_string("/proc/self/sessionid")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|&s| s != u32::MAX)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Run `sh DIR/apply.sh [ARGS]` with the caller's stdout/stderr.
fn run_apply_sh(dir: &Path, args: &[&str]) -> Result<(), String> {
    let script = dir.join("apply.sh");
    // Its messages go where polc's own go (stderr), so stdout stays free.
    let status = Command::new("sh")
        .arg(&script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .map_err(|e| format!("cannot run `sh {}`: {e}", script.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`sh {}{}{}` failed ({status})",
            script.display(),
            if args.is_empty() { "" } else { " " },
            args.join(" ")
        ))
    }
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub install: InstallOptions,
    /// Revert unless confirmed within this time.
    pub confirm: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Applied {
    pub table: String,
    pub generation: u64,
    pub previous: Option<u64>,
    /// A new generation (false: the build was already current; re-applied).
    pub new_generation: bool,
    pub pending: Option<Pending>,
}

/// Why an apply did not leave the new generation running.
#[derive(Debug, Clone)]
pub enum ApplyError {
    /// Refused before anything changed.
    Refused(HostError),
    /// Applying failed; the previous generation was restored.
    Reverted { error: String, to: Option<u64> },
    /// Applying failed and so did restoring the previous generation.
    RevertFailed { error: String, revert: HostError },
    /// Applying the generation that was already current failed: there is
    /// nothing to revert to (the host is as apply.sh left it).
    Failed { error: String, generation: u64 },
}

/// True when this process may change the network configuration: the
/// CAP_NET_ADMIN bit (12) of its effective capabilities, what nft needs.
pub fn can_admin_net() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << 12) != 0)
}

fn must_admin_net() -> Result<(), HostError> {
    if can_admin_net() {
        Ok(())
    } else {
        Err(HostError::new(
            "must run as root (changing the firewall needs CAP_NET_ADMIN)",
        ))
    }
}

/// `polc apply DIR`.
pub fn apply(build_dir: &Path, root: &Path, opts: &ApplyOptions) -> Result<Applied, ApplyError> {
    use ApplyError::Refused;
    must_admin_net().map_err(Refused)?;
    install::check_root(root).map_err(Refused)?;
    let build = BuildDir::open(build_dir).map_err(Refused)?;
    let layout = Layout::new(root, &build.manifest.table);
    let _lock = Lock::take(&layout).map_err(Refused)?;
    if let Some(p) = read_pending(&layout).map_err(Refused)? {
        return Err(Refused(HostError::new(format!(
            "generation {} of table inet {} is waiting for confirmation: run `polc confirm` or `polc rollback` first",
            p.generation,
            layout.table()
        ))));
    }
    run_apply_sh(&build.dir, &["--check"]).map_err(|e| Refused(HostError::new(e)))?;
    let record = sysctl_undo::record(
        &build
            .file("sysctl.conf")
            .map(|f| String::from_utf8_lossy(&f.contents).into_owned())
            .unwrap_or_default(),
    );
    let installed = install::install_locked(&build, &layout, &opts.install).map_err(Refused)?;
    let new_generation = installed.previous != Some(installed.generation);
    let gen_dir = generations::dir(&layout, installed.generation);
    if new_generation {
        let path = gen_dir.join(sysctl_undo::FILE);
        fs::write(&path, &record).map_err(|e| Refused(HostError::io("write", &path, e)))?;
    }
    // With --confirm the revert is armed before the kernel changes, so an
    // apply killed half-way (its SSH session gone) is reverted too. Applying
    // the current generation again (a drift repair) has nothing new to
    // confirm: reverting it would go back past what is current.
    let mut pending = None;
    if let Some(after) = opts.confirm.filter(|_| new_generation) {
        let mut p = Pending {
            generation: installed.generation,
            previous: installed.previous,
            deadline: now() + after.as_secs(),
            session: session(),
            armed: String::new(),
        };
        // Written first: the armed rollback acts only on a pending mark.
        write_pending(&layout, &p).map_err(Refused)?;
        match arm(&layout, installed.generation, after) {
            Ok(how) => p.armed = how,
            Err(e) => {
                // Without a revert armed, a confirm-or-revert apply must
                // not stand (the kernel is unchanged so far).
                let _ = revert_locked(&layout, installed.generation, installed.previous);
                return Err(ApplyError::Reverted {
                    error: e.message,
                    to: installed.previous,
                });
            }
        }
        write_pending(&layout, &p).map_err(Refused)?;
        pending = Some(p);
    }
    if let Err(error) = run_apply_sh(&gen_dir, &[]) {
        if !new_generation {
            return Err(ApplyError::Failed {
                error,
                generation: installed.generation,
            });
        }
        // Reverting clears the pending mark: an armed revert finds nothing.
        return match revert_locked(&layout, installed.generation, installed.previous) {
            Ok(_) => Err(ApplyError::Reverted {
                error,
                to: installed.previous,
            }),
            Err(revert) => Err(ApplyError::RevertFailed { error, revert }),
        };
    }
    Ok(Applied {
        table: installed.table,
        generation: installed.generation,
        previous: installed.previous,
        new_generation,
        pending,
    })
}

/// Arm the revert of generation `n` after `after`; says how.
fn arm(layout: &Layout, n: u64, after: Duration) -> Result<String, HostError> {
    let exe = std::env::current_exe()
        .map_err(|e| HostError::new(format!("cannot find the polc binary: {e}")))?;
    let table = layout.table().to_string();
    let root = layout.root().display().to_string();
    let gen = n.to_string();
    let secs = after.as_secs().max(1).to_string();
    let args = [
        "rollback",
        "--table",
        &table,
        "--root",
        &root,
        "--if-pending",
        &gen,
    ];
    let use_systemd = layout.is_live()
        && install::systemd_running()
        && std::env::var_os("POLC_CONFIRM_TIMER").is_none_or(|v| v != "process");
    if use_systemd {
        let unit = format!("polc-revert-{table}-{n}");
        let out = Command::new("systemd-run")
            .arg(format!("--unit={unit}"))
            .arg(format!("--on-active={secs}"))
            .arg("--timer-property=AccuracySec=100ms")
            .arg(format!(
                "--description=polc: revert table inet {table} unless generation {n} is confirmed"
            ))
            .arg(&exe)
            .args(args)
            .output()
            .map_err(|e| HostError::new(format!("cannot run systemd-run: {e}")))?;
        if !out.status.success() {
            return Err(HostError::new(format!(
                "systemd-run failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        return Ok(format!("systemd timer {unit}.timer"));
    }
    // A new session (setsid -f), so the hang-up of the session that
    // applied does not reach it; its messages go to TABLE/revert.log.
    let log_path = layout.table_dir().join("revert.log");
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| HostError::io("open", &log_path, e))?;
    let log2 = log
        .try_clone()
        .map_err(|e| HostError::io("open", &log_path, e))?;
    let status = Command::new("setsid")
        .arg("-f")
        .arg(&exe)
        .args(args)
        .args(["--after", &secs])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .status()
        .map_err(|e| HostError::new(format!("cannot run setsid (util-linux): {e}")))?;
    if !status.success() {
        return Err(HostError::new(format!("setsid failed ({status})")));
    }
    Ok(format!(
        "a detached process (setsid; log {})",
        log_path.display()
    ))
}

/// What a rollback did.
#[derive(Debug, Clone, Default)]
pub struct RolledBack {
    pub from: Option<u64>,
    pub to: Option<u64>,
    pub sysctls: Vec<String>,
    /// Nothing to do (`--if-pending` and it was confirmed or superseded).
    pub nothing: bool,
}

/// Revert generation `from` (current) to `to`, lock held.
fn revert_locked(layout: &Layout, from: u64, to: Option<u64>) -> Result<RolledBack, HostError> {
    let record = fs::read_to_string(generations::dir(layout, from).join(sysctl_undo::FILE))
        .unwrap_or_default();
    match to {
        Some(p) => {
            install::activate_locked(layout, p)?;
            run_apply_sh(&layout.current_link(), &[]).map_err(HostError::new)?;
        }
        None => {
            let nft = std::env::var_os("NFT").unwrap_or_else(|| "nft".into());
            let _ = Command::new(&nft)
                .args(["delete", "table", "inet", layout.table()])
                .stderr(Stdio::null())
                .status();
            let cur = generations::open(layout, from)?;
            if let Some(prog) = install::systemctl() {
                let root = format!("--root={}", layout.root().display());
                let _ = install::run_systemctl(&prog, &[&root, "disable", &cur.manifest.boot_unit]);
            }
            etc_files::install(&[], &etc_files::targets(layout, &cur))?;
            let link = layout.current_link();
            fs::remove_file(&link).map_err(|e| HostError::io("remove", &link, e))?;
        }
    }
    // After the previous generation's own tuning: the recorded values are
    // what the host had before `from` (the previous generation's, where it
    // sets them), so the order changes only when each is set, and this
    // order keeps the table and the sysctls changing in the order the log
    // tells.
    let sysctls = sysctl_undo::restore(&record)?;
    clear_pending(layout)?;
    Ok(RolledBack {
        from: Some(from),
        to,
        sysctls,
        nothing: false,
    })
}

/// `polc rollback [--to N] [--if-pending N] [--after SECS]`.
pub fn rollback(
    root: &Path,
    table: &str,
    to: Option<u64>,
    if_pending: Option<u64>,
) -> Result<RolledBack, HostError> {
    must_admin_net()?;
    install::check_root(root)?;
    let layout = Layout::new(root, table);
    // The armed revert waits for an apply still running (a slow apply can
    // outlast the confirm window); by hand, a held lock is an error.
    let _lock = if if_pending.is_some() {
        Lock::wait(&layout)?
    } else {
        Lock::take(&layout)?
    };
    let cur = generations::current(&layout)?;
    let pending = read_pending(&layout)?;
    if let Some(n) = if_pending {
        let still = pending.as_ref().is_some_and(|p| p.generation == n) && cur == Some(n);
        if !still {
            return Ok(RolledBack {
                nothing: true,
                ..RolledBack::default()
            });
        }
    }
    let Some(from) = cur else {
        return Err(HostError::new(format!(
            "table inet {table} has no installed generation under `{}`",
            root.display()
        )));
    };
    let target = match to {
        Some(t) => {
            generations::open(&layout, t)?;
            Some(t)
        }
        None => match pending.as_ref().filter(|p| p.generation == from) {
            Some(p) => p.previous,
            None => match generations::previous(&layout, from) {
                Some(p) => Some(p),
                None => generations::list(&layout)?
                    .into_iter()
                    .filter(|&g| g < from)
                    .max(),
            },
        },
    };
    if target.is_none() && to.is_none() && pending.is_none() {
        return Err(HostError::new(format!(
            "generation {from} is the oldest installed generation of table inet {table}: there is nothing to roll back to"
        )));
    }
    revert_locked(&layout, from, target)
}

/// `polc confirm`: keep the pending generation.
pub fn confirm(root: &Path, table: &str, any_session: bool) -> Result<Pending, HostError> {
    install::check_root(root)?;
    let layout = Layout::new(root, table);
    let _lock = Lock::take(&layout)?;
    let Some(p) = read_pending(&layout)? else {
        return Err(HostError::new(format!(
            "no generation of table inet {table} is waiting for confirmation (it was confirmed, or the time ran out and it was reverted)"
        )));
    };
    if !any_session {
        if let (Some(a), Some(b)) = (p.session, session()) {
            if a == b {
                return Err(HostError::new(format!(
                    "confirm from a new login: this session applied generation {} (a new connection proves the new policy still lets you in; --any-session to skip this check)",
                    p.generation
                )));
            }
        }
    }
    clear_pending(&layout)?;
    if layout.is_live() && install::systemd_running() {
        let _ = Command::new("systemctl")
            .args([
                "stop",
                &format!("polc-revert-{table}-{}.timer", p.generation),
            ])
            .stderr(Stdio::null())
            .status();
    }
    Ok(p)
}
