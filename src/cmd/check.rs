//! `polc check FILE|DIR…`: the front end, then the verifier (findings and
//! `expect` tests), for each entry file; one report for all of them.
//! A directory stands for the `.pol` files directly inside it, each an
//! entry point (how CI lints a policy repository; shared files imported
//! from subdirectories are checked through their importers). A
//! directory's entries are loaded together first (each file read and
//! parsed once, each import cycle reported once); only the entries that
//! load cleanly are then compiled and verified, each as its own program.
//! Entries found in a directory are confined to it: a symbolic link that
//! leads outside, or anything but a regular file, is refused.

use crate::report::{self, Format, Part};
use crate::CompileFlags;
use pol_lang::diag::{codes, Diagnostic, Diagnostics};
use pol_lang::resolve::imports::EntryState;
use pol_lang::span::SourceMap;
use pol_lang::{compile, Compilation, CompileOptions};
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
    pub limits: report::Limits,
    #[command(flatten)]
    pub compile: CompileFlags,
    #[command(flatten)]
    pub solver: SolverFlags,
}

/// Largest `--solver-timeout-ms`: Z3 takes the limit as a 32-bit number.
pub const MAX_SOLVER_TIMEOUT_MS: u64 = u32::MAX as u64;

/// Largest `--verify-deadline-s`: a year (a larger number is a typo, and
/// `u64::MAX` seconds does not fit a clock).
pub const MAX_DEADLINE_S: u64 = 366 * 24 * 3600;

/// Solver limits (shared by the commands that verify).
#[derive(clap::Args, Debug, Clone)]
pub struct SolverFlags {
    /// Per-query solver time limit in milliseconds; an undecided query is reported as `unknown`
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(0..=MAX_SOLVER_TIMEOUT_MS))]
    pub solver_timeout_ms: u64,
    /// Per-query Z3 resource limit (deterministic across machines, unlike the time limit)
    #[arg(long)]
    pub solver_rlimit: Option<u32>,
    /// Wall-clock budget of the verification in seconds; past it, open questions are reported `unknown` (0: none)
    #[arg(long, value_name = "SECONDS", default_value_t = pol_verifier::DEFAULT_DEADLINE_S, value_parser = clap::value_parser!(u64).range(0..=MAX_DEADLINE_S))]
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
        overlay: pol_lang::read::Overlay::default(),
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
        diagnostics.extend(pol_verifier::verify_with_origins(
            program,
            &compilation.sources,
            verifier,
        ));
        diagnostics.sort_dedup();
    }
    Analysis {
        compilation,
        diagnostics,
    }
}

/// What the command line names, directories expanded.
#[derive(Default)]
pub struct Inputs {
    /// Entry files: one group per directory (its `.pol` files, sorted), and
    /// one group of one per file named.
    pub groups: Vec<Vec<PathBuf>>,
    /// Entries of a directory that were refused (each with a diagnostic
    /// without span: an input failure, exit status 2).
    pub refused: Diagnostics,
}

impl Inputs {
    /// Every entry file, in order.
    pub fn files(&self) -> impl Iterator<Item = &PathBuf> {
        self.groups.iter().flatten()
    }
}

/// Expand directories to their `.pol` files (sorted); keep files as given.
/// A directory's entry that is a symbolic link must lead to a file inside
/// the directory (`P0903`), and must be a regular file (`P0904`; a
/// directory named `*.pol` is skipped); a name with a control character is
/// refused (`P0902`).
pub fn entry_files(inputs: &[PathBuf]) -> Result<Inputs, String> {
    let mut out = Inputs::default();
    for p in inputs {
        if p.is_dir() {
            let (files, refused) = scan_directory(p)?;
            if files.is_empty() && refused.is_empty() {
                return Err(format!("directory `{}` has no .pol files", p.display()));
            }
            if !files.is_empty() {
                out.groups.push(files);
            }
            out.refused.extend(refused);
        } else {
            out.groups.push(vec![p.clone()]);
        }
    }
    Ok(out)
}

/// A directory's entry files (sorted), and the refused ones.
fn scan_directory(dir: &Path) -> Result<(Vec<PathBuf>, Vec<Diagnostic>), String> {
    let cannot = |e: std::io::Error| format!("cannot read directory `{}`: {e}", dir.display());
    let canon_dir = std::fs::canonicalize(dir).map_err(cannot)?;
    let mut files = Vec::new();
    let mut refused = Vec::new();
    let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)
        .map_err(cannot)?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(std::fs::DirEntry::path);
    for e in entries {
        // `./a.pol` is shown `a.pol`, as imports of it are.
        let path = e.path();
        let path = path
            .strip_prefix(".")
            .map(Path::to_path_buf)
            .unwrap_or(path);
        if path.extension().is_none_or(|x| x != "pol") {
            continue;
        }
        let shown = path.display().to_string();
        if let Some(c) = pol_lang::read::forbidden_char(&shown) {
            let shown = pol_lang::read::escaped_name(&shown);
            refused.push(Diagnostic::without_span(
                codes::IO_ERROR,
                shown.as_str(),
                format!(
                    "cannot read `{shown}`: the file name contains the control character `{}`",
                    c.escape_default()
                ),
            ));
            continue;
        }
        let Ok(own_type) = e.file_type() else {
            continue;
        };
        let target_type = if own_type.is_symlink() {
            match std::fs::canonicalize(&path) {
                Ok(t) if t.starts_with(&canon_dir) => std::fs::metadata(&t).map(|m| m.file_type()),
                Ok(_) => {
                    refused.push(
                        Diagnostic::without_span(
                            codes::INPUT_ESCAPES,
                            shown.as_str(),
                            format!(
                                "not reading `{shown}`: it is a symbolic link that leads outside `{}`",
                                dir.display()
                            ),
                        )
                        .with_help("entries found in a directory must be files inside it"),
                    );
                    continue;
                }
                Err(e) => Err(e),
            }
        } else {
            Ok(own_type)
        };
        match target_type {
            Ok(t) if t.is_file() => files.push(path),
            Ok(t) if t.is_dir() => {}
            Ok(_) => refused.push(Diagnostic::without_span(
                codes::INPUT_NOT_REGULAR,
                shown.as_str(),
                format!("not reading `{shown}`: it is not a regular file"),
            )),
            Err(err) => refused.push(Diagnostic::without_span(
                codes::IO_ERROR,
                shown.as_str(),
                format!(
                    "cannot read `{shown}`: {}",
                    pol_lang::paths::io_reason(&err)
                ),
            )),
        }
    }
    Ok((files, refused))
}

/// The exit status of a report: 2 when an input could not be read at all
/// (any command), else [`report::exit_status`].
pub fn status(parts: &[Part<'_>], deny_warnings: bool) -> u8 {
    if input_failed(parts.iter().map(|p| p.diags)) {
        return 2;
    }
    report::exit_status(parts, deny_warnings)
}

/// Whether one of `diags` says an input could not be read at all.
pub fn input_failed<'a>(mut diags: impl Iterator<Item = &'a Diagnostics>) -> bool {
    diags.any(|ds| ds.iter().any(|d| codes::is_input_failure(d.code)))
}

pub fn run(args: Args) -> u8 {
    let inputs = match entry_files(&args.files) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let verifier = args.solver.options();
    let verifier = (!args.no_verify).then_some(&verifier);
    let opts = compile_options(&args.compile);
    let mut loads = Vec::new();
    let mut analyses: Vec<Analysis> = Vec::new();
    for group in &inputs.groups {
        if group.len() < 2 {
            analyses.extend(
                group
                    .iter()
                    .map(|f| analyze_with(f, &args.compile, verifier)),
            );
            continue;
        }
        let shared = pol_lang::compile::load_entries(group, &opts);
        for (f, state) in group.iter().zip(&shared.states) {
            if *state == EntryState::Clean {
                analyses.push(analyze_with(f, &args.compile, verifier));
            }
        }
        loads.push(shared);
    }
    let no_sources = SourceMap::new();
    let mut parts = vec![Part {
        diags: &inputs.refused,
        sources: &no_sources,
    }];
    parts.extend(loads.iter().map(|l| Part {
        diags: &l.diagnostics,
        sources: &l.sources,
    }));
    parts.extend(analyses.iter().map(Analysis::part));
    report::print(&parts, args.format, args.limits);
    status(&parts, args.deny_warnings)
}
