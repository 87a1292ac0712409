//! Exact set algebra on unions of boxes: the solver-free path for the
//! first-match questions (which earlier rules decide a rule's packets, is
//! anything left, which later rule would get the rest).
//!
//! The packet space is extended to a product of eight integer dimensions
//! per family (`v6` false/true):
//!
//! | dim | values |
//! |---|---|
//! | `CG` | cgroup node numbers (`CgroupIndex`), `elsewhere`, and `NOSOCK = elsewhere + 1` = "no socket" |
//! | `CLASSID`, `UID`, `GID` | 32-bit |
//! | `SADDR`, `DADDR` | IPv4 values (< 2^32) or IPv6 |
//! | `PROTO` | protocols valid in the family |
//! | `DPORT` | 16-bit |
//!
//! A box is a product of one interval list per dimension; a rule's packets
//! are a union of boxes ([`Region::of`]): per family, per socket selector
//! dimension ("cylinder") and per group of protocols sharing a port set.
//!
//! The extension is harmless: without a socket the socket fields and, for
//! protocols without ports, the port, are canonically 0 in the packet
//! model, and no rule's membership depends on them there (rules with groups
//! never contain `NOSOCK`; rules without groups are full on the socket
//! fields; a port-less protocol always comes with the full port set). So
//! every set built from rule regions by intersection and difference is
//! invariant under those fields, and a point of it is turned into a
//! packet by setting them to 0 ([`PBox::packet`]): an empty result is exact,
//! and a non-empty one gives a concrete packet.
//!
//! Which rule of a list decides each packet of a box is answered by the
//! cell search of `crate::cells`, on these boxes; this module also has a
//! cheap probe for a point of a box outside a list of boxes.

use crate::index::Summary;
use crate::model::CgroupIndex;
use pol_lang::ir::{Addr, Packet, Socket};
use pol_lang::sets::service::{has_ports, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

pub const NDIM: usize = 8;
pub const CG: usize = 0;
pub const CLASSID: usize = 1;
pub const UID: usize = 2;
pub const GID: usize = 3;
pub const SADDR: usize = 4;
pub const DADDR: usize = 5;
pub const PROTO: usize = 6;
pub const DPORT: usize = 7;

/// Dimensions in the order overlap tests look at them: the ones that most
/// often tell boxes apart first.
const ORDER: [usize; NDIM] = [DADDR, DPORT, PROTO, SADDR, CG, CLASSID, UID, GID];

/// An inclusive range of values of one dimension.
pub type R = (u128, u128);

/// One box: a family and, per dimension, a sorted list of disjoint,
/// non-adjacent inclusive intervals (all in one allocation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PBox {
    v6: bool,
    off: [u32; NDIM + 1],
    r: Vec<R>,
}

fn intersect(a: &[R], b: &[R], out: &mut Vec<R>) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        let (lo, hi) = (x.0.max(y.0), x.1.min(y.1));
        if lo <= hi {
            out.push((lo, hi));
        }
        if x.1 < y.1 {
            i += 1;
        } else {
            j += 1;
        }
    }
}

/// `a \ b` appended to `out`.
fn difference(a: &[R], b: &[R], out: &mut Vec<R>) {
    let mut j = 0;
    for &(lo, hi) in a {
        let mut lo = lo;
        let mut done = false;
        while j < b.len() && b[j].1 < lo {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && b[k].0 <= hi {
            let (c, d) = b[k];
            if c > lo {
                out.push((lo, c - 1));
            }
            if d >= hi {
                done = true;
                break;
            }
            lo = d + 1;
            k += 1;
        }
        if !done {
            out.push((lo, hi));
        }
    }
}

use pol_lang::sets::interval::ranges_overlap as overlaps;
/// `a ⊆ b` for sorted range lists (`b` normalised, as every box's is).
pub use pol_lang::sets::interval::ranges_subset as is_subset;

impl PBox {
    /// A box of family `v6` with one sorted list of disjoint, non-adjacent
    /// inclusive ranges per dimension.
    pub fn new(v6: bool, dims: [&[R]; NDIM]) -> PBox {
        let mut off = [0u32; NDIM + 1];
        let mut r = Vec::with_capacity(dims.iter().map(|d| d.len()).sum());
        for (k, d) in dims.iter().enumerate() {
            r.extend_from_slice(d);
            off[k + 1] = u32::try_from(r.len()).unwrap_or(u32::MAX);
        }
        PBox { v6, off, r }
    }

    /// The same box with dimension `k` replaced by `ranges`.
    pub(crate) fn with_dim(&self, k: usize, ranges: &[R]) -> PBox {
        let mut dims: [&[R]; NDIM] = [&[]; NDIM];
        for (j, d) in dims.iter_mut().enumerate() {
            *d = if j == k { ranges } else { self.dim(j) };
        }
        PBox::new(self.v6, dims)
    }

    pub fn dim(&self, k: usize) -> &[R] {
        &self.r[self.off[k] as usize..self.off[k + 1] as usize]
    }

    fn is_empty(&self) -> bool {
        (0..NDIM).any(|k| self.off[k] == self.off[k + 1])
    }

    pub fn overlaps(&self, o: &PBox) -> bool {
        self.v6 == o.v6 && ORDER.iter().all(|&k| overlaps(self.dim(k), o.dim(k)))
    }

    fn intersect(&self, o: &PBox) -> Option<PBox> {
        if !self.overlaps(o) {
            return None;
        }
        let mut off = [0u32; NDIM + 1];
        let mut r = Vec::new();
        for k in 0..NDIM {
            intersect(self.dim(k), o.dim(k), &mut r);
            off[k + 1] = u32::try_from(r.len()).unwrap_or(u32::MAX);
        }
        Some(PBox {
            v6: self.v6,
            off,
            r,
        })
    }

    /// A concrete packet of the box (canonical socket and port fields;
    /// tcp or udp preferred as the protocol).
    pub fn packet(&self, cgroups: &CgroupIndex) -> Option<Packet> {
        let lo = |k: usize| self.dim(k).first().map(|r| r.0);
        let contains = |k: usize, v: u128| self.dim(k).iter().any(|r| r.0 <= v && v <= r.1);
        let cg = lo(CG)?;
        let socket = if cg > u128::from(cgroups.elsewhere()) {
            None
        } else {
            Some(Socket {
                cgroup: cgroups.path(u32::try_from(cg).ok()?).cloned(),
                classid: u32::try_from(lo(CLASSID)?).ok()?,
                uid: u32::try_from(lo(UID)?).ok()?,
                gid: u32::try_from(lo(GID)?).ok()?,
            })
        };
        let proto = [PROTO_TCP, PROTO_UDP]
            .into_iter()
            .find(|p| contains(PROTO, u128::from(*p)))
            .map_or_else(|| lo(PROTO).and_then(|p| u8::try_from(p).ok()), Some)?;
        let dport = if has_ports(proto) {
            u16::try_from(lo(DPORT)?).ok()?
        } else {
            0
        };
        let addr = |a: u128| {
            if self.v6 {
                Some(Addr::V6(a))
            } else {
                u32::try_from(a).ok().map(Addr::V4)
            }
        };
        Some(Packet {
            socket,
            saddr: addr(lo(SADDR)?)?,
            daddr: addr(lo(DADDR)?)?,
            proto,
            sport: if has_ports(proto) {
                crate::model::WITNESS_SPORT
            } else {
                0
            },
            dport,
        })
    }
}

/// A union of boxes (not necessarily disjoint).
#[derive(Debug, Clone, Default)]
pub struct Region {
    pub boxes: Vec<PBox>,
}

fn u32_full() -> R {
    (0, u128::from(u32::MAX))
}

impl Region {
    /// The packets of a rule summary.
    pub fn of(s: &Summary, cgroups: &CgroupIndex) -> Region {
        let nosock = u128::from(cgroups.elsewhere()) + 1;
        let socket_dims: Vec<[Vec<R>; 4]> = match &s.sockets {
            crate::index::Sockets::Any => {
                vec![[
                    vec![(0, nosock)],
                    vec![u32_full()],
                    vec![u32_full()],
                    vec![u32_full()],
                ]]
            }
            crate::index::Sockets::Sel(d) => (0..4)
                .filter(|&k| !d[k].is_empty())
                .map(|k| {
                    let mut dims = [
                        vec![(0, nosock - 1)],
                        vec![u32_full()],
                        vec![u32_full()],
                        vec![u32_full()],
                    ];
                    dims[k] = d[k]
                        .ranges()
                        .iter()
                        .map(|&(a, b)| (u128::from(a), u128::from(b)))
                        .collect();
                    dims
                })
                .collect(),
        };
        let mut boxes = Vec::new();
        for (fi, part) in s.fams.iter().enumerate() {
            let Some(part) = part else { continue };
            let v6 = fi == 1;
            // (protocols, ports) groups.
            let svc: Vec<(Vec<R>, Vec<R>)> = match &part.svc {
                None => {
                    let excl = u128::from(if v6 { PROTO_ICMP } else { PROTO_ICMPV6 });
                    vec![(vec![(0, excl - 1), (excl + 1, 255)], vec![(0, 65535)])]
                }
                Some(m) => {
                    let mut groups: Vec<(Vec<R>, Vec<R>)> = Vec::new();
                    for (p, ports) in m {
                        let ports: Vec<R> = ports
                            .ranges()
                            .iter()
                            .map(|&(a, b)| (u128::from(a), u128::from(b)))
                            .collect();
                        let p = u128::from(*p);
                        match groups.iter_mut().find(|g| g.1 == ports) {
                            Some(g) => {
                                // Protocols come in ascending order.
                                match g.0.last_mut() {
                                    Some(last) if last.1 + 1 == p => last.1 = p,
                                    _ => g.0.push((p, p)),
                                }
                            }
                            None => groups.push((vec![(p, p)], ports)),
                        }
                    }
                    groups
                }
            };
            for sd in &socket_dims {
                for (protos, ports) in &svc {
                    let b = PBox::new(
                        v6,
                        [
                            &sd[0],
                            &sd[1],
                            &sd[2],
                            &sd[3],
                            part.from.ranges(),
                            part.to.ranges(),
                            protos,
                            ports,
                        ],
                    );
                    if !b.is_empty() {
                        boxes.push(b);
                    }
                }
            }
        }
        Region { boxes }
    }

    pub fn is_empty(&self) -> bool {
        self.boxes.is_empty()
    }

    pub fn overlaps(&self, o: &Region) -> bool {
        self.boxes
            .iter()
            .any(|a| o.boxes.iter().any(|b| a.overlaps(b)))
    }

    /// A packet in both regions, if any (exact: `None` = disjoint).
    pub fn common_packet(&self, o: &Region, cgroups: &CgroupIndex) -> Option<Option<Packet>> {
        for a in &self.boxes {
            for b in &o.boxes {
                if let Some(x) = a.intersect(b) {
                    return Some(x.packet(cgroups));
                }
            }
        }
        None
    }
}

fn contains(d: &[R], v: u128) -> bool {
    let k = d.partition_point(|r| r.1 < v);
    k < d.len() && d[k].0 <= v
}

/// The first value of `dom` outside every range list of `avoid`, if any.
fn first_outside<'a>(dom: &[R], avoid: impl Iterator<Item = &'a [R]> + Clone) -> Option<u128> {
    let mut cur: Vec<R> = dom.to_vec();
    for a in avoid {
        let mut next = Vec::new();
        difference(&cur, a, &mut next);
        cur = next;
        if cur.is_empty() {
            return None;
        }
    }
    cur.first().map(|r| r.0)
}

/// A point of box `a` in none of the boxes `avoid`, by coordinate descent
/// (a heuristic: `None` proves nothing). The point is exact when found.
pub fn probe(a: &PBox, avoid: &[&PBox], rounds: usize) -> Option<PBox> {
    let avoid: Vec<&PBox> = avoid.iter().copied().filter(|b| b.overlaps(a)).collect();
    let mut p = [0u128; NDIM];
    for (k, pk) in p.iter_mut().enumerate() {
        *pk = first_outside(a.dim(k), avoid.iter().map(|b| b.dim(k)))
            .or_else(|| a.dim(k).first().map(|r| r.0))?;
    }
    let holds = |b: &PBox, p: &[u128; NDIM]| (0..NDIM).all(|k| contains(b.dim(k), p[k]));
    for round in 0..rounds {
        let active: Vec<&PBox> = avoid.iter().copied().filter(|b| holds(b, &p)).collect();
        if active.is_empty() {
            let dims: Vec<[R; 1]> = p.iter().map(|&v| [(v, v)]).collect();
            let d = |k: usize| &dims[k][..];
            return Some(PBox::new(
                a.v6,
                [d(0), d(1), d(2), d(3), d(4), d(5), d(6), d(7)],
            ));
        }
        // Move along one dimension out of every active box, preferring a
        // value outside every box of `avoid`.
        let k = round % NDIM;
        let mut cand = a.dim(k).to_vec();
        for b in &active {
            let mut next = Vec::new();
            difference(&cand, b.dim(k), &mut next);
            cand = next;
        }
        if let Some(v) = first_outside(&cand, avoid.iter().map(|b| b.dim(k)))
            .or_else(|| cand.first().map(|r| r.0))
        {
            p[k] = v;
        }
    }
    None
}

impl Region {
    /// A packet of `self` in no region of `avoid` (heuristic search; `None`
    /// proves nothing, a packet is exact).
    pub fn probe(&self, avoid: &[&Region], cgroups: &CgroupIndex) -> Option<Packet> {
        let boxes: Vec<&PBox> = avoid.iter().flat_map(|r| r.boxes.iter()).collect();
        self.boxes
            .iter()
            .find_map(|a| probe(a, &boxes, 4 * NDIM))
            .and_then(|b| b.packet(cgroups))
    }

    /// `self ∩ o` (pairwise box intersections).
    pub fn intersect(&self, o: &Region) -> Region {
        let mut boxes = Vec::new();
        for a in &self.boxes {
            for b in &o.boxes {
                if let Some(x) = a.intersect(b) {
                    boxes.push(x);
                }
            }
        }
        Region { boxes }
    }
}
