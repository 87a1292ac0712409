//! `polc test FILE`: compile, then prove every `expect` of the `test`
//! blocks over all packets (pol-verifier's `run_tests`). Front-end errors
//! and failed expectations are reported; exit 1 when any exists.

use crate::cmd::check::{compile_options, SolverFlags};
use crate::report::{self, Format, Part};
use crate::CompileFlags;
use pol_lang::diag::Severity;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The entry file
    pub file: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    #[command(flatten)]
    pub limits: report::Limits,
    #[command(flatten)]
    pub compile: CompileFlags,
    #[command(flatten)]
    pub solver: SolverFlags,
}

pub fn run(args: Args) -> u8 {
    let compilation = pol_lang::compile(&args.file, &compile_options(&args.compile));
    let mut diags = compilation.diagnostics.clone();
    let mut summary = None;
    if let Some(program) = &compilation.program {
        let results =
            pol_verifier::run_tests(program, &compilation.sources, &args.solver.options());
        let failed = results
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        summary = Some(format!(
            "{} expectations, {} failed",
            pol_verifier::count_expects(program),
            failed
        ));
        diags.extend(results);
        diags.sort_dedup();
    }
    let parts = [Part {
        diags: &diags,
        sources: &compilation.sources,
    }];
    report::print(&parts, args.format, args.limits);
    if let (Some(s), Format::Human) = (summary, args.format) {
        crate::out::println(&s);
    }
    crate::cmd::check::status(&parts, false)
}
