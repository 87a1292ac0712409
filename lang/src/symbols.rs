//! Names and their uses, for editors (`polc lsp`): every definition of the
//! one namespace (LANGUAGE.md §2) with a description of what it resolves
//! to, and every use of a name the resolver looked up, across all loaded
//! files. Built by the resolver as it resolves, so a use is exactly what
//! the compiler took it to mean.

use crate::ir::{self, Selector};
use crate::resolve::names::DefKind;
use crate::sets::addr::{v4_prefixes, v6_prefixes};
use crate::sets::service::{has_ports, proto_name};
use crate::sets::{AddrSet, ServiceSet};
use crate::span::{FileId, Span};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Most elements a description lists per family before "… N more".
const MAX_SHOWN: usize = 16;

/// One definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolDef {
    pub name: String,
    pub kind: DefKind,
    /// The name in its definition.
    pub span: Span,
    /// What the name resolves to (Markdown-free plain text, one fact per
    /// line); empty when it did not resolve.
    pub detail: String,
}

/// Every definition and every use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Symbols {
    pub defs: Vec<SymbolDef>,
    /// `(use, index into defs)`, sorted, without duplicates.
    pub uses: Vec<(Span, usize)>,
}

impl Symbols {
    /// The definition whose name is at `offset` of `file`, as a use or as
    /// the definition itself.
    pub fn at(&self, file: FileId, offset: usize) -> Option<usize> {
        let hit = |s: &Span| s.file == file && (s.range().start..=s.range().end).contains(&offset);
        self.uses
            .iter()
            .find(|(s, _)| hit(s))
            .map(|(_, d)| *d)
            .or_else(|| self.defs.iter().position(|d| hit(&d.span)))
    }

    /// Every use of definition `def` (not the definition itself).
    pub fn uses_of(&self, def: usize) -> impl Iterator<Item = Span> + '_ {
        self.uses
            .iter()
            .filter(move |(_, d)| *d == def)
            .map(|(s, _)| *s)
    }

    /// The definitions in `file`, in source order.
    pub fn defined_in(&self, file: FileId) -> Vec<&SymbolDef> {
        let mut v: Vec<&SymbolDef> = self.defs.iter().filter(|d| d.span.file == file).collect();
        v.sort_by_key(|d| d.span.start);
        v
    }
}

fn more(n: usize) -> String {
    if n > MAX_SHOWN {
        format!(", … {} more", n - MAX_SHOWN)
    } else {
        String::new()
    }
}

fn v4_elements(set: &AddrSet) -> Vec<String> {
    let mut out = Vec::new();
    for &(lo, hi) in set.v4.ranges() {
        let ps = v4_prefixes(&crate::sets::IntervalSet::range(lo, hi));
        if ps.len() == 1 {
            let (a, l) = ps[0];
            out.push(if l == 32 {
                a.to_string()
            } else {
                format!("{a}/{l}")
            });
        } else {
            out.push(format!("{}-{}", Ipv4Addr::from(lo), Ipv4Addr::from(hi)));
        }
    }
    out
}

fn v6_elements(set: &AddrSet) -> Vec<String> {
    let mut out = Vec::new();
    for &(lo, hi) in set.v6.ranges() {
        let ps = v6_prefixes(&crate::sets::IntervalSet::range(lo, hi));
        if ps.len() == 1 {
            let (a, l) = ps[0];
            out.push(if l == 128 {
                a.to_string()
            } else {
                format!("{a}/{l}")
            });
        } else {
            out.push(format!("{}-{}", Ipv6Addr::from(lo), Ipv6Addr::from(hi)));
        }
    }
    out
}

fn family_line(family: &str, els: &[String]) -> String {
    if els.is_empty() {
        return format!("{family}: none");
    }
    let shown: Vec<&str> = els.iter().take(MAX_SHOWN).map(String::as_str).collect();
    format!("{family}: {}{}", shown.join(", "), more(els.len()))
}

/// An address set, normalised, one line per family.
pub fn describe_addrs(set: &AddrSet) -> String {
    if set.is_any() {
        return "IPv4: any\nIPv6: any".into();
    }
    format!(
        "{}\n{}",
        family_line("IPv4", &v4_elements(set)),
        family_line("IPv6", &v6_elements(set))
    )
}

/// A service set: one line per protocol with its ports.
pub fn describe_services(set: &ServiceSet) -> String {
    if set.is_empty() {
        return "no protocol".into();
    }
    let mut lines = Vec::new();
    for (&p, ports) in &set.protos {
        let name = proto_name(p).map_or_else(|| format!("proto {p}"), str::to_string);
        if !has_ports(p) {
            lines.push(name);
            continue;
        }
        let rs = ports.ranges();
        if rs == [(0, u16::MAX)] {
            lines.push(format!("{name} any port"));
            continue;
        }
        let shown: Vec<String> = rs
            .iter()
            .take(MAX_SHOWN)
            .map(|&(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect();
        lines.push(format!("{name} {}{}", shown.join(", "), more(rs.len())));
    }
    lines.join("\n")
}

/// A group's selectors, as the ruleset matches them.
pub fn describe_group(g: &ir::Group) -> String {
    if g.selectors.is_empty() {
        return "no selector".into();
    }
    g.selectors
        .iter()
        .map(|s| match s {
            Selector::Cgroup(p) => format!(
                "cgroup \"{p}\" (cgroup v2 path, level {}: sockets in it or below it)",
                p.level()
            ),
            Selector::Classid(c) => format!("classid {c} (net_cls)"),
            Selector::Uid(u) => format!("uid {u} (socket owner)"),
            Selector::Gid(g) => format!("gid {g} (socket group)"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A tunnel: the link tunnels.sh creates and its routes.
pub fn describe_tunnel(t: &ir::Tunnel) -> String {
    let mut s = format!(
        "vti6 link {} (local {}, remote {}, key {}), address {}/{}",
        t.dev, t.local, t.remote, t.key, t.address.0, t.address.1
    );
    if let Some(m) = t.mtu {
        s.push_str(&format!(", mtu {m}"));
    }
    s.push_str("\nroutes:\n");
    s.push_str(&describe_addrs(&t.routes));
    s
}

/// A policy: its chain and its size.
pub fn describe_policy(p: &ir::Policy) -> String {
    format!(
        "hook {}, default {}, {} rule{}",
        p.hook.as_str(),
        p.default.as_str(),
        p.rules.len(),
        if p.rules.len() == 1 { "" } else { "s" }
    )
}
