//! Parser tests: every token kind.

use super::*;

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
