//! Round trip: for every example and every fixture that parses, formatting
//! it and compiling the result gives the same IR as compiling the original
//! (or, for fixtures with resolution errors, the same diagnostic codes);
//! and formatting is idempotent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use pol_lang::span::SourceMap;
use std::path::{Path, PathBuf};

fn pol_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            pol_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "pol") {
            out.push(p);
        }
    }
}

/// The IR without source positions: `Debug` with every `Span { … }`
/// and file id removed.
fn ir_text(program: &pol_lang::ir::Program) -> String {
    let mut s = format!("{program:#?}");
    for marker in ["Span {", "FileId("] {
        while let Some(start) = s.find(marker) {
            let close = if marker == "Span {" { '}' } else { ')' };
            let end = s[start..]
                .find(close)
                .map(|e| start + e + 1)
                .unwrap_or(s.len());
            s.replace_range(start..end, "_");
        }
    }
    s
}

fn codes(c: &pol_lang::Compilation) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = c.diagnostics.iter().map(|d| d.code.id).collect();
    v.sort();
    v
}

#[test]
fn format_then_compile_gives_the_same_ir() {
    let mut files = Vec::new();
    pol_files(&support::repo().join("examples"), &mut files);
    pol_files(&support::repo().join("tests/fixtures"), &mut files);
    let mut compared = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut sources = SourceMap::new();
        let id = sources.add("x.pol", text.clone(), false);
        let (ast, errs) = pol_lang::parse::parse_file(id, &text);
        if !errs.is_empty() {
            continue; // syntax-error fixtures cannot be formatted
        }
        let formatted = pol_lang::fmt::format_file(&ast, &text);
        let mut s2 = SourceMap::new();
        let id2 = s2.add("x.pol", formatted.clone(), false);
        let (ast2, errs2) = pol_lang::parse::parse_file(id2, &formatted);
        assert!(
            errs2.is_empty(),
            "{}: formatted text does not parse:\n{formatted}",
            path.display()
        );
        assert_eq!(
            pol_lang::fmt::format_file(&ast2, &formatted),
            formatted,
            "{}: fmt is not idempotent",
            path.display()
        );

        // Compile the formatted copy beside the original, so relative
        // imports and matcher paths resolve the same way.
        let copy = path.with_file_name(format!(
            ".roundtrip-{}",
            path.file_name().unwrap().to_str().unwrap()
        ));
        std::fs::write(&copy, &formatted).unwrap();
        let opts = pol_lang::CompileOptions::default();
        let a = pol_lang::compile(&path, &opts);
        let b = pol_lang::compile(&copy, &opts);
        std::fs::remove_file(&copy).unwrap();
        match (&a.program, &b.program) {
            (Some(pa), Some(pb)) => assert_eq!(
                ir_text(pa),
                ir_text(pb),
                "{}: IR differs after fmt",
                path.display()
            ),
            (None, None) => assert_eq!(
                codes(&a),
                codes(&b),
                "{}: diagnostics differ after fmt",
                path.display()
            ),
            _ => panic!("{}: one side compiles, the other does not", path.display()),
        }
        compared += 1;
    }
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "round-tripped {compared} files (parse -> fmt -> compile, same IR)"
    );
    assert!(compared >= 40, "only {compared} files round-tripped");
}
