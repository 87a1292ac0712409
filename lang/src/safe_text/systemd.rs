//! User text inside a systemd unit file: one argument of a command line
//! (`ExecStartPre=+nft '…'`).
//!
//! systemd splits a command line into words itself and unescapes C escapes
//! inside quotes; it expands `%` specifiers and `$` variables even inside
//! quotes; a line ends at a newline. So an argument is single-quoted with
//! `\` and `'` written as C escapes, `%` and `$` doubled, and every control
//! character (newlines included) written as `\xNN`, so no value can end the
//! line and start another directive.

/// `s` as one single-quoted argument of a systemd command line.
pub fn quote_arg(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\x27"),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            c if c.is_control() && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() || super::sh::needs_escape(c) => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_systemd() {
        assert_eq!(quote_arg("a b"), "'a b'");
        assert_eq!(quote_arg(r"x\x2dy"), r"'x\\x2dy'");
        assert_eq!(quote_arg("%i $HOME 'q'"), r"'%%i $$HOME \x27q\x27'");
    }

    #[test]
    fn nothing_ends_the_line() {
        let q = quote_arg("a\nExecStart=/bin/sh\r\u{85}\u{2028}");
        assert!(!q.contains(['\n', '\r', '\u{85}', '\u{2028}']), "{q}");
        assert_eq!(q, r"'a\x0aExecStart=/bin/sh\x0d\x85\u2028'");
    }
}
