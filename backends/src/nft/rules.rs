//! One IR rule → the nft rules that implement it.
//!
//! A rule is a conjunction of a group disjunction, per-family address sets,
//! a service set and `via`. One nft rule can test one selector kind, one
//! family and either ported or port-less protocols, so an IR rule becomes
//! the product of its group alternatives × families × service parts, all
//! with the same verdict, comment and modifiers, consecutive in the chain.
//! Consecutive rules with one verdict are a disjunction under first match,
//! so the expansion is exact.

use super::sets::{SetKind, Sets};
use pol_lang::ast::{Hook, Verdict};
use pol_lang::ir::{CgroupPath, GroupId, Program, Rule, Selector};
use pol_lang::safe_text::nft::NftString;
use pol_lang::sets::addr::{prefix_bounds_v4, prefix_bounds_v6};
use pol_lang::sets::service::{
    has_ports, proto_families, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP,
};
use pol_lang::sets::{AddrSet, Family, IntervalSet, ServiceSet};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The name of the shared chain that rejects (TCP reset, else icmpx).
pub const REJECT_CHAIN: &str = "do-reject";

/// The selectors of a rule's groups, flattened: duplicates and cgroup paths
/// below another selected path removed, in source order.
pub fn rule_selectors(program: &Program, rule: &Rule) -> Option<Vec<Selector>> {
    let gs = rule.matches.groups.as_ref()?;
    let mut sels: Vec<Selector> = Vec::new();
    for g in gs {
        for s in &program.group(*g).selectors {
            if !sels.contains(s) {
                sels.push(s.clone());
            }
        }
    }
    let paths: Vec<CgroupPath> = sels
        .iter()
        .filter_map(|s| match s {
            Selector::Cgroup(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    sels.retain(|s| match s {
        Selector::Cgroup(p) => !paths.iter().any(|q| q != p && p.is_within(q)),
        _ => true,
    });
    Some(sels)
}

/// The name of group `group`'s set of cgroup paths at `level`.
pub fn cgroup_set_name(group: &str, level: usize) -> String {
    format!("cg_{group}_l{level}")
}

/// The group tests of a rule, one nft match per alternative: for cgroup v2,
/// one named set per group and level (`socket cgroupv2 level N
/// @cg_GROUP_lN`), so that a refresh can add a re-created cgroup's new id
/// to it; then all class ids, uids and gids each in one test.
fn selector_matches(
    program: &Program,
    rule: &Rule,
    sels: &[Selector],
    sets: &mut Sets,
    site: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let deferred = |p: &CgroupPath| program.systemd_creates(p);
    let mut seen: Vec<GroupId> = Vec::new();
    for g in rule.matches.groups.iter().flatten() {
        if seen.contains(g) {
            continue;
        }
        seen.push(*g);
        let group = program.group(*g);
        let mut by_level: BTreeMap<usize, Vec<CgroupPath>> = BTreeMap::new();
        for p in group.cgroup_paths() {
            by_level.entry(p.level()).or_default().push(p.clone());
        }
        for (level, paths) in by_level {
            let set = sets.cgroup_set(
                &cgroup_set_name(&group.name, level),
                level,
                &paths,
                &deferred,
                site,
            );
            out.push(format!("socket cgroupv2 level {level} {set}"));
        }
    }
    let (mut cls, mut uids, mut gids) = (Vec::new(), Vec::new(), Vec::new());
    for s in sels {
        match s {
            Selector::Cgroup(_) => {}
            Selector::Classid(c) => cls.push(classid_literal(c.0)),
            Selector::Uid(u) => uids.push(u.to_string()),
            Selector::Gid(g) => gids.push(g.to_string()),
        }
    }
    if !cls.is_empty() {
        out.push(format!(
            "meta cgroup {}",
            one_or_set(sets, SetKind::Classid, cls, site)
        ));
    }
    if !uids.is_empty() {
        out.push(format!(
            "meta skuid {}",
            one_or_set(sets, SetKind::Uid, uids, site)
        ));
    }
    if !gids.is_empty() {
        out.push(format!(
            "meta skgid {}",
            one_or_set(sets, SetKind::Gid, gids, site)
        ));
    }
    out
}

pub fn cgroup_literal(p: &CgroupPath) -> String {
    exact_literal(p.as_str())
}

/// A value that must stay exact, quoted. `crate::validate` refuses values
/// nft cannot quote before anything is rendered; should one get here
/// anyway, it is rendered as (inexact) text, never as nft syntax.
fn exact_literal(s: &str) -> String {
    NftString::exact(s)
        .unwrap_or_else(|| NftString::text_max(s, usize::MAX))
        .to_string()
}

pub fn classid_literal(c: u32) -> String {
    format!("0x{c:08x}")
}

fn one_or_set(sets: &mut Sets, kind: SetKind, mut els: Vec<String>, site: &str) -> String {
    if els.len() == 1 {
        els.pop().unwrap_or_default()
    } else {
        sets.reference(kind, els, site)
    }
}

/// One address interval as an nft element: a prefix when it is one.
pub fn v4_element(lo: u32, hi: u32) -> String {
    for len in 0..=32u8 {
        if prefix_bounds_v4(lo, len) == (lo, hi) {
            return if len == 32 {
                Ipv4Addr::from(lo).to_string()
            } else {
                format!("{}/{len}", Ipv4Addr::from(lo))
            };
        }
    }
    format!("{}-{}", Ipv4Addr::from(lo), Ipv4Addr::from(hi))
}

pub fn v6_element(lo: u128, hi: u128) -> String {
    for len in 0..=128u8 {
        if prefix_bounds_v6(lo, len) == (lo, hi) {
            return if len == 128 {
                Ipv6Addr::from(lo).to_string()
            } else {
                format!("{}/{len}", Ipv6Addr::from(lo))
            };
        }
    }
    format!("{}-{}", Ipv6Addr::from(lo), Ipv6Addr::from(hi))
}

/// `ip daddr …` for one family, or `None` when the family's set is full.
fn addr_match(
    set: &AddrSet,
    fam: Family,
    dir: &str,
    sets: &mut Sets,
    site: &str,
) -> Option<String> {
    let (proto, els, kind) = match fam {
        Family::Ipv4 => {
            if set.v4.is_full() {
                return None;
            }
            (
                "ip",
                set.v4
                    .ranges()
                    .iter()
                    .map(|&(a, b)| v4_element(a, b))
                    .collect::<Vec<_>>(),
                SetKind::Addr4,
            )
        }
        Family::Ipv6 => {
            if set.v6.is_full() {
                return None;
            }
            (
                "ip6",
                set.v6
                    .ranges()
                    .iter()
                    .map(|&(a, b)| v6_element(a, b))
                    .collect::<Vec<_>>(),
                SetKind::Addr6,
            )
        }
    };
    Some(format!(
        "{proto} {dir} {}",
        one_or_set(sets, kind, els, site)
    ))
}

pub fn proto_literal(p: u8) -> String {
    match p {
        PROTO_TCP => "tcp".into(),
        PROTO_UDP => "udp".into(),
        PROTO_ICMP => "icmp".into(),
        PROTO_ICMPV6 => "icmpv6".into(),
        n => n.to_string(),
    }
}

pub fn port_element(lo: u16, hi: u16) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}-{hi}")
    }
}

/// The service matches of one nft rule family (`None` = both families):
/// one for ported protocols with a port constraint, one for the rest.
fn service_matches(
    svc: &ServiceSet,
    fam: Option<Family>,
    sets: &mut Sets,
    site: &str,
) -> Vec<String> {
    let mut ported: Vec<(u8, &IntervalSet<u16>)> = Vec::new();
    let mut portless: Vec<u8> = Vec::new();
    for (&p, ports) in &svc.protos {
        if fam.is_some_and(|f| !proto_families(p).contains(&f)) {
            continue;
        }
        if has_ports(p) && !ports.is_full() {
            ported.push((p, ports));
        } else {
            portless.push(p);
        }
    }
    let mut out = Vec::new();
    if !ported.is_empty() {
        let single = ported.len() == 1 && ported[0].1.ranges().len() == 1;
        if single {
            let (p, ports) = ported[0];
            let (lo, hi) = ports.ranges()[0];
            out.push(match p {
                PROTO_TCP | PROTO_UDP => {
                    format!("{} dport {}", proto_literal(p), port_element(lo, hi))
                }
                _ => format!(
                    "meta l4proto {} th dport {}",
                    proto_literal(p),
                    port_element(lo, hi)
                ),
            });
        } else {
            let els: Vec<String> = ported
                .iter()
                .flat_map(|(p, ports)| {
                    ports.ranges().iter().map(move |&(lo, hi)| {
                        format!("{} . {}", proto_literal(*p), port_element(lo, hi))
                    })
                })
                .collect();
            out.push(format!(
                "meta l4proto . th dport {}",
                sets.reference(SetKind::Service, els, site)
            ));
        }
    }
    if !portless.is_empty() {
        let els: Vec<String> = portless.iter().map(|p| proto_literal(*p)).collect();
        out.push(format!(
            "meta l4proto {}",
            one_or_set(sets, SetKind::Proto, els, site)
        ));
    }
    out
}

/// Everything needed to render the rules of one IR rule.
pub struct RuleCtx<'a> {
    pub program: &'a Program,
    pub hook: Hook,
    /// `FILE:LINE` of the rule.
    pub site: String,
    /// Only this family's part of the rule (in an address-dispatch bucket
    /// of that family); `None`: all of it.
    pub family: Option<Family>,
}

/// The verdict statement.
pub fn verdict_stmt(v: Verdict) -> String {
    match v {
        Verdict::Allow => "accept".into(),
        Verdict::Drop => "drop".into(),
        Verdict::Reject => format!("goto {REJECT_CHAIN}"),
    }
}

/// What ends every nft rule of `rule`: `counter`, `log`, the verdict and
/// `comment "FILE:LINE …"`.
pub fn rule_tail(ctx: &RuleCtx<'_>, rule: &Rule) -> String {
    let site = ctx.site.as_str();
    let mut tail = Vec::new();
    if rule.counter {
        tail.push("counter".to_string());
    }
    if let Some(log) = &rule.log {
        match &log.prefix {
            Some(p) => tail.push(format!("log prefix {}", NftString::log_prefix(p))),
            None => tail.push("log".into()),
        }
    }
    tail.push(verdict_stmt(rule.verdict));
    let comment = match &rule.comment {
        Some(c) => format!("{site} {c}"),
        None => site.to_string(),
    };
    tail.push(format!("comment {}", NftString::text(&comment)));
    tail.join(" ")
}

/// The nft rules (one line each, no indentation) for `rule`. With
/// `skip_groups` the group test is left out (the rule sits in a dispatch
/// chain that only sockets of its one selector reach).
pub fn render_rule(
    ctx: &RuleCtx<'_>,
    rule: &Rule,
    skip_groups: bool,
    sets: &mut Sets,
) -> Vec<String> {
    let m = &rule.matches;
    let site = ctx.site.as_str();
    let group_alts: Vec<Option<String>> = match rule_selectors(ctx.program, rule) {
        Some(sels) if !skip_groups => selector_matches(ctx.program, rule, &sels, sets, site)
            .into_iter()
            .map(Some)
            .collect(),
        _ => vec![None],
    };
    let tunnel = m.via.map(|t| ctx.program.tunnel(t));
    let to = match tunnel {
        Some(t) => m.to.intersect(&t.routes),
        None => m.to.clone(),
    };
    let fam_specific_svc = m
        .service
        .as_ref()
        .is_some_and(|s| s.protos.keys().any(|p| proto_families(*p).len() == 1));
    let fams: Vec<Option<Family>> = if m.from.is_any() && to.is_any() && !fam_specific_svc {
        vec![None]
    } else {
        [Family::Ipv4, Family::Ipv6]
            .into_iter()
            .filter(|f| m.from.has_family(*f) && to.has_family(*f))
            .filter(|f| m.service.as_ref().is_none_or(|s| s.families().contains(f)))
            .map(Some)
            .collect()
    };
    let fams: Vec<Option<Family>> = match ctx.family {
        None => fams,
        Some(only) => fams
            .into_iter()
            .filter(|f| f.is_none_or(|f| f == only))
            .map(|_| Some(only))
            .collect(),
    };
    let tail = rule_tail(ctx, rule);

    let mut out = Vec::new();
    for fam in &fams {
        let mut fam_parts: Vec<String> = Vec::new();
        if let Some(f) = fam {
            let s = addr_match(&m.from, *f, "saddr", sets, site);
            let d = addr_match(&to, *f, "daddr", sets, site);
            if s.is_none() && d.is_none() {
                fam_parts.push(format!("meta nfproto {}", f.as_str()));
            }
            fam_parts.extend(s);
            fam_parts.extend(d);
        }
        let svc_alts: Vec<Option<String>> = match &m.service {
            Some(s) => service_matches(s, *fam, sets, site)
                .into_iter()
                .map(Some)
                .collect(),
            None => vec![None],
        };
        for g in &group_alts {
            for s in &svc_alts {
                let mut parts: Vec<String> = Vec::new();
                parts.extend(g.iter().cloned());
                parts.extend(fam_parts.iter().cloned());
                parts.extend(s.iter().cloned());
                if let (Some(t), Hook::Output) = (tunnel, ctx.hook) {
                    parts.push(format!("oifname {}", exact_literal(&t.dev)));
                }
                parts.push(tail.clone());
                out.push(parts.join(" "));
            }
        }
    }
    out
}
