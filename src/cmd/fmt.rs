//! `polc fmt FILE… [--check]`: rewrite files in canonical layout (comments
//! kept), or with `--check` only report which files would change. A file
//! with syntax errors is never rewritten.

use crate::report::{self, Format, Part};
use pol_lang::diag::Diagnostics;
use pol_lang::span::SourceMap;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files (or directories of .pol files) to format
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Do not write; exit 1 if any file is not formatted
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: Args) -> u8 {
    let inputs = match super::check::entry_files(&args.files) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let mut status = 0u8;
    if !inputs.refused.is_empty() {
        let sources = SourceMap::new();
        eprint!(
            "{}",
            report::render(
                &[Part {
                    diags: &inputs.refused,
                    sources: &sources
                }],
                Format::Human,
                false
            )
        );
        status = 2;
    }
    for path in inputs.files() {
        let path = path.clone();
        let shown = path.display().to_string();
        if let Some(c) = pol_lang::read::forbidden_char(&shown) {
            eprintln!(
                "error: cannot read `{}`: the file name contains the control character `{}`",
                pol_lang::read::escaped_name(&shown),
                c.escape_default()
            );
            status = 2;
            continue;
        }
        let text = match pol_lang::read::read_source(&path, false) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read `{shown}`: {}", e.reason());
                status = 2;
                continue;
            }
        };
        let mut sources = SourceMap::new();
        let id = sources.add(path.display().to_string(), text.clone(), false);
        let (ast, errs) = pol_lang::parse::parse_file(id, &text);
        if !errs.is_empty() {
            let diags: Diagnostics = errs.into_iter().collect();
            eprint!(
                "{}",
                report::render(
                    &[Part {
                        diags: &diags,
                        sources: &sources
                    }],
                    Format::Human,
                    false
                )
            );
            status = status.max(1);
            continue;
        }
        let formatted = pol_lang::fmt::format_file(&ast, &text);
        if formatted == text {
            continue;
        }
        if args.check {
            crate::out::println(&format!("would reformat {}", path.display()));
            status = status.max(1);
        } else if let Err(e) = write_atomically(&path, &formatted) {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            status = 2;
        } else {
            crate::out::println(&format!("formatted {}", path.display()));
        }
    }
    status
}

/// Replace a file's contents via a temporary file and a rename, so an
/// interrupted run never leaves half a policy behind.
fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
    }
    tmp.persist(path).map(|_| ()).map_err(|e| e.error)
}
