//! User text printed to a terminal (human diagnostics and messages).
//!
//! A source file or a file name can hold bytes a terminal obeys instead of
//! showing: ESC (colours, cursor moves, OSC 8 hyperlinks, title changes),
//! CR (overwrite the line), BS, NUL, the other C0 and C1 controls, and the
//! Unicode bidi controls that reorder what is shown (the "Trojan Source"
//! trick). [`escape`] renders each of them visibly, as `\x1b`, `\r`,
//! `\u{202e}` and so on; everything else, tabs included, passes unchanged.
//! Each character maps to its own piece, so a caller that tracks offsets
//! (the source excerpt of a diagnostic) can map positions char by char with
//! [`push_char`].

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal as itself.
pub fn is_unsafe(c: char) -> bool {
    match c {
        '\t' => false,
        // C0, DEL and C1 controls.
        c if c.is_control() => true,
        // Bidi embeddings, overrides and isolates, marks.
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' => true,
        '\u{061c}' => true,
        // Line and paragraph separators end a line in some terminals.
        '\u{2028}' | '\u{2029}' => true,
        _ => false,
    }
}

/// Append `c` as the terminal should receive it: itself, or a visible escape.
pub fn push_char(out: &mut String, c: char) {
    if !is_unsafe(c) {
        out.push(c);
        return;
    }
    let _ = match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\0' => out.write_str("\\0"),
        c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    };
}

/// `text` with every terminal control rendered visibly (borrowed when there
/// is none, the common case).
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_char(&mut out, c);
    }
    Cow::Owned(out)
}

/// Like [`escape`], but line feeds stay: for text made of several lines
/// (a note quoting a tool's multi-line error), each line made safe.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\n' {
            out.push(c);
        } else {
            push_char(&mut out, c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible() {
        assert_eq!(escape("a\x1b[31mred"), "a\\x1b[31mred");
        assert_eq!(
            escape("\x1b]8;;http://evil\x07link\x1b]8;;\x07"),
            "\\x1b]8;;http://evil\\x07link\\x1b]8;;\\x07"
        );
        assert_eq!(escape("over\rwrite\0\n"), "over\\rwrite\\0\\n");
        assert_eq!(escape("\u{7f}\u{9b}"), "\\x7f\\u{9b}");
        assert_eq!(
            escape("a\u{202e}b\u{2066}c\u{2069}"),
            "a\\u{202e}b\\u{2066}c\\u{2069}"
        );
    }

    #[test]
    fn escape_lines_keeps_line_feeds_only() {
        assert_eq!(escape_lines("a\x1b\nb\r\n"), "a\\x1b\nb\\r\n");
        assert!(matches!(escape_lines("a\nb"), Cow::Borrowed(_)));
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        let s = "allow tcp to 2001:db8::/32 443 # é 漢字\ttab";
        assert!(matches!(escape(s), Cow::Borrowed(_)));
        assert_eq!(escape("\t"), "\t");
    }

    #[test]
    fn no_escaped_output_holds_a_control() {
        for u in 0u32..0x3000 {
            let Some(c) = char::from_u32(u) else { continue };
            let mut e = String::new();
            push_char(&mut e, c);
            assert!(
                e.chars().all(|x| x == '\t' || !is_unsafe(x)),
                "U+{u:04X} -> {e:?}"
            );
        }
    }
}
