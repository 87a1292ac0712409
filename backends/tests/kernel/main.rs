//! Kernel behaviour tests for the backends (harness = false: this binary is
//! also the probe that runs inside the test namespaces, `kernel __in_ns`).
//!
//! For every policy (random IR policies here; examples and fixtures once
//! the front end compiles them), in a private network + mount namespace
//! with cgroup2 at /sys/fs/cgroup: create the cgroups (cgroups.sh), load
//! the ruleset, send real TCP/UDP/ICMP packets from processes placed in
//! each group's cgroup and net_cls class to destinations routed out of a
//! veth, and compare what leaves the veth (and, for TCP and UDP, what was
//! refused) with the reference first-match evaluator (`support::eval`).
//!
//! Needs root (CI runs as root); without root it says so loudly and skips.
//! `POL_KERNEL_POLICIES` (default 50) sets how many random policies,
//! `POL_KERNEL_SEED` the first seed; `POL_KERNEL_INPUT_POLICIES` (default
//! 20) how many random `hook input` policies (inbound/),
//! `POL_KERNEL_STRESS_POLICIES` (default 12) how many policies built to
//! stress address dispatch and cell maps (stress.rs).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should stop the test"
)]

#[path = "../support/mod.rs"]
mod support;

mod inbound;
mod nd;
mod plan;
mod probe;
mod recreate;
mod scripts;
mod stress;

use plan::{probe_id, write_plan, Ctx, Observed, Probe};
use pol_backends::{build, BuildOptions};
use pol_lang::ast::Verdict;
use pol_lang::ir::{Addr, CgroupPath, Packet, Program, Socket};
use pol_lang::span::SourceMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use support::gen;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("__in_ns") {
        std::process::exit(probe::child_main(Path::new(&args[2])));
    }
    if args.get(1).map(String::as_str) == Some("__in_ns_input") {
        std::process::exit(inbound::child_main(Path::new(&args[2])));
    }
    if args.get(1).map(String::as_str) == Some("__udp_send") {
        std::process::exit(recreate::udp_send_main(&args[2], &args[3]));
    }
    if args.get(1).map(String::as_str) == Some("__input_peer") {
        std::process::exit(inbound::peer_main(Path::new(&args[2])));
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    if !rustix::process::geteuid().is_root() {
        println!("\n*** kernel tests SKIPPED: they need root (network/mount namespaces, nft, cgroups); CI runs them as root ***\n");
        println!("test result: ok. 0 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out");
        return;
    }
    let start = Instant::now();
    let mut passed = 0;
    let mut failed = 0;
    // POL_KERNEL_ONLY=SUBSTRING runs only the tests whose name has it.
    let only = std::env::var("POL_KERNEL_ONLY").ok();
    let mut run = |name: &str, f: &dyn Fn() -> Result<String, String>| {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            return;
        }
        let t = Instant::now();
        match f() {
            Ok(msg) => {
                passed += 1;
                println!(
                    "test {name} ... ok ({:.1}s) {msg}",
                    t.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                failed += 1;
                println!(
                    "test {name} ... FAILED ({:.1}s)\n{e}\n",
                    t.elapsed().as_secs_f64()
                );
            }
        }
    };
    run("random_policies_behave_as_evaluated", &random_policies);
    run(
        "random_input_policies_behave_as_evaluated",
        &inbound::random_input_policies,
    );
    run(
        "stress_policies_behave_as_evaluated",
        &stress::stress_policies,
    );
    run(
        "ipv6_control_traffic_passes_default_drop",
        &nd::ipv6_control_traffic,
    );
    run(
        "groups_survive_cgroup_recreation",
        &recreate::groups_survive_recreation,
    );
    for (name, f) in scripts::TESTS {
        run(name, f);
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s",
        if failed == 0 { "ok" } else { "FAILED" },
        start.elapsed().as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(101);
    }
}

/// A fresh temporary directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pol-kernel-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn write_artifacts(
    dir: &Path,
    program: &Program,
    sources: &SourceMap,
    opts: &BuildOptions,
) -> Result<(), String> {
    let arts = build(program, sources, opts).map_err(|e| format!("build refused: {e:?}"))?;
    for a in arts {
        let path = dir.join(&a.name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(path, a.contents).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Run the probe child for `dir` in a new network + mount namespace.
pub fn run_in_ns(dir: &Path) -> Result<(), String> {
    run_child_in_ns("__in_ns", dir)
}

/// Run this binary's child subcommand `sub` for `dir` in a new network +
/// mount namespace.
pub fn run_child_in_ns(sub: &str, dir: &Path) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new("unshare")
        .args(["-n", "-m", "--propagation", "private"])
        .arg(exe)
        .arg(sub)
        .arg(dir)
        .output()
        .map_err(|e| format!("unshare: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "namespace child failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn parse_addr(s: &str) -> Addr {
    match s.parse::<std::net::IpAddr>().unwrap() {
        std::net::IpAddr::V4(a) => Addr::V4(a.into()),
        std::net::IpAddr::V6(a) => Addr::V6(a.into()),
    }
}

/// Whether the listing decides packets by cell maps (interval or hash),
/// where a rule all of whose cells earlier rules decide has no element.
pub fn has_cell_maps(listed: &str) -> bool {
    listed.contains("th dport vmap @addr_") || listed.contains("th dport vmap @hash_")
}

/// Every rule that can match a packet has its `FILE:LINE` comment in the
/// listed ruleset.
pub fn check_comments(program: &Program, sources: &SourceMap, listed: &str) -> Result<(), String> {
    for p in &program.policies {
        for r in &p.rules {
            if r.matches.families().is_empty() {
                continue;
            }
            let site = sources.file_line(r.span);
            if !has_comment(listed, &site) {
                return Err(format!("listed ruleset lacks the comment of {site}"));
            }
        }
    }
    Ok(())
}

/// Whether the listing has a comment that starts with `FILE:LINE` (then
/// ends or goes on after a space).
pub fn has_comment(listed: &str, site: &str) -> bool {
    let needle = format!("comment \"{site}");
    listed
        .match_indices(&needle)
        .any(|(i, _)| matches!(listed.as_bytes().get(i + needle.len()), Some(b'"' | b' ')))
}

/// The verdict of all `hook output` policies together: each is a base
/// chain on the same hook, so the first that does not accept decides.
pub fn output_verdict<'a>(
    program: &'a Program,
    p: &Packet,
) -> (&'a pol_lang::ir::Policy, Option<usize>, Verdict) {
    let mut last = None;
    for pol in program
        .policies
        .iter()
        .filter(|x| x.hook == pol_lang::ast::Hook::Output)
    {
        let (r, v) = support::eval::evaluate(program, pol, p);
        if v != Verdict::Allow {
            return (pol, r, v);
        }
        last = Some((pol, r, v));
    }
    last.unwrap_or_else(|| (&program.policies[0], None, Verdict::Allow))
}

/// `FILE:LINE` of the rule that decides (the default's, for `None`).
pub fn deciding_site(
    sources: &SourceMap,
    policy: &pol_lang::ir::Policy,
    rule: Option<usize>,
) -> String {
    rule.map_or_else(
        || format!("default ({})", sources.file_line(policy.default_span)),
        |i| sources.file_line(policy.rules[i].span),
    )
}

/// Load `program` in a namespace, probe it from every context, and compare
/// with the reference evaluator. Returns the number of probes sent.
pub fn probe_case(
    dir: &Path,
    program: &Program,
    sources: &SourceMap,
    opts: &BuildOptions,
    ctxs: &[Ctx],
    probes: &[Probe],
) -> Result<usize, String> {
    write_artifacts(dir, program, sources, opts)?;
    std::fs::write(dir.join("plan.txt"), write_plan(ctxs, probes)).map_err(|e| e.to_string())?;
    let res = run_in_ns(dir);
    let results = std::fs::read_to_string(dir.join("results.txt")).unwrap_or_default();
    res?;
    let listed = std::fs::read_to_string(dir.join("listed.nft")).map_err(|e| e.to_string())?;
    // In cell maps, a rule all of whose cells earlier rules decide (a
    // shadowed rule) has no element (docs/backends.md); there, every rule
    // that decides a probe must be listed.
    let cells = has_cell_maps(&listed);
    if !cells {
        check_comments(program, sources, &listed)?;
    }
    let mut n = 0;
    let mut errors = Vec::new();
    for line in results.lines() {
        let w: Vec<&str> = line.splitn(5, ' ').collect();
        let (ci, pi): (usize, usize) = (w[1].parse().unwrap(), w[2].parse().unwrap());
        let obs = Observed::parse(w[3]).unwrap();
        let (c, p) = (&ctxs[ci], &probes[pi]);
        n += 1;
        let src = if p.v6 { gen::SRC_V6 } else { gen::SRC_V4 };
        let packet = Packet {
            socket: Some(Socket {
                cgroup: c.cgroup.as_deref().map(|s| CgroupPath::parse(s).unwrap()),
                classid: c.classid,
                uid: 0,
                gid: 0,
            }),
            saddr: parse_addr(src),
            daddr: parse_addr(&p.dst),
            proto: p.proto,
            sport: probe_id(ci, pi, probes.len()),
            dport: p.dport,
        };
        let (policy, rule, expected) = output_verdict(program, &packet);
        if let (true, Some(i)) = (cells, rule) {
            let site = sources.file_line(policy.rules[i].span);
            if !has_comment(&listed, &site) {
                errors.push(format!(
                    "  {site} decides {p:?} but its comment is not listed"
                ));
            }
        }
        if !obs.agrees(expected) {
            let by = deciding_site(sources, policy, rule);
            errors.push(format!(
                "  ctx {c:?} probe {p:?}: kernel {} ({}), expected {} by {by}",
                obs.as_str(),
                w.get(4).unwrap_or(&""),
                expected.as_str()
            ));
        }
    }
    if n != ctxs.len() * probes.len() {
        return Err(format!(
            "child reported {n} of {} probes",
            ctxs.len() * probes.len()
        ));
    }
    if !errors.is_empty() {
        return Err(format!(
            "{} of {n} probes disagree (artifacts in {}):\n{}",
            errors.len(),
            dir.display(),
            errors.join("\n")
        ));
    }
    Ok(n)
}

pub fn standard_probes() -> Vec<Probe> {
    let mut v = Vec::new();
    for d in gen::PROBE_V4 {
        for (proto, dport) in gen::PROBE_SERVICES_V4 {
            v.push(Probe {
                v6: false,
                proto,
                dst: d.into(),
                dport,
            });
        }
    }
    for d in gen::PROBE_V6 {
        for (proto, dport) in gen::PROBE_SERVICES_V6 {
            v.push(Probe {
                v6: true,
                proto,
                dst: d.into(),
                dport,
            });
        }
    }
    v
}

fn random_policies() -> Result<String, String> {
    let n: u64 = std::env::var("POL_KERNEL_POLICIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let seed0 = first_seed();
    let probes = standard_probes();
    let mut total = 0;
    let mut stats = std::collections::BTreeMap::new();
    // How many rulesets had address dispatch, and cell maps.
    let (mut dispatched, mut with_cells, mut with_hashed) = (0, 0, 0);
    let mut failures = Vec::new();
    for i in 0..n {
        let seed = seed0 + i;
        let prefix = format!("poltest-{}-{i}", std::process::id());
        let (program, sources) = gen::kernel_policy(seed, &prefix);
        let mut ctxs = Vec::new();
        for cg in [
            None,
            Some(format!("{prefix}/a")),
            Some(format!("{prefix}/a/b")),
            Some(format!("{prefix}/c")),
        ] {
            for classid in [0, gen::CLASS_1, gen::CLASS_2] {
                ctxs.push(Ctx {
                    cgroup: cg.clone(),
                    classid,
                });
            }
        }
        let opts = BuildOptions {
            dispatch_min_run: if seed.is_multiple_of(2) { 2 } else { 8 },
            // Address dispatch and cells on most seeds (the linear rendering
            // on every third), so this proves their exactness.
            addr_dispatch_min_run: if seed.is_multiple_of(3) {
                16
            } else {
                1 + (seed % 3) as usize
            },
            addr_dispatch_always: !seed.is_multiple_of(3),
            ..BuildOptions::default()
        };
        let dir = temp_dir(&format!("random-{seed}"));
        match probe_case(&dir, &program, &sources, &opts, &ctxs, &probes) {
            Ok(k) => {
                total += k;
                tally(&dir, &mut stats);
                let r = std::fs::read_to_string(dir.join("ruleset.nft")).unwrap_or_default();
                dispatched +=
                    usize::from(r.contains("daddr vmap @addr_") || r.contains("saddr vmap @addr_"));
                with_cells += usize::from(r.contains("th dport vmap @addr_"));
                with_hashed += usize::from(r.contains("th dport vmap @hash_"));
                if std::env::var_os("POL_KERNEL_KEEP").is_none() {
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
            Err(e) => failures.push(format!(
                "seed {seed} (rerun with POL_KERNEL_SEED={seed} POL_KERNEL_POLICIES=1): {e}"
            )),
        }
        cleanup_cgroups(&prefix);
    }
    if failures.is_empty() {
        Ok(format!("{n} random policies (seeds {seed0}..{}; {dispatched} with address dispatch, {with_cells} with interval cell maps, {with_hashed} with hash maps of cells), {total} probes sent, all as evaluated; observed {stats:?}", seed0 + n))
    } else {
        Err(failures.join("\n"))
    }
}

/// The first seed of the random tests: `POL_KERNEL_SEED`, else from the
/// clock.
pub fn first_seed() -> u64 {
    std::env::var("POL_KERNEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(1)
                % 1_000_000
        })
}

/// Count observed outcomes (allow / drop / reject / deny) of a case.
pub fn tally(dir: &Path, stats: &mut std::collections::BTreeMap<String, usize>) {
    for l in std::fs::read_to_string(dir.join("results.txt"))
        .unwrap_or_default()
        .lines()
    {
        if let Some(o) = l.split(' ').nth(3) {
            *stats.entry(o.to_string()).or_default() += 1;
        }
    }
}

/// Remove the cgroup v2 directories of a case (the host's cgroup2 mount).
pub fn cleanup_cgroups(prefix: &str) {
    let root = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/unified"
    };
    for sub in ["a/b", "a", "c", ""] {
        let _ = std::fs::remove_dir(Path::new(root).join(prefix).join(sub));
    }
}
