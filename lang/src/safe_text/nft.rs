//! User text inside an nft ruleset (quoted strings, comments, log prefixes).
//!
//! nft 1.0.6 quoted strings have no escapes: a `"` always ends the string,
//! and in a `log prefix` a `$` starts a variable reference. Comments and log
//! prefixes are limited to 127 bytes. `#` comment lines end at a newline.
//! So, and only here:
//! - [`NftString::text`] (a `comment "…"`): `"` becomes `'`, every
//!   line-ending or invisible character is a visible escape
//!   ([`super::sh::one_line`]: `\n`, `\r`, `\0`, `\u{2028}`, …, and `\` is
//!   `\\`), and the result is cut to fit, never inside an escape;
//! - [`NftString::log_prefix`]: the same, and `$` becomes `_`;
//! - [`NftString::exact`]: a value that must stay exact (a cgroup path, an
//!   interface name) verbatim, or `None` when nft cannot quote it — the
//!   backends refuse such values with an error before rendering;
//! - [`NftComment`]: text for a `#` comment line, escaped the same way.
//!
//! The types can only be built by these functions, so the ruleset builders
//! that take them cannot be handed raw text.

use super::sh::{escape_char, one_line};
use std::fmt;

/// nft's limit for comments and log prefixes, in bytes (128 with the NUL).
pub const MAX_TEXT: usize = 127;

/// A double-quoted nft string; `Display` writes it with its quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftString(String);

impl NftString {
    /// `s` as comment text, at most [`MAX_TEXT`] bytes.
    pub fn text(s: &str) -> NftString {
        NftString::text_max(s, MAX_TEXT)
    }

    /// `s` as comment text, at most `max` bytes.
    pub fn text_max(s: &str, max: usize) -> NftString {
        NftString(escaped(
            s,
            max,
            |c| if c == '"' { Some('\'') } else { None },
        ))
    }

    /// `s` as a `log prefix` (no `$` references), at most [`MAX_TEXT`] bytes.
    pub fn log_prefix(s: &str) -> NftString {
        NftString(escaped(s, MAX_TEXT, |c| match c {
            '"' => Some('\''),
            '$' => Some('_'),
            _ => None,
        }))
    }

    /// `s` verbatim, when nft can quote it exactly ([`quotable`]).
    pub fn exact(s: &str) -> Option<NftString> {
        quotable(s).then(|| NftString(s.to_string()))
    }

    /// The text between the quotes.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NftString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

/// Text that is safe after `#` on one line of a ruleset (without the `#`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftComment(String);

impl NftComment {
    pub fn new(s: &str) -> NftComment {
        NftComment(one_line(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NftComment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Escape `s` for a quoted string, replacing characters `swap` names, and
/// stop before the first character whose escape would pass `max` bytes.
fn escaped(s: &str, max: usize, swap: impl Fn(char) -> Option<char>) -> String {
    // Most text (a `FILE:LINE`) needs nothing swapped or escaped.
    let plain = |c: char| swap(c).is_none() && c != '\\' && !super::sh::needs_escape(c);
    if s.len() <= max && s.chars().all(plain) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len().min(max));
    let mut one = String::new();
    for c in s.chars() {
        one.clear();
        escape_char(swap(c).unwrap_or(c), &mut one);
        if out.len() + one.len() > max {
            break;
        }
        out.push_str(&one);
    }
    out
}

/// True when `s` can appear verbatim between nft double quotes (and on one
/// line): no `"`, nothing [`super::sh::needs_escape`] escapes.
pub fn quotable(s: &str) -> bool {
    !s.chars().any(|c| c == '"' || super::sh::needs_escape(c))
}

/// True for a name nft accepts unquoted (tables, chains): `[A-Za-z_][A-Za-z0-9_-]*`.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && s.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_kept_and_cut_to_its_limit() {
        assert_eq!(NftString::text("p.pol:12").as_str(), "p.pol:12");
        assert_eq!(NftString::text_max("abcdef", 3).as_str(), "abc");
        assert_eq!(NftString::text("a\\b").as_str(), "a\\\\b");
        assert_eq!(NftString::log_prefix("a$b").as_str(), "a_b");
    }

    #[test]
    fn strings_cannot_end_early() {
        assert_eq!(NftString::text("a\"b\nc$d").to_string(), "\"a'b\\nc$d\"");
        assert_eq!(
            NftString::log_prefix("x $(id); \"y\"\n").as_str(),
            "x _(id); 'y'\\n"
        );
        assert_eq!(
            NftComment::new("x\nflush ruleset\n#.pol").as_str(),
            "x\\nflush ruleset\\n#.pol"
        );
        assert_eq!(NftString::exact("a/b c"), Some(NftString("a/b c".into())));
        assert_eq!(NftString::exact("a\"b"), None);
        assert_eq!(NftString::exact("a\u{2028}b"), None);
    }

    #[test]
    fn cut_to_fit_at_a_whole_escape() {
        let long = "é".repeat(100);
        let t = NftString::text(&long);
        assert!(t.as_str().len() <= MAX_TEXT && t.as_str().chars().all(|c| c == 'é'));
        let t = NftString::text(&format!("{}\n", "a".repeat(126)));
        assert_eq!(t.as_str(), "a".repeat(126));
        let t = NftString::text_max("ab\u{2028}cd", 5);
        assert_eq!(t.as_str(), "ab");
    }

    #[test]
    fn identifiers() {
        assert!(
            is_identifier("pol")
                && is_identifier("a-b_1")
                && !is_identifier("1a")
                && !is_identifier("a b")
        );
    }
}
