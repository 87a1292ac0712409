//! `redundant` because of later rules or the default (P0303): removing the
//! rule changes no packet's verdict. Only the packets that reach the rule
//! (`R_i = M_i ∧ ⋀_{j<i} ¬M_j`) can change; without the rule they get the
//! verdict of the first later rule that matches them, or the default.
//!
//! Cheap exact cases: every later overlapping rule and the default share
//! the rule's verdict (redundant); none of them does (not redundant).
//! Otherwise `SAT(R_i ∧ ¬chain_L(v = v_i, default = v_i))`.

use super::{unknown, MAX_RELATED};
use crate::analysis::PolicyCtx;
use crate::boxes::{Budget, Region};
use crate::smt::Outcome;
use pol_lang::ast::Verdict;
use pol_lang::diag::{codes, Diagnostic};
use pol_lang::span::SourceMap;
use z3::ast::Bool;

pub fn check_later(
    ctx: &PolicyCtx,
    sources: &SourceMap,
    i: usize,
    earlier: &[usize],
    later: &[usize],
    reach: Option<&Region>,
    out: &mut Vec<Diagnostic>,
) {
    let v = ctx.verdict(i);
    let default_same = ctx.policy.default == v;
    let same_later: Vec<usize> = later
        .iter()
        .copied()
        .filter(|&j| ctx.verdict(j) == v)
        .collect();
    let redundant = if default_same && same_later.len() == later.len() {
        true
    } else if !default_same && same_later.is_empty() {
        false
    } else if let Some(r) = reach.and_then(|r| later_boxes(ctx, v, r, later, default_same)) {
        r
    } else {
        let mi = ctx.rule(i);
        let negs: Vec<Bool> = earlier.iter().map(|&j| ctx.rule(j).not()).collect();
        let changed = ctx.chain(later, |w| w == v, default_same).not();
        let mut q: Vec<&Bool> = vec![&mi, &changed];
        q.extend(negs.iter());
        match ctx.smt.check("redundant later", &q) {
            Outcome::Unsat => true,
            Outcome::Sat(_) => false,
            Outcome::Unknown(r) => {
                out.push(unknown(
                    ctx,
                    sources,
                    i,
                    "whether removing the rule changes a verdict",
                    &r,
                ));
                return;
            }
        }
    };
    if !redundant {
        return;
    }
    let rule = &ctx.policy.rules[i];
    let mut d = Diagnostic::new(
        codes::REDUNDANT_LATER,
        rule.span,
        format!(
            "rule is redundant: without it, later rules or the default give its packets `{}` too",
            v.as_str()
        ),
    )
    .with_label("removing this rule changes no verdict")
    .with_policy(&ctx.policy.name)
    .with_help("remove the rule");
    for &j in same_later.iter().take(MAX_RELATED) {
        d = d.with_related(
            ctx.policy.rules[j].span,
            format!("also gives `{}`", v.as_str()),
        );
    }
    if default_same {
        d = d.with_related(
            ctx.policy.default_span,
            format!("the default is `{}`", v.as_str()),
        );
    }
    out.push(d);
}

/// The first-match walk on boxes over the packets that reach the rule
/// (`reach`): redundant iff every later rule that would get some of them
/// gives `v`, and whatever no later rule matches goes to a default of `v`.
/// `None` when over budget.
fn later_boxes(
    ctx: &PolicyCtx,
    v: Verdict,
    reach: &Region,
    later: &[usize],
    default_same: bool,
) -> Option<bool> {
    let mut rem = reach.clone();
    let mut budget = Budget::new();
    for &j in later {
        if rem.is_empty() {
            break;
        }
        let rj = &ctx.regions[j];
        if !rem.overlaps(rj) {
            continue;
        }
        if ctx.verdict(j) != v {
            return Some(false);
        }
        rem.subtract(rj, &mut budget)?;
    }
    Some(default_same || rem.is_empty())
}
