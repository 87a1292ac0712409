//! The sysctl values a generation changed, recorded before it was applied,
//! so that reverting it restores them (the kernel keeps no history).
//!
//! The keys are those of the generation's `sysctl.conf` (sysctl.d syntax,
//! `KEY = VALUE`, `#` comments); the record is a file of the same syntax,
//! `generations/N/sysctl.before`, holding each key's value as /proc/sys
//! read it before the apply (keys the kernel lacks are left out: there is
//! nothing to restore).

use crate::HostError;
use pol_backends::tuning::proc_path;
use std::fs;
use std::path::{Path, PathBuf};

/// The record's file name inside a generation.
pub const FILE: &str = "sysctl.before";

/// `(key, value)` of every setting in sysctl.d text.
pub fn settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().trim_start_matches('-').to_string(),
                v.trim().to_string(),
            )
        })
        .collect()
}

/// Where /proc/sys is (`POL_PROC_SYS` overrides it for tests).
fn proc_sys(key: &str) -> PathBuf {
    let path = proc_path(key);
    match std::env::var_os("POL_PROC_SYS") {
        Some(base) => Path::new(&base).join(path.trim_start_matches("/proc/sys/")),
        None => PathBuf::from(path),
    }
}

/// The current values of the keys `sysctl_conf` sets, as sysctl.d text.
pub fn record(sysctl_conf: &str) -> String {
    let mut out = String::from("# sysctl values before this generation was applied (polc)\n");
    for (key, _) in settings(sysctl_conf) {
        if let Ok(v) = fs::read_to_string(proc_sys(&key)) {
            let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
            out.push_str(&format!("{key} = {v}\n"));
        }
    }
    out
}

/// Write every recorded value back; every key is tried, and the failures
/// are reported together.
pub fn restore(recorded: &str) -> Result<Vec<String>, HostError> {
    let mut restored = Vec::new();
    let mut failed = Vec::new();
    for (key, value) in settings(recorded) {
        let path = proc_sys(&key);
        let now = fs::read_to_string(&path)
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        if now == value {
            continue;
        }
        match fs::write(&path, format!("{value}\n")) {
            Ok(()) => restored.push(format!("{key} = {value}")),
            Err(e) => failed.push(format!("{key} = {value}: {e}")),
        }
    }
    if failed.is_empty() {
        Ok(restored)
    } else {
        Err(HostError::new(format!(
            "cannot restore sysctls: {}",
            failed.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::settings;

    #[test]
    fn reads_sysctl_d_syntax() {
        let s = settings("# c\n; c\n\nnet.ipv4.tcp_autocorking = 0\n-net.core.x=a b\n");
        assert_eq!(
            s,
            vec![
                ("net.ipv4.tcp_autocorking".to_string(), "0".to_string()),
                ("net.core.x".to_string(), "a b".to_string())
            ]
        );
    }
}
