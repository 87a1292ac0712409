//! Parser tests: syntax errors: messages, codes and recovery.

use super::*;

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
