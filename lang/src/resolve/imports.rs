//! Loading a program: the entry file and, transitively, everything it
//! imports. `std/NAME` comes from the embedded stdlib; any other path is
//! relative to the importing file and must stay inside the root (checked
//! lexically and again after symlinks are resolved). Files are read with
//! `crate::read` (regular files only, bounded size), names with control
//! characters are refused, and one entry loads at most
//! `read::MAX_IMPORTED_FILES` files. The import graph is a petgraph graph;
//! each of its cycles is reported once, spelled from its lexicographically
//! first file, at the import that closes it.
//!
//! [`load_many`] loads the entries of a directory into one graph (each file
//! read and parsed once, each cycle reported once) and says which entries
//! are clean enough to be compiled on their own.

use super::cycles::find_cycles_by;
use crate::ast;
use crate::diag::{codes, did_you_mean, Diagnostic, Diagnostics};
use crate::paths::{io_reason, normalize};
use crate::read::{self, ReadError};
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
    overlay: &read::Overlay,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Option<Loaded> {
    let canon_entry = resolve_entry(entry, display, diags)?;
    let root = entry_root(entry, &canon_entry, root, diags)?;
    if !confined(&canon_entry, display, &root, diags) {
        return None;
    }
    let text = read_entry(&canon_entry, display, overlay, diags)?;
    let display_dir = Path::new(display).parent().map(Path::to_path_buf);
    let dir = canon_entry.parent().map(Path::to_path_buf);
    let root_display = root_shown(root.arg, display_dir.as_deref());
    let mut loader = Loader::new(
        sources,
        diags,
        root.canon.clone(),
        root_display.clone(),
        0,
        overlay.clone(),
    );
    loader.add_file(
        Key::Path(canon_entry),
        display.to_string(),
        text,
        dir,
        display_dir,
    );
    loader.run(vec![0]);
    Some(Loaded {
        files: loader.files,
        root: root.canon,
        root_display,
    })
}

/// What [`load_many`] found for each entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryState {
    /// The entry could not be read (reported).
    Unread,
    /// The entry or a file it imports has an error, or it reaches an
    /// import cycle (all reported): compiling it alone adds nothing.
    Broken,
    /// Loaded cleanly: compile it as a program of its own.
    Clean,
}

/// Load several entry files (`(path, display)`) sharing one root into one
/// import graph: each file is read and parsed once, and each import cycle
/// is reported once whichever entries reach it. `root` defaults to the
/// first entry's directory (as written).
pub fn load_many(
    entries: &[(PathBuf, String)],
    root: Option<&Path>,
    overlay: &read::Overlay,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Vec<EntryState> {
    let mut states = vec![EntryState::Unread; entries.len()];
    let resolved: Vec<(usize, PathBuf)> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, (path, display))| Some((i, resolve_entry(path, display, diags)?)))
        .collect();
    let Some((first, first_canon)) = resolved.first() else {
        return states;
    };
    let Some(root) = entry_root(&entries[*first].0, first_canon, root, diags) else {
        return states;
    };
    let first_display_dir = Path::new(&entries[*first].1)
        .parent()
        .map(Path::to_path_buf);
    let root_display = root_shown(root.arg, first_display_dir.as_deref());
    let mut opened: Vec<(usize, PathBuf, String)> = Vec::new();
    for (i, canon) in resolved {
        let display = &entries[i].1;
        if !confined(&canon, display, &root, diags) {
            continue;
        }
        if let Some(text) = read_entry(&canon, display, overlay, diags) {
            opened.push((i, canon, text));
        }
    }
    let mut loader = Loader::new(
        sources,
        diags,
        root.canon.clone(),
        root_display,
        opened.len(),
        overlay.clone(),
    );
    // (entry index, file index)
    let mut entry_files: Vec<(usize, usize)> = Vec::new();
    for (i, canon, text) in opened {
        let display = entries[i].1.clone();
        let key = Key::Path(canon.clone());
        if let Some(&(fi, _)) = loader.nodes.get(&key) {
            // The same file twice (a link inside the directory).
            entry_files.push((i, fi));
            continue;
        }
        let display_dir = Path::new(&display).parent().map(Path::to_path_buf);
        let dir = canon.parent().map(Path::to_path_buf);
        let fi = loader.add_file(key, display, text, dir, display_dir);
        entry_files.push((i, fi));
    }
    loader.run(entry_files.iter().map(|&(_, fi)| fi).collect());
    let broken = loader.broken_files();
    for (i, fi) in entry_files {
        states[i] = if broken.get(fi).copied().unwrap_or(true) {
            EntryState::Broken
        } else {
            EntryState::Clean
        };
    }
    states
}

/// The root of a load: canonical, and whether the user gave it.
struct Root<'a> {
    canon: PathBuf,
    arg: Option<&'a Path>,
}

/// `--root` when given; else the entry's directory *as written* (so an
/// entry that is a symbolic link out of its directory is refused, as an
/// import would be), falling back to the target's directory.
fn entry_root<'a>(
    entry: &Path,
    canon_entry: &Path,
    arg: Option<&'a Path>,
    diags: &mut Diagnostics,
) -> Option<Root<'a>> {
    let canon = match arg {
        Some(r) => canonical_root(r, diags)?,
        None => {
            let written = match entry.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            match std::fs::canonicalize(written) {
                Ok(d) => d,
                Err(_) => canon_entry
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("/")),
            }
        }
    };
    Some(Root { canon, arg })
}

/// Whether the entry lies inside the root (reported when not).
fn confined(canon_entry: &Path, display: &str, root: &Root<'_>, diags: &mut Diagnostics) -> bool {
    if canon_entry.starts_with(&root.canon) {
        return true;
    }
    diags.push(match root.arg {
        Some(_) => Diagnostic::without_span(
            codes::IMPORT_ESCAPES,
            display,
            format!("`{display}` is outside the root `{}`", root.canon.display()),
        ),
        None => Diagnostic::without_span(
            codes::INPUT_ESCAPES,
            display,
            format!(
                "not reading `{display}`: it is a symbolic link that leads outside its directory"
            ),
        )
        .with_help("name the file itself, or pass `--root DIR` to allow the link's target"),
    });
    false
}

/// Check an entry's name and resolve it.
fn resolve_entry(entry: &Path, display: &str, diags: &mut Diagnostics) -> Option<PathBuf> {
    if let Some(c) = read::forbidden_char(display) {
        let shown = read::escaped_name(display);
        diags.push(Diagnostic::without_span(
            codes::IO_ERROR,
            shown.as_str(),
            format!(
                "cannot read `{shown}`: the file name contains the control character `{}`",
                c.escape_default()
            ),
        ));
        return None;
    }
    match std::fs::canonicalize(entry) {
        Ok(p) => Some(p),
        Err(e) => {
            diags.push(Diagnostic::without_span(
                codes::IO_ERROR,
                display,
                format!("cannot read `{display}`: {}", io_reason(&e)),
            ));
            None
        }
    }
}

/// Read a resolved entry.
fn read_entry(
    canon_entry: &Path,
    display: &str,
    overlay: &read::Overlay,
    diags: &mut Diagnostics,
) -> Option<String> {
    match read::read_source_overlaid(canon_entry, overlay) {
        Ok(t) => Some(t),
        Err(e) => {
            let code = match e {
                ReadError::NotRegular(_) => codes::INPUT_NOT_REGULAR,
                ReadError::TooLarge { .. } => codes::INPUT_TOO_LARGE,
                ReadError::Io(_) | ReadError::NotUtf8 { .. } => codes::IO_ERROR,
            };
            diags.push(Diagnostic::without_span(
                code,
                display,
                format!("cannot read `{display}`: {}", e.reason()),
            ));
            None
        }
    }
}

fn canonical_root(r: &Path, diags: &mut Diagnostics) -> Option<PathBuf> {
    match std::fs::canonicalize(r) {
        Ok(r) => Some(r),
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
            None
        }
    }
}

fn root_shown(root_arg: Option<&Path>, display_dir: Option<&Path>) -> String {
    match root_arg {
        Some(r) => r.display().to_string(),
        None => match display_dir.map(|d| d.display().to_string()) {
            Some(d) if !d.is_empty() => d,
            _ => ".".to_string(),
        },
    }
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
    let mut loader = Loader::new(
        sources,
        diags,
        root.clone(),
        root_display.clone(),
        0,
        read::Overlay::default(),
    );
    let first = loader.add_file(key, name, text, dir, display_dir);
    loader.run(vec![first]);
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
    /// The graph node of each file, by file index.
    node_of: Vec<NodeIndex>,
    files: Vec<LoadedFile>,
    /// Most files this load may hold: the entries plus
    /// `read::MAX_IMPORTED_FILES`.
    max_files: usize,
    /// The import that went past `max_files` (reported once).
    over_limit: bool,
    /// Unsaved texts that stand in for files.
    overlay: read::Overlay,
}

impl<'a> Loader<'a> {
    fn new(
        sources: &'a mut SourceMap,
        diags: &'a mut Diagnostics,
        root: PathBuf,
        root_display: String,
        entries: usize,
        overlay: read::Overlay,
    ) -> Loader<'a> {
        Loader {
            sources,
            diags,
            root,
            root_display,
            graph: DiGraph::new(),
            nodes: HashMap::new(),
            node_of: Vec::new(),
            files: Vec::new(),
            max_files: entries.max(1).saturating_add(read::MAX_IMPORTED_FILES),
            over_limit: false,
            overlay,
        }
    }

    /// Follow the imports of the files in `queue`, transitively; then
    /// report the cycles.
    fn run(&mut self, mut queue: Vec<usize>) {
        queue.reverse();
        while let Some(idx) = queue.pop() {
            let imports: Vec<ast::Import> = self.files[idx]
                .ast
                .items
                .iter()
                .filter_map(|i| match i {
                    ast::Item::Import(imp) => Some(imp.clone()),
                    _ => None,
                })
                .collect();
            for imp in imports {
                if let Some(new) = self.import(idx, &imp) {
                    queue.push(new);
                }
            }
        }
        self.report_cycles();
    }

    /// Per file: it has an error, lies on an import cycle, or imports
    /// (transitively) a file that does. Linear: one pass over the
    /// components in dependency order.
    fn broken_files(&self) -> Vec<bool> {
        let mut own = vec![false; self.files.len()];
        let by_id: HashMap<FileId, usize> = self
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.id, i))
            .collect();
        for d in self.diags.iter() {
            if d.severity != crate::diag::Severity::Error {
                continue;
            }
            if let Some(&fi) = d.primary.and_then(|p| by_id.get(&p.file)) {
                own[fi] = true;
            }
        }
        let mut broken = vec![false; self.files.len()];
        // tarjan_scc lists a component after every component it reaches.
        for scc in petgraph::algo::tarjan_scc(&self.graph) {
            let cyclic =
                scc.len() > 1 || scc.iter().any(|&n| self.graph.neighbors(n).any(|t| t == n));
            let bad = cyclic
                || scc.iter().any(|&n| {
                    own[self.graph[n]] || self.graph.neighbors(n).any(|t| broken[self.graph[t]])
                });
            for n in scc {
                broken[self.graph[n]] = bad;
            }
        }
        broken
    }

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
        if let Key::Path(p) = &key {
            self.sources.set_path(id, p.clone());
        }
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
        self.node_of.push(node);
        idx
    }

    /// Resolve one import of file `from`; returns the index of a newly loaded file.
    fn import(&mut self, from: usize, imp: &ast::Import) -> Option<usize> {
        let path = imp.path.node.as_str();
        let span = imp.path.span;
        if let Some(c) = read::forbidden_char(path) {
            self.diags.push(control_char(span, "import", path, c));
            return None;
        }
        let (key, name, dir, display_dir, text) = if let Some(module) = path.strip_prefix("std/") {
            let key = Key::Std(module.to_string());
            if let Some(&(idx, node)) = self.nodes.get(&key) {
                self.edge(from, node, span);
                let _ = idx;
                return None;
            }
            match crate::stdlib::module(module) {
                Some(_) if !self.room_for_one_more(span) => return None,
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
            if !self.room_for_one_more(span) {
                return None;
            }
            let text = match read::read_source_overlaid(&canon, &self.overlay) {
                Ok(t) => t,
                Err(e) => {
                    let code = match e {
                        ReadError::NotRegular(_) => codes::NOT_REGULAR_FILE,
                        ReadError::TooLarge { .. } => codes::FILE_TOO_LARGE,
                        ReadError::Io(_) | ReadError::NotUtf8 { .. } => codes::IMPORT_IO,
                    };
                    self.diags.push(
                        Diagnostic::new(
                            code,
                            span,
                            format!("cannot read `{path}`: {}", e.reason()),
                        )
                        .with_label(match e {
                            ReadError::NotRegular(_) => "only regular files can be imported",
                            ReadError::TooLarge { .. } => "too large to be a policy",
                            _ => "cannot be read",
                        }),
                    );
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
        let Some(&from_node) = self.node_of.get(from) else {
            return;
        };
        self.graph.add_edge(from_node, to, span);
    }

    /// Whether one more file may be loaded; the first import past the
    /// limit is reported (once: loading stops there).
    fn room_for_one_more(&mut self, span: Span) -> bool {
        if self.files.len() < self.max_files {
            return true;
        }
        if !self.over_limit {
            self.over_limit = true;
            self.diags.push(
                Diagnostic::new(
                    codes::TOO_MANY_FILES,
                    span,
                    format!(
                        "too many imported files: more than {}",
                        read::MAX_IMPORTED_FILES
                    ),
                )
                .with_label("this import is one too many")
                .with_note("no further imports were loaded"),
            );
        }
        false
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
        // Spelled from the file with the smallest name, so a cycle reads
        // (and is deduplicated) the same whichever entry reached it.
        let names: Vec<String> = self
            .files
            .iter()
            .map(|f| self.sources.name(f.id).to_string())
            .collect();
        let graph = &self.graph;
        let cycles = find_cycles_by(graph, |n| names[graph[n]].as_str());
        for cycle in cycles {
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

/// An import or matcher path with a control character: `what` is `import`
/// or `matcher path`.
pub fn control_char(span: Span, what: &str, path: &str, c: char) -> Diagnostic {
    Diagnostic::new(
        codes::CONTROL_IN_PATH,
        span,
        format!(
            "{what} `{}` contains the control character `{}`",
            read::escaped_name(path),
            c.escape_default()
        ),
    )
    .with_label("control character in a file name")
    .with_help("rename the file: file names polc reads may not contain control characters")
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
