//! `polc build FILE -o DIR`: check (front end + verifier), and only when
//! that reports no errors, write the artifacts of LANGUAGE.md §11 to DIR
//! (all or nothing: see `pol_backends::output`).

use crate::cmd::check::{analyze, SolverFlags};
use crate::report::{self, Format, Part};
use crate::CompileFlags;
use pol_backends::{build, output, BuildOptions};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The entry file
    pub file: PathBuf,
    /// Output directory (created, or replaced as a whole)
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// The nft table to own (`table inet NAME`)
    #[arg(long, default_value = "pol")]
    pub table: String,
    #[command(flatten)]
    pub compile: CompileFlags,
    #[command(flatten)]
    pub solver: SolverFlags,
}

pub fn run(args: Args) -> u8 {
    let analysis = analyze(&args.file, &args.compile, &args.solver.options());
    let sources = &analysis.compilation.sources;
    if !analysis.diagnostics.is_empty() {
        let part = Part {
            diags: &analysis.diagnostics,
            sources,
        };
        eprint!(
            "{}",
            report::render(&[part], Format::Human, report::use_color())
        );
    }
    let program = match &analysis.compilation.program {
        Some(p) if !analysis.diagnostics.has_errors() => p,
        _ => {
            eprintln!(
                "polc build: not building `{}`: check reports errors",
                args.file.display()
            );
            // An input that cannot be read is an I/O failure, not a finding.
            return if crate::cmd::check::input_failed(std::iter::once(&analysis.diagnostics)) {
                2
            } else {
                1
            };
        }
    };
    let opts = BuildOptions {
        table: args.table.clone(),
        ..BuildOptions::default()
    };
    let artifacts = match build(program, sources, &opts) {
        Ok(a) => a,
        Err(errors) => {
            for e in errors {
                match e.span {
                    Some(s) => eprintln!("error: {}: {}", sources.file_line(s), e.message),
                    None => eprintln!("error: {}", e.message),
                }
            }
            eprintln!("polc build: nothing written");
            return 1;
        }
    };
    match output::write_dir(&args.output, &artifacts) {
        Ok(()) => {
            let names: Vec<&str> = artifacts.iter().map(|a| a.name).collect();
            eprintln!(
                "polc build: wrote {} to {}",
                names.join(", "),
                args.output.display()
            );
            0
        }
        Err(e) => {
            eprintln!("polc build: cannot write `{}`: {e}", args.output.display());
            2
        }
    }
}
