//! Printing one report for one or more compilations, in the format the user
//! asked for, and the exit status it implies (LANGUAGE.md §10). Several
//! compilations (one per entry file) share one report; a diagnostic about a
//! file two entries import is shown once.

use pol_lang::diag::{codes, render, Diagnostics, Severity};
use pol_lang::span::SourceMap;
use serde_json::Value;
use std::collections::HashSet;

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

/// Render the report.
pub fn render(parts: &[Part<'_>], format: Format, color: bool) -> String {
    match format {
        Format::Human => {
            let mut seen = HashSet::new();
            let mut out = String::new();
            let mut counts = [0usize; 3];
            for p in parts {
                for d in p.diags.iter() {
                    let key = render::json_value(d, p.sources).to_string();
                    if !seen.insert(key) {
                        continue;
                    }
                    counts[sev_index(d.severity)] += 1;
                    let one: Diagnostics = std::iter::once(d.clone()).collect();
                    out.push_str(&render::human_items(&one, p.sources, color));
                }
            }
            out.push_str(&render::summary_line(counts[0], counts[1], counts[2]));
            out.push('\n');
            out
        }
        Format::Json => {
            let (list, counts) = json_list(parts);
            let v = serde_json::json!({
                "diagnostics": list,
                "summary": { "errors": counts[0], "warnings": counts[1], "notes": counts[2] }
            });
            pretty(&v)
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
            pretty(&v)
        }
        Format::Github => {
            let mut seen = HashSet::new();
            let mut out = String::new();
            for p in parts {
                for line in render::github(p.diags, p.sources).lines() {
                    if seen.insert(line.to_string()) {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
            }
            out
        }
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
