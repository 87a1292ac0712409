//! `polc install DIR [--root ROOT] [--keep N]`: install a build directory
//! as the current generation of its table, with its boot unit enabled
//! (`pol_host::install`). Exit 0 installed (or already current), 2 when
//! nothing could be installed (the message says why).

use pol_host::install::{install, Enabled, InstallOptions};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The build directory (`polc build -o DIR`)
    pub dir: PathBuf,
    /// Install under this directory instead of `/` (an image, a test); the running system is not touched
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    /// How many generations to keep (the current and the previous one always stay)
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(2..))]
    pub keep: u64,
}

pub fn run(args: Args) -> u8 {
    let opts = InstallOptions {
        keep: usize::try_from(args.keep).unwrap_or(usize::MAX),
    };
    let done = match install(&args.dir, &args.root, &opts) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("polc install: {e}; nothing changed");
            return 2;
        }
    };
    let gen_dir = pol_host::generations::dir(
        &pol_host::layout::Layout::new(&args.root, &done.table),
        done.generation,
    );
    if done.changed {
        eprintln!(
            "polc install: table inet {}: generation {} is current ({}){}",
            done.table,
            done.generation,
            gen_dir.display(),
            match done.previous {
                Some(p) if p != done.generation => format!(", previous {p}"),
                _ => String::new(),
            }
        );
    } else {
        eprintln!(
            "polc install: table inet {}: generation {} is already current; nothing changed",
            done.table, done.generation
        );
    }
    for p in &done.etc.written {
        eprintln!("polc install: wrote {}", p.display());
    }
    for p in &done.etc.removed {
        eprintln!("polc install: removed {}", p.display());
    }
    for n in &done.pruned {
        eprintln!("polc install: removed old generation {n}");
    }
    match &done.enabled {
        Enabled::Systemctl(text) => {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                eprintln!("polc install: systemctl: {line}");
            }
        }
        Enabled::NoSystemd => eprintln!(
            "polc install: no systemctl: the boot unit is not enabled; have your init run `sh {}/apply.sh` at boot",
            pol_backends::host_paths::current(&done.table)
        ),
    }
    0
}
