//! From IR sets to Z3 formulas over the packet model (`model::Vars`).
//!
//! Each function returns a formula that holds exactly for the packets in
//! the set; `Match::matches` is the concrete twin of [`Encoder::matches`].

use crate::model::{CgroupIndex, Vars};
use pol_lang::ir::{GroupId, Match, Program, Selector, TunnelId};
use pol_lang::sets::service::has_ports;
use pol_lang::sets::{AddrSet, IntervalSet, ServiceSet};
use z3::ast::{Bool, BV};

/// Builds formulas for one program over shared packet variables (two
/// programs share them in `diff`).
pub struct Encoder<'a> {
    pub vars: &'a Vars,
    pub cgroups: &'a CgroupIndex,
    pub program: &'a Program,
}

fn bv128(v: u128) -> BV {
    // from_str only fails on a malformed numeral; a decimal u128 is not one.
    BV::from_str(128, &v.to_string()).unwrap_or_else(|| BV::from_u64(0, 128))
}

/// `lo <= x <= hi` over an interval list, leaving out trivial bounds.
fn in_ranges<T: pol_lang::sets::interval::Bound>(
    set: &IntervalSet<T>,
    x: &BV,
    max: T,
    mk: impl Fn(T) -> BV,
    zero: T,
) -> Bool {
    let parts: Vec<Bool> = set
        .ranges()
        .iter()
        .map(|&(lo, hi)| {
            let mut c = Vec::with_capacity(2);
            if lo == hi {
                return x.eq(mk(lo));
            }
            if lo != zero {
                c.push(x.bvuge(mk(lo)));
            }
            if hi != max {
                c.push(x.bvule(mk(hi)));
            }
            if c.is_empty() {
                Bool::from_bool(true)
            } else {
                Bool::and(&c)
            }
        })
        .collect();
    if parts.is_empty() {
        Bool::from_bool(false)
    } else {
        Bool::or(&parts)
    }
}

impl Encoder<'_> {
    /// `a ∈ set`, respecting the packet's family.
    pub fn addr_in(&self, set: &AddrSet, a: &BV) -> Bool {
        if set.is_any() {
            return Bool::from_bool(true);
        }
        let v4 = in_ranges(&set.v4, a, u32::MAX, |v| BV::from_u64(u64::from(v), 128), 0);
        let v6 = in_ranges(&set.v6, a, u128::MAX, bv128, 0);
        let v = &self.vars.v6;
        Bool::or(&[Bool::and(&[v.not(), v4]), Bool::and(&[v.clone(), v6])])
    }

    /// The socket is in group `g` (one of its selectors holds).
    pub fn group(&self, g: GroupId) -> Bool {
        let v = self.vars;
        let sels: Vec<Bool> = self
            .program
            .group(g)
            .selectors
            .iter()
            .map(|s| match s {
                Selector::Cgroup(p) => match self.cgroups.subtree(p) {
                    Some((lo, hi)) => Bool::and(&[
                        v.cg.bvuge(BV::from_u64(u64::from(lo), 32)),
                        v.cg.bvule(BV::from_u64(u64::from(hi), 32)),
                    ]),
                    None => Bool::from_bool(false),
                },
                Selector::Classid(c) => v.classid.eq(BV::from_u64(u64::from(c.0), 32)),
                Selector::Uid(u) => v.uid.eq(BV::from_u64(u64::from(*u), 32)),
                Selector::Gid(g) => v.gid.eq(BV::from_u64(u64::from(*g), 32)),
            })
            .collect();
        Bool::and(&[v.sock.clone(), Bool::or(&sels)])
    }

    pub fn groups(&self, gs: Option<&[GroupId]>) -> Bool {
        match gs {
            None => Bool::from_bool(true),
            Some(gs) => Bool::or(&gs.iter().map(|g| self.group(*g)).collect::<Vec<_>>()),
        }
    }

    /// The packet's protocol and destination port are in the set.
    pub fn service(&self, s: &ServiceSet) -> Bool {
        let v = self.vars;
        let parts: Vec<Bool> = s
            .protos
            .iter()
            .map(|(p, ports)| {
                let is_p = v.proto.eq(BV::from_u64(u64::from(*p), 8));
                if has_ports(*p) && !ports.is_full() {
                    Bool::and(&[
                        is_p,
                        in_ranges(
                            ports,
                            &v.dport,
                            u16::MAX,
                            |x| BV::from_u64(u64::from(x), 16),
                            0,
                        ),
                    ])
                } else {
                    is_p
                }
            })
            .collect();
        Bool::or(&parts)
    }

    /// The packet leaves through tunnel `t` (its destination is in the routes).
    pub fn via(&self, t: TunnelId) -> Bool {
        self.addr_in(&self.program.tunnel(t).routes, &self.vars.daddr)
    }

    /// The packet matches `m` (LANGUAGE.md §4).
    pub fn matches(&self, m: &Match) -> Bool {
        let mut c = vec![
            self.groups(m.groups.as_deref()),
            self.addr_in(&m.from, &self.vars.saddr),
            self.addr_in(&m.to, &self.vars.daddr),
        ];
        if let Some(s) = &m.service {
            c.push(self.service(s));
        }
        if let Some(t) = m.via {
            c.push(self.via(t));
        }
        Bool::and(&c)
    }
}
