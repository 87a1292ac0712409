//! Moving this process into a cgroup, for `polc exec`: `cgroup.procs` is
//! opened for writing without `O_CREAT` (a plain directory gets no file
//! created in it), the open file must be on a cgroup file system (statfs
//! magic: a regular file named `cgroup.procs` somewhere else is refused),
//! and the pid is written in one `write`.

use std::io::Write;
use std::path::Path;

/// `CGROUP2_SUPER_MAGIC` (linux/magic.h).
const CGROUP2_MAGIC: u64 = 0x6367_7270;
/// `CGROUP_SUPER_MAGIC`: a cgroup v1 hierarchy such as net_cls.
const CGROUP1_MAGIC: u64 = 0x0027_e0eb;

/// Which kind of hierarchy `cgroup.procs` must be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hierarchy {
    /// The unified hierarchy (`cgroup` selectors).
    V2,
    /// A v1 hierarchy (net_cls, for `classid` selectors).
    V1,
}

impl Hierarchy {
    fn magic(self) -> u64 {
        match self {
            Hierarchy::V2 => CGROUP2_MAGIC,
            Hierarchy::V1 => CGROUP1_MAGIC,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Hierarchy::V2 => "cgroup2",
            Hierarchy::V1 => "cgroup (v1)",
        }
    }
}

/// Write this process's pid to `procs` (a `.../cgroup.procs` file).
pub fn join(procs: &Path, hierarchy: Hierarchy) -> Result<(), String> {
    let shown = procs.display();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(procs)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "`{shown}` does not exist: create the cgroups first (apply.sh or cgroups.sh; systemd creates a unit's cgroup when the unit starts)"
            ),
            std::io::ErrorKind::PermissionDenied => format!(
                "cannot join `{shown}`: permission denied: run polc exec as root (or as the owner of a delegated cgroup)"
            ),
            _ => format!("cannot join `{shown}`: {e}"),
        })?;
    let fs = rustix::fs::fstatfs(&file).map_err(|e| format!("cannot join `{shown}`: {e}"))?;
    if u64::try_from(fs.f_type).ok() != Some(hierarchy.magic()) {
        return Err(format!(
            "`{shown}` is not on a {} file system: its directory is not a cgroup",
            hierarchy.name()
        ));
    }
    file.write_all(format!("{}\n", std::process::id()).as_bytes())
        .map_err(|e| format!("cannot join `{shown}`: {e}"))
}

/// True when this process runs as root: effective uid 0 (the second field
/// of the `Uid:` line of /proc/self/status).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}
