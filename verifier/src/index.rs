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
//! without comparing all pairs: rules are bucketed by destination
//! (IPv4 /16, IPv6 /32 cells) and by (protocol, port/256) cells; a rule is
//! compared only with the rules of the more selective of its two bucket
//! lists, and the exact `disjoint` test filters those.

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
        self.from.overlaps(&o.from) && self.to.overlaps(&o.to) && svc_overlaps(&self.svc, &o.svc)
    }
    fn is_subset(&self, o: &FamPart, f: Family) -> bool {
        self.from.is_subset(&o.from) && self.to.is_subset(&o.to) && svc_subset(&self.svc, &o.svc, f)
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

/// Bucketed rule lists for finding overlap candidates.
pub struct OverlapIndex {
    /// Destination cell → rules; cell = (family, high bits).
    dst: HashMap<(u8, u64), Vec<u32>>,
    dst_wide: Vec<u32>,
    /// (protocol, port / 256) → rules; port-less protocols use cell 0.
    svc: HashMap<(u8, u16), Vec<u32>>,
    svc_wide: Vec<u32>,
    /// Scratch: last query id that saw each rule.
    seen: Vec<u32>,
    stamp: u32,
}

const MAX_CELLS: u128 = 64;

fn dst_cells(s: &Summary) -> Option<Vec<(u8, u64)>> {
    let mut out = Vec::new();
    for (fi, part) in s.fams.iter().enumerate() {
        let Some(part) = part else { continue };
        let shift = if fi == 0 { 16 } else { 96 };
        for &(lo, hi) in part.to.ranges() {
            let (a, b) = (lo >> shift, hi >> shift);
            if b - a >= MAX_CELLS {
                return None;
            }
            for c in a..=b {
                out.push((fi as u8, u64::try_from(c).unwrap_or(u64::MAX)));
            }
        }
    }
    Some(out)
}

fn svc_cells(s: &Summary) -> Option<Vec<(u8, u16)>> {
    let mut out = Vec::new();
    for part in s.fams.iter().flatten() {
        let svc = part.svc.as_ref()?;
        for (p, ports) in svc {
            if !has_ports(*p) {
                out.push((*p, 0));
                continue;
            }
            for &(lo, hi) in ports.ranges() {
                let (a, b) = (lo >> 8, hi >> 8);
                if u128::from(b - a) >= MAX_CELLS / 4 {
                    return None;
                }
                for c in a..=b {
                    out.push((*p, c));
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

impl OverlapIndex {
    pub fn new(rules: &[Summary]) -> OverlapIndex {
        let mut ix = OverlapIndex {
            dst: HashMap::new(),
            dst_wide: Vec::new(),
            svc: HashMap::new(),
            svc_wide: Vec::new(),
            seen: vec![0; rules.len()],
            stamp: 0,
        };
        for (i, s) in rules.iter().enumerate() {
            let i = crate::model::to_u32(i);
            if s.is_empty() {
                continue;
            }
            match dst_cells(s) {
                Some(cells) => {
                    let mut cells = cells;
                    cells.sort_unstable();
                    cells.dedup();
                    for c in cells {
                        ix.dst.entry(c).or_default().push(i);
                    }
                }
                None => ix.dst_wide.push(i),
            }
            match svc_cells(s) {
                Some(cells) => {
                    for c in cells {
                        ix.svc.entry(c).or_default().push(i);
                    }
                }
                None => ix.svc_wide.push(i),
            }
        }
        ix
    }

    fn gather<'m, K: std::hash::Hash + Eq>(
        map: &'m HashMap<K, Vec<u32>>,
        wide: &'m [u32],
        cells: Option<Vec<K>>,
        all: usize,
    ) -> Option<Vec<&'m [u32]>> {
        let cells = cells?;
        let mut lists: Vec<&[u32]> = vec![wide];
        for c in cells {
            if let Some(l) = map.get(&c) {
                lists.push(l);
            }
        }
        let n: usize = lists.iter().map(|l| l.len()).sum();
        (n < all).then_some(lists)
    }

    /// Rules that overlap `s` (exactly), in ascending order. `rules` must be
    /// the slice the index was built from; `s` may be any summary.
    pub fn overlapping(&mut self, s: &Summary, rules: &[Summary]) -> Vec<usize> {
        if s.is_empty() {
            return Vec::new();
        }
        let all = rules.len();
        let by_dst = Self::gather(&self.dst, &self.dst_wide, dst_cells(s), usize::MAX);
        let by_svc = Self::gather(&self.svc, &self.svc_wide, svc_cells(s), usize::MAX);
        let size =
            |l: &Option<Vec<&[u32]>>| l.as_ref().map(|v| v.iter().map(|x| x.len()).sum::<usize>());
        let pick = match (size(&by_dst), size(&by_svc)) {
            (Some(a), Some(b)) if a.min(b) < all => Some(if a <= b { by_dst } else { by_svc }),
            (Some(a), None) if a < all => Some(by_dst),
            (None, Some(b)) if b < all => Some(by_svc),
            _ => None,
        };
        let mut out = Vec::new();
        match pick.flatten() {
            Some(lists) => {
                self.stamp = self.stamp.wrapping_add(1);
                if self.stamp == 0 {
                    self.seen.iter_mut().for_each(|x| *x = 0);
                    self.stamp = 1;
                }
                for l in lists {
                    for &j in l {
                        let ju = j as usize;
                        if self.seen[ju] != self.stamp {
                            self.seen[ju] = self.stamp;
                            if rules[ju].overlaps(s) {
                                out.push(ju);
                            }
                        }
                    }
                }
                out.sort_unstable();
            }
            None => out.extend((0..all).filter(|&j| rules[j].overlaps(s))),
        }
        out
    }
}
