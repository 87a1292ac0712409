//! `test` blocks: each `expect` resolved to a `Match` and the policy it is
//! about (`in POLICY`, or the only policy there is).

use super::names::DefKind;
use super::Resolver;
use crate::ast;
use crate::diag::{codes, Diagnostic};
use crate::ir::{self, PolicyId};
use std::collections::HashMap;

impl Resolver<'_> {
    pub fn resolve_tests(&mut self, policies: &[ir::Policy]) -> Vec<ir::Test> {
        let mut out = Vec::new();
        let mut seen: HashMap<String, crate::span::Span> = HashMap::new();
        for fi in 0..self.loaded.files.len() {
            for ii in 0..self.loaded.files[fi].ast.items.len() {
                let ast::Item::Test(t) = &self.loaded.files[fi].ast.items[ii] else {
                    continue;
                };
                if let Some(first) = seen.get(&t.name.node) {
                    self.err(
                        Diagnostic::new(
                            codes::DUPLICATE_TEST,
                            t.name.span,
                            format!("test `{}` is defined twice", t.name.node),
                        )
                        .with_label("second test with this name")
                        .with_related(*first, "first defined here")
                        .with_help(
                            "give each test its own name, so a failure says which one failed",
                        ),
                    );
                } else {
                    seen.insert(t.name.node.clone(), t.name.span);
                }
                let mut expects = Vec::new();
                for e in &t.expects {
                    if let Some(x) = self.expect(e, policies) {
                        expects.push(x);
                    }
                }
                out.push(ir::Test {
                    name: t.name.node.clone(),
                    expects,
                    span: t.name.span,
                });
            }
        }
        out
    }

    fn expect(&mut self, e: &ast::Expect, policies: &[ir::Policy]) -> Option<ir::Expect> {
        let policy = match &e.policy {
            Some(id) => self.policy_ref(id, policies),
            None => {
                let total = self
                    .ns
                    .defs
                    .values()
                    .filter(|d| d.kind == DefKind::Policy)
                    .count();
                if total == 1 {
                    policies.first().map(|p| p.id)
                } else {
                    let mut names: Vec<&str> = self
                        .ns
                        .defs
                        .iter()
                        .filter(|(_, d)| d.kind == DefKind::Policy)
                        .map(|(n, _)| n.as_str())
                        .collect();
                    names.sort();
                    let d = if total == 0 {
                        Diagnostic::new(
                            codes::POLICY_REQUIRED,
                            e.span,
                            "this test has no policy to check",
                        )
                        .with_label("there is no policy in the program")
                    } else {
                        Diagnostic::new(
                            codes::POLICY_REQUIRED,
                            e.span,
                            "this expectation must say which policy it checks",
                        )
                        .with_label(format!("{total} policies exist"))
                        .with_help(format!(
                            "add `in {}`",
                            names.first().copied().unwrap_or("POLICY")
                        ))
                    };
                    self.err(d);
                    None
                }
            }
        };
        let mut origins = Vec::new();
        let packets = self.packet_spec(&e.packets, &mut origins);
        Some(ir::Expect {
            some: e.some,
            verdict: e.verdict.node,
            packets: packets?,
            policy: policy?,
            span: e.span,
        })
    }

    fn policy_ref(&mut self, id: &ast::Ident, policies: &[ir::Policy]) -> Option<PolicyId> {
        if !self.names_a(id, DefKind::Policy) {
            return None;
        }
        policies.iter().find(|p| p.name == id.node).map(|p| p.id)
    }
}
