//! Test support: an independent reference evaluator (first-match over the
//! IR, written without `ir::Match::matches`), a parser for rendered witness
//! packets, a small random IR generator, and the exhaustive grid oracle.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::needless_range_loop
)]

use pol_lang::ast::{Hook, Verdict};
use pol_lang::diag::Witness;
use pol_lang::ir::*;
use pol_lang::sets::service::{proto_by_name, PROTO_ICMP, PROTO_ICMPV6};
use pol_lang::sets::{AddrSet, IntervalSet, ServiceSet};
use pol_lang::span::{FileId, SourceMap, Span};
use std::collections::{BTreeSet, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

// ---------------------------------------------------------------- reference evaluator

fn in_path(sock: &Option<CgroupPath>, sel: &CgroupPath) -> bool {
    match sock {
        None => false,
        Some(p) => {
            let (a, b) = (p.as_str(), sel.as_str());
            a == b || (a.len() > b.len() && a.starts_with(b) && a.as_bytes()[b.len()] == b'/')
        }
    }
}

pub fn ref_sock_in(program: &Program, g: GroupId, s: &Socket) -> bool {
    program.groups[g.0 as usize]
        .selectors
        .iter()
        .any(|sel| match sel {
            Selector::Cgroup(p) => in_path(&s.cgroup, p),
            Selector::Classid(c) => s.classid == c.0,
            Selector::Uid(u) => s.uid == *u,
            Selector::Gid(x) => s.gid == *x,
        })
}

pub fn ref_group_ok(program: &Program, m: &Match, sock: &Option<Socket>) -> bool {
    match &m.groups {
        None => true,
        Some(gs) => sock
            .as_ref()
            .is_some_and(|s| gs.iter().any(|g| ref_sock_in(program, *g, s))),
    }
}

pub fn ref_addr_in(set: &AddrSet, a: Addr) -> bool {
    match a {
        Addr::V4(v) => set.v4.ranges().iter().any(|&(lo, hi)| lo <= v && v <= hi),
        Addr::V6(v) => set.v6.ranges().iter().any(|&(lo, hi)| lo <= v && v <= hi),
    }
}

pub fn ref_proto_valid(proto: u8, v6: bool) -> bool {
    !(proto == PROTO_ICMP && v6 || proto == PROTO_ICMPV6 && !v6)
}

pub fn ref_ported(proto: u8) -> bool {
    [6u8, 17, 132, 33, 136].contains(&proto)
}

pub fn ref_svc_ok(m: &Match, proto: u8, dport: u16) -> bool {
    match &m.service {
        None => true,
        Some(s) => s.protos.get(&proto).is_some_and(|ports| {
            !ref_ported(proto)
                || ports
                    .ranges()
                    .iter()
                    .any(|&(lo, hi)| lo <= dport && dport <= hi)
        }),
    }
}

pub fn ref_to_ok(program: &Program, m: &Match, d: Addr) -> bool {
    ref_addr_in(&m.to, d)
        && m.via
            .is_none_or(|t| ref_addr_in(&program.tunnels[t.0 as usize].routes, d))
}

pub fn ref_matches(program: &Program, m: &Match, p: &Packet) -> bool {
    let v6 = matches!(p.daddr, Addr::V6(_));
    if matches!(p.saddr, Addr::V6(_)) != v6 || !ref_proto_valid(p.proto, v6) {
        return false; // not a packet of the packet space
    }
    ref_group_ok(program, m, &p.socket)
        && ref_addr_in(&m.from, p.saddr)
        && ref_to_ok(program, m, p.daddr)
        && ref_svc_ok(m, p.proto, p.dport)
}

/// First match: (deciding rule, verdict).
pub fn ref_evaluate(program: &Program, policy: &Policy, p: &Packet) -> (Option<usize>, Verdict) {
    for (i, r) in policy.rules.iter().enumerate() {
        if ref_matches(program, &r.matches, p) {
            return (Some(i), r.verdict);
        }
    }
    (None, policy.default)
}

// ---------------------------------------------------------------- witness parsing

pub fn packet_of_witness(w: &Witness) -> Packet {
    let sa: IpAddr = w.saddr.parse().unwrap();
    let da: IpAddr = w.daddr.parse().unwrap();
    let addr = |a: IpAddr| match a {
        IpAddr::V4(v) => Addr::V4(u32::from(v)),
        IpAddr::V6(v) => Addr::V6(u128::from(v)),
    };
    let proto = proto_by_name(&w.proto).unwrap_or_else(|| w.proto.parse().unwrap());
    let socket = w.uid.map(|uid| Socket {
        cgroup: w.cgroup.as_ref().map(|c| CgroupPath::parse(c).unwrap()),
        classid: w
            .classid
            .as_ref()
            .map(|c| {
                let (a, b) = c.split_once(':').unwrap();
                (u32::from_str_radix(a, 16).unwrap() << 16) | u32::from_str_radix(b, 16).unwrap()
            })
            .unwrap_or(0),
        uid,
        gid: w.gid.unwrap(),
    });
    assert_eq!(
        w.family,
        if matches!(da, IpAddr::V6(_)) {
            "ipv6"
        } else {
            "ipv4"
        }
    );
    Packet {
        socket,
        saddr: addr(sa),
        daddr: addr(da),
        proto,
        sport: w.sport.unwrap_or(0),
        dport: w.dport.unwrap_or(0),
    }
}

// ---------------------------------------------------------------- random programs

/// `POL_PROP_SEED`, or a fresh seed from the clock (printed by each test,
/// so a failure can be replayed).
pub fn prop_seed() -> u64 {
    std::env::var("POL_PROP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        })
}

/// `POL_PROP_CASES`, or `default`.
pub fn prop_cases(default: usize) -> usize {
    std::env::var("POL_PROP_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// splitmix64
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

const CGROUPS: &[&str] = &[
    "apps.slice",
    "apps.slice/firefox.slice",
    "apps.slice/firefox.slice/tab.scope",
    "apps.slice/term.slice",
    "system.slice",
    "system.slice/sshd.service",
];

fn v4(a: [u8; 4], len: u8) -> AddrSet {
    AddrSet::v4_prefix(Ipv4Addr::from(a), len)
}
fn v6(s: &str, len: u8) -> AddrSet {
    AddrSet::v6_prefix(s.parse::<Ipv6Addr>().unwrap(), len)
}

fn addr_block(r: &mut Rng) -> AddrSet {
    match r.below(11) {
        0 => v4([10, 0, 0, 0], 8),
        1 => v4([10, 1, 0, 0], 16),
        2 => v4([10, 1, 2, 0], 24),
        3 => v4([192, 0, 2, 0], 24),
        4 => AddrSet::v4_range(Ipv4Addr::new(192, 0, 2, 10), Ipv4Addr::new(192, 0, 2, 20)),
        5 => v4([203, 0, 113, 7], 32),
        6 => v6("2001:db8::", 32),
        7 => v6("2001:db8:1::", 48),
        8 => v6("fd00::", 8),
        9 => v6("2001:db8:1::5", 128),
        _ => AddrSet {
            v4: IntervalSet::full(),
            v6: IntervalSet::empty(),
        },
    }
}

pub fn addr_set(r: &mut Rng) -> AddrSet {
    if r.chance(35) {
        return AddrSet::any();
    }
    let mut s = addr_block(r);
    if r.chance(40) {
        s = s.union(&addr_block(r));
    }
    if r.chance(20) {
        s = s.complement();
    }
    s
}

fn ports(v: &[(u16, u16)]) -> IntervalSet<u16> {
    IntervalSet::from_ranges(v.iter().copied())
}

fn svc_block(r: &mut Rng) -> ServiceSet {
    match r.below(12) {
        0 => ServiceSet::ports(6, ports(&[(443, 443)])),
        1 => ServiceSet::ports(6, ports(&[(80, 80), (443, 443)])),
        2 => ServiceSet::ports(6, ports(&[(1, 1023)])),
        3 => ServiceSet::ports(6, ports(&[(8000, 8999)])),
        4 => ServiceSet::ports(6, ports(&[(22, 22)])),
        5 => ServiceSet::ports(17, ports(&[(53, 53)])),
        6 => ServiceSet::ports(17, ports(&[(500, 600)])),
        7 => ServiceSet::proto(PROTO_ICMP),
        8 => ServiceSet::proto(PROTO_ICMPV6),
        9 => ServiceSet::proto(50),
        10 => ServiceSet::ports(132, ports(&[(443, 443)])),
        _ => ServiceSet::ports(6, IntervalSet::full()),
    }
}

pub fn service(r: &mut Rng) -> Option<ServiceSet> {
    if r.chance(30) {
        return None;
    }
    let mut s = svc_block(r);
    if r.chance(35) {
        s = s.union(&svc_block(r));
    }
    Some(s)
}

fn verdict(r: &mut Rng) -> Verdict {
    *r.pick(&[Verdict::Allow, Verdict::Drop, Verdict::Reject])
}

/// A random program with one policy; `sources` gets a fake file with one
/// line per rule (so spans map to lines).
pub fn random_program(r: &mut Rng, sources: &mut SourceMap) -> Program {
    let mut prog = Program::default();
    let ngroups = 1 + r.below(4) as usize;
    let mut text = String::new();
    for gi in 0..ngroups {
        let mut sels = BTreeSet::new();
        for _ in 0..1 + r.below(2) {
            let s = match r.below(10) {
                0..=5 => Selector::Cgroup(CgroupPath::parse(r.pick::<&str>(CGROUPS)).unwrap()),
                6 | 7 => Selector::Classid(ClassId(*r.pick(&[0x0010_0001, 0x0010_0002]))),
                8 => Selector::Uid(*r.pick(&[0, 1000])),
                _ => Selector::Gid(100),
            };
            sels.insert(s);
        }
        prog.groups.push(Group {
            id: GroupId(gi as u32),
            name: format!("g{gi}"),
            selectors: sels.into_iter().collect(),
            span: Span::new(FileId(0), 0, 0),
        });
    }
    for g in &prog.groups {
        for p in g.cgroup_paths() {
            prog.cgroups.insert(p);
        }
    }
    if r.chance(40) {
        let routes = v6("2001:db8:1::", 48).union(&v4([10, 1, 0, 0], 16));
        prog.tunnels.push(Tunnel {
            id: TunnelId(0),
            name: "vpn".into(),
            dev: "vti6-vpn".into(),
            local: "2001:db8:ffff::1".parse().unwrap(),
            remote: "2001:db8:ffff::2".parse().unwrap(),
            key: 42,
            address: ("fd00:42::1".parse().unwrap(), 64),
            routes,
            mtu: None,
            span: Span::new(FileId(0), 0, 0),
            routes_span: Span::new(FileId(0), 0, 0),
        });
    }
    let nrules = 2 + r.below(7) as usize;
    let mut rules: Vec<Rule> = Vec::new();
    let mut offs = Vec::new();
    let mut pending: Vec<Match> = Vec::new();
    for i in 0..nrules {
        let line = format!("rule {i}\n");
        offs.push((text.len(), text.len() + line.len() - 1));
        text.push_str(&line);
        let mut m = if let Some(m) = pending.pop() {
            m
        } else if !rules.is_empty() && r.chance(30) {
            // Re-use an earlier rule's match, changing one part: makes
            // coverage by one earlier rule likely.
            let mut m = rules[r.below(rules.len() as u64) as usize].matches.clone();
            match r.below(4) {
                0 => {
                    m.to = if r.chance(50) {
                        AddrSet::any()
                    } else {
                        addr_set(r)
                    }
                }
                1 => m.service = service(r),
                2 => m.groups = None,
                _ => m.from = AddrSet::any(),
            }
            m
        } else {
            let m = Match {
                groups: if r.chance(45) {
                    None
                } else {
                    let mut gs: Vec<GroupId> = (0..1 + r.below(2))
                        .map(|_| GroupId(r.below(ngroups as u64) as u32))
                        .collect();
                    gs.sort();
                    gs.dedup();
                    Some(gs)
                },
                from: if r.chance(75) {
                    AddrSet::any()
                } else {
                    addr_set(r)
                },
                to: addr_set(r),
                service: service(r),
                via: None,
            };
            if i + 2 < nrules && r.chance(30) {
                // Split the match in pieces, then the whole: a rule covered
                // only by several earlier rules together.
                let x = addr_set(r);
                let whole = m.clone();
                let mut a = m.clone();
                a.to = m.to.intersect(&x);
                let mut b = m.clone();
                b.to = m.to.difference(&x);
                if r.chance(50) && i + 3 < nrules {
                    // Three pieces: split `b` again by service.
                    let y = svc_block(r);
                    let mut b1 = b.clone();
                    let mut b2 = b.clone();
                    let all = m
                        .service
                        .clone()
                        .unwrap_or_else(|| ServiceSet::proto(6).union(&ServiceSet::proto(17)));
                    b1.service = Some(all.intersect(&y));
                    b2.service = Some(ServiceSet {
                        protos: all
                            .protos
                            .iter()
                            .filter_map(|(p, ports)| {
                                let rest = match y.protos.get(p) {
                                    Some(yp) => ports.difference(yp),
                                    None => ports.clone(),
                                };
                                (!rest.is_empty()).then_some((*p, rest))
                            })
                            .collect(),
                    });
                    let mut whole = whole;
                    whole.service = Some(all);
                    pending.push(whole);
                    pending.push(b2);
                    pending.push(b1);
                } else {
                    pending.push(whole);
                    pending.push(b);
                }
                a
            } else {
                m
            }
        };
        m.via = (!prog.tunnels.is_empty() && r.chance(15)).then_some(TunnelId(0));
        rules.push(Rule {
            verdict: verdict(r),
            matches: m,
            log: None,
            counter: false,
            comment: None,
            span: Span::new(FileId(0), 0, 0),
            origins: vec![],
        });
    }
    let dstart = text.len();
    text.push_str("default\n");
    let file = sources.add("random.pol", text, false);
    for (rule, (a, b)) in rules.iter_mut().zip(offs) {
        rule.span = Span::new(file, a, b);
    }
    prog.policies.push(Policy {
        id: PolicyId(0),
        name: "egress".into(),
        hook: Hook::Output,
        default: verdict(r),
        default_span: Span::new(file, dstart, dstart + 7),
        rules,
        span: Span::new(file, 0, 0),
    });
    prog
}

// ---------------------------------------------------------------- the grid oracle

/// Representative values of every field: each field split at every
/// boundary any rule (or tunnel route) uses, one value per piece.
pub struct Grid {
    pub sockets: Vec<Option<Socket>>,
    pub addrs: [Vec<Addr>; 2],
    pub svcs: [Vec<(u8, u16)>; 2],
}

fn reps<T: Copy + Ord + pol_lang::sets::interval::Bound>(sets: &[&IntervalSet<T>]) -> Vec<T> {
    let mut pts = BTreeSet::new();
    pts.insert(T::MIN);
    for s in sets {
        for &(lo, hi) in s.ranges() {
            pts.insert(lo);
            if let Some(n) = hi.succ() {
                pts.insert(n);
            }
        }
    }
    pts.into_iter().collect()
}

pub fn grid(program: &Program) -> Grid {
    let mut cgs: Vec<Option<CgroupPath>> = vec![None];
    cgs.extend(program.cgroups.paths().into_iter().cloned().map(Some));
    let mut classids = BTreeSet::from([0u32, 0x00ff_00ff]);
    let mut uids = BTreeSet::from([4242u32]);
    let mut gids = BTreeSet::from([4343u32]);
    for g in &program.groups {
        for s in &g.selectors {
            match s {
                Selector::Classid(c) => {
                    classids.insert(c.0);
                }
                Selector::Uid(u) => {
                    uids.insert(*u);
                }
                Selector::Gid(x) => {
                    gids.insert(*x);
                }
                Selector::Cgroup(_) => {}
            }
        }
    }
    let mut sockets = vec![None];
    for cg in &cgs {
        for &c in &classids {
            for &u in &uids {
                for &g in &gids {
                    sockets.push(Some(Socket {
                        cgroup: cg.clone(),
                        classid: c,
                        uid: u,
                        gid: g,
                    }));
                }
            }
        }
    }
    let mut sets: Vec<&AddrSet> = Vec::new();
    let mut protos = BTreeSet::from([47u8, 6, 17, PROTO_ICMP, PROTO_ICMPV6]);
    for p in &program.policies {
        for r in &p.rules {
            sets.push(&r.matches.from);
            sets.push(&r.matches.to);
            if let Some(s) = &r.matches.service {
                protos.extend(s.protos.keys().copied());
            }
        }
    }
    for t in &program.tunnels {
        sets.push(&t.routes);
    }
    let a4: Vec<Addr> = reps(&sets.iter().map(|s| &s.v4).collect::<Vec<_>>())
        .into_iter()
        .map(Addr::V4)
        .collect();
    let a6: Vec<Addr> = reps(&sets.iter().map(|s| &s.v6).collect::<Vec<_>>())
        .into_iter()
        .map(Addr::V6)
        .collect();
    let mut svc = Vec::new();
    for &p in &protos {
        if ref_ported(p) {
            let port_sets: Vec<&IntervalSet<u16>> = program
                .policies
                .iter()
                .flat_map(|pol| pol.rules.iter())
                .filter_map(|r| r.matches.service.as_ref().and_then(|s| s.protos.get(&p)))
                .collect();
            for port in reps(&port_sets) {
                svc.push((p, port));
            }
        } else {
            svc.push((p, 0));
        }
    }
    let s4 = svc
        .iter()
        .copied()
        .filter(|(p, _)| ref_proto_valid(*p, false))
        .collect();
    let s6 = svc
        .iter()
        .copied()
        .filter(|(p, _)| ref_proto_valid(*p, true))
        .collect();
    Grid {
        sockets,
        addrs: [a4, a6],
        svcs: [s4, s6],
    }
}

/// Every distinct set of matching rules (bit i = rule i) over the grid,
/// with one packet of each. Computed per field (the rule predicate is a
/// conjunction of per-field predicates), then combined.
pub fn match_sets(program: &Program, policy: &Policy, g: &Grid) -> Vec<(u64, Packet)> {
    let n = policy.rules.len();
    let mask = |f: &dyn Fn(&Match) -> bool| -> u64 {
        (0..n)
            .filter(|&i| f(&policy.rules[i].matches))
            .fold(0u64, |m, i| m | (1 << i))
    };
    fn distinct<T: Clone>(v: impl Iterator<Item = (u64, T)>) -> Vec<(u64, T)> {
        let mut seen = HashSet::new();
        v.filter(|(m, _)| seen.insert(*m)).collect()
    }
    let socks = distinct(
        g.sockets
            .iter()
            .map(|s| (mask(&|m| ref_group_ok(program, m, s)), s.clone())),
    );
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for fam in 0..2 {
        let froms = distinct(
            g.addrs[fam]
                .iter()
                .map(|&a| (mask(&|m| ref_addr_in(&m.from, a)), a)),
        );
        let tos = distinct(
            g.addrs[fam]
                .iter()
                .map(|&a| (mask(&|m| ref_to_ok(program, m, a)), a)),
        );
        let svcs = distinct(
            g.svcs[fam]
                .iter()
                .map(|&(p, d)| (mask(&|m| ref_svc_ok(m, p, d)), (p, d))),
        );
        for (ms, s) in &socks {
            for (mf, f) in &froms {
                for (mt, t) in &tos {
                    for (mv, (p, d)) in &svcs {
                        let m = ms & mf & mt & mv;
                        if seen.insert(m) {
                            let pk = Packet {
                                socket: s.clone(),
                                saddr: *f,
                                daddr: *t,
                                proto: *p,
                                sport: 40000,
                                dport: *d,
                            };
                            out.push((m, pk));
                        }
                    }
                }
            }
        }
    }
    out
}

/// The exact classification of every rule, from the match sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Per rule: "empty-match" | "shadowed" | "redundant-earlier" | "redundant-later" | "".
    pub kinds: Vec<&'static str>,
    /// Per rule: earlier rules it conflicts with / generalizes.
    pub conflicts: Vec<Vec<usize>>,
    pub generalizes: Vec<Vec<usize>>,
}

pub fn classify(policy: &Policy, sets: &[(u64, Packet)]) -> Expected {
    let n = policy.rules.len();
    let v = |i: Option<usize>| i.map(|i| policy.rules[i].verdict).unwrap_or(policy.default);
    let low = |m: u64| (m != 0).then(|| m.trailing_zeros() as usize);
    let mut kinds = vec![""; n];
    let mut reach = vec![false; n];
    for i in 0..n {
        let bit = 1u64 << i;
        let mine: Vec<u64> = sets.iter().map(|x| x.0).filter(|m| m & bit != 0).collect();
        if mine.is_empty() {
            kinds[i] = "empty-match";
            continue;
        }
        let reaching: Vec<u64> = mine
            .iter()
            .copied()
            .filter(|m| low(*m) == Some(i))
            .collect();
        if reaching.is_empty() {
            let other = mine.iter().any(|m| v(low(*m)) != policy.rules[i].verdict);
            kinds[i] = if other {
                "shadowed"
            } else {
                "redundant-earlier"
            };
            continue;
        }
        reach[i] = true;
        if reaching
            .iter()
            .all(|m| v(low(m & !bit)) == policy.rules[i].verdict)
        {
            kinds[i] = "redundant-later";
        }
    }
    let mut conflicts = vec![Vec::new(); n];
    let mut generalizes = vec![Vec::new(); n];
    for i in 0..n {
        if !reach[i] {
            continue;
        }
        for j in 0..i {
            if !reach[j] || policy.rules[j].verdict == policy.rules[i].verdict {
                continue;
            }
            let both = sets
                .iter()
                .any(|(m, _)| m & (1 << i) != 0 && m & (1 << j) != 0);
            if !both {
                continue;
            }
            let j_in_i = sets
                .iter()
                .all(|(m, _)| m & (1 << j) == 0 || m & (1 << i) != 0);
            if j_in_i {
                generalizes[i].push(j);
            } else {
                conflicts[i].push(j);
            }
        }
    }
    Expected {
        kinds,
        conflicts,
        generalizes,
    }
}
