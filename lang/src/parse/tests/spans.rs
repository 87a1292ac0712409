//! Parser tests: the span invariant: a parent encloses its children, siblings are ordered, nothing runs past the end.

use super::*;

// ------------------------------------------------------------------ span invariant

fn within(child: Span, parent: Span, what: &str) {
    assert!(
        child.start >= parent.start && child.end <= parent.end && child.start <= child.end,
        "{what}: child span {child:?} not inside parent {parent:?}"
    );
}

fn ordered(spans: &[Span], what: &str) {
    for w in spans.windows(2) {
        assert!(
            w[0].end <= w[1].start,
            "{what}: siblings overlap {:?} {:?}",
            w[0],
            w[1]
        );
    }
}

pub(super) fn check_spans(f: &File, src: &str) {
    assert_eq!(f.span.end as usize, src.len());
    let items: Vec<Span> = f.items.iter().map(|i| i.span()).collect();
    ordered(&items, "items");
    for i in &f.items {
        let s = i.span();
        within(s, f.span, "item");
        assert!(
            !s.is_empty() || matches!(i, Item::Error(_)),
            "empty item span {i:?}"
        );
        check_item(i, s);
    }
    for c in &f.comments {
        within(c.span, f.span, "comment");
        assert!(src[c.span.range()].starts_with('#'));
    }
}

fn check_item(i: &Item, s: Span) {
    match i {
        Item::Import(x) => within(x.path.span, s, "import"),
        Item::Network(n) => {
            within(n.name.span, s, "network name");
            check_addr(&n.expr, s);
        }
        Item::Service(n) => {
            within(n.name.span, s, "service name");
            check_svc(&n.expr, s);
        }
        Item::Group(g) => {
            within(g.name.span, s, "group name");
            match &g.body {
                GroupBody::Selectors(v) => {
                    ordered(&v.iter().map(|x| x.span()).collect::<Vec<_>>(), "selectors");
                    v.iter().for_each(|x| within(x.span(), s, "selector"));
                }
                GroupBody::Union(e) => check_group(e, s),
            }
        }
        Item::Matcher(m) => {
            within(m.name.span, s, "matcher name");
            within(m.path.span, s, "matcher path");
            ordered(
                &m.limits.iter().map(|x| x.span).collect::<Vec<_>>(),
                "limits",
            );
            m.limits.iter().for_each(|x| within(x.span, s, "limit"));
        }
        Item::Tunnel(t) => {
            within(t.name.span, s, "tunnel name");
            ordered(
                &t.fields.iter().map(|x| x.span).collect::<Vec<_>>(),
                "fields",
            );
            for f in &t.fields {
                within(f.span, s, "field");
                if let TunnelField::Routes(r) = &f.node {
                    check_addr(r, f.span);
                }
            }
        }
        Item::Tuning(t) => {
            for e in &t.entries {
                match e {
                    TuningEntry::Sysctl {
                        unsafe_kw,
                        key,
                        value,
                        span,
                    } => {
                        within(*span, s, "sysctl");
                        if let Some(u) = unsafe_kw {
                            within(*u, *span, "unsafe");
                        }
                        within(key.span, *span, "key");
                        within(value.span, *span, "value");
                    }
                    TuningEntry::Qdisc { dev, kind, span } => {
                        within(*span, s, "qdisc");
                        within(dev.span, *span, "dev");
                        within(kind.span, *span, "kind");
                    }
                }
            }
        }
        Item::Policy(p) => {
            within(p.name.span, s, "policy name");
            for st in &p.stmts {
                match st {
                    PolicyStmt::Hook(h) => within(h.span, s, "hook"),
                    PolicyStmt::Default(d) => within(d.span, s, "default"),
                    PolicyStmt::Error(e) => within(*e, s, "error stmt"),
                    PolicyStmt::Rule(r) => {
                        within(r.span, s, "rule");
                        within(r.verdict.span, r.span, "verdict");
                        check_packets(&r.packets, r.span);
                        r.modifiers
                            .iter()
                            .for_each(|m| within(m.span, r.span, "modifier"));
                    }
                }
            }
        }
        Item::Test(t) => {
            within(t.name.span, s, "test name");
            for e in &t.expects {
                within(e.span, s, "expect");
                within(e.verdict.span, e.span, "expect verdict");
                check_packets(&e.packets, e.span);
                if let Some(p) = &e.policy {
                    within(p.span, e.span, "in");
                }
            }
        }
        Item::Error(_) => {}
    }
}

fn check_packets(p: &PacketSpec, s: Span) {
    if let Some(g) = &p.groups {
        check_group(g, s);
    }
    if let Some(a) = &p.from {
        check_addr(a, s);
    }
    if let Some(a) = &p.to {
        check_addr(a, s);
    }
    if let Some(v) = &p.service {
        check_svc(&v.expr, s);
    }
    if let Some(v) = &p.via {
        within(v.span, s, "via");
    }
}

fn check_group(g: &GroupExpr, parent: Span) {
    within(g.span(), parent, "group expr");
    if let GroupExpr::Set(v, s) = g {
        ordered(&v.iter().map(|x| x.span).collect::<Vec<_>>(), "group set");
        v.iter().for_each(|x| within(x.span, *s, "group elem"));
    }
}

fn check_addr(e: &AddrExpr, parent: Span) {
    let s = e.span();
    within(s, parent, "addr expr");
    match e {
        AddrExpr::Set(v, _) => {
            ordered(&v.iter().map(|x| x.span()).collect::<Vec<_>>(), "addr set");
            v.iter().for_each(|x| check_addr(x, s));
        }
        AddrExpr::Not(inner, _) => check_addr(inner, s),
        AddrExpr::Call(c) => check_call(c, s),
        _ => {}
    }
}

fn check_svc(e: &ServiceExpr, parent: Span) {
    let s = e.span();
    within(s, parent, "service expr");
    match e {
        ServiceExpr::Set(v, _) => {
            ordered(
                &v.iter().map(|x| x.span()).collect::<Vec<_>>(),
                "service set",
            );
            v.iter().for_each(|x| check_svc(x, s));
        }
        ServiceExpr::Ports { proto, ports, .. } => {
            within(proto.span, s, "proto");
            ordered(&ports.iter().map(|x| x.span).collect::<Vec<_>>(), "ports");
            ports.iter().for_each(|p| within(p.span, s, "port"));
        }
        ServiceExpr::Call(c) => check_call(c, s),
        _ => {}
    }
}

fn check_call(c: &Call, parent: Span) {
    within(c.span, parent, "call");
    within(c.name.span, c.span, "call name");
    ordered(&c.args.iter().map(|x| x.span).collect::<Vec<_>>(), "args");
    c.args.iter().for_each(|a| within(a.span, c.span, "arg"));
}
