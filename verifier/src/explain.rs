//! `polc explain`: which rule decides the packets a description covers,
//! and why.
//!
//! The description may cover many packets (a group, a prefix, a port
//! range); the packets are split by the rule that decides them. The first
//! case comes from any packet of the description; each further case from
//! `P ∧ idx ∉ {rules seen}` where `idx` is the first-match index chain, so
//! every listed case is real and, when `complete`, no other rule decides
//! any packet of the description. For each case, the earlier rules that
//! overlap the description are listed with the part of them the witness
//! packet fails (the "why").

use crate::analysis::PolicyCtx;
use crate::classes::AddrClasses;
use crate::findings::rule_text;
use crate::smt::Outcome;
use crate::witness;
use pol_lang::diag::Witness;
use pol_lang::ir::{Match, Packet, Policy, Program, Rule};
use pol_lang::sets::service::has_ports;
use pol_lang::span::SourceMap;
use serde::Serialize;
use z3::ast::{Bool, BV};

/// Most cases one explanation lists.
pub const MAX_CASES: usize = 16;

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub policy: String,
    /// The verdict of the first case (LANGUAGE.md §10's fields).
    pub verdict: String,
    pub file: String,
    pub line: usize,
    /// Every deciding rule found, each with a packet it decides.
    pub cases: Vec<Case>,
    /// False when the list was cut short or a query was undecided.
    pub complete: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub verdict: String,
    pub file: String,
    pub line: usize,
    /// Rule index in the policy; `None` for the default.
    pub rule: Option<usize>,
    /// The rule's source text, or `default VERDICT`.
    pub text: String,
    pub witness: Witness,
    /// Earlier rules that overlap the description but do not match the witness, and why.
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub file: String,
    pub line: usize,
    pub text: String,
    pub reason: String,
}

/// Why a rule does not match a packet: the first part that fails.
pub fn why_not(program: &Program, rule: &Rule, p: &Packet) -> String {
    let m = &rule.matches;
    if let Some(gs) = &m.groups {
        if !gs.iter().any(|g| {
            p.socket
                .as_ref()
                .is_some_and(|s| s.in_group(program.group(*g)))
        }) {
            return "the socket is not in its groups".into();
        }
    }
    let test = |mm: Match| mm.matches(program, p);
    if !test(Match {
        from: m.from.clone(),
        ..Match::any()
    }) {
        return format!("source {} is not in `from`", p.saddr);
    }
    if !test(Match {
        to: m.to.clone(),
        ..Match::any()
    }) {
        return format!("destination {} is not in `to`", p.daddr);
    }
    if let Some(s) = &m.service {
        if !test(Match {
            service: Some(s.clone()),
            ..Match::any()
        }) {
            return if has_ports(p.proto) && s.protos.contains_key(&p.proto) {
                format!("port {} is not in its service", p.dport)
            } else {
                format!("protocol {} is not in its service", p.proto)
            };
        }
    }
    if let Some(t) = m.via {
        return format!(
            "the packet does not leave through `{}`",
            program.tunnel(t).name
        );
    }
    "it does not match".into()
}

/// What the solver's packets stand for when `ctx` is over address classes
/// (`classes`): the original program and policy, and the classes to map
/// each packet back. Every case is evaluated, and each skipped rule
/// explained, on the originals.
pub struct Originals<'a> {
    pub program: &'a Program,
    pub policy: &'a Policy,
    pub classes: Option<&'a AddrClasses>,
}

pub fn explain(
    ctx: &PolicyCtx,
    sources: &SourceMap,
    packets: &Match,
    orig: &Originals,
) -> Option<Explanation> {
    let summary = ctx.summary_of(packets);
    let rules = ctx.overlapping(&summary);
    let pf = ctx.encoder().matches(packets);
    let idx = ctx.index_chain(&rules);
    let prefer = packets.groups.clone().unwrap_or_default();
    let mut blocks: Vec<Bool> = Vec::new();
    let mut cases = Vec::new();
    let mut complete = true;
    loop {
        if cases.len() >= MAX_CASES {
            complete = false;
            break;
        }
        let mut q: Vec<&Bool> = vec![&pf];
        q.extend(blocks.iter());
        let p = match ctx.smt.check("explain", &q) {
            Outcome::Sat(p) => match orig.classes {
                Some(c) => c.expand_packet(p),
                None => p,
            },
            Outcome::Unsat => break,
            Outcome::Unknown(_) => {
                complete = false;
                break;
            }
        };
        let (by, v, w) = witness::evaluate(orig.program, orig.policy, &p, &prefer);
        let n = by.unwrap_or(orig.policy.rules.len());
        blocks.push(idx.eq(BV::from_u64(n as u64, 32)).not());
        let (span, text) = match by {
            Some(r) => (
                ctx.policy.rules[r].span,
                rule_text(sources, ctx.policy.rules[r].span),
            ),
            None => (ctx.policy.default_span, format!("default {}", v.as_str())),
        };
        let skipped = rules
            .iter()
            .filter(|&&r| r < n)
            .map(|&r| {
                let rs = ctx.policy.rules[r].span;
                Skipped {
                    file: sources.name(rs.file).to_string(),
                    line: sources.start_line_col(rs).0,
                    text: rule_text(sources, rs),
                    reason: why_not(orig.program, &orig.policy.rules[r], &p),
                }
            })
            .collect();
        cases.push(Case {
            verdict: v.as_str().to_string(),
            file: sources.name(span.file).to_string(),
            line: sources.start_line_col(span).0,
            rule: by,
            text,
            witness: w,
            skipped,
        });
    }
    let first = cases.first()?;
    Some(Explanation {
        policy: ctx.policy.name.clone(),
        verdict: first.verdict.clone(),
        file: first.file.clone(),
        line: first.line,
        cases,
        complete,
    })
}

impl Explanation {
    /// Human text: one paragraph per case.
    pub fn human(&self) -> String {
        let mut s = String::new();
        if self.cases.len() > 1 {
            s.push_str(&format!(
                "policy `{}`: the packets described get {} different decisions\n",
                self.policy,
                self.cases.len()
            ));
        }
        for c in &self.cases {
            s.push_str(&format!(
                "policy `{}`: {} by {}:{}: {}\n",
                self.policy, c.verdict, c.file, c.line, c.text
            ));
            s.push_str(&format!(
                "  for example: {}\n",
                pol_lang::diag::render::witness_text(&c.witness)
            ));
            for k in &c.skipped {
                s.push_str(&format!(
                    "  skips {}:{}: {} ({})\n",
                    k.file, k.line, k.text, k.reason
                ));
            }
        }
        if !self.complete {
            s.push_str("(list incomplete: more cases exist or the solver gave up)\n");
        }
        s
    }
}
