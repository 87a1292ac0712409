//! The source excerpt of one human diagnostic: only the lines its labels
//! touch (and the context lines codespan-reporting shows around them),
//! each cut to a window of at most [`WIDTH`] characters around the labels
//! (`…` marks cut text) and made safe for a terminal
//! (`safe_text::terminal`), with every span mapped into that text.
//! codespan-reporting renders from an [`Excerpt`] instead of the whole
//! file, so one diagnostic costs O(window), not O(line): a 100 KB line with
//! thousands of errors no longer prints the line once per error. Line and
//! column numbers stay those of the original file.

use crate::safe_text::terminal;
use crate::span::{FileId, SourceFile, SourceMap, Span};
use codespan_reporting::files::{Error, Files};
use std::collections::BTreeSet;
use std::ops::Range;

/// Most characters of one source line an excerpt shows.
pub const WIDTH: usize = 120;
/// Characters kept before the first label on a cut line.
const BEFORE: usize = 40;
/// The mark of cut text at either end of a line.
const CUT: &str = "…";
/// Lines after a multi-line label's first line, and before its last,
/// that codespan-reporting shows (its `Config::default()`).
const START_CONTEXT: usize = 3;
const END_CONTEXT: usize = 1;

/// The text codespan-reporting sees for one diagnostic.
pub struct Excerpt<'s> {
    sources: &'s SourceMap,
    files: Vec<FileView>,
}

struct FileView {
    id: FileId,
    name: String,
    text: String,
    /// The shown lines, by original line index.
    lines: Vec<LineView>,
    line_count: usize,
}

struct LineView {
    index: usize,
    /// This line in the excerpt text, newline included.
    range: Range<usize>,
    /// Original byte where the window starts / ends.
    start: usize,
    end: usize,
    /// (original byte, excerpt byte) at each character of the window, and
    /// at its end.
    marks: Vec<(usize, usize)>,
}

impl<'s> Excerpt<'s> {
    /// The excerpt showing `spans` (the primary span first: a cut line is
    /// centred on the first span that touches it).
    pub fn new(sources: &'s SourceMap, spans: &[Span]) -> Self {
        let mut ids: Vec<FileId> = Vec::new();
        for s in spans {
            if !ids.contains(&s.file) {
                ids.push(s.file);
            }
        }
        let files = ids
            .into_iter()
            .filter_map(|id| {
                let f = sources.get(id)?;
                let on_file: Vec<Span> = spans.iter().copied().filter(|s| s.file == id).collect();
                Some(FileView::new(id, f, &on_file))
            })
            .collect();
        Excerpt { sources, files }
    }

    fn view(&self, id: FileId) -> Option<&FileView> {
        self.files.iter().find(|f| f.id == id)
    }

    /// `span` as a byte range of the excerpt text.
    pub fn map(&self, span: Span) -> Range<usize> {
        let Some((f, src)) = self.view(span.file).zip(self.sources.get(span.file)) else {
            return span.range();
        };
        let start = f.map(src, span.start as usize);
        let end = f.map(src, span.end as usize).max(start);
        start..end
    }
}

impl FileView {
    fn new(id: FileId, f: &SourceFile, spans: &[Span]) -> Self {
        let starts = f.line_starts();
        let line_of = |b: usize| match starts.binary_search(&b) {
            Ok(l) => l,
            Err(l) => l.saturating_sub(1),
        };
        // Lines shown, and for each the first label boundary on it.
        let mut shown: BTreeSet<usize> = BTreeSet::new();
        let mut focus: Vec<(usize, usize)> = Vec::new();
        for s in spans {
            let (a, b) = (s.start as usize, s.end as usize);
            let (la, lb) = (line_of(a), line_of(b));
            shown.extend(la..=lb.min(la + START_CONTEXT));
            shown.extend(lb.saturating_sub(END_CONTEXT).max(la)..=lb);
            focus.push((la, a));
            focus.push((lb, b));
        }
        // codespan-reporting also prints a single line between two shown ones.
        let gaps: Vec<usize> = shown
            .iter()
            .zip(shown.iter().skip(1))
            .filter(|(x, y)| **y == **x + 2)
            .map(|(x, _)| x + 1)
            .collect();
        shown.extend(gaps);

        let text = f.text.as_str();
        let mut out = String::new();
        let mut lines = Vec::with_capacity(shown.len());
        for index in shown {
            let Some(&a) = starts.get(index) else {
                continue;
            };
            let mut z = starts.get(index + 1).map_or(text.len(), |n| n - 1);
            if text[a..z].ends_with('\r') {
                z -= 1;
            }
            let at = focus
                .iter()
                .find(|(l, _)| *l == index)
                .map_or(a, |(_, b)| *b);
            let (start, end) = window(text, a, z, at);
            let begin = out.len();
            if start > a {
                out.push_str(CUT);
            }
            let mut marks = Vec::new();
            for (i, c) in text[start..end].char_indices() {
                marks.push((start + i, out.len()));
                terminal::push_char(&mut out, c);
            }
            marks.push((end, out.len()));
            if end < z {
                out.push_str(CUT);
            }
            out.push('\n');
            lines.push(LineView {
                index,
                range: begin..out.len(),
                start,
                end,
                marks,
            });
        }
        FileView {
            id,
            name: terminal::escape(&f.name).into_owned(),
            text: out,
            lines,
            line_count: starts.len(),
        }
    }

    /// Original byte `b` as an excerpt byte.
    fn map(&self, f: &SourceFile, b: usize) -> usize {
        let starts = f.line_starts();
        let index = match starts.binary_search(&b) {
            Ok(l) => l,
            Err(l) => l.saturating_sub(1),
        };
        let Ok(k) = self.lines.binary_search_by_key(&index, |l| l.index) else {
            return 0;
        };
        let line = &self.lines[k];
        if b < line.start {
            return line.range.start;
        }
        if b > line.end {
            return line.range.end - 1;
        }
        match line.marks.binary_search_by_key(&b, |m| m.0) {
            Ok(i) => line.marks[i].1,
            Err(i) => line.marks[i.saturating_sub(1)].1,
        }
    }

    /// Excerpt byte `b` back to an original byte.
    fn unmap(&self, b: usize) -> usize {
        let Some(line) = self.line_at(b) else {
            return 0;
        };
        match line.marks.binary_search_by_key(&b, |m| m.1) {
            Ok(i) => line.marks[i].0,
            Err(0) => line.start,
            Err(i) => line.marks[i - 1].0,
        }
    }

    fn line_at(&self, b: usize) -> Option<&LineView> {
        let k = self.lines.partition_point(|l| l.range.start <= b);
        self.lines.get(k.checked_sub(1)?)
    }
}

/// The shown part `start..end` of the line `a..z` of `text`: all of it when
/// it has at most [`WIDTH`] characters, else [`WIDTH`] characters starting
/// up to [`BEFORE`] characters before `at`. O(WIDTH), whatever the line's length.
fn window(text: &str, a: usize, z: usize, at: usize) -> (usize, usize) {
    let mut at = at.clamp(a, z);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let back = |from: usize, n: usize| {
        text[a..from]
            .char_indices()
            .rev()
            .take(n)
            .last()
            .map_or(from, |(i, _)| a + i)
    };
    let start = back(at, BEFORE);
    let mut taken = 0;
    let mut end = z;
    for (i, _) in text[start..z].char_indices() {
        if taken == WIDTH {
            end = start + i;
            break;
        }
        taken += 1;
    }
    if taken < WIDTH {
        // The line ends early: show more of its beginning instead.
        return (back(start, WIDTH - taken), z);
    }
    (start, end)
}

impl<'a, 's: 'a> Files<'a> for Excerpt<'s> {
    type FileId = FileId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<&'a str, Error> {
        self.view(id)
            .map(|f| f.name.as_str())
            .ok_or(Error::FileMissing)
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, Error> {
        self.view(id)
            .map(|f| f.text.as_str())
            .ok_or(Error::FileMissing)
    }

    fn line_index(&'a self, id: FileId, byte_index: usize) -> Result<usize, Error> {
        let f = self.view(id).ok_or(Error::FileMissing)?;
        Ok(f.line_at(byte_index).map_or(0, |l| l.index))
    }

    fn line_range(&'a self, id: FileId, line_index: usize) -> Result<Range<usize>, Error> {
        let f = self.view(id).ok_or(Error::FileMissing)?;
        if line_index >= f.line_count {
            return Err(Error::LineTooLarge {
                given: line_index,
                max: f.line_count.saturating_sub(1),
            });
        }
        let k = f.lines.partition_point(|l| l.index < line_index);
        match f.lines.get(k) {
            Some(l) if l.index == line_index => Ok(l.range.clone()),
            // A line codespan-reporting walks over but does not print.
            Some(l) => Ok(l.range.start..l.range.start),
            None => Ok(f.text.len()..f.text.len()),
        }
    }

    fn column_number(
        &'a self,
        id: FileId,
        _line_index: usize,
        byte_index: usize,
    ) -> Result<usize, Error> {
        let f = self.view(id).ok_or(Error::FileMissing)?;
        let src = self.sources.get(id).ok_or(Error::FileMissing)?;
        Ok(src.line_col(f.unmap(byte_index)).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str, range: Range<usize>) -> (String, Range<usize>) {
        let mut sm = SourceMap::new();
        let id = sm.add("t.pol", text, false);
        let span = Span::new(id, range.start, range.end);
        let ex = Excerpt::new(&sm, &[span]);
        let r = ex.map(span);
        let src = ex.source(id).unwrap_or_default().to_string();
        (src, r)
    }

    #[test]
    fn a_short_line_is_shown_whole() {
        let (src, r) = one("a\nallow x\nb\n", 8..9);
        assert_eq!(src, "allow x\n");
        assert_eq!(&src[r], "x");
    }

    #[test]
    fn a_long_line_is_cut_around_the_span() {
        let line = "x ".repeat(50_000);
        let (src, r) = one(&line, 60_000..60_001);
        assert!(src.chars().count() <= WIDTH + 3, "{}", src.len());
        assert!(src.starts_with(CUT) && src.ends_with("…\n"), "{src}");
        assert_eq!(&src[r], "x");
    }

    #[test]
    fn controls_are_escaped_and_spans_follow() {
        let (src, r) = one("a\x1b[2J \u{202e}bad\n", 9..12);
        assert_eq!(src, "a\\x1b[2J \\u{202e}bad\n");
        assert_eq!(&src[r], "bad");
    }

    #[test]
    fn columns_are_those_of_the_original_file() {
        let mut sm = SourceMap::new();
        let line = format!("{}\x1bzz", "é".repeat(1000));
        let id = sm.add("t.pol", line.as_str(), false);
        let span = Span::new(id, 2001, 2003);
        let ex = Excerpt::new(&sm, &[span]);
        let r = ex.map(span);
        assert_eq!(ex.column_number(id, 0, r.start).ok(), Some(1002));
        assert_eq!(ex.line_number(id, 0).ok(), Some(1));
    }
}
