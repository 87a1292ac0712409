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
const EXAMPLE: &str = include_str!("fixtures/language_example.pol");

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

fn check_spans(f: &File, src: &str) {
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
                    TuningEntry::Sysctl { key, value, span } => {
                        within(*span, s, "sysctl");
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

// ------------------------------------------------------------------ lexer

#[test]
fn lex_keywords_and_idents() {
    assert_eq!(
        toks("policy corp-apps _x fe80 allow"),
        vec![
            Tok::Kw(Kw::Policy),
            Tok::Ident("corp-apps".into()),
            Tok::Ident("_x".into()),
            Tok::Ident("fe80".into()),
            Tok::Kw(Kw::Allow)
        ]
    );
}

#[test]
fn lex_numbers() {
    assert_eq!(
        toks("443 0x10 0"),
        vec![Tok::Int(443), Tok::Int(16), Tok::Int(0)]
    );
    assert_eq!(
        toks("8000-8999"),
        vec![Tok::Int(8000), Tok::Minus, Tok::Int(8999)]
    );
    let l = lex(F, "99999999999999999999999");
    assert_eq!(codes_of(&l.diags), vec![codes::INT_OVERFLOW.id]);
}

#[test]
fn lex_strings() {
    assert_eq!(
        toks(r#""a\"b\\c\nd\te""#),
        vec![Tok::Str("a\"b\\c\nd\te".into())]
    );
    let l = lex(F, r#""bad \q escape""#);
    assert_eq!(codes_of(&l.diags), vec![codes::INVALID_ESCAPE.id]);
    assert_eq!(l.diags[0].primary.unwrap().range(), 5..7);
    let l = lex(F, "\"open\nnext");
    assert_eq!(codes_of(&l.diags), vec![codes::UNTERMINATED_STR.id]);
    assert_eq!(l.tokens[0].1, Tok::Str("open".into()));
}

#[test]
fn lex_addresses() {
    for a in [
        "192.0.2.1",
        "10.0.0.0/8",
        "2001:db8::1",
        "::1",
        "::",
        "::ffff:192.0.2.1",
        "fe80::1",
        "2001:db8::/32",
        "192.0.2.10-192.0.2.20",
        "2001:db8::1-2001:db8::ff",
        "10:1",
    ] {
        assert_eq!(toks(a), vec![Tok::Addr(a.into())], "{a}");
    }
}

#[test]
fn lex_sysctl_keys_and_quantities() {
    assert_eq!(
        toks("net.ipv4.tcp_autocorking net.ipv6.conf.eth0.disable_policy"),
        vec![
            Tok::SysKey("net.ipv4.tcp_autocorking".into()),
            Tok::SysKey("net.ipv6.conf.eth0.disable_policy".into())
        ]
    );
    assert_eq!(
        toks("64MiB 2s 500ms"),
        vec![
            Tok::Qty("64MiB".into()),
            Tok::Qty("2s".into()),
            Tok::Qty("500ms".into())
        ]
    );
}

#[test]
fn lex_punctuation_comments_and_newlines() {
    let l = lex(F, "\n\n{ a, # c1\n b }\n!x = y;\n\n(z) # tail");
    assert!(l.diags.is_empty());
    let t: Vec<Tok> = l.tokens.into_iter().map(|t| t.1).collect();
    assert_eq!(
        t,
        vec![
            Tok::LBrace,
            Tok::Ident("a".into()),
            Tok::Comma,
            Tok::Ident("b".into()),
            Tok::RBrace,
            Tok::Sep,
            Tok::Bang,
            Tok::Ident("x".into()),
            Tok::Eq,
            Tok::Ident("y".into()),
            Tok::Sep,
            Tok::LParen,
            Tok::Ident("z".into()),
            Tok::RParen,
        ]
    );
    assert_eq!(
        l.comments
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>(),
        vec![" c1", " tail"]
    );
}

#[test]
fn lex_invalid_char() {
    let l = lex(F, "allow @ x");
    assert_eq!(codes_of(&l.diags), vec![codes::INVALID_CHAR.id]);
    assert_eq!(l.tokens.len(), 2);
}

#[test]
fn lex_refuses_absurd_nesting() {
    let src = format!("network n = {}10.0.0.0/8", "!".repeat(5000));
    let (_, d) = parse_file(F, &src);
    assert!(codes_of(&d).contains(&"P0018"), "{d:?}");
    let src = format!(
        "network n = {}1.1.1.1{}",
        "{ !".repeat(600),
        "}".repeat(600)
    );
    let (_, d) = parse_file(F, &src);
    assert!(codes_of(&d).contains(&"P0018"), "{d:?}");
    // Deep but allowed nesting parses (the resolver applies its own limit).
    let src = format!("network n = {}10.0.0.0/8", "!".repeat(300));
    ok(&src);
    let src = format!("policy p {{\n{}}}", "allow to !{ !{ !x } }\n".repeat(2000));
    ok(&src);
}

// ------------------------------------------------------------------ items

#[test]
fn parse_language_example() {
    let f = ok(EXAMPLE);
    let kinds: Vec<&str> = f
        .items
        .iter()
        .map(|i| match i {
            Item::Import(_) => "import",
            Item::Network(_) => "network",
            Item::Service(_) => "service",
            Item::Group(_) => "group",
            Item::Matcher(_) => "matcher",
            Item::Tunnel(_) => "tunnel",
            Item::Tuning(_) => "tuning",
            Item::Policy(_) => "policy",
            Item::Test(_) => "test",
            Item::Error(_) => "error",
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "import", "import", "network", "network", "service", "service", "group", "group",
            "group", "group", "matcher", "tunnel", "tuning", "policy", "test"
        ]
    );
    assert!(f.comments.len() >= 10);
    let Item::Policy(p) = &f.items[13] else {
        panic!()
    };
    assert_eq!(p.stmts.len(), 6);
    let Item::Test(t) = &f.items[14] else {
        panic!()
    };
    assert_eq!(t.expects.len(), 3);
    assert!(t.expects[2].some);
    assert_eq!(t.expects[1].verdict.node, ExpectVerdict::Deny);
}

#[test]
fn parse_import_network_service() {
    let Item::Import(i) = one_item("import \"std/services\"") else {
        panic!()
    };
    assert_eq!(i.path.node, "std/services");
    assert_eq!(i.span.range(), 0..21);

    let e = network_expr("{ 10.20.0.0/16, 2001:db8:100::/48, }");
    let AddrExpr::Set(v, _) = &e else { panic!() };
    assert_eq!(lit(&v[0]), AddrLit::Prefix4(v4("10.20.0.0"), 16));
    assert_eq!(lit(&v[1]), AddrLit::Prefix6(v6("2001:db8:100::"), 48));

    let e = network_expr("!{ rfc1918, loopback }");
    let AddrExpr::Not(inner, s) = &e else {
        panic!()
    };
    assert_eq!(s.range(), 12..34);
    assert!(matches!(**inner, AddrExpr::Set(ref v, _) if v.len() == 2));

    assert_eq!(
        lit(&network_expr("192.0.2.10-192.0.2.20")),
        AddrLit::Range4(v4("192.0.2.10"), v4("192.0.2.20"))
    );
    assert_eq!(
        lit(&network_expr("::ffff:192.0.2.1")),
        AddrLit::V6(v6("::ffff:192.0.2.1"))
    );
    assert!(matches!(network_expr("any"), AddrExpr::Any(_)));
    assert!(matches!(network_expr("corp"), AddrExpr::Name(ref n) if n.node == "corp"));
    let AddrExpr::Call(c) = network_expr("geo(\"de\", 3)") else {
        panic!()
    };
    assert_eq!(c.name.node, "geo");
    assert_eq!(
        c.args.iter().map(|a| a.node.clone()).collect::<Vec<_>>(),
        vec![CallArg::Str("de".into()), CallArg::Int(3)]
    );

    let e = service_expr("{ tcp 80, tcp { 8000-8999, 443 }, udp 53, icmp, icmpv6, proto esp, proto 50, proto tcp, dns, f(1) }");
    let ServiceExpr::Set(v, _) = &e else { panic!() };
    assert_eq!(v.len(), 10);
    let ServiceExpr::Ports {
        proto,
        ports,
        braced,
        ..
    } = &v[1]
    else {
        panic!()
    };
    assert_eq!(proto.node, PortProto::Tcp);
    assert!(*braced);
    assert_eq!(ports[0].node, PortRange { lo: 8000, hi: 8999 });
    assert!(matches!(&v[5], ServiceExpr::Proto(p) if p.node == ProtoRef::Name("esp".into())));
    assert!(matches!(&v[6], ServiceExpr::Proto(p) if p.node == ProtoRef::Num(50)));
    assert!(matches!(&v[7], ServiceExpr::Proto(p) if p.node == ProtoRef::Name("tcp".into())));
}

#[test]
fn parse_multiline_sets() {
    let e = network_expr("{\n    10.0.0.0/8,   # office\n\n    192.168.0.0/16,\n}");
    let AddrExpr::Set(v, _) = &e else { panic!() };
    assert_eq!(v.len(), 2);
}

#[test]
fn parse_groups() {
    let Item::Group(g) = one_item("group g { cgroup \"a/b\"; classid 10:1; uid 34; gid 0x10 }")
    else {
        panic!()
    };
    let GroupBody::Selectors(s) = &g.body else {
        panic!()
    };
    assert_eq!(s.len(), 4);
    assert!(matches!(&s[0], Selector::Cgroup(p) if p.node == "a/b"));
    assert!(matches!(&s[1], Selector::Classid(c) if c.node == 0x0010_0001));
    assert!(matches!(&s[2], Selector::Uid(c) if c.node == 34));
    assert!(matches!(&s[3], Selector::Gid(c) if c.node == 16));
    let Item::Group(g) = one_item("group g {\n    classid 0x00100001\n    classid 1\n}") else {
        panic!()
    };
    let GroupBody::Selectors(s) = &g.body else {
        panic!()
    };
    assert!(matches!(&s[0], Selector::Classid(c) if c.node == 0x0010_0001));
    assert!(matches!(&s[1], Selector::Classid(c) if c.node == 1));
    let Item::Group(g) = one_item("group devtools = { editor, terminal }") else {
        panic!()
    };
    assert!(matches!(&g.body, GroupBody::Union(GroupExpr::Set(v, _)) if v.len() == 2));
}

#[test]
fn parse_matcher() {
    let Item::Matcher(m) =
        one_item("matcher geo = wasm \"geo.wat\" { fuel 50000000; memory 64MiB; timeout 2s }")
    else {
        panic!()
    };
    assert_eq!(m.path.node, "geo.wat");
    let l: Vec<MatcherLimit> = m.limits.iter().map(|l| l.node).collect();
    assert_eq!(
        l,
        vec![
            MatcherLimit::Fuel(50_000_000),
            MatcherLimit::Memory(64 << 20),
            MatcherLimit::TimeoutMs(2000)
        ]
    );
    let Item::Matcher(m) =
        one_item("matcher geo = wasm \"g.wasm\" {\n memory 4096\n timeout 500ms\n}")
    else {
        panic!()
    };
    assert_eq!(m.limits[0].node, MatcherLimit::Memory(4096));
    assert_eq!(m.limits[1].node, MatcherLimit::TimeoutMs(500));
    let d = errs("matcher geo = wasm \"g.wasm\" { memory 2s; timeout 5MiB; timeout 5 }");
    assert_eq!(codes_of(&d), vec!["P0017"; 3]);
}

#[test]
fn parse_tunnel() {
    let Item::Tunnel(t) = one_item(
        "tunnel corp-vpn {\n local 2001:db8::1\n remote 2001:db8:ffff::1\n key 42\n address fd00:42::1/64\n routes corp\n mtu 1400\n dev \"vti-x\"\n key 43\n}",
    ) else {
        panic!()
    };
    assert_eq!(t.fields.len(), 8);
    assert_eq!(
        t.fields[0].node,
        TunnelField::Local(AddrLit::V6(v6("2001:db8::1")))
    );
    assert_eq!(
        t.fields[3].node,
        TunnelField::Address(AddrLit::Prefix6(v6("fd00:42::1"), 64))
    );
    assert!(matches!(
        &t.fields[4].node,
        TunnelField::Routes(AddrExpr::Name(_))
    ));
    assert_eq!(t.fields[6].node, TunnelField::Dev("vti-x".into()));
    assert_eq!(t.fields[7].node, TunnelField::Key(43));
}

#[test]
fn parse_tuning() {
    let Item::Tuning(t) =
        one_item("tuning {\n net.ipv4.tcp_autocorking = 1\n net.core.default_qdisc = \"fq\"\n \"net.foo.bar\" = -3\n net.x.y = on\n net.x.z = off\n qdisc \"eth0\" fq_codel\n}")
    else {
        panic!()
    };
    assert_eq!(t.entries.len(), 6);
    let TuningEntry::Sysctl { key, value, .. } = &t.entries[2] else {
        panic!()
    };
    assert_eq!(
        key.node,
        SysctlKey {
            name: "net.foo.bar".into(),
            quoted: true
        }
    );
    assert_eq!(value.node, SysctlValue::Int(-3));
    let TuningEntry::Sysctl { value, .. } = &t.entries[3] else {
        panic!()
    };
    assert_eq!(value.node, SysctlValue::On);
    let TuningEntry::Qdisc { dev, kind, .. } = &t.entries[5] else {
        panic!()
    };
    assert_eq!(
        (dev.node.as_str(), kind.node.as_str()),
        ("eth0", "fq_codel")
    );
}

#[test]
fn parse_rules() {
    let r = rule("allow browser to internet service web");
    assert_eq!(r.verdict.node, Verdict::Allow);
    assert!(matches!(r.packets.groups, Some(GroupExpr::Name(_))));
    assert!(r.packets.service.as_ref().unwrap().keyword);
    let r = rule("reject { a, b } from 10.0.0.0/8 to any tcp { 80, 8000-8999 } via vpn log \"x\" counter comment \"c\"");
    assert!(matches!(r.packets.groups, Some(GroupExpr::Set(ref v, _)) if v.len() == 2));
    assert!(matches!(r.packets.to, Some(AddrExpr::Any(_))));
    let svc = r.packets.service.unwrap();
    assert!(!svc.keyword);
    assert!(
        matches!(svc.expr, ServiceExpr::Ports { braced: true, ref ports, .. } if ports.len() == 2)
    );
    assert_eq!(r.packets.via.unwrap().node, "vpn");
    let m: Vec<Modifier> = r.modifiers.into_iter().map(|m| m.node).collect();
    assert_eq!(
        m,
        vec![
            Modifier::Log(Some("x".into())),
            Modifier::Counter,
            Modifier::Comment("c".into())
        ]
    );
    let r = rule("drop any icmp log");
    assert!(matches!(r.packets.groups, Some(GroupExpr::Any(_))));
    assert_eq!(r.modifiers[0].node, Modifier::Log(None));
    let r = rule("allow");
    assert_eq!(r.packets, PacketSpec::default());
    assert_eq!(r.span.end - r.span.start, 5);
    let r = rule("drop to any log");
    assert_eq!(r.span.end - r.span.start, 15);
    assert_eq!(r.modifiers[0].span.end - r.modifiers[0].span.start, 3);
    let r = rule("allow proto esp");
    assert!(matches!(
        r.packets.service.unwrap().expr,
        ServiceExpr::Proto(_)
    ));
    let r = rule("allow to { 2001:db8::1,\n 10.0.0.1 } udp 53");
    assert!(matches!(r.packets.to, Some(AddrExpr::Set(ref v, _)) if v.len() == 2));
}

#[test]
fn parse_policy_stmts_and_test() {
    let Item::Policy(p) = one_item("policy egress { hook input; default reject; allow }") else {
        panic!()
    };
    assert!(matches!(&p.stmts[0], PolicyStmt::Hook(h) if h.node == Hook::Input));
    assert!(matches!(&p.stmts[1], PolicyStmt::Default(h) if h.node == Verdict::Reject));
    let Item::Test(t) = one_item(
        "test \"t\" {\n expect some reject browser from ::1 to corp tcp 22 via v in egress\n}",
    ) else {
        panic!()
    };
    let e = &t.expects[0];
    assert!(e.some);
    assert_eq!(e.verdict.node, ExpectVerdict::Reject);
    assert_eq!(e.policy.as_ref().unwrap().node, "egress");
    assert!(e.packets.via.is_some());
}

#[test]
fn entry_points() {
    let e = parse_addr_expr(F, "{ 192.0.2.0/24,\n 2001:db8::/32 }\n").unwrap();
    assert!(matches!(e, AddrExpr::Set(ref v, _) if v.len() == 2));
    let e = parse_service_expr(F, "{ tcp 443, udp 53 }").unwrap();
    assert!(matches!(e, ServiceExpr::Set(ref v, _) if v.len() == 2));
    assert!(parse_addr_expr(F, "{ 192.0.2.0/24 } x").is_err());
    assert!(parse_addr_expr(F, "{ 1.2.3 }").is_err());
    assert!(parse_addr_expr(F, "").is_err());
    assert!(parse_service_expr(F, "{ tcp }").is_err());
}

// ------------------------------------------------------------------ errors

#[test]
fn address_errors() {
    let cases = [
        ("1.2.3", "P0007"),
        ("10.0.0.0/33", "P0009"),
        ("2001:db8::/129", "P0009"),
        ("10.0.0.1-2001:db8::1", "P0013"),
        ("10.0.0.5-10.0.0.1", "P0010"),
        ("1.2.3.4.5", "P0007"),
    ];
    for (a, code) in cases {
        let d = errs(&format!("network n = {a}"));
        assert_eq!(codes_of(&d), vec![code], "{a}");
        assert_eq!(d[0].primary.unwrap().range(), 12..12 + a.len());
    }
    // Host bits are not a syntax error.
    ok("network n = 10.0.0.1/8");
}

#[test]
fn classid_errors() {
    for c in ["10000:1", "1:10000", "0x100000000", "1.2", "1:2:3"] {
        let d = errs(&format!("group g {{ classid {c} }}"));
        assert_eq!(codes_of(&d), vec!["P0012"], "{c}");
    }
}

#[test]
fn keyword_as_name() {
    let d = errs("network policy = 10.0.0.0/8");
    assert_eq!(codes_of(&d), vec!["P0016"]);
    assert_eq!(
        d[0].message,
        "`policy` is a keyword and cannot be used as a name"
    );
}

#[test]
fn expected_lists_are_pretty() {
    let d = errs("policy p {\n    hook outptu\n}");
    assert_eq!(codes_of(&d), vec!["P0001"]);
    assert_eq!(d[0].message, "unexpected `outptu`");
    assert_eq!(
        d[0].primary_label.as_deref(),
        Some("expected one of `output`, `input`")
    );
    assert_eq!(d[0].help.as_deref(), Some("did you mean `output`?"));

    let d = errs("frobnicate x");
    assert!(
        d[0].primary_label
            .as_deref()
            .unwrap()
            .starts_with("expected one of `import`, `network`"),
        "{d:?}"
    );

    let d = errs("policy p {\n    allow");
    assert_eq!(codes_of(&d), vec!["P0002"]);
    assert!(d[0].primary_label.as_deref().unwrap().contains("`}`"));
    assert_eq!(
        d[0].primary.unwrap().start as usize,
        "policy p {\n    allow".len()
    );
}

#[test]
fn recovers_from_many_errors() {
    let src = "\
network a = { 10.0.0.0/8 }
network b = = 1
service web = { tcp 80 }
policy p {
    hook output
    allow browser frobnicate
    default drop
    allow to b service web
    drop to
}
group g { uid 1 }
";
    let (f, d) = parse_file(F, src);
    check_spans(&f, src);
    assert_eq!(d.len(), 3, "{d:#?}");
    assert!(d.iter().all(|d| d.code.id == "P0001"));
    assert_eq!(f.items.len(), 5);
    assert!(matches!(f.items[0], Item::Network(_)));
    assert!(matches!(f.items[1], Item::Error(_)));
    assert!(matches!(f.items[2], Item::Service(_)));
    assert!(matches!(f.items[4], Item::Group(_)));
    let Item::Policy(p) = &f.items[3] else {
        panic!("{:?}", f.items[3])
    };
    assert_eq!(p.stmts.len(), 5);
    assert!(matches!(p.stmts[1], PolicyStmt::Error(_)));
    assert!(matches!(p.stmts[3], PolicyStmt::Rule(_)));
    assert!(matches!(p.stmts[4], PolicyStmt::Error(_)));
    // The error statement covers the whole bad line.
    let PolicyStmt::Error(s) = p.stmts[1] else {
        panic!()
    };
    assert_eq!(&src[s.range()], "allow browser frobnicate");
}

#[test]
fn recovers_inside_sets() {
    let src = "network a = { 10.0.0.0/8, foo bar, 10.1.0.0/16 }\nnetwork b = c";
    let (f, d) = parse_file(F, src);
    check_spans(&f, src);
    assert_eq!(d.len(), 1, "{d:#?}");
    let Item::Network(n) = &f.items[0] else {
        panic!()
    };
    let AddrExpr::Set(v, _) = &n.expr else {
        panic!()
    };
    assert_eq!(v.len(), 3);
    assert!(matches!(v[1], AddrExpr::Error(_)));
    assert!(matches!(f.items[1], Item::Network(_)));
}

#[test]
fn errors_in_blocks() {
    let d = errs("tunnel t {\n local foo\n key 1\n mtu x\n}\ngroup g { cgroup 1; uid 2 }\ntuning { a.b = ; c.d = 1; k.x = }\ntest \"t\" { expect maybe }\nmatcher m = wasm \"x\" { fuel x }");
    assert_eq!(d.len(), 7, "{d:#?}");
    assert!(d.iter().all(|d| d.code.id == "P0001"), "{d:#?}");
}

#[test]
fn lexical_errors_are_reported_with_syntax_errors() {
    let d = errs("network a = \"x\nnetwork b = 10.0.0.0/8 @");
    assert!(codes_of(&d).contains(&"P0004"));
    assert!(codes_of(&d).contains(&"P0003"));
    // A syntax error right after a lexical error is not reported again.
    assert_eq!(
        codes_of(&errs("network office = 10.0.0.0/8 @ 10.1.0.0/16")),
        vec!["P0003"]
    );
    assert_eq!(
        codes_of(&errs(
            "group browser { cgroup \"apps.slice/browser.slice }\n"
        )),
        vec!["P0004"]
    );
    // ... but one further on is.
    assert_eq!(
        codes_of(&errs("network office = 10.0.0.0/8 @ ;network = 1")),
        vec!["P0003", "P0001"]
    );
}

// ------------------------------------------------------------------ formatter

/// Debug text of a tree with every `Span { .. }` removed: derived equality
/// on nodes with a plain `span: Span` field compares positions.
fn unspanned<T: std::fmt::Debug>(t: &T) -> String {
    let s = format!("{t:?}");
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(i) = rest.find("Span { file: ") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let j = after.find('}').unwrap();
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    out
}

fn same_tree(a: &File, b: &File) {
    assert_eq!(unspanned(&a.items), unspanned(&b.items));
    let ta: Vec<&str> = a.comments.iter().map(|c| c.text.as_str()).collect();
    let tb: Vec<&str> = b.comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(ta, tb);
}

fn fmt_roundtrip(src: &str) -> String {
    let f1 = ok(src);
    let out1 = format_file(&f1, src);
    let (f2, d2) = parse_file(F, &out1);
    assert!(
        d2.is_empty(),
        "formatted output does not parse: {d2:#?}\n{out1}"
    );
    check_spans(&f2, &out1);
    same_tree(&f1, &f2);
    let out2 = format_file(&f2, &out1);
    assert_eq!(out1, out2, "not idempotent");
    out1
}

const COMMENTED: &str = "\
# leading comment of the file

# about corp
network corp = {
    10.0.0.0/8,   # office

    # lab
    192.168.0.0/16,
    # trailing in set
}
network x = geo(\"a\", # inside call
    3)
group a { uid 1 }  # eol after block
group b { # on the brace line
    uid 2
    # end of group
}
policy p { # p
    hook output

    # the main rule
    allow a to corp  # why
    allow b to { 2001:db8::1, # one
        2001:db8::2 }
    # end of block
}
# end of file
";

#[test]
fn fmt_language_example() {
    let out = fmt_roundtrip(EXAMPLE);
    assert!(out.contains(
        "group browser { cgroup \"apps.slice/firefox.slice\" }\ngroup legacy { classid 10:1 }"
    ));
    assert!(
        out.contains("network internet = !{ rfc1918, loopback, link-local, ula }  # set algebra\n")
    );
    assert!(out.contains("    hook output  # output | input\n"));
    assert!(out.contains("\n\n    allow browser to internet service web\n"));
    assert!(out.contains("    mtu 1400  # optional\n"));
    assert!(out.contains("    expect deny browser to corp\n"));
}

#[test]
fn fmt_keeps_comments() {
    let out = fmt_roundtrip(COMMENTED);
    assert!(out.starts_with("# leading comment of the file\n\n# about corp\nnetwork corp = {\n    10.0.0.0/8,  # office\n\n    # lab\n"), "{out}");
    assert!(out.contains("    # trailing in set\n}\n"), "{out}");
    assert!(
        out.contains("# inside call\nnetwork x = geo(\"a\", 3)\n"),
        "{out}"
    );
    assert!(
        out.contains("group a { uid 1 }  # eol after block\n"),
        "{out}"
    );
    assert!(
        out.contains("group b {  # on the brace line\n    uid 2\n    # end of group\n}\n"),
        "{out}"
    );
    assert!(out.contains("policy p {  # p\n"), "{out}");
    assert!(
        out.contains(
            "    allow b to {\n        2001:db8::1,  # one\n        2001:db8::2,\n    }\n"
        ),
        "{out}"
    );
    assert!(
        out.ends_with("    # end of block\n}\n# end of file\n"),
        "{out}"
    );
}

#[test]
fn fmt_canonical_layout() {
    let src = "import \"a\";network n={10.0.0.1,10.0.0.2,}\ngroup g{classid 0x00100001;uid 0x10}\ntuning{\"a.b\"=-1;x.y=\"s\\\"q\"}\nmatcher m = wasm \"m.wat\" { memory 65536; timeout 1500ms; fuel 0x10 }\nservice s = { tcp { 80 }, tcp 8000-8999, proto 50 }\npolicy p { allow any from ::ffff:192.0.2.1 to 2001:0db8:0::1 udp 53 }";
    let out = fmt_roundtrip(src);
    let want = "\
import \"a\"

network n = { 10.0.0.1, 10.0.0.2 }

group g {
    classid 10:1
    uid 16
}

tuning {
    \"a.b\" = -1
    x.y = \"s\\\"q\"
}

matcher m = wasm \"m.wat\" {
    memory 64KiB
    timeout 1500ms
    fuel 16
}

service s = { tcp { 80 }, tcp 8000-8999, proto 50 }

policy p {
    allow any from ::ffff:192.0.2.1 to 2001:db8::1 udp 53
}
";
    assert_eq!(out, want);
}

#[test]
fn fmt_breaks_long_sets() {
    let elems: Vec<String> = (0..20).map(|i| format!("10.{i}.0.0/16")).collect();
    let src = format!(
        "network n = !{{ {} }}\npolicy p {{\n allow to {{ {} }} tcp 443\n}}",
        elems.join(", "),
        elems.join(", ")
    );
    let out = fmt_roundtrip(&src);
    assert!(out.contains("network n = !{\n    10.0.0.0/16,\n"), "{out}");
    assert!(
        out.contains("    allow to {\n        10.0.0.0/16,\n"),
        "{out}"
    );
    assert!(
        out.contains("        10.19.0.0/16,\n    } tcp 443\n"),
        "{out}"
    );
}

#[test]
fn fmt_misc_roundtrips() {
    for src in [
        "",
        "# only a comment",
        "\n\n# a\n\n\n# b\n",
        "group g {}\ntuning {}\npolicy p {}\ntest \"x\" {}",
        "group g {\n    # nothing here\n}",
        "network a = 1.1.1.1\nnetwork b = 2.2.2.2\n\nnetwork c = 3.3.3.3",
        "test \"t\" { expect some allow { a, b } from any to !x service { s, tcp 1 } via t in p }",
        "policy p { drop proto tcp; reject icmpv6 log; allow service f(\"x\") comment \"a\\tb\\nc\\\\\" }",
        "service s = {\n}\nnetwork n = {}",
        "matcher m = wasm \"m\" {}\nmatcher k = wasm \"k\" { # c\n}",
    ] {
        fmt_roundtrip(src);
    }
}

// ------------------------------------------------------------------ robustness

mod prop {
    use super::*;
    use proptest::prelude::*;

    const PIECES: &[&str] = &[
        "network",
        "service",
        "group",
        "policy",
        "tunnel",
        "tuning",
        "test",
        "matcher",
        "import",
        "allow",
        "drop",
        "expect",
        "to",
        "from",
        "via",
        "tcp",
        "udp",
        "icmp",
        "proto",
        "{",
        "}",
        "(",
        ")",
        ",",
        ";",
        "\n",
        "=",
        "!",
        "-",
        "x",
        "corp",
        "10.0.0.0/8",
        "::1",
        "1.2.3.4-1.2.3.9",
        "10:1",
        "443",
        "0x10",
        "\"s\"",
        "\"un",
        "# c\n",
        "64MiB",
        "2s",
        "net.a.b",
        "@",
        "é",
        "hook",
        "output",
        "default",
        "log",
        "some",
        "in",
        "wasm",
        " ",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

        #[test]
        fn random_text_never_panics(s in "\\PC{0,200}") {
            let (f, _) = parse_file(F, &s);
            check_spans(&f, &s);
            let _ = parse_addr_expr(F, &s);
            let _ = parse_service_expr(F, &s);
        }

        #[test]
        fn token_soup_never_panics(v in proptest::collection::vec(0..PIECES.len(), 0..60)) {
            let s: String = v.iter().map(|i| format!("{} ", PIECES[*i])).collect();
            let (f, _) = parse_file(F, &s);
            check_spans(&f, &s);
        }

        #[test]
        fn mutated_example_never_panics(pos in 0usize..2000, len in 0usize..20, ins in 0..PIECES.len()) {
            let mut s = EXAMPLE.to_string();
            let mut p = pos.min(s.len());
            while !s.is_char_boundary(p) { p -= 1; }
            let mut e = (p + len).min(s.len());
            while !s.is_char_boundary(e) { e -= 1; }
            s.replace_range(p..e, PIECES[ins]);
            let (f, d) = parse_file(F, &s);
            check_spans(&f, &s);
            if d.is_empty() {
                let out = format_file(&f, &s);
                let (f2, d2) = parse_file(F, &out);
                prop_assert!(d2.is_empty(), "{:?}\n{}", d2, out);
                prop_assert_eq!(unspanned(&f.items), unspanned(&f2.items));
                prop_assert_eq!(format_file(&f2, &out), out);
            }
        }
    }
}

// ------------------------------------------------------------------ repository files

fn pol_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                pol_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "pol") {
                out.push(p);
            }
        }
    }
}

/// Every `.pol` file in the repository (examples, stdlib, fixtures) parses
/// without panicking and with valid spans; the examples and the stdlib parse
/// without errors; every error-free file formats idempotently and reparses
/// to the same tree.
#[test]
fn repository_pol_files() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for d in ["examples", "stdlib", "tests/fixtures"] {
        pol_files(&root.join(d), &mut files);
    }
    for path in files {
        let src = std::fs::read_to_string(&path).unwrap();
        let (f, d) = parse_file(F, &src);
        check_spans(&f, &src);
        let shown = path.display().to_string();
        if shown.contains("/examples/") || shown.contains("/stdlib/") {
            assert!(d.is_empty(), "{shown}: {d:#?}");
        }
        if d.is_empty() {
            let out = format_file(&f, &src);
            let (f2, d2) = parse_file(F, &out);
            assert!(
                d2.is_empty(),
                "{shown}: formatted output does not parse: {d2:#?}\n{out}"
            );
            same_tree(&f, &f2);
            assert_eq!(format_file(&f2, &out), out, "{shown}: not idempotent");
        }
    }
}
