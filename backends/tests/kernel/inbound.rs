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

use super::plan::Observed;
use super::probe::{checksum, sh};
use super::{check_comments, deciding_site, first_seed, parse_addr, temp_dir, write_artifacts};
use crate::support::{eval, gen};
use pol_backends::BuildOptions;
use pol_lang::ast::{Hook, Verdict};
use pol_lang::ir::{Packet, Policy, PolicyId, Program};
use pol_lang::sets::AddrSet;
use pol_lang::span::SourceMap;
use rustix::io::Errno;
use rustix::net::{self, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// How long the peer waits for answers after sending every probe.
const WAIT: Duration = Duration::from_millis(250);

/// Both namespaces' network: veth0 (policy side) ↔ veth1 (peer), static
/// neighbours both ways (no ARP/NDP, which an input policy could drop),
/// routes both ways, and no ICMP error rate limits on the policy side (a
/// UDP reject is an ICMP error; the limits would turn some into drops).
const NET_SETUP: &str = "set -e
# `ip netns add` keeps its files in /run/netns: a private tmpfs there (or,
# when the host has no /run/netns, on /run) leaves no trace on the host.
mount -t tmpfs pol-netns /run/netns 2>/dev/null || { mount -t tmpfs pol-run /run && mkdir /run/netns; }
ip netns add peer
ip link set lo up
ip -n peer link set lo up
ip link add veth0 address 02:00:00:00:00:01 type veth peer name veth1 address 02:00:00:00:00:02
ip link set veth1 netns peer
echo 0 >/proc/sys/net/ipv6/conf/veth0/router_solicitations
ip netns exec peer sh -c 'echo 0 >/proc/sys/net/ipv6/conf/veth1/router_solicitations'
echo 0 >/proc/sys/net/ipv4/icmp_ratemask
echo 0 >/proc/sys/net/ipv4/icmp_ratelimit
echo 0 >/proc/sys/net/ipv6/icmp/ratelimit
if [ -e /proc/sys/net/ipv6/icmp/ratemask ]; then echo 200 >/proc/sys/net/ipv6/icmp/ratemask; fi
ip addr add 192.0.2.1/24 dev veth0
ip addr add 203.0.113.1/32 dev veth0
ip addr add 203.0.113.77/32 dev veth0
ip -6 addr add 2001:db8:f::1/64 dev veth0 nodad
ip -6 addr add 2001:db8:300::1/128 dev veth0 nodad
ip -6 addr add 2001:db8:300::4d/128 dev veth0 nodad
ip -n peer addr add 192.0.2.2/24 dev veth1
for a in 198.18.0.1 198.18.0.77 198.18.1.5 198.19.255.1; do ip -n peer addr add $a/32 dev veth1; done
ip -n peer -6 addr add 2001:db8:f::2/64 dev veth1 nodad
for a in 2001:db8:100::1 2001:db8:100::4d 2001:db8:101::5 2001:db8:1ff::1; do ip -n peer -6 addr add $a/128 dev veth1 nodad; done
ip link set veth0 up
ip -n peer link set veth1 up
ip neigh replace 192.0.2.2 lladdr 02:00:00:00:00:02 dev veth0 nud permanent
ip -6 neigh replace 2001:db8:f::2 lladdr 02:00:00:00:00:02 dev veth0 nud permanent
ip -n peer neigh replace 192.0.2.1 lladdr 02:00:00:00:00:01 dev veth1 nud permanent
ip -n peer -6 neigh replace 2001:db8:f::1 lladdr 02:00:00:00:00:01 dev veth1 nud permanent
ip route add 198.18.0.0/15 via 192.0.2.2
ip -6 route add 2001:db8:100::/40 via 2001:db8:f::2
ip -n peer route add 203.0.113.0/24 via 192.0.2.1
ip -n peer -6 route add 2001:db8:300::/48 via 2001:db8:f::1
";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InProbe {
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub dport: u16,
}

/// Source port (TCP/UDP) or echo id (ICMP) of probe `i`: unique per case.
fn probe_id(i: usize) -> u16 {
    u16::try_from(10000 + i).unwrap_or(u16::MAX)
}

fn is_icmp(proto: u8) -> bool {
    proto == 1 || proto == 58
}

fn parse_all(list: &[&str]) -> Vec<IpAddr> {
    list.iter().filter_map(|s| s.parse().ok()).collect()
}

/// Every (source, destination, service) of one family, crossed.
fn cross(srcs: &[IpAddr], dsts: &[IpAddr], svcs: &[(u8, u16)], out: &mut Vec<InProbe>) {
    for &src in srcs {
        for &dst in dsts {
            for &(proto, dport) in svcs {
                out.push(InProbe {
                    proto,
                    src,
                    dst,
                    dport,
                });
            }
        }
    }
}

/// Every (source, destination, service) of the input test.
pub fn input_probes() -> Vec<InProbe> {
    let mut v = Vec::new();
    cross(
        &parse_all(&gen::INPUT_SRC_V4),
        &parse_all(&gen::INPUT_DST_V4),
        &gen::PROBE_SERVICES_V4,
        &mut v,
    );
    cross(
        &parse_all(&gen::INPUT_SRC_V6),
        &parse_all(&gen::INPUT_DST_V6),
        &gen::PROBE_SERVICES_V6,
        &mut v,
    );
    v
}

/// Derived addresses per family (sources, destinations), services, and the
/// whole plan: at most this many of each / in all.
const MAX_DERIVED_ADDRS: usize = 3;
const MAX_DERIVED_SERVICES: usize = 5;
const MAX_PLAN: usize = 480;

/// An address the test may put on either namespace's veth: a unicast,
/// non-loopback, non-link-local address outside the veth's own link
/// networks (192.0.2.0/24, 2001:db8:f::/64).
fn assignable(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => {
            let o = v.octets();
            !(o[0] == 0
                || o[0] == 127
                || o[0] >= 224
                || (o[0] == 169 && o[1] == 254)
                || (o[0], o[1], o[2]) == (192, 0, 2))
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            !(s[0] >> 8 == 0
                || s[0] & 0xffc0 == 0xfe80
                || s[0] & 0xffc0 == 0xfec0
                || s[0] >> 8 == 0xff
                || (s[0], s[1], s[2], s[3]) == (0x2001, 0xdb8, 0xf, 0))
        }
    }
}

/// One host inside each range of `set` (the first host: the range's second
/// address when it has more than two, else its first), IPv4 then IPv6.
fn hosts_in(set: &AddrSet) -> Vec<IpAddr> {
    let mut v = Vec::new();
    for &(lo, hi) in set.v4.ranges() {
        let h = if hi - lo >= 2 { lo + 1 } else { lo };
        v.push(IpAddr::V4(Ipv4Addr::from(h)));
    }
    for &(lo, hi) in set.v6.ranges() {
        let h = if hi - lo >= 2 { lo + 1 } else { lo };
        v.push(IpAddr::V6(Ipv6Addr::from(h)));
    }
    v
}

pub const NO_INPUT: &str = "no input policy";

/// Why the `hook input` policies of `program` cannot be probed from the
/// peer, if they cannot: a rule with groups matches only packets with a
/// local socket, which the reference evaluator (packets from the peer have
/// none) and the kernel (`socket cgroupv2` finds the listener) see
/// differently.
pub fn unprobeable(program: &Program) -> Option<&'static str> {
    let inputs: Vec<&Policy> = program
        .policies
        .iter()
        .filter(|p| p.hook == Hook::Input)
        .collect();
    if inputs.is_empty() {
        Some(NO_INPUT)
    } else if inputs
        .iter()
        .any(|p| p.rules.iter().any(|r| r.matches.groups.is_some()))
    {
        Some("input policy with groups: not probed")
    } else {
        None
    }
}

/// The probes for the `hook input` policies of a real program: the fixed
/// sources, destinations and services of `input_probes`, plus one host
/// inside each network the rules name in `from` (added to the peer) and in
/// `to` (added to the policy side), and a few TCP/UDP ports of each rule's
/// services; crossed per family, thinned (deterministically) to `MAX_PLAN`.
pub fn input_probes_for(program: &Program) -> Vec<InProbe> {
    let fixed_src = [parse_all(&gen::INPUT_SRC_V4), parse_all(&gen::INPUT_SRC_V6)].concat();
    let fixed_dst = [parse_all(&gen::INPUT_DST_V4), parse_all(&gen::INPUT_DST_V6)].concat();
    let rules: Vec<&pol_lang::ir::Rule> = program
        .policies
        .iter()
        .filter(|p| p.hook == Hook::Input)
        .flat_map(|p| &p.rules)
        .collect();
    let mut srcs = fixed_src.clone();
    let mut dsts = fixed_dst.clone();
    let mut derived = [0usize; 4]; // sources v4, v6; destinations v4, v6
    for r in &rules {
        for a in hosts_in(&r.matches.from) {
            let k = usize::from(a.is_ipv6());
            if assignable(a)
                && !srcs.contains(&a)
                && !dsts.contains(&a)
                && derived[k] < MAX_DERIVED_ADDRS
            {
                derived[k] += 1;
                srcs.push(a);
            }
        }
    }
    for r in &rules {
        let to = match r.matches.via {
            Some(t) => r.matches.to.intersect(&program.tunnel(t).routes),
            None => r.matches.to.clone(),
        };
        for a in hosts_in(&to) {
            let k = 2 + usize::from(a.is_ipv6());
            if assignable(a)
                && !srcs.contains(&a)
                && !dsts.contains(&a)
                && derived[k] < MAX_DERIVED_ADDRS
            {
                derived[k] += 1;
                dsts.push(a);
            }
        }
    }
    let mut extra: Vec<(u8, u16)> = Vec::new();
    for r in &rules {
        let Some(svc) = &r.matches.service else {
            continue;
        };
        for proto in [6u8, 17] {
            let Some(ports) = svc.protos.get(&proto) else {
                continue;
            };
            let mut mine = Vec::new();
            for &(lo, hi) in ports.ranges() {
                mine.push(lo.max(1));
                mine.push(hi.max(1));
            }
            for port in mine.into_iter().take(3) {
                let s = (proto, port);
                if !gen::PROBE_SERVICES_V4.contains(&s)
                    && !extra.contains(&s)
                    && extra.len() < MAX_DERIVED_SERVICES
                {
                    extra.push(s);
                }
            }
        }
    }
    let mut v = Vec::new();
    let fam = |v6: bool, list: &[IpAddr]| -> Vec<IpAddr> {
        list.iter().copied().filter(|a| a.is_ipv6() == v6).collect()
    };
    cross(
        &fam(false, &srcs),
        &fam(false, &dsts),
        &[&gen::PROBE_SERVICES_V4[..], &extra].concat(),
        &mut v,
    );
    cross(
        &fam(true, &srcs),
        &fam(true, &dsts),
        &[&gen::PROBE_SERVICES_V6[..], &extra].concat(),
        &mut v,
    );
    if v.len() > MAX_PLAN {
        // A deterministic pseudo-random subset, in plan order.
        let mut rng = gen::Rng::new(v.len() as u64);
        let mut keep: Vec<usize> = (0..v.len()).collect();
        for i in (1..keep.len()).rev() {
            keep.swap(i, rng.below(i + 1));
        }
        keep.truncate(MAX_PLAN);
        keep.sort_unstable();
        v = keep.into_iter().map(|i| v[i].clone()).collect();
    }
    v
}

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

/// The addresses a plan uses beyond the fixed ones: each extra source on
/// the peer (a host route to it on the policy side), each extra
/// destination on the policy side (a host route to it on the peer).
fn extra_addr_setup(probes: &[InProbe]) -> String {
    let fixed_src = [parse_all(&gen::INPUT_SRC_V4), parse_all(&gen::INPUT_SRC_V6)].concat();
    let fixed_dst = [parse_all(&gen::INPUT_DST_V4), parse_all(&gen::INPUT_DST_V6)].concat();
    let srcs: BTreeSet<IpAddr> = probes
        .iter()
        .map(|p| p.src)
        .filter(|a| !fixed_src.contains(a))
        .collect();
    let dsts: BTreeSet<IpAddr> = probes
        .iter()
        .map(|p| p.dst)
        .filter(|a| !fixed_dst.contains(a))
        .collect();
    let mut s = String::from("set -e\n");
    for a in srcs {
        let _ = match a {
            IpAddr::V4(_) => writeln!(
                s,
                "ip -n peer addr add {a}/32 dev veth1\nip route add {a}/32 via 192.0.2.2"
            ),
            IpAddr::V6(_) => writeln!(
                s,
                "ip -n peer -6 addr add {a}/128 dev veth1 nodad\nip -6 route add {a}/128 via 2001:db8:f::2"
            ),
        };
    }
    for a in dsts {
        let _ = match a {
            IpAddr::V4(_) => writeln!(
                s,
                "ip addr add {a}/32 dev veth0\nip -n peer route add {a}/32 via 192.0.2.1"
            ),
            IpAddr::V6(_) => writeln!(
                s,
                "ip -6 addr add {a}/128 dev veth0 nodad\nip -n peer -6 route add {a}/128 via 2001:db8:f::1"
            ),
        };
    }
    s
}

/// `probe IDX PROTO SRC DST DPORT`, one line each.
fn write_plan(probes: &[InProbe]) -> String {
    let mut s = String::new();
    for (i, p) in probes.iter().enumerate() {
        let _ = writeln!(s, "probe {i} {} {} {} {}", p.proto, p.src, p.dst, p.dport);
    }
    s
}

fn read_plan(text: &str) -> Result<Vec<InProbe>, String> {
    let mut v = Vec::new();
    for line in text.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        let bad = || format!("bad plan line {line:?}");
        match w.as_slice() {
            ["probe", _, proto, src, dst, dport] => v.push(InProbe {
                proto: proto.parse().map_err(|_| bad())?,
                src: src.parse().map_err(|_| bad())?,
                dst: dst.parse().map_err(|_| bad())?,
                dport: dport.parse().map_err(|_| bad())?,
            }),
            _ => return Err(bad()),
        }
    }
    Ok(v)
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
        let opts = BuildOptions::default();
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
    check_comments(program, sources, &listed)?;
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

fn family(a: IpAddr) -> AddressFamily {
    match a {
        IpAddr::V4(_) => AddressFamily::INET,
        IpAddr::V6(_) => AddressFamily::INET6,
    }
}

fn wildcard(v6: bool, port: u16) -> SocketAddr {
    if v6 {
        SocketAddr::V6(SocketAddrV6::new(
            std::net::Ipv6Addr::UNSPECIFIED,
            port,
            0,
            0,
        ))
    } else {
        SocketAddr::V4(SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, port))
    }
}

fn policy_side(dir: &Path) -> Result<(), String> {
    let probes =
        read_plan(&std::fs::read_to_string(dir.join("plan.txt")).map_err(|e| e.to_string())?)?;
    sh(NET_SETUP, &[])?;
    sh(&extra_addr_setup(&probes), &[])?;
    sh(&format!("nft -c -f {0}/ruleset.nft && nft -f {0}/ruleset.nft && nft list ruleset >{0}/listed.nft", dir.display()), &[])?;
    let e = |what: &'static str| move |x: Errno| format!("{what}: {x}");
    // A TCP listener and a UDP socket on every probed (family, port).
    let mut keep = Vec::new();
    let mut udp: Vec<(u16, OwnedFd)> = Vec::new();
    let ports: BTreeSet<(bool, u8, u16)> = probes
        .iter()
        .filter(|p| !is_icmp(p.proto))
        .map(|p| (p.dst.is_ipv6(), p.proto, p.dport))
        .collect();
    for (v6, proto, port) in ports {
        let fam = if v6 {
            AddressFamily::INET6
        } else {
            AddressFamily::INET
        };
        let ty = if proto == 6 {
            SocketType::STREAM
        } else {
            SocketType::DGRAM
        };
        let fd = net::socket_with(fam, ty, SocketFlags::NONBLOCK, None).map_err(e("socket"))?;
        if v6 {
            net::sockopt::set_ipv6_v6only(&fd, true).map_err(e("IPV6_V6ONLY"))?;
        }
        net::bind(&fd, &wildcard(v6, port)).map_err(e("bind"))?;
        if proto == 6 {
            net::listen(&fd, 512).map_err(e("listen"))?;
            keep.push(fd);
        } else {
            udp.push((port, fd));
        }
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new("ip")
        .args(["netns", "exec", "peer"])
        .arg(exe)
        .arg("__input_peer")
        .arg(dir)
        .output()
        .map_err(|e| format!("ip netns exec: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "peer failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // Every datagram received: (source, source port, destination port).
    let mut got: HashSet<(IpAddr, u16, u16)> = HashSet::new();
    let mut buf = vec![0u8; 2048];
    for (port, fd) in &udp {
        while let Ok((_, _, Some(from))) = net::recvfrom(fd, &mut buf[..], RecvFlags::DONTWAIT) {
            if let Ok(a) = SocketAddr::try_from(from) {
                let ip = match a.ip() {
                    IpAddr::V6(v) => v.to_ipv4_mapped().map_or(IpAddr::V6(v), IpAddr::V4),
                    v4 => v4,
                };
                got.insert((ip, a.port(), *port));
            }
        }
    }
    drop(keep);
    let peer = std::fs::read_to_string(dir.join("peer.txt")).map_err(|e| e.to_string())?;
    let mut out = String::new();
    for line in peer.lines() {
        let w: Vec<&str> = line.splitn(4, ' ').collect();
        let i: usize = w
            .get(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad peer line {line:?}"))?;
        let p = probes
            .get(i)
            .ok_or_else(|| format!("bad peer line {line:?}"))?;
        let mut obs = w.get(2).copied().unwrap_or("?");
        let mut detail = w.get(3).copied().unwrap_or("").to_string();
        if p.proto == 17 {
            let received = got.contains(&(p.src, probe_id(i), p.dport));
            if received {
                obs = "allow";
            }
            detail = format!("received={received} {detail}");
        }
        let _ = writeln!(out, "res {i} {obs} {detail}");
    }
    std::fs::write(dir.join("results.txt"), out).map_err(|e| e.to_string())
}

struct Sent {
    fd: Option<OwnedFd>,
    err: Option<Errno>,
}

fn peer_side(dir: &Path) -> Result<(), String> {
    let probes =
        read_plan(&std::fs::read_to_string(dir.join("plan.txt")).map_err(|e| e.to_string())?)?;
    let e = |what: &'static str| move |x: Errno| format!("{what}: {x}");
    // Echo replies arrive on these (raw sockets see every ICMP packet).
    let rx4 = net::socket_with(
        AddressFamily::INET,
        SocketType::RAW,
        SocketFlags::NONBLOCK,
        Some(net::ipproto::ICMP),
    )
    .map_err(e("raw icmp socket"))?;
    let rx6 = net::socket_with(
        AddressFamily::INET6,
        SocketType::RAW,
        SocketFlags::NONBLOCK,
        Some(net::ipproto::ICMPV6),
    )
    .map_err(e("raw icmpv6 socket"))?;
    let mut replies: HashSet<(IpAddr, u16)> = HashSet::new();
    let mut sent = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        let id = probe_id(i);
        let fam = family(p.src);
        let src = SocketAddr::new(p.src, id);
        let dst = SocketAddr::new(p.dst, p.dport);
        match p.proto {
            6 | 17 => {
                let ty = if p.proto == 6 {
                    SocketType::STREAM
                } else {
                    SocketType::DGRAM
                };
                let fd =
                    net::socket_with(fam, ty, SocketFlags::NONBLOCK, None).map_err(e("socket"))?;
                net::bind(&fd, &src).map_err(|x| format!("bind {src}: {x}"))?;
                let mut err = match net::connect(&fd, &dst) {
                    Ok(()) => None,
                    Err(x) if x == Errno::INPROGRESS => None,
                    Err(x) => Some(x),
                };
                if p.proto == 17 && err.is_none() {
                    err = net::send(&fd, b"pol-probe", SendFlags::DONTWAIT).err();
                }
                sent.push(Sent { fd: Some(fd), err });
            }
            1 | 58 => {
                let proto = if p.proto == 1 {
                    net::ipproto::ICMP
                } else {
                    net::ipproto::ICMPV6
                };
                let fd = net::socket(fam, SocketType::RAW, Some(proto)).map_err(e("raw socket"))?;
                net::bind(&fd, &SocketAddr::new(p.src, 0))
                    .map_err(|x| format!("bind {}: {x}", p.src))?;
                let mut pkt = vec![if p.proto == 1 { 8u8 } else { 128u8 }, 0, 0, 0];
                pkt.extend_from_slice(&id.to_be_bytes());
                pkt.extend_from_slice(&1u16.to_be_bytes());
                pkt.extend_from_slice(b"pol-probe");
                if p.proto == 1 {
                    let c = checksum(&pkt);
                    pkt[2..4].copy_from_slice(&c.to_be_bytes());
                }
                // The kernel fills in the ICMPv6 checksum.
                let err =
                    net::sendto(&fd, &pkt, SendFlags::DONTWAIT, &SocketAddr::new(p.dst, 0)).err();
                sent.push(Sent { fd: None, err });
            }
            other => return Err(format!("unsupported probe protocol {other}")),
        }
        // Keep the receive buffers from filling up.
        drain_replies(&rx4, &rx6, &mut replies);
    }
    std::thread::sleep(WAIT);
    drain_replies(&rx4, &rx6, &mut replies);
    let mut out = String::new();
    for (i, (p, s)) in probes.iter().zip(&sent).enumerate() {
        let so_error =
            s.fd.as_ref()
                .and_then(|fd| match net::sockopt::socket_error(fd) {
                    Ok(Err(x)) => Some(x),
                    _ => None,
                });
        let refused = |x: Option<Errno>| matches!(x, Some(x) if x == Errno::CONNREFUSED || x == Errno::HOSTUNREACH || x == Errno::ACCESS);
        let refused = refused(so_error) || refused(s.err);
        let obs = match p.proto {
            6 => {
                let connected =
                    s.fd.as_ref()
                        .is_some_and(|fd| matches!(net::getpeername(fd), Ok(Some(_))));
                if refused {
                    Observed::Reject
                } else if connected && so_error.is_none() && s.err.is_none() {
                    Observed::Allow
                } else {
                    Observed::Drop
                }
            }
            // The policy side upgrades a received datagram to allow.
            17 => {
                if refused {
                    Observed::Reject
                } else {
                    Observed::Drop
                }
            }
            _ => {
                if replies.contains(&(p.dst, probe_id(i))) {
                    Observed::Allow
                } else {
                    Observed::Deny
                }
            }
        };
        let _ = writeln!(
            out,
            "res {i} {} send={:?} so_error={:?}",
            obs.as_str(),
            s.err,
            so_error
        );
    }
    std::fs::write(dir.join("peer.txt"), out).map_err(|e| e.to_string())
}

/// Every echo reply received since the last call, as (replier, echo id).
fn drain_replies(rx4: &OwnedFd, rx6: &OwnedFd, replies: &mut HashSet<(IpAddr, u16)>) {
    let mut buf = vec![0u8; 4096];
    let be = |b: &[u8], i: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
    };
    // IPv4 raw sockets receive the IP header too.
    while let Ok((n, _, _)) = net::recvfrom(rx4, &mut buf[..], RecvFlags::DONTWAIT) {
        let b = &buf[..n.min(buf.len())];
        let ihl = usize::from(b.first().copied().unwrap_or(0) & 0x0f) * 4;
        if let (Some(src), Some(0), Some(id)) = (
            b.get(12..16)
                .and_then(|s| <[u8; 4]>::try_from(s).ok())
                .map(IpAddr::from),
            b.get(ihl).copied(),
            be(b, ihl + 4),
        ) {
            replies.insert((src, id));
        }
    }
    while let Ok((n, _, from)) = net::recvfrom(rx6, &mut buf[..], RecvFlags::DONTWAIT) {
        let b = &buf[..n.min(buf.len())];
        let src = from
            .and_then(|a| SocketAddr::try_from(a).ok())
            .map(|a| a.ip());
        if let (Some(src), Some(129), Some(id)) = (src, b.first().copied(), be(b, 4)) {
            replies.insert((src, id));
        }
    }
}
