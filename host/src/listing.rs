//! Listings of one table as nft prints it — JSON (`nft -j list table`)
//! and text with handles (`nft -a list table`) — from the live kernel, or
//! from a build loaded into a throwaway network and mount namespace.
//!
//! The throwaway load is how a build's ruleset is seen exactly as the
//! kernel holds it, without touching the host: `unshare -n -m`, a tmpfs at
//! /sys/fs/cgroup holding the cgroup directories the sets name (nft
//! resolves paths to ids while loading), then `ruleset.nft` plus
//! `refresh.sh --print` (the elements of the cgroups that exist — in the
//! tmpfs, the ones given) in one `nft -f`.

use crate::HostError;
use std::path::Path;
use std::process::{Command, Stdio};

/// One table, listed twice.
#[derive(Debug, Clone)]
pub struct Listing {
    pub json: String,
    pub text: String,
}

const SEPARATOR: &str = "@@polc-listing-separator@@";

fn nft() -> std::ffi::OsString {
    std::env::var_os("NFT").unwrap_or_else(|| "nft".into())
}

fn split(out: &str) -> Result<Listing, HostError> {
    let (json, text) = out
        .split_once(SEPARATOR)
        .ok_or_else(|| HostError::new("nft printed no listing"))?;
    Ok(Listing {
        json: json.trim().to_string(),
        text: text.trim_start_matches('\n').to_string(),
    })
}

/// The live table, or `None` when it is not loaded.
pub fn live(table: &str) -> Result<Option<Listing>, HostError> {
    let nft = nft();
    let run = |args: &[&str]| {
        Command::new(&nft)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| HostError::new(format!("cannot run nft: {e}")))
    };
    let j = run(&["-j", "list", "table", "inet", table])?;
    if !j.status.success() {
        let err = String::from_utf8_lossy(&j.stderr);
        if err.contains("No such file or directory") {
            return Ok(None);
        }
        return Err(HostError::new(format!(
            "nft -j list table inet {table} failed: {}",
            err.trim()
        )));
    }
    let t = run(&["-a", "list", "table", "inet", table])?;
    if !t.status.success() {
        return Err(HostError::new(format!(
            "nft -a list table inet {table} failed: {}",
            String::from_utf8_lossy(&t.stderr).trim()
        )));
    }
    Ok(Some(Listing {
        json: String::from_utf8_lossy(&j.stdout).into_owned(),
        text: String::from_utf8_lossy(&t.stdout).into_owned(),
    }))
}

/// `dir`'s ruleset (plus `refresh.sh --print` when the build has one)
/// loaded into a throwaway namespace whose /sys/fs/cgroup holds `cgroups`.
pub fn throwaway(dir: &Path, table: &str, cgroups: &[String]) -> Result<Listing, HostError> {
    throwaway_then(dir, table, cgroups, "")
}

/// [`throwaway`], then the nft commands `then` (tests edit the table so).
pub fn throwaway_then(
    dir: &Path,
    table: &str,
    cgroups: &[String],
    then: &str,
) -> Result<Listing, HostError> {
    const SCRIPT: &str = r#"set -eu
nft=$1 dir=$2 table=$3 sep=$4 then=$5
shift 5
mount -t tmpfs polc-reference /sys/fs/cgroup
for p in "$@"; do mkdir -p -- "/sys/fs/cgroup/$p"; done
load=$(mktemp)
{
	cat "$dir/ruleset.nft"
	if [ -e "$dir/refresh.sh" ]; then sh "$dir/refresh.sh" --print; fi
} >"$load"
"$nft" -f "$load"
if [ -n "$then" ]; then printf '%s\n' "$then" | "$nft" -f -; fi
"$nft" -j list table inet "$table"
printf '\n%s\n' "$sep"
"$nft" -a list table inet "$table"
"#;
    let out = Command::new("unshare")
        .args([
            "-n",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            SCRIPT,
            "sh",
        ])
        .arg(nft())
        .arg(dir)
        .arg(table)
        .arg(SEPARATOR)
        .arg(then)
        .args(cgroups)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| HostError::new(format!("cannot run unshare (util-linux): {e}")))?;
    if !out.status.success() {
        return Err(HostError::new(format!(
            "loading {}/ruleset.nft into a throwaway namespace failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    split(&String::from_utf8_lossy(&out.stdout))
}
