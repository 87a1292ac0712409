//! `polc diff OLD NEW [--policy P]`: the regions of packets whose verdict
//! changes between two versions, each with a witness packet and the
//! deciding rule on both sides. Exit 0 when nothing changes, 1 when
//! something does, 2 when either version does not compile.

use crate::cmd::check::{compile_options, SolverFlags};
use crate::report::{self, Format, Part};
use crate::CompileFlags;
use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutFormat {
    #[default]
    Human,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The old version (entry file)
    pub old: PathBuf,
    /// The new version (entry file)
    pub new: PathBuf,
    /// Only this policy (by name; default: every policy)
    #[arg(long)]
    pub policy: Vec<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutFormat::Human)]
    pub format: OutFormat,
    /// Most regions listed per policy
    #[arg(long, default_value_t = 64)]
    pub max_regions: usize,
    #[command(flatten)]
    pub compile: CompileFlags,
    #[command(flatten)]
    pub solver: SolverFlags,
}

pub fn run(args: Args) -> u8 {
    let opts = compile_options(&args.compile);
    let old = pol_lang::compile(&args.old, &opts);
    let new = pol_lang::compile(&args.new, &opts);
    let (Some(po), Some(pn)) = (&old.program, &new.program) else {
        for c in [&old, &new] {
            let parts = [Part {
                diags: &c.diagnostics,
                sources: &c.sources,
            }];
            eprint!(
                "{}",
                report::render(&parts, Format::Human, report::use_color())
            );
        }
        return 2;
    };
    for name in &args.policy {
        if po.policy_by_name(name).is_none() && pn.policy_by_name(name).is_none() {
            eprintln!("error: no policy `{name}` in either version");
            return 2;
        }
    }
    let mut vopts = args.solver.options();
    vopts.max_diff_regions = args.max_regions;
    let report = pol_verifier::diff((po, &old.sources), (pn, &new.sources), &args.policy, &vopts);
    match args.format {
        OutFormat::Human => crate::out::print(&report.human()),
        OutFormat::Json => crate::out::println(
            &serde_json::to_string_pretty(&report).unwrap_or_else(|_| "{}".into()),
        ),
    }
    // 0 only when no change is proved: an undecided search is not a pass.
    u8::from(report.changed() || report.undecided())
}
