//! `polc apply DIR [--confirm SECS]`, `polc rollback`, `polc confirm`:
//! the running host moved between generations (`pol_host::apply`).
//! Exit status: 0 done; 1 applying failed and the previous generation was
//! restored; 2 refused or failed with nothing changed, or a revert that
//! failed too (the message says which).

use pol_host::apply::{apply, confirm, rollback, ApplyError, ApplyOptions};
use pol_host::install::InstallOptions;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The build directory (`polc build -o DIR`)
    pub dir: PathBuf,
    /// Revert to the previous generation unless `polc confirm` runs within SECS seconds
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub confirm: Option<u64>,
    /// Keep the generations under this directory instead of `/` (the kernel changed is still this host's)
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    /// How many generations to keep
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(2..))]
    pub keep: u64,
}

#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    /// The nft table whose generations to use
    #[arg(long, default_value = "pol")]
    pub table: String,
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    /// The generation to go back to (default: the one before the current one)
    #[arg(long)]
    pub to: Option<u64>,
    /// Only if generation N is current and still waiting for confirmation (what the armed revert runs)
    #[arg(long, value_name = "N")]
    pub if_pending: Option<u64>,
    /// Wait this many seconds first (the detached revert)
    #[arg(long, value_name = "SECS", hide = true)]
    pub after: Option<u64>,
}

#[derive(clap::Args, Debug)]
pub struct ConfirmArgs {
    /// The nft table whose pending generation to keep
    #[arg(long, default_value = "pol")]
    pub table: String,
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    /// Confirm even from the login session that applied (automation that knows it reconnected)
    #[arg(long)]
    pub any_session: bool,
}

pub fn run(args: Args) -> u8 {
    let opts = ApplyOptions {
        install: InstallOptions {
            keep: usize::try_from(args.keep).unwrap_or(usize::MAX),
        },
        confirm: args.confirm.map(Duration::from_secs),
    };
    match apply(&args.dir, &args.root, &opts) {
        Ok(a) => {
            let what = if a.new_generation {
                format!("applied generation {}", a.generation)
            } else {
                format!(
                    "generation {} was current; applied it again{}",
                    a.generation,
                    if args.confirm.is_some() {
                        " (nothing new to confirm: no revert armed)"
                    } else {
                        ""
                    }
                )
            };
            eprintln!("polc apply: table inet {}: {what}", a.table);
            if let Some(p) = &a.pending {
                eprintln!(
                    "polc apply: reverting to {} in {} s unless confirmed: from a new login, run `polc confirm --table {}` (armed: {})",
                    p.previous
                        .map_or("no policy".to_string(), |g| format!("generation {g}")),
                    args.confirm.unwrap_or(0),
                    a.table,
                    p.armed
                );
            }
            0
        }
        Err(ApplyError::Refused(e)) => {
            eprintln!("polc apply: {e}; nothing changed");
            2
        }
        Err(ApplyError::Reverted { error, to }) => {
            eprintln!(
                "polc apply: {error}; reverted to {}",
                to.map_or("no policy (table removed)".to_string(), |g| format!(
                    "generation {g}"
                ))
            );
            1
        }
        Err(ApplyError::Failed { error, generation }) => {
            eprintln!(
                "polc apply: {error}; generation {generation} was already current, so there is nothing to revert to (see polc status)"
            );
            1
        }
        Err(ApplyError::RevertFailed { error, revert }) => {
            eprintln!("polc apply: {error}; reverting failed too: {revert}");
            2
        }
    }
}

pub fn run_rollback(args: RollbackArgs) -> u8 {
    if let Some(s) = args.after {
        std::thread::sleep(Duration::from_secs(s));
    }
    match rollback(&args.root, &args.table, args.to, args.if_pending) {
        Ok(r) if r.nothing => {
            eprintln!(
                "polc rollback: table inet {}: generation {} was confirmed or replaced; nothing to do",
                args.table,
                args.if_pending.unwrap_or(0)
            );
            0
        }
        Ok(r) => {
            for s in &r.sysctls {
                eprintln!("polc rollback: restored {s}");
            }
            eprintln!(
                "polc rollback: table inet {}: generation {} reverted; {}",
                args.table,
                r.from.unwrap_or(0),
                r.to.map_or("no policy is installed (table removed)".to_string(), |g| {
                    format!("generation {g} is current and applied")
                })
            );
            0
        }
        Err(e) => {
            eprintln!("polc rollback: {e}");
            2
        }
    }
}

pub fn run_confirm(args: ConfirmArgs) -> u8 {
    match confirm(&args.root, &args.table, args.any_session) {
        Ok(p) => {
            eprintln!(
                "polc confirm: table inet {}: generation {} stays",
                args.table, p.generation
            );
            0
        }
        Err(e) => {
            eprintln!("polc confirm: {e}");
            2
        }
    }
}
