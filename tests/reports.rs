//! How reports reach the user (issue #10 items 6, 7, 11, 14): the exit
//! status survives a reader that closes the pipe, a file full of errors
//! gives a bounded report, user text reaches the terminal escaped, SARIF
//! URIs are percent-encoded, and `fmt --help` says what fmt does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use support::{polc, repo};

/// `n` files, each with `per_file` syntax errors (one invalid character a line).
fn bad_repo(n: usize, per_file: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..n {
        let text = "network n = 10.0.0.0/8 @ 10.1.0.0/16\n".repeat(per_file);
        std::fs::write(dir.path().join(format!("bad{i:03}.pol")), text).unwrap();
    }
    dir
}

/// Item 6: `polc check bad.pol | head -1` under `pipefail` must fail. The
/// reader takes a few bytes and closes the pipe while polc still has
/// hundreds of kilobytes to write (more than a pipe buffer holds).
#[test]
fn a_closed_pipe_keeps_the_status_of_the_findings() {
    let dir = bad_repo(40, 100);
    for format in ["human", "json", "github", "sarif"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_polc"))
            .args(["check", "--no-verify", "--format", format, "."])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 16];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{format}: errors found, reader gone: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{format}: a closed pipe is not an error: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A clean run stays clean with the reader gone.
    let mut child = Command::new(env!("CARGO_BIN_EXE_polc"))
        .args(["check", "--no-verify", "workstation.pol"])
        .current_dir(repo().join("examples"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// Item 7: a 100 KB one-line file of 25,000 errors. Before, every error
/// reprinted the whole line (2.5 GB of output); now each excerpt is a
/// window of the line and the human report stops after 100 per file. The
/// counts stay exact.
#[test]
fn a_long_line_full_of_errors_gives_a_bounded_report() {
    let dir = tempfile::tempdir().unwrap();
    let n = 25_000;
    std::fs::write(dir.path().join("long.pol"), "@ ".repeat(n * 2)).unwrap();
    let start = std::time::Instant::now();
    let out = polc(dir.path(), &["check", "--no-verify", "long.pol"]);
    assert_eq!(out.status, 1);
    assert!(
        out.stdout.len() < 200_000,
        "{} bytes of output",
        out.stdout.len()
    );
    assert_eq!(out.stdout.matches("error[P0003/syntax]").count(), 100);
    let held = n * 2 - 100;
    assert!(
        out.stdout.contains(&format!(
            "note: {held} more diagnostics in long.pol not shown"
        )),
        "{}",
        &out.stdout[out.stdout.len().saturating_sub(500)..]
    );
    assert!(
        out.stdout
            .ends_with(&format!("{} errors, 0 warnings, 0 notes\n", n * 2)),
        "{}",
        &out.stdout[out.stdout.len().saturating_sub(500)..]
    );
    // Each excerpt line is a window with `…` where the line was cut.
    let longest = out.stdout.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(longest < 200, "longest line: {longest} chars");
    assert!(out.stdout.contains("1 │ …@ @ @"), "{}", &out.stdout[..2000]);
    assert!(start.elapsed().as_secs() < 60, "{:?}", start.elapsed());

    // JSON lists every diagnostic, as LANGUAGE.md §10 says.
    let json = polc(
        dir.path(),
        &["check", "--no-verify", "--format", "json", "long.pol"],
    );
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["diagnostics"].as_array().unwrap().len(), n * 2);
    assert_eq!(v["summary"]["errors"], n * 2);
    // The last one points at the right column of the one line.
    let last = &v["diagnostics"][n * 2 - 1];
    assert_eq!(last["line"], 1);
    assert_eq!(last["column"], n * 4 - 1);
}

#[test]
fn the_cap_is_per_file_and_can_be_changed() {
    let dir = bad_repo(3, 30);
    let shown = |args: &[&str]| {
        let mut a = vec!["check", "--no-verify"];
        a.extend_from_slice(args);
        a.push(".");
        let out = polc(dir.path(), &a);
        assert_eq!(out.status, 1);
        if !args.contains(&"github") {
            assert!(out.stdout.ends_with("90 errors, 0 warnings, 0 notes\n"));
        }
        out
    };
    let out = shown(&["--max-diagnostics", "5"]);
    assert_eq!(out.stdout.matches("error[P0003").count(), 15);
    for f in ["bad000.pol", "bad001.pol", "bad002.pol"] {
        assert!(
            out.stdout
                .contains(&format!("note: 25 more diagnostics in {f} not shown")),
            "{}",
            out.stdout
        );
    }
    let out = shown(&["--max-diagnostics", "0"]);
    assert_eq!(out.stdout.matches("error[P0003").count(), 90);
    assert!(!out.stdout.contains("more diagnostics"));
    let out = shown(&[]);
    assert_eq!(out.stdout.matches("error[P0003").count(), 90);
    let out = shown(&["--max-diagnostics", "2", "--format", "github"]);
    assert_eq!(out.stdout.matches("::error ").count(), 6);
    assert!(
        out.stdout
            .contains("::notice file=bad001.pol::28 more diagnostics in bad001.pol not shown\n"),
        "{}",
        out.stdout
    );
}

/// Item 11: terminal controls from a source reach the terminal visibly
/// escaped — in the excerpt, in messages that quote user text, and in file
/// names — and carets still point at the right character.
#[test]
fn terminal_controls_from_sources_are_shown_escaped() {
    let dir = tempfile::tempdir().unwrap();
    // A file name with controls is refused outright (exit 2), and the
    // refusal shows the name escaped.
    let evil = "evil\u{1b}[2J\u{202e}.pol";
    std::fs::write(dir.path().join(evil), "network n = 10.0.0.0/8\n").unwrap();
    let out = polc(dir.path(), &["check", "--no-verify", evil]);
    assert_eq!(out.status, 2, "{}", out.stdout);
    assert!(
        out.stdout.contains("evil\\u{1b}[2J\\u{202e}.pol") && !out.stdout.contains('\u{1b}'),
        "{}",
        out.stdout
    );
    let name = "evil.pol";
    std::fs::write(
        dir.path().join(name),
        "# \u{1b}]8;;http://evil.example\u{7}click\u{1b}]8;;\u{7}\n\
         network office = 10.0.0.0/8 \u{1b}[31m\r \u{202e} @ # \u{0}\u{9b}\u{2066}\n\
         group g { cgroup \"/x\u{1b}[1;1H\u{202e}\" }\n",
    )
    .unwrap();
    let out = polc(dir.path(), &["check", "--no-verify", name]);
    assert_eq!(out.status, 1, "{}", out.stdout);
    let forbidden = [
        '\u{1b}', '\r', '\0', '\u{9b}', '\u{7}', '\u{202e}', '\u{2066}',
    ];
    for (i, line) in out.stdout.lines().enumerate() {
        assert!(
            !line.contains(&forbidden[..]),
            "line {i} holds a control: {line:?}"
        );
    }
    assert!(
        out.stdout
            .contains("10.0.0.0/8 \\x1b[31m\\r \\u{202e} @ # \\0\\u{9b}\\u{2066}"),
        "{}",
        out.stdout
    );
    // The caret under `@` sits under the `@` of the escaped line, and the
    // column in the header counts the characters of the file.
    let lines: Vec<&str> = out.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("invalid character `@`"))
        .unwrap();
    assert!(
        lines[at + 1].ends_with("evil.pol:2:38"),
        "{}",
        lines[at + 1]
    );
    let src_col = lines[at + 3].chars().position(|c| c == '@').unwrap();
    let caret_col = lines[at + 4].chars().position(|c| c == '^').unwrap();
    assert_eq!(src_col, caret_col, "{}\n{}", lines[at + 3], lines[at + 4]);
    // A message quoting a string from the source.
    std::fs::write(
        dir.path().join("msg.pol"),
        "group g { cgroup \"/x\u{1b}]8;;http://e\u{7}\u{202e}\" }\n",
    )
    .unwrap();
    let out = polc(dir.path(), &["check", "--no-verify", "msg.pol"]);
    assert_eq!(out.status, 1, "{}", out.stdout);
    assert!(!out.stdout.contains(&forbidden[..]), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("1 │ group g { cgroup \"/x\\x1b]8;;http://e\\x07\\u{202e}\" }"),
        "{}",
        out.stdout
    );
}

/// Item 14: SARIF `artifactLocation.uri` is an RFC 3986 reference.
#[test]
fn sarif_uris_are_percent_encoded() {
    let dir = tempfile::tempdir().unwrap();
    let name = "my policy #1 100% é.pol";
    std::fs::write(
        dir.path().join(name),
        "network office = 10.0.0.0/8 @ 10.1.0.0/16\n",
    )
    .unwrap();
    let out = polc(dir.path(), &["check", "--format", "sarif", name]);
    assert_eq!(out.status, 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let uri =
        &v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
    assert_eq!(uri, "my%20policy%20%231%20100%25%20%C3%A9.pol");
    // JSON keeps the file name as it is.
    let out = polc(dir.path(), &["check", "--format", "json", name]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["diagnostics"][0]["file"], name);
}

/// Item 14: `polc fmt` rewrites files in place, and its help says so.
#[test]
fn fmt_help_says_it_rewrites_in_place() {
    let out = polc(repo(), &["--help"]);
    let line = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("fmt"))
        .unwrap();
    assert!(line.contains("Rewrite files in place"), "{line}");
    assert!(!line.contains("Print"), "{line}");
    let out = polc(repo(), &["fmt", "--help"]);
    assert!(
        out.stdout.starts_with("Rewrite files in place"),
        "{}",
        out.stdout
    );
}
