//! `cargo bench -p pol-backends --bench build`: `polc build`'s backend on
//! generated policies of 1,000 / 10,000 / 100,000 rules (sizes from
//! `POL_BENCH_SIZES`, comma-separated). For each: median build time, the
//! ruleset's size, and (as root) `nft -f` load time in a fresh network
//! namespace — for the real ruleset and for the naive one-rule-per-line
//! rendering of the same policy (inline anonymous sets, no verdict maps).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark driver"
)]

#[path = "../tests/support/mod.rs"]
mod support;

use pol_backends::{build, render_naive_ruleset, BuildOptions};
use std::process::Command;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Load time of `text` (`nft -f` alone) in a fresh network namespace, or
/// None past `limit` seconds. nft only needs the cgroup directories to
/// exist to resolve the paths, so a private mount namespace gets a tmpfs at
/// /sys/fs/cgroup holding them (no real cgroups are created).
fn load_time(text: &str, cgroups: &[String], limit: u64) -> Option<Duration> {
    let dir = std::env::temp_dir().join(format!("pol-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::write(dir.join("r.nft"), text).ok()?;
    std::fs::write(dir.join("cgroups"), cgroups.join("\n") + "\n").ok()?;
    let script = format!(
        "set -e; mount -t tmpfs pol-bench /sys/fs/cgroup; cd /sys/fs/cgroup; xargs -d '\\n' mkdir -p <{0}/cgroups; \
         s=$(date +%s%N); timeout {limit} nft -f {0}/r.nft; e=$(date +%s%N); echo $((e - s))",
        dir.display()
    );
    let out = Command::new("unshare")
        .args(["-n", "-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .ok()?;
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        return None;
    }
    let ns: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Per-new-flow cost (scripts/dataplane/flows.py) of `text` loaded in a
/// fresh network and mount namespace (cgroup directories on a tmpfs), and
/// of an empty `policy drop` chain in the same run: (empty, ruleset) µs.
fn flow_cost(text: &str, cgroups: &[String]) -> Option<(f64, f64)> {
    let dir = std::env::temp_dir().join(format!("pol-bench-flows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::write(dir.join("r.nft"), text).ok()?;
    std::fs::write(dir.join("cgroups"), cgroups.join("\n") + "\n").ok()?;
    let flows =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/dataplane/flows.py");
    let script = format!(
        "set -e; mount -t tmpfs pol-bench /sys/fs/cgroup; (cd /sys/fs/cgroup; xargs -d '\\n' mkdir -p <{0}/cgroups); \
         python3 {1} {0}/r.nft",
        dir.display(),
        flows.display()
    );
    let out = Command::new("unshare")
        .args(["-n", "-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .ok()?;
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    Some((get("empty ")?, get("ruleset ")?))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sizes: Vec<usize> = std::env::var("POL_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000]);
    let limit: u64 = std::env::var("POL_BENCH_NAIVE_LIMIT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let root = rustix::process::geteuid().is_root();
    println!(
        "| rules | rendering | build (median) | ruleset | sets+maps | load | new flow (empty chain) | new flow (ruleset) | naive ruleset | naive load |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let (program, sources) = support::gen::bench_policy(n, 7);
        // `linear`: the rendering before address dispatch (issue 13).
        for (mode, addr_min) in [
            ("linear", usize::MAX),
            ("dispatch", BuildOptions::default().addr_dispatch_min_run),
        ] {
            let opts = BuildOptions {
                addr_dispatch_min_run: addr_min,
                ..BuildOptions::default()
            };
            let runs = if n >= 100_000 { 3 } else { 5 };
            let mut times = Vec::new();
            let mut ruleset = String::new();
            for _ in 0..runs {
                let t = Instant::now();
                let arts = build(&program, &sources, &opts).unwrap();
                times.push(t.elapsed());
                ruleset = arts
                    .into_iter()
                    .find(|a| a.name == "ruleset.nft")
                    .unwrap()
                    .contents;
            }
            let cgroups = pol_backends::cgroups::cgroup_paths(&program);
            let naive = render_naive_ruleset(&program, &sources, &opts);
            let sets = ruleset.matches("\tset ").count() + ruleset.matches("\tmap ").count();
            let fmt_load = |d: Option<Duration>| {
                d.map_or_else(
                    || format!("> {limit} s (stopped)"),
                    |d| format!("{:.2} s", d.as_secs_f64()),
                )
            };
            let (load, naive_load) = if root {
                let loads: Option<Vec<Duration>> = (0..3)
                    .map(|_| load_time(&ruleset, &cgroups, limit))
                    .collect();
                (
                    fmt_load(loads.map(median)),
                    if mode == "linear" {
                        "—".to_string()
                    } else {
                        fmt_load(load_time(&naive, &cgroups, limit))
                    },
                )
            } else {
                ("(needs root)".into(), "(needs root)".into())
            };
            let (empty, flow) = if root {
                flow_cost(&ruleset, &cgroups).map_or(("?".into(), "?".into()), |(e, f)| {
                    (format!("{e:.2} µs"), format!("{f:.2} µs"))
                })
            } else {
                ("(needs root)".into(), "(needs root)".into())
            };
            println!(
            "| {n} | {mode} | {:.1} ms | {:.1} MiB | {sets} | {load} | {empty} | {flow} | {:.1} MiB | {naive_load} |",
            median(times).as_secs_f64() * 1e3,
            ruleset.len() as f64 / 1048576.0,
            naive.len() as f64 / 1048576.0
        );
        }
    }
}
