//! `conflict` (P0304) and `generalization` (P0305), pairwise with earlier
//! rules of another verdict (the correlation and generalization anomalies
//! of Al-Shaer and Hamed). For a reachable rule `i` and an earlier rule `j`
//! that is itself reachable, has another verdict and overlaps `i`:
//! `M_j ⊆ M_i` is a generalization (an exception before a general rule),
//! otherwise a conflict (partial overlap; `M_i ⊆ M_j` cannot happen, `i`
//! would be unreachable). Both tests are exact on summaries; the solver
//! only supplies the conflict's witness packet from `M_i ∧ M_j`.

use super::{unknown, Status, MAX_RELATED};
use crate::analysis::PolicyCtx;
use crate::smt::Outcome;
use crate::witness;
use pol_lang::diag::{codes, Diagnostic};
use pol_lang::span::SourceMap;

pub fn check(
    ctx: &PolicyCtx,
    sources: &SourceMap,
    i: usize,
    earlier: &[usize],
    later: &[usize],
    status: &[Status],
    out: &mut Vec<Diagnostic>,
) {
    let v = ctx.verdict(i);
    let me = &ctx.summaries[i];
    let mut conflicts = Vec::new();
    let mut generalizes = Vec::new();
    for &j in earlier {
        if ctx.verdict(j) == v || !matches!(status[j], Status::Reachable | Status::Unknown) {
            continue;
        }
        if ctx.summaries[j].is_subset(me) {
            generalizes.push(j);
        } else {
            conflicts.push(j);
        }
    }
    let rule = &ctx.policy.rules[i];
    if let Some(&first) = conflicts.first() {
        let mut d = Diagnostic::new(
            codes::CONFLICT,
            rule.span,
            "rule partly overlaps an earlier rule with another verdict",
        )
        .with_label(format!("`{}` here", v.as_str()))
        .with_policy(&ctx.policy.name)
        .with_help("make the overlap explicit: narrow one of the rules, or order them on purpose");
        for &j in conflicts.iter().take(MAX_RELATED) {
            d = d.with_related(
                ctx.policy.rules[j].span,
                format!("overlaps here with `{}`", ctx.verdict(j).as_str()),
            );
        }
        if conflicts.len() > MAX_RELATED {
            d = d.with_note(format!(
                "and {} more earlier rules",
                conflicts.len() - MAX_RELATED
            ));
        }
        let boxed = ctx.regions[i]
            .common_packet(&ctx.regions[first], &ctx.smt.cgroups)
            .flatten();
        let found = match boxed {
            Some(p) => Outcome::Sat(p),
            None => ctx
                .smt
                .check("conflict witness", &[&ctx.rule(i), &ctx.rule(first)]),
        };
        match found {
            Outcome::Sat(p) => {
                let (mi, mj) = (&rule.matches, &ctx.policy.rules[first].matches);
                let p = witness::tidy(&p, &[mi, mj], &|q| {
                    mi.matches(ctx.program, q) && mj.matches(ctx.program, q)
                });
                let prefer = rule.matches.groups.clone().unwrap_or_default();
                // The rules that can match a packet of `i`: `i` and those overlapping it.
                let mut cand = earlier.to_vec();
                cand.push(i);
                cand.extend_from_slice(later);
                let (_, _, w) =
                    witness::evaluate_among(ctx.program, ctx.policy, &cand, &p, &prefer);
                let both = rule.matches.matches(ctx.program, &p)
                    && ctx.policy.rules[first].matches.matches(ctx.program, &p);
                if both {
                    d = d.with_witness(w);
                }
            }
            Outcome::Unsat => {}
            Outcome::Unknown(r) => {
                out.push(unknown(ctx, sources, i, "a packet both rules match", &r))
            }
        }
        out.push(d);
    }
    if !generalizes.is_empty() {
        let mut d = Diagnostic::new(
            codes::GENERALIZATION,
            rule.span,
            "rule generalizes an earlier rule with another verdict",
        )
        .with_label(format!("`{}` for everything else", v.as_str()))
        .with_policy(&ctx.policy.name);
        for &j in generalizes.iter().take(MAX_RELATED) {
            d = d.with_related(
                ctx.policy.rules[j].span,
                format!("exception here (`{}`)", ctx.verdict(j).as_str()),
            );
        }
        out.push(d);
    }
}
