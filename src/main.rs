//! `polc`: the command line. Thin: parses arguments, calls the crates, and
//! maps results to output and exit status (0 clean, 1 findings, 2 usage,
//! I/O or internal failure — LANGUAGE.md §10).

mod cmd;
mod out;
mod report;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "polc",
    version,
    about = "Verify Pol policies with Z3 and compile them to nftables, cgroups, vti6 and sysctl"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check files (each an entry point) or directories of `.pol` files: front end, verifier and tests
    Check(cmd::check::Args),
    /// Build the artifacts (ruleset.nft, cgroups.sh, tunnels.sh, sysctl.conf, tuning.sh, refresh.sh, apply.sh, systemd/)
    Build(cmd::build::Args),
    /// Run the `test` blocks only
    Test(cmd::test::Args),
    /// Which rule decides a packet, and why
    Explain(cmd::explain::Args),
    /// The packets whose verdict changes between two versions of a policy
    Diff(cmd::diff::Args),
    /// Rewrite files in place in canonical layout (with --check, only list the files that would change)
    Fmt(cmd::fmt::Args),
    /// Run a command inside a group's cgroup (and net_cls class)
    Exec(cmd::exec::Args),
    /// Install a build as the current generation of its table and enable its boot unit (does not apply it now)
    Install(cmd::install::Args),
    /// Check, install and apply a build as a new generation; revert on failure (with --confirm SECS, also unless confirmed)
    Apply(cmd::apply::Args),
    /// Keep the generation `polc apply --confirm` applied
    Confirm(cmd::apply::ConfirmArgs),
    /// Go back to the previous generation (restoring the sysctls the current one changed)
    Rollback(cmd::apply::RollbackArgs),
    /// Compare the live kernel with a build (or the installed generation): drift field by field, and a proof that the live table decides every packet as the build
    Status(cmd::status::Args),
    /// Run the language server over stdin/stdout (for editors: diagnostics, findings, definitions, hover, formatting)
    Lsp(cmd::lsp::Args),
}

/// Stack for the worker thread: deeply nested (hostile) input must end in
/// a diagnostic, not a stack overflow.
const STACK_BYTES: usize = 256 * 1024 * 1024;

fn main() -> ExitCode {
    let worker = std::thread::Builder::new()
        .stack_size(STACK_BYTES)
        .spawn(real_main);
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        _ => {
            eprintln!("polc: internal error");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let status = match cli.command {
        Command::Check(a) => cmd::check::run(a),
        Command::Build(a) => cmd::build::run(a),
        Command::Test(a) => cmd::test::run(a),
        Command::Explain(a) => cmd::explain::run(a),
        Command::Diff(a) => cmd::diff::run(a),
        Command::Fmt(a) => cmd::fmt::run(a),
        Command::Exec(a) => cmd::exec::run(a),
        Command::Install(a) => cmd::install::run(a),
        Command::Apply(a) => cmd::apply::run(a),
        Command::Confirm(a) => cmd::apply::run_confirm(a),
        Command::Rollback(a) => cmd::apply::run_rollback(a),
        Command::Status(a) => cmd::status::run(a),
        Command::Lsp(a) => cmd::lsp::run(a),
    };
    ExitCode::from(out::final_status(status))
}

/// Where a run of polc reads from: shared flags of the commands that compile.
#[derive(clap::Args, Clone, Debug)]
pub struct CompileFlags {
    /// Root directory imports and matcher paths must stay inside (default: the entry file's directory)
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Lower every matcher's fuel limit to at most this
    #[arg(long)]
    pub matcher_fuel: Option<u64>,
    /// Lower every matcher's memory limit to at most this many bytes
    #[arg(long)]
    pub matcher_memory: Option<u64>,
    /// Lower every matcher's wall-clock limit to at most this many milliseconds
    #[arg(long)]
    pub matcher_timeout_ms: Option<u64>,
    /// Fuel all matcher calls of this run may burn together (default 1000000000)
    #[arg(long)]
    pub matcher_budget_fuel: Option<u64>,
    /// Wall-clock milliseconds all matcher calls and compilations of this run may take together (default 10000)
    #[arg(long)]
    pub matcher_budget_ms: Option<u64>,
}
