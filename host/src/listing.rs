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
//!
//! **Cgroup ids.** nft 1.0.6 prints a cgroup element as its path by
//! walking the whole cgroup tree once per element (1,000 elements: ~6 s).
//! So nft lists with an empty tmpfs over /sys/fs/cgroup (in a private
//! mount namespace), where it finds no path and prints each id, and polc
//! maps the ids to paths from one walk of the tree ([`cgroup_ids`]; a
//! cgroup v2 id is its directory's inode number). In the JSON, an id with
//! a path becomes the path; an id of no cgroup (removed or re-created
//! since it was added) becomes a JSON number.

use crate::HostError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// One table, listed twice.
#[derive(Debug, Clone)]
pub struct Listing {
    /// `nft -j`, cgroup ids resolved.
    pub json: String,
    /// `nft -a` (cgroup elements as ids).
    pub text: String,
}

const SEPARATOR: &str = "@@polc-listing-separator@@";

/// Lists the table with the cgroup tree hidden (see the module doc). `$1`
/// nft, `$2` table, `$3` separator.
const LIST: &str = r#"mount -t tmpfs polc-hide /sys/fs/cgroup
# Both listings at once (each takes seconds at 100,000 rules). Not into the
# hiding tmpfs: nft would take a file there for the cgroup of its inode.
out=$(mktemp -d)
"$nft" -j list table inet "$table" >"$out/j" &
j=$!
"$nft" -a list table inet "$table" >"$out/a" || { wait "$j"; rm -r "$out"; exit 1; }
wait "$j" || { rm -r "$out"; exit 1; }
cat "$out/j"
printf '\n%s\n' "$sep"
cat "$out/a"
rm -r "$out"
"#;

fn nft() -> std::ffi::OsString {
    std::env::var_os("NFT").unwrap_or_else(|| "nft".into())
}

/// Every cgroup under `root` by id (its inode number), as a path relative
/// to `root`.
pub fn cgroup_ids(root: &Path) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(ty) = e.file_type() else { continue };
            if !ty.is_dir() {
                continue;
            }
            let p = e.path();
            if let (Ok(m), Ok(rel)) = (e.metadata(), p.strip_prefix(root)) {
                out.insert(m.ino(), rel.to_string_lossy().into_owned());
            }
            stack.push(p);
        }
    }
    out
}

/// Replace the ids in cgroup sets and maps with paths (or numbers).
fn resolve(json: &str, ids: &BTreeMap<u64, String>) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(json) else {
        return json.to_string();
    };
    let fix = |e: &mut Value| {
        let id = match e {
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse::<u64>().ok()
            }
            Value::Number(n) => n.as_u64(),
            _ => None,
        };
        if let Some(id) = id {
            *e = match ids.get(&id) {
                Some(p) => Value::String(p.clone()),
                None => Value::from(id),
            };
        }
    };
    if let Some(items) = v.get_mut("nftables").and_then(Value::as_array_mut) {
        for item in items {
            for kind in ["set", "map"] {
                if let Some(body) = item.get_mut(kind) {
                    fix_set(body, &fix);
                }
            }
        }
    }
    v.to_string()
}

fn fix_set(body: &mut Value, fix: &dyn Fn(&mut Value)) {
    if body.get("type").and_then(Value::as_str) != Some("cgroupsv2") {
        return;
    }
    for e in body
        .get_mut("elem")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        // A map element is `[key, value]`; an element with attributes
        // `{"elem": {"val": …}}`.
        let target = match e {
            Value::Array(pair) => pair.first_mut(),
            Value::Object(o) => o.get_mut("elem").and_then(|x| x.get_mut("val")),
            other => Some(other),
        };
        if let Some(t) = target {
            fix(t);
        }
    }
}

fn split(out: &str, ids: &BTreeMap<u64, String>) -> Result<Listing, HostError> {
    let (json, text) = out
        .split_once(SEPARATOR)
        .ok_or_else(|| HostError::new("nft printed no listing"))?;
    Ok(Listing {
        json: resolve(json.trim(), ids),
        text: text.trim_start_matches('\n').to_string(),
    })
}

/// The live table, or `None` when it is not loaded.
pub fn live(table: &str) -> Result<Option<Listing>, HostError> {
    let script = format!("set -eu\nnft=$1 table=$2 sep=$3\n{LIST}");
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
        .arg(nft())
        .arg(table)
        .arg(SEPARATOR)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| HostError::new(format!("cannot run unshare (util-linux): {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("No such file or directory") {
            return Ok(None);
        }
        return Err(HostError::new(format!(
            "listing table inet {table} failed: {}",
            err.trim()
        )));
    }
    let root = std::env::var_os("POL_CGROUP2").unwrap_or_else(|| "/sys/fs/cgroup".into());
    split(
        &String::from_utf8_lossy(&out.stdout),
        &cgroup_ids(Path::new(&root)),
    )
    .map(Some)
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
    let script = format!(
        r#"set -eu
nft=$1 dir=$2 table=$3 sep=$4 then=$5
shift 5
mount -t tmpfs polc-reference /sys/fs/cgroup
for p in "$@"; do mkdir -p -- "/sys/fs/cgroup/$p"; done
load=$(mktemp)
{{
	cat "$dir/ruleset.nft"
	if [ -e "$dir/refresh.sh" ]; then sh "$dir/refresh.sh" --print; fi
}} >"$load"
"$nft" -f "$load"
rm -f "$load"
if [ -n "$then" ]; then printf '%s\n' "$then" | "$nft" -f -; fi
# The tmpfs's directories by inode (what nft stored as their ids).
find /sys/fs/cgroup -mindepth 1 -type d -printf '%i %P\n'
printf '%s\n' "$sep"
{LIST}"#
    );
    let out = Command::new("unshare")
        .args([
            "-n",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
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
    let text = String::from_utf8_lossy(&out.stdout);
    let (dirs, rest) = text
        .split_once(&format!("{SEPARATOR}\n"))
        .ok_or_else(|| HostError::new("the throwaway namespace printed no cgroup list"))?;
    let ids: BTreeMap<u64, String> = dirs
        .lines()
        .filter_map(|l| {
            let (i, p) = l.split_once(' ')?;
            Some((i.parse().ok()?, p.to_string()))
        })
        .collect();
    split(rest, &ids)
}
