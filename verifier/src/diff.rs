//! `polc diff`: the packets whose verdict changes between two versions of
//! a policy.
//!
//! Both programs are encoded over one packet (their cgroup paths are
//! numbered together). A region is a pair (old deciding rule, new deciding
//! rule) with different verdicts that some packet falls into; regions are
//! enumerated with `vold ≠ vnew ∧ ¬(idx_old = a ∧ idx_new = b)` for the
//! regions found so far, so each region is listed once with a witness.

use crate::analysis::PolicyCtx;
use crate::classes::AddrClasses;
use crate::findings::rule_text;
use crate::model::CgroupIndex;
use crate::smt::{Outcome, Smt};
use crate::{witness, Options};
use pol_lang::diag::Witness;
use pol_lang::ir::{Match, Packet, Policy, Program};
use pol_lang::span::SourceMap;
use serde::Serialize;
use z3::ast::{Bool, BV};

/// One side of a region: the deciding rule (or default).
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub verdict: String,
    pub file: String,
    pub line: usize,
    /// Rule index; `None` for the default.
    pub rule: Option<usize>,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiffRegion {
    pub policy: String,
    pub old: Side,
    pub new: Side,
    /// A packet of the region (groups named as in the new program where possible).
    pub witness: Witness,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DiffReport {
    pub regions: Vec<DiffRegion>,
    /// Policies only in the old / new program (every packet may change).
    pub removed: Vec<String>,
    pub added: Vec<String>,
    /// Policies whose list was cut short (limit) or undecided, with the reason.
    pub incomplete: Vec<String>,
}

impl DiffReport {
    pub fn changed(&self) -> bool {
        !self.regions.is_empty() || !self.removed.is_empty() || !self.added.is_empty()
    }

    /// Nothing found changed, but not every policy was decided (the
    /// solver gave up, or a witness failed its re-check): "no change" is
    /// not proved, and must not be said.
    pub fn undecided(&self) -> bool {
        !self.changed() && !self.incomplete.is_empty()
    }

    pub fn human(&self) -> String {
        let mut s = String::new();
        for r in &self.regions {
            s.push_str(&format!(
                "policy `{}`: {} -> {}\n  old: {}:{}: {}\n  new: {}:{}: {}\n  for example: {}\n",
                r.policy,
                r.old.verdict,
                r.new.verdict,
                r.old.file,
                r.old.line,
                r.old.text,
                r.new.file,
                r.new.line,
                r.new.text,
                pol_lang::diag::render::witness_text(&r.witness)
            ));
        }
        for p in &self.removed {
            s.push_str(&format!("policy `{p}` removed\n"));
        }
        for p in &self.added {
            s.push_str(&format!("policy `{p}` added\n"));
        }
        for p in &self.incomplete {
            s.push_str(&format!("incomplete: {p}\n"));
        }
        if self.undecided() {
            s.push_str(
                "undecided: no changed packet was found, but the search was incomplete (above)\n",
            );
        } else if !self.changed() {
            s.push_str("no packet changes its verdict\n");
        }
        s
    }
}

fn side(
    policy: &Policy,
    sources: &SourceMap,
    by: Option<usize>,
    v: pol_lang::ast::Verdict,
) -> Side {
    let (span, text) = match by {
        Some(r) => (
            policy.rules[r].span,
            rule_text(sources, policy.rules[r].span),
        ),
        None => (policy.default_span, format!("default {}", v.as_str())),
    };
    Side {
        verdict: v.as_str().to_string(),
        file: sources.name(span.file).to_string(),
        line: sources.start_line_col(span).0,
        rule: by,
        text,
    }
}

/// Diff the policies named in `policies` (all names when empty).
pub fn diff(
    old: (&Program, &SourceMap),
    new: (&Program, &SourceMap),
    policies: &[String],
    opts: &Options,
) -> DiffReport {
    let mut report = DiffReport::default();
    let wanted = |n: &str| policies.is_empty() || policies.iter().any(|p| p == n);
    for p in old.0.policies.iter().filter(|p| wanted(&p.name)) {
        if new.0.policy_by_name(&p.name).is_none() {
            report.removed.push(p.name.clone());
        }
    }
    // Large address sets: encode both programs over their address classes
    // (exact; see `classes`), and map each witness back.
    let compressed = AddrClasses::wanted(opts.address_classes, &[old.0, new.0], &[])
        .and_then(|mut c| Some((c.program(old.0)?, c.program(new.0)?, c)));
    for p in new.0.policies.iter().filter(|p| wanted(&p.name)) {
        let Some(po) = old.0.policy_by_name(&p.name) else {
            report.added.push(p.name.clone());
            continue;
        };
        // What the solver sees: the compressed policies (same names, same
        // rule order), or the originals.
        let (eo, epo, en, epn, classes) = match &compressed {
            Some((a, b, c)) => match (a.policy_by_name(&p.name), b.policy_by_name(&p.name)) {
                (Some(x), Some(y)) => (a, x, b, y, Some(c)),
                _ => (old.0, po, new.0, p, None),
            },
            None => (old.0, po, new.0, p, None),
        };
        let smt = Smt::new(CgroupIndex::new([old.0, new.0]), opts);
        let co = PolicyCtx::new(eo, epo, &smt);
        let cn = PolicyCtx::new(en, epn, &smt);
        let all_o: Vec<usize> = (0..po.rules.len()).collect();
        let all_n: Vec<usize> = (0..p.rules.len()).collect();
        let changed = co.verdict_chain(&all_o).eq(cn.verdict_chain(&all_n)).not();
        let (io, inn) = (co.index_chain(&all_o), cn.index_chain(&all_n));
        let mut blocks: Vec<Bool> = Vec::new();
        loop {
            if blocks.len() >= opts.max_diff_regions {
                report.incomplete.push(format!(
                    "policy `{}`: more than {} regions",
                    p.name, opts.max_diff_regions
                ));
                break;
            }
            let mut q: Vec<&Bool> = vec![&changed];
            q.extend(blocks.iter());
            let pk: Packet = match smt.check("diff", &q) {
                // A compressed address stands for its class: take one of
                // the class's addresses; the re-check below is on the
                // original programs.
                Outcome::Sat(pk) => match classes {
                    Some(c) => c.expand_packet(pk),
                    None => pk,
                },
                Outcome::Unsat => break,
                Outcome::Unknown(r) => {
                    report
                        .incomplete
                        .push(format!("policy `{}`: solver gave up ({r})", p.name));
                    break;
                }
            };
            let (bo, vo) = po.evaluate(old.0, &pk);
            let (bn, vn) = p.evaluate(new.0, &pk);
            let (ao, an) = (bo.unwrap_or(po.rules.len()), bn.unwrap_or(p.rules.len()));
            blocks.push(
                Bool::and(&[
                    io.eq(BV::from_u64(ao as u64, 32)),
                    inn.eq(BV::from_u64(an as u64, 32)),
                ])
                .not(),
            );
            if vo == vn {
                // The re-check disagrees with the model: never show it.
                report.incomplete.push(format!(
                    "policy `{}`: a witness failed its re-check",
                    p.name
                ));
                continue;
            }
            // The solver's values are arbitrary (`ff77:ffff:…`); show a
            // readable packet of the same region.
            let named: Vec<&Match> = po
                .rules
                .iter()
                .chain(&p.rules)
                .map(|r| &r.matches)
                .collect();
            let pk = witness::tidy(&pk, &named, &|q| {
                po.evaluate(old.0, q).0 == bo && p.evaluate(new.0, q).0 == bn
            });
            let mut w = witness::make(new.0, &pk, vn, &[]);
            if w.group.is_none() {
                w.group = witness::group_of(old.0, &pk, &[]);
            }
            report.regions.push(DiffRegion {
                policy: p.name.clone(),
                old: side(po, old.1, bo, vo),
                new: side(p, new.1, bn, vn),
                witness: w,
            });
        }
    }
    report
}
