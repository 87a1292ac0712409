//! Helpers the grammar actions call: interpreting address-like text, class
//! ids, sizes and durations, and turning lalrpop's parse errors into
//! diagnostics with prettified "expected ..." lists.

use super::lexer::{describe_expected, Kw, Tok, KEYWORDS};
use crate::ast::{AddrExpr, AddrLit};
use crate::diag::{codes, did_you_mean, Code, Diagnostic};
use crate::span::{FileId, Span, Spanned};
use lalrpop_util::{ErrorRecovery, ParseError};
use std::net::{IpAddr, Ipv6Addr};

type PErr = ParseError<usize, Tok, ()>;

pub fn span(file: FileId, l: usize, r: usize) -> Span {
    Span::new(file, l, r)
}

pub fn sp<T>(file: FileId, node: T, l: usize, r: usize) -> Spanned<T> {
    Spanned::new(node, Span::new(file, l, r))
}

/// Interpret address-like text as a literal.
pub fn parse_addr_text(text: &str) -> Result<AddrLit, (Code, String, String)> {
    let bad = |what: &str| {
        (
            codes::INVALID_ADDRESS,
            format!("invalid address `{what}`"),
            "write an IPv4 address like `192.0.2.1`, an IPv6 address like `2001:db8::1`, a prefix like `10.0.0.0/8` or a range like `192.0.2.10-192.0.2.20`".to_string(),
        )
    };
    if let Some((a, b)) = text.split_once('-') {
        let lo: IpAddr = a.parse().map_err(|_| bad(a))?;
        let hi: IpAddr = b.parse().map_err(|_| bad(b))?;
        return match (lo, hi) {
            (IpAddr::V4(x), IpAddr::V4(y)) if y >= x => Ok(AddrLit::Range4(x, y)),
            (IpAddr::V6(x), IpAddr::V6(y)) if y >= x => Ok(AddrLit::Range6(x, y)),
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => Err((
                codes::INVERTED_RANGE,
                format!("range `{text}` ends before it starts"),
                format!("write the range as `{b}-{a}`"),
            )),
            _ => Err((
                codes::MIXED_FAMILY_RANGE,
                format!("range `{text}` mixes IPv4 and IPv6"),
                "both ends of a range must be of the same family; use a set `{ a, b }` to mix families".to_string(),
            )),
        };
    }
    if let Some((a, len)) = text.split_once('/') {
        let addr: IpAddr = a.parse().map_err(|_| bad(a))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let n = len
            .parse::<u8>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| {
                (
                    codes::INVALID_PREFIX_LEN,
                    format!("invalid prefix length `/{len}`"),
                    format!(
                        "the prefix length of an {} address is 0 to {max}",
                        if max == 32 { "IPv4" } else { "IPv6" }
                    ),
                )
            })?;
        return Ok(match addr {
            IpAddr::V4(x) => AddrLit::Prefix4(x, n),
            IpAddr::V6(x) => AddrLit::Prefix6(x, n),
        });
    }
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V4(x)) => Ok(AddrLit::V4(x)),
        Ok(IpAddr::V6(x)) => Ok(AddrLit::V6(x)),
        Err(_) => Err(bad(text)),
    }
}

fn addr_diag(file: FileId, l: usize, r: usize, e: (Code, String, String)) -> Diagnostic {
    let label = match e.0.id {
        "P0009" => "prefix length out of range",
        "P0010" => "inverted range",
        "P0013" => "mixed families",
        _ => "not an address",
    };
    Diagnostic::new(e.0, span(file, l, r), e.1)
        .with_label(label)
        .with_help(e.2)
}

/// An address expression literal; invalid text becomes `AddrExpr::Error`.
pub fn addr_expr(
    file: FileId,
    errors: &mut Vec<Diagnostic>,
    text: &str,
    l: usize,
    r: usize,
) -> AddrExpr {
    match parse_addr_text(text) {
        Ok(lit) => AddrExpr::Lit(sp(file, lit, l, r)),
        Err(e) => {
            errors.push(addr_diag(file, l, r, e));
            AddrExpr::Error(span(file, l, r))
        }
    }
}

/// An address literal where the AST has no error node (tunnel fields):
/// invalid text is reported and replaced by `::`.
pub fn addr_lit(
    file: FileId,
    errors: &mut Vec<Diagnostic>,
    text: &str,
    l: usize,
    r: usize,
) -> AddrLit {
    match parse_addr_text(text) {
        Ok(lit) => lit,
        Err(e) => {
            errors.push(addr_diag(file, l, r, e));
            AddrLit::V6(Ipv6Addr::UNSPECIFIED)
        }
    }
}

fn classid_diag(file: FileId, l: usize, r: usize, text: &str) -> Diagnostic {
    Diagnostic::new(codes::INVALID_CLASSID, span(file, l, r), format!("invalid class id `{text}`"))
        .with_label("not a class id")
        .with_help("write `MAJOR:MINOR` in hex with each part at most `ffff` (`10:1`), or one integer up to 4294967295")
}

/// `classid 10:1` (hex MAJOR:MINOR).
pub fn classid_text(
    file: FileId,
    errors: &mut Vec<Diagnostic>,
    text: &str,
    l: usize,
    r: usize,
) -> u32 {
    let part = |s: &str| {
        if s.is_empty() || s.len() > 4 {
            return None;
        }
        u32::from_str_radix(s, 16).ok()
    };
    match text.split_once(':') {
        Some((a, b)) => match (part(a), part(b)) {
            (Some(maj), Some(min)) => (maj << 16) | min,
            _ => {
                errors.push(classid_diag(file, l, r, text));
                0
            }
        },
        None => {
            errors.push(classid_diag(file, l, r, text));
            0
        }
    }
}

/// `classid 0x00100001` (one integer).
pub fn classid_int(file: FileId, errors: &mut Vec<Diagnostic>, n: u64, l: usize, r: usize) -> u32 {
    match u32::try_from(n) {
        Ok(v) => v,
        Err(_) => {
            errors.push(classid_diag(file, l, r, &n.to_string()));
            0
        }
    }
}

/// `unit "NAME" [user UID]` / `slice "NAME" [user UID]`: the selector
/// words are contextual, so any other word here is a syntax error.
pub fn systemd_selector(
    file: FileId,
    errors: &mut Vec<Diagnostic>,
    word: Spanned<String>,
    name: Spanned<String>,
    user: Option<(Spanned<String>, Spanned<u64>)>,
    l: usize,
    r: usize,
) -> Option<crate::ast::Selector> {
    use crate::ast::{Selector, SystemdKind, SystemdSelector};
    let kind = match word.node.as_str() {
        "unit" => SystemdKind::Unit,
        "slice" => SystemdKind::Slice,
        other => {
            errors.push(
                Diagnostic::new(
                    codes::UNEXPECTED_TOKEN,
                    word.span,
                    format!("unknown selector `{other}`"),
                )
                .with_label(
                    "a group selects by `cgroup`, `classid`, `uid`, `gid`, `unit` or `slice`",
                ),
            );
            return None;
        }
    };
    let user = match user {
        None => None,
        Some((w, _)) if w.node != "user" => {
            errors.push(
                Diagnostic::new(
                    codes::UNEXPECTED_TOKEN,
                    w.span,
                    format!("unexpected `{}` after the {} name", w.node, kind.as_str()),
                )
                .with_label("only `user UID` may follow the name")
                .with_help(format!(
                    "write `{} \"NAME\" user 1000` for a unit of user 1000's manager",
                    kind.as_str()
                )),
            );
            return None;
        }
        Some((_, uid)) => Some(uid),
    };
    Some(Selector::Systemd(SystemdSelector {
        kind,
        name,
        user,
        span: span(file, l, r),
    }))
}

fn split_qty(text: &str) -> (&str, &str) {
    let idx = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    (text.get(..idx).unwrap_or(""), text.get(idx..).unwrap_or(""))
}

fn size_diag(file: FileId, l: usize, r: usize, msg: String, help: &str) -> Diagnostic {
    Diagnostic::new(codes::INVALID_SIZE, span(file, l, r), msg)
        .with_label("invalid quantity")
        .with_help(help.to_string())
}

/// `memory 64MiB`: bytes.
pub fn size(file: FileId, errors: &mut Vec<Diagnostic>, text: &str, l: usize, r: usize) -> u64 {
    let (digits, unit) = split_qty(text);
    let mult: u64 = match unit {
        "bytes" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => {
            errors.push(size_diag(
                file,
                l,
                r,
                format!("invalid size `{text}`"),
                "write a number of bytes or a size in `KiB`, `MiB` or `GiB`, like `64MiB`",
            ));
            return 0;
        }
    };
    match digits.parse::<u64>().ok().and_then(|n| n.checked_mul(mult)) {
        Some(v) => v,
        None => {
            errors.push(size_diag(
                file,
                l,
                r,
                format!("size `{text}` is too large"),
                "use a smaller size",
            ));
            0
        }
    }
}

/// `timeout 2s`: milliseconds.
pub fn duration(file: FileId, errors: &mut Vec<Diagnostic>, text: &str, l: usize, r: usize) -> u64 {
    let (digits, unit) = split_qty(text);
    let mult: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        _ => {
            errors.push(size_diag(
                file,
                l,
                r,
                format!("invalid duration `{text}`"),
                "write a duration in `ms` or `s`, like `500ms` or `2s`",
            ));
            return 0;
        }
    };
    match digits.parse::<u64>().ok().and_then(|n| n.checked_mul(mult)) {
        Some(v) => v,
        None => {
            errors.push(size_diag(
                file,
                l,
                r,
                format!("duration `{text}` is too large"),
                "use a shorter duration",
            ));
            0
        }
    }
}

/// `timeout 2000` without a unit.
pub fn duration_no_unit(
    file: FileId,
    errors: &mut Vec<Diagnostic>,
    n: u64,
    l: usize,
    r: usize,
) -> u64 {
    errors.push(size_diag(
        file,
        l,
        r,
        format!("duration `{n}` has no unit"),
        &format!("write `{n}ms` or `{n}s`"),
    ));
    n
}

/// A sysctl integer value, optionally negated.
pub fn sysctl_int(
    file: FileId,
    errors: &mut Vec<Diagnostic>,
    n: u64,
    neg: bool,
    l: usize,
    r: usize,
) -> i64 {
    let v = if neg {
        0i128 - i128::from(n)
    } else {
        i128::from(n)
    };
    match i64::try_from(v) {
        Ok(v) => v,
        Err(_) => {
            errors.push(
                Diagnostic::new(
                    codes::INT_OVERFLOW,
                    span(file, l, r),
                    "sysctl value is out of range",
                )
                .with_label("does not fit in a signed 64-bit integer")
                .with_help(
                    "sysctl integers range from -9223372036854775808 to 9223372036854775807",
                ),
            );
            0
        }
    }
}

pub fn port(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub fn recovery(file: FileId, src: &str, e: ErrorRecovery<usize, Tok, ()>) -> Diagnostic {
    syntax_error(file, src, e.error)
}

fn found_text(src: &str, tok: &Tok, l: usize, r: usize) -> String {
    if matches!(tok, Tok::Sep) {
        return match src.get(l..r) {
            Some(";") => "`;`".to_string(),
            _ => "end of line".to_string(),
        };
    }
    let text = src.get(l..r).unwrap_or("");
    let short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        format!("`{short}...`")
    } else {
        format!("`{short}`")
    }
}

/// Keywords first, then token classes, then punctuation, then separators.
fn expected_rank(e: &str) -> u8 {
    let bare = e.trim_matches('"');
    if KEYWORDS.contains(&bare) {
        0
    } else if bare == "SEP" {
        3
    } else if bare.chars().all(|c| c.is_ascii_uppercase()) {
        1
    } else {
        2
    }
}

fn expected_list(expected: &[String]) -> String {
    let mut sorted: Vec<&String> = expected.iter().collect();
    sorted.sort_by_key(|e| expected_rank(e));
    let mut names: Vec<String> = Vec::new();
    for e in sorted {
        let d = describe_expected(e);
        if !names.contains(&d) {
            names.push(d);
        }
    }
    match names.len() {
        0 => "something else".to_string(),
        1 => names.concat(),
        _ => format!("one of {}", names.join(", ")),
    }
}

fn expected_keywords(expected: &[String]) -> Vec<&str> {
    expected
        .iter()
        .map(|e| e.trim_matches('"'))
        .filter(|e| KEYWORDS.contains(e))
        .collect()
}

/// Keywords that begin a statement or item: finding one where a statement
/// could end means the author probably forgot a line break.
const STATEMENT_STARTS: &[Kw] = &[
    Kw::Import,
    Kw::Network,
    Kw::Service,
    Kw::Group,
    Kw::Matcher,
    Kw::Tunnel,
    Kw::Tuning,
    Kw::Policy,
    Kw::Test,
    Kw::Allow,
    Kw::Drop,
    Kw::Reject,
    Kw::Hook,
    Kw::Default,
    Kw::Expect,
    Kw::Cgroup,
    Kw::Classid,
    Kw::Uid,
    Kw::Gid,
    Kw::Local,
    Kw::Remote,
    Kw::Key,
    Kw::Address,
    Kw::Routes,
    Kw::Mtu,
    Kw::Dev,
    Kw::Qdisc,
    Kw::Fuel,
    Kw::Memory,
    Kw::Timeout,
    Kw::Unsafe,
];

/// Turn a lalrpop error into a diagnostic.
pub fn syntax_error(file: FileId, src: &str, e: PErr) -> Diagnostic {
    match e {
        ParseError::InvalidToken { location } => Diagnostic::new(
            codes::INVALID_CHAR,
            span(file, location, location),
            "invalid token",
        ),
        ParseError::UnrecognizedEof { location, expected } => {
            let end = location.min(src.len());
            Diagnostic::new(
                codes::UNEXPECTED_EOF,
                span(file, end, end),
                "unexpected end of file",
            )
            .with_label(format!("expected {}", expected_list(&expected)))
            .with_help(
                "the file ends in the middle of a statement; complete it or close the open `{`",
            )
        }
        ParseError::UnrecognizedToken {
            token: (l, tok, r),
            expected,
        } => {
            let found = found_text(src, &tok, l, r);
            // An unexpected end of line is shown at the line's end, not as
            // a span over the newline (which would cover two lines).
            let (l, r) = if matches!(tok, Tok::Sep) && src.get(l..r) != Some(";") {
                (l, l)
            } else {
                (l, r)
            };
            // Only a slot that takes nothing but a name (after `network`,
            // `group`, …) calls a keyword a misused name; elsewhere a
            // keyword means something is missing before it.
            let wants_name = expected.len() == 1 && expected.iter().any(|e| e == "\"IDENT\"");
            if let (Tok::Kw(k), true) = (&tok, wants_name) {
                return Diagnostic::new(
                    codes::KEYWORD_AS_NAME,
                    span(file, l, r),
                    format!("`{}` is a keyword and cannot be used as a name", k.as_str()),
                )
                .with_label(format!("expected {}", expected_list(&expected)))
                .with_help(format!(
                    "keywords are reserved; choose another name, such as `{}-1`",
                    k.as_str()
                ));
            }
            let mut d = Diagnostic::new(
                codes::UNEXPECTED_TOKEN,
                span(file, l, r),
                format!("unexpected {found}"),
            )
            .with_label(format!("expected {}", expected_list(&expected)));
            if let Tok::Ident(name) = &tok {
                if let Some(h) = did_you_mean(name, expected_keywords(&expected)) {
                    d = d.with_help(h);
                }
            }
            if d.help.is_none() {
                if matches!(tok, Tok::Kw(k) if STATEMENT_STARTS.contains(&k))
                    && expected.iter().any(|e| e == "\"SEP\"")
                {
                    d = d.with_help("start a new statement on a new line or after `;`");
                } else if expected.iter().any(|e| e == "\"SEP\"") && expected.len() <= 3 {
                    d = d.with_help("end the statement here, with a newline or `;`");
                }
            }
            d
        }
        ParseError::ExtraToken { token: (l, tok, r) } => {
            let found = found_text(src, &tok, l, r);
            Diagnostic::new(
                codes::UNEXPECTED_TOKEN,
                span(file, l, r),
                format!("unexpected {found}"),
            )
            .with_label("expected end of input")
        }
        ParseError::User { error: () } => {
            Diagnostic::new(codes::UNEXPECTED_TOKEN, span(file, 0, 0), "syntax error")
        }
    }
}
