//! The verifier through the real `polc` binary: each golden fixture of
//! `tests/fixtures/verifier/` prints exactly its `.expected.json` report
//! (kinds, lines, witnesses), and `--format sarif` output is valid SARIF
//! 2.1.0 (schema vendored in `verifier/tests/data/`), and every solver
//! query dumped as SMT-LIB gets the same answer from the z3 command line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{polc, repo};

#[test]
fn every_verifier_fixture_prints_its_expected_report() {
    let dir = repo().join("tests/fixtures/verifier");
    let mut checked = 0;
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pol"))
        .collect();
    names.sort();
    for name in names {
        let expected_path = dir.join(name.replace(".pol", ".expected.json"));
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
        let out = polc(&dir, &["check", "--format", "json", &name]);
        let got: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", out.stdout));
        assert_eq!(
            got,
            expected,
            "{name}: report differs from {}",
            expected_path.display()
        );
        let errors = got["summary"]["errors"].as_u64().unwrap();
        assert_eq!(
            out.status,
            if errors > 0 { 1 } else { 0 },
            "{name}: exit status"
        );
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} verifier fixtures");
}

fn sarif_validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("verifier/tests/data/sarif-schema-2.1.0.json"))
            .unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0() {
    let validator = sarif_validator();
    let cases: &[(&str, &[&str])] = &[
        (
            "examples",
            &["check", "--format", "sarif", "workstation.pol"],
        ),
        (
            "tests/fixtures/verifier",
            &["check", "--format", "sarif", "."],
        ),
        (
            "tests/fixtures/frontend",
            &["check", "--format", "sarif", "."],
        ),
    ];
    for (dir, args) in cases {
        let out = polc(&repo().join(dir), args);
        let v: serde_json::Value =
            serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{dir}: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&v)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{dir}: SARIF invalid:\n{}",
            errors.join("\n")
        );
        assert_eq!(v["version"], "2.1.0");
        for r in v["runs"][0]["results"].as_array().unwrap() {
            let id = r["ruleId"].as_str().unwrap();
            assert!(
                pol_lang::diag::codes::by_id(id).is_some(),
                "ruleId {id} is not a diagnostic code"
            );
        }
    }
}

#[test]
fn diff_between_two_versions_of_an_example_shows_witnesses() {
    let out = polc(
        repo(),
        &[
            "diff",
            "examples/workstation.pol",
            "tests/fixtures/verifier/diff/workstation-v2.pol",
        ],
    );
    assert_eq!(
        out.status, 1,
        "a change exits 1:\n{}{}",
        out.stdout, out.stderr
    );
    assert!(
        out.stdout.contains("for example:") && out.stdout.contains(" gets "),
        "each region shows a witness packet:\n{}",
        out.stdout
    );
    let same = polc(
        repo(),
        &[
            "diff",
            "examples/workstation.pol",
            "examples/workstation.pol",
        ],
    );
    assert_eq!(same.status, 0, "no change exits 0:\n{}", same.stdout);
}

/// A diff the solver could not decide is not "no change": with a resource
/// limit too small for any query, the change between the two versions is
/// not found, and the report says `undecided` and exits 1 — never the
/// exit 0 of a proved "no difference".
#[test]
fn an_undecided_diff_is_not_a_pass() {
    let out = polc(
        repo(),
        &[
            "diff",
            "examples/workstation.pol",
            "tests/fixtures/verifier/diff/workstation-v2.pol",
            "--solver-rlimit",
            "1",
        ],
    );
    assert!(
        out.stdout
            .contains("incomplete: policy `egress`: solver gave up")
            && out.stdout.contains("undecided:")
            && !out.stdout.contains("no packet changes its verdict"),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.status, 1,
        "an undecided diff exits 1:\n{}{}",
        out.stdout, out.stderr
    );
}

/// A blocklist of 150,000 addresses that lost one: the plain encoding left
/// the solver without an answer (`undecided`); over address classes the
/// diff finds the one region, with the removed address as its witness,
/// and `explain` of that address names the rule.
#[test]
fn a_large_blocklist_that_lost_one_address_is_decided() {
    let dir = tempfile::tempdir().expect("temp dir");
    let addrs: Vec<String> = (0..150_000u32)
        .map(|i| {
            let a = 0x0b00_0000 + i * 7;
            format!(
                "{}.{}.{}.{}",
                a >> 24,
                (a >> 16) & 255,
                (a >> 8) & 255,
                a & 255
            )
        })
        .collect();
    let gone = addrs[70_000].clone();
    let policy = |list: &[String]| {
        format!(
            "network bad = {{ {} }}\npolicy inbound {{\n    hook input\n    default allow\n    drop from bad\n}}\n",
            list.join(", ")
        )
    };
    let kept: Vec<String> = addrs.iter().filter(|a| **a != gone).cloned().collect();
    std::fs::write(dir.path().join("old.pol"), policy(&addrs)).expect("write");
    std::fs::write(dir.path().join("new.pol"), policy(&kept)).expect("write");
    let out = polc(dir.path(), &["diff", "old.pol", "new.pol"]);
    assert_eq!(out.status, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("policy `inbound`: drop -> allow")
            && out.stdout.contains(&format!("from {gone} "))
            && !out.stdout.contains("incomplete"),
        "{}",
        out.stdout
    );
    // `explain` over the same classes: the address is dropped by the rule.
    let from = format!("from {gone}");
    let out = polc(dir.path(), &["explain", "old.pol", &from, "tcp", "443"]);
    assert!(
        out.status == 0
            && out.stdout.contains("drop by old.pol:5: drop from bad")
            && out.stdout.contains(&format!("from {gone} ")),
        "{}{}",
        out.stdout,
        out.stderr
    );
}

/// The SMT-LIB face of the solver: with the exact cell path off, every
/// query of the fallback fixture is written as a standalone script, and the
/// z3 command line answers each one as polc's Z3 (through the API) did.
/// The smallest script is the golden file.
#[test]
fn smtlib_dumps_are_standalone_and_give_the_same_answers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dump = dir.path().join("smt2");
    let out = polc(
        repo(),
        &[
            "check",
            "--cell-budget",
            "0",
            "--smt2-dir",
            dump.to_str().expect("utf-8 path"),
            "tests/fixtures/solver/solver-fallback.pol",
        ],
    );
    assert_eq!(out.status, 1, "{}{}", out.stdout, out.stderr);
    let mut files: Vec<_> = std::fs::read_dir(&dump)
        .expect("dump directory")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no query was written");
    let mut smallest: Option<(usize, String, String)> = None;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read script");
        let polc_answer = text
            .lines()
            .last()
            .and_then(|l| l.strip_prefix("; polc: "))
            .expect("answer comment")
            .to_string();
        let z3 = std::process::Command::new("z3")
            .arg("-smt2")
            .arg(f)
            .output()
            .expect("run the z3 command line (scripts/setup installs it)");
        let z3_answer = String::from_utf8_lossy(&z3.stdout).trim().to_string();
        assert_eq!(z3_answer, polc_answer, "{}", f.display());
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        if smallest.as_ref().is_none_or(|(n, _, _)| text.len() < *n) {
            smallest = Some((text.len(), name, text));
        }
    }
    eprintln!(
        "smtlib: {} scripts answered alike by polc and the z3 command line",
        files.len()
    );
    let (_, name, text) = smallest.expect("a script");
    insta::assert_snapshot!("smtlib_smallest_query", format!("{name}\n{text}"));
}
