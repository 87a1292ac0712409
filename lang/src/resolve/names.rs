//! The one global namespace shared by every loaded file (LANGUAGE.md §2):
//! networks, services, groups, matchers, tunnels and policies. Defining a
//! name twice is an error that points at both definitions.

use crate::ast;
use crate::diag::{codes, did_you_mean, Diagnostic, Diagnostics};
use crate::span::Span;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefKind {
    Network,
    Service,
    Group,
    Matcher,
    Tunnel,
    Policy,
}

impl DefKind {
    pub fn noun(self) -> &'static str {
        match self {
            DefKind::Network => "network",
            DefKind::Service => "service",
            DefKind::Group => "group",
            DefKind::Matcher => "matcher",
            DefKind::Tunnel => "tunnel",
            DefKind::Policy => "policy",
        }
    }

    /// "a network", "an address"…
    pub fn with_article(self) -> String {
        format!("a {}", self.noun())
    }
}

/// Where a name is defined: `(file index, item index)` into `Loaded::files`.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    pub kind: DefKind,
    pub file: usize,
    pub item: usize,
    pub span: Span,
}

#[derive(Default)]
pub struct Namespace {
    pub defs: HashMap<String, Def>,
}

impl Namespace {
    /// Collect every definition; report duplicates.
    pub fn collect(files: &[super::imports::LoadedFile], diags: &mut Diagnostics) -> Namespace {
        let mut ns = Namespace::default();
        for (fi, f) in files.iter().enumerate() {
            for (ii, item) in f.ast.items.iter().enumerate() {
                let (kind, name) = match item {
                    ast::Item::Network(d) => (DefKind::Network, &d.name),
                    ast::Item::Service(d) => (DefKind::Service, &d.name),
                    ast::Item::Group(d) => (DefKind::Group, &d.name),
                    ast::Item::Matcher(d) => (DefKind::Matcher, &d.name),
                    ast::Item::Tunnel(d) => (DefKind::Tunnel, &d.name),
                    ast::Item::Policy(d) => (DefKind::Policy, &d.name),
                    _ => continue,
                };
                let def = Def {
                    kind,
                    file: fi,
                    item: ii,
                    span: name.span,
                };
                match ns.defs.get(&name.node) {
                    Some(first) => {
                        diags.push(
                            Diagnostic::new(codes::DUPLICATE_NAME, name.span, format!("`{}` is defined twice", name.node))
                                .with_label(format!("{} `{}` defined again here", kind.noun(), name.node))
                                .with_related(first.span, format!("{} `{}` first defined here", first.kind.noun(), name.node))
                                .with_help("every network, service, group, matcher, tunnel and policy shares one namespace; rename one"),
                        );
                    }
                    None => {
                        ns.defs.insert(name.node.clone(), def);
                    }
                }
            }
        }
        ns
    }

    pub fn get(&self, name: &str) -> Option<&Def> {
        self.defs.get(name)
    }

    /// The diagnostic for a name that is not defined, with a suggestion
    /// among the names of the expected kinds.
    pub fn unknown(&self, name: &ast::Ident, expected: &[DefKind]) -> Diagnostic {
        let what = expected
            .iter()
            .map(|k| k.noun())
            .collect::<Vec<_>>()
            .join(" or ");
        let mut d = Diagnostic::new(
            codes::UNKNOWN_NAME,
            name.span,
            format!("unknown {what} `{}`", name.node),
        )
        .with_label(format!("no {what} has this name"));
        let mut names: Vec<&str> = self
            .defs
            .iter()
            .filter(|(_, d)| expected.contains(&d.kind))
            .map(|(n, _)| n.as_str())
            .collect();
        names.sort();
        if let Some(h) = did_you_mean(&name.node, names.iter().copied()) {
            d = d.with_help(h);
        } else if expected.contains(&DefKind::Network)
            && crate::stdlib::module("networks")
                .is_some_and(|s| s.contains(&format!("network {} =", name.node)))
        {
            d = d.with_help(format!(
                "`{}` is in the stdlib: add `import \"std/networks\"`",
                name.node
            ));
        } else if expected.contains(&DefKind::Service)
            && crate::stdlib::module("services")
                .is_some_and(|s| s.contains(&format!("service {} =", name.node)))
        {
            d = d.with_help(format!(
                "`{}` is in the stdlib: add `import \"std/services\"`",
                name.node
            ));
        }
        d
    }

    /// The diagnostic for a name of the wrong kind.
    pub fn wrong_kind(&self, name: &ast::Ident, found: &Def, expected: &str) -> Diagnostic {
        Diagnostic::new(
            codes::WRONG_KIND,
            name.span,
            format!(
                "`{}` is {}, but {expected} is expected here",
                name.node,
                found.kind.with_article()
            ),
        )
        .with_label(format!("expected {expected}"))
        .with_related(
            found.span,
            format!(
                "`{}` is defined here as {}",
                name.node,
                found.kind.with_article()
            ),
        )
    }
}
