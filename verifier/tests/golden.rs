//! Golden fixtures (tests/fixtures/verifier/*.pol): each file's header
//! lists `# EXPECT: KIND LINE` for every finding it must produce (and no
//! other); the whole `--format json` report is compared with
//! `NAME.expected.json` beside it (`POL_BLESS=1` rewrites those). Every
//! witness is re-checked with the reference evaluator. The SARIF report of
//! the examples and fixtures validates against the SARIF 2.1.0 schema
//! (vendored in tests/data).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use pol_lang::diag::{render, Diagnostics};
use pol_lang::ir::Program;
use pol_lang::span::SourceMap;
use pol_verifier::{verify, Options};
use std::path::{Path, PathBuf};
use support::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn fixtures() -> Vec<PathBuf> {
    let dir = root().join("tests/fixtures/verifier");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pol"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no fixtures in {}", dir.display());
    v
}

/// Compile a file (named by its file name in reports) and verify it.
/// Each fixture is verified on a fresh thread: the z3 crate keeps one
/// context per thread, and solver state left by earlier fixtures would
/// otherwise steer which (equally valid) witness the model shows. A fresh
/// thread sees exactly what one run of `polc check` sees.
fn check(path: &Path) -> (Program, SourceMap, Diagnostics) {
    let path = path.to_path_buf();
    std::thread::spawn(move || check_here(&path))
        .join()
        .unwrap()
}

fn check_here(path: &Path) -> (Program, SourceMap, Diagnostics) {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let c = pol_lang::compile_source(&name, &text);
    let program = c
        .program
        .unwrap_or_else(|| panic!("{name} does not compile: {:#?}", c.diagnostics));
    let mut diags = c.diagnostics.clone();
    diags.extend(verify(&program, &c.sources, &Options::default()));
    diags.sort_dedup();
    (program, c.sources, diags)
}

fn recheck_witnesses(program: &Program, diags: &Diagnostics, name: &str) {
    for d in diags.iter() {
        let Some(w) = &d.witness else { continue };
        let policy = program
            .policy_by_name(d.policy.as_deref().unwrap())
            .unwrap();
        let p = packet_of_witness(w);
        let (_, v) = ref_evaluate(program, policy, &p);
        assert_eq!(
            w.verdict,
            v.as_str(),
            "{name}: witness of {} gets another verdict",
            d.message
        );
    }
}

#[test]
fn golden_fixtures() {
    let bless = std::env::var_os("POL_BLESS").is_some();
    for path in fixtures() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let (program, sources, diags) = check(&path);
        let json = render::json(&diags, &sources);
        // Kinds and lines, as the header says.
        let mut want: Vec<(String, u64)> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# EXPECT: "))
            .map(|l| {
                let (k, n) = l.trim().split_once(' ').unwrap();
                (k.to_string(), n.parse().unwrap())
            })
            .collect();
        let mut got: Vec<(String, u64)> = json["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["kind"].as_str().unwrap().to_string(),
                    d["line"].as_u64().unwrap(),
                )
            })
            .collect();
        want.sort();
        got.sort();
        assert_eq!(
            got,
            want,
            "{name}: findings differ from its EXPECT lines\n{}",
            render::human(&diags, &sources, false)
        );
        recheck_witnesses(&program, &diags, &name);
        // The whole report.
        let expected_path = path.with_extension("expected.json");
        let pretty = format!("{}\n", serde_json::to_string_pretty(&json).unwrap());
        match std::fs::read_to_string(&expected_path) {
            Ok(old) if old == pretty => {}
            Ok(_) if !bless => panic!(
                "{name}: report differs from {} (POL_BLESS=1 to accept):\n{pretty}",
                expected_path.display()
            ),
            _ => std::fs::write(&expected_path, &pretty).unwrap(),
        }
    }
}

#[test]
fn sarif_validates_against_the_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("data/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut files = vec![root().join("examples/workstation.pol")];
    files.extend(fixtures());
    let mut results = 0;
    for path in files {
        let (_, sources, diags) = check(&path);
        let sarif = render::sarif(&diags, &sources);
        let errors: Vec<String> = validator
            .iter_errors(&sarif)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{}: SARIF invalid:\n{}",
            path.display(),
            errors.join("\n")
        );
        // Rule ids are the diagnostic codes.
        for r in sarif["runs"][0]["results"].as_array().unwrap() {
            let id = r["ruleId"].as_str().unwrap();
            assert!(
                pol_lang::diag::codes::by_id(id).is_some(),
                "unknown rule id {id}"
            );
            results += 1;
        }
    }
    assert!(
        results > 0,
        "the fixtures produced no SARIF results to validate"
    );
}
