//! The probe plan the test driver hands to its namespaced child, as text:
//!
//! ```text
//! ctx IDX CLASSID CGROUP|-
//! probe IDX FAMILY(4|6) PROTO DST DPORT
//! ```
//! (fields separated by tabs: cgroup paths may hold spaces, never tabs)
//! and the child's answer, one line per (context, probe):
//! `res CTX PROBE OBSERVED` with OBSERVED one of allow, drop, reject, deny
//! (deny = not seen leaving, drop and reject not told apart).

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctx {
    pub cgroup: Option<String>,
    pub classid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub v6: bool,
    pub proto: u8,
    pub dst: String,
    pub dport: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    Allow,
    Drop,
    Reject,
    /// Not seen leaving; drop and reject not told apart (ICMP).
    Deny,
}

impl Observed {
    /// Whether what the kernel did is what the evaluator says.
    pub fn agrees(self, expected: pol_lang::ast::Verdict) -> bool {
        use pol_lang::ast::Verdict;
        match self {
            Observed::Allow => expected == Verdict::Allow,
            Observed::Deny => expected != Verdict::Allow,
            Observed::Drop => expected == Verdict::Drop,
            Observed::Reject => expected == Verdict::Reject,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Observed::Allow => "allow",
            Observed::Drop => "drop",
            Observed::Reject => "reject",
            Observed::Deny => "deny",
        }
    }
    pub fn parse(s: &str) -> Option<Observed> {
        Some(match s {
            "allow" => Observed::Allow,
            "drop" => Observed::Drop,
            "reject" => Observed::Reject,
            "deny" => Observed::Deny,
            _ => return None,
        })
    }
}

/// Source port (TCP/UDP) or echo id (ICMP) of a probe: unique per case
/// (`n` = probes per context; the driver keeps ctxs × n below 55,000).
pub fn probe_id(ctx: usize, probe: usize, n: usize) -> u16 {
    u16::try_from(10000 + ctx * n + probe).unwrap_or(u16::MAX)
}

pub fn write_plan(ctxs: &[Ctx], probes: &[Probe]) -> String {
    let mut s = String::new();
    for (i, c) in ctxs.iter().enumerate() {
        let _ = writeln!(
            s,
            "ctx\t{i}\t{}\t{}",
            c.classid,
            c.cgroup.as_deref().unwrap_or("-")
        );
    }
    for (i, p) in probes.iter().enumerate() {
        let _ = writeln!(
            s,
            "probe\t{i}\t{}\t{}\t{}\t{}",
            if p.v6 { 6 } else { 4 },
            p.proto,
            p.dst,
            p.dport
        );
    }
    s
}

pub fn read_plan(text: &str) -> (Vec<Ctx>, Vec<Probe>) {
    let (mut ctxs, mut probes) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let w: Vec<&str> = line.split('\t').collect();
        match w.as_slice() {
            ["ctx", _, cls, cg] => ctxs.push(Ctx {
                cgroup: if *cg == "-" {
                    None
                } else {
                    Some(cg.to_string())
                },
                classid: cls.parse().unwrap_or(0),
            }),
            ["probe", _, fam, proto, dst, dport] => probes.push(Probe {
                v6: *fam == "6",
                proto: proto.parse().unwrap_or(0),
                dst: dst.to_string(),
                dport: dport.parse().unwrap_or(0),
            }),
            _ => {}
        }
    }
    (ctxs, probes)
}
