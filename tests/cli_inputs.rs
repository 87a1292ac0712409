//! Reading input files, end to end (issue #10): what a policy repository
//! can put where polc reads — symbolic links out of a checked directory,
//! FIFOs, huge files, file names with control characters, import cycles
//! and import floods — ends in a diagnostic and the right exit status,
//! never a leak, a hang or a panic. Also: numeric options that overflow,
//! and unreadable input exiting 2 in every command.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::Output;

/// `polc ARGS` in `dir`, killed (and the test failed) after `limit`: for
/// inputs that used to hang.
fn polc_within(dir: &Path, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_polc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run polc");
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("polc {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Output {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const QUICK: Duration = Duration::from_secs(60);

fn codes(json: &str) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{json}"));
    v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success());
}

const CLEAN: &str = "network n = 192.0.2.0/24\n";

#[test]
fn a_symlink_out_of_a_checked_directory_is_refused_not_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(&repo).unwrap();
    // A secret outside the repository, shaped to be echoed as a bad line.
    std::fs::write(outside.join("secret"), "CI_TOKEN=hunter2-secret\n").unwrap();
    std::fs::write(repo.join("ok.pol"), CLEAN).unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), repo.join("leak.pol")).unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", repo.join("env.pol")).unwrap();
    // A link that stays inside is fine.
    std::os::unix::fs::symlink("ok.pol", repo.join("same.pol")).unwrap();

    let human = polc_within(tmp.path(), &["check", "repo"], QUICK);
    assert!(
        !human.stdout.contains("hunter2") && !human.stderr.contains("hunter2"),
        "{}{}",
        human.stdout,
        human.stderr
    );
    assert!(!human.stdout.contains("PATH="), "{}", human.stdout);
    assert_eq!(human.status, 2, "{}", human.stdout);
    assert!(
        human.stdout.contains("repo/leak.pol") && human.stdout.contains("leads outside"),
        "{}",
        human.stdout
    );
    let json = polc_within(tmp.path(), &["check", "--format", "json", "repo"], QUICK);
    let mut found = codes(&json.stdout);
    found.sort();
    assert_eq!(found, ["P0903", "P0903"], "{}", json.stdout);
    // Named one by one (`polc check repo/*.pol`): the same confinement.
    for link in ["repo/leak.pol", "repo/env.pol"] {
        let out = polc_within(tmp.path(), &["check", "--format", "json", link], QUICK);
        assert_eq!(out.status, 2, "{link}: {}", out.stdout);
        assert_eq!(codes(&out.stdout), ["P0903"], "{link}: {}", out.stdout);
        assert!(!out.stdout.contains("hunter2") && !out.stdout.contains("PATH="));
    }
    let out = polc_within(tmp.path(), &["check", "repo/same.pol"], QUICK);
    assert_eq!(out.status, 0, "{}", out.stdout);
}

#[test]
fn a_fifo_as_entry_import_or_matcher_is_refused_without_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    mkfifo(&d.join("fifo.pol"));
    mkfifo(&d.join("fifo.wasm"));
    std::fs::write(d.join("imports.pol"), "import \"fifo.pol\"\n").unwrap();
    std::fs::write(
        d.join("matcher.pol"),
        "matcher m = wasm \"fifo.wasm\"\nnetwork n = m(\"DE\", 7)\n",
    )
    .unwrap();

    // As the entry: an input failure.
    let out = polc_within(d, &["check", "--format", "json", "fifo.pol"], QUICK);
    assert_eq!(out.status, 2, "{}", out.stdout);
    assert_eq!(codes(&out.stdout), ["P0904"]);
    let out = polc_within(d, &["check", "fifo.pol"], QUICK);
    assert!(out.stdout.contains("FIFO"), "{}", out.stdout);
    // As an import and as a matcher module: a finding at the path.
    let out = polc_within(d, &["check", "--format", "json", "imports.pol"], QUICK);
    assert_eq!(out.status, 1, "{}", out.stdout);
    assert_eq!(codes(&out.stdout), ["P0106"]);
    let out = polc_within(d, &["check", "--format", "json", "matcher.pol"], QUICK);
    assert_eq!(out.status, 1, "{}", out.stdout);
    assert_eq!(codes(&out.stdout), ["P0106"]);
    // Found in a directory: refused, the rest still checked.
    let out = polc_within(d, &["check", "--format", "json", "."], QUICK);
    assert_eq!(out.status, 2, "{}", out.stdout);
    let mut found = codes(&out.stdout);
    found.sort();
    assert_eq!(found, ["P0106", "P0106", "P0904"], "{}", out.stdout);
    // fmt reads files too.
    let out = polc_within(d, &["fmt", "--check", "fifo.pol"], QUICK);
    assert_eq!(out.status, 2, "{}", out.stderr);
}

#[test]
fn a_huge_file_is_refused_without_reading_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Sparse: 64 GiB claimed, nothing on disk.
    let f = std::fs::File::create(d.join("huge.pol")).unwrap();
    f.set_len(64 << 30).unwrap();
    drop(f);
    std::fs::write(d.join("imports.pol"), "import \"huge.pol\"\n").unwrap();

    let out = polc_within(d, &["check", "--format", "json", "huge.pol"], QUICK);
    assert_eq!(out.status, 2, "{}", out.stdout);
    assert_eq!(codes(&out.stdout), ["P0905"]);
    let out = polc_within(d, &["check", "--format", "json", "imports.pol"], QUICK);
    assert_eq!(out.status, 1, "{}", out.stdout);
    assert_eq!(codes(&out.stdout), ["P0107"]);
    let out = polc_within(d, &["check", "imports.pol"], QUICK);
    assert!(out.stdout.contains("larger than 16MiB"), "{}", out.stdout);
}

#[test]
fn control_characters_in_file_names_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let evil = "x\nflush ruleset\n#.pol";
    std::fs::write(repo.join(evil), CLEAN).unwrap();
    std::fs::write(repo.join("ok.pol"), CLEAN).unwrap();

    let out = polc_within(tmp.path(), &["check", "repo"], QUICK);
    assert_eq!(out.status, 2, "{}", out.stdout);
    assert!(
        out.stdout.contains(r"repo/x\nflush ruleset\n#.pol"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.lines().any(|l| l.starts_with("flush ruleset")),
        "{}",
        out.stdout
    );
    // Named directly, to any command that reads it.
    let named = format!("repo/{evil}");
    let o = tmp.path().join("out");
    let o = o.to_str().unwrap();
    for args in [
        vec!["check", named.as_str()],
        vec!["build", named.as_str(), "-o", o],
        vec!["test", named.as_str()],
    ] {
        let out = polc_within(tmp.path(), &args, QUICK);
        assert_eq!(out.status, 2, "{args:?}: {}{}", out.stdout, out.stderr);
    }
    assert!(!tmp.path().join("out").exists());
    // U+2028 and U+0085 too.
    for name in ["a\u{2028}b.pol", "a\u{85}b.pol"] {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(name), CLEAN).unwrap();
        let out = polc_within(d.path(), &["check", name], QUICK);
        assert_eq!(out.status, 2, "{name:?}: {}", out.stdout);
    }
}

#[test]
fn an_import_cycle_in_a_checked_directory_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("a.pol"), "import \"b.pol\"\n").unwrap();
    std::fs::write(d.join("b.pol"), "import \"c.pol\"\n").unwrap();
    std::fs::write(d.join("c.pol"), "import \"a.pol\"\n").unwrap();
    let out = polc_within(d, &["check", "--format", "json", "."], QUICK);
    assert_eq!(out.status, 1, "{}", out.stdout);
    assert_eq!(codes(&out.stdout), ["P0104"], "{}", out.stdout);
    // Spelled from the lexicographically first file, whichever entry
    // reached it, at the import that closes it (in c.pol).
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["diagnostics"][0]["file"], "c.pol", "{}", out.stdout);
    let human = polc_within(d, &["check", "."], QUICK);
    assert_eq!(
        human.stdout.matches("import cycle").count(),
        1,
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("a.pol → b.pol → c.pol → a.pol"),
        "{}",
        human.stdout
    );
}

#[test]
fn a_directory_of_clean_and_broken_entries_still_checks_the_clean_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("a.pol"), "import \"lib.pol\"\n").unwrap();
    std::fs::write(
        d.join("lib.pol"),
        "network n = 192.0.2.0/24\nnetwork n = ::/0\n",
    )
    .unwrap();
    std::fs::write(d.join("z.pol"), "network m = nosuch\n").unwrap();
    let out = polc_within(d, &["check", "--format", "json", "."], QUICK);
    assert_eq!(out.status, 1, "{}", out.stdout);
    let mut found = codes(&out.stdout);
    found.sort();
    // The duplicate in lib.pol once (found through a.pol and lib.pol), and
    // z.pol's unknown name: resolution still runs for each entry.
    assert_eq!(found, ["P0110", "P0120"], "{}", out.stdout);
}

#[test]
fn too_many_imported_files_is_one_diagnostic() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let n = 10_001;
    let mut hub = String::new();
    for i in 0..n {
        std::fs::write(d.join(format!("f{i:05}.pol")), "").unwrap();
        hub.push_str(&format!("import \"f{i:05}.pol\"\n"));
    }
    std::fs::write(d.join("hub.pol"), hub).unwrap();
    let out = polc_within(
        d,
        &["check", "--no-verify", "--format", "json", "hub.pol"],
        Duration::from_secs(300),
    );
    assert_eq!(out.status, 1, "{}", out.stdout);
    assert_eq!(codes(&out.stdout), ["P0108"], "{}", out.stdout);
}

#[test]
fn numeric_options_that_overflow_are_usage_errors_not_panics() {
    let ex = support::repo().join("examples");
    let max = u64::MAX.to_string();
    for flag in ["--verify-deadline-s", "--solver-timeout-ms"] {
        let out = polc_within(&ex, &["check", flag, &max, "server.pol"], QUICK);
        assert_eq!(out.status, 2, "{flag}: {}{}", out.stderr, out.stdout);
        assert!(!out.stderr.contains("panicked"), "{flag}: {}", out.stderr);
        assert!(out.stderr.contains(flag), "{flag}: {}", out.stderr);
    }
    // Limits that only lower a ceiling or bound a count: any value works.
    for flag in [
        "--matcher-fuel",
        "--matcher-memory",
        "--matcher-timeout-ms",
        "--cell-budget",
        "--listing-budget",
        "--solver-rlimit",
    ] {
        let v = if flag == "--solver-rlimit" {
            u32::MAX.to_string()
        } else {
            max.clone()
        };
        let file = if flag.starts_with("--matcher") {
            "matchers.pol"
        } else {
            "server.pol"
        };
        let out = polc_within(&ex, &["check", flag, &v, file], QUICK);
        assert!(!out.stderr.contains("panicked"), "{flag}: {}", out.stderr);
        assert_eq!(out.status, 0, "{flag}: {}{}", out.stderr, out.stdout);
    }
    let out = polc_within(
        &ex,
        &["diff", "--max-regions", &max, "server.pol", "server.pol"],
        QUICK,
    );
    assert_eq!(out.status, 0, "{}{}", out.stderr, out.stdout);
}

#[test]
fn unreadable_input_exits_2_in_every_command_and_findings_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("bad.pol"), "network n = nosuch\n").unwrap();
    mkfifo(&d.join("fifo.pol"));
    let o = d.join("out");
    let o = o.to_str().unwrap();
    for file in ["missing.pol", "fifo.pol", "bad.pol"] {
        let want = if file == "bad.pol" { 1 } else { 2 };
        for args in [
            vec!["check", file],
            vec!["build", file, "-o", o],
            vec!["test", file],
            vec!["explain", file, "to", "192.0.2.1"],
            vec!["exec", file, "g", "--", "true"],
        ] {
            let out = polc_within(d, &args, QUICK);
            let want = if args[0] == "exec" && file == "bad.pol" {
                1
            } else {
                want
            };
            assert_eq!(out.status, want, "{args:?}: {}{}", out.stdout, out.stderr);
        }
    }
    assert!(!d.join("out").exists());
}
