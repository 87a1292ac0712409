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
        match ctx.smt.check(&q) {
            Outcome::Sat(_) => return Status::Reachable,
            Outcome::Unsat => {}
            Outcome::Unknown(r) => {
                out.push(unknown(ctx, sources, i, "whether any packet reaches the rule", &r));
                return Status::Unknown;
            }
        }
    }
    // Unreachable. Does some packet get another verdict?
    let v = ctx.verdict(i);
    let other: Option<Packet> = if earlier.iter().all(|&j| ctx.verdict(j) == v) {
        None
    } else {
        let mi = ctx.rule(i);
        let q = if ctx.verdict(earlier[0]) != v {
            // Packets of M_i ∩ M_first reach nothing before `first`.
            ctx.rule(earlier[0])
        } else {
            ctx.chain(earlier, |w| w == v, true).not()
        };
        match ctx.smt.check(&[&mi, &q]) {
            Outcome::Sat(p) => Some(p),
            Outcome::Unsat => None,
            Outcome::Unknown(r) => {
                out.push(unknown(ctx, sources, i, "whether earlier rules give the rule's packets another verdict", &r));
                return Status::Unknown;
            }
        }
    };
    let rule = &ctx.policy.rules[i];
    let deciders = deciding_rules(ctx, i, earlier);
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
    for &(j, exact) in deciders.iter().take(MAX_RELATED) {
        let msg = if exact { "decided here" } else { "overlaps here" };
        d = d.with_related(ctx.policy.rules[j].span, format!("{msg} (`{}`)", ctx.verdict(j).as_str()));
    }
    if deciders.len() > MAX_RELATED {
        d = d.with_note(format!("and {} more earlier rules", deciders.len() - MAX_RELATED));
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

/// The earlier rules that decide some packet of rule `i`, with `true` when
/// that was checked exactly (up to 32 queries; beyond, overlapping rules are
/// listed with `false`).
fn deciding_rules(ctx: &PolicyCtx, i: usize, earlier: &[usize]) -> Vec<(usize, bool)> {
    if earlier.len() == 1 {
        return vec![(earlier[0], true)];
    }
    if earlier.len() > 32 {
        return earlier.iter().map(|&j| (j, false)).collect();
    }
    let mi = ctx.rule(i);
    let mut out = Vec::new();
    let mut negs: Vec<Bool> = Vec::new();
    for (k, &j) in earlier.iter().enumerate() {
        let mj = ctx.rule(j);
        let decides = if k == 0 {
            true
        } else {
            let mut q: Vec<&Bool> = vec![&mi, &mj];
            q.extend(negs.iter());
            !matches!(ctx.smt.check(&q), Outcome::Unsat)
        };
        if decides {
            out.push((j, true));
        }
        negs.push(mj.not());
    }
    out
}
