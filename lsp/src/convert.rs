//! polc's diagnostics as LSP diagnostics, and the edits behind their
//! `help:` lines as code actions.
//!
//! A diagnostic keeps its code (`P0101`, `shadowed`…), severity and
//! message; the witness packet, notes and help follow the message on lines
//! of their own (what `polc check` prints under the caret); related spans
//! become related information.
//!
//! Code actions are offered where the help names an exact edit of the
//! primary span: `did you mean `X`?` and `write `X`` replace it with X;
//! `remove the rule` (unreachable and redundant rules) deletes the rule's
//! lines. Every other help stays text.

use crate::text::{Encoding, LineIndex};
use lsp_types::{
    Diagnostic as LspDiagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location,
    NumberOrString, Range, TextEdit,
};
use pol_lang::diag::{render::witness_text, Diagnostic, Severity};
use pol_lang::span::{FileId, SourceMap, Span};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Spans of one compilation as LSP ranges and locations; each file's line
/// index is built once (a 10,000-rule policy has thousands of findings).
pub struct Positions<'a> {
    sources: &'a SourceMap,
    enc: Encoding,
    lines: RefCell<HashMap<FileId, Rc<LineIndex<'a>>>>,
}

impl<'a> Positions<'a> {
    pub fn new(sources: &'a SourceMap, enc: Encoding) -> Self {
        Positions {
            sources,
            enc,
            lines: RefCell::new(HashMap::new()),
        }
    }

    fn index(&self, file: FileId) -> Option<Rc<LineIndex<'a>>> {
        if let Some(i) = self.lines.borrow().get(&file) {
            return Some(i.clone());
        }
        let f = self.sources.get(file)?;
        let i = Rc::new(LineIndex::new(&f.text, self.enc));
        self.lines.borrow_mut().insert(file, i.clone());
        Some(i)
    }

    /// The range of `span` in its file, or `None` if the file is unknown.
    pub fn range(&self, span: Span) -> Option<Range> {
        let r = span.range();
        Some(self.index(span.file)?.range(r.start, r.end))
    }

    /// The location of `span`, when its file has a path on disk.
    pub fn location(&self, span: Span) -> Option<Location> {
        let f = self.sources.get(span.file)?;
        let uri = crate::uri::from_path(f.path.as_ref()?)?;
        Some(Location {
            uri,
            range: self.range(span)?,
        })
    }
}

/// One diagnostic; `range` is where to show it in its document.
pub fn diagnostic(pos: &Positions<'_>, d: &Diagnostic, at: Range) -> LspDiagnostic {
    let mut message = d.message.clone();
    if let Some(l) = &d.primary_label {
        message.push_str(&format!(": {l}"));
    }
    if let Some(w) = &d.witness {
        message.push_str(&format!("\nwitness: {}", witness_text(w)));
    }
    for n in &d.notes {
        message.push_str(&format!("\nnote: {n}"));
    }
    if let Some(h) = &d.help {
        message.push_str(&format!("\nhelp: {h}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .filter_map(|l| {
            Some(DiagnosticRelatedInformation {
                location: pos.location(l.span)?,
                message: l.message.clone(),
            })
        })
        .collect();
    LspDiagnostic {
        range: at,
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
            Severity::Note => DiagnosticSeverity::INFORMATION,
        }),
        code: Some(NumberOrString::String(d.code.id.to_string())),
        source: Some("polc".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..LspDiagnostic::default()
    }
}

/// The text between the first pair of backticks after `prefix`.
fn quoted_after<'a>(help: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = help.strip_prefix(prefix)?;
    let end = rest.find('`')?;
    let inner = &rest[..end];
    let tail = &rest[end + 1..];
    (tail.is_empty() || tail == "?").then_some(inner)
}

/// The edit a diagnostic's help line names exactly, with a title.
pub fn fix(pos: &Positions<'_>, d: &Diagnostic) -> Option<(String, TextEdit)> {
    let help = d.help.as_deref()?;
    let span = d.primary?;
    let text = &pos.sources.get(span.file)?.text;
    if let Some(x) = quoted_after(help, "did you mean `").or_else(|| quoted_after(help, "write `"))
    {
        if x.contains('\n') || x.contains('…') {
            return None;
        }
        return Some((
            format!("replace with `{x}`"),
            TextEdit {
                range: pos.range(span)?,
                new_text: x.to_string(),
            },
        ));
    }
    if help == "remove the rule" {
        // The rule's whole lines, with their newline.
        let r = span.range();
        let start = text[..r.start].rfind('\n').map_or(0, |i| i + 1);
        let end = text[r.end..]
            .find('\n')
            .map_or(text.len(), |i| r.end + i + 1);
        if !text[start..r.start].trim().is_empty() {
            return None;
        }
        return Some((
            "remove the rule".into(),
            TextEdit {
                range: pos.index(span.file)?.range(start, end),
                new_text: String::new(),
            },
        ));
    }
    None
}
