//! `polc status [DIR] [--table T] [--root ROOT]`: does the live host run
//! what DIR sets up (`pol_host::status`)? DIR is a build directory or an
//! installed generation; without it, the table's current generation under
//! ROOT. Prints what was compared, each drift, the proof, observations.
//! Exit 0 clean, 1 drift, 2 when it cannot tell (the message says why).

use pol_host::layout::Layout;
use pol_host::status::status;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A build directory or an installed generation (default: the table's current generation)
    pub dir: Option<PathBuf>,
    /// The table whose current generation to use when DIR is not given
    #[arg(long, default_value = "pol")]
    pub table: String,
    /// Where the generations are (with DIR absent)
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
}

pub fn run(args: Args) -> u8 {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            let link = Layout::new(&args.root, &args.table).current_link();
            if std::fs::symlink_metadata(&link).is_err() {
                eprintln!(
                    "polc status: table inet {} has no installed generation (no `{}`): give a build directory",
                    args.table,
                    link.display()
                );
                return 2;
            }
            link
        }
    };
    let r = match status(&dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("polc status: {e}");
            return 2;
        }
    };
    let generation = match &args.dir {
        None => pol_host::generations::current(&Layout::new(&args.root, &args.table))
            .ok()
            .flatten()
            .map(|n| format!(" (generation {n})"))
            .unwrap_or_default(),
        Some(_) => String::new(),
    };
    println!(
        "table inet {} against {}{generation}",
        r.table,
        dir.display()
    );
    for c in &r.checked {
        println!("checked: {c}");
    }
    for d in &r.drift {
        println!("drift: {}: {}", d.what, d.detail);
    }
    for p in &r.proof {
        println!("{p}");
    }
    for o in &r.observations {
        println!("observed: {o}");
    }
    if r.clean() {
        println!("status: clean");
        0
    } else {
        println!("status: drift ({} item(s))", r.drift.len());
        1
    }
}
