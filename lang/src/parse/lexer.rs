//! The lexer: logos turns text into raw tokens, then `lex` decodes their
//! values (integers, string escapes, keywords), collects comments, reports
//! lexical errors, and applies the newline filter that makes newlines
//! statement separators everywhere except inside sets and argument lists.
//!
//! The result is a vector of `(start, Tok, end)` byte-offset triples, the
//! external-lexer format lalrpop expects.

use crate::ast::Comment;
use crate::diag::{codes, Diagnostic};
use crate::span::{FileId, Span};
use logos::Logos;

macro_rules! keywords {
    ($( $v:ident = $s:literal, )*) => {
        /// Reserved words. They are lexed as identifiers and then looked up.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Kw { $( $v, )* }

        impl Kw {
            pub fn as_str(self) -> &'static str {
                match self { $( Kw::$v => $s, )* }
            }

            pub fn from_word(w: &str) -> Option<Kw> {
                match w { $( $s => Some(Kw::$v), )* _ => None }
            }
        }

        /// Every keyword's text.
        pub const KEYWORDS: &[&str] = &[ $( $s ),* ];
    };
}

keywords! {
    Import = "import", Network = "network", Service = "service", Group = "group",
    Matcher = "matcher", Tunnel = "tunnel", Tuning = "tuning", Policy = "policy",
    Test = "test", Allow = "allow", Drop = "drop", Reject = "reject", Deny = "deny",
    Any = "any", From = "from", To = "to", Via = "via", Log = "log", Counter = "counter",
    Comment = "comment", Hook = "hook", Default = "default", Tcp = "tcp", Udp = "udp",
    Sctp = "sctp", Icmp = "icmp", Icmpv6 = "icmpv6", Proto = "proto", Cgroup = "cgroup",
    Classid = "classid", Uid = "uid", Gid = "gid", Wasm = "wasm", Expect = "expect",
    Some = "some", In = "in", Local = "local", Remote = "remote", Key = "key",
    Address = "address", Routes = "routes", Mtu = "mtu", Dev = "dev", Qdisc = "qdisc",
    On = "on", Off = "off", Output = "output", Input = "input", Fuel = "fuel",
    Memory = "memory", Timeout = "timeout", Unsafe = "unsafe",
}

/// A token as the grammar sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Kw(Kw),
    Ident(String),
    Int(u64),
    Str(String),
    /// Address-like text (`10.0.0.0/8`, `fe80::1`, `10:1`, `a-b` ranges);
    /// interpreted by the grammar action for its context.
    Addr(String),
    /// A dotted sysctl key `net.ipv4.tcp_autocorking`.
    SysKey(String),
    /// A number with a unit: `64MiB`, `2s`, `500ms`.
    Qty(String),
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    /// A statement separator: a newline or `;` (runs collapsed).
    Sep,
    Eq,
    Bang,
    Minus,
}

#[derive(Logos, Debug, Clone, Copy, PartialEq, Eq)]
#[logos(skip r"[ \t\r\f]+")]
enum Raw {
    #[regex(r"[A-Za-z_][A-Za-z0-9_\-]*", priority = 3)]
    Word,
    #[regex(r"[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)+", priority = 2)]
    SysKey,
    #[regex(
        r"[0-9A-Fa-f]*[:.][0-9A-Fa-f:.]*(/[0-9]+|\-[0-9A-Fa-f]*[:.][0-9A-Fa-f:.]*)?",
        priority = 5
    )]
    Addr,
    #[regex(r"[0-9]+", priority = 4)]
    Dec,
    #[regex(r"0x[0-9A-Fa-f]+", priority = 6)]
    Hex,
    #[regex(r"[0-9]+[A-Za-z_][A-Za-z0-9_]*", priority = 3)]
    Qty,
    #[regex(r#""([^"\\\n]|\\[^\n])*""#)]
    Str,
    #[regex(r#""([^"\\\n]|\\[^\n])*\\?"#)]
    Unterminated,
    #[regex(r"#[^\n]*", allow_greedy = true)]
    Comment,
    #[token("\n")]
    Newline,
    #[token(";")]
    Semi,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token(",")]
    Comma,
    #[token("=")]
    Eq,
    #[token("!")]
    Bang,
    #[token("-")]
    Minus,
}

pub type Triple = (usize, Tok, usize);

/// Output of [`lex`].
pub struct Lexed {
    pub tokens: Vec<Triple>,
    pub comments: Vec<Comment>,
    pub diags: Vec<Diagnostic>,
}

/// Lex `src` completely. Never fails: bad input becomes diagnostics and the
/// offending text is skipped (or, for strings, kept as well as possible).
pub fn lex(file: FileId, src: &str) -> Lexed {
    let mut raw: Vec<(usize, RawOrSep, usize)> = Vec::new();
    let mut comments = Vec::new();
    let mut diags = Vec::new();
    let mut lexer = Raw::lexer(src);
    while let Some(res) = lexer.next() {
        let range = lexer.span();
        let (s, e) = (range.start, range.end);
        let text = lexer.slice();
        let span = Span::new(file, s, e);
        let tok = match res {
            Err(()) => {
                let shown: String = text.chars().take(1).collect();
                diags.push(
                    Diagnostic::new(
                        codes::INVALID_CHAR,
                        span,
                        format!("invalid character `{}`", shown.escape_debug()),
                    )
                    .with_label("not part of any token")
                    .with_help("remove this character"),
                );
                continue;
            }
            Ok(r) => r,
        };
        let t = match tok {
            Raw::Word => match Kw::from_word(text) {
                Some(k) => Tok::Kw(k),
                None => Tok::Ident(text.to_string()),
            },
            Raw::SysKey => Tok::SysKey(text.to_string()),
            Raw::Addr => Tok::Addr(text.to_string()),
            Raw::Dec => Tok::Int(int_value(text, 10, span, &mut diags)),
            Raw::Hex => Tok::Int(int_value(text.get(2..).unwrap_or(""), 16, span, &mut diags)),
            Raw::Qty => Tok::Qty(text.to_string()),
            Raw::Str => {
                let inner = text.get(1..text.len().saturating_sub(1)).unwrap_or("");
                Tok::Str(unescape(file, inner, s + 1, &mut diags))
            }
            Raw::Unterminated => {
                diags.push(
                    Diagnostic::new(codes::UNTERMINATED_STR, span, "unterminated string")
                        .with_label("this string has no closing `\"`")
                        .with_help("add a `\"` before the end of the line"),
                );
                let inner = text.get(1..).unwrap_or("");
                Tok::Str(unescape(
                    file,
                    inner.trim_end_matches('\\'),
                    s + 1,
                    &mut diags,
                ))
            }
            Raw::Comment => {
                let body = text.get(1..).unwrap_or("").trim_end();
                comments.push(Comment {
                    text: body.to_string(),
                    span: Span::new(file, s, s + 1 + body.len()),
                });
                continue;
            }
            Raw::Newline => {
                raw.push((s, RawOrSep::Newline, e));
                continue;
            }
            Raw::Semi => {
                raw.push((s, RawOrSep::Semi, e));
                continue;
            }
            Raw::LBrace => Tok::LBrace,
            Raw::RBrace => Tok::RBrace,
            Raw::LParen => Tok::LParen,
            Raw::RParen => Tok::RParen,
            Raw::Comma => Tok::Comma,
            Raw::Eq => Tok::Eq,
            Raw::Bang => Tok::Bang,
            Raw::Minus => Tok::Minus,
        };
        raw.push((s, RawOrSep::Tok(t), e));
    }
    let mut tokens = filter_separators(raw);
    limit_depth(file, &mut tokens, &mut diags);
    Lexed {
        tokens,
        comments,
        diags,
    }
}

/// Nesting the lexer refuses outright, so that no later recursive pass (the
/// resolver, the formatter, dropping the tree) can exhaust the stack. The
/// resolver reports the language's own, lower limit with a better message.
pub const MAX_NESTING: usize = 1000;

/// Cut the token stream at the first point nested deeper than
/// [`MAX_NESTING`] (`{`, `(` and `!` each open a level).
fn limit_depth(file: FileId, tokens: &mut Vec<Triple>, diags: &mut Vec<Diagnostic>) {
    let mut stack: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    for (i, (s, t, e)) in tokens.iter().enumerate() {
        match t {
            Tok::Bang => depth += 1,
            Tok::LBrace | Tok::LParen => {
                stack.push(depth);
                depth += 1;
            }
            Tok::RBrace | Tok::RParen => depth = stack.pop().unwrap_or(0),
            Tok::Comma | Tok::Sep => depth = stack.last().map_or(0, |d| d + 1),
            _ => {}
        }
        if depth > MAX_NESTING {
            diags.push(
                Diagnostic::new(
                    codes::TOO_DEEP,
                    Span::new(file, *s, *e),
                    "expression nested too deeply",
                )
                .with_label(format!("more than {MAX_NESTING} levels"))
                .with_help("name the inner parts with `network` or `service` definitions"),
            );
            tokens.truncate(i);
            return;
        }
    }
}

enum RawOrSep {
    Tok(Tok),
    Newline,
    Semi,
}

/// The newline filter: a newline directly after `{ , ( = !` or another
/// separator is dropped; separators directly before `}`, at the start and at
/// the end of the input are dropped; runs of separators become one `Sep`.
fn filter_separators(raw: Vec<(usize, RawOrSep, usize)>) -> Vec<Triple> {
    let mut out: Vec<Triple> = Vec::with_capacity(raw.len());
    for (s, t, e) in raw {
        match t {
            RawOrSep::Newline => {
                let drop = match out.last() {
                    None => true,
                    Some((_, prev, _)) => matches!(
                        prev,
                        Tok::LBrace | Tok::Comma | Tok::LParen | Tok::Eq | Tok::Bang | Tok::Sep
                    ),
                };
                if !drop {
                    out.push((s, Tok::Sep, e));
                }
            }
            RawOrSep::Semi => {
                let drop = matches!(out.last(), None | Some((_, Tok::Sep, _)));
                if !drop {
                    out.push((s, Tok::Sep, e));
                }
            }
            RawOrSep::Tok(Tok::RBrace) => {
                while matches!(out.last(), Some((_, Tok::Sep, _))) {
                    out.pop();
                }
                out.push((s, Tok::RBrace, e));
            }
            RawOrSep::Tok(t) => out.push((s, t, e)),
        }
    }
    while matches!(out.last(), Some((_, Tok::Sep, _))) {
        out.pop();
    }
    out
}

fn int_value(digits: &str, radix: u32, span: Span, diags: &mut Vec<Diagnostic>) -> u64 {
    match u64::from_str_radix(digits, radix) {
        Ok(v) => v,
        Err(_) => {
            diags.push(
                Diagnostic::new(codes::INT_OVERFLOW, span, "integer is too large")
                    .with_label("does not fit in 64 bits")
                    .with_help(format!("the largest integer is {}", u64::MAX)),
            );
            u64::MAX
        }
    }
}

/// Decode `\"`, `\\`, `\n`, `\t`; `base` is the byte offset of `body`.
fn unescape(file: FileId, body: &str, base: usize, diags: &mut Vec<Diagnostic>) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, '"')) => out.push('"'),
            Some((_, '\\')) => out.push('\\'),
            Some((_, 'n')) => out.push('\n'),
            Some((_, 't')) => out.push('\t'),
            Some((j, other)) => {
                let span = Span::new(file, base + i, base + j + other.len_utf8());
                diags.push(
                    Diagnostic::new(
                        codes::INVALID_ESCAPE,
                        span,
                        format!("invalid escape `\\{}` in string", other.escape_debug()),
                    )
                    .with_label("unknown escape")
                    .with_help("the escapes are `\\\"`, `\\\\`, `\\n` and `\\t`; write `\\\\` for a backslash"),
                );
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// How a token is named in "expected ..." lists and "unexpected ..." messages.
pub fn describe_expected(name: &str) -> String {
    let bare = name.trim_matches('"');
    match bare {
        "IDENT" => "a name".to_string(),
        "INT" => "an integer".to_string(),
        "STR" => "a string".to_string(),
        "ADDR" => "an address".to_string(),
        "SYSKEY" => "a sysctl key".to_string(),
        "QTY" => "a quantity like `64MiB` or `2s`".to_string(),
        "SEP" => "end of line or `;`".to_string(),
        other => format!("`{other}`"),
    }
}
