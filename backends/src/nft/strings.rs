//! Text from a `.pol` file inside an nft ruleset.
//!
//! nft 1.0.6 quoted strings have no escapes: a `"` always ends the string,
//! and in a `log prefix` a `$` starts a variable reference. Comments and log
//! prefixes are limited to 127 bytes. So user text is made safe here, and
//! only here: `"` becomes `'`, control characters (newlines, tabs) become a
//! space, `$` in a log prefix becomes `_`, and the result is cut at a
//! character boundary to fit. Values that must be exact (cgroup paths,
//! interface names) are never rewritten: `crate::BuildError` refuses them.

/// nft's limit for comments and log prefixes, in bytes (128 with the NUL).
pub const MAX_TEXT: usize = 127;

/// `s` made safe for a quoted nft comment, at most `max` bytes.
pub fn comment_text(s: &str, max: usize) -> String {
    truncate(
        s.chars()
            .map(|c| {
                if c == '"' {
                    '\''
                } else if c.is_control() {
                    ' '
                } else {
                    c
                }
            })
            .collect(),
        max,
    )
}

/// `s` made safe for a quoted `log prefix`.
pub fn log_prefix_text(s: &str) -> String {
    truncate(
        s.chars()
            .map(|c| match c {
                '"' => '\'',
                '$' => '_',
                c if c.is_control() => ' ',
                c => c,
            })
            .collect(),
        MAX_TEXT,
    )
}

/// Cut `s` to at most `max` bytes at a character boundary.
pub fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// True when `s` can appear verbatim between nft double quotes.
pub fn quotable(s: &str) -> bool {
    !s.chars().any(|c| c == '"' || c.is_control())
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
    fn sanitises_and_truncates() {
        assert_eq!(comment_text("a\"b\nc$d", MAX_TEXT), "a'b c$d");
        assert_eq!(log_prefix_text("x $(id); \"y\"\n"), "x _(id); 'y' ");
        let long = "é".repeat(100);
        let t = comment_text(&long, MAX_TEXT);
        assert!(t.len() <= MAX_TEXT && t.chars().all(|c| c == 'é'));
        assert!(
            is_identifier("pol")
                && is_identifier("a-b_1")
                && !is_identifier("1a")
                && !is_identifier("a b")
        );
    }
}
