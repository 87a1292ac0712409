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
use crate::boxes::Region;
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
    } else if (!default_same && same_later.is_empty())
        || changed_probe(ctx, i, earlier, later, default_same)
    {
        false
    } else if let Some(r) = reach
        .cloned()
        .or_else(|| reach_region(ctx, i, earlier))
        .and_then(|r| later_boxes(ctx, v, &r, later, default_same))
    {
        r
    } else {
        ctx.smt.count("boxes over budget: later", 1);
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
    let mut budget = ctx.smt.budget;
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

/// Most later rules of another verdict [`changed_probe`] tries.
const MAX_PROBES: usize = 8;

/// Heuristic search for a packet whose verdict changes without the rule:
/// it matches `i` and no earlier rule, and either the default (when not
/// `v`) or a later rule `j` of another verdict gets it, no later rule of
/// verdict `v` before `j` matching it. `true` is exact; `false` proves
/// nothing.
fn changed_probe(
    ctx: &PolicyCtx,
    i: usize,
    earlier: &[usize],
    later: &[usize],
    default_same: bool,
) -> bool {
    let v = ctx.verdict(i);
    let cg = &ctx.smt.cgroups;
    let mut avoid: Vec<&Region> = earlier.iter().map(|&j| &ctx.regions[j]).collect();
    let base = avoid.len();
    if !default_same {
        avoid.extend(
            later
                .iter()
                .filter(|&&j| ctx.verdict(j) == v)
                .map(|&j| &ctx.regions[j]),
        );
        if ctx.regions[i].probe(&avoid, cg).is_some() {
            return true;
        }
        avoid.truncate(base);
    }
    let mut probes = 0;
    for &j in later {
        if ctx.verdict(j) == v {
            avoid.push(&ctx.regions[j]);
            continue;
        }
        if probes >= MAX_PROBES {
            break;
        }
        probes += 1;
        let dom = ctx.regions[i].intersect(&ctx.regions[j]);
        if dom.probe(&avoid, cg).is_some() {
            return true;
        }
    }
    false
}

/// The packets that reach rule `i` (`M_i` minus the earlier rules), within
/// budget.
fn reach_region(ctx: &PolicyCtx, i: usize, earlier: &[usize]) -> Option<Region> {
    let mut rem = ctx.regions[i].clone();
    let mut budget = ctx.smt.budget;
    for &j in earlier {
        if rem.is_empty() {
            break;
        }
        rem.subtract(&ctx.regions[j], &mut budget)?;
    }
    Some(rem)
}
