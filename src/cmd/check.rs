//! `polc check FILE|DIR…`: the front end, then the verifier (findings and
//! `expect` tests), for each entry file; one report for all of them.
//! A directory stands for the `.pol` files directly inside it, each an
//! entry point (how CI lints a policy repository; shared files imported
//! from subdirectories are checked through their importers).

use crate::report::{self, Format, Part};
use crate::CompileFlags;
use pol_lang::diag::{Diagnostic, Diagnostics};
use pol_lang::ir::MatcherOrigin;
use pol_lang::span::Span;
use pol_lang::{compile, Compilation, CompileOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories to check
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Exit 1 on warnings too
    #[arg(long)]
    pub deny_warnings: bool,
    /// Front-end findings only: skip the verifier and the tests
    #[arg(long)]
    pub no_verify: bool,
    #[command(flatten)]
    pub compile: CompileFlags,
    #[command(flatten)]
    pub solver: SolverFlags,
}

/// Solver limits (shared by the commands that verify).
#[derive(clap::Args, Debug, Clone)]
pub struct SolverFlags {
    /// Per-query solver time limit in milliseconds; an undecided query is reported as `unknown`
    #[arg(long, default_value_t = 2000)]
    pub solver_timeout_ms: u64,
    /// Per-query Z3 resource limit (deterministic across machines, unlike the time limit)
    #[arg(long)]
    pub solver_rlimit: Option<u32>,
    /// Wall-clock budget of the verification in seconds; past it, open questions are reported `unknown` (0: none)
    #[arg(long, value_name = "SECONDS", default_value_t = pol_verifier::DEFAULT_DEADLINE_S)]
    pub verify_deadline_s: u64,
    /// Most steps an exact cell walk may take before Z3 takes over (0: always Z3)
    #[arg(long, hide = true)]
    pub cell_budget: Option<usize>,
    /// Most steps spent listing the rules that decide an unreachable rule
    #[arg(long, hide = true)]
    pub listing_budget: Option<usize>,
    /// Also write every solver query as an SMT-LIB 2 script into DIR (debugging)
    #[arg(long, hide = true, value_name = "DIR")]
    pub smt2_dir: Option<PathBuf>,
}

impl SolverFlags {
    pub fn options(&self) -> pol_verifier::Options {
        pol_verifier::Options {
            timeout_ms: self.solver_timeout_ms,
            rlimit: self.solver_rlimit,
            cell_budget: self.cell_budget,
            listing_budget: self.listing_budget,
            deadline_s: (self.verify_deadline_s > 0).then_some(self.verify_deadline_s),
            smtlib_dir: self.smt2_dir.clone(),
            ..pol_verifier::Options::default()
        }
    }
}

/// One entry file, compiled and verified.
pub struct Analysis {
    pub compilation: Compilation,
    /// Front-end diagnostics, then the verifier's.
    pub diagnostics: Diagnostics,
}

impl Analysis {
    pub fn part(&self) -> Part<'_> {
        Part {
            diags: &self.diagnostics,
            sources: &self.compilation.sources,
        }
    }
}

pub fn compile_options(flags: &CompileFlags) -> CompileOptions {
    CompileOptions {
        root: flags.root.clone(),
        matcher_cap: pol_lang::matcher::LimitCap {
            fuel: flags.matcher_fuel,
            memory_bytes: flags.matcher_memory,
            timeout_ms: flags.matcher_timeout_ms,
        },
        matcher_budget: run_budget(flags),
    }
}

/// The matcher budget of this run: one account for every file the process
/// compiles (`polc check DIR` compiles many), set from the first flags seen
/// (a run has one set of flags).
fn run_budget(flags: &CompileFlags) -> pol_lang::matcher::RunBudget {
    static RUN: std::sync::OnceLock<pol_lang::matcher::RunBudget> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let d = pol_lang::matcher::DEFAULT_BUDGET;
        pol_lang::matcher::RunBudget::new(pol_lang::matcher::Budget {
            fuel: flags.matcher_budget_fuel.unwrap_or(d.fuel),
            time_ms: flags.matcher_budget_ms.unwrap_or(d.time_ms),
        })
    })
    .clone()
}

/// Compile `path`; when the front end is clean, verify it too.
pub fn analyze(path: &Path, flags: &CompileFlags, verifier: &pol_verifier::Options) -> Analysis {
    analyze_with(path, flags, Some(verifier))
}

/// Like [`analyze`]; `verifier: None` runs the front end only.
pub fn analyze_with(
    path: &Path,
    flags: &CompileFlags,
    verifier: Option<&pol_verifier::Options>,
) -> Analysis {
    let compilation = compile(path, &compile_options(flags));
    let mut diagnostics = compilation.diagnostics.clone();
    if let (Some(program), Some(verifier)) = (&compilation.program, verifier) {
        let findings = pol_verifier::verify(program, &compilation.sources, verifier);
        let origins = matcher_origins(program);
        diagnostics.extend(
            findings
                .into_iter()
                .map(|d| with_matcher_origins(d, &origins)),
        );
        diagnostics.sort_dedup();
    }
    Analysis {
        compilation,
        diagnostics,
    }
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

/// Expand directories to their `.pol` files (sorted); keep files as given.
pub fn entry_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let rd = std::fs::read_dir(p)
                .map_err(|e| format!("cannot read directory `{}`: {e}", p.display()))?;
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "pol"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(format!("directory `{}` has no .pol files", p.display()));
            }
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

pub fn run(args: Args) -> u8 {
    let files = match entry_files(&args.files) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let verifier = args.solver.options();
    let verifier = (!args.no_verify).then_some(&verifier);
    let analyses: Vec<Analysis> = files
        .iter()
        .map(|f| analyze_with(f, &args.compile, verifier))
        .collect();
    let parts: Vec<Part<'_>> = analyses.iter().map(Analysis::part).collect();
    crate::out::print(&report::render(&parts, args.format, report::use_color()));
    report::exit_status(&parts, args.deny_warnings)
}
