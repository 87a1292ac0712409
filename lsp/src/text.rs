//! Positions: LSP `Position`s (line and character, in UTF-16 code units
//! unless the client agreed to UTF-8) to and from byte offsets into a
//! text, and incremental edits (`textDocument/didChange` ranges) applied to
//! a document's text.

use lsp_types::{Position, Range};

/// How a `Position`'s character counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16,
}

/// Line starts of one text, for conversions.
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    enc: Encoding,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str, enc: Encoding) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts, enc }
    }

    /// The position of byte `offset` (clamped to the text, and back to a
    /// character boundary).
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = match self.starts.binary_search(&offset) {
            Ok(l) => l,
            Err(l) => l.saturating_sub(1),
        };
        let start = self.starts[line];
        let prefix = &self.text[start..offset];
        let character = match self.enc {
            Encoding::Utf8 => prefix.len(),
            Encoding::Utf16 => prefix.encode_utf16().count(),
        };
        Position {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            character: u32::try_from(character).unwrap_or(u32::MAX),
        }
    }

    pub fn range(&self, start: usize, end: usize) -> Range {
        Range {
            start: self.position(start),
            end: self.position(end),
        }
    }

    /// The byte offset of `pos`; a line past the end is the end of the
    /// text, a character past the end of its line is the line's end (as
    /// the protocol asks).
    pub fn offset(&self, pos: Position) -> usize {
        let Some(&start) = self.starts.get(pos.line as usize) else {
            return self.text.len();
        };
        let end = self
            .starts
            .get(pos.line as usize + 1)
            .map_or(self.text.len(), |e| e.saturating_sub(1));
        let line = &self.text[start..end.max(start)];
        let want = pos.character as usize;
        let mut units = 0;
        for (i, c) in line.char_indices() {
            if units >= want {
                return start + i;
            }
            units += match self.enc {
                Encoding::Utf8 => c.len_utf8(),
                Encoding::Utf16 => c.len_utf16(),
            };
        }
        start + line.len()
    }
}

/// Apply one change: a range replaced by `new_text`, or (no range) the
/// whole text.
pub fn apply_change(text: &mut String, range: Option<Range>, new_text: &str, enc: Encoding) {
    match range {
        None => *text = new_text.to_string(),
        Some(r) => {
            let idx = LineIndex::new(text, enc);
            let start = idx.offset(r.start);
            let end = idx.offset(r.end).max(start);
            text.replace_range(start..end, new_text);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pos(line: u32, character: u32) -> Position {
        Position { line, character }
    }

    #[test]
    fn utf16_counts_surrogate_pairs_and_utf8_bytes() {
        let t = "a\n# é 𝄞 x\n";
        let u16 = LineIndex::new(t, Encoding::Utf16);
        let x = t.find('x').unwrap();
        assert_eq!(u16.position(x), pos(1, 7));
        assert_eq!(u16.offset(pos(1, 7)), x);
        let u8 = LineIndex::new(t, Encoding::Utf8);
        assert_eq!(u8.position(x), pos(1, 10));
        assert_eq!(u8.offset(pos(1, 10)), x);
        // Past the end of a line or of the text: clamped.
        assert_eq!(u16.offset(pos(0, 99)), 1);
        assert_eq!(u16.offset(pos(9, 0)), t.len());
    }

    #[test]
    fn incremental_changes_apply_in_order() {
        let mut t = String::from("policy p {\n  hook output\n}\n");
        apply_change(
            &mut t,
            Some(Range {
                start: pos(1, 7),
                end: pos(1, 13),
            }),
            "input",
            Encoding::Utf16,
        );
        assert_eq!(t, "policy p {\n  hook input\n}\n");
        apply_change(&mut t, None, "x", Encoding::Utf16);
        assert_eq!(t, "x");
    }
}
