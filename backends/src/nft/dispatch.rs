//! Address dispatch: where a run of rules is split by one address field.
//!
//! A run of consecutive rules that each constrain one address field
//! (destination or source; never the whole of a family) is cut at every
//! boundary of those rules' sets into elementary intervals. Every rule
//! either contains an elementary interval or is disjoint from it, so the
//! rules a packet in it can match are exactly the rules containing it, in
//! their order: first match within that list is first match over the run.
//! Adjacent intervals with the same list are merged; each distinct list
//! becomes one chain (a *bucket*), reached from an interval verdict map on
//! the field. A packet whose address is in no interval matches no rule of
//! the run and continues after it, as it would through the run.
//!
//! A rule whose set spans many intervals is copied into every bucket it
//! overlaps; the copies are counted and the plan refused past a budget
//! (the caller renders the run linearly then), so the output never grows
//! past a fixed multiple of the input.

use pol_lang::ir::Rule;
use pol_lang::sets::{AddrSet, Family};
use std::collections::BTreeSet;

/// The address field a run is dispatched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Saddr,
    Daddr,
}

impl Field {
    pub fn other(self) -> Field {
        match self {
            Field::Saddr => Field::Daddr,
            Field::Daddr => Field::Saddr,
        }
    }

    pub fn nft(self, fam: Family) -> String {
        let proto = match fam {
            Family::Ipv4 => "ip",
            Family::Ipv6 => "ip6",
        };
        let dir = match self {
            Field::Saddr => "saddr",
            Field::Daddr => "daddr",
        };
        format!("{proto} {dir}")
    }
}

/// A rule's set in `field` (`to` already narrowed to a tunnel's routes by
/// the caller).
pub fn field_set<'a>(rule: &'a Rule, to: &'a AddrSet, field: Field) -> &'a AddrSet {
    match field {
        Field::Saddr => &rule.matches.from,
        Field::Daddr => to,
    }
}

/// The ranges of one family of an address set, widened to u128.
pub fn family_ranges(set: &AddrSet, fam: Family) -> Vec<(u128, u128)> {
    match fam {
        Family::Ipv4 => set
            .v4
            .ranges()
            .iter()
            .map(|&(a, b)| (u128::from(a), u128::from(b)))
            .collect(),
        Family::Ipv6 => set.v6.ranges().to_vec(),
    }
}

/// True when the set narrows `field` in every family it has (so the rule
/// sits in a bounded number of buckets, not in all of them).
pub fn narrows(set: &AddrSet) -> bool {
    !set.v4.is_full() && !set.v6.is_full()
}

/// One elementary interval (merged with its equal neighbours) and the
/// indices of the rules that contain it, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub lo: u128,
    pub hi: u128,
    pub rules: Vec<usize>,
}

/// Cut the union of `ranges` (one list per rule) into pieces. `None` when
/// the rule copies (the sum of the pieces' list lengths) exceed `budget`.
pub fn pieces(ranges: &[Vec<(u128, u128)>], budget: usize) -> Option<Vec<Piece>> {
    // Events: a rule starts at `lo`, and stops after `hi`.
    let mut starts: Vec<(u128, usize)> = Vec::new();
    let mut stops: Vec<(u128, usize)> = Vec::new();
    for (i, rs) in ranges.iter().enumerate() {
        for &(lo, hi) in rs {
            starts.push((lo, i));
            stops.push((hi, i));
        }
    }
    // Which rule of several at one address enters or leaves first does
    // not matter: all of them do before the next bound.
    starts.sort_unstable_by_key(|s| s.0);
    stops.sort_unstable_by_key(|s| s.0);
    let bounds = merged_bounds(&starts, &stops);
    let (mut si, mut ei) = (0, 0);
    let mut active: BTreeSet<usize> = BTreeSet::new();
    let mut out: Vec<Piece> = Vec::new();
    let mut copies = 0usize;
    for (k, &b) in bounds.iter().enumerate() {
        // Stops strictly before b (hi < b) leave; starts at b enter.
        while ei < stops.len() && stops[ei].0 < b {
            active.remove(&stops[ei].1);
            ei += 1;
        }
        while si < starts.len() && starts[si].0 == b {
            active.insert(starts[si].1);
            si += 1;
        }
        if active.is_empty() {
            continue;
        }
        let hi = match bounds.get(k + 1) {
            Some(&next) => next - 1,
            None => stops.last().map_or(b, |s| s.0),
        };
        match out.last_mut() {
            Some(p) if p.hi.checked_add(1) == Some(b) && p.rules.iter().eq(active.iter()) => {
                p.hi = hi
            }
            _ => {
                let list: Vec<usize> = active.iter().copied().collect();
                copies += list.len();
                if copies > budget {
                    return None;
                }
                out.push(Piece {
                    lo: b,
                    hi,
                    rules: list,
                });
            }
        }
    }
    Some(out)
}

/// Every address where the set of rules changes, ascending, once each:
/// the starts, and one past each stop (both lists sorted).
fn merged_bounds(starts: &[(u128, usize)], stops: &[(u128, usize)]) -> Vec<u128> {
    let mut a = starts.iter().map(|s| s.0).peekable();
    let mut b = stops.iter().filter_map(|s| s.0.checked_add(1)).peekable();
    let mut out: Vec<u128> = Vec::with_capacity(starts.len() + stops.len());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(&x), Some(&y)) if x <= y => a.next(),
            (_, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, None) => break,
        };
        if let Some(v) = next {
            if out.last() != Some(&v) {
                out.push(v);
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn nested_ranges_split_into_pieces_with_their_rules() {
        let r = vec![vec![(0, 99)], vec![(10, 19)], vec![(50, 59), (200, 299)]];
        let p = pieces(&r, 100).unwrap();
        let got: Vec<(u128, u128, Vec<usize>)> =
            p.into_iter().map(|p| (p.lo, p.hi, p.rules)).collect();
        assert_eq!(
            got,
            vec![
                (0, 9, vec![0]),
                (10, 19, vec![0, 1]),
                (20, 49, vec![0]),
                (50, 59, vec![0, 2]),
                (60, 99, vec![0]),
                (200, 299, vec![2]),
            ]
        );
    }

    #[test]
    fn adjacent_ranges_of_one_rule_merge_and_the_top_of_the_space_is_kept() {
        let r = vec![vec![(0, 9), (10, 19)], vec![(u128::MAX - 1, u128::MAX)]];
        let p = pieces(&r, 100).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].lo, p[0].hi), (0, 19));
        assert_eq!((p[1].lo, p[1].hi), (u128::MAX - 1, u128::MAX));
    }

    /// The merge gives what sorting every bound and removing repeats
    /// gives, including a stop at the top of the space (no bound past it).
    #[test]
    fn merged_bounds_are_the_sorted_distinct_bounds() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            u128::from(x % m)
        };
        for round in 0..200 {
            let mut starts = Vec::new();
            let mut stops = Vec::new();
            for i in 0..(round % 17) {
                let lo = next(40);
                let hi = if next(9) == 0 {
                    u128::MAX
                } else {
                    lo + next(10)
                };
                starts.push((lo, i as usize));
                stops.push((hi, i as usize));
            }
            starts.sort_unstable_by_key(|s| s.0);
            stops.sort_unstable_by_key(|s| s.0);
            let mut want: Vec<u128> = starts.iter().map(|s| s.0).collect();
            want.extend(stops.iter().filter_map(|s| s.0.checked_add(1)));
            want.sort_unstable();
            want.dedup();
            assert_eq!(merged_bounds(&starts, &stops), want);
        }
    }

    #[test]
    fn copies_past_the_budget_refuse_the_plan() {
        // One wide rule under 10 narrow ones: 10 pieces hold it twice.
        let mut r = vec![vec![(0, 1000)]];
        for i in 0..10 {
            r.push(vec![(i * 100, i * 100 + 9)]);
        }
        assert!(pieces(&r, 15).is_none());
        assert!(pieces(&r, 100).is_some());
    }
}
