//! The server: open documents, their analyses, and the requests.
//!
//! Every open document is an entry point, compiled (front end) with every
//! open document's unsaved text standing in for its file
//! (`CompileOptions::overlay`). An entry remembers the files it loaded, so
//! an edit to a file re-checks every open entry that imports it, and a
//! document's diagnostics are those located in it from every entry that
//! loaded it — only from its importers when another open document imports
//! it (alone it may lack names they define). Changes are batched: queued messages are read before a
//! compilation starts, and a request is answered from a fresh analysis.
//!
//! The verifier runs on open and save, on a thread of its own
//! (`crate::worker`): typing never waits for it, its findings are
//! published with the front end's when they arrive, and findings for a text
//! that has changed since are dropped.

use crate::convert;
use crate::text::{apply_change, Encoding, LineIndex};
use crate::transport::{Incoming, Outgoing};
use crate::worker::{Done, Job};
use crossbeam_channel::{select, Receiver, Sender};
use lsp_server::{ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::{Position, Range, Uri};
use pol_lang::diag::Diagnostic;
use pol_lang::span::{FileId, SourceMap};
use pol_lang::{Compilation, CompileOptions};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

struct Doc {
    text: String,
    version: i32,
    /// Canonical path (`None`: not a file on disk, e.g. `untitled:`).
    path: Option<PathBuf>,
}

#[derive(Default)]
struct Entry {
    analysis: Option<Arc<Compilation>>,
    /// Canonical paths of every file the last compilation loaded.
    files: HashSet<PathBuf>,
    /// Bumped at each compilation; findings carry the one they are for.
    generation: u64,
    dirty: bool,
    verify_wanted: bool,
    findings: Option<(u64, Vec<Diagnostic>)>,
}

enum State {
    Uninitialized,
    Running,
    ShutDown,
}

pub struct Server {
    out: Sender<Outgoing>,
    jobs: Sender<Job>,
    enc: Encoding,
    state: State,
    docs: BTreeMap<String, (Uri, Doc)>,
    entries: HashMap<String, Entry>,
    /// Diagnostics last published per document, to skip identical ones.
    published: HashMap<String, Value>,
}

/// How the loop ended.
pub enum Exit {
    /// `exit` after `shutdown`.
    Clean,
    /// `exit` without `shutdown`, or the input closed.
    Unclean,
}

impl Server {
    pub fn new(out: Sender<Outgoing>, jobs: Sender<Job>) -> Self {
        Server {
            out,
            jobs,
            enc: Encoding::Utf16,
            state: State::Uninitialized,
            docs: BTreeMap::new(),
            entries: HashMap::new(),
            published: HashMap::new(),
        }
    }

    fn send(&self, m: Message) {
        let _ = self.out.send(Outgoing::Message(m));
    }

    fn reply(&self, id: RequestId, result: Value) {
        self.send(Message::Response(Response::new_ok(id, result)));
    }

    fn reply_err(&self, id: RequestId, code: i32, message: impl Into<String>) {
        self.send(Message::Response(Response::new_err(
            id,
            code,
            message.into(),
        )));
    }

    fn notify(&self, method: &str, params: Value) {
        self.send(Message::Notification(Notification::new(
            method.into(),
            params,
        )));
    }

    /// Serve until `exit` or the end of input.
    pub fn run(mut self, input: &Receiver<Incoming>, done: &Receiver<Done>) -> Exit {
        loop {
            let first = select! {
                recv(input) -> m => match m {
                    Ok(m) => Some(m),
                    Err(_) => return Exit::Unclean,
                },
                recv(done) -> d => {
                    if let Ok(d) = d {
                        self.findings_arrived(d);
                    }
                    None
                }
            };
            let mut batch: Vec<Incoming> = first.into_iter().collect();
            // Batch what is already queued: one compilation for a burst of
            // keystrokes.
            while let Ok(m) = input.try_recv() {
                batch.push(m);
            }
            for m in batch {
                if let Some(exit) = self.handle(m) {
                    return exit;
                }
            }
            self.flush();
        }
    }

    fn handle(&mut self, m: Incoming) -> Option<Exit> {
        match m {
            Incoming::Malformed { id, code, message } => {
                let _ = self.out.send(Outgoing::Error { id, code, message });
            }
            Incoming::Message(Message::Request(r)) => self.request(r),
            Incoming::Message(Message::Notification(n)) => return self.notification(n),
            Incoming::Message(Message::Response(_)) => {}
        }
        None
    }

    fn request(&mut self, r: Request) {
        match (&self.state, r.method.as_str()) {
            (State::Uninitialized, "initialize") => {
                let result = self.initialize(&r.params);
                self.state = State::Running;
                self.reply(r.id, result);
            }
            (State::Uninitialized, _) => self.reply_err(
                r.id,
                ErrorCode::ServerNotInitialized as i32,
                "the server is not initialized",
            ),
            (State::ShutDown, _) => self.reply_err(
                r.id,
                ErrorCode::InvalidRequest as i32,
                "the server is shut down",
            ),
            (State::Running, "initialize") => self.reply_err(
                r.id,
                ErrorCode::InvalidRequest as i32,
                "initialize was already received",
            ),
            (State::Running, "shutdown") => {
                self.state = State::ShutDown;
                self.reply(r.id, Value::Null);
            }
            (State::Running, method) => {
                // Answer from the current text.
                self.flush();
                let method = method.to_string();
                let result = match method.as_str() {
                    "textDocument/definition" => self.definition(&r.params),
                    "textDocument/references" => self.references(&r.params),
                    "textDocument/hover" => self.hover(&r.params),
                    "textDocument/documentSymbol" => self.document_symbols(&r.params),
                    "textDocument/formatting" => self.formatting(&r.params),
                    "textDocument/codeAction" => self.code_actions(&r.params),
                    _ => {
                        self.reply_err(
                            r.id,
                            ErrorCode::MethodNotFound as i32,
                            format!("unknown method `{method}`"),
                        );
                        return;
                    }
                };
                match result {
                    Ok(v) => self.reply(r.id, v),
                    Err(e) => self.reply_err(r.id, ErrorCode::InvalidParams as i32, e),
                }
            }
        }
    }

    fn notification(&mut self, n: Notification) -> Option<Exit> {
        if n.method == "exit" {
            return Some(match self.state {
                State::ShutDown => Exit::Clean,
                _ => Exit::Unclean,
            });
        }
        if !matches!(self.state, State::Running) {
            return None;
        }
        let p = &n.params;
        match n.method.as_str() {
            "textDocument/didOpen" => {
                let (Some(uri), Some(text)) = (
                    p.pointer("/textDocument/uri").and_then(Value::as_str),
                    p.pointer("/textDocument/text").and_then(Value::as_str),
                ) else {
                    return None;
                };
                let Ok(u) = Uri::from_str(uri) else {
                    return None;
                };
                let version = p
                    .pointer("/textDocument/version")
                    .and_then(Value::as_i64)
                    .and_then(|v| i32::try_from(v).ok())
                    .unwrap_or(0);
                let path = crate::uri::to_path(&u).map(|p| std::fs::canonicalize(&p).unwrap_or(p));
                self.docs.insert(
                    uri.to_string(),
                    (
                        u,
                        Doc {
                            text: text.to_string(),
                            version,
                            path: path.clone(),
                        },
                    ),
                );
                let e = self.entries.entry(uri.to_string()).or_default();
                e.dirty = true;
                e.verify_wanted = true;
                self.touched(path.as_ref(), false);
            }
            "textDocument/didChange" => {
                let uri = p.pointer("/textDocument/uri").and_then(Value::as_str)?;
                let enc = self.enc;
                let (_, doc) = self.docs.get_mut(uri)?;
                if let Some(v) = p
                    .pointer("/textDocument/version")
                    .and_then(Value::as_i64)
                    .and_then(|v| i32::try_from(v).ok())
                {
                    doc.version = v;
                }
                for c in p
                    .get("contentChanges")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let Some(new_text) = c.get("text").and_then(Value::as_str) else {
                        continue;
                    };
                    let range = c
                        .get("range")
                        .and_then(|r| serde_json::from_value::<Range>(r.clone()).ok());
                    apply_change(&mut doc.text, range, new_text, enc);
                }
                let path = doc.path.clone();
                if let Some(e) = self.entries.get_mut(uri) {
                    e.dirty = true;
                }
                self.touched(path.as_ref(), false);
            }
            "textDocument/didSave" => {
                let uri = p.pointer("/textDocument/uri").and_then(Value::as_str)?;
                let path = self.docs.get(uri).and_then(|(_, d)| d.path.clone());
                if let Some(e) = self.entries.get_mut(uri) {
                    e.dirty = true;
                    e.verify_wanted = true;
                }
                self.touched(path.as_ref(), true);
            }
            "textDocument/didClose" => {
                let uri = p.pointer("/textDocument/uri").and_then(Value::as_str)?;
                if let Some((u, doc)) = self.docs.remove(uri) {
                    self.entries.remove(uri);
                    self.published.remove(uri);
                    self.notify(
                        "textDocument/publishDiagnostics",
                        json!({ "uri": u.as_str(), "diagnostics": [] }),
                    );
                    self.touched(doc.path.as_ref(), false);
                }
            }
            _ => {}
        }
        None
    }

    /// A file changed: every entry that loaded it is dirty (and, on save,
    /// wants the verifier again).
    fn touched(&mut self, path: Option<&PathBuf>, verify: bool) {
        let Some(path) = path else { return };
        for e in self.entries.values_mut() {
            if e.files.contains(path) {
                e.dirty = true;
                e.verify_wanted |= verify;
            }
        }
    }

    fn initialize(&mut self, params: &Value) -> Value {
        let offers_utf8 = params
            .pointer("/capabilities/general/positionEncodings")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|e| e.as_str() == Some("utf-8")));
        self.enc = if offers_utf8 {
            Encoding::Utf8
        } else {
            Encoding::Utf16
        };
        json!({
            "capabilities": {
                "positionEncoding": if offers_utf8 { "utf-8" } else { "utf-16" },
                "textDocumentSync": { "openClose": true, "change": 2, "save": { "includeText": false } },
                "definitionProvider": true,
                "referencesProvider": true,
                "hoverProvider": true,
                "documentSymbolProvider": true,
                "documentFormattingProvider": true,
                "codeActionProvider": { "codeActionKinds": ["quickfix"] },
            },
            "serverInfo": { "name": "polc", "version": env!("CARGO_PKG_VERSION") },
        })
    }

    /// Compile every dirty entry, start the verifier where wanted, publish.
    fn flush(&mut self) {
        let overlay: HashMap<PathBuf, String> = self
            .docs
            .values()
            .filter_map(|(_, d)| Some((d.path.clone()?, d.text.clone())))
            .collect();
        let overlay = Arc::new(overlay);
        let dirty: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.dirty)
            .map(|(k, _)| k.clone())
            .collect();
        if dirty.is_empty() {
            return;
        }
        for key in dirty {
            let Some((uri, doc)) = self.docs.get(&key) else {
                continue;
            };
            let compilation = match &doc.path {
                Some(p) => pol_lang::compile(
                    p,
                    &CompileOptions {
                        overlay: overlay.clone(),
                        ..CompileOptions::default()
                    },
                ),
                None => pol_lang::compile_source(uri.as_str(), &doc.text),
            };
            let files = compilation
                .sources
                .files()
                .filter_map(|(_, f)| f.path.clone())
                .collect();
            let compilation = Arc::new(compilation);
            let Some(e) = self.entries.get_mut(&key) else {
                continue;
            };
            e.generation += 1;
            e.files = files;
            e.analysis = Some(compilation.clone());
            e.dirty = false;
            if e.verify_wanted && compilation.program.is_some() {
                e.verify_wanted = false;
                let _ = self.jobs.send(Job {
                    key: key.clone(),
                    generation: e.generation,
                    compilation,
                });
            }
        }
        self.publish_all();
    }

    fn findings_arrived(&mut self, d: Done) {
        let Some(e) = self.entries.get_mut(&d.key) else {
            return;
        };
        if e.generation != d.generation {
            return; // the text changed since: stale
        }
        e.findings = Some((d.generation, d.findings));
        self.publish_all();
    }

    /// Every diagnostic located in `doc`, from every entry that loaded it,
    /// each with the sources it refers to.
    fn diagnostics_in(&self, key: &str) -> Vec<(Arc<Compilation>, Diagnostic)> {
        let Some((_, doc)) = self.docs.get(key) else {
            return Vec::new();
        };
        // A file another open document imports is checked through its
        // importers, as `polc check DIR` does: alone it may lack the names
        // they define (one namespace for every loaded file).
        let imported = doc.path.as_ref().is_some_and(|p| {
            self.entries
                .iter()
                .any(|(k, e)| k != key && e.files.contains(p))
        });
        let mut out = Vec::new();
        for (k, e) in &self.entries {
            let Some(c) = &e.analysis else { continue };
            let own = k == key;
            if own && imported {
                continue;
            }
            let file = file_of(&c.sources, doc.path.as_ref(), own);
            if file.is_none() && !own {
                continue;
            }
            let findings = e
                .findings
                .as_ref()
                .filter(|(g, _)| *g == e.generation)
                .map(|(_, f)| f.as_slice())
                .unwrap_or_default();
            for d in c.diagnostics.iter().chain(findings.iter()) {
                let here = match d.primary {
                    Some(s) => Some(s.file) == file,
                    None => own,
                };
                if here {
                    out.push((c.clone(), d.clone()));
                }
            }
        }
        out
    }

    fn publish_all(&mut self) {
        let keys: Vec<String> = self.docs.keys().cloned().collect();
        for key in keys {
            let Some((uri, doc)) = self.docs.get(&key) else {
                continue;
            };
            let mut seen = HashSet::new();
            let mut list = Vec::new();
            let mut positions: HashMap<*const Compilation, convert::Positions<'_>> = HashMap::new();
            let found = self.diagnostics_in(&key);
            for (c, d) in &found {
                let pos = positions
                    .entry(Arc::as_ptr(c))
                    .or_insert_with(|| convert::Positions::new(&c.sources, self.enc));
                let at = d.primary.and_then(|s| pos.range(s)).unwrap_or_default();
                let lsp = convert::diagnostic(pos, d, at);
                let v = serde_json::to_value(&lsp).unwrap_or(Value::Null);
                if seen.insert(v.to_string()) {
                    list.push(v);
                }
            }
            let params =
                json!({ "uri": uri.as_str(), "version": doc.version, "diagnostics": list });
            if self.published.get(&key) == Some(&params) {
                continue;
            }
            self.notify("textDocument/publishDiagnostics", params.clone());
            self.published.insert(key, params);
        }
    }

    /// The document and byte offset a `TextDocumentPositionParams` names.
    fn at(&self, params: &Value) -> Result<(String, usize), String> {
        let uri = params
            .pointer("/textDocument/uri")
            .and_then(Value::as_str)
            .ok_or("missing textDocument.uri")?;
        let pos: Position = params
            .get("position")
            .and_then(|p| serde_json::from_value(p.clone()).ok())
            .ok_or("missing or invalid position")?;
        let (_, doc) = self.docs.get(uri).ok_or("the document is not open")?;
        Ok((
            uri.to_string(),
            LineIndex::new(&doc.text, self.enc).offset(pos),
        ))
    }

    /// The analyses that loaded document `key` (its own first), with the
    /// document's file id in each.
    fn analyses_of(&self, key: &str) -> Vec<(Arc<Compilation>, FileId)> {
        let Some((_, doc)) = self.docs.get(key) else {
            return Vec::new();
        };
        let mut v = Vec::new();
        let own = self.entries.get(key).and_then(|e| e.analysis.clone());
        let others = self
            .entries
            .iter()
            .filter(|(k, _)| k.as_str() != key)
            .filter_map(|(_, e)| e.analysis.clone());
        for (i, c) in own.into_iter().chain(others).enumerate() {
            if let Some(f) = file_of(&c.sources, doc.path.as_ref(), i == 0) {
                v.push((c, f));
            }
        }
        v
    }

    /// The definition under the cursor: its analysis and index.
    fn symbol_at(&self, params: &Value) -> Result<Option<(Arc<Compilation>, usize)>, String> {
        let (key, offset) = self.at(params)?;
        for (c, file) in self.analyses_of(&key) {
            if let Some(def) = c.symbols.at(file, offset) {
                return Ok(Some((c, def)));
            }
        }
        Ok(None)
    }

    fn definition(&self, params: &Value) -> Result<Value, String> {
        let Some((c, def)) = self.symbol_at(params)? else {
            return Ok(Value::Null);
        };
        let span = c.symbols.defs[def].span;
        Ok(convert::Positions::new(&c.sources, self.enc)
            .location(span)
            .and_then(|l| serde_json::to_value(l).ok())
            .unwrap_or(Value::Null))
    }

    fn references(&self, params: &Value) -> Result<Value, String> {
        let Some((c, def)) = self.symbol_at(params)? else {
            return Ok(Value::Null);
        };
        let with_decl = params
            .pointer("/context/includeDeclaration")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let d = &c.symbols.defs[def];
        let mut spans: Vec<_> = c.symbols.uses_of(def).collect();
        if with_decl {
            spans.insert(0, d.span);
        }
        let pos = convert::Positions::new(&c.sources, self.enc);
        let locs: Vec<Value> = spans
            .into_iter()
            .filter_map(|s| pos.location(s))
            .filter_map(|l| serde_json::to_value(l).ok())
            .collect();
        Ok(Value::Array(locs))
    }

    fn hover(&self, params: &Value) -> Result<Value, String> {
        let Some((c, def)) = self.symbol_at(params)? else {
            return Ok(Value::Null);
        };
        let d = &c.symbols.defs[def];
        let mut md = format!("**{}** `{}`", d.kind.noun(), d.name);
        let site = c.sources.file_line(d.span);
        md.push_str(&format!(" — defined at {site}"));
        if !d.detail.is_empty() {
            md.push_str(&format!("\n\n```\n{}\n```", d.detail));
        }
        Ok(json!({ "contents": { "kind": "markdown", "value": md } }))
    }

    fn document_symbols(&self, params: &Value) -> Result<Value, String> {
        let key = params
            .pointer("/textDocument/uri")
            .and_then(Value::as_str)
            .ok_or("missing textDocument.uri")?;
        let Some((c, file)) = self.analyses_of(key).into_iter().next() else {
            return Ok(json!([]));
        };
        let pos = convert::Positions::new(&c.sources, self.enc);
        let syms: Vec<Value> = c
            .symbols
            .defined_in(file)
            .into_iter()
            .filter_map(|d| {
                let r = pos.range(d.span)?;
                let kind = match d.kind.noun() {
                    "network" => 13, // Variable
                    "service" => 14, // Constant
                    "group" => 5,    // Class
                    "matcher" => 12, // Function
                    "tunnel" => 11,  // Interface
                    _ => 2,          // Module (policy)
                };
                Some(json!({
                    "name": d.name,
                    "detail": d.kind.noun(),
                    "kind": kind,
                    "range": r,
                    "selectionRange": r,
                }))
            })
            .collect();
        Ok(Value::Array(syms))
    }

    fn formatting(&self, params: &Value) -> Result<Value, String> {
        let key = params
            .pointer("/textDocument/uri")
            .and_then(Value::as_str)
            .ok_or("missing textDocument.uri")?;
        let (_, doc) = self.docs.get(key).ok_or("the document is not open")?;
        let mut sources = SourceMap::new();
        let id = sources.add("doc.pol", doc.text.clone(), false);
        let (ast, errs) = pol_lang::parse::parse_file(id, &doc.text);
        if !errs.is_empty() {
            // Like `polc fmt`: a file that does not parse is left alone.
            return Ok(Value::Null);
        }
        let formatted = pol_lang::fmt::format_file(&ast, &doc.text);
        if formatted == doc.text {
            return Ok(json!([]));
        }
        let idx = LineIndex::new(&doc.text, self.enc);
        Ok(json!([{ "range": idx.range(0, doc.text.len()), "newText": formatted }]))
    }

    fn code_actions(&self, params: &Value) -> Result<Value, String> {
        let key = params
            .pointer("/textDocument/uri")
            .and_then(Value::as_str)
            .ok_or("missing textDocument.uri")?;
        let want: Range = params
            .get("range")
            .and_then(|r| serde_json::from_value(r.clone()).ok())
            .ok_or("missing or invalid range")?;
        let (uri, _) = self.docs.get(key).ok_or("the document is not open")?;
        let mut actions = Vec::new();
        let mut seen = HashSet::new();
        let found = self.diagnostics_in(key);
        let mut positions: HashMap<*const Compilation, convert::Positions<'_>> = HashMap::new();
        for (c, d) in &found {
            let pos = positions
                .entry(Arc::as_ptr(c))
                .or_insert_with(|| convert::Positions::new(&c.sources, self.enc));
            let Some(at) = d.primary.and_then(|s| pos.range(s)) else {
                continue;
            };
            if at.end < want.start || want.end < at.start {
                continue;
            }
            let Some((title, edit)) = convert::fix(pos, d) else {
                continue;
            };
            if !seen.insert((title.clone(), format!("{:?}", edit.range))) {
                continue;
            }
            let diag = convert::diagnostic(pos, d, at);
            actions.push(json!({
                "title": title,
                "kind": "quickfix",
                "diagnostics": [diag],
                "isPreferred": true,
                "edit": { "changes": { uri.as_str(): [edit] } },
            }));
        }
        Ok(Value::Array(actions))
    }
}

/// The file id of `path` in `sources`; for a document without a path, the
/// entry file of its own compilation.
fn file_of(sources: &SourceMap, path: Option<&PathBuf>, own: bool) -> Option<FileId> {
    match path {
        Some(p) => sources
            .files()
            .find(|(_, f)| f.path.as_ref() == Some(p))
            .map(|(id, _)| id),
        None if own => sources.files().next().map(|(id, _)| id),
        None => None,
    }
}
