//! `shadowed` (P0301) and `redundant` because of earlier rules (P0302).
//!
//! A rule is unreachable when every packet it matches is matched by earlier
//! rules — possibly only by several of them *together* (what pairwise
//! tools miss). Then it is `shadowed` when some of those packets get
//! another verdict, else `redundant`.
//!
//! Cheap exact cases first: no earlier rule overlaps (reachable); one
//! earlier rule contains it (unreachable); all overlapping earlier rules
//! share its verdict (redundant); the first overlapping rule has another
//! verdict (shadowed — those packets reach nothing before it). Otherwise:
//! `SAT(M_i ∧ ⋀_{j∈E} ¬M_j)` for reachability and
//! `SAT(M_i ∧ ¬chain_E(v = v_i))` for "another verdict".

use super::{rule_text, unknown, Status, MAX_RELATED};
use crate::analysis::PolicyCtx;
use crate::smt::Outcome;
use crate::witness;
use pol_lang::diag::{codes, Diagnostic};
use pol_lang::ir::Packet;
use pol_lang::span::SourceMap;
use z3::ast::Bool;

pub fn check(ctx: &PolicyCtx, sources: &SourceMap, i: usize, earlier: &[usize], out: &mut Vec<Diagnostic>) -> Status {
    if earlier.is_empty() {
        return Status::Reachable;
    }
    let me = &ctx.summaries[i];
    let contained = earlier.iter().any(|&j| me.is_subset(&ctx.summaries[j]));
    if !contained {
        let mi = ctx.rule(i);
        let negs: Vec<Bool> = earlier.iter().map(|&j| ctx.rule(j).not()).collect();
        let mut q: Vec<&Bool> = vec![&mi];
        q.extend(negs.iter());
        match ctx.smt.check("reachable", &q) {
            Outcome::Sat(_) => return Status::Reachable,
            Outcome::Unsat => {}
            Outcome::Unknown(r) => {
                out.push(unknown(ctx, sources, i, "whether any packet reaches the rule", &r));
                return Status::Unknown;
            }
        }
    }
    // Unreachable: which earlier rules decide its packets, and does some
    // packet get another verdict?
    let v = ctx.verdict(i);
    let (deciders, complete) = match deciding_rules(ctx, i, earlier) {
        Ok(x) => x,
        Err(r) => {
            out.push(unknown(ctx, sources, i, "which earlier rules decide the rule's packets", &r));
            return Status::Unknown;
        }
    };
    let mut other: Option<Packet> = None;
    if let Some((j, p)) = deciders.iter().find(|(j, _)| ctx.verdict(*j) != v) {
        other = match p {
            Some(p) => Some(p.clone()),
            // The only decider: any packet of the rule shows it.
            None => match ctx.smt.check("another verdict", &[&ctx.rule(i), &ctx.rule(*j)]) {
                Outcome::Sat(p) => Some(p),
                _ => None,
            },
        };
    } else if !complete && earlier.iter().any(|&j| ctx.verdict(j) != v) {
        let mi = ctx.rule(i);
        let q = ctx.chain(earlier, |w| w == v, true).not();
        match ctx.smt.check("another verdict", &[&mi, &q]) {
            Outcome::Sat(p) => other = Some(p),
            Outcome::Unsat => {}
            Outcome::Unknown(r) => {
                out.push(unknown(ctx, sources, i, "whether earlier rules give the rule's packets another verdict", &r));
                return Status::Unknown;
            }
        }
    }
    let rule = &ctx.policy.rules[i];
    let mut d = match &other {
        Some(_) => Diagnostic::new(
            codes::SHADOWED,
            rule.span,
            "rule never matches: every packet it matches is decided earlier",
        )
        .with_label("no packet reaches this rule; some of its packets get another verdict")
        .with_help("move the rule above the rules that decide its packets, or remove it"),
        None => Diagnostic::new(
            codes::REDUNDANT_EARLIER,
            rule.span,
            format!("rule is redundant: earlier rules already give all its packets `{}`", v.as_str()),
        )
        .with_label("no packet reaches this rule")
        .with_help("remove the rule"),
    }
    .with_policy(&ctx.policy.name);
    if deciders.len() > 1 {
        d = d.with_note(format!("covered by {} earlier rules together", deciders.len()));
    }
    for (j, _) in deciders.iter().take(MAX_RELATED) {
        d = d.with_related(ctx.policy.rules[*j].span, format!("decided here (`{}`)", ctx.verdict(*j).as_str()));
    }
    if deciders.len() > MAX_RELATED {
        d = d.with_note(format!("and {} more earlier rules", deciders.len() - MAX_RELATED));
    }
    if !complete {
        d = d.with_note(format!("the first {} deciding rules are listed", deciders.len()));
    }
    if let Some(p) = other {
        let prefer = rule.matches.groups.clone().unwrap_or_default();
        let (by, got, w) = witness::evaluate(ctx.program, ctx.policy, &p, &prefer);
        // Re-check: the packet matches the rule and an earlier rule gives it another verdict.
        if rule.matches.matches(ctx.program, &p) && by.is_some_and(|b| b < i) && got != v {
            d = d.with_witness(w);
        } else {
            d = d.with_note(format!("internal: witness for `{}` failed its re-check", rule_text(sources, rule.span)));
        }
    }
    out.push(d);
    Status::Unreachable
}

/// Most deciding rules enumerated for one unreachable rule.
pub const MAX_DECIDERS: usize = 32;

/// The earlier rules that decide some packet of (unreachable) rule `i`, in
/// order, each with a packet it decides (`None` when it is the only one and
/// contains the rule: no query needed), and whether the list is complete.
///
/// Rules after the first earlier rule that contains `i` cannot decide any
/// of its packets; when that is `earlier[0]` it alone decides. Otherwise
/// the deciders are enumerated with the first-match index chain:
/// `M_i ∧ idx ∉ {found}` until unsatisfiable (one query per decider).
fn deciding_rules(ctx: &PolicyCtx, i: usize, earlier: &[usize]) -> Result<(Vec<(usize, Option<Packet>)>, bool), String> {
    let me = &ctx.summaries[i];
    let upto = earlier.iter().position(|&j| me.is_subset(&ctx.summaries[j])).map_or(earlier.len(), |k| k + 1);
    let cand = &earlier[..upto];
    if cand.len() == 1 {
        return Ok((vec![(cand[0], None)], true));
    }
    let mi = ctx.rule(i);
    let idx = ctx.index_chain(cand);
    let mut blocks: Vec<Bool> = Vec::new();
    let mut found: Vec<(usize, Option<Packet>)> = Vec::new();
    while found.len() < MAX_DECIDERS {
        let mut q: Vec<&Bool> = vec![&mi];
        q.extend(blocks.iter());
        match ctx.smt.check("deciding rules", &q) {
            Outcome::Unsat => {
                found.sort_by_key(|(j, _)| *j);
                return Ok((found, true));
            }
            Outcome::Unknown(r) => return Err(r),
            Outcome::Sat(p) => {
                let (by, _) = ctx.policy.evaluate(ctx.program, &p);
                // INVARIANT: the rule is unreachable, so an earlier rule decides p.
                let Some(j) = by.filter(|j| *j < i) else {
                    return Err("a decoded packet reaches the rule (model and evaluator disagree)".into());
                };
                blocks.push(idx.eq(z3::ast::BV::from_u64(j as u64, 32)).not());
                found.push((j, Some(p)));
            }
        }
    }
    found.sort_by_key(|(j, _)| *j);
    Ok((found, false))
}
