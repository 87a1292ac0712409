//! `redundant` because of later rules or the default (P0303): removing the
//! rule changes no packet's verdict. Only the packets that reach the rule
//! (`R_i = M_i ∧ ⋀_{j<i} ¬M_j`) can change; without the rule they get the
//! verdict of the first later rule that matches them, or the default.
//!
//! Cheap exact cases ([`trivially`]): every later overlapping rule and the
//! default share the rule's verdict (redundant); none of them does (not
//! redundant). Then a probe for a packet whose verdict changes
//! ([`changed_probe`]), then the exact cell walk (`super::fate`), and only
//! over its budget `SAT(R_i ∧ ¬chain_L(v = v_i, default = v_i))`
//! ([`later_smt`]).

use super::{unknown, MAX_RELATED};
use crate::analysis::PolicyCtx;
use crate::boxes::Region;
use crate::smt::Outcome;
use pol_lang::diag::{codes, Diagnostic};
use pol_lang::span::SourceMap;
use z3::ast::Bool;

/// Settled without a walk: `Some(true)` when every later overlapping rule
/// and the default give the rule's verdict (redundant if reachable),
/// `Some(false)` when none of them does (never redundant).
pub fn trivially(ctx: &PolicyCtx, i: usize, later: &[usize]) -> Option<bool> {
    let v = ctx.verdict(i);
    let default_same = ctx.policy.default == v;
    let same = later.iter().filter(|&&j| ctx.verdict(j) == v).count();
    if default_same && same == later.len() {
        Some(true)
    } else if !default_same && same == 0 {
        Some(false)
    } else {
        None
    }
}

/// The solver path, when the cell walk is over budget:
/// `SAT(M_i ∧ ⋀_{j<i} ¬M_j ∧ ¬chain_L(v = v_i, default = v_i))`.
/// `None` (and an `unknown` reported) when undecided.
pub fn later_smt(
    ctx: &PolicyCtx,
    sources: &SourceMap,
    i: usize,
    earlier: &[usize],
    later: &[usize],
    out: &mut Vec<Diagnostic>,
) -> Option<bool> {
    let v = ctx.verdict(i);
    let default_same = ctx.policy.default == v;
    let mi = ctx.rule(i);
    let negs: Vec<Bool> = earlier.iter().map(|&j| ctx.rule(j).not()).collect();
    let changed = ctx.chain(later, |w| w == v, default_same).not();
    let mut q: Vec<&Bool> = vec![&mi, &changed];
    q.extend(negs.iter());
    match ctx.smt.check("redundant later", &q) {
        Outcome::Unsat => Some(true),
        Outcome::Sat(_) => Some(false),
        Outcome::Unknown(r) => {
            out.push(unknown(
                ctx,
                sources,
                i,
                "whether removing the rule changes a verdict",
                &r,
            ));
            None
        }
    }
}

/// The `redundant` (later) diagnostic of reachable rule `i`.
pub fn report(ctx: &PolicyCtx, i: usize, later: &[usize], out: &mut Vec<Diagnostic>) {
    let v = ctx.verdict(i);
    let default_same = ctx.policy.default == v;
    let same_later: Vec<usize> = later
        .iter()
        .copied()
        .filter(|&j| ctx.verdict(j) == v)
        .collect();
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

/// Most later rules of another verdict [`changed_probe`] tries.
const MAX_PROBES: usize = 8;

/// Heuristic search for a packet whose verdict changes without the rule:
/// it matches `i` and no earlier rule, and either the default (when not
/// `v`) or a later rule `j` of another verdict gets it, no later rule of
/// verdict `v` before `j` matching it. `true` is exact; `false` proves
/// nothing.
pub fn changed_probe(
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
