//! Parser tests: the formatter: layout, comments, idempotence, round trip.

use super::*;

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

/// Statements sharing a line with `;` keep their own end-of-line comment:
/// it used to move to the first statement of the line.
#[test]
fn fmt_keeps_comments_with_their_statement_on_a_shared_line() {
    let src = "tuning {\n    net.ipv4.tcp_autocorking = 1; net.ipv4.tcp_notsent_lowat = 16384  # lowat\n}\npolicy p {\n    hook output; default drop  # closed by default\n    allow any\n}\nnetwork n = { 10.0.0.0/8, 192.168.0.0/16  # lab\n}\n";
    let out = fmt_roundtrip(src);
    assert!(
        out.contains(
            "    net.ipv4.tcp_autocorking = 1\n    net.ipv4.tcp_notsent_lowat = 16384  # lowat\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("    hook output\n    default drop  # closed by default\n"),
        "{out}"
    );
    assert!(
        out.contains("    10.0.0.0/8,\n    192.168.0.0/16,  # lab\n"),
        "{out}"
    );
}

#[test]
fn fmt_keeps_unsafe_sysctls() {
    let out = fmt_roundtrip("tuning {\n    unsafe   \"vm.swappiness\" = 10\n}\n");
    assert_eq!(out, "tuning {\n    unsafe \"vm.swappiness\" = 10\n}\n");
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
