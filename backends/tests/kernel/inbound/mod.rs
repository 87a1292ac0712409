//! Kernel test of `hook input` policies: random input policies (no groups:
//! on input they match only packets with a local socket) are loaded into a
//! fresh network + mount namespace (the policy side, `kernel __in_ns_input
//! DIR`), whose veth's far end lives in a second network namespace (the
//! peer, `ip netns add peer` under a private tmpfs) with several IPv4 and
//! IPv6 source addresses. The policy side (ICMP error rate limits off)
//! listens on every probed TCP and UDP port; the peer (`kernel
//! __input_peer DIR`, run with `ip netns exec peer`) sends every probe
//! concurrently and sees:
//! - TCP: connected = allow, ECONNREFUSED (the reset) = reject, pending =
//!   drop;
//! - UDP: the policy side's socket received it = allow, else the peer's
//!   connected socket got an ICMP error (EHOSTUNREACH / EACCES /
//!   ECONNREFUSED) = reject, else drop;
//! - ICMP echo: a reply = allow, none = deny (drop and reject not told
//!   apart).
//!
//! Every observation is compared with the reference evaluator.
//!
//! The same machinery probes the input policies of the examples and
//! fixtures (`probe_program_inputs`, from scripts.rs): the plan then also
//! holds sources and destinations derived from the policy's `from` / `to`
//! sets, which the policy side adds to the peer / itself, with host routes
//! both ways, before probing.
//! `POL_KERNEL_INPUT_POLICIES` (default 20) sets how many policies;
//! `POL_KERNEL_SEED` the first seed; `POL_KERNEL_KEEP` keeps artifacts.

mod plan;
mod sides;

// The imports below serve `plan` and `sides` too (`use super::*`).
use super::plan::Observed;
use super::probe::{checksum, sh};
use super::{
    check_comments, deciding_site, first_seed, has_cell_maps, has_comment, parse_addr, temp_dir,
    write_artifacts,
};
use crate::support::{eval, gen};
use plan::*;
pub use plan::{unprobeable, NO_INPUT};
use pol_backends::BuildOptions;
use pol_lang::ast::{Hook, Verdict};
use pol_lang::ir::{Packet, Policy, PolicyId, Program};
use pol_lang::sets::AddrSet;
use pol_lang::span::SourceMap;
use rustix::io::Errno;
use rustix::net::{self, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use sides::*;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Probe the `hook input` policies of a real program (examples and
/// fixtures): only those policies are loaded (an output policy would also
/// filter the policy side's answers). Returns the number of probes sent.
pub fn probe_program_inputs(
    tag: &str,
    program: &Program,
    sources: &SourceMap,
) -> Result<usize, String> {
    let mut only = program.clone();
    only.policies.retain(|p| p.hook == Hook::Input);
    for (i, p) in only.policies.iter_mut().enumerate() {
        p.id = PolicyId(u32::try_from(i).map_err(|e| e.to_string())?);
    }
    only.tests.clear();
    let probes = input_probes_for(&only);
    let dir = temp_dir(tag);
    let mut stats = BTreeMap::new();
    let n = input_case(
        &dir,
        &only,
        sources,
        &BuildOptions::default(),
        &probes,
        &mut stats,
    )?;
    if std::env::var_os("POL_KERNEL_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(n)
}

/// The verdict of all `hook input` policies together: each is a base chain
/// on the same hook, so the first that does not accept decides.
fn input_verdict<'a>(program: &'a Program, p: &Packet) -> (&'a Policy, Option<usize>, Verdict) {
    let mut last = None;
    for pol in program.policies.iter().filter(|x| x.hook == Hook::Input) {
        let (r, v) = eval::evaluate(program, pol, p);
        if v != Verdict::Allow {
            return (pol, r, v);
        }
        last = Some((pol, r, v));
    }
    last.unwrap_or_else(|| (&program.policies[0], None, Verdict::Allow))
}

pub fn random_input_policies() -> Result<String, String> {
    let n: u64 = std::env::var("POL_KERNEL_INPUT_POLICIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed0 = first_seed();
    let probes = input_probes();
    let mut total = 0;
    let mut stats: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for i in 0..n {
        let seed = seed0 + i;
        let (program, sources) = gen::kernel_input_policy(seed);
        // Address dispatch and cells on two seeds in three.
        let opts = BuildOptions {
            addr_dispatch_min_run: if seed.is_multiple_of(3) {
                16
            } else {
                1 + (seed % 3) as usize
            },
            addr_dispatch_always: !seed.is_multiple_of(3),
            ..BuildOptions::default()
        };
        let dir = temp_dir(&format!("input-{seed}"));
        match input_case(&dir, &program, &sources, &opts, &probes, &mut stats) {
            Ok(k) => {
                total += k;
                if std::env::var_os("POL_KERNEL_KEEP").is_none() {
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
            Err(e) => failures.push(format!(
                "seed {seed} (rerun with POL_KERNEL_SEED={seed} POL_KERNEL_INPUT_POLICIES=1): {e}"
            )),
        }
    }
    if failures.is_empty() {
        Ok(format!(
            "{n} random input policies (seeds {seed0}..{}), {total} probes sent, all as evaluated; observed {stats:?}",
            seed0 + n
        ))
    } else {
        Err(failures.join("\n"))
    }
}

/// Load `program` in a namespace, probe it from the peer, and compare with
/// the reference evaluator. Returns the number of probes sent.
fn input_case(
    dir: &Path,
    program: &Program,
    sources: &SourceMap,
    opts: &BuildOptions,
    probes: &[InProbe],
    stats: &mut BTreeMap<String, usize>,
) -> Result<usize, String> {
    write_artifacts(dir, program, sources, opts)?;
    std::fs::write(dir.join("plan.txt"), write_plan(probes)).map_err(|e| e.to_string())?;
    let res = super::run_child_in_ns("__in_ns_input", dir);
    let results = std::fs::read_to_string(dir.join("results.txt")).unwrap_or_default();
    res.map_err(|e| format!("{e} (artifacts in {})", dir.display()))?;
    let listed = std::fs::read_to_string(dir.join("listed.nft")).map_err(|e| e.to_string())?;
    // As for output policies: with cell maps, a shadowed rule has no
    // element, and every rule that decides a probe must be listed.
    let cells = has_cell_maps(&listed);
    if !cells {
        check_comments(program, sources, &listed)?;
    }
    let mut seen = HashSet::new();
    let mut errors = Vec::new();
    for line in results.lines() {
        let w: Vec<&str> = line.splitn(4, ' ').collect();
        let (Some(i), Some(obs)) = (
            w.get(1).and_then(|s| s.parse::<usize>().ok()),
            w.get(2).and_then(|s| Observed::parse(s)),
        ) else {
            return Err(format!("bad result line {line:?}"));
        };
        let Some(p) = probes.get(i) else {
            return Err(format!("bad probe index in {line:?}"));
        };
        seen.insert(i);
        *stats.entry(obs.as_str().to_string()).or_default() += 1;
        let packet = Packet {
            socket: None,
            saddr: parse_addr(&p.src.to_string()),
            daddr: parse_addr(&p.dst.to_string()),
            proto: p.proto,
            sport: probe_id(i),
            dport: p.dport,
        };
        let (policy, rule, expected) = input_verdict(program, &packet);
        if let (true, Some(r)) = (cells, rule) {
            let site = sources.file_line(policy.rules[r].span);
            if !has_comment(&listed, &site) {
                errors.push(format!(
                    "  {site} decides probe {i} but its comment is not listed"
                ));
            }
        }
        if !obs.agrees(expected) {
            let by = deciding_site(sources, policy, rule);
            errors.push(format!(
                "  probe {i} {} {}:{} -> {}:{}: kernel {} ({}), expected {} by {by}",
                proto_name(p.proto),
                p.src,
                probe_id(i),
                p.dst,
                p.dport,
                obs.as_str(),
                w.get(3).unwrap_or(&""),
                expected.as_str()
            ));
        }
    }
    if seen.len() != probes.len() {
        return Err(format!(
            "child reported {} of {} probes (artifacts in {})",
            seen.len(),
            probes.len(),
            dir.display()
        ));
    }
    if !errors.is_empty() {
        return Err(format!(
            "{} of {} probes disagree (artifacts in {}):\n{}",
            errors.len(),
            probes.len(),
            dir.display(),
            errors.join("\n")
        ));
    }
    Ok(probes.len())
}

fn proto_name(p: u8) -> &'static str {
    match p {
        6 => "tcp",
        17 => "udp",
        1 => "icmp",
        58 => "icmpv6",
        _ => "proto?",
    }
}

fn report(dir: &Path, r: Result<(), String>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => {
            let _ = std::fs::write(dir.join("error"), &e);
            eprintln!("kernel input test child: {e}");
            1
        }
    }
}

/// `kernel __in_ns_input DIR`: the policy side.
pub fn child_main(dir: &Path) -> i32 {
    report(dir, policy_side(dir))
}

/// `kernel __input_peer DIR`: the peer side (in the peer namespace).
pub fn peer_main(dir: &Path) -> i32 {
    report(dir, peer_side(dir))
}
