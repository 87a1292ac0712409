//! The command line's contract (LANGUAGE.md §10): exit statuses, several
//! entry files and directories in one report, output formats, and input
//! that cannot be read at all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{polc, repo};

#[test]
fn every_example_checks_clean_and_is_formatted() {
    let ex = repo().join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&ex)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pol"))
        .collect();
    names.sort();
    assert!(names.len() >= 4, "examples: {names:?}");
    for n in &names {
        let out = polc(&ex, &["check", n]);
        assert_eq!(
            out.status, 0,
            "polc check {n}:\n{}{}",
            out.stdout, out.stderr
        );
        let out = polc(&ex, &["fmt", "--check", n]);
        assert_eq!(
            out.status, 0,
            "polc fmt --check {n}:\n{}{}",
            out.stdout, out.stderr
        );
    }
}

#[test]
fn a_missing_file_is_an_io_failure_with_status_2() {
    let out = polc(repo(), &["check", "--format", "json", "no/such/file.pol"]);
    assert_eq!(out.status, 2, "{}", out.stdout);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["diagnostics"][0]["code"], "P0902");
    assert_eq!(v["diagnostics"][0]["file"], "no/such/file.pol");
    insta::assert_snapshot!(
        "missing_file_human",
        polc(repo(), &["check", "no/such/file.pol"]).stdout
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(polc(repo(), &["check"]).status, 2);
    assert_eq!(polc(repo(), &["frobnicate"]).status, 2);
    assert_eq!(
        polc(repo(), &["check", "--format", "xml", "examples/server.pol"]).status,
        2
    );
}

#[test]
fn a_directory_is_one_report_over_its_entry_files() {
    let dir = repo().join("tests/fixtures/frontend");
    let out = polc(&dir, &["check", "--format", "json", "."]);
    assert_eq!(out.status, 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let files: std::collections::BTreeSet<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert!(
        files.len() >= 40,
        "one report should cover every fixture: {files:?}"
    );
    // The import cycle lives in lib/ and is found through its importer once.
    let cycles = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "P0104")
        .count();
    assert_eq!(cycles, 1);
}

#[test]
fn several_files_one_summary() {
    let ex = repo().join("examples");
    let out = polc(
        &ex,
        &["check", "workstation.pol", "server.pol", "tuning.pol"],
    );
    assert_eq!(out.status, 0, "{}", out.stdout);
    assert_eq!(
        out.stdout.lines().filter(|l| l.contains("errors,")).count(),
        1,
        "{}",
        out.stdout
    );
}

#[test]
fn deny_warnings_turns_warnings_into_status_1() {
    let dir = repo().join("tests/fixtures/frontend");
    assert_eq!(
        polc(&dir, &["check", "p0405_sysctl_unchecked.pol"]).status,
        0
    );
    assert_eq!(
        polc(
            &dir,
            &["check", "--deny-warnings", "p0405_sysctl_unchecked.pol"]
        )
        .status,
        1
    );
}

#[test]
fn json_points_at_line_and_column() {
    let dir = repo().join("tests/fixtures/frontend");
    let out = polc(
        &dir,
        &["check", "--format", "json", "p0110_unknown_name.pol"],
    );
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let d = &v["diagnostics"][0];
    assert_eq!(d["kind"], "unresolved");
    assert_eq!(d["severity"], "error");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(6), Some(11))
    );
    assert_eq!(
        (d["end_line"].as_u64(), d["end_column"].as_u64()),
        (Some(6), Some(17))
    );
    assert_eq!(v["summary"]["errors"], 1);
}

#[test]
fn github_annotations_escape_and_locate() {
    let dir = repo().join("tests/fixtures/frontend");
    let out = polc(
        &dir,
        &["check", "--format", "github", "p0130_definition_cycle.pol"],
    );
    assert_eq!(out.status, 1);
    let line = out.stdout.lines().next().unwrap();
    assert!(
        line.starts_with("::error file=p0130_definition_cycle.pol,line=2,col=9,"),
        "{line}"
    );
    assert!(
        !out.stdout.trim_end().contains('\n') || out.stdout.lines().all(|l| l.starts_with("::")),
        "one line per annotation:\n{}",
        out.stdout
    );
}

#[test]
fn front_end_only_mode_skips_the_verifier() {
    let ex = repo().join("examples");
    let out = polc(&ex, &["check", "--no-verify", "workstation.pol"]);
    assert_eq!(out.status, 0);
}

/// A packet description that does not parse is reported against what the
/// user typed (`<packet>`), not against an internal wrapper; a good one is
/// explained.
#[test]
fn explain_reports_packet_errors_against_the_packet_as_typed() {
    let bad = polc(
        repo(),
        &[
            "explain",
            "examples/workstation.pol",
            "browser to 192.0.2.1 tcp",
        ],
    );
    assert_eq!(bad.status, 1, "{}{}", bad.stdout, bad.stderr);
    let text = format!("{}{}", bad.stdout, bad.stderr);
    assert!(text.contains("<packet>"), "{text}");
    assert!(text.contains("browser to 192.0.2.1 tcp"), "{text}");
    assert!(!text.contains("test \"packet\""), "{text}");
    assert!(!text.contains("{ expect"), "{text}");
    let good = polc(
        repo(),
        &[
            "explain",
            "examples/workstation.pol",
            "browser to 192.0.2.1 tcp 443",
        ],
    );
    assert_eq!(good.status, 0, "{}{}", good.stdout, good.stderr);
}
