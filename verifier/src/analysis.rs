//! The per-policy analysis context shared by every check: rule summaries,
//! the overlap index, rule formulas (built once, on demand) and the
//! first-match "chains" that express what verdict a packet gets.

use crate::boxes::Region;
use crate::encode::Encoder;
use crate::index::{OverlapIndex, Summary};
use crate::smt::Smt;
use pol_lang::ast::Verdict;
use pol_lang::ir::{Match, Policy, Program};
use std::cell::RefCell;
use z3::ast::{Bool, BV};

pub struct PolicyCtx<'a> {
    pub program: &'a Program,
    pub policy: &'a Policy,
    pub smt: &'a Smt,
    pub summaries: Vec<Summary>,
    /// Each rule's packets as a union of boxes (`boxes`).
    pub regions: Vec<Region>,
    pub index: RefCell<OverlapIndex>,
    formulas: RefCell<Vec<Option<Bool>>>,
}

impl<'a> PolicyCtx<'a> {
    pub fn new(program: &'a Program, policy: &'a Policy, smt: &'a Smt) -> PolicyCtx<'a> {
        let summaries: Vec<Summary> = policy
            .rules
            .iter()
            .map(|r| Summary::of(&r.matches, program, &smt.cgroups))
            .collect();
        let regions = summaries
            .iter()
            .map(|s| Region::of(s, &smt.cgroups))
            .collect();
        let index = RefCell::new(OverlapIndex::new(&summaries));
        let formulas = RefCell::new(vec![None; policy.rules.len()]);
        PolicyCtx {
            program,
            policy,
            smt,
            summaries,
            regions,
            index,
            formulas,
        }
    }

    pub fn encoder(&self) -> Encoder<'_> {
        Encoder {
            vars: &self.smt.vars,
            cgroups: &self.smt.cgroups,
            program: self.program,
        }
    }

    /// The formula of rule `i` (cached).
    pub fn rule(&self, i: usize) -> Bool {
        if let Some(Some(f)) = self.formulas.borrow().get(i) {
            return f.clone();
        }
        let f = self.encoder().matches(&self.policy.rules[i].matches);
        if let Some(slot) = self.formulas.borrow_mut().get_mut(i) {
            *slot = Some(f.clone());
        }
        f
    }

    pub fn summary_of(&self, m: &Match) -> Summary {
        Summary::of(m, self.program, &self.smt.cgroups)
    }

    /// Rules overlapping `s`, ascending.
    pub fn overlapping(&self, s: &Summary) -> Vec<usize> {
        let (out, cand) = self.index.borrow_mut().overlapping(s, &self.summaries);
        self.smt.count("index: candidates", cand);
        self.smt.count("index: overlapping", out.len() as u64);
        out
    }

    /// Rules after `i` overlapping it, ascending.
    pub fn overlapping_after(&self, i: usize) -> Vec<usize> {
        let (out, cand) =
            self.index
                .borrow_mut()
                .overlapping_from(&self.summaries[i], &self.summaries, i + 1);
        self.smt.count("index: candidates", cand);
        self.smt.count("index: overlapping", out.len() as u64);
        out
    }

    pub fn verdict(&self, i: usize) -> Verdict {
        self.policy.rules[i].verdict
    }

    /// First-match chain over `rules` (ascending) and a final value:
    /// `ite(M_r1, pred(v_r1), ite(M_r2, …, last))`. Exact for packets that
    /// no rule outside `rules` (before the last one) matches.
    pub fn chain(&self, rules: &[usize], pred: impl Fn(Verdict) -> bool, last: bool) -> Bool {
        let mut acc = Bool::from_bool(last);
        for &r in rules.iter().rev() {
            let here = Bool::from_bool(pred(self.verdict(r)));
            acc = self.rule(r).ite(&here, &acc);
        }
        acc
    }

    /// The number of the deciding rule (`rules.len()`… no: the rule index,
    /// or `policy.rules.len()` for the default), as a 32-bit vector.
    pub fn index_chain(&self, rules: &[usize]) -> BV {
        let mut acc = BV::from_u64(self.policy.rules.len() as u64, 32);
        for &r in rules.iter().rev() {
            acc = self.rule(r).ite(&BV::from_u64(r as u64, 32), &acc);
        }
        acc
    }

    /// The verdict as a 2-bit vector (allow 0, drop 1, reject 2).
    pub fn verdict_chain(&self, rules: &[usize]) -> BV {
        let mut acc = verdict_bv(self.policy.default);
        for &r in rules.iter().rev() {
            acc = self.rule(r).ite(&verdict_bv(self.verdict(r)), &acc);
        }
        acc
    }
}

pub fn verdict_bv(v: Verdict) -> BV {
    BV::from_u64(
        match v {
            Verdict::Allow => 0,
            Verdict::Drop => 1,
            Verdict::Reject => 2,
        },
        2,
    )
}
