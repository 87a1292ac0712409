//! Turning a decoded packet into the `Witness` of a diagnostic, after
//! checking it with the concrete first-match evaluator
//! (`ir::Policy::evaluate`, `ir::Match::matches`).

use pol_lang::ast::Verdict;
use pol_lang::diag::Witness;
use pol_lang::ir::{Addr, GroupId, Match, Packet, Policy, Program};
use pol_lang::sets::service::proto_name;

/// The name of a group the packet's socket belongs to, preferring `prefer`.
pub fn group_of(program: &Program, p: &Packet, prefer: &[GroupId]) -> Option<String> {
    let s = p.socket.as_ref()?;
    prefer
        .iter()
        .map(|g| program.group(*g))
        .chain(program.groups.iter())
        .find(|g| s.in_group(g))
        .map(|g| g.name.clone())
}

/// The witness of `p` with the verdict it gets.
pub fn make(program: &Program, p: &Packet, verdict: Verdict, prefer: &[GroupId]) -> Witness {
    let sock = p.socket.as_ref();
    Witness {
        group: group_of(program, p, prefer),
        cgroup: sock.and_then(|s| s.cgroup.as_ref().map(|c| c.to_string())),
        classid: sock
            .filter(|s| s.classid != 0)
            .map(|s| pol_lang::ir::ClassId(s.classid).to_string()),
        uid: sock.map(|s| s.uid),
        gid: sock.map(|s| s.gid),
        family: p.daddr.family().as_str().to_string(),
        saddr: p.saddr.to_string(),
        daddr: p.daddr.to_string(),
        proto: proto_name(p.proto)
            .map(str::to_string)
            .unwrap_or_else(|| p.proto.to_string()),
        sport: pol_lang::sets::service::has_ports(p.proto).then_some(p.sport),
        dport: pol_lang::sets::service::has_ports(p.proto).then_some(p.dport),
        via: program
            .tunnel_for(p.daddr)
            .map(|t| program.tunnel(t).name.clone()),
        verdict: verdict.as_str().to_string(),
    }
}

/// Evaluate `p` in `policy` and build its witness: (deciding rule, verdict, witness).
pub fn evaluate(
    program: &Program,
    policy: &Policy,
    p: &Packet,
    prefer: &[GroupId],
) -> (Option<usize>, Verdict, Witness) {
    let (rule, v) = policy.evaluate(program, p);
    (rule, v, make(program, p, v, prefer))
}

/// Like [`evaluate`], over the rules `candidates` (ascending) only: exact
/// when every rule that can match `p` is among them — e.g. all rules that
/// overlap a rule `p` matches (`OverlapIndex` is exact). Each candidate is
/// tested with the concrete `ir::Match::matches`.
pub fn evaluate_among(
    program: &Program,
    policy: &Policy,
    candidates: &[usize],
    p: &Packet,
    prefer: &[GroupId],
) -> (Option<usize>, Verdict, Witness) {
    let (rule, v) = candidates
        .iter()
        .find(|&&j| policy.rules[j].matches.matches(program, p))
        .map_or((None, policy.default), |&j| {
            (Some(j), policy.rules[j].verdict)
        });
    (rule, v, make(program, p, v, prefer))
}

/// `lo..=hi` is exactly one CIDR prefix.
fn is_prefix(lo: u128, hi: u128) -> bool {
    let size = hi.wrapping_sub(lo).wrapping_add(1);
    size != 0 && size.is_power_of_two() && lo.is_multiple_of(size)
}

/// Most candidate values [`tidy`] tries per field.
const MAX_CANDIDATES: usize = 64;

/// Readable addresses of one family: for every network the rules name
/// (`to` sets for destinations, `from` sets for sources), its first host
/// (the network address itself for a single address), in rule order.
/// Only ranges that are one CIDR prefix count, not from 0 and not wider
/// than a /8 (IPv4) or /48 (IPv6) — `any` and the pieces of complements
/// give none; well-known public addresses
/// (`1.1.1.1`, `2606:4700:4700::1111`) come last, for regions outside
/// every named network.
fn candidate_addrs(rules: &[&Match], v6: bool, dest: bool) -> Vec<Addr> {
    let mut out: Vec<Addr> = Vec::new();
    {
        for m in rules {
            let set = if dest { &m.to } else { &m.from };
            if v6 {
                for &(lo, hi) in set.v6.ranges() {
                    if lo != 0 && hi - lo < 1 << 80 && is_prefix(lo, hi) {
                        out.push(Addr::V6(if lo < hi { lo + 1 } else { lo }));
                    }
                }
            } else {
                for &(lo, hi) in set.v4.ranges() {
                    if lo != 0 && hi - lo < 1 << 24 && is_prefix(u128::from(lo), u128::from(hi)) {
                        out.push(Addr::V4(if lo < hi { lo + 1 } else { lo }));
                    }
                }
            }
            if out.len() >= MAX_CANDIDATES {
                break;
            }
        }
    }
    out.truncate(MAX_CANDIDATES);
    out.push(if v6 {
        Addr::V6(0x2606_4700_4700_0000_0000_0000_0000_1111)
    } else {
        Addr::V4(0x0101_0101)
    });
    out
}

/// A more readable packet with the same meaning. Field by field, the
/// solver's arbitrary value is replaced by the first of a few readable
/// candidates that keeps `same` (the caller's test of what the packet must
/// show, e.g. "decided by the same rules on both sides"): no class id, uid
/// and gid 0, source `0.0.0.0` / `::`, a destination that is the first
/// host of a network one of `rules` names (the rules the packet is about).
pub fn tidy(p: &Packet, rules: &[&Match], same: &dyn Fn(&Packet) -> bool) -> Packet {
    let mut best = p.clone();
    for field in 0..3 {
        attempt(&mut best, same, &|q: &mut Packet| {
            if let Some(s) = q.socket.as_mut() {
                match field {
                    0 => s.classid = 0,
                    1 => s.uid = 0,
                    _ => s.gid = 0,
                }
            }
        });
    }
    let v6 = matches!(p.daddr, Addr::V6(_));
    let zero = if v6 { Addr::V6(0) } else { Addr::V4(0) };
    if best.saddr != zero && !attempt(&mut best, same, &|q: &mut Packet| q.saddr = zero) {
        for a in candidate_addrs(rules, v6, false) {
            if attempt(&mut best, same, &|q: &mut Packet| q.saddr = a) {
                break;
            }
        }
    }
    for a in candidate_addrs(rules, v6, true) {
        if attempt(&mut best, same, &|q: &mut Packet| q.daddr = a) {
            break;
        }
    }
    best
}

/// Applies `change` to `best` when the result still satisfies `same`.
fn attempt(
    best: &mut Packet,
    same: &dyn Fn(&Packet) -> bool,
    change: &dyn Fn(&mut Packet),
) -> bool {
    let mut q = best.clone();
    change(&mut q);
    if q != *best && same(&q) {
        *best = q;
        true
    } else {
        false
    }
}
