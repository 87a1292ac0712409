//! Property: `diff` over address classes (`pol_verifier::classes`) finds
//! exactly the regions the plain encoding finds — the same (old deciding
//! rule, new deciding rule) pairs with their verdicts — on random pairs of
//! versions of a random policy, and each of its witnesses gets the old
//! verdict from the old program and the new one from the new program
//! (reference evaluator). Likewise `explain` of a random description: the
//! same deciding rules, each witness decided as claimed.
//!
//! `POL_PROP_SEED=N` reproduces a run; `POL_PROP_CASES=N` changes the count
//! (default 150).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use pol_lang::ir::{Match, PolicyId, Program, Rule};
use pol_lang::sets::AddrSet;
use pol_lang::span::SourceMap;
use pol_verifier::{DiffReport, Options};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use support::*;

/// A small random IPv4 range inside 10.1.0.0/16 or 192.0.2.0/24: cuts the
/// fixed blocks of `addr_set` into more classes.
fn small_range(r: &mut Rng) -> AddrSet {
    let base = if r.chance(50) {
        u32::from(Ipv4Addr::new(10, 1, 0, 0)) + r.below(65536) as u32
    } else {
        u32::from(Ipv4Addr::new(192, 0, 2, 0)) + r.below(256) as u32
    };
    let len = r.below(40) as u32;
    AddrSet::v4_range(
        Ipv4Addr::from(base),
        Ipv4Addr::from(base.saturating_add(len)),
    )
}

fn some_set(r: &mut Rng) -> AddrSet {
    let mut s = if r.chance(50) {
        addr_set(r)
    } else {
        small_range(r)
    };
    for _ in 0..r.below(4) {
        s = s.union(&small_range(r));
    }
    s
}

/// A new version: some rules' addresses changed, a rule dropped or two
/// swapped, a rule's verdict or the default changed.
fn mutate(r: &mut Rng, old: &Program) -> Program {
    let mut new = old.clone();
    let rules: &mut Vec<Rule> = &mut new.policies[0].rules;
    for rule in rules.iter_mut() {
        if r.chance(30) {
            rule.matches.to = some_set(r);
        }
        if r.chance(15) {
            rule.matches.from = some_set(r);
        }
    }
    if rules.len() > 2 && r.chance(25) {
        let i = r.below(rules.len() as u64) as usize;
        rules.remove(i);
    }
    if rules.len() > 2 && r.chance(25) {
        let i = r.below(rules.len() as u64) as usize;
        let j = r.below(rules.len() as u64) as usize;
        rules.swap(i, j);
    }
    let verdicts = [
        pol_lang::ast::Verdict::Allow,
        pol_lang::ast::Verdict::Drop,
        pol_lang::ast::Verdict::Reject,
    ];
    if r.chance(20) {
        let i = r.below(rules.len() as u64) as usize;
        rules[i].verdict = *r.pick(&verdicts);
    }
    if r.chance(20) {
        new.policies[0].default = *r.pick(&verdicts);
    }
    new
}

type Regions = BTreeSet<(Option<usize>, Option<usize>, String, String)>;

fn regions(rep: &DiffReport) -> Regions {
    rep.regions
        .iter()
        .map(|x| {
            (
                x.old.rule,
                x.new.rule,
                x.old.verdict.clone(),
                x.new.verdict.clone(),
            )
        })
        .collect()
}

fn diff(old: &Program, new: &Program, sources: &SourceMap, classes: bool) -> DiffReport {
    let opts = Options {
        address_classes: Some(classes),
        max_diff_regions: 10_000,
        ..Options::default()
    };
    pol_verifier::diff((old, sources), (new, sources), &[], &opts)
}

#[test]
fn diff_over_address_classes_finds_the_same_regions() {
    let (seed, cases) = (prop_seed(), prop_cases(150));
    let mut rng = Rng(seed);
    let mut changed = 0;
    for case in 0..cases {
        let mut sources = SourceMap::new();
        let old = random_program(&mut rng, &mut sources);
        let new = mutate(&mut rng, &old);
        let plain = diff(&old, &new, &sources, false);
        let classed = diff(&old, &new, &sources, true);
        let ctx = || {
            format!(
                "seed {seed} case {case}\nold: {:#?}\nnew: {:#?}\nplain: {plain:#?}\nclasses: {classed:#?}",
                old.policies[0]
                    .rules
                    .iter()
                    .map(|r| (r.verdict, &r.matches))
                    .collect::<Vec<_>>(),
                new.policies[0]
                    .rules
                    .iter()
                    .map(|r| (r.verdict, &r.matches))
                    .collect::<Vec<_>>(),
            )
        };
        assert!(
            plain.incomplete.is_empty() && classed.incomplete.is_empty(),
            "{}",
            ctx()
        );
        assert_eq!(regions(&plain), regions(&classed), "{}", ctx());
        for x in &classed.regions {
            let p = packet_of_witness(&x.witness);
            let (bo, vo) = ref_evaluate(&old, &old.policies[0], &p);
            let (bn, vn) = ref_evaluate(&new, &new.policies[0], &p);
            assert_eq!(
                (bo, vo.as_str(), bn, vn.as_str()),
                (
                    x.old.rule,
                    x.old.verdict.as_str(),
                    x.new.rule,
                    x.new.verdict.as_str()
                ),
                "witness {p:?}\n{}",
                ctx()
            );
        }
        changed += usize::from(plain.changed());
    }
    println!("{cases} pairs (seed {seed}), {changed} with changes, regions equal");
    assert!(
        changed * 4 >= cases,
        "too few pairs differ to test anything"
    );
}

fn explain(
    program: &Program,
    sources: &SourceMap,
    m: &Match,
    classes: bool,
) -> Option<pol_verifier::Explanation> {
    let opts = Options {
        address_classes: Some(classes),
        ..Options::default()
    };
    pol_verifier::explain(program, sources, PolicyId(0), m, &opts)
}

#[test]
fn explain_over_address_classes_finds_the_same_cases() {
    let (seed, cases) = (prop_seed(), prop_cases(150));
    let mut rng = Rng(seed);
    let mut multi = 0;
    for case in 0..cases {
        let mut sources = SourceMap::new();
        let program = random_program(&mut rng, &mut sources);
        let m = Match {
            groups: None,
            from: if rng.chance(60) {
                AddrSet::any()
            } else {
                some_set(&mut rng)
            },
            to: some_set(&mut rng),
            service: service(&mut rng),
            via: None,
        };
        let plain = explain(&program, &sources, &m, false);
        let classed = explain(&program, &sources, &m, true);
        let ctx = || {
            format!("seed {seed} case {case}\ndescription {m:#?}\nplain {plain:#?}\nclasses {classed:#?}")
        };
        let cases_of = |e: &Option<pol_verifier::Explanation>| {
            e.as_ref().map(|e| {
                assert!(e.complete, "{}", ctx());
                e.cases
                    .iter()
                    .map(|c| (c.rule, c.verdict.clone()))
                    .collect::<BTreeSet<_>>()
            })
        };
        assert_eq!(cases_of(&plain), cases_of(&classed), "{}", ctx());
        for c in classed.iter().flat_map(|e| &e.cases) {
            let p = packet_of_witness(&c.witness);
            let (by, v) = ref_evaluate(&program, &program.policies[0], &p);
            assert_eq!(
                (by, v.as_str()),
                (c.rule, c.verdict.as_str()),
                "{p:?}\n{}",
                ctx()
            );
        }
        multi += usize::from(classed.as_ref().is_some_and(|e| e.cases.len() > 1));
    }
    println!(
        "{cases} descriptions (seed {seed}), {multi} with several deciding rules, cases equal"
    );
    assert!(
        multi * 4 >= cases,
        "too few descriptions split to test anything"
    );
}
