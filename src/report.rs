//! Printing one report for one or more compilations, in the format the user
//! asked for, and the exit status it implies (LANGUAGE.md §10). Several
//! compilations (one per entry file) share one report; a diagnostic about a
//! file two entries import is shown once. Human and github output are
//! written as they are rendered and capped per file (docs/decisions.md,
//! "Report size"); the exit status never depends on what was printed.

use pol_lang::diag::{codes, render, Diagnostic, Diagnostics, Severity};
use pol_lang::span::SourceMap;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::io::Write;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Human,
    Json,
    Sarif,
    Github,
}

/// One compilation's diagnostics with the sources their spans point into.
pub struct Part<'a> {
    pub diags: &'a Diagnostics,
    pub sources: &'a SourceMap,
}

/// Human output shows at most this many diagnostics per file by default.
pub const DEFAULT_MAX_PER_FILE: usize = 100;

/// How much of a report to show (shared by the commands that report).
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Limits {
    /// Show at most N diagnostics per file in human and github output, then
    /// how many more there are (0: all); json and sarif always list all
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PER_FILE)]
    pub max_diagnostics: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_diagnostics: DEFAULT_MAX_PER_FILE,
        }
    }
}

/// Render the report into a string (default limits).
pub fn render(parts: &[Part<'_>], format: Format, color: bool) -> String {
    let mut out = Vec::new();
    let _ = write(parts, format, color, Limits::default(), &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Stream the report to standard output (colour when it is a terminal).
/// A failed write is already handled by `out::Stdout` (a closed pipe ends
/// output quietly, keeping the findings' exit status), so nothing is
/// returned.
pub fn print(parts: &[Part<'_>], format: Format, limits: Limits) {
    let _ = write(parts, format, use_color(), limits, &mut crate::out::Stdout);
}

/// Write the report to `out` as it is rendered, one diagnostic at a time
/// (human and github): memory stays bounded by one diagnostic, and a
/// reader that stops reading stops the rendering (the first failed write
/// ends it). Human and github output show at most
/// `limits.max_diagnostics` per file and then one "N more" line per file;
/// the summary counts every diagnostic.
pub fn write(
    parts: &[Part<'_>],
    format: Format,
    color: bool,
    limits: Limits,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Human => {
            let mut cap = Cap::new(limits.max_diagnostics);
            let mut counts = [0usize; 3];
            for (d, sources) in unique(parts) {
                counts[sev_index(d.severity)] += 1;
                if cap.admit(file_of(d, sources)) {
                    out.write_all(&render::human_one(d, sources, color))?;
                }
            }
            for (file, n) in cap.omitted() {
                writeln!(out, "note: {}", render::omitted_text(file, n))?;
                writeln!(
                    out,
                    "  = help: `polc check --max-diagnostics 0` shows them all, `--format json` lists them\n"
                )?;
            }
            writeln!(
                out,
                "{}",
                render::summary_line(counts[0], counts[1], counts[2])
            )?;
        }
        Format::Json => {
            let (list, counts) = json_list(parts);
            let v = serde_json::json!({
                "diagnostics": list,
                "summary": { "errors": counts[0], "warnings": counts[1], "notes": counts[2] }
            });
            out.write_all(pretty(&v).as_bytes())?;
        }
        Format::Sarif => {
            let mut merged: Option<Value> = None;
            let mut seen = HashSet::new();
            for p in parts {
                let v = render::sarif(p.diags, p.sources);
                let results = v["runs"][0]["results"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let m = merged.get_or_insert_with(|| {
                    let mut base = v.clone();
                    base["runs"][0]["results"] = Value::Array(Vec::new());
                    base
                });
                for r in results {
                    if seen.insert(r.to_string()) {
                        if let Some(arr) = m["runs"][0]["results"].as_array_mut() {
                            arr.push(r);
                        }
                    }
                }
            }
            let v = merged.unwrap_or_else(|| render::sarif(&Diagnostics::new(), &SourceMap::new()));
            out.write_all(pretty(&v).as_bytes())?;
        }
        Format::Github => {
            let mut seen = HashSet::new();
            let mut cap = Cap::new(limits.max_diagnostics);
            for p in parts {
                for d in p.diags.iter() {
                    let line = render::github_one(d, p.sources);
                    if seen.insert(line.clone()) && cap.admit(file_of(d, p.sources)) {
                        out.write_all(line.as_bytes())?;
                    }
                }
            }
            for (file, n) in cap.omitted() {
                out.write_all(render::github_omitted(file, n).as_bytes())?;
            }
        }
    }
    out.flush()
}

/// Each diagnostic once (a file two entries import is reported once), in
/// report order, with the sources its spans point into.
fn unique<'p>(parts: &'p [Part<'p>]) -> impl Iterator<Item = (&'p Diagnostic, &'p SourceMap)> + 'p {
    let mut seen = HashSet::new();
    parts
        .iter()
        .flat_map(|p| p.diags.iter().map(move |d| (d, p.sources)))
        .filter(move |(d, sources)| seen.insert(render::json_value(d, sources).to_string()))
}

/// The file a diagnostic is about, for the per-file cap.
fn file_of(d: &Diagnostic, sources: &SourceMap) -> String {
    match d.primary {
        Some(sp) => sources.name(sp.file).to_string(),
        None => d.path.clone().unwrap_or_default(),
    }
}

/// The per-file cap on shown diagnostics, and what it held back.
struct Cap {
    max: usize,
    /// Per file: diagnostics shown, diagnostics held back.
    files: HashMap<String, (usize, usize)>,
    /// Files with held-back diagnostics, in the order first met.
    order: Vec<String>,
}

impl Cap {
    fn new(max: usize) -> Self {
        Cap {
            max,
            files: HashMap::new(),
            order: Vec::new(),
        }
    }

    /// Whether a diagnostic about `file` is shown (else it is counted).
    fn admit(&mut self, file: String) -> bool {
        let (shown, held) = self.files.entry(file.clone()).or_insert((0, 0));
        if self.max == 0 || *shown < self.max {
            *shown += 1;
            return true;
        }
        if *held == 0 {
            self.order.push(file);
        }
        *held += 1;
        false
    }

    /// `(file, held back)` in the order the files were met.
    fn omitted(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.order
            .iter()
            .map(|f| (f.as_str(), self.files.get(f).map_or(0, |c| c.1)))
    }
}

fn json_list(parts: &[Part<'_>]) -> (Vec<Value>, [usize; 3]) {
    let mut seen = HashSet::new();
    let mut list = Vec::new();
    let mut counts = [0usize; 3];
    for p in parts {
        for d in p.diags.iter() {
            let v = render::json_value(d, p.sources);
            if seen.insert(v.to_string()) {
                counts[sev_index(d.severity)] += 1;
                list.push(v);
            }
        }
    }
    (list, counts)
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

fn sev_index(s: Severity) -> usize {
    match s {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Note => 2,
    }
}

/// 0 clean; 1 findings (errors, or warnings with `--deny-warnings`);
/// 2 when an input could not be read at all.
pub fn exit_status(parts: &[Part<'_>], deny_warnings: bool) -> u8 {
    let all = || parts.iter().flat_map(|p| p.diags.iter());
    if all().any(|d| d.code == codes::IO_ERROR) {
        return 2;
    }
    if all().any(|d| d.severity == Severity::Error)
        || (deny_warnings && all().any(|d| d.severity == Severity::Warning))
    {
        return 1;
    }
    0
}

/// Whether to colour human output: a terminal on stderr/stdout and no `NO_COLOR`.
pub fn use_color() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}
