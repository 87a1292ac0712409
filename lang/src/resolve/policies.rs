//! Policies: hook and default (each exactly once), and rules in order with
//! their matches, modifiers and matcher provenance. A group on an `input`
//! policy gets a warning: it only matches packets the kernel delivers to a
//! local socket.

use super::Resolver;
use crate::ast::{self, Hook, Modifier, PolicyStmt};
use crate::diag::{codes, Diagnostic};
use crate::ir::{self, Log, PolicyId};
use crate::span::Span;

impl Resolver<'_> {
    pub fn resolve_policies(&mut self) -> Vec<ir::Policy> {
        let mut out = Vec::new();
        for fi in 0..self.loaded.files.len() {
            for ii in 0..self.loaded.files[fi].ast.items.len() {
                let ast::Item::Policy(p) = &self.loaded.files[fi].ast.items[ii] else {
                    continue;
                };
                match self.ns.get(&p.name.node) {
                    Some(def) if def.file == fi && def.item == ii => {}
                    _ => continue,
                }
                if let Some(pol) = self.policy(p, PolicyId(out.len() as u32)) {
                    out.push(pol);
                }
            }
        }
        out
    }

    fn policy(&mut self, p: &ast::PolicyDef, id: PolicyId) -> Option<ir::Policy> {
        let mut hook: Option<(Hook, Span)> = None;
        let mut default: Option<(ast::Verdict, Span)> = None;
        for s in &p.stmts {
            match s {
                PolicyStmt::Hook(h) => {
                    if let Some((_, first)) = hook {
                        self.twice(h.span, first, "hook");
                    } else {
                        hook = Some((h.node, h.span));
                    }
                }
                PolicyStmt::Default(v) => {
                    if let Some((_, first)) = default {
                        self.twice(v.span, first, "default");
                    } else {
                        default = Some((v.node, v.span));
                    }
                }
                _ => {}
            }
        }
        if hook.is_none() {
            self.missing(
                p,
                "hook",
                "add `hook output` (traffic local sockets send) or `hook input`",
            );
        }
        if default.is_none() {
            self.missing(p, "default", "add `default drop`, `default reject` or `default allow`: what happens to packets no rule matches");
        }
        let mut rules = Vec::new();
        let mut ok = true;
        for s in &p.stmts {
            let PolicyStmt::Rule(r) = s else { continue };
            if let (Some((Hook::Input, hook_span)), Some(g)) = (hook, &r.packets.groups) {
                if !matches!(g, ast::GroupExpr::Any(_)) {
                    self.err(
                        Diagnostic::new(codes::INPUT_GROUP, g.span(), "a group on an `input` policy matches only packets for a local socket")
                            .with_label("matched by the receiving socket's cgroup, uid or gid")
                            .with_related(hook_span, "this policy filters incoming traffic")
                            .with_note("packets for which the kernel finds no local socket (forwarded, unanswered, early-dropped) never match this rule"),
                    );
                }
            }
            match self.rule(r) {
                Some(rule) => rules.push(rule),
                None => ok = false,
            }
        }
        let (hook, _) = hook?;
        let (default, default_span) = default?;
        ok.then(|| ir::Policy {
            id,
            name: p.name.node.clone(),
            hook,
            default,
            default_span,
            rules,
            span: p.name.span,
        })
    }

    fn rule(&mut self, r: &ast::Rule) -> Option<ir::Rule> {
        let mut origins = Vec::new();
        let matches = self.packet_spec(&r.packets, &mut origins)?;
        let mut log = None;
        let mut counter = false;
        let mut comment = None;
        let mut seen: Vec<(&'static str, Span)> = Vec::new();
        for m in &r.modifiers {
            let what = match &m.node {
                Modifier::Log(_) => "log",
                Modifier::Counter => "counter",
                Modifier::Comment(_) => "comment",
            };
            if let Some((_, first)) = seen.iter().find(|(w, _)| *w == what) {
                let first = *first;
                self.twice(m.span, first, what);
                continue;
            }
            seen.push((what, m.span));
            match &m.node {
                Modifier::Log(prefix) => {
                    log = Some(Log {
                        prefix: prefix.clone(),
                    })
                }
                Modifier::Counter => counter = true,
                Modifier::Comment(c) => comment = Some(c.clone()),
            }
        }
        Some(ir::Rule {
            verdict: r.verdict.node,
            matches,
            log,
            counter,
            comment,
            span: r.span,
            origins,
        })
    }

    pub fn twice(&mut self, span: Span, first: Span, what: &str) {
        self.err(
            Diagnostic::new(
                codes::DUPLICATE_FIELD,
                span,
                format!("`{what}` is given twice"),
            )
            .with_label("second time here")
            .with_related(first, "first given here")
            .with_help("keep one"),
        );
    }

    fn missing(&mut self, p: &ast::PolicyDef, what: &str, help: &str) {
        self.err(
            Diagnostic::new(
                codes::MISSING_FIELD,
                p.name.span,
                format!("policy `{}` has no `{what}`", p.name.node),
            )
            .with_label(format!("`{what}` is required"))
            .with_help(help),
        );
    }
}
