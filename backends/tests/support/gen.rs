//! Random IR programs: small ones for the kernel behaviour tests and large
//! ones for the benchmark. Deterministic for a seed.

use pol_lang::ast::{Hook, Verdict};
use pol_lang::ir::{
    CgroupPath, ClassId, Group, GroupId, Log, Match, Policy, PolicyId, Program, Rule, Selector,
};
use pol_lang::sets::service::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use pol_lang::sets::{AddrSet, IntervalSet, ServiceSet};
use pol_lang::span::{FileId, SourceMap, Span};
use std::net::{Ipv4Addr, Ipv6Addr};

/// xorshift64*: small, deterministic, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// Builds a program with a fake source file: every item gets its own line,
/// so `FILE:LINE` is unique per rule.
pub struct Builder {
    pub program: Program,
    text: String,
}

impl Builder {
    pub fn new() -> Builder {
        Builder {
            program: Program::default(),
            text: String::new(),
        }
    }

    /// A new source line; its span.
    pub fn line(&mut self, s: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(s);
        let end = self.text.len();
        self.text.push('\n');
        Span::new(FileId(0), start, end)
    }

    pub fn group(&mut self, name: &str, selectors: Vec<Selector>) -> GroupId {
        let id = GroupId(self.program.groups.len() as u32);
        let span = self.line(&format!("group {name}"));
        for s in &selectors {
            if let Selector::Cgroup(p) = s {
                self.program.cgroups.insert(p);
            }
        }
        self.program.groups.push(Group {
            id,
            name: name.to_string(),
            selectors,
            span,
        });
        id
    }

    pub fn policy(&mut self, name: &str, hook: Hook, default: Verdict) -> usize {
        let span = self.line(&format!("policy {name} {{"));
        let default_span = self.line(&format!("  default {}", default.as_str()));
        let id = PolicyId(self.program.policies.len() as u32);
        self.program.policies.push(Policy {
            id,
            name: name.into(),
            hook,
            default,
            default_span,
            rules: Vec::new(),
            span,
        });
        id.index()
    }

    pub fn rule(&mut self, policy: usize, verdict: Verdict, matches: Match) -> &mut Rule {
        let span = self.line(&format!("  {} …", verdict.as_str()));
        let rules = &mut self.program.policies[policy].rules;
        rules.push(Rule {
            verdict,
            matches,
            log: None,
            counter: false,
            comment: None,
            span,
            origins: Vec::new(),
        });
        let last = rules.len() - 1;
        &mut rules[last]
    }

    pub fn finish(self, file: &str) -> (Program, SourceMap) {
        let mut sources = SourceMap::new();
        sources.add(file, self.text, false);
        (self.program, sources)
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

pub fn v4(s: &str, len: u8) -> AddrSet {
    AddrSet::v4_prefix(s.parse::<Ipv4Addr>().unwrap_or(Ipv4Addr::UNSPECIFIED), len)
}
pub fn v6(s: &str, len: u8) -> AddrSet {
    AddrSet::v6_prefix(s.parse::<Ipv6Addr>().unwrap_or(Ipv6Addr::UNSPECIFIED), len)
}
/// A family's ranges of an address set, as u128.
pub fn fam_ranges(s: &AddrSet, v4: bool) -> Vec<(u128, u128)> {
    if v4 {
        s.v4.ranges()
            .iter()
            .map(|&(a, b)| (u128::from(a), u128::from(b)))
            .collect()
    } else {
        s.v6.ranges().to_vec()
    }
}

pub fn cg(s: &str) -> Selector {
    Selector::Cgroup(CgroupPath::parse(s).unwrap_or_else(|e| panic!("bad cgroup path {s}: {e}")))
}
pub fn tcp(lo: u16, hi: u16) -> ServiceSet {
    ServiceSet::ports(PROTO_TCP, IntervalSet::range(lo, hi))
}
pub fn udp(lo: u16, hi: u16) -> ServiceSet {
    ServiceSet::ports(PROTO_UDP, IntervalSet::range(lo, hi))
}

/// The addresses the kernel test's probes are sent to (routed out of the
/// veth) and come from.
pub const PROBE_V4: [&str; 4] = ["198.18.0.1", "198.18.0.77", "198.18.1.5", "198.19.255.1"];
pub const PROBE_V6: [&str; 4] = [
    "2001:db8:100::1",
    "2001:db8:100::4d",
    "2001:db8:101::5",
    "2001:db8:1ff::1",
];
pub const SRC_V4: &str = "192.0.2.1";
pub const SRC_V6: &str = "2001:db8:f::1";
/// Probe services: (protocol, destination port).
pub const PROBE_SERVICES_V4: [(u8, u16); 6] = [
    (PROTO_TCP, 80),
    (PROTO_TCP, 443),
    (PROTO_TCP, 8080),
    (PROTO_UDP, 53),
    (PROTO_UDP, 5005),
    (PROTO_ICMP, 0),
];
pub const PROBE_SERVICES_V6: [(u8, u16); 6] = [
    (PROTO_TCP, 80),
    (PROTO_TCP, 443),
    (PROTO_TCP, 8080),
    (PROTO_UDP, 53),
    (PROTO_UDP, 5005),
    (PROTO_ICMPV6, 0),
];
pub const CLASS_1: u32 = 0x0010_0001;
pub const CLASS_2: u32 = 0x0010_0002;

/// Text that tries to break out of every quoting context.
pub const HOSTILE: [&str; 5] = [
    "it's \"quoted\" $(id) `id`; rm -rf /",
    "line1\nline2\ttab",
    "${HOME} $x \\ back",
    "#no-comment ; }",
    "é ü 漢字 ✓",
];

fn random_addrs(rng: &mut Rng) -> AddrSet {
    let v4_choices: [(&str, u8); 6] = [
        ("198.18.0.1", 32),
        ("198.18.0.0", 24),
        ("198.18.1.5", 32),
        ("198.19.0.0", 16),
        ("198.18.0.77", 32),
        ("198.18.0.64", 26),
    ];
    let v6_choices: [(&str, u8); 6] = [
        ("2001:db8:100::1", 128),
        ("2001:db8:100::", 64),
        ("2001:db8:101::5", 128),
        ("2001:db8:1ff::", 48),
        ("2001:db8:100::4d", 128),
        ("2001:db8:100::40", 122),
    ];
    let range = AddrSet::v4_range(Ipv4Addr::new(198, 18, 0, 50), Ipv4Addr::new(198, 18, 1, 10));
    random_set(rng, 2, &range, &v4_choices, &v6_choices)
}

/// A random address set: `any` with odds `any_in_10` in 10, else all of one
/// family (1 in 10 each), else `range` (1 in 10) and/or 1–3 of the choices.
fn random_set(
    rng: &mut Rng,
    any_in_10: usize,
    range: &AddrSet,
    v4_choices: &[(&str, u8)],
    v6_choices: &[(&str, u8)],
) -> AddrSet {
    let mut s = AddrSet::empty();
    let roll = rng.below(10);
    if roll < any_in_10 {
        return AddrSet::any();
    } else if roll == any_in_10 {
        return AddrSet {
            v4: IntervalSet::full(),
            v6: IntervalSet::empty(),
        };
    } else if roll == any_in_10 + 1 {
        return AddrSet {
            v4: IntervalSet::empty(),
            v6: IntervalSet::full(),
        };
    } else if roll == any_in_10 + 2 {
        // A range across prefixes.
        s = s.union(range);
    }
    for _ in 0..1 + rng.below(3) {
        if rng.chance(50) {
            let (a, l) = *rng.pick(v4_choices);
            s = s.union(&v4(a, l));
        } else {
            let (a, l) = *rng.pick(v6_choices);
            s = s.union(&v6(a, l));
        }
    }
    s
}

fn random_service(rng: &mut Rng) -> Option<ServiceSet> {
    if rng.chance(25) {
        return None;
    }
    let mut s = ServiceSet::empty();
    for _ in 0..1 + rng.below(3) {
        let part = match rng.below(8) {
            0 => tcp(80, 80),
            1 => tcp(443, 443),
            2 => tcp(80, 443),
            3 => tcp(8000, 8999),
            4 => udp(53, 53),
            5 => udp(5000, 5010),
            6 => ServiceSet::proto(PROTO_ICMP),
            _ => ServiceSet::proto(PROTO_ICMPV6),
        };
        s = s.union(&part);
    }
    Some(s)
}

/// A random policy for the kernel test: groups by cgroup v2 path (under
/// `prefix`) and by classid (and a uid that always/never matches), IPv4
/// and IPv6, tcp/udp/icmp, all three verdicts, up to 20 rules.
pub fn kernel_policy(seed: u64, prefix: &str) -> (Program, SourceMap) {
    let mut rng = Rng::new(seed);
    let mut b = Builder::new();
    let groups = [
        b.group("a", vec![cg(&format!("{prefix}/a"))]),
        b.group("ab", vec![cg(&format!("{prefix}/a/b"))]),
        b.group("c", vec![cg(&format!("{prefix}/c"))]),
        b.group("k1", vec![Selector::Classid(ClassId(CLASS_1))]),
        b.group("k2", vec![Selector::Classid(ClassId(CLASS_2))]),
        b.group(
            "mix",
            vec![
                cg(&format!("{prefix}/c")),
                Selector::Classid(ClassId(CLASS_1)),
            ],
        ),
        b.group("root", vec![Selector::Uid(0)]),
        b.group("nobody", vec![Selector::Uid(65534), Selector::Gid(65534)]),
    ];
    let verdicts = [Verdict::Allow, Verdict::Drop, Verdict::Reject];
    let p = b.policy(
        &format!("egress-{seed}"),
        Hook::Output,
        *rng.pick(&verdicts),
    );
    // Sometimes a run of single-cgroup rules, to exercise verdict-map dispatch.
    let n = 1 + rng.below(20);
    for _ in 0..n {
        let gs = if rng.chance(30) {
            None
        } else {
            let mut v = vec![*rng.pick(&groups)];
            if rng.chance(25) {
                let g = *rng.pick(&groups);
                if !v.contains(&g) {
                    v.push(g);
                }
            }
            Some(v)
        };
        let from = match rng.below(10) {
            0 => v4("192.0.2.0", 24).union(&v6("2001:db8:f::", 64)),
            1 => v4("10.0.0.0", 8).union(&v6("fd00::", 8)),
            _ => AddrSet::any(),
        };
        let to = random_addrs(&mut rng);
        let service = random_service(&mut rng);
        let verdict = *rng.pick(&verdicts);
        let r = b.rule(
            p,
            verdict,
            Match {
                groups: gs,
                from,
                to,
                service,
                via: None,
            },
        );
        random_modifiers(r, &mut rng, seed);
    }
    b.finish(&format!("kernel-{seed}.pol"))
}

/// Random `log` (sometimes with a hostile prefix), `counter` and hostile
/// `comment` on a rule.
fn random_modifiers(r: &mut Rule, rng: &mut Rng, seed: u64) {
    if rng.chance(15) {
        r.log = Some(Log {
            prefix: if rng.chance(70) {
                Some(rng_hostile(seed, 0).to_string())
            } else {
                None
            },
        });
    }
    r.counter = rng.chance(20);
    if rng.chance(15) {
        r.comment = Some(rng_hostile(seed, 1).to_string());
    }
}

fn rng_hostile(seed: u64, k: u64) -> &'static str {
    HOSTILE[((seed + k) % HOSTILE.len() as u64) as usize]
}

/// A large policy for the benchmark: `n` rules over `n / 10` application
/// groups (one cgroup each), each group allowed to a few destinations and
/// services, with some uid rules and rules for everyone; default drop.
pub fn bench_policy(n: usize, seed: u64) -> (Program, SourceMap) {
    let mut rng = Rng::new(seed);
    let mut b = Builder::new();
    let ngroups = (n / 10).max(1);
    let groups: Vec<GroupId> = (0..ngroups)
        .map(|i| {
            b.group(
                &format!("app{i}"),
                vec![cg(&format!("apps.slice/app{i}.service"))],
            )
        })
        .collect();
    let p = b.policy("egress", Hook::Output, Verdict::Drop);
    let services = [
        tcp(443, 443),
        tcp(80, 80).union(&tcp(443, 443)),
        udp(53, 53),
        tcp(5432, 5432),
        tcp(8000, 8999),
    ];
    let mut nets: Vec<AddrSet> = Vec::new();
    for i in 0..200u32 {
        let a = Ipv4Addr::from(0x0a00_0000 | (i << 12));
        let mut s = AddrSet::v4_prefix(a, 20);
        if i % 3 == 0 {
            s = s.union(&AddrSet::v6_prefix(
                Ipv6Addr::from((0x2001_0db8_u128 << 96) | ((i as u128) << 64)),
                64,
            ));
        }
        nets.push(s);
    }
    for i in 0..n {
        let g = groups[(i * ngroups) / n];
        let verdict = if rng.chance(90) {
            Verdict::Allow
        } else {
            Verdict::Reject
        };
        let to = if rng.chance(50) {
            rng.pick(&nets).clone()
        } else {
            let h = rng.next() as u32;
            AddrSet::v4_prefix(Ipv4Addr::from(0xc612_0000 | (h & 0xffff)), 32)
        };
        b.rule(
            p,
            verdict,
            Match {
                groups: Some(vec![g]),
                from: AddrSet::any(),
                to,
                service: Some(rng.pick(&services).clone()),
                via: None,
            },
        );
    }
    b.finish("bench.pol")
}

/// The kernel input test's addresses: the probes come from the peer
/// namespace's sources and go to the policy namespace's local addresses.
pub const INPUT_SRC_V4: [&str; 5] = [
    "192.0.2.2",
    "198.18.0.1",
    "198.18.0.77",
    "198.18.1.5",
    "198.19.255.1",
];
pub const INPUT_SRC_V6: [&str; 5] = [
    "2001:db8:f::2",
    "2001:db8:100::1",
    "2001:db8:100::4d",
    "2001:db8:101::5",
    "2001:db8:1ff::1",
];
pub const INPUT_DST_V4: [&str; 3] = ["192.0.2.1", "203.0.113.1", "203.0.113.77"];
pub const INPUT_DST_V6: [&str; 3] = ["2001:db8:f::1", "2001:db8:300::1", "2001:db8:300::4d"];

/// A random source set for an input rule: the output test's sets (over
/// 198.18.0.0/15 and 2001:db8:100::/40) plus, sometimes, the peer's
/// on-link addresses.
fn random_from(rng: &mut Rng) -> AddrSet {
    if rng.chance(30) {
        return AddrSet::any();
    }
    let mut s = random_addrs(rng);
    if rng.chance(30) {
        s = s.union(&match rng.below(4) {
            0 => v4("192.0.2.0", 24),
            1 => v4("192.0.2.2", 32),
            2 => v6("2001:db8:f::", 64),
            _ => v6("2001:db8:f::2", 128),
        });
    }
    s
}

/// A random destination set for an input rule, over the policy
/// namespace's local addresses.
fn random_to(rng: &mut Rng) -> AddrSet {
    let v4_choices: [(&str, u8); 6] = [
        ("192.0.2.1", 32),
        ("192.0.2.0", 24),
        ("203.0.113.0", 24),
        ("203.0.113.77", 32),
        ("203.0.113.0", 26),
        ("203.0.113.1", 32),
    ];
    let v6_choices: [(&str, u8); 6] = [
        ("2001:db8:f::1", 128),
        ("2001:db8:f::", 64),
        ("2001:db8:300::", 48),
        ("2001:db8:300::4d", 128),
        ("2001:db8:300::40", 122),
        ("2001:db8:300::1", 128),
    ];
    let range = AddrSet::v4_range(
        Ipv4Addr::new(203, 0, 113, 50),
        Ipv4Addr::new(203, 0, 113, 100),
    );
    random_set(rng, 3, &range, &v4_choices, &v6_choices)
}

/// A random `hook input` policy for the kernel test: no groups (on input
/// they match only packets with a local socket), random sources,
/// destinations, services, all three verdicts, up to 20 rules.
pub fn kernel_input_policy(seed: u64) -> (Program, SourceMap) {
    let mut rng = Rng::new(seed ^ 0x1_0000_0000);
    let mut b = Builder::new();
    let verdicts = [Verdict::Allow, Verdict::Drop, Verdict::Reject];
    let p = b.policy(
        &format!("ingress-{seed}"),
        Hook::Input,
        *rng.pick(&verdicts),
    );
    let n = 1 + rng.below(20);
    for _ in 0..n {
        let from = random_from(&mut rng);
        let to = random_to(&mut rng);
        let service = random_service(&mut rng);
        let verdict = *rng.pick(&verdicts);
        let r = b.rule(
            p,
            verdict,
            Match {
                groups: None,
                from,
                to,
                service,
                via: None,
            },
        );
        random_modifiers(r, &mut rng, seed);
    }
    b.finish(&format!("kernel-input-{seed}.pol"))
}
