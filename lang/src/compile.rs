//! The front end's entry points: compile a file (or a text) to the IR with
//! all diagnostics, and resolve a packet description typed on the command
//! line (`polc explain`) against a compiled program.

use crate::ast;
use crate::diag::{codes, Diagnostic, Diagnostics};
use crate::ir;
use crate::matcher::{LimitCap, RunBudget};
use crate::resolve::{self, calls::MatcherOptions};
use crate::span::SourceMap;
use std::path::{Path, PathBuf};

/// Options for [`compile`].
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Imports and matcher paths must stay inside this directory (default:
    /// the entry file's directory).
    pub root: Option<PathBuf>,
    /// Lowers every matcher limit (`--matcher-*` flags).
    pub matcher_cap: LimitCap,
    /// What all matcher work may spend together. Clones share it: give
    /// every compilation of one run the same one.
    pub matcher_budget: RunBudget,
    /// Unsaved editor buffers that stand in for files (`polc lsp`).
    pub overlay: crate::read::Overlay,
}

/// The result of compiling one entry file.
pub struct Compilation {
    pub sources: SourceMap,
    /// Definitions and uses of names (empty when the files did not parse).
    pub symbols: crate::symbols::Symbols,
    /// Present when the front end found no errors.
    pub program: Option<ir::Program>,
    pub diagnostics: Diagnostics,
}

/// Load `entry` and its imports; on failure, the compilation to return.
fn load_entry(
    entry: &Path,
    opts: &CompileOptions,
) -> Result<(resolve::imports::Loaded, SourceMap, Diagnostics), Box<Compilation>> {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let display = entry.display().to_string();
    match resolve::imports::load(
        entry,
        &display,
        opts.root.as_deref(),
        &opts.overlay,
        &mut sources,
        &mut diags,
    ) {
        Some(loaded) => Ok((loaded, sources, diags)),
        None => Err(Box::new(Compilation {
            sources,
            symbols: crate::symbols::Symbols::default(),
            program: None,
            diagnostics: diags,
        })),
    }
}

/// Compile `entry` and everything it imports.
pub fn compile(entry: &Path, opts: &CompileOptions) -> Compilation {
    match load_entry(entry, opts) {
        Ok((loaded, sources, diags)) => finish(loaded, sources, diags, opts, None).0,
        Err(failed) => *failed,
    }
}

/// Compile a text as if it were a file named `name` in the current
/// directory (which is also the root). For tests and tools.
pub fn compile_source(name: &str, text: &str) -> Compilation {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let loaded = resolve::imports::load_text(name, text, dir, &mut sources, &mut diags);
    finish(loaded, sources, diags, &CompileOptions::default(), None).0
}

fn finish(
    loaded: resolve::imports::Loaded,
    mut sources: SourceMap,
    mut diags: Diagnostics,
    opts: &CompileOptions,
    packet: Option<&ast::PacketSpec>,
) -> (Compilation, Option<ir::Match>) {
    // INVARIANT: the resolver only sees files that loaded and parsed
    // cleanly; after a syntax error the tree holds placeholders whose
    // "errors" would only be noise.
    if diags.has_errors() {
        diags.sort_dedup();
        return (
            Compilation {
                sources,
                symbols: crate::symbols::Symbols::default(),
                program: None,
                diagnostics: diags,
            },
            None,
        );
    }
    let syntax_errors = false;
    let (program, more, m, symbols) = resolve::resolve(
        &loaded,
        &mut sources,
        &MatcherOptions {
            cap: opts.matcher_cap,
            budget: opts.matcher_budget.clone(),
        },
        packet,
    );
    diags.extend(more);
    diags.sort_dedup();
    let program = if syntax_errors || diags.has_errors() {
        None
    } else {
        program
    };
    (
        Compilation {
            sources,
            symbols,
            program,
            diagnostics: diags,
        },
        m,
    )
}

/// Compile `entry` and resolve a packet description against its names
/// (`browser to 192.0.2.1 tcp 443`, the words after `expect allow`), for
/// `polc explain`. The description is shown in diagnostics as `<packet>`.
/// A packet description typed on the command line, resolved.
pub struct PacketQuery {
    pub matches: ir::Match,
    /// The policy named with `in POLICY`, if the description had one.
    pub policy: Option<String>,
}

pub fn compile_with_packet(
    entry: &Path,
    opts: &CompileOptions,
    packet: &str,
) -> (Compilation, Option<PacketQuery>) {
    let (loaded, mut sources, mut diags) = match load_entry(entry, opts) {
        Ok(l) => l,
        Err(failed) => return (*failed, None),
    };
    // The packet takes exactly the syntax of an `expect` in a test.
    let id = sources.add("<packet>", packet.to_string(), true);
    let (spec, policy) = match crate::parse::parse_packet_query(id, sources.text(id)) {
        Ok((spec, policy)) => (spec, policy.map(|p| p.node)),
        Err(errs) => {
            diags.extend(errs.into_iter().map(|mut d| {
                if d.code == codes::UNEXPECTED_EOF {
                    d.message = "the packet description ends early".into();
                    d.help = Some("complete it: `GROUP to ADDRESS PROTOCOL PORT`, as after `expect allow` in a test".into());
                }
                d
            }));
            return (
                Compilation {
                    sources,
                    symbols: crate::symbols::Symbols::default(),
                    program: None,
                    diagnostics: diags,
                },
                None,
            );
        }
    };
    let (c, m) = finish(loaded, sources, diags, opts, Some(&spec));
    (c, m.map(|matches| PacketQuery { matches, policy }))
}

/// The load-level report of several entry files that share one root (the
/// `.pol` files of a directory): every file read and parsed once, every
/// import cycle reported once.
pub struct SharedLoad {
    pub sources: SourceMap,
    pub diagnostics: Diagnostics,
    /// Per entry: whether it is worth compiling on its own.
    pub states: Vec<resolve::imports::EntryState>,
}

/// Load `entries` together (see [`resolve::imports::load_many`]). Compile
/// the [`Clean`](resolve::imports::EntryState::Clean) ones with
/// [`compile`]; the others' problems are all in this report.
pub fn load_entries(entries: &[PathBuf], opts: &CompileOptions) -> SharedLoad {
    let mut sources = SourceMap::new();
    let mut diagnostics = Diagnostics::new();
    let named: Vec<(PathBuf, String)> = entries
        .iter()
        .map(|p| (p.clone(), p.display().to_string()))
        .collect();
    let states = resolve::imports::load_many(
        &named,
        opts.root.as_deref(),
        &opts.overlay,
        &mut sources,
        &mut diagnostics,
    );
    diagnostics.sort_dedup();
    SharedLoad {
        sources,
        diagnostics,
        states,
    }
}

/// A diagnostic for a path given on the command line that cannot be used.
pub fn io_diagnostic(path: &Path, message: impl Into<String>) -> Diagnostic {
    Diagnostic::without_span(codes::IO_ERROR, path.display().to_string(), message)
}
