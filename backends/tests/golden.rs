//! Golden snapshots of every artifact of every example (insta; review
//! changes with `cargo insta review`), plus the lines that matter asserted
//! directly, and determinism: two builds are byte-identical.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

#[path = "support/mod.rs"]
mod support;

use pol_backends::{build, BuildOptions};
use std::path::Path;

#[test]
fn examples_golden() {
    // Compile with paths relative to the repository root, as users run
    // `polc build examples/x.pol`, so comments read `examples/x.pol:LINE`.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::set_current_dir(&repo).unwrap();
    let mut files: Vec<_> = std::fs::read_dir("examples")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pol"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in files {
        let c = pol_lang::compile(&f, &pol_lang::CompileOptions::default());
        let program = c
            .program
            .unwrap_or_else(|| panic!("{} does not compile", f.display()));
        let arts = build(&program, &c.sources, &BuildOptions::default()).unwrap();
        let again = build(&program, &c.sources, &BuildOptions::default()).unwrap();
        assert_eq!(arts, again, "{}: build is not deterministic", f.display());
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        for a in &arts {
            insta::assert_snapshot!(format!("{stem}__{}", a.name.replace('/', "__")), a.contents);
        }
        // CHECK lines: every rule's FILE:LINE, the preamble, the table swap.
        let rs = &arts[0].contents;
        assert!(rs.contains("table inet pol\ndelete table inet pol\ntable inet pol {"));
        for p in &program.policies {
            assert!(rs.contains(&format!(
                "chain policy-{} {{\n\t\ttype filter hook {} priority filter;",
                p.name,
                p.hook.as_str()
            )));
            for r in &p.rules {
                if !r.matches.families().is_empty() {
                    assert!(
                        rs.contains(&format!("comment \"{}", c.sources.file_line(r.span))),
                        "{}: no comment for a rule",
                        f.display()
                    );
                }
            }
        }
        assert!(
            program.policies.is_empty()
                || rs.contains("ct state established,related accept\n\t\tct state invalid drop")
        );
    }
}

#[test]
fn hostile_text_never_escapes() {
    use pol_lang::ast::{Hook, Verdict};
    use pol_lang::ir::{Log, Match};
    use support::gen::*;
    let mut b = Builder::new();
    let g = b.group("g", vec![cg("a b/it's $(id); `x`")]);
    let p = b.policy("egress", Hook::Output, Verdict::Drop);
    for h in HOSTILE {
        let r = b.rule(
            p,
            Verdict::Allow,
            Match {
                groups: Some(vec![g]),
                ..Match::any()
            },
        );
        r.log = Some(Log {
            prefix: Some(h.repeat(20)),
        });
        r.comment = Some(h.to_string());
    }
    let (program, sources) = b.finish("h\"$x.pol");
    let arts = build(&program, &sources, &BuildOptions::default()).unwrap();
    let rs = &arts[0].contents;
    for line in rs
        .lines()
        .filter(|l| l.contains("comment \"") || l.contains("log prefix"))
    {
        // Quotes balance on every line; no `$` inside a log prefix.
        assert_eq!(line.matches('"').count() % 2, 0, "{line}");
        if let Some(i) = line.find("log prefix \"") {
            let rest = &line[i + 12..];
            let prefix = &rest[..rest.find('"').unwrap()];
            assert!(!prefix.contains('$') && prefix.len() <= 127, "{prefix}");
        }
    }
    assert!(arts[1]
        .contents
        .contains("mkdir -p -- \"$POL_CGROUP2\"/'a b/it'\\''s $(id); `x`'"));
}

/// Issue #10 items 1 and 2: a file name with a newline cannot end a `#`
/// comment in a script or in the ruleset (the front end refuses such names;
/// the backends must not depend on it).
#[test]
fn file_names_never_end_a_comment() {
    use pol_lang::ast::{Hook, Verdict};
    use pol_lang::ir::{Match, Tunnel, TunnelId};
    use pol_lang::span::{FileId, SourceMap};
    use support::gen::*;
    let entry = "x\nflush ruleset\n#.pol";
    let import = "lib/tun\necho pwned; touch /tmp/X #.pol";
    let mut b = Builder::new();
    let p = b.policy("egress", Hook::Output, Verdict::Reject);
    b.rule(p, Verdict::Allow, Match::any()).comment = Some("a\rb\u{2028}c".into());
    let span = b.line("tunnel corp-vpn {");
    b.program.tunnels.push(Tunnel {
        id: TunnelId(0),
        name: "corp-vpn\ntouch /tmp/Y".into(),
        dev: "vti6-corp".into(),
        local: "2001:db8::1".parse().unwrap(),
        remote: "2001:db8::2".parse().unwrap(),
        key: 42,
        address: ("fd00:42::1".parse().unwrap(), 64),
        routes: v6("2001:db8:100::", 48),
        mtu: None,
        span: pol_lang::span::Span {
            file: FileId(1),
            ..span
        },
        routes_span: span,
    });
    let (program, one) = b.finish(entry);
    let mut sources = SourceMap::new();
    sources.add(entry, one.text(FileId(0)).to_string(), false);
    sources.add(import, one.text(FileId(0)).to_string(), false);
    let arts = build(&program, &sources, &BuildOptions::default()).unwrap();
    for a in &arts {
        for line in a.contents.lines() {
            assert!(
                ![
                    "flush ruleset",
                    "#.pol",
                    "echo pwned; touch /tmp/X #.pol",
                    "touch /tmp/Y"
                ]
                .iter()
                .any(|bad| line.trim_start().starts_with(bad)),
                "{}: a file name or name became a line of its own: {line:?}\n{}",
                a.name,
                a.contents
            );
            assert!(
                !line.contains('\r') && !line.contains('\u{2028}'),
                "{}: {line:?}",
                a.name
            );
        }
    }
    let by_name = |n: &str| &arts.iter().find(|a| a.name == n).unwrap().contents;
    assert!(by_name("ruleset.nft").starts_with(
        "# ruleset.nft: generated by polc from x\\nflush ruleset\\n#.pol. Do not edit.\n"
    ));
    assert!(by_name("tunnels.sh").contains(
        "# tunnel corp-vpn\\ntouch /tmp/Y (lib/tun\\necho pwned; touch /tmp/X #.pol:4); the IKE daemon must use xfrm mark 42\n"
    ));
    assert!(
        by_name("ruleset.nft").contains("comment \"x\\nflush ruleset\\n#.pol:3 a\\rb\\u{2028}c\"")
    );
}

#[test]
fn refuses_what_nft_cannot_quote() {
    use pol_lang::ast::{Hook, Verdict};
    use support::gen::*;
    let mut b = Builder::new();
    b.group("g", vec![cg("a\"b")]);
    b.policy("egress", Hook::Output, Verdict::Drop);
    let (program, sources) = b.finish("x.pol");
    let errs = build(&program, &sources, &BuildOptions::default()).unwrap_err();
    assert!(errs[0].message.contains("cannot quote"));
    let bad_table = BuildOptions {
        table: "a b".into(),
        ..BuildOptions::default()
    };
    let (program, sources) = Builder::new().finish("y.pol");
    assert!(build(&program, &sources, &bad_table).is_err());
}

#[test]
fn dispatch_runs_become_verdict_maps() {
    let (program, sources) = support::gen::bench_policy(200, 1);
    let rs = &build(&program, &sources, &BuildOptions::default()).unwrap()[0].contents;
    assert!(rs.contains("socket cgroupv2 level 2 vmap @dispatch_0"));
    assert!(rs.contains("\"apps.slice/app0.service\" : jump policy-egress-d0-k0"));
    // The base chain holds the preamble, the IPv6 control rule and one
    // dispatch rule.
    let base = &rs[rs.find("chain policy-egress {").unwrap()..];
    assert_eq!(base.lines().count(), 9, "{base}");
}
