//! Per-rule summaries and the per-field overlap index: the cheap, exact
//! part of the verifier.
//!
//! A rule's packets form the set `G × ⋃_family (FROM_f × TO_f × SVC_f)`:
//! a socket set `G` (a union of selector "cylinders", one dimension each:
//! cgroup node interval, class id, uid, gid) times, per family, a product of
//! interval sets. For such sets, three questions are exact without a
//! solver, and [`Summary`] answers them:
//! - emptiness (some factor is empty);
//! - disjointness of two rules (the socket sets are disjoint, or in every
//!   family some factor pair is disjoint);
//! - containment of one rule in *one* other (factor by factor). Socket sets
//!   are exact too: a cylinder on one dimension lies inside a union of
//!   cylinders only through the cylinders of the same dimension, because
//!   every other dimension has values no selector names (uids are 32-bit,
//!   and the "elsewhere" cgroup is in no group).
//!
//! Coverage by several rules together is what needs the solver.
//!
//! [`OverlapIndex`] finds, for each rule, the rules that may overlap it
//! without comparing all pairs: rules are bucketed by (protocol, port/256)
//! cell (or "wide"), and within a bucket by the smallest prefix block
//! holding their destinations; a rule is compared only with the rules of
//! its service cells whose destination block meets its own, and the exact
//! `overlaps` test filters those.

use crate::model::CgroupIndex;
use pol_lang::ir::{Match, Program, Selector};
use pol_lang::sets::service::{has_ports, proto_families};
use pol_lang::sets::{Family, IntervalSet};
use std::collections::{BTreeMap, HashMap};

/// Per-dimension socket sets of a group expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sockets {
    /// Any packet, with or without a socket.
    Any,
    /// Sockets with one of these: cgroup node numbers, class ids, uids, gids.
    Sel([IntervalSet<u32>; 4]),
}

impl Sockets {
    /// The intersection, when it is again one per-dimension selector set
    /// (`Any` with anything; two sets using the same single dimension).
    fn intersect(&self, o: &Sockets) -> Option<Sockets> {
        match (self, o) {
            (Sockets::Any, x) | (x, Sockets::Any) => Some(x.clone()),
            (Sockets::Sel(a), Sockets::Sel(b)) => {
                let da: Vec<usize> = (0..4).filter(|&i| !a[i].is_empty()).collect();
                let db: Vec<usize> = (0..4).filter(|&i| !b[i].is_empty()).collect();
                match (da.as_slice(), db.as_slice()) {
                    ([x], [y]) if x == y => {
                        let mut d: [IntervalSet<u32>; 4] = Default::default();
                        d[*x] = a[*x].intersect(&b[*x]);
                        Some(Sockets::Sel(d))
                    }
                    _ => None,
                }
            }
        }
    }

    fn of(m: &Match, program: &Program, cg: &CgroupIndex) -> Sockets {
        let Some(gs) = &m.groups else {
            return Sockets::Any;
        };
        let mut dims: [Vec<(u32, u32)>; 4] = Default::default();
        for g in gs {
            for s in &program.group(*g).selectors {
                match s {
                    Selector::Cgroup(p) => {
                        if let Some(r) = cg.subtree(p) {
                            dims[0].push(r)
                        }
                    }
                    Selector::Classid(c) => dims[1].push((c.0, c.0)),
                    Selector::Uid(u) => dims[2].push((*u, *u)),
                    Selector::Gid(g) => dims[3].push((*g, *g)),
                }
            }
        }
        Sockets::Sel(dims.map(IntervalSet::from_ranges))
    }

    fn is_empty(&self) -> bool {
        match self {
            Sockets::Any => false,
            Sockets::Sel(d) => d.iter().all(|s| s.is_empty()),
        }
    }

    fn overlaps(&self, o: &Sockets) -> bool {
        match (self, o) {
            (Sockets::Any, x) | (x, Sockets::Any) => !x.is_empty(),
            (Sockets::Sel(a), Sockets::Sel(b)) => (0..4).any(|i| {
                !a[i].is_empty()
                    && (0..4).any(|j| !b[j].is_empty() && (i != j || a[i].overlaps(&b[j])))
            }),
        }
    }

    fn is_subset(&self, o: &Sockets) -> bool {
        match (self, o) {
            (_, Sockets::Any) => true,
            (Sockets::Any, Sockets::Sel(_)) => false,
            (Sockets::Sel(a), Sockets::Sel(b)) => (0..4).all(|i| a[i].is_subset(&b[i])),
        }
    }
}

/// The part of a rule in one family: a product of three sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamPart {
    /// Source and destination intervals (IPv4 values widened to u128).
    pub from: IntervalSet<u128>,
    pub to: IntervalSet<u128>,
    /// `None` = every protocol of the family, any port. Otherwise the
    /// protocols valid in the family; port sets only matter for protocols
    /// with ports.
    pub svc: Option<BTreeMap<u8, IntervalSet<u16>>>,
}

fn widen(s: &IntervalSet<u32>) -> IntervalSet<u128> {
    IntervalSet::from_ranges(
        s.ranges()
            .iter()
            .map(|&(a, b)| (u128::from(a), u128::from(b))),
    )
}

fn svc_overlaps(
    a: &Option<BTreeMap<u8, IntervalSet<u16>>>,
    b: &Option<BTreeMap<u8, IntervalSet<u16>>>,
) -> bool {
    match (a, b) {
        (None, None) => true,
        (None, Some(m)) | (Some(m), None) => !m.is_empty(),
        (Some(x), Some(y)) => x
            .iter()
            .any(|(p, px)| y.get(p).is_some_and(|py| !has_ports(*p) || px.overlaps(py))),
    }
}

fn svc_subset(
    a: &Option<BTreeMap<u8, IntervalSet<u16>>>,
    b: &Option<BTreeMap<u8, IntervalSet<u16>>>,
    f: Family,
) -> bool {
    match (a, b) {
        (_, None) => true,
        (Some(x), Some(y)) => x.iter().all(|(p, px)| {
            y.get(p)
                .is_some_and(|py| !has_ports(*p) || px.is_subset(py))
        }),
        (None, Some(y)) => (0u8..=255)
            .filter(|p| proto_families(*p).contains(&f))
            .all(|p| y.get(&p).is_some_and(|py| !has_ports(p) || py.is_full())),
    }
}

fn svc_intersect(
    a: &Option<BTreeMap<u8, IntervalSet<u16>>>,
    b: &Option<BTreeMap<u8, IntervalSet<u16>>>,
) -> Option<BTreeMap<u8, IntervalSet<u16>>> {
    match (a, b) {
        (None, None) => None,
        (None, Some(m)) | (Some(m), None) => Some(m.clone()),
        (Some(x), Some(y)) => Some(
            x.iter()
                .filter_map(|(p, px)| {
                    let py = y.get(p)?;
                    let i = if has_ports(*p) {
                        px.intersect(py)
                    } else {
                        px.clone()
                    };
                    (!i.is_empty()).then_some((*p, i))
                })
                .collect(),
        ),
    }
}

impl FamPart {
    fn intersect(&self, o: &FamPart) -> Option<FamPart> {
        let from = self.from.intersect(&o.from);
        let to = self.to.intersect(&o.to);
        let svc = svc_intersect(&self.svc, &o.svc);
        let empty = from.is_empty() || to.is_empty() || svc.as_ref().is_some_and(|s| s.is_empty());
        (!empty).then_some(FamPart { from, to, svc })
    }

    fn overlaps(&self, o: &FamPart) -> bool {
        self.to.overlaps(&o.to) && self.from.overlaps(&o.from) && svc_overlaps(&self.svc, &o.svc)
    }
    fn is_subset(&self, o: &FamPart, f: Family) -> bool {
        self.to.is_subset(&o.to) && self.from.is_subset(&o.from) && svc_subset(&self.svc, &o.svc, f)
    }
}

/// Everything the cheap checks need to know about a rule (or any `Match`).
#[derive(Debug, Clone)]
pub struct Summary {
    pub sockets: Sockets,
    /// `[IPv4, IPv6]`; `None` when the rule has no packet of that family.
    pub fams: [Option<FamPart>; 2],
}

pub const FAMILIES: [Family; 2] = [Family::Ipv4, Family::Ipv6];

impl Summary {
    pub fn of(m: &Match, program: &Program, cg: &CgroupIndex) -> Summary {
        let sockets = Sockets::of(m, program, cg);
        let mut to = m.to.clone();
        if let Some(t) = m.via {
            to = to.intersect(&program.tunnel(t).routes);
        }
        let fams = FAMILIES.map(|f| {
            let (from, to) = match f {
                Family::Ipv4 => (widen(&m.from.v4), widen(&to.v4)),
                Family::Ipv6 => (m.from.v6.clone(), to.v6.clone()),
            };
            let svc = m.service.as_ref().map(|s| {
                s.protos
                    .iter()
                    .filter(|(p, ports)| proto_families(**p).contains(&f) && !ports.is_empty())
                    .map(|(p, ports)| {
                        (
                            *p,
                            if has_ports(*p) {
                                ports.clone()
                            } else {
                                IntervalSet::full()
                            },
                        )
                    })
                    .collect::<BTreeMap<_, _>>()
            });
            let empty =
                from.is_empty() || to.is_empty() || svc.as_ref().is_some_and(|s| s.is_empty());
            (!empty).then_some(FamPart { from, to, svc })
        });
        let fams = if sockets.is_empty() {
            [None, None]
        } else {
            fams
        };
        Summary { sockets, fams }
    }

    /// The exact intersection, when it is representable as a summary.
    pub fn intersect(&self, o: &Summary) -> Option<Summary> {
        let sockets = self.sockets.intersect(&o.sockets)?;
        let fams = [0, 1].map(|f| match (&self.fams[f], &o.fams[f]) {
            (Some(a), Some(b)) => a.intersect(b),
            _ => None,
        });
        let fams = if sockets.is_empty() {
            [None, None]
        } else {
            fams
        };
        Some(Summary { sockets, fams })
    }

    /// The rule matches no packet at all.
    pub fn is_empty(&self) -> bool {
        self.fams.iter().all(|f| f.is_none())
    }

    /// Some packet matches both (exact).
    pub fn overlaps(&self, o: &Summary) -> bool {
        self.sockets.overlaps(&o.sockets)
            && self
                .fams
                .iter()
                .zip(&o.fams)
                .any(|(a, b)| matches!((a, b), (Some(a), Some(b)) if a.overlaps(b)))
    }

    /// Every packet of `self` matches `o` (exact).
    pub fn is_subset(&self, o: &Summary) -> bool {
        if self.is_empty() {
            return true;
        }
        self.sockets.is_subset(&o.sockets)
            && self
                .fams
                .iter()
                .zip(&o.fams)
                .zip(FAMILIES)
                .all(|((a, b), f)| match (a, b) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some(a), Some(b)) => a.is_subset(b, f),
                })
    }
}

/// Service key of the index: an exact `(protocol, port)` (port 0 for
/// protocols without ports), a `(protocol, port / 256)` cell for port
/// ranges, or `WIDE` (any protocol, or very wide port ranges). Encoded as
/// `proto << 17 | cell_flag << 16 | port_or_cell`, so the exact keys of a
/// cell are one key range.
type SvcKey = u32;
const WIDE: SvcKey = u32::MAX;

fn exact_key(p: u8, port: u16) -> SvcKey {
    u32::from(p) << 17 | u32::from(port)
}

fn cell_key(p: u8, cell: u16) -> SvcKey {
    u32::from(p) << 17 | 1 << 16 | u32::from(cell)
}

#[derive(Default)]
struct DstTrie {
    /// Per family: (prefix length, block start) → rules.
    nodes: [HashMap<(u8, u128), Vec<u32>>; 2],
    /// Per family: prefix lengths present (bit l).
    lens: [[u64; 3]; 2],
    /// Per family: (block start, prefix length, rule), sorted.
    sorted: [Vec<(u128, u8, u32)>; 2],
}

fn fam_bits(fi: usize) -> u32 {
    if fi == 0 {
        32
    } else {
        128
    }
}

/// The hull block of a set: (prefix length, start, end).
fn hull(fi: usize, to: &IntervalSet<u128>) -> Option<(u8, u128, u128)> {
    let lo = to.ranges().first()?.0;
    let hi = to.ranges().last()?.1;
    let d = 128 - (lo ^ hi).leading_zeros();
    let mask = if d >= 128 {
        u128::MAX
    } else {
        (1u128 << d) - 1
    };
    let len = fam_bits(fi).saturating_sub(d);
    Some((u8::try_from(len).unwrap_or(0), lo & !mask, lo | mask))
}

/// The destination blocks of a set: its ranges as CIDR blocks, or, when
/// that takes more than `MAX_BLOCKS`, the hull.
fn blocks(fi: usize, to: &IntervalSet<u128>) -> Vec<(u8, u128, u128)> {
    const MAX_BLOCKS: usize = 64;
    let bits = fam_bits(fi);
    let mut out = Vec::new();
    for &(lo, hi) in to.ranges() {
        let mut lo = lo;
        loop {
            // Largest aligned block at `lo` inside [lo, hi].
            let mut d = lo.trailing_zeros().min(bits);
            while d > 0 {
                let mask = if d >= 128 {
                    u128::MAX
                } else {
                    (1u128 << d) - 1
                };
                if mask <= hi - lo {
                    break;
                }
                d -= 1;
            }
            let mask = if d >= 128 {
                u128::MAX
            } else {
                (1u128 << d) - 1
            };
            let end = lo | mask;
            out.push((u8::try_from(bits - d).unwrap_or(0), lo, end));
            if out.len() > MAX_BLOCKS {
                return hull(fi, to).into_iter().collect();
            }
            if end >= hi {
                break;
            }
            lo = end + 1;
        }
    }
    out
}

fn block_start(fi: usize, len: u8, x: u128) -> u128 {
    let d = fam_bits(fi).saturating_sub(u32::from(len));
    let mask = if d >= 128 {
        u128::MAX
    } else {
        (1u128 << d) - 1
    };
    x & !mask
}

impl DstTrie {
    fn insert(&mut self, fi: usize, (len, start, _): (u8, u128, u128), rule: u32) {
        self.nodes[fi].entry((len, start)).or_default().push(rule);
        self.lens[fi][usize::from(len) / 64] |= 1 << (len % 64);
        self.sorted[fi].push((start, len, rule));
    }

    fn finish(&mut self) {
        for s in &mut self.sorted {
            s.sort_unstable();
        }
    }

    /// Every rule whose hull meets block `(len, start, end)` of family `fi`.
    fn visit(&self, fi: usize, (len, start, end): (u8, u128, u128), f: &mut impl FnMut(u32)) {
        // Ancestors: strictly larger blocks containing this one.
        for l in 0..len {
            if self.lens[fi][usize::from(l) / 64] & (1 << (l % 64)) == 0 {
                continue;
            }
            if let Some(v) = self.nodes[fi].get(&(l, block_start(fi, l, start))) {
                v.iter().for_each(|&r| f(r));
            }
        }
        // The block itself and everything inside it.
        let s = &self.sorted[fi];
        let from = s.partition_point(|e| e.0 < start);
        for e in &s[from..] {
            if e.0 > end {
                break;
            }
            if e.1 >= len {
                f(e.2);
            }
        }
    }
}

/// The overlap index: rules by service key, then by destination hull.
pub struct OverlapIndex {
    by_svc: BTreeMap<SvcKey, DstTrie>,
    /// Per rule: the hull of its cgroup numbers when it selects sockets
    /// by cgroup only (a quick disjointness filter: subtrees nest).
    cg_hull: Vec<Option<(u32, u32)>>,
    /// Scratch: last query id that saw each rule.
    seen: Vec<u32>,
    stamp: u32,
}

const MAX_SVC_CELLS: u16 = 16;

fn cg_hull(s: &Summary) -> Option<(u32, u32)> {
    match &s.sockets {
        Sockets::Sel(d) if d[1..].iter().all(|x| x.is_empty()) => {
            let r = d[0].ranges();
            Some((r.first()?.0, r.last()?.1))
        }
        _ => None,
    }
}

/// Longest port range indexed port by port.
const MAX_EXACT_PORTS: u16 = 4;

fn svc_keys(s: &Summary) -> Vec<SvcKey> {
    let mut out = Vec::new();
    for part in s.fams.iter().flatten() {
        let Some(svc) = part.svc.as_ref() else {
            return vec![WIDE];
        };
        for (p, ports) in svc {
            if !has_ports(*p) {
                out.push(exact_key(*p, 0));
                continue;
            }
            for &(lo, hi) in ports.ranges() {
                if hi - lo < MAX_EXACT_PORTS {
                    out.extend((lo..=hi).map(|x| exact_key(*p, x)));
                    continue;
                }
                let (a, b) = (lo >> 8, hi >> 8);
                if b - a >= MAX_SVC_CELLS {
                    return vec![WIDE];
                }
                out.extend((a..=b).map(|c| cell_key(*p, c)));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

impl OverlapIndex {
    pub fn new(rules: &[Summary]) -> OverlapIndex {
        let mut by_svc: BTreeMap<SvcKey, DstTrie> = BTreeMap::new();
        for (i, s) in rules.iter().enumerate() {
            let i = crate::model::to_u32(i);
            if s.is_empty() {
                continue;
            }
            for k in svc_keys(s) {
                let t = by_svc.entry(k).or_default();
                for (fi, part) in s.fams.iter().enumerate() {
                    for b in part.as_ref().map(|p| blocks(fi, &p.to)).unwrap_or_default() {
                        t.insert(fi, b, i);
                    }
                }
            }
        }
        by_svc.values_mut().for_each(DstTrie::finish);
        OverlapIndex {
            by_svc,
            cg_hull: rules.iter().map(cg_hull).collect(),
            seen: vec![0; rules.len()],
            stamp: 0,
        }
    }

    /// Rules that overlap `s` (exactly), in ascending order. `rules` must be
    /// the slice the index was built from; `s` may be any summary.
    /// Also returns the number of candidates tested.
    pub fn overlapping(&mut self, s: &Summary, rules: &[Summary]) -> (Vec<usize>, u64) {
        self.overlapping_from(s, rules, 0)
    }

    /// [`Self::overlapping`], only rules numbered `min` or more.
    pub fn overlapping_from(
        &mut self,
        s: &Summary,
        rules: &[Summary],
        min: usize,
    ) -> (Vec<usize>, u64) {
        if s.is_empty() {
            return (Vec::new(), 0);
        }
        let mut cand = 0u64;
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.seen.iter_mut().for_each(|x| *x = 0);
            self.stamp = 1;
        }
        let keys = svc_keys(s);
        let tries: Vec<&DstTrie> = if keys == [WIDE] {
            self.by_svc.values().collect()
        } else {
            // Exact keys meet their cell's key; cell keys meet the exact
            // keys inside the cell. Duplicates are harmless (`seen`).
            let mut ks: Vec<SvcKey> = vec![WIDE];
            for &k in &keys {
                ks.push(k);
                let (p, port) = (k >> 17, k & 0xffff);
                if k & 1 << 16 == 0 {
                    ks.push(p << 17 | 1 << 16 | port >> 8);
                } else {
                    let lo = p << 17 | port << 8;
                    ks.extend(self.by_svc.range(lo..=lo | 0xff).map(|(k, _)| *k));
                }
            }
            ks.sort_unstable();
            ks.dedup();
            ks.iter().filter_map(|k| self.by_svc.get(k)).collect()
        };
        let (seen, stamp) = (&mut self.seen, self.stamp);
        let (hulls, mine) = (&self.cg_hull, cg_hull(s));
        let mut out = Vec::new();
        let mine_blocks: Vec<Vec<(u8, u128, u128)>> = s
            .fams
            .iter()
            .enumerate()
            .map(|(fi, part)| part.as_ref().map(|p| blocks(fi, &p.to)).unwrap_or_default())
            .collect();
        for t in tries {
            for (fi, h) in mine_blocks
                .iter()
                .enumerate()
                .flat_map(|(fi, bs)| bs.iter().map(move |b| (fi, *b)))
            {
                t.visit(fi, h, &mut |j| {
                    let ju = j as usize;
                    if ju >= min && seen[ju] != stamp {
                        seen[ju] = stamp;
                        cand += 1;
                        let apart = matches!((mine, hulls[ju]), (Some(a), Some(b)) if a.1 < b.0 || b.1 < a.0);
                        if !apart && rules[ju].overlaps(s) {
                            out.push(ju);
                        }
                    }
                });
            }
        }
        out.sort_unstable();
        (out, cand)
    }
}
