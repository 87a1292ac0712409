//! Cells as exact keys: which of a chain's cells become elements of hash
//! maps keyed on masked addresses, and which stay in its interval map.
//!
//! A cell whose address (and, in a grouped map, dispatch piece) is one
//! prefix of at least one bit, and whose port is one port, is the exact
//! element `NET . PROTO . PORT` of a hash map looked up with the address
//! masked to that prefix length: `ip daddr & 255.255.255.240 . meta
//! l4proto . th dport vmap @hash_N`. One map per tuple of prefix lengths
//! (a mask is part of the lookup, not of the element). A host address
//! (/32, /128) is looked up unmasked.
//!
//! Exact under first match whatever the split: a chain's cells are
//! disjoint (`cells`), so a packet is in at most one element of all of
//! the chain's maps, and looking them up one after the other finds the
//! same verdict as one map holding them all.
//!
//! Why: an IPv6 interval cell costs nft ~29–54 µs to load, a hash
//! element ~9–12 µs (`load_cost`). A group of cells moves to a hash map
//! when what its elements save pays for the map and its lookup; at most
//! `MAX_MAPS` per chain, as each is one more lookup for a new flow.

use super::cells::Cell;
use super::load_cost::LoadCost;
use pol_lang::sets::Family;
use std::collections::BTreeMap;

/// Most hash maps a chain of cells looks up (each costs a new flow a
/// lookup of ~0.1 µs).
pub const MAX_MAPS: usize = 4;

/// The prefix lengths of a hashed cell: its dispatch piece's (in a
/// grouped map) and its address's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tuple {
    pub piece: Option<u32>,
    pub addr: u32,
}

pub fn bits(fam: Family) -> u32 {
    match fam {
        Family::Ipv4 => 32,
        Family::Ipv6 => 128,
    }
}

/// The length of the prefix `[lo, hi]` is in a `bits`-bit space, when it
/// is exactly one prefix.
pub fn prefix_len(lo: u128, hi: u128, bits: u32) -> Option<u32> {
    if lo > hi {
        return None;
    }
    let span = hi - lo;
    // `span + 1` must be a power of two 2^k with `lo` aligned to it.
    if span != u128::MAX && (span & (span + 1)) != 0 {
        return None;
    }
    let host = 128 - span.leading_zeros();
    if host > bits || lo & span != 0 {
        return None;
    }
    Some(bits - host)
}

/// The tuple a cell (with its piece, in a grouped map) hashes under, or
/// `None` when it cannot be an exact element: a range that is not one
/// prefix, a prefix of no bits (all addresses: nothing to mask), or a
/// port range.
pub fn tuple(fam: Family, piece: Option<(u128, u128)>, cell: &Cell) -> Option<Tuple> {
    if cell.ports.0 != cell.ports.1 {
        return None;
    }
    let b = bits(fam);
    let len = |(lo, hi): (u128, u128)| prefix_len(lo, hi, b).filter(|&l| l > 0);
    Some(Tuple {
        piece: match piece {
            Some(p) => Some(len(p)?),
            None => None,
        },
        addr: len(cell.addr)?,
    })
}

/// Where each of a chain's cells goes: hash maps (by tuple, each with the
/// indices of its cells) and the interval map (`rest`).
#[derive(Debug, Default)]
pub struct Split {
    pub hashed: Vec<(Tuple, Vec<usize>)>,
    pub rest: Vec<usize>,
}

/// Split `items` (each cell with its piece in a grouped map) between
/// hash maps and the interval map, and what that loads in: the maps,
/// their lookups and their elements (not the chain). `always`: every
/// group that can be hashed is (up to `MAX_MAPS`), whether it pays or not
/// (`BuildOptions::addr_dispatch_always`, for tests).
pub fn split(
    fam: Family,
    items: &[(Option<(u128, u128)>, &Cell)],
    always: bool,
) -> (Split, LoadCost) {
    let both = items.iter().any(|(p, _)| p.is_some());
    let interval = |(p, c): &(Option<(u128, u128)>, &Cell)| {
        let mut l = LoadCost::default();
        l.cell(fam, *p, c);
        l.micros()
    };
    let mut groups: BTreeMap<Tuple, Vec<usize>> = BTreeMap::new();
    let mut rest = Vec::new();
    for (i, (p, c)) in items.iter().enumerate() {
        match tuple(fam, *p, c) {
            Some(t) => groups.entry(t).or_default().push(i),
            None => rest.push(i),
        }
    }
    let mut hash_one = LoadCost::default();
    hash_one.hash_cell(fam, both);
    let mut map = LoadCost::default();
    map.objects(1);
    map.rules(1);
    // What moving each group saves, best first.
    let mut scored: Vec<(i64, Tuple, Vec<usize>)> = groups
        .into_iter()
        .map(|(t, ix)| {
            let save: i64 = ix
                .iter()
                .map(|&i| interval(&items[i]) as i64 - hash_one.micros() as i64)
                .sum();
            (save - map.micros() as i64, t, ix)
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out = Split::default();
    let mut cost = LoadCost::default();
    for (save, t, ix) in scored {
        if (save > 0 || always) && out.hashed.len() < MAX_MAPS {
            cost += map;
            for _ in &ix {
                cost += hash_one;
            }
            out.hashed.push((t, ix));
        } else {
            rest.extend(ix);
        }
    }
    rest.sort_unstable();
    if !rest.is_empty() {
        cost += map;
        for &i in &rest {
            let mut l = LoadCost::default();
            l.cell(fam, items[i].0, items[i].1);
            cost += l;
        }
    }
    out.hashed.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    out.rest = rest;
    (out, cost)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(addr: (u128, u128), ports: (u16, u16)) -> Cell {
        Cell {
            addr,
            proto: 6,
            ports,
            rule: 0,
        }
    }

    #[test]
    fn prefixes_and_not() {
        assert_eq!(prefix_len(0x0a00_0100, 0x0a00_010f, 32), Some(28));
        assert_eq!(prefix_len(0x0a00_0101, 0x0a00_0101, 32), Some(32));
        assert_eq!(prefix_len(0, u128::from(u32::MAX), 32), Some(0));
        assert_eq!(prefix_len(0, u128::MAX, 128), Some(0));
        assert_eq!(prefix_len(1u128 << 127, u128::MAX, 128), Some(1));
        // Not aligned, not a power of two, wider than the family.
        assert_eq!(prefix_len(0x0a00_0108, 0x0a00_0117, 32), None);
        assert_eq!(prefix_len(0x0a00_0100, 0x0a00_0102, 32), None);
        assert_eq!(prefix_len(0, 1u128 << 40, 32), None);
    }

    #[test]
    fn only_prefixes_with_one_port_hash() {
        let v4_28 = (0x0a00_0100, 0x0a00_010f);
        let t = tuple(Family::Ipv4, None, &cell(v4_28, (80, 80)));
        assert_eq!(
            t,
            Some(Tuple {
                piece: None,
                addr: 28
            })
        );
        assert_eq!(tuple(Family::Ipv4, None, &cell(v4_28, (80, 81))), None);
        assert_eq!(
            tuple(
                Family::Ipv4,
                None,
                &cell((0, u128::from(u32::MAX)), (80, 80))
            ),
            None
        );
        assert_eq!(
            tuple(
                Family::Ipv4,
                Some((0x0a00_0100, 0x0a00_0102)),
                &cell(v4_28, (80, 80))
            ),
            None
        );
    }

    /// IPv6 prefix cells leave the interval map as soon as a handful pay
    /// for their map; a lone IPv4 cell stays; no more than `MAX_MAPS` maps.
    #[test]
    fn groups_move_when_they_pay() {
        let v6 = |i: u128, len: u32| {
            let lo = (0x2001_0db8u128 << 96) | (i << (128 - len));
            cell((lo, lo | ((1u128 << (128 - len)) - 1)), (443, 443))
        };
        let cells: Vec<Cell> = (0..40).map(|i| v6(i, 48)).collect();
        let items: Vec<_> = cells.iter().map(|c| (None, c)).collect();
        let (s, _) = split(Family::Ipv6, &items, false);
        assert_eq!(s.hashed.len(), 1);
        assert!(s.rest.is_empty());

        let lone = [cell((0x0a00_0100, 0x0a00_010f), (80, 80))];
        let items: Vec<_> = lone.iter().map(|c| (None, c)).collect();
        let (s, _) = split(Family::Ipv4, &items, false);
        assert!(s.hashed.is_empty());
        assert_eq!(s.rest, vec![0]);
        let (s, _) = split(Family::Ipv4, &items, true);
        assert_eq!(s.hashed.len(), 1);
        assert!(s.rest.is_empty());

        let cells: Vec<Cell> = (0..6)
            .flat_map(|k| (0..40).map(move |i| v6(i, 40 + 4 * k)))
            .collect();
        let items: Vec<_> = cells.iter().map(|c| (None, c)).collect();
        let (s, _) = split(Family::Ipv6, &items, false);
        assert_eq!(s.hashed.len(), MAX_MAPS);
        assert_eq!(s.rest.len(), 80);
    }
}
