//! One incremental Z3 solver per analysis, with a per-query limit.
//!
//! The packet model's well-formedness is asserted once; each query is
//! checked in a `push`/`pop` scope, so rule formulas and learned lemmas are
//! reused across the hundreds of queries of one policy. A query that hits
//! its time or resource limit is `Outcome::Unknown` — never a pass.
//!
//! The second face, for debugging and golden files: with
//! `Options::smtlib_dir`, every query is also written as a standalone
//! SMT-LIB 2 script (`NNNNN-purpose.smt2`: declarations, the packet space,
//! the query, `(check-sat)`, and a last comment with the answer polc got),
//! which `z3 -smt2 FILE` answers the same way.

use crate::model::{CgroupIndex, Vars};
use crate::Options;
use pol_lang::ir::Packet;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;
use z3::ast::Bool;
use z3::{Params, SatResult, Solver};

/// The answer to "is there a packet such that …".
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Yes, for example this one (decoded from the model).
    Sat(Packet),
    /// No packet.
    Unsat,
    /// The solver gave up (the reason Z3 gave).
    Unknown(String),
}

pub struct Smt {
    solver: Solver,
    pub vars: Vars,
    pub cgroups: CgroupIndex,
    /// Queries asked (statistics for the benchmark).
    pub queries: Cell<u64>,
    /// Per purpose: (queries, seconds). Printed by `verify` when
    /// `POL_VERIFIER_STATS` is set.
    pub stats: RefCell<BTreeMap<&'static str, (u64, f64)>>,
    /// The step budget of each exact cell walk (from `Options`).
    pub cell_steps: usize,
    /// The step budget of listing an unreachable rule's deciding rules.
    pub listing_steps: usize,
    /// Where each query is also written as SMT-LIB (from `Options`).
    smtlib_dir: Option<PathBuf>,
    /// When the verification's wall-clock budget ends, and its length.
    deadline: Option<(Instant, u64)>,
}

impl Smt {
    pub fn new(cgroups: CgroupIndex, opts: &Options) -> Smt {
        let solver = Solver::new();
        let mut params = Params::new();
        params.set_u32(
            "timeout",
            u32::try_from(opts.timeout_ms).unwrap_or(u32::MAX),
        );
        if let Some(r) = opts.rlimit {
            params.set_u32("rlimit", r);
        }
        solver.set_params(&params);
        let vars = Vars::new();
        solver.assert(vars.well_formed(&cgroups));
        let cell_steps = opts.cell_budget.unwrap_or(crate::cells::DEFAULT_STEPS);
        Smt {
            cell_steps,
            listing_steps: opts
                .listing_budget
                .unwrap_or(crate::findings::fate::LISTING_STEPS),
            smtlib_dir: opts.smtlib_dir.clone(),
            // A deadline too far to represent is no deadline (no overflow panic).
            deadline: opts.deadline_s.and_then(|s| {
                Instant::now()
                    .checked_add(std::time::Duration::from_secs(s))
                    .map(|d| (d, s))
            }),
            solver,
            vars,
            cgroups,
            queries: Cell::new(0),
            stats: RefCell::new(BTreeMap::new()),
        }
    }

    /// The verification's wall-clock budget is spent (see
    /// `Options::deadline_s`).
    pub fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|(d, _)| Instant::now() >= d)
    }

    /// The answer to every question asked past the deadline.
    fn deadline_outcome(&self) -> Option<Outcome> {
        let (_, s) = self.deadline?;
        self.past_deadline().then(|| {
            self.count("past the deadline", 1);
            Outcome::Unknown(format!(
                "the verification's time budget ({s} s, `--verify-deadline-s`) was spent"
            ))
        })
    }

    /// Adds `n` to the counter `what` (statistics only).
    pub fn count(&self, what: &'static str, n: u64) {
        self.stats.borrow_mut().entry(what).or_insert((0, 0.0)).0 += n;
    }

    /// Is the conjunction of `fs` satisfiable (within the packet space)?
    /// `what` names the purpose, for statistics.
    pub fn check(&self, what: &'static str, fs: &[&Bool]) -> Outcome {
        if let Some(out) = self.deadline_outcome() {
            return out;
        }
        let t0 = Instant::now();
        let out = self.check_inner(what, fs);
        let mut st = self.stats.borrow_mut();
        let e = st.entry(what).or_insert((0, 0.0));
        e.0 += 1;
        e.1 += t0.elapsed().as_secs_f64();
        out
    }

    /// Like `check`, with `hyps` that may be dropped: on `Unsat`, also the
    /// indices of a subset of `hyps` that is unsatisfiable with `fs` (Z3's
    /// unsat core; small, not necessarily minimal).
    pub fn check_core(
        &self,
        what: &'static str,
        fs: &[&Bool],
        hyps: &[Bool],
    ) -> (Outcome, Vec<usize>) {
        if let Some(out) = self.deadline_outcome() {
            return (out, Vec::new());
        }
        let t0 = Instant::now();
        self.queries.set(self.queries.get() + 1);
        self.solver.push();
        for f in fs {
            self.solver.assert(*f);
        }
        let lits: Vec<Bool> = (0..hyps.len())
            .map(|k| Bool::new_const(format!("pol!hyp{k}")))
            .collect();
        for (l, h) in lits.iter().zip(hyps) {
            self.solver.assert(l.implies(h));
        }
        let script = self.smtlib_dir.as_ref().map(|_| {
            let names: Vec<String> = (0..hyps.len()).map(|k| format!("|pol!hyp{k}|")).collect();
            (
                self.solver.to_smt2(),
                format!("(check-sat-assuming ({}))", names.join(" ")),
            )
        });
        let mut core = Vec::new();
        let result = self.solver.check_assumptions(&lits);
        if result == SatResult::Unsat {
            for c in self.solver.get_unsat_core() {
                if let Some(k) = lits.iter().position(|l| *l == c) {
                    core.push(k);
                }
            }
            core.sort_unstable();
        }
        let out = self.outcome(result);
        self.solver.pop(1);
        if let Some((script, check)) = script {
            self.write_smtlib(what, &script, &check, &out);
        }
        let mut st = self.stats.borrow_mut();
        let e = st.entry(what).or_insert((0, 0.0));
        e.0 += 1;
        e.1 += t0.elapsed().as_secs_f64();
        (out, core)
    }

    fn check_inner(&self, what: &str, fs: &[&Bool]) -> Outcome {
        self.queries.set(self.queries.get() + 1);
        self.solver.push();
        for f in fs {
            self.solver.assert(*f);
        }
        let script = self.smtlib_dir.as_ref().map(|_| self.solver.to_smt2());
        let out = self.outcome(self.solver.check());
        self.solver.pop(1);
        if let Some(script) = script {
            self.write_smtlib(what, &script, "(check-sat)", &out);
        }
        out
    }

    /// The outcome of the check just made: the model decoded as a packet,
    /// or Z3's reason for giving up.
    fn outcome(&self, result: SatResult) -> Outcome {
        match result {
            SatResult::Unsat => Outcome::Unsat,
            SatResult::Sat => match self
                .solver
                .get_model()
                .and_then(|m| self.vars.decode(&m, &self.cgroups))
            {
                Some(p) => Outcome::Sat(p),
                None => Outcome::Unknown("the model could not be read back as a packet".into()),
            },
            SatResult::Unknown => Outcome::Unknown(
                self.solver
                    .get_reason_unknown()
                    .unwrap_or_else(|| "unknown".to_string()),
            ),
        }
    }

    /// Writes one query as a standalone SMT-LIB script (see the module
    /// doc). A failure to write is reported on stderr; the check goes on.
    fn write_smtlib(&self, what: &str, script: &str, check: &str, out: &Outcome) {
        let Some(dir) = &self.smtlib_dir else { return };
        let answer = match out {
            Outcome::Sat(_) => "sat",
            Outcome::Unsat => "unsat",
            Outcome::Unknown(_) => "unknown",
        };
        let name = format!("{:05}-{}.smt2", self.queries.get(), what.replace(' ', "-"));
        // Z3 ends the benchmark with its own `(check-sat)`; ours replaces it.
        let body = script.trim_end();
        let body = body.strip_suffix("(check-sat)").unwrap_or(body);
        let text = format!("; polc query: {what}\n{body}{check}\n; polc: {answer}\n");
        let path = dir.join(name);
        if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, text)) {
            eprintln!("polc: cannot write `{}`: {e}", path.display());
        }
    }
}
