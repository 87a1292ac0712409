//! What happens to a rule's packets under first match, exactly and without
//! the solver (`crate::cells`): which earlier rules decide them, whether any
//! reaches the rule, and — for those that do — whether removing the rule
//! changes their verdict.
//!
//! One walk over the earlier rules partitions the rule's boxes into cells,
//! each decided by one earlier rule or reaching the rule. A reaching cell
//! is walked again over the later rules: a cell decided by a later rule of
//! another verdict, or by a default of another verdict, is a packet whose
//! verdict changes without the rule. The walk stops as soon as the answers
//! are known (reachable, and the later question settled).

use crate::analysis::PolicyCtx;
use crate::boxes::{is_subset, PBox, NDIM};
use crate::cells::{walk, walk_pruned, OverBudget, Tagged};
use pol_lang::ir::Packet;
use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// The later question for a reachable rule: does removing it change the
/// verdict of some packet?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Later {
    /// Not asked (the caller settled it without a walk).
    NotAsked,
    /// No packet's verdict changes: redundant.
    Redundant,
    /// Some packet's verdict changes.
    Changed,
}

#[derive(Debug, Clone)]
pub struct Fate {
    pub reachable: bool,
    pub later: Later,
    /// Unreachable: earlier rules that decide some packet of the rule, each
    /// with a packet it decides (the one of another verdict first found,
    /// when `shadowed`).
    pub deciders: BTreeMap<usize, Option<Packet>>,
    /// Unreachable: every deciding rule is in `deciders` (else the listing
    /// stopped at its budget, `Options::listing_budget`).
    pub complete: bool,
    /// Unreachable: some packet gets another verdict from an earlier rule.
    pub shadowed: bool,
}

/// Steps spent by default on listing the deciding rules of an unreachable
/// rule; beyond them the list is cut short (and says so).
pub const LISTING_STEPS: usize = 100_000;

fn tagged<'a>(ctx: &'a PolicyCtx, rules: &[usize]) -> Vec<Tagged<'a>> {
    rules
        .iter()
        .flat_map(|&rule| {
            ctx.regions[rule]
                .boxes
                .iter()
                .map(move |b| Tagged { rule, b })
        })
        .collect()
}

/// On how many dimensions `b` contains `target` (8: all of it).
fn containment(target: &PBox, b: &PBox) -> usize {
    (0..NDIM)
        .filter(|&k| is_subset(target.dim(k), b.dim(k)))
        .count()
}

/// The fate of rule `i` given the rules overlapping it (`earlier`, `later`,
/// ascending). `reachable`: already known to be reachable (a probe found a
/// packet). `ask_later`: also settle the later question.
///
/// 1. Coverage does not depend on order, so the earlier boxes that contain
///    most of the rule go first (a rule inside one earlier rule is covered
///    at the first cell); the first cell none covers reaches the rule.
/// 2. Reachable, `ask_later`: one walk over the earlier boxes (in that
///    order) and then the later ones in rule order: a cell whose first box
///    is a later rule's reaches the rule and gets that rule's verdict
///    without it; a cell no box overlaps gets the default. It stops at the
///    first other verdict, and skips cells only earlier rules and later
///    rules of the rule's verdict decide.
/// 3. Unreachable: the walk in rule order, skipping cells only rules of the
///    rule's own verdict decide, stops at the first cell an earlier rule of
///    another verdict decides (`shadowed`).
/// 4. The deciding rules in rule order, within the listing budget
///    ([`LISTING_STEPS`] by default).
pub fn fate(
    ctx: &PolicyCtx,
    i: usize,
    earlier: &[usize],
    later: &[usize],
    reachable: bool,
    ask_later: bool,
) -> Result<Fate, OverBudget> {
    let v = ctx.verdict(i);
    let default = ctx.policy.default;
    let cg = &ctx.smt.cgroups;
    // Past the verification's deadline the walks get no steps: the caller
    // falls back to the solver, which answers `unknown` then.
    let steps = |n: usize| if ctx.smt.past_deadline() { 0 } else { n };
    let budget = Cell::new(steps(ctx.smt.cell_steps));
    let before = tagged(ctx, earlier);
    let after = tagged(ctx, later);
    let targets = &ctx.regions[i].boxes;
    let mut reachable = reachable;
    let mut changed = false;
    let ordered = |target: &PBox| {
        let mut order = before.clone();
        order.sort_by_cached_key(|t| Reverse(containment(target, t.b)));
        order
    };
    for target in targets {
        if reachable {
            break;
        }
        let open = walk(target, &ordered(target), &budget, &mut |_, by| match by {
            Some(_) => ControlFlow::Continue(()),
            None => ControlFlow::Break(()),
        })?;
        reachable = open.is_break();
    }
    let gets_other = |j: usize| j > i && ctx.verdict(j) != v;
    for target in targets {
        if !(reachable && ask_later) {
            break;
        }
        let mut order = ordered(target);
        order.extend_from_slice(&after);
        let found = walk_pruned(target, &order, &budget, &gets_other, &mut |_, by| {
            let other = match by {
                Some(j) => gets_other(j),
                None => default != v,
            };
            if other {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        if found.is_break() {
            changed = true;
            break;
        }
    }
    let mut fate = Fate {
        reachable,
        later: match (reachable, ask_later) {
            (true, true) if changed => Later::Changed,
            (true, true) => Later::Redundant,
            _ => Later::NotAsked,
        },
        deciders: BTreeMap::new(),
        complete: true,
        shadowed: false,
    };
    if reachable {
        return Ok(fate);
    }
    let other = |j: usize| ctx.verdict(j) != v;
    for target in targets {
        let found = walk_pruned(target, &before, &budget, &other, &mut |cell, by| match by {
            Some(j) if other(j) => {
                fate.deciders.insert(j, cell.packet(cg));
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        })?;
        if found.is_break() {
            fate.shadowed = true;
            break;
        }
    }
    let listing = Cell::new(steps(ctx.smt.listing_steps));
    for target in targets {
        let listed = walk(target, &before, &listing, &mut |cell, by| {
            if let Some(j) = by {
                fate.deciders.entry(j).or_insert_with(|| cell.packet(cg));
            }
            ControlFlow::Continue(())
        });
        if listed.is_err() {
            fate.complete = false;
            break;
        }
    }
    Ok(fate)
}
