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
    // The base chain holds the preamble and one dispatch rule.
    let base = &rs[rs.find("chain policy-egress {").unwrap()..];
    assert_eq!(base.lines().count(), 8, "{base}");
}
