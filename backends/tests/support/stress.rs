//! Policies built to stress address dispatch and cell maps (issue 13):
//! nested prefixes of both families from a small pool (heavy overlap),
//! many small prefixes, port ranges, groups mixed with addresses, source
//! and destination narrowing, counters and logs. One generator, two
//! address spaces: `Space::Lab` (any addresses; the interpreter test) and
//! `Space::Routable` (the kernel test's: destinations routed out of its
//! veth, source pools some of which hold its source addresses).

use super::gen::{self, Builder, Rng};
use pol_lang::ast::{Hook, Verdict};
use pol_lang::ir::{Log, Match, Program, Selector};
use pol_lang::sets::service::PROTO_ICMP;
use pol_lang::sets::{AddrSet, ServiceSet};
use pol_lang::span::SourceMap;

/// Where a stress policy's addresses and groups come from.
#[derive(Debug, Clone)]
pub enum Space {
    /// 10.0.0.0/14 and 2001:db8:0::/46; sources from the same pools; groups
    /// `a` (cgroup `t.slice/a`) and `b` (uid 1000); one policy in five hooks
    /// input.
    Lab,
    /// 198.18.0.0/15 and 2001:db8:100::/46, which the kernel test routes
    /// out of its veth; sources around its own addresses (192.0.2.1,
    /// 2001:db8:f::1), inside or just outside; groups `a` (cgroup
    /// `PREFIX/a`) and `b` (net_cls class `gen::CLASS_1`); output hook.
    Routable { cgroup_prefix: String },
}

impl Space {
    /// The first two octets of the v4 /16 numbered `a` (0..4).
    fn v4_16(&self, a: u8) -> String {
        match self {
            Space::Lab => format!("10.{a}"),
            Space::Routable { .. } => format!("198.{}", 18 + a % 2),
        }
    }

    /// The first three hextets of the v6 /48 numbered `a` (0..4).
    fn v6_48(&self, a: u8) -> String {
        match self {
            Space::Lab => format!("2001:db8:{a}"),
            Space::Routable { .. } => format!("2001:db8:10{a}"),
        }
    }

    /// A destination pool: nested prefixes, both families.
    fn pool(&self, rng: &mut Rng) -> AddrSet {
        let a = rng.below(4) as u8;
        let bb = rng.below(4) as u8;
        let (four, six) = (self.v4_16(a), self.v6_48(a));
        match rng.below(6) {
            0 => gen::v4(&format!("{four}.0.0"), 16),
            1 => gen::v4(&format!("{four}.{bb}.0"), 24),
            2 => gen::v4(&format!("{four}.{bb}.{}", 16 * rng.below(16)), 28),
            3 => gen::v6(&format!("{six}::"), 48),
            4 => gen::v6(&format!("{six}:{bb}::"), 64),
            _ => gen::v4(&format!("{four}.{bb}.{}", rng.below(256)), 32)
                .union(&gen::v6(&format!("{six}:{bb}::{}", rng.below(99)), 128)),
        }
    }

    /// A source pool.
    fn source(&self, rng: &mut Rng) -> AddrSet {
        match self {
            Space::Lab => self.pool(rng),
            // 192.0.2.1 and 2001:db8:f::1 are the probes' sources.
            Space::Routable { .. } => match rng.below(8) {
                0 => gen::v4("192.0.2.0", 24),
                1 => gen::v4("192.0.2.0", 31),
                2 => gen::v4("192.0.2.1", 32).union(&gen::v6("2001:db8:f::1", 128)),
                3 => gen::v4("192.0.2.2", 31),
                4 => gen::v4("192.0.0.0", 16).union(&gen::v6("2001:db8::", 32)),
                5 => gen::v6("2001:db8:f::", 64),
                6 => gen::v6("2001:db8:f::2", 127),
                _ => gen::v4("192.0.2.128", 25).union(&gen::v6("2001:db8:f::", 127)),
            },
        }
    }
}

/// A stress policy for `seed` in `space`.
pub fn stress_policy(seed: u64, space: &Space) -> (Program, SourceMap) {
    let mut rng = Rng::new(seed);
    let mut b = Builder::new();
    let groups = match space {
        Space::Lab => [
            b.group("a", vec![gen::cg("t.slice/a")]),
            b.group("b", vec![Selector::Uid(1000)]),
        ],
        Space::Routable { cgroup_prefix } => [
            b.group("a", vec![gen::cg(&format!("{cgroup_prefix}/a"))]),
            b.group(
                "b",
                vec![Selector::Classid(pol_lang::ir::ClassId(gen::CLASS_1))],
            ),
        ],
    };
    let hook = if matches!(space, Space::Lab) && rng.chance(20) {
        Hook::Input
    } else {
        Hook::Output
    };
    let verdicts = [Verdict::Allow, Verdict::Drop, Verdict::Reject];
    let p = b.policy(&format!("stress-{seed}"), hook, *rng.pick(&verdicts));
    let n = 1 + rng.below(120);
    let narrow_src = rng.chance(40);
    for _ in 0..n {
        let mut to = space.pool(&mut rng);
        if rng.chance(20) {
            to = to.union(&space.pool(&mut rng));
        }
        if rng.chance(4) {
            to = AddrSet::any();
        }
        let from = if narrow_src && rng.chance(80) {
            space.source(&mut rng)
        } else {
            AddrSet::any()
        };
        let service = match rng.below(10) {
            0 => None,
            1 => Some(ServiceSet::proto(PROTO_ICMP)),
            2..=4 => {
                let lo = rng.below(1000) as u16;
                Some(gen::tcp(lo, lo + rng.below(200) as u16))
            }
            5 => Some(gen::udp(53, 53).union(&gen::tcp(53, 53))),
            _ => Some(gen::tcp(80, 80).union(&gen::tcp(
                rng.below(100) as u16 + 400,
                rng.below(100) as u16 + 500,
            ))),
        };
        let g = if hook == Hook::Output && rng.chance(15) {
            Some(vec![*rng.pick(&groups)])
        } else {
            None
        };
        let r = b.rule(
            p,
            *rng.pick(&verdicts),
            Match {
                groups: g,
                from,
                to,
                service,
                via: None,
            },
        );
        r.counter = rng.chance(10);
        if rng.chance(5) {
            r.log = Some(Log { prefix: None });
        }
    }
    b.finish(&format!("stress-{seed}.pol"))
}
