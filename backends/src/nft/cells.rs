//! A bucket's rules as disjoint cells of one concatenated interval map
//! (`ADDR . meta l4proto . th dport : VERDICT`), exact under first match.
//!
//! The bucket's rules are cut into pieces on the remaining address field
//! (`dispatch::pieces`); within a piece, each protocol's ports are cut at
//! every boundary of the rules that list that protocol, and each port
//! interval goes to the first rule of the piece containing it. Adjacent
//! port intervals won by the same rule are merged. Intervals no rule
//! contains are no element: such packets fall through, as they would
//! through the rules. nft refuses overlapping elements in such a map;
//! cells never overlap by construction.
//!
//! Only rules whose every protocol carries ports (TCP, UDP, UDP-Lite,
//! SCTP, DCCP) are cells: `th dport` of a packet without a transport
//! header of that shape is not a port, so a protocol-only rule stays a
//! rule.

use super::dispatch::{family_ranges, pieces};
use pol_lang::ir::Rule;
use pol_lang::sets::service::{has_ports, proto_families};
use pol_lang::sets::{AddrSet, Family};

/// One element: address interval, protocol, port interval, and the index
/// (in the bucket's list) of the rule that decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub addr: (u128, u128),
    pub proto: u8,
    pub ports: (u16, u16),
    pub rule: usize,
}

/// True when every protocol `rule` names (in `fam`) carries ports.
pub fn cellable(rule: &Rule, fam: Family) -> bool {
    let Some(svc) = &rule.matches.service else {
        return false;
    };
    svc.protos
        .keys()
        .filter(|p| proto_families(**p).contains(&fam))
        .all(|p| has_ports(*p))
}

/// The cells of `rules` (in order) keyed by `addr_of` in `fam`, or `None`
/// past `budget` elements.
pub fn cells(
    rules: &[&Rule],
    addr_of: &dyn Fn(&Rule) -> &AddrSet,
    fam: Family,
    budget: usize,
) -> Option<Vec<Cell>> {
    let ranges: Vec<Vec<(u128, u128)>> = rules
        .iter()
        .map(|r| family_ranges(addr_of(r), fam))
        .collect();
    let mut out: Vec<Cell> = Vec::new();
    // Reused for every piece and protocol.
    let mut protos: Vec<u8> = Vec::new();
    let mut bounds: Vec<u32> = Vec::new();
    let mut holders: Vec<(usize, &[(u16, u16)])> = Vec::new();
    for piece in pieces(&ranges, budget.saturating_mul(4))? {
        protos.clear();
        for &i in &piece.rules {
            if let Some(s) = &rules[i].matches.service {
                protos.extend(
                    s.protos
                        .keys()
                        .filter(|p| proto_families(**p).contains(&fam)),
                );
            }
        }
        protos.sort_unstable();
        protos.dedup();
        for &p in &protos {
            // Port boundaries of the piece's rules that list `p`.
            bounds.clear();
            bounds.push(0);
            holders.clear();
            for &i in &piece.rules {
                let Some(ports) = rules[i]
                    .matches
                    .service
                    .as_ref()
                    .and_then(|s| s.protos.get(&p))
                else {
                    continue;
                };
                for &(lo, hi) in ports.ranges() {
                    bounds.push(u32::from(lo));
                    bounds.push(u32::from(hi) + 1);
                }
                holders.push((i, ports.ranges()));
            }
            bounds.sort_unstable();
            bounds.dedup();
            for w in bounds
                .windows(2)
                .map(|w| (w[0], w[1] - 1))
                .chain(bounds.last().filter(|&&b| b <= 65535).map(|&b| (b, 65535)))
            {
                let (lo, hi) = (w.0 as u16, w.1 as u16);
                let winner = holders
                    .iter()
                    .find(|(_, rs)| rs.iter().any(|&(a, b)| a <= lo && hi <= b))
                    .map(|(i, _)| *i);
                let Some(rule) = winner else { continue };
                match out.last_mut() {
                    Some(c)
                        if c.rule == rule
                            && c.proto == p
                            && c.addr == (piece.lo, piece.hi)
                            && u32::from(c.ports.1) + 1 == u32::from(lo) =>
                    {
                        c.ports.1 = hi;
                    }
                    _ => {
                        if out.len() >= budget {
                            return None;
                        }
                        out.push(Cell {
                            addr: (piece.lo, piece.hi),
                            proto: p,
                            ports: (lo, hi),
                            rule,
                        });
                    }
                }
            }
        }
    }
    Some(out)
}
