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
pub mod fate;
pub mod redundant;
pub mod shadow;
pub mod tunnel;

use crate::analysis::PolicyCtx;
use crate::boxes::Region;
use crate::cells::OverBudget;
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
    let mut earlier_of: Vec<Vec<u32>> = vec![Vec::new(); n];
    // Benchmark statistics (`POL_VERIFIER_STATS`): the slowest rules.
    let timed = std::env::var_os("POL_VERIFIER_STATS").is_some();
    let mut slowest: Vec<(std::time::Duration, usize)> = Vec::new();
    for i in 0..n {
        let t0 = std::time::Instant::now();
        // Overlap is symmetric: each pair is found once, from its earlier rule.
        let later = ctx.overlapping_after(i);
        for &j in &later {
            earlier_of[j].push(u32::try_from(i).unwrap_or(u32::MAX));
        }
        let earlier: Vec<usize> = std::mem::take(&mut earlier_of[i])
            .into_iter()
            .map(|j| j as usize)
            .collect();
        check_rule(ctx, sources, i, &earlier, &later, &mut status, out);
        if timed {
            slowest.push((t0.elapsed(), i));
            if slowest.len() > 64 {
                slowest.sort_by(|a, b| b.cmp(a));
                slowest.truncate(5);
            }
        }
    }
    slowest.sort_by(|a, b| b.cmp(a));
    for (t, i) in slowest.into_iter().take(5) {
        eprintln!(
            "verifier: {:.3} s for `{}` ({})",
            t.as_secs_f64(),
            rule_text(sources, ctx.policy.rules[i].span),
            sources.file_line(ctx.policy.rules[i].span)
        );
    }
    tunnel::check_via(ctx, sources, out);
    tunnel::check_ike(ctx, sources, out);
}

/// The findings of rule `i`; sets `status[i]`.
fn check_rule(
    ctx: &PolicyCtx,
    sources: &SourceMap,
    i: usize,
    earlier: &[usize],
    later: &[usize],
    status: &mut [Status],
    out: &mut Vec<Diagnostic>,
) {
    if empty::check(ctx, i, out) {
        status[i] = Status::Empty;
        return;
    }
    let settled = redundant::trivially(ctx, i, later);
    let redundant_later = match reachability(ctx, sources, i, earlier, later, settled, out) {
        Reach::Unreachable => {
            status[i] = Status::Unreachable;
            return;
        }
        Reach::Unknown => {
            status[i] = Status::Unknown;
            return;
        }
        Reach::Reachable(r) => r,
    };
    status[i] = Status::Reachable;
    let redundant_later = match redundant_later {
        Some(r) => Some(r),
        None => redundant::later_smt(ctx, sources, i, earlier, later, out),
    };
    if redundant_later == Some(true) {
        redundant::report(ctx, i, later, out);
    }
    conflict::check(ctx, sources, i, earlier, later, status, out);
}

/// Whether a rule is reachable; when it is, whether it is redundant
/// because of later rules (`None`: not settled yet).
enum Reach {
    Unreachable,
    Unknown,
    Reachable(Option<bool>),
}

/// Reachability of rule `i` (reporting `shadowed` / `redundant` when it is
/// unreachable) and, for a reachable rule, the later question where that
/// comes cheaply. Probes first (exact when they find a packet), then the
/// exact cell walk, then — over its budget — the solver.
fn reachability(
    ctx: &PolicyCtx,
    sources: &SourceMap,
    i: usize,
    earlier: &[usize],
    later: &[usize],
    settled: Option<bool>,
    out: &mut Vec<Diagnostic>,
) -> Reach {
    let default_same = ctx.policy.default == ctx.verdict(i);
    let avoid: Vec<&Region> = earlier.iter().map(|&j| &ctx.regions[j]).collect();
    let probed = earlier.is_empty() || ctx.regions[i].probe(&avoid, &ctx.smt.cgroups).is_some();
    if probed {
        let answer = settled.or_else(|| {
            redundant::changed_probe(ctx, i, earlier, later, default_same).then_some(false)
        });
        if answer.is_some() {
            return Reach::Reachable(answer);
        }
    }
    match fate::fate(ctx, i, earlier, later, probed, settled.is_none()) {
        Ok(f) if f.reachable => Reach::Reachable(settled.or(match f.later {
            fate::Later::Redundant => Some(true),
            fate::Later::Changed => Some(false),
            fate::Later::NotAsked => None,
        })),
        Ok(f) => {
            shadow::report_unreachable(ctx, sources, i, earlier, f, out);
            Reach::Unreachable
        }
        Err(OverBudget) => {
            ctx.smt.count("cells over budget", 1);
            match shadow::check_smt(ctx, sources, i, earlier, out) {
                Status::Reachable => Reach::Reachable(settled),
                Status::Unknown => Reach::Unknown,
                Status::Unreachable | Status::Empty => Reach::Unreachable,
            }
        }
    }
}
