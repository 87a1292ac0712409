//! Tests of the lexer, the grammar, error recovery, span invariants and the
//! formatter (idempotence, round trip, comments), plus "never panics"
//! property tests over random and mutated input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::lexer::{lex, Kw, Tok};
use super::*;
use crate::ast::*;
use crate::diag::codes;
use crate::fmt::format_file;
use std::net::{Ipv4Addr, Ipv6Addr};

const F: FileId = FileId(0);
const EXAMPLE: &str = include_str!("../fixtures/language_example.pol");

// ------------------------------------------------------------------ helpers

fn toks(src: &str) -> Vec<Tok> {
    let l = lex(F, src);
    assert!(l.diags.is_empty(), "{:?}", l.diags);
    l.tokens.into_iter().map(|t| t.1).collect()
}

fn ok(src: &str) -> File {
    let (f, d) = parse_file(F, src);
    assert!(d.is_empty(), "unexpected diagnostics for {src:?}: {d:#?}");
    check_spans(&f, src);
    f
}

fn errs(src: &str) -> Vec<Diagnostic> {
    let (f, d) = parse_file(F, src);
    assert!(!d.is_empty(), "expected errors for {src:?}");
    check_spans(&f, src);
    d
}

fn codes_of(d: &[Diagnostic]) -> Vec<&'static str> {
    d.iter().map(|d| d.code.id).collect()
}

fn one_item(src: &str) -> Item {
    let f = ok(src);
    assert_eq!(f.items.len(), 1, "{f:#?}");
    f.items.into_iter().next().unwrap()
}

fn rule(src: &str) -> Rule {
    let f = ok(&format!("policy p {{\n    {src}\n}}"));
    match &f.items[0] {
        Item::Policy(p) => match &p.stmts[0] {
            PolicyStmt::Rule(r) => r.clone(),
            other => panic!("not a rule: {other:?}"),
        },
        other => panic!("not a policy: {other:?}"),
    }
}

fn network_expr(src: &str) -> AddrExpr {
    match one_item(&format!("network n = {src}")) {
        Item::Network(n) => n.expr,
        other => panic!("{other:?}"),
    }
}

fn service_expr(src: &str) -> ServiceExpr {
    match one_item(&format!("service s = {src}")) {
        Item::Service(n) => n.expr,
        other => panic!("{other:?}"),
    }
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn lit(e: &AddrExpr) -> AddrLit {
    match e {
        AddrExpr::Lit(l) => l.node,
        other => panic!("not a literal: {other:?}"),
    }
}

mod errors;
mod formatter;
mod items;
mod lexer;
mod spans;
use spans::check_spans;
