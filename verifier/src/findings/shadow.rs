//! `shadowed` (P0301) and `redundant` because of earlier rules (P0302).
//!
//! A rule is unreachable when every packet it matches is matched by earlier
//! rules — possibly only by several of them *together* (what pairwise
//! tools miss). Then it is `shadowed` when some of those packets get
//! another verdict, else `redundant`.
//!
//! First, exact and without the solver: the cell walk of `super::fate`
//! yields the deciding rules with a packet each ([`report_unreachable`]).
//! Only over the walk's budget, the solver path below ([`check_smt`]).
//!
//! Solver path — cheap exact cases first: no earlier rule overlaps (reachable); one
//! earlier rule contains it (unreachable); all overlapping earlier rules
//! share its verdict (redundant); the first overlapping rule has another
//! verdict (shadowed — those packets reach nothing before it). Otherwise:
//! `SAT(M_i ∧ ⋀_{j∈E} ¬M_j)` for reachability and
//! `SAT(M_i ∧ ¬chain_E(v = v_i))` for "another verdict".

use super::fate::Fate;
use super::{rule_text, unknown, Status, MAX_RELATED};
use crate::analysis::PolicyCtx;
use crate::smt::Outcome;
use crate::witness;
use pol_lang::diag::{codes, Diagnostic};
use pol_lang::ir::Packet;
use pol_lang::span::SourceMap;
use z3::ast::Bool;

/// Reports unreachable rule `i` from its exact fate (`super::fate`): the
/// deciding earlier rules, each with a packet it decides.
pub fn report_unreachable(
    ctx: &PolicyCtx,
    sources: &SourceMap,
    i: usize,
    earlier: &[usize],
    fate: Fate,
    out: &mut Vec<Diagnostic>,
) {
    let v = ctx.verdict(i);
    let deciders: Vec<(usize, Option<Packet>)> = fate.deciders.into_iter().collect();
    let other = if fate.shadowed {
        deciders
            .iter()
            .find(|(j, _)| ctx.verdict(*j) != v)
            .and_then(|(_, p)| p.clone())
    } else {
        None
    };
    let listing = if fate.complete {
        Listing::All
    } else {
        Listing::First
    };
    report(
        ctx,
        sources,
        i,
        earlier,
        &deciders,
        listing,
        fate.shadowed,
        other,
        out,
    );
}

/// How the deciding rules of a diagnostic were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    /// All of them.
    All,
    /// A set of earlier rules that cover the rule together (unsat core).
    Core,
    /// The first ones; the listing stopped at its budget.
    First,
}

/// The solver path, when the cell walk is over budget: whether rule `i`
/// is reachable, reporting it when not.
pub fn check_smt(
    ctx: &PolicyCtx,
    sources: &SourceMap,
    i: usize,
    earlier: &[usize],
    out: &mut Vec<Diagnostic>,
) -> Status {
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
                out.push(unknown(
                    ctx,
                    sources,
                    i,
                    "whether any packet reaches the rule",
                    &r,
                ));
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
            out.push(unknown(
                ctx,
                sources,
                i,
                "which earlier rules decide the rule's packets",
                &r,
            ));
            return Status::Unknown;
        }
    };
    let mut other: Option<Packet> = None;
    let differing = if complete {
        deciders.iter().find(|(j, _)| ctx.verdict(*j) != v)
    } else {
        None
    };
    if let Some((j, p)) = differing {
        other = match p {
            Some(p) => Some(p.clone()),
            // Decided without a query: find a packet it decides.
            None => {
                let mut q = vec![ctx.rule(i), ctx.rule(*j)];
                q.extend(
                    earlier
                        .iter()
                        .filter(|&&k| k < *j)
                        .map(|&k| ctx.rule(k).not()),
                );
                match ctx
                    .smt
                    .check("another verdict", &q.iter().collect::<Vec<_>>())
                {
                    Outcome::Sat(p) => Some(p),
                    _ => None,
                }
            }
        };
    } else if !complete && earlier.iter().any(|&j| ctx.verdict(j) != v) {
        let mi = ctx.rule(i);
        let q = ctx.chain(earlier, |w| w == v, true).not();
        match ctx.smt.check("another verdict", &[&mi, &q]) {
            Outcome::Sat(p) => other = Some(p),
            Outcome::Unsat => {}
            Outcome::Unknown(r) => {
                out.push(unknown(
                    ctx,
                    sources,
                    i,
                    "whether earlier rules give the rule's packets another verdict",
                    &r,
                ));
                return Status::Unknown;
            }
        }
    }
    let shadowed = differing.is_some() || other.is_some();
    let listing = if complete {
        Listing::All
    } else {
        Listing::Core
    };
    report(
        ctx, sources, i, earlier, &deciders, listing, shadowed, other, out,
    );
    Status::Unreachable
}

/// The `shadowed` (when some packet of `i` gets another verdict from an
/// earlier rule; `other`: such a packet) or `redundant` diagnostic of
/// unreachable rule `i`.
#[allow(clippy::too_many_arguments)]
fn report(
    ctx: &PolicyCtx,
    sources: &SourceMap,
    i: usize,
    earlier: &[usize],
    deciders: &[(usize, Option<Packet>)],
    listing: Listing,
    shadowed: bool,
    other: Option<Packet>,
    out: &mut Vec<Diagnostic>,
) {
    let v = ctx.verdict(i);
    let rule = &ctx.policy.rules[i];
    let mut d = match shadowed {
        true => Diagnostic::new(
            codes::SHADOWED,
            rule.span,
            "rule never matches: every packet it matches is decided earlier",
        )
        .with_label("no packet reaches this rule; some of its packets get another verdict")
        .with_help("move the rule above the rules that decide its packets, or remove it"),
        false => Diagnostic::new(
            codes::REDUNDANT_EARLIER,
            rule.span,
            format!(
                "rule is redundant: earlier rules already give all its packets `{}`",
                v.as_str()
            ),
        )
        .with_label("no packet reaches this rule")
        .with_help("remove the rule"),
    }
    .with_policy(&ctx.policy.name);
    if listing == Listing::First {
        d = d.with_note(format!(
            "covered by earlier rules together; the listing stopped after {} of them",
            deciders.len()
        ));
    } else if deciders.len() > 1 {
        d = d.with_note(format!(
            "covered by {} earlier rules together",
            deciders.len()
        ));
    }
    for (j, _) in deciders.iter().take(MAX_RELATED) {
        d = d.with_related(
            ctx.policy.rules[*j].span,
            format!("decided here (`{}`)", ctx.verdict(*j).as_str()),
        );
    }
    if deciders.len() > MAX_RELATED {
        let at_least = if listing == Listing::First {
            "at least "
        } else {
            ""
        };
        d = d.with_note(format!(
            "and {at_least}{} more earlier rules",
            deciders.len() - MAX_RELATED
        ));
    }
    if listing == Listing::Core {
        d = d.with_note("the rules listed cover it together; other earlier rules may decide some of its packets first");
    }
    if let Some(p) = other {
        // A readable packet decided by the same earlier rule (the rules
        // before it in `earlier` are the only ones that could take it).
        let first = |q: &Packet| {
            earlier
                .iter()
                .copied()
                .find(|&j| ctx.policy.rules[j].matches.matches(ctx.program, q))
        };
        let by0 = first(&p);
        let named: Vec<&pol_lang::ir::Match> = std::iter::once(i)
            .chain(by0)
            .map(|j| &ctx.policy.rules[j].matches)
            .collect();
        let p = witness::tidy(&p, &named, &|q| {
            rule.matches.matches(ctx.program, q) && first(q) == by0
        });
        let prefer = rule.matches.groups.clone().unwrap_or_default();
        // Only earlier rules overlapping `i` can match a packet of `i` before it.
        let (by, got, w) = witness::evaluate_among(ctx.program, ctx.policy, earlier, &p, &prefer);
        // Re-check: the packet matches the rule and an earlier rule gives it another verdict.
        if rule.matches.matches(ctx.program, &p) && by.is_some_and(|b| b < i) && got != v {
            d = d.with_witness(w);
        } else {
            d = d.with_note(format!(
                "internal: witness for `{}` failed its re-check",
                rule_text(sources, rule.span)
            ));
        }
    }
    out.push(d);
}

/// Deciding rules, each with a packet it decides when one was computed,
/// and whether the list is complete.
type Deciders = (Vec<(usize, Option<Packet>)>, bool);

/// Most solver queries spent on finding the deciding rules of one rule.
pub const MAX_DECIDER_QUERIES: usize = 8;

/// The earlier rules that decide some packet of (unreachable) rule `i`, in
/// order, each with a packet it decides when one was computed, and whether
/// the list is complete.
///
/// Only rules up to the first earlier rule that contains `i` can decide.
/// Rule `j` decides some packet of `i` iff `X = M_i ∩ M_j` is not covered
/// by the candidates before it. Cheap exact cases on summaries: one earlier
/// candidate contains `X` (not a decider); none overlaps `X` (a decider).
/// Otherwise `SAT(M_i ∧ M_j ∧ ⋀ ¬M_k)` over the earlier candidates that
/// overlap `X`.
fn deciding_rules(ctx: &PolicyCtx, i: usize, earlier: &[usize]) -> Result<Deciders, String> {
    let me = &ctx.summaries[i];
    let upto = earlier
        .iter()
        .position(|&j| me.is_subset(&ctx.summaries[j]))
        .map_or(earlier.len(), |k| k + 1);
    let cand = &earlier[..upto];
    if cand.len() == 1 {
        return Ok((vec![(cand[0], None)], true));
    }
    let mi = ctx.rule(i);
    let mut found = Vec::new();
    let mut queries = 0;
    for (k, &j) in cand.iter().enumerate() {
        let before = &cand[..k];
        let x = me.intersect(&ctx.summaries[j]);
        let overl: Vec<usize> = match &x {
            Some(x) => {
                if x.is_empty() || before.iter().any(|&b| x.is_subset(&ctx.summaries[b])) {
                    continue;
                }
                before
                    .iter()
                    .copied()
                    .filter(|&b| ctx.summaries[b].overlaps(x))
                    .collect()
            }
            None => before.to_vec(),
        };
        if overl.is_empty() {
            found.push((j, None));
            continue;
        }
        if queries >= MAX_DECIDER_QUERIES {
            return covering_core(ctx, i, cand);
        }
        queries += 1;
        let mj = ctx.rule(j);
        let negs: Vec<Bool> = overl.iter().map(|&b| ctx.rule(b).not()).collect();
        let mut q: Vec<&Bool> = vec![&mi, &mj];
        q.extend(negs.iter());
        match ctx.smt.check("deciding rules", &q) {
            Outcome::Sat(p) => found.push((j, Some(p))),
            Outcome::Unsat => {}
            Outcome::Unknown(r) => return Err(r),
        }
    }
    Ok((found, true))
}

/// Too many candidates to decide one by one: one query for a set of
/// earlier rules that together cover rule `i` (an unsat core of
/// `M_i ∧ ⋀ ¬M_k`). Reported as incomplete: those rules cover the rule,
/// other rules may decide some of its packets first.
fn covering_core(ctx: &PolicyCtx, i: usize, cand: &[usize]) -> Result<Deciders, String> {
    let mi = ctx.rule(i);
    let negs: Vec<Bool> = cand.iter().map(|&k| ctx.rule(k).not()).collect();
    match ctx.smt.check_core("covering rules", &[&mi], &negs) {
        (Outcome::Unsat, core) => Ok((core.into_iter().map(|k| (cand[k], None)).collect(), false)),
        (Outcome::Unknown(r), _) => Err(r),
        (Outcome::Sat(_), _) => {
            Err("the rule is reachable after all (model and summaries disagree)".into())
        }
    }
}
