//! `manifest.json`: what a build directory holds, for the host side.
//!
//! The table the build owns, the entry file it came from, the boot unit,
//! and every other file with its SHA-256 and mode. `pol-host` reads it to
//! install a build as a generation (and refuses a directory whose files do
//! not match it: a half-copied or hand-edited build is not installed), and
//! `polc status` to know which table to read back. Deterministic: the same
//! artifacts give the same manifest.

use crate::Artifact;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's file name in a build directory.
pub const NAME: &str = "manifest.json";

/// The format this polc writes and reads.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// The polc version that built it.
    pub polc: String,
    /// `table inet TABLE`.
    pub table: String,
    /// The entry file's name, as given to `polc build`.
    pub entry: String,
    /// The boot unit, under `systemd/`.
    pub boot_unit: String,
    /// Every file of the build but the manifest, in build order.
    pub files: Vec<FileEntry>,
    /// What applying the build sets up on the host, for `polc status`.
    pub host: HostState,
}

/// What a build sets up besides the table and the sysctls (which
/// `sysctl.conf` lists): cgroups, qdiscs, tunnel links.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostState {
    /// Cgroup v2 paths cgroups.sh creates (in the ruleset's sets).
    pub cgroups: Vec<String>,
    /// Cgroup v2 paths systemd creates (added to the sets while they exist).
    pub systemd_cgroups: Vec<String>,
    /// Root qdiscs tuning.sh sets.
    pub qdiscs: Vec<QdiscEntry>,
    /// vti6 links tunnels.sh creates.
    pub links: Vec<LinkEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QdiscEntry {
    pub dev: String,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkEntry {
    pub dev: String,
    pub kind: String,
    pub local: String,
    pub remote: String,
    pub key: u32,
    pub mtu: Option<u32>,
}

impl HostState {
    pub fn of(program: &pol_lang::ir::Program) -> Self {
        let mut cgroups = Vec::new();
        let mut systemd_cgroups = Vec::new();
        for g in &program.groups {
            for p in g.cgroup_paths() {
                let list = if program.systemd_creates(p) {
                    &mut systemd_cgroups
                } else {
                    &mut cgroups
                };
                if !list.contains(&p.as_str().to_string()) {
                    list.push(p.as_str().to_string());
                }
            }
        }
        HostState {
            cgroups,
            systemd_cgroups,
            qdiscs: program
                .tuning
                .qdiscs
                .iter()
                .map(|q| QdiscEntry {
                    dev: q.dev.clone(),
                    kind: q.kind.clone(),
                })
                .collect(),
            links: program
                .tunnels
                .iter()
                .map(|t| LinkEntry {
                    dev: t.dev.clone(),
                    kind: "vti6".into(),
                    local: t.local.to_string(),
                    remote: t.remote.to_string(),
                    key: t.key,
                    mtu: t.mtu,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative to the build directory (`ruleset.nft`, `systemd/x.service.d/50-polc.conf`).
    pub name: String,
    /// Lower-case hex SHA-256 of the contents.
    pub sha256: String,
    pub executable: bool,
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Manifest {
    pub fn new(table: &str, entry: &str, artifacts: &[Artifact], host: HostState) -> Self {
        Manifest {
            format: FORMAT,
            polc: env!("CARGO_PKG_VERSION").to_string(),
            table: table.to_string(),
            entry: entry.to_string(),
            boot_unit: crate::host_paths::boot_unit(table),
            files: artifacts
                .iter()
                .map(|a| FileEntry {
                    name: a.name.clone(),
                    sha256: sha256_hex(a.contents.as_bytes()),
                    executable: a.executable,
                })
                .collect(),
            host,
        }
    }

    /// The manifest as the file polc writes (pretty JSON, final newline).
    pub fn render(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Read a manifest; a message saying what is wrong otherwise.
    pub fn parse(text: &str) -> Result<Self, String> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if m.format != FORMAT {
            return Err(format!(
                "format {} (this polc reads format {FORMAT})",
                m.format
            ));
        }
        Ok(m)
    }
}
