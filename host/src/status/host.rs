//! The parts of the host a build sets up besides the table: sysctls
//! (`/proc/sys`, the keys of `sysctl.conf`), root qdiscs (`tc -j qdisc
//! show dev DEV`), tunnel links (`ip -j -d link show dev DEV`), and the
//! TcpExtTCPAutoCorking counter (`/proc/net/netstat`) as an observation.

use super::{Drift, Report};
use crate::build_dir::BuildDir;
use crate::sysctl_undo::settings;
use crate::HostError;
use pol_backends::tuning::proc_path;
use serde_json::Value;
use std::process::Command;

fn drift(r: &mut Report, what: String, detail: String) {
    r.drift.push(Drift { what, detail });
}

fn json_of(cmd: &str, args: &[&str]) -> Result<Option<Value>, HostError> {
    let out = match Command::new(cmd).args(args).output() {
        Ok(o) => o,
        Err(e) => return Err(HostError::new(format!("cannot run {cmd}: {e}"))),
    };
    if !out.status.success() {
        return Ok(None);
    }
    Ok(serde_json::from_slice(&out.stdout).ok())
}

/// TcpExtTCPAutoCorking: the `TCPAutoCorking` column of the `TcpExt:`
/// lines of /proc/net/netstat (what `nstat` reads).
pub fn autocorking_counter(netstat: &str) -> Option<u64> {
    let mut lines = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let names = lines.next()?;
    let values = lines.next()?;
    let i = names
        .split_whitespace()
        .position(|n| n == "TCPAutoCorking")?;
    values.split_whitespace().nth(i)?.parse().ok()
}

pub fn compare(build: &BuildDir, r: &mut Report) -> Result<(), HostError> {
    let conf = build
        .file("sysctl.conf")
        .map(|f| String::from_utf8_lossy(&f.contents).into_owned())
        .unwrap_or_default();
    let keys = settings(&conf);
    for (key, want) in &keys {
        let path = proc_path(key);
        match std::fs::read_to_string(&path) {
            Ok(v) => {
                let now = v.split_whitespace().collect::<Vec<_>>().join(" ");
                if now != *want {
                    drift(
                        r,
                        format!("sysctl {key}"),
                        format!("the kernel has {now}, the build sets {want}"),
                    );
                }
            }
            Err(e) => drift(
                r,
                format!("sysctl {key}"),
                format!("cannot read {path}: {e}"),
            ),
        }
    }
    if !keys.is_empty() {
        r.checked.push(format!("sysctls: {} compared", keys.len()));
    }
    for q in &build.manifest.host.qdiscs {
        let v = json_of("tc", &["-j", "qdisc", "show", "dev", &q.dev])?;
        let root = v
            .as_ref()
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .find(|x| x.get("root").and_then(Value::as_bool) == Some(true))
            })
            .and_then(|x| x.get("kind"))
            .and_then(Value::as_str)
            .map(str::to_string);
        match root {
            Some(k) if k == q.kind => {}
            Some(k) => drift(
                r,
                format!("qdisc {}", q.dev),
                format!("the root qdisc is {k}, the build sets {}", q.kind),
            ),
            None => drift(
                r,
                format!("qdisc {}", q.dev),
                format!("no root qdisc to read (does {} exist?)", q.dev),
            ),
        }
    }
    if !build.manifest.host.qdiscs.is_empty() {
        r.checked.push(format!(
            "qdiscs: {} compared",
            build.manifest.host.qdiscs.len()
        ));
    }
    for l in &build.manifest.host.links {
        let v = json_of("ip", &["-j", "-d", "link", "show", "dev", &l.dev])?;
        let Some(link) = v
            .as_ref()
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .cloned()
        else {
            drift(r, format!("link {}", l.dev), "it does not exist".into());
            continue;
        };
        let info = link
            .pointer("/linkinfo/info_data")
            .cloned()
            .unwrap_or(Value::Null);
        let kind = link
            .pointer("/linkinfo/info_kind")
            .and_then(Value::as_str)
            .unwrap_or("");
        let s = |k: &str| {
            info.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let mut diffs = Vec::new();
        if kind != l.kind {
            diffs.push(format!("kind {kind}, not {}", l.kind));
        }
        if s("local") != l.local {
            diffs.push(format!("local {}, not {}", s("local"), l.local));
        }
        if s("remote") != l.remote {
            diffs.push(format!("remote {}, not {}", s("remote"), l.remote));
        }
        let key = info.get("ikey").and_then(Value::as_str).unwrap_or("");
        let want_key = std::net::Ipv4Addr::from(l.key).to_string();
        if key != want_key && key != l.key.to_string() {
            diffs.push(format!("key {key}, not {want_key}"));
        }
        if let Some(m) = l.mtu {
            let now = link.get("mtu").and_then(Value::as_u64).unwrap_or(0);
            if now != u64::from(m) {
                diffs.push(format!("mtu {now}, not {m}"));
            }
        }
        if !diffs.is_empty() {
            drift(r, format!("link {}", l.dev), diffs.join("; "));
        }
    }
    if !build.manifest.host.links.is_empty() {
        r.checked.push(format!(
            "links: {} compared",
            build.manifest.host.links.len()
        ));
    }
    if keys.iter().any(|(k, _)| k == "net.ipv4.tcp_autocorking") {
        if let Some(n) = std::fs::read_to_string("/proc/net/netstat")
            .ok()
            .as_deref()
            .and_then(autocorking_counter)
        {
            r.observations.push(format!("TcpExtTCPAutoCorking = {n} (packets held back by autocorking since boot, in this network namespace)"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::autocorking_counter;

    #[test]
    fn reads_the_counter_by_name() {
        let t = "TcpExt: SyncookiesSent TCPAutoCorking X\nTcpExt: 0 42 7\nIpExt: A\nIpExt: 1\n";
        assert_eq!(autocorking_counter(t), Some(42));
    }
}
