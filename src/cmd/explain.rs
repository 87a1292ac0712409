//! `polc explain`.

#[derive(clap::Args, Debug)]
pub struct Args {
    pub file: std::path::PathBuf,
}

pub fn run(args: Args) -> u8 {
    eprintln!("polc explain: not available yet ({})", args.file.display());
    2
}
