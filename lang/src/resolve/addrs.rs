//! Address expressions to exact `AddrSet`s: literals (with the host-bits
//! check), names of networks, sets (union), complements (per family) and
//! matcher calls.

use super::names::DefKind;
use super::{Resolver, MAX_DEPTH};
use crate::ast::{self, AddrLit};
use crate::diag::{codes, Diagnostic};
use crate::ir::MatcherOrigin;
use crate::sets::addr::{prefix_bounds_v4, prefix_bounds_v6, v4_host_bits, v6_host_bits};
use crate::sets::AddrSet;
use crate::span::Span;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Where names are allowed: in source, yes; in a matcher's output, no.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Program,
    LiteralsOnly,
}

impl Resolver<'_> {
    pub fn eval_network(&mut self, fi: usize, ii: usize) {
        let ast::Item::Network(d) = &self.loaded.files[fi].ast.items[ii] else {
            return;
        };
        let mut origins = Vec::new();
        let set = self.eval_addr(&d.expr, 0, &mut origins, Scope::Program);
        self.nets
            .insert(d.name.node.clone(), set.map(|s| (s, origins)));
    }

    /// Evaluate; `None` when an error was reported inside.
    pub fn eval_addr(
        &mut self,
        e: &ast::AddrExpr,
        depth: usize,
        origins: &mut Vec<MatcherOrigin>,
        scope: Scope,
    ) -> Option<AddrSet> {
        if depth > MAX_DEPTH {
            self.err(
                Diagnostic::new(
                    codes::TOO_DEEP,
                    e.span(),
                    "address expression nested too deeply",
                )
                .with_label(format!("more than {MAX_DEPTH} levels")),
            );
            return None;
        }
        match e {
            ast::AddrExpr::Any(_) => Some(AddrSet::any()),
            ast::AddrExpr::Lit(l) => self.addr_lit(l.node, l.span),
            ast::AddrExpr::Name(id) => {
                if scope == Scope::LiteralsOnly {
                    return self
                        .not_a_literal(id.span, format!("matcher output names `{}`", id.node));
                }
                self.lookup_network(id, origins)
            }
            ast::AddrExpr::Set(es, _) => {
                let mut parts = Vec::with_capacity(es.len());
                let mut ok = true;
                for x in es {
                    match self.eval_addr(x, depth + 1, origins, scope) {
                        Some(v) => parts.push(v),
                        None => ok = false,
                    }
                }
                ok.then(|| AddrSet::union_all(&parts))
            }
            ast::AddrExpr::Not(x, _) => self
                .eval_addr(x, depth + 1, origins, scope)
                .map(|s| s.complement()),
            ast::AddrExpr::Call(c) => {
                if scope == Scope::LiteralsOnly {
                    return self.not_a_literal(c.span, "matcher output calls a matcher");
                }
                self.call_addr(c, origins)
            }
            ast::AddrExpr::Error(_) => None,
        }
    }

    fn lookup_network(
        &mut self,
        id: &ast::Ident,
        origins: &mut Vec<MatcherOrigin>,
    ) -> Option<AddrSet> {
        if !self.names_a(id, DefKind::Network) {
            return None;
        }
        let (set, o) = self.nets.get(&id.node).cloned().flatten()?;
        origins.extend(o);
        Some(set)
    }

    /// A literal in an address expression: host bits are an error here.
    pub fn addr_lit(&mut self, l: AddrLit, span: Span) -> Option<AddrSet> {
        match l {
            AddrLit::V4(a) => Some(AddrSet::v4_range(a, a)),
            AddrLit::V6(a) => Some(AddrSet::v6_range(a, a)),
            AddrLit::Prefix4(a, len) => {
                if len > 32 {
                    return None; // reported by the parser
                }
                if v4_host_bits(a, len) {
                    let (lo, _) = prefix_bounds_v4(u32::from(a), len);
                    self.host_bits(
                        span,
                        &format!("{a}/{len}"),
                        &format!("{}/{len}", Ipv4Addr::from(lo)),
                        &a.to_string(),
                    );
                    return None;
                }
                Some(AddrSet::v4_prefix(a, len))
            }
            AddrLit::Prefix6(a, len) => {
                if len > 128 {
                    return None;
                }
                if v6_host_bits(a, len) {
                    let (lo, _) = prefix_bounds_v6(u128::from(a), len);
                    self.host_bits(
                        span,
                        &format!("{a}/{len}"),
                        &format!("{}/{len}", Ipv6Addr::from(lo)),
                        &a.to_string(),
                    );
                    return None;
                }
                Some(AddrSet::v6_prefix(a, len))
            }
            AddrLit::Range4(a, b) => Some(AddrSet::v4_range(a, b)),
            AddrLit::Range6(a, b) => Some(AddrSet::v6_range(a, b)),
        }
    }

    fn host_bits(&mut self, span: Span, written: &str, network: &str, host: &str) {
        self.err(
            Diagnostic::new(
                codes::HOST_BITS_SET,
                span,
                format!("prefix `{written}` has host bits set"),
            )
            .with_label("bits after the prefix length are not zero")
            .with_help(format!(
                "write the network `{network}`, or the single address `{host}`"
            )),
        );
    }
}

impl Resolver<'_> {
    /// Matcher output may hold literals only: refuse a name or a call in it.
    pub fn not_a_literal<T>(&mut self, span: Span, message: impl Into<String>) -> Option<T> {
        self.err(
            Diagnostic::new(codes::MATCHER_BAD_SET, span, message)
                .with_label("only literals are allowed in matcher output"),
        );
        None
    }
}

/// Text of an address literal as the formatter would print it.
pub fn lit_text(l: &AddrLit) -> String {
    match l {
        AddrLit::V4(a) => a.to_string(),
        AddrLit::V6(a) => a.to_string(),
        AddrLit::Prefix4(a, n) => format!("{a}/{n}"),
        AddrLit::Prefix6(a, n) => format!("{a}/{n}"),
        AddrLit::Range4(a, b) => format!("{a}-{b}"),
        AddrLit::Range6(a, b) => format!("{a}-{b}"),
    }
}
