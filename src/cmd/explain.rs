//! `polc explain FILE [--policy P] PACKET…`: which rule decides the packets
//! a description covers (the words after `expect VERDICT`, e.g.
//! `browser to 93.184.216.34 tcp 443`), and why. When the description
//! covers packets decided by different rules, each case is listed with a
//! packet. `--format json` prints `{policy, verdict, file, line, cases}`
//! (LANGUAGE.md §10).

use crate::cmd::check::{compile_options, SolverFlags};
use crate::report::{self, Format, Part};
use crate::CompileFlags;
use pol_lang::ir::PolicyId;
use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutFormat {
    #[default]
    Human,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The entry file
    pub file: PathBuf,
    /// The policy (needed when the file has several)
    #[arg(long)]
    pub policy: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutFormat::Human)]
    pub format: OutFormat,
    /// The packets, as in `expect`: `[GROUPS] [from ADDRS] [to ADDRS] [SERVICE] [via TUNNEL]`
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
    pub packet: Vec<String>,
    #[command(flatten)]
    pub compile: CompileFlags,
    #[command(flatten)]
    pub solver: SolverFlags,
}

pub fn run(args: Args) -> u8 {
    let text = args.packet.join(" ");
    let (compilation, packets) =
        pol_lang::compile_with_packet(&args.file, &compile_options(&args.compile), &text);
    let (Some(program), Some(query)) = (&compilation.program, packets) else {
        let parts = [Part {
            diags: &compilation.diagnostics,
            sources: &compilation.sources,
        }];
        eprint!(
            "{}",
            report::render(&parts, Format::Human, report::use_color())
        );
        // Unreadable input: 2; errors in the policy or the packet: 1.
        return crate::cmd::check::status(&parts, false).max(1);
    };
    let packets = query.matches;
    let wanted = args.policy.clone().or(query.policy);
    let policy = match (&wanted, program.policies.len()) {
        (Some(name), _) => match program.policies.iter().position(|p| &p.name == name) {
            Some(i) => i,
            None => {
                let names: Vec<&str> = program.policies.iter().map(|p| p.name.as_str()).collect();
                eprintln!("error: no policy `{name}` (policies: {})", names.join(", "));
                return 2;
            }
        },
        (None, 1) => 0,
        (None, 0) => {
            eprintln!("error: `{}` has no policy", args.file.display());
            return 2;
        }
        (None, _) => {
            let names: Vec<&str> = program.policies.iter().map(|p| p.name.as_str()).collect();
            eprintln!(
                "error: several policies; choose one with --policy ({})",
                names.join(", ")
            );
            return 2;
        }
    };
    let id = PolicyId(u32::try_from(policy).unwrap_or(0));
    match pol_verifier::explain(
        program,
        &compilation.sources,
        id,
        &packets,
        &args.solver.options(),
    ) {
        Some(e) => {
            match args.format {
                OutFormat::Human => crate::out::print(&e.human()),
                OutFormat::Json => crate::out::println(
                    &serde_json::to_string_pretty(&e).unwrap_or_else(|_| "{}".into()),
                ),
            }
            0
        }
        None => {
            eprintln!("error: `{text}` describes no packet");
            1
        }
    }
}
