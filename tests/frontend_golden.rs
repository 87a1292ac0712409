//! Golden tests of the front end's diagnostics: every `.pol` file in
//! `tests/fixtures/frontend/` and `tests/fixtures/matcher/` is checked with `polc check`, and
//! - its `# expect: CODE` header must name a code the JSON report contains,
//! - `polc check` must exit 1 (0 for a fixture whose only finding is a warning),
//! - the human and the JSON output are snapshots (`tests/snapshots/`).
//!
//! Every front-end diagnostic code in the registry has a fixture here
//! (checked by `every_frontend_code_has_a_fixture`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use support::{expected_codes, polc};

fn check_fixture(path: &Path) {
    check_fixture_with(path, &[]);
}

/// Hostile matcher modules run with limits lowered so the suite stays
/// quick; the root is the repository so fixtures can call the examples'
/// matchers.
const MATCHER_ARGS: &[&str] = &[
    "--root",
    "../../..",
    "--matcher-timeout-ms",
    "2000",
    "--matcher-memory",
    "33554432",
];

fn check_fixture_with(path: &Path, extra: &[&str]) {
    let dir = path.parent().unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let expected = expected_codes(&text);
    assert!(!expected.is_empty(), "{name}: no `# expect: CODE` header");

    // A fixture may ask for flags of its own: `# args: --cell-budget 0`.
    let own = text
        .lines()
        .filter_map(|l| l.strip_prefix("# args:"))
        .flat_map(str::split_whitespace);
    let extra: Vec<&str> = extra.iter().copied().chain(own).collect();
    let json_args: Vec<&str> = ["check", "--format", "json"]
        .into_iter()
        .chain(extra.iter().copied())
        .chain([name])
        .collect();
    let json_out = polc(dir, &json_args);
    let report: serde_json::Value = serde_json::from_str(&json_out.stdout)
        .unwrap_or_else(|e| panic!("{name}: bad JSON ({e}):\n{}", json_out.stdout));
    let codes: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    for code in &expected {
        assert!(
            codes.contains(&code.as_str()),
            "{name}: expected {code}, got {codes:?}\n{}",
            json_out.stdout
        );
    }
    let errors = report["summary"]["errors"].as_u64().unwrap();
    let want_status = if errors > 0 { 1 } else { 0 };
    assert_eq!(json_out.status, want_status, "{name}: exit status");
    for d in report["diagnostics"].as_array().unwrap() {
        assert!(
            d["line"].as_u64().unwrap_or(0) >= 1,
            "{name}: diagnostic without a line: {d}"
        );
    }

    let human_args: Vec<&str> = ["check"]
        .into_iter()
        .chain(extra.iter().copied())
        .chain([name])
        .collect();
    let human = polc(dir, &human_args);
    assert_eq!(human.status, want_status, "{name}: exit status (human)");
    insta::with_settings!({ snapshot_suffix => name.trim_end_matches(".pol"), prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("human", human.stdout);
        insta::assert_snapshot!("json", json_out.stdout);
    });
}

#[test]
fn frontend_fixtures() {
    insta::glob!("fixtures/frontend/*.pol", check_fixture);
}

#[test]
fn matcher_fixtures() {
    insta::glob!("fixtures/matcher/*.pol", |path| check_fixture_with(
        path,
        MATCHER_ARGS
    ));
}

#[test]
fn solver_limit_fixtures() {
    // Each fixture's `# args:` sets the solver's limits.
    insta::glob!("fixtures/solver/*.pol", check_fixture);
}

#[test]
fn every_frontend_code_has_a_fixture() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut all_text = String::new();
    for entry in walk(&dir) {
        // Verifier fixtures keep their expected report beside them.
        if entry.extension().is_some_and(|e| e == "pol" || e == "json") {
            all_text.push_str(&std::fs::read_to_string(&entry).unwrap());
        }
    }
    let mut missing = Vec::new();
    for c in pol_lang::diag::codes::ALL {
        // P0902-P0905 (input that cannot be read) have no source file, and
        // P0107 (a file over 16 MiB) and P0108 (over 10,000 imports) would
        // need huge fixtures: tested in cli.rs and cli_inputs.rs.
        if ["P0902", "P0903", "P0904", "P0905", "P0107", "P0108"].contains(&c.id) {
            continue;
        }
        let in_report = all_text.contains(&format!("\"code\": \"{}\"", c.id));
        if !all_text.contains(&format!("# expect: {}", c.id)) && !in_report {
            missing.push(c.id);
        }
    }
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
