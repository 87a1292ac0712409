//! Address classes: an exact, smaller address space for `diff` on programs
//! with large address sets.
//!
//! Two addresses of one family are in the same class when every address
//! set of both programs (rule sources and destinations, tunnel routes)
//! holds both or neither. Every rule — so every first-match verdict —
//! treats the addresses of a class alike. So each class can be renamed to
//! one point of a compressed space (class `k` is address `k`; the last
//! class also takes every address above it, so the compressed space is
//! tiled), and the programs rewritten over it decide a compressed packet
//! exactly as they decide every original packet of its classes. A
//! 150,000-address blocklist that lost one address becomes three classes,
//! where its 150,000-way disjunction left the solver without an answer.
//!
//! The classes come from partition refinement: one class per family to
//! start with; each distinct set splits every class it cuts in two. The
//! work is bounded ([`BUDGET`] segment steps); past it [`AddrClasses::of`]
//! gives `None`, and `diff` encodes the original programs.

use pol_lang::ir::{Addr, Match, Packet, Program};
use pol_lang::sets::interval::Bound;
use pol_lang::sets::{AddrSet, IntervalSet};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Most segment steps refinement and rewriting may take together.
pub const BUDGET: usize = 20_000_000;

/// From how many address ranges (over the distinct sets of both programs)
/// `diff` uses classes by default: below it the solver decides at once,
/// and the witnesses stay the ones it always gave.
pub const AUTO_MIN_RANGES: usize = 1024;

/// A family's address type, with the compressed point of a class.
trait Point: Bound {
    fn of_class(k: u32) -> Self;
    fn class(self) -> u64;
}

impl Point for u32 {
    fn of_class(k: u32) -> Self {
        k
    }
    fn class(self) -> u64 {
        u64::from(self)
    }
}

impl Point for u128 {
    fn of_class(k: u32) -> Self {
        u128::from(k)
    }
    fn class(self) -> u64 {
        u64::try_from(self).unwrap_or(u64::MAX)
    }
}

/// One family's classes.
struct Partition<T: Point> {
    /// Segment start → class (the segment runs to the next start).
    segs: BTreeMap<T, u32>,
    /// The lowest address of each class (after [`Partition::finish`]).
    reps: Vec<T>,
    /// Compressed sets already computed.
    memo: HashMap<IntervalSet<T>, IntervalSet<T>>,
}

impl<T: Point> Partition<T> {
    /// Refine by every set; `None` past the budget.
    fn build<'a>(sets: impl Iterator<Item = &'a IntervalSet<T>>, steps: &mut usize) -> Option<Self>
    where
        T: 'a,
    {
        let mut segs = BTreeMap::from([(T::MIN, 0u32)]);
        let mut next = 1u32;
        for set in sets {
            let mut renamed: HashMap<u32, u32> = HashMap::new();
            for &(lo, hi) in set.ranges() {
                split_at(&mut segs, lo);
                if let Some(n) = hi.succ() {
                    split_at(&mut segs, n);
                }
                for (_, c) in segs.range_mut(lo..=hi) {
                    *steps += 1;
                    *c = *renamed.entry(*c).or_insert_with(|| {
                        let id = next;
                        next = next.saturating_add(1);
                        id
                    });
                }
                if *steps > BUDGET || next == u32::MAX {
                    return None;
                }
            }
        }
        Some(Self::finish(segs))
    }

    /// Number the classes by their lowest address (so class 0 holds
    /// address 0) and record that address.
    fn finish(mut segs: BTreeMap<T, u32>) -> Self {
        let mut number: HashMap<u32, u32> = HashMap::new();
        let mut reps = Vec::new();
        for (start, c) in segs.iter_mut() {
            let k = *number.entry(*c).or_insert_with(|| {
                reps.push(*start);
                u32::try_from(reps.len() - 1).unwrap_or(u32::MAX)
            });
            *c = k;
        }
        Partition {
            segs,
            reps,
            memo: HashMap::new(),
        }
    }

    fn last(&self) -> u32 {
        u32::try_from(self.reps.len().saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// `set` over the compressed space: the points of the classes it holds.
    fn compress(&mut self, set: &IntervalSet<T>, steps: &mut usize) -> IntervalSet<T> {
        if let Some(c) = self.memo.get(set) {
            return c.clone();
        }
        let mut classes: Vec<u32> = Vec::new();
        for &(lo, hi) in set.ranges() {
            // Every bound of every set is a segment start (refinement
            // split there), so the segments in `lo..=hi` are exactly the
            // set's.
            for (_, c) in self.segs.range(lo..=hi) {
                *steps += 1;
                classes.push(*c);
            }
        }
        classes.sort_unstable();
        classes.dedup();
        let last = self.last();
        let out = IntervalSet::from_ranges(classes.into_iter().map(|k| {
            let p = T::of_class(k);
            (p, if k == last { T::MAX } else { p })
        }));
        self.memo.insert(set.clone(), out.clone());
        out
    }

    /// An original address of the class a compressed point stands for.
    fn expand(&self, point: T) -> T {
        let k = usize::try_from(point.class().min(u64::from(self.last()))).unwrap_or(0);
        self.reps.get(k).copied().unwrap_or(T::MIN)
    }
}

fn split_at<T: Point>(segs: &mut BTreeMap<T, u32>, at: T) {
    if segs.contains_key(&at) {
        return;
    }
    if let Some((_, &c)) = segs.range(..at).next_back() {
        segs.insert(at, c);
    }
}

/// The address classes of a set of programs, both families.
pub struct AddrClasses {
    v4: Partition<u32>,
    v6: Partition<u128>,
    steps: usize,
}

/// Every address set a program's verdicts depend on.
fn addr_sets(p: &Program) -> impl Iterator<Item = &AddrSet> {
    p.policies
        .iter()
        .flat_map(|pol| &pol.rules)
        .flat_map(|r| [&r.matches.from, &r.matches.to])
        .chain(p.tunnels.iter().map(|t| &t.routes))
}

/// The distinct sets of one family that split something (not empty, not
/// the whole family), in first-seen order.
fn distinct<'a, T: Point + 'a>(
    sets: impl Iterator<Item = &'a IntervalSet<T>>,
) -> Vec<&'a IntervalSet<T>> {
    let mut seen = HashSet::new();
    sets.filter(|s| !s.is_empty() && !s.is_full() && seen.insert(*s))
        .collect()
}

impl AddrClasses {
    /// The number of ranges over the distinct sets of `programs`: what the
    /// solver would be given without classes.
    pub fn ranges(programs: &[&Program], extra: &[&AddrSet]) -> usize {
        let all = || {
            programs
                .iter()
                .flat_map(|p| addr_sets(p))
                .chain(extra.iter().copied())
        };
        distinct(all().map(|s| &s.v4))
            .iter()
            .map(|s| s.ranges().len())
            .sum::<usize>()
            + distinct(all().map(|s| &s.v6))
                .iter()
                .map(|s| s.ranges().len())
                .sum::<usize>()
    }

    /// The classes to encode `programs` (and `extra` sets) over, when
    /// `forced` says so or, left open, when they are large enough to need
    /// them ([`AUTO_MIN_RANGES`]); `None` for the plain encoding.
    pub fn wanted(
        forced: Option<bool>,
        programs: &[&Program],
        extra: &[&AddrSet],
    ) -> Option<AddrClasses> {
        let on = forced.unwrap_or_else(|| Self::ranges(programs, extra) >= AUTO_MIN_RANGES);
        if on {
            Self::of_with(programs, extra)
        } else {
            None
        }
    }

    /// The classes of every address set of `programs`; `None` past the
    /// budget.
    pub fn of(programs: &[&Program]) -> Option<AddrClasses> {
        Self::of_with(programs, &[])
    }

    /// Like [`AddrClasses::of`], with `extra` sets besides (a description
    /// of packets, as `explain` is given).
    pub fn of_with(programs: &[&Program], extra: &[&AddrSet]) -> Option<AddrClasses> {
        let all = || {
            programs
                .iter()
                .flat_map(|p| addr_sets(p))
                .chain(extra.iter().copied())
        };
        let mut steps = 0;
        let v4 = Partition::build(distinct(all().map(|s| &s.v4)).into_iter(), &mut steps)?;
        let v6 = Partition::build(distinct(all().map(|s| &s.v6)).into_iter(), &mut steps)?;
        Some(AddrClasses { v4, v6, steps })
    }

    /// How many classes (IPv4, IPv6).
    pub fn len(&self) -> (usize, usize) {
        (self.v4.reps.len(), self.v6.reps.len())
    }

    pub fn compress(&mut self, s: &AddrSet) -> AddrSet {
        AddrSet {
            v4: self.v4.compress(&s.v4, &mut self.steps),
            v6: self.v6.compress(&s.v6, &mut self.steps),
        }
    }

    /// `p` over the compressed space: every rule's addresses and every
    /// tunnel's routes rewritten; `None` past the budget.
    pub fn program(&mut self, p: &Program) -> Option<Program> {
        let mut q = p.clone();
        for r in q.policies.iter_mut().flat_map(|pol| &mut pol.rules) {
            r.matches.from = self.compress(&r.matches.from);
            r.matches.to = self.compress(&r.matches.to);
        }
        for t in &mut q.tunnels {
            t.routes = self.compress(&t.routes);
        }
        (self.steps <= BUDGET).then_some(q)
    }

    /// A packet description over the compressed space.
    pub fn describe(&mut self, m: &Match) -> Match {
        Match {
            from: self.compress(&m.from),
            to: self.compress(&m.to),
            ..m.clone()
        }
    }

    /// A packet of the compressed space as an original packet: each
    /// address replaced by an address of its class.
    pub fn expand_packet(&self, p: Packet) -> Packet {
        Packet {
            saddr: self.expand(p.saddr),
            daddr: self.expand(p.daddr),
            ..p
        }
    }

    /// An original address of the class a compressed address stands for.
    pub fn expand(&self, a: Addr) -> Addr {
        match a {
            Addr::V4(x) => Addr::V4(self.v4.expand(x)),
            Addr::V6(x) => Addr::V6(self.v6.expand(x)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn v4(s: &str, len: u8) -> AddrSet {
        AddrSet::v4_prefix(s.parse::<Ipv4Addr>().unwrap_or(Ipv4Addr::UNSPECIFIED), len)
    }

    fn program(sets: &[AddrSet]) -> Program {
        let mut p = Program::default();
        let mut pol = pol_lang::ir::Policy {
            id: pol_lang::ir::PolicyId(0),
            name: "p".into(),
            hook: pol_lang::ast::Hook::Output,
            default: pol_lang::ast::Verdict::Allow,
            default_span: pol_lang::span::Span::new(pol_lang::span::FileId(0), 0, 0),
            rules: Vec::new(),
            span: pol_lang::span::Span::new(pol_lang::span::FileId(0), 0, 0),
        };
        for s in sets {
            let mut m = pol_lang::ir::Match::any();
            m.to = s.clone();
            pol.rules.push(pol_lang::ir::Rule {
                verdict: pol_lang::ast::Verdict::Drop,
                matches: m,
                log: None,
                counter: false,
                comment: None,
                span: pol_lang::span::Span::new(pol_lang::span::FileId(0), 0, 0),
                origins: Vec::new(),
            });
        }
        p.policies.push(pol);
        p
    }

    #[test]
    fn addresses_in_the_same_sets_share_a_class() {
        // 10/8 ⊃ 10.1/16; 192.168/16 apart: classes outside-all, 10/8 only,
        // 10.1/16, 192.168/16 — four, however the outside is cut up.
        let a = program(&[v4("10.0.0.0", 8), v4("10.1.0.0", 16)]);
        let b = program(&[v4("192.168.0.0", 16), v4("10.0.0.0", 8)]);
        let mut c = AddrClasses::of(&[&a, &b]).unwrap();
        assert_eq!(c.len().0, 4);
        // The IPv6 side is untouched: one class, the whole family.
        assert_eq!(c.len().1, 1);
        let ca = c.program(&a).unwrap();
        let cb = c.program(&b).unwrap();
        // Each set is a few points now, and the any-sets stay any.
        assert!(ca.policies[0].rules[0].matches.from.is_any());
        for r in ca.policies[0].rules.iter().chain(&cb.policies[0].rules) {
            assert!(r.matches.to.v4.ranges().len() <= 2, "{:?}", r.matches.to);
        }
        // Every compressed address expands to an address of its class:
        // membership in every original set agrees.
        let sets = [v4("10.0.0.0", 8), v4("10.1.0.0", 16), v4("192.168.0.0", 16)];
        for x in [0u32, 1, 2, 3, 4, 1000, u32::MAX] {
            let orig = c.expand(Addr::V4(x));
            let Addr::V4(o) = orig else { panic!() };
            for s in &sets {
                let comp = c.compress(s);
                assert_eq!(comp.v4.contains(x), s.v4.contains(o), "x {x} orig {o}");
            }
        }
    }

    #[test]
    fn disjoint_ranges_are_a_class_each_and_the_gaps_one() {
        // 2,000 disjoint ranges with gaps between them.
        let sets: Vec<AddrSet> = (0..2000u32)
            .map(|i| AddrSet::v4_range(Ipv4Addr::from(i * 4), Ipv4Addr::from(i * 4 + 1)))
            .collect();
        let p = program(&sets);
        let c = AddrClasses::of(&[&p]).unwrap();
        // Each range is its own class, each gap one class with the outside.
        assert_eq!(c.len().0, 2001);
    }
}
