//! User text inside a generated POSIX sh script (single-quoted words, `#` comments).
//!
//! Two shapes, each a type that only the escaping here can build, so a
//! script builder that takes them cannot be handed raw text:
//! - [`ShWord`]: a whole single-quoted word. Inside single quotes nothing
//!   expands (`$`, `` ` ``, `\`, `;`, newlines stay literal); a `'` becomes
//!   `'\''`. sh cannot carry a NUL byte at all, so a NUL is dropped (values
//!   that must be exact are refused before they get here).
//! - [`ShComment`]: text for a `#` comment, on one line. sh ends a comment
//!   only at a newline, but every character that ends or rewrites a line
//!   anywhere (CR, NUL, the other C0/C1 controls, U+2028/U+2029, bidi and
//!   invisible format characters) is written as a visible escape (`\n`,
//!   `\r`, `\0`, `\u{2028}`, …) and `\` as `\\`, so the comment shows what
//!   the name really was and cannot end early in any reader.
//!
//! [`one_line`] is that comment rule on its own; the nft comments share it.

use std::fmt;

/// A complete single-quoted sh word (quotes included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShWord(String);

impl ShWord {
    /// `s` as one single-quoted word; a NUL is dropped (sh cannot hold it).
    pub fn new(s: &str) -> ShWord {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('\'');
        for c in s.chars() {
            match c {
                '\'' => out.push_str("'\\''"),
                '\0' => {}
                c => out.push(c),
            }
        }
        out.push('\'');
        ShWord(out)
    }

    /// The word as it appears in the script, quotes included.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text that is safe after `#` on one line of a script (without the `#`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShComment(String);

impl ShComment {
    /// `s` with every line-ending or invisible character escaped.
    pub fn new(s: &str) -> ShComment {
        ShComment(one_line(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShComment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// True for a character written as an escape in one-line text: controls
/// (C0, DEL, C1 with NEL), the Unicode line and paragraph separators, and
/// the invisible format characters that reorder or hide text (bidi
/// embeddings, overrides and isolates, zero-width characters, BOM).
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// The escape of one character of one-line text (itself when it needs none).
pub fn escape_char(c: char, out: &mut String) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        c => out.push(c),
    }
}

/// `s` on one line: see the module doc. The result holds no character for
/// which [`needs_escape`] is true.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        escape_char(c, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_everything_literal() {
        assert_eq!(ShWord::new("a").as_str(), "'a'");
        assert_eq!(ShWord::new("it's").as_str(), "'it'\\''s'");
        assert_eq!(ShWord::new("$(id); `x`\n").as_str(), "'$(id); `x`\n'");
        assert_eq!(ShWord::new("a\0b").as_str(), "'ab'");
        assert_eq!(ShWord::new("").as_str(), "''");
    }

    #[test]
    fn comments_stay_on_one_line() {
        assert_eq!(
            ShComment::new("x\necho pwned; touch /tmp/X #.pol").as_str(),
            "x\\necho pwned; touch /tmp/X #.pol"
        );
        assert_eq!(
            ShComment::new("a\rb\0c\td\\n").as_str(),
            "a\\rb\\0c\\td\\\\n"
        );
        assert_eq!(
            ShComment::new("a\u{2028}b\u{85}c\u{202e}d\u{1b}[2J").as_str(),
            "a\\u{2028}b\\u{85}c\\u{202e}d\\u{1b}[2J"
        );
        assert_eq!(ShComment::new("é ü 漢字 ✓").as_str(), "é ü 漢字 ✓");
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let t = one_line(&format!("a{c}b"));
            assert!(!t.chars().any(needs_escape), "{c:?} leaks: {t:?}");
        }
    }
}
