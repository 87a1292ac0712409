//! `IntervalSet<T>`: an exact set of unsigned integers kept as a sorted list
//! of disjoint, non-adjacent inclusive intervals — the one normal form every
//! address and port set is reduced to.
//!
//! INVARIANT: `ranges` is sorted, and for consecutive `(a, b)`, `(c, d)`:
//! `a <= b` and `b + 1 < c` (no overlap, no adjacency). So two equal sets
//! have equal representations, and the representation is minimal.

use serde::Serialize;
use std::fmt::Debug;

/// Unsigned integer domains the set works over (u16 ports, u32 IPv4, u128 IPv6).
pub trait Bound: Copy + Ord + Debug + Eq + std::hash::Hash {
    const MIN: Self;
    const MAX: Self;
    fn succ(self) -> Option<Self>;
    fn pred(self) -> Option<Self>;
}

macro_rules! bound {
    ($($t:ty),*) => {$(
        impl Bound for $t {
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            fn succ(self) -> Option<Self> { self.checked_add(1) }
            fn pred(self) -> Option<Self> { self.checked_sub(1) }
        }
    )*};
}
bound!(u8, u16, u32, u64, u128);

/// `a ∩ b ≠ ∅` for sorted lists of disjoint inclusive ranges (as
/// [`IntervalSet::ranges`] gives), without allocating.
pub fn ranges_overlap<T: Ord + Copy>(a: &[(T, T)], b: &[(T, T)]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        if x.0.max(y.0) <= x.1.min(y.1) {
            return true;
        }
        if x.1 < y.1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    false
}

/// `a ⊆ b` for sorted lists of disjoint inclusive ranges, `b` also
/// non-adjacent (normalised, as [`IntervalSet::ranges`] gives), without
/// allocating.
pub fn ranges_subset<T: Ord + Copy>(a: &[(T, T)], b: &[(T, T)]) -> bool {
    let mut j = 0;
    for &(lo, hi) in a {
        while j < b.len() && b[j].1 < lo {
            j += 1;
        }
        if j >= b.len() || b[j].0 > lo || b[j].1 < hi {
            return false;
        }
    }
    true
}

#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
pub struct IntervalSet<T: Bound> {
    ranges: Vec<(T, T)>,
}

impl<T: Bound> Debug for IntervalSet<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.ranges.iter()).finish()
    }
}

impl<T: Bound> Default for IntervalSet<T> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<T: Bound> IntervalSet<T> {
    pub fn empty() -> Self {
        IntervalSet { ranges: Vec::new() }
    }

    pub fn full() -> Self {
        IntervalSet {
            ranges: vec![(T::MIN, T::MAX)],
        }
    }

    /// `[lo, hi]`; empty when `lo > hi`.
    pub fn range(lo: T, hi: T) -> Self {
        if lo > hi {
            Self::empty()
        } else {
            IntervalSet {
                ranges: vec![(lo, hi)],
            }
        }
    }

    pub fn single(v: T) -> Self {
        Self::range(v, v)
    }

    /// Build from any intervals (unsorted, overlapping): normalises.
    pub fn from_ranges(iter: impl IntoIterator<Item = (T, T)>) -> Self {
        let mut v: Vec<(T, T)> = iter.into_iter().filter(|(a, b)| a <= b).collect();
        v.sort();
        let mut out: Vec<(T, T)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            if let Some(last) = out.last_mut() {
                // Merge when overlapping or adjacent.
                if last.1.succ().is_none_or(|n| a <= n) {
                    if b > last.1 {
                        last.1 = b;
                    }
                    continue;
                }
            }
            out.push((a, b));
        }
        IntervalSet { ranges: out }
    }

    pub fn ranges(&self) -> &[(T, T)] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.ranges.len() == 1 && self.ranges[0] == (T::MIN, T::MAX)
    }

    pub fn contains(&self, v: T) -> bool {
        self.ranges
            .binary_search_by(|&(a, b)| {
                if v < a {
                    std::cmp::Ordering::Greater
                } else if v > b {
                    std::cmp::Ordering::Less
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }

    pub fn union(&self, other: &Self) -> Self {
        Self::from_ranges(self.ranges.iter().chain(other.ranges.iter()).copied())
    }

    pub fn complement(&self) -> Self {
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        let mut next = Some(T::MIN);
        for &(a, b) in &self.ranges {
            if let Some(n) = next {
                if n < a {
                    if let Some(p) = a.pred() {
                        out.push((n, p));
                    }
                }
            }
            next = b.succ();
        }
        if let Some(n) = next {
            out.push((n, T::MAX));
        }
        IntervalSet { ranges: out }
    }

    pub fn intersect(&self, other: &Self) -> Self {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < self.ranges.len() && j < other.ranges.len() {
            let (a, b) = self.ranges[i];
            let (c, d) = other.ranges[j];
            let lo = a.max(c);
            let hi = b.min(d);
            if lo <= hi {
                out.push((lo, hi));
            }
            if b < d {
                i += 1;
            } else {
                j += 1;
            }
        }
        IntervalSet { ranges: out }
    }

    pub fn difference(&self, other: &Self) -> Self {
        self.intersect(&other.complement())
    }

    pub fn is_subset(&self, other: &Self) -> bool {
        ranges_subset(&self.ranges, &other.ranges)
    }

    pub fn overlaps(&self, other: &Self) -> bool {
        ranges_overlap(&self.ranges, &other.ranges)
    }

    /// The smallest element, if any.
    pub fn first(&self) -> Option<T> {
        self.ranges.first().map(|r| r.0)
    }
}
