//! Turning a decoded packet into the `Witness` of a diagnostic, after
//! checking it with the concrete first-match evaluator
//! (`ir::Policy::evaluate`, `ir::Match::matches`).

use pol_lang::ast::Verdict;
use pol_lang::diag::Witness;
use pol_lang::ir::{GroupId, Packet, Policy, Program};
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
