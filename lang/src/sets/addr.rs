//! Address sets: one exact `IntervalSet` per family, and the conversions
//! between intervals and CIDR prefixes that the backends need
//! (`ip route` takes prefixes; nft interval sets take ranges).

use super::interval::IntervalSet;
use serde::Serialize;
use std::net::{Ipv4Addr, Ipv6Addr};

/// IP family of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

/// An exact set of addresses of both families.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
pub struct AddrSet {
    pub v4: IntervalSet<u32>,
    pub v6: IntervalSet<u128>,
}

impl AddrSet {
    pub fn empty() -> Self {
        AddrSet::default()
    }

    /// `any`: every address of both families.
    pub fn any() -> Self {
        AddrSet {
            v4: IntervalSet::full(),
            v6: IntervalSet::full(),
        }
    }

    pub fn v4_range(lo: Ipv4Addr, hi: Ipv4Addr) -> Self {
        AddrSet {
            v4: IntervalSet::range(u32::from(lo), u32::from(hi)),
            v6: IntervalSet::empty(),
        }
    }

    pub fn v6_range(lo: Ipv6Addr, hi: Ipv6Addr) -> Self {
        AddrSet {
            v4: IntervalSet::empty(),
            v6: IntervalSet::range(u128::from(lo), u128::from(hi)),
        }
    }

    /// A prefix. `len` must be ≤ 32; host bits are ignored (masked).
    pub fn v4_prefix(addr: Ipv4Addr, len: u8) -> Self {
        let (lo, hi) = prefix_bounds_v4(u32::from(addr), len);
        AddrSet {
            v4: IntervalSet::range(lo, hi),
            v6: IntervalSet::empty(),
        }
    }

    /// A prefix. `len` must be ≤ 128; host bits are ignored (masked).
    pub fn v6_prefix(addr: Ipv6Addr, len: u8) -> Self {
        let (lo, hi) = prefix_bounds_v6(u128::from(addr), len);
        AddrSet {
            v4: IntervalSet::empty(),
            v6: IntervalSet::range(lo, hi),
        }
    }

    pub fn union(&self, o: &Self) -> Self {
        AddrSet {
            v4: self.v4.union(&o.v4),
            v6: self.v6.union(&o.v6),
        }
    }

    /// The union of many sets in one normalisation (n log n, where folding
    /// `union` would be quadratic).
    pub fn union_all<'a>(sets: impl IntoIterator<Item = &'a AddrSet>) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for s in sets {
            v4.extend_from_slice(s.v4.ranges());
            v6.extend_from_slice(s.v6.ranges());
        }
        AddrSet {
            v4: IntervalSet::from_ranges(v4),
            v6: IntervalSet::from_ranges(v6),
        }
    }

    pub fn intersect(&self, o: &Self) -> Self {
        AddrSet {
            v4: self.v4.intersect(&o.v4),
            v6: self.v6.intersect(&o.v6),
        }
    }

    /// Complement within each family (LANGUAGE.md §3).
    pub fn complement(&self) -> Self {
        AddrSet {
            v4: self.v4.complement(),
            v6: self.v6.complement(),
        }
    }

    pub fn difference(&self, o: &Self) -> Self {
        AddrSet {
            v4: self.v4.difference(&o.v4),
            v6: self.v6.difference(&o.v6),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    pub fn is_any(&self) -> bool {
        self.v4.is_full() && self.v6.is_full()
    }

    pub fn is_subset(&self, o: &Self) -> bool {
        self.v4.is_subset(&o.v4) && self.v6.is_subset(&o.v6)
    }

    pub fn overlaps(&self, o: &Self) -> bool {
        self.v4.overlaps(&o.v4) || self.v6.overlaps(&o.v6)
    }

    pub fn has_family(&self, f: Family) -> bool {
        match f {
            Family::Ipv4 => !self.v4.is_empty(),
            Family::Ipv6 => !self.v6.is_empty(),
        }
    }

    pub fn families(&self) -> Vec<Family> {
        [Family::Ipv4, Family::Ipv6]
            .into_iter()
            .filter(|f| self.has_family(*f))
            .collect()
    }
}

pub fn prefix_bounds_v4(addr: u32, len: u8) -> (u32, u32) {
    let len = len.min(32);
    let mask: u32 = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    (addr & mask, addr | !mask)
}

pub fn prefix_bounds_v6(addr: u128, len: u8) -> (u128, u128) {
    let len = len.min(128);
    let mask: u128 = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    (addr & mask, addr | !mask)
}

/// True when `addr/len` has bits set below the prefix length.
pub fn v4_host_bits(addr: Ipv4Addr, len: u8) -> bool {
    prefix_bounds_v4(u32::from(addr), len).0 != u32::from(addr)
}

pub fn v6_host_bits(addr: Ipv6Addr, len: u8) -> bool {
    prefix_bounds_v6(u128::from(addr), len).0 != u128::from(addr)
}

/// The exact, minimal list of CIDR prefixes covering `[lo, hi]` (`bits` = 32 or 128).
pub fn range_to_prefixes(mut lo: u128, hi: u128, bits: u32) -> Vec<(u128, u8)> {
    let mut out = Vec::new();
    loop {
        if lo > hi {
            break;
        }
        // Largest block aligned at lo that does not pass hi.
        let mut size_log = if lo == 0 {
            bits
        } else {
            lo.trailing_zeros().min(bits)
        };
        loop {
            let span_minus_1: u128 = if size_log >= 128 {
                u128::MAX
            } else {
                (1u128 << size_log) - 1
            };
            match lo.checked_add(span_minus_1) {
                Some(end) if end <= hi => break,
                _ => size_log -= 1,
            }
        }
        // size_log ≤ bits ≤ 128, so the length fits in a u8.
        out.push((lo, u8::try_from(bits - size_log).unwrap_or(0)));
        let span_minus_1: u128 = if size_log >= 128 {
            u128::MAX
        } else {
            (1u128 << size_log) - 1
        };
        match lo.checked_add(span_minus_1).and_then(|e| e.checked_add(1)) {
            Some(next) => lo = next,
            None => break,
        }
    }
    out
}

/// CIDR prefixes of the IPv4 part.
pub fn v4_prefixes(set: &IntervalSet<u32>) -> Vec<(Ipv4Addr, u8)> {
    set.ranges()
        .iter()
        .flat_map(|&(a, b)| range_to_prefixes(a as u128, b as u128, 32))
        .map(|(a, l)| (Ipv4Addr::from(u32::try_from(a).unwrap_or(u32::MAX)), l))
        .collect()
}

/// CIDR prefixes of the IPv6 part.
pub fn v6_prefixes(set: &IntervalSet<u128>) -> Vec<(Ipv6Addr, u8)> {
    set.ranges()
        .iter()
        .flat_map(|&(a, b)| range_to_prefixes(a, b, 128))
        .map(|(a, l)| (Ipv6Addr::from(a), l))
        .collect()
}
