//! Matcher items and calls (LANGUAGE.md §7) in the resolver: the module
//! path is resolved like an import (confined to the root), its limits are
//! the defaults with the item's overrides, lowered by the command line's
//! cap; each call runs in the sandbox and its output is parsed with the
//! front end's own parser as a set of the kind the call site expects. Every
//! failure is a diagnostic at the call site (or at the `matcher` item).

use super::addrs::Scope;
use super::names::DefKind;
use super::Resolver;
use crate::ast::{self, CallArg, MatcherLimit};
use crate::diag::{codes, Diagnostic, Diagnostics};
use crate::ir::MatcherOrigin;
use crate::matcher::{
    LimitCap, Limits, ModuleId, ModuleSearch, RunBudget, Sandbox, SandboxOptions,
};
use crate::sets::{AddrSet, ServiceSet};
use std::collections::HashMap;

/// Options the command line passes down.
#[derive(Debug, Clone, Default)]
pub struct MatcherOptions {
    pub cap: LimitCap,
    /// The run's budget, shared with the other compilations of the run.
    pub budget: RunBudget,
}

/// The matchers of one compilation.
pub struct Matchers {
    opts: MatcherOptions,
    sandbox: Option<Sandbox>,
    /// Loaded modules by matcher name (`None`: failed, already reported).
    modules: HashMap<String, Option<(ModuleId, Limits)>>,
}

impl Matchers {
    pub fn new(opts: MatcherOptions) -> Self {
        Matchers {
            opts,
            sandbox: None,
            modules: HashMap::new(),
        }
    }
}

/// The kind of set a call site expects.
#[derive(Clone, Copy)]
enum SetKind {
    Address,
    Service,
}

/// Longest matcher output quoted in a diagnostic.
const QUOTE_MAX: usize = 120;

impl Resolver<'_> {
    /// Load and validate every matcher module before any call runs.
    pub fn load_matchers(&mut self) {
        for fi in 0..self.loaded.files.len() {
            for ii in 0..self.loaded.files[fi].ast.items.len() {
                let ast::Item::Matcher(m) = &self.loaded.files[fi].ast.items[ii] else {
                    continue;
                };
                match self.ns.get(&m.name.node) {
                    Some(def) if def.file == fi && def.item == ii => {}
                    _ => continue,
                }
                let loaded = self.load_matcher(fi, m);
                self.matchers.modules.insert(m.name.node.clone(), loaded);
            }
        }
    }

    fn load_matcher(&mut self, fi: usize, m: &ast::MatcherDef) -> Option<(ModuleId, Limits)> {
        let limits = self.matcher_limits(m)?;
        let span = m.path.span;
        let path = m.path.node.as_str();
        let Some(dir) = self.file(fi).dir.clone() else {
            self.err(Diagnostic::new(
                codes::MATCHER_NOT_FOUND,
                span,
                "a stdlib module cannot load a matcher",
            ));
            return None;
        };
        let search = ModuleSearch {
            root: &self.loaded.root,
            root_shown: &self.loaded.root_display,
            from_dir: &dir,
        };
        let bytes = match search.read(path) {
            Ok(f) => f.bytes,
            Err(e) => {
                self.err(e.to_diagnostic(span));
                return None;
            }
        };
        let sandbox = match self.sandbox() {
            Ok(s) => s,
            Err(d) => {
                self.err(*d);
                return None;
            }
        };
        match sandbox.load(path, &bytes) {
            Ok(id) => Some((id, limits)),
            Err(e) => {
                let mut d = Diagnostic::new(e.code, span, e.message)
                    .with_label(format!("matcher `{}`", m.name.node));
                for n in e.notes {
                    d = d.with_note(n);
                }
                self.err(d);
                None
            }
        }
    }

    fn sandbox(&mut self) -> Result<&mut Sandbox, Box<Diagnostic>> {
        if self.matchers.sandbox.is_none() {
            match Sandbox::with_options(SandboxOptions {
                budget: self.matchers.opts.budget.clone(),
                ..SandboxOptions::default()
            }) {
                Ok(s) => self.matchers.sandbox = Some(s),
                Err(e) => {
                    return Err(Box::new(Diagnostic::without_span(
                        e.code, "polc", e.message,
                    )))
                }
            }
        }
        self.matchers.sandbox.as_mut().ok_or_else(|| {
            Box::new(Diagnostic::without_span(
                codes::MATCHER_TRAP,
                "polc",
                "the matcher sandbox is unavailable",
            ))
        })
    }

    /// The defaults, with the item's overrides (each at most once, within
    /// the sandbox's ceiling), lowered by the command line's cap.
    fn matcher_limits(&mut self, m: &ast::MatcherDef) -> Option<Limits> {
        let mut seen: HashMap<&'static str, crate::span::Span> = HashMap::new();
        let (mut fuel, mut memory, mut timeout) = (None, None, None);
        let mut ok = true;
        for lim in &m.limits {
            let (name, slot, value) = match lim.node {
                MatcherLimit::Fuel(v) => ("fuel", &mut fuel, v),
                MatcherLimit::Memory(v) => ("memory", &mut memory, v),
                MatcherLimit::TimeoutMs(v) => ("timeout", &mut timeout, v),
            };
            if let Some(first) = seen.get(name).copied() {
                self.twice(lim.span, first, name);
                ok = false;
                continue;
            }
            seen.insert(name, lim.span);
            *slot = Some(value);
            // Check each override alone, so the error points at its statement.
            let one = match lim.node {
                MatcherLimit::Fuel(v) => Limits::default().with_overrides(Some(v), None, None),
                MatcherLimit::Memory(v) => Limits::default().with_overrides(None, Some(v), None),
                MatcherLimit::TimeoutMs(v) => Limits::default().with_overrides(None, None, Some(v)),
            };
            if let Err(e) = one {
                let mut d = Diagnostic::new(codes::MATCHER_LIMIT, lim.span, e.message);
                for n in e.notes {
                    d = d.with_note(n);
                }
                self.err(d);
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        Limits::default()
            .with_overrides(fuel, memory, timeout)
            .ok()
            .map(|l| l.capped(&self.matchers.opts.cap))
    }

    /// Run a call and return its output text; `None` after a diagnostic.
    fn run_call(&mut self, c: &ast::Call) -> Option<String> {
        if let Some(def) = self.ns.get(&c.name.node) {
            self.uses.push((c.name.span, def.span));
        }
        match self.ns.get(&c.name.node).copied() {
            None => {
                let d = self.ns.unknown(&c.name, &[DefKind::Matcher]);
                self.err(d);
                return None;
            }
            Some(def) if def.kind != DefKind::Matcher => {
                self.err(
                    Diagnostic::new(
                        codes::NOT_A_MATCHER,
                        c.name.span,
                        format!(
                            "`{}` is {}, not a matcher",
                            c.name.node,
                            def.kind.with_article()
                        ),
                    )
                    .with_label("called here")
                    .with_related(def.span, "defined here"),
                );
                return None;
            }
            Some(_) => {}
        }
        let (module, limits) = self.matchers.modules.get(&c.name.node).copied().flatten()?;
        let args: Vec<serde_json::Value> = c
            .args
            .iter()
            .map(|a| match &a.node {
                CallArg::Str(s) => serde_json::Value::String(s.clone()),
                CallArg::Int(i) => serde_json::Value::from(*i),
            })
            .collect();
        let args_json = serde_json::Value::Array(args).to_string();
        let sandbox = match self.sandbox() {
            Ok(s) => s,
            Err(d) => {
                self.err(*d);
                return None;
            }
        };
        match sandbox.call(module, &args_json, &limits) {
            Ok(text) => Some(text),
            Err(e) => {
                let mut d = Diagnostic::new(e.code, c.span, e.message)
                    .with_label(format!("in this call of `{}`", c.name.node));
                for n in e.notes {
                    d = d.with_note(n);
                }
                self.err(d);
                None
            }
        }
    }

    fn call_text(&self, c: &ast::Call) -> String {
        self.sources.snippet(c.span).to_string()
    }

    pub fn call_addr(
        &mut self,
        c: &ast::Call,
        origins: &mut Vec<MatcherOrigin>,
    ) -> Option<AddrSet> {
        self.call_as(c, origins, SetKind::Address, |r, text, fid| {
            let expr = crate::parse::parse_addr_expr(fid, text)?;
            Ok(r.eval_addr(&expr, 0, &mut Vec::new(), Scope::LiteralsOnly))
        })
    }

    pub fn call_service(
        &mut self,
        c: &ast::Call,
        origins: &mut Vec<MatcherOrigin>,
    ) -> Option<ServiceSet> {
        self.call_as(c, origins, SetKind::Service, |r, text, fid| {
            let expr = crate::parse::parse_service_expr(fid, text)?;
            Ok(r.eval_service(&expr, 0, &mut Vec::new(), Scope::LiteralsOnly))
        })
    }

    /// Run a call, then parse and evaluate its output as the set the call
    /// site expects (`read`: parse errors as `Err`, evaluation through the
    /// resolver with literals only). Every problem with the output becomes
    /// one diagnostic at the call site that quotes it.
    fn call_as<T>(
        &mut self,
        c: &ast::Call,
        origins: &mut Vec<MatcherOrigin>,
        kind: SetKind,
        read: impl FnOnce(&mut Self, &str, crate::span::FileId) -> Result<Option<T>, Vec<Diagnostic>>,
    ) -> Option<T> {
        let text = self.run_call(c)?;
        let fid = self.sources.add(
            format!("<output of {}>", self.call_text(c)),
            text.clone(),
            true,
        );
        let source = self.sources.text(fid).to_string();
        let saved = std::mem::take(&mut self.diags);
        let result = read(self, &source, fid);
        let inner: Diagnostics = std::mem::replace(&mut self.diags, saved);
        let set = match result {
            Err(parse_errors) => {
                self.bad_output(
                    c,
                    &text,
                    kind,
                    parse_errors.iter().map(|d| d.message.clone()).collect(),
                );
                return None;
            }
            Ok(set) => set,
        };
        if inner.has_errors() || set.is_none() {
            self.bad_output(
                c,
                &text,
                kind,
                inner.iter().map(|d| d.message.clone()).collect(),
            );
            return None;
        }
        origins.push(MatcherOrigin {
            matcher: c.name.node.clone(),
            call: c.span,
            text: self.call_text(c),
        });
        set
    }

    fn bad_output(&mut self, c: &ast::Call, text: &str, kind: SetKind, reasons: Vec<String>) {
        let mut quoted: String = text.chars().take(QUOTE_MAX).collect();
        if text.chars().count() > QUOTE_MAX {
            quoted.push('…');
        }
        let (expected, example) = match kind {
            SetKind::Address => ("an address set", "`{ 192.0.2.0/24, 2001:db8::/32 }`"),
            SetKind::Service => ("a service set", "`{ tcp 443, udp 53 }`"),
        };
        let mut d = Diagnostic::new(
            codes::MATCHER_BAD_SET,
            c.span,
            format!("`{}` did not return {expected}", c.name.node),
        )
        .with_label(format!("returned `{}`", quoted.escape_debug()));
        for r in reasons.into_iter().take(3) {
            d = d.with_note(r);
        }
        self.err(d.with_help(format!(
            "a matcher called here must return a Pol set literal such as {example}"
        )));
    }
}
