//! File paths as URIs (SARIF `artifactLocation.uri`).
//!
//! SARIF 2.1.0 §3.4.3 wants a valid URI reference (RFC 3986). A file path
//! is one path of segments separated by `/`; every byte outside what RFC
//! 3986 allows in a path segment — unreserved characters, sub-delims, `:`
//! and `@` — is percent-encoded (`%20` for a space, `%25` for `%`, `%23`
//! for `#`, `%3F` for `?`, each UTF-8 byte of a non-ASCII character), so a
//! consumer decodes exactly the path polc read.

use std::fmt::Write;

/// A relative (or absolute) file path as an RFC 3986 URI reference, `/`
/// kept as the segment separator.
pub fn path_to_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b == b'/' || allowed_in_segment(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    // A first segment with `:` would read as a scheme (`c:x.pol`).
    if let Some(first) = out.split('/').next() {
        if first.contains(':') && !out.starts_with('/') {
            out.insert_str(0, "./");
        }
    }
    out
}

/// RFC 3986 `pchar` minus percent-encoded forms: unreserved, sub-delims,
/// `:` and `@`.
fn allowed_in_segment(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_are_unchanged() {
        assert_eq!(path_to_uri("lib/web-1_x.pol"), "lib/web-1_x.pol");
        assert_eq!(path_to_uri("std/net"), "std/net");
    }

    #[test]
    fn reserved_and_non_ascii_bytes_are_encoded() {
        assert_eq!(
            path_to_uri("my dir/a#b%c?d é.pol"),
            "my%20dir/a%23b%25c%3Fd%20%C3%A9.pol"
        );
        assert_eq!(path_to_uri("a\\b\nc[d]"), "a%5Cb%0Ac%5Bd%5D");
    }

    #[test]
    fn a_colon_in_the_first_segment_is_not_a_scheme() {
        assert_eq!(path_to_uri("c:x.pol"), "./c:x.pol");
        assert_eq!(path_to_uri("d/c:x.pol"), "d/c:x.pol");
    }

    #[test]
    fn every_output_byte_is_a_uri_character() {
        let all: String = (1u8..=127).map(char::from).collect::<String>() + "é";
        let u = path_to_uri(&all);
        assert!(u
            .bytes()
            .all(|b| b == b'%' || b == b'/' || allowed_in_segment(b)));
        // Decoding gives the path back.
        let mut dec = Vec::new();
        let mut it = u.bytes();
        while let Some(b) = it.next() {
            if b == b'%' {
                let h: String = [it.next().unwrap_or(b'0'), it.next().unwrap_or(b'0')]
                    .iter()
                    .map(|&x| char::from(x))
                    .collect();
                dec.push(u8::from_str_radix(&h, 16).unwrap_or(0));
            } else {
                dec.push(b);
            }
        }
        assert_eq!(String::from_utf8(dec).ok().as_deref(), Some(all.as_str()));
    }
}
