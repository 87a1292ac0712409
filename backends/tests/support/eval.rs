//! The reference evaluator: the executable meaning of LANGUAGE.md §4,
//! written independently of `Policy::evaluate` (and cross-checked with it).
//!
//! A packet is the first packet of a flow from a socket (or none). A rule
//! matches when every part it has matches:
//! - groups: the socket exists and is in one of the groups; a socket is in
//!   a group when any selector holds: its cgroup v2 path is the selector's
//!   path or below it, its net_cls class equals the class id, its owner uid
//!   or gid equals the selector's;
//! - from / to: the source / destination address is in the set (both
//!   addresses are of the packet's family);
//! - service: the protocol is in the set, exists in the packet's family
//!   (ICMP only IPv4, ICMPv6 only IPv6) and, for protocols with ports, the
//!   destination port is in that protocol's port set;
//! - via T: the destination is in T's routes.
//!
//! The first matching rule decides; none → the policy's default.

use pol_lang::ast::Verdict;
use pol_lang::ir::{Addr, Packet, Policy, Program, Selector};
use pol_lang::sets::service::{PROTO_ICMP, PROTO_ICMPV6};

fn in_group(program: &Program, g: pol_lang::ir::GroupId, p: &Packet) -> bool {
    let Some(s) = &p.socket else { return false };
    program.group(g).selectors.iter().any(|sel| match sel {
        Selector::Cgroup(path) => s.cgroup.as_ref().is_some_and(|c| {
            c.as_str() == path.as_str() || c.as_str().starts_with(&format!("{}/", path.as_str()))
        }),
        Selector::Classid(c) => s.classid == c.0,
        Selector::Uid(u) => s.uid == *u,
        Selector::Gid(x) => s.gid == *x,
    })
}

fn addr_in(set: &pol_lang::sets::AddrSet, a: Addr) -> bool {
    match a {
        Addr::V4(v) => set.v4.ranges().iter().any(|&(lo, hi)| lo <= v && v <= hi),
        Addr::V6(v) => set.v6.ranges().iter().any(|&(lo, hi)| lo <= v && v <= hi),
    }
}

fn rule_matches(program: &Program, m: &pol_lang::ir::Match, p: &Packet) -> bool {
    if let Some(gs) = &m.groups {
        if !gs.iter().any(|g| in_group(program, *g, p)) {
            return false;
        }
    }
    if !addr_in(&m.from, p.saddr) || !addr_in(&m.to, p.daddr) {
        return false;
    }
    if let Some(svc) = &m.service {
        let Some(ports) = svc.protos.get(&p.proto) else {
            return false;
        };
        let v4 = matches!(p.daddr, Addr::V4(_));
        if (p.proto == PROTO_ICMP && !v4) || (p.proto == PROTO_ICMPV6 && v4) {
            return false;
        }
        let ported = matches!(p.proto, 6 | 17 | 132 | 33 | 136);
        if ported
            && !ports
                .ranges()
                .iter()
                .any(|&(lo, hi)| lo <= p.dport && p.dport <= hi)
        {
            return false;
        }
    }
    if let Some(t) = m.via {
        if !addr_in(&program.tunnel(t).routes, p.daddr) {
            return false;
        }
    }
    true
}

/// The verdict of `policy` for `p` and the deciding rule (`None` = default).
pub fn evaluate(program: &Program, policy: &Policy, p: &Packet) -> (Option<usize>, Verdict) {
    let mine = policy
        .rules
        .iter()
        .position(|r| rule_matches(program, &r.matches, p))
        .map_or((None, policy.default), |i| {
            (Some(i), policy.rules[i].verdict)
        });
    // Cross-check with the IR's own implementation.
    assert_eq!(
        mine,
        policy.evaluate(program, p),
        "reference evaluator disagrees with Policy::evaluate on {p:?}"
    );
    mine
}
