//! pol-verifier: exact verification of Pol programs with Z3.
//!
//! It reads only the IR (`pol_lang::ir`) and reports the findings of
//! LANGUAGE.md §9 (`findings`), runs the `test` blocks of §8 (`tests`), and
//! serves `polc explain` (`explain`) and `polc diff` (`diff`).
//!
//! Layers: `model` (the packet as Z3 variables, and back), `encode` (IR sets
//! to formulas), `index` (exact cheap checks on interval products and the
//! per-field overlap index), `boxes` (exact first-match walks on unions
//! of boxes, the solver-free path), `smt` (one incremental solver with a
//! per-query limit), `analysis` (per-policy context: cached rule formulas,
//! first-match chains), then the checks; `classes` (address classes: an
//! exact, smaller address space `diff` and `explain` encode large
//! programs over). Every witness is decoded from a Z3 model and re-checked
//! by the concrete evaluator (`witness`).
//! docs/verifier.md describes the semantics and decisions.

pub mod analysis;
pub mod boxes;
pub mod cells;
pub mod classes;
pub mod diff;
pub mod encode;
pub mod explain;
pub mod findings;
pub mod index;
pub mod model;
pub mod smt;
pub mod tests;
pub mod witness;

use analysis::PolicyCtx;
use model::CgroupIndex;
use pol_lang::diag::Diagnostic;
use pol_lang::ir::{Match, MatcherOrigin, PolicyId, Program};
use pol_lang::span::{SourceMap, Span};
use smt::Smt;
use std::collections::HashMap;

pub use diff::{DiffRegion, DiffReport};
pub use explain::Explanation;

/// The default wall-clock budget of one verification (10 minutes).
pub const DEFAULT_DEADLINE_S: u64 = 600;

/// Limits and switches of the verifier.
#[derive(Debug, Clone)]
pub struct Options {
    /// Per-query solver time limit in milliseconds (Z3 `timeout`).
    pub timeout_ms: u64,
    /// Optional per-query Z3 resource limit (`rlimit`), deterministic across machines.
    pub rlimit: Option<u32>,
    /// Most steps one exact cell walk (`cells`) may take before the check
    /// falls back to the solver (`None`: the built-in default).
    /// `Some(0)` sends every coverage question to Z3 (tests of the fallback).
    pub cell_budget: Option<usize>,
    /// Most cell-walk steps spent listing the earlier rules that decide an
    /// unreachable rule's packets (`None`: the built-in default); beyond
    /// it the list is cut short and says so. Never changes a finding.
    pub listing_budget: Option<usize>,
    /// Also write every solver query as an SMT-LIB 2 script into this
    /// directory (debugging; see `smt`).
    pub smtlib_dir: Option<std::path::PathBuf>,
    /// Most regions `diff` lists per policy.
    pub max_diff_regions: usize,
    /// Wall-clock budget of one verification, in seconds (`None`: none).
    /// Past it, the questions still open are answered `unknown` (never a
    /// pass) instead of being worked on: the cell walks get no steps and
    /// the solver is not called. Bounds what a hostile policy can cost.
    pub deadline_s: Option<u64>,
    /// `diff` and `explain` over address classes (`classes`): `None`
    /// decides by size (at least [`classes::AUTO_MIN_RANGES`] address
    /// ranges in the programs and the description); `Some(b)` forces it on
    /// or off (tests).
    pub address_classes: Option<bool>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout_ms: 2000,
            rlimit: None,
            cell_budget: None,
            listing_budget: None,
            smtlib_dir: None,
            max_diff_regions: 64,
            deadline_s: Some(DEFAULT_DEADLINE_S),
            address_classes: None,
        }
    }
}

/// [`verify`], each finding about a rule whose sets a matcher computed
/// saying which call produced them (what `polc check` and `polc lsp`
/// report).
pub fn verify_with_origins(
    program: &Program,
    sources: &SourceMap,
    opts: &Options,
) -> Vec<Diagnostic> {
    let origins = matcher_origins(program);
    verify(program, sources, opts)
        .into_iter()
        .map(|d| with_matcher_origins(d, &origins))
        .collect()
}

/// A finding about a rule whose sets a matcher computed says which call
/// produced them (LANGUAGE.md §7: the matcher's output is all the verifier
/// sees, so the call is where to look).
fn with_matcher_origins(
    mut d: Diagnostic,
    origins: &HashMap<Span, &[MatcherOrigin]>,
) -> Diagnostic {
    let Some(primary) = d.primary else { return d };
    for o in origins.get(&primary).copied().unwrap_or_default() {
        d = d.with_related(
            o.call,
            format!("this rule's set comes from the matcher call `{}`", o.text),
        );
    }
    d
}

/// The matcher calls behind each rule that has any, by the rule's span.
fn matcher_origins(program: &pol_lang::ir::Program) -> HashMap<Span, &[MatcherOrigin]> {
    program
        .policies
        .iter()
        .flat_map(|p| p.rules.iter())
        .filter(|r| !r.origins.is_empty())
        .map(|r| (r.span, r.origins.as_slice()))
        .collect()
}

/// Every finding of every policy, then every `expect`.
pub fn verify(program: &Program, sources: &SourceMap, opts: &Options) -> Vec<Diagnostic> {
    let smt = Smt::new(CgroupIndex::new([program]), opts);
    let mut out = Vec::new();
    for policy in &program.policies {
        let ctx = PolicyCtx::new(program, policy, &smt);
        findings::check_policy(&ctx, sources, &mut out);
    }
    out.extend(run_tests_with(program, sources, &smt));
    if std::env::var_os("POL_VERIFIER_STATS").is_some() {
        eprintln!(
            "verifier: {} solver queries: {:?}",
            smt.queries.get(),
            smt.stats.borrow()
        );
    }
    out
}

/// Only the `test` blocks (`polc test`).
pub fn run_tests(program: &Program, sources: &SourceMap, opts: &Options) -> Vec<Diagnostic> {
    let smt = Smt::new(CgroupIndex::new([program]), opts);
    run_tests_with(program, sources, &smt)
}

fn run_tests_with(program: &Program, sources: &SourceMap, smt: &Smt) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let ctxs: Vec<PolicyCtx> = program
        .policies
        .iter()
        .map(|p| PolicyCtx::new(program, p, smt))
        .collect();
    for test in &program.tests {
        for e in &test.expects {
            if let Some(ctx) = ctxs.get(e.policy.index()) {
                out.extend(tests::check_expect(ctx, sources, test, e));
            }
        }
    }
    out
}

/// Number of `expect`s in the program (for `polc test`'s summary).
pub fn count_expects(program: &Program) -> usize {
    program.tests.iter().map(|t| t.expects.len()).sum()
}

/// Which rule decides the described packets (`polc explain`). `None` when
/// the description covers no packet.
pub fn explain(
    program: &Program,
    sources: &SourceMap,
    policy: PolicyId,
    packets: &Match,
    opts: &Options,
) -> Option<Explanation> {
    let pol = program.policies.get(policy.index())?;
    let smt = Smt::new(CgroupIndex::new([program]), opts);
    // Large address sets: over address classes, as `diff` (see `classes`).
    let described = [&packets.from, &packets.to];
    let compressed = classes::AddrClasses::wanted(opts.address_classes, &[program], &described)
        .and_then(|mut c| Some((c.program(program)?, c.describe(packets), c)));
    match &compressed {
        Some((cprog, cpackets, c)) => {
            let ctx = PolicyCtx::new(cprog, cprog.policies.get(policy.index())?, &smt);
            let orig = explain::Originals {
                program,
                policy: pol,
                classes: Some(c),
            };
            explain::explain(&ctx, sources, cpackets, &orig)
        }
        None => {
            let ctx = PolicyCtx::new(program, pol, &smt);
            let orig = explain::Originals {
                program,
                policy: pol,
                classes: None,
            };
            explain::explain(&ctx, sources, packets, &orig)
        }
    }
}

/// The regions of packets whose verdict changes (`polc diff`); `policies`
/// empty = every policy name.
pub fn diff(
    old: (&Program, &SourceMap),
    new: (&Program, &SourceMap),
    policies: &[String],
    opts: &Options,
) -> DiffReport {
    diff::diff(old, new, policies, opts)
}
