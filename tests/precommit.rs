//! The pre-commit hooks (`.pre-commit-hooks.yaml`, issue 15) in a real
//! pre-commit: `tests/precommit/run.sh` installs pre-commit from PyPI into a
//! venv under /var/cache/polc-precommit (once per machine; ~/.cache when
//! /var/cache is not writable; apt-get installs python3-venv when `python3
//! -m venv` fails), makes a scratch git repository of policies whose
//! `.pre-commit-config.yaml` points at a one-commit copy of this work tree's
//! hooks, and runs `polc-check` and `polc-fmt` with this build's polc on
//! PATH: failing on a shadowed rule and an unformatted file, passing once
//! both are fixed, skipped when no .pol file is given, and from `git commit`
//! after `pre-commit install`. Needs git, python3 and, the first time,
//! network access to PyPI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;
use support::{has_line, run_ok};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/precommit/run.sh");

/// What step `name` printed: the lines after its `== NAME ...` header, up to
/// the next `== ` line.
fn step<'a>(stdout: &'a str, name: &str) -> &'a str {
    let start = stdout
        .find(&format!("== {name} "))
        .unwrap_or_else(|| panic!("no step `{name}` in:\n{stdout}"));
    let body = &stdout[start..];
    let body = &body[body.find('\n').map_or(body.len(), |i| i + 1)..];
    &body[..body.find("\n== ").unwrap_or(body.len())]
}

#[test]
fn precommit_hooks_fail_on_findings_and_pass_when_fixed() {
    let stdout = run_ok(
        Command::new("bash")
            .arg(SCRIPT)
            .env("POLC", env!("CARGO_BIN_EXE_polc"))
            .current_dir(env!("CARGO_MANIFEST_DIR")),
        "tests/precommit/run.sh",
    );
    eprintln!("{stdout}");
    assert!(has_line(&stdout, "validate-manifest: ok"), "{stdout}");
    assert!(has_line(&stdout, "validate-config: ok"), "{stdout}");
    assert!(
        has_line(&stdout, "validate-config docs/ci.md: ok (2 configurations)"),
        "{stdout}"
    );
    for summary in [
        "run 1 (a shadowed rule, an unformatted file): exit 1; polc check: Failed; polc fmt: Failed",
        "run 2 (fixed): exit 0; polc check: Passed; polc fmt: Passed",
        "run 3 (no .pol file): exit 0; polc check: Skipped; polc fmt: Skipped",
        "commit 0 (the fixed files): exit 0; polc check: Passed; polc fmt: Passed",
        "commit 1 (an unformatted file): exit 1; polc check: Passed; polc fmt: Failed",
        "commit 2 (formatted): exit 0; polc check: Passed; polc fmt: Passed",
    ] {
        assert!(has_line(&stdout, summary), "no line `{summary}` in:\n{stdout}");
    }
    let run1 = step(&stdout, "run 1");
    assert!(has_line(run1, "- hook id: polc-check"), "{run1}");
    assert!(
        run1.contains("error[P0301/shadowed]: rule never matches"),
        "{run1}"
    );
    assert!(
        run1.lines().any(|l| l.ends_with("policy.pol:9:5")),
        "{run1}"
    );
    assert!(has_line(run1, "- hook id: polc-fmt"), "{run1}");
    assert!(has_line(run1, "would reformat lib/office.pol"), "{run1}");
    assert!(!run1.contains("would reformat policy.pol"), "{run1}");
    let run2 = step(&stdout, "run 2");
    assert!(!run2.contains("error["), "{run2}");
    let commit1 = step(&stdout, "commit 1");
    assert!(has_line(commit1, "would reformat lib/lab.pol"), "{commit1}");
    assert!(has_line(&stdout, "all checks passed"), "{stdout}");
}
