//! Rendering diagnostics at the edge: human text (codespan-reporting, the
//! only module that uses it), the JSON object of LANGUAGE.md §10, SARIF
//! 2.1.0 and GitHub workflow annotations.

use super::excerpt::Excerpt;
use super::{codes, Diagnostic, Diagnostics, Severity};
use crate::safe_text::{terminal, uri};
use crate::span::{SourceMap, Span};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::term;
use serde_json::{json, Value};

/// Human output, as rustc would print it, with a closing summary line.
/// `color` selects ANSI colours.
pub fn human(diags: &Diagnostics, sources: &SourceMap, color: bool) -> String {
    let mut s = human_items(diags, sources, color);
    s.push_str(&summary_line(
        diags.count(Severity::Error),
        diags.count(Severity::Warning),
        diags.count(Severity::Note),
    ));
    s.push('\n');
    s
}

/// The diagnostics alone, without the summary line.
pub fn human_items(diags: &Diagnostics, sources: &SourceMap, color: bool) -> String {
    let mut out = Vec::new();
    for d in diags.iter() {
        out.extend_from_slice(&human_one(d, sources, color));
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One diagnostic as human text: its source excerpt cut to a window per
/// line and every piece of user text made safe for a terminal. Its size is
/// bounded by the diagnostic, not by the lines it points into.
pub fn human_one(d: &Diagnostic, sources: &SourceMap, color: bool) -> Vec<u8> {
    let mut buf = if color {
        term::termcolor::Buffer::ansi()
    } else {
        term::termcolor::Buffer::no_color()
    };
    let config = term::Config::default();
    let spans: Vec<Span> = d
        .primary
        .into_iter()
        .chain(d.labels.iter().map(|l| l.span))
        .collect();
    let excerpt = Excerpt::new(sources, &spans);
    let cd = to_codespan(d, &excerpt);
    if term::emit_to_write_style(&mut buf, &config, &excerpt, &cd).is_err() {
        // A span outside its file: fall back to the plain line.
        buf.clear();
        buf_push(&mut buf, &plain_line(d, sources));
    }
    buf.into_inner()
}

fn buf_push(buf: &mut term::termcolor::Buffer, s: &str) {
    use std::io::Write;
    let _ = writeln!(buf, "{s}");
}

/// `1 error, 2 warnings, 0 notes`
pub fn summary_line(e: usize, w: usize, n: usize) -> String {
    format!(
        "{} {}, {} {}, {} {}",
        e,
        plural(e, "error"),
        w,
        plural(w, "warning"),
        n,
        plural(n, "note")
    )
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

fn plain_line(d: &Diagnostic, sources: &SourceMap) -> String {
    match d.primary {
        Some(sp) => {
            let (l, c) = sources.start_line_col(sp);
            format!(
                "{}:{}:{}: {}[{}]: {}",
                terminal::escape(sources.name(sp.file)),
                l,
                c,
                d.severity.as_str(),
                d.code.id,
                terminal::escape(&d.message)
            )
        }
        None => format!(
            "{}: {}[{}]: {}",
            terminal::escape(d.path.as_deref().unwrap_or("polc")),
            d.severity.as_str(),
            d.code.id,
            terminal::escape(&d.message)
        ),
    }
}

/// The codespan-reporting form of `d`, its spans mapped into `excerpt` and
/// its texts escaped for a terminal.
fn to_codespan(d: &Diagnostic, excerpt: &Excerpt<'_>) -> cs::Diagnostic<crate::span::FileId> {
    let safe = |t: &str| terminal::escape(t).into_owned();
    let sev = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
        Severity::Note => cs::Severity::Note,
    };
    // A diagnostic without a span names its path in the message itself.
    let message = safe(&d.message);
    let mut labels = Vec::new();
    if let Some(sp) = d.primary {
        let mut l = cs::Label::primary(sp.file, excerpt.map(sp));
        if let Some(t) = &d.primary_label {
            l = l.with_message(safe(t));
        }
        labels.push(l);
    }
    for rel in &d.labels {
        labels.push(
            cs::Label::secondary(rel.span.file, excerpt.map(rel.span))
                .with_message(safe(&rel.message)),
        );
    }
    let mut notes: Vec<String> = Vec::new();
    if let Some(p) = &d.policy {
        notes.push(format!("in policy `{}`", safe(p)));
    }
    if let Some(w) = &d.witness {
        notes.push(format!("witness: {}", safe(&witness_text(w))));
    }
    // A note may quote a tool's multi-line message (a WAT parse error).
    notes.extend(
        d.notes
            .iter()
            .map(|n| terminal::escape_lines(n).into_owned()),
    );
    if let Some(h) = &d.help {
        notes.push(format!("help: {}", safe(h)));
    }
    cs::Diagnostic::new(sev)
        .with_code(format!("{}/{}", d.code.id, d.code.kind.as_str()))
        .with_message(message)
        .with_labels(labels)
        .with_notes(notes)
}

/// A witness packet in one line, in the language's own packet syntax, safe
/// for a terminal.
pub fn witness_text(w: &super::Witness) -> String {
    let mut s = String::new();
    if let Some(g) = &w.group {
        s.push_str(&format!("group `{g}` "));
    }
    if let Some(c) = &w.cgroup {
        s.push_str(&format!("(cgroup \"{c}\") "));
    }
    if let Some(c) = &w.classid {
        s.push_str(&format!("(classid {c}) "));
    }
    if let Some(u) = w.uid {
        s.push_str(&format!("(uid {u}) "));
    }
    if let Some(g) = w.gid {
        s.push_str(&format!("(gid {g}) "));
    }
    s.push_str(&format!(
        "{} from {} to {} {}",
        w.family, w.saddr, w.daddr, w.proto
    ));
    match (w.sport, w.dport) {
        (Some(sp), Some(dp)) => s.push_str(&format!(" {sp} -> {dp}")),
        (None, Some(dp)) => s.push_str(&format!(" {dp}")),
        _ => {}
    }
    if let Some(v) = &w.via {
        s.push_str(&format!(" via {v}"));
    }
    s.push_str(&format!(" gets {}", w.verdict));
    // Group names and cgroup paths come from sources; this line is shown
    // on terminals (explain, diff, human notes).
    terminal::escape(&s).into_owned()
}

/// One diagnostic as the JSON object of LANGUAGE.md §10.
pub fn json_value(d: &Diagnostic, sources: &SourceMap) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("kind".into(), json!(d.code.kind.as_str()));
    o.insert("severity".into(), json!(d.severity.as_str()));
    o.insert("code".into(), json!(d.code.id));
    o.insert("message".into(), json!(d.message));
    match d.primary {
        Some(sp) => {
            let (l, c) = sources.start_line_col(sp);
            let (el, ec) = sources.end_line_col(sp);
            o.insert("file".into(), json!(sources.name(sp.file)));
            o.insert("line".into(), json!(l));
            o.insert("column".into(), json!(c));
            o.insert("end_line".into(), json!(el));
            o.insert("end_column".into(), json!(ec));
        }
        None => {
            o.insert("file".into(), json!(d.path.clone().unwrap_or_default()));
        }
    }
    if let Some(p) = &d.policy {
        o.insert("policy".into(), json!(p));
    }
    if !d.labels.is_empty() {
        let rel: Vec<Value> = d
            .labels
            .iter()
            .map(|l| {
                let (line, col) = sources.start_line_col(l.span);
                json!({ "file": sources.name(l.span.file), "line": line, "column": col, "message": l.message })
            })
            .collect();
        o.insert("related".into(), Value::Array(rel));
    }
    if let Some(w) = &d.witness {
        o.insert(
            "witness".into(),
            serde_json::to_value(w).unwrap_or(Value::Null),
        );
    }
    if let Some(h) = &d.help {
        o.insert("help".into(), json!(h));
    }
    if !d.notes.is_empty() {
        o.insert("notes".into(), json!(d.notes));
    }
    Value::Object(o)
}

/// The whole report as LANGUAGE.md §10's JSON object.
pub fn json(diags: &Diagnostics, sources: &SourceMap) -> Value {
    let list: Vec<Value> = diags.iter().map(|d| json_value(d, sources)).collect();
    json!({
        "diagnostics": list,
        "summary": {
            "errors": diags.count(Severity::Error),
            "warnings": diags.count(Severity::Warning),
            "notes": diags.count(Severity::Note),
        }
    })
}

/// SARIF 2.1.0: one run, tool `polc`, rule ids = diagnostic codes.
pub fn sarif(diags: &Diagnostics, sources: &SourceMap) -> Value {
    let rules: Vec<Value> = codes::ALL
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.kind.as_str(),
                "shortDescription": { "text": c.title },
                "defaultConfiguration": { "level": sarif_level(c.severity) },
            })
        })
        .collect();
    let results: Vec<Value> = diags
        .iter()
        .map(|d| {
            let mut r = json!({
                "ruleId": d.code.id,
                "ruleIndex": codes::ALL.iter().position(|c| c.id == d.code.id).unwrap_or(0),
                "level": sarif_level(d.severity),
                "message": { "text": d.message },
            });
            let loc = match d.primary {
                Some(sp) => {
                    let (l, c) = sources.start_line_col(sp);
                    let (el, ec) = sources.end_line_col(sp);
                    json!([{ "physicalLocation": {
                        "artifactLocation": { "uri": uri::path_to_uri(sources.name(sp.file)) },
                        "region": { "startLine": l, "startColumn": c, "endLine": el, "endColumn": ec }
                    }}])
                }
                None => json!([{ "physicalLocation": {
                    "artifactLocation": { "uri": uri::path_to_uri(d.path.as_deref().unwrap_or_default()) }
                }}]),
            };
            r["locations"] = loc;
            if !d.labels.is_empty() {
                r["relatedLocations"] = Value::Array(
                    d.labels
                        .iter()
                        .enumerate()
                        .map(|(i, lab)| {
                            let (l, c) = sources.start_line_col(lab.span);
                            json!({ "id": i, "message": { "text": lab.message }, "physicalLocation": {
                                "artifactLocation": { "uri": uri::path_to_uri(sources.name(lab.span.file)) },
                                "region": { "startLine": l, "startColumn": c }
                            }})
                        })
                        .collect(),
                );
            }
            if let Some(w) = &d.witness {
                r["properties"] = json!({ "witness": w });
            }
            r
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "polc",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/polc/polc",
                "rules": rules,
            }},
            "results": results,
        }]
    })
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// GitHub Actions workflow commands (`::error file=…,line=…::msg`).
pub fn github(diags: &Diagnostics, sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in diags.iter() {
        out.push_str(&github_one(d, sources));
    }
    out
}

/// One diagnostic as one workflow command line (newline included). User
/// text is made safe for the log (terminal escapes shown visibly, since
/// GitHub's log viewer obeys ANSI sequences), then escaped by GitHub's own
/// rules: `%`, CR and LF in the message; also `:` and `,` in properties.
pub fn github_one(d: &Diagnostic, sources: &SourceMap) -> String {
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "notice",
    };
    let mut props = Vec::new();
    match d.primary {
        Some(sp) => {
            let (l, c) = sources.start_line_col(sp);
            let (el, ec) = sources.end_line_col(sp);
            props.push(format!("file={}", gh_prop(sources.name(sp.file))));
            props.push(format!("line={l}"));
            props.push(format!("col={c}"));
            props.push(format!("endLine={el}"));
            if el == l {
                props.push(format!("endColumn={ec}"));
            }
        }
        None => props.push(format!("file={}", gh_prop(d.path.as_deref().unwrap_or("")))),
    }
    props.push(format!(
        "title={}",
        gh_prop(&format!("{} {}", d.code.id, d.code.kind.as_str()))
    ));
    let mut msg = terminal::escape(&d.message).into_owned();
    if let Some(w) = &d.witness {
        msg.push_str(&format!(
            "\nwitness: {}",
            terminal::escape(&witness_text(w))
        ));
    }
    if let Some(h) = &d.help {
        msg.push_str(&format!("\nhelp: {}", terminal::escape(h)));
    }
    format!("::{level} {}::{}\n", props.join(","), gh_data(&msg))
}

/// A workflow command that says how many diagnostics about `file` were not
/// shown.
pub fn github_omitted(file: &str, count: usize) -> String {
    format!(
        "::notice file={}::{}\n",
        gh_prop(file),
        gh_data(&omitted_text(file, count))
    )
}

/// `N more diagnostics in FILE not shown`, the file name made safe for a terminal.
pub fn omitted_text(file: &str, count: usize) -> String {
    format!(
        "{count} more {} in {} not shown",
        plural(count, "diagnostic"),
        terminal::escape(file)
    )
}

/// GitHub's `escapeData`: `%`, CR and LF.
pub fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub's `escapeProperty`: `escapeData`, `:` and `,`; the value is also
/// made safe for a terminal first.
pub fn gh_prop(s: &str) -> String {
    gh_data(&terminal::escape(s))
        .replace(':', "%3A")
        .replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{codes, Diagnostic};

    #[test]
    fn github_commands_escape_data_and_properties() {
        let mut sm = SourceMap::new();
        let id = sm.add("a,b:c%d\ne.pol", "x\n", false);
        let d = Diagnostic::new(
            codes::ALL[0],
            Span::new(id, 0, 1),
            "bad `50%\r\n::error::forged` \u{1b}[31m",
        )
        .with_help("one: two, three");
        let line = github_one(&d, &sm);
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        assert!(!line.contains('\r') && !line.contains('\u{1b}'), "{line}");
        assert!(
            line.starts_with("::error file=a%2Cb%3Ac%25d\\ne.pol,line=1,"),
            "{line}"
        );
        assert!(
            line.ends_with(
                "::bad `50%25\\r\\n::error::forged` \\x1b[31m%0Ahelp: one: two, three\n"
            ),
            "{line}"
        );
    }
}
