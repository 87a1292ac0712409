//! Property test: on random small policies, the verifier's classification
//! of every rule (empty-match, shadowed, redundant earlier/later, conflict,
//! generalization) equals the one computed by exhaustive evaluation over a
//! grid of representative packets, and every witness, fed to the reference
//! evaluator, shows what its finding claims.
//!
//! `POL_PROP_SEED=N` reproduces a run; `POL_PROP_CASES=N` changes the count
//! (default 600).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use pol_lang::diag::Diagnostic;
use pol_lang::span::SourceMap;
use pol_verifier::{verify, Options};
use support::*;

fn rule_of(policy: &pol_lang::ir::Policy, sp: pol_lang::span::Span) -> Option<usize> {
    policy.rules.iter().position(|r| r.span == sp)
}

fn check_one(
    seed: u64,
    case: usize,
    rng: &mut Rng,
    stats: &mut std::collections::BTreeMap<&'static str, usize>,
) -> usize {
    let mut sources = SourceMap::new();
    let prog = random_program(rng, &mut sources);
    let policy = &prog.policies[0];
    let g = grid(&prog);
    let sets = match_sets(&prog, policy, &g);
    // The reference evaluator agrees with the IR's own evaluator.
    for (_, p) in &sets {
        assert_eq!(
            ref_evaluate(&prog, policy, p),
            policy.evaluate(&prog, p),
            "evaluators disagree on {p:?}"
        );
    }
    let want = classify(policy, &sets);
    let diags: Vec<Diagnostic> = verify(&prog, &sources, &Options::default());
    let n = policy.rules.len();
    let mut kinds = vec![""; n];
    let mut conflicts = vec![Vec::new(); n];
    let mut generalizes = vec![Vec::new(); n];
    let ctx = || {
        format!(
            "seed {seed} case {case}\nprogram: {:#?}\nrules: {:#?}\ndefault {:?}\ndiags: {:#?}\nwant: {want:?}",
            prog.groups,
            policy.rules.iter().map(|r| (r.verdict, &r.matches)).collect::<Vec<_>>(),
            policy.default,
            diags
        )
    };
    for d in &diags {
        assert_ne!(d.code.id, "P0901", "solver gave up: {}", ctx());
        let Some(i) = d.primary.and_then(|sp| rule_of(policy, sp)) else {
            continue;
        };
        let related: Vec<usize> = d
            .labels
            .iter()
            .filter_map(|l| rule_of(policy, l.span))
            .collect();
        match d.code.id {
            "P0300" => kinds[i] = "empty-match",
            "P0301" => kinds[i] = "shadowed",
            "P0302" => kinds[i] = "redundant-earlier",
            "P0303" => kinds[i] = "redundant-later",
            "P0304" => conflicts[i] = related.clone(),
            "P0305" => generalizes[i] = related.clone(),
            _ => {}
        }
        // Every witness is real: the reference evaluator gives the verdict shown.
        if let Some(w) = &d.witness {
            let p = packet_of_witness(w);
            let (by, v) = ref_evaluate(&prog, policy, &p);
            assert_eq!(
                w.verdict,
                v.as_str(),
                "witness verdict wrong for {d:?}\n{}",
                ctx()
            );
            let rule = &policy.rules[i].matches;
            match d.code.id {
                "P0301" => {
                    assert!(
                        ref_matches(&prog, rule, &p),
                        "shadow witness outside the rule\n{}",
                        ctx()
                    );
                    assert!(
                        by.is_some_and(|b| b < i),
                        "shadow witness not decided earlier\n{}",
                        ctx()
                    );
                    assert_ne!(
                        v,
                        policy.rules[i].verdict,
                        "shadow witness has the same verdict\n{}",
                        ctx()
                    );
                }
                "P0304" => {
                    assert!(
                        ref_matches(&prog, rule, &p),
                        "conflict witness outside the rule\n{}",
                        ctx()
                    );
                    assert!(
                        ref_matches(&prog, &policy.rules[related[0]].matches, &p),
                        "conflict witness\n{}",
                        ctx()
                    );
                }
                "P0210" => {
                    let routes = &prog.tunnels[0].routes;
                    assert!(
                        !ref_addr_in(routes, p.daddr),
                        "via witness inside the routes\n{}",
                        ctx()
                    );
                }
                "P0211" => assert_ne!(v.as_str(), "allow", "ike witness allowed\n{}", ctx()),
                _ => {}
            }
        }
    }
    assert_eq!(kinds, want.kinds, "classification differs\n{}", ctx());
    for k in &want.kinds {
        *stats
            .entry(if k.is_empty() { "clean" } else { k })
            .or_default() += 1;
    }
    for (i, c) in want.conflicts.iter().enumerate() {
        *stats.entry("conflict").or_default() += usize::from(!c.is_empty());
        *stats.entry("generalization").or_default() += usize::from(!want.generalizes[i].is_empty());
    }
    for (i, k) in want.kinds.iter().enumerate() {
        if *k == "shadowed" || *k == "redundant-earlier" {
            // Covered by one earlier rule alone, or only by several together?
            let alone = (0..i).any(|j| {
                sets.iter()
                    .all(|(m, _)| m & (1 << i) == 0 || m & (1 << j) != 0)
            });
            *stats
                .entry(if alone {
                    "covered by one rule"
                } else {
                    "covered by several rules"
                })
                .or_default() += 1;
        }
    }
    n
}

#[test]
fn findings_equal_exhaustive_evaluation() {
    let (seed, cases) = (prop_seed(), prop_cases(600));
    let mut rng = Rng(seed);
    let mut rules = 0;
    let mut stats = std::collections::BTreeMap::new();
    for case in 0..cases {
        rules += check_one(seed, case, &mut rng, &mut stats);
    }
    // Straight to stderr (not `println!`, which libtest captures), so every
    // run's log says how much was checked.
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "property: {cases} random policies, {rules} rules checked against exhaustive evaluation (seed {seed})");
    let _ = writeln!(std::io::stderr(), "property: findings seen: {stats:?}");
    for k in [
        "shadowed",
        "redundant-earlier",
        "redundant-later",
        "empty-match",
        "covered by several rules",
    ] {
        assert!(
            stats.get(k).copied().unwrap_or(0) > 0 || cases < 200,
            "the generator produced no `{k}` case"
        );
    }
}
