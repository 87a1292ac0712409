//! What the input test probes: the probe list (fixed addresses and
//! services, or derived from a policy's `from` / `to` sets and ports) and
//! its text form for the namespaced children.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InProbe {
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub dport: u16,
}

/// Source port (TCP/UDP) or echo id (ICMP) of probe `i`: unique per case.
pub(super) fn probe_id(i: usize) -> u16 {
    u16::try_from(10000 + i).unwrap_or(u16::MAX)
}

pub(super) fn is_icmp(proto: u8) -> bool {
    proto == 1 || proto == 58
}

pub(super) fn parse_all(list: &[&str]) -> Vec<IpAddr> {
    list.iter().filter_map(|s| s.parse().ok()).collect()
}

/// Every (source, destination, service) of one family, crossed.
pub(super) fn cross(srcs: &[IpAddr], dsts: &[IpAddr], svcs: &[(u8, u16)], out: &mut Vec<InProbe>) {
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
pub(super) const MAX_DERIVED_ADDRS: usize = 3;
pub(super) const MAX_DERIVED_SERVICES: usize = 5;
pub(super) const MAX_PLAN: usize = 480;

/// An address the test may put on either namespace's veth: a unicast,
/// non-loopback, non-link-local address outside the veth's own link
/// networks (192.0.2.0/24, 2001:db8:f::/64).
pub(super) fn assignable(a: IpAddr) -> bool {
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
pub(super) fn hosts_in(set: &AddrSet) -> Vec<IpAddr> {
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

/// `probe IDX PROTO SRC DST DPORT`, one line each.
pub(super) fn write_plan(probes: &[InProbe]) -> String {
    let mut s = String::new();
    for (i, p) in probes.iter().enumerate() {
        let _ = writeln!(s, "probe {i} {} {} {} {}", p.proto, p.src, p.dst, p.dport);
    }
    s
}

pub(super) fn read_plan(text: &str) -> Result<Vec<InProbe>, String> {
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
