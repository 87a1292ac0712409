//! `polc exec FILE GROUP -- CMD [ARG…]`: run CMD under GROUP's policy.
//!
//! The policy file is compiled (front end only) to find the group's
//! selectors; this process then joins the group's cgroup v2 directory
//! (`$POL_CGROUP2/PATH/cgroup.procs`, default /sys/fs/cgroup) and/or its
//! net_cls class (the mounted net_cls hierarchy, `pol/XXXXXXXX`), and execs
//! CMD, which inherits both. A group with only `uid`/`gid` selectors runs
//! CMD with those credentials instead (`pol_backends::exec`: never root's
//! gid or groups by accident).
//!
//! A `cgroup` group's directory is created when missing (`mkdir -p`), and
//! after joining, the cgroup's current id is added to every set and map of
//! `table inet TABLE` keyed by its path (`nft -f -`, `$NFT` or `nft`): so a
//! process that enters the group here is matched even when the directory
//! was removed and created again (by anyone) since the ruleset loaded. A
//! `unit`/`slice` group's cgroup is systemd's: it must exist. The net_cls
//! class must exist (run apply.sh first). A directory that is not a cgroup
//! is an error (`pol_backends::join`), never a silent run outside it.

use crate::cmd::check::compile_options;
use crate::CompileFlags;
use pol_backends::exec::plan;
use pol_backends::join::{is_root, join, Hierarchy};
use pol_lang::ir::CgroupPath;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The policy file that defines the group
    pub file: PathBuf,
    /// The group to run the command in
    pub group: String,
    /// The command and its arguments (after `--`)
    #[arg(last = true, required = true)]
    pub command: Vec<OsString>,
    /// The nft table the policy is loaded as (as `polc build --table`)
    #[arg(long, default_value = "pol")]
    pub table: String,
    #[command(flatten)]
    pub compile: CompileFlags,
}

/// Add the cgroup's current id to the policy's sets (one nft transaction).
fn refresh(commands: &[String], table: &str) -> Result<(), String> {
    use std::io::Write;
    if commands.is_empty() {
        return Ok(());
    }
    let nft = std::env::var_os("NFT").unwrap_or_else(|| "nft".into());
    let mut child = std::process::Command::new(&nft)
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{}`: {e}", nft.to_string_lossy()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let text = commands.join("\n") + "\n";
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("cannot talk to nft: {e}"))?;
    }
    let status = child.wait().map_err(|e| format!("nft: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cannot add the group's cgroup to the sets of table inet {table}: is the policy loaded (apply.sh)?"))
    }
}

pub fn run(args: Args) -> u8 {
    let c = pol_lang::compile(&args.file, &compile_options(&args.compile));
    let Some(program) = &c.program else {
        let part = crate::report::Part {
            diags: &c.diagnostics,
            sources: &c.sources,
        };
        eprint!(
            "{}",
            crate::report::render(
                &[part],
                crate::report::Format::Human,
                crate::report::use_color()
            )
        );
        if crate::cmd::check::input_failed(std::iter::once(&c.diagnostics)) {
            eprintln!("polc exec: cannot read `{}`", args.file.display());
            return 2;
        }
        eprintln!("polc exec: `{}` does not compile", args.file.display());
        return 1;
    };
    let p = match plan(program, &args.group) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("polc exec: {e}");
            return 2;
        }
    };
    let creds = p.credentials(&std::fs::read_to_string("/etc/passwd").unwrap_or_default());
    if let Some(c) = creds {
        if !is_root() {
            eprintln!(
                "polc exec: must run as root to run the command as uid {} gid {} (group `{}`)",
                c.uid, c.gid, args.group
            );
            return 2;
        }
    }
    let result = (|| -> Result<(), String> {
        if let Some(path) = &p.cgroup {
            let root = std::env::var_os("POL_CGROUP2").unwrap_or_else(|| "/sys/fs/cgroup".into());
            let cg = CgroupPath::parse(path).map_err(|e| format!("cgroup `{path}`: {e}"))?;
            let dir = PathBuf::from(root).join(path);
            if !program.systemd_creates(&cg) {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("cannot create the cgroup `{}`: {e}", dir.display()))?;
            }
            join(&dir.join("cgroup.procs"), Hierarchy::V2)?;
            let opts = pol_backends::BuildOptions {
                table: args.table.clone(),
                ..pol_backends::BuildOptions::default()
            };
            let cmds = pol_backends::refresh::commands_for(program, &c.sources, &opts, &cg);
            refresh(&cmds, &args.table)?;
        }
        if let Some((dir, classid)) = &p.net_cls {
            let mounts = std::fs::read("/proc/self/mounts")
                .map_err(|e| format!("cannot read /proc/self/mounts: {e}"))?;
            let m = pol_backends::mounts::net_cls(&mounts).ok_or_else(|| format!("no net_cls hierarchy is mounted, needed for class {classid:#x}: run apply.sh (cgroups.sh) first"))?;
            join(&m.join(dir).join("cgroup.procs"), Hierarchy::V1)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        eprintln!("polc exec: {e}");
        return 2;
    }
    let Some((prog, rest)) = args.command.split_first() else {
        return 2;
    };
    let mut cmd = std::process::Command::new(prog);
    cmd.args(rest);
    if let Some(c) = creds {
        // Setting the uid makes std drop the supplementary groups
        // (setgroups(0)) before setgid/setuid; tests/exec_kernel.rs checks.
        cmd.gid(c.gid).uid(c.uid);
    }
    let err = cmd.exec();
    eprintln!("polc exec: cannot run `{}`: {err}", prog.to_string_lossy());
    127
}
