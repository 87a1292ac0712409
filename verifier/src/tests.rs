//! `expect` (∀) and `expect some` (∃) of LANGUAGE.md §8, proved over all
//! packets.
//!
//! With `P` the packets described and `chain` the first-match verdict over
//! the rules that overlap `P` (then the default):
//! - `expect V P` holds iff `P ∧ ¬admits_V(chain)` is unsatisfiable; a model
//!   is the counterexample;
//! - `expect some V P` holds iff `P ∧ admits_V(chain)` is satisfiable; on
//!   failure a packet of `P` is shown with the verdict it gets instead.
//!
//! An `expect` whose packets are empty fails (decision: a vacuous test is
//! a mistake, not a pass).

use crate::analysis::PolicyCtx;
use crate::findings::rule_text;
use crate::smt::Outcome;
use crate::witness;
use pol_lang::diag::{codes, Diagnostic};
use pol_lang::ir::{Expect, Test};
use pol_lang::span::SourceMap;

/// Check one expectation; `None` when it holds.
pub fn check_expect(
    ctx: &PolicyCtx,
    sources: &SourceMap,
    test: &Test,
    e: &Expect,
) -> Option<Diagnostic> {
    let what = if e.some { "expect some" } else { "expect" };
    let base = |msg: String| {
        Diagnostic::new(codes::TEST_FAILED, e.span, msg)
            .with_policy(&ctx.policy.name)
            .with_note(format!("in test `{}`", test.name))
    };
    let summary = ctx.summary_of(&e.packets);
    if summary.is_empty() {
        return Some(
            base(format!(
                "`{what} {}` describes no packet",
                e.verdict.as_str()
            ))
            .with_label("no packet matches this description"),
        );
    }
    let rules = ctx.overlapping(&summary);
    let pf = ctx.encoder().matches(&e.packets);
    let admits = ctx.chain(
        &rules,
        |v| e.verdict.admits(v),
        e.verdict.admits(ctx.policy.default),
    );
    let q = if e.some { admits } else { admits.not() };
    let packet = match ctx.smt.check("expect", &[&pf, &q]) {
        Outcome::Sat(p) if !e.some => p,
        Outcome::Sat(_) => return None,
        Outcome::Unsat if !e.some => return None,
        Outcome::Unsat => match ctx.smt.check("expect", &[&pf]) {
            Outcome::Sat(p) => p,
            _ => {
                return Some(base(format!(
                    "no packet described gets `{}`",
                    e.verdict.as_str()
                )))
            }
        },
        Outcome::Unknown(r) => {
            return Some(
                Diagnostic::new(
                    codes::SOLVER_UNKNOWN,
                    e.span,
                    format!("the solver could not decide this `{what}`"),
                )
                .with_label(format!("undecided: {r}"))
                .with_policy(&ctx.policy.name)
                .with_note(format!("in test `{}`", test.name)),
            )
        }
    };
    let prefer = e.packets.groups.clone().unwrap_or_default();
    let (by, got, w) = witness::evaluate(ctx.program, ctx.policy, &packet, &prefer);
    let mut d = if e.some {
        base(format!("no packet described gets `{}`", e.verdict.as_str()))
            .with_label(format!("for example this one gets `{}`", got.as_str()))
    } else {
        base(format!(
            "expected `{}`, but a packet gets `{}`",
            e.verdict.as_str(),
            got.as_str()
        ))
        .with_label("counterexample in the witness")
    };
    d = match by {
        Some(r) => {
            let span = ctx.policy.rules[r].span;
            d.with_related(
                span,
                format!("decided here: `{}`", rule_text(sources, span)),
            )
        }
        None => d.with_related(
            ctx.policy.default_span,
            format!("decided by the default `{}`", got.as_str()),
        ),
    };
    // Re-check the counterexample concretely before showing it.
    if e.packets.matches(ctx.program, &packet) && !e.verdict.admits(got) {
        d = d.with_witness(w);
    } else {
        d = d.with_note("internal: the counterexample failed its re-check");
    }
    Some(d)
}
