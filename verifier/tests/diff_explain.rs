//! `diff` and `explain` on real files: every region's witness really gets
//! the old verdict in the old program and the new one in the new program
//! (reference evaluator); every explained case is decided as claimed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use pol_lang::ir::PolicyId;
use pol_verifier::Options;
use std::path::Path;
use support::*;

fn compile(rel: &str) -> pol_lang::Compilation {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let c = pol_lang::compile(&root.join(rel), &pol_lang::CompileOptions::default());
    assert!(c.program.is_some(), "{rel}: {:#?}", c.diagnostics);
    c
}

#[test]
fn diff_regions_have_real_witnesses() {
    let old = compile("examples/workstation.pol");
    let new = compile("tests/fixtures/verifier/diff/workstation-v2.pol");
    let (po, pn) = (old.program.as_ref().unwrap(), new.program.as_ref().unwrap());
    let report = pol_verifier::diff(
        (po, &old.sources),
        (pn, &new.sources),
        &[],
        &Options::default(),
    );
    assert!(
        report.changed() && report.incomplete.is_empty(),
        "{report:#?}"
    );
    let mut pairs = std::collections::HashSet::new();
    for r in &report.regions {
        let p = packet_of_witness(&r.witness);
        let (bo, vo) = ref_evaluate(po, &po.policies[0], &p);
        let (bn, vn) = ref_evaluate(pn, &pn.policies[0], &p);
        assert_eq!(
            (bo, vo.as_str()),
            (r.old.rule, r.old.verdict.as_str()),
            "{r:#?}"
        );
        assert_eq!(
            (bn, vn.as_str()),
            (r.new.rule, r.new.verdict.as_str()),
            "{r:#?}"
        );
        assert_ne!(vo, vn);
        assert!(pairs.insert((bo, bn)), "region listed twice: {r:#?}");
    }
    // The three edits: the whitelist is gone, mail submission rejected, browser to the LAN.
    let news: Vec<&str> = report.regions.iter().map(|r| r.new.text.as_str()).collect();
    assert!(
        news.iter().any(|t| t.contains("browser to lan")),
        "{news:?}"
    );
    assert!(news.iter().any(|t| t.contains("reject mail")), "{news:?}");
    assert!(report
        .regions
        .iter()
        .any(|r| r.old.text.contains("allow netapps")));
    print!("{}", report.human());
    // A version against itself changes nothing.
    let same = pol_verifier::diff(
        (po, &old.sources),
        (po, &old.sources),
        &[],
        &Options::default(),
    );
    assert!(!same.changed(), "{same:#?}");
}

#[test]
fn explain_lists_every_deciding_rule() {
    let (c, m) = pol_lang::compile_with_packet(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .join("examples/workstation.pol"),
        &pol_lang::CompileOptions::default(),
        "browser to lan",
    );
    let program = c.program.as_ref().unwrap();
    let m = m.unwrap().matches;
    let e =
        pol_verifier::explain(program, &c.sources, PolicyId(0), &m, &Options::default()).unwrap();
    assert!(e.complete);
    let policy = &program.policies[0];
    let mut rules = std::collections::HashSet::new();
    for case in &e.cases {
        let p = packet_of_witness(&case.witness);
        assert!(ref_matches(program, &m, &p));
        let (by, v) = ref_evaluate(program, policy, &p);
        assert_eq!((by, v.as_str()), (case.rule, case.verdict.as_str()));
        assert!(rules.insert(by));
    }
    // dns, netapps, devtools-only rules do not apply to the browser; the
    // default drops the rest: three cases.
    assert_eq!(e.cases.len(), 3, "{}", e.human());
    let json = serde_json::to_value(&e).unwrap();
    for k in ["policy", "verdict", "file", "line"] {
        assert!(json.get(k).is_some(), "explain json lacks `{k}`");
    }
}
