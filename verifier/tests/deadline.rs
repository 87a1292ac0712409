//! The verification's wall-clock budget (`Options::deadline_s`): once it is
//! spent, every question still open is `unknown` — never a pass, never a
//! finding the verifier did not prove — and the answers the cheap exact
//! paths give (empty rules, probes) are still right.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pol_verifier::Options;
use std::path::Path;

fn codes(rel: &str, opts: &Options) -> Vec<(String, usize)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let c = pol_lang::compile(&root.join(rel), &pol_lang::CompileOptions::default());
    let program = c.program.as_ref().expect("compiles");
    pol_verifier::verify(program, &c.sources, opts)
        .iter()
        .map(|d| {
            let line = d
                .primary
                .map(|s| c.sources.start_line_col(s).0)
                .unwrap_or(0);
            (d.code.id.to_string(), line)
        })
        .collect()
}

#[test]
fn a_spent_deadline_turns_open_questions_into_unknown() {
    let rel = "tests/fixtures/verifier/union-shadow.pol";
    let full = codes(rel, &Options::default());
    assert!(full.contains(&("P0301".into(), 17)), "{full:?}");
    let spent = codes(
        rel,
        &Options {
            deadline_s: Some(0),
            ..Options::default()
        },
    );
    // The union-shadowed rule needs the walk (or the solver): unknown now.
    assert!(spent.contains(&("P0901".into(), 17)), "{spent:?}");
    // Nothing is claimed that the full run does not claim.
    for (code, line) in &spent {
        assert!(
            code == "P0901" || full.contains(&(code.clone(), *line)),
            "{code} at line {line} only with a spent deadline: {spent:?}"
        );
    }
    eprintln!(
        "deadline: full run {} findings, spent deadline {} ({} unknown)",
        full.len(),
        spent.len(),
        spent.iter().filter(|(c, _)| c == "P0901").count()
    );
}
