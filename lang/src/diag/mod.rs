//! Errors are data: the one `Diagnostic` type every stage of polc produces,
//! with a registry code, a kind, a severity, a primary span, labels, notes,
//! an optional help line and, for verifier findings, a witness packet.
//! Rendering lives in `render` (the only user of codespan-reporting).

pub mod codes;
mod excerpt;
pub mod render;

pub use codes::Code;

use crate::span::Span;
use serde::Serialize;

/// The kinds of LANGUAGE.md §9 (verifier and tuning) and the front-end kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Syntax,
    Unresolved,
    Duplicate,
    Cycle,
    Type,
    Import,
    Matcher,
    EmptyMatch,
    Shadowed,
    Redundant,
    Conflict,
    Generalization,
    Tunnel,
    Sysctl,
    TestFailed,
    Unknown,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Syntax => "syntax",
            Kind::Unresolved => "unresolved",
            Kind::Duplicate => "duplicate",
            Kind::Cycle => "cycle",
            Kind::Type => "type",
            Kind::Import => "import",
            Kind::Matcher => "matcher",
            Kind::EmptyMatch => "empty-match",
            Kind::Shadowed => "shadowed",
            Kind::Redundant => "redundant",
            Kind::Conflict => "conflict",
            Kind::Generalization => "generalization",
            Kind::Tunnel => "tunnel",
            Kind::Sysctl => "sysctl",
            Kind::TestFailed => "test-failed",
            Kind::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// A secondary location ("decided here", "first defined here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// A concrete packet that shows a finding, as LANGUAGE.md §10 prints it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Witness {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// cgroup v2 path of the sending socket, when the witness has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    pub family: String,
    pub saddr: String,
    pub daddr: String,
    pub proto: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The verdict this packet gets (from the rules before, or overall).
    pub verdict: String,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// Where the problem is. `None` only for failures with no source at all
    /// (a command-line path that cannot be read).
    pub primary: Option<Span>,
    /// Text under the primary caret (the why).
    pub primary_label: Option<String>,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
    /// The fix, as one line.
    pub help: Option<String>,
    /// The policy a verifier finding belongs to.
    pub policy: Option<String>,
    pub witness: Option<Witness>,
    /// For a diagnostic without a span, the path it is about.
    pub path: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity and the given message.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity,
            message: message.into(),
            primary: Some(span),
            primary_label: None,
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
            policy: None,
            witness: None,
            path: None,
        }
    }

    /// A diagnostic about a path with no source text (I/O on the command line).
    pub fn without_span(code: Code, path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity,
            message: message.into(),
            primary: None,
            primary_label: None,
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
            policy: None,
            witness: None,
            path: Some(path.into()),
        }
    }

    pub fn kind(&self) -> Kind {
        self.code.kind
    }

    pub fn with_label(mut self, text: impl Into<String>) -> Self {
        self.primary_label = Some(text.into());
        self
    }

    pub fn with_related(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_policy(mut self, policy: impl Into<String>) -> Self {
        self.policy = Some(policy.into());
        self
    }

    pub fn with_witness(mut self, witness: Witness) -> Self {
        self.witness = Some(witness);
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Sort key: file, position, code — the order reports print in.
    fn sort_key(&self) -> (Option<Span>, &'static str, &str) {
        (self.primary, self.code.id, self.message.as_str())
    }
}

/// A collection of diagnostics with the counts a report needs.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Diagnostics::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn extend(&mut self, ds: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(ds);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.items.iter().filter(|d| d.severity == severity).count()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sort by position and drop exact duplicates.
    pub fn sort_dedup(&mut self) {
        self.items.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.items.dedup();
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diagnostic>>(iter: I) -> Self {
        Diagnostics {
            items: iter.into_iter().collect(),
        }
    }
}

/// "did you mean `x`?" from a list of candidates (Jaro-Winkler ≥ 0.8, or a
/// small edit distance).
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let score = strsim::jaro_winkler(name, c);
        let close = strsim::levenshtein(name, c) <= (name.len() / 3).max(1);
        if (score >= 0.8 || close) && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}
