//! The findings of LANGUAGE.md §9 for one policy, rule by rule, in order.
//!
//! Precedence for one rule (each rule gets at most one of the first four):
//! 1. `empty-match` — nothing else is reported for an empty rule;
//! 2. `shadowed` — unreachable, and some of its packets get another verdict;
//! 3. `redundant` (earlier) — unreachable, all its packets get its verdict;
//! 4. `redundant` (later) — reachable, but removing it changes no verdict;
//!
//! `conflict` and `generalization` are reported for every reachable rule
//! (also one that is redundant-later), one diagnostic each listing all the
//! earlier rules involved. An undecided query reports `unknown` for the rule
//! and skips the checks that depend on the answer.

pub mod conflict;
pub mod empty;
pub mod redundant;
pub mod shadow;
pub mod tunnel;

use crate::analysis::PolicyCtx;
use pol_lang::diag::{codes, Diagnostic};
use pol_lang::span::{SourceMap, Span};

/// What the reachability analysis found for a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Empty,
    /// No packet reaches it (shadowed or redundant-earlier).
    Unreachable,
    Reachable,
    /// The solver gave up.
    Unknown,
}

/// Most related locations one diagnostic lists.
pub const MAX_RELATED: usize = 16;

/// The first line of a rule's source text, for messages.
pub fn rule_text(sources: &SourceMap, span: Span) -> String {
    let s = sources.snippet(span);
    let line = s.lines().next().unwrap_or("").trim();
    if line.chars().count() > 80 {
        let cut: String = line.chars().take(77).collect();
        format!("{cut}...")
    } else {
        line.to_string()
    }
}

/// `unknown` for a rule: the solver could not decide `what`.
pub fn unknown(
    ctx: &PolicyCtx,
    sources: &SourceMap,
    i: usize,
    what: &str,
    reason: &str,
) -> Diagnostic {
    let span = ctx.policy.rules[i].span;
    Diagnostic::new(
        codes::SOLVER_UNKNOWN,
        span,
        format!(
            "the solver could not decide {what} for `{}`",
            rule_text(sources, span)
        ),
    )
    .with_label(format!("undecided: {reason}"))
    .with_policy(&ctx.policy.name)
    .with_help("raise the limit with `--solver-timeout-ms`, or split the rule")
}

/// Every finding for one policy.
pub fn check_policy(ctx: &PolicyCtx, sources: &SourceMap, out: &mut Vec<Diagnostic>) {
    let n = ctx.policy.rules.len();
    let mut status = vec![Status::Reachable; n];
    for i in 0..n {
        if empty::check(ctx, i, out) {
            status[i] = Status::Empty;
            continue;
        }
        let over = ctx.overlapping(&ctx.summaries[i]);
        let earlier: Vec<usize> = over.iter().copied().filter(|&j| j < i).collect();
        let later: Vec<usize> = over.iter().copied().filter(|&j| j > i).collect();
        let (st, reach) = shadow::check(ctx, sources, i, &earlier, out);
        status[i] = st;
        if status[i] != Status::Reachable {
            continue;
        }
        redundant::check_later(ctx, sources, i, &earlier, &later, reach.as_ref(), out);
        conflict::check(ctx, sources, i, &earlier, &over, &status, out);
    }
    tunnel::check_via(ctx, sources, out);
    tunnel::check_ike(ctx, sources, out);
}
