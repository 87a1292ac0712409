//! `polc lsp`: the language server on stdin/stdout (`pol_lsp`; editor
//! set-up in docs/editors.md).

use crate::cmd::check::SolverFlags;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Accepted for editors that pass it (the server always speaks over stdin/stdout)
    #[arg(long)]
    pub stdio: bool,
    #[command(flatten)]
    pub solver: SolverFlags,
}

pub fn run(a: Args) -> u8 {
    let code = pol_lsp::run_stdio(a.solver.options());
    u8::try_from(code).unwrap_or(2)
}
