//! The editor and CI integration files of issue 15, checked without an
//! editor, GitHub or the network (python3 from scripts/setup):
//!
//! - `tests/grammar/check.py`: editors/vscode's package.json and TextMate
//!   grammar agree; the grammar knows the lexer's keywords; it tokenises
//!   every .pol file of the repository (and the `pol` code blocks of its
//!   Markdown) with no character left unmatched; where fixtures and
//!   generated input are lexically malformed, it finds the bad characters,
//!   unterminated strings and bad escapes exactly where this build's polc
//!   reports P0003, P0004 and P0005; broken grammars and inputs fail its
//!   self-tests; extension.js runs against stand-ins for the VS Code API
//!   when node is installed.
//! - `tests/ci/check.py`: action.yml's structure, its shell steps run with
//!   this build's polc (annotations, SARIF, --deny-warnings, bad inputs),
//!   .pre-commit-hooks.yaml (pre-commit itself: tests/precommit.rs), and
//!   the YAML examples of docs/ci.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;
use support::{has_line, repo, run_ok};

/// Run `python3 SCRIPT --polc POLC` at the repository root; its stdout.
fn check(script: &str) -> String {
    run_ok(
        Command::new("python3")
            .arg(repo().join(script))
            .arg("--polc")
            .arg(env!("CARGO_BIN_EXE_polc"))
            .env("NO_COLOR", "1")
            .current_dir(repo()),
        script,
    )
}

/// Assert that `stdout` has a line `ok   PART...` for each part.
fn assert_parts(stdout: &str, parts: &[&str]) {
    for part in parts {
        let prefix = format!("ok   {part}");
        assert!(
            stdout.lines().any(|l| l.starts_with(&prefix)),
            "no line starting `{prefix}` in:\n{stdout}"
        );
    }
}

#[test]
fn the_textmate_grammar_tokenises_every_pol_file_as_polc_lexes_it() {
    let stdout = check("tests/grammar/check.py");
    eprintln!("{stdout}");
    assert_parts(
        &stdout,
        &[
            "manifest:",
            "grammar:",
            "keywords:",
            "scopes:",
            "self-tests:",
            "corpus:",
            "generated input:",
        ],
    );
    let corpus = stdout
        .lines()
        .find(|l| l.starts_with("ok   corpus:"))
        .unwrap();
    assert!(
        corpus.contains(": 0 with unexpected findings;")
            && corpus.ends_with("all where polc check --no-verify puts them"),
        "{corpus}"
    );
    assert!(has_line(&stdout, "grammar check passed"), "{stdout}");
}

#[test]
fn the_github_action_and_the_precommit_hooks_are_well_formed() {
    let stdout = check("tests/ci/check.py");
    eprintln!("{stdout}");
    assert_parts(
        &stdout,
        &[
            "action.yml:",
            "self-tests:",
            "action.yml steps:",
            ".pre-commit-hooks.yaml:",
            "docs/ci.md:",
        ],
    );
    assert!(has_line(&stdout, "ci files check passed"), "{stdout}");
}
