//! The definition graph: networks, services and groups as nodes, an edge
//! from each definition to every name its expression uses. Cycles are
//! reported (printed as the cycle); the rest is evaluated in dependency
//! order, so no evaluation recursion follows names.

use super::cycles::{find_cycles, order};
use super::names::DefKind;
use super::Resolver;
use crate::ast;
use crate::diag::{codes, Diagnostic};
use crate::span::Span;
use petgraph::graph::DiGraph;
use std::collections::HashMap;

/// A definition to evaluate: `(file index, item index)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    Network(usize, usize),
    Service(usize, usize),
    Group(usize, usize),
}

/// Build the graph, report cycles, and return the definitions in
/// dependency order (definitions on a cycle are left out).
pub fn evaluation_order(r: &mut Resolver<'_>) -> Vec<Node> {
    let mut g: DiGraph<(Node, String, Span), Span> = DiGraph::new();
    let mut index = HashMap::new();
    for (fi, f) in r.loaded.files.iter().enumerate() {
        for (ii, item) in f.ast.items.iter().enumerate() {
            let (node, name) = match item {
                ast::Item::Network(d) => (Node::Network(fi, ii), &d.name),
                ast::Item::Service(d) => (Node::Service(fi, ii), &d.name),
                ast::Item::Group(d) => (Node::Group(fi, ii), &d.name),
                _ => continue,
            };
            // Only the definition the namespace kept (duplicates are reported).
            match r.ns.get(&name.node) {
                Some(def) if def.file == fi && def.item == ii => {}
                _ => continue,
            }
            let n = g.add_node((node, name.node.clone(), name.span));
            index.insert(name.node.clone(), n);
        }
    }
    let nodes: Vec<_> = g.node_indices().collect();
    for n in nodes {
        let (node, _, _) = g[n].clone();
        let mut refs = Vec::new();
        match node {
            Node::Network(fi, ii) => {
                if let ast::Item::Network(d) = &r.loaded.files[fi].ast.items[ii] {
                    addr_refs(&d.expr, &mut refs, 0);
                }
            }
            Node::Service(fi, ii) => {
                if let ast::Item::Service(d) = &r.loaded.files[fi].ast.items[ii] {
                    service_refs(&d.expr, &mut refs, 0);
                }
            }
            Node::Group(fi, ii) => {
                if let ast::Item::Group(d) = &r.loaded.files[fi].ast.items[ii] {
                    if let ast::GroupBody::Union(e) = &d.body {
                        group_refs(e, &mut refs);
                    }
                }
            }
        }
        // Only a reference of the slot's own kind is a dependency; one of
        // another kind is a type error, reported when it is evaluated.
        for id in refs {
            if let Some(&t) = index.get(&id.node) {
                if std::mem::discriminant(&g[t].0) == std::mem::discriminant(&node) {
                    g.add_edge(n, t, id.span);
                }
            }
        }
    }
    for cycle in find_cycles(&g) {
        let names: Vec<String> = cycle.iter().map(|(a, _, _)| g[*a].1.clone()).collect();
        let mut chain = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(" → ");
        if let Some(first) = names.first() {
            chain.push_str(&format!(" → `{first}`"));
        }
        let start = cycle.first().map(|(a, _, _)| g[*a].2);
        let Some(start) = start else { continue };
        let mut d = Diagnostic::new(
            codes::DEFINITION_CYCLE,
            start,
            format!("`{}` is defined in terms of itself", names[0]),
        )
        .with_label("this definition is part of a cycle")
        .with_note(format!("cycle: {chain}"));
        for (_, _, use_span) in &cycle {
            d = d.with_related(*use_span, "used here");
        }
        r.err(d);
    }
    let (ord, cyclic) = order(&g);
    ord.into_iter()
        .filter(|n| !cyclic.contains(n))
        .map(|n| g[n].0)
        .collect()
}

fn addr_refs<'a>(e: &'a ast::AddrExpr, out: &mut Vec<&'a ast::Ident>, depth: usize) {
    if depth > super::MAX_DEPTH {
        return;
    }
    match e {
        ast::AddrExpr::Name(i) => out.push(i),
        ast::AddrExpr::Set(es, _) => es.iter().for_each(|x| addr_refs(x, out, depth + 1)),
        ast::AddrExpr::Not(x, _) => addr_refs(x, out, depth + 1),
        _ => {}
    }
}

fn service_refs<'a>(e: &'a ast::ServiceExpr, out: &mut Vec<&'a ast::Ident>, depth: usize) {
    if depth > super::MAX_DEPTH {
        return;
    }
    match e {
        ast::ServiceExpr::Name(i) => out.push(i),
        ast::ServiceExpr::Set(es, _) => es.iter().for_each(|x| service_refs(x, out, depth + 1)),
        _ => {}
    }
}

fn group_refs<'a>(e: &'a ast::GroupExpr, out: &mut Vec<&'a ast::Ident>) {
    match e {
        ast::GroupExpr::Name(i) => out.push(i),
        ast::GroupExpr::Set(is, _) => out.extend(is.iter()),
        ast::GroupExpr::Any(_) => {}
    }
}

/// For messages: the kind a name slot expects.
pub fn expected_kind(kind: DefKind) -> &'static str {
    match kind {
        DefKind::Network => "an address",
        DefKind::Service => "a service",
        DefKind::Group => "a group",
        DefKind::Matcher => "a matcher",
        DefKind::Tunnel => "a tunnel",
        DefKind::Policy => "a policy",
    }
}
