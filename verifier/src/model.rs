//! The packet model: the one encoding of a packet as Z3 variables that every
//! check uses, and the decoding of a Z3 model back into an `ir::Packet`.
//!
//! | field | sort | meaning |
//! |---|---|---|
//! | `sock` | Bool | the packet has a local socket (false: kernel-generated) |
//! | `cg` | BV32 | the socket's cgroup v2 node, numbered in preorder by [`CgroupIndex`]; the last number ("elsewhere") is any cgroup no group names (the root included) |
//! | `classid` | BV32 | net_cls class id, 0 = none |
//! | `uid`, `gid` | BV32 | socket owner |
//! | `v6` | Bool | family: true = IPv6, false = IPv4 |
//! | `saddr`, `daddr` | BV128 | addresses; an IPv4 address is zero-extended (bits 127..32 are 0) |
//! | `proto` | BV8 | IP protocol number |
//! | `dport` | BV16 | destination port (0 for protocols without ports) |
//!
//! Rules never match the source port, so there is no source-port variable;
//! decoded witnesses show source port 40000 for protocols with ports.
//!
//! The model is a flow's first packet; the IPv6 control messages every
//! policy accepts before its rules (`pol_lang::ipv6_control`: ND, RA, MLD)
//! are outside it, as established flows are: `proto` 58 stands for every
//! other ICMPv6 message.
//!
//! INVARIANT: `Vars::well_formed` is asserted once in every solver; every
//! satisfying assignment then decodes to a packet that `ir::Match::matches`
//! treats exactly as the formula does.

use pol_lang::ir::{Addr, CgroupPath, Packet, Program, Selector, Socket};
use pol_lang::sets::service::{has_ports, PROTO_ICMP, PROTO_ICMPV6};
use std::collections::HashMap;
use z3::ast::{Bool, BV};
use z3::Model;

/// Source port shown in witnesses (rules never constrain it).
pub const WITNESS_SPORT: u16 = 40000;

/// Every cgroup path that any group of the given programs names (with its
/// ancestors), numbered in preorder so that "this path or below it" is an
/// interval of numbers.
#[derive(Debug, Clone, Default)]
pub struct CgroupIndex {
    /// Preorder: parents before children, siblings in component order.
    paths: Vec<CgroupPath>,
    /// Path → (first, last) number of its subtree.
    subtree: HashMap<CgroupPath, (u32, u32)>,
}

impl CgroupIndex {
    pub fn new<'a>(programs: impl IntoIterator<Item = &'a Program>) -> CgroupIndex {
        let mut tree = pol_lang::ir::CgroupTree::default();
        for p in programs {
            for path in p.cgroups.paths() {
                tree.insert(path);
            }
            for g in &p.groups {
                for s in &g.selectors {
                    if let Selector::Cgroup(path) = s {
                        tree.insert(path);
                    }
                }
            }
        }
        let mut paths: Vec<CgroupPath> = tree.paths().into_iter().cloned().collect();
        paths.sort_by(|a, b| a.as_str().split('/').cmp(b.as_str().split('/')));
        let mut subtree = HashMap::with_capacity(paths.len());
        for (i, p) in paths.iter().enumerate() {
            let mut end = i;
            while end + 1 < paths.len() && paths[end + 1].is_within(p) {
                end += 1;
            }
            subtree.insert(p.clone(), (to_u32(i), to_u32(end)));
        }
        CgroupIndex { paths, subtree }
    }

    /// The number that stands for every cgroup no group names.
    pub fn elsewhere(&self) -> u32 {
        to_u32(self.paths.len())
    }

    /// Numbers of `path` and everything below it.
    pub fn subtree(&self, path: &CgroupPath) -> Option<(u32, u32)> {
        self.subtree.get(path).copied()
    }

    /// The path a number stands for (`None` for "elsewhere").
    pub fn path(&self, n: u32) -> Option<&CgroupPath> {
        self.paths.get(n as usize)
    }

    pub fn paths(&self) -> &[CgroupPath] {
        &self.paths
    }
}

pub(crate) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The Z3 variables of one symbolic packet.
#[derive(Debug, Clone)]
pub struct Vars {
    pub sock: Bool,
    pub cg: BV,
    pub classid: BV,
    pub uid: BV,
    pub gid: BV,
    pub v6: Bool,
    pub saddr: BV,
    pub daddr: BV,
    pub proto: BV,
    pub dport: BV,
}

impl Vars {
    pub fn new() -> Vars {
        Vars {
            sock: Bool::new_const("sock"),
            cg: BV::new_const("cg", 32),
            classid: BV::new_const("classid", 32),
            uid: BV::new_const("uid", 32),
            gid: BV::new_const("gid", 32),
            v6: Bool::new_const("v6"),
            saddr: BV::new_const("saddr", 128),
            daddr: BV::new_const("daddr", 128),
            proto: BV::new_const("proto", 8),
            dport: BV::new_const("dport", 16),
        }
    }

    /// The packet space: what every packet satisfies.
    pub fn well_formed(&self, cgroups: &CgroupIndex) -> Bool {
        let zero96 = BV::from_u64(0, 96);
        let v4_ok = |a: &BV| a.extract(127, 32).eq(&zero96);
        let port_protos: Vec<Bool> = (0u16..=255)
            .filter_map(|p| u8::try_from(p).ok())
            .filter(|p| has_ports(*p))
            .map(|p| self.proto.eq(BV::from_u64(u64::from(p), 8)))
            .collect();
        let with_ports = Bool::or(&port_protos);
        Bool::and(&[
            // An IPv4 packet has IPv4 addresses.
            self.v6
                .not()
                .implies(Bool::and(&[v4_ok(&self.saddr), v4_ok(&self.daddr)])),
            // ICMP only in IPv4, ICMPv6 only in IPv6.
            self.proto
                .eq(BV::from_u64(u64::from(PROTO_ICMP), 8))
                .implies(self.v6.not()),
            self.proto
                .eq(BV::from_u64(u64::from(PROTO_ICMPV6), 8))
                .implies(&self.v6),
            // Port-less protocols carry port 0 (canonical; rules ignore it).
            with_ports.not().implies(self.dport.eq(BV::from_u64(0, 16))),
            // A socket sits in a known cgroup or "elsewhere"; without one, the
            // socket fields are 0 (canonical).
            self.cg
                .bvule(BV::from_u64(u64::from(cgroups.elsewhere()), 32)),
            self.sock.not().implies(Bool::and(&[
                self.cg.eq(BV::from_u64(0, 32)),
                self.classid.eq(BV::from_u64(0, 32)),
                self.uid.eq(BV::from_u64(0, 32)),
                self.gid.eq(BV::from_u64(0, 32)),
            ])),
        ])
    }

    /// Read a packet from a model. `None` when the model lacks a value.
    pub fn decode(&self, model: &Model, cgroups: &CgroupIndex) -> Option<Packet> {
        let b = |x: &Bool| model.eval(x, true).and_then(|v| v.as_bool());
        let n = |x: &BV| model.eval(x, true).and_then(|v| v.as_u64());
        let wide = |x: &BV| -> Option<u128> {
            let hi = n(&x.extract(127, 64))?;
            let lo = n(&x.extract(63, 0))?;
            Some((u128::from(hi) << 64) | u128::from(lo))
        };
        let v6 = b(&self.v6)?;
        let (sa, da) = (wide(&self.saddr)?, wide(&self.daddr)?);
        let addr = |a: u128| {
            if v6 {
                Some(Addr::V6(a))
            } else {
                u32::try_from(a).ok().map(Addr::V4)
            }
        };
        let proto = u8::try_from(n(&self.proto)?).ok()?;
        let dport = u16::try_from(n(&self.dport)?).ok()?;
        let socket = if b(&self.sock)? {
            let cg = u32::try_from(n(&self.cg)?).ok()?;
            Some(Socket {
                cgroup: cgroups.path(cg).cloned(),
                classid: u32::try_from(n(&self.classid)?).ok()?,
                uid: u32::try_from(n(&self.uid)?).ok()?,
                gid: u32::try_from(n(&self.gid)?).ok()?,
            })
        } else {
            None
        };
        Some(Packet {
            socket,
            saddr: addr(sa)?,
            daddr: addr(da)?,
            proto,
            sport: if has_ports(proto) { WITNESS_SPORT } else { 0 },
            dport,
        })
    }
}

impl Default for Vars {
    fn default() -> Self {
        Vars::new()
    }
}
