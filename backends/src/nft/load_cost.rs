//! What a structure costs `nft -f` to load, estimated from what was
//! measured here (2 cores, kernel 6.18, nftables 1.0.6;
//! `scripts/dataplane/nft_floor.py`, docs/performance.md "Data plane"),
//! so address dispatch never writes a run that loads slower than its rules
//! would (issue 13).
//!
//! Per object, with its `comment "FILE:LINE"`:
//! - a rule: ~40 µs (per family part);
//! - a chain or a map: ~150 µs;
//! - an element of a single-field interval map (the dispatch maps,
//!   rbtree): ~10 µs IPv4, ~11 µs IPv6;
//! - a cell (a concatenated interval map, pipapo), by family and by
//!   whether the key holds one address or both: ~13 / ~19 µs IPv4, ~29 /
//!   ~54 µs IPv6, for prefixes and single ports. The kernel stores each
//!   field's range as the prefixes that cover it, and each prefix past the
//!   first costs more (`field_extra`): a port range 1–65534 (30 prefixes)
//!   makes an ~90 µs IPv4 cell, more than two rules;
//! - a cell as an exact element of a hash map (`hashed`: its addresses
//!   masked to their prefixes, one port): ~9 / ~11 µs IPv4, ~9 / ~12 µs
//!   IPv6 — a third to a quarter of an IPv6 interval cell.

use super::cells::Cell;
use pol_lang::sets::Family;

/// Microseconds per rule (each family part).
const RULE: u64 = 40;
/// Microseconds per chain or map.
const OBJECT: u64 = 150;
/// Microseconds a cell's field of `n` prefixes costs past one prefix:
/// ~1.4 µs per prefix, growing with their number (a port range of 6
/// prefixes measured +7 µs, one of 30 +76 µs, in either family).
fn field_extra(n: usize) -> u64 {
    let m = n.saturating_sub(1) as u64;
    (14 * m + 2 * m * m / 5) / 10
}

/// An estimate being added up.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LoadCost {
    micros: u64,
}

impl LoadCost {
    pub fn micros(self) -> u64 {
        self.micros
    }

    /// `n` rules (family parts).
    pub fn rules(&mut self, n: usize) {
        self.micros += RULE * n as u64;
    }

    /// `n` chains or maps.
    pub fn objects(&mut self, n: usize) {
        self.micros += OBJECT * n as u64;
    }

    /// A share of `n` chains or maps, each holding up to `per` of the
    /// `items` (grouped maps: `items` / `per` of them, rounded up).
    pub fn objects_shared(&mut self, n: usize, items: usize, per: usize) {
        self.micros += (OBJECT * n as u64 * items as u64).div_ceil(per.max(1) as u64);
    }

    /// `n` elements of a single-field interval map.
    pub fn interval_elements(&mut self, fam: Family, n: usize) {
        let each = match fam {
            Family::Ipv4 => 10,
            Family::Ipv6 => 11,
        };
        self.micros += each * n as u64;
    }

    /// One cell, keyed by its address (and, in a grouped map, by the
    /// dispatch piece's `piece` as well), protocol and port.
    pub fn cell(&mut self, fam: Family, piece: Option<(u128, u128)>, cell: &Cell) {
        let base = match (fam, piece.is_some()) {
            (Family::Ipv4, false) => 13,
            (Family::Ipv4, true) => 19,
            (Family::Ipv6, false) => 29,
            (Family::Ipv6, true) => 54,
        };
        let bits = match fam {
            Family::Ipv4 => 32,
            Family::Ipv6 => 128,
        };
        let mut extra = field_extra(prefixes(cell.addr.0, cell.addr.1, bits));
        extra += field_extra(prefixes(
            u128::from(cell.ports.0),
            u128::from(cell.ports.1),
            16,
        ));
        if let Some((lo, hi)) = piece {
            extra += field_extra(prefixes(lo, hi, bits));
        }
        self.micros += base + extra;
    }
}

impl LoadCost {
    /// One cell as an exact element of a hash map (`hashed`), keyed by
    /// one address or (`both`) two, protocol and port.
    pub fn hash_cell(&mut self, fam: Family, both: bool) {
        self.micros += match (fam, both) {
            (Family::Ipv4, false) => 9,
            (Family::Ipv4, true) => 11,
            (Family::Ipv6, false) => 9,
            (Family::Ipv6, true) => 12,
        };
    }
}

/// How many prefixes cover `[lo, hi]` in a `bits`-bit space (at least 1).
pub fn prefixes(lo: u128, hi: u128, bits: u32) -> usize {
    let max = block_end(0, bits);
    let (mut lo, hi) = (lo.min(max), hi.min(max));
    if lo > hi {
        return 1;
    }
    // Most fields are one prefix (an address block, a single port).
    let span = hi - lo;
    if span & span.wrapping_add(1) == 0 && lo & span == 0 {
        return 1;
    }
    let mut n = 0;
    loop {
        // The largest block aligned at `lo` that ends by `hi`.
        let mut k = lo.trailing_zeros().min(bits);
        while k > 0 && block_end(lo, k) > hi {
            k -= 1;
        }
        n += 1;
        let end = block_end(lo, k);
        if end >= hi {
            return n;
        }
        lo = end + 1;
    }
}

/// The last address of the `2^k` block starting at `lo` (aligned).
fn block_end(lo: u128, k: u32) -> u128 {
    if k >= 128 {
        u128::MAX
    } else {
        lo | ((1u128 << k) - 1)
    }
}

impl std::ops::AddAssign for LoadCost {
    fn add_assign(&mut self, other: LoadCost) {
        self.micros += other.micros;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_cover_ranges() {
        assert_eq!(prefixes(0, u128::from(u32::MAX), 32), 1);
        assert_eq!(prefixes(0, u128::MAX, 128), 1);
        assert_eq!(prefixes(80, 80, 16), 1);
        assert_eq!(prefixes(0xffff, 0xffff, 16), 1);
        // 1-65534: 1, 2-3, 4-7, … and back down: 15 + 15.
        assert_eq!(prefixes(1, 65534, 16), 30);
        assert_eq!(prefixes(1024, 2047, 16), 1);
        assert_eq!(prefixes(1000, 1100, 16), 6);
        // 10.0.2.0-10.0.255.255: /23 /22 /21 /20 /19 /18 /17.
        assert_eq!(prefixes(0x0a00_0200, 0x0a00_ffff, 32), 7);
        assert_eq!(prefixes(1, u128::MAX, 128), 128);
    }

    /// The cells measured by `scripts/dataplane/nft_floor.py` and the
    /// grouped-map variants (docs/performance.md), within 25%.
    #[test]
    fn cell_costs_match_measurements() {
        let cell = |addr: (u128, u128), ports: (u16, u16)| Cell {
            addr,
            proto: 6,
            ports,
            rule: 0,
        };
        let v4_28 = (0x0a00_0100, 0x0a00_010f);
        let v6_48 = (
            0x2001_0db8_0001u128 << 80,
            (0x2001_0db8_0001u128 << 80) | ((1u128 << 80) - 1),
        );
        let src4 = Some((0xac10_0000, 0xac10_ffff));
        let src6 = Some((
            0xfd00u128 << 112,
            (0xfd00u128 << 112) | ((1u128 << 112) - 1),
        ));
        let cases = [
            (Family::Ipv4, None, cell(v4_28, (1000, 1000)), 13.2),
            (Family::Ipv4, None, cell(v4_28, (1000, 1100)), 20.2),
            (Family::Ipv4, None, cell(v4_28, (1, 65534)), 89.0),
            (Family::Ipv4, src4, cell(v4_28, (1000, 1000)), 18.5),
            (Family::Ipv4, src4, cell(v4_28, (1000, 1100)), 26.5),
            (Family::Ipv6, None, cell(v6_48, (1000, 1000)), 28.8),
            (Family::Ipv6, None, cell(v6_48, (1000, 1100)), 40.0),
            (Family::Ipv6, None, cell(v6_48, (1, 65534)), 106.0),
            (Family::Ipv6, src6, cell(v6_48, (1000, 1000)), 53.5),
            (Family::Ipv6, src6, cell(v6_48, (1000, 1100)), 65.0),
        ];
        // nft_floor.py's `hash:` kinds, masked addresses, with comments.
        for (fam, both, measured) in [
            (Family::Ipv4, false, 8.7),
            (Family::Ipv6, false, 9.4),
            (Family::Ipv4, true, 11.0),
            (Family::Ipv6, true, 12.1),
        ] {
            let mut cost = LoadCost::default();
            cost.hash_cell(fam, both);
            let est = cost.micros() as f64;
            assert!(
                (est - measured).abs() <= 0.25 * measured,
                "hash {fam:?} both {both}: estimated {est} µs, measured {measured} µs"
            );
        }
        for (fam, piece, c, measured) in cases {
            let mut cost = LoadCost::default();
            cost.cell(fam, piece, &c);
            let est = cost.micros() as f64;
            assert!(
                (est - measured).abs() <= 0.25 * measured,
                "{fam:?} {piece:?} {c:?}: estimated {est} µs, measured {measured} µs"
            );
        }
    }
}
