//! The first-match partition of a box by cell search: the exact,
//! solver-free answer to "which rule of an ordered list decides each packet
//! of this box" (or none: the packet falls through).
//!
//! A cell is a box (`crate::boxes::PBox`) with the boxes of the list that
//! overlap it, in list order ("active"). A cell is a leaf when no box is
//! active (its packets fall through) or when the first active box contains
//! it (that rule decides all its packets: the boxes before it are disjoint
//! from the cell). Otherwise one dimension is split at every boundary of
//! the active boxes, and the elementary pieces are grouped by which active
//! boxes contain them: each group is one child cell, and every active box of
//! a child contains the child on that dimension, so no dimension is split
//! twice on a path (depth ≤ 8) and no box is ever cut into fragments —
//! unlike repeated box subtraction, whose pieces multiply.
//!
//! The dimension split is the cheapest one: boxes that contain the cell on a
//! dimension ("wild" there) are copied into every child, so the estimate is
//! `nonwild + (nonwild + 1) · wild`; ties go to the address and service
//! dimensions before the socket ones.
//!
//! Cells are visited depth first; the visitor may stop the walk (the first
//! uncovered packet, a changed verdict). Every node charges its active
//! boxes to a shared step budget; running out ends the walk with
//! [`OverBudget`] and the caller falls back to the solver.

use crate::boxes::{is_subset, PBox, NDIM, R};
use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::ops::ControlFlow;

/// Steps one walk may take by default (a step: one active box at one
/// node). Far above what realistic policies need (see docs/performance.md).
pub const DEFAULT_STEPS: usize = 20_000_000;

/// One box of the ordered list, and the rule it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Tagged<'a> {
    pub rule: usize,
    pub b: &'a PBox,
}

/// The step budget ran out before the walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget;

/// What a visitor says after seeing a leaf.
pub type Flow = ControlFlow<()>;

/// Dimensions in tie-break order: destination, service, source, then the
/// socket fields (class id / uid / gid cylinders cut across everything).
const PREFERENCE: [usize; NDIM] = [
    crate::boxes::DADDR,
    crate::boxes::DPORT,
    crate::boxes::PROTO,
    crate::boxes::SADDR,
    crate::boxes::CG,
    crate::boxes::CLASSID,
    crate::boxes::UID,
    crate::boxes::GID,
];

/// Visits every leaf of the first-match partition of `target` by `list`
/// (in list order): `visit(cell, Some(rule))` for a cell that `rule`
/// decides, `visit(cell, None)` for one no box of the list overlaps.
/// `Ok(Break)` when the visitor stopped the walk.
pub fn walk(
    target: &PBox,
    list: &[Tagged<'_>],
    budget: &Cell<usize>,
    visit: &mut dyn FnMut(&PBox, Option<usize>) -> Flow,
) -> Result<Flow, OverBudget> {
    walk_pruned(target, list, budget, &|_| true, visit)
}

/// Like [`walk`], but skips every cell that some active box contains when
/// the active boxes up to that one belong to no `interesting` rule (every
/// packet of the cell is then decided by an uninteresting rule).
pub fn walk_pruned(
    target: &PBox,
    list: &[Tagged<'_>],
    budget: &Cell<usize>,
    interesting: &dyn Fn(usize) -> bool,
    visit: &mut dyn FnMut(&PBox, Option<usize>) -> Flow,
) -> Result<Flow, OverBudget> {
    charge(budget, list.len())?;
    let active: Vec<Tagged> = list
        .iter()
        .copied()
        .filter(|t| t.b.overlaps(target))
        .collect();
    let mut w = Walker {
        budget,
        interesting,
        visit,
    };
    w.explore(target, active, [false; NDIM])
}

struct Walker<'w> {
    budget: &'w Cell<usize>,
    interesting: &'w dyn Fn(usize) -> bool,
    visit: &'w mut dyn FnMut(&PBox, Option<usize>) -> Flow,
}

fn charge(budget: &Cell<usize>, n: usize) -> Result<(), OverBudget> {
    let left = budget.get().checked_sub(n.max(1)).ok_or(OverBudget)?;
    budget.set(left);
    Ok(())
}

impl Walker<'_> {
    fn explore(
        &mut self,
        cell: &PBox,
        mut active: Vec<Tagged<'_>>,
        mut resolved: [bool; NDIM],
    ) -> Result<Flow, OverBudget> {
        charge(self.budget, active.len())?;
        let Some(&first) = active.first() else {
            return Ok((self.visit)(cell, None));
        };
        let open: Vec<usize> = (0..NDIM).filter(|&k| !resolved[k]).collect();
        let contains = |b: &PBox| open.iter().all(|&k| is_subset(cell.dim(k), b.dim(k)));
        if contains(first.b) {
            return Ok((self.visit)(cell, Some(first.rule)));
        }
        // Nothing after a box that contains the cell can decide any of it;
        // then every packet of the cell is decided by one of the boxes before,
        // and when none of those is interesting, the cell can be skipped.
        if let Some(p) = active.iter().position(|t| contains(t.b)) {
            active.truncate(p + 1);
            if !active.iter().any(|t| (self.interesting)(t.rule)) {
                return Ok(ControlFlow::Continue(()));
            }
        }
        // The cheapest dimension to split; dimensions every active box
        // contains need no split.
        let mut best: Option<(usize, usize)> = None;
        for &k in &PREFERENCE {
            if resolved[k] {
                continue;
            }
            let d = cell.dim(k);
            let nonwild = active.iter().filter(|t| !is_subset(d, t.b.dim(k))).count();
            if nonwild == 0 {
                resolved[k] = true;
                continue;
            }
            let wild = active.len() - nonwild;
            let cost = nonwild.saturating_add((nonwild + 1).saturating_mul(wild));
            if best.is_none_or(|(_, c)| cost < c) {
                best = Some((k, cost));
            }
        }
        // The first box does not contain the cell, so some dimension splits.
        let Some((k, _)) = best else {
            return Ok((self.visit)(cell, Some(first.rule)));
        };
        resolved[k] = true;
        let children = split(cell, &active, k);
        charge(self.budget, children.len())?;
        for (ranges, members) in children {
            let child = cell.with_dim(k, &ranges);
            let sub: Vec<Tagged> = members.iter().map(|&m| active[m]).collect();
            if self.explore(&child, sub, resolved)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }
}

/// The children of `cell` split on dimension `k`: each a list of ranges
/// (elementary pieces with the same containing boxes, merged) and the
/// indices into `active` of the boxes that contain them, in order. Fewest
/// members first (an uncovered piece is found early); ties in value order.
fn split(cell: &PBox, active: &[Tagged<'_>], k: usize) -> Vec<(Vec<R>, Vec<usize>)> {
    let d = cell.dim(k);
    let mut wild = Vec::new();
    // Boundary events: (position, box, starts here?). `None` positions
    // (one past u128::MAX) need no event.
    let mut events: Vec<(u128, usize, bool)> = Vec::new();
    let mut cuts: Vec<u128> = Vec::new();
    for &(lo, hi) in d {
        cuts.push(lo);
        if let Some(e) = hi.checked_add(1) {
            cuts.push(e);
        }
    }
    for (m, t) in active.iter().enumerate() {
        let bd = t.b.dim(k);
        if is_subset(d, bd) {
            wild.push(m);
            continue;
        }
        for &(lo, hi) in bd {
            events.push((lo, m, true));
            cuts.push(lo);
            if let Some(e) = hi.checked_add(1) {
                events.push((e, m, false));
                cuts.push(e);
            }
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    // Removals before additions at one position.
    events.sort_unstable_by_key(|&(p, m, start)| (p, start, m));
    let mut groups: Vec<(Vec<R>, Vec<usize>)> = Vec::new();
    let mut by_members: HashMap<Vec<usize>, usize> = HashMap::new();
    let mut inside: BTreeSet<usize> = BTreeSet::new();
    let (mut ev, mut di) = (0, 0);
    for (c, &lo) in cuts.iter().enumerate() {
        while ev < events.len() && events[ev].0 <= lo {
            let (_, m, start) = events[ev];
            if start {
                inside.insert(m);
            } else {
                inside.remove(&m);
            }
            ev += 1;
        }
        let hi = cuts.get(c + 1).map_or(u128::MAX, |n| n - 1);
        while di < d.len() && d[di].1 < lo {
            di += 1;
        }
        // Pieces are elementary: each lies inside `d` or outside it.
        if di >= d.len() || d[di].0 > lo {
            continue;
        }
        let key: Vec<usize> = inside.iter().copied().collect();
        let g = match by_members.get(&key) {
            Some(&g) => g,
            None => {
                let members = merge(&wild, &key);
                groups.push((Vec::new(), members));
                by_members.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        let ranges = &mut groups[g].0;
        match ranges.last_mut() {
            Some(last) if last.1.checked_add(1) == Some(lo) => last.1 = hi,
            _ => ranges.push((lo, hi)),
        }
    }
    groups.sort_by_key(|(_, members)| members.len());
    groups
}

/// Two ascending index lists merged into one.
fn merge(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if j >= b.len() || (i < a.len() && a[i] < b[j]) {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out
}
