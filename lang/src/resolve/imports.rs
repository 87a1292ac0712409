//! Loading a program: the entry file and, transitively, everything it
//! imports. `std/NAME` comes from the embedded stdlib; any other path is
//! relative to the importing file and must stay inside the root (checked
//! lexically and again after symlinks are resolved). The import graph is a
//! petgraph graph; its cycles are reported with the cycle spelled out.

use super::cycles::find_cycles;
use crate::ast;
use crate::diag::{codes, did_you_mean, Diagnostic, Diagnostics};
use crate::paths::{io_reason, normalize};
use crate::span::{FileId, SourceMap, Span};
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

/// A parsed file of the program.
pub struct LoadedFile {
    pub id: FileId,
    pub ast: ast::File,
    /// Directory relative imports are resolved against (`None` for stdlib).
    pub dir: Option<PathBuf>,
    /// Directory as shown to users (display names of imported files).
    pub display_dir: Option<PathBuf>,
}

/// Every file of the program, entry first.
pub struct Loaded {
    pub files: Vec<LoadedFile>,
    /// Canonical root directory.
    pub root: PathBuf,
    /// The root as shown to users (as given on the command line, or the
    /// entry file's directory as written), so reports do not depend on
    /// where the checkout lives.
    pub root_display: String,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Std(String),
    Path(PathBuf),
}

/// Load `entry` (shown to users as `display`) and all its imports.
pub fn load(
    entry: &Path,
    display: &str,
    root: Option<&Path>,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Option<Loaded> {
    let root_arg = root;
    let canon_entry = match std::fs::canonicalize(entry) {
        Ok(p) => p,
        Err(e) => {
            diags.push(Diagnostic::without_span(
                codes::IO_ERROR,
                display,
                format!("cannot read `{display}`: {}", io_reason(&e)),
            ));
            return None;
        }
    };
    let root = match root {
        Some(r) => match std::fs::canonicalize(r) {
            Ok(r) => r,
            Err(e) => {
                diags.push(Diagnostic::without_span(
                    codes::IO_ERROR,
                    r.display().to_string(),
                    format!(
                        "cannot use `{}` as the root: {}",
                        r.display(),
                        io_reason(&e)
                    ),
                ));
                return None;
            }
        },
        None => canon_entry
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/")),
    };
    if !canon_entry.starts_with(&root) {
        diags.push(Diagnostic::without_span(
            codes::IMPORT_ESCAPES,
            display,
            format!("`{display}` is outside the root `{}`", root.display()),
        ));
        return None;
    }
    let text = match read_text(&canon_entry) {
        Ok(t) => t,
        Err(msg) => {
            diags.push(Diagnostic::without_span(
                codes::IO_ERROR,
                display,
                format!("cannot read `{display}`: {msg}"),
            ));
            return None;
        }
    };
    let display_dir = Path::new(display).parent().map(Path::to_path_buf);
    let dir = canon_entry.parent().map(Path::to_path_buf);
    let root_display = match root_arg {
        Some(r) => r.display().to_string(),
        None => match display_dir.as_ref().map(|d| d.display().to_string()) {
            Some(d) if !d.is_empty() => d,
            _ => ".".to_string(),
        },
    };
    Some(load_all(
        Key::Path(canon_entry),
        display.to_string(),
        text,
        dir,
        display_dir,
        root,
        root_display,
        sources,
        diags,
    ))
}

/// Load an in-memory text named `name` as the entry, with `dir` as both its
/// directory and the root.
pub fn load_text(
    name: &str,
    text: &str,
    dir: PathBuf,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Loaded {
    let root = std::fs::canonicalize(&dir).unwrap_or(dir);
    load_all(
        Key::Path(root.join(name)),
        name.to_string(),
        text.to_string(),
        Some(root.clone()),
        None,
        root,
        ".".to_string(),
        sources,
        diags,
    )
}

#[allow(clippy::too_many_arguments)]
fn load_all(
    key: Key,
    name: String,
    text: String,
    dir: Option<PathBuf>,
    display_dir: Option<PathBuf>,
    root: PathBuf,
    root_display: String,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Loaded {
    let mut loader = Loader {
        sources,
        diags,
        root: root.clone(),
        root_display: root_display.clone(),
        graph: DiGraph::new(),
        nodes: HashMap::new(),
        files: Vec::new(),
    };
    let first = loader.add_file(key, name, text, dir, display_dir);
    let mut queue = vec![first];
    while let Some(idx) = queue.pop() {
        let imports: Vec<ast::Import> = loader.files[idx]
            .ast
            .items
            .iter()
            .filter_map(|i| match i {
                ast::Item::Import(imp) => Some(imp.clone()),
                _ => None,
            })
            .collect();
        for imp in imports {
            if let Some(new) = loader.import(idx, &imp) {
                queue.push(new);
            }
        }
    }
    loader.report_cycles();
    Loaded {
        files: loader.files,
        root,
        root_display,
    }
}

struct Loader<'a> {
    sources: &'a mut SourceMap,
    diags: &'a mut Diagnostics,
    root: PathBuf,
    root_display: String,
    graph: DiGraph<usize, Span>,
    nodes: HashMap<Key, (usize, NodeIndex)>,
    files: Vec<LoadedFile>,
}

impl Loader<'_> {
    fn add_file(
        &mut self,
        key: Key,
        name: String,
        text: String,
        dir: Option<PathBuf>,
        display_dir: Option<PathBuf>,
    ) -> usize {
        let builtin = matches!(key, Key::Std(_));
        let id = self.sources.add(name, text, builtin);
        let (ast, errs) = crate::parse::parse_file(id, self.sources.text(id));
        self.diags.extend(errs);
        let idx = self.files.len();
        self.files.push(LoadedFile {
            id,
            ast,
            dir,
            display_dir,
        });
        let node = self.graph.add_node(idx);
        self.nodes.insert(key, (idx, node));
        idx
    }

    /// Resolve one import of file `from`; returns the index of a newly loaded file.
    fn import(&mut self, from: usize, imp: &ast::Import) -> Option<usize> {
        let path = imp.path.node.as_str();
        let span = imp.path.span;
        let (key, name, dir, display_dir, text) = if let Some(module) = path.strip_prefix("std/") {
            let key = Key::Std(module.to_string());
            if let Some(&(idx, node)) = self.nodes.get(&key) {
                self.edge(from, node, span);
                let _ = idx;
                return None;
            }
            match crate::stdlib::module(module) {
                Some(text) => (key, path.to_string(), None, None, text.to_string()),
                None => {
                    let mut d = Diagnostic::new(
                        codes::UNKNOWN_STD_MODULE,
                        span,
                        format!("there is no stdlib module `{path}`"),
                    )
                    .with_label("not in the stdlib");
                    let names: Vec<String> = crate::stdlib::MODULES
                        .iter()
                        .map(|(n, _)| format!("std/{n}"))
                        .collect();
                    match did_you_mean(path, names.iter().map(String::as_str)) {
                        Some(h) => d = d.with_help(h),
                        None => {
                            let all: Vec<String> = crate::stdlib::MODULES
                                .iter()
                                .map(|(n, _)| format!("std/{n}"))
                                .collect();
                            d = d.with_help(format!("the stdlib has {}", all.join(", ")));
                        }
                    }
                    self.diags.push(d);
                    return None;
                }
            }
        } else {
            let Some(base) = self.files[from].dir.clone() else {
                self.diags.push(Diagnostic::new(
                    codes::IMPORT_NOT_FOUND,
                    span,
                    format!("a stdlib module cannot import `{path}`"),
                ));
                return None;
            };
            if Path::new(path).is_absolute() {
                self.diags.push(
                    Diagnostic::new(
                        codes::IMPORT_ESCAPES,
                        span,
                        format!("import `{path}` is an absolute path"),
                    )
                    .with_label("imports are relative to the importing file")
                    .with_help("write the path relative to this file, inside the root directory"),
                );
                return None;
            }
            let joined = normalize(&base.join(path));
            if !joined.starts_with(&self.root) {
                self.diags.push(self.escapes(span, path));
                return None;
            }
            let canon = match std::fs::canonicalize(&joined) {
                Ok(c) => c,
                Err(e) => {
                    let d = Diagnostic::new(
                        codes::IMPORT_NOT_FOUND,
                        span,
                        format!("cannot find `{path}`"),
                    )
                    .with_label(io_reason(&e))
                    .with_note(format!("looked for `{}`", self.shown(&joined)));
                    self.diags.push(d);
                    return None;
                }
            };
            if !canon.starts_with(&self.root) {
                self.diags.push(
                    self.escapes(span, path)
                        .with_note("a symbolic link leads outside the root"),
                );
                return None;
            }
            let key = Key::Path(canon.clone());
            if let Some(&(_, node)) = self.nodes.get(&key) {
                self.edge(from, node, span);
                return None;
            }
            let text = match read_text(&canon) {
                Ok(t) => t,
                Err(msg) => {
                    self.diags.push(Diagnostic::new(
                        codes::IMPORT_IO,
                        span,
                        format!("cannot read `{path}`: {msg}"),
                    ));
                    return None;
                }
            };
            let display_dir = self.files[from].display_dir.clone();
            let shown = match &display_dir {
                Some(d) => normalize_display(&d.join(path)),
                None => path.to_string(),
            };
            let shown_dir = Path::new(&shown).parent().map(Path::to_path_buf);
            (
                key,
                shown,
                canon.parent().map(Path::to_path_buf),
                shown_dir,
                text,
            )
        };
        let idx = self.add_file(key.clone(), name, text, dir, display_dir);
        let node = self.nodes.get(&key).map(|(_, n)| *n)?;
        self.edge(from, node, span);
        Some(idx)
    }

    fn edge(&mut self, from: usize, to: NodeIndex, span: Span) {
        let Some(&(_, from_node)) = self.nodes.values().find(|(i, _)| *i == from) else {
            return;
        };
        self.graph.add_edge(from_node, to, span);
    }

    fn escapes(&self, span: Span, path: &str) -> Diagnostic {
        Diagnostic::new(
            codes::IMPORT_ESCAPES,
            span,
            format!("import `{path}` escapes the root directory"),
        )
        .with_label("outside the root")
        .with_note(format!("the root is `{}`", self.root_display))
        .with_help("move the file inside the root, or pass a wider `--root DIR`")
    }

    fn shown(&self, p: &Path) -> String {
        p.strip_prefix(&self.root)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| p.display().to_string())
    }

    fn report_cycles(&mut self) {
        for cycle in find_cycles(&self.graph) {
            // cycle: edges (from, to, span) in order.
            let names: Vec<String> = cycle
                .iter()
                .map(|(a, _, _)| self.sources.name(self.files[self.graph[*a]].id).to_string())
                .collect();
            let mut chain = names.join(" → ");
            if let Some(first) = names.first() {
                chain.push_str(" → ");
                chain.push_str(first);
            }
            let Some((_, _, span)) = cycle.last() else {
                continue;
            };
            let mut d = Diagnostic::new(codes::IMPORT_CYCLE, *span, "import cycle")
                .with_label("this import closes the cycle")
                .with_note(format!("cycle: {chain}"));
            for (_, _, sp) in cycle.iter().take(cycle.len().saturating_sub(1)) {
                d = d.with_related(*sp, "imported here");
            }
            self.diags
                .push(d.with_help("move the shared definitions into a file both can import"));
        }
    }
}

fn read_text(p: &Path) -> Result<String, String> {
    let bytes = std::fs::read(p).map_err(|e| io_reason(&e))?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "the file is not UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

fn normalize_display(p: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.last().is_some_and(|l| l != "..") {
                    parts.pop();
                } else {
                    parts.push("..".into());
                }
            }
            Component::RootDir => parts.push(String::new()),
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    parts.join("/")
}
