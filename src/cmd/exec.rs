//! `polc exec FILE GROUP -- CMD [ARG…]`: run CMD under GROUP's policy.
//!
//! The policy file is compiled (front end only) to find the group's
//! selectors; this process then joins the group's cgroup v2 directory
//! (`$POL_CGROUP2/PATH/cgroup.procs`, default /sys/fs/cgroup) and/or its
//! net_cls class (the mounted net_cls hierarchy, `pol/XXXXXXXX`), and execs
//! CMD, which inherits both. A group with only `uid`/`gid` selectors runs
//! CMD as that uid/gid instead. The cgroups must exist (run apply.sh
//! first); nothing is created here.

use crate::cmd::check::compile_options;
use crate::CompileFlags;
use pol_backends::exec::plan;
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
    #[command(flatten)]
    pub compile: CompileFlags,
}

fn join(procs: &str) -> Result<(), String> {
    std::fs::write(procs, format!("{}\n", std::process::id())).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("`{procs}` does not exist: create the cgroups first (apply.sh or cgroups.sh)")
        } else {
            format!("cannot join `{procs}`: {e}")
        }
    })
}

fn net_cls_mount() -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        (w.len() > 3 && w[2] == "cgroup" && w[3].split(',').any(|o| o == "net_cls"))
            .then(|| w[1].to_string())
    })
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
    let result = (|| -> Result<(), String> {
        if let Some(path) = &p.cgroup {
            let root = std::env::var("POL_CGROUP2").unwrap_or_else(|_| "/sys/fs/cgroup".into());
            join(&format!("{root}/{path}/cgroup.procs"))?;
        }
        if let Some((dir, classid)) = &p.net_cls {
            let m = net_cls_mount().ok_or_else(|| format!("no net_cls hierarchy is mounted, needed for class {classid:#x}: run apply.sh (cgroups.sh) first"))?;
            join(&format!("{m}/{dir}/cgroup.procs"))?;
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
    if let Some(g) = p.gid {
        cmd.gid(g);
    }
    if let Some(u) = p.uid {
        cmd.uid(u);
    }
    let err = cmd.exec();
    eprintln!("polc exec: cannot run `{}`: {err}", prog.to_string_lossy());
    127
}
