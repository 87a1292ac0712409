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
    /// The nft table to own (`table inet NAME`; not an nft keyword)
    #[arg(long, default_value = "pol", value_parser = table_name)]
    pub table: String,
    /// Refuse to build on warnings too (exit 1), as `check --deny-warnings` fails
    #[arg(long)]
    pub deny_warnings: bool,
    /// Let a policy file with no `policy` empty the table when applied (apply.sh refuses otherwise)
    #[arg(long)]
    pub allow_empty: bool,
    /// Shortest run of address-narrowing rules compiled to an address
    /// dispatch (docs/backends.md); a benchmarking knob: a large value
    /// gives the linear rendering
    #[arg(long, hide = true, default_value_t = BuildOptions::default().addr_dispatch_min_run)]
    pub addr_dispatch_min_run: usize,
    /// Before writing, load the ruleset into a throwaway namespace (root, nft) and prove it decides every packet as the policy
    #[arg(long)]
    pub prove: bool,
    #[command(flatten)]
    pub compile: CompileFlags,
    #[command(flatten)]
    pub solver: SolverFlags,
}

/// `--table`: a bad name is a usage error (exit 2), before any work.
fn table_name(s: &str) -> Result<String, String> {
    pol_backends::table_name::check(s).map(|()| s.to_string())
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
    if args.deny_warnings
        && analysis
            .diagnostics
            .count(pol_lang::diag::Severity::Warning)
            > 0
    {
        eprintln!(
            "polc build: not building `{}`: check reports warnings (--deny-warnings)",
            args.file.display()
        );
        return 1;
    }
    let opts = BuildOptions {
        table: args.table.clone(),
        allow_empty: args.allow_empty,
        addr_dispatch_min_run: args.addr_dispatch_min_run,
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
    if args.prove {
        use pol_host::prove::{prove_build, Proof};
        match prove_build(&artifacts, program, sources, &args.table) {
            Ok(Proof::Equal { notes }) => {
                eprintln!("polc build: proved: the ruleset, loaded by nft, decides every first packet of a flow as the policy");
                for n in notes {
                    eprintln!("polc build: note: {n}");
                }
            }
            Ok(Proof::Differs(r)) | Ok(Proof::Incomplete(r)) => {
                eprint!("{}", r.human());
                eprintln!("polc build: the ruleset does not decide every packet as the policy (a polc bug: please report it); nothing written");
                return 2;
            }
            Ok(Proof::Unmodelable(u)) => {
                eprintln!("polc build: cannot prove: {u}; nothing written");
                return 2;
            }
            Err(e) => {
                eprintln!("polc build: cannot prove (it needs root, unshare and nft): {e}; nothing written");
                return 2;
            }
        }
    }
    match output::write_dir(&args.output, &artifacts) {
        Ok(()) => {
            let names: Vec<&str> = artifacts.iter().map(|a| a.name.as_str()).collect();
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
