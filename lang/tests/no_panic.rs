//! Property: the whole front end (parse, resolve, set algebra, formatter)
//! returns diagnostics — never panics, never hangs — on random and mutated
//! input. Mutations start from the examples and stdlib, so they reach deep
//! into the resolver, not just the lexer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pol_lang::span::SourceMap;
use proptest::prelude::*;

const SEEDS: &[&str] = &[
    include_str!("../../examples/workstation.pol"),
    include_str!("../../examples/server.pol"),
    include_str!("../../examples/corp-tunnel.pol"),
    include_str!("../../examples/tuning.pol"),
    include_str!("../../stdlib/networks.pol"),
    include_str!("../../stdlib/services.pol"),
];

/// Fragments that are likely to make interesting (wrong) programs.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "!",
    ",",
    ";",
    "\n",
    "\"",
    "any",
    "10.0.0.1/8",
    "::/0",
    "2001:db8::1-2001:db8::",
    "0:0",
    "tcp 0-65535",
    "tcp 70000",
    "proto 300",
    "classid 0",
    "uid 4294967295",
    "via corp-vpn",
    "group",
    "network a = a",
    "to",
    "from",
    "expect",
    "some",
    "in",
    "policy",
    "hook input",
    "default reject",
    "key 0",
    "mtu 1",
    "dev \"x/y\"",
    "#",
    "\\",
    "=",
    "geo(\"DE\")",
    "import \"std/networks\"",
    "import \"../x\"",
    "icmp",
    "icmpv6",
    "log",
    "comment \"\n\"",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, usize),
    Replace(usize, usize, usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(a, t)| Mutation::Insert(a, t)),
        (any::<usize>(), 1usize..20, 0..TOKENS.len())
            .prop_map(|(a, n, t)| Mutation::Replace(a, n, t)),
        (any::<usize>(), 1usize..200).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
    ]
}

fn char_boundary(s: &str, i: usize) -> usize {
    let mut i = i % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(mut s: String, m: &Mutation) -> String {
    match *m {
        Mutation::Delete(a, n) => {
            let a = char_boundary(&s, a);
            let b = char_boundary(&s, (a + n).min(s.len()));
            s.replace_range(a..b.max(a), "");
        }
        Mutation::Insert(a, t) => {
            let a = char_boundary(&s, a);
            s.insert_str(a, TOKENS[t]);
        }
        Mutation::Replace(a, n, t) => {
            let a = char_boundary(&s, a);
            let b = char_boundary(&s, (a + n).min(s.len()));
            s.replace_range(a..b.max(a), TOKENS[t]);
        }
        Mutation::Duplicate(a, n) => {
            let a = char_boundary(&s, a);
            let b = char_boundary(&s, (a + n).min(s.len()));
            let piece = s[a..b.max(a)].to_string();
            s.insert_str(b.max(a), &piece);
        }
    }
    s
}

/// Run the front end on a text; formatting is exercised when it parses.
fn front_end(text: &str) {
    let c = pol_lang::compile_source("fuzz.pol", text);
    if c.diagnostics.has_errors() {
        assert!(
            c.program.is_none(),
            "a program with errors must not produce IR"
        );
        for d in c.diagnostics.iter() {
            if let Some(sp) = d.primary {
                assert!(
                    c.sources
                        .get(sp.file)
                        .is_some_and(|f| sp.end as usize <= f.text.len()),
                    "span past the end of its file: {d:?}"
                );
            }
        }
    }
    let mut sources = SourceMap::new();
    let id = sources.add("fuzz.pol", text, false);
    let (ast, errs) = pol_lang::parse::parse_file(id, text);
    if errs.is_empty() {
        let once = pol_lang::fmt::format_file(&ast, text);
        let id2 = sources.add("fmt.pol", once.clone(), false);
        let (ast2, errs2) = pol_lang::parse::parse_file(id2, &once);
        assert!(errs2.is_empty(), "formatted output does not parse:\n{once}");
        assert_eq!(
            pol_lang::fmt::format_file(&ast2, &once),
            once,
            "fmt is not idempotent"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn mutated_programs_get_diagnostics(seed in 0..SEEDS.len(), muts in proptest::collection::vec(mutation(), 1..6)) {
        let mut text = SEEDS[seed].to_string();
        for m in &muts {
            text = apply(text, m);
        }
        front_end(&text);
    }

    #[test]
    fn random_token_soup_gets_diagnostics(toks in proptest::collection::vec(0..TOKENS.len(), 0..60)) {
        let text: String = toks.iter().map(|&t| TOKENS[t]).collect::<Vec<_>>().join(" ");
        front_end(&text);
    }

    #[test]
    fn random_text_gets_diagnostics(text in "\\PC{0,300}") {
        front_end(&text);
    }
}
