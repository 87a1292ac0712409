//! Parser tests: every construct of LANGUAGE.md §2–§8.

use super::*;

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
